package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/testutil"
)

func applyLayer(t *testing.T, root string, b []byte, opts ...ApplyOpt) int64 {
	t.Helper()
	n, err := Apply(t.Context(), root, bytes.NewReader(b), opts...)
	if err != nil {
		t.Fatalf("Apply() = %v", err)
	}
	return n
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatalf("Lstat(%s) = %v", p, err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("ReadFile(%s) = %v", p, err)
	}
	return string(b)
}

func TestApplyContent(t *testing.T) {
	root := tempRoot(t)
	old := testTime.Add(-time.Hour)
	d := dir("d/")
	d.hdr.ModTime = old
	fifo := entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "d/fifo", Mode: 0o640, ModTime: testTime}}
	n := applyLayer(t, root, layer(t,
		d,
		withMode(file("d/exec", "#!/bin/sh\n"), 0o755),
		withMode(file("d/secret", "s"), 0o600),
		withMode(file("d/setuid", "u"), 0o4755),
		withMode(dir("d/locked/"), 0o500),
		file("d/locked/inside", "in"),
		symlink("d/link", "exec"),
		symlink("d/abs", "/etc/passwd"),
		hardlink("d/hard", "d/exec"),
		fifo,
		withPAX(file("d/xattr", "x"), "SCHILY.xattr.user.shoal", "value"),
		file("implicit/parent/file", "p"),
	))
	if want := int64(len("#!/bin/sh\n") + 1 + 1 + 2 + 1 + 1); n != want {
		t.Errorf("Apply() size = %d, want %d", n, want)
	}

	for _, tc := range []struct {
		path string
		mode fs.FileMode
		body string
	}{
		{"d", fs.ModeDir | 0o755, ""},
		{"d/exec", 0o755, "#!/bin/sh\n"},
		{"d/secret", 0o600, "s"},
		{"d/setuid", fs.ModeSetuid | 0o755, "u"},
		{"d/locked", fs.ModeDir | 0o500, ""},
		{"d/locked/inside", 0o644, "in"},
		{"d/fifo", fs.ModeNamedPipe | 0o640, ""},
		{"implicit/parent", fs.ModeDir | 0o755, ""},
	} {
		fi, err := os.Lstat(filepath.Join(root, tc.path))
		if err != nil {
			t.Errorf("Lstat(%s) = %v", tc.path, err)
			continue
		}
		if fi.Mode() != tc.mode {
			t.Errorf("mode of %s = %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
		if tc.mode.IsRegular() {
			if got := readFile(t, filepath.Join(root, tc.path)); got != tc.body {
				t.Errorf("content of %s = %q, want %q", tc.path, got, tc.body)
			}
		}
	}
	for p, want := range map[string]time.Time{"d": old, "d/exec": testTime, "d/link": testTime, "d/locked": testTime} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(want) {
			t.Errorf("mtime of %s = %v, want %v", p, fi.ModTime(), want)
		}
	}
	if l, err := os.Readlink(filepath.Join(root, "d/abs")); err != nil || l != "/etc/passwd" {
		t.Errorf("Readlink(d/abs) = %q, %v, want /etc/passwd", l, err)
	}
	if a, b := lstat(t, filepath.Join(root, "d/exec")), lstat(t, filepath.Join(root, "d/hard")); a.Ino != b.Ino {
		t.Errorf("d/hard inode %d, want d/exec's %d", b.Ino, a.Ino)
	}
	buf := make([]byte, 64)
	n2, err := unix.Lgetxattr(filepath.Join(root, "d/xattr"), "user.shoal", buf)
	switch {
	case errors.Is(err, unix.ENOTSUP):
		t.Logf("user xattrs not supported on %s", root)
	case err != nil || string(buf[:n2]) != "value":
		t.Errorf("Lgetxattr(d/xattr, user.shoal) = %q, %v, want value", buf[:n2], err)
	}
}

