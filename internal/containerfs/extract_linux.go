package containerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/archive"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Extract is Docker's PUT /containers/{id}/archive?path=dir for a container
// whose root file system is root: it unpacks the tar read from r (plain,
// gzip or zstd) into the directory dir.
//
// dir is resolved inside root with every symlink followed, its last one
// too; a missing dir is errdefs.ErrNotFound, one that is not a directory
// errdefs.ErrInvalidArgument ("extraction point is not a directory"). The
// entries are then applied with archive.Apply using the resolved directory
// as its root, so no entry, and no symlink met while applying one, reaches
// outside dir. As in Docker, an entry named outside dir ("../x") or a
// hardlink to outside it fails with errdefs.ErrInvalidArgument, absolute
// names are taken relative to dir, and symlinks are created as they are.
// Whiteout entries (".wh.*"), which Docker would write as plain files, are
// refused with errdefs.ErrInvalidArgument: written into a container's
// upper directory they would delete files at the next commit.
//
// noOverwriteDirNonDir is Docker's query parameter of that name: an entry
// that would replace a directory with a non-directory, or the reverse,
// fails with errdefs.ErrConflict. copyUIDGID is Docker's copyUIDGID, see
// WithUser. Owners are set only when running as root (or with WithIDMap).
//
// On error dir is left partly extracted, as Docker leaves it.
func Extract(ctx context.Context, root, dir string, r io.Reader, noOverwriteDirNonDir, copyUIDGID bool, opts ...ExtractOpt) error {
	var o extractOptions
	for _, opt := range opts {
		opt(&o)
	}
	if dir == "" {
		return fmt.Errorf("extract: no path specified: %w", errdefs.ErrInvalidArgument)
	}
	// Decompressed here, in the daemon, as Docker does: nothing of the
	// container's (say, its own unpigz) is ever run.
	rc, _, err := archive.Decompress(r)
	if err != nil {
		return fmt.Errorf("extract to %s: %w: %w", dir, err, errdefs.ErrInvalidArgument)
	}
	defer rc.Close()

	rootH, err := openDir(root)
	if err != nil {
		return fmt.Errorf("extract to %s: %w", dir, err)
	}
	defer rootH.Close()
	cp := parseCopyPath(dir)
	d, err := openInRoot(rootH, cp.rel)
	if err != nil {
		return fmt.Errorf("extract to %s: %w", dir, classify(err))
	}
	defer d.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(d.Fd()), &st); err != nil {
		return fmt.Errorf("extract to %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("extract to %s: extraction point is not a directory: %w", dir, errdefs.ErrInvalidArgument)
	}

	var applyOpts []archive.ApplyOpt
	if idMap, err := ownerMap(rootH, o, copyUIDGID); err != nil {
		return fmt.Errorf("extract to %s: %w", dir, err)
	} else if idMap != nil {
		applyOpts = append(applyOpts, archive.WithIDMap(idMap))
	}

	f := &extractFilter{
		src:         tar.NewReader(rc),
		dir:         d,
		dirName:     "/" + cp.rel,
		noOverwrite: noOverwriteDirNonDir,
	}
	f.tw = tar.NewWriter(&f.buf)
	// The resolved directory, named through its descriptor: a path that
	// the container could swap for a symlink is never used.
	applyRoot := "/proc/self/fd/" + strconv.Itoa(int(d.Fd()))
	_, err = archive.Apply(ctx, applyRoot, f, applyOpts...)
	if f.err != nil && !errors.Is(f.err, io.EOF) {
		return fmt.Errorf("extract to %s: %w", dir, f.err)
	}
	if err != nil {
		return fmt.Errorf("extract to %s: %w", dir, err)
	}
	return nil
}

// ownerMap returns the archive.IDMapFunc Extract applies, nil for none.
func ownerMap(root *os.File, o extractOptions, copyUIDGID bool) (archive.IDMapFunc, error) {
	fixed := copyUIDGID && o.user != ""
	if !fixed && o.idMap == nil {
		return nil, nil
	}
	var uid, gid int
	if fixed {
		var err error
		if uid, gid, err = lookupUser(root, o.user); err != nil {
			return nil, err
		}
	}
	return func(u, g int) (int, int, error) {
		if fixed {
			u, g = uid, gid
		}
		if o.idMap != nil {
			return o.idMap(u, g)
		}
		return u, g, nil
	}, nil
}

// extractFilter sits between the caller's tar and archive.Apply. It
// checks and rewrites each entry and re-encodes it as a tar, one entry at a
// time, when Apply asks for it.
//
// Apply reads the stream only through tar.Reader, which reads an entry's
// data exactly and reads nothing further until Next. So when Apply asks for
// bytes after the previous entry's data has all been handed over, it has
// finished applying that entry: the file system then shows every earlier
// entry, which the noOverwriteDirNonDir check needs, as Docker makes it
// against what earlier entries wrote.
type extractFilter struct {
	src         *tar.Reader
	tw          *tar.Writer // writes into buf
	buf         bytes.Buffer
	remaining   int64 // data of the current entry not yet copied to buf
	dir         *os.File
	dirName     string // dir inside the container, for messages
	noOverwrite bool
	err         error // sticky; io.EOF once the trailer is written
}

func (f *extractFilter) Read(p []byte) (int, error) {
	for f.buf.Len() == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.err = f.fill()
	}
	return f.buf.Read(p)
}

