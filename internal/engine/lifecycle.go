package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/monitor"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/runtime/cgroups"
)

// reconcile brings the records in line with the monitor after a daemon
// start, follows the monitor's exit events and restarts what the restart
// policies say must run.
func (e *Engine) reconcile(ctx context.Context) error {
	evs, err := e.cfg.Monitor.Events(ctx)
	if err != nil {
		return fmt.Errorf("follow monitor: %w", err)
	}
	states, err := e.cfg.Monitor.List(ctx)
	if err != nil {
		return fmt.Errorf("list monitor: %w", err)
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.followMonitor(ctx, evs)
	}()
	known := map[string]monitor.State{}
	for _, st := range states {
		known[st.ID] = st
	}
	for _, c := range e.list() {
		rec := c.snapshot()
		switch rec.State.Status {
		case StatusRemoving:
			e.log.Info("finishing removal", "id", rec.ID)
			go func() { _ = e.Remove(ctx, rec.ID, RemoveOptions{Force: true, RemoveVolumes: true}) }()
			continue
		case StatusRunning, StatusPaused, StatusRestarting:
		default:
			e.maybeRestartAtBoot(ctx, c)
			continue
		}
		st, ok := known[rec.ID]
		switch {
		case ok && st.Exit == nil && st.Pid == rec.State.Pid:
			e.log.Info("container still running", "id", rec.ID, "pid", st.Pid)
			e.startHealth(c)
		case ok && st.Exit != nil:
			go e.handleExit(ctx, monitor.Event{ID: rec.ID, Pid: st.Pid, Exit: *st.Exit})
		default:
			// The monitor lost it (the host rebooted, or the monitor
			// died): it is not running any more.
			e.log.Warn("container lost while the daemon was down", "id", rec.ID)
			go e.handleExit(ctx, monitor.Event{ID: rec.ID, Pid: rec.State.Pid, Exit: monitor.ExitStatus{Code: 255, ExitedAt: now()}})
		}
	}
	return nil
}

// maybeRestartAtBoot starts a stopped container whose policy is always,
// or unless-stopped and not stopped by hand, as dockerd does at start.
func (e *Engine) maybeRestartAtBoot(ctx context.Context, c *ctr) {
	rec := c.snapshot()
	p := rec.HostConfig.RestartPolicy.Name
	if !rec.HasBeenStarted || rec.ManuallyStopped || (p != container.RestartPolicyAlways && p != container.RestartPolicyUnlessStopped) {
		return
	}
	go func() {
		c.busy.Lock()
		defer c.busy.Unlock()
		if err := e.start(ctx, c); err != nil {
			e.log.Error("restart at daemon start", "id", rec.ID, "err", err)
		}
	}()
}

func (e *Engine) followMonitor(ctx context.Context, evs <-chan monitor.Event) {
	for {
		for ev := range evs {
			if ev.ExecID != "" {
				e.execExited(ev)
				continue
			}
			go e.handleExit(ctx, ev)
		}
		if ctx.Err() != nil {
			return
		}
		// The monitor went away: reconnect, and catch up with a list.
		e.log.Warn("lost the monitor; reconnecting")
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			var err error
			evs, err = e.cfg.Monitor.Events(ctx)
			if err != nil {
				continue
			}
			states, err := e.cfg.Monitor.List(ctx)
			if err == nil {
				for _, st := range states {
					if st.Exit != nil {
						go e.handleExit(ctx, monitor.Event{ID: st.ID, Pid: st.Pid, Exit: *st.Exit})
					}
				}
			}
			break
		}
	}
}

