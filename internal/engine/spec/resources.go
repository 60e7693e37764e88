package spec

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// minMemory is the smallest memory limit or reservation Docker accepts.
const minMemory = 6 << 20

// validateResources is dockerd's verifyPlatformContainerResources, with
// errors where Docker would warn and discard a setting the host cannot
// honour.
func validateResources(hc *container.HostConfig, _ *container.Config, h host, mode string) error {
	r := &hc.Resources
	swappiness := r.MemorySwappiness
	if swappiness != nil && *swappiness == -1 {
		swappiness = nil // the CLI's "unset"
	}
	switch {
	case r.Memory != 0 && r.Memory < minMemory:
		return invalid("Minimum memory limit allowed is 6MB")
	case r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	case r.Memory == 0 && r.MemorySwap > 0:
		return invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	case r.MemorySwap < -1:
		return invalid("invalid memory swap limit %d", r.MemorySwap)
	case r.MemorySwap > 0 && !h.swapAccounting(mode):
		return invalid("Your kernel does not support swap limit capabilities or the cgroup is not mounted")
	case swappiness != nil && (*swappiness < 0 || *swappiness > 100):
		return invalid("Invalid value: %v, valid memory swappiness range is 0-100", *swappiness)
	case swappiness != nil && mode == "v2":
		return invalid("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted (memory swappiness is not available with cgroup v2)")
	case r.MemoryReservation > 0 && r.MemoryReservation < minMemory:
		return invalid("Minimum memory reservation allowed is 6MB")
	case r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation:
		return invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	case r.OomKillDisable != nil && *r.OomKillDisable && mode == "v2":
		return invalid("Your kernel does not support OomKillDisable (the OOM killer cannot be disabled with cgroup v2)")
	}

	switch {
	case r.NanoCPUs > 0 && r.CPUPeriod > 0:
		return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota > 0:
		return invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case r.NanoCPUs < 0 || r.NanoCPUs > int64(h.numCPU())*1e9:
		return invalid("range of CPUs is from 0.01 to %[1]d.00, as there are only %[1]d CPUs available", h.numCPU())
	case r.CPUShares < 0:
		return invalid("invalid CPU shares (%d): value must be a positive integer", r.CPUShares)
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		return invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case r.CPUQuota > 0 && r.CPUQuota < 1000:
		return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	case (r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0) && !h.cpuRealtime(mode):
		return invalid("kernel does not support CPU real-time scheduler")
	case r.CPURealtimePeriod != 0 && r.CPURealtimeRuntime != 0 && r.CPURealtimeRuntime > r.CPURealtimePeriod:
		return invalid("cpu real-time runtime cannot be higher than cpu real-time period")
	case r.CPUPercent != 0:
		return invalid("invalid option: CPU percent is not supported on linux")
	case r.CPUCount != 0:
		return invalid("invalid option: CPU count is not supported on linux")
	}
	if r.CpusetCpus != "" {
		if err := checkCpuset("cpus", "CPUs", r.CpusetCpus, h.onlineCPUs()); err != nil {
			return err
		}
	}
	if r.CpusetMems != "" {
		if err := checkCpuset("mems", "memory nodes", r.CpusetMems, h.onlineMems()); err != nil {
			return err
		}
	}

	switch {
	case r.BlkioWeight > 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000):
		return invalid("Range of blkio weight is from 10 to 1000")
	case r.IOMaximumBandwidth != 0:
		return invalid("invalid option: QoS maximum bandwidth configuration is not supported on linux")
	case r.IOMaximumIOps != 0:
		return invalid("invalid option: QoS maximum IOPs configuration is not supported on linux")
	}
	for _, d := range r.BlkioWeightDevice {
		if d != nil && (d.Weight < 10 || d.Weight > 1000) {
			return invalid("invalid weight for device: %s:%d", d.Path, d.Weight)
		}
	}
	return nil
}

