package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/netns"

	"github.com/shoal-dev/shoal/bench/internal/cgroup"
	"github.com/shoal-dev/shoal/bench/internal/daemon"
	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/proc"
	"github.com/shoal-dev/shoal/bench/internal/report"
)

// engineNames are the engines, in the order they start.
var engineNames = []string{"shoal", "dockerd"}

// hybridNote ends the report's description of a hybrid cgroup layout.
const hybridNote = "in the benchmark's private mount namespace, as in the other benchmarks, so both engines see cgroup v1 only"

type bench struct {
	o      *options
	tmp    string
	token  string
	hybrid string

	imageTar   string
	imageID    string // the config digest of the archive
	ctxDir     string // the build context
	composeDir string // the compose project directory

	engines map[string]*engine
	netns   []*netns.NS

	// timelines has, per compose row, the engine's events of the last
	// `up -d` (see timeline).
	timelines map[composeRow]string

	loadStart string
	busy      bool // a phase ran with a load average above the CPU count
	res       results
}

// engine is one container engine under test, in a network namespace of
// its own.
type engine struct {
	*daemon.Engine
	ns *netns.NS

	imageID  string // the base image's ID after docker load
	builtID  string // the ID of the last image built (rebuilds must keep it)
	runOut   string // what the built image printed
	buildOut string // the output of the last no-cache build
}

// row is one line of a phase's table: its timed runs or why it stopped.
type row struct {
	name  string
	runs  []time.Duration
	down  []time.Duration // compose: `down` of the same rounds
	err   error
	notes []string
}

type results struct {
	build, rebuild, compose []*row
	load                    map[string][2]string // per phase: load average before and after
}

