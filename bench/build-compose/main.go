// Command build-compose benchmarks image builds and Compose through
// Shoal's daemon against dockerd (Debian's docker.io 20.10), with the same
// docker CLI as the client of both (DOCKER_HOST pointing at each engine's
// private socket) and the same base image (one `docker save`-format
// archive of a busybox-static root file system that both engines `docker
// load`):
//
//  1. build: `DOCKER_BUILDKIT=0 docker build --no-cache` (the classic
//     builder) of a small two-stage Dockerfile (ARG, ENV, WORKDIR, COPY,
//     RUN, COPY --from, USER, LABEL, CMD), the image and dangling images
//     removed before each run;
//  2. rebuild: the same `docker build` with nothing changed, every step
//     from the cache (the goal: Shoal under 100 ms through the CLI);
//  3. compose: `compose up -d` of a ten-service app on the project's
//     default network (httpd and sleep services, one waiting for another
//     to be healthy), then `compose down`, each round: `shoal compose` and
//     Debian's docker-compose 1.29 against Shoal, docker-compose 1.29 (and
//     `shoal compose`) against dockerd (the goal: Shoal's `compose up -d`
//     faster than docker-compose's on dockerd).
//
// It must run as root. It re-executes itself in a private mount namespace
// and starts each engine inside a fresh network namespace of its own
// (`nsenter --net=FILE`), so the bridges, veths and iptables/nftables
// rules the engines make stay inside namespaces this run created; nothing
// is pulled. At the end, also after a failure or Ctrl-C, it removes every
// container, stops the daemons (and dockerd's containerd and shims),
// removes its cgroups, mounts, network namespaces and the temp dir, and
// checks from the host's namespace that none of it is left. See
// docs/bench-build-compose.md.
//
//	go run ./bench/build-compose -n 5           # builds shoal with scripts/build
//	go run ./bench/build-compose -shoal /tmp/x/shoal -n 9
package main

import (
	"flag"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/daemon"
	"github.com/shoal-dev/shoal/bench/internal/harness"
)

// name starts every message of the program.
const name = "build-compose"

var allPhases = []string{"build", "rebuild", "compose"}

type options struct {
	shoal, docker, compose string
	phases                 map[string]bool
	n, warmup              int
	healthInterval         time.Duration
	timeout                time.Duration
	shoalLogLevel          string
	aptInstall             bool
	tmpBase                string
	keep                   bool
}

func parseFlags() *options {
	o := &options{}
	var phases string
	flag.StringVar(&o.shoal, "shoal", "", "shoal binary (default: build one with scripts/build into the temp dir; run from the repository)")
	flag.StringVar(&o.docker, "docker", "docker", "docker CLI: the client of both engines (v28 expected)")
	flag.StringVar(&o.compose, "docker-compose", "docker-compose", "Compose v1 client (Debian's docker-compose 1.29)")
	flag.StringVar(&phases, "phases", strings.Join(allPhases, ","), "benchmarks to run (subset of "+strings.Join(allPhases, ",")+")")
	flag.IntVar(&o.n, "n", 5, "timed runs per engine (build, rebuild) and timed up+down rounds per compose row")
	flag.IntVar(&o.warmup, "warmup", 1, "untimed runs (rounds) of each row before the timed ones")
	flag.DurationVar(&o.healthInterval, "health-interval", 200*time.Millisecond, "compose: healthcheck interval of the service the dependent one waits for")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "limit for one command")
	flag.StringVar(&o.shoalLogLevel, "shoal-log-level", "warn", "shoal daemon's --log-level (dockerd runs with warn)")
	flag.BoolVar(&o.aptInstall, "apt-install", false, "apt-get update && apt-get install -y docker.io busybox-static iptables if missing (docker-compose is installed when missing anyway)")
	flag.StringVar(&o.tmpBase, "tmp", "", "parent of the temp dir (default $TMPDIR or /tmp)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (engine logs, image archive, build context, compose file); daemons, containers and namespaces are removed anyway")
	harness.Parse(name)
	var err error
	if o.phases, err = harness.SubsetSet("-phases", phases, allPhases); err != nil {
		harness.Fail(name, "%v", err)
	}
	if len(o.phases) == 0 || o.n < 1 || o.warmup < 0 || o.healthInterval < time.Millisecond {
		harness.Fail(name, "need a phase, -n >= 1, -warmup >= 0, -health-interval >= 1ms")
	}
	return o
}

func main() {
	o := parseFlags()
	// The inner stage runs the benchmark in a private mount namespace, so
	// the bind mounts that keep the network namespaces alive, and the
	// engines' mounts, are never seen outside; the outer one kills and
	// removes whatever it leaves behind if it dies.
	out := daemon.NetnsOuter(name, o.tmpBase, o.keep, func() error { return ensureTools(o) })
	os.Exit(out.Main(func(tmp string) harness.Job {
		return &bench{o: o, tmp: tmp, token: harness.Token(tmp), engines: map[string]*engine{}}
	}))
}

// ensureTools finds (or, with -apt-install, installs) what the engines
// need; Debian's docker-compose is installed if it is missing and the
// compose phase runs.
func ensureTools(o *options) error {
	need := map[string]string{o.docker: "docker.io", "nsenter": "util-linux", "dockerd": "docker.io",
		"containerd": "docker.io", "iptables": "iptables"}
	if err := harness.Ensure(need, o.aptInstall); err != nil {
		return err
	}
	if o.phases["compose"] {
		if _, err := exec.LookPath(o.compose); err != nil && o.compose == "docker-compose" {
			harness.Logf("docker-compose is missing: apt-get install -y docker-compose")
			if err := harness.AptInstall(true, "docker-compose"); err != nil {
				return err
			}
		}
	}
	bins := []*string{&o.docker}
	if o.phases["compose"] {
		bins = append(bins, &o.compose)
	}
	if o.shoal != "" {
		bins = append(bins, &o.shoal)
	}
	return harness.Resolve(bins...)
}
