// Package driver puts Shoal's own OCI runtime and any runc-compatible
// runtime binary (runc, crun) behind one small interface, so the monitor
// and the engine drive them the same way.
package driver

import (
	"context"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// IO is a process's stdio. With ConsoleSocket set the process gets a
// terminal whose master is sent to that unix socket; the files are then
// not used.
type IO struct {
	Stdin, Stdout, Stderr *os.File
	ConsoleSocket         string
}

// Runtime is an OCI runtime with runc's lifecycle. Create and Exec start
// processes whose parent (or, once the runtime's helpers exit, whose
// subreaper) is the caller; the rest may be called from any process that
// shares the runtime's state root.
type Runtime interface {
	// Name is the name the daemon knows the runtime by.
	Name() string
	// Create makes the container from the bundle and returns its init's
	// pid; init waits for Start.
	Create(ctx context.Context, id, bundle string, io IO) (pid int, err error)
	Start(ctx context.Context, id string) error
	// Exec starts p in the running container and returns its pid without
	// waiting for it.
	Exec(ctx context.Context, id string, p *specs.Process, io IO) (pid int, err error)
	Kill(ctx context.Context, id string, sig unix.Signal, all bool) error
	// Delete removes the container; force kills it first.
	Delete(ctx context.Context, id string, force bool) error
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	Update(ctx context.Context, id string, r *specs.LinuxResources) error
	Pids(ctx context.Context, id string) ([]int, error)
	State(ctx context.Context, id string) (specs.State, error)
}

// Spec names a runtime: Path "" is Shoal's own runtime; otherwise Path is
// a runc-compatible binary run with Args before its verbs. Root is the
// runtime's state directory.
type Spec struct {
	Name string   `json:"name"`
	Path string   `json:"path,omitempty"`
	Args []string `json:"args,omitempty"`
	Root string   `json:"root"`
}

// New returns the runtime spec names.
func New(s Spec) (Runtime, error) {
	if s.Path == "" {
		return newBuiltin(s.Name, s.Root)
	}
	return &binary{spec: s}, nil
}
