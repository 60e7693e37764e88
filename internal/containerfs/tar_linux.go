package containerfs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// maxWalkDepth bounds how deep a walk descends; each level holds a
// directory descriptor open.
const maxWalkDepth = 1024

// Tar writes to w the tar stream of Docker's GET
// /containers/{id}/archive?path=p for a container whose root file system is
// root (the merged overlay directory).
//
// p is resolved inside root (see the package documentation). Its last
// symlink is followed only when p ends with "/" or "/."; otherwise a
// symlink is archived as a symlink. A file is one entry named by its base
// name. A directory is an entry named by its base name ("etc/") followed by
// everything below it ("etc/passwd"); when p ends with "/." the names start
// with "./" instead, and the root ("/") gives "/", "/bin/", "/bin/sh", as
// Docker's names do. A missing p is errdefs.ErrNotFound.
//
// On error the stream written so far is left without its end-of-archive
// trailer, so a reader cannot take it for a complete archive.
func Tar(ctx context.Context, root, p string, w io.Writer) error {
	if p == "" {
		return fmt.Errorf("archive path: no path specified: %w", errdefs.ErrInvalidArgument)
	}
	r, err := openDir(root)
	if err != nil {
		return fmt.Errorf("archive %s: %w", p, err)
	}
	defer r.Close()
	cp := parseCopyPath(p)
	l, err := locate(r, cp)
	if err != nil {
		return fmt.Errorf("archive %s: %w", p, classify(err))
	}
	defer l.Close()

	tw := newTarWriter(w, false)
	switch {
	case l.base == "":
		// The path asserts a directory: l.parent is the directory itself.
		d, err := reopenDir(l.parent)
		if err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
		defer d.Close()
		if err := tw.tree(ctx, d, path.Base(cp.abs), true); err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
	case l.st.Mode&unix.S_IFMT == unix.S_IFDIR:
		d, err := openDirAt(int(l.parent.Fd()), l.base)
		if err != nil {
			return fmt.Errorf("archive %s: %w", p, classify(err))
		}
		defer d.Close()
		if err := tw.tree(ctx, d, l.base, true); err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
	default:
		if err := tw.entry(ctx, int(l.parent.Fd()), l.base, &l.st, l.base, 0); err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
	}
	if err := tw.tw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", p, err)
	}
	return nil
}

// Export writes the whole directory root as a tar stream, as docker export
// does: names are relative ("bin/", "bin/sh") and root itself has no entry.
// root is trusted (the merged overlay directory the caller mounted); what is
// below it is not, and no symlink is followed. A directory on another file
// system than root (a mount point) is archived but not descended.
func Export(ctx context.Context, root string, w io.Writer) error {
	if err := walkDir(ctx, root, w, false); err != nil {
		return fmt.Errorf("export %s: %w", root, err)
	}
	return nil
}

// WriteLayer writes the overlayfs upper directory upper as an uncompressed
// OCI layer tar, as docker commit needs: like Export, except that overlay
// whiteouts (0:0 character devices, or files with the overlay "whiteout"
// xattr) become ".wh.NAME" entries and an opaque directory is followed by a
// ".wh..wh..opq" entry. overlayfs' own xattrs are never archived.
//
// An upper directory written with the redirect_dir or metacopy overlay
// features cannot be expressed as a layer: WriteLayer fails with
// errdefs.ErrNotImplemented when it meets one of their xattrs.
func WriteLayer(ctx context.Context, upper string, w io.Writer) error {
	if err := walkDir(ctx, upper, w, true); err != nil {
		return fmt.Errorf("write layer from %s: %w", upper, err)
	}
	return nil
}

func walkDir(ctx context.Context, dir string, w io.Writer, layer bool) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	d := os.NewFile(uintptr(fd), dir)
	defer d.Close()
	tw := newTarWriter(w, layer)
	if err := tw.tree(ctx, d, "", false); err != nil {
		return err
	}
	return tw.tw.Close()
}

