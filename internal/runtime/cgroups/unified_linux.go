package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// unifiedManager handles a cgroup in a cgroup v2 hierarchy.
type unifiedManager struct {
	root    string // hierarchy root; "" when rebuilt from paths
	dir     string
	res     *specs.LinuxResources
	log     *slog.Logger
	timeout time.Duration
}

func (m *unifiedManager) Mode() Mode               { return Unified }
func (m *unifiedManager) Paths() map[string]string { return map[string]string{"": m.dir} }

func (m *unifiedManager) Exists() bool {
	_, err := os.Stat(m.dir)
	return err == nil
}

// hierarchyRoot returns the root of the hierarchy: the topmost directory
// above m.dir that has a cgroup.controllers file.
func (m *unifiedManager) hierarchyRoot() (string, error) {
	if m.root != "" {
		return m.root, nil
	}
	root := ""
	for d := filepath.Dir(m.dir); ; d = filepath.Dir(d) {
		if fileExists(d, "cgroup.controllers") {
			root = d
		} else if root != "" {
			break
		}
		if d == "/" {
			break
		}
	}
	if root == "" {
		return "", fmt.Errorf("find cgroup2 root above %s: no cgroup.controllers", m.dir)
	}
	return root, nil
}

func (m *unifiedManager) Apply(pid int) error {
	root, err := m.hierarchyRoot()
	if err != nil {
		return fmt.Errorf("apply cgroup: %w", err)
	}
	anc, err := ancestors(root, m.dir)
	if err != nil {
		return fmt.Errorf("apply cgroup: %w", err)
	}
	want := requiredControllers(m.res, true)
	var created []string
	fail := func(err error) error {
		return errors.Join(fmt.Errorf("apply cgroup %s: %w", m.dir, err), undoCreate(created))
	}
	for i, a := range anc {
		if err := m.enable(a, want); err != nil {
			return fail(err)
		}
		child := m.dir
		if i+1 < len(anc) {
			child = anc[i+1]
		}
		err := os.Mkdir(child, 0o755)
		switch {
		case err == nil:
			created = append(created, child)
		case !errors.Is(err, fs.ErrExist):
			return fail(fmt.Errorf("create cgroup: %w", err))
		}
	}
	if pid > 0 {
		if err := writeFile(m.dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fail(fmt.Errorf("move pid %d: %w", pid, err))
		}
	}
	return nil
}

// enable turns on in dir/cgroup.subtree_control the controllers in want,
// which must be available, and those of statsControllers that are.
func (m *unifiedManager) enable(dir string, want []string) error {
	availS, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("enable controllers: %w", err)
	}
	enabledS, err := readFile(dir, "cgroup.subtree_control")
	if err != nil {
		return fmt.Errorf("enable controllers: %w", err)
	}
	avail, enabled := map[string]bool{}, map[string]bool{}
	for _, c := range strings.Fields(availS) {
		avail[c] = true
	}
	for _, c := range strings.Fields(enabledS) {
		enabled[strings.TrimPrefix(c, "+")] = true
	}
	var need, opt []string
	wanted := map[string]bool{}
	for _, c := range want {
		wanted[c] = true
		if !avail[c] {
			return fmt.Errorf("%w: %q is not in %s (available: %q)", ErrNoController, c, filepath.Join(dir, "cgroup.controllers"), availS)
		}
		if !enabled[c] {
			need = append(need, c)
		}
	}
	for _, c := range statsControllers {
		if avail[c] && !enabled[c] && !wanted[c] {
			opt = append(opt, c)
		}
	}
	all := append(append([]string(nil), need...), opt...)
	if len(all) == 0 {
		return nil
	}
	if writeFile(dir, "cgroup.subtree_control", "+"+strings.Join(all, " +")) == nil {
		return nil
	}
	// Retry one by one to tell which controller failed.
	for _, c := range need {
		if err := writeFile(dir, "cgroup.subtree_control", "+"+c); err != nil {
			return fmt.Errorf("enable controller %s: %w", c, err)
		}
	}
	for _, c := range opt {
		if err := writeFile(dir, "cgroup.subtree_control", "+"+c); err != nil {
			m.log.Debug("optional cgroup controller not enabled", "controller", c, "dir", dir, "err", err)
		}
	}
	return nil
}

