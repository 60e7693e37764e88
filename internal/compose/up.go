package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sync/errgroup"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// UpOptions are up's flags.
type UpOptions struct {
	// Services to bring up (with what they depend on, unless NoDeps);
	// none is all.
	Services []string
	NoDeps   bool
	// Scale overrides services' replica counts (--scale svc=N).
	Scale map[string]int
	// Build builds the images of services with a build section first
	// (--build); NoBuild never builds (--no-build).
	Build, NoBuild bool
	// Pull is the pull policy for every service: "", "always",
	// "missing", "never".
	Pull string
	// NoStart creates containers without starting them.
	NoStart bool
	// ForceRecreate recreates every container; NoRecreate none.
	ForceRecreate, NoRecreate bool
	// RemoveOrphans removes containers of services no longer in the
	// project.
	RemoveOrphans bool
	// Timeout is the stop timeout (seconds) for containers being
	// replaced; nil is their own.
	Timeout *int
	// Wait waits until every container is running and healthy.
	Wait bool
}

// Up creates and starts the project's services, as `docker compose up
// -d` does. Independent services are handled concurrently; a service is
// created once the services it depends on are, and started once their
// depends_on conditions hold (started, healthy, completed successfully),
// which are followed through the daemon's events. Up is idempotent: a
// container whose config hash and image are unchanged is kept (and
// started if stopped), one whose hash changed is recreated, and
// containers beyond a service's scale are removed.
func (c *Compose) Up(ctx context.Context, p *types.Project, o UpOptions) error {
	full := p
	p, err := selectServices(p, o.Services, !o.NoDeps)
	if err != nil {
		return err
	}
	for name, n := range o.Scale {
		s, ok := p.Services[name]
		if !ok {
			return withClass(errNoSuchService(name), errdefs.ErrNotFound)
		}
		if n < 0 {
			return invalidf("invalid scale %d for service %s", n, name)
		}
		if n > 1 && s.ContainerName != "" {
			return invalidf("service %q: container_name %q cannot be used with more than one replica", name, s.ContainerName)
		}
		s.SetScale(n)
		p.Services[name] = s
	}
	images, err := c.ensureImages(ctx, p, imageOptions{build: o.Build, noBuild: o.NoBuild, pull: o.Pull})
	if err != nil {
		return err
	}
	if err := c.ensureResources(ctx, p); err != nil {
		return err
	}
	observed, err := c.eng.ContainerList(ctx, true, projectFilter(p.Name))
	if err != nil {
		return fmt.Errorf("list containers of project %s: %w", p.Name, err)
	}
	byService := map[string][]container.Summary{}
	var orphans []container.Summary
	for _, ct := range observed {
		if ct.Labels[LabelOneoff] == "True" {
			continue
		}
		svc := ct.Labels[LabelService]
		_, enabled := full.Services[svc]
		_, disabled := full.DisabledServices[svc]
		if !enabled && !disabled {
			orphans = append(orphans, ct)
			continue
		}
		byService[svc] = append(byService[svc], ct)
	}
	if len(orphans) > 0 {
		if o.RemoveOrphans {
			if err := c.removeContainers(ctx, orphans, o.Timeout, false); err != nil {
				return err
			}
		} else {
			var names []string
			for _, ct := range orphans {
				names = append(names, Name(ct))
			}
			c.warn("Project", p.Name, fmt.Sprintf("Found orphan containers (%s) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", strings.Join(names, ", ")))
		}
	}
	var w *watcher
	if needsEvents(p) || o.Wait {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if w, err = c.watch(wctx, p.Name); err != nil {
			return err
		}
	}
	plan := &upPlan{c: c, p: p, o: o, images: images, observed: byService, w: w}
	if err := plan.run(ctx); err != nil {
		return err
	}
	if o.Wait && !o.NoStart {
		return plan.waitAll(ctx)
	}
	return nil
}

// needsEvents says whether some depends_on condition must be followed.
func needsEvents(p *types.Project) bool {
	for _, s := range p.Services {
		for dep, d := range s.DependsOn {
			if _, ok := p.Services[dep]; ok && d.Condition != "" && d.Condition != types.ServiceConditionStarted {
				return true
			}
		}
	}
	return false
}

