package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// system is what the package reads from the host to lay out cgroups. Tests
// replace it to describe a fake tree.
type system struct {
	// statfs returns the filesystem magic of path.
	statfs func(path string) (int64, error)
	// mountinfo returns /proc/self/mountinfo.
	mountinfo func() ([]byte, error)
	// procCgroup returns /proc/self/cgroup.
	procCgroup func() ([]byte, error)
}

var hostSystem = system{
	statfs: func(path string) (int64, error) {
		var st unix.Statfs_t
		if err := unix.Statfs(path, &st); err != nil {
			return 0, &fs.PathError{Op: "statfs", Path: path, Err: err}
		}
		return int64(st.Type), nil
	},
	mountinfo:  func() ([]byte, error) { return os.ReadFile("/proc/self/mountinfo") },
	procCgroup: func() ([]byte, error) { return os.ReadFile("/proc/self/cgroup") },
}

// DetectMode reports the cgroup layout of this host from the filesystem
// types at DefaultRoot: cgroup2 there is Unified; a tmpfs is Legacy, or
// Hybrid when DefaultRoot/unified is a cgroup2 mount.
func DetectMode() (Mode, error) {
	return detectMode(DefaultRoot, hostSystem.statfs)
}

func detectMode(root string, statfs func(string) (int64, error)) (Mode, error) {
	magic, err := statfs(root)
	if err != nil {
		return 0, fmt.Errorf("detect cgroup mode: %w", err)
	}
	switch magic {
	case unix.CGROUP2_SUPER_MAGIC:
		return Unified, nil
	case unix.TMPFS_MAGIC:
		um, err := statfs(filepath.Join(root, "unified"))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return Legacy, nil
		case err != nil:
			return 0, fmt.Errorf("detect cgroup mode: %w", err)
		case um == unix.CGROUP2_SUPER_MAGIC:
			return Hybrid, nil
		}
		return Legacy, nil
	case unix.CGROUP_SUPER_MAGIC:
		return 0, fmt.Errorf("detect cgroup mode: %s is a single cgroup v1 hierarchy, not the cgroup root: %w", root, ErrNotSupported)
	}
	return 0, fmt.Errorf("detect cgroup mode: %s has filesystem type %#x, neither cgroup2 nor tmpfs: %w", root, magic, ErrNotSupported)
}
