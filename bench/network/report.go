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
	"unicode/utf8"

	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/report"
	"github.com/shoal-dev/shoal/bench/internal/rootfs"
	"github.com/shoal-dev/shoal/bench/internal/stats"
)

func (b *bench) printConditions(ctx context.Context) {
	fmt.Println("== conditions ==")
	report.WriteHost(os.Stdout, 11, false)
	fmt.Printf("load avg:  %s at the start, %s after the engines started\n", b.loadStart, report.LoadAvg())
	fmt.Printf("cgroups:   %s\n", b.hybrid)
	fmt.Printf("temp dir:  %s (%s); every engine's root, exec root, socket and network namespace file below it\n", b.tmp, report.FSType(b.tmp))
	fmt.Println("netns:     every engine runs in a fresh network namespace of its own (`nsenter --net=FILE DAEMON …`; only lo, up, at start;")
	fmt.Println("           no link to the host's namespace), as does the loopback baseline; inodes:")
	for _, ns := range b.netns {
		fmt.Printf("             net:[%d] %s\n", ns.Inode, ns.Path)
	}
	fmt.Printf("image:     %s, ID %s: one `docker save`-format archive (%d KiB, one layer), `docker load -i` into every engine\n",
		image, b.imageID, report.FileSize(b.imageTar)>>10)
	fmt.Printf("           %s; %s %s + %s; %s (static, sha256 %s)\n", rootfs.BusyboxVersion(), iperfPath, b.iperfVersion,
		strings.Join(b.iperfLibs, " "), dnsloadInImage, report.SHA256File(b.o.dnsload))
	fmt.Printf("client:    %s (every engine, through DOCKER_HOST=unix://<engine socket>, own DOCKER_CONFIG)\n", report.FirstLine(report.VersionOf(b.o.docker, "--version")))
	fmt.Println("engines:")
	for _, name := range b.order {
		e := b.engines[name]
		fmt.Printf("  %-8s %s\n", name, e.ServerVersion(ctx))
		fmt.Printf("           %s\n", strings.Join(nsenter(e.ns, e.Argv...), " "))
		switch name {
		case "shoal":
			fmt.Printf("           binary sha256 %s; %s\n", report.SHA256File(b.o.shoal), report.FirstLine(strings.TrimSpace(report.VersionOf(b.o.shoal, "--version"))))
		case "dockerd":
			fmt.Printf("           %s\n", e.DockerdStack(ctx))
			fmt.Printf("           %s; default bridge docker0, --iptables (in its namespace), userland proxy\n", report.FirstLine(report.VersionOf("iptables", "--version")))
		}
		if e.err != nil {
			fmt.Printf("           NOT MEASURED: %s failed: %s\n", e.failed, indent(e.err.Error(), "             "))
			continue
		}
		same := "the archive's"
		if e.imageID != b.imageID {
			same = "NOT the archive's " + b.imageID
		}
		fmt.Printf("           image ID after load: %s (%s)\n", e.imageID, same)
		fmt.Printf("           network %s: %s\n", userNet, e.netInfo)
		fmt.Printf("           a container on it: %s; %s %s, %s %s\n", e.ctrInfo, targetName, e.targetIP, serverName, e.serverIP)
		fmt.Printf("           its network namespace: %s\n", e.nsInfo)
	}
	fmt.Println("harness:   runs every command with os/exec (own process group, output to buffers); wall = fork to exit of the client;")
	fmt.Println("           a child subreaper in a private mount namespace; cgroups of the run: /sys/fs/cgroup/*/" + harness.CgroupPattern(b.token))
	fmt.Println()
}

// warnBusy prints a warning if the 1-minute load average at the start or
// the end of a phase exceeded the number of CPUs, and remembers it for
// the goals.
func (b *bench) warnBusy(load [2]string) {
	for _, l := range load {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil && v > float64(runtime.NumCPU()) {
			b.busy = true
			fmt.Printf("WARNING: load average %s > %d CPUs: other work competes with this phase; latency tails and throughput are not representative\n", f[0], runtime.NumCPU())
			return
		}
	}
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+prefix)
}

// printNotMeasured prints, for a phase, the engines it skipped and why.
func (b *bench) printNotMeasured(errs map[string]error, names []string) {
	for _, n := range names {
		if e, ok := b.engines[n]; ok && e.err != nil {
			fmt.Printf("%-9s NOT MEASURED: %s failed: %s\n", n, e.failed, indent(e.err.Error(), "          "))
			continue
		}
		if err := errs[n]; err != nil {
			fmt.Printf("%-9s FAILED: %s\n", n, indent(err.Error(), "          "))
		}
	}
}

