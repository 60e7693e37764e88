package containerfs

import (
	"fmt"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Stat returns what Docker sends in the X-Docker-Container-Path-Stat
// header for path p of a container whose root file system is root.
//
// p is resolved inside root (see the package documentation) like lstat(2):
// a final symlink is not followed, unless p ends with "/" or "/.", so Mode
// and Size are the link's own; LinkTarget is then the path inside the
// container that the link ends up at, every link on the way followed
// inside root (a dangling link still reports where it points). A missing p
// is errdefs.ErrNotFound; the caller builds Docker's message ("Could not
// find the file p in container ID").
func Stat(root, p string) (PathStat, error) {
	if p == "" {
		return PathStat{}, fmt.Errorf("stat: no path specified: %w", errdefs.ErrInvalidArgument)
	}
	r, err := openDir(root)
	if err != nil {
		return PathStat{}, fmt.Errorf("stat %s: %w", p, err)
	}
	defer r.Close()
	cp := parseCopyPath(p)
	l, err := locate(r, cp)
	if err != nil {
		return PathStat{}, fmt.Errorf("stat %s: %w", p, classify(err))
	}
	defer l.Close()
	ps := PathStat{
		Name:  path.Base(cp.abs),
		Size:  l.st.Size,
		Mode:  fileMode(l.st.Mode),
		Mtime: time.Unix(l.st.Mtim.Sec, l.st.Mtim.Nsec),
	}
	if l.st.Mode&unix.S_IFMT == unix.S_IFLNK {
		if ps.LinkTarget, err = realPath(r, cp.rel); err != nil {
			return PathStat{}, fmt.Errorf("stat %s: resolve link: %w", p, classify(err))
		}
	}
	return ps, nil
}

// fileMode converts a stat(2) mode to Go's, as os.Lstat does.
func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= os.ModeDevice
	case unix.S_IFCHR:
		mode |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFDIR:
		mode |= os.ModeDir
	case unix.S_IFIFO:
		mode |= os.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= os.ModeSymlink
	case unix.S_IFSOCK:
		mode |= os.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}
