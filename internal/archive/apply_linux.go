package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

const (
	// maxNameLen bounds entry names and link targets (PATH_MAX).
	maxNameLen = 4096
	// maxDepth bounds the number of components of an entry name.
	maxDepth = 512

	whiteoutPrefix     = ".wh."
	whiteoutMetaPrefix = ".wh..wh."
	whiteoutOpaqueDir  = ".wh..wh..opq"

	overlayOpaqueXattr = "trusted.overlay.opaque"
	paxXattrPrefix     = "SCHILY.xattr."
)

// Apply applies the uncompressed tar layer read from r onto root, an
// existing directory, and returns the number of bytes of regular-file
// content it wrote. See the package documentation for how entries are
// resolved and what is refused.
//
// On error root is left partly applied; callers discard it (a snapshot that
// failed to unpack is removed, never committed). Nothing is ever created,
// changed or removed outside root.
func Apply(ctx context.Context, root string, r io.Reader, opts ...ApplyOpt) (int64, error) {
	var o applyOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.whiteouts != RemoveWhiteouts && o.whiteouts != OverlayWhiteouts {
		return 0, fmt.Errorf("apply layer: whiteout mode %d: %w", o.whiteouts, errdefs.ErrInvalidArgument)
	}
	privileged := os.Geteuid() == 0
	chown := privileged
	if o.chown != nil {
		chown = *o.chown
	}
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open layer root %s: %w", root, classify(err))
	}
	defer unix.Close(rootfd)

	a := &applier{
		opts:       o,
		privileged: privileged,
		chown:      chown,
		rootfd:     rootfd,
		unpacked:   make(map[string]struct{}),
		dirs:       make(map[string]dirMeta),
	}
	tr := tar.NewReader(ContextReader(ctx, r))
	for {
		if err := ctx.Err(); err != nil {
			return a.size, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		// Names are cleaned below, so tar's own insecure-path check adds
		// nothing; the header that comes with it is valid.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return a.size, fmt.Errorf("read layer: %w", classifyTar(ctx, err))
		}
		if err := a.entry(tr, hdr); err != nil {
			return a.size, fmt.Errorf("apply layer entry %q: %w", truncate(hdr.Name), classifyTar(ctx, err))
		}
	}
	if err := a.finish(); err != nil {
		return a.size, fmt.Errorf("apply layer: %w", err)
	}
	return a.size, nil
}

// applier is the state of one Apply call.
type applier struct {
	opts       applyOptions
	privileged bool
	chown      bool
	rootfd     int
	size       int64
	// unpacked holds every cleaned path this layer wrote, and their
	// ancestors, for opaque directories in RemoveWhiteouts mode.
	unpacked map[string]struct{}
	// dirs holds the mode and times of directory entries, set by finish
	// once nothing more is written inside them.
	dirs map[string]dirMeta
}

type dirMeta struct {
	mode         uint32
	atime, mtime time.Time
}

// cleanName interprets name inside root: absolute names and ".." cannot
// climb above it. It returns "" for root itself, otherwise a relative path
// with no "." or ".." components.
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// splitRel splits a cleaned relative path into its parent ("." for root)
// and last component.
func splitRel(rel string) (dir, base string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ".", rel
	}
	return rel[:i], rel[i+1:]
}

func (a *applier) markUnpacked(rel string) {
	for rel != "." && rel != "" {
		if _, ok := a.unpacked[rel]; ok {
			return
		}
		a.unpacked[rel] = struct{}{}
		rel, _ = splitRel(rel)
	}
}

