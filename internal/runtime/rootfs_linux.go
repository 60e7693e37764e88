package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/mountinfo"
)

// fdPath names an open file for mount(2): the kernel follows the magic
// link to exactly the inode that was resolved inside the root, so a
// symlink swapped in later cannot redirect the mount.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// rootfsSetup prepares the container's mount namespace up to (not
// including) pivot_root.
type rootfsSetup struct {
	spec   *specs.Spec
	rootfs string
	bundle string
	root   *os.File // O_PATH handle of rootfs after it became a mount point
	userns bool
	// newMnt is false when the container shares the runtime's mount
	// namespace: its mounts then live under the rootfs on the host until
	// delete removes them, and chroot replaces pivot_root.
	newMnt bool
	// cgroupNS says the container has a cgroup namespace: a cgroup
	// filesystem mounted in it shows the container's own cgroup as its
	// root. Without one (Docker's default on cgroup v1) the container's
	// cgroup directories are bind-mounted instead, as runc does.
	cgroupNS bool
}

// setRootPropagation applies the spec's rootfsPropagation to the new root.
func setRootPropagation(p string) error {
	if p == "" {
		return nil
	}
	f, _ := mount.PropagationFlags(p)
	if err := unix.Mount("", "/", "", f, ""); err != nil {
		return fmt.Errorf("set rootfsPropagation %s: %w", p, err)
	}
	return nil
}

// chrootInto makes rootfs the process's root without pivot_root, for a
// container without a mount namespace of its own.
func chrootInto(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", rootfs, err)
	}
	return unix.Chdir("/")
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mounts, err := mountinfo.Self()
	if err != nil {
		return err
	}
	var errs []error
	for i := len(mounts) - 1; i >= 0; i-- {
		mp := mounts[i].Point
		if mp != dir && !strings.HasPrefix(mp, dir+"/") {
			continue
		}
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

func (r *rootfsSetup) prepare() error {
	if r.spec.Linux.RootfsPropagation != "" {
		if _, ok := mount.PropagationFlags(r.spec.Linux.RootfsPropagation); !ok {
			return fmt.Errorf("unknown rootfsPropagation %q", r.spec.Linux.RootfsPropagation)
		}
	}
	if r.newMnt {
		// Nothing mounted here may propagate back to the host. The
		// spec's rootfsPropagation applies to the new root after
		// pivot_root (see setRootPropagation); a shared parent would make
		// pivot_root fail.
		if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make / a slave mount: %w", err)
		}
	}
	// The rootfs must be a mount point for pivot_root.
	if err := unix.Mount(r.rootfs, r.rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount rootfs %s: %w", r.rootfs, err)
	}
	root, err := os.OpenFile(r.rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	r.root = root
	for _, m := range r.spec.Mounts {
		if err := r.mount(m); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.Source, m.Destination, err)
		}
	}
	if err := r.devices(); err != nil {
		return err
	}
	return nil
}

func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// target resolves dest inside the rootfs, creating a directory (or, for a
// bind mount of a file, an empty file) there, and returns an O_PATH handle.
func (r *rootfsSetup) target(dest string, dir bool) (*os.File, error) {
	// ".." cannot climb above the rootfs: clean it against "/" first.
	dest = filepath.Clean("/" + dest)
	if dir {
		return mkdirAllInRoot(r.root, dest)
	}
	if f, err := openInRoot(r.root, dest, 0); err == nil {
		return f, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	parent, err := mkdirAllInRoot(r.root, filepath.Dir(dest))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), filepath.Base(dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_WRONLY, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, err
	}
	if err == nil {
		unix.Close(fd)
	}
	return openInRoot(r.root, dest, 0)
}

// openInRoot opens p as an O_PATH handle, resolving every component
// (symlinks and "..") inside root, with the kernel's openat2
// RESOLVE_IN_ROOT; where openat2 is missing, filepath-securejoin does it
// in user space.
func openInRoot(root *os.File, p string, flags uint64) (*os.File, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | flags,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(int(root.Fd()), p, how)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ENOSYS) {
			return pathrs.OpenatInRoot(root, p)
		}
		if err != nil {
			return nil, &fs.PathError{Op: "openat2", Path: p, Err: err}
		}
		return os.NewFile(uintptr(fd), p), nil
	}
}