// handleExit records the end of a container's run, cleans up after it,
// and applies --rm and the restart policy.
func (e *Engine) handleExit(ctx context.Context, ev monitor.Event) {
	c, err := e.lookup(ev.ID)
	if err != nil {
		return
	}
	c.mu.Lock()
	if c.rec.State.Pid != ev.Pid || !(c.rec.State.Status == StatusRunning || c.rec.State.Status == StatusPaused || c.rec.State.Status == StatusRestarting || c.rec.State.Status == StatusRemoving) {
		c.mu.Unlock()
		return
	}
	rec := *c.rec
	c.mu.Unlock()
	t0 := time.Now()
	oom := false
	if cg, err := cgroups.New(cgroups.Config{Path: filepath.Join(e.cgroupParent(rec.HostConfig), rec.ID)}); err == nil {
		if n, err := cg.OOMKillCount(); err == nil && n > 0 {
			oom = true
		}
	}
	if err := e.cfg.Monitor.Delete(ctx, rec.ID); err != nil && !errdefs.IsNotFound(err) {
		e.log.Warn("delete runtime state", "id", rec.ID, "err", err)
	}
	tDel := time.Since(t0)
	e.stopHealth(c)
	e.unmountRootfs(ctx, c)
	e.teardownNetwork(ctx, rec.ID)
	tUnmount := time.Since(t0)

	c.mu.Lock()
	if c.rec.State.Pid != ev.Pid {
		c.mu.Unlock()
		return
	}
	ran := ev.Exit.ExitedAt.Sub(c.rec.State.StartedAt)
	c.rec.State.Status = StatusExited
	c.rec.State.Pid = 0
	c.rec.State.ExitCode = ev.Exit.Code
	c.rec.State.FinishedAt = ev.Exit.ExitedAt
	c.rec.State.OOMKilled = oom
	if c.rec.State.Health != nil {
		c.rec.State.Health.Status = container.Unhealthy
	}
	restart, delay := e.shouldRestart(c.rec, ran)
	if restart {
		c.rec.State.Status = StatusRestarting
	}
	// A --rm container's record is deleted right after: one sync less on
	// the path of every docker run --rm. (A crash in between leaves the
	// record running; the next start finds it gone and removes it.)
	if !c.rec.HostConfig.AutoRemove || restart {
		_ = e.save(ctx, c)
	}
	close(c.exited)
	c.exited = make(chan struct{})
	rec = *c.rec
	c.mu.Unlock()
	e.log.Debug("exit phases", "id", ShortID(rec.ID), "delete", tDel, "unmount", tUnmount, "saved", time.Since(t0))
	if oom {
		e.emit(&rec, "oom", nil)
	}
	e.emit(&rec, "die", map[string]string{"exitCode": strconv.Itoa(ev.Exit.Code)})
	switch {
	case restart:
		e.scheduleRestart(ctx, c, delay)
	case rec.HostConfig.AutoRemove:
		if err := e.Remove(ctx, rec.ID, RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) {
			e.log.Warn("auto-remove", "id", rec.ID, "err", err)
		}
	}
}

// shouldRestart applies the restart policy; the caller holds c.mu.
// Docker's back-off: 100 ms doubling up to a minute, reset after a run of
// ten seconds.
func (e *Engine) shouldRestart(rec *record, ran time.Duration) (bool, time.Duration) {
	p := rec.HostConfig.RestartPolicy
	if rec.ManuallyStopped || rec.State.Status == StatusRemoving {
		return false, 0
	}
	switch p.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
	case container.RestartPolicyOnFailure:
		if rec.State.ExitCode == 0 || (p.MaximumRetryCount > 0 && rec.RestartCount >= p.MaximumRetryCount) {
			return false, 0
		}
	default:
		return false, 0
	}
	if ran >= 10*time.Second {
		return true, 100 * time.Millisecond
	}
	d := 100 * time.Millisecond << min(rec.RestartCount, 10)
	return true, min(d, time.Minute)
}

func (e *Engine) scheduleRestart(ctx context.Context, c *ctr, delay time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restartTimer = time.AfterFunc(delay, func() {
		c.busy.Lock()
		defer c.busy.Unlock()
		c.mu.Lock()
		ok := c.rec.State.Status == StatusRestarting && !c.rec.ManuallyStopped
		if ok {
			c.rec.RestartCount++
		}
		c.restartTimer = nil
		c.mu.Unlock()
		if !ok {
			return
		}
		if err := e.start(ctx, c); err != nil {
			e.log.Warn("restart", "id", c.snapshot().ID, "err", err)
		}
	})
}

// cancelRestart stops a scheduled restart; the caller holds c.busy.
func (c *ctr) cancelRestart() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.restartTimer != nil {
		c.restartTimer.Stop()
		c.restartTimer = nil
	}
	if c.rec.State.Status == StatusRestarting && c.rec.State.Pid == 0 {
		c.rec.State.Status = StatusExited
		return true
	}
	return false
}

// Stop sends the stop signal, waits up to timeout, then kills.
func (e *Engine) Stop(ctx context.Context, ref, signal string, timeout *int) error {
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	return e.stop(ctx, c, signal, timeout)
}

