package volume

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// imageDir builds a directory like one of an image's VOLUME paths, with a
// symlink to a directory outside it that must never be followed.
func imageDir(t *testing.T) (src, outside string) {
	t.Helper()
	base := t.TempDir()
	src = filepath.Join(base, "rootfs", "var", "lib", "app")
	outside = filepath.Join(base, "outside")
	writeFile(t, filepath.Join(outside, "secret"), "host secret")
	writeFile(t, filepath.Join(src, "conf", "app.conf"), "key=value")
	writeFile(t, filepath.Join(src, "run.sh"), "#!/bin/sh")
	if err := os.Chmod(filepath.Join(src, "run.sh"), 0o751); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "conf"), 0o710); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "run.sh"), filepath.Join(src, "conf", "run-link")); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"escape":     outside,
		"escape-rel": "../../../../outside/secret",
		"dangling":   "/nonexistent/x",
		"inside":     "conf/app.conf",
	} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(src, "fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o750); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "conf", "app.conf"), old, old); err != nil {
		t.Fatal(err)
	}
	return src, outside
}

func TestCopyUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	src, outside := imageDir(t)
	v, _ := s.Create(ctx, "", "", nil, nil)
	if err := s.CopyUp(ctx, v.Name, src); err != nil {
		t.Fatalf("CopyUp = %v", err)
	}
	dst := v.Mountpoint

	if data, err := os.ReadFile(filepath.Join(dst, "conf", "app.conf")); err != nil || string(data) != "key=value" {
		t.Errorf("conf/app.conf = %q, %v", data, err)
	}
	for rel, mode := range map[string]os.FileMode{".": os.ModeDir | 0o750, "conf": os.ModeDir | 0o710, "run.sh": 0o751, "fifo": os.ModeNamedPipe | 0o640} {
		fi, err := os.Lstat(filepath.Join(dst, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), mode)
		}
	}
	for name, target := range map[string]string{
		"escape":     outside,
		"escape-rel": "../../../../outside/secret",
		"dangling":   "/nonexistent/x",
		"inside":     "conf/app.conf",
	} {
		got, err := os.Readlink(filepath.Join(dst, name))
		if err != nil || got != target {
			t.Errorf("symlink %s = %q, %v, want %q", name, got, err, target)
		}
	}
	if exists(t, filepath.Join(dst, "secret")) || exists(t, filepath.Join(s.root, "outside")) {
		t.Error("CopyUp followed a symlink out of the source")
	}
	a, _ := os.Stat(filepath.Join(dst, "run.sh"))
	b, _ := os.Stat(filepath.Join(dst, "conf", "run-link"))
	if !os.SameFile(a, b) {
		t.Error("hard link not kept")
	}
	fi, _ := os.Stat(filepath.Join(dst, "conf", "app.conf"))
	if want := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC); !fi.ModTime().Equal(want) {
		t.Errorf("mtime = %v, want %v", fi.ModTime(), want)
	}

	// A volume that is not empty is left alone.
	if err := os.RemoveAll(filepath.Join(dst, "conf")); err != nil {
		t.Fatal(err)
	}
	if err := s.CopyUp(ctx, v.Name, src); err != nil {
		t.Fatal(err)
	}
	if exists(t, filepath.Join(dst, "conf")) {
		t.Error("CopyUp copied into a volume that was not empty")
	}
}

func TestCopyUpNothingToCopy(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	src, outside := imageDir(t)
	v, _ := s.Create(ctx, "vv", "", nil, nil)
	// A source that is itself a symlink is not followed.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, filepath.Join(src, "missing"), filepath.Join(src, "run.sh")} {
		if err := s.CopyUp(ctx, "vv", p); err != nil {
			t.Errorf("CopyUp(%s) = %v, want nil", p, err)
		}
	}
	ents, _ := os.ReadDir(v.Mountpoint)
	if len(ents) != 0 {
		t.Errorf("volume has %d entries, want none", len(ents))
	}
	if err := s.CopyUp(ctx, "missing", src); err == nil {
		t.Error("CopyUp(missing volume) succeeded")
	}
}