func TestApplyReplace(t *testing.T) {
	root := tempRoot(t)
	applyLayer(t, root, layer(t,
		file("f2d", "file"),
		dir("d2f/"), dir("d2f/sub/"), file("d2f/sub/x", "x"),
		withMode(dir("merge/"), 0o700), file("merge/lower", "l"),
		file("l2f-target", "t"), symlink("l2f", "l2f-target"),
		file("same", "old"),
	))
	applyLayer(t, root, layer(t,
		dir("f2d/"), file("f2d/in", "in"),
		file("d2f", "now a file"),
		withMode(dir("merge/"), 0o751), file("merge/upper", "u"),
		file("l2f", "replaced link"),
		file("same", "new"),
	))
	for p, want := range map[string]string{
		"f2d/in": "in", "d2f": "now a file", "merge/lower": "l", "merge/upper": "u",
		"l2f": "replaced link", "l2f-target": "t", "same": "new",
	} {
		if got := readFile(t, filepath.Join(root, p)); got != want {
			t.Errorf("content of %s = %q, want %q", p, got, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(root, "merge")); err != nil || fi.Mode() != fs.ModeDir|0o751 {
		t.Errorf("merge: %v, %v; want a directory with mode 0751", fi.Mode(), err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "l2f")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("l2f = %v, %v; want a regular file", fi.Mode(), err)
	}
}

func TestApplyRemoveWhiteouts(t *testing.T) {
	root := tempRoot(t)
	applyLayer(t, root, layer(t,
		dir("a/"), file("a/b", "b"), file("a/c", "c"),
		dir("d/"), file("d/e", "e"), dir("d/sub/"), file("d/sub/deep", "deep"),
		dir("o/"), file("o/old", "old"), dir("o/keep/"), file("o/keep/old", "old"),
		file("f", "f"),
	))
	applyLayer(t, root, layer(t,
		file("a/.wh.b", ""),
		file(".wh.f", ""),
		file(".wh.missing", ""),
		file("nodir/.wh.x", ""),
		dir("d/"), file("d/.wh..wh..opq", ""), file("d/new", "new"),
		// The opaque marker after entries of the same layer keeps them.
		dir("o/"), file("o/new", "new"), dir("o/keep/"), file("o/keep/new", "new"), file("o/.wh..wh..opq", ""),
	), WithWhiteouts(RemoveWhiteouts))
	for _, tc := range []struct {
		path   string
		exists bool
	}{
		{"a/b", false}, {"a/c", true}, {"f", false}, {"nodir", false},
		{"d/e", false}, {"d/sub", false}, {"d/new", true}, {"d/.wh..wh..opq", false},
		{"o/old", false}, {"o/keep/old", false}, {"o/new", true}, {"o/keep/new", true}, {"a/.wh.b", false},
	} {
		_, err := os.Lstat(filepath.Join(root, tc.path))
		if got := err == nil; got != tc.exists {
			t.Errorf("%s exists = %v (%v), want %v", tc.path, got, err, tc.exists)
		}
	}
}

func TestApplyOverlayWhiteouts(t *testing.T) {
	testutil.RequiresRoot(t) // trusted.* xattrs need CAP_SYS_ADMIN
	root := tempRoot(t)
	applyLayer(t, root, layer(t,
		dir("d/"), file("d/.wh.gone", ""), file("d/.wh..wh..opq", ""), file("d/kept", "k"),
		file(".wh.top", ""),
	), WithWhiteouts(OverlayWhiteouts))
	for _, p := range []string{"d/gone", "top"} {
		st := lstat(t, filepath.Join(root, p))
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: mode %o rdev %d, want a 0:0 character device", p, st.Mode, st.Rdev)
		}
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(root, "d"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("Lgetxattr(d, trusted.overlay.opaque) = %q, %v, want y", buf[:n], err)
	}
	if got := readFile(t, filepath.Join(root, "d/kept")); got != "k" {
		t.Errorf("d/kept = %q", got)
	}
}

func TestApplyOwnership(t *testing.T) {
	testutil.RequiresRoot(t)
	owned := func(e entry, uid, gid int) entry { e.hdr.Uid, e.hdr.Gid = uid, gid; return e }
	l := layer(t,
		owned(dir("d/"), 1000, 1001),
		owned(withMode(file("d/suid", "x"), 0o6755), 1234, 5678),
		owned(symlink("d/link", "suid"), 42, 43),
		owned(entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "d/null", Mode: 0o666, Devmajor: 1, Devminor: 3}}, 7, 8),
	)
	for _, tc := range []struct {
		name   string
		opts   []ApplyOpt
		offset int
		chown  bool
	}{
		{name: "default", chown: true},
		{name: "idmap", opts: []ApplyOpt{WithIDMap(func(u, g int) (int, int, error) { return u + 100000, g + 100000, nil })}, offset: 100000, chown: true},
		{name: "nochown", opts: []ApplyOpt{WithNoChown()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tempRoot(t)
			applyLayer(t, root, l, tc.opts...)
			for p, want := range map[string][2]int{"d": {1000, 1001}, "d/suid": {1234, 5678}, "d/link": {42, 43}, "d/null": {7, 8}} {
				st := lstat(t, filepath.Join(root, p))
				if !tc.chown {
					want = [2]int{0, 0}
				} else {
					want[0] += tc.offset
					want[1] += tc.offset
				}
				if int(st.Uid) != want[0] || int(st.Gid) != want[1] {
					t.Errorf("owner of %s = %d:%d, want %d:%d", p, st.Uid, st.Gid, want[0], want[1])
				}
			}
			if fi, err := os.Lstat(filepath.Join(root, "d/suid")); err != nil || fi.Mode() != fs.ModeSetuid|fs.ModeSetgid|0o755 {
				t.Errorf("mode of d/suid = %v, %v; want setuid+setgid 0755", fi.Mode(), err)
			}
			if st := lstat(t, filepath.Join(root, "d/null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
				t.Errorf("d/null: mode %o rdev %x, want char 1:3", st.Mode, st.Rdev)
			}
		})
	}
	failing := WithIDMap(func(u, g int) (int, int, error) { return 0, 0, errdefs.ErrInvalidArgument })
	if _, err := Apply(t.Context(), tempRoot(t), bytes.NewReader(l), failing); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Apply(failing id map) = %v, want %v", err, errdefs.ErrInvalidArgument)
	}
}

