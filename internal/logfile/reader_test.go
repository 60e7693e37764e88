package logfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadMissing(t *testing.T) {
	t.Parallel()
	for _, path := range []string{logPath(t), filepath.Join(t.TempDir(), "no", "dir", "x.log")} {
		if got := readAll(t, path, ReadConfig{Tail: -1}); len(got) != 0 {
			t.Errorf("Read(%s) = %d messages, want 0", path, len(got))
		}
		done := make(chan struct{})
		close(done)
		if got := readAll(t, path, ReadConfig{Tail: 10, Follow: true, Done: done}); len(got) != 0 {
			t.Errorf("Read(%s, follow, done) = %d messages, want 0", path, len(got))
		}
	}
}

func TestReadCorrupt(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	rec := func(i int) string {
		return fmt.Sprintf(`{"log":%q,"stream":"stdout","time":"2026-11-23T10:00:%02dZ"}`, line(i), i)
	}
	content := strings.Join([]string{
		"not json",
		rec(0),
		`{"log":"broken`,
		"null",
		"[]",
		`{"log":5}`,
		`{"log":"x","time":"yesterday"}`,
		"",
		"   ",
		rec(1),
		"{" + strings.Repeat(" ", MaxRecordSize) + "}", // too long
		"\x00\xff",
		rec(2) + "\r", // JSON whitespace
		`{"log":"line 0003\n","attrs":{"a":"b"}}`, // Docker's attrs
		rec(4),
		`{"log":"torn`, // final fragment
	}, "\n")
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	want := lineRange(0, 5)
	if got := lines(readAll(t, path, ReadConfig{Tail: -1})); !slices.Equal(got, want) {
		t.Fatalf("Read = %q, want %q", got, want)
	}
	// Tail counts records, not lines.
	if got := lines(readAll(t, path, ReadConfig{Tail: 3})); !slices.Equal(got, want[2:]) {
		t.Fatalf("Read(tail 3) = %q, want %q", got, want[2:])
	}
	done := make(chan struct{})
	close(done)
	if got := lines(readAll(t, path, ReadConfig{Tail: 2, Follow: true, Done: done})); !slices.Equal(got, want[3:]) {
		t.Fatalf("Read(tail 2, follow) = %q, want %q", got, want[3:])
	}
}

// rotatedLog writes records 0..n-1, at t0 + i s, rotating about every
// 5 records, keeping them all.
func rotatedLog(t *testing.T, n int) string {
	t.Helper()
	path := logPath(t)
	w := openWriter(t, path, Options{MaxSize: 350, MaxFiles: 100})
	writeLines(t, w, 0, n)
	if len(logFiles(t, path)) < n/7 {
		t.Fatalf("only %d files", len(logFiles(t, path)))
	}
	if got := countLines(t, path); got != n {
		t.Fatalf("%d records in files, want %d", got, n)
	}
	return path
}

func TestTail(t *testing.T) {
	t.Parallel()
	const n = 50
	path := rotatedLog(t, n)
	for _, tail := range []int{-1, 0, 1, 3, 4, 5, 6, 7, 12, 49, 50, 51, 1000} {
		want := lineRange(max(0, n-tail), n)
		if tail < 0 {
			want = lineRange(0, n)
		}
		if got := lines(readAll(t, path, ReadConfig{Tail: tail})); !slices.Equal(got, want) {
			t.Errorf("Read(tail %d) = %q, want %q", tail, got, want)
		}
	}
}

func TestSinceUntil(t *testing.T) {
	t.Parallel()
	path := rotatedLog(t, 30)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	cases := []struct {
		name string
		cfg  ReadConfig
		want []string
	}{
		{"since", ReadConfig{Tail: -1, Since: at(3)}, lineRange(3, 30)},
		{"since between", ReadConfig{Tail: -1, Since: at(2.5)}, lineRange(3, 30)},
		{"since after all", ReadConfig{Tail: -1, Since: at(31)}, nil},
		{"until", ReadConfig{Tail: -1, Until: at(5)}, lineRange(0, 6)},
		{"until between", ReadConfig{Tail: -1, Until: at(5.5)}, lineRange(0, 6)},
		{"until before all", ReadConfig{Tail: -1, Until: at(-1)}, nil},
		{"since and until", ReadConfig{Tail: -1, Since: at(12), Until: at(17)}, lineRange(12, 18)},
		{"tail then since", ReadConfig{Tail: 5, Since: at(27)}, lineRange(27, 30)},
		{"tail then until", ReadConfig{Tail: 5, Until: at(26)}, lineRange(25, 27)},
	}
	for _, c := range cases {
		if got := lines(readAll(t, path, c.cfg)); !slices.Equal(got, c.want) {
			t.Errorf("%s: Read = %q, want %q", c.name, got, c.want)
		}
	}
}

