package engine

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
)

// Container states, as Docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusRemoving   = "removing"
	StatusExited     = "exited"
	StatusDead       = "dead"
)

// record is what is stored of a container.
type record struct {
	ID         string                `json:"id"`
	Name       string                `json:"name"` // with Docker's leading "/"
	Created    time.Time             `json:"created"`
	Path       string                `json:"path"`
	Args       []string              `json:"args"`
	Config     *container.Config     `json:"config"`
	HostConfig *container.HostConfig `json:"host_config"`
	ImageID    string                `json:"image_id"`
	Runtime    string                `json:"runtime"`
	Driver     string                `json:"driver"`
	State      State                 `json:"state"`

	RestartCount    int  `json:"restart_count"`
	HasBeenStarted  bool `json:"has_been_started"`
	ManuallyStopped bool `json:"manually_stopped"`
	// Mounts are the resolved -v/--mount/--tmpfs mounts.
	Mounts []MountPoint `json:"mounts,omitempty"`
	// Networks are the networks the container is connected to, by name
	// (bridge modes only).
	Networks map[string]*endpointConfig `json:"networks,omitempty"`
	// RootfsMounted says the root filesystem is mounted (at start, until
	// the container stops).
	RootfsMounted bool `json:"rootfs_mounted,omitempty"`
}

// State is a container's run state.
type State struct {
	Status     string            `json:"status"`
	Pid        int               `json:"pid,omitempty"`
	ExitCode   int               `json:"exit_code"`
	Error      string            `json:"error,omitempty"`
	StartedAt  time.Time         `json:"started_at"`
	FinishedAt time.Time         `json:"finished_at"`
	OOMKilled  bool              `json:"oom_killed,omitempty"`
	Health     *container.Health `json:"health,omitempty"`
}

// MountPoint is a resolved mount of a container.
type MountPoint struct {
	Type        string   `json:"type"` // bind, volume, tmpfs
	Name        string   `json:"name,omitempty"`
	Source      string   `json:"source,omitempty"`
	Destination string   `json:"destination"`
	Mode        string   `json:"mode,omitempty"`
	RW          bool     `json:"rw"`
	Propagation string   `json:"propagation,omitempty"`
	Options     []string `json:"options,omitempty"`
	Anonymous   bool     `json:"anonymous,omitempty"`
}

// ctr is a container in memory: its record under its own lock, and the
// channels waiters block on.
type ctr struct {
	mu  sync.Mutex
	rec *record
	// exited is closed when the current run ends (then replaced).
	exited chan struct{}
	// removed is closed when the container is removed.
	removed chan struct{}
	// started is closed and replaced on each start, to connect attach
	// requests made before it.
	pending []*pendingAttach
	// busy serialises start, stop, restart and remove of this container.
	busy sync.Mutex
	// restartTimer is a scheduled restart by the restart policy.
	restartTimer *time.Timer
	healthStop   chan struct{}
	execs        map[string]*execRecord
	// final is what a wait for removal reports.
	final WaitResult
}

func newCtr(rec *record) *ctr {
	return &ctr{rec: rec, exited: make(chan struct{}), removed: make(chan struct{}), execs: map[string]*execRecord{}}
}

// snapshot returns a deep enough copy of the record for readers.
func (c *ctr) snapshot() record {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := *c.rec
	if c.rec.State.Health != nil {
		h := *c.rec.State.Health
		r.State.Health = &h
	}
	return r
}

func (r *record) running() bool {
	return r.State.Status == StatusRunning || r.State.Status == StatusPaused || r.State.Status == StatusRestarting && r.State.Pid > 0
}

// ShortID is the 12-character id Docker shows.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
