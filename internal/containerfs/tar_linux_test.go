package containerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/testutil"
)

func tarOf(t *testing.T, root, p string) ([]rentry, error) {
	t.Helper()
	var buf bytes.Buffer
	err := Tar(t.Context(), root, p, &buf)
	if err != nil {
		if buf.Len() > 0 {
			t.Errorf("Tar(%q) failed (%v) but wrote %d bytes", p, err, buf.Len())
		}
		return nil, err
	}
	noSentinel(t, buf.Bytes())
	return readTar(t, buf.Bytes()), nil
}

// TestTarNames checks Docker's naming rules for GET /archive.
func TestTarNames(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	build(t, root, fdir("d"), ffile("d/f", "f"), fdir("d/sub"), ffile("d/sub/g", "g"),
		ffile("f", "top"), flink("l", "d"), flink("abs", "/d"))
	tests := []struct {
		path    string
		want    string
		wantErr error
	}{
		{path: "/d", want: "d/ d/f d/sub/ d/sub/g"},
		{path: "d", want: "d/ d/f d/sub/ d/sub/g"},
		{path: "/d/", want: "d/ d/f d/sub/ d/sub/g"},
		{path: "/d/.", want: "./ ./f ./sub/ ./sub/g"},
		{path: "/d/sub", want: "sub/ sub/g"},
		{path: "/f", want: "f"},
		{path: "/d/sub/g", want: "g"},
		{path: "/l", want: "l"},
		{path: "/abs", want: "abs"},
		{path: "/l/", want: "l/ l/f l/sub/ l/sub/g"},
		{path: "/abs/", want: "abs/ abs/f abs/sub/ abs/sub/g"},
		{path: "/l/.", want: "./ ./f ./sub/ ./sub/g"},
		{path: "/", want: "/ /abs /d/ /d/f /d/sub/ /d/sub/g /f /l"},
		{path: "/.", want: "./ ./abs ./d/ ./d/f ./d/sub/ ./d/sub/g ./f ./l"},
		{path: "/missing", wantErr: errdefs.ErrNotFound},
		{path: "/f/", wantErr: errdefs.ErrNotFound},
		{path: "", wantErr: errdefs.ErrInvalidArgument},
	}
	for _, tc := range tests {
		es, err := tarOf(t, root, tc.path)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Tar(%q) = %v, want %v", tc.path, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Tar(%q): %v", tc.path, err)
			continue
		}
		if got := joinNames(tarNames(es)); got != tc.want {
			t.Errorf("Tar(%q) names = %q, want %q", tc.path, got, tc.want)
		}
	}
	// A symlink is archived as one, not followed.
	es, _ := tarOf(t, root, "/l")
	if len(es) != 1 || es[0].hdr.Typeflag != tar.TypeSymlink || es[0].hdr.Linkname != "d" {
		t.Errorf("Tar(/l) = %+v, want one symlink to d", es)
	}
}

// TestTarHostile: symlinks of the container pointing at "/" or climbing to
// a host directory resolve inside root; nothing of the host is archived.
func TestTarHostile(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t)
	for _, p := range []string{"/up/", "/up/file", "/up/.", "/deepup/file", "/deepup/", "/abs/", "/abs/file",
		"/magic/", "/magic/file", "/sub/esc/sentinel/file"} {
		if _, err := tarOf(t, e.root, p); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Tar(%q) = %v, want not found", p, err)
		}
	}
	// Through links to "/": the container's own root.
	for p, want := range map[string]string{
		"/evil/etc/passwd":   "passwd",
		"/sub/esc/etc/":      "etc/ etc/passwd",
		"/evil/sub/esc/etc/": "etc/ etc/passwd",
	} {
		es, err := tarOf(t, e.root, p)
		if err != nil {
			t.Errorf("Tar(%q): %v", p, err)
			continue
		}
		if got := joinNames(tarNames(es)); got != want {
			t.Errorf("Tar(%q) names = %q, want %q", p, got, want)
		}
	}
	// The whole root: links archived as links, never followed.
	es, err := tarOf(t, e.root, "/evil/")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if strings.Contains(en.hdr.Name, "sentinel/") {
			t.Errorf("Tar(/evil/) holds %q", en.hdr.Name)
		}
	}
	if !slices.Contains(tarNames(es), "evil/up") {
		t.Errorf("Tar(/evil/) = %q, want evil/up among them", tarNames(es))
	}
	e.check(t)
}

