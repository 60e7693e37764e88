package containerfs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/testutil"
)

// errAny stands for "some error" in the tables below.
var errAny = errors.New("any error")

func extract(t *testing.T, root, dir string, data []byte, noOverwrite, copyUIDGID bool, opts ...ExtractOpt) error {
	t.Helper()
	return Extract(t.Context(), root, dir, bytes.NewReader(data), noOverwrite, copyUIDGID, opts...)
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s = %v, want success", what, err)
	case want == errAny && err == nil:
		t.Errorf("%s succeeded, want an error", what)
	case want != nil && want != errAny && !errors.Is(err, want):
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

func exists(root, p string) bool {
	_, err := os.Lstat(filepath.Join(root, p))
	return err == nil
}

// TestExtractHostile extracts into a container whose hostile symlinks aim
// at a host directory; nothing outside root may change, and entries stay
// inside the extraction directory.
func TestExtractHostile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dir     string
		layer   func(e *hostEnv) []byte
		wantErr error
		inRoot  []string // must exist afterwards, relative to root; SENTINEL is the sentinel path
	}{
		{name: "dir through link to /", dir: "/evil", inRoot: []string{escapeName},
			layer: func(e *hostEnv) []byte { return mktar(t, tfile(escapeName, "x")) }},
		{name: "dir climbing to host", dir: "/up", wantErr: errdefs.ErrNotFound,
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("pwned", "x")) }},
		{name: "dir deep climbing to host", dir: "/deepup/dir", wantErr: errdefs.ErrNotFound,
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("pwned", "x")) }},
		{name: "dir absolute host path", dir: "/abs", wantErr: errdefs.ErrNotFound,
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("pwned", "x")) }},
		{name: "dir through proc magic link", dir: "/magic", wantErr: errdefs.ErrNotFound,
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("pwned", "x")) }},
		{name: "dir climbing link to root", dir: "/sub/esc", inRoot: []string{escapeName},
			layer: func(e *hostEnv) []byte { return mktar(t, tfile(escapeName, "x")) }},
		{name: "dotdot entry", dir: "/sub", wantErr: errdefs.ErrInvalidArgument,
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("../../sentinel/pwned", "x")) }},
		{name: "absolute entry", dir: "/sub", inRoot: []string{"sub/abs/x"},
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("/abs/x", "x")) }},
		{name: "absolute host entry", dir: "/sub", inRoot: []string{"sub/SENTINEL/pwned"},
			layer: func(e *hostEnv) []byte { return mktar(t, tfile(e.sentinel+"/pwned", "x")) }},
		{name: "existing link in dir climbs", dir: "/sub", inRoot: []string{"sub/" + escapeName},
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("esc/"+escapeName, "x")) }},
		{name: "new link to / then write through", dir: "/sub", inRoot: []string{"sub/s", "sub/pwned"},
			layer: func(e *hostEnv) []byte { return mktar(t, tsymlink("s", "/"), tfile("s/pwned", "x")) }},
		{name: "new link to host then write through", dir: "/sub", wantErr: errdefs.ErrNotFound,
			layer: func(e *hostEnv) []byte { return mktar(t, tsymlink("s", e.sentinel), tfile("s/pwned", "x")) }},
		{name: "new climbing link then write through", dir: "/sub", wantErr: errdefs.ErrNotFound,
			layer: func(e *hostEnv) []byte { return mktar(t, tsymlink("s", "../../../sentinel"), tfile("s/pwned", "x")) }},
		{name: "link to host file then overwrite", dir: "/sub", inRoot: []string{"sub/s"},
			layer: func(e *hostEnv) []byte { return mktar(t, tsymlink("s", e.sentinel+"/file"), tfile("s", "x")) }},
		{name: "hardlink climbing", dir: "/sub", wantErr: errdefs.ErrInvalidArgument,
			layer: func(e *hostEnv) []byte { return mktar(t, thardlink("h", "../../sentinel/file")) }},
		{name: "hardlink absolute host path", dir: "/sub", wantErr: errdefs.ErrNotFound,
			layer: func(e *hostEnv) []byte { return mktar(t, thardlink("h", e.sentinel+"/file")) }},
		{name: "hardlink through link", dir: "/sub", wantErr: errdefs.ErrNotFound,
			layer: func(e *hostEnv) []byte { return mktar(t, tsymlink("s", e.sentinel), thardlink("h", "s/file")) }},
		{name: "hardlink outside dir through existing link", dir: "/sub", wantErr: errdefs.ErrNotFound,
			layer: func(e *hostEnv) []byte { return mktar(t, thardlink("h", "esc/etc/passwd")) }},
		{name: "whiteout entry", dir: "/", wantErr: errdefs.ErrInvalidArgument,
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("etc/.wh.passwd", "")) }},
		{name: "opaque entry", dir: "/", wantErr: errdefs.ErrInvalidArgument,
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("etc/.wh..wh..opq", "")) }},
		{name: "not a tar", dir: "/", wantErr: errdefs.ErrInvalidArgument,
			layer: func(e *hostEnv) []byte { return bytes.Repeat([]byte("garbage!"), 200) }},
		{name: "truncated", dir: "/", wantErr: errdefs.ErrInvalidArgument,
			layer: func(e *hostEnv) []byte { return mktar(t, tfile("big", strings.Repeat("x", 5000)))[:3000] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newHostEnv(t)
			err := extract(t, e.root, tc.dir, tc.layer(e), false, false)
			wantErr(t, "Extract()", err, tc.wantErr)
			e.check(t)
			e.checkEscape(t)
			if exists(e.root, "sentinel") {
				t.Errorf("created %s/sentinel", e.root)
			}
			for _, p := range tc.inRoot {
				p = strings.ReplaceAll(p, "SENTINEL", strings.TrimPrefix(e.sentinel, "/"))
				if !exists(e.root, p) {
					t.Errorf("want %s inside root", p)
				}
			}
			if got, _ := os.ReadFile(filepath.Join(e.root, "etc/passwd")); !strings.HasPrefix(string(got), "root:") {
				t.Errorf("etc/passwd = %q, changed", got)
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	build(t, root, fdir("d"), ffile("f", "x"), flink("fl", "f"), flink("dl", "/d"))
	data := mktar(t, tfile("x", "x"))
	for _, tc := range []struct {
		dir     string
		wantErr error
		msg     string
	}{
		{dir: "/missing", wantErr: errdefs.ErrNotFound},
		{dir: "/f", wantErr: errdefs.ErrInvalidArgument, msg: "extraction point is not a directory"},
		{dir: "/fl", wantErr: errdefs.ErrInvalidArgument, msg: "extraction point is not a directory"},
		{dir: "/f/", wantErr: errdefs.ErrInvalidArgument},
		{dir: "", wantErr: errdefs.ErrInvalidArgument},
		{dir: "/dl"},
		{dir: "/d/."},
		{dir: "."},
	} {
		err := extract(t, root, tc.dir, data, false, false)
		wantErr(t, "Extract(dir "+tc.dir+")", err, tc.wantErr)
		if tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
			t.Errorf("Extract(dir %q) = %v, want message %q", tc.dir, err, tc.msg)
		}
	}
	if !exists(root, "d/x") || !exists(root, "x") {
		t.Error("extracting to /dl, /d/. and . did not write d/x and x")
	}
}

func TestExtractNoOverwriteDirNonDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		layer       []byte
		noOverwrite bool
		wantErr     error
		check       func(root string) bool
	}{
		{name: "file over dir refused", layer: mktar(t, tfile("d", "x")), noOverwrite: true, wantErr: errdefs.ErrConflict},
		{name: "dir over file refused", layer: mktar(t, tdir("f/")), noOverwrite: true, wantErr: errdefs.ErrConflict},
		{name: "dir over link to dir refused", layer: mktar(t, tdir("dl/")), noOverwrite: true, wantErr: errdefs.ErrConflict},
		{name: "same kinds allowed", layer: mktar(t, tdir("d/"), tfile("f", "new")), noOverwrite: true,
			check: func(root string) bool { b, _ := os.ReadFile(filepath.Join(root, "f")); return string(b) == "new" }},
		// The same tar first makes x a directory, then a file: the check
		// sees what earlier entries wrote.
		{name: "earlier entry of the same tar", layer: mktar(t, tdir("x/"), tfile("x", "x")), noOverwrite: true, wantErr: errdefs.ErrConflict},
		{name: "file over dir allowed", layer: mktar(t, tfile("d", "x")),
			check: func(root string) bool {
				fi, err := os.Lstat(filepath.Join(root, "d"))
				return err == nil && fi.Mode().IsRegular()
			}},
		{name: "dir over file allowed", layer: mktar(t, tdir("f/")),
			check: func(root string) bool { fi, err := os.Lstat(filepath.Join(root, "f")); return err == nil && fi.IsDir() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			build(t, root, fdir("d"), ffile("d/in", "x"), ffile("f", "x"), flink("dl", "d"))
			err := extract(t, root, "/", tc.layer, tc.noOverwrite, false)
			wantErr(t, "Extract()", err, tc.wantErr)
			if tc.wantErr == errdefs.ErrConflict && err != nil && !strings.Contains(err.Error(), "cannot overwrite") {
				t.Errorf("Extract() = %v, want Docker's message", err)
			}
			if tc.check != nil && !tc.check(root) {
				t.Errorf("after Extract(): %v", describe(t, root))
			}
		})
	}
}