func (m *unifiedManager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := validateResources(r, Unified); err != nil {
		return fmt.Errorf("set cgroup resources: %w", err)
	}
	if want := requiredControllers(r, true); len(want) > 0 {
		root, err := m.hierarchyRoot()
		if err != nil {
			return fmt.Errorf("set cgroup resources: %w", err)
		}
		anc, err := ancestors(root, m.dir)
		if err != nil {
			return fmt.Errorf("set cgroup resources: %w", err)
		}
		for _, a := range anc {
			if err := m.enable(a, want); err != nil {
				return fmt.Errorf("set cgroup resources: %w", err)
			}
		}
	}
	steps := []struct {
		what string
		fn   func(*specs.LinuxResources) error
	}{
		{"memory", m.setMemory},
		{"cpu", m.setCPU},
		{"pids", m.setPids},
		{"io", m.setIO},
		{"hugetlb", m.setHugetlb},
		{"rdma", func(r *specs.LinuxResources) error { return setRdma(m.dir, r.Rdma) }},
		{"devices", m.setDevices},
		{"unified", m.setUnified},
	}
	for _, s := range steps {
		if err := s.fn(r); err != nil {
			return fmt.Errorf("set cgroup %s: %w", s.what, err)
		}
	}
	return nil
}

func (m *unifiedManager) setMemory(r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	if mem.Kernel != nil || mem.KernelTCP != nil {
		m.log.Debug("ignoring deprecated kernel memory limit")
	}
	limit, swap := val(mem.Limit), val(mem.Swap)
	swapStr, err := swapV2String(swap, limit)
	if err != nil {
		return err
	}
	if swapStr != "" {
		if err := writeFile(m.dir, "memory.swap.max", swapStr); err != nil {
			// Without swap accounting there is nothing to lift or to
			// forbid; only a real limit is an error.
			noFile := errors.Is(err, fs.ErrNotExist)
			if !noFile || (swapStr != "max" && swapStr != "0") {
				if noFile {
					return fmt.Errorf("swap limit: memory.swap.max is missing (no swap accounting): %w: %w", ErrNotSupported, err)
				}
				return err
			}
		}
	}
	if limit != 0 {
		if val(mem.CheckBeforeUpdate) && limit > 0 {
			if err := checkUsage(m.dir, "memory.current", limit); err != nil {
				return err
			}
		}
		if err := writeFile(m.dir, "memory.max", limitString(limit)); err != nil {
			return err
		}
	}
	if res := val(mem.Reservation); res != 0 {
		if err := writeFile(m.dir, "memory.low", limitString(res)); err != nil {
			return err
		}
	}
	return nil
}

// checkUsage refuses a memory limit below the current usage.
func checkUsage(dir, file string, limit int64) error {
	usage, err := readUint(dir, file)
	if err != nil {
		return err
	}
	if usage > uint64(limit) {
		return fmt.Errorf("%w: memory limit %d is below the current usage %d", ErrInvalidResource, limit, usage)
	}
	return nil
}

func (m *unifiedManager) setCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if w := cpuSharesToWeight(val(c.Shares)); w != 0 {
		if err := writeFile(m.dir, "cpu.weight", strconv.FormatUint(w, 10)); err != nil {
			return err
		}
	}
	if s := cpuMax(c.Quota, c.Period); s != "" {
		if err := writeFile(m.dir, "cpu.max", s); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := writeOptionalFeature(m.dir, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := writeOptionalFeature(m.dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	if c.Cpus != "" {
		if err := writeFile(m.dir, "cpuset.cpus", c.Cpus); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		if err := writeFile(m.dir, "cpuset.mems", c.Mems); err != nil {
			return err
		}
	}
	return nil
}

// writeOptionalFeature writes a file that older kernels lack, turning its
// absence into ErrNotSupported.
func writeOptionalFeature(dir, name, data string) error {
	err := writeFile(dir, name, data)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr == nil {
			return fmt.Errorf("%s is missing (kernel too old?): %w: %w", name, ErrNotSupported, err)
		}
	}
	return err
}

func (m *unifiedManager) setPids(r *specs.LinuxResources) error {
	if r.Pids == nil {
		return nil
	}
	return writeFile(m.dir, "pids.max", pidsMax(val(r.Pids.Limit)))
}

func (m *unifiedManager) setIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	bfq := fileExists(m.dir, "io.bfq.weight")
	if w := uint64(val(b.Weight)); w != 0 {
		var err error
		if bfq {
			err = writeFile(m.dir, "io.bfq.weight", strconv.FormatUint(w, 10))
		} else {
			err = writeFile(m.dir, "io.weight", strconv.FormatUint(blkioWeightToIOWeight(w), 10))
		}
		if err != nil {
			return err
		}
	}
	for _, d := range b.WeightDevice {
		w := uint64(val(d.Weight))
		if w == 0 {
			continue
		}
		var err error
		if bfq {
			err = writeFile(m.dir, "io.bfq.weight", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, w))
		} else {
			err = writeFile(m.dir, "io.weight", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, blkioWeightToIOWeight(w)))
		}
		if err != nil {
			return err
		}
	}
	for _, t := range []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			if err := writeFile(m.dir, "io.max", ioMaxLine(d, t.key)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *unifiedManager) setHugetlb(r *specs.LinuxResources) error {
	return setHugetlb(m.dir, r.HugepageLimits, "max", "rsvd.max")
}