func (e *Engine) stop(ctx context.Context, c *ctr, signal string, timeout *int) error {
	c.mu.Lock()
	c.rec.ManuallyStopped = true
	_ = e.save(ctx, c)
	rec := *c.rec
	exited := c.exited
	c.mu.Unlock()
	if c.cancelRestart() {
		return nil
	}
	if rec.State.Status != StatusRunning && rec.State.Status != StatusPaused {
		return ErrNotModified
	}
	if signal == "" {
		signal = rec.Config.StopSignal
	}
	sig := unix.SIGTERM
	if signal != "" {
		s, err := ParseSignal(signal)
		if err != nil {
			return err
		}
		sig = s
	}
	wait := 10
	if timeout != nil {
		wait = *timeout
	} else if rec.Config.StopTimeout != nil {
		wait = *rec.Config.StopTimeout
	}
	rt, _, err := e.runtime(rec.Runtime)
	if err != nil {
		return err
	}
	if err := rt.Kill(ctx, rec.ID, sig, false); err != nil && !errdefs.IsNotFound(err) && !errors.Is(err, errdefs.ErrConflict) {
		return fmt.Errorf("cannot stop container: %s: %w", ShortID(rec.ID), err)
	}
	if rec.State.Status == StatusPaused {
		_ = rt.Resume(ctx, rec.ID)
	}
	if wait >= 0 {
		select {
		case <-exited:
			e.emit(&rec, "stop", nil)
			return nil
		case <-time.After(time.Duration(wait) * time.Second):
		}
	} else {
		<-exited
		e.emit(&rec, "stop", nil)
		return nil
	}
	if err := rt.Kill(ctx, rec.ID, unix.SIGKILL, true); err != nil && !errdefs.IsNotFound(err) {
		e.log.Warn("kill after stop timeout", "id", rec.ID, "err", err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("cannot stop container: %s: it did not exit after SIGKILL", ShortID(rec.ID))
	}
	e.emit(&rec, "stop", nil)
	return nil
}

// Kill sends a signal to the container's init.
func (e *Engine) Kill(ctx context.Context, ref, signal string) error {
	c, err := e.lookup(ref)
	if err != nil {
		return fmt.Errorf("cannot kill container: %s: %w", ref, err)
	}
	sig := unix.SIGKILL
	if signal != "" {
		if sig, err = ParseSignal(signal); err != nil {
			return fmt.Errorf("cannot kill container: %s: invalid signal: %s: %w", ref, signal, errdefs.ErrInvalidArgument)
		}
	}
	c.mu.Lock()
	rec := *c.rec
	if rec.State.Status == StatusRunning || rec.State.Status == StatusPaused {
		if sig == unix.SIGKILL || sig == unix.SIGTERM || sig == unix.SIGINT {
			c.rec.ManuallyStopped = true
		}
	}
	c.mu.Unlock()
	if rec.State.Status != StatusRunning && rec.State.Status != StatusPaused {
		return fmt.Errorf("cannot kill container: %s: container %s is not running: %w", strings.TrimPrefix(ref, "/"), rec.ID, errdefs.ErrConflict)
	}
	rt, _, err := e.runtime(rec.Runtime)
	if err != nil {
		return err
	}
	// With a pid namespace of its own, the init's death takes every
	// process with it; sharing the host's, each must be signalled.
	all := rec.HostConfig.PidMode.IsHost()
	if err := rt.Kill(ctx, rec.ID, sig, all); err != nil {
		if errdefs.IsConflict(err) || errdefs.IsNotFound(err) {
			return fmt.Errorf("cannot kill container: %s: container %s is not running: %w", ref, rec.ID, errdefs.ErrConflict)
		}
		return fmt.Errorf("cannot kill container: %s: %w", ref, err)
	}
	e.emit(&rec, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	return nil
}

// Restart stops (if running) and starts the container.
func (e *Engine) Restart(ctx context.Context, ref, signal string, timeout *int) error {
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	if err := e.stop(ctx, c, signal, timeout); err != nil && !errors.Is(err, ErrNotModified) {
		return err
	}
	c.mu.Lock()
	c.rec.ManuallyStopped = false
	rec := *c.rec
	c.mu.Unlock()
	if err := e.start(ctx, c); err != nil {
		return err
	}
	e.emit(&rec, "restart", nil)
	return nil
}

// Wait conditions.
const (
	WaitNotRunning = "not-running"
	WaitNextExit   = "next-exit"
	WaitRemoved    = "removed"
)

// WaitResult is how a wait ended.
type WaitResult struct {
	ExitCode int
	Error    string
}

// Wait returns a channel that yields when the condition is met. The wait
// is registered before Wait returns, so a start that follows is seen.
func (e *Engine) Wait(ctx context.Context, ref, condition string) (<-chan WaitResult, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	switch condition {
	case "", WaitNotRunning, WaitNextExit, WaitRemoved:
	default:
		return nil, fmt.Errorf("invalid condition: %q: %w", condition, errdefs.ErrInvalidArgument)
	}
	c.mu.Lock()
	exited, removed := c.exited, c.removed
	rec := *c.rec
	c.mu.Unlock()
	out := make(chan WaitResult, 1)
	result := func() WaitResult {
		r := c.snapshot()
		return WaitResult{ExitCode: r.State.ExitCode, Error: r.State.Error}
	}
	if (condition == "" || condition == WaitNotRunning) && !rec.running() {
		out <- result()
		return out, nil
	}
	go func() {
		select {
		case <-exited:
			if condition != WaitRemoved {
				out <- result()
				return
			}
			select {
			case <-removed:
			case <-ctx.Done():
				close(out)
				return
			}
		case <-removed:
		case <-ctx.Done():
			close(out)
			return
		}
		c.mu.Lock()
		out <- c.final
		c.mu.Unlock()
	}()
	return out, nil
}

// RemoveOptions are docker rm's flags.
type RemoveOptions struct {
	Force, RemoveVolumes bool
}

// Remove removes a container.
func (e *Engine) Remove(ctx context.Context, ref string, o RemoveOptions) error {
	ctx = context.WithoutCancel(ctx)
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	select {
	case <-c.removed:
		return noSuchContainer(ref)
	default:
	}
	c.cancelRestart()
	c.mu.Lock()
	rec := *c.rec
	exited := c.exited
	c.mu.Unlock()
	if rec.State.Status == StatusRunning || rec.State.Status == StatusPaused {
		if !o.Force {
			return fmt.Errorf("cannot remove container %q: container is running: stop the container before removing or force remove: %w", strings.TrimPrefix(rec.Name, "/"), errdefs.ErrConflict)
		}
		c.mu.Lock()
		c.rec.ManuallyStopped = true
		c.mu.Unlock()
		rt, _, _ := e.runtime(rec.Runtime)
		if rt != nil {
			_ = rt.Kill(ctx, rec.ID, unix.SIGKILL, true)
			e.emit(&rec, "kill", map[string]string{"signal": "9"})
		}
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("cannot remove container %q: could not kill it: %w", rec.Name, errdefs.ErrConflict)
		}
	}
	c.mu.Lock()
	c.rec.State.Status = StatusRemoving
	_ = e.save(ctx, c)
	rec = *c.rec
	c.mu.Unlock()
	if err := e.cfg.Monitor.Delete(ctx, rec.ID); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", ShortID(rec.ID), err)
	}
	e.stopHealth(c)
	e.unmountRootfs(ctx, c)
	e.teardownNetwork(ctx, rec.ID)
	// The record goes first, so a wait for the removal answers at once;
	// the files follow. A crash in between leaves directories without a
	// record, which the next daemon start removes (collectOrphans).
	if err := e.store.delete(ctx, rec.ID); err != nil {
		return err
	}
	defer func() {
		if err := e.removeFiles(ctx, rec.ID); err != nil {
			e.log.Warn("remove container files", "id", rec.ID, "err", err)
		}
		e.releaseVolumes(ctx, rec.ID, rec.Mounts, o.RemoveVolumes)
	}()
	e.mu.Lock()
	delete(e.byID, rec.ID)
	if e.byName[rec.Name] == rec.ID {
		delete(e.byName, rec.Name)
	}
	for id, x := range e.execs {
		if x.containerID == rec.ID {
			delete(e.execs, id)
		}
	}
	e.mu.Unlock()
	c.mu.Lock()
	// As dockerd, a wait for removal reports the exit code only.
	c.final = WaitResult{ExitCode: rec.State.ExitCode}
	close(c.removed)
	for _, pa := range c.pending {
		pa.done <- attachResult{err: fmt.Errorf("container %s was removed: %w", ShortID(rec.ID), errdefs.ErrNotFound)}
	}
	c.pending = nil
	c.mu.Unlock()
	e.emit(&rec, "destroy", nil)
	return nil
}

