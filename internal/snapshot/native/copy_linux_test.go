package native

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// TestCopyTreeKeeps builds one of everything the copy promises to keep and
// compares source and copy entry by entry.
func TestCopyTreeKeeps(t *testing.T) {
	t.Parallel()
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "d", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(src, "d", "file"), []byte("content"), 0o644))
	must(os.WriteFile(filepath.Join(src, "suid"), []byte("x"), 0o644))
	must(unix.Chmod(filepath.Join(src, "suid"), 0o4755))
	must(unix.Chmod(filepath.Join(src, "d", "sub"), 0o1777))
	must(os.Chown(filepath.Join(src, "d", "file"), 1000, 2000))
	must(os.Link(filepath.Join(src, "d", "file"), filepath.Join(src, "hardlink")))
	must(os.Symlink("d/file", filepath.Join(src, "symlink")))
	must(os.Symlink("/nonexistent", filepath.Join(src, "dangling")))
	must(unix.Lchown(filepath.Join(src, "symlink"), 7, 8))
	must(unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Mknod(filepath.Join(src, "whiteout"), unix.S_IFCHR, 0))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	must(unix.Setxattr(filepath.Join(src, "d", "file"), "user.k", []byte("v"), 0))
	must(unix.Setxattr(filepath.Join(src, "d"), "trusted.overlay.opaque", []byte("y"), 0))
	must(unix.Lsetxattr(filepath.Join(src, "symlink"), "trusted.t", []byte("s"), 0))
	must(unix.Setxattr(filepath.Join(src, "d", "file"), "user.empty", nil, 0))

	must(copyTree(t.Context(), src, dst))

	must(filepath.Walk(src, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		var a, b unix.Stat_t
		must(unix.Lstat(p, &a))
		if err := unix.Lstat(filepath.Join(dst, rel), &b); err != nil {
			t.Errorf("%s: not copied: %v", rel, err)
			return nil
		}
		if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Rdev != b.Rdev || a.Size != b.Size || a.Nlink != b.Nlink {
			t.Errorf("%s: copy has mode %#o uid %d gid %d rdev %d size %d nlink %d, want %#o %d %d %d %d %d",
				rel, b.Mode, b.Uid, b.Gid, b.Rdev, b.Size, b.Nlink, a.Mode, a.Uid, a.Gid, a.Rdev, a.Size, a.Nlink)
		}
		if a.Mtim != b.Mtim {
			t.Errorf("%s: mtime %v, want %v", rel, b.Mtim, a.Mtim)
		}
		if want, got := xattrs(t, p), xattrs(t, filepath.Join(dst, rel)); len(want) != len(got) {
			t.Errorf("%s: xattrs %v, want %v", rel, got, want)
		} else {
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: xattr %s = %q, want %q", rel, k, got[k], v)
				}
			}
		}
		return nil
	}))
	var f, h unix.Stat_t
	must(unix.Lstat(filepath.Join(dst, "d", "file"), &f))
	must(unix.Lstat(filepath.Join(dst, "hardlink"), &h))
	if f.Ino != h.Ino {
		t.Errorf("hard link copied as a separate file")
	}
	if target, err := os.Readlink(filepath.Join(dst, "dangling")); err != nil || target != "/nonexistent" {
		t.Errorf("dangling symlink copy = %q, %v", target, err)
	}
}

func xattrs(t *testing.T, p string) map[string]string {
	t.Helper()
	names, err := listXattrs(noFollowXattr, p)
	if err != nil {
		t.Fatalf("list xattrs of %s: %v", p, err)
	}
	out := map[string]string{}
	for _, n := range names {
		v, err := getXattr(noFollowXattr, p, n)
		if err != nil {
			t.Fatalf("get xattr %s of %s: %v", n, p, err)
		}
		out[n] = string(v)
	}
	return out
}
