// Command network benchmarks container networking through Shoal's daemon
// against dockerd, with the same docker CLI as the client of both
// (DOCKER_HOST pointing at each engine's private socket) and the same
// image (one `docker save`-format tarball the benchmark builds and both
// engines `docker load`: busybox-static, iperf3 with its libraries, and
// the DNS load generator in ./dnsload):
//
//  1. dns: lookups of a container's name (`target`, a sleeping container
//     on a user-defined network) from another container on that network,
//     through the engine's embedded DNS server: latency p50/p99 with one
//     query in flight, and queries per second with 8;
//  2. throughput: TCP from an iperf3 client container to an iperf3 server
//     container over the user-defined bridge network, against iperf3 over
//     127.0.0.1 in a network namespace of the benchmark (host loopback);
//  3. setup: `docker run --rm --network NET IMAGE true` against
//     `--network none` (the difference is what creating and tearing down
//     the container's network costs), and `docker network create`/`rm`.
//
// It must run as root. It re-executes itself in a private mount namespace
// and starts every engine inside a fresh network namespace of its own
// (`nsenter --net=FILE`), so the bridges, veths, addresses and nftables
// rules the engines make, and every packet of the benchmark, stay inside
// namespaces this run created; nothing is pulled and no name outside the
// engines' networks is looked up. At the end, also after a failure or
// Ctrl-C, it removes every container, stops the daemons (and dockerd's
// containerd and shims), removes its cgroups, mounts, network namespaces
// and the temp dir, and checks from the host's namespace that none of it
// is left. See docs/bench-network.md.
//
//	go run ./bench/network -engines dockerd
//	go run ./bench/network                    # builds shoal with scripts/build
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

// image is the name the benchmark's image is loaded under in every engine.
const image = "shoal-bench/net:latest"

// netnsInodes is a file in the temp dir listing the inode of every network
// namespace the run made, one a line, for the outer process's final check.
const netnsInodes = "netns.inodes"

var allPhases = []string{"dns", "throughput", "setup"}

type options struct {
	shoal, docker, dnsload string
	engines                []string
	phases                 map[string]bool
	rounds                 int
	iperfRounds            int
	dnsN, dnsConc          int
	dnsWarmup              int
	iperfTime              time.Duration
	iperfStreams           int
	setupN, setupWarmup    int
	netN                   int
	timeout                time.Duration
	shoalLogLevel          string
	aptInstall             bool
	tmpBase                string
	keep                   bool
}

