package spec

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// host is everything Generate and ValidateHostConfig learn from the
// machine. realHost (host_linux.go) asks the kernel; tests use a fake.
type host interface {
	// cgroupMode is "v1", "v2" or "hybrid".
	cgroupMode() (string, error)
	hostname() (string, error)
	// numCPU is runtime.NumCPU: the CPUs this process may run on.
	numCPU() int
	// onlineCPUs and onlineMems are cpuset lists ("0-3"); "" if unknown.
	onlineCPUs() string
	onlineMems() string
	// capBounding is the host's bounding set, "CAP_..." names.
	capBounding() ([]string, error)
	apparmorEnabled() bool
	kernelAtLeast(major, minor int) bool
	// goarch is runtime.GOARCH.
	goarch() string
	swapAccounting(mode string) bool
	cpuRealtime(mode string) bool
	// devicesAt returns the device node at path (a symlink is followed),
	// or every device node under it if it is a directory, with their host
	// paths, and the resolved path. A path that is neither fails with
	// errNotDevice.
	devicesAt(path string) (resolved string, devs []specs.LinuxDevice, err error)
	// hostDevices is every device node under /dev, as --privileged sees
	// them.
	hostDevices() ([]specs.LinuxDevice, error)
	// blockDevice returns the major and minor numbers of the device node
	// at path.
	blockDevice(path string) (major, minor int64, err error)
	// propagation finds the host mount holding path and whether it is
	// shared or a slave.
	propagation(path string) (mountpoint string, shared, slave bool, err error)
	// maskedExtra lists the host-dependent paths Docker masks besides its
	// fixed list (per-CPU thermal_throttle directories).
	maskedExtra() []string
	sysctlExists(name string) bool
	isHostNetNS(path string) (bool, error)
	exists(path string) bool
	// checkSeccomp compiles a profile, to reject one the runtime could
	// not load.
	checkSeccomp(*specs.LinuxSeccomp) error
}

// errNotDevice is what devicesAt returns for a path that is neither a
// device node nor a directory holding some.
var errNotDevice = errors.New("not a device node")