func (a *applier) entry(tr *tar.Reader, hdr *tar.Header) error {
	if len(hdr.Name) > maxNameLen {
		return fmt.Errorf("name of %d bytes longer than %d: %w", len(hdr.Name), maxNameLen, errdefs.ErrInvalidArgument)
	}
	if len(hdr.Linkname) > maxNameLen {
		return fmt.Errorf("link target of %d bytes longer than %d: %w", len(hdr.Linkname), maxNameLen, errdefs.ErrInvalidArgument)
	}
	if strings.IndexByte(hdr.Name, 0) >= 0 || strings.IndexByte(hdr.Linkname, 0) >= 0 {
		return fmt.Errorf("NUL byte in name: %w", errdefs.ErrInvalidArgument)
	}
	rel := cleanName(hdr.Name)
	if rel == "" {
		// The root directory itself: its metadata belongs to the
		// snapshot, not to the layer.
		return nil
	}
	if n := strings.Count(rel, "/") + 1; n > maxDepth {
		return fmt.Errorf("name nested %d deep, more than %d: %w", n, maxDepth, errdefs.ErrInvalidArgument)
	}
	dir, base := splitRel(rel)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(dir, base)
	}

	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeDir, tar.TypeSymlink, tar.TypeLink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("entry type %q: %w", hdr.Typeflag, errdefs.ErrInvalidArgument)
	}
	uid, gid, err := a.owner(hdr)
	if err != nil {
		return err
	}

	pfd, err := a.mkdirAll(dir)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	var st unix.Stat_t
	keepDir := false
	err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil:
		keepDir = st.Mode&unix.S_IFMT == unix.S_IFDIR && hdr.Typeflag == tar.TypeDir
		if !keepDir {
			if err := a.removeAll(pfd, base); err != nil {
				return fmt.Errorf("remove existing %s: %w", rel, err)
			}
			delete(a.dirs, rel)
		}
	case errors.Is(err, unix.ENOENT):
	default:
		return fmt.Errorf("stat %s: %w", rel, err)
	}

	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		if err := a.regular(tr, hdr, pfd, base, uid, gid, mode); err != nil {
			return err
		}

	case tar.TypeDir:
		// An existing directory stays; its metadata is updated.
		if !keepDir {
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return fmt.Errorf("mkdir %s: %w", rel, err)
			}
		}
		if err := a.meta(pfd, base, hdr, uid, gid); err != nil {
			return err
		}
		a.dirs[rel] = dirMeta{mode: mode, atime: atime(hdr), mtime: hdr.ModTime}

	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink %s: %w", rel, err)
		}
		if err := a.meta(pfd, base, hdr, uid, gid); err != nil {
			return err
		}
		if err := setTimes(pfd, base, atime(hdr), hdr.ModTime); err != nil {
			return err
		}

	case tar.TypeLink:
		// The target is resolved inside root like any other name; linkat
		// without AT_SYMLINK_FOLLOW links the target's last component
		// itself, so the new link can only name an inode already in root.
		// The inode's metadata came with the target's own entry.
		target := cleanName(hdr.Linkname)
		if target == "" {
			return fmt.Errorf("hardlink to the root directory: %w", errdefs.ErrInvalidArgument)
		}
		tdir, tbase := splitRel(target)
		tfd, err := a.openDir(tdir)
		if err != nil {
			return fmt.Errorf("resolve hardlink target %q: %w", truncate(hdr.Linkname), classify(err))
		}
		err = unix.Linkat(tfd, tbase, pfd, base, 0)
		unix.Close(tfd)
		if err != nil {
			return fmt.Errorf("hardlink %s to %q: %w", rel, truncate(hdr.Linkname), classify(err))
		}

	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if hdr.Devmajor < 0 || hdr.Devmajor > 0xfff || hdr.Devminor < 0 || hdr.Devminor > 0xfffff {
			return fmt.Errorf("device number %d:%d: %w", hdr.Devmajor, hdr.Devminor, errdefs.ErrInvalidArgument)
		}
		fmode := mode
		switch hdr.Typeflag {
		case tar.TypeChar:
			fmode |= unix.S_IFCHR
		case tar.TypeBlock:
			fmode |= unix.S_IFBLK
		default:
			fmode |= unix.S_IFIFO
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, fmode, int(dev)); err != nil {
			if errors.Is(err, unix.EPERM) && hdr.Typeflag != tar.TypeFifo {
				if a.opts.skipDevices {
					return nil
				}
				return fmt.Errorf("mknod %s: %w: %w", rel, err, errdefs.ErrPermissionDenied)
			}
			return fmt.Errorf("mknod %s: %w", rel, err)
		}
		if err := a.meta(pfd, base, hdr, uid, gid); err != nil {
			return err
		}
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", rel, err)
		}
		if err := setTimes(pfd, base, atime(hdr), hdr.ModTime); err != nil {
			return err
		}
	}
	a.markUnpacked(rel)
	return nil
}

