package containerfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// maxLinks bounds the symlinks followed while computing a LinkTarget, as the
// kernel's own limit of 40 nested links does for openat2.
const maxLinks = 255

// openDir opens the host directory dir, which the caller trusts, as an
// O_PATH handle: the root every path from an API caller is resolved in.
func openDir(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// openInRoot resolves rel inside root and returns an O_PATH handle of what
// it names, following every symlink including the last. Symlinks, absolute
// or climbing, and ".." resolve as if root were "/" (openat2 with
// RESOLVE_IN_ROOT; filepath-securejoin's user-space emulation where openat2
// is missing), and /proc magic links are refused: the handle is never
// outside root.
func openInRoot(root *os.File, rel string) (*os.File, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(int(root.Fd()), rel, &how)
		// EAGAIN: a rename or mount raced with the resolution.
		if (errors.Is(err, unix.EAGAIN) && i < 16) || errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ENOSYS) {
			return pathrs.OpenatInRoot(root, rel)
		}
		if err != nil {
			return nil, &fs.PathError{Op: "openat2", Path: rel, Err: err}
		}
		return os.NewFile(uintptr(fd), rel), nil
	}
}

// openDirAt opens name, a single component of the directory dirfd, for
// reading, refusing a symlink (O_NOFOLLOW) or anything but a directory.
func openDirAt(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// reopenDir turns an O_PATH handle of a directory into one that can list
// it.
func reopenDir(h *os.File) (*os.File, error) {
	return openDirAt(int(h.Fd()), ".")
}

// reopen opens the file an O_PATH handle names for reading or writing
// (flags), through its /proc/self/fd magic link: the very inode the handle
// holds, whatever has been renamed or swapped in the meantime. The
// daemon's own /proc is trusted.
func reopen(h *os.File, flags int) (*os.File, error) {
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(int(h.Fd())), flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "reopen", Path: h.Name(), Err: err}
	}
	return os.NewFile(uintptr(fd), h.Name()), nil
}

// copyPath is a path from an API caller, interpreted as Docker's archive
// endpoints do.
type copyPath struct {
	// abs is the path joined to "/" and cleaned lexically, with a
	// trailing "/" or "/." of the original kept (Docker's
	// PreserveTrailingDotOrSeparator).
	abs string
	// rel is abs without its leading "/" and trailing "/" or "/.": ""
	// for the root itself.
	rel string
	// assertsDir: the original ends with "/" or "/." (or names the
	// root), so its last symlink is followed and it must be a directory.
	assertsDir bool
}

func parseCopyPath(p string) copyPath {
	cleaned := path.Join("/", p)
	abs := cleaned
	if path.Base(cleaned) != "." && path.Base(p) == "." {
		if !strings.HasSuffix(abs, "/") {
			abs += "/"
		}
		abs += "."
	}
	if !strings.HasSuffix(abs, "/") && strings.HasSuffix(p, "/") {
		abs += "/"
	}
	rel := strings.TrimPrefix(cleaned, "/")
	return copyPath{
		abs:        abs,
		rel:        rel,
		assertsDir: rel == "" || strings.HasSuffix(abs, "/") || path.Base(abs) == ".",
	}
}

// splitRel splits a cleaned relative path into its parent ("" for the
// root) and last component.
func splitRel(rel string) (dir, base string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

// located is what a copyPath resolved to: a handle of the parent and the
// last component (not followed), or for a path asserting a directory, the
// directory itself (followed) with base "".
type located struct {
	parent *os.File // O_PATH; the directory itself when base == ""
	base   string
	st     unix.Stat_t
}

func (l *located) Close() error { return l.parent.Close() }

// locate resolves cp inside root as lstat(2) would resolve it in a chroot:
// every symlink on the way is followed inside root, the last one only when
// cp asserts a directory.
func locate(root *os.File, cp copyPath) (*located, error) {
	if cp.assertsDir {
		h, err := openInRoot(root, cp.rel)
		if err != nil {
			return nil, err
		}
		l := &located{parent: h}
		if err := unix.Fstat(int(h.Fd()), &l.st); err != nil {
			h.Close()
			return nil, &fs.PathError{Op: "fstat", Path: cp.abs, Err: err}
		}
		if l.st.Mode&unix.S_IFMT != unix.S_IFDIR {
			h.Close()
			return nil, &fs.PathError{Op: "stat", Path: cp.abs, Err: unix.ENOTDIR}
		}
		return l, nil
	}
	dir, base := splitRel(cp.rel)
	h, err := openInRoot(root, dir)
	if err != nil {
		return nil, err
	}
	l := &located{parent: h, base: base}
	if err := unix.Fstatat(int(h.Fd()), base, &l.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		h.Close()
		return nil, &fs.PathError{Op: "lstat", Path: cp.abs, Err: err}
	}
	return l, nil
}

// realPath returns the path, inside root and starting with "/", that rel
// names once every symlink on it is followed, the last one too, each
// resolved as if root were "/" (Docker's FollowSymlinkInScope). Components
// that do not exist are kept as they are, so a dangling link still reports
// where it points. Every lookup is made relative to a handle resolved
// inside root, never through a host path.
func realPath(root *os.File, rel string) (string, error) {
	var done []string // resolved components, none a symlink
	todo := strings.Split(rel, "/")
	links := 0
	// missingAt is the index in done of a component that does not exist
	// (-1: none); below it everything is lexical.
	missingAt := -1
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch {
		case c == "" || c == ".":
			continue
		case c == "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			if len(done) <= missingAt {
				missingAt = -1
			}
			continue
		case missingAt >= 0:
			done = append(done, c)
			continue
		}
		dir, err := openInRoot(root, strings.Join(done, "/"))
		if err != nil {
			return "", err
		}
		var st unix.Stat_t
		err = unix.Fstatat(int(dir.Fd()), c, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			dir.Close()
			if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
				return "", &fs.PathError{Op: "lstat", Path: c, Err: err}
			}
			if err != nil {
				missingAt = len(done)
			}
			done = append(done, c)
			continue
		}
		target, err := readlinkat(int(dir.Fd()), c)
		dir.Close()
		if err != nil {
			return "", err
		}
		if links++; links > maxLinks {
			return "", &fs.PathError{Op: "resolve", Path: rel, Err: unix.ELOOP}
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return "/" + strings.Join(done, "/"), nil
}

// readlinkat reads the target of the symlink name in dirfd.
func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// classify adds an error class to the errors resolving a caller's path
// gives: a missing path (or one going through a non-directory) is
// ErrNotFound, a symlink loop or a path too long ErrInvalidArgument.
func classify(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENAMETOOLONG), errors.Is(err, unix.EXDEV):
		return fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	}
	return err
}