func TestApplyStreams(t *testing.T) {
	plain := layer(t, dir("d/"), file("d/f", "hello"))
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(plain)
	zw.Close()
	for _, tc := range []struct {
		name string
		in   []byte
		want Compression
	}{
		{"plain", plain, Uncompressed},
		{"gzip", gz.Bytes(), Gzip},
		{"zstd", zs.Bytes(), Zstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, c, err := Decompress(bytes.NewReader(tc.in))
			if err != nil {
				t.Fatalf("Decompress() = %v", err)
			}
			defer rc.Close()
			if c != tc.want {
				t.Errorf("Decompress() compression = %v, want %v", c, tc.want)
			}
			root := tempRoot(t)
			if n, err := Apply(t.Context(), root, rc); err != nil || n != 5 {
				t.Fatalf("Apply() = %d, %v, want 5, nil", n, err)
			}
			if got := readFile(t, filepath.Join(root, "d/f")); got != "hello" {
				t.Errorf("d/f = %q, want hello", got)
			}
		})
	}
}

func TestDecompressShort(t *testing.T) {
	for _, in := range [][]byte{nil, {0x1f}, {0x28, 0xb5}} {
		rc, c, err := Decompress(bytes.NewReader(in))
		if err != nil || c != Uncompressed {
			t.Errorf("Decompress(%x) = %v, %v, want uncompressed", in, c, err)
			continue
		}
		b, _ := io.ReadAll(rc)
		if !bytes.Equal(b, in) {
			t.Errorf("Decompress(%x) read %x", in, b)
		}
	}
	if _, _, err := Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 0x08, 0})); err == nil {
		t.Errorf("Decompress(broken gzip) = nil error")
	}
}

func TestApplyBadStreams(t *testing.T) {
	full := layer(t, file("a", "aaaa"), file("b", string(bytes.Repeat([]byte("b"), 2000))))
	big := layer(t, file("a", "aaaa"), file("b", "bbbb"))
	for _, tc := range []struct {
		name string
		in   []byte
		opts []ApplyOpt
		want error
	}{
		{"truncated body", full[:512+512+512+100], nil, io.ErrUnexpectedEOF},
		{"truncated header", full[:512+512+100], nil, io.ErrUnexpectedEOF},
		{"garbage header", bytes.Repeat([]byte{'x'}, 1024), nil, errdefs.ErrInvalidArgument},
		{"over size limit", big, []ApplyOpt{WithMaxBytes(6)}, errdefs.ErrInvalidArgument},
		{"bad whiteout mode", big, []ApplyOpt{WithWhiteouts(WhiteoutMode(9))}, errdefs.ErrInvalidArgument},
		{"truncated is invalid", full[:512+512+512+100], nil, errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(t.Context(), tempRoot(t), bytes.NewReader(tc.in), tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Errorf("Apply() = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("missing root", func(t *testing.T) {
		_, err := Apply(t.Context(), filepath.Join(tempRoot(t), "nope"), bytes.NewReader(big))
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Apply() = %v, want %v", err, errdefs.ErrNotFound)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := Apply(ctx, tempRoot(t), bytes.NewReader(big))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Apply() = %v, want %v", err, context.Canceled)
		}
	})
}
