package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/compose"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// `shoal compose` runs Compose projects on the client, as Docker Compose
// v2 does: internal/compose loads the project and reconciles it through
// composeEngine, an adapter of the HTTP client, so it works against any
// daemon of the Engine API.

// composeEngine is compose.Engine over the API client.
type composeEngine struct{ c *client.Client }

var _ compose.Engine = composeEngine{}

func (e composeEngine) ContainerList(ctx context.Context, all bool, filters map[string][]string) ([]container.Summary, error) {
	return e.c.ContainerList(ctx, client.ListOptions{All: all, Filters: filters})
}

func (e composeEngine) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	info, _, err := e.c.ContainerInspect(ctx, id)
	return info, err
}

func (e composeEngine) ContainerCreate(ctx context.Context, name string, req container.CreateRequest) (string, error) {
	resp, err := e.c.ContainerCreate(ctx, name, "", req)
	return resp.ID, err
}

func (e composeEngine) ContainerStart(ctx context.Context, id string) error {
	return e.c.ContainerStart(ctx, id)
}

func (e composeEngine) ContainerStop(ctx context.Context, id string, timeout *int) error {
	return e.c.ContainerStop(ctx, id, "", timeout)
}

func (e composeEngine) ContainerRestart(ctx context.Context, id string, timeout *int) error {
	return e.c.ContainerRestart(ctx, id, "", timeout)
}

func (e composeEngine) ContainerRemove(ctx context.Context, id string, force, volumes bool) error {
	return e.c.ContainerRemove(ctx, id, force, volumes)
}

func (e composeEngine) NetworkInspect(ctx context.Context, name string) (network.Inspect, error) {
	n, _, err := e.c.NetworkInspect(ctx, name)
	return n, err
}

func (e composeEngine) NetworkCreate(ctx context.Context, req network.CreateRequest) (string, error) {
	resp, err := e.c.NetworkCreate(ctx, req)
	return resp.ID, err
}

func (e composeEngine) NetworkList(ctx context.Context, filters map[string][]string) ([]network.Summary, error) {
	return e.c.NetworkList(ctx, filters)
}

func (e composeEngine) NetworkRemove(ctx context.Context, id string) error {
	return e.c.NetworkRemove(ctx, id)
}

func (e composeEngine) VolumeInspect(ctx context.Context, name string) (volume.Volume, error) {
	v, _, err := e.c.VolumeInspect(ctx, name)
	return v, err
}

func (e composeEngine) VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error) {
	return e.c.VolumeCreate(ctx, req)
}

func (e composeEngine) VolumeList(ctx context.Context, filters map[string][]string) ([]volume.Volume, error) {
	resp, err := e.c.VolumeList(ctx, filters)
	if err != nil {
		return nil, err
	}
	return resp.Volumes, nil
}

func (e composeEngine) VolumeRemove(ctx context.Context, name string, force bool) error {
	return e.c.VolumeRemove(ctx, name, force)
}

func (e composeEngine) ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	info, _, err := e.c.ImageInspect(ctx, ref)
	return info, err
}

func (e composeEngine) ImagePull(ctx context.Context, ref, platform string, progress io.Writer) error {
	body, err := e.c.ImagePull(ctx, ref, platform, "")
	if err != nil {
		return err
	}
	defer body.Close()
	return displayMessages(body, progress, false, nil)
}

func (e composeEngine) ImageBuild(ctx context.Context, req compose.BuildRequest, progress io.Writer) error {
	body, err := e.c.ImageBuild(ctx, req.Context, client.BuildOptions{
		Tags: req.Tags, Dockerfile: req.Dockerfile, BuildArgs: req.Args, Labels: req.Labels, Target: req.Target,
		NetworkMode: req.Network, Platform: req.Platform, Pull: req.Pull, NoCache: req.NoCache, Remove: true,
	})
	if err != nil {
		return err
	}
	defer body.Close()
	return displayMessages(body, progress, false, nil)
}

func (e composeEngine) Events(ctx context.Context, filters map[string][]string) (<-chan events.Message, <-chan error, error) {
	body, err := e.c.Events(ctx, "", "", filters)
	if err != nil {
		return nil, nil, err
	}
	msgs := make(chan events.Message)
	errs := make(chan error, 1)
	go func() {
		defer close(msgs)
		defer body.Close()
		dec := json.NewDecoder(body)
		for {
			var m events.Message
			if err := dec.Decode(&m); err != nil {
				if ctx.Err() != nil {
					err = nil
				}
				errs <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				errs <- nil
				return
			}
		}
	}()
	return msgs, errs, nil
}

// composeOptions are compose's global flags.
type composeOptions struct {
	files      []string
	project    string
	profiles   []string
	projectDir string
	envFiles   []string
}

func (o *composeOptions) loadOptions() compose.LoadOptions {
	return compose.LoadOptions{Files: o.files, WorkingDir: o.projectDir, Name: o.project, Profiles: o.profiles, Env: os.Environ(), EnvFiles: o.envFiles}
}

// load loads the project.
func (o *composeOptions) load(ctx context.Context) (*types.Project, error) {
	return compose.Load(ctx, o.loadOptions())
}

