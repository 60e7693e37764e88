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
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/harness"
)

// image is the name the busybox rootfs is imported under in every engine.
const image = "shoal-bench/busybox:latest"

// libpodMarker is a file in the temp dir saying that this run created
// /sys/fs/cgroup/*/libpod_parent (podman's cgroupfs parent, which has no
// setting), so the cleanup may remove it again once it is empty.
const libpodMarker = "libpod_parent.created"

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
	harness.Parse("daemon-run")
	fail := func(format string, a ...any) { harness.Fail("daemon-run", format, a...) }
	var err error
	if o.engines, err = harness.Subset("-engines", engines, []string{"shoal", "dockerd", "podman"}); err != nil {
		fail("%v", err)
	}
	if o.bundleRuntimes, err = harness.Subset("-bundle-runtimes", bundles, []string{"crun", "shoal"}); err != nil {
		fail("%v", err)
	}
	if o.phases, err = harness.SubsetSet("-phases", phases, allPhases); err != nil {
		fail("%v", err)
	}
	if len(o.engines) == 0 || o.n < 1 || o.warmup < 0 || o.detached < 1 || o.clients < 1 || o.clientRuns < 1 || o.idle < 1 || o.rounds < 1 {
		fail("need at least one engine, -n >= 1, -warmup >= 0, -detached, -clients, -client-runs, -idle, -rounds >= 1")
	}
	return o
}

func main() {
	o := parseFlags()
	// The inner stage runs the benchmark in a private mount namespace;
	// the outer one kills and removes whatever it leaves behind if it
	// dies (a daemon's monitor, shims, conmon, containers), and nothing
	// of the run may be left.
	out := &harness.Outer{
		Name: "daemon-run", Why: "it starts container engines", Check: func() error { return ensureTools(o) },
		TmpBase: o.tmpBase, Keep: o.keep, Checked: "process, cgroup or mount",
		AfterCleanup: func(tmp string) {
			if _, err := os.Stat(filepath.Join(tmp, libpodMarker)); err == nil {
				removeLibpodParent()
			}
		},
	}
	os.Exit(out.Main(func(tmp string) harness.Job {
		return &bench{o: o, tmp: tmp, token: harness.Token(tmp), engines: map[string]*engine{}}
	}))
}

// ensureTools finds (or, with -apt-install, installs) what the chosen
// engines and references need.
func ensureTools(o *options) error {
	if o.shoal == "" {
		return errors.New("-shoal BINARY is required (scripts/build /tmp/x/shoal)")
	}
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
	if err := harness.Ensure(need, o.aptInstall); err != nil {
		return err
	}
	bins := []*string{&o.shoal, &o.docker}
	if slices.Contains(o.bundleRuntimes, "crun") {
		bins = append(bins, &o.crun)
	}
	return harness.Resolve(bins...)
}
