package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// legacyManager handles a cgroup in the v1 hierarchies (Legacy mode) and,
// in Hybrid mode, the directory of the same path in the controller-less
// unified hierarchy, which it creates, joins and removes but writes no limit
// to.
type legacyManager struct {
	mode    Mode
	paths   map[string]string // v1 controller → dir; "" → unified dir
	res     *specs.LinuxResources
	log     *slog.Logger
	timeout time.Duration
}

func (m *legacyManager) Mode() Mode { return m.mode }

func (m *legacyManager) Paths() map[string]string {
	out := make(map[string]string, len(m.paths))
	for k, v := range m.paths {
		out[k] = v
	}
	return out
}

func (m *legacyManager) Exists() bool {
	for _, d := range m.paths {
		if _, err := os.Stat(d); err == nil {
			return true
		}
	}
	return false
}

// dir returns the directory of a v1 controller.
func (m *legacyManager) dir(ctrl string) (string, error) {
	if d, ok := m.paths[ctrl]; ok && ctrl != "" {
		return d, nil
	}
	return "", fmt.Errorf("%w: the cgroup v1 %s controller is not mounted", ErrNoController, ctrl)
}

func (m *legacyManager) checkControllers(r *specs.LinuxResources) error {
	for _, c := range requiredControllers(r, false) {
		if _, err := m.dir(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *legacyManager) Apply(pid int) error {
	if err := m.checkControllers(m.res); err != nil {
		return fmt.Errorf("apply cgroup: %w", err)
	}
	var created []string
	fail := func(err error) error {
		return errors.Join(fmt.Errorf("apply cgroup: %w", err), undoCreate(created))
	}
	cpuset := m.paths["cpuset"]
	dirs := uniqueDirs(m.paths)
	for _, d := range dirs {
		var c []string
		var err error
		if d == cpuset {
			c, err = initCpuset(d)
		} else {
			c, err = mkdirNew(d)
		}
		created = append(created, c...)
		if err != nil {
			return fail(err)
		}
	}
	if pid > 0 {
		for _, d := range dirs {
			if err := writeFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
				return fail(fmt.Errorf("move pid %d: %w", pid, err))
			}
		}
	}
	return nil
}

// initCpuset creates dir and its missing parents in the cpuset hierarchy,
// copying the parent's cpuset.cpus and cpuset.mems into each one that has
// them empty: the kernel creates them empty, and a cpuset cgroup without
// CPUs or memory nodes accepts no process. It returns the directories it
// created.
func initCpuset(dir string) ([]string, error) {
	parent := filepath.Dir(dir)
	if parent == dir {
		return nil, fmt.Errorf("init cpuset: %s is not in a cpuset hierarchy", dir)
	}
	if _, err := os.Stat(parent); err == nil && !fileExists(parent, "cpuset.cpus") {
		// dir is the root of the hierarchy: the kernel fills it in.
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("init cpuset: %w", err)
		}
		return nil, nil
	}
	created, err := initCpuset(parent)
	if err != nil {
		return created, err
	}
	if err := os.Mkdir(dir, 0o755); err == nil {
		created = append(created, dir)
	} else if !errors.Is(err, fs.ErrExist) {
		return created, fmt.Errorf("init cpuset: %w", err)
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := readFile(dir, f)
		if err != nil {
			return created, fmt.Errorf("init cpuset: %w", err)
		}
		if cur != "" {
			continue
		}
		v, err := readFile(parent, f)
		if err != nil {
			return created, fmt.Errorf("init cpuset: %w", err)
		}
		if err := writeFile(dir, f, v); err != nil {
			return created, fmt.Errorf("init cpuset: %w", err)
		}
	}
	return created, nil
}