// loadOrName loads the project or, when there is no compose file but a
// project name (-p or $COMPOSE_PROJECT_NAME), names one without
// services: enough for ps, logs, down, stop.
func (o *composeOptions) loadOrName(ctx context.Context) (*types.Project, error) {
	p, err := o.load(ctx)
	if err == nil || !errdefs.IsNotFound(err) {
		return p, err
	}
	name := o.project
	if name == "" {
		name = os.Getenv("COMPOSE_PROJECT_NAME")
	}
	if name == "" {
		return nil, err
	}
	return &types.Project{Name: compose.NormalizeProjectName(name)}, nil
}

// progressPrinter prints compose's progress events as Docker Compose's
// plain progress does: " Container myapp-web-1  Started".
type progressPrinter struct {
	mu sync.Mutex
	w  io.Writer
}

func (pp *progressPrinter) event(e compose.Event) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	switch {
	case e.Status == "Warning":
		fmt.Fprintf(pp.w, "WARN[0000] %s\n", e.Text)
	case e.Text != "":
		fmt.Fprintf(pp.w, " %s %s  %s %s\n", e.Kind, e.Name, e.Status, e.Text)
	default:
		fmt.Fprintf(pp.w, " %s %s  %s\n", e.Kind, e.Name, e.Status)
	}
}

// composer returns the client and a Compose printing progress to the
// command's stderr (nothing with quiet).
// onProject is the RunE of a verb that acts on the project load gives
// through the composer.
func (cl *cli) onProject(load func(context.Context) (*types.Project, error), fn func(ctx context.Context, cp *compose.Compose, p *types.Project, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		p, err := load(cmd.Context())
		if err != nil {
			return err
		}
		_, cp, err := cl.composer(cmd, false)
		if err != nil {
			return err
		}
		return fn(cmd.Context(), cp, p, args)
	}
}

func (cl *cli) composer(cmd *cobra.Command, quiet bool) (*client.Client, *compose.Compose, error) {
	c, err := cl.client()
	if err != nil {
		return nil, nil, err
	}
	o := compose.Options{Output: errOut(cmd)}
	if !quiet {
		pp := &progressPrinter{w: errOut(cmd)}
		o.Progress = pp.event
	} else {
		o.Output = io.Discard
	}
	return c, compose.New(composeEngine{c}, o), nil
}

// composeLogFormatter prints compose-go's warnings as Compose does.
type composeLogFormatter struct{}

func (composeLogFormatter) Format(e *logrus.Entry) ([]byte, error) {
	level := strings.ToUpper(e.Level.String())
	if len(level) > 4 {
		level = level[:4]
	}
	return []byte(fmt.Sprintf("%s[0000] %s\n", level, e.Message)), nil
}

// newComposeCmd is `shoal compose`. Its global flags (-f, -p, ...) come
// before the verb and its verbs have flags of the same letters (logs -f),
// so, as Docker Compose does, the verbs live in a tree of their own whose
// root parses its flags before descending (TraverseChildren).
func (cl *cli) newComposeCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "compose [OPTIONS] COMMAND",
		Short:              "Define and run multi-container applications",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Under a root of the same name, for messages that read
			// "shoal compose up".
			top := &cobra.Command{Use: cmd.Root().Name(), TraverseChildren: true, SilenceUsage: true, SilenceErrors: true}
			top.CompletionOptions.DisableDefaultCmd = true
			top.AddCommand(cl.composeRoot())
			top.SetArgs(append([]string{"compose"}, args...))
			top.SetIn(cmd.InOrStdin())
			top.SetOut(cmd.OutOrStdout())
			top.SetErr(cmd.ErrOrStderr())
			err := top.ExecuteContext(cmd.Context())
			var ee exitError
			if err != nil && !errors.As(err, &ee) {
				// A flag or argument error cobra returned itself.
				fmt.Fprintln(errOut(cmd), err)
				return exitError(1)
			}
			return err
		},
	}
}

// composeRoot is the tree of compose's verbs.
func (cl *cli) composeRoot() *cobra.Command {
	o := &composeOptions{}
	root := &cobra.Command{
		Use:              "compose [OPTIONS] COMMAND",
		Short:            "Define and run multi-container applications",
		Args:             noArgs,
		TraverseChildren: true,
		SilenceUsage:     true,
		SilenceErrors:    true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			logrus.SetOutput(errOut(cmd))
			logrus.SetFormatter(composeLogFormatter{})
		},
	}
	fs := root.Flags()
	fs.StringVarP(&cl.host, "host", "H", cl.host, "daemon socket to connect to")
	_ = fs.MarkHidden("host")
	fs.StringArrayVarP(&o.files, "file", "f", nil, "Compose configuration files")
	fs.StringVarP(&o.project, "project-name", "p", "", "Project name")
	fs.StringArrayVar(&o.profiles, "profile", nil, "Specify a profile to enable")
	fs.StringVar(&o.projectDir, "project-directory", "", "Specify an alternate working directory (default: the path of the first specified Compose file)")
	fs.StringArrayVar(&o.envFiles, "env-file", nil, "Specify an alternate environment file")
	root.AddCommand(
		cl.composeUpCmd(o), cl.composeCreateCmd(o), cl.composeDownCmd(o), cl.composePsCmd(o), cl.composeLogsCmd(o),
		cl.composeBuildCmd(o), cl.composePullCmd(o), cl.composeConfigCmd(o), cl.composeExecCmd(o), cl.composeRunCmd(o),
		cl.composeStopCmd(o), cl.composeStartCmd(o), cl.composeRestartCmd(o), cl.composeRmCmd(o), cl.composeKillCmd(o),
		cl.composeLsCmd(), composeVersionCmd(),
	)
	return setupCmd(root)
}