func parseFlags() *options {
	o := &options{}
	var engines, phases string
	flag.StringVar(&o.shoal, "shoal", "", "shoal binary (default: build one with scripts/build into the temp dir; run from the repository)")
	flag.StringVar(&o.docker, "docker", "docker", "docker CLI: the client of every engine (v28 expected)")
	flag.StringVar(&o.dnsload, "dnsload", "", "static dnsload binary (default: CGO_ENABLED=0 go build ./bench/network/dnsload into the temp dir)")
	flag.StringVar(&engines, "engines", "shoal,dockerd", "engines to run (subset of shoal,dockerd)")
	flag.StringVar(&phases, "phases", strings.Join(allPhases, ","), "benchmarks to run (subset of "+strings.Join(allPhases, ",")+")")
	flag.IntVar(&o.rounds, "rounds", 3, "dns: rounds (engines interleaved, order rotated each round; the report gives the median round)")
	flag.IntVar(&o.iperfRounds, "iperf-rounds", 7, "throughput: rounds (paths interleaved, order rotated each round; the report gives the median and per-round ratios)")
	flag.IntVar(&o.dnsN, "dns-n", 20000, "dns: timed queries per run")
	flag.IntVar(&o.dnsConc, "dns-c", 8, "dns: queries in flight in the throughput (queries/s) run; the latency run has 1")
	flag.IntVar(&o.dnsWarmup, "dns-warmup", 200, "dns: untimed queries before each run")
	flag.DurationVar(&o.iperfTime, "iperf-time", 5*time.Second, "throughput: length of one iperf3 run (-t)")
	flag.IntVar(&o.iperfStreams, "iperf-streams", 1, "throughput: parallel TCP streams (iperf3 -P)")
	flag.IntVar(&o.setupN, "setup-n", 20, "setup: timed `docker run --rm` per engine and network mode (round-robin)")
	flag.IntVar(&o.setupWarmup, "setup-warmup", 3, "setup: untimed runs per engine and network mode first")
	flag.IntVar(&o.netN, "net-n", 10, "setup: timed `docker network create` + `rm` pairs per engine")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "limit for one command")
	flag.StringVar(&o.shoalLogLevel, "shoal-log-level", "info", "shoal daemon's --log-level")
	flag.BoolVar(&o.aptInstall, "apt-install", false, "apt-get update && apt-get install -y docker.io busybox-static iperf3 if missing")
	flag.StringVar(&o.tmpBase, "tmp", "", "parent of the temp dir (default $TMPDIR or /tmp)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (engine logs, image tar) instead of removing it; daemons, containers and namespaces are removed anyway")
	flag.Parse()
	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "network: "+format+"\n", a...)
		os.Exit(2)
	}
	if flag.NArg() != 0 {
		fail("unexpected arguments: %q", flag.Args())
	}
	var err error
	if o.engines, err = subset("-engines", engines, []string{"shoal", "dockerd"}); err != nil {
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
	if len(o.engines) == 0 || o.rounds < 1 || o.iperfRounds < 1 || o.dnsN < 1 || o.dnsConc < 1 || o.dnsWarmup < 0 || o.iperfTime < time.Second ||
		o.iperfStreams < 1 || o.setupN < 1 || o.setupWarmup < 0 || o.netN < 1 {
		fail("need at least one engine, -rounds, -iperf-rounds, -dns-n, -dns-c, -iperf-streams, -setup-n, -net-n >= 1, -iperf-time >= 1s, -dns-warmup, -setup-warmup >= 0")
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
		if !contains(allowed, s) {
			return nil, fmt.Errorf("%s: unknown %q (want a subset of %s)", name, s, strings.Join(allowed, ","))
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
// MS_PRIVATE in the child when Unshareflags has CLONE_NEWNS), so the
// bind mounts that keep the network namespaces alive, and the engines'
// mounts, are never seen outside. It is a child subreaper, so whatever
// the inner process leaves behind if it dies is reparented to it and
// killed here; then it removes the cgroups and the temp dir and checks
// that nothing is left.
func outer(o *options) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "network: must run as root (it starts container engines in network namespaces)")
		return 2
	}
	if err := ensureTools(o); err != nil {
		fmt.Fprintln(os.Stderr, "network:", err)
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "network: PR_SET_CHILD_SUBREAPER:", err)
		return 1
	}
	tmp, err := os.MkdirTemp(o.tmpBase, tmpPrefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "network:", err)
		return 1
	}
	tmp, _ = filepath.Abs(tmp)
	// Engines refuse or misbehave on a world-unreadable root; MkdirTemp
	// makes it 0700.
	_ = os.Chmod(tmp, 0o755)
	created := runDirsBefore()

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "network:", err)
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
		fmt.Fprintln(os.Stderr, "network: re-exec in a private mount namespace:", err)
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
			fmt.Fprintln(os.Stderr, "network: inner process:", err)
			rc = 1
		}
	}
	signal.Ignore(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)

	// The safety net. After a normal run there is nothing to do.
	if n := killDescendants(os.Getpid(), nil); n > 0 {
		fmt.Fprintf(os.Stderr, "network: killed %d process(es) the inner stage left behind\n", n)
	}
	if n := killByArg(tmp); n > 0 {
		fmt.Fprintf(os.Stderr, "network: killed %d process(es) naming %s\n", n, tmp)
	}
	token := strings.TrimPrefix(filepath.Base(tmp), tmpPrefix)
	if err := removeCgroups(token); err != nil {
		fmt.Fprintln(os.Stderr, "network: cleanup:", err)
	}
	removeRunDirs(created)
	left := leftovers(tmp, token)
	left = append(left, netnsLeft(readFile(filepath.Join(tmp, netnsInodes)))...)
	if o.keep {
		fmt.Fprintf(os.Stderr, "network: kept %s\n", tmp)
	} else if err := removeTree(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "network: cleanup:", err)
		left = append(left, "temp dir: "+err.Error())
	}
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "network: LEFT BEHIND:\n  %s\n", strings.Join(left, "\n  "))
		if rc == 0 {
			rc = 1
		}
	} else {
		fmt.Fprintln(os.Stderr, "network: cleanup check (host namespace): no process, cgroup, mount or network namespace of this run is left")
	}
	return rc
}

// ensureTools finds (or, with -apt-install, installs) what the chosen
// engines and the image need.
func ensureTools(o *options) error {
	need := map[string]string{o.docker: "docker.io", "nsenter": "util-linux", iperfPath: "iperf3"}
	if contains(o.engines, "dockerd") {
		need["dockerd"] = "docker.io"
		need["containerd"] = "docker.io"
		need["iptables"] = "iptables"
	}
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
	bins := []*string{&o.docker}
	if o.shoal != "" {
		bins = append(bins, &o.shoal)
	}
	if o.dnsload != "" {
		bins = append(bins, &o.dnsload)
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

// inner runs in the private mount namespace: the whole benchmark, then
// the cleanup of everything it started.
func inner(o *options) (rc int) {
	tmp := os.Getenv(envTmpDir)
	if tmp == "" {
		fmt.Fprintln(os.Stderr, "network: inner stage without "+envTmpDir)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// Daemonised helpers (containerd shims, Shoal's monitor once its
	// daemon is gone) are reparented to us, not to pid 1, which on this
	// kind of host does not reap; we reap and, at the end, kill them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "network: PR_SET_CHILD_SUBREAPER:", err)
		return 1
	}
	b := &bench{o: o, tmp: tmp, token: strings.TrimPrefix(filepath.Base(tmp), tmpPrefix), engines: map[string]*engine{}}
	defer func() {
		if err := b.cleanup(); err != nil {
			fmt.Fprintln(os.Stderr, "network: cleanup:", err)
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
			fmt.Fprintln(os.Stderr, "network: interrupted; cleaning up")
			return 130
		}
		fmt.Fprintln(os.Stderr, "network:", err)
		return 1
	}
	return 0
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "# %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}