// tarWriter is the one tar-writing core behind Tar, Export and WriteLayer:
// it walks directories through descriptors, never following a symlink, and
// writes a header per entry.
type tarWriter struct {
	tw *tar.Writer
	// layer converts overlay whiteouts and opaque directories to OCI
	// whiteout entries.
	layer bool
	// links maps the inodes of non-directories with more than one link to
	// the name they were first written as.
	links map[fileID]string
	// dev is the device of the directory the walk started at; directories
	// on another device are written but not descended.
	dev uint64
}

type fileID struct{ dev, ino uint64 }

func newTarWriter(w io.Writer, layer bool) *tarWriter {
	return &tarWriter{tw: tar.NewWriter(w), layer: layer, links: make(map[fileID]string)}
}

// tree writes the directory d as name (when self) and everything below it
// as name/child ("child" when name is "").
func (w *tarWriter) tree(ctx context.Context, d *os.File, name string, self bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(d.Fd()), &st); err != nil {
		return &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	w.dev = st.Dev
	if self {
		return w.dir(ctx, d, &st, name, 0)
	}
	return w.children(ctx, d, name, 0)
}

// childName joins a directory's archive name and a child's base name.
func childName(dir, base string) string {
	if dir == "" {
		return base
	}
	if dir == "/" {
		return "/" + base
	}
	return dir + "/" + base
}

// children writes every entry of d, in name order.
func (w *tarWriter) children(ctx context.Context, d *os.File, name string, depth int) error {
	if depth >= maxWalkDepth {
		return fmt.Errorf("%s: directories nested more than %d deep: %w", name, maxWalkDepth, errdefs.ErrInvalidArgument)
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", name, err)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstatat(int(d.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed while we walk
			}
			return &fs.PathError{Op: "lstat", Path: childName(name, n), Err: err}
		}
		if err := w.entry(ctx, int(d.Fd()), n, &st, childName(name, n), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// entry writes base, an entry of the directory dirfd lstat'ed as st, under
// the archive name name, and for a directory everything below it.
func (w *tarWriter) entry(ctx context.Context, dirfd int, base string, st *unix.Stat_t, name string, depth int) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		d, err := openDirAt(dirfd, base)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return nil // removed or replaced while we walk
		}
		if err != nil {
			return err
		}
		defer d.Close()
		var dst unix.Stat_t
		if err := unix.Fstat(int(d.Fd()), &dst); err != nil {
			return &fs.PathError{Op: "fstat", Path: name, Err: err}
		}
		return w.dir(ctx, d, &dst, name, depth)
	case unix.S_IFREG:
		return w.regular(dirfd, base, name)
	case unix.S_IFSOCK:
		return nil // tar cannot hold sockets; Docker skips them too
	}

	n := node{fd: -1, dirfd: dirfd, base: base}
	hdr := header(name, st)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := readlinkat(dirfd, base)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
			return nil // removed or replaced while we walk
		}
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		// Only the header: a device or FIFO is never opened.
		if w.layer && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			return w.whiteout(name, st)
		}
	default:
		return nil
	}
	xs, err := listXattrs(n)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	hdr.PAXRecords = paxXattrs(xs)
	w.hardlink(hdr, st)
	return w.writeHeader(hdr)
}

// dir writes the directory d (stat st) and what is below it.
func (w *tarWriter) dir(ctx context.Context, d *os.File, st *unix.Stat_t, name string, depth int) error {
	xs, err := listXattrs(dirNode(d))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	opaque := false
	// overlayfs ignores an opaque xattr on the upper directory itself.
	if w.layer && name != "" {
		if _, ok := overlayXattr(xs, "redirect"); ok {
			return fmt.Errorf("%s: directory renamed with overlay redirect_dir: %w", name, errdefs.ErrNotImplemented)
		}
		v, _ := overlayXattr(xs, "opaque")
		opaque = string(v) == "y"
	}
	// Docker names the root of GET /archive?path=/ "/" and everything
	// else "name/".
	hdr := header(name+"/", st)
	if name == "/" {
		hdr.Name = "/"
	}
	hdr.Typeflag = tar.TypeDir
	hdr.PAXRecords = paxXattrs(xs)
	if name != "" {
		if err := w.writeHeader(hdr); err != nil {
			return err
		}
	}
	if opaque {
		wh := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     childName(name, whiteoutOpaqueDir),
			Mode:     hdr.Mode & 0o777,
			Uid:      hdr.Uid,
			Gid:      hdr.Gid,
			ModTime:  hdr.ModTime,
			Format:   tar.FormatPAX,
		}
		if err := w.writeHeader(wh); err != nil {
			return err
		}
	}
	if st.Dev != w.dev {
		return nil // a mount point: not descended
	}
	return w.children(ctx, d, name, depth)
}

