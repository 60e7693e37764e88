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

	"golang.org/x/sys/unix"
)

// engine is one container engine under test, driven by the docker CLI.
type engine struct {
	name string
	// dir is the engine's private directory. Every host-side process of
	// the engine names it (or a path below it) in its argv: the daemon,
	// Shoal's monitor, dockerd's containerd and shims, podman's conmon.
	dir  string
	sock string
	log  string
	env  []string // DOCKER_HOST, DOCKER_CONFIG
	cmd  *exec.Cmd
	// argv is how the daemon was started (for the report).
	argv []string
	// podman's global flags and environment, for `podman import`/`info`.
	podmanArgv []string
	podmanEnv  []string
	notes      []string
}

// clientEnv is the environment of every client command: the harness's,
// without DOCKER_* settings that would point the CLI elsewhere.
func clientEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOCKER_") || strings.HasPrefix(kv, "CONTAINERS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "DOCKER_CLI_HINTS=false"), extra...)
}

// command makes a client command: its own process group (a Ctrl-C on the
// terminal reaches the harness, which stops between runs), output to a
// buffer, killed with its group when ctx ends.
func command(ctx context.Context, env []string, argv ...string) (*exec.Cmd, *bytes.Buffer) {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Env = env
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	return c, &out
}

// timed runs a command and returns its wall time, fork to exit.
func timed(c *exec.Cmd, out *bytes.Buffer) (time.Duration, error) {
	t0 := time.Now()
	err := c.Start()
	if err == nil {
		err = c.Wait()
	}
	d := time.Since(t0)
	if err != nil {
		return d, fmt.Errorf("%s: %v: %s", strings.Join(c.Args, " "), err, tail(out.String(), 15))
	}
	return d, nil
}

// docker runs the docker CLI against e and returns its wall time and
// output.
func (b *bench) docker(ctx context.Context, e *engine, args ...string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
	defer cancel()
	c, out := command(ctx, clientEnv(e.env), append([]string{b.o.docker}, args...)...)
	d, err := timed(c, out)
	if err != nil {
		err = fmt.Errorf("%s: %w", e.name, err)
	}
	return d, out.String(), err
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

// spawn starts a daemon in a process group of its own, output to logFile.
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

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func (b *bench) newEngine(name string) *engine {
	d := filepath.Join(b.tmp, "engine-"+name)
	must(os.MkdirAll(d, 0o755))
	e := &engine{name: name, dir: d, log: filepath.Join(d, "daemon.log")}
	switch name {
	case "shoal":
		e.sock = filepath.Join(d, "shoal.sock")
	case "dockerd":
		e.sock = filepath.Join(d, "docker.sock")
	case "podman":
		e.sock = filepath.Join(d, "podman.sock")
	}
	e.env = []string{"DOCKER_HOST=unix://" + e.sock, "DOCKER_CONFIG=" + filepath.Join(d, "docker-config")}
	must(os.MkdirAll(filepath.Join(d, "docker-config"), 0o700))
	return e
}

func (b *bench) cgroupParent(what string) string {
	return "/" + tmpPrefix + b.token + "-" + what
}

func (b *bench) startShoal(ctx context.Context) (*engine, error) {
	e := b.newEngine("shoal")
	e.argv = []string{b.o.shoal, "daemon", "--data-root", filepath.Join(e.dir, "data"), "--exec-root", filepath.Join(e.dir, "exec"),
		"-H", "unix://" + e.sock, "--log-level", b.o.shoalLogLevel, "--cgroup-parent", b.cgroupParent("shoal")}
	// A daemon that reads a daemon.json by default must not read the
	// host's.
	if help, _ := exec.Command(b.o.shoal, "daemon", "--help").CombinedOutput(); bytes.Contains(help, []byte("--config-file")) {
		e.argv = append(e.argv, "--config-file", writeFile(filepath.Join(e.dir, "daemon.json"), "{}\n"))
	}
	var err error
	if e.cmd, err = spawn(e.log, os.Environ(), e.argv...); err != nil {
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
	e := b.newEngine("dockerd")
	e.argv = []string{"dockerd", "--data-root", filepath.Join(e.dir, "data"), "--exec-root", filepath.Join(e.dir, "exec"),
		"-H", "unix://" + e.sock, "--pidfile", filepath.Join(e.dir, "dockerd.pid"),
		"--config-file", writeFile(filepath.Join(e.dir, "daemon.json"), "{}\n"),
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
		"--storage-driver", "overlay2", "--exec-opt", "native.cgroupdriver=cgroupfs",
		"--cgroup-parent", b.cgroupParent("dockerd"), "--log-level", "warn"}
	var err error
	if e.cmd, err = spawn(e.log, os.Environ(), e.argv...); err != nil {
		return nil, err
	}
	b.engines[e.name] = e
	return e, b.waitReady(ctx, e, 60*time.Second)
}

// podmanNproc is the RLIMIT_NPROC that podman sets on itself at start
// (seen with strace: setrlimit(RLIMIT_NPROC, 32768, 32768)); the OCI
// runtime it runs can go no higher.
const podmanNproc = 32768

func (b *bench) startPodman(ctx context.Context) (*engine, error) {
	e := b.newEngine("podman")
	d := e.dir
	for _, s := range []string{"tmp", "networks"} {
		must(os.MkdirAll(filepath.Join(d, s), 0o755))
	}
	// Podman gives every container RLIMIT_NOFILE and RLIMIT_NPROC of
	// 1048576 unless told otherwise. Without CAP_SYS_RESOURCE (root on
	// this kind of VM lacks it) nothing may raise a hard limit, so crun
	// fails with "setrlimit RLIMIT_NOFILE: Operation not permitted". Then
	// the containers get the limits the engine itself has: the harness's
	// hard nofile, and the nproc podman sets on itself.
	ulimits := ""
	if !hasCap(unix.CAP_SYS_RESOURCE) {
		var nofile, nproc unix.Rlimit
		must(unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile))
		must(unix.Getrlimit(unix.RLIMIT_NPROC, &nproc))
		np := min(nproc.Max, podmanNproc)
		ulimits = fmt.Sprintf("default_ulimits = [\"nofile=%d:%d\", \"nproc=%d:%d\"]\n", nofile.Max, nofile.Max, np, np)
		e.notes = append(e.notes, fmt.Sprintf("no CAP_SYS_RESOURCE: podman's default container ulimits (nofile/nproc 1048576) cannot be set; containers.conf default_ulimits = nofile %d, nproc %d (the limits the engine runs with)", nofile.Max, np))
	}
	conf := writeFile(filepath.Join(d, "containers.conf"), "[containers]\n"+ulimits+
		"[engine]\nevents_logger = \"file\"\ncgroup_manager = \"cgroupfs\"\n"+
		fmt.Sprintf("[network]\nnetwork_config_dir = %q\n", filepath.Join(d, "networks")))
	storage := writeFile(filepath.Join(d, "storage.conf"), fmt.Sprintf("[storage]\ndriver = \"overlay\"\nrunroot = %q\ngraphroot = %q\n",
		filepath.Join(d, "run"), filepath.Join(d, "root")))
	registries := writeFile(filepath.Join(d, "registries.conf"), "unqualified-search-registries = []\nshort-name-mode = \"permissive\"\n")
	e.podmanEnv = []string{"CONTAINERS_CONF=" + conf, "CONTAINERS_STORAGE_CONF=" + storage,
		"CONTAINERS_REGISTRIES_CONF=" + registries, "TMPDIR=" + filepath.Join(d, "tmp")}
	e.podmanArgv = []string{"podman", "--root", filepath.Join(d, "root"), "--runroot", filepath.Join(d, "run"),
		"--tmpdir", filepath.Join(d, "tmp"), "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	e.argv = append(append([]string{}, e.podmanArgv...), "system", "service", "--time", "0", "unix://"+e.sock)
	if !libpodParentExists() {
		writeFile(filepath.Join(b.tmp, libpodMarker), "")
	}
	var err error
	if e.cmd, err = spawn(e.log, clientEnv(e.podmanEnv), e.argv...); err != nil {
		return nil, err
	}
	b.engines[e.name] = e
	return e, b.waitReady(ctx, e, 60*time.Second)
}

func hasCap(c int) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && m&(1<<uint(c)) != 0
		}
	}
	return false
}