// A failed copy leaves the volume empty so a retry can copy again.
func TestCopyUpFailureCleans(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root reads unreadable files")
	}
	ctx := t.Context()
	s := newStore(t)
	src, _ := imageDir(t)
	writeFile(t, filepath.Join(src, "zz-unreadable"), "x")
	if err := os.Chmod(filepath.Join(src, "zz-unreadable"), 0); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Create(ctx, "vv", "", nil, nil)
	if err := s.CopyUp(ctx, "vv", src); err == nil {
		t.Fatal("CopyUp of an unreadable file succeeded")
	}
	if ents, _ := os.ReadDir(v.Mountpoint); len(ents) != 0 {
		t.Errorf("failed CopyUp left %d entries", len(ents))
	}
}

func TestCopyUpOwnership(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	src, _ := imageDir(t)
	chown := map[string][2]int{".": {999, 998}, "conf": {1000, 1001}, "run.sh": {1000, 1000}, "escape": {1234, 1235}, "fifo": {7, 8}}
	for rel, id := range chown {
		if err := os.Lchown(filepath.Join(src, rel), id[0], id[1]); err != nil {
			t.Fatal(err)
		}
	}
	// Set-id bits are applied after chown, which would clear them.
	if err := os.Chmod(filepath.Join(src, "run.sh"), 0o4751|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	xattrOK := unix.Lsetxattr(filepath.Join(src, "conf", "app.conf"), "trusted.shoal", []byte("v1"), 0) == nil

	v, _ := s.Create(ctx, "owned", "", nil, nil)
	if err := s.CopyUp(ctx, "owned", src); err != nil {
		t.Fatalf("CopyUp = %v", err)
	}
	for rel, id := range chown {
		fi, err := os.Lstat(filepath.Join(v.Mountpoint, rel))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != id[0] || int(st.Gid) != id[1] {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, st.Uid, st.Gid, id[0], id[1])
		}
	}
	fi, _ := os.Lstat(filepath.Join(v.Mountpoint, "run.sh"))
	if fi.Mode() != os.ModeSetuid|0o751 {
		t.Errorf("run.sh mode %v, want setuid 0751", fi.Mode())
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(v.Mountpoint, "null"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("device node: %+v, %v", st, err)
	}
	if xattrOK {
		buf := make([]byte, 16)
		n, err := unix.Lgetxattr(filepath.Join(v.Mountpoint, "conf", "app.conf"), "trusted.shoal", buf)
		if err != nil || string(buf[:n]) != "v1" {
			t.Errorf("xattr trusted.shoal = %q, %v, want v1", buf[:n], err)
		}
	} else {
		t.Log("source filesystem has no trusted xattrs: not checked")
	}
}

// An option volume not mounted yet is mounted for the copy, so the data
// lands on its device, not in the directory below.
func TestCopyUpOptionVolume(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	src, _ := imageDir(t)
	host := t.TempDir()
	v, err := s.Create(ctx, "bound", "", map[string]string{"type": "none", "device": host, "o": "bind"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unmountData(v.Mountpoint) })
	if err := s.CopyUp(ctx, "bound", src); err != nil {
		t.Fatal(err)
	}
	if !exists(t, filepath.Join(host, "conf", "app.conf")) {
		t.Error("copy did not land on the bound host directory")
	}
	if ms := mountsAt(t, v.Mountpoint); len(ms) != 0 {
		t.Errorf("CopyUp left the volume mounted: %+v", ms)
	}
	ents, _ := os.ReadDir(v.Mountpoint)
	if names := entryNames(ents); len(names) != 0 {
		t.Errorf("copy landed below the mount: %v", names)
	}
}

func entryNames(ents []os.DirEntry) []string {
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}
