package compose

import (
	"context"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Compose runs projects on one engine. It is safe for concurrent use.
type Compose struct {
	eng      Engine
	progress func(Event)
	out      io.Writer
}

// Event is one step of an operation on a resource, for the progress
// display: Kind "Container", Name "myapp-web-1", Status "Started".
type Event struct {
	Kind   string
	Name   string
	Status string
	// Text adds detail ("exited (1)", a warning).
	Text string
}

// Options configure a Compose.
type Options struct {
	// Progress receives the progress events; nil drops them. It may be
	// called from several goroutines at once.
	Progress func(Event)
	// Output receives the builder's output; nil drops it.
	Output io.Writer
}

// New returns a Compose that drives eng.
func New(eng Engine, o Options) *Compose {
	c := &Compose{eng: eng, progress: o.Progress, out: o.Output}
	if c.progress == nil {
		c.progress = func(Event) {}
	}
	if c.out == nil {
		c.out = io.Discard
	}
	return c
}

func (c *Compose) event(kind, name, status string) {
	c.progress(Event{Kind: kind, Name: name, Status: status})
}

func (c *Compose) warn(kind, name, text string) {
	c.progress(Event{Kind: kind, Name: name, Status: "Warning", Text: text})
}

// ContainerFilter selects a project's containers.
type ContainerFilter struct {
	// Services are the services whose containers to list; none is all.
	Services []string
	// All lists stopped containers too.
	All bool
	// Oneoff includes `run` containers.
	Oneoff bool
}

// Containers lists the containers of project, sorted by service and
// number.
func (c *Compose) Containers(ctx context.Context, project string, f ContainerFilter) ([]container.Summary, error) {
	list, err := c.eng.ContainerList(ctx, f.All, projectFilter(project))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, s := range f.Services {
		want[s] = true
	}
	var out []container.Summary
	for _, ct := range list {
		if !f.Oneoff && ct.Labels[LabelOneoff] == "True" {
			continue
		}
		if len(want) > 0 && !want[ct.Labels[LabelService]] {
			continue
		}
		out = append(out, ct)
	}
	sortContainers(out)
	return out, nil
}

// sortContainers orders containers by service, then number, then name.
func sortContainers(list []container.Summary) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if sa, sb := a.Labels[LabelService], b.Labels[LabelService]; sa != sb {
			return sa < sb
		}
		if na, nb := number(a), number(b); na != nb {
			return na < nb
		}
		return Name(a) < Name(b)
	})
}

// number is a container's container-number label (0 if none).
func number(ct container.Summary) int {
	n, _ := strconv.Atoi(ct.Labels[LabelNumber])
	return n
}

// Name is a container's name without the leading slash.
func Name(ct container.Summary) string {
	for _, n := range ct.Names {
		n = strings.TrimPrefix(n, "/")
		if !strings.Contains(n, "/") {
			return n
		}
	}
	if len(ct.ID) > 12 {
		return ct.ID[:12]
	}
	return ct.ID
}

// selectServices is p reduced to the named services (and, with deps,
// what they depend on). No names is every service.
func selectServices(p *types.Project, names []string, deps bool) (*types.Project, error) {
	for _, n := range names {
		if _, ok := p.Services[n]; !ok {
			if _, off := p.DisabledServices[n]; off {
				return nil, invalidf("service %q is not enabled by the active profiles", n)
			}
			return nil, withClass(errNoSuchService(n), errdefs.ErrNotFound)
		}
	}
	opt := types.IncludeDependencies
	if !deps {
		opt = types.IgnoreDependencies
	}
	return p.WithSelectedServices(names, opt)
}

type errNoSuchService string

func (e errNoSuchService) Error() string { return "no such service: " + string(e) }
