package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/engine/spec"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/logfile"
	"github.com/shoal-dev/shoal/internal/monitor"
	"github.com/shoal-dev/shoal/internal/mount"
	shoalnet "github.com/shoal-dev/shoal/internal/network"
)

// Start starts a created or stopped container.
func (e *Engine) Start(ctx context.Context, ref string) error {
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	c.mu.Lock()
	st := c.rec.State.Status
	c.mu.Unlock()
	switch st {
	case StatusRunning:
		return ErrNotModified
	case StatusPaused:
		return fmt.Errorf("cannot start a paused container, try unpause instead: %w", errdefs.ErrConflict)
	case StatusRemoving, StatusDead:
		return fmt.Errorf("container is marked for removal and cannot be started: %w", errdefs.ErrConflict)
	}
	c.mu.Lock()
	c.rec.ManuallyStopped = false
	c.mu.Unlock()
	return e.start(ctx, c)
}

// start runs the container; the caller holds c.busy.
func (e *Engine) start(ctx context.Context, c *ctr) (err error) {
	ctx = context.WithoutCancel(ctx)
	c.mu.Lock()
	rec := *c.rec
	c.mu.Unlock()
	id := rec.ID
	t0 := time.Now()
	var marks []any
	mark := func(name string) { marks = append(marks, name, time.Since(t0)) }
	defer func() {
		if err == nil {
			e.log.Debug("start phases", append([]any{"id", ShortID(id)}, marks...)...)
		}
		if err != nil {
			c.mu.Lock()
			c.rec.State.Error = err.Error()
			c.rec.State.Status = StatusExited
			if !c.rec.HasBeenStarted {
				c.rec.State.Status = StatusCreated
			}
			c.rec.State.ExitCode = exitCodeFor(err)
			_ = e.save(ctx, c)
			pending := c.pending
			c.pending = nil
			autoRemove := c.rec.HostConfig.AutoRemove
			c.mu.Unlock()
			for _, pa := range pending {
				pa.done <- attachResult{err: err}
			}
			if autoRemove {
				go func() { _ = e.Remove(ctx, id, RemoveOptions{Force: true, RemoveVolumes: true}) }()
			}
		}
	}()
	rootfs, err := e.mountRootfs(ctx, c)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			e.unmountRootfs(ctx, c)
		}
	}()
	mark("rootfs")
	rt, rspec, err := e.runtime(rec.Runtime)
	if err != nil {
		return err
	}
	sb, err := e.setupNetwork(ctx, &rec)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && sb != nil {
			e.teardownNetwork(ctx, id)
		}
	}()
	mark("network")
	s, err := e.buildSpec(ctx, &rec, rootfs, sb)
	if err != nil {
		return err
	}
	bundle := e.bundleDir(id)
	mark("spec")
	if err := writeBundle(bundle, s); err != nil {
		return err
	}
	mark("bundle")
	// A run that ended leaves its runtime state; the monitor deletes it
	// when it reports the exit, but a daemon restart may come between.
	_ = e.cfg.Monitor.Delete(ctx, id)
	// After a reboot (or a lost monitor) the runtime's state of the last
	// run is still on disk, and nobody holds it: delete it.
	if _, err := os.Stat(filepath.Join(rspec.Root, id)); err == nil {
		if err := rt.Delete(ctx, id, true); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove the runtime state of the last run: %w", err)
		}
	}
	mark("stale")
	logOpts, _ := logfile.ParseOptions(rec.HostConfig.LogConfig.Config)
	logPath := e.logPath(id)
	if rec.HostConfig.LogConfig.Type == "none" {
		logPath = os.DevNull
	}
	pid, err := e.cfg.Monitor.Create(ctx, id, monitor.CreateRequest{
		Bundle: bundle, Runtime: rspec, Terminal: rec.Config.Tty,
		OpenStdin: rec.Config.OpenStdin, StdinOnce: rec.Config.StdinOnce,
		LogPath: logPath, LogOptions: logOpts,
	})
	if err != nil {
		return fmt.Errorf("failed to create task for container: %w", err)
	}
	mark("create")
	defer func() {
		if err != nil {
			_ = e.cfg.Monitor.Delete(ctx, id)
		}
	}()
	if rec.HostConfig.NetworkMode.IsNone() || rec.HostConfig.NetworkMode == "" {
		if err := loopbackUp(pid); err != nil {
			return err
		}
	}
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.rec.State = State{Status: StatusRunning, Pid: pid, StartedAt: now(), Health: healthStarting(rec.Config)}
	c.rec.HasBeenStarted = true
	c.mu.Unlock()
	mark("lo")
	for _, pa := range pending {
		s, err := e.cfg.Monitor.Attach(ctx, id, pa.req)
		pa.done <- attachResult{stream: s, err: err}
	}
	mark("attach")
	if err := rt.Start(ctx, id); err != nil {
		return fmt.Errorf("failed to start container: %w", err)
	}
	mark("runtime-start")
	c.mu.Lock()
	err = e.save(ctx, c)
	c.mu.Unlock()
	mark("save")
	if err != nil {
		return err
	}
	e.emit(&rec, "start", nil)
	e.startHealth(c)
	return nil
}

