package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/report"
	"github.com/shoal-dev/shoal/bench/internal/rootfs"
	"github.com/shoal-dev/shoal/bench/internal/stats"
)

// Goals.
const (
	rebuildGoal = 100 * time.Millisecond // Shoal's cached rebuild, through the CLI
	// dockerdRebuildEarlier is dockerd's cached rebuild as measured
	// before this benchmark existed, for the report.
	dockerdRebuildEarlier = "~180 ms"
)

func (b *bench) printConditions(ctx context.Context) {
	fmt.Println("== conditions ==")
	report.WriteHost(os.Stdout, 11, false)
	fmt.Printf("load avg:  %s at the start, %s after the engines started\n", b.loadStart, report.LoadAvg())
	fmt.Printf("cgroups:   %s\n", b.hybrid)
	fmt.Printf("temp dir:  %s (%s); every engine's root, exec root, socket and network namespace file below it\n", b.tmp, report.FSType(b.tmp))
	fmt.Println("netns:     each engine runs in a fresh network namespace of its own (`nsenter --net=FILE DAEMON …`; only lo at start):")
	for _, ns := range b.netns {
		fmt.Printf("             net:[%d] %s\n", ns.Inode, ns.Path)
	}
	fmt.Printf("image:     %s, ID %s: one `docker save`-format archive (%d KiB, one layer), `docker load -i` into both engines;\n",
		baseImage, b.imageID, report.FileSize(b.imageTar)>>10)
	fmt.Printf("           %s, /etc/passwd with root and nobody\n", rootfs.BusyboxVersion())
	fmt.Printf("client:    %s (both engines, DOCKER_HOST=unix://<engine socket>, own DOCKER_CONFIG, DOCKER_BUILDKIT=0)\n",
		report.FirstLine(report.VersionOf(b.o.docker, "--version")))
	if b.o.phases["compose"] {
		fmt.Printf("compose:   %s; %s compose (%s)\n", strings.TrimSpace(report.FirstLine(report.VersionOf(b.o.compose, "version", "--short"))),
			b.o.shoal, strings.TrimSpace(report.FirstLine(report.VersionOf(b.o.shoal, "compose", "version", "--short"))))
	}
	fmt.Println("engines:")
	for _, n := range engineNames {
		e := b.engines[n]
		fmt.Printf("  %-8s %s\n", n, e.ServerVersion(ctx))
		fmt.Printf("           %s\n", strings.Join(nsenter(e.ns, e.Argv...), " "))
		switch n {
		case "shoal":
			fmt.Printf("           binary sha256 %s; %s\n", report.SHA256File(b.o.shoal), report.FirstLine(strings.TrimSpace(report.VersionOf(b.o.shoal, "--version"))))
		case "dockerd":
			fmt.Printf("           %s\n", e.DockerdStack(ctx))
			fmt.Printf("           classic builder; default bridge docker0 and %s in its namespace\n", report.FirstLine(report.VersionOf("iptables", "--version")))
		}
		same := "the archive's"
		if e.imageID != b.imageID {
			same = "NOT the archive's " + b.imageID
		}
		fmt.Printf("           base image ID after load: %s (%s)\n", e.imageID, same)
	}
	fmt.Printf("runs:      -n %d timed, after -warmup %d untimed, per row; rows interleaved, order rotated each run/round\n", b.o.n, b.o.warmup)
	fmt.Println("harness:   every command through os/exec (own process group, output to buffers); time = fork to exit of the client;")
	fmt.Println("           a child subreaper in a private mount namespace; cgroups of the run: /sys/fs/cgroup/*/" + harness.CgroupPattern(b.token))
	fmt.Println()
}

// warnBusy prints a warning if the 1-minute load average before or after
// a phase exceeded the number of CPUs.
func (b *bench) warnBusy(load [2]string) {
	for _, l := range load {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil && v > float64(runtime.NumCPU()) {
			fmt.Printf("WARNING: load average %s > %d CPUs: other work competes with this phase\n", f[0], runtime.NumCPU())
			b.busy = true
			return
		}
	}
}

// ms formats milliseconds, "-" for NaN.
func ms(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// median is the median of a row's runs in milliseconds, NaN without any.
func (r *row) median() float64 {
	if r == nil || len(r.runs) == 0 {
		return math.NaN()
	}
	return stats.Median(stats.MillisOf(r.runs))
}

// printRows prints a table of rows (min/median/p90/max in ms) with the
// ratio of each row's median to ref's (with a bootstrap 95% interval),
// and for compose rows the median of `down`.
func printRows(rows []*row, ref *row, withDown bool) {
	head := fmt.Sprintf("%-28s %3s %7s %7s %7s %7s  %-24s", "row", "n", "min", "median", "p90", "max", "ratio to "+ref.name)
	if withDown {
		head += "  down median"
	}
	fmt.Println(head + "  (ms)")
	for _, r := range rows {
		if len(r.runs) == 0 {
			fmt.Printf("%-28s FAILED: %s\n", r.name, indent(errText(r.err), "    "))
			continue
		}
		s := stats.Summarize(stats.MillisOf(r.runs))
		ratio := "(reference)"
		if r != ref && len(ref.runs) > 0 {
			lo, hi := stats.BootstrapRatio(stats.MillisOf(r.runs), stats.MillisOf(ref.runs), 2000)
			ratio = fmt.Sprintf("%.2f (95%% CI %.2f–%.2f)", s.Median/ref.median(), lo, hi)
		}
		line := fmt.Sprintf("%-28s %3d %7s %7s %7s %7s  %-24s", r.name, len(r.runs), ms(s.Min), ms(s.Median), ms(s.P90), ms(s.Max), ratio)
		if withDown {
			line += "  " + ms(stats.Median(stats.MillisOf(r.down)))
		}
		fmt.Println(line)
		if r.err != nil {
			fmt.Printf("%-28s STOPPED after %d run(s): %s\n", "", len(r.runs), indent(r.err.Error(), "    "))
		}
	}
	fmt.Println("every timed run, in order (ms):")
	for _, r := range rows {
		if len(r.runs) > 0 {
			fmt.Printf("  %-26s %s\n", r.name, samples(r.runs))
			if withDown {
				fmt.Printf("  %-26s %s\n", "  down", samples(r.down))
			}
		}
	}
}

// samples lists durations in milliseconds, the first 20.
func samples(ds []time.Duration) string {
	var f []string
	for i, d := range ds {
		if i == 20 {
			f = append(f, "…")
			break
		}
		f = append(f, ms(stats.Millis(d)))
	}
	return strings.Join(f, " ")
}

func errText(err error) string {
	if err == nil {
		return "no run (interrupted?)"
	}
	return err.Error()
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+prefix)
}