func TestExtractGzip(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(mktar(t, tdir("a/"), tfile("a/b", "hello")))
	zw.Close()
	if err := extract(t, root, "/", buf.Bytes(), false, false); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "a/b")); err != nil || string(b) != "hello" {
		t.Errorf("a/b = %q, %v", b, err)
	}
}

// TestRoundTrip archives a tree with Tar and extracts it elsewhere with
// Extract: everything must come back the same.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	build(t, src, fdir("app"), fdir("app/bin"),
		withMode(ffile("app/bin/tool", "#!/bin/sh\n"), 0o755|os.ModeSetgid),
		withMode(ffile("app/secret", strings.Repeat("s", 70000)), 0o600),
		fhard("app/bin/tool2", "app/bin/tool"),
		flink("app/cfg", "/etc/app.conf"),
		ffifo("app/pipe"),
		withMode(fdir("app/ro"), 0o555),
		withMode(fdir("app/tmp"), os.ModeSticky|0o777),
		ffile("app/tmp/x", "x"),
	)
	if os.Geteuid() == 0 {
		if err := os.Lchown(filepath.Join(src, "app/secret"), 1000, 2000); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Tar(t.Context(), src, "/app", &buf); err != nil {
		t.Fatal(err)
	}
	build(t, dst, fdir("into"))
	if err := Extract(t.Context(), dst, "/into", &buf, true, false); err != nil {
		t.Fatal(err)
	}
	diffMaps(t, "round trip", describe(t, filepath.Join(dst, "into")), describe(t, src))
}

