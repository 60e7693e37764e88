package main

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
)

// engine is one container engine under test, driven by the docker CLI,
// running in a network namespace of its own.
type engine struct {
	name string
	// dir is the engine's private directory. Every host-side process of
	// the engine names it (or a path below it) in its argv: the daemon,
	// Shoal's monitor, dockerd's containerd and shims.
	dir  string
	sock string
	log  string
	env  []string // DOCKER_HOST, DOCKER_CONFIG
	ns   *netns
	cmd  *exec.Cmd
	// argv is how the daemon was started (for the report).
	argv []string

	// err is why the engine could not be prepared for the network
	// phases (nil if it was); failed says at which step.
	err    error
	failed string

	// What the preparation found, for the report.
	imageID  string
	targetIP string
	serverIP string
	netInfo  string // the user network's subnet and gateway
	ctrInfo  string // resolv.conf nameserver, eth0 address and MTU in a container
	nsInfo   string // sysctls, bridges and nftables of its network namespace
}

// clientEnv is the environment of every client command: the harness's,
// without DOCKER_* settings that would point the CLI elsewhere.
func clientEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOCKER_") || strings.HasPrefix(kv, envStage+"=") || strings.HasPrefix(kv, envTmpDir+"=") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "DOCKER_CLI_HINTS=false"), extra...)
}

// output is what a command printed, stdout and stderr apart.
type output struct{ stdout, stderr bytes.Buffer }

// command makes a client command: its own process group (a Ctrl-C on the
// terminal reaches the harness, which stops between runs), output to
// buffers, killed with its group when ctx ends.
func command(ctx context.Context, env []string, argv ...string) (*exec.Cmd, *output) {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Env = env
	out := &output{}
	c.Stdout, c.Stderr = &out.stdout, &out.stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	return c, out
}

// timed runs a command and returns its wall time, fork to exit.
func timed(c *exec.Cmd, out *output) (time.Duration, error) {
	t0 := time.Now()
	err := c.Start()
	if err == nil {
		err = c.Wait()
	}
	d := time.Since(t0)
	if err != nil {
		return d, fmt.Errorf("%s: %v: %s", strings.Join(c.Args, " "), err,
			tail(strings.TrimSpace(out.stderr.String()+"\n"+out.stdout.String()), 15))
	}
	return d, nil
}

// docker runs the docker CLI against e and returns its wall time and
// standard output.
func (b *bench) docker(ctx context.Context, e *engine, args ...string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
	defer cancel()
	c, out := command(ctx, clientEnv(e.env), append([]string{b.o.docker}, args...)...)
	d, err := timed(c, out)
	if err != nil {
		err = fmt.Errorf("%s: %w", e.name, err)
	}
	return d, out.stdout.String(), err
}

