// The process, cgroup and mount helpers in this file are copies of
// bench/daemon-run/sys.go (a later refactor will share them).

package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const busyboxPath = "/bin/busybox"

func isStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("not statically linked")
		}
	}
	return nil
}

// hideUnifiedCgroup mounts a tmpfs over /sys/fs/cgroup/unified on a
// hybrid host (cgroup v1 plus a cgroup2 mount there), which Debian's crun
// 1.8.1 refuses (podman runs its containers with it too). It runs in the
// private mount namespace, so only the benchmark sees it, and every engine
// and runtime runs under it alike.
func hideUnifiedCgroup() (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return "", fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "cgroup v2 (unified): nothing to hide", nil
	}
	const unified = "/sys/fs/cgroup/unified"
	if err := unix.Statfs(unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "cgroup v1 only: nothing to hide", nil
	}
	if err := checkPrivateMountNS(unified); err != nil {
		return "", err
	}
	if err := unix.Mount("shoal-bench", unified, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return "", fmt.Errorf("mount tmpfs over %s: %w", unified, err)
	}
	return "hybrid (cgroup v1 + cgroup2 at " + unified + "); a tmpfs hides " + unified +
		" in the benchmark's private mount namespace (Debian's crun 1.8.1 refuses the hybrid layout), so every engine and runtime sees cgroup v1 only", nil
}

// checkPrivateMountNS makes sure a mount on path cannot leak to the host:
// we are in a mount namespace of our own and path's mount is not shared.
func checkPrivateMountNS(path string) error {
	self, err1 := os.Readlink("/proc/self/ns/mnt")
	parent, err2 := os.Readlink("/proc/" + strconv.Itoa(os.Getppid()) + "/ns/mnt")
	if err1 != nil || err2 != nil || self == parent {
		return errors.New("refusing to mount: not in a private mount namespace")
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 6 && fields[4] == path {
			for _, opt := range fields[6:] {
				if opt == "-" {
					break
				}
				if strings.HasPrefix(opt, "shared:") {
					return fmt.Errorf("refusing to mount: %s is a shared mount", path)
				}
			}
		}
	}
	return nil
}

// cgroupHierarchies returns the mount points of every cgroup hierarchy
// (in the calling process's mount namespace).
func cgroupHierarchies() []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && (fields[i+1] == "cgroup" || fields[i+1] == "cgroup2") {
				dirs = append(dirs, fields[4])
			}
		}
	}
	return dirs
}

