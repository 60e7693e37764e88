package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/runtime/seccomp"
)

// The plan: the whole setup of a container's init, computed here and
// executed by the C of internal/runtime/nsenter (plan.c), so that no Go
// runtime starts in the container. Records as in plan.c.
const (
	planGo          = 32
	opUnshareCgroup = 33
	opSetsid        = 34
	opSlaveRoot     = 35
	opRootfs        = 36
	opMount         = 37
	opRemount       = 38
	opDevice        = 39
	opSymlink       = 40
	opPtmx          = 41
	opHooks         = 42
	opPivot         = 43
	opRootProp      = 44
	opSysctl        = 45
	opMask          = 46
	opReadonly      = 47
	opRootRO        = 48
	opHostname      = 49
	opDomainname    = 50
	pArg            = 60
	pEnv            = 61
	pCwd            = 62
	pRlimit         = 63
	pIOPrio         = 64
	pSeccomp        = 65
	pUser           = 66
	pCaps           = 67
	pProc           = 68
	pRun            = 69
)

// Flags of pProc.
const (
	procExec        = 1
	procNNP         = 2
	procTerminal    = 4
	procConsoleSize = 8
)

// planMaxRecord is plan.c's MAX_RECORD.
const planMaxRecord = 1 << 20

// errNoPlan says the plan cannot express a container: its init runs the
// Go code instead, which also gives the error, if any, the Go way.
var errNoPlan = errors.New("not expressible as a plan")

func noPlan(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errNoPlan}, a...)...)
}

// planBuf accumulates plan records.
type planBuf struct {
	b   []byte
	err error
}

func (p *planBuf) rec(typ uint32, fixed []byte, strs ...string) {
	n := len(fixed)
	for _, s := range strs {
		if strings.IndexByte(s, 0) >= 0 {
			p.fail(noPlan("string with a NUL byte"))
			return
		}
		n += len(s) + 1
	}
	if n > planMaxRecord {
		p.fail(noPlan("record of %d bytes", n))
		return
	}
	p.b = binary.NativeEndian.AppendUint32(p.b, typ)
	p.b = binary.NativeEndian.AppendUint32(p.b, uint32(n))
	p.b = append(p.b, fixed...)
	for _, s := range strs {
		p.b = append(p.b, s...)
		p.b = append(p.b, 0)
	}
}

func (p *planBuf) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func u32s(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.NativeEndian.AppendUint32(b, x)
	}
	return b
}

func u64s(v ...uint64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.NativeEndian.AppendUint64(b, x)
	}
	return b
}

// planMount is one mount_hdr of plan.c.
type planMount struct {
	flags, recSet, recClr uint64
	bind, rec             bool
	prop                  []uintptr
}

func (p *planBuf) mount(m planMount, src, dst, fstype, data, label string) {
	if len(m.prop) > 4 {
		p.fail(noPlan("more than four propagation options"))
		return
	}
	b2u := func(b bool) uint32 {
		if b {
			return 1
		}
		return 0
	}
	fixed := u64s(m.flags, m.recSet, m.recClr)
	fixed = append(fixed, u32s(b2u(m.bind), b2u(m.rec), uint32(len(m.prop)), 0)...)
	var props [4]uint64
	for i, f := range m.prop {
		props[i] = uint64(f)
	}
	fixed = append(fixed, u64s(props[:]...)...)
	p.rec(opMount, fixed, src, dst, fstype, data, label)
}

