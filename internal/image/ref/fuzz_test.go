package ref

import (
	"errors"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// FuzzParse checks that Parse never panics, that every error is of class
// InvalidArgument, and that a parsed reference round-trips through String
// and Familiar.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"busybox", "user/app:1", "localhost:5000/x", "[::1]:5000/a/b:c",
		"x:tag@" + dgst, "index.docker.io/x", "Example.com/a", "Busybox",
		"a__b--c.d/e", "busybox:", hex1, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("Parse(%q) error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		if r.Registry() == "" || r.Repository() == "" || (r.Tag() == "" && r.Digest() == "") {
			t.Fatalf("Parse(%q) = %#v, missing parts", s, r)
		}
		for _, out := range []string{r.String(), r.Familiar()} {
			again, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want no error (from Parse(%q))", out, err, s)
			}
			if again != r {
				t.Fatalf("Parse(%q) = %#v, want %#v (from Parse(%q))", out, again, r, s)
			}
		}
	})
}