// regular writes a regular file. It is created with O_EXCL|O_NOFOLLOW in
// its resolved parent, so it can neither reuse nor write through an
// existing inode.
func (a *applier) regular(tr *tar.Reader, hdr *tar.Header, pfd int, base string, uid, gid int, mode uint32) error {
	if hdr.Size < 0 {
		return fmt.Errorf("negative size %d: %w", hdr.Size, errdefs.ErrInvalidArgument)
	}
	if a.opts.maxBytes > 0 && hdr.Size > a.opts.maxBytes-a.size {
		return fmt.Errorf("layer larger than the limit of %d bytes: %w", a.opts.maxBytes, errdefs.ErrInvalidArgument)
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", base, err)
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	n, err := io.Copy(writerOnly{f}, tr)
	a.size += n
	if err != nil {
		return fmt.Errorf("write %s: %w", base, err)
	}
	if a.chown {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", base, err)
		}
	}
	for _, x := range xattrs(hdr) {
		if err := unix.Fsetxattr(fd, x.name, x.value, 0); err != nil && !a.ignoreXattrErr(err, x.name, true) {
			return fmt.Errorf("set xattr %s on %s: %w", x.name, base, err)
		}
	}
	// After chown, which clears setuid and setgid.
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", base, err)
	}
	if err := setTimes(pfd, base, atime(hdr), hdr.ModTime); err != nil {
		return err
	}
	return f.Close()
}

// writerOnly hides os.File's ReadFrom so io.Copy does not try splice or
// copy_file_range on a source that is never a file.
type writerOnly struct{ io.Writer }

// meta sets ownership and xattrs of a non-regular entry, never following
// its last component.
func (a *applier) meta(pfd int, base string, hdr *tar.Header, uid, gid int) error {
	if a.chown {
		if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", base, err)
		}
	}
	xs := xattrs(hdr)
	if len(xs) == 0 {
		return nil
	}
	// lsetxattr does not follow the last component; the magic link names
	// the already resolved parent.
	p := "/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base
	userOK := hdr.Typeflag == tar.TypeDir
	for _, x := range xs {
		if err := unix.Lsetxattr(p, x.name, x.value, 0); err != nil && !a.ignoreXattrErr(err, x.name, userOK) {
			return fmt.Errorf("set xattr %s on %s: %w", x.name, base, err)
		}
	}
	return nil
}

// ignoreXattrErr says which xattr failures are tolerated: a file system
// without xattr support, a namespace the caller may not write when not
// root, and user.* on entries the kernel refuses it for (symlinks,
// devices).
func (a *applier) ignoreXattrErr(err error, name string, userOK bool) bool {
	switch {
	case errors.Is(err, unix.ENOTSUP):
		return true
	case errors.Is(err, unix.EPERM):
		return !a.privileged || (strings.HasPrefix(name, "user.") && !userOK)
	}
	return false
}

type xattr struct {
	name  string
	value []byte
}

// xattrs returns the entry's SCHILY.xattr PAX records in name order,
// without overlayfs' own attributes: a layer must not forge whiteouts,
// opaque directories or redirects in an upper directory.
func xattrs(hdr *tar.Header) []xattr {
	var xs []xattr
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattrPrefix)
		if !ok || name == "" || isOverlayXattr(name) {
			continue
		}
		xs = append(xs, xattr{name: name, value: []byte(v)})
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].name < xs[j].name })
	return xs
}

func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

func (a *applier) owner(hdr *tar.Header) (int, int, error) {
	uid, gid := hdr.Uid, hdr.Gid
	if a.opts.idMap != nil {
		var err error
		if uid, gid, err = a.opts.idMap(uid, gid); err != nil {
			return 0, 0, fmt.Errorf("map owner %d:%d: %w", hdr.Uid, hdr.Gid, err)
		}
	}
	if uid < 0 || gid < 0 || uid > 0xfffffffe || gid > 0xfffffffe {
		return 0, 0, fmt.Errorf("owner %d:%d: %w", uid, gid, errdefs.ErrInvalidArgument)
	}
	return uid, gid, nil
}

