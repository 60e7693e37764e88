// Command daemon-run benchmarks `docker run` through Shoal's daemon against
// dockerd and podman, with the same docker CLI as the client of all three
// (DOCKER_HOST pointing at each engine's private socket), the same
// busybox-static image and `--network none` for every container:
//
//  1. latency of `docker run --rm --network none IMAGE true`, round-robin
//     between the engines, with `shoal run --rm` (if the shoal CLI has
//     `run`), `crun run` and `shoal runtime run` of a bundle of the same
//     rootfs as references;
//  2. 100 `docker run -d --network none IMAGE sleep 1000` in a row
//     (containers/s);
//  3. 8 clients in parallel, each running `docker run --rm` a fixed number
//     of times (containers/s);
//  4. the engine's memory per idle container: PSS (and RSS) summed over
//     every host-side process of the engine, before and after starting 50
//     `sleep 100000` containers.
//
// It must run as root. It re-executes itself in a private mount namespace
// (hiding /sys/fs/cgroup/unified on a hybrid host, which Debian's crun
// needs), starts dockerd (with its own containerd), `podman system
// service` and `shoal daemon` there on private roots and sockets, and
// removes every container, daemon, cgroup and mount it made at the end,
// also after a failure or Ctrl-C. See bench/README.md and
// docs/bench-daemon.md.
//
//	go run ./bench/daemon-run -shoal /tmp/x/shoal -n 30
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Environment variables the outer process passes to the re-exec'd inner one.
const (
	envStage  = "SHOAL_BENCH_STAGE"
	envTmpDir = "SHOAL_BENCH_TMPDIR"
)

// tmpPrefix starts the temp dir's name; its random rest is the run's
// token, which every cgroup the benchmark makes carries:
// /sys/fs/cgroup/*/shoal-bench-<token>-<what>.
const tmpPrefix = "shoal-bench-"

// image is the name the busybox rootfs is imported under in every engine.
const image = "shoal-bench/busybox:latest"

var allPhases = []string{"latency", "detached", "parallel", "memory"}

type options struct {
	shoal, docker, crun string
	engines             []string
	bundleRuntimes      []string
	phases              map[string]bool
	n, warmup           int
	detached            int
	clients, clientRuns int
	idle                int
	rounds              int
	settle              time.Duration
	timeout             time.Duration
	shoalLogLevel       string
	aptInstall          bool
	tmpBase             string
	keep                bool
}

func parseFlags() *options {
	o := &options{}
	var engines, bundles, phases string
	flag.StringVar(&o.shoal, "shoal", "", "shoal binary (scripts/build /tmp/x/shoal); required")
	flag.StringVar(&o.docker, "docker", "docker", "docker CLI: the client of every engine (v28 expected)")
	flag.StringVar(&o.crun, "crun", "crun", "crun binary (the bundle reference)")
	flag.StringVar(&engines, "engines", "shoal,dockerd,podman", "engines to run (subset of shoal,dockerd,podman)")
	flag.StringVar(&bundles, "bundle-runtimes", "crun,shoal", "OCI runtimes timed with `run` of a bundle in the latency phase (subset of crun,shoal; empty for none)")
	flag.StringVar(&phases, "phases", strings.Join(allPhases, ","), "benchmarks to run (subset of "+strings.Join(allPhases, ",")+")")
	flag.IntVar(&o.n, "n", 30, "latency: timed runs per row (round-robin)")
	flag.IntVar(&o.warmup, "warmup", 5, "latency: untimed warm-up runs per row")
	flag.IntVar(&o.detached, "detached", 100, "detached: containers started in a row per engine")
	flag.IntVar(&o.clients, "clients", 8, "parallel: clients running at once")
	flag.IntVar(&o.clientRuns, "client-runs", 10, "parallel: runs per client")
	flag.IntVar(&o.idle, "idle", 50, "memory: idle containers per engine")
	flag.IntVar(&o.rounds, "rounds", 1, "detached, parallel: rounds (engines interleaved, order rotated each round; the report gives the median round)")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "memory: wait before each measurement")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "limit for one command")
	flag.StringVar(&o.shoalLogLevel, "shoal-log-level", "debug", "shoal daemon's --log-level (debug logs each API request's duration, analysed in the report)")
	flag.BoolVar(&o.aptInstall, "apt-install", false, "apt-get update && apt-get install -y docker.io podman crun busybox-static if missing")
	flag.StringVar(&o.tmpBase, "tmp", "", "parent of the temp dir (default $TMPDIR or /tmp)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (engine logs, roots) instead of removing it; daemons and containers are removed anyway")
	flag.Parse()
	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "daemon-run: "+format+"\n", a...)
		os.Exit(2)
	}
	if flag.NArg() != 0 {
		fail("unexpected arguments: %q", flag.Args())
	}
	var err error
	if o.engines, err = subset("-engines", engines, []string{"shoal", "dockerd", "podman"}); err != nil {
		fail("%v", err)
	}
	if o.bundleRuntimes, err = subset("-bundle-runtimes", bundles, []string{"crun", "shoal"}); err != nil {
		fail("%v", err)
	}
	ph, err := subset("-phases", phases, allPhases)
	if err != nil {
		fail("%v", err)
	}
	o.phases = map[string]bool{}
	for _, p := range ph {
		o.phases[p] = true
	}
	if len(o.engines) == 0 || o.n < 1 || o.warmup < 0 || o.detached < 1 || o.clients < 1 || o.clientRuns < 1 || o.idle < 1 || o.rounds < 1 {
		fail("need at least one engine, -n >= 1, -warmup >= 0, -detached, -clients, -client-runs, -idle, -rounds >= 1")
	}
	return o
}