func (m *legacyManager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := validateResources(r, m.mode); err != nil {
		return fmt.Errorf("set cgroup resources: %w", err)
	}
	if err := m.checkControllers(r); err != nil {
		return fmt.Errorf("set cgroup resources: %w", err)
	}
	steps := []struct {
		what string
		fn   func(*specs.LinuxResources) error
	}{
		{"memory", m.setMemory},
		{"cpu", m.setCPU},
		{"cpuset", m.setCpuset},
		{"pids", m.setPids},
		{"blkio", m.setBlkio},
		{"hugetlb", m.setHugetlb},
		{"network", m.setNetwork},
		{"rdma", m.setRdma},
		{"devices", m.setDevices},
	}
	for _, s := range steps {
		if err := s.fn(r); err != nil {
			return fmt.Errorf("set cgroup %s: %w", s.what, err)
		}
	}
	return nil
}

const (
	v1MemLimit = "memory.limit_in_bytes"
	v1MemSwap  = "memory.memsw.limit_in_bytes"
)

func (m *legacyManager) setMemory(r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	if mem.Kernel != nil {
		m.log.Debug("ignoring deprecated kernel memory limit")
	}
	if !memorySet(mem) && mem.KernelTCP == nil {
		return nil
	}
	dir, err := m.dir("memory")
	if err != nil {
		return err
	}
	if mem.KernelTCP != nil {
		if err := writeFile(dir, "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(*mem.KernelTCP, 10)); err != nil {
			return fmt.Errorf("kernel TCP memory limit: %w", err)
		}
		if !memorySet(mem) {
			return nil
		}
	}
	limit, swap := val(mem.Limit), val(mem.Swap)
	haveSwap := fileExists(dir, v1MemSwap)
	// Unlimited memory without a swap setting means unlimited swap too.
	if limit == -1 && swap == 0 && haveSwap {
		swap = -1
	}
	if swap > 0 && !haveSwap {
		return fmt.Errorf("swap limit: %s is missing (swap accounting is off; boot with swapaccount=1): %w", v1MemSwap, ErrNotSupported)
	}
	if swap < 0 && !haveSwap {
		swap = 0 // nothing to lift
	}
	if val(mem.CheckBeforeUpdate) && limit > 0 {
		if err := checkUsage(dir, "memory.usage_in_bytes", limit); err != nil {
			return err
		}
	}
	// memsw must stay >= limit at every step: raise memsw first when it
	// grows past the current limit, lower the limit first otherwise.
	swapFirst := false
	if limit != 0 && swap != 0 {
		cur, err := readUint(dir, v1MemLimit)
		if err != nil {
			return err
		}
		swapFirst = swap == -1 || cur < uint64(swap)
	}
	writeLimit := func() error {
		if limit == 0 {
			return nil
		}
		err := writeFile(dir, v1MemLimit, strconv.FormatInt(limit, 10))
		if errors.Is(err, unix.EBUSY) {
			usage, _ := readUint(dir, "memory.usage_in_bytes")
			return fmt.Errorf("memory limit %d is below the current usage %d: %w", limit, usage, err)
		}
		return err
	}
	writeSwap := func() error {
		if swap == 0 {
			return nil
		}
		return writeFile(dir, v1MemSwap, strconv.FormatInt(swap, 10))
	}
	order := []func() error{writeLimit, writeSwap}
	if swapFirst {
		order = []func() error{writeSwap, writeLimit}
	}
	for _, f := range order {
		if err := f(); err != nil {
			return err
		}
	}
	if res := val(mem.Reservation); res != 0 {
		if err := writeFile(dir, "memory.soft_limit_in_bytes", strconv.FormatInt(res, 10)); err != nil {
			return err
		}
	}
	if mem.Swappiness != nil {
		if err := writeFile(dir, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return err
		}
	}
	if val(mem.DisableOOMKiller) {
		if err := writeFile(dir, "memory.oom_control", "1"); err != nil {
			return err
		}
	}
	return nil
}