func atime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

func setTimes(pfd int, base string, at, mt time.Time) error {
	ts := []unix.Timespec{timespec(at), timespec(mt)}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", base, err)
	}
	return nil
}

// openDir resolves rel, a cleaned relative path, to an O_PATH descriptor of
// a directory. RESOLVE_IN_ROOT makes "..", absolute symlinks and relative
// symlinks that climb resolve as if root were "/": nothing it returns is
// outside root.
func (a *applier) openDir(rel string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(a.rootfd, rel, &how)
		// EAGAIN: a rename or mount raced with the resolution.
		if (errors.Is(err, unix.EAGAIN) && i < 16) || errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ENOSYS) {
			return -1, fmt.Errorf("openat2 (needs Linux 5.6): %w: %w", err, errdefs.ErrNotImplemented)
		}
		return fd, err
	}
}

// mkdirAll resolves rel to a directory inside root, creating missing
// components (mode 0755, owned by the caller) one at a time with mkdirat in
// their resolved parent. It never creates anything through a symlink: a
// missing symlink target is an error, not a directory to make.
func (a *applier) mkdirAll(rel string) (int, error) {
	fd, err := a.openDir(rel)
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) || rel == "." {
		return -1, fmt.Errorf("resolve directory %s: %w", rel, classify(err))
	}
	dir, base := splitRel(rel)
	pfd, err := a.mkdirAll(dir)
	if err != nil {
		return -1, err
	}
	err = unix.Mkdirat(pfd, base, 0o755)
	unix.Close(pfd)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("mkdir %s: %w", rel, err)
	}
	a.markUnpacked(rel)
	fd, err = a.openDir(rel)
	if err != nil {
		return -1, fmt.Errorf("resolve directory %s: %w", rel, classify(err))
	}
	return fd, nil
}

// whiteout applies ".wh.name" or the opaque marker found in dir.
func (a *applier) whiteout(dir, base string) error {
	if base == whiteoutOpaqueDir {
		return a.opaque(dir)
	}
	if strings.HasPrefix(base, whiteoutMetaPrefix) {
		// Other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): ignored.
		return nil
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("whiteout %q names nothing: %w", base, errdefs.ErrInvalidArgument)
	}
	rel := path.Join(dir, name)
	if a.opts.whiteouts == OverlayWhiteouts {
		pfd, err := a.mkdirAll(dir)
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		if err := a.removeAll(pfd, name); err != nil {
			return fmt.Errorf("remove %s: %w", rel, err)
		}
		if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
			if errors.Is(err, unix.EPERM) {
				err = fmt.Errorf("%w: %w", err, errdefs.ErrPermissionDenied)
			}
			return fmt.Errorf("create overlay whiteout %s: %w", rel, err)
		}
		delete(a.dirs, rel)
		a.markUnpacked(rel)
		return nil
	}
	pfd, err := a.openDir(dir)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing there to hide
	}
	if err != nil {
		return fmt.Errorf("resolve directory %s: %w", dir, classify(err))
	}
	defer unix.Close(pfd)
	if err := a.removeAll(pfd, name); err != nil {
		return fmt.Errorf("remove whited-out %s: %w", rel, err)
	}
	delete(a.dirs, rel)
	return nil
}

// opaque marks dir opaque: in an overlay upper with the xattr, otherwise by
// removing every entry below dir that this layer did not write.
func (a *applier) opaque(dir string) error {
	if a.opts.whiteouts == OverlayWhiteouts {
		pfd, err := a.mkdirAll(dir)
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		// fsetxattr needs a real descriptor, not O_PATH; "." is the
		// directory pfd already names.
		fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open opaque directory %s: %w", dir, err)
		}
		defer unix.Close(fd)
		if err := unix.Fsetxattr(fd, overlayOpaqueXattr, []byte("y"), 0); err != nil {
			if errors.Is(err, unix.EPERM) {
				err = fmt.Errorf("%w: %w", err, errdefs.ErrPermissionDenied)
			}
			return fmt.Errorf("mark %s opaque: %w", dir, err)
		}
		a.markUnpacked(dir)
		return nil
	}
	pfd, err := a.openDir(dir)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resolve directory %s: %w", dir, classify(err))
	}
	defer unix.Close(pfd)
	if err := a.clearLower(pfd, dir, 0); err != nil {
		return fmt.Errorf("clear opaque directory %s: %w", dir, err)
	}
	return nil
}