func subset(name, list string, allowed []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == s
		}
		if !ok {
			return nil, fmt.Errorf("%s: unknown %q (want a subset of %s)", name, s, strings.Join(allowed, ","))
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, nil
}

func main() {
	o := parseFlags()
	if os.Getenv(envStage) == "inner" {
		os.Exit(inner(o))
	}
	os.Exit(outer(o))
}

// outer checks the prerequisites, creates the temp dir and re-executes
// this program in a private mount namespace (Go remounts / MS_REC|
// MS_PRIVATE in the child when Unshareflags has CLONE_NEWNS). It is a child
// subreaper, so whatever the inner process leaves behind if it dies
// (a daemon's monitor, shims, conmon, containers) is reparented to it and
// killed here; then it removes the cgroups and the temp dir and checks
// that nothing is left.
func outer(o *options) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "daemon-run: must run as root (it starts container engines)")
		return 2
	}
	if o.shoal == "" {
		fmt.Fprintln(os.Stderr, "daemon-run: -shoal BINARY is required (scripts/build /tmp/x/shoal)")
		return 2
	}
	if err := ensureTools(o); err != nil {
		fmt.Fprintln(os.Stderr, "daemon-run:", err)
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "daemon-run: PR_SET_CHILD_SUBREAPER:", err)
		return 1
	}
	tmp, err := os.MkdirTemp(o.tmpBase, tmpPrefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemon-run:", err)
		return 1
	}
	tmp, _ = filepath.Abs(tmp)
	// Engines refuse or misbehave on a world-unreadable root; MkdirTemp
	// makes it 0700.
	_ = os.Chmod(tmp, 0o755)

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemon-run:", err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), envStage+"=inner", envTmpDir+"="+tmp)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	rc := 1
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "daemon-run: re-exec in a private mount namespace:", err)
	} else {
		done := make(chan struct{})
		go func() {
			for {
				select {
				case s := <-sigs:
					// A terminal's Ctrl-C reaches the inner process
					// directly; forwarding covers kill(1) on this pid.
					_ = cmd.Process.Signal(s)
				case <-done:
					return
				}
			}
		}()
		err := cmd.Wait()
		close(done)
		rc = cmd.ProcessState.ExitCode()
		if rc < 0 {
			fmt.Fprintln(os.Stderr, "daemon-run: inner process:", err)
			rc = 1
		}
	}
	signal.Ignore(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)

	// The safety net. After a normal run there is nothing to do.
	if n := killDescendants(os.Getpid(), nil); n > 0 {
		fmt.Fprintf(os.Stderr, "daemon-run: killed %d process(es) the inner stage left behind\n", n)
	}
	if n := killByArg(tmp); n > 0 {
		fmt.Fprintf(os.Stderr, "daemon-run: killed %d process(es) naming %s\n", n, tmp)
	}
	token := strings.TrimPrefix(filepath.Base(tmp), tmpPrefix)
	if err := removeCgroups(token); err != nil {
		fmt.Fprintln(os.Stderr, "daemon-run: cleanup:", err)
	}
	if _, err := os.Stat(filepath.Join(tmp, libpodMarker)); err == nil {
		removeLibpodParent()
	}
	left := leftovers(tmp, token)
	if o.keep {
		fmt.Fprintf(os.Stderr, "daemon-run: kept %s\n", tmp)
	} else if err := removeTree(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "daemon-run: cleanup:", err)
		left = append(left, "temp dir: "+err.Error())
	}
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "daemon-run: LEFT BEHIND:\n  %s\n", strings.Join(left, "\n  "))
		if rc == 0 {
			rc = 1
		}
	} else {
		fmt.Fprintln(os.Stderr, "daemon-run: cleanup check (host namespace): no process, cgroup or mount of this run is left")
	}
	return rc
}