func (m *legacyManager) setCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if !cpuSet(c) {
		return nil
	}
	dir, err := m.dir("cpu")
	if err != nil {
		return err
	}
	if s := val(c.Shares); s != 0 {
		if err := writeFile(dir, "cpu.shares", strconv.FormatUint(s, 10)); err != nil {
			return err
		}
	}
	period, quota := val(c.Period), val(c.Quota)
	if period != 0 {
		// A new period can be refused against the current quota, which
		// the new quota may fix: retry after writing it.
		if err := writeFile(dir, "cpu.cfs_period_us", strconv.FormatUint(period, 10)); err != nil {
			if !errors.Is(err, unix.EINVAL) || quota == 0 {
				return err
			}
			if err := writeFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
				return err
			}
			if err := writeFile(dir, "cpu.cfs_period_us", strconv.FormatUint(period, 10)); err != nil {
				return err
			}
		}
	}
	if quota != 0 {
		if err := writeFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := writeOptionalFeature(dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if p := val(c.RealtimePeriod); p != 0 {
		if err := writeOptionalFeature(dir, "cpu.rt_period_us", strconv.FormatUint(p, 10)); err != nil {
			return err
		}
	}
	if rt := val(c.RealtimeRuntime); rt != 0 {
		if err := writeOptionalFeature(dir, "cpu.rt_runtime_us", strconv.FormatInt(rt, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := writeOptionalFeature(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (m *legacyManager) setCpuset(r *specs.LinuxResources) error {
	c := r.CPU
	if !cpusetSet(c) {
		return nil
	}
	dir, err := m.dir("cpuset")
	if err != nil {
		return err
	}
	if c.Cpus != "" {
		if err := writeFile(dir, "cpuset.cpus", c.Cpus); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		if err := writeFile(dir, "cpuset.mems", c.Mems); err != nil {
			return err
		}
	}
	return nil
}

func (m *legacyManager) setPids(r *specs.LinuxResources) error {
	if r.Pids == nil {
		return nil
	}
	dir, err := m.dir("pids")
	if err != nil {
		return err
	}
	return writeFile(dir, "pids.max", pidsMax(val(r.Pids.Limit)))
}

func (m *legacyManager) setBlkio(r *specs.LinuxResources) error {
	b := r.BlockIO
	if !blkioSet(b) {
		return nil
	}
	dir, err := m.dir("blkio")
	if err != nil {
		return err
	}
	// Kernels without CFQ (5.0+) only have the BFQ files.
	weightFile, weightDevFile := "blkio.weight", "blkio.weight_device"
	if !fileExists(dir, weightFile) && fileExists(dir, "blkio.bfq.weight") {
		weightFile, weightDevFile = "blkio.bfq.weight", "blkio.bfq.weight_device"
	}
	if w := val(b.Weight); w != 0 {
		if err := writeOptionalFeature(dir, weightFile, strconv.FormatUint(uint64(w), 10)); err != nil {
			return err
		}
	}
	if w := val(b.LeafWeight); w != 0 {
		if err := writeOptionalFeature(dir, "blkio.leaf_weight", strconv.FormatUint(uint64(w), 10)); err != nil {
			return err
		}
	}
	for _, d := range b.WeightDevice {
		if w := val(d.Weight); w != 0 {
			if err := writeOptionalFeature(dir, weightDevFile, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, w)); err != nil {
				return err
			}
		}
		if w := val(d.LeafWeight); w != 0 {
			if err := writeOptionalFeature(dir, "blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, w)); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			if err := writeFile(dir, t.file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *legacyManager) setHugetlb(r *specs.LinuxResources) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	dir, err := m.dir("hugetlb")
	if err != nil {
		return err
	}
	return setHugetlb(dir, r.HugepageLimits, "limit_in_bytes", "rsvd.limit_in_bytes")
}

func (m *legacyManager) setNetwork(r *specs.LinuxResources) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		dir, err := m.dir("net_cls")
		if err != nil {
			return err
		}
		if err := writeFile(dir, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	if len(n.Priorities) > 0 {
		dir, err := m.dir("net_prio")
		if err != nil {
			return err
		}
		for _, p := range n.Priorities {
			if err := writeFile(dir, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *legacyManager) setRdma(r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	dir, err := m.dir("rdma")
	if err != nil {
		return err
	}
	return setRdma(dir, r.Rdma)
}

// setDevices replays the rules on the v1 devices files: deny everything,
// then write each rule, in order, to devices.allow or devices.deny. The
// cgroup briefly denies all devices when rules are changed on a running
// container.
func (m *legacyManager) setDevices(r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	rules, err := parseDeviceRules(r.Devices)
	if err != nil {
		return err
	}
	dir, err := m.dir("devices")
	if err != nil {
		return err
	}
	if err := writeFile(dir, "devices.deny", "a"); err != nil {
		return err
	}
	for _, rule := range rules {
		file := "devices.deny"
		if rule.allow {
			file = "devices.allow"
		}
		for _, line := range v1DeviceLines(rule) {
			if err := writeFile(dir, file, line); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *legacyManager) Freeze() error { return m.setFrozen(true, m.timeout) }
func (m *legacyManager) Thaw() error   { return m.setFrozen(false, m.timeout) }

func (m *legacyManager) setFrozen(on bool, timeout time.Duration) error {
	what, want := "thaw", "THAWED"
	if on {
		what, want = "freeze", "FROZEN"
	}
	dir, err := m.dir("freezer")
	if err != nil {
		return fmt.Errorf("%s cgroup: %w", what, err)
	}
	// Writing FROZEN again retries tasks the kernel could not freeze yet.
	ok, err := waitFor(timeout, func() (bool, error) {
		if err := writeFile(dir, "freezer.state", want); err != nil {
			return false, err
		}
		s, err := readFile(dir, "freezer.state")
		return s == want, err
	})
	if err != nil {
		return fmt.Errorf("%s cgroup: %w", what, err)
	}
	if !ok {
		err := fmt.Errorf("%s cgroup %s: freezer.state is not %s after %s", what, dir, want, timeout)
		if on {
			err = errors.Join(err, writeFile(dir, "freezer.state", "THAWED"))
		}
		return err
	}
	return nil
}

func (m *legacyManager) State() (FreezerState, error) {
	dir, err := m.dir("freezer")
	if err != nil {
		return Thawed, nil // no freezer: never frozen
	}
	s, err := readFile(dir, "freezer.state")
	if err != nil {
		return FreezerUndefined, fmt.Errorf("freezer state: %w", err)
	}
	switch s {
	case "THAWED":
		return Thawed, nil
	case "FREEZING":
		return Freezing, nil
	case "FROZEN":
		return Frozen, nil
	}
	return FreezerUndefined, fmt.Errorf("freezer state: unknown %q in %s", s, filepath.Join(dir, "freezer.state"))
}

// pidsDirPreference is the order Pids picks a hierarchy in: any of them
// lists the same processes.
var pidsDirPreference = []string{"pids", "freezer", "devices", "memory", "cpu", "cpuacct", "cpuset", "blkio", "name=systemd", ""}

func (m *legacyManager) Pids() ([]int, error) {
	for _, c := range pidsDirPreference {
		if d, ok := m.paths[c]; ok {
			return allPids(d)
		}
	}
	for _, d := range uniqueDirs(m.paths) {
		return allPids(d)
	}
	return nil, fmt.Errorf("list pids: %w", ErrNoController)
}

func (m *legacyManager) Kill(sig syscall.Signal) error { return killAll(m, sig) }

func (m *legacyManager) Destroy() error {
	var errs []error
	for _, d := range uniqueDirs(m.paths) {
		errs = append(errs, removeTree(d))
	}
	return errors.Join(errs...)
}

func (m *legacyManager) OOMKillCount() (uint64, error) {
	dir, ok := m.paths["memory"]
	if !ok {
		return 0, nil
	}
	oc, err := readKeyValues(dir, "memory.oom_control")
	if err != nil {
		return 0, fmt.Errorf("oom kill count: %w", err)
	}
	return oc["oom_kill"], nil
}

// userHZ is the unit of cpuacct.stat: USER_HZ, 100 on every Linux ABI.
const userHZ = 100

func (m *legacyManager) Stats() (*Stats, error) {
	if !m.Exists() {
		return nil, fmt.Errorf("cgroup stats: %w", &fs.PathError{Op: "stat", Path: uniqueDirs(m.paths)[0], Err: fs.ErrNotExist})
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
	kv := func(dir, name string) map[string]uint64 {
		v, err := optional(readKeyValues(dir, name))
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	if d, ok := m.paths["memory"]; ok {
		s.Memory.Usage = get(readUint(d, "memory.usage_in_bytes"))
		s.Memory.MaxUsage = get(readUint(d, "memory.max_usage_in_bytes"))
		s.Memory.Limit = get(readLimit(d, v1MemLimit))
		if sw := get(readUint(d, "memory.memsw.usage_in_bytes")); sw > s.Memory.Usage {
			s.Memory.SwapUsage = sw - s.Memory.Usage
		}
		s.Memory.OOMKills = kv(d, "memory.oom_control")["oom_kill"]
		s.Memory.Stat = kv(d, "memory.stat")
	}
	if d, ok := m.paths["cpuacct"]; ok {
		s.CPU.Total = get(readUint(d, "cpuacct.usage"))
		if fileExists(d, "cpuacct.usage_user") {
			s.CPU.User = get(readUint(d, "cpuacct.usage_user"))
			s.CPU.System = get(readUint(d, "cpuacct.usage_sys"))
		} else {
			st := kv(d, "cpuacct.stat")
			s.CPU.User = st["user"] * (1e9 / userHZ)
			s.CPU.System = st["system"] * (1e9 / userHZ)
		}
	}
	if d, ok := m.paths["cpu"]; ok {
		st := kv(d, "cpu.stat")
		s.CPU.ThrottledPeriods = st["nr_throttled"]
		s.CPU.ThrottledTime = st["throttled_time"]
	}
	if d, ok := m.paths["pids"]; ok {
		s.Pids.Current = get(readUint(d, "pids.current"))
		s.Pids.Limit = get(readLimit(d, "pids.max"))
	}
	if d, ok := m.paths["blkio"]; ok {
		bytes, err := optional(readFile(d, "blkio.throttle.io_service_bytes_recursive"))
		if err != nil {
			errs = append(errs, err)
		}
		ios, err := optional(readFile(d, "blkio.throttle.io_serviced_recursive"))
		if err != nil {
			errs = append(errs, err)
		}
		s.IO = parseBlkioStats(bytes, ios)
	}
	if err := errors.Join(errs...); err != nil {
		return &s, fmt.Errorf("cgroup stats: %w", err)
	}
	return &s, nil
}

// parseBlkioStats merges v1 blkio.throttle.io_service_bytes and
// io_serviced ("8:0 Read 4096" lines, a final "Total N") per device.
func parseBlkioStats(bytes, ios string) []IOStats {
	var out []IOStats
	index := map[[2]uint64]int{}
	add := func(s string, isBytes bool) {
		for _, line := range strings.Split(s, "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			var maj, minor uint64
			if _, err := fmt.Sscanf(f[0], "%d:%d", &maj, &minor); err != nil {
				continue
			}
			n, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				continue
			}
			k := [2]uint64{maj, minor}
			i, ok := index[k]
			if !ok {
				i = len(out)
				index[k] = i
				out = append(out, IOStats{Major: maj, Minor: minor})
			}
			st := &out[i]
			switch {
			case f[1] == "Read" && isBytes:
				st.ReadBytes = n
			case f[1] == "Write" && isBytes:
				st.WriteBytes = n
			case f[1] == "Read":
				st.ReadIOs = n
			case f[1] == "Write":
				st.WriteIOs = n
			}
		}
	}
	add(bytes, true)
	add(ios, false)
	return out
}
