package spec

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// ValidateHostConfig runs the checks dockerd runs when a container is
// created, so that `docker create` fails early: resources against the
// host's CPUs and memory nodes, namespace modes, capabilities, security
// options (the seccomp profile included), sysctls, devices, ulimits, the
// stop signal, the working directory and the environment. cfg is the
// container's configuration merged with the image's, before the engine
// fills in defaults such as the hostname. Errors are of class
// errdefs.ErrInvalidArgument and read as Docker's.
func ValidateHostConfig(hc *container.HostConfig, cfg *container.Config) error {
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if cfg == nil {
		cfg = &container.Config{}
	}
	h := realHost{}
	mode, err := h.cgroupMode()
	if err != nil {
		return err
	}
	return validate(hc, cfg, h, mode, true)
}

// validate checks hc and cfg. atCreate adds the checks that only make
// sense on the configuration as the client sent it (a hostname conflicts
// with --uts host only if the user set it).
func validate(hc *container.HostConfig, cfg *container.Config, h host, mode string, atCreate bool) error {
	if err := validateConfig(cfg); err != nil {
		return err
	}
	if atCreate {
		if err := validateNetMode(cfg, hc); err != nil {
			return err
		}
	}
	for _, check := range []func(*container.HostConfig, *container.Config, host, string) error{
		validateModes,
		validateResources,
		validateSecurity,
		validateSysctls,
		validateDevices,
		validateUlimits,
		validateTmpfs,
	} {
		if err := check(hc, cfg, h, mode); err != nil {
			return err
		}
	}
	return nil
}

// maxHostnameLen is HOST_NAME_MAX.
const maxHostnameLen = 64

func validateConfig(cfg *container.Config) error {
	if wd := cfg.WorkingDir; wd != "" && !path.IsAbs(wd) {
		return invalid("the working directory '%s' is invalid, it needs to be an absolute path", wd)
	}
	if cfg.StopSignal != "" {
		if _, err := parseSignal(cfg.StopSignal); err != nil {
			return err
		}
	}
	for _, e := range cfg.Env {
		if k, _, _ := strings.Cut(e, "="); k == "" {
			return invalid("invalid environment variable: %s", e)
		}
	}
	if err := validateHealthcheck(cfg.Healthcheck); err != nil {
		return err
	}
	ep := cfg.Entrypoint
	if len(ep) == 1 && ep[0] == "" {
		ep = nil
	}
	if len(ep) == 0 && len(cfg.Cmd) == 0 {
		return invalid("no command specified")
	}
	if len(cfg.Hostname) > maxHostnameLen {
		return invalid("hostname %q is too long (maximum %d bytes)", cfg.Hostname, maxHostnameLen)
	}
	return nil
}

func validateHealthcheck(hc *container.HealthConfig) error {
	if hc == nil {
		return nil
	}
	least := container.MinimumDuration
	switch {
	case hc.Interval != 0 && hc.Interval < least:
		return invalid("Interval in Healthcheck cannot be less than %s", least)
	case hc.Timeout != 0 && hc.Timeout < least:
		return invalid("Timeout in Healthcheck cannot be less than %s", least)
	case hc.Retries < 0:
		return invalid("Retries in Healthcheck cannot be negative")
	case hc.StartPeriod != 0 && hc.StartPeriod < least:
		return invalid("StartPeriod in Healthcheck cannot be less than %s", least)
	case hc.StartInterval != 0 && hc.StartInterval < least:
		return invalid("StartInterval in Healthcheck cannot be less than %s", least)
	}
	return nil
}

