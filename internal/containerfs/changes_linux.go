package containerfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Changes is docker diff for a container whose root file system is an
// overlay of the upper directory upper on the layer directories lowers
// (highest first, as in lowerdir=), sorted by path.
//
// Only upper is walked; lowers are looked up as overlayfs merges them
// (whiteouts, opaque directories, a non-directory hiding what is below). A
// whiteout in upper is a Delete of what the lowers show there. An entry of
// upper the lowers do not show is an Add, and so is everything below a
// directory that is added. An entry they do show is a Modify when its stat
// differs as Docker compares them (type and permissions, owner, device
// number; for non-directories also size, mtime and file capability), and a
// directory holding any change is a Modify too (Docker's "C /etc" above
// "A /etc/x"). Below an opaque directory, what the lowers show but upper
// does not hold is a Delete.
//
// Upper directories written with overlay's redirect_dir feature fail with
// errdefs.ErrNotImplemented: their content lives in the lowers under
// another name.
func Changes(ctx context.Context, upper string, lowers []string) ([]Change, error) {
	fd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", upper, &fs.PathError{Op: "open", Path: upper, Err: err})
	}
	u := os.NewFile(uintptr(fd), upper)
	defer u.Close()
	var stack []*os.File
	defer func() { closeAll(stack) }()
	for _, l := range lowers {
		lfd, err := unix.Open(l, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("diff %s: %w", upper, &fs.PathError{Op: "open", Path: l, Err: err})
		}
		stack = append(stack, os.NewFile(uintptr(lfd), l))
	}
	// overlayfs merges the lowers' roots whatever xattrs upper's root has.
	d := &differ{ctx: ctx}
	if err := d.dir(u, "", stack, false, 0); err != nil {
		return nil, fmt.Errorf("diff %s: %w", upper, err)
	}
	sort.Slice(d.changes, func(i, j int) bool { return d.changes[i].Path < d.changes[j].Path })
	return d.changes, nil
}

type differ struct {
	ctx     context.Context
	changes []Change
}

func (d *differ) add(p string, k ChangeKind) {
	d.changes = append(d.changes, Change{Path: p, Kind: k})
}

// dir compares the upper directory u, at path p in the container ("" for
// the root), with stack, the lower directories merged at p, highest first.
// Below an opaque directory, entries of the lowers that u lacks are
// deleted.
func (d *differ) dir(u *os.File, p string, stack []*os.File, opaque bool, depth int) error {
	if depth >= maxWalkDepth {
		return fmt.Errorf("%s: directories nested more than %d deep: %w", p, maxWalkDepth, errdefs.ErrInvalidArgument)
	}
	names, err := u.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s/: %w", p, err)
	}
	inUpper := make(map[string]struct{}, len(names))
	for _, name := range names {
		inUpper[name] = struct{}{}
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if err := d.entry(u, p, name, stack, opaque, depth); err != nil {
			return err
		}
	}
	if !opaque {
		return nil
	}
	visible, err := lowerNames(stack)
	if err != nil {
		return fmt.Errorf("%s/: %w", p, err)
	}
	for _, name := range visible {
		if _, ok := inUpper[name]; !ok {
			d.add(p+"/"+name, ChangeDelete)
		}
	}
	return nil
}

func (d *differ) entry(u *os.File, p, name string, stack []*os.File, opaque bool, depth int) error {
	child := p + "/" + name
	var ust unix.Stat_t
	if err := unix.Fstatat(int(u.Fd()), name, &ust, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // removed while we walk
		}
		return &fs.PathError{Op: "lstat", Path: child, Err: err}
	}
	un := node{fd: -1, dirfd: int(u.Fd()), base: name}
	lo, err := lookupLower(stack, name)
	if err != nil {
		return fmt.Errorf("%s: %w", child, err)
	}
	defer closeAll(lo.dirs)

	wo, err := isWhiteout(&ust, un)
	if err != nil {
		return fmt.Errorf("%s: %w", child, err)
	}
	if wo {
		if lo.exists {
			d.add(child, ChangeDelete)
		}
		return nil
	}
	if ust.Mode&unix.S_IFMT != unix.S_IFDIR {
		switch changed, err := statChanged(lo, &ust, un); {
		case err != nil:
			return fmt.Errorf("%s: %w", child, err)
		case !lo.exists:
			d.add(child, ChangeAdd)
		case changed:
			d.add(child, ChangeModify)
		}
		return nil
	}

	ud, err := openDirAt(int(u.Fd()), name)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return nil // removed or replaced while we walk
	}
	if err != nil {
		return err
	}
	defer ud.Close()
	if v, err := getOverlayXattr(dirNode(ud), "redirect"); err != nil {
		return fmt.Errorf("%s: %w", child, err)
	} else if v != nil {
		return fmt.Errorf("%s: directory renamed with overlay redirect_dir: %w", child, errdefs.ErrNotImplemented)
	}
	childOpaque, err := isOpaque(dirNode(ud))
	if err != nil {
		return fmt.Errorf("%s: %w", child, err)
	}
	recorded := true
	switch changed, err := statChanged(lo, &ust, un); {
	case err != nil:
		return fmt.Errorf("%s: %w", child, err)
	case !lo.exists:
		d.add(child, ChangeAdd)
	case changed:
		d.add(child, ChangeModify)
	default:
		recorded = false
	}
	mark := len(d.changes)
	if err := d.dir(ud, child, lo.dirs, opaque || childOpaque, depth+1); err != nil {
		return err
	}
	if !recorded && len(d.changes) > mark {
		// A directory holding changes is listed, as Docker lists it,
		// so that a layer made from the list keeps its metadata.
		d.add(child, ChangeModify)
	}
	return nil
}