func (b *bench) Run(ctx context.Context) error {
	b.loadStart = report.LoadAvg()
	b.res.load = map[string][2]string{}
	var err error
	if b.hybrid, err = cgroup.HideUnified(hybridNote); err != nil {
		return err
	}
	if b.o.shoal == "" {
		if err := b.buildShoal(ctx); err != nil {
			return err
		}
	}
	if err := b.makeInputs(); err != nil {
		return err
	}
	for _, n := range engineNames {
		harness.Logf("starting %s", n)
		if err := b.start(ctx, n); err != nil {
			return fmt.Errorf("start %s: %w", n, err)
		}
		e := b.engines[n]
		if _, _, err := e.Docker(ctx, "load", "-i", b.imageTar); err != nil {
			return err
		}
		_, id, err := e.Docker(ctx, "image", "inspect", "--format", "{{.Id}}", baseImage)
		if err != nil {
			return err
		}
		e.imageID = strings.TrimSpace(id)
	}
	b.printConditions(ctx)
	if b.o.phases["build"] {
		b.build(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.printBuild()
	}
	if b.o.phases["rebuild"] {
		b.rebuild(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.printRebuild()
	}
	if b.o.phases["compose"] {
		b.composePhase(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.printCompose()
	}
	b.printGoals()
	return nil
}

// buildShoal builds the shoal binary into the temp dir with scripts/build,
// from the repository the program runs in.
func (b *bench) buildShoal(ctx context.Context) error {
	c, out := daemon.Command(ctx, daemon.ClientEnv(nil), "go", "env", "GOMOD")
	if _, err := daemon.Timed(c, out); err != nil {
		return err
	}
	mod := strings.TrimSpace(out.Stdout.String())
	if mod == "" || mod == os.DevNull {
		return errors.New("not inside the shoal module: run from the repository, or pass -shoal")
	}
	harness.Logf("building shoal with scripts/build")
	b.o.shoal = filepath.Join(b.tmp, "bin", "shoal")
	c, out = daemon.Command(ctx, daemon.ClientEnv(nil), "./scripts/build", b.o.shoal)
	c.Dir = filepath.Dir(mod)
	if _, err := daemon.Timed(c, out); err != nil {
		return fmt.Errorf("build shoal: %w", err)
	}
	return nil
}

// nsenter prefixes argv with `nsenter --net=FILE --`: nsenter enters the
// namespace and execs argv (no fork), so the daemon's pid is the one
// started.
func nsenter(ns *netns.NS, argv ...string) []string {
	return append([]string{"nsenter", "--net=" + ns.Path, "--"}, argv...)
}

// start makes the engine's directory and network namespace and starts
// the daemon in it, with the classic builder for every docker CLI command.
func (b *bench) start(ctx context.Context, n string) error {
	d, err := daemon.New(b.tmp, n, b.o.docker, b.o.timeout)
	if err != nil {
		return err
	}
	d.Env = append(d.Env, "DOCKER_BUILDKIT=0")
	e := &engine{Engine: d}
	b.engines[n] = e // registered for the cleanup from here on
	if e.ns, err = b.newNetNS(n); err != nil {
		return err
	}
	cgroupParent := harness.CgroupParent(b.token, n)
	switch n {
	case "shoal":
		// A daemon that reads a daemon.json by default must not read
		// the host's.
		conf, err := e.ConfigFile()
		if err != nil {
			return err
		}
		e.Argv = append(e.ShoalArgv(b.o.shoal, b.o.shoalLogLevel, cgroupParent), "--config-file", conf)
		return e.Start(ctx, 30*time.Second, os.Environ(), nsenter(e.ns, e.Argv...)...)
	default:
		if err := daemon.CheckHostContainerd(); err != nil {
			return err
		}
		// dockerd registers its bridge with a running firewalld over
		// D-Bus, which would change the host's firewall configuration.
		for _, p := range proc.List() {
			if p.Comm == "firewalld" {
				return errors.New("firewalld is running: dockerd would register its bridge with the host's firewalld; refusing")
			}
		}
		// Its default bridge (docker0), iptables rules and ip_forward
		// are made in its own network namespace.
		if e.Argv, err = e.DockerdArgv(cgroupParent); err != nil {
			return err
		}
		return e.Start(ctx, 60*time.Second, os.Environ(), nsenter(e.ns, e.Argv...)...)
	}
}

// rotated returns names starting at round % len(names).
func rotated[T any](names []T, round int) []T {
	if len(names) == 0 {
		return nil
	}
	k := ((round % len(names)) + len(names)) % len(names)
	return append(append([]T{}, names[k:]...), names[:k]...)
}

// builtID matches the classic builder's last line.
var builtID = regexp.MustCompile(`(?m)^Successfully built ([0-9a-f]+)\s*$`)

// dockerBuild runs `docker build [extra] -t builtImage CONTEXT` (the
// classic builder: DOCKER_BUILDKIT=0 is in the engine's environment) and
// returns its wall time, the ID it built and its output.
func (e *engine) dockerBuild(ctx context.Context, ctxDir string, extra ...string) (time.Duration, string, string, error) {
	args := append(append([]string{"build"}, extra...), "-t", builtImage, ctxDir)
	d, out, err := e.Docker(ctx, args...)
	if err != nil {
		return d, "", out, err
	}
	m := builtID.FindStringSubmatch(out)
	if m == nil {
		return d, "", out, fmt.Errorf("%s: docker build: no \"Successfully built\" line in:\n%s", e.Name, report.Tail(out, 10))
	}
	return d, m[1], out, nil
}

// build times `docker build --no-cache` on each engine, engines
// interleaved, after removing the image and every dangling one (untimed).
// Then it runs the image once on each engine and checks what it prints.
func (b *bench) build(ctx context.Context) {
	rows := map[string]*row{}
	for _, n := range engineNames {
		rows[n] = &row{name: n}
		b.res.build = append(b.res.build, rows[n])
	}
	load := [2]string{report.LoadAvg()}
	for i := -b.o.warmup; i < b.o.n && ctx.Err() == nil; i++ {
		harness.Logf("build --no-cache: run %d/%d", i+1, b.o.n)
		for _, n := range rotated(engineNames, i) {
			r, e := rows[n], b.engines[n]
			if r.err != nil {
				continue
			}
			_, _, _ = e.Docker(ctx, "rmi", "-f", builtImage)
			if _, _, err := e.Docker(ctx, "image", "prune", "-f"); err != nil {
				r.err = err
				continue
			}
			d, id, out, err := e.dockerBuild(ctx, b.ctxDir, "--no-cache")
			if err != nil {
				r.err = err
				continue
			}
			if n := strings.Count(out, "Using cache"); n > 0 {
				r.err = fmt.Errorf("%s: docker build --no-cache took %d step(s) from the cache", e.Name, n)
				continue
			}
			e.builtID, e.buildOut = id, out
			if i >= 0 {
				r.runs = append(r.runs, d)
			}
		}
	}
	load[1] = report.LoadAvg()
	b.res.load["build"] = load
	for _, n := range engineNames {
		if r, e := rows[n], b.engines[n]; r.err == nil && ctx.Err() == nil {
			_, out, err := e.Docker(ctx, "run", "--rm", "--network", "none", builtImage)
			e.runOut = out
			if err != nil {
				r.err = err
			} else if out != builtOutput {
				r.err = fmt.Errorf("%s: docker run %s printed %q, want %q", n, builtImage, out, builtOutput)
			}
		}
	}
}

// rebuild times `docker build` with nothing changed: every step must come
// from the cache and the image ID stay the same. Without the build phase
// it first builds the image once (untimed).
func (b *bench) rebuild(ctx context.Context) {
	rows := map[string]*row{}
	for _, n := range engineNames {
		rows[n] = &row{name: n}
		b.res.rebuild = append(b.res.rebuild, rows[n])
		if e := b.engines[n]; e.builtID == "" {
			_, id, _, err := e.dockerBuild(ctx, b.ctxDir)
			e.builtID, rows[n].err = id, err
		}
	}
	load := [2]string{report.LoadAvg()}
	for i := -b.o.warmup; i < b.o.n && ctx.Err() == nil; i++ {
		harness.Logf("rebuild (cached): run %d/%d", i+1, b.o.n)
		for _, n := range rotated(engineNames, i) {
			r, e := rows[n], b.engines[n]
			if r.err != nil {
				continue
			}
			d, id, out, err := e.dockerBuild(ctx, b.ctxDir)
			switch {
			case err != nil:
				r.err = err
			case strings.Count(out, "Using cache") != cachedSteps:
				r.err = fmt.Errorf("%s: the rebuild took %d step(s) from the cache, want %d:\n%s", n, strings.Count(out, "Using cache"), cachedSteps, out)
			case id != e.builtID:
				r.err = fmt.Errorf("%s: the rebuild made image %s, want %s (the last build's)", n, id, e.builtID)
			case i >= 0:
				r.runs = append(r.runs, d)
			}
		}
	}
	load[1] = report.LoadAvg()
	b.res.load["rebuild"] = load
}

// composeRow is a Compose client against an engine.
type composeRow struct {
	client string // "shoal compose" or "docker-compose"
	engine string
}

func (c composeRow) String() string { return c.client + " → " + c.engine }

// composeRows are the compose phase's rows; the first is Shoal's, the
// third the reference of the goal.
var composeRows = []composeRow{
	{"shoal compose", "shoal"},
	{"docker-compose", "shoal"},
	{"docker-compose", "dockerd"},
	{"shoal compose", "dockerd"},
}

// composeArgv is the command line of the row's client for the verb.
func (b *bench) composeArgv(c composeRow, verb ...string) []string {
	e := b.engines[c.engine]
	var argv []string
	if c.client == "shoal compose" {
		argv = []string{b.o.shoal, "-H", "unix://" + e.Sock, "compose"}
	} else {
		argv = []string{b.o.compose}
	}
	return append(append(argv, "-p", project, "-f", filepath.Join(b.composeDir, "docker-compose.yml")), verb...)
}

// runCompose runs the row's client in the project directory with the
// engine's DOCKER_HOST and returns its wall time.
func (b *bench) runCompose(ctx context.Context, c composeRow, verb ...string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
	defer cancel()
	cmd, out := daemon.Command(ctx, daemon.ClientEnv(b.engines[c.engine].Env), b.composeArgv(c, verb...)...)
	cmd.Dir = b.composeDir
	d, err := daemon.Timed(cmd, out)
	if err != nil {
		err = fmt.Errorf("%s: %w", c, err)
	}
	return d, err
}

// composePhase runs rounds of `up -d` then `down -t 1` for every row,
// rows interleaved and rotated each round, checking after up that the ten
// services run (the health service healthy) and after down that nothing
// of the project is left.
func (b *bench) composePhase(ctx context.Context) {
	rows := make([]*row, len(composeRows))
	for i, c := range composeRows {
		rows[i] = &row{name: c.String()}
	}
	b.res.compose = rows
	b.timelines = map[composeRow]string{}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	load := [2]string{report.LoadAvg()}
	for round := -b.o.warmup; round < b.o.n && ctx.Err() == nil; round++ {
		harness.Logf("compose: round %d/%d", round+1, b.o.n)
		for _, i := range rotated(idx, round) {
			c, r := composeRows[i], rows[i]
			if r.err != nil || ctx.Err() != nil {
				continue
			}
			up, down, err := b.composeRound(ctx, c)
			if err != nil {
				r.err = err
				harness.Logf("compose: %s: %v", c, err)
				b.composeClean(ctx, c)
				continue
			}
			if round >= 0 {
				r.runs = append(r.runs, up)
				r.down = append(r.down, down)
			}
		}
	}
	load[1] = report.LoadAvg()
	b.res.load["compose"] = load
}

func (b *bench) composeRound(ctx context.Context, c composeRow) (up, down time.Duration, err error) {
	e := b.engines[c.engine]
	filter := "label=com.docker.compose.project=" + project
	t0 := time.Now()
	if up, err = b.runCompose(ctx, c, "up", "-d"); err != nil {
		return
	}
	b.timelines[c] = b.timeline(ctx, e, t0, up)
	_, out, err := e.Docker(ctx, "ps", "-q", "--filter", filter)
	if err != nil {
		return
	}
	if n := len(strings.Fields(out)); n != services {
		return up, 0, fmt.Errorf("%s: %d container(s) of the project running after up -d, want %d", c, n, services)
	}
	_, out, err = e.Docker(ctx, "ps", "-q", "--filter", filter, "--filter", "label=com.docker.compose.service="+healthService, "--filter", "health=healthy")
	if err != nil {
		return
	}
	if len(strings.Fields(out)) != 1 {
		return up, 0, fmt.Errorf("%s: %s not healthy after up -d (its dependent %s runs)", c, healthService, dependentService)
	}
	if down, err = b.runCompose(ctx, c, "down", "-t", "1"); err != nil {
		return
	}
	if left := b.projectLeft(ctx, e); left != "" {
		return up, down, fmt.Errorf("%s: left after down: %s", c, left)
	}
	return up, down, nil
}

// timeline describes where an `up -d` that started at t0 and took up
// spent its time, from the project's container events in e: the offsets
// (ms from t0) of the first and last create, the first start, the
// health service's start and healthy, its dependent's start and the last
// start.
func (b *bench) timeline(ctx context.Context, e *engine, t0 time.Time, up time.Duration) string {
	now := time.Now()
	_, out, err := e.Docker(ctx, "events", "--since", fmt.Sprintf("%d.%09d", t0.Unix(), t0.Nanosecond()),
		"--until", fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond()),
		"--filter", "type=container", "--filter", "label=com.docker.compose.project="+project,
		"--format", `{{.TimeNano}} {{index .Actor.Attributes "com.docker.compose.service"}} {{.Action}}`)
	if err != nil {
		return "events: " + err.Error()
	}
	at := map[string]float64{}
	set := func(k string, v float64, last bool) {
		if old, ok := at[k]; !ok || (last && v > old) || (!last && v < old) {
			at[k] = v
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		off := float64(time.Unix(0, ns).Sub(t0)) / float64(time.Millisecond)
		switch svc, action := f[1], f[2]; {
		case action == "create":
			set("first create", off, false)
			set("last create", off, true)
		case action == "start":
			set("first start", off, false)
			set("last start", off, true)
			if svc == dependentService || svc == healthService {
				set(svc+" start", off, false)
			}
		case svc == healthService && strings.HasPrefix(action, "health_status") && strings.HasSuffix(action, "healthy") && !strings.HasSuffix(action, "unhealthy"):
			set(healthService+" healthy", off, false)
		}
	}
	var parts []string
	for _, k := range []string{"first create", "last create", "first start", healthService + " start", healthService + " healthy", dependentService + " start", "last start"} {
		if v, ok := at[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
		} else {
			parts = append(parts, k+" ?")
		}
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(", client exit %d", up.Milliseconds())
}

// projectLeft lists the project's containers and networks in e.
func (b *bench) projectLeft(ctx context.Context, e *engine) string {
	_, ctrs, err := e.Docker(ctx, "ps", "-aq", "--filter", "label=com.docker.compose.project="+project)
	if err != nil {
		return err.Error()
	}
	_, nets, err := e.Docker(ctx, "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+project)
	if err != nil {
		return err.Error()
	}
	var left []string
	if f := strings.Fields(ctrs); len(f) > 0 {
		left = append(left, strconv.Itoa(len(f))+" container(s)")
	}
	if f := strings.Fields(nets); len(f) > 0 {
		left = append(left, strconv.Itoa(len(f))+" network(s)")
	}
	return strings.Join(left, ", ")
}

// composeClean removes what a failed round left of the project.
func (b *bench) composeClean(ctx context.Context, c composeRow) {
	e := b.engines[c.engine]
	_, _ = b.runCompose(ctx, c, "down", "-t", "1")
	_, ctrs, _ := e.Docker(ctx, "ps", "-aq", "--filter", "label=com.docker.compose.project="+project)
	if f := strings.Fields(ctrs); len(f) > 0 {
		_, _, _ = e.Docker(ctx, append([]string{"rm", "-f"}, f...)...)
	}
	_, nets, _ := e.Docker(ctx, "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+project)
	if f := strings.Fields(nets); len(f) > 0 {
		_, _, _ = e.Docker(ctx, append([]string{"network", "rm"}, f...)...)
	}
}

// Cleanup stops every engine (removing its containers), kills what is
// left below the benchmark, removes its cgroups, network namespaces and
// mounts, and reports what it could not.
func (b *bench) Cleanup() error {
	var engines []*daemon.Engine
	for _, name := range engineNames {
		if e, ok := b.engines[name]; ok {
			engines = append(engines, e.Engine)
		}
	}
	return daemon.Teardown(engines, b.netns, b.tmp, b.token)
}
