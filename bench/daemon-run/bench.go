package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/cgroup"
	"github.com/shoal-dev/shoal/bench/internal/daemon"
	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/mounts"
	"github.com/shoal-dev/shoal/bench/internal/proc"
	"github.com/shoal-dev/shoal/bench/internal/report"
	"github.com/shoal-dev/shoal/bench/internal/rootfs"
)

// cgroupPlaceholder stands for the per-run cgroupsPath in bench.config.
const cgroupPlaceholder = "@CGROUPS_PATH@"

// hybridNote ends the report's description of a hybrid cgroup layout.
const hybridNote = "in the benchmark's private mount namespace (Debian's crun 1.8.1 refuses the hybrid layout), so every engine and runtime sees cgroup v1 only"

type bench struct {
	o      *options
	tmp    string
	token  string
	hybrid string

	rootfs    string // busybox tree: the image's content and the bundle's root
	rootfsTar string // what `docker import` / `podman import` read
	bundle    string
	config    []byte // config.json of the bundle rows, cgroupPlaceholder for cgroupsPath

	engines map[string]*engine
	order   []string // engines in -engines order, as started

	shoalRun     bool   // the shoal CLI has `run`
	shoalRunNote string // why not, if not

	rows []*row // latency phase
	res  results
}

// row is one line of the latency table: a way to run /bin/true once.
type row struct {
	name    string
	argv    string // the command, for the report
	run     func(ctx context.Context, iter string) (time.Duration, error)
	samples []time.Duration
	// windows are the [start, end] of each timed run, for matching the
	// daemon's debug log (docker→shoal only).
	windows  [][2]time.Time
	fails    int
	firstErr error
}

type results struct {
	latencyWall time.Duration
	loadLatency [2]string
	detached    map[string][]*burst // per engine, one per round
	parallel    map[string][]*burst
	memory      map[string]*memResult
}

// burst is the result of a number of runs timed as a whole.
type burst struct {
	n     int
	wall  time.Duration
	each  []time.Duration
	rm    time.Duration // `docker rm -f` of all of them (detached)
	fails int
	load  string
}

type memResult struct {
	idle          int
	before, after memSample
}

// memSample is the memory of an engine's host-side processes at one time.
type memSample struct {
	pss, rss int64 // KiB, summed
	byComm   map[string]*commMem
}

type commMem struct {
	n        int
	pss, rss int64
}

func (b *bench) Run(ctx context.Context) error {
	var err error
	if b.hybrid, err = cgroup.HideUnified(hybridNote); err != nil {
		return err
	}
	if err := b.makeRootfs(); err != nil {
		return err
	}
	if len(b.o.bundleRuntimes) > 0 {
		if err := b.makeBundle(); err != nil {
			return err
		}
	}
	if out, err := exec.Command(b.o.shoal, "run", "--help").CombinedOutput(); err == nil {
		b.shoalRun = true
	} else {
		b.shoalRunNote = fmt.Sprintf("`%s run --help`: %v: %s", b.o.shoal, err, report.FirstLine(strings.TrimSpace(string(out))))
	}

	for _, name := range b.o.engines {
		harness.Logf("starting %s", name)
		var e *engine
		switch name {
		case "shoal":
			e, err = b.startShoal(ctx)
		case "dockerd":
			e, err = b.startDockerd(ctx)
		case "podman":
			e, err = b.startPodman(ctx)
		}
		if err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		b.order = append(b.order, name)
		if err := b.importImage(ctx, e); err != nil {
			return fmt.Errorf("import the image into %s: %w", name, err)
		}
		if _, out, err := e.Docker(ctx, "run", "--rm", "--network", "none", image, "sh", "-c", "echo ok"); err != nil || strings.TrimSpace(out) != "ok" {
			return fmt.Errorf("first container on %s: %q %v", name, out, err)
		}
	}
	b.printConditions(ctx)

	if b.o.phases["latency"] {
		if err := b.latency(ctx); err != nil {
			return err
		}
		b.printLatency()
	}
	if b.o.phases["detached"] {
		if err := b.detached(ctx); err != nil {
			return err
		}
		b.printBurst("detached", b.res.detached)
	}
	if b.o.phases["parallel"] {
		if err := b.parallel(ctx); err != nil {
			return err
		}
		b.printBurst("parallel", b.res.parallel)
	}
	if b.o.phases["memory"] {
		if err := b.memory(ctx); err != nil {
			return err
		}
		b.printMemory()
	}
	b.printGoals()
	return nil
}

