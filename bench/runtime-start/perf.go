package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/bench/internal/stats"
)

// perfEvents are the tracepoints recorded by -perf: cheap (a few µs each),
// so, unlike strace, they leave the timing nearly intact.
var perfEvents = []string{
	"sched:sched_process_fork",
	"sched:sched_process_exec",
	"sched:sched_process_exit",
	"syscalls:sys_enter_clone",
	"syscalls:sys_enter_unshare",
	"syscalls:sys_enter_setns",
	"syscalls:sys_enter_pivot_root",
	"syscalls:sys_enter_mount",
	"syscalls:sys_enter_move_mount",
	"syscalls:sys_enter_open_tree",
	"syscalls:sys_enter_fsmount",
	"syscalls:sys_enter_mount_setattr",
	"syscalls:sys_enter_umount",
}

// perfMilestones runs `run` of every runtime -perf-n times under
// `perf record` with process and namespace tracepoints and prints, per
// runtime, the median time of each milestone (execs, unshare, pivot_root,
// process exits) from the exec of the runtime binary.
func (b *bench) perfMilestones(ctx context.Context) error {
	perf, err := exec.LookPath("perf")
	if err != nil {
		return err
	}
	dir := filepath.Join(b.tmp, "perf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	o := b.opts
	fmt.Printf("\n== milestones of `run` from perf tracepoints, ms after exec of the runtime, median of %d runs ==\n", o.perfN)
	fmt.Println("(perf record -e " + strings.Join(perfEvents, ",") + ")")
	type point struct {
		label string
		ms    []float64
	}
	all := map[string]map[string]*point{}
	tasks := map[string][]float64{}
	mounts := map[string]map[string]int{}
	for k := -1; k < o.perfN; k++ { // one warm-up round
		for j := range b.runners {
			r := b.runners[(k+1+j)%len(b.runners)]
			iter := "p" + strconv.Itoa(k+1)
			data := filepath.Join(dir, r.name+".data")
			pts, ntasks, nm, err := b.perfRun(ctx, perf, r, iter, data)
			if err != nil {
				return err
			}
			if k < 0 {
				continue
			}
			if all[r.name] == nil {
				all[r.name] = map[string]*point{}
			}
			for label, t := range pts {
				p := all[r.name][label]
				if p == nil {
					p = &point{label: label}
					all[r.name][label] = p
				}
				p.ms = append(p.ms, t)
			}
			tasks[r.name] = append(tasks[r.name], float64(ntasks))
			mounts[r.name] = nm
		}
	}
	for _, r := range b.runners {
		var ps []*point
		for _, p := range all[r.name] {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool {
			mi, mj := stats.Median(ps[i].ms), stats.Median(ps[j].ms)
			return mi < mj || mi == mj && ps[i].label < ps[j].label
		})
		var mc []string
		for comm, n := range mounts[r.name] {
			mc = append(mc, fmt.Sprintf("%s %d", comm, n))
		}
		sort.Strings(mc)
		fmt.Printf("\n%s (tasks created per run, threads included: %.0f; mount-family calls: %s)\n",
			r.name, stats.Median(tasks[r.name]), strings.Join(mc, ", "))
		prev := 0.0
		for _, p := range ps {
			m := stats.Median(p.ms)
			seen := ""
			if len(p.ms) != o.perfN {
				seen = fmt.Sprintf("  (in %d of %d runs)", len(p.ms), o.perfN)
			}
			fmt.Printf("  %8.2f  %+7.2f  %s%s\n", m, m-prev, p.label, seen)
			prev = m
		}
	}
	return nil
}

var perfLine = regexp.MustCompile(`^\s*(.*?)\s+(\d+)/(\d+)\s+(\d+\.\d+):\s+(\S+):\s*(.*)$`)

// perfRun records one `run` and returns milestone label → ms after the
// runtime's exec, the number of tasks created and of mount-family calls
// per command name.
func (b *bench) perfRun(ctx context.Context, perf string, r *runner, iter, data string) (map[string]float64, int, map[string]int, error) {
	id := containerID(b.token, r.name, iter)
	if r.name != "bare" {
		if err := b.writeConfig(r.name, iter); err != nil {
			return nil, 0, nil, err
		}
	}
	args := append([]string{"record", "-q", "-o", data, "-e", strings.Join(perfEvents, ","), "--", r.bin},
		r.argv("run", "--bundle", b.bundle, id)...)
	c, logf, err := r.command(ctx, perf, args...)
	if err != nil {
		return nil, 0, nil, err
	}
	_, err = r.exec(c, logf)
	b.orphans[r.name] += reapOrphans()
	if err != nil {
		if r.name != "bare" {
			r.forceDelete(id)
		}
		return nil, 0, nil, err
	}
	out, err := exec.CommandContext(ctx, perf, "script", "-i", data, "-F", "comm,tid,pid,time,event,trace").Output()
	if err != nil {
		return nil, 0, nil, fmt.Errorf("perf script: %w", err)
	}
	pts := map[string]float64{}
	seen := map[string]int{}
	var t0 float64
	root := -1
	ntasks := 0
	nmounts := map[string]int{}
	execd := map[int]bool{}
	type mounts struct {
		comm        string
		first, last float64
		n           int
	}
	mnt := map[int]*mounts{}
	mark := func(label string, ts float64) {
		seen[label]++
		if seen[label] > 1 {
			label += " #" + strconv.Itoa(seen[label])
		}
		pts[label] = (ts - t0) * 1000
	}
	for _, line := range strings.Split(string(out), "\n") {
		m := perfLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		comm, pid, ts, ev, trace := m[1], m[2], m[4], m[5], m[6]
		t, _ := strconv.ParseFloat(ts, 64)
		p, _ := strconv.Atoi(pid)
		if root < 0 {
			// The first event is perf's own exec of the runtime.
			if ev != "sched:sched_process_exec" {
				continue
			}
			root, t0 = p, t
		}
		switch ev {
		case "sched:sched_process_exec":
			execd[p] = true
			fn := field(trace, "filename")
			if p == root && len(pts) == 0 {
				mark("exec "+fn+" (runtime starts)", t)
			} else {
				mark("exec "+fn, t)
			}
		case "sched:sched_process_fork":
			ntasks++
		case "sched:sched_process_exit":
			if field(trace, "group_dead") != "true" {
				continue
			}
			switch {
			case p == root:
				mark("runtime exits", t)
			case !execd[p]:
				mark("exit "+comm+" (forked, never exec'd)", t)
			default:
				mark("exit "+comm, t)
			}
		case "syscalls:sys_enter_clone":
			// Only clones that create namespaces (crun's container).
			if ns := nsNames(trace); ns != "" && ns != trace {
				mark(comm+": clone "+ns, t)
			}
		case "syscalls:sys_enter_unshare":
			mark(comm+": unshare "+nsNames(trace), t)
		case "syscalls:sys_enter_setns":
			mark(comm+": setns", t)
		case "syscalls:sys_enter_pivot_root":
			mark(comm+": pivot_root", t)
		case "syscalls:sys_enter_mount", "syscalls:sys_enter_move_mount", "syscalls:sys_enter_open_tree",
			"syscalls:sys_enter_fsmount", "syscalls:sys_enter_mount_setattr", "syscalls:sys_enter_umount":
			m := mnt[p]
			if m == nil {
				m = &mounts{comm: comm, first: t}
				mnt[p] = m
			}
			m.last = t
			m.n++
		}
	}
	var byFirst []*mounts
	for _, m := range mnt {
		byFirst = append(byFirst, m)
	}
	sort.Slice(byFirst, func(i, j int) bool { return byFirst[i].first < byFirst[j].first })
	for _, m := range byFirst {
		if m.n == 1 {
			mark(m.comm+": mount call", m.first)
		} else {
			mark(m.comm+": first mount call", m.first)
			mark(m.comm+": last mount call", m.last)
		}
		nmounts[m.comm] += m.n
	}
	if root < 0 {
		return nil, 0, nil, fmt.Errorf("perf script for %s: no exec event", r.name)
	}
	return pts, ntasks, nmounts, nil
}

func field(trace, key string) string {
	for _, f := range strings.Fields(trace) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// nsNames decodes "unshare_flags: 0x6c020000".
func nsNames(trace string) string {
	i := strings.Index(trace, "0x")
	if i < 0 {
		return trace
	}
	v, err := strconv.ParseUint(strings.TrimRight(strings.Fields(trace[i:])[0], ","), 0, 64)
	if err != nil {
		return trace
	}
	var names []string
	for _, f := range []struct {
		bit  uint64
		name string
	}{
		{0x00020000, "mnt"}, {0x02000000, "cgroup"}, {0x04000000, "uts"}, {0x08000000, "ipc"},
		{0x10000000, "user"}, {0x20000000, "pid"}, {0x40000000, "net"}, {0x00000080, "time"},
	} {
		if v&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, ",")
}