// runCgroups lists this run's cgroups (shoal-bench-<token>-*) in every
// hierarchy, and on the tmpfs that hides the cgroup2 mount.
func runCgroups(token string) []string {
	var dirs []string
	for _, h := range append(cgroupHierarchies(), "/sys/fs/cgroup/unified") {
		m, _ := filepath.Glob(filepath.Join(h, tmpPrefix+token+"-*"))
		for _, d := range m {
			if !contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// removeCgroups kills whatever is left in this run's cgroups and removes
// them.
func removeCgroups(token string) error {
	var errs []error
	for _, d := range runCgroups(token) {
		if err := removeCgroupTree(d, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroupTree removes a cgroup and its children, children first;
// with kill it first kills the processes in each.
func removeCgroupTree(root string, kill bool) error {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err == nil && st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		// crun writes into the tmpfs that hides the cgroup2 mount.
		return os.RemoveAll(root)
	}
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	var errs []error
	for _, d := range dirs {
		var err error
		for try := 0; try < 50; try++ {
			if kill {
				killCgroupProcs(d)
			}
			if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			if !kill {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

func killCgroupProcs(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeTree detaches any mount below dir, then removes it.
func removeTree(dir string) error {
	unmountUnder(dir)
	return os.RemoveAll(dir)
}

func unmountUnder(dir string) {
	for _, mp := range mountsUnder(dir) {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			logf("umount %s: %v", mp, err)
		}
	}
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var mps []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) > 4 && (fs[4] == dir || strings.HasPrefix(fs[4], dir+"/")) {
			mps = append(mps, fs[4])
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps
}

// proc is what the benchmark reads of one process.
type proc struct {
	pid, ppid int
	state     byte
	comm      string
	argv      []string
}

// procs lists every process.
func procs() []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := readProc(pid)
		if err != nil {
			continue
		}
		out = append(out, p)
	}
	return out
}

func readProc(pid int) (proc, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, err
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || close < open {
		return proc{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	rest := strings.Fields(string(stat[close+1:]))
	if len(rest) < 2 {
		return proc{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	ppid, _ := strconv.Atoi(rest[1])
	p := proc{pid: pid, ppid: ppid, state: rest[0][0], comm: string(stat[open+1 : close])}
	if cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(cl) > 0 {
		p.argv = strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	}
	return p, nil
}

// namesPath tells whether any argument of p is path or contains path+"/"
// (-address /x/y/containerd.sock, unix:///x/y.sock, --root=/x/y).
func (p proc) namesPath(path string) bool {
	for _, a := range p.argv {
		if a == path || strings.Contains(a, path+"/") || strings.HasSuffix(a, "="+path) {
			return true
		}
	}
	return false
}

// descendants returns the pids below root in the process tree.
func descendants(root int, all []proc) []int {
	children := map[int][]int{}
	for _, p := range all {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []int
	var walk func(int)
	walk = func(pid int) {
		for _, c := range children[pid] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(root)
	return out
}

// killDescendants SIGKILLs every process below root (except those in
// keep) until there are none, reaping what is reparented to us, and
// returns how many it killed. Only for the end of a run: it may reap any
// child.
func killDescendants(root int, keep map[int]bool) int {
	killed := map[int]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var live []int
		for _, pid := range descendants(root, procs()) {
			if keep[pid] {
				continue
			}
			if p, err := readProc(pid); err == nil && p.state != 'Z' {
				live = append(live, pid)
			}
		}
		for _, pid := range live {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed[pid] = true
		}
		reapAll(keep)
		if len(live) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return len(killed)
}

// killByArg SIGKILLs every process that names path in its argv (the
// daemons and their helpers all do), but for this one.
func killByArg(path string) int {
	n := 0
	for _, p := range procs() {
		if p.pid != os.Getpid() && p.state != 'Z' && p.namesPath(path) {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			n++
		}
	}
	if n > 0 {
		time.Sleep(100 * time.Millisecond)
		reapAll(nil)
	}
	return n
}

// reapAll reaps our exited children (zombies whose parent we are) except
// those in keep, by pid: os/exec's Wait of a command that is still
// running is never robbed of its status. It returns how many it reaped.
func reapAll(keep map[int]bool) int {
	n := 0
	self := os.Getpid()
	for _, p := range procs() {
		if p.ppid != self || p.state != 'Z' || keep[p.pid] {
			continue
		}
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(p.pid, &ws, unix.WNOHANG, nil); err == nil && pid == p.pid {
			n++
		}
	}
	return n
}

// leftovers lists what of this run is still there: processes naming the
// temp dir, cgroups and mounts.
func leftovers(tmp, token string) []string {
	var left []string
	for _, p := range procs() {
		if p.pid != os.Getpid() && p.namesPath(tmp) {
			left = append(left, fmt.Sprintf("process %d (%s): %s", p.pid, p.comm, strings.Join(p.argv, " ")))
		}
	}
	for _, d := range runCgroups(token) {
		left = append(left, "cgroup "+d)
	}
	for _, m := range mountsUnder(tmp) {
		left = append(left, "mount "+m)
	}
	return left
}

// runDirs are directories outside the temp dir that dockerd's containerd
// and its shims make whatever their state directories (shims put their
// sockets in /run/containerd/s). Children first.
var runDirs = []string{"/run/containerd/s", "/run/containerd", "/run/docker/plugins", "/run/docker"}

// runDirsBefore returns those of runDirs that do not exist yet.
func runDirsBefore() []string {
	var missing []string
	for _, d := range runDirs {
		if _, err := os.Stat(d); err != nil {
			missing = append(missing, d)
		}
	}
	return missing
}

// removeRunDirs removes the directories of created (from runDirsBefore)
// if they are empty: another containerd may have started to use them.
func removeRunDirs(created []string) {
	for _, d := range created {
		_ = unix.Rmdir(d)
	}
}
