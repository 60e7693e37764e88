package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"
)

// copyTree copies the directory tree src to dst, which must not exist.
// See the package documentation for what is kept.
func copyTree(ctx context.Context, src, dst string) error {
	srcFd, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("copy %s: open: %w", src, err)
	}
	defer unix.Close(srcFd)
	var st unix.Stat_t
	if err := unix.Fstat(srcFd, &st); err != nil {
		return fmt.Errorf("copy %s: stat: %w", src, err)
	}
	if err := unix.Mkdir(dst, 0o700); err != nil {
		return fmt.Errorf("copy %s: create %s: %w", src, dst, err)
	}
	dstFd, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("copy %s: open %s: %w", src, dst, err)
	}
	defer unix.Close(dstFd)
	c := &copier{dstRoot: dstFd, links: map[inode]string{}}
	if err := c.dir(ctx, srcFd, dstFd, "."); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := setMetaFd(srcFd, dstFd, &st); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

type inode struct{ dev, ino uint64 }

type copier struct {
	// dstRoot is the destination root; links holds, per source inode with
	// several links, the path (relative to dstRoot) of its first copy.
	dstRoot int
	links   map[inode]string
}

// dir copies the entries of the directory srcFd into dstFd; rel is the
// directory's path relative to the roots, for hard links and errors.
func (c *copier) dir(ctx context.Context, srcFd, dstFd int, rel string) error {
	names, err := readNames(srcFd)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", rel, err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.entry(ctx, srcFd, dstFd, name, path.Join(rel, name)); err != nil {
			return err
		}
	}
	return nil
}

func readNames(fd int) ([]string, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	return f.Readdirnames(-1)
}

func (c *copier) entry(ctx context.Context, srcDir, dstDir int, name, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(srcDir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", rel, err)
	}
	typ := st.Mode & unix.S_IFMT
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		k := inode{st.Dev, st.Ino}
		if first, ok := c.links[k]; ok {
			if err := unix.Linkat(c.dstRoot, first, c.dstRoot, rel, 0); err != nil {
				return fmt.Errorf("link %s to %s: %w", rel, first, err)
			}
			return nil
		}
		c.links[k] = rel
	}
	switch typ {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dstDir, name, 0o700); err != nil {
			return fmt.Errorf("create directory %s: %w", rel, err)
		}
		s, err := unix.Openat(srcDir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open directory %s: %w", rel, err)
		}
		defer unix.Close(s)
		d, err := unix.Openat(dstDir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open new directory %s: %w", rel, err)
		}
		defer unix.Close(d)
		if err := c.dir(ctx, s, d, rel); err != nil {
			return err
		}
		if err := setMetaFd(s, d, &st); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	case unix.S_IFREG:
		s, err := unix.Openat(srcDir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", rel, err)
		}
		sf := os.NewFile(uintptr(s), name)
		defer sf.Close()
		d, err := unix.Openat(dstDir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create %s: %w", rel, err)
		}
		df := os.NewFile(uintptr(d), name)
		defer df.Close()
		if _, err := io.Copy(df, sf); err != nil {
			return fmt.Errorf("copy %s: %w", rel, err)
		}
		if err := setMetaFd(s, d, &st); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	case unix.S_IFLNK:
		target, err := readlinkat(srcDir, name)
		if err != nil {
			return fmt.Errorf("read link %s: %w", rel, err)
		}
		if err := unix.Symlinkat(target, dstDir, name); err != nil {
			return fmt.Errorf("create link %s: %w", rel, err)
		}
		if err := setMetaAt(srcDir, dstDir, name, &st); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknodat(dstDir, name, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("create node %s: %w", rel, err)
		}
		if err := setMetaAt(srcDir, dstDir, name, &st); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	default:
		return fmt.Errorf("copy %s: unknown file type %#o", rel, typ)
	}
	return nil
}

func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// fdPath names the file open as fd (or name inside directory fd) through
// /proc, for the calls that have no *at or f* form.
func fdPath(fd int, name string) string {
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	if name != "" {
		p += "/" + name
	}
	return p
}

// setMetaFd gives the open file dst the owner, xattrs, mode and times of
// src. Owner first (chown clears setuid and file capabilities), then
// xattrs (an ACL rewrites mode bits), then mode.
func setMetaFd(src, dst int, st *unix.Stat_t) error {
	if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := copyXattrs(fdPath(src, ""), fdPath(dst, ""), true); err != nil {
		return err
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, fdPath(dst, ""), times(st), 0); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// setMetaAt is setMetaFd for an entry that cannot be opened (symlink,
// device, fifo, socket), never following it.
func setMetaAt(srcDir, dstDir int, name string, st *unix.Stat_t) error {
	if err := unix.Fchownat(dstDir, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := copyXattrs(fdPath(srcDir, name), fdPath(dstDir, name), false); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Fchmodat(dstDir, name, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := unix.UtimesNanoAt(dstDir, name, times(st), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func times(st *unix.Stat_t) []unix.Timespec {
	return []unix.Timespec{st.Atim, st.Mtim}
}

// xattrCalls are the path-based xattr calls, following a final symlink
// (for /proc/self/fd/N, which must reach the open file) or not (for an
// entry below /proc/self/fd/N, which may itself be a symlink).
type xattrCalls struct {
	list func(string, []byte) (int, error)
	get  func(string, string, []byte) (int, error)
	set  func(string, string, []byte, int) error
}

var (
	followXattr   = xattrCalls{unix.Listxattr, unix.Getxattr, unix.Setxattr}
	noFollowXattr = xattrCalls{unix.Llistxattr, unix.Lgetxattr, unix.Lsetxattr}
)

// copyXattrs copies every extended attribute of src to dst. A destination
// that does not support an attribute (EOPNOTSUPP) is skipped.
func copyXattrs(src, dst string, follow bool) error {
	x := noFollowXattr
	if follow {
		x = followXattr
	}
	names, err := listXattrs(x, src)
	if err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			return nil
		}
		return fmt.Errorf("list xattrs: %w", err)
	}
	for _, name := range names {
		value, err := getXattr(x, src, name)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return fmt.Errorf("get xattr %s: %w", name, err)
		}
		if err := x.set(dst, name, value, 0); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

func listXattrs(x xattrCalls, p string) ([]string, error) {
	for {
		n, err := x.list(p, nil)
		if err != nil || n == 0 {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = x.list(p, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		start := 0
		for i, b := range buf[:n] {
			if b == 0 {
				if i > start {
					names = append(names, string(buf[start:i]))
				}
				start = i + 1
			}
		}
		return names, nil
	}
}

func getXattr(x xattrCalls, p, name string) ([]byte, error) {
	for {
		n, err := x.get(p, name, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = x.get(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
