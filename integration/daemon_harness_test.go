//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/testutil"
)

// daemon is a `shoal daemon` on temporary roots, driven with the real
// docker CLI.
type daemon struct {
	dockerCLI
	tmp          string
	data, run    string
	cgroupParent string
	// netns is the network namespace the daemon (and so its monitor,
	// bridges, nftables table and host-network containers) lives in: its
	// own, so no test touches the host's network or another test's.
	netns string
	// daemonEnv is added to the daemon's environment.
	daemonEnv []string
	args      []string
	cmd       *exec.Cmd
	exited    chan error
	logs      *bytes.Buffer
}

// startDaemon starts a daemon in a network namespace of its own and
// registers its clean-up: containers, the monitor, mounts, cgroups and
// the namespace (with its bridges and rules) go even when the test fails.
func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	return newDaemon(t, false, extra...)
}

// startDaemonHostNet starts a daemon in the host's network namespace,
// for tests that need the host's loopback (a registry, a TCP listener the
// test dials). It runs with --bridge=none and such tests make no
// networks, so it creates nothing in the host's network.
func startDaemonHostNet(t *testing.T, extra ...string) *daemon {
	t.Helper()
	return newDaemon(t, true, append([]string{"--bridge=none"}, extra...)...)
}

// startDaemonEnv is startDaemon with env added to the daemon's
// environment.
func startDaemonEnv(t *testing.T, env []string, extra ...string) *daemon {
	t.Helper()
	return newDaemonEnv(t, false, env, extra...)
}

func newDaemon(t *testing.T, hostNet bool, extra ...string) *daemon {
	t.Helper()
	return newDaemonEnv(t, hostNet, nil, extra...)
}

func newDaemonEnv(t *testing.T, hostNet bool, env []string, extra ...string) *daemon {
	t.Helper()
	testutil.RequiresRoot(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not on PATH")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	tmp, err := os.MkdirTemp("", "shoal-d-")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{
		dockerCLI: dockerCLI{t: t, sock: filepath.Join(tmp, "d.sock"), cfg: filepath.Join(tmp, "docker-config")},
		tmp:       tmp, data: filepath.Join(tmp, "data"), run: filepath.Join(tmp, "run"),
		cgroupParent: "/shoal-test-" + hex.EncodeToString(b[:]), args: extra, daemonEnv: env,
	}
	if !hostNet {
		d.netns = daemonNetNS(t)
	}
	t.Cleanup(d.cleanup)
	d.start()
	return d
}

// daemonNetNS makes a network namespace for a test daemon, with lo up
// as a host has it.
func daemonNetNS(t *testing.T) string {
	t.Helper()
	ns := testutil.NewNetNS(t)
	if err := testutil.InNetNS(ns, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		t.Fatalf("bring lo up in the daemon's namespace: %v", err)
	}
	return ns
}

// command is shoal with args, run in the daemon's network namespace.
func (d *daemon) command(args ...string) *exec.Cmd {
	cmd := exec.Command(shoalBin, args...)
	if d.netns != "" {
		cmd = exec.Command("nsenter", append([]string{"--net=" + d.netns, shoalBin}, args...)...)
	}
	if len(d.daemonEnv) > 0 {
		cmd.Env = append(os.Environ(), d.daemonEnv...)
	}
	return cmd
}

// daemonNS is the daemon's namespace of kind, as readlink shows it.
func (d *daemon) daemonNS(kind string) string {
	d.t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", d.cmd.Process.Pid, kind))
	if err != nil {
		d.t.Fatal(err)
	}
	return l
}

// inNetNS runs fn in the daemon's network namespace (a locked thread
// that is thrown away afterwards).
func (d *daemon) inNetNS(fn func() error) error {
	return testutil.InNetNS(d.netns, fn)
}

func (d *daemon) start() {
	d.t.Helper()
	args := append([]string{"daemon", "--data-root", d.data, "--exec-root", d.run, "-H", "unix://" + d.sock,
		"--cgroup-parent", d.cgroupParent, "--log-level", "debug"}, d.args...)
	d.logs = &bytes.Buffer{}
	d.cmd = d.command(args...)
	d.cmd.Stderr = d.logs
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(d.cmd, d.exited)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.exited:
			d.t.Fatalf("daemon exited early: %v\n%s", err, d.logs)
		default:
		}
		if c, err := net.Dial("unix", d.sock); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("daemon socket did not appear\n%s", d.logs)
}

// kill9 kills the daemon with SIGKILL (the monitor and containers stay).
func (d *daemon) kill9() {
	d.t.Helper()
	_ = d.cmd.Process.Kill()
	<-d.exited
	d.cmd = nil
}

