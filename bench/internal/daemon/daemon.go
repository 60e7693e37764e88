package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/bench/internal/cgroup"
	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/mounts"
	"github.com/shoal-dev/shoal/bench/internal/netns"
	"github.com/shoal-dev/shoal/bench/internal/proc"
	"github.com/shoal-dev/shoal/bench/internal/report"
)

// ClientEnv is the environment of a client command (see the package
// doc), with extra appended.
func ClientEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOCKER_") || strings.HasPrefix(kv, "CONTAINERS_") ||
			strings.HasPrefix(kv, harness.EnvStage+"=") || strings.HasPrefix(kv, harness.EnvTmpDir+"=") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "DOCKER_CLI_HINTS=false"), extra...)
}

// Output is what a command printed.
type Output struct{ Stdout, Stderr bytes.Buffer }

// Command makes a client command (see the package doc).
func Command(ctx context.Context, env []string, argv ...string) (*exec.Cmd, *Output) {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Env = env
	out := &Output{}
	c.Stdout, c.Stderr = &out.Stdout, &out.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	return c, out
}

// Timed runs a command made by Command and returns its wall time, fork to
// exit. Its error has the command line and the last lines of its output.
func Timed(c *exec.Cmd, out *Output) (time.Duration, error) {
	t0 := time.Now()
	err := c.Start()
	if err == nil {
		err = c.Wait()
	}
	d := time.Since(t0)
	if err != nil {
		return d, fmt.Errorf("%s: %v: %s", strings.Join(c.Args, " "), err,
			report.Tail(strings.TrimSpace(out.Stderr.String()+"\n"+out.Stdout.String()), 15))
	}
	return d, nil
}

// Spawn starts a long-lived process in a process group of its own,
// output to logFile.
func Spawn(logFile string, env []string, argv ...string) (*exec.Cmd, error) {
	f, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdout, c.Stderr = f, f
	c.Env = env
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return c, nil
}

// Engine is one container engine under test, driven by the docker CLI.
type Engine struct {
	Name string
	// Dir is the engine's private directory (see the package doc).
	Dir  string
	Sock string
	Log  string   // the daemon's output
	Env  []string // DOCKER_HOST, DOCKER_CONFIG
	// Cmd is the daemon, once spawned.
	Cmd *exec.Cmd
	// Argv is how the daemon was started (for the report).
	Argv []string
	// CLI is the docker CLI; Timeout limits one command of it.
	CLI     string
	Timeout time.Duration
}

// New makes the directory of engine name (shoal, dockerd, podman, ...)
// below tmp, and its DOCKER_CONFIG.
func New(tmp, name, cli string, timeout time.Duration) (*Engine, error) {
	d := filepath.Join(tmp, "engine-"+name)
	sock := map[string]string{"shoal": "shoal.sock", "dockerd": "docker.sock", "podman": "podman.sock"}[name]
	if sock == "" {
		sock = name + ".sock"
	}
	e := &Engine{Name: name, Dir: d, Sock: filepath.Join(d, sock), Log: filepath.Join(d, "daemon.log"), CLI: cli, Timeout: timeout}
	e.Env = []string{"DOCKER_HOST=unix://" + e.Sock, "DOCKER_CONFIG=" + filepath.Join(d, "docker-config")}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(d, "docker-config"), 0o700); err != nil {
		return nil, err
	}
	return e, nil
}

// Docker runs the docker CLI against e and returns its wall time and
// standard output.
func (e *Engine) Docker(ctx context.Context, args ...string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	c, out := Command(ctx, ClientEnv(e.Env), append([]string{e.CLI}, args...)...)
	d, err := Timed(c, out)
	if err != nil {
		err = fmt.Errorf("%s: %w", e.Name, err)
	}
	return d, out.Stdout.String(), err
}

// ShoalArgv is the command line of `shoal daemon` on e's private roots
// and socket, its containers' cgroups below cgroupParent.
func (e *Engine) ShoalArgv(shoal, logLevel, cgroupParent string) []string {
	return []string{shoal, "daemon", "--data-root", filepath.Join(e.Dir, "data"), "--exec-root", filepath.Join(e.Dir, "exec"),
		"-H", "unix://" + e.Sock, "--log-level", logLevel, "--cgroup-parent", cgroupParent}
}

// ConfigFile writes an empty daemon.json into e's directory and returns
// its path: a daemon that reads one by default must not read the host's.
func (e *Engine) ConfigFile() (string, error) {
	p := filepath.Join(e.Dir, "daemon.json")
	return p, os.WriteFile(p, []byte("{}\n"), 0o644)
}

