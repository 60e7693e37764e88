package main

import (
	"bufio"
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

// straceRun runs one `run` of r under `strace -f -ttt` (untimed: strace
// slows everything down several times) and prints a condensed process
// timeline and syscall counts. The full trace stays in the temp dir (-keep).
func (b *bench) straceRun(ctx context.Context, r *runner) error {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return err
	}
	dir := filepath.Join(b.tmp, "strace")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out := filepath.Join(dir, r.name+".txt")
	iter := "strace"
	if err := b.writeConfig(r.name, iter); err != nil {
		return err
	}
	id := containerID(b.token, r.name, iter)
	args := append([]string{"-f", "-ttt", "-o", out, "--", r.bin}, r.argv("run", "--bundle", b.bundle, id)...)
	c, logf, err := r.command(ctx, strace, args...)
	if err != nil {
		return err
	}
	s, err := r.exec(c, logf)
	b.orphans[r.name] += reapOrphans()
	if err != nil {
		r.forceDelete(id)
		return err
	}
	where := "pass -keep to keep the trace"
	if b.opts.keep {
		where = "trace: " + out
	}
	fmt.Printf("\n== strace -f -ttt of one `%s run` (%.1f ms under strace; %s) ==\n", r.name, stats.Millis(s.wall), where)
	return summarizeStrace(out)
}

var (
	straceLine = regexp.MustCompile(`^(\d+)\s+(\d+\.\d+)\s+(.*)$`)
	callName   = regexp.MustCompile(`^([a-z_0-9]+)\(`)
	resumed    = regexp.MustCompile(`^<\.\.\. ([a-z_0-9]+) resumed>`)
	retval     = regexp.MustCompile(`\)\s+= (-?\d+|\?)`)
	nsFlags    = regexp.MustCompile(`CLONE_NEW[A-Z]+`)
	firstArg   = regexp.MustCompile(`^[a-z_0-9]+\((?:AT_FDCWD, |(\d+), )?"([^"]*)"`)
)

type straceEvent struct {
	ts   float64
	pid  int // thread id until printed
	text string
	exit bool
}

func summarizeStrace(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var (
		t0       float64
		events   []straceEvent
		counts   = map[string]int{}
		procs    = map[int]bool{}
		threads  int
		total    int
		pending  = map[int]string{} // pid -> first line of an unfinished call
		lastTS   float64
		mountsBy = map[int]int{}
	)
	// Events are shown per process (thread group), not per thread.
	tgid := map[int]int{}
	tgidOf := func(tid int) int {
		if g, ok := tgid[tid]; ok {
			return g
		}
		return tid
	}
	add := func(ts float64, tid int, format string, a ...any) {
		events = append(events, straceEvent{ts: ts, pid: tid, text: fmt.Sprintf(format, a...)})
	}
	// complete handles a finished call: the text of its start and its result.
	complete := func(ts float64, pid int, name, start, ret string) {
		switch name {
		case "execve", "execveat":
			if ret == "0" {
				prog := "?"
				if m := firstArg.FindStringSubmatch(start); m != nil {
					prog = m[2]
					if prog == "" && m[1] != "" {
						prog = "fd " + m[1] + " (AT_EMPTY_PATH)"
					}
				}
				add(ts, pid, "%s %s", name, prog)
			}
		case "clone", "clone3", "fork", "vfork":
			child, err := strconv.Atoi(ret)
			if err != nil || child <= 0 {
				return
			}
			if strings.Contains(start, "CLONE_THREAD") {
				threads++
				tgid[child] = tgidOf(pid)
				return
			}
			{
				procs[child] = true
				ns := strings.Join(nsFlags.FindAllString(start, -1), "|")
				if ns != "" {
					ns = " " + ns
				}
				add(ts, pid, "%s → pid %d%s", name, child, ns)
			}
		case "unshare", "setns":
			add(ts, pid, "%s %s = %s", name, strings.Join(nsFlags.FindAllString(start, -1), "|"), ret)
		case "pivot_root", "chroot":
			add(ts, pid, "%s = %s", name, ret)
		case "mount", "umount2", "fsmount", "move_mount", "mount_setattr", "open_tree":
			mountsBy[pid]++
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		m := straceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		ts, _ := strconv.ParseFloat(m[2], 64)
		rest := m[3]
		if t0 == 0 {
			t0 = ts
			procs[pid] = true
			add(ts, pid, "(first traced syscall)")
		}
		lastTS = ts
		switch {
		case strings.HasPrefix(rest, "+++ exited with"), strings.HasPrefix(rest, "+++ killed by"):
			add(ts, pid, "%s", strings.Trim(rest, "+ "))
			events[len(events)-1].exit = true
		case strings.HasPrefix(rest, "---"):
		case resumed.MatchString(rest):
			name := resumed.FindStringSubmatch(rest)[1]
			ret := ""
			if r := retval.FindStringSubmatch(rest); r != nil {
				ret = r[1]
			}
			complete(ts, pid, name, pending[pid]+rest, ret)
			delete(pending, pid)
		default:
			cm := callName.FindStringSubmatch(rest)
			if cm == nil {
				continue
			}
			total++
			counts[cm[1]]++
			if strings.HasSuffix(rest, "<unfinished ...>") {
				pending[pid] = rest
				continue
			}
			ret := ""
			if r := retval.FindStringSubmatch(rest); r != nil {
				ret = r[1]
			}
			complete(ts, pid, cm[1], rest, ret)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].ts < events[j].ts })
	fmt.Printf("%9s  %7s  %s\n", "ms", "pid", "event")
	for _, e := range events {
		if e.exit && !procs[e.pid] {
			continue // a thread's exit
		}
		e.pid = tgidOf(e.pid)
		fmt.Printf("%9.2f  %7d  %s\n", (e.ts-t0)*1000, e.pid, e.text)
	}
	byProc := map[int]int{}
	for tid, n := range mountsBy {
		byProc[tgidOf(tid)] += n
	}
	var mp []string
	for pid, n := range byProc {
		mp = append(mp, fmt.Sprintf("pid %d: %d", pid, n))
	}
	sort.Strings(mp)
	fmt.Printf("total %.2f ms; %d processes, %d threads, %d syscalls; mount-family calls by pid: %s\n",
		(lastTS-t0)*1000, len(procs), threads, total, strings.Join(mp, ", "))
	type kv struct {
		k string
		v int
	}
	var top []kv
	for k, v := range counts {
		top = append(top, kv{k, v})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].v > top[j].v || top[i].v == top[j].v && top[i].k < top[j].k })
	if len(top) > 12 {
		top = top[:12]
	}
	var parts []string
	for _, e := range top {
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.v))
	}
	fmt.Printf("most frequent: %s\n", strings.Join(parts, ", "))
	return nil
}
