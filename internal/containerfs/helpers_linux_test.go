package containerfs

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var testTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

// tentry is one tar entry of a test archive.
type tentry struct {
	hdr  tar.Header
	body string
}

func tfile(name, body string) tentry {
	return tentry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: testTime}, body: body}
}

func tdir(name string) tentry {
	return tentry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: testTime}}
}

func tsymlink(name, target string) tentry {
	return tentry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}}
}

func thardlink(name, target string) tentry {
	return tentry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: testTime}}
}

func towner(e tentry, uid, gid int) tentry {
	e.hdr.Uid, e.hdr.Gid = uid, gid
	return e
}

// mktar builds an uncompressed tar of entries.
func mktar(t testing.TB, entries ...tentry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write header %q: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatalf("write body %q: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("close tar: %v", err)
	}
	return buf.Bytes()
}

// rentry is an entry read back from a tar.
type rentry struct {
	hdr  *tar.Header
	body string
}

func readTar(t testing.TB, data []byte) []rentry {
	t.Helper()
	var out []rentry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read tar entry %q: %v", h.Name, err)
		}
		out = append(out, rentry{hdr: h, body: string(b)})
	}
}

func tarNames(es []rentry) []string {
	var names []string
	for _, e := range es {
		names = append(names, e.hdr.Name)
	}
	return names
}

// fsEntry describes one file to create with build.
type fsEntry struct {
	path   string
	kind   byte // 'f' file, 'd' dir, 'l' symlink, 'h' hardlink, 'p' fifo
	body   string
	target string
	mode   os.FileMode
}

func ffile(p, body string) fsEntry   { return fsEntry{path: p, kind: 'f', body: body, mode: 0o644} }
func fdir(p string) fsEntry          { return fsEntry{path: p, kind: 'd', mode: 0o755} }
func flink(p, target string) fsEntry { return fsEntry{path: p, kind: 'l', target: target} }
func fhard(p, target string) fsEntry { return fsEntry{path: p, kind: 'h', target: target} }
func ffifo(p string) fsEntry         { return fsEntry{path: p, kind: 'p', mode: 0o600} }

func withMode(e fsEntry, m os.FileMode) fsEntry { e.mode = m; return e }

// build creates entries under dir (parents first, as listed), with mtimes
// of whole seconds so that archives, which round them, compare equal.
func build(t testing.TB, dir string, entries ...fsEntry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(dir, e.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch e.kind {
		case 'f':
			err = os.WriteFile(p, []byte(e.body), 0o600)
			if err == nil {
				err = os.Chmod(p, e.mode)
			}
		case 'd':
			err = os.Mkdir(p, 0o755)
			if errors.Is(err, fs.ErrExist) {
				err = nil
			}
			if err == nil {
				err = os.Chmod(p, e.mode)
			}
		case 'l':
			err = os.Symlink(e.target, p)
		case 'h':
			err = os.Link(filepath.Join(dir, e.target), p)
		case 'p':
			err = unix.Mkfifo(p, uint32(e.mode.Perm()))
		}
		if err != nil {
			t.Fatalf("build %s: %v", e.path, err)
		}
		if e.kind != 'h' {
			ts := []unix.Timespec{unix.NsecToTimespec(testTime.UnixNano()), unix.NsecToTimespec(testTime.UnixNano())}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// describe maps every path below dir to its type, permissions, owner,
// content digest or link target, mtime in seconds (not for directories,
// whose mtimes the operations under test legitimately change) and, for
// files with several links, the first path of its inode.
func describe(t testing.TB, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		if !fi.IsDir() {
			desc += fmt.Sprintf(" t=%d", fi.ModTime().Unix())
		}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:6])
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + l
		case fi.Mode()&fs.ModeDevice != 0:
			desc += fmt.Sprintf(" dev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if !fi.IsDir() && st.Nlink > 1 {
			if first, ok := inodes[st.Ino]; ok {
				desc += " link=" + first
			} else {
				inodes[st.Ino] = rel
			}
		}
		m[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("describe %s: %v", dir, err)
	}
	return m
}

// diffMaps reports the differences between two describe maps.
func diffMaps(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], want[k])
		}
	}
}

// hostEnv is a container root and, beside it, a sentinel host directory
// that hostile symlinks in the root point at. check asserts that nothing
// outside root changed.
type hostEnv struct {
	base, root, sentinel string
	before               map[string]string
}

// sentinelBody is the content of the sentinel file; no archive may hold
// it.
const sentinelBody = "host secret, never to be read"

func newHostEnv(t testing.TB) *hostEnv {
	t.Helper()
	base := t.TempDir()
	e := &hostEnv{base: base, root: filepath.Join(base, "root"), sentinel: filepath.Join(base, "sentinel")}
	build(t, e.sentinel, ffile("file", sentinelBody), fdir("dir"), ffile("dir/inner", sentinelBody))
	build(t, e.root,
		fdir("etc"), ffile("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
		fdir("sub"),
		// Hostile links: to "/", climbing to the host's sentinel,
		// absolute to the sentinel, through /proc.
		flink("evil", "/"),
		flink("up", "../sentinel"),
		flink("deepup", "../../../../../../.."+e.sentinel),
		flink("abs", e.sentinel),
		flink("magic", "/proc/self/root"+e.sentinel),
		flink("sub/esc", "../../.."),
	)
	e.before = snapshotOutside(t, base, e.root)
	return e
}

// escapeName is a name no test may create outside root: checked at "/"
// and beside the test's temporary directories.
const escapeName = "shoal-containerfs-escape"

// checkEscape fails t if escapeName exists outside root.
func (e *hostEnv) checkEscape(t testing.TB) {
	t.Helper()
	for _, p := range []string{"/" + escapeName, filepath.Join(e.base, escapeName),
		filepath.Join(filepath.Dir(e.base), escapeName), filepath.Join(filepath.Dir(filepath.Dir(e.base)), escapeName)} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("host path %s exists (Lstat: %v)", p, err)
		}
	}
}

func (e *hostEnv) check(t testing.TB) {
	t.Helper()
	after := snapshotOutside(t, e.base, e.root)
	diffMaps(t, "outside root", after, e.before)
}

// snapshotOutside describes every path under base except root and below.
func snapshotOutside(t testing.TB, base, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:8])
		}
		m[p] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", base, err)
	}
	return m
}

// noSentinel fails t if data holds the sentinel's content.
func noSentinel(t testing.TB, data []byte) {
	t.Helper()
	if bytes.Contains(data, []byte(sentinelBody)) {
		t.Errorf("archive holds the host sentinel's content")
	}
}

func joinNames(names []string) string { return strings.Join(names, " ") }
