// Command runtime-start measures how long `shoal runtime run`, `runc run`
// and `crun run` take to run /bin/true in the same busybox bundle, plus a
// bare `unshare … chroot ROOTFS /bin/true` as a reference.
//
// The figure is the wall time from fork to exit of the runtime process, as
// seen by this harness (time.Now before exec.Cmd.Start, after Wait). All
// runtimes are exec'd by the same code, from the same private mount
// namespace, with the same bundle and config; they are interleaved
// round-robin so that drift on the host hits all of them alike.
//
//	go run ./bench/runtime-start -shoal /tmp/bench-shoal -n 200 [-breakdown]
//
// It must run as root. See bench/README.md and docs/bench-runtime.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/cgroup"
	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/mounts"
)

// cgroupParent is the cgroup (relative to every hierarchy's root) under
// which all containers of all runs are created.
const cgroupParent = "shoal-bench"

// hybridNote ends the report's description of a hybrid cgroup layout.
const hybridNote = "in the harness's private mount namespace, so every runtime (and the bare row) sees cgroup v1 only"

type options struct {
	shoal, runc, crun string
	runtimes          []string
	n, warmup         int
	ociVersion        string
	cgroupNS          bool
	breakdown         bool
	breakdownN        int
	strace            bool
	perf              bool
	perfN             int
	timeout           time.Duration
	aptInstall        bool
	tmpBase           string
	keep              bool
	showConfig        bool
}

func parseFlags() *options {
	o := &options{}
	var rts string
	flag.StringVar(&o.shoal, "shoal", "", "shoal binary (default: shoal on $PATH)")
	flag.StringVar(&o.runc, "runc", "runc", "runc binary")
	flag.StringVar(&o.crun, "crun", "crun", "crun binary")
	flag.StringVar(&rts, "runtimes", "shoal,runc,crun,bare", "comma-separated subset of shoal,runc,crun,bare to time")
	flag.IntVar(&o.n, "n", 100, "timed iterations per runtime")
	flag.IntVar(&o.warmup, "warmup", 10, "untimed warm-up iterations per runtime")
	flag.StringVar(&o.ociVersion, "oci-version", "1.0.2", `"ociVersion" written into config.json (Debian's crun 1.8.1 refuses 1.3.0)`)
	flag.BoolVar(&o.cgroupNS, "cgroupns", true, "give the container a cgroup namespace as well")
	flag.BoolVar(&o.breakdown, "breakdown", false, "also time create / start / exit / delete separately (shoal, runc, crun)")
	flag.IntVar(&o.breakdownN, "breakdown-n", 50, "iterations per runtime of the -breakdown phase")
	flag.BoolVar(&o.strace, "strace", false, "(implies -breakdown) trace one run of each runtime with strace -f and print a process timeline and syscall counts")
	flag.BoolVar(&o.perf, "perf", false, "(implies -breakdown) record -perf-n runs of each runtime with perf tracepoints and print milestone times")
	flag.IntVar(&o.perfN, "perf-n", 20, "runs per runtime of -perf")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "limit for one runtime invocation")
	flag.BoolVar(&o.aptInstall, "apt-install", false, "apt-get install -y runc crun if they are missing")
	flag.StringVar(&o.tmpBase, "tmp", "", "parent of the temp dir (bundle, state dirs); default $TMPDIR or /tmp")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (bundle, logs, perf data, strace output) instead of removing it")
	flag.BoolVar(&o.showConfig, "print-config", true, "print the config.json used")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments: %q\n", flag.Args())
		os.Exit(2)
	}
	for _, r := range strings.Split(rts, ",") {
		r = strings.TrimSpace(r)
		switch r {
		case "shoal", "runc", "crun", "bare":
			o.runtimes = append(o.runtimes, r)
		case "":
		default:
			fmt.Fprintf(os.Stderr, "-runtimes: unknown runtime %q\n", r)
			os.Exit(2)
		}
	}
	if (o.strace || o.perf) && !o.breakdown {
		o.breakdown = true
	}
	if len(o.runtimes) == 0 || o.n < 1 || o.warmup < 0 || o.breakdownN < 1 || o.perfN < 1 {
		fmt.Fprintln(os.Stderr, "need at least one runtime, -n >= 1, -warmup >= 0, -breakdown-n >= 1, -perf-n >= 1")
		os.Exit(2)
	}
	return o
}

func main() {
	o := parseFlags()
	if harness.IsInner() {
		os.Exit(harness.Inner("runtime-start", func(tmp string) harness.Job {
			return &bench{opts: o, tmp: tmp, token: harness.Token(tmp)}
		}))
	}
	os.Exit(outer(o))
}

