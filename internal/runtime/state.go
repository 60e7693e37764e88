package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/runtime/cgroups"
)

// Status values, as the OCI runtime spec names them.
const (
	StatusCreating = specs.StateCreating
	StatusCreated  = specs.StateCreated
	StatusRunning  = specs.StateRunning
	StatusStopped  = specs.StateStopped
	StatusPaused   = "paused"
)

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

// Container is what the runtime keeps about a container between verbs.
// It is stored as state.json in the container's state directory.
type Container struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Pid         int               `json:"pid"`
	StartTime   uint64            `json:"start_time"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	CgroupMode  int               `json:"cgroup_mode"`
	CgroupPaths map[string]string `json:"cgroup_paths"`
	Spec        *specs.Spec       `json:"spec"`
	// OwnPidNS says the container has a pid namespace of its own, so
	// killing its init kills every process in it.
	OwnPidNS bool `json:"own_pid_ns"`
	// OwnMntNS says the container has a mount namespace of its own; if
	// not, its mounts were made in the runtime's and delete removes them.
	OwnMntNS bool `json:"own_mnt_ns"`

	dir string
}

// Dir is the container's state directory.
func (c *Container) Dir() string { return c.dir }

func (c *Container) save() error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp := filepath.Join(c.dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, stateFile)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// alive reports whether the container's init is still the process that
// was started (not a zombie, not a newer process with a reused pid).
func (c *Container) alive() bool {
	if c.Pid <= 0 {
		return false
	}
	st, err := procStartTime(c.Pid)
	if err != nil || st != c.StartTime {
		return false
	}
	return procState(c.Pid) != "Z"
}

// Status computes the container's status from the live system.
func (c *Container) Status() specs.ContainerState {
	if c.Pid == 0 {
		return StatusCreating
	}
	if !c.alive() {
		return StatusStopped
	}
	if _, err := os.Lstat(filepath.Join(c.dir, fifoName)); err == nil {
		return StatusCreated
	}
	if m, err := c.cgroup(); err == nil && m != nil {
		if fs, err := m.State(); err == nil && fs == cgroups.Frozen {
			return StatusPaused
		}
	}
	return StatusRunning
}

// State is the OCI state of the container.
func (c *Container) State() specs.State {
	st := specs.State{
		Version:     specs.Version,
		ID:          c.ID,
		Status:      c.Status(),
		Bundle:      c.Bundle,
		Annotations: map[string]string{},
	}
	if c.Spec != nil && c.Spec.Annotations != nil {
		st.Annotations = c.Spec.Annotations
	}
	if st.Status != StatusStopped {
		st.Pid = c.Pid
	}
	return st
}

// Runtime manages the containers under one state root.
type Runtime struct {
	root string
	// goInit makes every init run the Go code (init_linux.go) instead of
	// executing a plan in C (plan_linux.go): for tests, and set by
	// SHOAL_RUNTIME_INIT=go to compare or rule out the C path.
	goInit bool
}

// New returns a runtime keeping state under root, creating it if needed.
func New(root string) (*Runtime, error) {
	if root == "" {
		root = "/run/shoal/runtime"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("runtime root %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o711); err != nil {
		return nil, fmt.Errorf("runtime root %s: %w", abs, err)
	}
	return &Runtime{root: abs, goInit: os.Getenv("SHOAL_RUNTIME_INIT") == "go"}, nil
}

// Root is the runtime's state root.
func (r *Runtime) Root() string { return r.root }

// Load reads a container's state.
func (r *Runtime) Load(id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(r.root, id)
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	var c Container
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("decode state of %s: %w", id, err)
	}
	c.dir = dir
	return &c, nil
}

// List returns every container under the root.
func (r *Runtime) List() ([]*Container, error) {
	ents, err := os.ReadDir(r.root)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", r.root, err)
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := r.Load(e.Name())
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// lock takes an exclusive lock on the container's directory for the
// duration of a verb, so two verbs never race on one container.
func lockDir(dir string) (func(), error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return func() { unix.Close(fd) }, nil
}
