package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// copyUp copies the contents of the directory src into the directory dst
// if dst is empty, then gives dst src's ownership, mode, attributes and
// times. Every entry is reached through a directory file descriptor and
// opened with O_NOFOLLOW, so no symlink in src (or one swapped in while
// copying) is ever followed. On error, what was copied is deleted.
func copyUp(ctx context.Context, src, dst string) error {
	srcDir, err := openDir(unix.AT_FDCWD, src)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return nil // nothing to copy, as Docker when the image has no such directory
		}
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer srcDir.Close()
	dstDir, err := openDir(unix.AT_FDCWD, dst)
	if err != nil {
		return fmt.Errorf("open %s: %w", dst, err)
	}
	defer dstDir.Close()
	names, err := dstDir.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", dst, err)
	}
	if len(names) > 0 {
		return nil // not empty: Docker copies only into an empty volume
	}

	c := &copier{dstRoot: int(dstDir.Fd()), links: map[fileID]string{}}
	var st unix.Stat_t
	err = unix.Fstat(int(srcDir.Fd()), &st)
	if err == nil {
		err = c.copyDir(ctx, srcDir, dstDir, "")
	}
	if err == nil {
		err = c.applyMeta(int(srcDir.Fd()), int(dstDir.Fd()), &st)
	}
	if err == nil {
		err = setTimes(unix.AT_FDCWD, dst, &st)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("copy %s to %s: %w", src, dst, err), emptyDir(dst))
	}
	return nil
}

// emptyDir deletes everything in dir (not following symlinks).
func emptyDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	errs := []error{err}
	for _, n := range names {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, n)))
	}
	return errors.Join(errs...)
}

// openDir opens the directory name below dirfd without following a
// symlink in its last component.
func openDir(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

type copier struct {
	dstRoot int               // the destination root directory
	links   map[fileID]string // first copy (relative to dstRoot) of each multiply-linked file
}

// copyDir copies the entries of src into dst; rel is dst's path relative
// to the destination root.
func (c *copier) copyDir(ctx context.Context, src, dst *os.File, rel string) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.copyEntry(ctx, sfd, dfd, n, path.Join(rel, n)); err != nil {
			return fmt.Errorf("copy %s: %w", path.Join(rel, n), err)
		}
	}
	return nil
}

// copyEntry copies the entry name of directory sfd into directory dfd.
func (c *copier) copyEntry(ctx context.Context, sfd, dfd int, name, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // vanished since the directory was read
		}
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return c.copySubdir(ctx, sfd, dfd, name, rel, &st)
	case unix.S_IFREG:
		return c.copyFile(sfd, dfd, name, rel, &st)
	case unix.S_IFLNK:
		target, err := readlinkat(sfd, name)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, dfd, name); err != nil {
			return err
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		return setTimes(dfd, name, &st)
	default: // character and block devices, FIFOs, sockets
		if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := unix.Fchmodat(dfd, name, st.Mode&0o7777, 0); err != nil {
			return err
		}
		return setTimes(dfd, name, &st)
	}
}

func (c *copier) copySubdir(ctx context.Context, sfd, dfd int, name, rel string, st *unix.Stat_t) error {
	s, err := openDir(sfd, name)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := sameInode(int(s.Fd()), st); err != nil {
		return err
	}
	if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
		return err
	}
	d, err := openDir(dfd, name)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := c.copyDir(ctx, s, d, rel); err != nil {
		return err
	}
	if err := c.applyMeta(int(s.Fd()), int(d.Fd()), st); err != nil {
		return err
	}
	return setTimes(dfd, name, st)
}

func (c *copier) copyFile(sfd, dfd int, name, rel string, st *unix.Stat_t) error {
	id := fileID{dev: uint64(st.Dev), ino: st.Ino} //nolint:unconvert // not uint64 on every platform
	if st.Nlink > 1 {
		if first, ok := c.links[id]; ok {
			return unix.Linkat(c.dstRoot, first, dfd, name, 0)
		}
	}
	// O_NONBLOCK: should the file have been swapped for a FIFO, opening
	// it must not hang; sameInode then refuses it.
	fd, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	s := os.NewFile(uintptr(fd), name)
	defer s.Close()
	if err := sameInode(fd, st); err != nil {
		return err
	}
	dfdFile, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dfdFile), name)
	defer d.Close()
	if _, err := io.Copy(d, s); err != nil {
		return err
	}
	if err := c.applyMeta(fd, dfdFile, st); err != nil {
		return err
	}
	if err := setTimes(dfd, name, st); err != nil {
		return err
	}
	if st.Nlink > 1 {
		c.links[id] = rel
	}
	return d.Close()
}

// sameInode checks that fd is the inode st describes: the entry was not
// replaced between fstatat and open.
func sameInode(fd int, st *unix.Stat_t) error {
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		return err
	}
	if got.Dev != st.Dev || got.Ino != st.Ino || got.Mode&unix.S_IFMT != st.Mode&unix.S_IFMT {
		return errors.New("changed while being copied")
	}
	return nil
}

// applyMeta gives the open destination dfd the ownership, mode and
// extended attributes of the open source sfd (described by st). Chown
// comes first: it clears set-id bits and file capabilities.
func (c *copier) applyMeta(sfd, dfd int, st *unix.Stat_t) error {
	if err := unix.Fchown(dfd, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := unix.Fchmod(dfd, st.Mode&0o7777); err != nil {
		return err
	}
	return copyXattrs(sfd, dfd)
}

// setTimes sets the access and modification times of name below dirfd
// (not following a symlink) to st's.
func setTimes(dirfd int, name string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// copyXattrs copies every extended attribute of sfd to dfd. Attributes
// the destination filesystem does not support are skipped, as Docker
// does.
func copyXattrs(sfd, dfd int) error {
	list, err := xattrList(sfd)
	if err != nil {
		if unsupported(err) {
			return nil
		}
		return fmt.Errorf("list xattrs: %w", err)
	}
	for _, key := range list {
		val, err := xattrGet(sfd, key)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return fmt.Errorf("get xattr %s: %w", key, err)
		}
		if err := unix.Fsetxattr(dfd, key, val, 0); err != nil {
			if unsupported(err) {
				continue
			}
			return fmt.Errorf("set xattr %s: %w", key, err)
		}
	}
	return nil
}

func unsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}

func xattrList(fd int) ([]string, error) {
	for range 5 {
		n, err := unix.Flistxattr(fd, nil)
		if err != nil || n == 0 {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = unix.Flistxattr(fd, buf)
		if errors.Is(err, unix.ERANGE) {
			continue // grew meanwhile
		}
		if err != nil {
			return nil, err
		}
		var out []string
		for _, k := range strings.Split(string(buf[:n]), "\x00") {
			if k != "" {
				out = append(out, k)
			}
		}
		return out, nil
	}
	return nil, unix.ERANGE
}

func xattrGet(fd int, key string) ([]byte, error) {
	for range 5 {
		n, err := unix.Fgetxattr(fd, key, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = unix.Fgetxattr(fd, key, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	return nil, unix.ERANGE
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
