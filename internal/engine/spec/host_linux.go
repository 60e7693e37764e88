package spec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/mountinfo"
	"github.com/shoal-dev/shoal/internal/runtime/cgroups"
	"github.com/shoal-dev/shoal/internal/runtime/seccomp"
)

// realHost asks the running kernel. bounding, when set, overrides the
// bounding set read from /proc/self/status.
type realHost struct {
	bounding []string
}

func (realHost) cgroupMode() (string, error) {
	m, err := cgroups.DetectMode()
	if err != nil {
		return "", fmt.Errorf("detect cgroup mode: %w", err)
	}
	switch m {
	case cgroups.Unified:
		return "v2", nil
	case cgroups.Hybrid:
		return "hybrid", nil
	}
	return "v1", nil
}

func (realHost) hostname() (string, error) { return os.Hostname() }
func (realHost) numCPU() int               { return goruntime.NumCPU() }
func (realHost) goarch() string            { return goruntime.GOARCH }

func (realHost) onlineCPUs() string { return readTrim("/sys/devices/system/cpu/online") }

func (realHost) onlineMems() string {
	if s := readTrim("/sys/devices/system/node/online"); s != "" {
		return s
	}
	return "0" // a kernel without NUMA support has node 0 only
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (h realHost) capBounding() ([]string, error) {
	if h.bounding != nil {
		return h.bounding, nil
	}
	return HostCapabilities(), nil
}

// HostCapabilities returns the capabilities of this process's bounding
// set (CapBnd in /proc/self/status), as "CAP_..." names: what a
// --privileged container gets. Bits this build has no name for are left
// out; if the status cannot be read, every known capability is returned.
func HostCapabilities() []string {
	known := capability.ListKnown()
	mask, err := readCapBnd("/proc/self/status")
	out := make([]string, 0, len(known))
	for _, c := range known {
		if err == nil && (c > 63 || mask&(1<<uint(c)) == 0) {
			continue
		}
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

func readCapBnd(status string) (uint64, error) {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("%s has no CapBnd line", status)
}

func (realHost) apparmorEnabled() bool {
	return strings.HasPrefix(readTrim("/sys/module/apparmor/parameters/enabled"), "Y")
}

func (realHost) kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

func (realHost) swapAccounting(mode string) bool {
	if mode != "v2" {
		_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
		return err == nil
	}
	// Every non-root cgroup with the memory controller has memory.swap.max
	// when the kernel accounts swap: look at ours, then at the root's
	// children.
	b, _ := os.ReadFile("/proc/self/cgroup")
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok && p != "/" {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", p, "memory.swap.max")); err == nil {
				return true
			}
		}
	}
	return existsAny("/sys/fs/cgroup/*/memory.swap.max")
}

func existsAny(glob string) bool {
	m, _ := filepath.Glob(glob)
	return len(m) > 0
}

func (realHost) cpuRealtime(mode string) bool {
	if mode == "v2" {
		return false // cgroup v2 has no realtime bandwidth control
	}
	_, err := os.Stat("/sys/fs/cgroup/cpu/cpu.rt_runtime_us")
	return err == nil
}

// deviceFromPath describes the device node at p (not following a final
// symlink), as containerd's DeviceFromPath does.
func deviceFromPath(p string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return specs.LinuxDevice{}, err
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		typ = "b"
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFIFO:
		typ = "p"
	default:
		return specs.LinuxDevice{}, errNotDevice
	}
	mode := fs.FileMode(st.Mode &^ unix.S_IFMT)
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{
		Path: p, Type: typ,
		Major: int64(unix.Major(uint64(st.Rdev))), Minor: int64(unix.Minor(uint64(st.Rdev))), //nolint:unconvert // 32-bit on mips
		FileMode: &mode, UID: &uid, GID: &gid,
	}, nil
}

func (realHost) devicesAt(p string) (string, []specs.LinuxDevice, error) {
	resolved := p
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			resolved = r
		}
	}
	d, err := deviceFromPath(resolved)
	if err == nil {
		return resolved, []specs.LinuxDevice{d}, nil
	}
	if !errors.Is(err, errNotDevice) {
		return resolved, nil, err
	}
	var devs []specs.LinuxDevice
	if fi, serr := os.Stat(resolved); serr == nil && fi.IsDir() {
		_ = filepath.WalkDir(resolved, func(dp string, _ fs.DirEntry, _ error) error {
			if d, err := deviceFromPath(dp); err == nil {
				devs = append(devs, d)
			}
			return nil
		})
	}
	if len(devs) == 0 {
		return resolved, nil, err
	}
	return resolved, devs, nil
}

func (realHost) hostDevices() ([]specs.LinuxDevice, error) {
	return hostDevicesUnder("/dev")
}

// hostDevicesUnder lists the device nodes below dir the way containerd's
// HostDevices does: no ptys, shm, mqueue, fd, console or fifos.
func hostDevicesUnder(dir string) ([]specs.LinuxDevice, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []specs.LinuxDevice
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				continue
			}
			sub, err := hostDevicesUnder(p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		case e.Name() == "console":
			continue
		}
		d, err := deviceFromPath(p)
		if errors.Is(err, errNotDevice) || errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.Type != "p" {
			out = append(out, d)
		}
	}
	return out, nil
}

func (realHost) blockDevice(p string) (int64, int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, 0, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	return int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev))), nil //nolint:unconvert // 32-bit on mips
}

func (realHost) propagation(p string) (string, bool, bool, error) {
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false, false, err
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", false, false, err
	}
	return mountPropagation(data, resolved)
}

// mountPropagation finds, in mountinfo data, the mount holding p (the
// longest mount point that is p or one of its parents, the last one when
// several are stacked) and reads its optional fields for shared:N and
// master:N.
func mountPropagation(data []byte, p string) (string, bool, bool, error) {
	var best string
	var optional []string
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		point := mountinfo.Unescape(f[4])
		if !(point == "/" || p == point || strings.HasPrefix(p, point+"/")) {
			continue
		}
		if found && len(point) < len(best) {
			continue
		}
		best, found, optional = point, true, nil
		for _, o := range f[6:] {
			if o == "-" {
				break
			}
			optional = append(optional, o)
		}
	}
	if !found {
		return "", false, false, fmt.Errorf("can't find mount point of %s", p)
	}
	var shared, slave bool
	for _, o := range optional {
		shared = shared || strings.HasPrefix(o, "shared:")
		slave = slave || strings.HasPrefix(o, "master:")
	}
	return best, shared, slave, nil
}

func (realHost) maskedExtra() []string {
	cpus, err := parseIntList(readTrim("/sys/devices/system/cpu/possible"), 1<<16)
	if err != nil {
		return nil
	}
	ids := make([]int, 0, len(cpus))
	for c := range cpus {
		ids = append(ids, c)
	}
	sort.Ints(ids)
	var out []string
	for _, c := range ids {
		p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/thermal_throttle", c)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func (realHost) sysctlExists(name string) bool {
	_, err := os.Stat(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	return err == nil
}

func (realHost) isHostNetNS(p string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &a); err != nil {
		return false, &fs.PathError{Op: "stat", Path: "/proc/self/ns/net", Err: err}
	}
	if err := unix.Stat(p, &b); err != nil {
		return false, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

func (realHost) exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (realHost) checkSeccomp(p *specs.LinuxSeccomp) error {
	_, err := seccomp.Compile(p)
	return err
}
