package logfile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// t0 is the time of the first record the tests write.
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// clock is a fake time source advancing 1 ms per call.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func logPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "container-json.log")
}

func openWriter(t testing.TB, path string, o Options) *Writer {
	t.Helper()
	w, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open(%s, %+v) = %v", path, o, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// line is the record the tests write for i.
func line(i int) string { return fmt.Sprintf("line %04d\n", i) }

// writeLines writes records line(from) .. line(to-1) to stdout, at
// t0 + i seconds.
func writeLines(t testing.TB, w *Writer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := w.Write("stdout", []byte(line(i)), t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("Write(%d) = %v", i, err)
		}
	}
}

func readAll(t testing.TB, path string, cfg ReadConfig) []Message {
	t.Helper()
	var got []Message
	if err := Read(context.Background(), path, cfg, func(m Message) error {
		got = append(got, m)
		return nil
	}); err != nil {
		t.Fatalf("Read(%s, %+v) = %v", path, cfg, err)
	}
	return got
}

func lines(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Line)
	}
	return out
}

func lineRange(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, line(i))
	}
	return out
}

// logFiles returns the names of the files in the log's directory.
func logFiles(t testing.TB, path string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// countLines is the number of '\n' in the log files.
func countLines(t testing.TB, path string) int {
	t.Helper()
	n := 0
	for _, name := range logFiles(t, path) {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			t.Fatal(err)
		}
		n += bytes.Count(b, []byte{'\n'})
	}
	return n
}

// follower runs a following Read in the background.
type follower struct {
	msgs    chan Message
	done    chan struct{} // ReadConfig.Done
	stopped chan struct{} // closed when Read has returned err
	err     error
}

func startFollow(t *testing.T, path string, cfg ReadConfig) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	f := &follower{msgs: make(chan Message, 10000), done: make(chan struct{}), stopped: make(chan struct{})}
	cfg.Follow = true
	cfg.Done = f.done
	go func() {
		defer close(f.stopped)
		f.err = Read(ctx, path, cfg, func(m Message) error {
			f.msgs <- m
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-f.stopped
	})
	return f
}

// next receives a message; ok is false if Read returned with none left.
func (f *follower) next(timeout <-chan time.Time) (m Message, ok bool, timedOut bool) {
	select {
	case m := <-f.msgs:
		return m, true, false
	case <-f.stopped:
		select {
		case m := <-f.msgs:
			return m, true, false
		default:
			return Message{}, false, false
		}
	case <-timeout:
		return Message{}, false, true
	}
}

// expect receives the given lines, in order, within a few seconds.
func (f *follower) expect(t *testing.T, want ...string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for i, w := range want {
		m, ok, timedOut := f.next(timeout)
		switch {
		case timedOut:
			t.Fatalf("follow: timed out waiting for %q", w)
		case !ok:
			t.Fatalf("follow: Read returned %v while waiting for %q", f.err, w)
		case string(m.Line) != w:
			t.Fatalf("follow: message %d = %q, want %q", i, m.Line, w)
		}
	}
}

// expectNothing checks that nothing arrives for a few poll intervals.
func (f *follower) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case m := <-f.msgs:
		t.Fatalf("follow: unexpected message %q", m.Line)
	case <-time.After(4 * PollInterval):
	}
}

// wait waits for Read to return and gives its error.
func (f *follower) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-f.stopped:
		return f.err
	case <-time.After(5 * time.Second):
		t.Fatal("follow: Read did not return")
		return nil
	}
}

// finish closes Done and waits for Read to return, giving the messages
// not yet received.
func (f *follower) finish(t *testing.T) []Message {
	t.Helper()
	close(f.done)
	if err := f.wait(t); err != nil {
		t.Fatalf("follow: Read = %v after Done, want nil", err)
	}
	var rest []Message
	for {
		select {
		case m := <-f.msgs:
			rest = append(rest, m)
		default:
			return rest
		}
	}
}