// composeVersionCmd prints the Compose version shoal compose follows.
func composeVersionCmd() *cobra.Command {
	var short bool
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the Docker Compose version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if short {
				fmt.Fprintln(out(cmd), compose.Version)
				return nil
			}
			fmt.Fprintf(out(cmd), "Docker Compose version v%s (shoal compose)\n", compose.Version)
			return nil
		},
	}
	cmd.Flags().BoolVar(&short, "short", false, "Shows only Compose's version number")
	return cmd
}

// timeoutFlag is -t/--timeout: unset is nil.
type timeoutFlag struct{ v *int }

func (t *timeoutFlag) String() string {
	if t.v == nil {
		return ""
	}
	return strconv.Itoa(*t.v)
}

func (t *timeoutFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("invalid timeout %q", s)
	}
	t.v = &n
	return nil
}

func (t *timeoutFlag) Type() string { return "int" }

func parseScale(list []string) (map[string]int, error) {
	out := map[string]int{}
	for _, s := range list {
		name, n, ok := strings.Cut(s, "=")
		v, err := strconv.Atoi(n)
		if !ok || err != nil || name == "" {
			return nil, fmt.Errorf("invalid --scale %q: want SERVICE=NUM", s)
		}
		out[name] = v
	}
	return out, nil
}

func (cl *cli) composeUpCmd(o *composeOptions) *cobra.Command {
	var (
		up                   compose.UpOptions
		detach, quietPull    bool
		scale                []string
		timeout              timeoutFlag
		abortOnExit, noColor bool
	)
	cmd := &cobra.Command{
		Use:   "up [OPTIONS] [SERVICE...]",
		Short: "Create and start containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if up.Scale, err = parseScale(scale); err != nil {
				return err
			}
			if up.Build && up.NoBuild {
				return errors.New("--build and --no-build are incompatible")
			}
			if up.ForceRecreate && up.NoRecreate {
				return errors.New("--force-recreate and --no-recreate are incompatible")
			}
			if up.Wait {
				detach = true
			}
			up.Services, up.Timeout = args, timeout.v
			ctx := cmd.Context()
			p, err := o.load(ctx)
			if err != nil {
				return err
			}
			c, cp, err := cl.composer(cmd, false)
			if err != nil {
				return err
			}
			if detach || up.NoStart {
				return cp.Up(ctx, p, up)
			}
			// Attached: follow the logs until every container exits; on
			// Ctrl+C stop the project, as Compose does.
			sigc := make(chan os.Signal, 2)
			signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigc)
			if err := cp.Up(ctx, p, up); err != nil {
				return err
			}
			cts, err := cp.Containers(ctx, p.Name, compose.ContainerFilter{Services: args, All: true})
			if err != nil {
				return err
			}
			lctx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- followLogs(lctx, c, p.Name, cts, logOptions{follow: true, stopOnFirstExit: abortOnExit}, out(cmd))
			}()
			select {
			case err := <-done:
				if abortOnExit {
					fmt.Fprintln(errOut(cmd), "Aborting on container exit...")
					return cp.Stop(context.WithoutCancel(ctx), p, args, up.Timeout)
				}
				return err
			case <-sigc:
				fmt.Fprintln(errOut(cmd), "Gracefully stopping... (press Ctrl+C again to force)")
				cancel()
				return cp.Stop(context.WithoutCancel(ctx), p, args, up.Timeout)
			}
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&detach, "detach", "d", false, "Detached mode: Run containers in the background")
	fs.BoolVar(&up.Build, "build", false, "Build images before starting containers")
	fs.BoolVar(&up.NoBuild, "no-build", false, "Don't build an image, even if it's policy")
	fs.StringArrayVar(&scale, "scale", nil, "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present")
	fs.BoolVar(&up.NoStart, "no-start", false, "Don't start the services after creating them")
	fs.BoolVar(&up.NoDeps, "no-deps", false, "Don't start linked services")
	fs.BoolVar(&up.ForceRecreate, "force-recreate", false, "Recreate containers even if their configuration and image haven't changed")
	fs.BoolVar(&up.NoRecreate, "no-recreate", false, "If containers already exist, don't recreate them")
	fs.BoolVar(&up.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	fs.VarP(&timeout, "timeout", "t", "Use this timeout in seconds for container shutdown when attached or when containers are already running")
	fs.BoolVar(&up.Wait, "wait", false, "Wait for services to be running|healthy. Implies detached mode")
	fs.StringVar(&up.Pull, "pull", "", `Pull image before running ("always"|"missing"|"never")`)
	fs.BoolVar(&quietPull, "quiet-pull", false, "Pull without printing progress information")
	fs.BoolVar(&abortOnExit, "abort-on-container-exit", false, "Stops all containers if any container was stopped")
	fs.BoolVar(&noColor, "no-color", false, "Produce monochrome output")
	return cmd
}

