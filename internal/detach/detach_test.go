package detach

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestParseKeys(t *testing.T) {
	for in, want := range map[string][]byte{"": {16, 17}, "ctrl-a,x": {1, 'x'}, "ctrl-@,ctrl-[": {0, 27}, "ctrl-_": {31}} {
		got, err := ParseKeys(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ParseKeys(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "ab", "ctrl-aa"} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		keys, in, out string
		detached      bool
	}{
		{"", "hello\x10\x11after", "hello", true},
		{"", "a\x10b\x10\x11", "a\x10b", true},
		{"", "ab\x10c\x10\x10\x11zz", "ab\x10c\x10", true},
		{"", "no keys", "no keys", false},
		{"", "abc\x10", "abc\x10", false},
		{"", "\x10\x10\x11", "\x10", true},
		{"ctrl-a,x", "1\x01y2\x01x3", "1\x01y2", true},
		{"q", "abqcd", "ab", true},
		{"q", "aqq", "a", true},
	} {
		keys, err := ParseKeys(tc.keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, one := range []bool{false, true} {
			var r io.Reader = bytes.NewReader([]byte(tc.in))
			if one {
				r = iotest.OneByteReader(r)
			}
			got, err := io.ReadAll(NewReader(r, keys))
			detached := errors.Is(err, ErrDetached)
			if (err != nil && !detached) || string(got) != tc.out || detached != tc.detached {
				t.Errorf("keys %q in %q (bytewise %v) = %q, %v; want %q detached %v", tc.keys, tc.in, one, got, err, tc.out, tc.detached)
			}
		}
	}
}