// setHugetlb writes hugetlb.<size>.<limitFile>, and the reservation limit
// next to it when the kernel has one.
func setHugetlb(dir string, limits []specs.LinuxHugepageLimit, limitFile, rsvdFile string) error {
	for _, h := range limits {
		v := strconv.FormatUint(h.Limit, 10)
		name := "hugetlb." + h.Pagesize + "." + limitFile
		if err := writeFile(dir, name, v); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("hugepage size %s: %w: %w", h.Pagesize, ErrNotSupported, err)
			}
			return err
		}
		if rsvd := "hugetlb." + h.Pagesize + "." + rsvdFile; fileExists(dir, rsvd) {
			if err := writeFile(dir, rsvd, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// setRdma writes rdma.max lines, one per device, in name order.
func setRdma(dir string, rdma map[string]specs.LinuxRdma) error {
	devs := make([]string, 0, len(rdma))
	for d := range rdma {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	for _, d := range devs {
		if line := rdmaLine(d, rdma[d]); line != "" {
			if err := writeFile(dir, "rdma.max", line); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *unifiedManager) setDevices(r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	rules, err := parseDeviceRules(r.Devices)
	if err != nil {
		return err
	}
	return attachDeviceFilter(m.dir, deviceFilter(rules))
}

func (m *unifiedManager) setUnified(r *specs.LinuxResources) error {
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := writeFile(m.dir, k, r.Unified[k]); err != nil {
			return err
		}
	}
	return nil
}

func (m *unifiedManager) Freeze() error { return m.setFrozen(true, m.timeout) }
func (m *unifiedManager) Thaw() error   { return m.setFrozen(false, m.timeout) }

func (m *unifiedManager) setFrozen(on bool, timeout time.Duration) error {
	what, v, want := "thaw", "0", uint64(0)
	if on {
		what, v, want = "freeze", "1", 1
	}
	if err := writeOptionalFeature(m.dir, "cgroup.freeze", v); err != nil {
		return fmt.Errorf("%s cgroup: %w", what, err)
	}
	ok, err := waitFor(timeout, func() (bool, error) {
		ev, err := readKeyValues(m.dir, "cgroup.events")
		return err == nil && ev["frozen"] == want, err
	})
	if err == nil && !ok {
		err = fmt.Errorf("%s cgroup %s: cgroup.events does not say \"frozen %d\" after %s", what, m.dir, want, timeout)
		if on {
			// Do not leave the cgroup half frozen.
			err = errors.Join(err, writeFile(m.dir, "cgroup.freeze", "0"))
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("%s cgroup: %w", what, err)
	}
	return nil
}

func (m *unifiedManager) State() (FreezerState, error) {
	s, err := readFile(m.dir, "cgroup.freeze")
	if errors.Is(err, fs.ErrNotExist) && m.Exists() {
		return Thawed, nil // no freezer in this kernel: never frozen
	}
	if err != nil {
		return FreezerUndefined, fmt.Errorf("freezer state: %w", err)
	}
	if s == "0" {
		return Thawed, nil
	}
	ev, err := readKeyValues(m.dir, "cgroup.events")
	if err != nil {
		return FreezerUndefined, fmt.Errorf("freezer state: %w", err)
	}
	if ev["frozen"] == 1 {
		return Frozen, nil
	}
	return Freezing, nil
}

func (m *unifiedManager) Pids() ([]int, error) { return allPids(m.dir) }

func (m *unifiedManager) Kill(sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		err := writeFile(m.dir, "cgroup.kill", "1")
		if err == nil {
			return nil
		}
		if isGone(err) && !m.Exists() {
			return nil // the cgroup is gone: nothing is left to kill
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("kill cgroup: %w", err)
		}
		// No cgroup.kill before Linux 5.14: signal one by one.
	}
	return killAll(m, sig)
}

func (m *unifiedManager) Destroy() error { return removeTree(m.dir) }

func (m *unifiedManager) OOMKillCount() (uint64, error) {
	if !m.Exists() {
		return 0, fmt.Errorf("oom kill count: %w", &fs.PathError{Op: "stat", Path: m.dir, Err: fs.ErrNotExist})
	}
	ev, err := optional(readKeyValues(m.dir, "memory.events"))
	if err != nil {
		return 0, fmt.Errorf("oom kill count: %w", err)
	}
	return ev["oom_kill"], nil
}

func (m *unifiedManager) Stats() (*Stats, error) {
	if _, err := os.Stat(m.dir); err != nil {
		return nil, fmt.Errorf("cgroup stats: %w", err)
	}
	var s Stats
	var errs []error
	get := func(v uint64, err error) uint64 {
		v, err = optional(v, err)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	s.Memory.Usage = get(readUint(m.dir, "memory.current"))
	s.Memory.MaxUsage = get(readUint(m.dir, "memory.peak"))
	s.Memory.Limit = get(readLimit(m.dir, "memory.max"))
	s.Memory.SwapUsage = get(readUint(m.dir, "memory.swap.current"))
	if ev, err := optional(readKeyValues(m.dir, "memory.events")); err != nil {
		errs = append(errs, err)
	} else {
		s.Memory.OOMKills = ev["oom_kill"]
	}
	if st, err := optional(readKeyValues(m.dir, "memory.stat")); err != nil {
		errs = append(errs, err)
	} else {
		s.Memory.Stat = st
	}
	if cs, err := optional(readKeyValues(m.dir, "cpu.stat")); err != nil {
		errs = append(errs, err)
	} else {
		s.CPU = CPUStats{
			Total:            cs["usage_usec"] * 1000,
			User:             cs["user_usec"] * 1000,
			System:           cs["system_usec"] * 1000,
			ThrottledPeriods: cs["nr_throttled"],
			ThrottledTime:    cs["throttled_usec"] * 1000,
		}
	}
	s.Pids.Current = get(readUint(m.dir, "pids.current"))
	s.Pids.Limit = get(readLimit(m.dir, "pids.max"))
	if io, err := optional(readFile(m.dir, "io.stat")); err != nil {
		errs = append(errs, err)
	} else {
		s.IO = parseIOStat(io)
	}
	if err := errors.Join(errs...); err != nil {
		return &s, fmt.Errorf("cgroup stats: %w", err)
	}
	return &s, nil
}

// parseIOStat parses cgroup v2 io.stat:
//
//	8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0
func parseIOStat(s string) []IOStats {
	var out []IOStats
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var st IOStats
		if _, err := fmt.Sscanf(f[0], "%d:%d", &st.Major, &st.Minor); err != nil {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				st.ReadBytes = n
			case "wbytes":
				st.WriteBytes = n
			case "rios":
				st.ReadIOs = n
			case "wios":
				st.WriteIOs = n
			}
		}
		out = append(out, st)
	}
	return out
}

// freezer is what killAll needs of a Manager.
type freezer interface {
	State() (FreezerState, error)
	setFrozen(on bool, timeout time.Duration) error
	Pids() ([]int, error)
}

// killFreezeTimeout bounds the freeze that keeps processes from forking
// while killAll signals them; past it, they are signalled unfrozen.
const killFreezeTimeout = time.Second

// killAll signals every process of the cgroup. It freezes the cgroup first,
// when it can, so that no process forks a child that escapes the signal, and
// thaws it afterwards if it froze it, or for SIGKILL so the processes can
// die. A container paused before keeps its other signals pending.
//
// A cgroup that disappears meanwhile (its last process exited and someone
// removed it) has nothing left to kill: its missing directory or files are
// not an error.
func killAll(m freezer, sig syscall.Signal) error {
	state, err := m.State()
	if isGone(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kill cgroup: %w", err)
	}
	froze := false
	if state == Thawed && m.setFrozen(true, killFreezeTimeout) == nil {
		froze = true
	}
	pids, err := m.Pids()
	if err == nil {
		err = signalPids(pids, sig)
	} else if isGone(err) {
		err = nil
	}
	if froze || (sig == syscall.SIGKILL && state != Thawed) {
		if terr := m.setFrozen(false, killFreezeTimeout); terr != nil && !isGone(terr) {
			err = errors.Join(err, terr)
		}
	}
	if err != nil {
		return fmt.Errorf("kill cgroup: %w", err)
	}
	return nil
}

// isGone reports whether err says a cgroup directory or one of its files
// no longer exists: ENOENT from a lookup, or ENODEV from kernfs for a file
// of a cgroup removed while it was open.
func isGone(err error) bool {
	return err != nil && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV))
}