func (cl *cli) composeCreateCmd(o *composeOptions) *cobra.Command {
	var up compose.UpOptions
	var scale []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [SERVICE...]",
		Short: "Creates containers for a service",
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if up.Scale, err = parseScale(scale); err != nil {
				return err
			}
			up.Services, up.NoStart = args, true
			p, err := o.load(cmd.Context())
			if err != nil {
				return err
			}
			_, cp, err := cl.composer(cmd, false)
			if err != nil {
				return err
			}
			return cp.Up(cmd.Context(), p, up)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&up.Build, "build", false, "Build images before starting containers")
	fs.BoolVar(&up.NoBuild, "no-build", false, "Don't build an image, even if it's policy")
	fs.StringArrayVar(&scale, "scale", nil, "Scale SERVICE to NUM instances")
	fs.BoolVar(&up.ForceRecreate, "force-recreate", false, "Recreate containers even if their configuration and image haven't changed")
	fs.BoolVar(&up.NoRecreate, "no-recreate", false, "If containers already exist, don't recreate them")
	fs.BoolVar(&up.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	fs.StringVar(&up.Pull, "pull", "", `Pull image before running ("always"|"missing"|"never")`)
	return cmd
}

func (cl *cli) composeDownCmd(o *composeOptions) *cobra.Command {
	var down compose.DownOptions
	var timeout timeoutFlag
	var rmi string
	cmd := &cobra.Command{
		Use:   "down [OPTIONS] [SERVICES]",
		Short: "Stop and remove containers, networks",
		RunE: func(cmd *cobra.Command, args []string) error {
			if rmi != "" {
				return errors.New("the --rmi flag is not supported by shoal yet")
			}
			if len(args) > 0 {
				return errors.New("shoal compose down takes no service names yet")
			}
			down.Timeout = timeout.v
			p, err := o.loadOrName(cmd.Context())
			if err != nil {
				return err
			}
			_, cp, err := cl.composer(cmd, false)
			if err != nil {
				return err
			}
			return cp.Down(cmd.Context(), p, down)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&down.Volumes, "volumes", "v", false, "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers")
	fs.BoolVar(&down.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	fs.VarP(&timeout, "timeout", "t", "Specify a shutdown timeout in seconds")
	fs.StringVar(&rmi, "rmi", "", `Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")`)
	return cmd
}

// composeRow is one container for compose ps's templates.
type composeRow struct{ *containerRow }

func (r composeRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }
func (r composeRow) ID() string                   { return r.c.ID }
func (r composeRow) Name() string                 { return compose.Name(r.c) }
func (r composeRow) Service() string              { return r.c.Labels[compose.LabelService] }
func (r composeRow) Project() string              { return r.c.Labels[compose.LabelProject] }
func (r composeRow) Image() string                { return r.c.Image }
func (r composeRow) Health() string {
	if r.c.Health != nil {
		return string(r.c.Health.Status)
	}
	return ""
}

func (r composeRow) ExitCode() int {
	if r.c.State != container.StateExited {
		return 0
	}
	// Status reads "Exited (N) ..." as dockerd writes it.
	if _, rest, ok := strings.Cut(r.c.Status, "("); ok {
		if n, _, ok := strings.Cut(rest, ")"); ok {
			code, _ := strconv.Atoi(n)
			return code
		}
	}
	return 0
}

var composePsHeader = map[string]string{
	"ID": "CONTAINER ID", "Name": "NAME", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "Service": "SERVICE",
	"RunningFor": "CREATED", "CreatedAt": "CREATED AT", "Status": "STATUS", "State": "STATE", "Ports": "PORTS",
	"Project": "PROJECT", "Health": "HEALTH", "ExitCode": "EXIT CODE", "Labels": "LABELS", "Networks": "NETWORKS",
}

func (cl *cli) composePsCmd(o *composeOptions) *cobra.Command {
	var all, quiet, services bool
	var format string
	var status []string
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] [SERVICE...]",
		Short: "List containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := o.loadOrName(ctx)
			if err != nil {
				return err
			}
			_, cp, err := cl.composer(cmd, true)
			if err != nil {
				return err
			}
			for _, s := range args {
				if _, ok := p.Services[s]; !ok && len(p.Services) > 0 {
					return fmt.Errorf("no such service: %s", s)
				}
			}
			cts, err := cp.Containers(ctx, p.Name, compose.ContainerFilter{Services: args, All: all || len(status) > 0, Oneoff: true})
			if err != nil {
				return err
			}
			if len(status) > 0 {
				keep := cts[:0]
				for _, ct := range cts {
					for _, st := range status {
						if string(ct.State) == st {
							keep = append(keep, ct)
							break
						}
					}
				}
				cts = keep
			}
			if services {
				seen := map[string]bool{}
				for _, ct := range cts {
					if s := ct.Labels[compose.LabelService]; !seen[s] {
						seen[s] = true
						fmt.Fprintln(out(cmd), s)
					}
				}
				return nil
			}
			rows := make([]any, len(cts))
			for i, ct := range cts {
				rows[i] = composeRow{&containerRow{c: ct, trunc: true}}
			}
			l := lister{format: format, header: composePsHeader,
				table: "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"}
			if quiet {
				l.quiet = "{{.ID}}"
			}
			return l.write(out(cmd), rows)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all stopped containers (including those created by the run command)")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display IDs")
	fs.BoolVar(&services, "services", false, "Display services")
	fs.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	fs.StringArrayVar(&status, "status", nil, "Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]")
	return cmd
}

