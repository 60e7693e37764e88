package snapshot

import (
	"errors"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestValidateKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key string
		ok  bool
	}{
		{"", false},
		{"a\x00", false},
		{strings.Repeat("k", MaxKeyLen+1), false},
		{strings.Repeat("k", MaxKeyLen), true},
		{"sha256:" + strings.Repeat("0", 64), true},
		{"../../etc/passwd", true},
		{"with space/and/slashes", true},
	} {
		err := ValidateKey(c.key)
		if c.ok && err != nil || !c.ok && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ValidateKey(%.20q) = %v, want ok=%v", c.key, err, c.ok)
		}
	}
}

func TestApplyOpts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts []Opt
		ok   bool
	}{
		{"none", nil, true},
		{"labels", []Opt{WithLabels(map[string]string{"a": "b"}), WithLabels(map[string]string{"c": ""})}, true},
		{"empty key", []Opt{WithLabels(map[string]string{"": "b"})}, false},
		{"too long", []Opt{WithLabels(map[string]string{"a": strings.Repeat("v", MaxLabelLen)})}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ApplyOpts(c.opts...)
			if c.ok && err != nil || !c.ok && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("ApplyOpts = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[Kind]string{KindView: "view", KindActive: "active", KindCommitted: "committed", KindUnknown: "unknown(0)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
