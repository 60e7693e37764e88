package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/archive"
)

// entry is one file of the build context.
type entry struct {
	typ     byte  // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode    int64 // permission bits with setuid, setgid and sticky
	uid     int
	gid     int
	link    string // a symlink's target
	size    int64
	modTime time.Time
	// sum is what a cache key takes of the entry: its type, mode, owner,
	// link target and the sha256 of its content; not its times.
	sum [32]byte
}

func (e *entry) isDir() bool { return e.typ == tar.TypeDir }

// seal computes e.sum from its metadata and content digest.
func (e *entry) seal(content []byte) {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte{e.typ})
	binary.BigEndian.PutUint64(b[:], uint64(e.mode))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(e.uid)<<32|uint64(uint32(e.gid)))
	h.Write(b[:])
	h.Write([]byte(e.link))
	h.Write([]byte{0})
	h.Write(content)
	copy(e.sum[:], h.Sum(nil))
}

// buildContext is an extracted build context and its index.
type buildContext struct {
	dir string
	// all is every entry extracted, by clean relative path ("a/b").
	all map[string]*entry
	// visible is all less what .dockerignore excludes: what COPY sees.
	visible map[string]*entry
	// paths are the visible paths, sorted.
	paths []string
}

// maxContextEntries bounds the number of entries of a context.
const maxContextEntries = 1 << 20

// extractContext reads a build context from r into dir (an empty
// directory only the caller writes to): a tar (plain, gzip, bzip2 or
// zstd), or, when r is not a tar, a Dockerfile on its own. Entries are
// hashed as they are written. Nothing is written outside dir: names
// leaving it are refused, and so are entries below a symlink. The caller
// then calls applyIgnore.
func extractContext(ctx context.Context, r io.Reader, dir string) (*buildContext, error) {
	c := &buildContext{dir: dir, all: map[string]*entry{}}
	c.all[""] = &entry{typ: tar.TypeDir, mode: 0o755}
	rc, err := decompress(r)
	if err != nil {
		return nil, invalidf("read build context: %v", err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, invalidf("read build context: %v", err)
	}
	if len(head) == 0 {
		return c, nil
	}
	if !isTarHeader(head) {
		// A Dockerfile sent on its own, as `docker build - < Dockerfile`
		// would if the CLI did not wrap it.
		data, err := io.ReadAll(io.LimitReader(br, 16<<20))
		if err != nil {
			return nil, invalidf("read build context: %v", err)
		}
		if err := c.writeFile(DefaultDockerfile, &tar.Header{Mode: 0o644}, bytes.NewReader(data)); err != nil {
			return nil, err
		}
		return c, nil
	}
	tr := tar.NewReader(br)
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalidf("read build context: %v", err)
		}
		if n++; n > maxContextEntries {
			return nil, invalidf("read build context: more than %d entries", maxContextEntries)
		}
		if err := c.add(hdr, tr); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// decompress undoes gzip, bzip2 or zstd compression, sniffed from the
// first bytes.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(3)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if bytes.Equal(head, []byte("BZh")) {
		return io.NopCloser(bzip2.NewReader(br)), nil
	}
	rc, _, err := archive.Decompress(br)
	return rc, err
}

// isTarHeader says whether b starts with a tar header block (its checksum
// checks out).
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	field := strings.TrimRight(strings.TrimSpace(string(bytes.TrimRight(b[148:156], "\x00"))), "\x00 ")
	var want int64
	if _, err := fmt.Sscanf(field, "%o", &want); err != nil {
		return false
	}
	var sum int64
	for i := 0; i < 512; i++ {
		if i >= 148 && i < 156 {
			sum += ' '
			continue
		}
		sum += int64(b[i])
	}
	return sum == want
}

// cleanName turns a tar name into a clean relative path; "" is the root,
// ok is false for a name leaving the context.
func cleanName(name string) (string, bool) {
	name = strings.TrimPrefix(filepath.ToSlash(name), "/")
	if name == "" {
		return "", true
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", false
		}
	}
	p := path.Clean(name)
	if p == "." {
		return "", true
	}
	return p, true
}

