package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// writeFile writes data to dir/name in one write. The file must exist:
// cgroupfs creates its files itself, and a missing one means the controller
// is not there. O_TRUNC is ignored by cgroupfs but lets the plain files of a
// fake tree hold the last value written.
//
// Plain unix.Open/Write, not os.File: os.File registers every descriptor
// with the poller (fcntl, epoll_ctl), which costs a container start
// dozens of syscalls for files that never block.
func writeFile(dir, name, data string) error {
	path := filepath.Join(dir, name)
	fd, err := openRetry(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, &fs.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(data))
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", data, path, err)
	}
	return nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// readFile returns the content of dir/name without surrounding space.
func readFile(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	fd, err := openRetry(path, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, &fs.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", path, err)
		}
		if n == 0 {
			break
		}
		out = append(out, buf[:n]...)
	}
	return strings.TrimSpace(string(out)), nil
}

func fileExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// v1Unlimited is at or below what v1 reports for "no limit"
// (PAGE_COUNTER_MAX pages, 9223372036854771712 with 4k pages).
const v1Unlimited = 1 << 62

// readLimit reads a limit file: "max" and v1's huge "unlimited" are 0.
func readLimit(dir, name string) (uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return 0, err
	}
	if s == "max" || s == "-1" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", filepath.Join(dir, name), err)
	}
	if v >= v1Unlimited {
		return 0, nil
	}
	return v, nil
}

// readUint reads a file holding one unsigned number.
func readUint(dir, name string) (uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", filepath.Join(dir, name), err)
	}
	return v, nil
}

// optional turns a missing file into the zero value: stats whose controller
// or kernel support is absent stay zero.
func optional[T any](v T, err error) (T, error) {
	if errors.Is(err, fs.ErrNotExist) {
		var zero T
		return zero, nil
	}
	return v, err
}

// parseKeyValues parses "key value" lines (memory.stat, cpu.stat,
// memory.events, memory.oom_control); lines that do not fit are skipped.
func parseKeyValues(s string) map[string]uint64 {
	out := make(map[string]uint64)
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		out[k] = n
	}
	return out
}

// readKeyValues reads and parses a "key value" file.
func readKeyValues(dir, name string) (map[string]uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return nil, err
	}
	return parseKeyValues(s), nil
}

// readPids reads dir/cgroup.procs.
func readPids(dir string) ([]int, error) {
	s, err := readFile(dir, "cgroup.procs")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "cgroup.procs"), err)
		}
		out = append(out, pid)
	}
	return out, nil
}

// allPids lists the processes of dir and its descendants, sorted.
func allPids(dir string) ([]int, error) {
	seen := map[int]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // a child cgroup went away meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		pids, err := readPids(path)
		if err != nil {
			if path != dir && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, p := range pids {
			seen[p] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pids of %s: %w", dir, err)
	}
	out := make([]int, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Ints(out)
	return out, nil
}

// signalPids sends sig to pids, skipping the caller and processes that are
// already gone.
func signalPids(pids []int, sig syscall.Signal) error {
	self := os.Getpid()
	var errs []error
	for _, pid := range pids {
		if pid == self || pid <= 0 {
			continue
		}
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("signal %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// rmdirRetries bounds how long removeTree waits for exiting processes
// (EBUSY): 10ms doubling, about 1.3s in all.
const rmdirRetries = 7

// removeTree removes the cgroup dir and the cgroups below it, deepest first.
// cgroupfs lets rmdir remove a directory that still shows its control files;
// it fails with EBUSY while processes are in it.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, removeTree(filepath.Join(dir, e.Name())))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	delay := 10 * time.Millisecond
	for i := 0; ; i++ {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || i == rmdirRetries {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// mkdirNew creates dir and its missing parents like os.MkdirAll and returns
// the directories it created, parents first.
func mkdirNew(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return created, fmt.Errorf("create cgroup %s: %w", missing[i], err)
		}
		created = append(created, missing[i])
	}
	return created, nil
}

// undoCreate removes dirs created by mkdirNew, deepest first, after a failed
// Apply. Errors are returned for errors.Join with the cause.
func undoCreate(created []string) error {
	var errs []error
	for i := len(created) - 1; i >= 0; i-- {
		if err := unix.Rmdir(created[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("undo create cgroup %s: %w", created[i], err))
		}
	}
	return errors.Join(errs...)
}

// waitFor polls cond with a growing pause until it is true, it fails or
// timeout passes.
func waitFor(timeout time.Duration, cond func() (bool, error)) (bool, error) {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for {
		ok, err := cond()
		if err != nil || ok {
			return ok, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(pause)
		pause = min(pause*2, 50*time.Millisecond)
	}
}
