package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/mountinfo"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// All mounts every mount in order on target (or on Mount.Target below
// target). If one fails, the ones already mounted are unmounted again.
func All(mounts []Mount, target string) error {
	var done []string
	for _, m := range mounts {
		dst := target
		if m.Target != "" {
			var err error
			dst, err = securejoin.SecureJoin(target, m.Target)
			if err != nil {
				return errors.Join(fmt.Errorf("resolve mount target %q below %s: %w", m.Target, target, err), unmountList(done))
			}
		}
		if err := m.mount(dst); err != nil {
			return errors.Join(err, unmountList(done))
		}
		done = append(done, dst)
	}
	return nil
}

// unmountList unmounts targets in reverse order.
func unmountList(targets []string) error {
	var errs []error
	for i := len(targets) - 1; i >= 0; i-- {
		if err := Unmount(targets[i], unix.MNT_DETACH); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m Mount) mount(target string) error {
	p, err := ParseOptions(m.Options)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w: %w", m.Type, target, err, errdefs.ErrInvalidArgument)
	}
	if m.Type == "bind" || p.Bind {
		return m.mountBind(target, p)
	}
	data := p.DataString()
	if m.Type == "overlay" && len(data) >= pageSize() {
		err = m.mountOverlayLong(target, p)
	} else {
		err = unix.Mount(m.Source, target, m.Type, p.Flags, data)
	}
	if err != nil {
		return fmt.Errorf("mount %s %s on %s: %w", m.Type, m.Source, target, err)
	}
	if err := propagate(target, p); err != nil {
		return errors.Join(err, Unmount(target, unix.MNT_DETACH))
	}
	return nil
}

func (m Mount) mountBind(target string, p Options) error {
	bindFlags := uintptr(unix.MS_BIND)
	if p.Recursive {
		bindFlags |= unix.MS_REC
	}
	if err := unix.Mount(m.Source, target, "", bindFlags, ""); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", m.Source, target, err)
	}
	// A bind mount ignores every flag but MS_REC; the others (ro, nosuid,
	// ...) need a remount of the new bind mount.
	if rest := p.Flags &^ unix.MS_REMOUNT; rest != 0 {
		if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|rest, ""); err != nil {
			return errors.Join(fmt.Errorf("remount bind mount %s (options %v): %w", target, m.Options, err), Unmount(target, unix.MNT_DETACH))
		}
	}
	if err := propagate(target, p); err != nil {
		return errors.Join(err, Unmount(target, unix.MNT_DETACH))
	}
	return nil
}

// propagate applies the propagation options and the recursive attributes
// (rro, rnosuid, ...) to a new mount.
func propagate(target string, p Options) error {
	for _, f := range p.Propagation {
		if err := unix.Mount("", target, "", f, ""); err != nil {
			return fmt.Errorf("set propagation of %s: %w", target, err)
		}
	}
	if p.RecAttrSet != 0 || p.RecAttrClr != 0 {
		attr := &unix.MountAttr{Attr_set: p.RecAttrSet, Attr_clr: p.RecAttrClr}
		if (p.RecAttrSet|p.RecAttrClr)&unix.MOUNT_ATTR__ATIME != 0 {
			attr.Attr_clr |= unix.MOUNT_ATTR__ATIME
		}
		if err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("set recursive mount attributes of %s: %w", target, err)
		}
	}
	return nil
}

func pageSize() int { return os.Getpagesize() }

// forceRelativeOverlay makes mountOverlayLong skip the new mount API, so
// tests can exercise the fallback.
var forceRelativeOverlay = false

// mountOverlayLong mounts an overlay whose option string does not fit in a
// page: with fsconfig "lowerdir+" where the kernel has it, else with paths
// relative to the layers' common parent.
func (m Mount) mountOverlayLong(target string, p Options) error {
	if !forceRelativeOverlay {
		err := m.mountOverlayFsconfig(target, p)
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, errLowerdirPlus) {
			return err
		}
	}
	return m.mountOverlayRelative(target, p)
}

var errLowerdirPlus = errors.New("kernel rejects lowerdir+")

func (m Mount) mountOverlayFsconfig(target string, p Options) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "source", m.Source); err != nil {
		return fmt.Errorf("fsconfig source: %w", err)
	}
	for _, o := range p.Data {
		key, value, hasValue := strings.Cut(o, "=")
		switch {
		case key == "lowerdir":
			for i, dir := range strings.Split(value, ":") {
				if err := unix.FsconfigSetString(fsfd, "lowerdir+", dir); err != nil {
					if i == 0 && errors.Is(err, unix.EINVAL) {
						return fmt.Errorf("fsconfig lowerdir+ %s: %w: %w", dir, errLowerdirPlus, err)
					}
					return fmt.Errorf("fsconfig lowerdir+ %s: %w", dir, err)
				}
			}
		case hasValue:
			if err := unix.FsconfigSetString(fsfd, key, value); err != nil {
				return fmt.Errorf("fsconfig %s: %w", o, err)
			}
		default:
			if err := unix.FsconfigSetFlag(fsfd, key); err != nil {
				return fmt.Errorf("fsconfig %s: %w", o, err)
			}
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, mountAttrs(p.Flags))
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount to %s: %w", target, err)
	}
	return nil
}