// DockerdArgv is the command line of dockerd on e's private roots,
// socket, pid file and configuration file (see ConfigFile), with its own
// containerd, overlay2 and the cgroupfs driver, its containers' cgroups
// below cgroupParent; extra flags come after --config-file.
func (e *Engine) DockerdArgv(cgroupParent string, extra ...string) ([]string, error) {
	conf, err := e.ConfigFile()
	if err != nil {
		return nil, err
	}
	argv := []string{"dockerd", "--data-root", filepath.Join(e.Dir, "data"), "--exec-root", filepath.Join(e.Dir, "exec"),
		"-H", "unix://" + e.Sock, "--pidfile", filepath.Join(e.Dir, "dockerd.pid"), "--config-file", conf}
	argv = append(argv, extra...)
	return append(argv, "--storage-driver", "overlay2", "--exec-opt", "native.cgroupdriver=cgroupfs",
		"--cgroup-parent", cgroupParent, "--log-level", "warn"), nil
}

// CheckHostContainerd refuses to start dockerd next to a host containerd:
// without --containerd dockerd starts its own (its state under the
// private exec root), but with a host containerd socket it uses that one.
func CheckHostContainerd() error {
	if _, err := os.Stat("/run/containerd/containerd.sock"); err == nil {
		return errors.New("/run/containerd/containerd.sock exists: dockerd would use the host's containerd; refusing")
	}
	return nil
}

// Spawn starts the daemon argv (which may be wrapped, as in `nsenter …
// dockerd …`) with env, output to e.Log.
func (e *Engine) Spawn(env []string, argv ...string) error {
	c, err := Spawn(e.Log, env, argv...)
	if err != nil {
		return err
	}
	e.Cmd = c
	return nil
}

// Start spawns the daemon (see Spawn) and waits until it answers (see
// WaitReady).
func (e *Engine) Start(ctx context.Context, limit time.Duration, env []string, argv ...string) error {
	if err := e.Spawn(env, argv...); err != nil {
		return err
	}
	return e.WaitReady(ctx, limit)
}

