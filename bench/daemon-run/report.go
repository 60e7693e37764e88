package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/report"
	"github.com/shoal-dev/shoal/bench/internal/rootfs"
	"github.com/shoal-dev/shoal/bench/internal/stats"
)

func (b *bench) printConditions(ctx context.Context) {
	fmt.Println("== conditions ==")
	report.WriteHost(os.Stdout, 11, false)
	fmt.Printf("load avg:  %s (after the engines started)\n", report.LoadAvg())
	fmt.Printf("cgroups:   %s\n", b.hybrid)
	fmt.Printf("temp dir:  %s (%s); every engine's root, exec root and socket below it\n", b.tmp, report.FSType(b.tmp))
	fmt.Printf("image:     %s = %s imported with `docker import --change 'CMD [\"sh\"]' rootfs.tar %s`\n", image, rootfs.BusyboxVersion(), image)
	fmt.Printf("           (podman: `podman import --change 'CMD [\"sh\"]' rootfs.tar %s`), %d KiB tar\n", image, report.FileSize(b.rootfsTar)>>10)
	fmt.Printf("client:    %s (every engine, through DOCKER_HOST=unix://<engine socket>, own DOCKER_CONFIG)\n", report.FirstLine(report.VersionOf(b.o.docker, "--version")))
	fmt.Println("engines:")
	for _, name := range b.order {
		e := b.engines[name]
		fmt.Printf("  %-8s %s\n", name, e.ServerVersion(ctx))
		fmt.Printf("           %s\n", strings.Join(e.Argv, " "))
		switch name {
		case "shoal":
			fmt.Printf("           binary sha256 %s; runtime: Shoal's own (in the same binary); per container: no process but the container's\n", report.SHA256File(b.o.shoal))
		case "dockerd":
			fmt.Printf("           %s\n", e.DockerdStack(ctx))
		case "podman":
			out, _ := b.podman(ctx, e, "info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}|{{.Host.Conmon.Version}}|{{.Store.GraphDriverName}}")
			fmt.Printf("           runtime|conmon|storage: %s\n", strings.Join(strings.Fields(out), " "))
		}
		for _, n := range e.notes {
			fmt.Printf("           note: %s\n", n)
		}
	}
	if len(b.o.bundleRuntimes) > 0 {
		fmt.Printf("bundle:    %s: same rootfs, read-only; config.json from `shoal runtime spec`, args [/bin/true], ociVersion 1.0.2,\n", b.bundle)
		fmt.Printf("           namespaces pid,net,ipc,uts,mount; cgroupsPath %s/<runtime>-<iteration>\n", b.cgroupParent("bundle"))
		if slices.Contains(b.o.bundleRuntimes, "crun") {
			fmt.Printf("           %s\n", strings.ReplaceAll(strings.TrimSpace(report.VersionOf(b.o.crun, "--version")), "\n", "; "))
		}
	}
	if b.shoalRun {
		fmt.Println("shoal run: available (`shoal run --help` works): timed as a row of the latency phase")
	} else {
		fmt.Printf("shoal run: SKIPPED: the shoal CLI has no `run` verb yet (%s)\n", b.shoalRunNote)
	}
	fmt.Println("harness:   runs every command with os/exec (own process group, output to a buffer); wall = fork to exit of the client;")
	fmt.Println("           a child subreaper in a private mount namespace; cgroups of the run: /sys/fs/cgroup/*/" + harness.CgroupPattern(b.token))
	fmt.Println()
}

