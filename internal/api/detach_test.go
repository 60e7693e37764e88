package api

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

func TestDetachKeys(t *testing.T) {
	for _, tc := range []struct {
		keys, in, out string
		detached      bool
	}{
		{"", "hello\x10\x11after", "hello", true},
		{"", "a\x10b\x10\x11", "a\x10b", true},
		{"", "no keys", "no keys", false},
		{"", "\x10\x10\x11", "\x10", true},
		{"ctrl-a,x", "1\x01y2\x01x3", "1\x01y2", true},
		{"q", "abqcd", "ab", true},
	} {
		keys, err := parseDetachKeys(tc.keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, one := range []bool{false, true} {
			var r io.Reader = bytes.NewReader([]byte(tc.in))
			if one {
				r = iotest.OneByteReader(r)
			}
			d := &detachReader{r: r, keys: keys}
			got, err := io.ReadAll(d)
			if err != nil || string(got) != tc.out || d.detached != tc.detached {
				t.Errorf("keys %q in %q (bytewise %v) = %q detached %v, %v; want %q %v", tc.keys, tc.in, one, got, d.detached, err, tc.out, tc.detached)
			}
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "ab", "ctrl-aa"} {
		if _, err := parseDetachKeys(bad); err == nil {
			t.Errorf("parseDetachKeys(%q) accepted", bad)
		}
	}
}