// WaitReady polls `docker version` until the engine answers, the daemon
// exits or limit passes.
func (e *Engine) WaitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		_, _, err := e.Docker(ctx, "version")
		if err == nil {
			return nil
		}
		if p, perr := proc.Read(e.Cmd.Process.Pid); perr != nil || p.State == 'Z' {
			return fmt.Errorf("%s exited at start:\n%s", e.Name, report.Tail(readFile(e.Log), 30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not answering after %v: %v\n--- %s (tail):\n%s", e.Name, limit, err, e.Log, report.Tail(readFile(e.Log), 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ServerVersion describes the engine's API server for a report.
func (e *Engine) ServerVersion(ctx context.Context) string {
	_, sv, _ := e.Docker(ctx, "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}}, client negotiated {{.Client.APIVersion}})")
	return strings.TrimSpace(sv)
}

// DockerdStack describes what dockerd runs on for a report: containerd,
// runc, and its default runtime, storage and cgroup drivers.
func (e *Engine) DockerdStack(ctx context.Context) string {
	_, rt, _ := e.Docker(ctx, "info", "--format", "{{.DefaultRuntime}} {{.Driver}} {{.CgroupDriver}} cgroup v{{.CgroupVersion}}")
	return fmt.Sprintf("%s; %s; default runtime/storage/cgroup driver: %s", report.FirstLine(report.VersionOf("containerd", "--version")),
		report.FirstLine(report.VersionOf("runc", "--version")), strings.TrimSpace(rt))
}

// ContainerIDs lists every container of the engine.
func (e *Engine) ContainerIDs(ctx context.Context) ([]string, error) {
	_, out, err := e.Docker(ctx, "ps", "-aq", "--no-trunc")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// RemoveAll removes every container of the engine with one `docker rm -f`
// and returns how many there were and the wall time of the removal.
func (e *Engine) RemoveAll(ctx context.Context) (int, time.Duration, error) {
	ids, err := e.ContainerIDs(ctx)
	if err != nil || len(ids) == 0 {
		return 0, 0, err
	}
	d, _, err := e.Docker(ctx, append([]string{"rm", "-f"}, ids...)...)
	if err != nil {
		return len(ids), d, err
	}
	left, err := e.ContainerIDs(ctx)
	if err == nil && len(left) > 0 {
		err = fmt.Errorf("%s: %d container(s) still listed after docker rm -f", e.Name, len(left))
	}
	return len(ids), d, err
}

// Stop removes the engine's containers, stops the daemon (SIGTERM to its
// process group, SIGKILL after 20 s) and the long-lived processes it
// leaves: Shoal's monitor, dockerd's containerd (SIGTERM, SIGKILL after
// 5 s). Progress goes to logf.
func (e *Engine) Stop(logf func(format string, a ...any)) error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if e.Cmd != nil && e.Cmd.ProcessState == nil {
		if n, _, err := e.RemoveAll(ctx); err != nil {
			errs = append(errs, fmt.Errorf("remove %s's containers: %w", e.Name, err))
		} else if n > 0 {
			logf("%s: removed %d container(s) at cleanup", e.Name, n)
		}
		_ = syscall.Kill(-e.Cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = e.Cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			logf("%s: still running 20 s after SIGTERM; SIGKILL", e.Name)
			_ = syscall.Kill(-e.Cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	var pidFiles []string
	switch e.Name {
	case "shoal":
		pidFiles = []string{filepath.Join(e.Dir, "exec", "monitor", "monitor.pid")}
	case "dockerd":
		pidFiles = []string{filepath.Join(e.Dir, "exec", "containerd", "containerd.pid")}
	}
	for _, pf := range pidFiles {
		pid, err := strconv.Atoi(strings.TrimSpace(readFile(pf)))
		if err != nil || pid <= 1 {
			continue
		}
		if p, err := proc.Read(pid); err != nil || !p.NamesPath(e.Dir) {
			continue // gone, or the pid was reused
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100; i++ {
			proc.ReapZombies(nil)
			if p, err := proc.Read(pid); err != nil || p.State == 'Z' {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if p, err := proc.Read(pid); err == nil && p.State != 'Z' {
			logf("%s: %s (pid %d) still running 5 s after SIGTERM; SIGKILL", e.Name, p.Comm, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return errors.Join(errs...)
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// runDirs are directories outside the temp dir that dockerd's containerd
// and its shims make whatever their state directories (shims put their
// sockets in /run/containerd/s). Children first.
var runDirs = []string{"/run/containerd/s", "/run/containerd", "/run/docker/plugins", "/run/docker"}

// RunDirsBefore returns those of containerd's and dockerd's run
// directories that do not exist yet, for RemoveRunDirs.
func RunDirsBefore() []string {
	var missing []string
	for _, d := range runDirs {
		if _, err := os.Stat(d); err != nil {
			missing = append(missing, d)
		}
	}
	return missing
}

// RemoveRunDirs removes the directories of created (from RunDirsBefore)
// if they are empty: another containerd may have started to use them.
func RemoveRunDirs(created []string) {
	for _, d := range created {
		_ = unix.Rmdir(d)
	}
}

// NetnsOuter is the outer stage of a benchmark that runs its engines
// (dockerd among them) in network namespaces of its own: check finds the
// tools; afterwards the run directories dockerd made are removed and no
// process may be left in the benchmark's namespaces.
func NetnsOuter(name, tmpBase string, keep bool, check func() error) *harness.Outer {
	var created []string
	return &harness.Outer{
		Name: name, Why: "it starts container engines in network namespaces",
		Check: func() error {
			err := check()
			created = RunDirsBefore()
			return err
		},
		TmpBase: tmpBase, Keep: keep, Checked: "process, cgroup, mount or network namespace",
		AfterCleanup: func(string) { RemoveRunDirs(created) },
		Leftovers:    netns.LeftIn,
	}
}

// Teardown stops the engines (last first, removing their containers),
// kills what is left below this process, removes the run's cgroups,
// network namespaces and mounts, and reports what it could not.
func Teardown(engines []*Engine, nss []*netns.NS, tmp, token string) error {
	var errs []error
	for i := len(engines) - 1; i >= 0; i-- {
		if err := engines[i].Stop(harness.Logf); err != nil {
			errs = append(errs, err)
		}
	}
	if n := proc.KillDescendants(os.Getpid(), nil); n > 0 {
		harness.Logf("cleanup: killed %d leftover process(es)", n)
	}
	if err := cgroup.RemoveAll(harness.CgroupPattern(token)); err != nil {
		errs = append(errs, err)
	}
	for _, ns := range nss {
		if err := ns.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	mounts.UnmountUnder(tmp, harness.Logf)
	for _, l := range harness.Leftovers(tmp, token) {
		errs = append(errs, errors.New("left behind: "+l))
	}
	for _, l := range netns.LeftIn(tmp) {
		errs = append(errs, errors.New("left behind: "+l))
	}
	return errors.Join(errs...)
}