// openat2Works says the kernel resolves paths with openat2 (Linux 5.6):
// the C init has no user-space fallback.
var openat2Works = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// buildPlan computes the plan of cfg for init pid, or an error wrapping
// errNoPlan when the plan cannot express it.
func buildPlan(cfg *initConfig, pid int) ([]byte, error) {
	p := cfg.Process
	switch {
	case !openat2Works():
		return nil, noPlan("no openat2")
	case p == nil:
		return nil, noPlan("no process")
	case len(p.Args) == 0:
		return nil, noPlan("no args")
	case p.ApparmorProfile != "" || p.SelinuxLabel != "":
		return nil, noPlan("LSM label")
	case !cfg.Exec && !cfg.NewMnt:
		return nil, noPlan("no mount namespace of its own")
	case !cfg.Exec && cfg.Spec.Hooks != nil && (len(cfg.Spec.Hooks.CreateContainer) > 0 || len(cfg.Spec.Hooks.StartContainer) > 0):
		return nil, noPlan("hooks inside the container")
	}
	var pb planBuf
	if cfg.NewCgroupNS {
		pb.rec(opUnshareCgroup, nil)
	}
	pb.rec(opSetsid, nil)
	if !cfg.Exec {
		if err := planRootfs(&pb, cfg, pid); err != nil {
			return nil, err
		}
	}
	if err := planProcess(&pb, cfg); err != nil {
		return nil, err
	}
	if pb.err != nil {
		return nil, pb.err
	}
	return pb.b, nil
}