// validateNetMode is dockerd's runconfig check of the network and UTS
// modes against the settings they conflict with.
func validateNetMode(cfg *container.Config, hc *container.HostConfig) error {
	if string(hc.NetworkMode) == "container" || hc.NetworkMode.IsContainer() {
		switch {
		case hc.NetworkMode.ConnectedContainer() == "":
			return invalid("invalid network mode: invalid container format container:<name|id>")
		case cfg.Hostname != "":
			return invalid("conflicting options: hostname and the network mode")
		case len(hc.Links) > 0:
			return invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior")
		case len(hc.DNS) > 0:
			return invalid("conflicting options: dns and the network mode")
		case len(hc.ExtraHosts) > 0:
			return invalid("conflicting options: custom host-to-IP mapping and the network mode")
		case len(hc.PortBindings) > 0 || hc.PublishAllPorts:
			return invalid("conflicting options: port publishing and the container type network mode")
		case len(cfg.ExposedPorts) > 0:
			return invalid("conflicting options: port exposing and the container type network mode")
		}
	}
	if hc.UTSMode.IsHost() && cfg.Hostname != "" {
		return invalid("conflicting options: hostname and the UTS mode")
	}
	if hc.NetworkMode.IsHost() && len(hc.Links) > 0 {
		return invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
	}
	return nil
}