func (b *bench) printBuild() {
	fmt.Println("== 1. build from scratch: `DOCKER_BUILDKIT=0 docker build --no-cache -t " + builtImage + " CONTEXT` ==")
	fmt.Println("two stages, 13 steps (ARG, FROM, ARG, ENV, WORKDIR, COPY, RUN | FROM, LABEL, WORKDIR, COPY --from, USER, CMD);")
	fmt.Printf("before each run (untimed): `docker rmi -f %s` and `docker image prune -f`; load avg %s → %s\n",
		builtImage, b.res.load["build"][0], b.res.load["build"][1])
	b.warnBusy(b.res.load["build"])
	printRows(b.res.build, b.res.build[1], false)
	for _, n := range engineNames {
		if e := b.engines[n]; e.runOut != "" {
			fmt.Printf("%s: `docker run --rm --network none %s` printed %q\n", n, builtImage, e.runOut)
		}
	}
	fmt.Println()
}

func (b *bench) printRebuild() {
	fmt.Println("== 2. rebuild, nothing changed: `DOCKER_BUILDKIT=0 docker build -t " + builtImage + " CONTEXT` ==")
	fmt.Printf("every run must take all %d cacheable steps from the cache (\"Using cache\") and give the same image ID; load avg %s → %s\n",
		cachedSteps, b.res.load["rebuild"][0], b.res.load["rebuild"][1])
	b.warnBusy(b.res.load["rebuild"])
	printRows(b.res.rebuild, b.res.rebuild[1], false)
	fmt.Println()
}

func (b *bench) printCompose() {
	fmt.Printf("== 3. compose: `up -d` of %d services, then `down -t 1` (project %s, its default network) ==\n", services, project)
	fmt.Printf("services: %s: httpd; %s: httpd with a healthcheck (wget, interval %v); %s: sleep, depends_on %s service_healthy;\n",
		strings.Join(httpServices, " "), healthService, b.o.healthInterval, dependentService, healthService)
	fmt.Printf("          %s: sleep; all init: true, image %s\n", strings.Join(sleepServices, " "), baseImage)
	fmt.Println("clients:  shoal compose = `shoal -H unix://SOCK compose -p P -f FILE up -d`; docker-compose = `docker-compose -p P -f FILE up -d`")
	fmt.Println("          rows 2 and 4 separate the client's share from the engine's; the goal compares row 1 with row 3")
	fmt.Printf("after up (untimed): %d containers running, %s healthy; after down: no container or network of the project; load avg %s → %s\n",
		services, healthService, b.res.load["compose"][0], b.res.load["compose"][1])
	b.warnBusy(b.res.load["compose"])
	printRows(b.res.compose, b.res.compose[2], true)
	fmt.Println("where the last `up -d` went (the engine's events, ms from the client's start):")
	for _, c := range composeRows {
		if t, ok := b.timelines[c]; ok {
			fmt.Printf("  %-26s %s\n", c, t)
		}
	}
	fmt.Println()
}

func (b *bench) printGoals() {
	fmt.Println("== goals ==")
	if b.busy {
		fmt.Println("(the load average exceeded the CPU count during a phase: the figures include other work's interference)")
	}
	goal := func(label string, ok, have bool, detail string) {
		verdict := "NOT MET"
		switch {
		case !have:
			verdict = "NOT MEASURED"
		case ok:
			verdict = "MET"
		}
		fmt.Printf("%-62s %-12s %s\n", label, verdict, detail)
	}
	if b.o.phases["build"] {
		s, d := b.res.build[0].median(), b.res.build[1].median()
		fmt.Printf("%-62s %-12s Shoal %s ms, dockerd %s ms (%.2f×)\n", "build --no-cache (no goal)", "-", ms(s), ms(d), s/d)
	}
	if b.o.phases["rebuild"] {
		s, d := b.res.rebuild[0].median(), b.res.rebuild[1].median()
		goal(fmt.Sprintf("Shoal cached rebuild through the CLI < %v (median)", rebuildGoal), s < float64(rebuildGoal.Milliseconds()), !math.IsNaN(s),
			fmt.Sprintf("Shoal %s ms, dockerd %s ms (earlier: %s)", ms(s), ms(d), dockerdRebuildEarlier))
	}
	if b.o.phases["compose"] {
		s, d := b.res.compose[0].median(), b.res.compose[2].median()
		goal("shoal compose up -d on Shoal < docker-compose 1.29 on dockerd", s < d, !math.IsNaN(s) && !math.IsNaN(d),
			fmt.Sprintf("%s ms vs %s ms (%.2f×)", ms(s), ms(d), s/d))
	}
}