// exitCodeFor is the exit code Docker records for a start that failed:
// 127 for a missing program, 126 for one that cannot be run.
func exitCodeFor(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"):
		return 126
	}
	return 128
}

func writeBundle(dir string, s *specs.Spec) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create bundle: %w", err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// rootfsDir is where the container's root filesystem is mounted.
func (e *Engine) rootfsDir(id string) string {
	return filepath.Join(e.containerDir(id), "rootfs")
}

func (e *Engine) mountRootfs(ctx context.Context, c *ctr) (string, error) {
	c.mu.Lock()
	id, mounted := c.rec.ID, c.rec.RootfsMounted
	c.mu.Unlock()
	dir := e.rootfsDir(id)
	if mounted {
		if ok, _ := isMountpoint(dir); ok {
			return dir, nil
		}
	}
	ms, err := e.cfg.Images.Mounts(ctx, id)
	if err != nil {
		return "", fmt.Errorf("root filesystem of %s: %w", ShortID(id), err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := mount.All(ms, dir); err != nil {
		return "", fmt.Errorf("mount root filesystem: %w", err)
	}
	c.mu.Lock()
	c.rec.RootfsMounted = true
	c.mu.Unlock()
	return dir, nil
}

func (e *Engine) unmountRootfs(ctx context.Context, c *ctr) {
	c.mu.Lock()
	id := c.rec.ID
	c.rec.RootfsMounted = false
	c.mu.Unlock()
	dir := e.rootfsDir(id)
	if err := mount.UnmountAll(dir); err != nil {
		e.log.Warn("unmount root filesystem", "id", id, "err", err)
	}
}

func isMountpoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	if st.Dev != parent.Dev {
		return true, nil
	}
	ms, err := mount.Mountpoints(dir)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m == dir {
			return true, nil
		}
	}
	return false, nil
}

// buildSpec writes the hosts files and builds the OCI spec; sb is the
// container's network stack, when it has one of its own.
func (e *Engine) buildSpec(ctx context.Context, rec *record, rootfs string, sb *shoalnet.Sandbox) (*specs.Spec, error) {
	dir := e.containerDir(rec.ID)
	hostname := rec.Config.Hostname
	if hostname == "" {
		hostname = ShortID(rec.ID)
	}
	in := spec.Input{
		ID: rec.ID, Config: rec.Config, HostConfig: rec.HostConfig, Rootfs: rootfs,
		CgroupsPath: filepath.Join(e.cgroupParent(rec.HostConfig), rec.ID),
		InitPath:    e.cfg.InitPath,
	}
	mode := rec.HostConfig.NetworkMode
	switch {
	case sb != nil:
		in.NetNS = sb.NetNS
	case mode.IsHost():
		in.NetNS = "host"
		h, _ := os.Hostname()
		if rec.Config.Hostname == "" {
			hostname = h
		}
	case mode.IsContainer():
		other, err := e.lookup(mode.ConnectedContainer())
		if err != nil {
			return nil, err
		}
		o := other.snapshot()
		if o.State.Status != StatusRunning || o.State.Pid == 0 {
			return nil, fmt.Errorf("cannot join network of a non running container: %s: %w", ShortID(o.ID), errdefs.ErrConflict)
		}
		in.NetNS = fmt.Sprintf("/proc/%d/ns/net", o.State.Pid)
		if osb, ok := e.networkStack(o.ID); ok {
			in.NetNS = osb.NetNS
		}
	}
	if err := e.namespacePaths(rec.HostConfig, &in); err != nil {
		return nil, err
	}
	files, err := writeHostsFiles(dir, hostname, rec, e.cfg.DNS, sb)
	if err != nil {
		return nil, err
	}
	in.HostnamePath, in.HostsPath, in.ResolvConfPath = files.hostname, files.hosts, files.resolv
	if err := makeWorkdir(rootfs, rec.Config.WorkingDir); err != nil {
		return nil, err
	}
	if err := e.copyUpVolumes(ctx, rec, rootfs); err != nil {
		return nil, err
	}
	for _, mp := range rec.Mounts {
		in.Mounts = append(in.Mounts, spec.Mount{Type: mp.Type, Source: mp.Source, Destination: mp.Destination, RW: mp.RW, Propagation: mp.Propagation, Options: mp.Options})
	}
	return spec.Generate(in)
}