// TestTarContent checks what an entry carries: types, modes, owners,
// mtimes, hardlinks, xattrs, content.
func TestTarContent(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 10000)
	build(t, root, fdir("d"),
		withMode(ffile("d/suid", "s"), 0o755|os.ModeSetuid),
		withMode(ffile("d/big", big), 0o600),
		ffile("d/empty", ""),
		fhard("d/hard", "d/big"),
		flink("d/link", "../x/y"),
		ffifo("d/fifo"),
		withMode(fdir("d/sticky"), os.ModeSticky|0o777),
	)
	xattrOK := unix.Lsetxattr(filepath.Join(root, "d/big"), "user.test", []byte("v\x00w"), 0) == nil
	if err := unix.Mknod(filepath.Join(root, "d/sock"), unix.S_IFSOCK|0o600, 0); err != nil {
		t.Fatal(err)
	}
	es, err := tarOf(t, root, "/d")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]rentry{}
	for _, en := range es {
		byName[en.hdr.Name] = en
	}
	if got, want := joinNames(tarNames(es)), "d/ d/big d/empty d/fifo d/hard d/link d/sticky/ d/suid"; got != want {
		t.Errorf("names = %q, want %q (sockets skipped)", got, want)
	}
	// Modes carry the file type bits, as Docker's archives do.
	check := func(name string, typ byte, mode int64, body string) {
		t.Helper()
		en, ok := byName[name]
		if !ok {
			t.Errorf("no entry %s", name)
			return
		}
		h := en.hdr
		if h.Typeflag != typ || h.Mode != mode || en.body != body {
			t.Errorf("%s: type %q mode %o body %d bytes; want %q %o %d bytes", name, h.Typeflag, h.Mode, len(en.body), typ, mode, len(body))
		}
		if !h.ModTime.Equal(testTime) && typ != tar.TypeDir && typ != tar.TypeLink {
			t.Errorf("%s: mtime %v, want %v", name, h.ModTime, testTime)
		}
		if h.Uid != os.Getuid() || h.Gid != os.Getgid() {
			t.Errorf("%s: owner %d:%d, want %d:%d", name, h.Uid, h.Gid, os.Getuid(), os.Getgid())
		}
	}
	check("d/", tar.TypeDir, 0o40755, "")
	check("d/suid", tar.TypeReg, 0o104755, "s")
	check("d/big", tar.TypeReg, 0o100600, big)
	check("d/empty", tar.TypeReg, 0o100644, "")
	check("d/hard", tar.TypeLink, 0o100600, "")
	check("d/link", tar.TypeSymlink, 0o120777, "")
	check("d/fifo", tar.TypeFifo, 0o10600, "")
	check("d/sticky/", tar.TypeDir, 0o41777, "")
	if l := byName["d/hard"].hdr.Linkname; l != "d/big" {
		t.Errorf("d/hard links to %q, want d/big", l)
	}
	if l := byName["d/link"].hdr.Linkname; l != "../x/y" {
		t.Errorf("d/link points to %q, want ../x/y", l)
	}
	if xattrOK {
		if v := byName["d/big"].hdr.PAXRecords["SCHILY.xattr.user.test"]; v != "v\x00w" {
			t.Errorf("d/big xattr user.test = %q, want %q", v, "v\x00w")
		}
	}
}

func TestTarDevicesAndOwners(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	root := t.TempDir()
	build(t, root, fdir("d"), ffile("d/owned", "x"))
	if err := os.Lchown(filepath.Join(root, "d/owned"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(root, "d/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(root, "d/blk"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(filepath.Join(root, "d/owned"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	es, err := tarOf(t, root, "/d/.")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		h := en.hdr
		switch h.Name {
		case "./owned":
			if h.Uid != 1234 || h.Gid != 5678 {
				t.Errorf("owned: %d:%d, want 1234:5678", h.Uid, h.Gid)
			}
			if len(h.PAXRecords) != 0 {
				t.Errorf("owned: PAX records %v, want no overlay xattr", h.PAXRecords)
			}
		case "./null":
			if h.Typeflag != tar.TypeChar || h.Devmajor != 1 || h.Devminor != 3 {
				t.Errorf("null: %q %d:%d, want char 1:3", h.Typeflag, h.Devmajor, h.Devminor)
			}
		case "./blk":
			if h.Typeflag != tar.TypeBlock || h.Devmajor != 7 || h.Devminor != 0 {
				t.Errorf("blk: %q %d:%d, want block 7:0", h.Typeflag, h.Devmajor, h.Devminor)
			}
		}
	}
}

func TestExport(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t)
	build(t, e.root, fdir("bin"), withMode(ffile("bin/sh", "#!"), 0o755), fhard("bin/ash", "bin/sh"), fdir("empty"))
	var buf bytes.Buffer
	if err := Export(t.Context(), e.root, &buf); err != nil {
		t.Fatal(err)
	}
	noSentinel(t, buf.Bytes())
	es := readTar(t, buf.Bytes())
	want := "abs bin/ bin/ash bin/sh deepup empty/ etc/ etc/passwd evil magic sub/ sub/esc up"
	if got := joinNames(tarNames(es)); got != want {
		t.Errorf("Export names = %q, want %q", got, want)
	}
	for _, en := range es {
		if en.hdr.Name == "bin/sh" && en.hdr.Typeflag != tar.TypeLink {
			t.Errorf("bin/sh is %q, want a hardlink to bin/ash (written first)", en.hdr.Typeflag)
		}
		if en.hdr.Name == "evil" && (en.hdr.Typeflag != tar.TypeSymlink || en.hdr.Linkname != "/") {
			t.Errorf("evil = %q -> %q, want symlink to /", en.hdr.Typeflag, en.hdr.Linkname)
		}
	}
	e.check(t)
}

func TestExportCancel(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	build(t, root, ffile("a", "a"), ffile("b", "b"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Export(ctx, root, &bytes.Buffer{}); !errors.Is(err, ctx.Err()) {
		t.Errorf("Export with a cancelled context = %v, want %v", err, ctx.Err())
	}
}