func (b *bench) printLatency() {
	fmt.Printf("== 1. latency: one container running /bin/true, start to exit of the client, ms ==\n")
	fmt.Printf("%d timed runs per row after %d warm-up, rows round-robin (start rotated each round); took %s; load avg %s → %s\n",
		b.o.n, b.o.warmup, b.res.latencyWall.Round(time.Second), b.res.loadLatency[0], b.res.loadLatency[1])
	fmt.Printf("%-20s %4s %8s %8s %8s %8s %8s  %s\n", "row", "n", "min", "median", "p90", "max", "mean", "command")
	for _, r := range b.rows {
		if len(r.samples) == 0 {
			fmt.Printf("%-20s %4d  (no successful run; first error: %v)\n", r.name, 0, r.firstErr)
			continue
		}
		s := stats.Summarize(stats.MillisOf(r.samples))
		fmt.Printf("%-20s %4d %8.1f %8.1f %8.1f %8.1f %8.1f  %s\n", r.name, len(r.samples), s.Min, s.Median, s.P90, s.Max, s.Mean, r.argv)
	}
	for _, r := range b.rows {
		if r.fails > 0 {
			fmt.Printf("note: %s failed %d time(s) (not counted); first: %v\n", r.name, r.fails, r.firstErr)
		}
	}
	fmt.Println("\nratios of medians (95% bootstrap CI):")
	pairs := [][2]string{{"docker→dockerd", "docker→shoal"}, {"docker→podman", "docker→shoal"},
		{"shoal run", "crun run"}, {"shoal runtime run", "crun run"}, {"docker→shoal", "crun run"}, {"docker→shoal", "shoal runtime run"}}
	for _, p := range pairs {
		a, c := b.row(p[0]), b.row(p[1])
		if a == nil || c == nil || len(a.samples) == 0 || len(c.samples) == 0 {
			continue
		}
		x, y := stats.MillisOf(a.samples), stats.MillisOf(c.samples)
		lo, hi := stats.BootstrapRatio(x, y, 2000)
		fmt.Printf("  %-18s / %-18s %6.2f  [%5.2f, %5.2f]\n", p[0], p[1], stats.Median(x)/stats.Median(y), lo, hi)
	}
	if r := b.row("docker→shoal"); r != nil && len(r.samples) > 0 {
		b.printShoalLog(r)
	}
	fmt.Println()
}

func (b *bench) row(name string) *row {
	for _, r := range b.rows {
		if r.name == name {
			return r
		}
	}
	return nil
}

// apiRecord is one "api request" line of the shoal daemon's debug log.
type apiRecord struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Status   int       `json:"status"`
	Duration int64     `json:"duration"` // ns
}

var (
	reVersion = regexp.MustCompile(`^/v[0-9.]+/`)
	reID      = regexp.MustCompile(`/containers/[^/]+/`)
)

