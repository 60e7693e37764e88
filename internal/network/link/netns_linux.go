package link

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	goruntime "runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// NewNetNS makes a fresh network namespace, bound at path, with its lo up.
// The file is created if missing (its directory must exist). A path that
// already holds a namespace is an ErrAlreadyExists error; on any other
// failure nothing is left at path.
func NewNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file %s: %w", path, err)
	}
	var st unix.Statfs_t
	err = unix.Fstatfs(int(f.Fd()), &st)
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("stat netns file %s: %w", path, err)
	}
	if st.Type == unix.NSFS_MAGIC {
		return fmt.Errorf("netns file %s: %w", path, errdefs.ErrAlreadyExists)
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends up in the new namespace, and Go
		// discards a thread whose goroutine exits while locked.
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare network namespace: %w", err)
			return
		}
		if err := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind network namespace to %s: %w", path, err)
			return
		}
		if err := loUp(); err != nil {
			_ = unix.Unmount(path, unix.MNT_DETACH)
			errc <- err
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// loUp brings up lo in the calling thread's namespace.
func loUp() error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	return setLoUp(h)
}

func setLoUp(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if lo.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// DeleteNetNS unbinds the namespace at path (lazily: it lives on while
// something still holds it) and removes the file. A missing file is not
// an error.
func DeleteNetNS(path string) error {
	// A file may carry several stacked binds; peel them all.
	for range 16 {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if err == nil {
			continue
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		return fmt.Errorf("unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove netns file %s: %w", path, err)
	}
	return nil
}

// InNetNS runs fn on a locked thread that has entered the network
// namespace at path and returns fn's error. The thread is discarded
// afterwards, never handed back to Go in the wrong namespace. Sockets fn
// opens stay in that namespace after it returns; goroutines fn starts do
// not run in it.
func InNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("in netns %s: panic: %v", path, r)
			}
		}()
		f, err := os.Open(path)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", path, err)
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		_ = f.Close()
		if err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
