package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Process is what a benchmark reads of one process.
type Process struct {
	PID, PPID int
	// State is the state letter of /proc/PID/stat ('R', 'S', 'Z', ...).
	State byte
	Comm  string
	Argv  []string
}

// List returns every process that could be read.
func List() []Process {
	ents, _ := os.ReadDir("/proc")
	var out []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := Read(pid)
		if err != nil {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Read reads one process.
func Read(pid int) (Process, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Process{}, err
	}
	return parseStat(pid, stat)
}

// parseStat parses /proc/PID/stat: "pid (comm) state ppid ..."; comm may
// hold spaces and parentheses.
func parseStat(pid int, stat []byte) (Process, error) {
	open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || close < open {
		return Process{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	rest := strings.Fields(string(stat[close+1:]))
	if len(rest) < 2 {
		return Process{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	ppid, _ := strconv.Atoi(rest[1])
	p := Process{PID: pid, PPID: ppid, State: rest[0][0], Comm: string(stat[open+1 : close])}
	if cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(cl) > 0 {
		p.Argv = strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	}
	return p, nil
}

// NamesPath tells whether any argument of p is path or contains path+"/"
// (-address /x/y/containerd.sock, unix:///x/y.sock, --root=/x/y).
func (p Process) NamesPath(path string) bool {
	for _, a := range p.Argv {
		if a == path || strings.Contains(a, path+"/") || strings.HasSuffix(a, "="+path) {
			return true
		}
	}
	return false
}

// Descendants returns the pids below root in the process tree all.
func Descendants(root int, all []Process) []int {
	children := map[int][]int{}
	for _, p := range all {
		children[p.PPID] = append(children[p.PPID], p.PID)
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

// KillDescendants SIGKILLs every process below root (except those in
// keep) until there are none (for at most 20 s), reaping what is
// reparented to the caller, and returns how many it killed. Only for the
// end of a run: it may reap any child of the caller's but those in keep.
func KillDescendants(root int, keep map[int]bool) int {
	killed := map[int]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var live []int
		for _, pid := range Descendants(root, List()) {
			if keep[pid] {
				continue
			}
			if p, err := Read(pid); err == nil && p.State != 'Z' {
				live = append(live, pid)
			}
		}
		for _, pid := range live {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed[pid] = true
		}
		ReapZombies(keep)
		if len(live) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return len(killed)
}

// KillNaming SIGKILLs every live process but the caller that names path
// in its argv (see NamesPath), then reaps, and returns how many it killed.
func KillNaming(path string) int {
	n := 0
	for _, p := range List() {
		if p.PID != os.Getpid() && p.State != 'Z' && p.NamesPath(path) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			n++
		}
	}
	if n > 0 {
		time.Sleep(100 * time.Millisecond)
		ReapZombies(nil)
	}
	return n
}

// ReapZombies reaps the caller's exited children (zombies whose parent it
// is) except those in keep, by pid, and returns how many it reaped.
func ReapZombies(keep map[int]bool) int {
	n := 0
	self := os.Getpid()
	for _, p := range List() {
		if p.PPID != self || p.State != 'Z' || keep[p.PID] {
			continue
		}
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(p.PID, &ws, unix.WNOHANG, nil); err == nil && pid == p.PID {
			n++
		}
	}
	return n
}

// Mem reads a process's PSS and RSS in KiB from smaps_rollup.
func Mem(pid int) (pss, rss int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	pss, rss = parseSmapsRollup(string(data))
	return pss, rss, nil
}

func parseSmapsRollup(data string) (pss, rss int64) {
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Pss:":
			pss = v
		case "Rss:":
			rss = v
		}
	}
	return pss, rss
}

// PIDNamespace names a process's pid namespace ("pid:[4026531836]"), ""
// if it cannot be read.
func PIDNamespace(pid int) string {
	s, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	return s
}

// HasCap tells whether the calling process has capability c (unix.CAP_*)
// in its effective set.
func HasCap(c int) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && m&(1<<uint(c)) != 0
		}
	}
	return false
}
