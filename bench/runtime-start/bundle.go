package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	busyboxPath = "/bin/busybox"
	// cgroupPlaceholder stands for the per-run cgroupsPath in b.config.
	cgroupPlaceholder = "@CGROUPS_PATH@"
)

// makeBundle builds <tmp>/bundle: a busybox rootfs and config.json.
func (b *bench) makeBundle() error {
	b.bundle = filepath.Join(b.tmp, "bundle")
	b.rootfs = filepath.Join(b.bundle, "rootfs")
	if err := isStatic(busyboxPath); err != nil {
		return fmt.Errorf("%s: %w (install Debian's busybox-static)", busyboxPath, err)
	}
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "root", "run", "var", "mnt"} {
		if err := os.MkdirAll(filepath.Join(b.rootfs, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(b.rootfs, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := copyFile(busyboxPath, filepath.Join(b.rootfs, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	list, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(b.rootfs, "bin", applet)); err != nil {
			return err
		}
	}
	for name, content := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":  "root:x:0:\n",
	} {
		if err := os.WriteFile(filepath.Join(b.rootfs, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return b.makeConfig()
}

// makeConfig generates config.json with `shoal runtime spec` and adjusts
// it for the benchmark. Every runtime gets exactly these bytes (only the
// cgroupsPath differs per run).
func (b *bench) makeConfig() error {
	gen := filepath.Join(b.tmp, "spec")
	if err := os.MkdirAll(gen, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command(b.opts.shoal, "runtime", "spec", "--bundle", gen).CombinedOutput(); err != nil {
		return fmt.Errorf("shoal runtime spec: %v: %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(gen, "config.json"))
	if err != nil {
		return err
	}
	var spec specs.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("config.json from shoal runtime spec: %w", err)
	}
	if spec.Process == nil || spec.Root == nil || spec.Linux == nil {
		return errors.New("config.json from shoal runtime spec lacks process, root or linux")
	}
	spec.Version = b.opts.ociVersion
	spec.Process.Terminal = false
	spec.Process.Args = []string{"/bin/true"}
	spec.Root.Path = "rootfs"
	spec.Root.Readonly = true
	ns := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.NetworkNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.MountNamespace},
	}
	if b.opts.cgroupNS {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	spec.Linux.Namespaces = ns
	spec.Linux.CgroupsPath = cgroupPlaceholder
	b.config, err = json.MarshalIndent(&spec, "", "  ")
	if err != nil {
		return err
	}
	b.config = append(b.config, '\n')
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

func isStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("not statically linked")
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// hideUnifiedCgroup mounts a tmpfs over /sys/fs/cgroup/unified on a
// hybrid host (cgroup v1 plus a cgroup2 mount there), which Debian's crun
// 1.8.1 refuses. It runs in the harness's private mount namespace, so only
// the benchmark sees it, and all runtimes run under it alike.
func hideUnifiedCgroup() (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return "", fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "cgroup v2 (unified): nothing to hide", nil
	}
	const unified = "/sys/fs/cgroup/unified"
	if err := unix.Statfs(unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "cgroup v1 only: nothing to hide", nil
	}
	if err := checkPrivateMountNS(unified); err != nil {
		return "", err
	}
	if err := unix.Mount("shoal-bench", unified, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return "", fmt.Errorf("mount tmpfs over %s: %w", unified, err)
	}
	return "hybrid (cgroup v1 + cgroup2 at " + unified + "); a tmpfs hides " + unified +
		" in the harness's private mount namespace, so every runtime (and the bare row) sees cgroup v1 only", nil
}

// checkPrivateMountNS makes sure a mount on path cannot leak to the host:
// we are in a mount namespace of our own and path's mount is not shared.
func checkPrivateMountNS(path string) error {
	self, err1 := os.Readlink("/proc/self/ns/mnt")
	parent, err2 := os.Readlink("/proc/" + strconv.Itoa(os.Getppid()) + "/ns/mnt")
	if err1 != nil || err2 != nil || self == parent {
		return errors.New("refusing to mount: not in a private mount namespace")
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 6 && fields[4] == path {
			for _, opt := range fields[6:] {
				if opt == "-" {
					break
				}
				if strings.HasPrefix(opt, "shared:") {
					return fmt.Errorf("refusing to mount: %s is a shared mount", path)
				}
			}
		}
	}
	return sc.Err()
}

// tokenOf derives the run's token (used in container IDs and cgroup
// names) from the temp dir's random suffix.
func tokenOf(tmp string) string {
	return strings.TrimPrefix(filepath.Base(tmp), "shoal-bench-")
}

// cgroupHierarchies returns the mount points of every cgroup hierarchy.
func cgroupHierarchies() []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && (fields[i+1] == "cgroup" || fields[i+1] == "cgroup2") {
				dirs = append(dirs, fields[4])
			}
		}
	}
	return dirs
}

// runCgroups lists the cgroup dirs of this benchmark's runs, per hierarchy.
func runCgroups(token string) []string {
	var dirs []string
	for _, h := range cgroupHierarchies() {
		m, _ := filepath.Glob(filepath.Join(h, cgroupParent, token+"-*"))
		dirs = append(dirs, m...)
	}
	return dirs
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
	var errs []error
	for _, d := range runCgroups(token) {
		if err := removeCgroupTree(d); err != nil {
			errs = append(errs, err)
		}
	}
	for _, h := range cgroupHierarchies() {
		// Fails harmlessly while another benchmark still has runs there.
		_ = unix.Rmdir(filepath.Join(h, cgroupParent))
	}
	return errors.Join(errs...)
}

func removeCgroupTree(root string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err == nil && st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		// crun writes into the tmpfs that hides the cgroup2 mount.
		return os.RemoveAll(root)
	}
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // children first
	var errs []error
	for _, d := range dirs {
		var err error
		for try := 0; try < 50; try++ {
			killCgroupProcs(d)
			if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

func killCgroupProcs(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeTree detaches any mount below dir, then removes it.
func removeTree(dir string) error {
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		var mps []string
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
				mps = append(mps, fields[4])
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(mps)))
		for _, mp := range mps {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
	}
	return os.RemoveAll(dir)
}

// cleanup (inner stage) deletes containers left in the state dirs, reaps
// orphans and removes the cgroups. The outer stage removes the temp dir.
func (b *bench) cleanup() error {
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