// ensureTools finds (or, with -apt-install, installs) what the chosen
// engines and references need.
func ensureTools(o *options) error {
	need := map[string]string{} // binary -> Debian package
	for _, e := range o.engines {
		switch e {
		case "dockerd":
			need["dockerd"] = "docker.io"
			need["containerd"] = "docker.io"
		case "podman":
			need["podman"] = "podman"
			need["conmon"] = "podman"
			need["crun"] = "crun"
		}
	}
	for _, r := range o.bundleRuntimes {
		if r == "crun" {
			need[o.crun] = "crun"
		}
	}
	need[o.docker] = "docker.io"
	var pkgs []string
	seen := map[string]bool{}
	for bin, pkg := range need {
		if _, err := exec.LookPath(bin); err != nil && !seen[pkg] {
			seen[pkg] = true
			pkgs = append(pkgs, pkg)
		}
	}
	if isStatic(busyboxPath) != nil && !seen["busybox-static"] {
		pkgs = append(pkgs, "busybox-static")
	}
	if len(pkgs) > 0 {
		if !o.aptInstall {
			return fmt.Errorf("missing: apt-get install -y %s (or pass -apt-install)", strings.Join(pkgs, " "))
		}
		for _, argv := range [][]string{{"apt-get", "update", "-qq"}, append([]string{"apt-get", "install", "-y", "-qq"}, pkgs...)} {
			c := exec.Command(argv[0], argv[1:]...)
			c.Stdout, c.Stderr = os.Stderr, os.Stderr
			c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if err := c.Run(); err != nil {
				return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
			}
		}
		if err := isStatic(busyboxPath); err != nil {
			return fmt.Errorf("%s: %w (Debian's busybox-static)", busyboxPath, err)
		}
	}
	bins := []*string{&o.shoal, &o.docker}
	if contains(o.bundleRuntimes, "crun") {
		bins = append(bins, &o.crun)
	}
	var err error
	for _, p := range bins {
		abs, lerr := exec.LookPath(*p)
		if lerr != nil {
			err = errors.Join(err, lerr)
			continue
		}
		*p, _ = filepath.Abs(abs)
	}
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// inner runs in the private mount namespace: the whole benchmark, then
// the cleanup of everything it started.
func inner(o *options) (rc int) {
	tmp := os.Getenv(envTmpDir)
	if tmp == "" {
		fmt.Fprintln(os.Stderr, "daemon-run: inner stage without "+envTmpDir)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// Daemonised helpers (containerd shims, conmon, Shoal's monitor once
	// its daemon is gone) are reparented to us, not to pid 1, which on
	// this kind of host does not reap; we reap and, at the end, kill them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "daemon-run: PR_SET_CHILD_SUBREAPER:", err)
		return 1
	}
	b := &bench{o: o, tmp: tmp, token: strings.TrimPrefix(filepath.Base(tmp), tmpPrefix), engines: map[string]*engine{}}
	defer func() {
		if err := b.cleanup(); err != nil {
			fmt.Fprintln(os.Stderr, "daemon-run: cleanup:", err)
			if rc == 0 {
				rc = 1
			}
		}
	}()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return b.run(ctx)
	}()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "daemon-run: interrupted; cleaning up")
			return 130
		}
		fmt.Fprintln(os.Stderr, "daemon-run:", err)
		return 1
	}
	return 0
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "# %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}