func (b *bench) printDNS() {
	fmt.Printf("== 1. DNS: A lookups of %q from a container on %s, through the engine's embedded DNS server ==\n", targetName, userNet)
	fmt.Printf("`docker run --rm --network %s %s %s -name %s -n %d -c C -warmup %d`, C = 1 (latency) and %d (queries/s);\n",
		userNet, image, dnsloadInImage, targetName, b.o.dnsN, b.o.dnsWarmup, b.o.dnsConc)
	fmt.Printf("%d round(s), engines interleaved; latency in µs (write of a query to read of its answer); load avg %s → %s\n",
		b.o.rounds, b.res.dnsLoad[0], b.res.dnsLoad[1])
	b.warnBusy(b.res.dnsLoad)
	fmt.Printf("%-9s %5s %3s %8s %8s %8s %9s %9s %7s  %s\n", "engine", "round", "C", "p50", "p90", "p99", "max", "queries/s", "errors", "answer, load avg after")
	for _, n := range b.order {
		for i, r := range b.res.dns[n] {
			for _, x := range []*dnsResult{r.lat, r.qps} {
				fmt.Printf("%-9s %5d %3d %8.0f %8.0f %8.0f %9.0f %9.0f %7d  %s, %s\n", n, i+1, x.Concurrency, x.P50, x.P90, x.P99, x.Max, x.QPS, x.Errors, x.Answer, r.load)
				if x.FirstError != "" {
					fmt.Printf("%-9s first error: %s\n", "", x.FirstError)
				}
			}
		}
	}
	b.printNotMeasured(b.res.dnsErr, b.order)
	fmt.Println()
}

// dnsMedian is the median over rounds of f of an engine's runs.
func (b *bench) dnsMedian(name string, f func(*dnsRound) float64) float64 {
	var v []float64
	for _, r := range b.res.dns[name] {
		v = append(v, f(r))
	}
	return stats.Median(v)
}

func (b *bench) printThroughput() {
	fmt.Printf("== 2. TCP throughput, iperf3 client → server, %s × %d stream(s), Gbit/s received ==\n", b.o.iperfTime, b.o.iperfStreams)
	for _, n := range b.order {
		if e := b.engines[n]; e.err == nil {
			fmt.Printf("%-9s `docker run --rm --network %s %s iperf3 -c %s -p %s -t %d -P %d -J` → container %s (`iperf3 -s`) on the same network\n",
				n, userNet, image, e.serverIP, iperfPort, int(b.o.iperfTime/time.Second), b.o.iperfStreams, serverName)
		}
	}
	fmt.Printf("%-9s `nsenter --net=%s %s -c 127.0.0.1 …` → `%s -s -B 127.0.0.1` in the same namespace (host loopback, same iperf3 binary)\n",
		loopbackPath, b.lo.Path, iperfPath, iperfPath)
	fmt.Printf("%d round(s) after a 1 s warm-up each, paths interleaved, order rotated; load avg %s → %s\n", b.o.iperfRounds, b.res.tputLoad[0], b.res.tputLoad[1])
	b.warnBusy(b.res.tputLoad)
	paths := append(append([]string{}, b.order...), loopbackPath)
	fmt.Printf("%-9s %8s %8s %8s  %s\n", "path", "median", "min", "max", "each round: Gbit/s (retransmits, load avg after)")
	for _, p := range paths {
		runs := b.res.tput[p]
		if len(runs) == 0 {
			continue
		}
		s := stats.Summarize(gbits(runs))
		var each []string
		for _, r := range runs {
			each = append(each, fmt.Sprintf("%.2f (%d, %s)", r.bps/1e9, r.retrans, r.load))
		}
		fmt.Printf("%-9s %8.2f %8.2f %8.2f  %s\n", p, s.Median, s.Min, s.Max, strings.Join(each, ", "))
	}
	fmt.Println("ratios of the runs of the same round (adjacent in time, so load drifts cancel out more than in a ratio of medians):")
	for _, pr := range [][2]string{{"shoal", "dockerd"}, {"shoal", loopbackPath}, {"dockerd", loopbackPath}} {
		if v := pairedRatios(b.res.tput[pr[0]], b.res.tput[pr[1]]); len(v) > 0 {
			s := stats.Summarize(v)
			fmt.Printf("  %-8s / %-8s  median %.2f  min %.2f  max %.2f  (%d rounds)\n", pr[0], pr[1], s.Median, s.Min, s.Max, len(v))
		}
	}
	b.printNotMeasured(b.res.tputErr, paths)
	fmt.Println()
}

// pairedRatios returns a's throughput over b's, round by round, for the
// rounds both have.
func pairedRatios(a, b []*iperfRun) []float64 {
	byRound := map[int]float64{}
	for _, r := range b {
		byRound[r.round] = r.bps
	}
	var v []float64
	for _, r := range a {
		if d, ok := byRound[r.round]; ok && d > 0 {
			v = append(v, r.bps/d)
		}
	}
	return v
}