func checkCpuset(kind, what, requested, available string) error {
	if available == "" {
		return invalid("cpuset %s: the host's available %s are unknown", kind, what)
	}
	ok, err := cpusetAvailable(requested, available)
	if err != nil {
		return invalid("Invalid value %s for cpuset %s: %v", requested, kind, err)
	}
	if !ok {
		return invalid("Requested %s are not available - requested %s, available: %s", what, requested, available)
	}
	return nil
}

// resources fills in linux.resources: memory, CPU, block I/O and pids, as
// dockerd's WithResources does.
func (g *generation) resources() error {
	r := &g.hc.Resources
	res := &specs.LinuxResources{}
	g.spec.Linux.Resources = res

	var mem specs.LinuxMemory
	if r.Memory > 0 {
		mem.Limit = ptr(r.Memory)
	}
	if r.MemoryReservation > 0 {
		mem.Reservation = ptr(r.MemoryReservation)
	}
	switch {
	case r.MemorySwap > 0:
		mem.Swap = ptr(r.MemorySwap)
	case r.MemorySwap == -1 && r.Memory > 0 && g.host.swapAccounting(g.mode):
		mem.Swap = ptr(int64(-1)) // unlimited swap, said explicitly
	}
	if r.MemorySwappiness != nil {
		mem.Swappiness = ptr(uint64(*r.MemorySwappiness))
	}
	if r.OomKillDisable != nil && *r.OomKillDisable {
		mem.DisableOOMKiller = ptr(true)
	}
	if mem != (specs.LinuxMemory{}) {
		res.Memory = &mem
	}

	var cpu specs.LinuxCPU
	if r.CPUShares > 0 {
		cpu.Shares = ptr(uint64(r.CPUShares))
	}
	cpu.Cpus, cpu.Mems = r.CpusetCpus, r.CpusetMems
	if r.NanoCPUs > 0 {
		const period = 100000 // 100ms, in µs
		cpu.Period = ptr(uint64(period))
		cpu.Quota = ptr(r.NanoCPUs * period / 1e9)
	}
	if r.CPUPeriod != 0 {
		cpu.Period = ptr(uint64(r.CPUPeriod))
	}
	if r.CPUQuota != 0 {
		cpu.Quota = ptr(r.CPUQuota)
	}
	if r.CPURealtimePeriod != 0 {
		cpu.RealtimePeriod = ptr(uint64(r.CPURealtimePeriod))
	}
	if r.CPURealtimeRuntime != 0 {
		cpu.RealtimeRuntime = ptr(r.CPURealtimeRuntime)
	}
	if cpu != (specs.LinuxCPU{}) {
		res.CPU = &cpu
	}

	bio := specs.LinuxBlockIO{}
	if r.BlkioWeight != 0 {
		bio.Weight = ptr(r.BlkioWeight)
	}
	for _, d := range r.BlkioWeightDevice {
		if d == nil {
			continue
		}
		maj, mn, err := g.host.blockDevice(d.Path)
		if err != nil {
			return invalid("%v", err)
		}
		wd := specs.LinuxWeightDevice{Weight: ptr(d.Weight)}
		wd.Major, wd.Minor = maj, mn
		bio.WeightDevice = append(bio.WeightDevice, wd)
	}
	for _, t := range []struct {
		in  []*blkiodev.ThrottleDevice
		out *[]specs.LinuxThrottleDevice
	}{
		{r.BlkioDeviceReadBps, &bio.ThrottleReadBpsDevice},
		{r.BlkioDeviceWriteBps, &bio.ThrottleWriteBpsDevice},
		{r.BlkioDeviceReadIOps, &bio.ThrottleReadIOPSDevice},
		{r.BlkioDeviceWriteIOps, &bio.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.in {
			if d == nil {
				continue
			}
			maj, mn, err := g.host.blockDevice(d.Path)
			if err != nil {
				return invalid("%v", err)
			}
			td := specs.LinuxThrottleDevice{Rate: d.Rate}
			td.Major, td.Minor = maj, mn
			*t.out = append(*t.out, td)
		}
	}
	if bio.Weight != nil || len(bio.WeightDevice)+len(bio.ThrottleReadBpsDevice)+len(bio.ThrottleWriteBpsDevice)+
		len(bio.ThrottleReadIOPSDevice)+len(bio.ThrottleWriteIOPSDevice) > 0 {
		res.BlockIO = &bio
	}

	if r.PidsLimit != nil {
		limit := *r.PidsLimit
		if limit <= 0 {
			limit = -1 // 0 and negative mean unlimited
		}
		res.Pids = &specs.LinuxPids{Limit: ptr(limit)}
	}
	return nil
}

// devices adds --device nodes and their cgroup rules, and
// --device-cgroup-rule; --privileged gets every host device and an
// allow-all rule. The runtime appends allow rules for its default nodes
// (null, zero, full, random, urandom, tty, console, ptmx, pts), so only
// Docker's deny rules are listed here.
func (g *generation) devices() error {
	res := g.spec.Linux.Resources
	if g.hc.Privileged {
		hostDevs, err := g.host.hostDevices()
		if err != nil {
			return err
		}
		g.spec.Linux.Devices = hostDevs
		for _, d := range g.hc.Devices {
			dst := d.PathInContainer
			if dst == "" || dst == d.PathOnHost {
				continue // already there with the host's devices
			}
			devs, _, err := g.devicesFromPath(d.PathOnHost, dst, "rwm")
			if err != nil {
				return err
			}
			g.spec.Linux.Devices = append(g.spec.Linux.Devices, devs...)
		}
		res.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return nil
	}
	res.Devices = []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: false, Type: "c", Major: ptr(int64(10)), Minor: ptr(int64(229)), Access: "rwm"}, // /dev/fuse
	}
	for _, d := range g.hc.Devices {
		perms := d.CgroupPermissions
		if perms == "" {
			perms = "rwm"
		}
		dst := d.PathInContainer
		if dst == "" {
			dst = d.PathOnHost
		}
		devs, rules, err := g.devicesFromPath(d.PathOnHost, dst, perms)
		if err != nil {
			return err
		}
		g.spec.Linux.Devices = append(g.spec.Linux.Devices, devs...)
		res.Devices = append(res.Devices, rules...)
	}
	for _, rule := range g.hc.DeviceCgroupRules {
		r, err := parseDeviceCgroupRule(rule)
		if err != nil {
			return err
		}
		res.Devices = append(res.Devices, r)
	}
	return nil
}

