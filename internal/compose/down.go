package compose

import (
	"context"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sync/errgroup"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// DownOptions are down's flags.
type DownOptions struct {
	// RemoveOrphans removes containers of services not in the project.
	RemoveOrphans bool
	// Volumes removes the project's named volumes and the containers'
	// anonymous ones.
	Volumes bool
	// Timeout is the stop timeout in seconds; nil is each container's.
	Timeout *int
}

// Down stops and removes the project's containers (dependents before
// what they depend on), then its networks and, with Volumes, its
// volumes: everything labelled with the project's name. p may have no
// services (a project named with -p and no file): then every container
// of the project goes.
func (c *Compose) Down(ctx context.Context, p *types.Project, o DownOptions) error {
	list, err := c.eng.ContainerList(ctx, true, projectFilter(p.Name))
	if err != nil {
		return fmt.Errorf("list containers of project %s: %w", p.Name, err)
	}
	known := len(p.Services) > 0 || len(p.DisabledServices) > 0
	var remove, orphans []container.Summary
	for _, ct := range list {
		svc := ct.Labels[LabelService]
		_, enabled := p.Services[svc]
		_, disabled := p.DisabledServices[svc]
		if known && !enabled && !disabled && ct.Labels[LabelOneoff] != "True" && !o.RemoveOrphans {
			orphans = append(orphans, ct)
			continue
		}
		remove = append(remove, ct)
	}
	if len(orphans) > 0 {
		var names []string
		for _, ct := range orphans {
			names = append(names, Name(ct))
		}
		c.warn("Project", p.Name, fmt.Sprintf("Found orphan containers (%s) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", strings.Join(names, ", ")))
	}
	err = c.reverseOrder(ctx, p, remove, func(ctx context.Context, cts []container.Summary) error {
		return c.removeContainers(ctx, cts, o.Timeout, o.Volumes)
	})
	if err != nil {
		return err
	}
	var errs []error
	nets, err := c.eng.NetworkList(ctx, projectFilter(p.Name))
	if err != nil {
		return fmt.Errorf("list networks of project %s: %w", p.Name, err)
	}
	for _, n := range nets {
		c.event("Network", n.Name, "Removing")
		if err := c.eng.NetworkRemove(ctx, n.ID); err != nil && !errdefs.IsNotFound(err) {
			c.progress(Event{Kind: "Network", Name: n.Name, Status: "Error", Text: err.Error()})
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			continue
		}
		c.event("Network", n.Name, "Removed")
	}
	if o.Volumes {
		vols, err := c.eng.VolumeList(ctx, projectFilter(p.Name))
		if err != nil {
			return fmt.Errorf("list volumes of project %s: %w", p.Name, err)
		}
		for _, v := range vols {
			if key := v.Labels[LabelVolume]; key != "" {
				if pv, ok := p.Volumes[key]; ok && bool(pv.External) {
					continue
				}
			}
			c.event("Volume", v.Name, "Removing")
			if err := c.eng.VolumeRemove(ctx, v.Name, false); err != nil && !errdefs.IsNotFound(err) {
				c.progress(Event{Kind: "Volume", Name: v.Name, Status: "Error", Text: err.Error()})
				errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
				continue
			}
			c.event("Volume", v.Name, "Removed")
		}
	}
	return errJoin(errs)
}

// reverseOrder runs op on the containers of each service once the
// services that depend on it are done; containers of services the
// project does not know go first. Independent services run concurrently.
func (c *Compose) reverseOrder(ctx context.Context, p *types.Project, list []container.Summary, op func(context.Context, []container.Summary) error) error {
	byService := map[string][]container.Summary{}
	var unknown []container.Summary
	for _, ct := range list {
		svc := ct.Labels[LabelService]
		if _, ok := p.Services[svc]; ok {
			byService[svc] = append(byService[svc], ct)
		} else {
			unknown = append(unknown, ct)
		}
	}
	if len(unknown) > 0 {
		if err := op(ctx, unknown); err != nil {
			return err
		}
	}
	done := map[string]chan struct{}{}
	for name := range p.Services {
		done[name] = make(chan struct{})
	}
	dependents := map[string][]string{}
	for name, s := range p.Services {
		for dep := range s.DependsOn {
			if _, ok := p.Services[dep]; ok {
				dependents[dep] = append(dependents[dep], name)
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for name := range p.Services {
		g.Go(func() error {
			for _, d := range dependents[name] {
				if err := wait(gctx, done[d]); err != nil {
					return err
				}
			}
			if cts := byService[name]; len(cts) > 0 {
				if err := op(gctx, cts); err != nil {
					return err
				}
			}
			close(done[name])
			return nil
		})
	}
	return g.Wait()
}

// Stop stops the running containers of the named services (none: all),
// dependents first.
func (c *Compose) Stop(ctx context.Context, p *types.Project, services []string, timeout *int) error {
	cts, err := c.Containers(ctx, p.Name, ContainerFilter{Services: services})
	if err != nil {
		return err
	}
	return c.reverseOrder(ctx, p, cts, func(ctx context.Context, cts []container.Summary) error {
		g, gctx := errgroup.WithContext(ctx)
		for _, ct := range cts {
			g.Go(func() error {
				name := Name(ct)
				c.event("Container", name, "Stopping")
				if err := c.eng.ContainerStop(gctx, ct.ID, timeout); err != nil {
					return fmt.Errorf("stop container %s: %w", name, err)
				}
				c.event("Container", name, "Stopped")
				return nil
			})
		}
		return g.Wait()
	})
}

// Start starts the existing containers of the named services (none:
// all) in dependency order, waiting for depends_on conditions as up
// does.
func (c *Compose) Start(ctx context.Context, p *types.Project, services []string) error {
	return c.startOrRestart(ctx, p, services, false, nil)
}

// Restart restarts the containers of the named services (none: all) in
// dependency order.
func (c *Compose) Restart(ctx context.Context, p *types.Project, services []string, timeout *int) error {
	return c.startOrRestart(ctx, p, services, true, timeout)
}

func (c *Compose) startOrRestart(ctx context.Context, p *types.Project, services []string, restart bool, timeout *int) error {
	p, err := selectServices(p, services, !restart)
	if err != nil {
		return err
	}
	cts, err := c.Containers(ctx, p.Name, ContainerFilter{All: true})
	if err != nil {
		return err
	}
	byService := map[string][]target{}
	for _, ct := range cts {
		svc := ct.Labels[LabelService]
		byService[svc] = append(byService[svc], target{id: ct.ID, name: Name(ct), running: ct.State == container.StateRunning && !restart})
	}
	if !restart && len(cts) == 0 {
		return withClass(fmt.Errorf("service(s) %s: no containers to start", strings.Join(p.ServiceNames(), ", ")), errdefs.ErrNotFound)
	}
	var w *watcher
	if needsEvents(p) && !restart {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if w, err = c.watch(wctx, p.Name); err != nil {
			return err
		}
	}
	started := map[string]chan struct{}{}
	for name := range p.Services {
		started[name] = make(chan struct{})
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		g.Go(func() error {
			for _, dep := range sortedKeys(s.DependsOn) {
				ch, ok := started[dep]
				if !ok {
					continue
				}
				if err := wait(gctx, ch); err != nil {
					return err
				}
				if w != nil {
					if err := c.condition(gctx, w, dep, s.DependsOn[dep].Condition, byService[dep]); err != nil {
						return err
					}
				}
			}
			targets := byService[name]
			if restart {
				g2, g2ctx := errgroup.WithContext(gctx)
				for _, t := range targets {
					g2.Go(func() error {
						c.event("Container", t.name, "Restarting")
						if err := c.eng.ContainerRestart(g2ctx, t.id, timeout); err != nil {
							return fmt.Errorf("restart container %s: %w", t.name, err)
						}
						c.event("Container", t.name, "Started")
						return nil
					})
				}
				if err := g2.Wait(); err != nil {
					return err
				}
			} else if err := c.start(gctx, targets); err != nil {
				return err
			}
			close(started[name])
			return nil
		})
	}
	return g.Wait()
}
