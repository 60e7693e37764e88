package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// writePidfile records pid in path, refusing when path names another
// process that is still running (dockerd's check: a stale file, naming
// no process or a zombie, is replaced). The file is replaced by rename,
// so a reader never sees it half written.
func writePidfile(path string, pid int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create pid file directory: %w", err)
	}
	old, err := readPidfile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read pid file: %w", err)
	}
	if old > 0 && old != pid && processAlive(old) {
		return fmt.Errorf("failed to start daemon, ensure shoal is not running or delete %s: process with PID %d is still running",
			path, old)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// removePidfile removes path if it still names pid.
func removePidfile(path string, pid int) error {
	got, err := readPidfile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read pid file: %w", err)
	}
	if got != pid {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove pid file: %w", err)
	}
	return nil
}

// readPidfile returns the pid in path, or 0 when the content is not a
// pid (ignored, as dockerd does).
func readPidfile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid < 0 {
		return 0, nil
	}
	return pid, nil
}

// processAlive says whether pid is a process that has not exited: it has
// a /proc entry and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// "PID (COMM) STATE ...": COMM may hold anything, so the state is
	// what follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return true
	}
	switch b[i+2] {
	case 'Z', 'X', 'x':
		return false
	}
	return true
}
