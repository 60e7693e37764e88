package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func (b *bench) printConditions() {
	o := b.opts
	fmt.Println("== conditions ==")
	fmt.Printf("date:        %s\n", time.Now().UTC().Format(time.RFC3339))
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		fmt.Printf("kernel:      %s %s %s\n", unix.ByteSliceToString(u.Release[:]),
			unix.ByteSliceToString(u.Version[:]), unix.ByteSliceToString(u.Machine[:]))
	}
	fmt.Printf("cpu:         %d online, %s\n", runtime.NumCPU(), cpuModel())
	fmt.Printf("memory:      %s\n", memTotal())
	fmt.Printf("load avg:    %s (at start)\n", loadAvg())
	fmt.Printf("cgroups:     %s\n", b.hybrid)
	fmt.Printf("harness:     %s; each runtime exec'd with os/exec from the same process, stdin /dev/null,\n"+
		"             stdout+stderr to a file; wall = time.Now() before Cmd.Start to after Cmd.Wait;\n"+
		"             GC off while timing; harness is a child subreaper (reaps orphans)\n", runtime.Version())
	fmt.Printf("state dirs:  %s/state/<runtime> (%s)\n", b.tmp, fsType(b.tmp))
	fmt.Printf("bundle:      %s (rootfs: %s, %s)\n", b.bundle, busyboxVersion(), fsType(b.bundle))
	fmt.Printf("iterations:  %d timed + %d warm-up per runtime, round-robin, start rotated each iteration\n", o.n, o.warmup)
	fmt.Println("runtimes:")
	for _, r := range b.runners {
		switch r.name {
		case "bare":
			fmt.Printf("  bare   %s %s\n", r.bin, strings.Join(r.bareArgv, " "))
			fmt.Printf("         %s\n", firstLine(versionOf(r.bin, "--version")))
		case "shoal":
			fmt.Printf("  shoal  %s runtime --root DIR run --bundle BUNDLE ID\n", r.bin)
			fmt.Print(indent(versionOf(r.bin, "--version"), "         "))
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
			fmt.Printf("         sha256 %s\n", sha256File(r.bin))
		default:
			fmt.Printf("  %-6s %s --root DIR run --bundle BUNDLE ID\n", r.name, r.bin)
			fmt.Print(indent(versionOf(r.bin, "--version"), "         "))
		}
	}
	if o.showConfig {
		fmt.Printf("config.json (all runtimes; cgroupsPath is %s per run):\n",
			cgroupsPath(b.token, "<runtime>", "<iteration>"))
		fmt.Print(indent(strings.Replace(string(b.config), cgroupPlaceholder,
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
		st := stats(w)
		cpu := make([]float64, len(r.samples))
		for i, s := range r.samples {
			cpu[i] = ms(s.user + s.sys)
		}
		fmt.Printf("%-7s %5d %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f   %.2f\n", r.name, len(w),
			st.min, st.median, st.p90, st.max, st.mean, st.stddev, median(cpu))
	}
	if s, ok := med["shoal"]; ok {
		fmt.Println("\nratios of medians (95% bootstrap CI), and difference of medians:")
		for _, other := range []string{"crun", "runc", "bare"} {
			o, ok := med[other]
			if !ok {
				continue
			}
			ratio := median(s) / median(o)
			lo, hi := bootstrapRatio(s, o, 2000)
			fmt.Printf("  shoal/%-5s %5.2f  [%4.2f, %4.2f]   %+7.2f ms\n", other, ratio, lo, hi, median(s)-median(o))
		}
	}

	fmt.Println("\nresource use per run (medians; rusage of the runtime process incl. the children it reaped):")
	fmt.Printf("%-7s %8s %8s %8s %8s %8s\n", "runtime", "user ms", "sys ms", "minflt", "vol cs", "invol cs")
	for _, r := range b.runners {
		var user, sys, flt, vcs, ics []float64
		for _, s := range r.samples {
			user = append(user, ms(s.user))
			sys = append(sys, ms(s.sys))
			flt = append(flt, float64(s.minflt))
			vcs = append(vcs, float64(s.nvcsw))
			ics = append(ics, float64(s.nivcsw))
		}
		fmt.Printf("%-7s %8.2f %8.2f %8.0f %8.0f %8.0f\n", r.name,
			median(user), median(sys), median(flt), median(vcs), median(ics))
	}

	fmt.Printf("\ntimed phase took %s; load avg %s (at end)\n", elapsed.Round(time.Millisecond), loadAvg())
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

type summary struct{ min, median, p90, max, mean, stddev float64 }

func stats(v []float64) summary {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mean := sum / float64(len(s))
	var sq float64
	for _, x := range s {
		sq += (x - mean) * (x - mean)
	}
	sd := 0.0
	if len(s) > 1 {
		sd = math.Sqrt(sq / float64(len(s)-1))
	}
	return summary{min: s[0], median: median(s), p90: quantile(s, 0.9), max: s[len(s)-1], mean: mean, stddev: sd}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// quantile of sorted s, nearest rank.
func quantile(s []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}

// bootstrapRatio is a percentile-bootstrap 95% interval for
// median(a)/median(b), resampling a and b independently.
func bootstrapRatio(a, b []float64, rounds int) (lo, hi float64) {
	rng := rand.New(rand.NewSource(1))
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	ratios := make([]float64, rounds)
	for i := range ratios {
		for j := range ra {
			ra[j] = a[rng.Intn(len(a))]
		}
		for j := range rb {
			rb[j] = b[rng.Intn(len(b))]
		}
		ratios[i] = median(ra) / median(rb)
	}
	sort.Float64s(ratios)
	return quantile(ratios, 0.025), quantile(ratios, 0.975)
}

func wallMS(ss []sample) []float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = ms(s.wall)
	}
	return v
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func versionOf(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(%s %s: %v)\n", bin, strings.Join(args, " "), err)
	}
	return string(out)
}

func sha256File(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "?"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "?"
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func indent(s, prefix string) string {
	var buf bytes.Buffer
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		buf.WriteString(prefix + l + "\n")
	}
	return buf.String()
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown model"
}

func memTotal() string {
	data, _ := os.ReadFile("/proc/meminfo")
	return strings.Join(strings.Fields(firstLine(string(data))), " ")
}

func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func busyboxVersion() string {
	out, _ := exec.Command(busyboxPath).CombinedOutput()
	l := firstLine(string(out))
	if l == "" {
		return "busybox"
	}
	return strings.TrimSuffix(l, " multi-call binary.") + " (static) + applet symlinks"
}

func fsType(path string) string {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return "?"
	}
	switch st.Type {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("fs magic %#x", st.Type)
}
