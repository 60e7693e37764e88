package compose

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// RunOptions are run's flags.
type RunOptions struct {
	Service string
	// Command replaces the service's command unless nil.
	Command []string
	// Entrypoint replaces the service's entrypoint unless nil.
	Entrypoint []string
	// Env adds KEY=VALUE (or KEY, taken from the environment the project
	// was loaded with) variables.
	Env []string
	// Labels add KEY=VALUE labels.
	Labels  []string
	Name    string
	User    string
	Workdir string
	// Remove removes the container when it exits (--rm).
	Remove bool
	// Interactive keeps stdin open and attached; Tty allocates a
	// terminal.
	Interactive, Tty bool
	// NoDeps does not start the services the service depends on.
	NoDeps bool
	// ServicePorts publishes the service's ports (they are left out
	// otherwise, so a run does not clash with the service's container).
	ServicePorts bool
	// UseAliases gives the container the service's DNS aliases.
	UseAliases bool
}

// CreateOneOff brings up what service o.Service depends on (unless
// NoDeps) and creates a one-off container of it, as `docker compose run`
// does: named <project>-<service>-run-<slug>, labelled oneoff. The
// caller attaches to and starts it. It returns the container's ID and
// name.
func (c *Compose) CreateOneOff(ctx context.Context, p *types.Project, o RunOptions) (string, string, error) {
	s, ok := p.Services[o.Service]
	if !ok {
		if _, off := p.DisabledServices[o.Service]; off {
			s = p.DisabledServices[o.Service]
			var err error
			if p, err = p.WithServicesEnabled(o.Service); err != nil {
				return "", "", err
			}
		} else {
			return "", "", withClass(errNoSuchService(o.Service), errdefs.ErrNotFound)
		}
	}
	deps := s.GetDependencies()
	if !o.NoDeps && len(deps) > 0 {
		if err := c.Up(ctx, p, UpOptions{Services: deps}); err != nil {
			return "", "", err
		}
	}
	one, err := selectServices(p, []string{o.Service}, false)
	if err != nil {
		return "", "", err
	}
	images, err := c.ensureImages(ctx, one, imageOptions{})
	if err != nil {
		return "", "", err
	}
	if err := c.ensureResources(ctx, one); err != nil {
		return "", "", err
	}
	if o.Command != nil {
		s.Command = o.Command
	}
	if o.Entrypoint != nil {
		s.Entrypoint = o.Entrypoint
	}
	if o.User != "" {
		s.User = o.User
	}
	if o.Workdir != "" {
		s.WorkingDir = o.Workdir
	}
	if !o.ServicePorts {
		s.Ports = nil
	}
	if o.Tty {
		s.Tty = true
	}
	env := types.MappingWithEquals{}
	for k, v := range s.Environment {
		env[k] = v
	}
	for _, e := range o.Env {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			if val, set := p.Environment[k]; set {
				env[k] = &val
				continue
			}
			env[k] = nil
			continue
		}
		env[k] = &v
	}
	s.Environment = env
	labels := types.Labels{}
	for k, v := range s.Labels {
		labels[k] = v
	}
	for _, l := range o.Labels {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}
	s.Labels = labels
	s.ContainerName = ""
	s.Restart = ""
	if s.Deploy != nil {
		d := *s.Deploy
		d.RestartPolicy = nil
		s.Deploy = &d
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	slug := hex.EncodeToString(b[:])
	name := o.Name
	if name == "" {
		name = p.Name + separator + s.Name + separator + "run" + separator + slug[:12]
	}
	hash, err := ServiceHash(s)
	if err != nil {
		return "", "", err
	}
	spec := createSpec{
		number: 1, name: name, hash: hash, imageID: images[s.Name], oneoff: true, slug: slug,
		serviceAlias: o.UseAliases, autoRemove: o.Remove, interactive: o.Interactive,
	}
	id, err := c.create(ctx, p, s, spec)
	if err != nil {
		return "", "", err
	}
	return id, name, nil
}

// ServiceContainer is container number index (from 1) of service, for
// exec: an error names what is missing.
func (c *Compose) ServiceContainer(ctx context.Context, project, service string, index int) (string, string, error) {
	cts, err := c.Containers(ctx, project, ContainerFilter{Services: []string{service}})
	if err != nil {
		return "", "", err
	}
	for _, ct := range cts {
		if number(ct) == index {
			return ct.ID, Name(ct), nil
		}
	}
	if len(cts) == 0 {
		return "", "", withClass(fmt.Errorf("service %q is not running", service), errdefs.ErrNotFound)
	}
	return "", "", withClass(fmt.Errorf("service %q is not running container #%d", service, index), errdefs.ErrNotFound)
}