// upPlan is one run of up over the dependency graph.
type upPlan struct {
	c        *Compose
	p        *types.Project
	o        UpOptions
	images   map[string]string // service -> image ID
	observed map[string][]container.Summary
	w        *watcher

	mu    sync.Mutex
	nodes map[string]*upNode
}

// upNode is one service's progress: created and started are closed
// when its containers are created and started.
type upNode struct {
	created, started chan struct{}
	targets          []target
}

// target is one container of a service after convergence.
type target struct {
	id, name string
	running  bool
}

func (pl *upPlan) run(ctx context.Context) error {
	pl.nodes = map[string]*upNode{}
	for name := range pl.p.Services {
		pl.nodes[name] = &upNode{created: make(chan struct{}), started: make(chan struct{})}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, name := range pl.p.ServiceNames() {
		s := pl.p.Services[name]
		g.Go(func() error { return pl.service(gctx, s) })
	}
	return g.Wait()
}

func wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// service converges one service: after its dependencies are created it
// creates its containers, and after their conditions hold it starts
// them.
func (pl *upPlan) service(ctx context.Context, s types.ServiceConfig) error {
	n := pl.nodes[s.Name]
	deps := sortedKeys(s.DependsOn)
	for _, dep := range deps {
		if dn, ok := pl.nodes[dep]; ok {
			if err := wait(ctx, dn.created); err != nil {
				return err
			}
		}
	}
	targets, err := pl.converge(ctx, s)
	if err != nil {
		return err
	}
	n.targets = targets
	close(n.created)
	if pl.o.NoStart {
		close(n.started)
		return nil
	}
	for _, dep := range deps {
		dn, ok := pl.nodes[dep]
		if !ok {
			continue
		}
		if err := wait(ctx, dn.started); err != nil {
			return err
		}
		if err := pl.c.condition(ctx, pl.w, dep, s.DependsOn[dep].Condition, dn.targets); err != nil {
			return err
		}
	}
	if err := pl.c.start(ctx, targets); err != nil {
		return err
	}
	close(n.started)
	return nil
}

// condition waits until the containers of service dep meet condition.
func (c *Compose) condition(ctx context.Context, w *watcher, dep, condition string, targets []target) error {
	switch condition {
	case "", types.ServiceConditionStarted:
		return nil
	case types.ServiceConditionHealthy:
		g, gctx := errgroup.WithContext(ctx)
		for _, t := range targets {
			g.Go(func() error {
				c.event("Container", t.name, "Waiting")
				if err := w.healthy(gctx, t.id, t.name); err != nil {
					c.progress(Event{Kind: "Container", Name: t.name, Status: "Error", Text: err.Error()})
					return err
				}
				c.event("Container", t.name, "Healthy")
				return nil
			})
		}
		return g.Wait()
	case types.ServiceConditionCompletedSuccessfully:
		g, gctx := errgroup.WithContext(ctx)
		for _, t := range targets {
			g.Go(func() error {
				c.event("Container", t.name, "Waiting")
				code, err := w.exited(gctx, t.id)
				if err != nil {
					return err
				}
				if code != 0 {
					c.progress(Event{Kind: "Container", Name: t.name, Status: "Error", Text: fmt.Sprintf("exited (%d)", code)})
					return withClass(fmt.Errorf("service %q didn't complete successfully: exit %d", dep, code), errdefs.ErrFailedPrecondition)
				}
				c.event("Container", t.name, "Exited")
				return nil
			})
		}
		return g.Wait()
	}
	return invalidf("unknown depends_on condition %q for service %s", condition, dep)
}

// start starts the targets that are not running, concurrently.
func (c *Compose) start(ctx context.Context, targets []target) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range targets {
		if t.running {
			c.event("Container", t.name, "Running")
			continue
		}
		g.Go(func() error {
			c.event("Container", t.name, "Starting")
			if err := c.eng.ContainerStart(gctx, t.id); err != nil {
				c.progress(Event{Kind: "Container", Name: t.name, Status: "Error", Text: err.Error()})
				return fmt.Errorf("start container %s: %w", t.name, err)
			}
			c.event("Container", t.name, "Started")
			return nil
		})
	}
	return g.Wait()
}

