package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/cgroup"
	"github.com/shoal-dev/shoal/bench/internal/daemon"
	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/proc"
	"golang.org/x/sys/unix"
)

// engine is one container engine under test, driven by the docker CLI.
type engine struct {
	*daemon.Engine
	// podman's global flags and environment, for `podman import`/`info`.
	podmanArgv []string
	podmanEnv  []string
	notes      []string
}

// newEngine makes the engine's directory and registers it for the
// cleanup.
func (b *bench) newEngine(name string) *engine {
	d, err := daemon.New(b.tmp, name, b.o.docker, b.o.timeout)
	harness.Must(err)
	e := &engine{Engine: d}
	b.engines[name] = e
	return e
}

func (b *bench) cgroupParent(what string) string {
	return harness.CgroupParent(b.token, what)
}

func (b *bench) startShoal(ctx context.Context) (*engine, error) {
	e := b.newEngine("shoal")
	e.Argv = e.ShoalArgv(b.o.shoal, b.o.shoalLogLevel, b.cgroupParent("shoal"))
	// A daemon that reads a daemon.json by default must not read the
	// host's.
	if help, _ := exec.Command(b.o.shoal, "daemon", "--help").CombinedOutput(); bytes.Contains(help, []byte("--config-file")) {
		conf, err := e.ConfigFile()
		if err != nil {
			return nil, err
		}
		e.Argv = append(e.Argv, "--config-file", conf)
	}
	return e, e.Start(ctx, 30*time.Second, os.Environ(), e.Argv...)
}

func (b *bench) startDockerd(ctx context.Context) (*engine, error) {
	if err := daemon.CheckHostContainerd(); err != nil {
		return nil, err
	}
	e := b.newEngine("dockerd")
	var err error
	e.Argv, err = e.DockerdArgv(b.cgroupParent("dockerd"), "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false")
	if err != nil {
		return nil, err
	}
	return e, e.Start(ctx, 60*time.Second, os.Environ(), e.Argv...)
}

// podmanNproc is the RLIMIT_NPROC that podman sets on itself at start
// (seen with strace: setrlimit(RLIMIT_NPROC, 32768, 32768)); the OCI
// runtime it runs can go no higher.
const podmanNproc = 32768

func (b *bench) startPodman(ctx context.Context) (*engine, error) {
	e := b.newEngine("podman")
	d := e.Dir
	for _, s := range []string{"tmp", "networks"} {
		harness.Must(os.MkdirAll(filepath.Join(d, s), 0o755))
	}
	// Podman gives every container RLIMIT_NOFILE and RLIMIT_NPROC of
	// 1048576 unless told otherwise. Without CAP_SYS_RESOURCE (root on
	// this kind of VM lacks it) nothing may raise a hard limit, so crun
	// fails with "setrlimit RLIMIT_NOFILE: Operation not permitted". Then
	// the containers get the limits the engine itself has: the harness's
	// hard nofile, and the nproc podman sets on itself.
	ulimits := ""
	if !proc.HasCap(unix.CAP_SYS_RESOURCE) {
		var nofile, nproc unix.Rlimit
		harness.Must(unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile))
		harness.Must(unix.Getrlimit(unix.RLIMIT_NPROC, &nproc))
		np := min(nproc.Max, podmanNproc)
		ulimits = fmt.Sprintf("default_ulimits = [\"nofile=%d:%d\", \"nproc=%d:%d\"]\n", nofile.Max, nofile.Max, np, np)
		e.notes = append(e.notes, fmt.Sprintf("no CAP_SYS_RESOURCE: podman's default container ulimits (nofile/nproc 1048576) cannot be set; containers.conf default_ulimits = nofile %d, nproc %d (the limits the engine runs with)", nofile.Max, np))
	}
	conf := harness.WriteFile(filepath.Join(d, "containers.conf"), "[containers]\n"+ulimits+
		"[engine]\nevents_logger = \"file\"\ncgroup_manager = \"cgroupfs\"\n"+
		fmt.Sprintf("[network]\nnetwork_config_dir = %q\n", filepath.Join(d, "networks")))
	storage := harness.WriteFile(filepath.Join(d, "storage.conf"), fmt.Sprintf("[storage]\ndriver = \"overlay\"\nrunroot = %q\ngraphroot = %q\n",
		filepath.Join(d, "run"), filepath.Join(d, "root")))
	registries := harness.WriteFile(filepath.Join(d, "registries.conf"), "unqualified-search-registries = []\nshort-name-mode = \"permissive\"\n")
	e.podmanEnv = []string{"CONTAINERS_CONF=" + conf, "CONTAINERS_STORAGE_CONF=" + storage,
		"CONTAINERS_REGISTRIES_CONF=" + registries, "TMPDIR=" + filepath.Join(d, "tmp")}
	e.podmanArgv = []string{"podman", "--root", filepath.Join(d, "root"), "--runroot", filepath.Join(d, "run"),
		"--tmpdir", filepath.Join(d, "tmp"), "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	e.Argv = append(append([]string{}, e.podmanArgv...), "system", "service", "--time", "0", "unix://"+e.Sock)
	if !libpodParentExists() {
		harness.WriteFile(filepath.Join(b.tmp, libpodMarker), "")
	}
	return e, e.Start(ctx, 60*time.Second, daemon.ClientEnv(e.podmanEnv), e.Argv...)
}