// logOptions are how logs are followed.
type logOptions struct {
	follow, timestamps, noPrefix bool
	tail, since, until           string
	// stopOnFirstExit ends all streams when one ends.
	stopOnFirstExit bool
}

// prefixWriter writes whole lines, each with a prefix, to a shared
// writer.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (pw *prefixWriter) Write(p []byte) (int, error) {
	pw.buf = append(pw.buf, p...)
	for {
		i := bytes.IndexByte(pw.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		pw.mu.Lock()
		_, err := fmt.Fprintf(pw.w, "%s%s\n", pw.prefix, pw.buf[:i])
		pw.mu.Unlock()
		pw.buf = pw.buf[i+1:]
		if err != nil {
			return len(p), err
		}
	}
}

// flush writes what is left of a last line without its newline.
func (pw *prefixWriter) flush() {
	if len(pw.buf) > 0 {
		_, _ = pw.Write([]byte{'\n'})
	}
}

// followLogs streams the logs of containers, each line prefixed with the
// container's name less the project's ("web-1  | "), until every stream
// ends (or ctx ends).
func followLogs(ctx context.Context, c *client.Client, project string, cts []container.Summary, o logOptions, w io.Writer) error {
	width := 0
	prefixes := make([]string, len(cts))
	for i, ct := range cts {
		prefixes[i] = strings.TrimPrefix(compose.Name(ct), project+"-")
		width = max(width, len(prefixes[i]))
	}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(cts))
	for i, ct := range cts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if o.stopOnFirstExit {
				defer cancel()
			}
			prefix := ""
			if !o.noPrefix {
				prefix = fmt.Sprintf("%-*s | ", width, prefixes[i])
			}
			pw := &prefixWriter{mu: &mu, w: w, prefix: prefix}
			defer pw.flush()
			info, _, err := c.ContainerInspect(ctx, ct.ID)
			if err != nil {
				errs[i] = err
				return
			}
			body, err := c.ContainerLogs(ctx, ct.ID, client.LogsOptions{Stdout: true, Stderr: true, Follow: o.follow,
				Timestamps: o.timestamps, Tail: o.tail, Since: o.since, Until: o.until})
			if err != nil {
				errs[i] = err
				return
			}
			defer body.Close()
			if info.Config != nil && info.Config.Tty {
				_, err = io.Copy(pw, body)
			} else {
				_, err = client.Demux(pw, pw, body)
			}
			if err != nil && ctx.Err() == nil {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (cl *cli) composeLogsCmd(o *composeOptions) *cobra.Command {
	var lo logOptions
	var noColor bool
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] [SERVICE...]",
		Short: "View output from containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := o.loadOrName(ctx)
			if err != nil {
				return err
			}
			c, cp, err := cl.composer(cmd, true)
			if err != nil {
				return err
			}
			cts, err := cp.Containers(ctx, p.Name, compose.ContainerFilter{Services: args, All: true})
			if err != nil {
				return err
			}
			if lo.follow {
				sctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
				ctx = sctx
			}
			return followLogs(ctx, c, p.Name, cts, lo, out(cmd))
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&lo.follow, "follow", "f", false, "Follow log output")
	fs.StringVarP(&lo.tail, "tail", "n", "all", "Number of lines to show from the end of the logs for each container")
	fs.BoolVarP(&lo.timestamps, "timestamps", "t", false, "Show timestamps")
	fs.BoolVar(&lo.noPrefix, "no-log-prefix", false, "Don't print prefix in logs")
	fs.StringVar(&lo.since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	fs.StringVar(&lo.until, "until", "", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	fs.BoolVar(&noColor, "no-color", false, "Produce monochrome output")
	return cmd
}

func (cl *cli) composeBuildCmd(o *composeOptions) *cobra.Command {
	var bo compose.BuildOptions
	var args []string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] [SERVICE...]",
		Short: "Build or rebuild services",
		RunE: func(cmd *cobra.Command, services []string) error {
			bo.Args = map[string]string{}
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					v, ok = os.LookupEnv(k)
					if !ok {
						continue
					}
				}
				bo.Args[k] = v
			}
			p, err := o.load(cmd.Context())
			if err != nil {
				return err
			}
			_, cp, err := cl.composer(cmd, quiet)
			if err != nil {
				return err
			}
			return cp.Build(cmd.Context(), p, services, bo)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&bo.NoCache, "no-cache", false, "Do not use cache when building the image")
	fs.BoolVar(&bo.Pull, "pull", false, "Always attempt to pull a newer version of the image")
	fs.StringArrayVar(&args, "build-arg", nil, "Set build-time variables for services")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Don't print anything to STDOUT")
	return cmd
}