func validateModes(hc *container.HostConfig, cfg *container.Config, _ host, _ string) error {
	switch {
	case !hc.IpcMode.Valid():
		return invalid("invalid IPC mode: %v", hc.IpcMode)
	case !hc.PidMode.Valid():
		return invalid("invalid PID mode: %v", hc.PidMode)
	case !hc.UTSMode.Valid():
		return invalid("invalid UTS mode: %v", hc.UTSMode)
	case !hc.CgroupnsMode.Valid():
		return invalid("invalid cgroup namespace mode: %v", hc.CgroupnsMode)
	case hc.UsernsMode != "" && !hc.UsernsMode.IsHost():
		return invalid("invalid user namespace mode %q: only \"host\" is supported (user namespace remapping is not)", hc.UsernsMode)
	case hc.Cgroup != "":
		return invalid("invalid cgroup %q: sharing the cgroup of another container is not supported", hc.Cgroup)
	case !hc.Isolation.IsValid():
		return invalid("invalid isolation '%s' on linux", hc.Isolation)
	case hc.ShmSize < 0:
		return invalid("SHM size can not be less than 0")
	case hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000:
		return invalid("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	case cfg.Domainname != "" && hc.UTSMode.IsHost():
		return invalid("conflicting options: domainname and the UTS mode")
	}
	for k := range hc.Annotations {
		if k == "" {
			return invalid("invalid Annotations: the empty string is not permitted as an annotation key")
		}
	}
	return nil
}

func validateTmpfs(hc *container.HostConfig, _ *container.Config, _ host, _ string) error {
	for dest, opts := range hc.Tmpfs {
		if err := validateTmpfsDest(dest); err != nil {
			return err
		}
		var o []string
		if opts != "" {
			o = strings.Split(opts, ",")
		}
		if _, err := mergeTmpfsOptions(o); err != nil {
			return err
		}
	}
	return nil
}

func validateTmpfsDest(dest string) error {
	if !path.IsAbs(dest) {
		return invalid("invalid mount path: '%s' mount path must be absolute", dest)
	}
	if path.Clean(dest) == "/" {
		return invalid("invalid specification: destination can't be '/'")
	}
	return nil
}

// validateDevices checks --device mappings, --device-cgroup-rule and
// --gpus; the host device nodes themselves are looked up by Generate.
func validateDevices(hc *container.HostConfig, _ *container.Config, _ host, _ string) error {
	for _, d := range hc.Devices {
		if d.PathOnHost == "" {
			return invalid("invalid device: empty host path")
		}
		if d.PathInContainer != "" && !path.IsAbs(d.PathInContainer) {
			return invalid("%s is not an absolute path", d.PathInContainer)
		}
		if d.CgroupPermissions != "" && !validDeviceMode(d.CgroupPermissions) {
			return invalid("invalid device mode: %s", d.CgroupPermissions)
		}
	}
	for _, r := range hc.DeviceCgroupRules {
		if _, err := parseDeviceCgroupRule(r); err != nil {
			return err
		}
	}
	for _, req := range hc.DeviceRequests {
		// Shoal has no device drivers (nvidia, cdi): Docker's answer
		// when none matches.
		return invalid("could not select device driver %q with capabilities: %v", req.Driver, req.Capabilities)
	}
	return nil
}

// validDeviceMode reports whether mode is made of r, w and m, each at
// most once.
func validDeviceMode(mode string) bool {
	if mode == "" || len(mode) > 3 {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range mode {
		if !strings.ContainsRune("rwm", c) || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

// ulimitNames are the ulimits Docker accepts (go-units; "as" is
// deliberately absent there too).
var ulimitNames = map[string]bool{
	"core": true, "cpu": true, "data": true, "fsize": true, "locks": true, "memlock": true,
	"msgqueue": true, "nice": true, "nofile": true, "nproc": true, "rss": true, "rtprio": true,
	"rttime": true, "sigpending": true, "stack": true,
}

func validateUlimits(hc *container.HostConfig, _ *container.Config, _ host, _ string) error {
	for _, u := range hc.Ulimits {
		if u == nil {
			continue
		}
		if !ulimitNames[u.Name] {
			return invalid("invalid ulimit type: %s", u.Name)
		}
		if u.Hard != -1 {
			if u.Soft == -1 {
				return invalid("ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: %d", u.Hard)
			}
			if u.Soft > u.Hard {
				return invalid("ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard)
			}
		}
		if u.Soft < -1 || u.Hard < -1 {
			return invalid("invalid ulimit %s: negative limit", u.Name)
		}
	}
	return nil
}

// signals are the names Docker's ParseSignal knows (without "SIG").
var signals = func() map[string]int {
	m := map[string]int{
		"ABRT": 6, "ALRM": 14, "BUS": 7, "CHLD": 17, "CLD": 17, "CONT": 18, "FPE": 8,
		"HUP": 1, "ILL": 4, "INT": 2, "IO": 29, "IOT": 6, "KILL": 9, "PIPE": 13, "POLL": 29,
		"PROF": 27, "PWR": 30, "QUIT": 3, "SEGV": 11, "STKFLT": 16, "STOP": 19, "SYS": 31,
		"TERM": 15, "TRAP": 5, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "USR1": 10,
		"USR2": 12, "VTALRM": 26, "WINCH": 28, "XCPU": 24, "XFSZ": 25,
	}
	const rtmin, rtmax = 34, 64
	m["RTMIN"], m["RTMAX"] = rtmin, rtmax
	for i := 1; i <= 15; i++ {
		m["RTMIN+"+strconv.Itoa(i)] = rtmin + i
	}
	for i := 1; i <= 14; i++ {
		m["RTMAX-"+strconv.Itoa(i)] = rtmax - i
	}
	return m
}()

// parseSignal parses a stop signal as Docker does: a non-zero number, or
// a name with or without "SIG", in any case.
func parseSignal(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n == 0 {
			return 0, invalid("invalid signal: %s", s)
		}
		return n, nil
	}
	n, ok := signals[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	if !ok {
		return 0, invalid("invalid signal: %s", s)
	}
	return n, nil
}

// parseIntList parses a cpuset list ("0-2,4"), refusing values above max
// (CVE-2018-20699: a huge range would exhaust memory).
func parseIntList(val string, limit int) (map[int]bool, error) {
	out := map[int]bool{}
	if val == "" {
		return out, nil
	}
	bad := fmt.Errorf("invalid format: %s", val)
	for _, r := range strings.Split(val, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, bad
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, bad
			}
		}
		if b > limit {
			return nil, fmt.Errorf("value of out range, maximum is %d", limit)
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}

// cpusetAvailable reports whether every element of requested is in
// available (both cpuset lists).
func cpusetAvailable(requested, available string) (bool, error) {
	avail, err := parseIntList(available, 1<<20)
	if err != nil {
		return false, err
	}
	limit := 8192
	for k := range avail {
		limit = max(limit, k)
	}
	req, err := parseIntList(requested, limit)
	if err != nil {
		return false, err
	}
	for k := range req {
		if !avail[k] {
			return false, nil
		}
	}
	return true, nil
}