// stop stops the daemon with SIGTERM.
func (d *daemon) stop() {
	d.t.Helper()
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		d.t.Errorf("daemon did not stop within 20s of SIGTERM")
	}
	d.cmd = nil
}

func (d *daemon) monitorPid() int {
	b, err := os.ReadFile(filepath.Join(d.run, "monitor", "monitor.pid"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func (d *daemon) cleanup() {
	if d.cmd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, _ := d.dockerCtx(ctx, nil, "ps", "-aq")
		if ids := strings.Fields(out); len(ids) > 0 {
			_, _ = d.dockerCtx(ctx, nil, append([]string{"rm", "-f", "-v"}, ids...)...)
		}
		cancel()
		if d.t.Failed() {
			d.t.Logf("daemon log (tail):\n%s", tail(d.logs.String(), 6000))
			if b, err := os.ReadFile(filepath.Join(d.run, "monitor", "monitor.log")); err == nil {
				d.t.Logf("monitor log (tail):\n%s", tail(string(b), 3000))
			}
		}
		d.stop()
	}
	if pid := d.monitorPid(); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// Whatever is left: container processes in the test's cgroups, then
	// the cgroups, the mounts and the files.
	for _, dir := range cgroupDirs(d.cgroupParent) {
		killCgroup(dir)
	}
	for _, dir := range cgroupDirs(d.cgroupParent) {
		removeCgroupTree(dir)
	}
	if !isTestTemp(d.tmp) {
		d.t.Errorf("clean-up: %q is not a test temp dir; not unmounting or removing it", d.tmp)
		return
	}
	if err := mount.UnmountAll(d.tmp); err != nil {
		d.t.Logf("unmount %s: %v", d.tmp, err)
	}
	_ = os.RemoveAll(d.tmp)
}

// killCgroup SIGKILLs every process in the cgroup tree at dir, which
// must be a test's own cgroup (see isTestCgroup).
func killCgroup(dir string) {
	if !isTestCgroup(dir) {
		panic("killCgroup: " + dir + " is not a test cgroup")
	}
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && filepath.Base(p) == "cgroup.procs" {
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		return nil
	})
}

// isTestCgroup says whether dir is a cgroup a test made: one whose
// top-level name below a hierarchy starts with "shoal-" and mentions
// "test". Anything else (a hierarchy root, an empty parent) could hold
// the machine's own processes.
func isTestCgroup(dir string) bool {
	rel, err := filepath.Rel("/sys/fs/cgroup", filepath.Clean(dir))
	if err != nil || strings.HasPrefix(rel, "..") {
		return false
	}
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, "shoal-") && strings.Contains(part, "test") {
			return true
		}
	}
	return false
}

func removeCgroupTree(dir string) {
	if !isTestCgroup(dir) {
		panic("removeCgroupTree: " + dir + " is not a test cgroup")
	}
	var dirs []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		for try := 0; try < 50; try++ {
			if err := os.Remove(dirs[i]); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// dockerCLI runs the docker CLI against one engine's socket with a
// private client configuration; Shoal's and dockerd's harnesses embed it.
type dockerCLI struct {
	t         *testing.T
	sock, cfg string
	label     string // named in failures when not Shoal
}

func (c *dockerCLI) env() []string {
	return append(os.Environ(), "DOCKER_HOST=unix://"+c.sock, "DOCKER_CONFIG="+c.cfg)
}

func (c *dockerCLI) dockerCtx(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = c.env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// docker runs the docker CLI and returns its combined output and exit
// code.
func (c *dockerCLI) docker(args ...string) (string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	out, err := c.dockerCtx(ctx, nil, args...)
	if d := time.Since(t0); d > 3*time.Second {
		c.t.Logf("slow: docker %s took %v", strings.Join(args, " "), d.Round(time.Millisecond))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out, ee.ExitCode()
	}
	if err != nil {
		c.t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out, 0
}

// must runs docker and fails the test unless it exits 0.
func (c *dockerCLI) must(args ...string) string {
	c.t.Helper()
	out, code := c.docker(args...)
	if code != 0 {
		c.t.Fatalf("docker %s%s: exit %d\n%s", strings.Join(args, " "), c.label, code, out)
	}
	return out
}

// busyboxImage imports a busybox root filesystem as name (default
// command sh).
func (d *daemon) busyboxImage(name string) {
	d.t.Helper()
	root := testutil.BusyboxRootfs(d.t)
	tarFile := filepath.Join(d.tmp, "bb.tar")
	if out, err := exec.Command("tar", "-C", root, "-cf", tarFile, ".").CombinedOutput(); err != nil {
		d.t.Fatalf("tar busybox: %v\n%s", err, out)
	}
	d.must("import", "--change", `CMD ["sh"]`, tarFile, name)
}