// makeRootfs builds the busybox-static tree and its tarball.
func (b *bench) makeRootfs() error {
	b.rootfs = filepath.Join(b.tmp, "rootfs")
	if err := rootfs.Build(b.rootfs, nil, nil); err != nil {
		return err
	}
	b.rootfsTar = filepath.Join(b.tmp, "rootfs.tar")
	if out, err := exec.Command("tar", "--numeric-owner", "-C", b.rootfs, "-cf", b.rootfsTar, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar the rootfs: %v: %s", err, out)
	}
	return nil
}

// makeBundle writes the bundle of the crun / shoal runtime rows: the
// same rootfs (read-only), config from `shoal runtime spec`.
func (b *bench) makeBundle() error {
	b.bundle = filepath.Join(b.tmp, "bundle")
	if err := os.MkdirAll(b.bundle, 0o755); err != nil {
		return err
	}
	var err error
	b.config, err = rootfs.GenerateConfig(b.o.shoal, filepath.Join(b.tmp, "spec"), rootfs.Config{
		Version: "1.0.2", // Debian's crun 1.8.1 refuses newer
		Root:    b.rootfs, CgroupsPath: cgroupPlaceholder,
	})
	return err
}

// latencyRows builds the rows of the latency phase.
func (b *bench) latencyRows() {
	dockerArgs := []string{"run", "--rm", "--network", "none", image, "true"}
	for _, name := range b.order {
		e := b.engines[name]
		r := &row{name: "docker→" + name, argv: "docker " + strings.Join(dockerArgs, " ")}
		r.run = func(ctx context.Context, _ string) (time.Duration, error) {
			d, _, err := e.Docker(ctx, dockerArgs...)
			return d, err
		}
		b.rows = append(b.rows, r)
	}
	if e, ok := b.engines["shoal"]; ok && b.shoalRun {
		argv := []string{b.o.shoal, "run", "--rm", "--network", "none", image, "true"}
		r := &row{name: "shoal run", argv: "shoal " + strings.Join(argv[1:], " ")}
		r.run = func(ctx context.Context, _ string) (time.Duration, error) {
			ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
			defer cancel()
			c, out := daemon.Command(ctx, daemon.ClientEnv(e.Env), argv...)
			return daemon.Timed(c, out)
		}
		b.rows = append(b.rows, r)
	}
	for _, rt := range b.o.bundleRuntimes {
		state := filepath.Join(b.tmp, "state", rt)
		harness.Must(os.MkdirAll(state, 0o700))
		var global []string
		name := "crun run"
		if rt == "shoal" {
			global = []string{b.o.shoal, "runtime", "--root", state}
			name = "shoal runtime run"
		} else {
			global = []string{b.o.crun, "--root", state}
		}
		r := &row{name: name, argv: strings.Join(global[1:], " ") + " run --bundle BUNDLE ID"}
		r.argv = filepath.Base(global[0]) + " " + r.argv
		r.run = func(ctx context.Context, iter string) (time.Duration, error) {
			id := "sb-" + b.token + "-" + rt + "-" + iter
			cfg := bytes.Replace(b.config, []byte(cgroupPlaceholder), []byte(b.cgroupParent("bundle")+"/"+rt+"-"+iter), 1)
			if err := os.WriteFile(filepath.Join(b.bundle, "config.json"), cfg, 0o644); err != nil {
				return 0, err
			}
			ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
			defer cancel()
			c, out := daemon.Command(ctx, daemon.ClientEnv(nil), append(append([]string{}, global...), "run", "--bundle", b.bundle, id)...)
			d, err := daemon.Timed(c, out)
			if err != nil {
				del, _ := daemon.Command(context.Background(), daemon.ClientEnv(nil), append(append([]string{}, global...), "delete", "--force", id)...)
				_ = del.Run()
			}
			return d, err
		}
		b.rows = append(b.rows, r)
	}
}

// daemonPIDs are the pids reapAll must leave to their exec.Cmd.
func (b *bench) daemonPIDs() map[int]bool {
	keep := map[int]bool{}
	for _, e := range b.engines {
		if e.Cmd != nil && e.Cmd.Process != nil {
			keep[e.Cmd.Process.Pid] = true
		}
	}
	return keep
}

const maxFails = 5