// Pause freezes the container.
func (e *Engine) Pause(ctx context.Context, ref string) error {
	return e.setPaused(ctx, ref, true)
}

// Unpause thaws the container.
func (e *Engine) Unpause(ctx context.Context, ref string) error {
	return e.setPaused(ctx, ref, false)
}

func (e *Engine) setPaused(ctx context.Context, ref string, pause bool) error {
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	rec := c.snapshot()
	switch {
	case !pause && rec.State.Status != StatusPaused:
		return fmt.Errorf("Container %s is not paused: %w", rec.ID, errdefs.ErrConflict)
	case rec.State.Status != StatusRunning && rec.State.Status != StatusPaused:
		return fmt.Errorf("container %s is not running: %w", rec.ID, errdefs.ErrConflict)
	case pause && rec.State.Status == StatusPaused:
		return fmt.Errorf("Container %s is already paused: %w", rec.ID, errdefs.ErrConflict)
	}
	rt, _, err := e.runtime(rec.Runtime)
	if err != nil {
		return err
	}
	action, status := "pause", StatusPaused
	if pause {
		err = rt.Pause(ctx, rec.ID)
	} else {
		err = rt.Resume(ctx, rec.ID)
		action, status = "unpause", StatusRunning
	}
	if err != nil {
		return fmt.Errorf("cannot %s container %s: %w", action, ShortID(rec.ID), err)
	}
	c.mu.Lock()
	if c.rec.State.Status == StatusRunning || c.rec.State.Status == StatusPaused {
		c.rec.State.Status = status
	}
	_ = e.save(ctx, c)
	c.mu.Unlock()
	e.emit(&rec, action, nil)
	return nil
}