func (cl *cli) composePullCmd(o *composeOptions) *cobra.Command {
	var po compose.PullOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] [SERVICE...]",
		Short: "Pull service images",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := o.load(cmd.Context())
			if err != nil {
				return err
			}
			_, cp, err := cl.composer(cmd, quiet)
			if err != nil {
				return err
			}
			return cp.Pull(cmd.Context(), p, args, po)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&po.IgnoreFailures, "ignore-pull-failures", false, "Pull what it can and ignores images with pull failures")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Pull without printing progress information")
	return cmd
}

func (cl *cli) composeConfigCmd(o *composeOptions) *cobra.Command {
	var quiet, services, volumes, networks, images bool
	var format, output string
	cmd := &cobra.Command{
		Use:     "config [OPTIONS] [SERVICE...]",
		Aliases: []string{"convert"},
		Short:   "Parse, resolve and render compose file in canonical format",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := o.load(cmd.Context())
			if err != nil {
				return err
			}
			if len(args) > 0 {
				if p, err = p.WithSelectedServices(args); err != nil {
					return err
				}
			}
			w := out(cmd)
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			switch {
			case quiet:
				return nil
			case services:
				for _, s := range p.ServiceNames() {
					fmt.Fprintln(w, s)
				}
				return nil
			case volumes:
				for _, v := range p.VolumeNames() {
					fmt.Fprintln(w, v)
				}
				return nil
			case networks:
				for _, n := range p.NetworkNames() {
					fmt.Fprintln(w, n)
				}
				return nil
			case images:
				for _, s := range p.ServiceNames() {
					fmt.Fprintln(w, compose.ImageName(p.Name, p.Services[s]))
				}
				return nil
			}
			var b []byte
			switch format {
			case "", "yaml":
				b, err = p.MarshalYAML()
			case "json":
				b, err = p.MarshalJSON()
			default:
				return fmt.Errorf("unsupported format %q", format)
			}
			if err != nil {
				return err
			}
			_, err = w.Write(b)
			return err
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only validate the configuration, don't print anything")
	fs.BoolVar(&services, "services", false, "Print the service names, one per line")
	fs.BoolVar(&volumes, "volumes", false, "Print the volume names, one per line")
	fs.BoolVar(&networks, "networks", false, "Print the network names, one per line")
	fs.BoolVar(&images, "images", false, "Print the image names, one per line")
	fs.StringVar(&format, "format", "", `Format the output. Values: [yaml | json]`)
	fs.StringVarP(&output, "output", "o", "", "Save to file (default to stdout)")
	return cmd
}

// execOptions are compose exec's and run's stream settings.
type execOptions struct {
	noTTY, detach, privileged bool
	user, workdir             string
	env                       []string
	index                     int
}

func (cl *cli) composeExecCmd(o *composeOptions) *cobra.Command {
	var eo execOptions
	var interactive bool
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SERVICE COMMAND [ARGS...]",
		Short: "Execute a command in a running container",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := o.loadOrName(ctx)
			if err != nil {
				return err
			}
			c, cp, err := cl.composer(cmd, true)
			if err != nil {
				return err
			}
			id, _, err := cp.ServiceContainer(ctx, p.Name, args[0], eo.index)
			if err != nil {
				return err
			}
			stdin := cmd.InOrStdin()
			_, stdinTTY := terminalFd(stdin)
			tty := !eo.noTTY && stdinTTY
			req := container.ExecCreateRequest{
				User: eo.user, Privileged: eo.privileged, Tty: tty, Cmd: args[1:], WorkingDir: eo.workdir, Env: eo.env,
			}
			if !eo.detach {
				req.AttachStdout, req.AttachStderr, req.AttachStdin = true, true, interactive
			}
			return cl.execIn(cmd, c, id, req)
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.BoolVarP(&eo.noTTY, "no-TTY", "T", false, "Disable pseudo-TTY allocation. By default `shoal compose exec` allocates a TTY when its input is one")
	fs.BoolVarP(&eo.detach, "detach", "d", false, "Detached mode: Run command in the background")
	fs.BoolVarP(&interactive, "interactive", "i", true, "Keep STDIN open even if not attached")
	fs.BoolVar(&eo.privileged, "privileged", false, "Give extended privileges to the process")
	fs.StringVarP(&eo.user, "user", "u", "", "Run the command as this user")
	fs.StringVarP(&eo.workdir, "workdir", "w", "", "Path to workdir directory for this command")
	fs.VarP(&listValue{v: &eo.env, validate: validateEnv}, "env", "e", "Set environment variables")
	fs.IntVar(&eo.index, "index", 1, "Index of the container if service has multiple replicas")
	return cmd
}

// execIn runs an exec instance in container id as `docker exec` does
// and exits with its code.
func (cl *cli) execIn(cmd *cobra.Command, c *client.Client, id string, req container.ExecCreateRequest) error {
	ctx := cmd.Context()
	stdin := cmd.InOrStdin()
	if req.Tty {
		h, w := ttySize(out(cmd))
		req.ConsoleSize = &[2]uint{h, w}
	}
	execID, err := c.ExecCreate(ctx, id, req)
	if err != nil {
		return err
	}
	if !req.AttachStdout {
		return c.ExecStartDetached(ctx, execID)
	}
	conn, err := c.ExecAttach(ctx, execID, container.ExecStartRequest{Tty: req.Tty, ConsoleSize: req.ConsoleSize})
	if err != nil {
		return err
	}
	defer conn.Close()
	s := &streamer{conn: conn, tty: req.Tty, out: out(cmd), errw: errOut(cmd)}
	if req.Tty {
		s.errw = out(cmd)
	}
	if req.AttachStdin {
		s.in = stdin
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if req.Tty {
		monitorTTYSize(sctx, out(cmd), func(ctx context.Context, h, w uint) error {
			return c.ExecResize(ctx, execID, h, w)
		})
	}
	if err := s.run(sctx); err != nil && !errors.Is(err, errDetached) {
		return err
	}
	res, err := c.ExecInspect(ctx, execID)
	if err != nil {
		return err
	}
	if res.ExitCode != nil && *res.ExitCode != 0 {
		return exitError(*res.ExitCode)
	}
	return nil
}

func (cl *cli) composeRunCmd(o *composeOptions) *cobra.Command {
	var (
		ro                 compose.RunOptions
		detach, noTTY      bool
		entrypoint         string
		entrypointSet      bool
		interactive, ttyOn bool
	)
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE [COMMAND] [ARGS...]",
		Short: "Run a one-off command on a service",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ro.Service = args[0]
			if len(args) > 1 {
				ro.Command = args[1:]
			}
			if entrypointSet = cmd.Flags().Changed("entrypoint"); entrypointSet {
				ro.Entrypoint = []string{}
				if entrypoint != "" {
					ro.Entrypoint = []string{entrypoint}
				}
			}
			stdin := cmd.InOrStdin()
			_, stdinTTY := terminalFd(stdin)
			ro.Tty = !noTTY && stdinTTY && !detach
			if ttyOn {
				ro.Tty = true
			}
			ro.Interactive = interactive && !detach
			p, err := o.load(ctx)
			if err != nil {
				return err
			}
			c, cp, err := cl.composer(cmd, false)
			if err != nil {
				return err
			}
			id, name, err := cp.CreateOneOff(ctx, p, ro)
			if err != nil {
				return err
			}
			if detach {
				if err := c.ContainerStart(ctx, id); err != nil {
					return err
				}
				fmt.Fprintln(out(cmd), name)
				return nil
			}
			return cl.attachRun(cmd, c, id, ro)
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	fs.BoolVar(&ro.Remove, "rm", false, "Automatically remove the container when it exits")
	fs.BoolVarP(&noTTY, "no-TTY", "T", false, "Disable pseudo-TTY allocation (default: auto-detected)")
	fs.BoolVarP(&ttyOn, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVarP(&interactive, "interactive", "i", true, "Keep STDIN open even if not attached")
	fs.StringVar(&ro.Name, "name", "", "Assign a name to the container")
	fs.StringVar(&entrypoint, "entrypoint", "", "Override the entrypoint of the image")
	fs.VarP(&listValue{v: &ro.Env}, "env", "e", "Set environment variables")
	fs.StringArrayVarP(&ro.Labels, "label", "l", nil, "Add or override a label")
	fs.StringVarP(&ro.User, "user", "u", "", "Run as specified username or uid")
	fs.StringVarP(&ro.Workdir, "workdir", "w", "", "Working directory inside the container")
	fs.BoolVar(&ro.NoDeps, "no-deps", false, "Don't start linked services")
	fs.BoolVar(&ro.ServicePorts, "service-ports", false, "Run command with all service's ports enabled and mapped to the host")
	fs.BoolVar(&ro.UseAliases, "use-aliases", false, "Use the service's network useAliases in the network(s) the container connects to")
	return cmd
}

// attachRun attaches to a created one-off container, starts it, streams
// until it exits and exits with its code, as `docker run` does.
func (cl *cli) attachRun(cmd *cobra.Command, c *client.Client, id string, ro compose.RunOptions) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(cmd.Context()))
	defer cancel()
	stdin := cmd.InOrStdin()
	conn, err := c.ContainerAttach(ctx, id, client.AttachOptions{Stream: true, Stdin: ro.Interactive, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	s := &streamer{conn: conn, tty: ro.Tty, out: out(cmd), errw: errOut(cmd)}
	if ro.Tty {
		s.errw = out(cmd)
	}
	if ro.Interactive {
		s.in = stdin
	}
	condition := "next-exit"
	if ro.Remove {
		condition = "removed"
	}
	wait, err := c.ContainerWait(ctx, id, condition)
	if err != nil {
		return err
	}
	stop := forwardSignals(ctx, c, id)
	defer stop()
	streamDone := make(chan error, 1)
	go func() { streamDone <- s.run(ctx) }()
	if err := c.ContainerStart(ctx, id); err != nil {
		cancel()
		<-streamDone
		if ro.Remove {
			_ = c.ContainerRemove(context.WithoutCancel(ctx), id, true, false)
		}
		return err
	}
	if ro.Tty {
		monitorTTYSize(ctx, out(cmd), func(ctx context.Context, h, w uint) error {
			return c.ContainerResize(ctx, id, h, w)
		})
	}
	if err := <-streamDone; err != nil && !errors.Is(err, errDetached) {
		return err
	}
	res, err := wait()
	if err != nil {
		return err
	}
	if res.StatusCode != 0 {
		return exitError(res.StatusCode)
	}
	return nil
}

func (cl *cli) composeStopCmd(o *composeOptions) *cobra.Command {
	var timeout timeoutFlag
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] [SERVICE...]",
		Short: "Stop services",
		RunE: cl.onProject(o.loadOrName, func(ctx context.Context, cp *compose.Compose, p *types.Project, args []string) error {
			return cp.Stop(ctx, p, args, timeout.v)
		}),
	}
	cmd.Flags().VarP(&timeout, "timeout", "t", "Specify a shutdown timeout in seconds")
	return cmd
}

func (cl *cli) composeStartCmd(o *composeOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "start [SERVICE...]",
		Short: "Start services",
		RunE: cl.onProject(o.load, func(ctx context.Context, cp *compose.Compose, p *types.Project, args []string) error {
			return cp.Start(ctx, p, args)
		}),
	}
}