// latency runs every row -warmup + -n times, round-robin, the start
// rotated each round.
func (b *bench) latency(ctx context.Context) error {
	b.latencyRows()
	harness.Logf("latency: %d warm-up + %d timed runs per row, %d rows round-robin", b.o.warmup, b.o.n, len(b.rows))
	keep := b.daemonPIDs()
	b.res.loadLatency[0] = report.LoadAvg()
	start := time.Now()
	for i := -b.o.warmup; i < b.o.n; i++ {
		for j := range b.rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			r := b.rows[((i%len(b.rows))+len(b.rows)+j)%len(b.rows)]
			iter := fmt.Sprint(i)
			if i < 0 {
				iter = fmt.Sprintf("w%d", -i)
			}
			t0 := time.Now()
			d, err := r.run(ctx, iter)
			t1 := time.Now()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.fails++
				if r.firstErr == nil {
					r.firstErr = err
				}
				harness.Logf("latency: %s failed: %v", r.name, err)
				if r.fails >= maxFails {
					return fmt.Errorf("latency: %s failed %d times; first: %w", r.name, r.fails, r.firstErr)
				}
				continue
			}
			if i >= 0 {
				r.samples = append(r.samples, d)
				r.windows = append(r.windows, [2]time.Time{t0, t1})
			}
		}
		proc.ReapZombies(keep)
		if i >= 0 && (i+1)%10 == 0 {
			harness.Logf("latency: %d/%d", i+1, b.o.n)
		}
	}
	b.res.latencyWall = time.Since(start)
	b.res.loadLatency[1] = report.LoadAvg()
	for _, e := range b.engines {
		if ids, err := e.ContainerIDs(ctx); err == nil && len(ids) > 0 {
			harness.Logf("latency: %s lists %d container(s) after the --rm runs", e.Name, len(ids))
		}
	}
	return nil
}

// rotated returns the engines in start order, rotated by round.
func (b *bench) rotated(round int) []string {
	k := round % len(b.order)
	return append(append([]string{}, b.order[k:]...), b.order[:k]...)
}

// detached starts -detached containers in a row on each engine, then
// removes them; -rounds times, engines interleaved.
func (b *bench) detached(ctx context.Context) error {
	b.res.detached = map[string][]*burst{}
	for round := 0; round < b.o.rounds; round++ {
		for _, name := range b.rotated(round) {
			e := b.engines[name]
			if _, _, err := e.RemoveAll(ctx); err != nil {
				return err
			}
			harness.Logf("detached: round %d: %s: %d × docker run -d", round+1, name, b.o.detached)
			r := &burst{n: b.o.detached}
			t0 := time.Now()
			for i := 0; i < b.o.detached; i++ {
				d, _, err := e.Docker(ctx, "run", "-d", "--network", "none", image, "sleep", "1000")
				if err != nil {
					return fmt.Errorf("detached: %w", err)
				}
				r.each = append(r.each, d)
			}
			r.wall = time.Since(t0)
			r.load = report.LoadAvg()
			ids, err := e.ContainerIDs(ctx)
			if err != nil {
				return err
			}
			if len(ids) != b.o.detached {
				return fmt.Errorf("detached: %s lists %d containers, want %d", name, len(ids), b.o.detached)
			}
			n, d, err := e.RemoveAll(ctx)
			if err != nil {
				return err
			}
			r.rm = d
			harness.Logf("detached: %s: %.1f containers/s; docker rm -f of %d: %v", name, float64(r.n)/r.wall.Seconds(), n, d.Round(time.Millisecond))
			proc.ReapZombies(b.daemonPIDs())
			b.res.detached[name] = append(b.res.detached[name], r)
		}
	}
	return nil
}

// parallel runs -clients clients at once on each engine, each running
// `docker run --rm` -client-runs times; -rounds times, engines
// interleaved.
func (b *bench) parallel(ctx context.Context) error {
	b.res.parallel = map[string][]*burst{}
	for round := 0; round < b.o.rounds; round++ {
		for _, name := range b.rotated(round) {
			r, err := b.parallelOnce(ctx, b.engines[name], round)
			if err != nil {
				return err
			}
			b.res.parallel[name] = append(b.res.parallel[name], r)
		}
	}
	return nil
}