// inNetNS runs a command in one of the benchmark's network namespaces
// and returns its wall time and standard output.
func (b *bench) inNetNS(ctx context.Context, ns *netns, argv ...string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
	defer cancel()
	c, out := command(ctx, clientEnv(nil), append([]string{"nsenter", "--net=" + ns.path, "--"}, argv...)...)
	d, err := timed(c, out)
	return d, out.stdout.String(), err
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func writeFile(p, s string) string {
	must(os.MkdirAll(filepath.Dir(p), 0o755))
	must(os.WriteFile(p, []byte(s), 0o644))
	return p
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// spawn starts a long-lived process in a process group of its own,
// output to logFile.
func spawn(logFile string, env []string, argv ...string) (*exec.Cmd, error) {
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

// waitReady polls `docker version` until the engine answers.
func (b *bench) waitReady(ctx context.Context, e *engine, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		_, _, err := b.docker(ctx, e, "version")
		if err == nil {
			return nil
		}
		if p, perr := readProc(e.cmd.Process.Pid); perr != nil || p.state == 'Z' {
			return fmt.Errorf("%s exited at start:\n%s", e.name, tail(readFile(e.log), 30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not answering after %v: %v\n--- %s (tail):\n%s", e.name, limit, err, e.log, tail(readFile(e.log), 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (b *bench) newEngine(name string) (*engine, error) {
	d := filepath.Join(b.tmp, "engine-"+name)
	must(os.MkdirAll(d, 0o755))
	e := &engine{name: name, dir: d, log: filepath.Join(d, "daemon.log")}
	switch name {
	case "shoal":
		e.sock = filepath.Join(d, "shoal.sock")
	case "dockerd":
		e.sock = filepath.Join(d, "docker.sock")
	}
	e.env = []string{"DOCKER_HOST=unix://" + e.sock, "DOCKER_CONFIG=" + filepath.Join(d, "docker-config")}
	must(os.MkdirAll(filepath.Join(d, "docker-config"), 0o700))
	var err error
	if e.ns, err = b.newNetNS(name); err != nil {
		return nil, err
	}
	return e, nil
}

func (b *bench) cgroupParent(what string) string {
	return "/" + tmpPrefix + b.token + "-" + what
}

// nsenter prefixes argv with `nsenter --net=FILE --`: nsenter enters the
// namespace and execs argv (no fork), so the daemon's pid is the one
// started.
func nsenter(ns *netns, argv ...string) []string {
	return append([]string{"nsenter", "--net=" + ns.path, "--"}, argv...)
}

func (b *bench) startShoal(ctx context.Context) (*engine, error) {
	e, err := b.newEngine("shoal")
	if err != nil {
		return nil, err
	}
	e.argv = []string{b.o.shoal, "daemon", "--data-root", filepath.Join(e.dir, "data"), "--exec-root", filepath.Join(e.dir, "exec"),
		"-H", "unix://" + e.sock, "--log-level", b.o.shoalLogLevel, "--cgroup-parent", b.cgroupParent("shoal"),
		// A daemon that reads a daemon.json by default must not read the
		// host's.
		"--config-file", writeFile(filepath.Join(e.dir, "daemon.json"), "{}\n")}
	if e.cmd, err = spawn(e.log, os.Environ(), nsenter(e.ns, e.argv...)...); err != nil {
		return nil, err
	}
	b.engines[e.name] = e
	return e, b.waitReady(ctx, e, 30*time.Second)
}

func (b *bench) startDockerd(ctx context.Context) (*engine, error) {
	// No --containerd: dockerd starts its own, its state under the private
	// exec root. With a host containerd socket it would use that one.
	if _, err := os.Stat("/run/containerd/containerd.sock"); err == nil {
		return nil, errors.New("/run/containerd/containerd.sock exists: dockerd would use the host's containerd; refusing")
	}
	// dockerd registers its bridge with a running firewalld over D-Bus,
	// which would change the host's firewall configuration.
	for _, p := range procs() {
		if p.comm == "firewalld" {
			return nil, errors.New("firewalld is running: dockerd would register its bridge with the host's firewalld; refusing")
		}
	}
	e, err := b.newEngine("dockerd")
	if err != nil {
		return nil, err
	}
	// Its default bridge (docker0), iptables rules, ip_forward and the
	// embedded DNS's NAT rules are made in its own network namespace.
	e.argv = []string{"dockerd", "--data-root", filepath.Join(e.dir, "data"), "--exec-root", filepath.Join(e.dir, "exec"),
		"-H", "unix://" + e.sock, "--pidfile", filepath.Join(e.dir, "dockerd.pid"),
		"--config-file", writeFile(filepath.Join(e.dir, "daemon.json"), "{}\n"),
		"--storage-driver", "overlay2", "--exec-opt", "native.cgroupdriver=cgroupfs",
		"--cgroup-parent", b.cgroupParent("dockerd"), "--log-level", "warn"}
	if e.cmd, err = spawn(e.log, os.Environ(), nsenter(e.ns, e.argv...)...); err != nil {
		return nil, err
	}
	b.engines[e.name] = e
	return e, b.waitReady(ctx, e, 60*time.Second)
}

// containerIDs lists every container of the engine.
func (b *bench) containerIDs(ctx context.Context, e *engine) ([]string, error) {
	_, out, err := b.docker(ctx, e, "ps", "-aq", "--no-trunc")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// removeAll removes every container of the engine with one `docker rm -f`.
func (b *bench) removeAll(ctx context.Context, e *engine) (int, error) {
	ids, err := b.containerIDs(ctx, e)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	if _, _, err := b.docker(ctx, e, append([]string{"rm", "-f"}, ids...)...); err != nil {
		return len(ids), err
	}
	left, err := b.containerIDs(ctx, e)
	if err == nil && len(left) > 0 {
		err = fmt.Errorf("%s: %d container(s) still listed after docker rm -f", e.name, len(left))
	}
	return len(ids), err
}

// stop removes the engine's containers, stops the daemon (SIGTERM, then
// SIGKILL after 20 s) and the long-lived processes it leaves: Shoal's
// monitor, dockerd's containerd.
func (b *bench) stop(e *engine) error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if e.cmd != nil && e.cmd.ProcessState == nil {
		if n, err := b.removeAll(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("remove %s's containers: %w", e.name, err))
		} else if n > 0 {
			logf("%s: removed %d container(s) at cleanup", e.name, n)
		}
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = e.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			logf("%s: still running 20 s after SIGTERM; SIGKILL", e.name)
			_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	var pidFiles []string
	switch e.name {
	case "shoal":
		pidFiles = []string{filepath.Join(e.dir, "exec", "monitor", "monitor.pid")}
	case "dockerd":
		pidFiles = []string{filepath.Join(e.dir, "exec", "containerd", "containerd.pid")}
	}
	for _, pf := range pidFiles {
		pid, err := strconv.Atoi(strings.TrimSpace(readFile(pf)))
		if err != nil || pid <= 1 {
			continue
		}
		if p, err := readProc(pid); err != nil || !p.namesPath(e.dir) {
			continue // gone, or the pid was reused
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100; i++ {
			reapAll(nil)
			if p, err := readProc(pid); err != nil || p.state == 'Z' {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if p, err := readProc(pid); err == nil && p.state != 'Z' {
			logf("%s: %s (pid %d) still running 5 s after SIGTERM; SIGKILL", e.name, p.comm, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return errors.Join(errs...)
}
