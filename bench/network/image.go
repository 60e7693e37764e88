package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

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

// imageEpoch is the time stamp of every file and of the image config, so
// that the same inputs give the same image ID.
var imageEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

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
	id, err := writeImageArchive(root, b.imageTar, image)
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

// writeImageArchive writes root as a one-layer image in the classic
// `docker save` layout and returns the image ID (the config's digest).
func writeImageArchive(root, dst, ref string) (string, error) {
	var layer bytes.Buffer
	if err := tarTree(root, &layer); err != nil {
		return "", err
	}
	layerSum := sha256.Sum256(layer.Bytes())
	layerHex := hex.EncodeToString(layerSum[:])
	config := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      imageEpoch.Format(time.RFC3339),
		"config": map[string]any{
			"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd": []string{"sh"},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerHex}},
		"history": []map[string]any{{"created": imageEpoch.Format(time.RFC3339), "created_by": "bench/network: busybox-static, iperf3, dnsload"}},
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return "", err
	}
	cfgSum := sha256.Sum256(cfg)
	cfgHex := hex.EncodeToString(cfgSum[:])
	name, tag, _ := strings.Cut(ref, ":")
	manifest, _ := json.Marshal([]map[string]any{{
		"Config": cfgHex + ".json", "RepoTags": []string{ref}, "Layers": []string{layerHex + "/layer.tar"},
	}})
	repos, _ := json.Marshal(map[string]map[string]string{name: {tag: layerHex}})

	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(f)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: imageEpoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	err = tw.WriteHeader(&tar.Header{Name: layerHex + "/", Mode: 0o755, ModTime: imageEpoch, Typeflag: tar.TypeDir})
	for _, e := range []struct {
		name string
		data []byte
	}{
		{layerHex + "/VERSION", []byte("1.0")},
		{layerHex + "/layer.tar", layer.Bytes()},
		{cfgHex + ".json", cfg},
		{"manifest.json", manifest},
		{"repositories", repos},
	} {
		if err == nil {
			err = add(e.name, e.data)
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", dst, err)
	}
	return "sha256:" + cfgHex, nil
}

// tarTree writes the tree at root as a layer tarball: paths relative to
// root in lexical order, owned by root, time stamps imageEpoch.
func tarTree(root string, w io.Writer) error {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	tw := tar.NewWriter(w)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		h.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "root", "root"
		h.ModTime, h.AccessTime, h.ChangeTime = imageEpoch, time.Time{}, time.Time{}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}
