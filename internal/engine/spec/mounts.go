package spec

import (
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/mount"
)

// defaultMounts are Docker's, in its order (daemon/pkg/oci/defaults.go);
// /dev/shm gets its size from --shm-size.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
	}
}

// Docker's masked and read-only paths.
var (
	defaultMaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
		"/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
	}
	defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// mounts builds the mount list as dockerd's withMounts does: the default
// mounts that no user mount replaces (a user /dev replaces everything
// under /dev too), then the user mounts sorted by depth, so that a parent
// is mounted before what lies below it. It also sets the masked and
// read-only paths and the root propagation.
func (g *generation) mounts() error {
	user, err := g.userMounts()
	if err != nil {
		return err
	}
	dests := map[string]bool{}
	for _, m := range user {
		dests[m.Destination] = true
	}
	defaults := defaultMounts()
	if g.hc.Init != nil && *g.hc.Init && g.in.PidNS == "" {
		defaults = append(defaults, specs.Mount{Destination: initPath, Type: "bind", Source: g.in.InitPath, Options: []string{"bind", "ro"}})
	}
	writableCgroups := g.hc.Privileged
	if g.sec.writableCgroups != nil {
		writableCgroups = *g.sec.writableCgroups
	}
	var out []specs.Mount
	for _, m := range defaults {
		switch {
		case dests[m.Destination]:
			continue
		case dests["/dev"] && strings.HasPrefix(m.Destination, "/dev/"):
			continue
		case m.Destination == "/dev/shm":
			if g.hc.IpcMode.IsNone() {
				continue
			}
			m.Options = append(m.Options, "size="+strconv.FormatInt(g.hc.ShmSize, 10))
		}
		if g.hc.ReadonlyRootfs && !slices.Contains(m.Options, "ro") {
			switch m.Destination {
			case "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev":
			default:
				m.Options = append(m.Options, "ro")
			}
		}
		if (m.Destination == "/sys" && g.hc.Privileged) || (m.Type == "cgroup" && writableCgroups) {
			m.Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
		}
		out = append(out, m)
	}
	g.spec.Mounts = append(out, user...)

	switch {
	case g.hc.MaskedPaths != nil:
		g.spec.Linux.MaskedPaths = slices.Clone(g.hc.MaskedPaths)
	case !g.hc.Privileged:
		g.spec.Linux.MaskedPaths = append(slices.Clone(defaultMaskedPaths), g.host.maskedExtra()...)
	}
	switch {
	case g.hc.ReadonlyPaths != nil:
		g.spec.Linux.ReadonlyPaths = slices.Clone(g.hc.ReadonlyPaths)
	case !g.hc.Privileged:
		g.spec.Linux.ReadonlyPaths = slices.Clone(defaultReadonlyPaths)
	}
	return nil
}

// userMounts converts Input.Mounts, the hosts files and, for --ipc host,
// the host's /dev/shm, sorted by depth. A user mount at /etc/hosts (or
// the other two) replaces the generated file, as in Docker.
func (g *generation) userMounts() ([]specs.Mount, error) {
	var out []specs.Mount
	seen := map[string]bool{}
	for _, m := range g.in.Mounts {
		sm, err := g.userMount(m)
		if err != nil {
			return nil, err
		}
		if seen[sm.Destination] {
			return nil, invalid("Duplicate mount point: %s", sm.Destination)
		}
		seen[sm.Destination] = true
		out = append(out, sm)
	}
	var extra []Mount
	for _, f := range []struct{ src, dst string }{
		{g.in.ResolvConfPath, "/etc/resolv.conf"},
		{g.in.HostnamePath, "/etc/hostname"},
		{g.in.HostsPath, "/etc/hosts"},
	} {
		if f.src != "" {
			extra = append(extra, Mount{Type: "bind", Source: f.src, Destination: f.dst, RW: !g.hc.ReadonlyRootfs})
		}
	}
	if g.hc.IpcMode.IsHost() {
		if !g.host.exists("/dev/shm") {
			return nil, invalid("/dev/shm is not mounted, but must be for --ipc=host")
		}
		extra = append(extra, Mount{Type: "bind", Source: "/dev/shm", Destination: "/dev/shm", RW: true})
	}
	for _, m := range extra {
		if seen[m.Destination] {
			continue
		}
		sm, err := g.userMount(m)
		if err != nil {
			return nil, err
		}
		out = append(out, sm)
	}
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Destination) < depth(out[j].Destination) })
	return out, nil
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// userMount converts one Mount. Binds and volumes are recursive binds,
// rprivate unless asked otherwise; read-only ones are recursively
// read-only where the kernel can (Linux 5.12), as Docker does.
func (g *generation) userMount(m Mount) (specs.Mount, error) {
	if !filepath.IsAbs(m.Destination) {
		return specs.Mount{}, invalid("invalid mount path: '%s' mount path must be absolute", m.Destination)
	}
	dest := filepath.Clean(m.Destination)
	switch m.Type {
	case "tmpfs":
		if dest == "/" {
			return specs.Mount{}, invalid("invalid specification: destination can't be '/'")
		}
		opts := append([]string{"noexec", "nosuid", "nodev", "rprivate"}, m.Options...)
		if !m.RW {
			opts = append(opts, "ro")
		}
		merged, err := mergeTmpfsOptions(opts)
		if err != nil {
			return specs.Mount{}, err
		}
		return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: merged}, nil
	case "bind", "volume":
	default:
		return specs.Mount{}, invalid("invalid mount type %q for %s", m.Type, dest)
	}
	if !filepath.IsAbs(m.Source) {
		return specs.Mount{}, invalid("invalid mount source %q for %s: must be an absolute host path", m.Source, dest)
	}
	bindMode, roMode := "rbind", "ro"
	if g.host.kernelAtLeast(5, 12) {
		roMode = "rro"
	}
	var extra []string
	for _, o := range m.Options {
		switch {
		case o == "nocopy":
			// A volume creation option: nothing to do with the mount.
		case o == "bind":
			bindMode = "bind"
		case o == "ro" && !m.RW:
			roMode = "ro"
		case o == "rbind", o == "ro", o == "rw", isPropagation(o):
			return specs.Mount{}, invalid("invalid mount option %q for %s: use the mount's mode or propagation", o, dest)
		case !knownMountOption(o):
			return specs.Mount{}, invalid("invalid mount option %q for %s", o, dest)
		default:
			extra = append(extra, o)
		}
	}
	opts := []string{bindMode}
	if !m.RW {
		opts = append(opts, roMode)
	}
	prop := m.Propagation
	if prop == "" {
		prop = "rprivate"
	}
	if !isPropagation(prop) || strings.HasSuffix(prop, "unbindable") {
		return specs.Mount{}, invalid("invalid mount propagation %q for %s", m.Propagation, dest)
	}
	if err := g.checkPropagation(m.Source, prop); err != nil {
		return specs.Mount{}, err
	}
	opts = append(append(opts, prop), extra...)
	return specs.Mount{Destination: dest, Type: "bind", Source: m.Source, Options: opts}, nil
}