func (c *buildContext) add(hdr *tar.Header, r io.Reader) error {
	name, ok := cleanName(hdr.Name)
	if !ok {
		return invalidf("invalid build context: %q is outside the context", hdr.Name)
	}
	if strings.ContainsRune(name, 0) {
		return invalidf("invalid build context: %q: bad name", hdr.Name)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if name == "" {
			return nil
		}
		if err := c.parents(name); err != nil {
			return err
		}
		full := filepath.Join(c.dir, name)
		if old := c.all[name]; old != nil && !old.isDir() {
			if err := os.Remove(full); err != nil {
				return fmt.Errorf("build context: %w", err)
			}
		}
		if old := c.all[name]; old == nil || !old.isDir() {
			if err := os.Mkdir(full, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("build context: %w", err)
			}
		}
		e := &entry{typ: tar.TypeDir, mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid, modTime: hdr.ModTime}
		e.seal(nil)
		c.all[name] = e
	case tar.TypeReg, tar.TypeRegA:
		if name == "" {
			return invalidf("invalid build context: %q is not a file name", hdr.Name)
		}
		return c.writeFile(name, hdr, r)
	case tar.TypeSymlink:
		if name == "" {
			return invalidf("invalid build context: %q is not a file name", hdr.Name)
		}
		if err := c.replace(name); err != nil {
			return err
		}
		if err := os.Symlink(hdr.Linkname, filepath.Join(c.dir, name)); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		e := &entry{typ: tar.TypeSymlink, mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid, link: hdr.Linkname, modTime: hdr.ModTime}
		e.seal(nil)
		c.all[name] = e
	case tar.TypeLink:
		target, ok := cleanName(hdr.Linkname)
		t := c.all[target]
		if !ok || t == nil || t.typ != tar.TypeReg {
			return invalidf("invalid build context: hard link %q to %q: no such file in the context", hdr.Name, hdr.Linkname)
		}
		if name == "" || name == target {
			return invalidf("invalid build context: bad hard link %q", hdr.Name)
		}
		if err := c.replace(name); err != nil {
			return err
		}
		if err := os.Link(filepath.Join(c.dir, target), filepath.Join(c.dir, name)); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		cp := *t
		c.all[name] = &cp
	default:
		// Devices, FIFOs and PAX global headers are not build input.
	}
	return nil
}

// parents makes the missing parent directories of name, refusing to go
// through anything that is not a directory of the context.
func (c *buildContext) parents(name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	if e := c.all[dir]; e != nil {
		if !e.isDir() {
			return invalidf("invalid build context: %q is below %q, which is not a directory", name, dir)
		}
		return nil
	}
	if err := c.parents(dir); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(c.dir, dir), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("build context: %w", err)
	}
	e := &entry{typ: tar.TypeDir, mode: 0o755}
	e.seal(nil)
	c.all[dir] = e
	return nil
}

// replace makes room for a new non-directory entry at name.
func (c *buildContext) replace(name string) error {
	if err := c.parents(name); err != nil {
		return err
	}
	old := c.all[name]
	if old == nil {
		return nil
	}
	full := filepath.Join(c.dir, name)
	if old.isDir() {
		for p := range c.all {
			if strings.HasPrefix(p, name+"/") {
				delete(c.all, p)
			}
		}
		if err := os.RemoveAll(full); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
	} else if err := os.Remove(full); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	delete(c.all, name)
	return nil
}

func (c *buildContext) writeFile(name string, hdr *tar.Header, r io.Reader) error {
	if err := c.replace(name); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(c.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return invalidf("read build context: %s: %v", name, err)
	}
	e := &entry{typ: tar.TypeReg, mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid, size: n, modTime: hdr.ModTime}
	e.seal(h.Sum(nil))
	c.all[name] = e
	return nil
}