// fill puts the next piece of the re-encoded stream into buf.
func (f *extractFilter) fill() error {
	if f.remaining > 0 {
		n, err := io.CopyN(f.tw, f.src, min(f.remaining, 64<<10))
		f.remaining -= n
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", tarErr(err))
		}
		return nil
	}
	for {
		hdr, err := f.src.Next()
		if errors.Is(err, io.EOF) {
			if err := f.tw.Close(); err != nil {
				return err
			}
			return io.EOF
		}
		// Names are checked below; tar's own insecure-path check adds
		// nothing and its header is valid.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return fmt.Errorf("read archive: %w", tarErr(err))
		}
		out, err := f.rewrite(hdr)
		if err != nil {
			return err
		}
		if out == nil {
			continue // skipped; tar.Reader discards its data
		}
		if f.noOverwrite {
			if err := f.checkOverwrite(out); err != nil {
				return err
			}
		}
		if err := f.tw.WriteHeader(out); err != nil {
			return fmt.Errorf("archive entry %q: %w: %w", truncate(hdr.Name), err, errdefs.ErrInvalidArgument)
		}
		f.remaining = out.Size
		return nil
	}
}

// rewrite returns the header Apply gets for hdr, nil to skip the entry.
func (f *extractFilter) rewrite(hdr *tar.Header) (*tar.Header, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil, nil
	}
	if strings.IndexByte(hdr.Name, 0) >= 0 || strings.IndexByte(hdr.Linkname, 0) >= 0 {
		return nil, fmt.Errorf("archive entry %q: NUL byte in name: %w", truncate(hdr.Name), errdefs.ErrInvalidArgument)
	}
	// As Docker: a leading "/" is dropped, the name must stay inside dir.
	name := path.Clean(strings.TrimLeft(hdr.Name, "/"))
	if name == "." {
		return nil, nil // dir itself: its metadata is the container's
	}
	if !filepath.IsLocal(name) {
		return nil, fmt.Errorf("invalid entry name %q: %w", truncate(hdr.Name), errdefs.ErrInvalidArgument)
	}
	if strings.HasPrefix(path.Base(name), whiteoutPrefix) {
		return nil, fmt.Errorf("archive entry %q: whiteout files are not supported: %w", truncate(hdr.Name), errdefs.ErrInvalidArgument)
	}
	out := &tar.Header{
		Typeflag:   hdr.Typeflag,
		Name:       name,
		Mode:       hdr.Mode & 0o7777,
		Uid:        hdr.Uid,
		Gid:        hdr.Gid,
		ModTime:    hdr.ModTime,
		AccessTime: hdr.AccessTime,
		Format:     tar.FormatPAX,
	}
	switch hdr.Typeflag {
	case tar.TypeReg, '\x00', tar.TypeGNUSparse:
		// tar.Reader expands sparse files; Size is the full size.
		out.Typeflag = tar.TypeReg
		out.Size = hdr.Size
	case tar.TypeDir, tar.TypeFifo:
	case tar.TypeSymlink:
		out.Linkname = hdr.Linkname
	case tar.TypeChar, tar.TypeBlock:
		out.Devmajor, out.Devminor = hdr.Devmajor, hdr.Devminor
	case tar.TypeLink:
		// As Docker: an absolute target is relative to dir, one that
		// climbs out of it is refused.
		target := path.Clean(hdr.Linkname)
		if strings.HasPrefix(target, "/") {
			target = path.Clean(strings.TrimLeft(hdr.Linkname, "/"))
		}
		if target == "." || !filepath.IsLocal(target) {
			return nil, fmt.Errorf("invalid hardlink target %q: %w", truncate(hdr.Linkname), errdefs.ErrInvalidArgument)
		}
		out.Linkname = target
	default:
		return nil, fmt.Errorf("archive entry %q: unhandled tar header type %q: %w", truncate(hdr.Name), hdr.Typeflag, errdefs.ErrInvalidArgument)
	}
	for k, v := range hdr.PAXRecords {
		if strings.HasPrefix(k, paxXattrPrefix) {
			if out.PAXRecords == nil {
				out.PAXRecords = make(map[string]string)
			}
			out.PAXRecords[k] = v
		}
	}
	return out, nil
}

// checkOverwrite refuses an entry that would replace a directory with a
// non-directory or the reverse. The path is looked up as Apply will
// resolve it: inside dir, without following its last component.
func (f *extractFilter) checkOverwrite(hdr *tar.Header) error {
	parent, base := splitRel(hdr.Name)
	h, err := openInRoot(f.dir, parent)
	if err != nil {
		return nil // nothing there yet; Apply reports what is wrong
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstatat(int(h.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case isDir && hdr.Typeflag != tar.TypeDir:
		return fmt.Errorf("cannot overwrite directory %q with non-directory %q: %w",
			path.Join(f.dirName, hdr.Name), f.dirName, errdefs.ErrConflict)
	case !isDir && hdr.Typeflag == tar.TypeDir:
		return fmt.Errorf("cannot overwrite non-directory %q with directory %q: %w",
			path.Join(f.dirName, hdr.Name), f.dirName, errdefs.ErrConflict)
	}
	return nil
}

// tarErr marks a malformed or truncated stream as an invalid argument.
func tarErr(err error) error {
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrFieldTooLong) {
		return fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	}
	return err
}

// truncate shortens a hostile name for an error message.
func truncate(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}
