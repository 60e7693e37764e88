// Package detach is Docker's detach sequence: the key list a user gives
// (`--detach-keys`, the API's detachKeys parameter) and a reader that
// passes input through until the sequence. The CLI reads its terminal
// through it; the API reads an attach stream's input through it.
package detach

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Default is Docker's ctrl-p,ctrl-q.
var Default = []byte{16, 17}

// ErrDetached is what Reader returns once the sequence has been read.
var ErrDetached = errors.New("read escape sequence")

// ParseKeys reads Docker's detach key syntax: a comma-separated list of
// single characters and ctrl-<key> (ctrl-a … ctrl-z, ctrl-@, ctrl-[,
// ctrl-\, ctrl-], ctrl-^, ctrl-_). "" is Default. The error names the
// key it could not read; callers word the rest as Docker does on their
// side.
func ParseKeys(s string) ([]byte, error) {
	if s == "" {
		return Default, nil
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
				return nil, fmt.Errorf("unknown character: '%s'", k)
			}
		default:
			return nil, fmt.Errorf("unknown character: '%s'", k)
		}
	}
	return out, nil
}

// Reader passes input through until the detach sequence, which it
// swallows, and then returns ErrDetached. Bytes that may start the
// sequence are held back until it is clear whether they do; a partial
// sequence is passed on once it stops matching or the input ends.
type Reader struct {
	r    io.Reader
	keys []byte
	held int    // bytes of keys matched so far
	buf  []byte // input ready to be read
	err  error  // to return once buf is read
}

// NewReader reads r until keys (Default if empty).
func NewReader(r io.Reader, keys []byte) *Reader {
	if len(keys) == 0 {
		keys = Default
	}
	return &Reader{r: r, keys: keys}
}

func (e *Reader) Read(p []byte) (int, error) {
	for {
		if len(e.buf) > 0 {
			n := copy(p, e.buf)
			e.buf = e.buf[n:]
			return n, nil
		}
		if e.err != nil {
			return 0, e.err
		}
		tmp := make([]byte, max(len(p), 1))
		n, err := e.r.Read(tmp)
		for _, b := range tmp[:n] {
			if b == e.keys[e.held] {
				e.held++
				if e.held == len(e.keys) {
					e.err = ErrDetached
					break
				}
				continue
			}
			if e.held > 0 {
				e.buf = append(e.buf, e.keys[:e.held]...)
				e.held = 0
				if b == e.keys[0] {
					e.held = 1
					if len(e.keys) == 1 {
						e.err = ErrDetached
						break
					}
					continue
				}
			}
			e.buf = append(e.buf, b)
		}
		if err != nil && e.err == nil {
			e.buf = append(e.buf, e.keys[:e.held]...)
			e.held = 0
			e.err = err
		}
	}
}