// namespacePaths resolves --pid/--ipc/--uts host and container:<name>.
func (e *Engine) namespacePaths(hc *container.HostConfig, in *spec.Input) error {
	resolve := func(mode, kind string) (string, error) {
		switch {
		case mode == "host":
			return "host", nil
		case strings.HasPrefix(mode, "container:"):
			other, err := e.lookup(strings.TrimPrefix(mode, "container:"))
			if err != nil {
				return "", err
			}
			o := other.snapshot()
			if o.State.Status != StatusRunning || o.State.Pid == 0 {
				return "", fmt.Errorf("cannot join %s namespace of a non running container: %w", kind, errdefs.ErrConflict)
			}
			return fmt.Sprintf("/proc/%d/ns/%s", o.State.Pid, kind), nil
		}
		return "", nil
	}
	var err error
	if in.PidNS, err = resolve(string(hc.PidMode), "pid"); err != nil {
		return err
	}
	if in.IPCNS, err = resolve(string(hc.IpcMode), "ipc"); err != nil {
		return err
	}
	if in.UTSNS, err = resolve(string(hc.UTSMode), "uts"); err != nil {
		return err
	}
	return nil
}

func (e *Engine) cgroupParent(hc *container.HostConfig) string {
	if hc.CgroupParent != "" {
		p := hc.CgroupParent
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		return p
	}
	return e.cfg.CgroupParent
}

// copyUpVolumes fills a new, empty volume with what the image has at its
// mount point, as Docker does (unless nocopy).
func (e *Engine) copyUpVolumes(ctx context.Context, rec *record, rootfs string) error {
	for _, mp := range rec.Mounts {
		if mp.Type != "volume" || e.cfg.Volumes == nil {
			continue
		}
		nocopy := false
		for _, o := range mp.Options {
			nocopy = nocopy || o == "nocopy"
		}
		if nocopy {
			continue
		}
		src, err := secureJoin(rootfs, mp.Destination)
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(src); err != nil || !fi.IsDir() {
			continue
		}
		if err := e.cfg.Volumes.CopyUp(ctx, mp.Name, src); err != nil {
			return fmt.Errorf("copy image content to volume %s: %w", mp.Name, err)
		}
	}
	return nil
}

// loopbackUp brings lo up in the network namespace of pid, as Docker's
// none network has it.
func loopbackUp(pid int) error {
	errc := make(chan error, 1)
	go func() {
		errc <- inNetNS(fmt.Sprintf("/proc/%d/ns/net", pid), setLoopbackUp)
	}()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("bring up loopback: %w", err)
		}
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("bring up loopback: timed out")
	}
}

// makeWorkdir creates the working directory inside the root filesystem
// if the image lacks it, as dockerd does.
func makeWorkdir(rootfs, dir string) error {
	if dir == "" || dir == "/" {
		return nil
	}
	p, err := secureJoin(rootfs, dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("create working directory %s: %w", dir, err)
	}
	return nil
}