func (cl *cli) composeRestartCmd(o *composeOptions) *cobra.Command {
	var timeout timeoutFlag
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] [SERVICE...]",
		Short: "Restart service containers",
		RunE: cl.onProject(o.load, func(ctx context.Context, cp *compose.Compose, p *types.Project, args []string) error {
			return cp.Restart(ctx, p, args, timeout.v)
		}),
	}
	cmd.Flags().VarP(&timeout, "timeout", "t", "Specify a shutdown timeout in seconds")
	return cmd
}

func (cl *cli) composeRmCmd(o *composeOptions) *cobra.Command {
	var force, stop, volumes bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] [SERVICE...]",
		Short: "Removes stopped service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := o.loadOrName(ctx)
			if err != nil {
				return err
			}
			c, cp, err := cl.composer(cmd, false)
			if err != nil {
				return err
			}
			if stop {
				if err := cp.Stop(ctx, p, args, nil); err != nil {
					return err
				}
			}
			cts, err := cp.Containers(ctx, p.Name, compose.ContainerFilter{Services: args, All: true})
			if err != nil {
				return err
			}
			var errs runErrors
			for _, ct := range cts {
				if ct.State == container.StateRunning {
					continue
				}
				if err := c.ContainerRemove(ctx, ct.ID, force, volumes); err != nil {
					errs.add(err)
					continue
				}
				fmt.Fprintf(errOut(cmd), " Container %s  Removed\n", compose.Name(ct))
			}
			return errs.err()
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Don't ask to confirm removal")
	fs.BoolVarP(&stop, "stop", "s", false, "Stop the containers, if required, before removing")
	fs.BoolVarP(&volumes, "volumes", "v", false, "Remove any anonymous volumes attached to containers")
	return cmd
}

