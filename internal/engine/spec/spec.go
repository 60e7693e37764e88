package spec

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Mount is a resolved mount: a bind mount or a named volume (Source is a
// host path), or a tmpfs.
type Mount struct {
	Type                string // "bind", "volume" or "tmpfs"
	Source, Destination string
	// RW false makes the mount read-only, a tmpfs included. A read-only
	// bind is recursively read-only ("rro") where the kernel can do it.
	RW bool
	// Propagation of a bind or volume: "" (rprivate), "private",
	// "rprivate", "shared", "rshared", "slave" or "rslave". Shared and
	// slave need the source to sit on a shared (or slave) host mount.
	Propagation string
	// Options are tmpfs options ("size=64m", "mode=1777", "exec", ...) or
	// extra bind options: "bind" makes the bind non-recursive, "ro" with
	// RW false makes it read-only non-recursively, "nocopy" (a volume
	// creation option) is ignored, others are mount flags ("nosuid", ...).
	Options []string
}

// Input is what Generate needs to build a container's spec.
type Input struct {
	ID string
	// Config is merged with the image's defaults already (Env, Cmd,
	// Entrypoint, WorkingDir, User...). An empty Hostname defaults to the
	// host's name with host networking and to the first 12 characters of
	// ID otherwise.
	Config     *container.Config
	HostConfig *container.HostConfig
	// Rootfs is the absolute path of the container's mounted root
	// filesystem.
	Rootfs string
	// Host files bind-mounted at /etc/hostname, /etc/hosts and
	// /etc/resolv.conf ("" = none).
	HostnamePath, HostsPath, ResolvConfPath string
	// Mounts are every mount the container asked for, resolved: -v,
	// --mount, --tmpfs (HostConfig.Binds, Mounts and Tmpfs are not read
	// here) and the image's volumes.
	Mounts []Mount
	// InitPath is the host path of the init binary mounted read-only at
	// /sbin/docker-init for --init.
	InitPath string
	// CgroupsPath is the container's cgroup, e.g. "/shoal/<id>".
	CgroupsPath string
	// Namespaces to join: "" makes a new one, "host" uses the host's (no
	// namespace entry), a path (/proc/PID/ns/X) joins that one. They must
	// agree with HostConfig's modes (host with host, container:<name> with
	// a path).
	NetNS, PidNS, IPCNS, UTSNS string
	// HostCapBounding is the host's bounding set ("CAP_..." names), what
	// --privileged gets; nil reads CapBnd of /proc/self/status.
	HostCapBounding []string
	// CgroupMode is "v1", "v2" or "hybrid"; "" detects it. The cgroup
	// namespace is private by default on v2 only, as in Docker.
	CgroupMode string
}

// Default values Docker fills in when the request leaves them unset.
const (
	defaultShmSize = 64 << 20
	defaultPath    = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	initPath       = "/sbin/docker-init"
)

// invalid is an ErrInvalidArgument error. The class goes last so the API
// can show the message alone, as Docker words it.
func invalid(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
}

// Generate builds the OCI spec of a container. Invalid settings fail with
// an error of class errdefs.ErrInvalidArgument.
func Generate(in Input) (*specs.Spec, error) {
	return generate(in, realHost{bounding: in.HostCapBounding})
}

// generation is the state of one Generate call: the input with Docker's
// defaults filled in, and the spec being built.
type generation struct {
	in   Input
	cfg  container.Config
	hc   container.HostConfig // a copy: defaults are filled in here
	host host
	mode string // cgroup mode: v1, v2 or hybrid
	sec  securityOpts
	spec *specs.Spec
	home string // the user's home directory, for HOME
}

func generate(in Input, h host) (*specs.Spec, error) {
	if in.Config == nil || in.HostConfig == nil {
		return nil, errors.New("generate spec: Config and HostConfig are required")
	}
	if in.ID == "" || in.Rootfs == "" || !filepath.IsAbs(in.Rootfs) {
		return nil, fmt.Errorf("generate spec: an ID and an absolute Rootfs are required (got %q, %q)", in.ID, in.Rootfs)
	}
	g := &generation{in: in, cfg: *in.Config, hc: *in.HostConfig, host: h}
	mode, err := cgroupMode(in.CgroupMode, h)
	if err != nil {
		return nil, err
	}
	g.mode = mode
	g.applyDefaults()
	if err := g.checkNamespaces(); err != nil {
		return nil, err
	}
	if err := validate(&g.hc, &g.cfg, h, mode, false); err != nil {
		return nil, err
	}
	if g.sec, err = parseSecurityOpts(g.hc.SecurityOpt); err != nil {
		return nil, err
	}
	g.spec = &specs.Spec{
		Version:     specs.Version,
		Root:        &specs.Root{Path: in.Rootfs, Readonly: g.hc.ReadonlyRootfs},
		Process:     &specs.Process{},
		Linux:       &specs.Linux{CgroupsPath: in.CgroupsPath, Sysctl: map[string]string{}},
		Annotations: copyMap(g.hc.Annotations),
	}
	for _, step := range []func() error{
		g.namespaces,
		g.process,
		g.capabilities, // before seccomp: the default profile depends on the capabilities
		g.security,
		g.mounts,
		g.resources,
		g.devices,
		g.sysctls,
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if len(g.spec.Linux.Sysctl) == 0 {
		g.spec.Linux.Sysctl = nil
	}
	return g.spec, nil
}

// applyDefaults fills in what dockerd sets at create time when the request
// leaves it unset (daemon.adaptContainerSettings and friends).
func (g *generation) applyDefaults() {
	hc := &g.hc
	if hc.Memory > 0 && hc.MemorySwap == 0 && g.host.swapAccounting(g.mode) {
		// Docker: swap defaults to twice the memory limit. Without swap
		// accounting it drops it (with a warning); so does Shoal, since the
		// user asked for nothing.
		hc.MemorySwap = hc.Memory * 2
	}
	if hc.ShmSize == 0 {
		hc.ShmSize = defaultShmSize
	}
	if hc.IpcMode == "" {
		hc.IpcMode = container.IPCModePrivate
	}
	if hc.CgroupnsMode == "" {
		hc.CgroupnsMode = container.CgroupnsModeHost
		if g.mode == "v2" {
			hc.CgroupnsMode = container.CgroupnsModePrivate
		}
	}
	if hc.MemorySwappiness != nil && *hc.MemorySwappiness == -1 {
		// The CLI sends -1 for "unset".
		hc.MemorySwappiness = nil
	}
	if g.cfg.Hostname == "" {
		if hc.NetworkMode.IsHost() {
			g.cfg.Hostname, _ = g.host.hostname()
		} else {
			g.cfg.Hostname = g.in.ID[:min(12, len(g.in.ID))]
		}
	}
	if len(g.cfg.Entrypoint) == 1 && g.cfg.Entrypoint[0] == "" {
		g.cfg.Entrypoint = nil
	}
}

// checkNamespaces makes sure the caller's namespace choices agree with the
// modes in HostConfig: a mismatch is a bug in the caller.
func (g *generation) checkNamespaces() error {
	hc := &g.hc
	check := func(kind, ns string, host, joined bool) error {
		switch {
		case host != (ns == "host"):
			return fmt.Errorf("generate spec: %s namespace %q does not match the %s mode", kind, ns, kind)
		case joined && (ns == "" || ns == "host"):
			return fmt.Errorf("generate spec: %s mode container:<name> needs a namespace path", kind)
		case ns != "" && ns != "host" && !filepath.IsAbs(ns):
			return fmt.Errorf("generate spec: %s namespace path %q is not absolute", kind, ns)
		}
		return nil
	}
	return errors.Join(
		check("network", g.in.NetNS, hc.NetworkMode.IsHost(), hc.NetworkMode.IsContainer()),
		check("pid", g.in.PidNS, hc.PidMode.IsHost(), hc.PidMode.IsContainer()),
		check("ipc", g.in.IPCNS, hc.IpcMode.IsHost(), hc.IpcMode.IsContainer()),
		check("uts", g.in.UTSNS, hc.UTSMode.IsHost(), false),
	)
}

// namespaces lists the namespaces in Docker's order: mount, network, uts,
// pid, ipc, then cgroup when private. No user namespace: only --userns
// host is supported.
func (g *generation) namespaces() error {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	for _, n := range []struct {
		typ  specs.LinuxNamespaceType
		path string
	}{
		{specs.NetworkNamespace, g.in.NetNS},
		{specs.UTSNamespace, g.in.UTSNS},
		{specs.PIDNamespace, g.in.PidNS},
		{specs.IPCNamespace, g.in.IPCNS},
	} {
		if n.path != "host" {
			ns = append(ns, specs.LinuxNamespace{Type: n.typ, Path: n.path})
		}
	}
	if g.hc.CgroupnsMode.IsPrivate() {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	g.spec.Linux.Namespaces = ns
	// The hostname belongs to a UTS namespace of the container's own.
	if g.in.UTSNS == "" {
		g.spec.Hostname = g.cfg.Hostname
	}
	return nil
}

func cgroupMode(mode string, h host) (string, error) {
	switch mode {
	case "v1", "v2", "hybrid":
		return mode, nil
	case "":
		return h.cgroupMode()
	}
	return "", fmt.Errorf("generate spec: unknown cgroup mode %q (want v1, v2 or hybrid)", mode)
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