// podman runs the podman CLI with the engine's roots and configuration.
func (b *bench) podman(ctx context.Context, e *engine, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
	defer cancel()
	c, out := command(ctx, clientEnv(e.podmanEnv), append(append([]string{}, e.podmanArgv...), args...)...)
	_, err := timed(c, out)
	return out.String(), err
}

// importImage imports the busybox rootfs tarball as the benchmark image.
func (b *bench) importImage(ctx context.Context, e *engine) error {
	change := `CMD ["sh"]`
	if e.name == "podman" {
		_, err := b.podman(ctx, e, "import", "--change", change, b.rootfsTar, image)
		return err
	}
	_, _, err := b.docker(ctx, e, "import", "--change", change, b.rootfsTar, image)
	return err
}

// containerIDs lists every container of the engine.
func (b *bench) containerIDs(ctx context.Context, e *engine) ([]string, error) {
	_, out, err := b.docker(ctx, e, "ps", "-aq", "--no-trunc")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// removeAll removes every container of the engine with one `docker rm -f`
// and returns its wall time.
func (b *bench) removeAll(ctx context.Context, e *engine) (int, time.Duration, error) {
	ids, err := b.containerIDs(ctx, e)
	if err != nil || len(ids) == 0 {
		return 0, 0, err
	}
	d, _, err := b.docker(ctx, e, append([]string{"rm", "-f"}, ids...)...)
	if err != nil {
		return len(ids), d, err
	}
	left, err := b.containerIDs(ctx, e)
	if err == nil && len(left) > 0 {
		err = fmt.Errorf("%s: %d container(s) still listed after docker rm -f", e.name, len(left))
	}
	return len(ids), d, err
}

// engineProcs returns the engine's host-side processes: those in our pid
// namespace that name the engine's dir in their argv, and their
// descendants in our pid namespace. Container processes (in pid
// namespaces of their own) are not among them, nor are zombies.
func engineProcs(e *engine) []proc {
	all := procs()
	ns := pidNS(os.Getpid())
	in := map[int]bool{}
	for _, p := range all {
		if p.state != 'Z' && p.namesPath(e.dir) && pidNS(p.pid) == ns {
			in[p.pid] = true
		}
	}
	for pid := range in {
		for _, d := range descendants(pid, all) {
			in[d] = true
		}
	}
	var out []proc
	for _, p := range all {
		if in[p.pid] && p.state != 'Z' && pidNS(p.pid) == ns {
			out = append(out, p)
		}
	}
	return out
}

// stop removes the engine's containers, stops the daemon (SIGTERM, then
// SIGKILL after 20 s) and the long-lived processes it leaves: Shoal's
// monitor, dockerd's containerd.
func (b *bench) stop(e *engine) error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if e.cmd != nil && e.cmd.ProcessState == nil {
		if n, _, err := b.removeAll(ctx, e); err != nil {
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
