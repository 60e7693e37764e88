package cgroups

import (
	"errors"
	"fmt"
	"log/slog"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultRoot is where the cgroup hierarchies are mounted on a normal host.
const DefaultRoot = "/sys/fs/cgroup"

// Mode is the cgroup layout of a host.
type Mode int

// The zero Mode means "not known yet": in a Config it asks New to detect
// the layout of Config.Root.
const (
	// Legacy is cgroup v1 only: one hierarchy per controller (or group of
	// co-mounted controllers) under a tmpfs at the root.
	Legacy Mode = iota + 1
	// Hybrid is cgroup v1 plus a controller-less cgroup2 hierarchy mounted
	// at <root>/unified (systemd's "hybrid" layout).
	Hybrid
	// Unified is cgroup v2: a single cgroup2 hierarchy at the root.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	default:
		return fmt.Sprintf("Mode(%d)", int(m))
	}
}

func (m Mode) valid() bool { return m >= Legacy && m <= Unified }

// Config says which cgroup a Manager handles and what limits it applies.
type Config struct {
	// Path is the OCI linux.cgroupsPath. An absolute path is relative to the
	// root of each hierarchy; a relative path is joined under the cgroup of
	// the calling process (cgroup v2: under its parent, see the package
	// documentation). It must not be empty, name the root itself, contain
	// ".." or use the systemd "slice:prefix:name" form.
	Path string
	// Resources are the limits Apply prepares controllers for. Apply does
	// not write them: call Set.
	Resources *specs.LinuxResources
	// Root is where the hierarchies are mounted; DefaultRoot if empty.
	Root string
	// Mode is the layout under Root; detected when zero.
	Mode Mode
	// Logger receives debug notes (ignored deprecated settings, optional
	// controllers that could not be enabled). Nil discards them.
	Logger *slog.Logger
}

// FreezerState is the freezer state of a cgroup.
type FreezerState int

// Freezer states. FreezerUndefined is returned with an error only.
const (
	FreezerUndefined FreezerState = iota
	Thawed
	Freezing
	Frozen
)

func (s FreezerState) String() string {
	switch s {
	case Thawed:
		return "thawed"
	case Freezing:
		return "freezing"
	case Frozen:
		return "frozen"
	default:
		return "undefined"
	}
}

// Manager handles the cgroup of one container. Every method acts on the
// directories listed by Paths; none of them keeps state between calls other
// than those paths, so a Manager rebuilt with NewFromPaths in another process
// behaves the same.
type Manager interface {
	// Apply creates the cgroup directories (in every mounted v1 hierarchy,
	// or in the unified hierarchy with the controllers Config.Resources
	// needs enabled in each ancestor) and moves pid into them. A pid below
	// 1 only creates the directories. Apply is idempotent. On error it
	// removes the directories it created.
	Apply(pid int) error
	// Set writes the limits in r. Fields that are nil or zero are left
	// alone; a nil r does nothing.
	Set(r *specs.LinuxResources) error
	// Freeze stops every process of the cgroup and waits until the kernel
	// reports the cgroup frozen.
	Freeze() error
	// Thaw resumes the processes and waits until the cgroup is thawed.
	Thaw() error
	// State reports the freezer state.
	State() (FreezerState, error)
	// Pids lists the processes of the cgroup and of its descendants.
	Pids() ([]int, error)
	// Stats reads usage counters. Counters whose controller or file is
	// missing are left zero.
	Stats() (*Stats, error)
	// OOMKillCount is the number of processes the OOM killer killed in the
	// cgroup; 0 when the memory controller is not there.
	OOMKillCount() (uint64, error)
	// Kill sends sig to every process of the cgroup. Processes that exit
	// meanwhile are not an error, nor is a cgroup that no longer exists or
	// disappears while Kill runs: nothing is left to kill.
	Kill(sig syscall.Signal) error
	// Destroy removes the cgroup directories and their descendants, waiting
	// briefly for exiting processes to leave. Directories already gone are
	// not an error. Destroy does not kill anything.
	Destroy() error
	// Paths maps each controller to its directory; the key "" is the
	// directory in the unified hierarchy (Unified and Hybrid modes). The
	// map is a copy.
	Paths() map[string]string
	// Mode is the layout the Manager works with.
	Mode() Mode
	// Exists reports whether any of the cgroup directories exists.
	Exists() bool
}

// Stats are usage counters of a cgroup. Limits of 0 mean "no limit".
type Stats struct {
	Memory MemoryStats
	CPU    CPUStats
	Pids   PidsStats
	IO     []IOStats
}

// MemoryStats are in bytes.
type MemoryStats struct {
	Usage     uint64
	MaxUsage  uint64 // peak usage; 0 when the kernel does not track it
	Limit     uint64
	SwapUsage uint64
	OOMKills  uint64
	// Stat holds the raw counters of memory.stat.
	Stat map[string]uint64
}

// CPUStats are in nanoseconds, except ThrottledPeriods.
type CPUStats struct {
	Total            uint64
	User             uint64
	System           uint64
	ThrottledPeriods uint64
	ThrottledTime    uint64
}

// PidsStats counts tasks.
type PidsStats struct {
	Current uint64
	Limit   uint64
}

// IOStats are per block device.
type IOStats struct {
	Major, Minor          uint64
	ReadBytes, WriteBytes uint64
	ReadIOs, WriteIOs     uint64
}

// Errors classes callers can test with errors.Is.
var (
	// ErrInvalidPath is returned for a cgroups path New refuses.
	ErrInvalidPath = errors.New("invalid cgroups path")
	// ErrSystemdDriver is returned for a "slice:prefix:name" path: only the
	// cgroupfs driver is implemented.
	ErrSystemdDriver = errors.New("the systemd cgroup driver is not supported")
	// ErrNoController is returned when a resource needs a controller that
	// is not mounted (v1) or not available (v2).
	ErrNoController = errors.New("cgroup controller not available")
	// ErrNotSupported is returned for a setting the layout or the kernel
	// cannot apply, such as a swap limit without swap accounting.
	ErrNotSupported = errors.New("not supported")
	// ErrInvalidResource is returned for a resource value that makes no
	// sense, such as a swap limit below the memory limit.
	ErrInvalidResource = errors.New("invalid cgroup resource")
)

// New returns the Manager for cfg. It reads the layout and the mount table
// but changes nothing; Apply creates the cgroup. New is deterministic for an
// absolute cfg.Path: called again with the same Config it yields the same
// directories. A relative path depends on the cgroup of the caller, so a
// later process should use NewFromPaths with the saved Paths.
func New(cfg Config) (Manager, error) {
	return newManager(cfg, hostSystem)
}

// NewFromPaths rebuilds a Manager from the Mode and Paths of one made
// earlier, typically by another invocation of the runtime. The paths must be
// absolute. The Manager has no Config.Resources: Apply only creates and joins.
func NewFromPaths(mode Mode, paths map[string]string) (Manager, error) {
	return newFromPaths(mode, paths)
}