// lowerEntry is what the lower directories show under one name.
type lowerEntry struct {
	exists bool
	st     unix.Stat_t
	n      node // the visible entry, for its xattrs
	// dirs are the directories merged under the name, highest first,
	// when the visible entry is a directory.
	dirs []*os.File
}

// lookupLower looks name up in stack as overlayfs does: the highest layer
// holding it decides (a whiteout hides it); a directory merges with the
// directories of the name below it, down to an opaque one, a whiteout or a
// non-directory. The lowers come from images and are hostile too: nothing
// is followed.
func lookupLower(stack []*os.File, name string) (lowerEntry, error) {
	var e lowerEntry
	for _, l := range stack {
		var st unix.Stat_t
		err := unix.Fstatat(int(l.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			closeAll(e.dirs)
			return lowerEntry{}, &fs.PathError{Op: "lstat", Path: name, Err: err}
		}
		n := node{fd: -1, dirfd: int(l.Fd()), base: name}
		wo, err := isWhiteout(&st, n)
		if err != nil {
			closeAll(e.dirs)
			return lowerEntry{}, err
		}
		if !e.exists {
			if wo {
				return e, nil
			}
			e.exists, e.st, e.n = true, st, n
		}
		if wo || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return e, nil
		}
		ld, err := openDirAt(int(l.Fd()), name)
		if err != nil {
			closeAll(e.dirs)
			return lowerEntry{}, err
		}
		e.dirs = append(e.dirs, ld)
		if opaque, err := isOpaque(dirNode(ld)); err != nil || opaque {
			if err != nil {
				closeAll(e.dirs)
				return lowerEntry{}, err
			}
			return e, nil
		}
	}
	return e, nil
}

// lowerNames lists the names the merged directories of stack show.
func lowerNames(stack []*os.File) ([]string, error) {
	seen := make(map[string]bool) // name: visible
	var out []string
	for _, l := range stack {
		names, err := l.Readdirnames(-1)
		if err != nil {
			return nil, fmt.Errorf("read lower directory: %w", err)
		}
		for _, name := range names {
			if _, ok := seen[name]; ok {
				continue
			}
			var st unix.Stat_t
			if err := unix.Fstatat(int(l.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
			}
			wo, err := isWhiteout(&st, node{fd: -1, dirfd: int(l.Fd()), base: name})
			if err != nil {
				return nil, err
			}
			seen[name] = !wo
			if !wo {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

// statChanged compares an upper entry with what the lowers show, as
// Docker's statDifferent does: mode (type and permissions), owner and
// device number always; size and mtime (to the second when either side
// has none finer) for non-directories; and the file capability.
func statChanged(lo lowerEntry, up *unix.Stat_t, un node) (bool, error) {
	if !lo.exists {
		return true, nil
	}
	ls := &lo.st
	if ls.Mode != up.Mode || ls.Uid != up.Uid || ls.Gid != up.Gid || ls.Rdev != up.Rdev {
		return true, nil
	}
	if up.Mode&unix.S_IFMT == unix.S_IFDIR {
		return false, nil
	}
	if ls.Size != up.Size || !sameFsTime(ls.Mtim, up.Mtim) {
		return true, nil
	}
	if up.Mode&unix.S_IFMT != unix.S_IFREG {
		return false, nil
	}
	lc, err := getXattr(lo.n, capabilityXattr)
	if err != nil {
		return false, err
	}
	uc, err := getXattr(un, capabilityXattr)
	if err != nil {
		return false, err
	}
	return !bytes.Equal(lc, uc), nil
}

// sameFsTime compares mtimes as Docker does: tar rounds them to the
// second, so equal seconds with no fraction on one side also match.
func sameFsTime(a, b unix.Timespec) bool {
	return a == b || (a.Sec == b.Sec && (a.Nsec == 0 || b.Nsec == 0))
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