// printShoalLog matches the shoal daemon's per-request debug log lines to
// the timed docker→shoal runs (by time window) and prints where the time
// of a run goes on the daemon's side.
func (b *bench) printShoalLog(r *row) {
	f, err := os.Open(b.engines["shoal"].Log)
	if err != nil {
		return
	}
	defer f.Close()
	var recs []apiRecord
	var phases []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var rec apiRecord
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		switch {
		case rec.Msg == "api request":
			recs = append(recs, rec)
		case strings.HasSuffix(rec.Msg, " phases"):
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				m["time"] = rec.Time
				phases = append(phases, m)
			}
		}
	}
	defer printPhases(r, phases)
	if len(recs) == 0 {
		fmt.Printf("\n(shoal's log has no \"api request\" lines: run with -shoal-log-level debug for the per-request breakdown)\n")
		return
	}
	type epTimes struct{ dur, begin, end []float64 }
	byEP := map[string]*epTimes{}
	var spans, gaps, firsts, lasts []float64
	for i, w := range r.windows {
		first, last := time.Time{}, time.Time{}
		for _, rec := range recs {
			start := rec.Time.Add(-time.Duration(rec.Duration))
			if start.Before(w[0]) || rec.Time.After(w[1]) {
				continue
			}
			p := reVersion.ReplaceAllString(rec.Path, "/")
			p = reID.ReplaceAllString(p, "/containers/{id}/")
			ep := rec.Method + " " + p
			t := byEP[ep]
			if t == nil {
				t = &epTimes{}
				byEP[ep] = t
			}
			t.dur = append(t.dur, float64(rec.Duration)/1e6)
			t.begin = append(t.begin, stats.Millis(start.Sub(w[0])))
			t.end = append(t.end, stats.Millis(rec.Time.Sub(w[0])))
			if first.IsZero() || start.Before(first) {
				first = start
			}
			if rec.Time.After(last) {
				last = rec.Time
			}
		}
		if first.IsZero() {
			continue
		}
		span := last.Sub(first)
		spans = append(spans, stats.Millis(span))
		gaps = append(gaps, stats.Millis(r.samples[i]-span))
		firsts = append(firsts, stats.Millis(first.Sub(w[0])))
		lasts = append(lasts, stats.Millis(w[1].Sub(last)))
	}
	if len(spans) == 0 {
		return
	}
	fmt.Printf("\nwhere a docker→shoal run goes, from the daemon's debug log (%d runs matched by time window;\n", len(spans))
	fmt.Printf("ms; begins/ends: median offset from the client's start; requests overlap: attach and wait span the container's life):\n")
	eps := make([]string, 0, len(byEP))
	for ep := range byEP {
		eps = append(eps, ep)
	}
	sort.Slice(eps, func(i, j int) bool { return stats.Median(byEP[eps[i]].begin) < stats.Median(byEP[eps[j]].begin) })
	fmt.Printf("  %-36s %5s %8s %8s %8s %8s\n", "request", "n", "begins", "ends", "median", "p90")
	for _, ep := range eps {
		t := byEP[ep]
		s := stats.Summarize(t.dur)
		fmt.Printf("  %-36s %5d %8.1f %8.1f %8.1f %8.1f\n", ep, len(t.dur), stats.Median(t.begin), stats.Median(t.end), s.Median, s.P90)
	}
	fmt.Printf("  client start → first request (CLI start-up):  median %6.1f\n", stats.Median(firsts))
	fmt.Printf("  first request → last response (daemon span):  median %6.1f\n", stats.Median(spans))
	fmt.Printf("  last response → client exit:                  median %6.1f\n", stats.Median(lasts))
	fmt.Printf("  client wall − daemon span:                    median %6.1f\n", stats.Median(gaps))
}

// printPhases prints the medians of the daemon's "<what> phases" debug
// lines (e.g. "start phases", "exit phases": cumulative durations in ns
// since the step began) logged during the timed runs of r, if the daemon
// logs any.
func printPhases(r *row, recs []map[string]any) {
	type key struct{ msg, field string }
	vals := map[key][]float64{}
	var order []key
	for _, m := range recs {
		t, _ := m["time"].(time.Time)
		in := false
		for _, w := range r.windows {
			if !t.Before(w[0]) && !t.After(w[1]) {
				in = true
				break
			}
		}
		if !in {
			continue
		}
		msg, _ := m["msg"].(string)
		for f, v := range m {
			n, ok := v.(float64)
			if !ok || f == "time" {
				continue
			}
			k := key{msg, f}
			if _, seen := vals[k]; !seen {
				order = append(order, k)
			}
			vals[k] = append(vals[k], n/1e6)
		}
	}
	if len(order) == 0 {
		return
	}
	// Cumulative marks: print each step in the order of its median.
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].msg != order[j].msg {
			return order[i].msg < order[j].msg
		}
		return stats.Median(vals[order[i]]) < stats.Median(vals[order[j]])
	})
	fmt.Printf("the daemon's own phase logs during these runs (ms since the step began, cumulative; median / p90):\n")
	last := ""
	for _, k := range order {
		if k.msg != last {
			fmt.Printf("  %s (%d):\n", k.msg, len(vals[k]))
			last = k.msg
		}
		s := stats.Summarize(vals[k])
		fmt.Printf("    %-16s %7.1f %7.1f\n", k.field, s.Median, s.P90)
	}
}

