package main

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/report"
	"github.com/shoal-dev/shoal/bench/internal/rootfs"
	"github.com/shoal-dev/shoal/bench/internal/stats"
)

func (b *bench) printConditions() {
	o := b.opts
	fmt.Println("== conditions ==")
	report.WriteHost(os.Stdout, 13, true)
	fmt.Printf("load avg:    %s (at start)\n", report.LoadAvg())
	fmt.Printf("cgroups:     %s\n", b.hybrid)
	fmt.Printf("harness:     %s; each runtime exec'd with os/exec from the same process, stdin /dev/null,\n"+
		"             stdout+stderr to a file; wall = time.Now() before Cmd.Start to after Cmd.Wait;\n"+
		"             GC off while timing; harness is a child subreaper (reaps orphans)\n", runtime.Version())
	fmt.Printf("state dirs:  %s/state/<runtime> (%s)\n", b.tmp, report.FSType(b.tmp))
	fmt.Printf("bundle:      %s (rootfs: %s, %s)\n", b.bundle, rootfs.BusyboxVersion(), report.FSType(b.bundle))
	fmt.Printf("iterations:  %d timed + %d warm-up per runtime, round-robin, start rotated each iteration\n", o.n, o.warmup)
	fmt.Println("runtimes:")
	for _, r := range b.runners {
		switch r.name {
		case "bare":
			fmt.Printf("  bare   %s %s\n", r.bin, strings.Join(r.bareArgv, " "))
			fmt.Printf("         %s\n", report.FirstLine(report.VersionOf(r.bin, "--version")))
		case "shoal":
			fmt.Printf("  shoal  %s runtime --root DIR run --bundle BUNDLE ID\n", r.bin)
			fmt.Print(report.Indent(report.VersionOf(r.bin, "--version"), "         "))
			if bi, err := buildinfo.ReadFile(r.bin); err == nil {
				var vcs []string
				for _, s := range bi.Settings {
					if strings.HasPrefix(s.Key, "vcs.") || s.Key == "-ldflags" || s.Key == "CGO_ENABLED" {
						vcs = append(vcs, s.Key+"="+s.Value)
					}
				}
				if len(vcs) == 0 {
					vcs = append(vcs, "no vcs stamp")
				}
				fmt.Printf("         built with %s; %s\n", bi.GoVersion, strings.Join(vcs, " "))
			}
			fmt.Printf("         sha256 %s\n", report.SHA256File(r.bin))
		default:
			fmt.Printf("  %-6s %s --root DIR run --bundle BUNDLE ID\n", r.name, r.bin)
			fmt.Print(report.Indent(report.VersionOf(r.bin, "--version"), "         "))
		}
	}
	if o.showConfig {
		fmt.Printf("config.json (all runtimes; cgroupsPath is %s per run):\n",
			cgroupsPath(b.token, "<runtime>", "<iteration>"))
		fmt.Print(report.Indent(strings.Replace(string(b.config), cgroupPlaceholder,
			cgroupsPath(b.token, "<runtime>", "<iteration>"), 1), "  "))
	}
}

func (b *bench) printResults(elapsed time.Duration) {
	fmt.Printf("\n== results: `run` of /bin/true, wall time fork→exit of the runtime process, ms ==\n")
	fmt.Printf("%-7s %5s %8s %8s %8s %8s %8s %8s   %s\n", "runtime", "n", "min", "median", "p90", "max", "mean", "stddev", "cpu (user+sys) median")
	med := map[string][]float64{}
	for _, r := range b.runners {
		w := wallMS(r.samples)
		med[r.name] = w
		st := stats.Summarize(w)
		cpu := make([]float64, len(r.samples))
		for i, s := range r.samples {
			cpu[i] = stats.Millis(s.user + s.sys)
		}
		fmt.Printf("%-7s %5d %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f   %.2f\n", r.name, len(w),
			st.Min, st.Median, st.P90, st.Max, st.Mean, st.Stddev, stats.Median(cpu))
	}
	if s, ok := med["shoal"]; ok {
		fmt.Println("\nratios of medians (95% bootstrap CI), and difference of medians:")
		for _, other := range []string{"crun", "runc", "bare"} {
			o, ok := med[other]
			if !ok {
				continue
			}
			ratio := stats.Median(s) / stats.Median(o)
			lo, hi := stats.BootstrapRatio(s, o, 2000)
			fmt.Printf("  shoal/%-5s %5.2f  [%4.2f, %4.2f]   %+7.2f ms\n", other, ratio, lo, hi, stats.Median(s)-stats.Median(o))
		}
	}

	fmt.Println("\nresource use per run (medians; rusage of the runtime process incl. the children it reaped):")
	fmt.Printf("%-7s %8s %8s %8s %8s %8s\n", "runtime", "user ms", "sys ms", "minflt", "vol cs", "invol cs")
	for _, r := range b.runners {
		var user, sys, flt, vcs, ics []float64
		for _, s := range r.samples {
			user = append(user, stats.Millis(s.user))
			sys = append(sys, stats.Millis(s.sys))
			flt = append(flt, float64(s.minflt))
			vcs = append(vcs, float64(s.nvcsw))
			ics = append(ics, float64(s.nivcsw))
		}
		fmt.Printf("%-7s %8.2f %8.2f %8.0f %8.0f %8.0f\n", r.name,
			stats.Median(user), stats.Median(sys), stats.Median(flt), stats.Median(vcs), stats.Median(ics))
	}

	fmt.Printf("\ntimed phase took %s; load avg %s (at end)\n", elapsed.Round(time.Millisecond), report.LoadAvg())
	for _, r := range b.runners {
		if n := b.orphans[r.name]; n > 0 {
			fmt.Printf("note: %d orphaned process(es) reparented to the harness after %s runs (warm-up included)\n", n, r.name)
		}
		if n := b.leftover[r.name]; n > 0 {
			fmt.Printf("note: %s left the cgroups of %d run(s) behind (removed at cleanup)\n", r.name, n)
		}
		if n := b.onTmpfs[r.name]; n > 0 {
			fmt.Printf("note: %s created dirs for %d run(s) in the tmpfs over /sys/fs/cgroup/unified "+
				"(it writes cgroup.procs there; artifact of the hybrid workaround, removed at cleanup)\n", r.name, n)
		}
	}
}

func wallMS(ss []sample) []float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = stats.Millis(s.wall)
	}
	return v
}