// mkdirAllInRoot creates directory p and its parents inside root and
// returns a handle of it. A component that exists as a dangling symlink
// is an error, not followed out of the root.
func mkdirAllInRoot(root *os.File, p string) (*os.File, error) {
	f, err := openInRoot(root, p, unix.O_DIRECTORY)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || p == "/" {
		return f, err
	}
	parent, err := mkdirAllInRoot(root, filepath.Dir(p))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	if err := unix.Mkdirat(int(parent.Fd()), filepath.Base(p), 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &fs.PathError{Op: "mkdir", Path: p, Err: err}
	}
	return openInRoot(root, p, unix.O_DIRECTORY)
}

func (r *rootfsSetup) mount(m specs.Mount) error {
	opts, err := mount.ParseOptions(m.Options)
	if err != nil {
		return err
	}
	if m.Type == "cgroup" {
		return r.mountCgroup(m, opts)
	}
	if isBind(m) {
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(r.bundle, src)
		}
		st, err := os.Stat(src)
		if err != nil {
			return err
		}
		tgt, err := r.target(m.Destination, st.IsDir())
		if err != nil {
			return err
		}
		defer tgt.Close()
		flags := uintptr(unix.MS_BIND)
		if opts.Recursive {
			flags |= unix.MS_REC
		}
		// The handle keeps naming the directory under the new mount, so
		// later steps use the resolved path (nothing in the container runs
		// yet that could swap it).
		dst, err := os.Readlink(fdPath(tgt))
		if err != nil {
			return err
		}
		if err := unix.Mount(src, fdPath(tgt), "", flags, ""); err != nil {
			return err
		}
		// Remount to apply the flags; a bind mount ignores them at first.
		// Keep the flags the kernel locks on the source (nodev, nosuid…).
		if opts.Flags&^unix.MS_REMOUNT != 0 {
			if err := remountBind(dst, opts.Flags&^unix.MS_REMOUNT); err != nil {
				return err
			}
		}
		return finishMount(dst, opts)
	}
	tgt, err := r.target(m.Destination, true)
	if err != nil {
		return err
	}
	defer tgt.Close()
	dst, err := os.Readlink(fdPath(tgt))
	if err != nil {
		return err
	}
	data := opts.DataString()
	err = unix.Mount(m.Source, fdPath(tgt), m.Type, opts.Flags, data)
	if err != nil && m.Type == "sysfs" && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) {
		// sysfs cannot be mounted in a user namespace that does not own
		// the network namespace: bind the host's, read-only.
		if err = unix.Mount("/sys", fdPath(tgt), "", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = remountBind(dst, opts.Flags|unix.MS_RDONLY)
		}
	}
	if err != nil && m.Type == "mqueue" && errors.Is(err, unix.EPERM) {
		if err = unix.Mount("/dev/mqueue", fdPath(tgt), "", unix.MS_BIND, ""); err == nil {
			err = remountBind(dst, opts.Flags)
		}
	}
	if err != nil {
		return err
	}
	return finishMount(dst, opts)
}

