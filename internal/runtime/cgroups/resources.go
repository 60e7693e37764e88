package cgroups

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cpuSharesToWeight converts cgroup v1 cpu.shares [2, 262144] to cgroup v2
// cpu.weight [1, 10000] the way runc does, mapping the default 1024 to 39.
// Shares outside the v1 range are clamped as the v1 kernel would. 0 stays 0
// ("unset").
func cpuSharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// blkioWeightToIOWeight converts a blkio weight [10, 1000] to io.weight
// [1, 10000] (runc's linear mapping). 0 stays 0.
func blkioWeightToIOWeight(w uint64) uint64 {
	if w == 0 {
		return 0
	}
	w = min(max(w, 10), 1000)
	return 1 + (w-10)*9999/990
}

// swapToV2 converts OCI memory.swap (memory+swap, -1 unlimited, 0 unset) to
// cgroup v2 memory.swap.max (swap alone): -1 for "max", 0 for "leave
// alone" or, when swap == memory, "no swap" (see swapV2String).
func swapToV2(swap, memory int64) (int64, error) {
	// As on v1, an unlimited memory without an explicit swap limit means
	// unlimited swap too.
	if memory == -1 && swap == 0 {
		return -1, nil
	}
	if swap == -1 || swap == 0 {
		return swap, nil
	}
	if swap < -1 {
		return 0, fmt.Errorf("%w: memory swap %d", ErrInvalidResource, swap)
	}
	if memory == 0 || memory == -1 {
		return 0, fmt.Errorf("%w: a swap limit needs a memory limit", ErrInvalidResource)
	}
	if memory < 0 {
		return 0, fmt.Errorf("%w: memory limit %d", ErrInvalidResource, memory)
	}
	if swap < memory {
		return 0, fmt.Errorf("%w: memory+swap limit %d is below the memory limit %d", ErrInvalidResource, swap, memory)
	}
	return swap - memory, nil
}

// swapV2String is the memory.swap.max value for OCI swap and memory, "" to
// leave the file alone.
func swapV2String(swap, memory int64) (string, error) {
	v, err := swapToV2(swap, memory)
	if err != nil {
		return "", err
	}
	switch {
	case v == -1:
		return "max", nil
	case v == 0 && swap > 0:
		return "0", nil // swap == memory: no swap at all
	case v == 0:
		return "", nil
	}
	return strconv.FormatInt(v, 10), nil
}

// limitString renders a byte limit: -1 (or any negative) is "max".
func limitString(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// pidsMax renders an OCI pids limit: 0 or negative means no limit.
func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

// cpuMax renders cgroup v2 cpu.max from OCI quota and period (µs); "" when
// neither is set. A quota that is not positive means "max". Without a period
// the kernel keeps the current one.
func cpuMax(quota *int64, period *uint64) string {
	q, p := val(quota), val(period)
	if q == 0 && p == 0 {
		return ""
	}
	s := "max"
	if q > 0 {
		s = strconv.FormatInt(q, 10)
	}
	if p != 0 {
		s += " " + strconv.FormatUint(p, 10)
	}
	return s
}

// ioMaxLine renders one io.max line; a rate of 0 removes the limit, as 0
// does in the v1 blkio.throttle files.
func ioMaxLine(d specs.LinuxThrottleDevice, key string) string {
	rate := "max"
	if d.Rate != 0 {
		rate = strconv.FormatUint(d.Rate, 10)
	}
	return fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, key, rate)
}

// rdmaLine renders one rdma.max line, "" when nothing is limited.
func rdmaLine(dev string, r specs.LinuxRdma) string {
	s := dev
	if r.HcaHandles != nil {
		s += " hca_handle=" + strconv.FormatUint(uint64(*r.HcaHandles), 10)
	}
	if r.HcaObjects != nil {
		s += " hca_object=" + strconv.FormatUint(uint64(*r.HcaObjects), 10)
	}
	if s == dev {
		return ""
	}
	return s
}

var pageSizeRE = regexp.MustCompile(`^[0-9]+[KMGT]B$`)

// v2Controllers are the cgroup v2 controllers whose files a Unified key can
// name; other prefixes ("cgroup.", pressure files) need no controller.
var v2Controllers = []string{"cpu", "cpuset", "io", "memory", "hugetlb", "pids", "rdma", "misc"}

func isV2Controller(name string) bool {
	for _, c := range v2Controllers {
		if c == name {
			return true
		}
	}
	return false
}

// statsControllers are enabled in cgroup v2 when available, even without a
// limit, so that Stats has something to read.
var statsControllers = []string{"cpu", "memory", "pids", "io"}

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func memorySet(m *specs.LinuxMemory) bool {
	return m != nil && (val(m.Limit) != 0 || val(m.Reservation) != 0 || val(m.Swap) != 0 ||
		m.Swappiness != nil || val(m.DisableOOMKiller))
}

func cpuSet(c *specs.LinuxCPU) bool {
	return c != nil && (val(c.Shares) != 0 || val(c.Quota) != 0 || val(c.Period) != 0 ||
		val(c.RealtimeRuntime) != 0 || val(c.RealtimePeriod) != 0 || c.Idle != nil || c.Burst != nil)
}

