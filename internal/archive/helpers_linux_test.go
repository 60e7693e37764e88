package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// entry is one tar entry of a test layer.
type entry struct {
	hdr  tar.Header
	body string
}

var testTime = time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)

func file(name, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: testTime}, body: body}
}

func dir(name string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: testTime}}
}

func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}}
}

func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644, ModTime: testTime}}
}

func withMode(e entry, mode int64) entry { e.hdr.Mode = mode; return e }

func withPAX(e entry, k, v string) entry {
	if e.hdr.PAXRecords == nil {
		e.hdr.PAXRecords = map[string]string{}
	}
	e.hdr.PAXRecords[k] = v
	e.hdr.Format = tar.FormatPAX
	return e
}

// layer builds an uncompressed tar of entries.
func layer(t testing.TB, entries ...entry) []byte {
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

// hostEnv is a root to apply into and, beside it, a sentinel directory a
// hostile layer aims at. snapshot/check assert nothing outside root moved.
type hostEnv struct {
	base, root, sentinel string
	before               map[string]string
}

func newHostEnv(t testing.TB) *hostEnv {
	t.Helper()
	base := t.TempDir()
	// Let removal succeed even if a layer left unreadable directories.
	t.Cleanup(func() { makeRemovable(base) })
	e := &hostEnv{base: base, root: filepath.Join(base, "root"), sentinel: filepath.Join(base, "sentinel")}
	for _, d := range []string{e.root, e.sentinel, filepath.Join(e.sentinel, "dir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"file": "sentinel file\n", "dir/inner": "inner\n"} {
		if err := os.WriteFile(filepath.Join(e.sentinel, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("file", filepath.Join(e.sentinel, "link")); err != nil {
		t.Fatal(err)
	}
	e.before = snapshotOutside(t, base, e.root)
	return e
}

// check fails t if anything under base other than root changed.
func (e *hostEnv) check(t testing.TB) {
	t.Helper()
	after := snapshotOutside(t, e.base, e.root)
	for p, v := range e.before {
		if after[p] != v {
			t.Errorf("outside root: %s changed: before %q, after %q", p, v, after[p])
		}
	}
	for p, v := range after {
		if _, ok := e.before[p]; !ok {
			t.Errorf("outside root: %s created (%s)", p, v)
		}
	}
}

// snapshotOutside describes every path under base except root and what is
// below it: type, mode, owner-independent content digest and mtime.
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
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:8])
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + l
		}
		m[p] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", base, err)
	}
	return m
}

// makeRemovable gives the owner rwx on every directory under p so that a
// non-root cleanup can remove what a layer made unreadable. WalkDir visits
// a directory before reading it, so the chmod comes first.
func makeRemovable(p string) {
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o700)
		}
		return nil
	})
}

// tempRoot is a t.TempDir that non-root cleanup can remove even when a
// layer left read-only directories in it.
func tempRoot(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	t.Cleanup(func() { makeRemovable(d) })
	return d
}