// converge makes the service's containers match its config and scale:
// it removes the extra ones, recreates the outdated ones and creates the
// missing ones, and returns the service's containers in number order.
func (pl *upPlan) converge(ctx context.Context, s types.ServiceConfig) ([]target, error) {
	hash, err := ServiceHash(s)
	if err != nil {
		return nil, err
	}
	imageID := pl.images[s.Name]
	scale := s.GetScale()
	current := map[int]container.Summary{}
	var extra []container.Summary
	for _, ct := range pl.observed[s.Name] {
		n := number(ct)
		if _, dup := current[n]; dup || n < 1 || n > scale {
			extra = append(extra, ct)
			continue
		}
		current[n] = ct
	}
	if len(extra) > 0 {
		if err := pl.c.removeContainers(ctx, extra, pl.o.Timeout, false); err != nil {
			return nil, err
		}
	}
	targets := make([]target, scale)
	g, gctx := errgroup.WithContext(ctx)
	for i := range scale {
		num := i + 1
		name := ContainerName(pl.p.Name, s, num)
		ct, ok := current[num]
		if ok && !pl.mustRecreate(ct, hash, imageID) {
			targets[i] = target{id: ct.ID, name: Name(ct), running: ct.State == container.StateRunning}
			continue
		}
		g.Go(func() error {
			spec := createSpec{number: num, name: name, hash: hash, imageID: imageID, serviceAlias: true}
			if ok {
				pl.c.event("Container", name, "Recreate")
				if err := pl.c.stopRemove(gctx, ct, pl.o.Timeout, false); err != nil {
					return err
				}
			} else {
				pl.c.event("Container", name, "Creating")
			}
			id, err := pl.c.create(gctx, pl.p, s, spec)
			if err != nil {
				return err
			}
			if ok {
				pl.c.event("Container", name, "Recreated")
			} else {
				pl.c.event("Container", name, "Created")
			}
			targets[i] = target{id: id, name: name}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return targets, nil
}

// mustRecreate says whether container ct no longer matches its service.
func (pl *upPlan) mustRecreate(ct container.Summary, hash, imageID string) bool {
	if pl.o.ForceRecreate {
		return true
	}
	if pl.o.NoRecreate {
		return false
	}
	if ct.Labels[LabelConfigHash] != hash {
		return true
	}
	return imageID != "" && ct.Labels[LabelImage] != "" && ct.Labels[LabelImage] != imageID
}

// create creates one container of service s.
func (c *Compose) create(ctx context.Context, p *types.Project, s types.ServiceConfig, spec createSpec) (string, error) {
	req, err := createRequest(p, s, spec)
	if err != nil {
		return "", err
	}
	id, err := c.eng.ContainerCreate(ctx, spec.name, req)
	if err != nil {
		c.progress(Event{Kind: "Container", Name: spec.name, Status: "Error", Text: err.Error()})
		return "", fmt.Errorf("create container %s: %w", spec.name, err)
	}
	return id, nil
}

// stopRemove stops and removes one container.
func (c *Compose) stopRemove(ctx context.Context, ct container.Summary, timeout *int, volumes bool) error {
	name := Name(ct)
	if ct.State == container.StateRunning || ct.State == container.StateRestarting || ct.State == container.StatePaused {
		c.event("Container", name, "Stopping")
		if err := c.eng.ContainerStop(ctx, ct.ID, timeout); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("stop container %s: %w", name, err)
		}
		c.event("Container", name, "Stopped")
	}
	c.event("Container", name, "Removing")
	if err := c.eng.ContainerRemove(ctx, ct.ID, true, volumes); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	c.event("Container", name, "Removed")
	return nil
}

// removeContainers stops and removes containers concurrently.
func (c *Compose) removeContainers(ctx context.Context, list []container.Summary, timeout *int, volumes bool) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, ct := range list {
		g.Go(func() error { return c.stopRemove(gctx, ct, timeout, volumes) })
	}
	return g.Wait()
}

// waitAll waits until every container of the plan runs and is healthy.
func (pl *upPlan) waitAll(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range pl.nodes {
		for _, t := range n.targets {
			g.Go(func() error {
				if err := pl.w.running(gctx, t.id, t.name); err != nil {
					return err
				}
				pl.c.event("Container", t.name, "Healthy")
				return nil
			})
		}
	}
	return g.Wait()
}

// ensureResources creates the networks and volumes the selected services
// use, concurrently; existing ones are kept.
func (c *Compose) ensureResources(ctx context.Context, p *types.Project) error {
	nets := map[string]bool{}
	vols := map[string]bool{}
	for _, s := range p.Services {
		for _, k := range serviceNetworks(s) {
			nets[k] = true
		}
		for _, v := range s.Volumes {
			if (v.Type == types.VolumeTypeVolume || v.Type == "") && v.Source != "" {
				vols[v.Source] = true
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, key := range sortedKeys(nets) {
		n, ok := p.Networks[key]
		if !ok {
			return invalidf("service refers to undefined network %s", key)
		}
		g.Go(func() error { return c.ensureNetwork(gctx, p, key, n) })
	}
	for _, key := range sortedKeys(vols) {
		v, ok := p.Volumes[key]
		if !ok {
			return invalidf("service refers to undefined volume %s", key)
		}
		g.Go(func() error { return c.ensureVolume(gctx, p, key, v) })
	}
	return g.Wait()
}

func (c *Compose) ensureNetwork(ctx context.Context, p *types.Project, key string, n types.NetworkConfig) error {
	existing, err := c.eng.NetworkInspect(ctx, n.Name)
	switch {
	case err == nil:
		if !bool(n.External) && existing.Labels[LabelProject] != p.Name {
			c.warn("Network", n.Name, fmt.Sprintf("a network with name %s exists but was not created for project %q. Set `external: true` to use an existing network", n.Name, p.Name))
		}
		return nil
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("inspect network %s: %w", n.Name, err)
	case bool(n.External):
		return withClass(fmt.Errorf("network %s declared as external, but could not be found", n.Name), errdefs.ErrNotFound)
	}
	req, err := networkRequest(p, key, n)
	if err != nil {
		return err
	}
	c.event("Network", n.Name, "Creating")
	if _, err := c.eng.NetworkCreate(ctx, req); err != nil {
		if errdefs.IsConflict(err) || errdefs.IsAlreadyExists(err) {
			// Made meanwhile by another compose run: fine.
			if _, ierr := c.eng.NetworkInspect(ctx, n.Name); ierr == nil {
				c.event("Network", n.Name, "Created")
				return nil
			}
		}
		return fmt.Errorf("create network %s: %w", n.Name, err)
	}
	c.event("Network", n.Name, "Created")
	return nil
}

func (c *Compose) ensureVolume(ctx context.Context, p *types.Project, key string, v types.VolumeConfig) error {
	existing, err := c.eng.VolumeInspect(ctx, v.Name)
	switch {
	case err == nil:
		if !bool(v.External) && existing.Labels[LabelProject] != p.Name {
			c.warn("Volume", v.Name, fmt.Sprintf("volume %q already exists but was not created by Docker Compose. Use `external: true` to use an existing volume", v.Name))
		}
		return nil
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("inspect volume %s: %w", v.Name, err)
	case bool(v.External):
		return withClass(fmt.Errorf("external volume %q not found", v.Name), errdefs.ErrNotFound)
	}
	c.event("Volume", v.Name, "Creating")
	if _, err := c.eng.VolumeCreate(ctx, volumeRequest(p, key, v)); err != nil {
		return fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	c.event("Volume", v.Name, "Created")
	return nil
}

// errJoin joins errors, nil when there are none.
func errJoin(errs []error) error { return errors.Join(errs...) }

func copyLabels(l map[string]string) map[string]string {
	out := map[string]string{}
	maps.Copy(out, l)
	return out
}
