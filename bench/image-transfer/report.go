package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
)

func firstLine(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

func printConditions(e *env, names []string) {
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	fmt.Printf("## conditions\n")
	fmt.Printf("host: %s/%s, %d CPUs, kernel %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), firstLine("uname", "-r"))
	fmt.Printf("temp dir fs: %s\n", firstLine("stat", "-f", "-c", "%T", e.tmp))
	fmt.Printf("shoal: %s\n", firstLine(*flagShoal, "--version"))
	fmt.Printf("dockerd: %s\n", firstLine("dockerd", "--version"))
	fmt.Printf("docker CLI: %s\n", firstLine(*flagDocker, "--version"))
	fmt.Printf("containerd (dockerd's own): %s\n", firstLine("containerd", "--version"))
	fmt.Printf("podman: %s\n", firstLine("podman", "--version"))
	fmt.Printf("skopeo: %s\n", firstLine("skopeo", "--version"))
	fmt.Printf("registry: %s on 127.0.0.1 (pull :%d, push :%d, filesystem storage)\n", firstLine("docker-registry", "--version"), e.regPort, e.pushPort)
	if eng, ok := e.engines["dockerd"]; ok {
		c := exec.CommandContext(context.Background(), *flagDocker, "info", "--format", "{{.Driver}} {{.ServerVersion}}")
		c.Env = append(os.Environ(), eng.env...)
		out, _ := c.CombinedOutput()
		fmt.Printf("dockerd storage driver/version: %s\n", strings.TrimSpace(string(out)))
	}
	if eng, ok := e.engines["podman"]; ok {
		c := exec.Command(eng.cli[0], append(eng.cli[1:], "info", "--format", "{{.Store.GraphDriverName}}")...)
		c.Env = append(os.Environ(), eng.env...)
		out, _ := c.CombinedOutput()
		fmt.Printf("podman storage driver: %s\n", strings.TrimSpace(string(out)))
	}
	md, _ := e.multi.Img.Digest()
	sd, _ := e.single.Img.Digest()
	fmt.Printf("pull/push image %s: %d layers, %.1f MiB gzip (level %d) / %.1f MiB unpacked, digest %s\n",
		e.multiRef, e.multi.Layers, mib(e.multi.GzipBytes), *flagLevel, mib(e.multi.TarBytes), md)
	fmt.Printf("  per layer: %d MiB in 8 MiB files + 64 files of 4 KiB, bytes from a 16-symbol alphabet (4 bits entropy/byte), seed %d\n", *flagLayerMiB, *flagSeed)
	fmt.Printf("save/load/import image %s: 1 layer, %.1f MiB gzip / %.1f MiB tar, digest %s\n",
		e.singRef, mib(e.single.GzipBytes), mib(e.single.TarBytes), sd)
	fmt.Printf("rounds: %d, engines interleaved (order rotated each round); client: docker CLI for shoal and dockerd, podman CLI for podman\n\n", *flagN)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(e *env, names []string, res map[string]map[string][]float64) {
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	ops := []struct {
		op, what string
		bytes    int64
	}{
		{"pull", "pull+unpack multi (MiB/s of gzip)", e.multi.GzipBytes},
		{"push", "push multi to empty registry (MiB/s of gzip)", e.multi.GzipBytes},
		{"save", "save single to file (MiB/s of tar)", e.single.TarBytes},
		{"load", "load single from own saved file (MiB/s of tar)", e.single.TarBytes},
		{"import", "import the single image's layer tar as a rootfs (MiB/s of tar)", e.single.TarBytes},
	}
	cols := append([]string{}, names...)
	fmt.Printf("## medians of %d rounds: seconds (MiB/s)\n\n", *flagN)
	fmt.Printf("| op | MiB |")
	for _, n := range cols {
		fmt.Printf(" %s |", n)
	}
	fmt.Printf(" skopeo copy (ref) | shoal/dockerd | shoal/podman |\n|---|---|")
	for range cols {
		fmt.Printf("---|")
	}
	fmt.Printf("---|---|---|\n")
	for _, o := range ops {
		fmt.Printf("| %s | %.1f |", o.op, mib(o.bytes))
		for _, n := range cols {
			m := median(res[o.op][n])
			if m == 0 {
				fmt.Printf(" - |")
				continue
			}
			fmt.Printf(" %.2f s (%.0f) |", m, mib(o.bytes)/m)
		}
		if sk := median(res[o.op]["skopeo-copy"]); sk > 0 {
			fmt.Printf(" %.2f s (%.0f) |", sk, mib(o.bytes)/sk)
		} else {
			fmt.Printf(" |")
		}
		s := median(res[o.op]["shoal"])
		for _, other := range []string{"dockerd", "podman"} {
			if d := median(res[o.op][other]); s > 0 && d > 0 {
				fmt.Printf(" %.2f |", s/d)
			} else {
				fmt.Printf(" - |")
			}
		}
		fmt.Println()
	}
	fmt.Printf("\nratios are of median times (< 1: shoal faster). all samples (s):\n")
	for _, o := range ops {
		for _, n := range append(cols, "skopeo-copy") {
			if xs := res[o.op][n]; len(xs) > 0 {
				var s []string
				for _, x := range xs {
					s = append(s, fmt.Sprintf("%.2f", x))
				}
				fmt.Printf("  %-6s %-12s %s\n", o.op, n, strings.Join(s, " "))
			}
		}
	}
}