func gbits(runs []*iperfRun) []float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = r.bps / 1e9
	}
	return v
}

func (b *bench) printSetup() {
	fmt.Printf("== 3. network setup and teardown: `docker run --rm --network MODE %s true`, ms ==\n", image)
	fmt.Printf("%d timed runs per engine and mode after %d warm-up, engines and modes round-robin (order rotated); load avg %s → %s\n",
		b.o.setupN, b.o.setupWarmup, b.res.setupLoad[0], b.res.setupLoad[1])
	b.warnBusy(b.res.setupLoad)
	fmt.Println("Δ none: the network's setup + teardown, as the difference of the medians and as the median of the differences")
	fmt.Println("of the runs of the same round (adjacent in time: load drifts cancel out more)")
	fmt.Printf("%-9s %-16s %4s %8s %8s %8s %8s  %14s %14s\n", "engine", "--network", "n", "min", "median", "p90", "max", "Δ none medians", "Δ none paired")
	for _, n := range b.order {
		if b.engines[n].err != nil {
			continue
		}
		none := stats.Median(stats.MillisOf(b.res.setup[n]["none"]))
		for _, m := range setupModes {
			d := b.res.setup[n][m]
			if err := b.res.setupErr[n][m]; err != nil {
				fmt.Printf("%-9s %-16s FAILED: %s\n", n, m, indent(err.Error(), "          "))
				continue
			}
			if len(d) == 0 {
				continue
			}
			s := stats.Summarize(stats.MillisOf(d))
			diff, paired := "", ""
			if m != "none" {
				diff = fmt.Sprintf("%+.1f", s.Median-none)
				paired = fmt.Sprintf("%+.1f", b.setupPaired(n, m))
			}
			fmt.Printf("%-9s %-16s %4d %8.1f %8.1f %8.1f %8.1f  %14s %14s\n", n, m, len(d), s.Min, s.Median, s.P90, s.Max, diff, paired)
		}
	}
	fmt.Printf("`docker network create NAME` / `docker network rm NAME`, %d pairs per engine after 1 warm-up, ms:\n", b.o.netN)
	fmt.Printf("%-9s %-8s %4s %8s %8s %8s %8s\n", "engine", "verb", "n", "min", "median", "p90", "max")
	for _, n := range b.order {
		if err := b.res.netErr[n]; err != nil {
			fmt.Printf("%-9s FAILED: %s\n", n, indent(err.Error(), "          "))
		}
		for _, v := range []struct {
			verb string
			d    []time.Duration
		}{{"create", b.res.netCreate[n]}, {"rm", b.res.netRm[n]}} {
			if len(v.d) == 0 {
				continue
			}
			s := stats.Summarize(stats.MillisOf(v.d))
			fmt.Printf("%-9s %-8s %4d %8.1f %8.1f %8.1f %8.1f\n", n, v.verb, len(v.d), s.Min, s.Median, s.P90, s.Max)
		}
	}
	b.printNotMeasured(nil, b.order)
	fmt.Println()
}

// setupPaired is the median over rounds of the wall time of
// `docker run --rm --network mode` minus that of `--network none` in the
// same round, in ms. A mode's i-th sample is from round i: a mode stops
// at its first failure, so its samples are a prefix of the rounds.
func (b *bench) setupPaired(name, mode string) float64 {
	a, none := stats.MillisOf(b.res.setup[name][mode]), stats.MillisOf(b.res.setup[name]["none"])
	var d []float64
	for i := 0; i < len(a) && i < len(none); i++ {
		d = append(d, a[i]-none[i])
	}
	return stats.Median(d)
}