func planRootfs(pb *planBuf, cfg *initConfig, pid int) error {
	spec := cfg.Spec
	var rootProp uintptr
	if rp := spec.Linux.RootfsPropagation; rp != "" {
		f, ok := mount.PropagationFlags(rp)
		if !ok {
			return noPlan("unknown rootfsPropagation")
		}
		rootProp = f
	}
	pb.rec(opSlaveRoot, nil)
	pb.rec(opRootfs, nil, cfg.Rootfs)
	cgroupNS := hasNamespace(spec, specs.CgroupNamespace)
	for _, m := range spec.Mounts {
		opts, err := mount.ParseOptions(m.Options)
		if err != nil {
			return noPlan("mount options: %v", err)
		}
		label := fmt.Sprintf("mount %s on %s", m.Source, m.Destination)
		dst := filepath.Clean("/" + m.Destination)
		if m.Type == "cgroup" {
			if err := planCgroup(pb, dst, opts, label, cgroupNS, pid); err != nil {
				return err
			}
			continue
		}
		pm := planMount{flags: uint64(opts.Flags), recSet: opts.RecAttrSet, recClr: opts.RecAttrClr, prop: opts.Propagation}
		src := m.Source
		if isBind(m) {
			pm.bind, pm.rec = true, opts.Recursive
			if !filepath.IsAbs(src) {
				src = filepath.Join(cfg.Bundle, src)
			}
		}
		pb.mount(pm, src, dst, m.Type, opts.DataString(), label)
	}
	planDevices(pb, spec, cfg.UserNS)
	pb.rec(opHooks, nil)
	pb.rec(opPivot, nil)
	if rootProp != 0 {
		pb.rec(opRootProp, u64s(uint64(rootProp)), spec.Linux.RootfsPropagation)
	}
	// Sysctls first: /proc/sys is among the read-only paths.
	keys := make([]string, 0, len(spec.Linux.Sysctl))
	for k := range spec.Linux.Sysctl {
		if strings.Contains(k, "..") || strings.Contains(k, "/") {
			return noPlan("sysctl name %q", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pb.rec(opSysctl, nil, k, spec.Linux.Sysctl[k])
	}
	for _, m := range spec.Linux.MaskedPaths {
		pb.rec(opMask, nil, m)
	}
	for _, r := range spec.Linux.ReadonlyPaths {
		pb.rec(opReadonly, nil, r)
	}
	if spec.Root.Readonly {
		pb.rec(opRootRO, nil)
	}
	if spec.Hostname != "" {
		pb.rec(opHostname, nil, spec.Hostname)
	}
	if spec.Domainname != "" {
		pb.rec(opDomainname, nil, spec.Domainname)
	}
	return nil
}

// planCgroup is mountCgroup as plan steps.
func planCgroup(pb *planBuf, dst string, opts mount.Options, label string, cgroupNS bool, pid int) error {
	flags := uint64(opts.Flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	hier, err := cgroupHierarchies()
	if err != nil {
		return noPlan("cgroup hierarchies: %v", err)
	}
	if len(hier) == 1 && hier[0].fstype == "cgroup2" && hier[0].mountpoint == "/sys/fs/cgroup" {
		pb.mount(planMount{flags: flags}, "cgroup2", dst, "cgroup2", "", label)
		return nil
	}
	pb.mount(planMount{flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}, "tmpfs", dst, "tmpfs", "mode=755", label)
	var own []byte
	if !cgroupNS {
		if own, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup"); err != nil {
			return noPlan("read cgroup of init: %v", err)
		}
	}
	for _, h := range hier {
		name := filepath.Base(h.mountpoint)
		sub := filepath.Join(dst, name)
		sublabel := label + ": mount cgroup " + name
		switch {
		case !cgroupNS:
			path := ownCgroup(h, string(own))
			if path == "" {
				return noPlan("no cgroup of init in %s", h.mountpoint)
			}
			pb.mount(planMount{flags: flags, bind: true}, filepath.Join(h.mountpoint, path), sub, "", "", sublabel)
		case h.fstype == "cgroup2":
			pb.mount(planMount{flags: flags}, "cgroup2", sub, "cgroup2", "", sublabel)
		default:
			pb.mount(planMount{flags: flags}, "cgroup", sub, "cgroup", h.options, sublabel)
		}
		// Co-mounted controllers (cpu,cpuacct) also get a name each.
		if strings.Contains(name, ",") {
			for _, alias := range strings.Split(name, ",") {
				pb.rec(opSymlink, u32s(1), dst, alias, name, "symlink "+alias)
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		pb.rec(opRemount, u64s(unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC), dst, label)
	}
	return nil
}

// ownCgroup finds, in the text of /proc/PID/cgroup, the process's cgroup
// in hierarchy h ("" when it has none), as bindOwnCgroup does.
func ownCgroup(h cgroupHier, procCgroup string) string {
	have := map[string]bool{}
	for _, o := range strings.Split(h.options, ",") {
		have[o] = true
	}
	own := ""
	for _, line := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if h.fstype == "cgroup2" {
			if parts[1] == "" {
				own = parts[2]
			}
			continue
		}
		match := parts[1] != ""
		for _, c := range strings.Split(parts[1], ",") {
			match = match && have[c]
		}
		if match {
			own = parts[2]
		}
	}
	return own
}

// planDevices is rootfsSetup.devices as plan steps.
func planDevices(pb *planBuf, spec *specs.Spec, userns bool) {
	specDevs := map[string]bool{}
	for _, d := range spec.Linux.Devices {
		specDevs[filepath.Clean(d.Path)] = true
	}
	mode := os.FileMode(0o666)
	var all []specs.LinuxDevice
	for _, d := range defaultDevices {
		if !specDevs[d.Path] {
			d.FileMode = &mode
			all = append(all, d)
		}
	}
	all = append(all, spec.Linux.Devices...)
	ownDev := false
	for _, m := range spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev" {
			ownDev = true
		}
	}
	for _, d := range all {
		path := filepath.Clean("/" + d.Path)
		if !ownDev && !specDevs[filepath.Clean(d.Path)] {
			continue
		}
		typ, perm, uid, gid := deviceNode(d)
		var un uint32
		if userns {
			un = 1
		}
		pb.rec(opDevice, u32s(typ|perm, uint32(d.Major), uint32(d.Minor), uid, gid, un), path)
	}
	if !ownDev {
		return
	}
	_, err := os.Stat("/proc/kcore")
	for _, l := range devSymlinks(err == nil) {
		pb.rec(opSymlink, u32s(0), "/dev", filepath.Base(l[1]), l[0], "symlink "+l[1])
	}
	pb.rec(opPtmx, nil)
}

func planProcess(pb *planBuf, cfg *initConfig) error {
	p := cfg.Process
	var flags uint32
	if cfg.Exec {
		flags |= procExec
	}
	if p.NoNewPrivileges {
		flags |= procNNP
	}
	var rows, cols uint32
	if p.Terminal {
		flags |= procTerminal
		if p.ConsoleSize != nil {
			flags |= procConsoleSize
			rows, cols = uint32(p.ConsoleSize.Height), uint32(p.ConsoleSize.Width)
		}
	}
	pb.rec(pProc, u32s(flags, uint32(cfg.FifoFD), uint32(cfg.ConsoleFD), uint32(cfg.PreserveFDs), rows, cols))
	for _, a := range p.Args {
		pb.rec(pArg, nil, a)
	}
	for _, e := range p.Env {
		pb.rec(pEnv, nil, e)
	}
	pb.rec(pCwd, nil, p.Cwd)
	if len(p.Rlimits) > 16 {
		return noPlan("more than 16 rlimits")
	}
	for _, r := range p.Rlimits {
		res, ok := rlimitNames[r.Type]
		if !ok {
			return noPlan("unknown rlimit %s", r.Type)
		}
		fixed := append(u32s(uint32(res), 0), u64s(r.Soft, r.Hard)...)
		pb.rec(pRlimit, fixed, r.Type)
	}
	if p.IOPriority != nil {
		class, ok := ioprioClasses[p.IOPriority.Class]
		if !ok {
			return noPlan("unknown ioPriority class")
		}
		pb.rec(pIOPrio, u32s(uint32(class<<13|p.IOPriority.Priority)))
	}
	if cfg.Spec != nil && cfg.Spec.Linux != nil && cfg.Spec.Linux.Seccomp != nil {
		prog, sflags, err := seccomp.Program(cfg.Spec.Linux.Seccomp)
		if err != nil {
			return noPlan("seccomp: %v", err)
		}
		b := u32s(uint32(sflags), 0)
		for _, ins := range prog {
			b = binary.NativeEndian.AppendUint16(b, ins.Code)
			b = append(b, ins.Jt, ins.Jf)
			b = binary.NativeEndian.AppendUint32(b, ins.K)
		}
		pb.rec(pSeccomp, b)
	}
	u := u32s(p.User.UID, p.User.GID, 0, 0, uint32(len(p.User.AdditionalGids)))
	if p.User.Umask != nil {
		binary.NativeEndian.PutUint32(u[8:], 1)
		binary.NativeEndian.PutUint32(u[12:], *p.User.Umask)
	}
	u = append(u, u32s(p.User.AdditionalGids...)...)
	pb.rec(pUser, u)
	sets, err := capMasks(p.Capabilities)
	if err != nil {
		return err
	}
	last, err := capability.LastCap()
	if err != nil {
		return noPlan("last capability: %v", err)
	}
	pb.rec(pCaps, append(u64s(sets[:]...), u32s(uint32(last), 0)...))
	pb.rec(pRun, nil)
	return nil
}

// capMasks are the five capability sets as bit masks: bounding,
// effective, permitted, inheritable, ambient.
func capMasks(c *specs.LinuxCapabilities) ([5]uint64, error) {
	var out [5]uint64
	if c == nil {
		return out, nil
	}
	for i, names := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		for _, n := range names {
			v, err := parseCap(n)
			if err != nil || v > 63 {
				return out, noPlan("capability %s", n)
			}
			out[i] |= 1 << uint(v)
		}
	}
	return out, nil
}

// sendInit gives a spawned init what it needs: the plan when it can
// express cfg and init reads one, otherwise (a PLAN_GO record first, for
// an init that waits for a plan) the JSON config of the Go init.
func sendInit(sp *spawned, cfg *initConfig) error {
	if sp.plan {
		plan, err := buildPlan(cfg, sp.pid)
		if err == nil {
			if _, err := sp.sock.Write(plan); err != nil {
				return fmt.Errorf("send plan to container init: %w", err)
			}
			return nil
		}
		if !errors.Is(err, errNoPlan) {
			return err
		}
		if err := writeRecord(sp.sock, planGo, nil); err != nil {
			return fmt.Errorf("send config to container init: %w", err)
		}
	}
	if err := sp.conn.enc.Encode(cfg); err != nil {
		return fmt.Errorf("send config to container init: %w", err)
	}
	return nil
}
