package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shoal-dev/shoal/bench/internal/cgroup"
	"github.com/shoal-dev/shoal/bench/internal/rootfs"
	"golang.org/x/sys/unix"
)

// cgroupPlaceholder stands for the per-run cgroupsPath in b.config.
const cgroupPlaceholder = "@CGROUPS_PATH@"

// makeBundle builds <tmp>/bundle: a busybox rootfs and config.json.
func (b *bench) makeBundle() error {
	b.bundle = filepath.Join(b.tmp, "bundle")
	b.rootfs = filepath.Join(b.bundle, "rootfs")
	if err := rootfs.Build(b.rootfs, nil, nil); err != nil {
		return err
	}
	return b.makeConfig()
}

// makeConfig generates config.json with `shoal runtime spec` and adjusts
// it for the benchmark. Every runtime gets exactly these bytes (only the
// cgroupsPath differs per run).
func (b *bench) makeConfig() error {
	config, err := rootfs.GenerateConfig(b.opts.shoal, filepath.Join(b.tmp, "spec"), rootfs.Config{
		Version: b.opts.ociVersion, Root: "rootfs", CgroupNS: b.opts.cgroupNS, CgroupsPath: cgroupPlaceholder,
	})
	if err != nil {
		return err
	}
	b.config = append(config, '\n')
	return nil
}

func cgroupsPath(token, runtime, iter string) string {
	return "/" + cgroupParent + "/" + token + "-" + runtime + "-" + iter
}

// writeConfig writes the bundle's config.json for one run.
func (b *bench) writeConfig(runtime, iter string) error {
	c := bytes.Replace(b.config, []byte(cgroupPlaceholder), []byte(cgroupsPath(b.token, runtime, iter)), 1)
	return os.WriteFile(filepath.Join(b.bundle, "config.json"), c, 0o644)
}

// runCgroups lists the cgroup dirs of this benchmark's runs, per hierarchy.
func runCgroups(token string) []string {
	return cgroup.Glob(filepath.Join(cgroupParent, token+"-*"))
}

// countLeftovers records, per runtime, how many runs left their cgroup
// behind (in at least one hierarchy) after `run` returned. Directories on
// the tmpfs that hides the cgroup2 mount are counted apart: they are an
// artifact of that workaround, not cgroups.
func (b *bench) countLeftovers() {
	seen := map[string]bool{}
	for _, d := range runCgroups(b.token) {
		var st unix.Statfs_t
		real := unix.Statfs(d, &st) == nil && (st.Type == unix.CGROUP_SUPER_MAGIC || st.Type == unix.CGROUP2_SUPER_MAGIC)
		name := strings.TrimPrefix(filepath.Base(d), b.token+"-")
		key := fmt.Sprint(real, name)
		if seen[key] {
			continue
		}
		seen[key] = true
		rt, _, _ := strings.Cut(name, "-")
		if real {
			b.leftover[rt]++
		} else {
			b.onTmpfs[rt]++
		}
	}
}

// removeCgroups kills whatever is left in this benchmark's cgroups and
// removes them, then removes the shared parent if it is empty.
func removeCgroups(token string) error {
	err := cgroup.RemoveAll(filepath.Join(cgroupParent, token+"-*"))
	for _, h := range cgroup.Hierarchies() {
		// Fails harmlessly while another benchmark still has runs there.
		_ = unix.Rmdir(filepath.Join(h, cgroupParent))
	}
	return err
}

// Cleanup (inner stage) deletes containers left in the state dirs, reaps
// orphans and removes the cgroups. The outer stage removes the temp dir.
func (b *bench) Cleanup() error {
	var errs []error
	for _, r := range b.runners {
		if r.state == "" {
			continue
		}
		entries, _ := os.ReadDir(r.state)
		n := 0
		for _, e := range entries {
			if e.IsDir() {
				n++
				r.forceDelete(e.Name())
			}
		}
		if n > 0 {
			fmt.Fprintf(os.Stderr, "cleanup: %s had %d container(s) left in its state dir; deleted with --force\n", r.name, n)
		}
		if err := os.RemoveAll(r.state); err != nil {
			errs = append(errs, err)
		}
	}
	reapOrphans()
	if err := removeCgroups(b.token); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