// readFile reads a regular file of the context (the Dockerfile,
// .dockerignore), whether or not .dockerignore excludes it.
func (c *buildContext) readFile(name string) ([]byte, bool, error) {
	p, ok := cleanName(name)
	if !ok || p == "" {
		return nil, false, nil
	}
	e := c.all[p]
	if e == nil || e.typ != tar.TypeReg {
		return nil, false, nil
	}
	f, err := os.OpenFile(filepath.Join(c.dir, p), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	return data, true, nil
}

// applyIgnore reads .dockerignore and computes what COPY sees.
func (c *buildContext) applyIgnore() error {
	data, ok, err := c.readFile(".dockerignore")
	if err != nil {
		return err
	}
	var patterns []string
	if ok {
		if patterns, err = ignorefile.ReadAll(bytes.NewReader(data)); err != nil {
			return invalidf("error reading .dockerignore: %v", err)
		}
	}
	return c.finish(patterns)
}

// finish computes visible from the ignore patterns.
func (c *buildContext) finish(patterns []string) error {
	c.visible = make(map[string]*entry, len(c.all))
	var pm *patternmatcher.PatternMatcher
	if len(patterns) > 0 {
		var err error
		if pm, err = patternmatcher.New(patterns); err != nil {
			return invalidf("error reading .dockerignore: %v", err)
		}
	}
	for p, e := range c.all {
		if pm != nil && p != "" {
			if excluded, err := pm.MatchesOrParentMatches(p); err != nil {
				return invalidf("error matching .dockerignore: %v", err)
			} else if excluded {
				continue
			}
		}
		c.visible[p] = e
	}
	c.paths = make([]string, 0, len(c.visible))
	for p := range c.visible {
		if p != "" {
			c.paths = append(c.paths, p)
		}
	}
	sort.Strings(c.paths)
	return nil
}

// errNotInContext is a source missing from the context.
type errNotInContext struct{ path string }

func (e errNotInContext) Error() string {
	return fmt.Sprintf("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", e.path)
}

// resolve follows the symlinks of the context path p within the context,
// as Docker's FollowSymlinkInScope does, and returns the path reached and
// its entry.
func (c *buildContext) resolve(p string) (string, *entry, error) {
	orig := p
	links := 0
	var resolved string
	rest := strings.Split(p, "/")
	for len(rest) > 0 {
		part := rest[0]
		rest = rest[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			if resolved == "." {
				resolved = ""
			}
			continue
		}
		next := path.Join(resolved, part)
		e := c.visible[next]
		if e == nil {
			return "", nil, errNotInContext{orig}
		}
		if e.typ != tar.TypeSymlink {
			resolved = next
			continue
		}
		if links++; links > 40 {
			return "", nil, invalidf("too many links following %s", orig)
		}
		target := e.link
		if path.IsAbs(target) {
			resolved = ""
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	e := c.visible[resolved]
	if e == nil {
		return "", nil, errNotInContext{orig}
	}
	return resolved, e, nil
}

// under lists the visible paths strictly below dir ("" for the root), in
// order.
func (c *buildContext) under(dir string) []string {
	if dir == "" {
		return c.paths
	}
	prefix := dir + "/"
	i := sort.SearchStrings(c.paths, prefix)
	j := i
	for j < len(c.paths) && strings.HasPrefix(c.paths[j], prefix) {
		j++
	}
	return c.paths[i:j]
}

// treeSum is a digest of the entry at p and everything visible below it:
// names relative to p and their entry sums.
func (c *buildContext) treeSum(p string, e *entry) [32]byte {
	if !e.isDir() {
		return e.sum
	}
	h := sha256.New()
	h.Write(e.sum[:])
	for _, q := range c.under(p) {
		rel := q
		if p != "" {
			rel = q[len(p)+1:]
		}
		h.Write([]byte(rel))
		h.Write([]byte{0})
		s := c.visible[q].sum
		h.Write(s[:])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// match lists the visible paths pattern matches (filepath.Match on the
// whole relative path), in order.
func (c *buildContext) match(pattern string) ([]string, error) {
	var out []string
	for _, p := range c.paths {
		ok, err := path.Match(pattern, p)
		if err != nil {
			return nil, invalidf("bad pattern %q: %v", pattern, err)
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// open opens a regular file of the context for reading.
func (c *buildContext) open(p string) (*os.File, error) {
	return os.OpenFile(filepath.Join(c.dir, p), os.O_RDONLY|unix.O_NOFOLLOW, 0)
}

// containsWildcards is Docker's: *, ? or [ not escaped with a backslash.
func containsWildcards(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}