// clearLower removes every entry of the directory fd (named rel) that this
// layer did not write, descending into the directories it did.
func (a *applier) clearLower(fd int, rel string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("directories nested more than %d deep: %w", maxDepth, errdefs.ErrInvalidArgument)
	}
	names, err := readDirNames(fd)
	if err != nil {
		return err
	}
	for _, name := range names {
		child := name
		if rel != "." {
			child = rel + "/" + name
		}
		if _, ok := a.unpacked[child]; !ok {
			if err := a.removeAll(fd, name); err != nil {
				return fmt.Errorf("remove %s: %w", child, err)
			}
			delete(a.dirs, child)
			continue
		}
		cfd, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			continue // a file or symlink this layer wrote
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", child, err)
		}
		err = a.clearLower(cfd, child, depth+1)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// readDirNames lists the directory that fd (possibly O_PATH) names.
func readDirNames(fd int) ([]string, error) {
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	f := os.NewFile(uintptr(dfd), ".")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	return names, nil
}

// removeAll removes name, a single component, from the directory dirfd,
// recursively if it is a directory. It never follows a symlink: the
// recursion opens each directory with O_NOFOLLOW relative to its parent.
// A missing name is not an error.
func (a *applier) removeAll(dirfd int, name string) error {
	return removeAllDepth(dirfd, name, a.privileged, 0)
}

func removeAllDepth(dirfd int, name string, privileged bool, depth int) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return err
	}
	if depth > 4*maxDepth {
		return fmt.Errorf("directories nested more than %d deep: %w", 4*maxDepth, errdefs.ErrInvalidArgument)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EACCES) && !privileged {
		// A directory of this tree the caller owns but may not read
		// (mode 0): make it readable, then retry once.
		if err := unix.Fchmodat(dirfd, name, 0o700, 0); err != nil {
			return err
		}
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if !privileged {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return err
		}
	}
	for range 3 {
		names, err := f.Readdirnames(-1)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := removeAllDepth(fd, n, privileged, depth+1); err != nil {
				return err
			}
		}
		err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.ENOTEMPTY) {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	return fmt.Errorf("remove directory %s: %w", name, unix.ENOTEMPTY)
}

// finish sets the mode and times of the directory entries, deepest first,
// now that nothing more is written inside them. A directory that a later
// entry removed or replaced is skipped.
func (a *applier) finish() error {
	rels := make([]string, 0, len(a.dirs))
	for rel := range a.dirs {
		rels = append(rels, rel)
	}
	sort.Slice(rels, func(i, j int) bool {
		di, dj := strings.Count(rels[i], "/"), strings.Count(rels[j], "/")
		if di != dj {
			return di > dj
		}
		return rels[i] < rels[j]
	})
	for _, rel := range rels {
		m := a.dirs[rel]
		dir, base := splitRel(rel)
		pfd, err := a.openDir(dir)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("resolve directory %s: %w", dir, classify(err))
		}
		err = a.finishDir(pfd, base, rel, m)
		unix.Close(pfd)
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) finishDir(pfd int, base, rel string, m dirMeta) error {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	// base was just seen to be a directory, not a symlink, so following
	// it is safe while nothing else writes to root.
	if err := unix.Fchmodat(pfd, base, m.mode, 0); err != nil {
		return fmt.Errorf("chmod %s: %w", rel, err)
	}
	if err := setTimes(pfd, base, m.atime, m.mtime); err != nil {
		return fmt.Errorf("directory %s: %w", rel, err)
	}
	return nil
}

// classify adds an error class to resolution errors a hostile layer
// causes.
func classify(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV),
		errors.Is(err, unix.ENAMETOOLONG):
		return fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	}
	return err
}

// classifyTar marks a malformed or truncated stream as an invalid argument.
// Errors of r itself and of ctx keep their own identity.
func classifyTar(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrFieldTooLong) {
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			return fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
		}
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
