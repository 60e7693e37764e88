package logfile

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLineSplitter(t *testing.T) {
	t.Parallel()
	x := func(n int) string { return strings.Repeat("x", n) }
	type rec struct {
		line string
		tick int // the clock tick of its time: 1 for the first now() call
	}
	cases := []struct {
		name   string
		chunks []string // "" means Flush
		want   []rec
	}{
		{"lines in one chunk", []string{"a\nb\n"}, []rec{{"a\n", 1}, {"b\n", 2}}},
		{"lines across chunks", []string{"hel", "lo\nwor", "ld\n"}, []rec{{"hello\n", 1}, {"world\n", 2}}},
		{"flush partial", []string{"abc", ""}, []rec{{"abc", 1}}},
		{"flush nothing", []string{"a\n", ""}, []rec{{"a\n", 1}}},
		{"empty lines", []string{"\n\n"}, []rec{{"\n", 1}, {"\n", 2}}},
		{"longest whole line", []string{x(PartialSize-1) + "\n"}, []rec{{x(PartialSize-1) + "\n", 1}}},
		{"longest whole line in pieces", []string{x(100), x(PartialSize - 101), "\n"}, []rec{{x(PartialSize-1) + "\n", 1}}},
		// As Docker: a full buffer is written before its newline is seen,
		// and the newline follows with the time of the first piece.
		{"16 KiB line", []string{x(PartialSize) + "\n"}, []rec{{x(PartialSize), 1}, {"\n", 1}}},
		{"16 KiB line in pieces", []string{x(5), x(PartialSize - 5), "\nnext\n"}, []rec{{x(PartialSize), 1}, {"\n", 1}, {"next\n", 2}}},
		{"long line then flush", []string{x(10000), x(20000), x(10000), ""}, []rec{{x(PartialSize), 1}, {x(PartialSize), 1}, {x(40000 - 2*PartialSize), 1}}},
		{"long line then newline", []string{x(2*PartialSize+3) + "\nb\n"}, []rec{{x(PartialSize), 1}, {x(PartialSize), 1}, {x(3) + "\n", 1}, {"b\n", 2}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := logPath(t)
			w := openWriter(t, path, Options{})
			clk := &clock{t: t0}
			s := NewLineSplitter(w, "stderr", clk.now)
			for _, chunk := range c.chunks {
				if chunk == "" {
					if err := s.Flush(); err != nil {
						t.Fatalf("Flush = %v", err)
					}
					continue
				}
				if n, err := s.Write([]byte(chunk)); n != len(chunk) || err != nil {
					t.Fatalf("Write(%d bytes) = %d, %v", len(chunk), n, err)
				}
			}
			got := readAll(t, path, ReadConfig{Tail: -1})
			if len(got) != len(c.want) {
				t.Fatalf("%d records (%q), want %d", len(got), short(lines(got)), len(c.want))
			}
			for i, m := range got {
				want := c.want[i]
				wantTime := t0.Add(time.Duration(want.tick) * time.Millisecond)
				if string(m.Line) != want.line || m.Stream != "stderr" || !m.Time.Equal(wantTime) {
					t.Errorf("record %d = %q %s %v, want %q stderr %v", i, short([]string{string(m.Line)}), m.Stream, m.Time, short([]string{want.line}), wantTime)
				}
			}
		})
	}
}

// short abbreviates long lines in failure messages.
func short(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		if len(l) > 40 {
			l = fmt.Sprintf("%s...(%d bytes)", l[:20], len(l))
		}
		out[i] = l
	}
	return out
}

// Two streams written concurrently in random chunks keep their lines whole
// and in order.
func TestLineSplitterStreams(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	w := openWriter(t, path, Options{MaxSize: 20000, MaxFiles: 100})
	const n = 500
	var wg sync.WaitGroup
	for _, stream := range []string{"stdout", "stderr"} {
		wg.Go(func() {
			s := NewLineSplitter(w, stream, nil)
			var all strings.Builder
			for i := range n {
				fmt.Fprintf(&all, "%s %d %s\n", stream, i, strings.Repeat("y", i%50))
			}
			data := []byte(all.String())
			rng := rand.New(rand.NewPCG(1, uint64(len(stream))))
			for len(data) > 0 {
				k := min(len(data), 1+rng.IntN(200))
				if _, err := s.Write(data[:k]); err != nil {
					t.Errorf("Write = %v", err)
					return
				}
				data = data[k:]
			}
		})
	}
	wg.Wait()
	got := readAll(t, path, ReadConfig{Tail: -1})
	byStream := map[string][]string{}
	for _, m := range got {
		byStream[m.Stream] = append(byStream[m.Stream], string(m.Line))
	}
	for _, stream := range []string{"stdout", "stderr"} {
		var want []string
		for i := range n {
			want = append(want, fmt.Sprintf("%s %d %s\n", stream, i, strings.Repeat("y", i%50)))
		}
		if !slices.Equal(byStream[stream], want) {
			t.Errorf("%s: %d lines read, want %d, or out of order", stream, len(byStream[stream]), len(want))
		}
	}
	if len(byStream) != 2 {
		t.Errorf("streams read: %v", len(byStream))
	}
}
