package api

import (
	"fmt"
	"io"
	"strings"
)

// defaultDetachKeys is Docker's ctrl-p,ctrl-q.
var defaultDetachKeys = []byte{16, 17}

// parseDetachKeys reads Docker's detach key syntax: a comma-separated
// list of single characters and ctrl-<key> (ctrl-a … ctrl-z, ctrl-@,
// ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_).
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return defaultDetachKeys, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, invalidf("Invalid detach keys (%s) provided", s)
			}
		default:
			return nil, invalidf("Invalid detach keys (%s) provided", s)
		}
	}
	return out, nil
}

// detachReader passes input through until the detach sequence, which it
// swallows; a partial match is passed on once it stops matching.
type detachReader struct {
	r        io.Reader
	keys     []byte
	matched  int
	out      []byte
	detached bool
}

func (d *detachReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.detached {
			return 0, io.EOF
		}
		buf := make([]byte, len(p))
		n, err := d.r.Read(buf)
		for _, b := range buf[:n] {
			if d.detached {
				break
			}
			if b == d.keys[d.matched] {
				d.matched++
				if d.matched == len(d.keys) {
					d.detached = true
				}
				continue
			}
			d.out = append(d.out, d.keys[:d.matched]...)
			d.matched = 0
			if b == d.keys[0] {
				d.matched = 1
				if len(d.keys) == 1 {
					d.detached = true
				}
				continue
			}
			d.out = append(d.out, b)
		}
		if err != nil && len(d.out) == 0 && !d.detached {
			return 0, err
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

func (d *detachReader) String() string { return fmt.Sprintf("detach keys %q", d.keys) }
