package containerfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/archive"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/testutil"
)

func changesString(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.Kind.String() + " " + c.Path + "\n")
	}
	return b.String()
}

// mkWhiteout makes an overlay whiteout (a 0:0 character device), skipping
// t where the kernel refuses it without privilege (before Linux 5.8).
func mkWhiteout(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
		if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
			t.Skipf("mknod whiteout: %v", err)
		}
		t.Fatal(err)
	}
}

func setXattr(t *testing.T, p, name, value string) {
	t.Helper()
	if err := unix.Lsetxattr(p, name, []byte(value), 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			t.Skipf("xattrs not supported: %v", err)
		}
		t.Fatal(err)
	}
}

// TestChangesLayers builds overlay layer directories by hand (user.overlay
// xattrs, as with the userxattr mount option, so no privilege is needed)
// and checks the lower-stack rules: whiteouts and opaque directories in
// lowers, type changes, unchanged copy-ups.
func TestChangesLayers(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	upper, top, bottom := filepath.Join(base, "upper"), filepath.Join(base, "top"), filepath.Join(base, "bottom")
	build(t, bottom, fdir("a"), ffile("a/x", "x"), ffile("a/y", "y"), ffile("b", "b"),
		fdir("c"), ffile("c/1", "1"), fdir("d"), ffile("d/k", "k"), ffile("d/same", "same"),
		fdir("t"), ffile("t/in", "in"), ffile("u", "u"))
	build(t, top, fdir("a"), ffile("a/z", "z"), fdir("c"), ffile("c/2", "2"), ffile("e", "e"))
	mkWhiteout(t, filepath.Join(top, "b"))
	setXattr(t, filepath.Join(top, "c"), "user.overlay.opaque", "y")

	build(t, upper, fdir("a"), ffile("a/new", "new"), ffile("a/x", "changed"),
		withMode(ffile("a/z", "z"), 0o600), ffile("a/y", ""),
		fdir("c"), ffile("c/3", "3"), fdir("d"), ffile("d/same", "same"),
		ffile("f", "f"), fdir("g"), ffile("g/h", "h"), ffile("t", "now a file"), fdir("u"), ffile("u/v", "v"))
	setXattr(t, filepath.Join(upper, "a/y"), "user.overlay.whiteout", "")
	mkWhiteout(t, filepath.Join(upper, "b")) // b is already gone below: no change
	mkWhiteout(t, filepath.Join(upper, "e"))
	mkWhiteout(t, filepath.Join(upper, "d/k"))
	setXattr(t, filepath.Join(upper, "c"), "user.overlay.opaque", "y")
	setXattr(t, filepath.Join(upper, "u"), "user.overlay.opaque", "y")

	got, err := Changes(t.Context(), upper, []string{top, bottom})
	if err != nil {
		t.Fatal(err)
	}
	want := `C /a
A /a/new
C /a/x
D /a/y
C /a/z
C /c
D /c/2
A /c/3
C /d
D /d/k
D /e
A /f
A /g
A /g/h
C /t
C /u
A /u/v
`
	if s := changesString(got); s != want {
		t.Errorf("Changes() =\n%s\nwant\n%s", s, want)
	}

	// Without lowers everything is added.
	got, err = Changes(t.Context(), filepath.Join(upper, "g"), nil)
	if err != nil || changesString(got) != "A /h\n" {
		t.Errorf("Changes(g, nil) = %v, %v; want A /h", got, err)
	}

	// A renamed directory (redirect_dir) cannot be diffed from upper.
	setXattr(t, filepath.Join(upper, "g"), "user.overlay.redirect", "/old")
	if _, err := Changes(t.Context(), upper, []string{top, bottom}); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("Changes() with a redirect = %v, want not implemented", err)
	}
}

// TestChangesHostileLowers: symlinks in layers are never followed, even
// where a path continues below them.
func TestChangesHostileLowers(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t)
	upper, lower := filepath.Join(e.base, "upper"), filepath.Join(e.base, "lower")
	// In the lower, "s" is a symlink to the host sentinel; the upper has
	// a directory s/ with a file named like the sentinel's.
	build(t, lower, flink("s", e.sentinel), flink("t", "/"))
	build(t, upper, fdir("s"), ffile("s/file", "x"), fdir("t"), ffile("t/dir", "y"))
	e.before = snapshotOutside(t, e.base, e.root)
	got, err := Changes(t.Context(), upper, []string{lower})
	if err != nil {
		t.Fatal(err)
	}
	if s, want := changesString(got), "C /s\nA /s/file\nC /t\nA /t/dir\n"; s != want {
		t.Errorf("Changes() =\n%s\nwant\n%s", s, want)
	}
	e.check(t)
}

// overlayFixture is a real overlay mount of two lower layers (the top one
// unpacked with overlay whiteouts) and an upper directory, changed through
// the mount as a container would.
type overlayFixture struct {
	lowers        []string
	upper, merged string
	lowerView     string // the lowers alone, mounted read-only
}

