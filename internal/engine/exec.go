package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/engine/spec"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/monitor"
)

// execRecord is an exec instance (docker exec), kept in memory as Docker
// does.
type execRecord struct {
	id          string
	containerID string
	opts        container.ExecCreateRequest

	mu       sync.Mutex
	running  bool
	started  bool
	pid      int
	exitCode *int
	done     chan struct{}
}

// ExecCreate registers an exec in a running container.
func (e *Engine) ExecCreate(ctx context.Context, ref string, o container.ExecCreateRequest) (string, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return "", err
	}
	rec := c.snapshot()
	if rec.State.Status == StatusPaused {
		return "", fmt.Errorf("Container %s is paused, unpause the container before exec: %w", ref, errdefs.ErrConflict)
	}
	if rec.State.Status != StatusRunning {
		return "", fmt.Errorf("container %s is not running: %w", rec.ID, errdefs.ErrConflict)
	}
	if len(o.Cmd) == 0 {
		return "", fmt.Errorf("No exec command specified: %w", errdefs.ErrInvalidArgument)
	}
	x := &execRecord{id: newID(), containerID: rec.ID, opts: o, done: make(chan struct{})}
	e.mu.Lock()
	e.execs[x.id] = x
	e.mu.Unlock()
	c.mu.Lock()
	c.execs[x.id] = x
	c.mu.Unlock()
	e.emit(&rec, "exec_create: "+strings.Join(o.Cmd, " "), map[string]string{"execID": x.id})
	return x.id, nil
}

func (e *Engine) getExec(id string) (*execRecord, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if x, ok := e.execs[id]; ok {
		return x, nil
	}
	return nil, fmt.Errorf("No such exec instance: %s: %w", id, errdefs.ErrNotFound)
}

// ExecStart starts an exec. Unless detached, the returned stream carries
// its output, then a StreamExit frame: pass that to ExecFinished.
func (e *Engine) ExecStart(ctx context.Context, execID string, detach bool) (_ *monitor.Stream, _ bool, err error) {
	x, err := e.getExec(execID)
	if err != nil {
		return nil, false, err
	}
	x.mu.Lock()
	if x.started {
		x.mu.Unlock()
		return nil, false, fmt.Errorf("exec %s has already been started: %w", execID, errdefs.ErrConflict)
	}
	x.started = true
	x.mu.Unlock()
	// An exec that cannot start ends with 126, as with dockerd.
	defer func() {
		if err != nil {
			x.finish(126)
		}
	}()
	c, err := e.lookup(x.containerID)
	if err != nil {
		return nil, false, err
	}
	rec := c.snapshot()
	if rec.State.Status != StatusRunning {
		return nil, false, fmt.Errorf("container %s is not running: %w", rec.ID, errdefs.ErrConflict)
	}
	p, err := e.execProcess(&rec, x.opts)
	if err != nil {
		return nil, false, err
	}
	_, rspec, err := e.runtime(rec.Runtime)
	if err != nil {
		return nil, false, err
	}
	o := x.opts
	s, pid, err := e.cfg.Monitor.Exec(ctx, rec.ID, execID, monitor.ExecRequest{
		Runtime: rspec, Process: p, Detach: detach,
		Stdin: o.AttachStdin, Stdout: o.AttachStdout, Stderr: o.AttachStderr && !o.Tty,
	})
	if err != nil {
		// Docker's wording, which users and tools look for.
		return nil, false, fmt.Errorf("OCI runtime exec failed: %w", err)
	}
	x.mu.Lock()
	x.running, x.pid = true, pid
	x.mu.Unlock()
	e.emit(&rec, "exec_start: "+strings.Join(o.Cmd, " "), map[string]string{"execID": execID})
	return s, o.Tty, nil
}

// ExecFinished records an exec's exit code from its stream's trailer.
func (e *Engine) ExecFinished(execID string, code int) {
	x, err := e.getExec(execID)
	if err != nil {
		return
	}
	x.finish(code)
	if c, err := e.lookup(x.containerID); err == nil {
		rec := c.snapshot()
		e.emit(&rec, "exec_die", map[string]string{"execID": execID, "exitCode": fmt.Sprint(code)})
	}
}

func (x *execRecord) finish(code int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.exitCode != nil {
		return
	}
	x.running = false
	x.exitCode = &code
	close(x.done)
}

func (e *Engine) execExited(ev monitor.Event) {
	x, err := e.getExec(ev.ExecID)
	if err != nil {
		return
	}
	x.finish(ev.Exit.Code)
}

// ExecInspect describes an exec.
func (e *Engine) ExecInspect(ctx context.Context, execID string) (container.ExecInspectResponse, error) {
	x, err := e.getExec(execID)
	if err != nil {
		return container.ExecInspectResponse{}, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	out := container.ExecInspectResponse{
		ID: x.id, ContainerID: x.containerID, Running: x.running, Pid: x.pid,
		OpenStdin: x.opts.AttachStdin, OpenStdout: x.opts.AttachStdout, OpenStderr: x.opts.AttachStderr,
		ProcessConfig: &container.ExecProcessConfig{
			Tty: x.opts.Tty, Privileged: &x.opts.Privileged, User: x.opts.User,
		},
	}
	if len(x.opts.Cmd) > 0 {
		out.ProcessConfig.Entrypoint = x.opts.Cmd[0]
		out.ProcessConfig.Arguments = x.opts.Cmd[1:]
	}
	if x.exitCode != nil {
		code := *x.exitCode
		out.ExitCode = &code
	}
	return out, nil
}

// ExecResize sets an exec's terminal size.
func (e *Engine) ExecResize(ctx context.Context, execID string, width, height uint16) error {
	x, err := e.getExec(execID)
	if err != nil {
		return err
	}
	return e.cfg.Monitor.Resize(ctx, x.containerID, execID, width, height)
}

// execProcess is the container's process with the exec's changes.
func (e *Engine) execProcess(rec *record, o container.ExecCreateRequest) (*specs.Process, error) {
	data, err := os.ReadFile(filepath.Join(e.bundleDir(rec.ID), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read container spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil || s.Process == nil {
		return nil, fmt.Errorf("read container spec: %v", err)
	}
	p := *s.Process
	p.Args = o.Cmd
	p.Terminal = o.Tty
	p.ConsoleSize = nil
	env := append([]string{}, p.Env...)
	for _, kv := range o.Env {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range env {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				env[i], replaced = kv, true
			}
		}
		if !replaced {
			env = append(env, kv)
		}
	}
	p.Env = env
	if o.WorkingDir != "" {
		p.Cwd = o.WorkingDir
	}
	if o.User != "" {
		u, err := spec.ResolveUser(s.Root.Path, o.User, rec.HostConfig.GroupAdd)
		if err != nil {
			return nil, err
		}
		p.User = u
	}
	if o.Privileged {
		all := spec.HostCapabilities()
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	return &p, nil
}