func (cl *cli) composeKillCmd(o *composeOptions) *cobra.Command {
	var signalName string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] [SERVICE...]",
		Short: "Force stop service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := o.loadOrName(ctx)
			if err != nil {
				return err
			}
			c, cp, err := cl.composer(cmd, false)
			if err != nil {
				return err
			}
			cts, err := cp.Containers(ctx, p.Name, compose.ContainerFilter{Services: args})
			if err != nil {
				return err
			}
			var errs runErrors
			for _, ct := range cts {
				if err := c.ContainerKill(ctx, ct.ID, signalName); err != nil {
					errs.add(err)
					continue
				}
				fmt.Fprintf(errOut(cmd), " Container %s  Killed\n", compose.Name(ct))
			}
			return errs.err()
		},
	}
	cmd.Flags().StringVarP(&signalName, "signal", "s", "SIGKILL", "SIGNAL to send to the container")
	return cmd
}

func (cl *cli) composeLsCmd() *cobra.Command {
	var all, quiet bool
	cmd := &cobra.Command{
		Use:   "ls [OPTIONS]",
		Short: "List running compose projects",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			cts, err := c.ContainerList(cmd.Context(), client.ListOptions{All: true, Filters: map[string][]string{"label": {compose.LabelProject}}})
			if err != nil {
				return err
			}
			type proj struct {
				states map[string]int
				files  string
			}
			projects := map[string]*proj{}
			for _, ct := range cts {
				name := ct.Labels[compose.LabelProject]
				pr := projects[name]
				if pr == nil {
					pr = &proj{states: map[string]int{}, files: ct.Labels[compose.LabelConfigFiles]}
					projects[name] = pr
				}
				pr.states[string(ct.State)]++
			}
			names := make([]string, 0, len(projects))
			for n, pr := range projects {
				if all || pr.states["running"] > 0 {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			if quiet {
				for _, n := range names {
					fmt.Fprintln(out(cmd), n)
				}
				return nil
			}
			tw := tabwriter.NewWriter(out(cmd), 10, 1, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tCONFIG FILES")
			for _, n := range names {
				pr := projects[n]
				var parts []string
				for _, st := range sortedStates(pr.states) {
					parts = append(parts, fmt.Sprintf("%s(%d)", st, pr.states[st]))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", n, strings.Join(parts, ", "), pr.files)
			}
			return tw.Flush()
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all stopped Compose projects")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display project names")
	return cmd
}

func sortedStates(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