// checkPropagation makes sure a shared (or slave) bind's source sits on a
// shared (or shared or slave) host mount, and makes the root propagation
// shared (or rslave) so that events can travel, as dockerd does.
func (g *generation) checkPropagation(src, prop string) error {
	rp := g.spec.Linux.RootfsPropagation
	switch prop {
	case "shared", "rshared":
		point, shared, _, err := g.host.propagation(src)
		if err != nil {
			return invalid("bind source %s: %v", src, err)
		}
		if !shared {
			return invalid("path %s is mounted on %s but it is not a shared mount", src, point)
		}
		if rp != "shared" && rp != "rshared" {
			g.spec.Linux.RootfsPropagation = "shared"
		}
	case "slave", "rslave":
		point, shared, slave, err := g.host.propagation(src)
		if err != nil {
			return invalid("bind source %s: %v", src, err)
		}
		if !shared && !slave {
			return invalid("path %s is mounted on %s but it is not a shared or slave mount", src, point)
		}
		switch rp {
		case "shared", "rshared", "slave", "rslave":
		default:
			g.spec.Linux.RootfsPropagation = "rslave"
		}
	}
	return nil
}

func isPropagation(o string) bool {
	switch o {
	case "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable":
		return true
	}
	return false
}

func knownMountOption(o string) bool {
	return slices.Contains(mount.KnownOptions(), o)
}

// tmpfsFlags maps each tmpfs flag option to the group of options that
// override one another ("ro" and "rw", "exec" and "noexec", ...); all
// propagation options form one group.
var tmpfsFlags = map[string]string{
	"ro": "ro", "rw": "ro", "suid": "suid", "nosuid": "suid", "dev": "dev", "nodev": "dev",
	"exec": "exec", "noexec": "exec", "sync": "sync", "async": "sync", "dirsync": "dirsync",
	"mand": "mand", "nomand": "mand", "atime": "atime", "noatime": "atime",
	"diratime": "diratime", "nodiratime": "diratime", "relatime": "relatime", "norelatime": "relatime",
	"strictatime": "strictatime", "nostrictatime": "strictatime",
	"private": "prop", "rprivate": "prop", "shared": "prop", "rshared": "prop",
	"slave": "prop", "rslave": "prop", "unbindable": "prop", "runbindable": "prop",
}

// tmpfsData are the tmpfs "key=value" options Docker accepts.
var tmpfsData = map[string]bool{"size": true, "mode": true, "uid": true, "gid": true, "nr_inodes": true, "nr_blocks": true, "mpol": true}

// mergeTmpfsOptions drops the options a later one overrides, keeping the
// order of the survivors, as moby's MergeTmpfsOptions. Unknown options
// are an error.
func mergeTmpfsOptions(opts []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i := len(opts) - 1; i >= 0; i-- {
		o := opts[i]
		if o == "defaults" {
			continue
		}
		key, ok := tmpfsFlags[o]
		if !ok {
			k, _, hasValue := strings.Cut(o, "=")
			if !hasValue || !tmpfsData[k] {
				return nil, invalid("invalid tmpfs option %q", k)
			}
			key = "data:" + k
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, o)
		}
	}
	slices.Reverse(out)
	return out, nil
}
