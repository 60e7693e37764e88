package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/shoal-dev/shoal/bench/internal/daemon"
	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/report"
	"github.com/shoal-dev/shoal/bench/internal/rootfs"
)

// iperfPath is the host's iperf3 (Debian's iperf3), copied into the image
// with its libraries and run as is for the loopback baseline.
const iperfPath = "/usr/bin/iperf3"

// dnsloadInImage is where the DNS load generator lives in the image.
const dnsloadInImage = "/usr/local/bin/dnsload"

// moduleRoot is the directory of the Go module the benchmark is run from
// (where scripts/build and ./bench/network/dnsload are).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the shoal module: run from the repository, or pass -shoal and -dnsload")
	}
	return filepath.Dir(mod), nil
}

// buildTools builds what the flags did not name: the shoal binary with
// scripts/build, dnsload with CGO_ENABLED=0 go build.
func (b *bench) buildTools(ctx context.Context) error {
	needShoal := slices.Contains(b.o.engines, "shoal") && b.o.shoal == ""
	if !needShoal && b.o.dnsload != "" {
		return nil
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(b.tmp, "bin")
	harness.Must(os.MkdirAll(bin, 0o755))
	run := func(env []string, argv ...string) error {
		c, out := daemon.Command(ctx, append(daemon.ClientEnv(nil), env...), argv...)
		c.Dir = root
		_, err := daemon.Timed(c, out)
		return err
	}
	if b.o.dnsload == "" {
		harness.Logf("building dnsload")
		b.o.dnsload = filepath.Join(bin, "dnsload")
		if err := run([]string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-o", b.o.dnsload, "./bench/network/dnsload"); err != nil {
			return fmt.Errorf("build dnsload: %w", err)
		}
	}
	if needShoal {
		harness.Logf("building shoal with scripts/build")
		b.o.shoal = filepath.Join(bin, "shoal")
		if err := run(nil, "./scripts/build", b.o.shoal); err != nil {
			return fmt.Errorf("build shoal: %w", err)
		}
	}
	return nil
}

// makeImage builds the image's root file system (busybox-static with an
// applet symlink each, iperf3 with every library ldd lists and the
// dynamic loader, dnsload) and writes it as a `docker save`-format
// archive: manifest.json, the config and one uncompressed layer, every
// file owned by root with a fixed time stamp. Every engine loads this one
// file, so they all run identical bits under the same image ID.
func (b *bench) makeImage(ctx context.Context) error {
	if err := rootfs.IsStatic(b.o.dnsload); err != nil {
		return fmt.Errorf("%s: %w (build it with CGO_ENABLED=0)", b.o.dnsload, err)
	}
	root := filepath.Join(b.tmp, "rootfs")
	b.rootfs = root
	if err := rootfs.Build(root, []string{"usr/bin", "usr/local/bin"}, map[string]string{"etc/nsswitch.conf": "hosts: files dns\n"}); err != nil {
		return err
	}
	if err := rootfs.CopyFile(b.o.dnsload, filepath.Join(root, dnsloadInImage)); err != nil {
		return err
	}
	libs, err := sharedLibs(iperfPath)
	if err != nil {
		return err
	}
	b.iperfLibs = libs
	for _, p := range append([]string{iperfPath}, libs...) {
		if err := rootfs.CopyFile(p, filepath.Join(root, p)); err != nil {
			return err
		}
	}
	// The rootfs must run iperf3 without the host's libraries (no
	// ld.so.cache, only what ldd listed) before any engine gets it.
	out, err := exec.CommandContext(ctx, "chroot", root, iperfPath, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("iperf3 in the image's rootfs (chroot %s %s --version): %v: %s", root, iperfPath, err, out)
	}
	b.iperfVersion = report.FirstLine(strings.TrimSpace(string(out)))

	b.imageTar = filepath.Join(b.tmp, "image.tar")
	id, err := rootfs.ImageArchive(root, b.imageTar, image, "bench/network: busybox-static, iperf3, dnsload")
	if err != nil {
		return fmt.Errorf("write the image archive: %w", err)
	}
	b.imageID = id
	return nil
}

// lddPath matches the libraries in ldd's output: "name => /path (addr)"
// and the loader's "/path (addr)".
var lddPath = regexp.MustCompile(`(?m)^\s*(?:\S+\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)`)

// sharedLibs lists the files ldd says bin needs: libraries and the
// dynamic loader, by the paths the binary and the loader look for.
func sharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for _, m := range lddPath.FindAllStringSubmatch(string(out), -1) {
		if !slices.Contains(libs, m[1]) {
			libs = append(libs, m[1])
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s: no libraries in %q", bin, out)
	}
	return libs, nil
}
