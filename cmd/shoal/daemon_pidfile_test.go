package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPidfile(t *testing.T) {
	dir := t.TempDir()
	me := os.Getpid()
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}

	// A new file, in a directory made for it.
	p := filepath.Join(dir, "sub", "shoal.pid")
	if err := writePidfile(p, me); err != nil {
		t.Fatal(err)
	}
	if got := read(p); got != strconv.Itoa(me) {
		t.Errorf("pid file holds %q, want %d", got, me)
	}
	// Our own pid again (a restart as the same pid, e.g. pid 1).
	if err := writePidfile(p, me); err != nil {
		t.Errorf("rewrite own pid file: %v", err)
	}

	// Another live process: refused, the file left alone.
	live := os.Getppid()
	if err := os.WriteFile(p, []byte(strconv.Itoa(live)), 0o644); err != nil {
		t.Fatal(err)
	}
	err := writePidfile(p, me)
	want := "failed to start daemon, ensure shoal is not running or delete " + p + ": process with PID " + strconv.Itoa(live) + " is still running"
	if err == nil || err.Error() != want {
		t.Errorf("pid file of a live process: %v, want %q", err, want)
	}
	if got := read(p); got != strconv.Itoa(live) {
		t.Errorf("refused write changed the pid file to %q", got)
	}
	// removePidfile leaves another's file.
	if err := removePidfile(p, me); err != nil {
		t.Fatal(err)
	}
	if got := read(p); got != strconv.Itoa(live) {
		t.Errorf("removePidfile removed another process's file (now %q)", got)
	}

	// Stale: a process that has exited and been reaped, a zombie, or
	// garbage.
	reaped := exec.Command("true")
	if err := reaped.Run(); err != nil {
		t.Fatal(err)
	}
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zombie.Wait() })
	for deadline := time.Now().Add(5 * time.Second); processAlive(zombie.Process.Pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("an exited child (a zombie) still counts as alive")
		}
	}
	for _, stale := range []string{strconv.Itoa(reaped.Process.Pid), strconv.Itoa(zombie.Process.Pid), "", "garbage\n", "-5"} {
		if err := os.WriteFile(p, []byte(stale), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := writePidfile(p, me); err != nil {
			t.Errorf("stale pid file %q: %v", stale, err)
		}
		if got := read(p); got != strconv.Itoa(me) {
			t.Errorf("stale pid file %q: now holds %q, want %d", stale, got, me)
		}
	}

	// removePidfile removes our own, and a missing one is fine.
	if err := removePidfile(p, me); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pid file still there after removePidfile: %v", err)
	}
	if err := removePidfile(p, me); err != nil {
		t.Errorf("removePidfile of a missing file: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 0 {
		t.Errorf("left behind in the pid file's directory: %v", ents)
	}
}

func TestProcessAlive(t *testing.T) {
	if !processAlive(os.Getpid()) {
		t.Error("processAlive(self) = false")
	}
	if processAlive(1 << 30) {
		t.Error("processAlive(no such pid) = true")
	}
}
