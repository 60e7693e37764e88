package mounts

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// From a real /proc/self/mountinfo, paths changed.
var mountinfo = []string{
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
	"30 22 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw",
	"40 22 0:40 / /tmp/b rw,relatime - tmpfs tmpfs rw",
	"41 40 0:41 / /tmp/b/x/merged rw,relatime - overlay overlay rw",
	"42 40 0:42 / /tmp/b/ns/net rw - nsfs nsfs rw",
	"43 22 0:43 / /tmp/bb rw - tmpfs tmpfs rw",
	"44 41 0:44 / /tmp/b/x/merged/proc rw - proc proc rw",
}

func TestUnder(t *testing.T) {
	got := under(mountinfo, "/tmp/b")
	want := []string{"/tmp/b/x/merged/proc", "/tmp/b/x/merged", "/tmp/b/ns/net", "/tmp/b"}
	if !slices.Equal(got, want) {
		t.Errorf("under(/tmp/b) = %v, want %v (deepest first, not /tmp/bb)", got, want)
	}
	if got := under(mountinfo, "/nothing"); len(got) != 0 {
		t.Errorf("under(/nothing) = %v", got)
	}
}

func TestShared(t *testing.T) {
	all := strings.Join(mountinfo, "\n")
	for path, want := range map[string]bool{"/sys/fs/cgroup/unified": true, "/": true, "/tmp/b": false, "/absent": false} {
		if got := shared(all, path); got != want {
			t.Errorf("shared(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestRemoveTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RemoveTree(dir, t.Logf); err != nil {
		t.Fatalf("RemoveTree: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after RemoveTree, stat %s: %v", dir, err)
	}
}