// Rename gives a container a new name.
func (e *Engine) Rename(ctx context.Context, ref, newName string) error {
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	if newName == "" || !validName.MatchString(newName) {
		return fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", newName, errdefs.ErrInvalidArgument)
	}
	if !strings.HasPrefix(newName, "/") {
		newName = "/" + newName
	}
	c.mu.Lock()
	old := c.rec.Name
	id := c.rec.ID
	c.mu.Unlock()
	if old == newName {
		return fmt.Errorf("Renaming a container with the same name as its current name: %w", errdefs.ErrInvalidArgument)
	}
	if err := e.reserveName(newName, id); err != nil {
		return fmt.Errorf("Error when allocating new name: %w", err)
	}
	c.mu.Lock()
	c.rec.Name = newName
	err = e.save(ctx, c)
	if err != nil {
		c.rec.Name = old
	}
	rec := *c.rec
	c.mu.Unlock()
	if err != nil {
		e.releaseName(newName, id)
		return err
	}
	e.releaseName(old, id)
	e.emit(&rec, "rename", map[string]string{"oldName": old})
	return nil
}

// ParseSignal reads a signal name ("SIGTERM", "TERM") or number.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("Invalid signal: %s: %w", s, errdefs.ErrInvalidArgument)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMIN+"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && 34+n <= 64 {
			return unix.Signal(34 + n), nil
		}
	}
	return 0, fmt.Errorf("Invalid signal: %s: %w", s, errdefs.ErrInvalidArgument)
}

// removeFiles removes a container's writable layer and directories.
func (e *Engine) removeFiles(ctx context.Context, id string) error {
	var errs []error
	if err := mount.UnmountAll(e.rootfsDir(id)); err != nil {
		errs = append(errs, err)
	}
	if err := e.cfg.Images.RemoveRootFS(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("remove root filesystem: %w", err))
	}
	if err := os.RemoveAll(e.containerDir(id)); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(e.bundleDir(id)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// collectOrphans removes the files of containers that have no record: a
// removal the daemon did not finish.
func (e *Engine) collectOrphans(ctx context.Context) {
	seen := map[string]bool{}
	for _, dir := range []string{filepath.Join(e.cfg.DataRoot, "containers"), filepath.Join(e.cfg.ExecRoot, "containers")} {
		ents, _ := os.ReadDir(dir)
		for _, ent := range ents {
			id := ent.Name()
			if seen[id] || len(id) != 64 || !isHexString(id) {
				continue
			}
			seen[id] = true
			e.mu.RLock()
			_, ok := e.byID[id]
			e.mu.RUnlock()
			if ok {
				continue
			}
			e.log.Info("removing the files of a container without a record", "id", id)
			if err := e.removeFiles(ctx, id); err != nil {
				e.log.Warn("remove orphaned container files", "id", id, "err", err)
			}
		}
	}
}