// printSummary prints the medians side by side with ratios, and the
// issue's goals.
func (b *bench) printSummary() {
	const sh, dk = "shoal", "dockerd"
	fmt.Println("== summary (medians over rounds / runs) ==")
	const w = 62
	fmt.Printf("%s %10s %10s %14s\n", pad("", w), sh, dk, "shoal/dockerd")
	row := func(label string, f func(name string) float64, prec int) {
		v := map[string]float64{}
		for _, n := range []string{sh, dk} {
			v[n] = math.NaN()
			if _, ok := b.engines[n]; ok {
				v[n] = f(n)
			}
		}
		fmt.Printf("%s %10s %10s %14s\n", pad(label, w), num(v[sh], prec), num(v[dk], prec), num(v[sh]/v[dk], 2))
	}
	if b.o.phases["dns"] {
		row("DNS latency p50, 1 in flight (µs)", func(n string) float64 { return b.dnsMedian(n, func(r *dnsRound) float64 { return r.lat.P50 }) }, 0)
		row("DNS latency p99, 1 in flight (µs)", func(n string) float64 { return b.dnsMedian(n, func(r *dnsRound) float64 { return r.lat.P99 }) }, 0)
		row("DNS queries/s, 1 in flight", func(n string) float64 { return b.dnsMedian(n, func(r *dnsRound) float64 { return r.lat.QPS }) }, 0)
		row(fmt.Sprintf("DNS queries/s, %d in flight", b.o.dnsConc), func(n string) float64 { return b.dnsMedian(n, func(r *dnsRound) float64 { return r.qps.QPS }) }, 0)
		row(fmt.Sprintf("DNS latency p99, %d in flight (µs)", b.o.dnsConc), func(n string) float64 { return b.dnsMedian(n, func(r *dnsRound) float64 { return r.qps.P99 }) }, 0)
	}
	lo := math.NaN()
	if b.o.phases["throughput"] {
		lo = stats.Median(gbits(b.res.tput[loopbackPath]))
		row("TCP container→container over the bridge (Gbit/s)", func(n string) float64 { return stats.Median(gbits(b.res.tput[n])) }, 2)
		row("  as a fraction of host loopback ("+num(lo, 2)+" Gbit/s)", func(n string) float64 { return stats.Median(gbits(b.res.tput[n])) / lo }, 2)
	}
	if b.o.phases["setup"] {
		runMs := func(m string) func(string) float64 {
			return func(n string) float64 { return stats.Median(stats.MillisOf(b.res.setup[n][m])) }
		}
		costMs := func(m string) func(string) float64 {
			return func(n string) float64 { return b.setupPaired(n, m) }
		}
		row("docker run --rm --network none … true (ms)", runMs("none"), 1)
		row("docker run --rm --network "+userNet+" … true (ms)", runMs(userNet), 1)
		row("  network setup + teardown, "+userNet+" − none, paired (ms)", costMs(userNet), 1)
		row("docker run --rm --network bridge … true (ms)", runMs("bridge"), 1)
		row("  network setup + teardown, bridge − none, paired (ms)", costMs("bridge"), 1)
		row("docker network create (ms)", func(n string) float64 { return stats.Median(stats.MillisOf(b.res.netCreate[n])) }, 1)
		row("docker network rm (ms)", func(n string) float64 { return stats.Median(stats.MillisOf(b.res.netRm[n])) }, 1)
	}
	fmt.Println()

	fmt.Printf("load avg at the end: %s\n\n", report.LoadAvg())
	fmt.Println("== goals ==")
	if b.busy {
		fmt.Printf("WARNING: the load average exceeded the %d CPUs during a phase (see above): other work competed with the benchmark\n", runtime.NumCPU())
	}
	goal := func(label string, ok bool, have bool, detail string) {
		verdict := "NOT MET"
		switch {
		case !have:
			verdict = "NOT MEASURED"
		case ok:
			verdict = "MET"
		}
		fmt.Printf("%s: %s: %s\n", label, detail, verdict)
	}
	if b.o.phases["dns"] {
		p99 := b.dnsMedian(sh, func(r *dnsRound) float64 { return r.lat.P99 })
		goal("Shoal DNS p99 < 1 ms (1 in flight)", p99 < 1000, !math.IsNaN(p99), num(p99, 0)+" µs")
		qs := b.dnsMedian(sh, func(r *dnsRound) float64 { return r.qps.QPS })
		qd := b.dnsMedian(dk, func(r *dnsRound) float64 { return r.qps.QPS })
		goal(fmt.Sprintf("Shoal DNS queries/s >= dockerd's (%d in flight)", b.o.dnsConc), qs >= qd, !math.IsNaN(qs/qd),
			fmt.Sprintf("%s vs %s (%s×)", num(qs, 0), num(qd, 0), num(qs/qd, 2)))
		if d := b.dnsMedian(dk, func(r *dnsRound) float64 { return r.lat.P99 }); !math.IsNaN(d) {
			fmt.Printf("(dockerd's DNS p99, 1 in flight: %s µs)\n", num(d, 0))
		}
	}
	if b.o.phases["throughput"] {
		ts, td := stats.Median(gbits(b.res.tput[sh])), stats.Median(gbits(b.res.tput[dk]))
		detail := fmt.Sprintf("%s vs %s Gbit/s (%s%%)", num(ts, 2), num(td, 2), num(100*ts/td, 0))
		if v := pairedRatios(b.res.tput[sh], b.res.tput[dk]); len(v) > 0 {
			s := stats.Summarize(v)
			detail += fmt.Sprintf("; per-round ratios %.0f%% median, %.0f–%.0f%%", 100*s.Median, 100*s.Min, 100*s.Max)
		}
		goal("Shoal bridge throughput >= 90% of dockerd's (ratio of medians)", ts >= 0.9*td, !math.IsNaN(ts/td), detail)
	}
}

// pad pads s with spaces to n characters (runes, not bytes: "µs").
func pad(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.*f", prec, v)
}