func finishMount(dst string, opts mount.Options) error {
	for _, p := range opts.Propagation {
		if err := unix.Mount("", dst, "", p, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	if opts.RecAttrSet != 0 || opts.RecAttrClr != 0 {
		attr := &unix.MountAttr{Attr_set: opts.RecAttrSet, Attr_clr: opts.RecAttrClr}
		if opts.RecAttrSet&unix.MOUNT_ATTR__ATIME != 0 || opts.RecAttrClr&unix.MOUNT_ATTR__ATIME != 0 {
			attr.Attr_clr |= unix.MOUNT_ATTR__ATIME
		}
		if err := unix.MountSetattr(unix.AT_FDCWD, dst, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("set recursive mount attributes: %w", err)
		}
	}
	return nil
}

// remountBind applies flags to a bind mount, keeping the ones the kernel
// locked on it (a user namespace cannot clear nodev, nosuid, noexec, ro or
// atime flags of a mount it did not create).
func remountBind(path string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	locked := uintptr(st.Flags) & (unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	if err := unix.Mount("", path, "", unix.MS_REMOUNT|unix.MS_BIND|flags|locked, ""); err != nil {
		return fmt.Errorf("remount %s: %w", path, err)
	}
	return nil
}

// mountCgroup mounts the container's view of the cgroup hierarchy: the
// cgroup2 filesystem on a unified host, or a tmpfs with one cgroup v1
// mount per hierarchy on a legacy or hybrid host.
func (r *rootfsSetup) mountCgroup(m specs.Mount, opts mount.Options) error {
	tgt, err := r.target(m.Destination, true)
	if err != nil {
		return err
	}
	defer tgt.Close()
	dst, err := os.Readlink(fdPath(tgt))
	if err != nil {
		return err
	}
	flags := opts.Flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	hier, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	if len(hier) == 1 && hier[0].fstype == "cgroup2" && hier[0].mountpoint == "/sys/fs/cgroup" {
		return unix.Mount("cgroup2", fdPath(tgt), "cgroup2", flags, "")
	}
	if err := unix.Mount("tmpfs", fdPath(tgt), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return err
	}
	// Reopen: tgt names the directory under the tmpfs.
	tgt, err = os.OpenFile(dst, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer tgt.Close()
	for _, h := range hier {
		name := filepath.Base(h.mountpoint)
		sub, err := r.target(filepath.Join(m.Destination, name), true)
		if err != nil {
			return err
		}
		switch {
		case !r.cgroupNS:
			err = bindOwnCgroup(h, fdPath(sub), filepath.Join(dst, name), flags)
		case h.fstype == "cgroup2":
			err = unix.Mount("cgroup2", fdPath(sub), "cgroup2", flags, "")
		default:
			err = unix.Mount("cgroup", fdPath(sub), "cgroup", flags, h.options)
		}
		sub.Close()
		if err != nil {
			return fmt.Errorf("mount cgroup %s: %w", name, err)
		}
		// Co-mounted controllers (cpu,cpuacct) also get a name each.
		if strings.Contains(name, ",") {
			for _, alias := range strings.Split(name, ",") {
				_ = unix.Symlinkat(name, int(tgt.Fd()), alias)
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return remountBind(dst, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
	}
	return nil
}

type cgroupHier struct {
	mountpoint, fstype, options string
}

// bindOwnCgroup bind-mounts this process's cgroup directory of hierarchy
// h (init has joined the container's cgroup by now) at target.
func bindOwnCgroup(h cgroupHier, target, path string, flags uintptr) error {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	own := ownCgroup(h, string(data))
	if own == "" {
		return fmt.Errorf("no cgroup of this process in %s", h.mountpoint)
	}
	if err := unix.Mount(filepath.Join(h.mountpoint, own), target, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	// The O_PATH target names the directory under the new mount: the
	// remount goes through the path, which now names the mount.
	return remountBind(path, flags)
}

// cgroupHierarchies lists the host's cgroup mounts under /sys/fs/cgroup
// with the options (controllers, name=) to mount each again.
func cgroupHierarchies() ([]cgroupHier, error) {
	mounts, err := mountinfo.Self()
	if err != nil {
		return nil, err
	}
	var out []cgroupHier
	seen := map[string]bool{}
	for _, m := range mounts {
		if (m.FSType != "cgroup" && m.FSType != "cgroup2") || !strings.HasPrefix(m.Point, "/sys/fs/cgroup") || seen[m.Point] {
			continue
		}
		seen[m.Point] = true
		var keep []string
		for _, o := range m.Super {
			if o != "rw" && o != "ro" {
				keep = append(keep, o)
			}
		}
		out = append(out, cgroupHier{mountpoint: m.Point, fstype: m.FSType, options: strings.Join(keep, ",")})
	}
	return out, nil
}

var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// devices creates the default device nodes and the spec's devices, and
// the /dev symlinks every Linux program expects.
func (r *rootfsSetup) devices() error {
	mode := os.FileMode(0o666)
	all := make([]specs.LinuxDevice, 0, len(defaultDevices)+len(r.spec.Linux.Devices))
	specDevs := map[string]bool{}
	for _, d := range r.spec.Linux.Devices {
		specDevs[filepath.Clean(d.Path)] = true
	}
	for _, d := range defaultDevices {
		if !specDevs[d.Path] {
			d.FileMode = &mode
			all = append(all, d)
		}
	}
	all = append(all, r.spec.Linux.Devices...)
	// Only populate /dev when the spec gives the container its own /dev.
	ownDev := false
	for _, m := range r.spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev" {
			ownDev = true
		}
	}
	for _, d := range all {
		if !ownDev && !specDevs[filepath.Clean(d.Path)] {
			continue
		}
		if err := r.device(d); err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
	}
	if !ownDev {
		return nil
	}
	_, err := os.Stat("/proc/kcore")
	links := devSymlinks(err == nil)
	devDir, err := openInRoot(r.root, "/dev", unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer devDir.Close()
	for _, l := range links {
		if err := unix.Symlinkat(l[0], int(devDir.Fd()), filepath.Base(l[1])); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	// /dev/ptmx points into the container's own devpts instance.
	if _, err := os.Lstat(filepath.Join(r.rootfs, "dev/pts/ptmx")); err == nil {
		_ = unix.Unlinkat(int(devDir.Fd()), "ptmx", 0)
		if err := unix.Symlinkat("pts/ptmx", int(devDir.Fd()), "ptmx"); err != nil {
			return fmt.Errorf("symlink /dev/ptmx: %w", err)
		}
	}
	return nil
}

// devSymlinks are the symlinks (target, link) made in a container's own
// /dev. /dev/core is made only when the host has /proc/kcore (the kernel
// may be built without CONFIG_PROC_KCORE), as runc does.
// deviceNode is the file type, permissions and owner of d's node.
func deviceNode(d specs.LinuxDevice) (typ, perm, uid, gid uint32) {
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	}
	perm = 0o666
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	if d.UID != nil {
		uid = *d.UID
	}
	if d.GID != nil {
		gid = *d.GID
	}
	return typ, perm, uid, gid
}

func devSymlinks(kcore bool) [][2]string {
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	}
	if kcore {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	return links
}

func (r *rootfsSetup) device(d specs.LinuxDevice) error {
	parent, err := mkdirAllInRoot(r.root, filepath.Clean("/"+filepath.Dir(d.Path)))
	if err != nil {
		return err
	}
	defer parent.Close()
	base := filepath.Base(d.Path)
	typ, perm, uid, gid := deviceNode(d)
	_ = unix.Unlinkat(int(parent.Fd()), base, 0)
	if !r.userns {
		dev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
		if err := unix.Mknodat(int(parent.Fd()), base, typ|perm, int(dev)); err != nil {
			return err
		}
		// mknod's mode is filtered by the umask; set it exactly.
		if err := unix.Fchmodat(int(parent.Fd()), base, perm, 0); err != nil {
			return err
		}
		return unix.Fchownat(int(parent.Fd()), base, int(uid), int(gid), unix.AT_SYMLINK_NOFOLLOW)
	}
	// In a user namespace mknod is refused: bind the host's node.
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	unix.Close(fd)
	tgt, err := openInRoot(r.root, d.Path, 0)
	if err != nil {
		return err
	}
	defer tgt.Close()
	return unix.Mount(d.Path, fdPath(tgt), "", unix.MS_BIND, "")
}

// pivotRoot makes rootfs the process's root and detaches the old root.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		if errors.Is(err, unix.EINVAL) {
			// pivot_root cannot work from an initramfs root; fall back
			// to moving the rootfs over / and chroot into it.
			return chrootFallback(rootfs)
		}
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	// Don't let the unmount reach the host through shared propagation.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	return unix.Chdir("/")
}

func chrootFallback(rootfs string) error {
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

// maskPaths hides paths from the container: /dev/null over files, an
// empty read-only tmpfs over directories. Runs after pivot_root.
func maskPaths(paths []string) error {
	for _, p := range paths {
		st, err := os.Lstat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("mask %s: %w", p, err)
		}
		if st.IsDir() {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0k")
		} else {
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

// readonlyPaths bind-mounts each path read-only over itself.
func readonlyPaths(paths []string) error {
	for _, p := range paths {
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("readonly %s: %w", p, err)
		}
		if err := remountBind(p, unix.MS_RDONLY); err != nil {
			return fmt.Errorf("readonly %s: %w", p, err)
		}
	}
	return nil
}

func writeSysctls(sysctls map[string]string) error {
	for k, v := range sysctls {
		if strings.Contains(k, "..") || strings.Contains(k, "/../") {
			return fmt.Errorf("invalid sysctl %q", k)
		}
		p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}
