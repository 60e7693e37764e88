package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/rootfs"
	"github.com/shoal-dev/shoal/bench/internal/stats"
	"golang.org/x/sys/unix"
)

// phases is one create / start / delete cycle.
type phases struct {
	create, start, delete sample
	// startToExit is from fork of `start` until the container's process
	// has exited (or `start` has returned, whichever is later).
	startToExit time.Duration
}

// runBreakdown times `create`, `start` and `delete` separately; with
// -perf it records milestones of `run` with perf tracepoints, with -strace
// it traces one `run` of each runtime.
func (b *bench) runBreakdown(ctx context.Context) error {
	o := b.opts
	var rs []*runner
	for _, r := range b.runners {
		if r.name != "bare" {
			rs = append(rs, r)
		}
	}
	if len(rs) > 0 {
		if err := b.phaseTable(ctx, rs); err != nil {
			return err
		}
	}
	if o.perf {
		if err := b.perfMilestones(ctx); err != nil {
			return err
		}
	}
	if o.strace {
		for _, r := range rs {
			if err := b.straceRun(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// phaseTable times create / start / delete and `--version` of rs.
func (b *bench) phaseTable(ctx context.Context, rs []*runner) error {
	o := b.opts
	fmt.Printf("\n== breakdown: create / start / delete, %d iterations per runtime, round-robin ==\n", o.breakdownN)
	res := map[string][]phases{}
	startup := map[string][]float64{}    // `--version`: the binary's start-up floor
	var hostTrue []float64               // fork+exec+exit floor of a tiny static binary
	for i := -2; i < o.breakdownN; i++ { // two warm-up rounds
		c, logf, err := rs[0].command(ctx, rootfs.Busybox, "true")
		if err != nil {
			return err
		}
		v, err := rs[0].exec(c, logf)
		if err != nil {
			return err
		}
		if i >= 0 {
			hostTrue = append(hostTrue, stats.Millis(v.wall))
		}
		for j := range rs {
			r := rs[(i+2+j)%len(rs)]
			p, err := b.cycle(ctx, r, "b"+strconv.Itoa(i+2))
			if err != nil {
				return err
			}
			if i >= 0 {
				res[r.name] = append(res[r.name], p)
			}
			c, logf, err := r.command(ctx, r.bin, "--version")
			if err != nil {
				return err
			}
			v, err := r.exec(c, logf)
			if err != nil {
				return err
			}
			if i >= 0 {
				startup[r.name] = append(startup[r.name], stats.Millis(v.wall))
			}
		}
	}
	row := func(label string, f func(p phases) float64) {
		fmt.Printf("%-26s", label)
		for _, r := range rs {
			v := make([]float64, len(res[r.name]))
			for k, p := range res[r.name] {
				v[k] = f(p)
			}
			st := stats.Summarize(v)
			fmt.Printf(" %7.2f (%6.2f)", st.Median, st.P90)
		}
		fmt.Println()
	}
	fmt.Printf("%-26s", "wall ms: median (p90)")
	for _, r := range rs {
		fmt.Printf(" %16s", r.name)
	}
	fmt.Println()
	row("create", func(p phases) float64 { return stats.Millis(p.create.wall) })
	row("start", func(p phases) float64 { return stats.Millis(p.start.wall) })
	row("start → container exited", func(p phases) float64 { return stats.Millis(p.startToExit) })
	row("delete", func(p phases) float64 { return stats.Millis(p.delete.wall) })
	row("create+start→exit+delete", func(p phases) float64 {
		return stats.Millis(p.create.wall + p.startToExit + p.delete.wall)
	})
	fmt.Printf("%-26s", "exec `--version` (floor)")
	for _, r := range rs {
		st := stats.Summarize(startup[r.name])
		fmt.Printf(" %7.2f (%6.2f)", st.Median, st.P90)
	}
	fmt.Println()
	fmt.Printf("%-26s", "run (main table, median)")
	defer func() {
		st := stats.Summarize(hostTrue)
		fmt.Printf("floor: fork+exec+exit of the host's static busybox `true`: %.2f ms median (p90 %.2f)\n", st.Median, st.P90)
	}()
	for _, r := range rs {
		fmt.Printf(" %16.2f", stats.Median(wallMS(r.samples)))
	}
	fmt.Println()
	fmt.Printf("%-26s", "cpu ms (user+sys): median")
	for _, r := range rs {
		fmt.Printf(" %16s", r.name)
	}
	fmt.Println()
	cpu := func(s sample) float64 { return stats.Millis(s.user + s.sys) }
	row("create", func(p phases) float64 { return cpu(p.create) })
	row("start", func(p phases) float64 { return cpu(p.start) })
	row("delete", func(p phases) float64 { return cpu(p.delete) })
	fmt.Println("(cpu = rusage of the command and the children it reaped; a created container's init")
	fmt.Println(" is reaped by the harness, so its CPU is in no row)")
	return nil
}

// cycle does create, start, wait for exit, delete for one container.
func (b *bench) cycle(ctx context.Context, r *runner, iter string) (p phases, err error) {
	if err := ctx.Err(); err != nil {
		return p, err
	}
	id := containerID(b.token, r.name, iter)
	if err := b.writeConfig(r.name, iter); err != nil {
		return p, err
	}
	created := false
	defer func() {
		if err != nil && created {
			r.forceDelete(id)
		}
		b.orphans[r.name] += reapOrphans()
	}()
	pidFile := filepath.Join(b.tmp, "log", r.name+".pid")
	_ = os.Remove(pidFile)

	c, logf, err := r.cmd(ctx, "create", "--bundle", b.bundle, "--pid-file", pidFile, id)
	if err != nil {
		return p, err
	}
	created = true
	if p.create, err = r.exec(c, logf); err != nil {
		return p, err
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return p, fmt.Errorf("%s create: pid file: %w", r.name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return p, fmt.Errorf("%s create: pid file %q: %w", r.name, raw, err)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return p, fmt.Errorf("%s: pidfd_open(%d): %w", r.name, pid, err)
	}
	defer unix.Close(pidfd)

	c, logf, err = r.cmd(ctx, "start", id)
	if err != nil {
		return p, err
	}
	t0 := time.Now()
	if p.start, err = r.exec(c, logf); err != nil {
		return p, err
	}
	// The pidfd becomes readable when the process exits.
	deadline := time.Now().Add(b.opts.timeout)
	for {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if n > 0 {
			break
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return p, fmt.Errorf("poll pidfd: %w", err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return p, fmt.Errorf("%s: container process %d did not exit after start", r.name, pid)
		}
	}
	p.startToExit = time.Since(t0)
	// A created container's init was reparented to us when `create`
	// exited (we are a subreaper): reap it and check /bin/true's status.
	var ws unix.WaitStatus
	if wp, err := unix.Wait4(pid, &ws, 0, nil); err == nil && wp == pid {
		if !ws.Exited() || ws.ExitStatus() != 0 {
			return p, fmt.Errorf("%s: container process exited with %v", r.name, ws)
		}
	}

	c, logf, err = r.cmd(ctx, "delete", id)
	if err != nil {
		return p, err
	}
	if p.delete, err = r.exec(c, logf); err != nil {
		return p, err
	}
	created = false
	return p, nil
}