func newOverlayFixture(t *testing.T) *overlayFixture {
	t.Helper()
	testutil.RequiresRoot(t)
	base := t.TempDir()
	f := &overlayFixture{upper: filepath.Join(base, "upper"), merged: filepath.Join(base, "merged"),
		lowerView: filepath.Join(base, "lowerview")}
	top, bottom, work := filepath.Join(base, "l1"), filepath.Join(base, "l0"), filepath.Join(base, "work")
	f.lowers = []string{top, bottom}
	build(t, bottom, fdir("etc"), ffile("etc/hosts", "127.0.0.1 localhost\n"), ffile("etc/passwd", "root:x:0:0::/:/bin/sh\n"),
		fdir("var"), fdir("var/log"), ffile("var/log/a", "a"), ffile("var/log/b", "b"),
		fdir("bin"), withMode(ffile("bin/sh", "#!"), 0o755), fhard("bin/ash", "bin/sh"),
		fdir("opt"), ffile("opt/old", "old"), fdir("usr"))
	for _, d := range []string{top, f.upper, work, f.merged, f.lowerView} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	layer := mktar(t, tdir("etc/"), tfile("etc/.wh.passwd", ""), tdir("opt/"), tfile("opt/.wh..wh..opq", ""),
		tfile("opt/new", "new"), tdir("usr/"), tfile("usr/x", "x"))
	if _, err := archive.Apply(t.Context(), top, bytes.NewReader(layer), archive.WithWhiteouts(archive.OverlayWhiteouts)); err != nil {
		t.Fatal(err)
	}
	mountT(t, mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + top + ":" + bottom, "upperdir=" + f.upper, "workdir=" + work}}, f.merged)
	mountT(t, mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"ro", "lowerdir=" + top + ":" + bottom}}, f.lowerView)

	m := func(p string) string { return filepath.Join(f.merged, p) }
	steps := []func() error{
		func() error { return os.WriteFile(m("etc/new"), []byte("new"), 0o644) },
		func() error { return os.Link(m("etc/new"), m("etc/new2")) },
		func() error { return appendFile(m("etc/hosts"), "10.0.0.1 db\n") },
		func() error { return os.WriteFile(m("etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644) },
		func() error { return os.Remove(m("var/log/a")) },
		func() error { return os.RemoveAll(m("opt")) },
		func() error { return os.RemoveAll(m("usr")) },
		func() error { return os.Mkdir(m("usr"), 0o755) },
		func() error { return os.WriteFile(m("usr/y"), []byte("y"), 0o644) },
		func() error { return os.Chmod(m("bin/sh"), 0o700) },
		func() error { return unix.Mkfifo(m("newfifo"), 0o600) },
		func() error { return os.Symlink("/etc", m("etclink")) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return f
}

func appendFile(p, s string) error {
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	// Make the mtime differ from the lower's even within one second.
	time.Sleep(10 * time.Millisecond)
	_, err = fh.WriteString(s)
	return errors.Join(err, fh.Close())
}

func mountT(t *testing.T, m mount.Mount, target string) {
	t.Helper()
	if err := mount.All([]mount.Mount{m}, target); err != nil {
		testutil.SkipIfNotSupported(t, err)
	}
	t.Cleanup(func() {
		if err := mount.UnmountAll(target); err != nil {
			t.Error(err)
		}
	})
}

func TestChangesOverlay(t *testing.T) {
	t.Parallel()
	f := newOverlayFixture(t)
	got, err := Changes(t.Context(), f.upper, f.lowers)
	if err != nil {
		t.Fatal(err)
	}
	want := `C /bin
C /bin/sh
C /etc
C /etc/hosts
A /etc/new
A /etc/new2
A /etc/passwd
A /etclink
A /newfifo
D /opt
C /usr
D /usr/x
A /usr/y
C /var
C /var/log
D /var/log/a
`
	if s := changesString(got); s != want {
		t.Errorf("Changes() =\n%s\nwant\n%s", s, want)
	}
	// Docker's own algorithm, comparing the merged tree with the lowers'
	// view, must agree.
	if s, naive := changesString(got), changesString(naiveChanges(t, f.merged, f.lowerView)); s != naive {
		t.Errorf("Changes() =\n%s\nDocker's naive diff gives\n%s", s, naive)
	}
}

// naiveChanges is Docker's ChangesDirs: it compares two whole trees.
func naiveChanges(t *testing.T, newDir, oldDir string) []Change {
	t.Helper()
	var out []Change
	var walk func(rel string) bool
	walk = func(rel string) bool {
		entries, err := os.ReadDir(filepath.Join(newDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		mark := len(out)
		seen := map[string]bool{}
		for _, de := range entries {
			p := rel + "/" + de.Name()
			seen[de.Name()] = true
			nfi, err := os.Lstat(filepath.Join(newDir, p))
			if err != nil {
				t.Fatal(err)
			}
			ofi, err := os.Lstat(filepath.Join(oldDir, p))
			recorded := true
			switch {
			case err != nil:
				out = append(out, Change{Path: p, Kind: ChangeAdd})
			case naiveDifferent(ofi, nfi):
				out = append(out, Change{Path: p, Kind: ChangeModify})
			default:
				recorded = false
			}
			if nfi.IsDir() {
				if walk(p) && !recorded {
					out = append(out, Change{Path: p, Kind: ChangeModify})
				}
			}
		}
		if old, err := os.ReadDir(filepath.Join(oldDir, rel)); err == nil {
			for _, de := range old {
				if !seen[de.Name()] {
					out = append(out, Change{Path: rel + "/" + de.Name(), Kind: ChangeDelete})
				}
			}
		}
		return len(out) > mark
	}
	walk("")
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func naiveDifferent(o, n fs.FileInfo) bool {
	os, ns := o.Sys().(*syscall.Stat_t), n.Sys().(*syscall.Stat_t)
	if o.Mode() != n.Mode() || os.Uid != ns.Uid || os.Gid != ns.Gid || os.Rdev != ns.Rdev {
		return true
	}
	if o.IsDir() {
		return false
	}
	return o.Size() != n.Size() || !sameFsTime(unix.Timespec(os.Mtim), unix.Timespec(ns.Mtim))
}