// podman runs the podman CLI with the engine's roots and configuration.
func (b *bench) podman(ctx context.Context, e *engine, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
	defer cancel()
	c, out := daemon.Command(ctx, daemon.ClientEnv(e.podmanEnv), append(append([]string{}, e.podmanArgv...), args...)...)
	_, err := daemon.Timed(c, out)
	return out.Stdout.String(), err
}

// importImage imports the busybox rootfs tarball as the benchmark image.
func (b *bench) importImage(ctx context.Context, e *engine) error {
	change := `CMD ["sh"]`
	if e.Name == "podman" {
		_, err := b.podman(ctx, e, "import", "--change", change, b.rootfsTar, image)
		return err
	}
	_, _, err := e.Docker(ctx, "import", "--change", change, b.rootfsTar, image)
	return err
}

// engineProcs returns the engine's host-side processes: those in our pid
// namespace that name the engine's dir in their argv, and their
// descendants in our pid namespace. Container processes (in pid
// namespaces of their own) are not among them, nor are zombies.
func engineProcs(e *engine) []proc.Process {
	all := proc.List()
	ns := proc.PIDNamespace(os.Getpid())
	in := map[int]bool{}
	for _, p := range all {
		if p.State != 'Z' && p.NamesPath(e.Dir) && proc.PIDNamespace(p.PID) == ns {
			in[p.PID] = true
		}
	}
	for pid := range in {
		for _, d := range proc.Descendants(pid, all) {
			in[d] = true
		}
	}
	var out []proc.Process
	for _, p := range all {
		if in[p.PID] && p.State != 'Z' && proc.PIDNamespace(p.PID) == ns {
			out = append(out, p)
		}
	}
	return out
}

// libpodParentExists tells whether podman's cgroupfs parent is there in
// any hierarchy.
func libpodParentExists() bool {
	for _, h := range cgroup.Hierarchies() {
		if _, err := os.Stat(filepath.Join(h, "libpod_parent")); err == nil {
			return true
		}
	}
	return false
}

// removeLibpodParent removes libpod_parent (which this run created) and
// what podman made in it, but only empty cgroups: another podman on the
// host may have started to use it meanwhile, so nothing in it is killed.
func removeLibpodParent() {
	for _, h := range cgroup.Hierarchies() {
		d := filepath.Join(h, "libpod_parent")
		if _, err := os.Stat(d); err == nil {
			_ = cgroup.RemoveTree(d, false)
		}
	}
}
