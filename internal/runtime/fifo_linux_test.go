package runtime

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOpenFifoInitGone: start waits on the exec fifo until init opens its
// end; if init dies instead, start must fail, not wait forever.
func TestOpenFifoInitGone(t *testing.T) {
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	st, err := procStartTime(sleeper.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), fifoName)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Container{Pid: sleeper.Process.Pid, StartTime: st}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := c.openFifo(path)
		if err != nil {
			done <- result{-1, err}
			return
		}
		defer f.Close()
		n, _ := f.Read(make([]byte, 1))
		done <- result{n, nil}
	}()
	select {
	case r := <-done:
		t.Fatalf("openFifo returned while init was alive and had not opened the fifo: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	select {
	case r := <-done:
		if r.err != nil || r.n != 0 {
			t.Fatalf("after init died: read %d bytes, %v; want EOF", r.n, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("openFifo still waits after init died")
	}
}
