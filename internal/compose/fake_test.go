package compose

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// fakeEngine is an in-memory daemon. A started container with a
// healthcheck turns healthy, and one labelled test.exit=N exits with N,
// asynchronously, announcing it on the event stream as a daemon does.
type fakeEngine struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer
	networks   map[string]network.Inspect
	volumes    map[string]volume.Volume
	images     map[string]string
	subs       []*fakeSub
	// log records operations in order: "create p-web-1", "start p-web-1",
	// "healthy p-web-1", "exit p-job-1 0", "remove p-web-1", ...
	log    []string
	builds []BuildRequest
	// noBuild makes ImageBuild answer as a daemon without /build.
	noBuild bool
}

type fakeContainer struct {
	id, name string
	req      container.CreateRequest
	state    container.State
}

type fakeSub struct {
	ctx     context.Context
	project string
	ch      chan events.Message
}

func newFake() *fakeEngine {
	return &fakeEngine{
		containers: map[string]*fakeContainer{}, networks: map[string]network.Inspect{},
		volumes: map[string]volume.Volume{}, images: map[string]string{"busybox": "sha256:bb"},
	}
}

func (f *fakeEngine) record(format string, a ...any) {
	f.log = append(f.log, fmt.Sprintf(format, a...))
}

// ops returns the log entries starting with prefix.
func (f *fakeEngine) ops(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.log {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// index is the position of entry in the log, or -1.
func (f *fakeEngine) index(entry string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range f.log {
		if l == entry {
			return i
		}
	}
	return -1
}

func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func matchLabels(labels map[string]string, filters map[string][]string) bool {
	for _, f := range filters["label"] {
		k, v, hasV := strings.Cut(f, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
}

func (f *fakeEngine) find(ref string) (*fakeContainer, error) {
	if c, ok := f.containers[ref]; ok {
		return c, nil
	}
	for _, c := range f.containers {
		if c.name == ref {
			return c, nil
		}
	}
	return nil, fmt.Errorf("No such container: %s: %w", ref, errdefs.ErrNotFound)
}

func (f *fakeEngine) summary(c *fakeContainer) container.Summary {
	return container.Summary{ID: c.id, Names: []string{"/" + c.name}, Image: c.req.Image, Labels: c.req.Labels, State: c.state.Status}
}

func (f *fakeEngine) ContainerList(_ context.Context, all bool, filters map[string][]string) ([]container.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []container.Summary
	for _, c := range f.containers {
		if !all && !c.state.Running {
			continue
		}
		if matchLabels(c.req.Labels, filters) {
			out = append(out, f.summary(c))
		}
	}
	return out, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(id)
	if err != nil {
		return container.InspectResponse{}, err
	}
	st := c.state
	if c.state.Health != nil {
		h := *c.state.Health
		st.Health = &h
	}
	return container.InspectResponse{ID: c.id, Name: "/" + c.name, State: &st, Config: c.req.Config, HostConfig: c.req.HostConfig}, nil
}

func (f *fakeEngine) ContainerCreate(_ context.Context, name string, req container.CreateRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.images[req.Image]; !ok {
		return "", fmt.Errorf("No such image: %s: %w", req.Image, errdefs.ErrNotFound)
	}
	for _, c := range f.containers {
		if c.name == name {
			return "", fmt.Errorf("Conflict. The container name %q is already in use: %w", "/"+name, errdefs.ErrConflict)
		}
	}
	if req.HostConfig != nil {
		if _, ok := f.networks[string(req.HostConfig.NetworkMode)]; !ok && req.NetworkingConfig != nil {
			return "", fmt.Errorf("network %s not found: %w", req.HostConfig.NetworkMode, errdefs.ErrInvalidArgument)
		}
	}
	id := newID()
	f.containers[id] = &fakeContainer{id: id, name: name, req: req, state: container.State{Status: container.StateCreated}}
	f.record("create %s", name)
	return id, nil
}

func (f *fakeEngine) publish(c *fakeContainer, action string, attrs map[string]string) {
	a := map[string]string{"name": c.name}
	for k, v := range c.req.Labels {
		a[k] = v
	}
	for k, v := range attrs {
		a[k] = v
	}
	m := events.Message{Type: events.ContainerEventType, Action: events.Action(action), Actor: events.Actor{ID: c.id, Attributes: a}}
	for _, s := range f.subs {
		if s.ctx.Err() == nil && c.req.Labels[LabelProject] == s.project {
			select {
			case s.ch <- m:
			case <-s.ctx.Done():
			}
		}
	}
}

func (f *fakeEngine) ContainerStart(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(id)
	if err != nil {
		return err
	}
	c.state.Running, c.state.Status, c.state.ExitCode = true, container.StateRunning, 0
	if hc := c.req.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		c.state.Health = &container.Health{Status: container.Starting}
	}
	f.record("start %s", c.name)
	f.publish(c, "start", nil)
	if c.state.Health != nil {
		go f.transition(c.id, func(c *fakeContainer) {
			c.state.Health.Status = container.Healthy
			f.record("healthy %s", c.name)
			f.publish(c, "health_status: healthy", nil)
		})
	}
	if code, ok := c.req.Labels["test.exit"]; ok {
		n, _ := strconv.Atoi(code)
		go f.transition(c.id, func(c *fakeContainer) {
			c.state.Running, c.state.Status, c.state.ExitCode = false, container.StateExited, n
			f.record("exit %s %d", c.name, n)
			f.publish(c, "die", map[string]string{"exitCode": code})
		})
	}
	return nil
}

// transition changes a running container's state later, as a daemon's
// monitor would.
func (f *fakeEngine) transition(id string, change func(*fakeContainer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok && c.state.Running {
		change(c)
	}
}

func (f *fakeEngine) ContainerStop(_ context.Context, id string, _ *int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(id)
	if err != nil {
		return err
	}
	if c.state.Running {
		c.state.Running, c.state.Status, c.state.ExitCode = false, container.StateExited, 137
		f.record("stop %s", c.name)
		f.publish(c, "die", map[string]string{"exitCode": "137"})
	}
	return nil
}

func (f *fakeEngine) ContainerRestart(ctx context.Context, id string, t *int) error {
	if err := f.ContainerStop(ctx, id, t); err != nil {
		return err
	}
	return f.ContainerStart(ctx, id)
}

func (f *fakeEngine) ContainerRemove(_ context.Context, id string, force, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(id)
	if err != nil {
		return err
	}
	if c.state.Running && !force {
		return fmt.Errorf("container is running: %w", errdefs.ErrConflict)
	}
	delete(f.containers, c.id)
	f.record("remove %s", c.name)
	return nil
}

func (f *fakeEngine) NetworkInspect(_ context.Context, name string) (network.Inspect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.networks[name]
	if !ok {
		return n, fmt.Errorf("network %s not found: %w", name, errdefs.ErrNotFound)
	}
	return n, nil
}

func (f *fakeEngine) NetworkCreate(_ context.Context, req network.CreateRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.networks[req.Name]; ok {
		return "", fmt.Errorf("network with name %s already exists: %w", req.Name, errdefs.ErrConflict)
	}
	id := newID()
	n := network.Inspect{}
	n.ID, n.Name, n.Labels, n.Driver = id, req.Name, req.Labels, req.Driver
	f.networks[req.Name] = n
	f.record("network create %s", req.Name)
	return id, nil
}

func (f *fakeEngine) NetworkList(_ context.Context, filters map[string][]string) ([]network.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Summary
	for _, n := range f.networks {
		if matchLabels(n.Labels, filters) {
			s := network.Summary{}
			s.ID, s.Name, s.Labels = n.ID, n.Name, n.Labels
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeEngine) NetworkRemove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, n := range f.networks {
		if n.ID == id || name == id {
			for _, c := range f.containers {
				if string(c.req.HostConfig.NetworkMode) == name {
					return fmt.Errorf("network %s has active endpoints: %w", name, errdefs.ErrConflict)
				}
			}
			delete(f.networks, name)
			f.record("network remove %s", name)
			return nil
		}
	}
	return fmt.Errorf("network %s not found: %w", id, errdefs.ErrNotFound)
}

func (f *fakeEngine) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.volumes[name]
	if !ok {
		return v, fmt.Errorf("get %s: no such volume: %w", name, errdefs.ErrNotFound)
	}
	return v, nil
}

func (f *fakeEngine) VolumeCreate(_ context.Context, req volume.CreateRequest) (volume.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := volume.Volume{Name: req.Name, Driver: "local", Labels: req.Labels}
	f.volumes[req.Name] = v
	f.record("volume create %s", req.Name)
	return v, nil
}

func (f *fakeEngine) VolumeList(_ context.Context, filters map[string][]string) ([]volume.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []volume.Volume
	for _, v := range f.volumes {
		if matchLabels(v.Labels, filters) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (f *fakeEngine) VolumeRemove(_ context.Context, name string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.volumes[name]; !ok {
		return fmt.Errorf("get %s: no such volume: %w", name, errdefs.ErrNotFound)
	}
	delete(f.volumes, name)
	f.record("volume remove %s", name)
	return nil
}

func (f *fakeEngine) ImageInspect(_ context.Context, ref string) (image.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.images[ref]
	if !ok {
		return image.InspectResponse{}, fmt.Errorf("No such image: %s: %w", ref, errdefs.ErrNotFound)
	}
	return image.InspectResponse{ID: id}, nil
}

func (f *fakeEngine) ImagePull(_ context.Context, ref, _ string, _ io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(ref, "missing/") {
		return fmt.Errorf("pull access denied for %s: %w", ref, errdefs.ErrNotFound)
	}
	f.images[ref] = "sha256:" + newID()
	f.record("pull %s", ref)
	return nil
}

func (f *fakeEngine) ImageBuild(_ context.Context, req BuildRequest, _ io.Writer) error {
	if f.noBuild {
		_, _ = io.Copy(io.Discard, req.Context)
		return fmt.Errorf("page not found: %w", errdefs.ErrNotFound)
	}
	data, err := io.ReadAll(req.Context)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	req.Context = strings.NewReader(string(data))
	f.builds = append(f.builds, req)
	for _, t := range req.Tags {
		f.images[t] = "sha256:" + newID()
	}
	f.record("build %s", strings.Join(req.Tags, ","))
	return nil
}

func (f *fakeEngine) Events(ctx context.Context, filters map[string][]string) (<-chan events.Message, <-chan error, error) {
	project := ""
	for _, l := range filters["label"] {
		if v, ok := strings.CutPrefix(l, LabelProject+"="); ok {
			project = v
		}
	}
	sub := &fakeSub{ctx: ctx, project: project, ch: make(chan events.Message, 64)}
	f.mu.Lock()
	f.subs = append(f.subs, sub)
	f.mu.Unlock()
	out := make(chan events.Message)
	errs := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case m := <-sub.ch:
				select {
				case out <- m:
				case <-ctx.Done():
					errs <- nil
					return
				}
			case <-ctx.Done():
				errs <- nil
				return
			}
		}
	}()
	return out, errs, nil
}

// names lists the fake's container names, sorted.
func (f *fakeEngine) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.containers {
		out = append(out, c.name)
	}
	sort.Strings(out)
	return out
}

func (f *fakeEngine) byName(name string) *fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, _ := f.find(name)
	return c
}

var _ Engine = (*fakeEngine)(nil)