// rate is a burst's containers per second.
func (r *burst) rate() float64 { return float64(r.n) / r.wall.Seconds() }

// medianRate is the median of an engine's rounds' containers/s.
func medianRate(rs []*burst) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = r.rate()
	}
	return stats.Median(v)
}

func (b *bench) printBurst(phase string, res map[string][]*burst) {
	switch phase {
	case "detached":
		fmt.Printf("== 2. %d × `docker run -d --network none %s sleep 1000` in a row, per engine ==\n", b.o.detached, image)
	case "parallel":
		fmt.Printf("== 3. %d clients in parallel, each %d × `docker run --rm --network none %s true`, per engine ==\n", b.o.clients, b.o.clientRuns, image)
	}
	fmt.Printf("%d round(s), engines interleaved; containers/s = runs / wall time of the round (median round); latency of each client command over all rounds\n", b.o.rounds)
	fmt.Printf("%-8s %6s %12s %10s %10s %10s  %s\n", "engine", "runs", "containers/s", "vs dockerd", "median ms", "p90 ms", "each round: containers/s (load avg after)")
	base := 0.0
	if d, ok := res["dockerd"]; ok {
		base = medianRate(d)
	}
	for _, name := range b.order {
		rs, ok := res[name]
		if !ok || len(rs) == 0 {
			continue
		}
		var each []time.Duration
		n := 0
		var rounds []string
		for _, r := range rs {
			each = append(each, r.each...)
			n += r.n
			rounds = append(rounds, fmt.Sprintf("%.2f (%s)", r.rate(), firstField(r.load)))
		}
		rate := medianRate(rs)
		vs := "-"
		if base > 0 {
			vs = fmt.Sprintf("%.2f×", rate/base)
		}
		s := stats.Summarize(stats.MillisOf(each))
		fmt.Printf("%-8s %6d %12.2f %10s %10.1f %10.1f  %s\n", name, n, rate, vs, s.Median, s.P90, strings.Join(rounds, ", "))
	}
	if phase == "detached" && b.o.detached >= 20 {
		fmt.Printf("does a start get slower as containers pile up? median ms of the first 10 / last 10 starts of each round:")
		for _, name := range b.order {
			var first, last []float64
			for _, r := range res[name] {
				first = append(first, stats.MillisOf(r.each[:10])...)
				last = append(last, stats.MillisOf(r.each[len(r.each)-10:])...)
			}
			if len(first) > 0 {
				fmt.Printf("  %s %.0f / %.0f", name, stats.Median(first), stats.Median(last))
			}
		}
		fmt.Println()
	}
	if phase == "detached" {
		fmt.Printf("removal afterwards, one `docker rm -f` of all %d (not part of the rate), median s:", b.o.detached)
		for _, name := range b.order {
			if rs, ok := res[name]; ok {
				var v []float64
				for _, r := range rs {
					v = append(v, r.rm.Seconds())
				}
				fmt.Printf("  %s %.2f", name, stats.Median(v))
			}
		}
		fmt.Println()
	}
	fmt.Println()
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

func (b *bench) printMemory() {
	fmt.Printf("== 4. engine memory per idle container: %d × `docker run -d --network none %s sleep 100000` ==\n", b.o.idle, image)
	fmt.Printf("PSS and RSS (smaps_rollup) summed over the engine's host-side processes (not the containers'),\n")
	fmt.Printf("each the median of 3 samples 1 s apart, %v after the last command; MiB\n", b.o.settle)
	fmt.Printf("%-8s %10s %10s %14s %10s %10s %14s\n", "engine", "PSS before", "PSS after", "PSS/container", "RSS before", "RSS after", "RSS/container")
	for _, name := range b.order {
		m, ok := b.res.memory[name]
		if !ok {
			continue
		}
		fmt.Printf("%-8s %10.1f %10.1f %14.3f %10.1f %10.1f %14.3f\n", name, kib(m.before.pss), kib(m.after.pss),
			kib(m.after.pss-m.before.pss)/float64(m.idle), kib(m.before.rss), kib(m.after.rss), kib(m.after.rss-m.before.rss)/float64(m.idle))
	}
	fmt.Println("by process (before → after: count, PSS MiB, RSS MiB):")
	for _, name := range b.order {
		m, ok := b.res.memory[name]
		if !ok {
			continue
		}
		comms := map[string]bool{}
		for c := range m.before.byComm {
			comms[c] = true
		}
		for c := range m.after.byComm {
			comms[c] = true
		}
		names := make([]string, 0, len(comms))
		for c := range comms {
			names = append(names, c)
		}
		sort.Strings(names)
		for _, c := range names {
			bf, af := m.before.byComm[c], m.after.byComm[c]
			if bf == nil {
				bf = &commMem{}
			}
			if af == nil {
				af = &commMem{}
			}
			fmt.Printf("  %-8s %-24s %3d → %3d   PSS %7.2f → %7.2f   RSS %7.2f → %7.2f\n", name, c, bf.n, af.n,
				kib(bf.pss), kib(af.pss), kib(bf.rss), kib(af.rss))
		}
	}
	fmt.Println()
}

// printGoals prints the goals and whether this run met them.
func (b *bench) printGoals() {
	fmt.Println("== goals ==")
	verdict := func(ok bool) string {
		if ok {
			return "MET"
		}
		return "NOT MET"
	}
	lat := func(name string) (float64, bool) {
		r := b.row(name)
		if r == nil || len(r.samples) == 0 {
			return 0, false
		}
		return stats.Median(stats.MillisOf(r.samples)), true
	}
	if b.o.phases["latency"] {
		s, okS := lat("docker→shoal")
		for _, g := range []struct {
			other string
			want  float64
		}{{"dockerd", 5}, {"podman", 3}} {
			o, okO := lat("docker→" + g.other)
			if okS && okO {
				fmt.Printf("docker run --rm via Shoal >= %.0f× faster than via %s: %.2f× (%.1f vs %.1f ms median): %s\n",
					g.want, g.other, o/s, s, o, verdict(o/s >= g.want))
			} else {
				fmt.Printf("docker run --rm via Shoal >= %.0f× faster than via %s: not measured\n", g.want, g.other)
			}
		}
		sr, okR := lat("shoal run")
		cr, okC := lat("crun run")
		switch {
		case okR && okC:
			fmt.Printf("shoal run --rm within 2× of crun run: %.2f× (%.1f vs %.1f ms median): %s\n", sr/cr, sr, cr, verdict(sr <= 2*cr))
		case !b.shoalRun:
			fmt.Println("shoal run --rm within 2× of crun run: not measured: the shoal CLI has no `run` verb yet")
			if okS && okC {
				fmt.Printf("  (for reference, the docker CLI through Shoal: %.2f× crun run)\n", s/cr)
			}
		default:
			fmt.Println("shoal run --rm within 2× of crun run: not measured")
		}
	}
	if b.o.phases["detached"] {
		s, okS := b.res.detached["shoal"]
		d, okD := b.res.detached["dockerd"]
		if okS && okD {
			rs, rd := medianRate(s), medianRate(d)
			fmt.Printf("%d detached containers in a row >= 8× dockerd's containers/s: %.2f× (%.1f vs %.1f /s): %s\n",
				b.o.detached, rs/rd, rs, rd, verdict(rs >= 8*rd))
		}
	}
	if m, ok := b.res.memory["shoal"]; ok {
		per := kib(m.after.pss-m.before.pss) / float64(m.idle)
		fmt.Printf("Shoal engine memory <= 0.2 MiB PSS per idle container: %.3f MiB: %s\n", per, verdict(per <= 0.2))
	}
	fmt.Println()
}

func kib(k int64) float64 { return float64(k) / 1024 }
