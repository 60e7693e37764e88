package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestHierarchies(t *testing.T) {
	mi := "22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n" +
		"30 25 0:26 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw,nsdelegate\n" +
		"31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct\n" +
		"32 25 0:28 / /sys/fs/cgroup/memory rw shared:11 master:3 - cgroup cgroup rw,memory\n" +
		"33 30 0:29 / /sys/fs/cgroup/unified rw - tmpfs shoal-bench rw\n"
	want := []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory"}
	if got := hierarchies(mi); !slices.Equal(got, want) {
		t.Errorf("hierarchies = %v, want %v", got, want)
	}
}

// On a plain directory (not a cgroup file system) RemoveTree removes the
// tree as files, as for the tmpfs over the cgroup2 mount.
func TestRemoveTreePlainDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "shoal-bench-x-crun")
	if err := os.MkdirAll(filepath.Join(root, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "child", "cgroup.procs"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RemoveTree(root, true); err != nil {
		t.Fatalf("RemoveTree: %v", err)
	}
	if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after RemoveTree, stat: %v", err)
	}
}