// devicesFromPath is dockerd's: the device node at the host path, or
// every node under it if it is a directory, renamed under dst.
func (g *generation) devicesFromPath(src, dst, perms string) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	resolved, devs, err := g.host.devicesAt(src)
	if err != nil {
		return nil, nil, invalid("error gathering device information while adding custom device %q: %v", src, err)
	}
	var rules []specs.LinuxDeviceCgroup
	for i := range devs {
		d := &devs[i]
		d.Path = dst + strings.TrimPrefix(d.Path, resolved)
		if d.Type == "p" {
			continue // fifos are not in the device cgroup
		}
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: ptr(d.Major), Minor: ptr(d.Minor), Access: perms})
	}
	return devs, rules, nil
}

var deviceCgroupRule = regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`)

// parseDeviceCgroupRule parses "c 1:3 rwm" ("*" for any major or minor).
func parseDeviceCgroupRule(rule string) (specs.LinuxDeviceCgroup, error) {
	m := deviceCgroupRule.FindStringSubmatch(rule)
	if m == nil {
		return specs.LinuxDeviceCgroup{}, invalid("invalid device cgroup rule format: '%s'", rule)
	}
	num := func(s string) (*int64, error) {
		if s == "*" {
			return ptr(int64(-1)), nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, invalid("invalid device cgroup rule format: '%s'", rule)
		}
		return &n, nil
	}
	major, err := num(m[2])
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	minor, err := num(m[3])
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Major: major, Minor: minor, Access: m[4]}, nil
}

// ipcSysctls are the sysctls of the IPC namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// sysctlNamespaces says which namespaces the container has of its own,
// to check sysctls against.
type sysctlNamespaces struct {
	ipc, uts bool
	hostNet  func() (bool, error) // whether the network namespace is the host's
}

// checkSysctl applies runc's rules (Docker hands --sysctl to runc):
// only namespaced sysctls, and only in a namespace of the container's.
func checkSysctl(name string, ns sysctlNamespaces) error {
	s := dotSysctl(name)
	switch {
	case ipcSysctls[s] || strings.HasPrefix(s, "fs.mqueue."):
		if !ns.ipc {
			return invalid("sysctl %q is not allowed in the hosts ipc namespace", s)
		}
		return nil
	case strings.HasPrefix(s, "net."):
		host, err := ns.hostNet()
		if err != nil {
			return invalid("invalid netns path: %v", err)
		}
		if host {
			return invalid("sysctl %q not allowed in host network namespace", s)
		}
		return nil
	case ns.uts && s == "kernel.domainname":
		return nil
	case ns.uts && s == "kernel.hostname":
		return invalid("sysctl %q is not allowed as it conflicts with the OCI %q field", s, "hostname")
	}
	return invalid("sysctl %q is not in a separate kernel namespace", s)
}

// dotSysctl converts a sysctl written with "/" separators to the dotted
// form ("net/ipv4/conf/eth0.1/rp_filter" is "net.ipv4.conf.eth0/1.rp_filter").
func dotSysctl(s string) string {
	i := strings.IndexAny(s, "./")
	if i < 0 || s[i] == '.' {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, s)
}

func validateSysctls(hc *container.HostConfig, _ *container.Config, _ host, _ string) error {
	ns := sysctlNamespaces{
		ipc:     !hc.IpcMode.IsHost(),
		uts:     !hc.UTSMode.IsHost(),
		hostNet: func() (bool, error) { return hc.NetworkMode.IsHost(), nil },
	}
	for k := range hc.Sysctls {
		if err := checkSysctl(k, ns); err != nil {
			return err
		}
	}
	return nil
}

// sysctls sets Docker's default sysctls for a container with a network
// namespace of its own (ping for every group, every port unprivileged),
// the domain name, and --sysctl, which wins.
func (g *generation) sysctls() error {
	sc := g.spec.Linux.Sysctl
	if !g.hc.NetworkMode.IsHost() && !g.hc.NetworkMode.IsContainer() {
		if g.host.sysctlExists("net.ipv4.ping_group_range") {
			sc["net.ipv4.ping_group_range"] = "0 2147483647"
		}
		if g.host.sysctlExists("net.ipv4.ip_unprivileged_port_start") {
			sc["net.ipv4.ip_unprivileged_port_start"] = "0"
		}
	}
	if g.cfg.Domainname != "" {
		// No OCI field for the NIS domain name in Docker's time; the
		// sysctl does what setdomainname(2) does.
		sc["kernel.domainname"] = g.cfg.Domainname
	}
	ns := sysctlNamespaces{
		ipc: g.in.IPCNS != "host",
		uts: g.in.UTSNS != "host",
		hostNet: func() (bool, error) {
			switch g.in.NetNS {
			case "host":
				return true, nil
			case "":
				return false, nil
			}
			return g.host.isHostNetNS(g.in.NetNS)
		},
	}
	for k, v := range g.hc.Sysctls {
		if err := checkSysctl(k, ns); err != nil {
			return err
		}
		sc[k] = v
	}
	if g.cfg.Domainname != "" && !ns.uts {
		return invalid("conflicting options: domainname and the UTS mode")
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