// As Docker: Since filters until the first record that passes; Until
// stops at the first record after it.
func TestSinceUntilNotMonotonic(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	w := openWriter(t, path, Options{})
	for _, s := range []int{1, 5, 2, 6, 3} {
		if err := w.Write("stdout", []byte(fmt.Sprint(s)), t0.Add(time.Duration(s)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	if got, want := lines(readAll(t, path, ReadConfig{Tail: -1, Since: at(4)})), []string{"5", "2", "6", "3"}; !slices.Equal(got, want) {
		t.Errorf("Read(since 4) = %q, want %q", got, want)
	}
	if got, want := lines(readAll(t, path, ReadConfig{Tail: -1, Until: at(4)})), []string{"1"}; !slices.Equal(got, want) {
		t.Errorf("Read(until 4) = %q, want %q", got, want)
	}
}

func TestReadOutError(t *testing.T) {
	t.Parallel()
	path := rotatedLog(t, 20)
	errOut := errors.New("client gone")
	var n int
	err := Read(context.Background(), path, ReadConfig{Tail: -1}, func(Message) error {
		if n++; n == 7 {
			return errOut
		}
		return nil
	})
	if err != errOut || n != 7 {
		t.Fatalf("Read = %v after %d messages, want %v after 7", err, n, errOut)
	}
}

func TestFollow(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	w := openWriter(t, path, Options{MaxSize: 350, MaxFiles: 3})
	writeLines(t, w, 0, 3)
	f := startFollow(t, path, ReadConfig{Tail: 2})
	f.expect(t, lineRange(1, 3)...)
	f.expectNothing(t)

	// Records one by one, each awaited, across several rotations.
	for i := 3; i < 30; i++ {
		writeLines(t, w, i, i+1)
		f.expect(t, line(i))
	}
	if _, err := os.Stat(path + ".2"); err != nil {
		t.Fatalf("no rotation happened: %v", err)
	}

	// A partial record (the writer tore it) is only read once complete.
	raw, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.WriteString(`{"log":"held\n","stream":"stdout",`); err != nil {
		t.Fatal(err)
	}
	f.expectNothing(t)
	if _, err := raw.WriteString(`"time":"2026-11-23T11:00:00Z"}` + "\n"); err != nil {
		t.Fatal(err)
	}
	f.expect(t, "held\n")

	if rest := f.finish(t); len(rest) != 0 {
		t.Fatalf("after Done: %q, want nothing", lines(rest))
	}
}

// Records written in a burst, across many rotations, are each received
// once and in order, if no file is rotated out before it is read.
func TestFollowBurst(t *testing.T) {
	t.Parallel()
	for _, maxFiles := range []int{1, 2, 1000} {
		t.Run(fmt.Sprintf("max-file=%d", maxFiles), func(t *testing.T) {
			t.Parallel()
			path := logPath(t)
			w := openWriter(t, path, Options{MaxSize: 2000, MaxFiles: maxFiles})
			f := startFollow(t, path, ReadConfig{Tail: -1})
			const n = 2000 // about 70 rotations
			for i := range n {
				writeLines(t, w, i, i+1)
				if i%100 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := lines(f.finish(t))
			// In order, no duplicates, and the end is never lost.
			var idx []int
			for _, l := range got {
				var i int
				if _, err := fmt.Sscanf(l, "line %d\n", &i); err != nil {
					t.Fatalf("bad line %q", l)
				}
				idx = append(idx, i)
			}
			if !slices.IsSorted(idx) || len(slices.Compact(slices.Clone(idx))) != len(idx) {
				t.Fatalf("records out of order or repeated: %v", idx)
			}
			if len(idx) == 0 || idx[len(idx)-1] != n-1 {
				t.Fatalf("last record missing: got %d records", len(idx))
			}
			if maxFiles == 1000 && len(idx) != n {
				var missing []int
				for i, j := 0, 0; i < n; i++ {
					if j < len(idx) && idx[j] == i {
						j++
					} else {
						missing = append(missing, i)
					}
				}
				t.Fatalf("got %d records, want all %d; missing %v", len(idx), n, missing)
			}
		})
	}
}

// Following a log before its file exists waits for it.
func TestFollowNoFileYet(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	f := startFollow(t, path, ReadConfig{Tail: -1})
	f.expectNothing(t)
	w := openWriter(t, path, Options{MaxSize: 200, MaxFiles: 10})
	writeLines(t, w, 0, 8) // rotates before the reader looks
	f.expect(t, lineRange(0, 8)...)
	f.finish(t)
}

func TestFollowTail0(t *testing.T) {
	t.Parallel()
	path := rotatedLog(t, 10)
	w := openWriter(t, path, Options{MaxSize: 350, MaxFiles: 100})
	f := startFollow(t, path, ReadConfig{Tail: 0})
	f.expectNothing(t)
	writeLines(t, w, 10, 12)
	f.expect(t, lineRange(10, 12)...)
	f.finish(t)
}

// Done ends following once all is read, a final line without a newline
// included.
func TestFollowDone(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	w := openWriter(t, path, Options{})
	writeLines(t, w, 0, 2)
	f := startFollow(t, path, ReadConfig{Tail: -1})
	f.expect(t, lineRange(0, 2)...)
	writeLines(t, w, 2, 3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.WriteString(`{"log":"last","time":"2026-11-23T11:00:00Z"}`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	rest := lines(f.finish(t))
	if want := []string{line(2), "last"}; !slices.Equal(rest, want) {
		t.Fatalf("after Done: %q, want %q", rest, want)
	}
}

func TestFollowCancel(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	openWriter(t, path, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		errc <- Read(ctx, path, ReadConfig{Tail: -1, Follow: true}, func(Message) error { return nil })
	}()
	time.Sleep(2 * PollInterval)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after cancel")
	}
}

// The first record after Until ends following.
func TestFollowUntil(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	w := openWriter(t, path, Options{})
	writeLines(t, w, 0, 2)
	f := startFollow(t, path, ReadConfig{Tail: -1, Until: t0.Add(3 * time.Second)})
	f.expect(t, lineRange(0, 2)...)
	writeLines(t, w, 2, 6)
	f.expect(t, lineRange(2, 4)...)
	if err := f.wait(t); err != nil {
		t.Fatalf("Read = %v, want nil", err)
	}
	if m, ok, _ := f.next(nil); ok {
		t.Fatalf("Read sent %q after Until", m.Line)
	}
}