func cpusetSet(c *specs.LinuxCPU) bool {
	return c != nil && (c.Cpus != "" || c.Mems != "")
}

func blkioSet(b *specs.LinuxBlockIO) bool {
	return b != nil && (val(b.Weight) != 0 || val(b.LeafWeight) != 0 || len(b.WeightDevice) > 0 ||
		len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 ||
		len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0)
}

// requiredControllers lists the controllers r writes to, with v1 names
// (blkio, devices, net_cls, net_prio) or v2 names (io; devices need none).
func requiredControllers(r *specs.LinuxResources, v2 bool) []string {
	if r == nil {
		return nil
	}
	set := map[string]bool{}
	if memorySet(r.Memory) {
		set["memory"] = true
	}
	if cpuSet(r.CPU) {
		set["cpu"] = true
	}
	if cpusetSet(r.CPU) {
		set["cpuset"] = true
	}
	if r.Pids != nil {
		set["pids"] = true
	}
	if blkioSet(r.BlockIO) {
		if v2 {
			set["io"] = true
		} else {
			set["blkio"] = true
		}
	}
	if len(r.HugepageLimits) > 0 {
		set["hugetlb"] = true
	}
	if len(r.Rdma) > 0 {
		set["rdma"] = true
	}
	if v2 {
		for k := range r.Unified {
			if c, _, ok := strings.Cut(k, "."); ok && isV2Controller(c) {
				set[c] = true
			}
		}
	} else {
		if len(r.Devices) > 0 {
			set["devices"] = true
		}
		if r.Network != nil && r.Network.ClassID != nil {
			set["net_cls"] = true
		}
		if r.Network != nil && len(r.Network.Priorities) > 0 {
			set["net_prio"] = true
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// validateResources rejects what mode cannot express and values that make
// no sense, before anything is written.
func validateResources(r *specs.LinuxResources, mode Mode) error {
	if r == nil {
		return nil
	}
	v2 := mode == Unified
	unsupported := func(what string) error {
		return fmt.Errorf("%s: %w in %s cgroup mode", what, ErrNotSupported, mode)
	}
	if m := r.Memory; m != nil {
		if s := m.Swappiness; s != nil {
			if v2 {
				return unsupported("memory swappiness")
			}
			if *s > 100 {
				return fmt.Errorf("%w: memory swappiness %d is above 100", ErrInvalidResource, *s)
			}
		}
		if v2 && val(m.DisableOOMKiller) {
			return unsupported("disabling the OOM killer")
		}
		if v2 {
			if _, err := swapToV2(val(m.Swap), val(m.Limit)); err != nil {
				return err
			}
		} else if sw, l := val(m.Swap), val(m.Limit); sw > 0 && l > 0 && sw < l {
			return fmt.Errorf("%w: memory+swap limit %d is below the memory limit %d", ErrInvalidResource, sw, l)
		}
	}
	if c := r.CPU; c != nil && v2 && (val(c.RealtimeRuntime) != 0 || val(c.RealtimePeriod) != 0) {
		return unsupported("realtime cpu runtime/period")
	}
	if b := r.BlockIO; b != nil && v2 {
		if val(b.LeafWeight) != 0 {
			return unsupported("blkio leaf weight")
		}
		for _, d := range b.WeightDevice {
			if val(d.LeafWeight) != 0 {
				return unsupported("blkio leaf weight")
			}
		}
	}
	if n := r.Network; n != nil && v2 && (n.ClassID != nil || len(n.Priorities) > 0) {
		return unsupported("network class id and priorities (v1 net_cls/net_prio)")
	}
	for _, h := range r.HugepageLimits {
		if !pageSizeRE.MatchString(h.Pagesize) {
			return fmt.Errorf("%w: hugepage size %q (want e.g. 2MB)", ErrInvalidResource, h.Pagesize)
		}
	}
	if r.Network != nil {
		for _, p := range r.Network.Priorities {
			if p.Name == "" || strings.ContainsAny(p.Name, " \n/") {
				return fmt.Errorf("%w: network interface name %q", ErrInvalidResource, p.Name)
			}
		}
	}
	for dev := range r.Rdma {
		if dev == "" || strings.ContainsAny(dev, " \n") {
			return fmt.Errorf("%w: rdma device %q", ErrInvalidResource, dev)
		}
	}
	if len(r.Unified) > 0 && !v2 {
		return unsupported("unified resources")
	}
	for k := range r.Unified {
		if k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\x00") || !strings.Contains(k, ".") {
			return fmt.Errorf("%w: unified key %q is not a cgroup file name", ErrInvalidResource, k)
		}
		if k == "cgroup.procs" || k == "cgroup.threads" || k == "cgroup.subtree_control" {
			return fmt.Errorf("%w: unified key %q is managed by the runtime", ErrInvalidResource, k)
		}
	}
	if _, err := parseDeviceRules(r.Devices); err != nil {
		return err
	}
	return nil
}
