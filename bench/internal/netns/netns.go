// Package netns makes the network namespaces a benchmark runs its engines
// in: each bound at a file (in the benchmark's private mount namespace),
// entered with `nsenter --net=FILE`, its inode recorded so the outer
// stage can check that no process is left in one.
package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/bench/internal/mounts"
	"github.com/shoal-dev/shoal/bench/internal/proc"
	"golang.org/x/sys/unix"
)

// NS is a network namespace the benchmark made: a file it is bound at,
// entered with `nsenter --net=FILE`.
type NS struct {
	Path  string
	Inode uint64
}

// InodesFile is the file in a run's temp dir that lists the inode of every
// network namespace New made, one a line, for the outer stage's final
// check (LeftIn).
const InodesFile = "netns.inodes"

// New makes a fresh network namespace with its loopback up, binds it at
// tmp/netns/name and appends its inode to tmp/InodesFile.
// It runs on a thread of its own that unshares its network namespace and
// is never unlocked, so Go discards the thread when the goroutine ends
// and no other goroutine ever runs in the new namespace.
func New(tmp, name string) (*NS, error) {
	dir := filepath.Join(tmp, "netns")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	if err := mounts.CheckPrivate(dir); err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", name, err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: see above.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare net: %w", err)
			return
		}
		if err := linkUp("lo"); err != nil {
			errc <- err
			return
		}
		errc <- unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("network namespace %s: %w", name, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, err
	}
	ns := &NS{Path: path, Inode: st.Ino}
	f, err := os.OpenFile(filepath.Join(tmp, InodesFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%d %s\n", ns.Inode, name)
	return ns, err
}

// linkUp sets IFF_UP on an interface of the calling thread's network
// namespace.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// Remove unbinds the namespace; it dies once no process is left in it.
func (ns *NS) Remove() error {
	if err := unix.Unmount(ns.Path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", ns.Path, err)
	}
	if err := os.Remove(ns.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// LeftIn is Left for the namespaces New recorded in tmp.
func LeftIn(tmp string) []string {
	b, _ := os.ReadFile(filepath.Join(tmp, InodesFile))
	return Left(string(b))
}

// Left lists the processes (in any pid namespace visible here) that are
// still in one of the network namespaces listed in inodes (the contents
// of the file New appends to).
func Left(inodes string) []string {
	want := map[string]string{}
	for _, l := range strings.Split(inodes, "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			want["net:["+f[0]+"]"] = f[1]
		}
	}
	if len(want) == 0 {
		return nil
	}
	var left []string
	for _, p := range proc.List() {
		link, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/ns/net")
		if err != nil {
			continue
		}
		if name, ok := want[link]; ok {
			left = append(left, fmt.Sprintf("process %d (%s) in the run's network namespace %s", p.PID, p.Comm, name))
		}
	}
	return left
}
