package rootfs

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Busybox is the host's busybox, copied into every root file system.
const Busybox = "/bin/busybox"

// dirs are the directories of every root file system.
var dirs = []string{"bin", "proc", "sys", "dev", "tmp", "etc", "root", "run", "var", "mnt"}

// Build makes the busybox root file system at root: the usual top-level
// directories and extraDirs, /tmp mode 1777, bin/busybox and a symlink to
// it per applet, etc/passwd and etc/group with root only, and files (path
// relative to root: content, mode 0644).
func Build(root string, extraDirs []string, files map[string]string) error {
	if err := IsStatic(Busybox); err != nil {
		return fmt.Errorf("%s: %w (install Debian's busybox-static)", Busybox, err)
	}
	for _, d := range append(append([]string{}, dirs...), extraDirs...) {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	// os.FileMode has its own sticky bit: 0o1777 would give 0777.
	if err := os.Chmod(filepath.Join(root, "tmp"), os.ModeSticky|0o777); err != nil {
		return err
	}
	if err := CopyFile(Busybox, filepath.Join(root, "bin", "busybox")); err != nil {
		return err
	}
	list, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			return err
		}
	}
	all := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":  "root:x:0:\n",
	}
	for name, content := range files {
		all[name] = content
	}
	for name, content := range all {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// IsStatic returns an error unless the ELF file at path is statically
// linked (has no program interpreter).
func IsStatic(path string) error {
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

// BusyboxVersion describes Busybox for a report.
func BusyboxVersion() string {
	out, _ := exec.Command(Busybox).CombinedOutput()
	l, _, _ := strings.Cut(string(out), "\n")
	if l == "" {
		return "busybox"
	}
	return strings.TrimSuffix(l, " multi-call binary.") + " (static) + applet symlinks"
}

// CopyFile copies src's content (following symlinks) to dst, a regular
// file with src's permission bits; dst's directories are made.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return out.Close()
}

// Config says how a bundle's config.json differs from `shoal runtime
// spec`'s.
type Config struct {
	// Version is written as "ociVersion" (Debian's crun 1.8.1 refuses
	// 1.3.0; it takes 1.0.2).
	Version string
	// Root is root.path: "rootfs" (relative to the bundle) or absolute.
	// The root is always read-only.
	Root string
	// CgroupNS adds a cgroup namespace to the pid, net, ipc, uts and
	// mount namespaces every config has.
	CgroupNS bool
	// CgroupsPath is linux.cgroupsPath: typically a placeholder the
	// benchmark replaces per run.
	CgroupsPath string
}

// GenerateConfig runs `shoal runtime spec --bundle genDir` and returns
// its config.json changed as c says, for `/bin/true` without a terminal,
// indented with two spaces (no trailing newline).
func GenerateConfig(shoal, genDir string, c Config) ([]byte, error) {
	if err := os.MkdirAll(genDir, 0o755); err != nil {
		return nil, err
	}
	if out, err := exec.Command(shoal, "runtime", "spec", "--bundle", genDir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("shoal runtime spec: %v: %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(genDir, "config.json"))
	if err != nil {
		return nil, err
	}
	return edit(raw, c)
}

func edit(raw []byte, c Config) ([]byte, error) {
	var spec specs.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("config.json from shoal runtime spec: %w", err)
	}
	if spec.Process == nil || spec.Root == nil || spec.Linux == nil {
		return nil, errors.New("config.json from shoal runtime spec lacks process, root or linux")
	}
	spec.Version = c.Version
	spec.Process.Terminal = false
	spec.Process.Args = []string{"/bin/true"}
	spec.Root.Path = c.Root
	spec.Root.Readonly = true
	ns := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.NetworkNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.MountNamespace},
	}
	if c.CgroupNS {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	spec.Linux.Namespaces = ns
	spec.Linux.CgroupsPath = c.CgroupsPath
	return json.MarshalIndent(&spec, "", "  ")
}
