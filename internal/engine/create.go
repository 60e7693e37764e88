package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/shoal-dev/shoal/internal/engine/spec"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image"
)

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CreateRequest is the body of POST /containers/create.
type CreateRequest = container.CreateRequest

// Create makes a container (not started) and returns its id and
// warnings.
func (e *Engine) Create(ctx context.Context, name string, req CreateRequest) (string, []string, error) {
	if req.Config == nil {
		return "", nil, fmt.Errorf("config cannot be empty in order to create a container: %w", errdefs.ErrInvalidArgument)
	}
	cfg := *req.Config
	hc := &container.HostConfig{}
	if req.HostConfig != nil {
		h := *req.HostConfig
		hc = &h
	}
	if name != "" && !validName.MatchString(name) {
		return "", nil, fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", name, errdefs.ErrInvalidArgument)
	}
	if cfg.Image == "" {
		return "", nil, fmt.Errorf("no image specified: %w", errdefs.ErrInvalidArgument)
	}
	img, err := e.cfg.Images.Get(ctx, cfg.Image)
	if err != nil {
		return "", nil, err
	}
	nets, err := e.resolveNetworks(ctx, hc, &cfg, req.NetworkingConfig)
	if err != nil {
		return "", nil, err
	}
	if hc.Runtime == "" {
		hc.Runtime = e.cfg.DefaultRuntime
	}
	if _, _, err := e.runtime(hc.Runtime); err != nil {
		return "", nil, err
	}
	if err := checkLogConfig(&hc.LogConfig); err != nil {
		return "", nil, err
	}
	if err := checkRestartPolicy(hc); err != nil {
		return "", nil, err
	}
	mergeImageConfig(&cfg, img)
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return "", nil, fmt.Errorf("no command specified: %w", errdefs.ErrInvalidArgument)
	}
	if err := spec.ValidateHostConfig(hc, &cfg); err != nil {
		return "", nil, err
	}

	id := newID()
	// As dockerd, inspect shows the hostname and /dev/shm size used.
	if cfg.Hostname == "" {
		if hc.NetworkMode.IsHost() {
			cfg.Hostname, _ = os.Hostname()
		} else if !hc.NetworkMode.IsContainer() {
			cfg.Hostname = ShortID(id)
		}
	}
	if hc.ShmSize == 0 && !hc.IpcMode.IsHost() {
		hc.ShmSize = 64 << 20
	}
	if name == "" {
		name = e.generateName()
	}
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if err := e.reserveName(name, id); err != nil {
		return "", nil, err
	}
	ok := false
	defer func() {
		if !ok {
			e.releaseName(name, id)
		}
	}()
	mounts, err := e.resolveMounts(ctx, id, &cfg, hc)
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if !ok {
			e.releaseVolumes(ctx, id, mounts, true)
		}
	}()
	dir := e.containerDir(id)
	if err := os.MkdirAll(dir, 0o710); err != nil {
		return "", nil, fmt.Errorf("create container directory: %w", err)
	}
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if _, err := e.cfg.Images.RootFS(ctx, img.ID.String(), id); err != nil {
		return "", nil, fmt.Errorf("prepare root filesystem: %w", err)
	}
	defer func() {
		if !ok {
			_ = e.cfg.Images.RemoveRootFS(context.WithoutCancel(ctx), id)
		}
	}()
	args := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	rec := &record{
		ID: id, Name: name, Created: now(), Path: args[0], Args: args[1:],
		Config: &cfg, HostConfig: hc, ImageID: img.ID.String(), Runtime: hc.Runtime,
		Driver: e.cfg.Images.Snapshotter(), State: State{Status: StatusCreated}, Mounts: mounts,
		Networks: nets,
	}
	c := newCtr(rec)
	c.mu.Lock()
	err = e.save(ctx, c)
	c.mu.Unlock()
	if err != nil {
		return "", nil, err
	}
	e.mu.Lock()
	e.byID[id] = c
	e.mu.Unlock()
	ok = true
	e.emit(rec, "create", nil)
	return id, nil, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkRestartPolicy(hc *container.HostConfig) error {
	p := hc.RestartPolicy
	switch p.Name {
	case "", container.RestartPolicyDisabled:
		hc.RestartPolicy.Name = container.RestartPolicyDisabled
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if p.MaximumRetryCount != 0 {
			return fmt.Errorf("invalid restart policy: maximum retry count can only be used with 'on-failure': %w", errdefs.ErrInvalidArgument)
		}
	case container.RestartPolicyOnFailure:
		if p.MaximumRetryCount < 0 {
			return fmt.Errorf("invalid restart policy: maximum retry count cannot be negative: %w", errdefs.ErrInvalidArgument)
		}
	default:
		return fmt.Errorf("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped': %w", p.Name, errdefs.ErrInvalidArgument)
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return fmt.Errorf("can't create 'AutoRemove' container with restart policy: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// mergeImageConfig fills what the user left out from the image's config,
// as dockerd does at create.
func mergeImageConfig(cfg *container.Config, img image.Image) {
	ic := img.Config.Config
	mergeHealthcheck(cfg, img.Docker.Healthcheck)
	if len(cfg.Entrypoint) == 0 {
		cfg.Entrypoint = ic.Entrypoint
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = ic.Cmd
		}
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ic.WorkingDir
	}
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ic.StopSignal
	}
	env := append([]string{}, ic.Env...)
	for _, kv := range cfg.Env {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range env {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				env[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			env = append(env, kv)
		}
	}
	cfg.Env = env
	if len(ic.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range ic.Labels {
			labels[k] = v
		}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		cfg.Labels = labels
	}
	if len(ic.Volumes) > 0 {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for v := range ic.Volumes {
			cfg.Volumes[v] = struct{}{}
		}
	}
	if len(ic.ExposedPorts) > 0 {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		for p := range ic.ExposedPorts {
			if port, err := network.ParsePort(p); err == nil {
				cfg.ExposedPorts[port] = struct{}{}
			}
		}
	}
}

func (e *Engine) reserveName(name, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if other, ok := e.byName[name]; ok {
		return fmt.Errorf("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.: %w", name, other, errdefs.ErrConflict)
	}
	e.byName[name] = id
	return nil
}

func (e *Engine) releaseName(name, id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byName[name] == id {
		delete(e.byName, name)
	}
}

// emit publishes a container event.
func (e *Engine) emit(rec *record, action string, extra map[string]string) {
	attrs := map[string]string{"name": strings.TrimPrefix(rec.Name, "/"), "image": rec.Config.Image}
	for k, v := range rec.Config.Labels {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	e.cfg.Events.Publish(events.Message{
		Type:   events.ContainerEventType,
		Action: events.Action(action),
		Actor:  events.Actor{ID: rec.ID, Attributes: attrs},
		Scope:  "local",
	})
}

// logPath is where the monitor writes the container's json-file log.
func (e *Engine) logPath(id string) string {
	return filepath.Join(e.containerDir(id), id+"-json.log")
}

// mergeHealthcheck applies the image's HEALTHCHECK as dockerd does: the
// container's own check wins, and what it leaves zero comes from the
// image's.
func mergeHealthcheck(cfg *container.Config, ih *dockerspec.HealthcheckConfig) {
	if ih == nil {
		return
	}
	if cfg.Healthcheck == nil {
		cfg.Healthcheck = &container.HealthConfig{Test: ih.Test, Interval: ih.Interval, Timeout: ih.Timeout,
			StartPeriod: ih.StartPeriod, StartInterval: ih.StartInterval, Retries: ih.Retries}
		return
	}
	h := cfg.Healthcheck
	if len(h.Test) == 0 {
		h.Test = ih.Test
	}
	if h.Interval == 0 {
		h.Interval = ih.Interval
	}
	if h.Timeout == 0 {
		h.Timeout = ih.Timeout
	}
	if h.StartPeriod == 0 {
		h.StartPeriod = ih.StartPeriod
	}
	if h.StartInterval == 0 {
		h.StartInterval = ih.StartInterval
	}
	if h.Retries == 0 {
		h.Retries = ih.Retries
	}
}
