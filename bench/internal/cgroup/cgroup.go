package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/mounts"
	"golang.org/x/sys/unix"
)

// Unified is where a hybrid host mounts its cgroup2 hierarchy.
const Unified = "/sys/fs/cgroup/unified"

// Hierarchies returns the mount points of every cgroup hierarchy (v1 and
// v2) in the caller's mount namespace.
func Hierarchies() []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	return hierarchies(string(data))
}

func hierarchies(mountinfo string) []string {
	var dirs []string
	for _, line := range strings.Split(mountinfo, "\n") {
		fields := strings.Fields(line)
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && (fields[i+1] == "cgroup" || fields[i+1] == "cgroup2") {
				dirs = append(dirs, fields[4])
			}
		}
	}
	return dirs
}

// Glob lists the matches of pattern (relative to a hierarchy's root, as
// "shoal-bench-TOKEN-*") in every hierarchy and in Unified, each once.
func Glob(pattern string) []string {
	var dirs []string
	for _, h := range append(Hierarchies(), Unified) {
		m, _ := filepath.Glob(filepath.Join(h, pattern))
		for _, d := range m {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// RemoveAll kills whatever is left in the cgroups matching pattern (see
// Glob) and removes them.
func RemoveAll(pattern string) error {
	var errs []error
	for _, d := range Glob(pattern) {
		if err := RemoveTree(d, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveTree removes a cgroup and its children, children first; with
// kill it first SIGKILLs the processes in each and retries for up to a
// second while they die. A directory that is not on a cgroup file system
// (the tmpfs of HideUnified) is removed as a plain directory tree.
func RemoveTree(root string, kill bool) error {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err == nil && st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return os.RemoveAll(root)
	}
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	var errs []error
	for _, d := range dirs {
		var err error
		for try := 0; try < 50; try++ {
			if kill {
				killProcs(d)
			}
			if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			if !kill {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

func killProcs(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// HideUnified mounts a tmpfs over Unified on a hybrid host; the caller
// must be in a private mount namespace (see mounts.CheckPrivate). It
// returns a description of the layout for the report; on a hybrid host
// it ends with hybridNote, which says where the tmpfs is and who sees it.
func HideUnified(hybridNote string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return "", fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "cgroup v2 (unified): nothing to hide", nil
	}
	if err := unix.Statfs(Unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "cgroup v1 only: nothing to hide", nil
	}
	if err := mounts.CheckPrivate(Unified); err != nil {
		return "", err
	}
	if err := unix.Mount("shoal-bench", Unified, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return "", fmt.Errorf("mount tmpfs over %s: %w", Unified, err)
	}
	return "hybrid (cgroup v1 + cgroup2 at " + Unified + "); a tmpfs hides " + Unified + " " + hybridNote, nil
}