// regular writes a regular file. It is opened O_PATH|O_NOFOLLOW, checked
// to still be a regular file, and only then reopened for reading, so a
// file swapped for a device node or FIFO while we walk is never opened.
func (w *tarWriter) regular(dirfd int, base, name string) error {
	fd, err := unix.Openat(dirfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil // removed while we walk
	}
	if err != nil {
		return &fs.PathError{Op: "open", Path: name, Err: err}
	}
	h := os.NewFile(uintptr(fd), name)
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil // replaced while we walk
	}
	f, err := reopen(h, unix.O_RDONLY)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	xs, err := listXattrs(dirNode(f))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if w.layer {
		if _, ok := overlayXattr(xs, "metacopy"); ok {
			return fmt.Errorf("%s: metadata-only overlay copy-up: %w", name, errdefs.ErrNotImplemented)
		}
		if _, ok := overlayXattr(xs, "whiteout"); ok && st.Size == 0 {
			return w.whiteout(name, &st)
		}
	}
	hdr := header(name, &st)
	hdr.Typeflag = tar.TypeReg
	hdr.Size = st.Size
	hdr.PAXRecords = paxXattrs(xs)
	if w.hardlink(hdr, &st) {
		return w.writeHeader(hdr)
	}
	if err := w.writeHeader(hdr); err != nil {
		return err
	}
	// Exactly Size bytes: a file that shrank is padded with zeros, one
	// that grew is cut, so the stream stays a valid tar.
	n, err := io.CopyN(w.tw, f, st.Size)
	if errors.Is(err, io.EOF) {
		_, err = io.CopyN(w.tw, zeros{}, st.Size-n)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// whiteout writes the OCI whiteout entry of an overlay whiteout at name.
func (w *tarWriter) whiteout(name string, st *unix.Stat_t) error {
	dir, base := path.Split(name)
	return w.writeHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     dir + whiteoutPrefix + base,
		Mode:     0o600,
		Uid:      int(st.Uid),
		Gid:      int(st.Gid),
		ModTime:  mtime(st),
		Format:   tar.FormatPAX,
	})
}

// hardlink turns hdr into a hardlink to the first name its inode was
// written as, if it was; it reports whether it did.
func (w *tarWriter) hardlink(hdr *tar.Header, st *unix.Stat_t) bool {
	if st.Nlink <= 1 {
		return false
	}
	id := fileID{dev: st.Dev, ino: st.Ino}
	if first, ok := w.links[id]; ok {
		hdr.Typeflag = tar.TypeLink
		hdr.Linkname = first
		hdr.Size = 0
		return true
	}
	w.links[id] = hdr.Name
	return false
}

func (w *tarWriter) writeHeader(hdr *tar.Header) error {
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write header %q: %w", hdr.Name, err)
	}
	return nil
}

// header returns the fields of a tar header that come from st, as Docker
// writes them: mtime rounded down to the second, no atime, ctime or user
// and group names, PAX format.
//
// Mode carries the file type bits too (0100644 for a regular file), as
// Docker's archives do (moby's fillGo18FileTypeBits).
func header(name string, st *unix.Stat_t) *tar.Header {
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & (0o7777 | unix.S_IFMT)),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime(st),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		hdr.Typeflag = tar.TypeChar
	case unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	}
	if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	}
	return hdr
}

func mtime(st *unix.Stat_t) time.Time {
	return time.Unix(st.Mtim.Sec, 0)
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
