package compose

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/moby/moby/api/types/container"
)

// watcher follows a project's container events and wakes the goroutines
// waiting on a container's state: they re-read the state after every
// event of theirs, so no state change is missed and nothing polls.
type watcher struct {
	eng  Engine
	mu   sync.Mutex
	subs map[string]map[chan struct{}]bool // container ID -> kick channels
	done chan struct{}
	err  error // why the stream ended, once done is closed
}

// watch subscribes to project's container events until ctx ends.
func (c *Compose) watch(ctx context.Context, project string) (*watcher, error) {
	filters := projectFilter(project)
	filters["type"] = []string{"container"}
	filters["event"] = []string{"start", "die", "health_status", "destroy", "oom"}
	msgs, errs, err := c.eng.Events(ctx, filters)
	if err != nil {
		return nil, fmt.Errorf("subscribe to events: %w", err)
	}
	w := &watcher{eng: c.eng, subs: map[string]map[chan struct{}]bool{}, done: make(chan struct{})}
	go func() {
		for m := range msgs {
			w.kick(m.Actor.ID)
		}
		err := <-errs
		if err == nil {
			err = context.Cause(ctx)
		}
		if err == nil {
			err = errors.New("event stream ended")
		}
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		close(w.done)
	}()
	return w, nil
}

func (w *watcher) kick(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.subs[id] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending: it re-reads the state
		}
	}
}

func (w *watcher) subscribe(id string) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.subs[id] == nil {
		w.subs[id] = map[chan struct{}]bool{}
	}
	w.subs[id][ch] = true
	return ch
}

func (w *watcher) unsubscribe(id string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.subs[id], ch)
	if len(w.subs[id]) == 0 {
		delete(w.subs, id)
	}
}

// until waits until check says the container's state is final: done, or
// an error. It reads the state once, then again after each of the
// container's events.
func (w *watcher) until(ctx context.Context, id string, check func(container.InspectResponse) (bool, error)) error {
	kick := w.subscribe(id) // before reading: an event in between wakes us
	defer w.unsubscribe(id, kick)
	for {
		info, err := w.eng.ContainerInspect(ctx, id)
		if err != nil {
			return err
		}
		if info.State == nil {
			return fmt.Errorf("container %s has no state", id)
		}
		if ok, err := check(info); ok || err != nil {
			return err
		}
		select {
		case <-kick:
		case <-w.done:
			w.mu.Lock()
			err := w.err
			w.mu.Unlock()
			return fmt.Errorf("wait for container %s: %w", id, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// healthy waits until the container is healthy; an unhealthy, exited or
// unchecked container is an error.
func (w *watcher) healthy(ctx context.Context, id, name string) error {
	return w.until(ctx, id, func(info container.InspectResponse) (bool, error) {
		st := info.State
		if st.Health == nil {
			if info.Config != nil && info.Config.Healthcheck != nil && len(info.Config.Healthcheck.Test) > 0 && info.Config.Healthcheck.Test[0] != "NONE" && st.Running {
				return false, nil // not checked yet
			}
			return false, fmt.Errorf("dependency failed to start: container %s has no healthcheck configured", name)
		}
		switch st.Health.Status {
		case container.Healthy:
			return true, nil
		case container.Unhealthy:
			return false, fmt.Errorf("dependency failed to start: container %s is unhealthy", name)
		}
		if !st.Running && !st.Restarting {
			return false, fmt.Errorf("dependency failed to start: container %s exited (%d)", name, st.ExitCode)
		}
		return false, nil
	})
}

// exited waits until the container has exited and returns its exit code.
func (w *watcher) exited(ctx context.Context, id string) (int, error) {
	code := 0
	err := w.until(ctx, id, func(info container.InspectResponse) (bool, error) {
		st := info.State
		if st.Running || st.Restarting || st.Paused {
			return false, nil
		}
		if st.Status == container.StateCreated {
			return false, nil // not started yet
		}
		code = st.ExitCode
		return true, nil
	})
	return code, err
}

// running waits until the container is running and, if it has a
// healthcheck, healthy (up --wait).
func (w *watcher) running(ctx context.Context, id, name string) error {
	return w.until(ctx, id, func(info container.InspectResponse) (bool, error) {
		st := info.State
		if !st.Running && !st.Restarting {
			if st.Status == container.StateCreated {
				return false, nil
			}
			return false, fmt.Errorf("container %s exited (%d)", name, st.ExitCode)
		}
		if st.Health == nil {
			return st.Running, nil
		}
		switch st.Health.Status {
		case container.Healthy:
			return true, nil
		case container.Unhealthy:
			return false, fmt.Errorf("container %s is unhealthy", name)
		}
		return false, nil
	})
}