func (b *bench) parallelOnce(ctx context.Context, e *engine, round int) (*burst, error) {
	harness.Logf("parallel: round %d: %s: %d clients × %d docker run --rm", round+1, e.Name, b.o.clients, b.o.clientRuns)
	r := &burst{n: b.o.clients * b.o.clientRuns}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := 0; c < b.o.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < b.o.clientRuns && ctx.Err() == nil; k++ {
				d, _, err := e.Docker(ctx, "run", "--rm", "--network", "none", image, "true")
				mu.Lock()
				if err != nil {
					r.fails++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					r.each = append(r.each, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.wall = time.Since(t0)
	r.load = report.LoadAvg()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	proc.ReapZombies(b.daemonPIDs())
	if r.fails > 0 {
		harness.Logf("parallel: %s: %d of %d runs failed; first: %v", e.Name, r.fails, r.n, firstErr)
		if r.fails*10 > r.n {
			return nil, fmt.Errorf("parallel: %s: %d of %d runs failed; first: %w", e.Name, r.fails, r.n, firstErr)
		}
	}
	r.n -= r.fails
	harness.Logf("parallel: %s: %.1f containers/s", e.Name, float64(r.n)/r.wall.Seconds())
	// Give an engine's asynchronous --rm removals time to finish.
	for i := 0; i < 50; i++ {
		if ids, err := e.ContainerIDs(ctx); err == nil && len(ids) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r, nil
}

// memory measures each engine before and after starting -idle idle
// containers, one engine at a time.
func (b *bench) memory(ctx context.Context) error {
	b.res.memory = map[string]*memResult{}
	for _, name := range b.order {
		e := b.engines[name]
		if _, _, err := e.RemoveAll(ctx); err != nil {
			return err
		}
		proc.ReapZombies(b.daemonPIDs())
		m := &memResult{idle: b.o.idle}
		var err error
		if m.before, err = b.measure(ctx, e); err != nil {
			return err
		}
		harness.Logf("memory: %s: %d × docker run -d ... sleep 100000", name, b.o.idle)
		for i := 0; i < b.o.idle; i++ {
			if _, _, err := e.Docker(ctx, "run", "-d", "--network", "none", image, "sleep", "100000"); err != nil {
				return fmt.Errorf("memory: %w", err)
			}
		}
		proc.ReapZombies(b.daemonPIDs())
		if m.after, err = b.measure(ctx, e); err != nil {
			return err
		}
		harness.Logf("memory: %s: PSS %.1f → %.1f MiB", name, kib(m.before.pss), kib(m.after.pss))
		if _, _, err := e.RemoveAll(ctx); err != nil {
			return err
		}
		proc.ReapZombies(b.daemonPIDs())
		b.res.memory[name] = m
	}
	return nil
}

// measure waits -settle, then takes three samples of the engine's memory
// 1 s apart and keeps the one with the median PSS.
func (b *bench) measure(ctx context.Context, e *engine) (memSample, error) {
	var ss []memSample
	select {
	case <-ctx.Done():
		return memSample{}, ctx.Err()
	case <-time.After(b.o.settle):
	}
	for i := 0; i < 3; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return memSample{}, ctx.Err()
			case <-time.After(time.Second):
			}
		}
		s := memSample{byComm: map[string]*commMem{}}
		for _, p := range engineProcs(e) {
			pss, rss, err := proc.Mem(p.PID)
			if err != nil {
				continue // exited meanwhile
			}
			s.pss += pss
			s.rss += rss
			// "shoal daemon" and "shoal monitor" are one binary: tell
			// them apart by the subcommand.
			name := p.Comm
			if len(p.Argv) > 1 && p.Argv[1] != "" && !strings.HasPrefix(p.Argv[1], "-") && !strings.Contains(p.Argv[1], "/") {
				name += " " + p.Argv[1]
			}
			c := s.byComm[name]
			if c == nil {
				c = &commMem{}
				s.byComm[name] = c
			}
			c.n++
			c.pss += pss
			c.rss += rss
		}
		if len(s.byComm) == 0 {
			return s, fmt.Errorf("memory: no process of %s found", e.Name)
		}
		ss = append(ss, s)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].pss < ss[j].pss })
	return ss[len(ss)/2], nil
}

// Cleanup stops every engine, kills what is left below us, removes the
// cgroups and mounts, and checks that nothing of the run is left (the
// outer stage removes the temp dir).
func (b *bench) Cleanup() error {
	var errs []error
	for i := len(b.o.engines) - 1; i >= 0; i-- {
		if e, ok := b.engines[b.o.engines[i]]; ok {
			if err := e.Stop(harness.Logf); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, rt := range b.o.bundleRuntimes {
		state := filepath.Join(b.tmp, "state", rt)
		ents, _ := os.ReadDir(state)
		for _, ent := range ents {
			bin := []string{b.o.crun, "--root", state}
			if rt == "shoal" {
				bin = []string{b.o.shoal, "runtime", "--root", state}
			}
			c, _ := daemon.Command(context.Background(), daemon.ClientEnv(nil), append(bin, "delete", "--force", ent.Name())...)
			_ = c.Run()
		}
	}
	if n := proc.KillDescendants(os.Getpid(), nil); n > 0 {
		harness.Logf("cleanup: killed %d leftover process(es)", n)
	}
	if err := cgroup.RemoveAll(harness.CgroupPattern(b.token)); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(filepath.Join(b.tmp, libpodMarker)); err == nil {
		removeLibpodParent()
	}
	mounts.UnmountUnder(b.tmp, harness.Logf)
	for _, l := range harness.Leftovers(b.tmp, b.token) {
		errs = append(errs, errors.New("left behind: "+l))
	}
	if _, err := os.Stat(filepath.Join(b.tmp, libpodMarker)); err == nil && libpodParentExists() {
		harness.Logf("cleanup: libpod_parent (made by this run's podman) is not empty: another podman uses it now; left in place")
	}
	return errors.Join(errs...)
}
