package filters

import (
	"errors"
	"slices"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// FuzzFromJSON checks that FromJSON never panics, that every error is an
// *InvalidFilterError of class InvalidArgument, and that accepted input
// round-trips through ToJSON unchanged.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `{"label":{"a=b":true}}`, `{"label":["a=b","c"]}`,
		`{"a":{"b":false}}`, `{"a":null}`, `{"a":[]}`, `{"a":"b"}`, `[`,
		`{"dangling":["true"],"before":{"busybox":true}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := FromJSON(s)
		if err != nil {
			var ife *InvalidFilterError
			if !errors.As(err, &ife) || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("FromJSON(%q) error %v (%T) is not an InvalidArgument *InvalidFilterError", s, err, err)
			}
			return
		}
		out, err := a.ToJSON()
		if err != nil {
			t.Fatalf("FromJSON(%q).ToJSON() = %v", s, err)
		}
		b, err := FromJSON(out)
		if err != nil {
			t.Fatalf("FromJSON(%q) = %v (from FromJSON(%q).ToJSON())", out, err, s)
		}
		if !slices.Equal(a.Keys(), b.Keys()) {
			t.Fatalf("keys %q, after round trip %q (input %q)", a.Keys(), b.Keys(), s)
		}
		for _, k := range a.Keys() {
			if !slices.Equal(a.Get(k), b.Get(k)) {
				t.Fatalf("Get(%q) = %q, after round trip %q (input %q)", k, a.Get(k), b.Get(k), s)
			}
			for _, v := range a.Get(k) {
				if a.ExactMatch(k, v) != b.ExactMatch(k, v) {
					t.Fatalf("ExactMatch(%q, %q) changed in round trip (input %q)", k, v, s)
				}
			}
		}
		if again, _ := b.ToJSON(); again != out {
			t.Fatalf("ToJSON not stable: %q then %q (input %q)", out, again, s)
		}
	})
}