// mountAttrs converts mount(2) flags to fsmount(2) attributes.
func mountAttrs(flags uintptr) int {
	var attrs int
	for _, f := range []struct {
		flag uintptr
		attr int
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
		{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
		{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME},
		{unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME},
		{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	} {
		if flags&f.flag != 0 {
			attrs |= f.attr
		}
	}
	return attrs
}

// mountOverlayRelative rewrites lowerdir, upperdir and workdir relative to
// their common parent and mounts from a thread whose working directory is
// that parent. The thread unshares its fs attributes first, so the chdir is
// invisible to the rest of the process, and is thrown away afterwards.
func (m Mount) mountOverlayRelative(target string, p Options) error {
	var dirs []string
	for _, o := range p.Data {
		key, value, _ := strings.Cut(o, "=")
		switch key {
		case "lowerdir":
			dirs = append(dirs, strings.Split(value, ":")...)
		case "upperdir", "workdir":
			dirs = append(dirs, value)
		}
	}
	base := commonDir(dirs)
	if base == "" || base == "/" {
		return fmt.Errorf("overlay options too long and layers share no parent: %w", errdefs.ErrInvalidArgument)
	}
	rel := func(dir string) (string, error) { return filepath.Rel(base, dir) }
	data := make([]string, 0, len(p.Data))
	for _, o := range p.Data {
		key, value, _ := strings.Cut(o, "=")
		switch key {
		case "lowerdir":
			var lowers []string
			for _, d := range strings.Split(value, ":") {
				r, err := rel(d)
				if err != nil {
					return fmt.Errorf("relative lowerdir %s: %w", d, err)
				}
				lowers = append(lowers, r)
			}
			data = append(data, "lowerdir="+strings.Join(lowers, ":"))
		case "upperdir", "workdir":
			r, err := rel(value)
			if err != nil {
				return fmt.Errorf("relative %s %s: %w", key, value, err)
			}
			data = append(data, key+"="+r)
		default:
			data = append(data, o)
		}
	}
	joined := strings.Join(data, ",")
	if len(joined) >= pageSize() {
		return fmt.Errorf("overlay options are %d bytes even with relative paths: %w", len(joined), errdefs.ErrInvalidArgument)
	}
	absTarget, err := filepath.Abs(target)
	if err != nil {
		return fmt.Errorf("absolute path of %s: %w", target, err)
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the goroutine exits with the thread locked, so
		// the runtime discards the thread and its private working directory.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare fs: %w", err)
			return
		}
		if err := unix.Chdir(base); err != nil {
			errc <- fmt.Errorf("chdir %s: %w", base, err)
			return
		}
		errc <- unix.Mount(m.Source, absTarget, m.Type, p.Flags, joined)
	}()
	return <-errc
}

// commonDir returns the longest directory that contains every one of the
// absolute paths dirs.
func commonDir(dirs []string) string {
	if len(dirs) == 0 {
		return ""
	}
	common := filepath.Dir(filepath.Clean(dirs[0]))
	for _, d := range dirs {
		d = filepath.Clean(d)
		if !filepath.IsAbs(d) {
			return ""
		}
		for common != "/" && d != common && !strings.HasPrefix(d, common+"/") {
			common = filepath.Dir(common)
		}
	}
	return common
}

// Unmount unmounts target with umount2(2) flags, retrying while the kernel
// reports it busy or the call is interrupted.
func Unmount(target string, flags int) error {
	var err error
	for range 50 {
		err = unix.Unmount(target, flags)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EINTR) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("unmount %s: %w", target, err)
}

// UnmountAll unmounts everything stacked on target, until target is not a
// mount point. A target that does not exist has nothing mounted on it.
func UnmountAll(target string) error {
	for {
		err := Unmount(target, 0)
		switch {
		case err == nil:
			continue
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		default:
			return err
		}
	}
}

// Mountpoints returns the mount points in this process's mount namespace
// that are dir or below it, from /proc/self/mountinfo, innermost last.
func Mountpoints(dir string) ([]string, error) {
	mounts, err := mountinfo.Self()
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, m := range mounts {
		if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m.Point)
		}
	}
	return out, nil
}
