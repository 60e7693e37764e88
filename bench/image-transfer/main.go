// Command image-transfer benchmarks image transfer verbs of Shoal's Docker
// Engine API against dockerd and podman: pull (+unpack) of a generated
// multi-layer image from a loopback registry, push, save, load and import.
// See docs/bench-images.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var (
	flagShoal    = flag.String("shoal", "", "shoal binary (scripts/build /tmp/x/shoal)")
	flagN        = flag.Int("n", 3, "rounds (engines interleaved, order rotated each round)")
	flagEngines  = flag.String("engines", "shoal,dockerd,podman", "engines to run")
	flagLayers   = flag.Int("layers", 5, "layers of the pull image")
	flagLayerMiB = flag.Int("layer-mib", 72, "uncompressed MiB of each pull-image layer (8 MiB files + 64 of 4 KiB)")
	flagSingle   = flag.Int("single-mib", 200, "uncompressed MiB of the single-layer save/load/import image (8 MiB files + 256 of 4 KiB)")
	flagLevel    = flag.Int("gzip-level", 6, "gzip level of the layer blobs")
	flagSeed     = flag.Uint64("seed", 1, "seed of the file contents")
	flagWork     = flag.String("workdir", "", "parent of the temp dir (default $TMPDIR)")
	flagKeep     = flag.Bool("keep", false, "keep the temp dir (daemons are stopped anyway)")
	flagApt      = flag.Bool("apt-install", false, "apt-get install docker-registry docker.io podman skopeo if missing")
	flagDocker   = flag.String("docker", "docker", "docker CLI (client for both shoal and dockerd)")
)

type env struct {
	tmp      string
	regPort  int // pull registry (the generated images)
	pushPort int // push registry (wiped before every push)
	pushDir  string
	procs    []*exec.Cmd
	engines  map[string]*engine
	multiRef string
	singRef  string
	rootfs   string
	multi    genImage
	single   genImage
}

type engine struct {
	name string
	cli  []string // argv prefix
	env  []string
	log  string
}

func main() {
	flag.Parse()
	if os.Getenv("IMAGE_TRANSFER_NS") == "" {
		os.Exit(reexec())
	}
	e := &env{engines: map[string]*engine{}}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return run(ctx, e)
	}()
	e.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "image-transfer:", err)
		os.Exit(1)
	}
}