// outer checks the prerequisites, creates the temp dir and re-executes
// this program in a private mount namespace (Go remounts / MS_REC|MS_PRIVATE
// in the child when Unshareflags has CLONE_NEWNS, like `unshare -m
// --propagation private`). Whatever happens to the inner process, outer
// removes the temp dir and the cgroups afterwards.
func outer(o *options) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "runtime-start: must run as root (it creates namespaces, mounts and cgroups)")
		return 2
	}
	if err := resolveBinaries(o); err != nil {
		fmt.Fprintln(os.Stderr, "runtime-start:", err)
		return 2
	}
	tmp, err := harness.TempDir(o.tmpBase)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime-start:", err)
		return 1
	}
	rc := harness.Reexec("runtime-start", tmp)
	// The inner process cleans up itself; this is the safety net for a
	// crashed or SIGKILLed one. Its mount namespace, with the tmpfs over
	// the cgroup2 mount, vanished with it.
	if err := removeCgroups(harness.Token(tmp)); err != nil {
		fmt.Fprintln(os.Stderr, "runtime-start: cleanup:", err)
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "kept %s\n", tmp)
	} else if err := mounts.RemoveTree(tmp, nil); err != nil {
		fmt.Fprintln(os.Stderr, "runtime-start: cleanup:", err)
	}
	return rc
}

func resolveBinaries(o *options) error {
	// shoal is always needed: `shoal runtime spec` generates the config.
	want := map[string]bool{"shoal": true}
	for _, r := range o.runtimes {
		want[r] = true
	}
	var missing []string
	look := func(p *string, name string) {
		if !want[name] {
			return
		}
		if *p == "" {
			*p = name
		}
		abs, err := exec.LookPath(*p)
		if err != nil {
			missing = append(missing, name)
			return
		}
		*p, _ = filepath.Abs(abs)
	}
	look(&o.runc, "runc")
	look(&o.crun, "crun")
	if len(missing) > 0 && o.aptInstall {
		fmt.Fprintf(os.Stderr, "installing %s with apt-get\n", strings.Join(missing, " "))
		if err := harness.AptInstall(false, missing...); err != nil {
			return err
		}
		missing = nil
		look(&o.runc, "runc")
		look(&o.crun, "crun")
	}
	look(&o.shoal, "shoal")
	if len(missing) > 0 {
		return fmt.Errorf("not found: %s (install runc/crun with `apt-get install -y runc crun` or -apt-install; "+
			"build shoal with `go build -o /tmp/bench-shoal ./cmd/shoal` and pass -shoal)", strings.Join(missing, ", "))
	}
	for _, tool := range []string{"unshare", "chroot"} {
		if _, err := exec.LookPath(tool); err != nil && want["bare"] {
			return fmt.Errorf("%s not found (util-linux / coreutils), needed for the bare row", tool)
		}
	}
	if o.strace {
		if _, err := exec.LookPath("strace"); err != nil {
			return errors.New("-strace: strace not found (apt-get install -y strace)")
		}
	}
	if o.perf {
		if _, err := exec.LookPath("perf"); err != nil {
			return errors.New("-perf: perf not found (apt-get install -y linux-perf)")
		}
	}
	return nil
}

type bench struct {
	opts   *options
	tmp    string
	token  string
	bundle string
	rootfs string
	// config is config.json with cgroupPlaceholder where the per-run
	// cgroupsPath goes.
	config   []byte
	runners  []*runner
	hybrid   string // what was done about a hybrid cgroup layout
	orphans  map[string]int
	leftover map[string]int // runs whose cgroup dirs a runtime left behind
	onTmpfs  map[string]int // runs that left dirs in the tmpfs over cgroup2
}

func (b *bench) Run(ctx context.Context) error {
	o := b.opts
	var err error
	if b.hybrid, err = cgroup.HideUnified(hybridNote); err != nil {
		return err
	}
	if err := b.makeBundle(); err != nil {
		return err
	}
	b.orphans = map[string]int{}
	b.leftover = map[string]int{}
	b.onTmpfs = map[string]int{}
	for _, name := range o.runtimes {
		r, err := b.newRunner(name)
		if err != nil {
			return err
		}
		b.runners = append(b.runners, r)
	}
	b.printConditions()

	// Nothing the harness does while timing needs the GC.
	gc := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(gc)

	fmt.Printf("\nwarm-up: %d iterations per runtime ...\n", o.warmup)
	for i := 0; i < o.warmup; i++ {
		for j := range b.runners {
			r := b.runners[(i+j)%len(b.runners)]
			if _, err := b.runOnce(ctx, r, fmt.Sprintf("w%d", i)); err != nil {
				return err
			}
		}
	}
	fmt.Printf("timing: %d iterations per runtime, round-robin ...\n", o.n)
	start := time.Now()
	for i := 0; i < o.n; i++ {
		for j := range b.runners {
			r := b.runners[(i+j)%len(b.runners)]
			s, err := b.runOnce(ctx, r, fmt.Sprintf("%d", i))
			if err != nil {
				return err
			}
			r.samples = append(r.samples, s)
		}
	}
	elapsed := time.Since(start)
	b.countLeftovers()
	b.printResults(elapsed)

	if o.breakdown {
		runtime.GC()
		if err := b.runBreakdown(ctx); err != nil {
			return err
		}
	}
	return nil
}
