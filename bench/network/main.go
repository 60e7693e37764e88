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
	"flag"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/daemon"
	"github.com/shoal-dev/shoal/bench/internal/harness"
)

// image is the name the benchmark's image is loaded under in every engine.
const image = "shoal-bench/net:latest"

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
	harness.Parse("network")
	fail := func(format string, a ...any) { harness.Fail("network", format, a...) }
	var err error
	if o.engines, err = harness.Subset("-engines", engines, []string{"shoal", "dockerd"}); err != nil {
		fail("%v", err)
	}
	if o.phases, err = harness.SubsetSet("-phases", phases, allPhases); err != nil {
		fail("%v", err)
	}
	if len(o.engines) == 0 || o.rounds < 1 || o.iperfRounds < 1 || o.dnsN < 1 || o.dnsConc < 1 || o.dnsWarmup < 0 || o.iperfTime < time.Second ||
		o.iperfStreams < 1 || o.setupN < 1 || o.setupWarmup < 0 || o.netN < 1 {
		fail("need at least one engine, -rounds, -iperf-rounds, -dns-n, -dns-c, -iperf-streams, -setup-n, -net-n >= 1, -iperf-time >= 1s, -dns-warmup, -setup-warmup >= 0")
	}
	return o
}

func main() {
	o := parseFlags()
	// The inner stage runs the benchmark in a private mount namespace, so
	// the bind mounts that keep the network namespaces alive, and the
	// engines' mounts, are never seen outside; the outer one kills and
	// removes whatever it leaves behind if it dies, and nothing of the run
	// may be left.
	out := daemon.NetnsOuter("network", o.tmpBase, o.keep, func() error { return ensureTools(o) })
	os.Exit(out.Main(func(tmp string) harness.Job {
		return &bench{o: o, tmp: tmp, token: harness.Token(tmp), engines: map[string]*engine{}}
	}))
}

// ensureTools finds (or, with -apt-install, installs) what the chosen
// engines and the image need.
func ensureTools(o *options) error {
	need := map[string]string{o.docker: "docker.io", "nsenter": "util-linux", iperfPath: "iperf3"}
	if slices.Contains(o.engines, "dockerd") {
		need["dockerd"] = "docker.io"
		need["containerd"] = "docker.io"
		need["iptables"] = "iptables"
	}
	if err := harness.Ensure(need, o.aptInstall); err != nil {
		return err
	}
	bins := []*string{&o.docker}
	if o.shoal != "" {
		bins = append(bins, &o.shoal)
	}
	if o.dnsload != "" {
		bins = append(bins, &o.dnsload)
	}
	return harness.Resolve(bins...)
}