// reexec runs the benchmark in a private mount namespace, so that nothing
// dockerd, podman or Shoal mounts can leak into the host's namespace.
func reexec() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "image-transfer: must run as root")
		return 1
	}
	self, _ := os.Executable()
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "IMAGE_TRANSFER_NS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes / rprivate
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "image-transfer:", err)
		return 1
	}
	return 0
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "# "+format+"\n", a...)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func ensureTools() error {
	need := map[string]string{"docker-registry": "docker-registry", "dockerd": "docker.io", "podman": "podman", "skopeo": "skopeo"}
	var pkgs []string
	for bin, pkg := range need {
		if _, err := exec.LookPath(bin); err != nil {
			pkgs = append(pkgs, pkg)
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	if !*flagApt {
		return fmt.Errorf("missing %v: apt-get install -y %s (or pass -apt-install)", pkgs, strings.Join(pkgs, " "))
	}
	for _, a := range [][]string{{"apt-get", "update", "-qq"}, append([]string{"apt-get", "install", "-y", "-qq"}, pkgs...)} {
		c := exec.Command(a[0], a[1:]...)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("%v: %w", a, err)
		}
	}
	return nil
}

func run(ctx context.Context, e *env) error {
	if *flagShoal == "" {
		return errors.New("-shoal BINARY is required (scripts/build /tmp/x/shoal)")
	}
	shoal, err := filepath.Abs(*flagShoal)
	if err != nil {
		return err
	}
	if err := ensureTools(); err != nil {
		return err
	}
	e.tmp, err = os.MkdirTemp(*flagWork, "image-transfer-")
	if err != nil {
		return err
	}
	logf("temp dir %s", e.tmp)

	// 1. images
	t0 := time.Now()
	e.multi = makeImage(*flagSeed, "multi", *flagLayers, specFor(*flagLayerMiB, 8<<10, 64), *flagLevel, false)
	e.single = makeImage(*flagSeed, "single", 1, specFor(*flagSingle, 8<<10, 256), *flagLevel, true)
	e.rootfs = filepath.Join(e.tmp, "rootfs.tar")
	must(os.WriteFile(e.rootfs, e.single.FirstTar, 0o644))
	p, err := layout.Write(filepath.Join(e.tmp, "oci"), empty.Index)
	must(err)
	must(p.AppendImage(e.multi.Img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})))
	must(p.AppendImage(e.single.Img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "single"})))
	logf("generated images + OCI layout in %.1fs", time.Since(t0).Seconds())

	// 2. registries
	e.regPort, e.pushPort = freePort(), freePort()
	if err := e.startRegistry("pull", e.regPort, filepath.Join(e.tmp, "registry")); err != nil {
		return err
	}
	e.pushDir = filepath.Join(e.tmp, "registry-push")
	if err := e.startRegistry("push", e.pushPort, e.pushDir); err != nil {
		return err
	}
	e.multiRef = fmt.Sprintf("127.0.0.1:%d/bench/multi:v1", e.regPort)
	e.singRef = fmt.Sprintf("127.0.0.1:%d/bench/single:v1", e.regPort)
	for ref, g := range map[string]genImage{e.multiRef: e.multi, e.singRef: e.single} {
		r, err := name.ParseReference(ref, name.Insecure)
		must(err)
		if err := remote.Write(r, g.Img, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	md, _ := e.multi.Img.Digest()
	sd, _ := e.single.Img.Digest()
	logf("pushed %s (%s) and %s (%s)", e.multiRef, md, e.singRef, sd)

	// 3. engines
	for _, n := range strings.Split(*flagEngines, ",") {
		var err error
		switch n {
		case "shoal":
			err = e.startShoal(ctx, shoal)
		case "dockerd":
			err = e.startDockerd(ctx)
		case "podman":
			err = e.startPodman()
		default:
			err = fmt.Errorf("unknown engine %q", n)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	names := strings.Split(*flagEngines, ",")
	printConditions(e, names)

	// 4. rounds
	res := map[string]map[string][]float64{} // op -> engine -> seconds
	add := func(op, eng string, d time.Duration) {
		if res[op] == nil {
			res[op] = map[string][]float64{}
		}
		res[op][eng] = append(res[op][eng], d.Seconds())
	}
	pushed, savedSize := map[string]int64{}, map[string]int64{}
	for _, n := range names {
		eng := e.engines[n]
		// the single image is pulled once, untimed: save/load work on it
		if _, err := eng.do(ctx, "pull", "-q", e.singRef); err != nil {
			return err
		}
	}
	for r := 0; r < *flagN; r++ {
		order := append(names[r%len(names):], names[:r%len(names)]...)
		for _, n := range order {
			eng := e.engines[n]
			if err := ctx.Err(); err != nil {
				return err
			}
			// pull
			eng.rmi(ctx, e.multiRef)
			d, err := eng.do(ctx, "pull", "-q", e.multiRef)
			if err != nil {
				return err
			}
			add("pull", n, d)
			// push: a fresh repo on an empty registry, so every blob is uploaded
			must(os.RemoveAll(filepath.Join(e.pushDir, "docker")))
			pref := fmt.Sprintf("127.0.0.1:%d/push/%s-%d:v1", e.pushPort, n, r)
			if _, err := eng.do(ctx, "tag", e.multiRef, pref); err != nil {
				return err
			}
			if d, err = eng.do(ctx, "push", "-q", pref); err != nil {
				return err
			}
			add("push", n, d)
			pushed[n] = dirBytes(filepath.Join(e.pushDir, "docker", "registry", "v2", "blobs"))
			eng.rmi(ctx, pref)
			// save
			saved := filepath.Join(e.tmp, fmt.Sprintf("save-%s.tar", n))
			os.Remove(saved)
			if d, err = eng.do(ctx, "save", "-o", saved, e.singRef); err != nil {
				return err
			}
			add("save", n, d)
			if fi, err := os.Stat(saved); err == nil {
				savedSize[n] = fi.Size()
			}
			// load (of the file this engine saved)
			eng.rmi(ctx, e.singRef)
			if d, err = eng.do(ctx, "load", "-q", "-i", saved); err != nil {
				return err
			}
			add("load", n, d)
			// import
			iref := fmt.Sprintf("bench/imported:%s-%d", n, r)
			if d, err = eng.do(ctx, "import", e.rootfs, iref); err != nil {
				return err
			}
			add("import", n, d)
			eng.rmi(ctx, iref)
			logf("round %d %s done", r+1, n)
		}
		// copy-only reference
		dst := filepath.Join(e.tmp, "skopeo-dir")
		os.RemoveAll(dst)
		t := time.Now()
		if out, err := exec.CommandContext(ctx, "skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+e.multiRef, "dir:"+dst).CombinedOutput(); err != nil {
			return fmt.Errorf("skopeo copy: %v: %s", err, out)
		}
		add("pull", "skopeo-copy", time.Since(t))
		os.RemoveAll(dst)
	}
	printTable(e, names, res)
	fmt.Printf("\nblob bytes in the push registry after the last push (manifest+config+layers as each engine compressed them):\n")
	for _, n := range names {
		fmt.Printf("  %-8s %.1f MiB\n", n, float64(pushed[n])/(1<<20))
	}
	fmt.Printf("size of the file each engine saved (docker save -o / podman save --format docker-archive):\n")
	for _, n := range names {
		fmt.Printf("  %-8s %.1f MiB\n", n, float64(savedSize[n])/(1<<20))
	}
	return nil
}

func (e *env) startRegistry(label string, port int, dir string) error {
	must(os.MkdirAll(dir, 0o755))
	cfg := filepath.Join(e.tmp, "registry-"+label+".yml")
	// no blob descriptor cache: the push registry's storage is wiped under it
	must(os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:%d
`, dir, port)), 0o644))
	logFile := filepath.Join(e.tmp, "registry-"+label+".log")
	if err := e.spawn(logFile, "docker-registry", "serve", cfg); err != nil {
		return err
	}
	return waitFor(20*time.Second, func() error {
		r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v2/", port))
		if err == nil {
			r.Body.Close()
		}
		return err
	}, logFile)
}

func (e *env) spawn(logFile string, argv ...string) error {
	f, err := os.Create(logFile)
	if err != nil {
		return err
	}
	defer f.Close()
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdout, c.Stderr = f, f
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		return err
	}
	e.procs = append(e.procs, c)
	return nil
}

func waitFor(limit time.Duration, f func() error, logFile string) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			return fmt.Errorf("not up after %v: %v\n--- %s (tail):\n%s", limit, err, logFile, tail(string(b), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func (e *env) dockerEngine(ctx context.Context, n, sock, logFile string) error {
	eng := &engine{name: n, cli: []string{*flagDocker}, env: []string{"DOCKER_HOST=unix://" + sock,
		"DOCKER_CONFIG=" + filepath.Join(e.tmp, "docker-config-"+n)}, log: logFile}
	e.engines[n] = eng
	return waitFor(60*time.Second, func() error {
		_, err := eng.do(ctx, "version")
		return err
	}, logFile)
}

func (e *env) startShoal(ctx context.Context, bin string) error {
	d := filepath.Join(e.tmp, "shoal")
	sock := filepath.Join(d, "shoal.sock")
	logFile := filepath.Join(e.tmp, "shoal.log")
	if err := e.spawn(logFile, bin, "daemon", "--data-root", filepath.Join(d, "data"), "--exec-root", filepath.Join(d, "exec"),
		"-H", "unix://"+sock, "--log-level", "warn"); err != nil {
		return err
	}
	return e.dockerEngine(ctx, "shoal", sock, logFile)
}

func (e *env) startDockerd(ctx context.Context) error {
	d := filepath.Join(e.tmp, "dockerd")
	sock := filepath.Join(d, "docker.sock")
	logFile := filepath.Join(e.tmp, "dockerd.log")
	// no --containerd: dockerd starts its own, with its state under the
	// private exec-root (the host has no /run/containerd/containerd.sock)
	if _, err := os.Stat("/run/containerd/containerd.sock"); err == nil {
		return errors.New("/run/containerd/containerd.sock exists: dockerd would use the host's containerd; refusing")
	}
	if err := e.spawn(logFile, "dockerd", "--data-root", filepath.Join(d, "data"), "--exec-root", filepath.Join(d, "exec"),
		"-H", "unix://"+sock, "--pidfile", filepath.Join(d, "dockerd.pid"),
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
		"--storage-driver", "overlay2",
		"--insecure-registry", fmt.Sprintf("127.0.0.1:%d", e.regPort),
		"--insecure-registry", fmt.Sprintf("127.0.0.1:%d", e.pushPort),
		"--config-file", writeFile(filepath.Join(d, "daemon.json"), "{}"),
		"--log-level", "warn"); err != nil {
		return err
	}
	return e.dockerEngine(ctx, "dockerd", sock, logFile)
}

func writeFile(p, s string) string {
	must(os.MkdirAll(filepath.Dir(p), 0o755))
	must(os.WriteFile(p, []byte(s), 0o644))
	return p
}

func (e *env) startPodman() error {
	d := filepath.Join(e.tmp, "podman")
	reg := writeFile(filepath.Join(d, "registries.conf"), fmt.Sprintf(`unqualified-search-registries = []
[[registry]]
location = "127.0.0.1:%d"
insecure = true
[[registry]]
location = "127.0.0.1:%d"
insecure = true
`, e.regPort, e.pushPort))
	conf := writeFile(filepath.Join(d, "containers.conf"), "[engine]\nevents_logger = \"file\"\n")
	e.engines["podman"] = &engine{name: "podman", cli: []string{"podman",
		"--root", filepath.Join(d, "root"), "--runroot", filepath.Join(d, "run"),
		"--tmpdir", filepath.Join(d, "tmp"), "--storage-driver", "overlay"},
		env: []string{"CONTAINERS_REGISTRIES_CONF=" + reg, "CONTAINERS_CONF=" + conf,
			"CONTAINERS_STORAGE_CONF=" + writeFile(filepath.Join(d, "storage.conf"), fmt.Sprintf("[storage]\ndriver = \"overlay\"\nrunroot = %q\ngraphroot = %q\n",
				filepath.Join(d, "run"), filepath.Join(d, "root"))),
			"TMPDIR=" + filepath.Join(d, "tmp")},
		log: filepath.Join(e.tmp, "podman.log")}
	must(os.MkdirAll(filepath.Join(d, "tmp"), 0o755))
	_, err := e.engines["podman"].do(context.Background(), "info")
	return err
}

// do runs one CLI command and returns its wall time.
func (g *engine) do(ctx context.Context, args ...string) (time.Duration, error) {
	argv := append(append([]string{}, g.cli...), args...)
	if g.name == "podman" {
		argv = podmanArgs(argv)
	}
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Env = append(os.Environ(), g.env...)
	t := time.Now()
	out, err := c.CombinedOutput()
	d := time.Since(t)
	if err != nil {
		return d, fmt.Errorf("%s: %s: %v: %s", g.name, strings.Join(args, " "), err, tail(string(out), 20))
	}
	return d, nil
}

// podmanArgs maps the docker CLI argv to podman's: --tls-verify=false for
// the loopback registries, and docker-archive (what docker save writes) for
// save.
func podmanArgs(argv []string) []string {
	for i, a := range argv {
		switch a {
		case "pull", "push":
			return append(append(argv[:i+1:i+1], "--tls-verify=false"), argv[i+1:]...)
		case "save":
			return append(append(argv[:i+1:i+1], "--format", "docker-archive"), argv[i+1:]...)
		}
	}
	return argv
}

// rmi removes an image and whatever it left behind (untimed).
func (g *engine) rmi(ctx context.Context, ref string) {
	g.do(ctx, "rmi", "-f", ref)
	g.do(ctx, "image", "prune", "-f")
}

func (e *env) cleanup() {
	for _, eng := range e.engines {
		if eng.name == "podman" {
			eng.do(context.Background(), "rmi", "-af")
		}
	}
	for i := len(e.procs) - 1; i >= 0; i-- {
		c := e.procs[i]
		if c.Process == nil {
			continue
		}
		syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	if e.tmp == "" {
		return
	}
	// dockerd's containerd (its own process group) and its shims
	for _, pf := range []string{"dockerd/exec/containerd/containerd.pid"} {
		if b, err := os.ReadFile(filepath.Join(e.tmp, pf)); err == nil {
			var pid int
			fmt.Sscan(string(b), &pid)
			if pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	unmountUnder(e.tmp)
	if *flagKeep {
		logf("kept %s", e.tmp)
		return
	}
	if err := os.RemoveAll(e.tmp); err != nil {
		logf("cleanup: %v", err)
	}
}

func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var mps []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) > 4 && (fs[4] == dir || strings.HasPrefix(fs[4], dir+"/")) {
			mps = append(mps, fs[4])
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	for _, m := range mps {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			logf("umount %s: %v", m, err)
		}
	}
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