func TestExtractCopyUIDGID(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	passwd := "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\n"
	group := "root:x:0:\nstaff:x:50:app\n"
	layer := mktar(t, towner(tfile("f", "x"), 42, 43), towner(tdir("d/"), 42, 43))
	tests := []struct {
		name       string
		copyUIDGID bool
		user       string
		etc        []fsEntry // replaces the default passwd and group
		want       string    // uid:gid of f and d
		wantErr    error
	}{
		{name: "owners from the tar", user: "app", want: "42:43"},
		{name: "copyUIDGID without user keeps the tar's", copyUIDGID: true, want: "42:43"},
		{name: "user name", copyUIDGID: true, user: "app", want: "1000:1001"},
		{name: "user and group names", copyUIDGID: true, user: "app:staff", want: "1000:50"},
		{name: "user name and gid", copyUIDGID: true, user: "app:7", want: "1000:7"},
		{name: "known uid", copyUIDGID: true, user: "1000", want: "1000:1001"},
		{name: "unknown uid", copyUIDGID: true, user: "1234", want: "1234:0"},
		{name: "only a group", copyUIDGID: true, user: ":staff", want: "0:50"},
		{name: "unknown user", copyUIDGID: true, user: "nobody", wantErr: errdefs.ErrInvalidArgument},
		{name: "unknown group", copyUIDGID: true, user: "app:nogroup", wantErr: errdefs.ErrInvalidArgument},
		{name: "passwd is a FIFO", copyUIDGID: true, user: "app", etc: []fsEntry{ffifo("etc/passwd")}, wantErr: errdefs.ErrInvalidArgument},
		{name: "passwd links to the host", copyUIDGID: true, user: "app", etc: []fsEntry{flink("etc/passwd", "/etc/passwd")},
			wantErr: errdefs.ErrInvalidArgument}, // resolves to itself inside root: a loop
		{name: "passwd links outside", copyUIDGID: true, user: "root", etc: []fsEntry{flink("etc/passwd", "../../../../etc/shadow")},
			wantErr: errdefs.ErrInvalidArgument}, // no /etc/shadow inside root: no such user
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			build(t, root, fdir("etc"), ffile("etc/group", group))
			if tc.etc == nil {
				build(t, root, ffile("etc/passwd", passwd))
			} else {
				build(t, root, tc.etc...)
			}
			err := extract(t, root, "/", layer, false, tc.copyUIDGID, WithUser(tc.user))
			wantErr(t, "Extract()", err, tc.wantErr)
			if err != nil || tc.wantErr != nil {
				return
			}
			for _, p := range []string{"f", "d"} {
				fi, err := os.Lstat(filepath.Join(root, p))
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if got := fmt.Sprintf("%d:%d", st.Uid, st.Gid); got != tc.want {
					t.Errorf("%s owned by %s, want %s", p, got, tc.want)
				}
			}
		})
	}
}

func TestExtractIDMap(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	root := t.TempDir()
	layer := mktar(t, towner(tfile("f", "x"), 1, 2))
	shift := func(u, g int) (int, int, error) { return u + 100000, g + 100000, nil }
	if err := extract(t, root, "/", layer, false, false, WithIDMap(shift)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(root, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 100001 || st.Gid != 100002 {
		t.Errorf("f owned by %d:%d, want 100001:100002", st.Uid, st.Gid)
	}
}
