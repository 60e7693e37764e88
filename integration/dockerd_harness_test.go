//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/testutil"
)

// dockerd is a reference Docker daemon (Debian's docker.io, 20.10) on
// temporary roots, driven with the same docker CLI as the Shoal daemon.
//
// It runs in a mount namespace of its own (so no overlay, shm or netns
// mount can leak into the host's), starts its own containerd with its
// state under the exec-root, and puts its containers under a cgroup parent
// of its own. Clean-up kills whatever is left of it: containers, the
// containerd shims, containerd and dockerd, and removes the cgroups and
// files, even when the test fails.
type dockerd struct {
	dockerCLI
	tmp          string
	cgroupParent string
	cmd          *exec.Cmd
	exited       chan error
	logs         *lockedBuffer
	// runContainerd and runContainerdS say whether /run/containerd and
	// /run/containerd/s existed before: containerd's shims put their
	// sockets there whatever its state directory.
	runContainerd, runContainerdS bool
}

// lockedBuffer is a bytes.Buffer that dockerd's output goroutine and the
// test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDockerd starts dockerd and registers its clean-up. It skips t when
// dockerd is not installed, and refuses (skips) when the host runs a
// containerd of its own at /run/containerd/containerd.sock, which dockerd
// would use instead of starting a private one.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	testutil.RequiresRoot(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not on PATH")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Skip("dockerd not installed: the differential tests need Debian's docker.io (apt-get install docker.io)")
	}
	if _, err := os.Stat("/run/containerd/containerd.sock"); err == nil {
		t.Skip("/run/containerd/containerd.sock exists: dockerd would use the host's containerd; refusing to run it")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	tmp, err := os.MkdirTemp("", "shoal-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	k := &dockerd{
		tmp:          tmp,
		dockerCLI:    dockerCLI{t: t, sock: filepath.Join(tmp, "docker.sock"), cfg: filepath.Join(tmp, "docker-config"), label: " (dockerd)"},
		cgroupParent: "/shoal-dockerd-test-" + hex.EncodeToString(b[:]), logs: &lockedBuffer{},
	}
	_, err = os.Stat("/run/containerd")
	k.runContainerd = err == nil
	_, err = os.Stat("/run/containerd/s")
	k.runContainerdS = err == nil
	t.Cleanup(k.cleanup)

	daemonJSON := filepath.Join(tmp, "daemon.json")
	if err := os.WriteFile(daemonJSON, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.cmd = exec.Command("dockerd",
		"--data-root", filepath.Join(tmp, "data"), "--exec-root", filepath.Join(tmp, "exec"),
		"-H", "unix://"+k.sock, "--pidfile", filepath.Join(tmp, "dockerd.pid"),
		"--config-file", daemonJSON, "--cgroup-parent", k.cgroupParent,
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
		"--log-level", "warn")
	k.cmd.Stdout, k.cmd.Stderr = k.logs, k.logs
	// A mount namespace of its own (Go makes its / rprivate); a process
	// group of its own so clean-up can signal dockerd and containerd at
	// once; killed with the test binary if that dies without cleaning up.
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Pdeathsig is sent when the thread that forked dockerd ends, and Go
	// ends threads (one whose goroutine exits while locked to it): fork
	// from a thread kept until dockerd has exited.
	k.exited = make(chan error, 1)
	started := make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) {
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		if err := c.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		ch <- c.Wait()
	}(k.cmd, k.exited)
	if err := <-started; err != nil {
		k.cmd = nil
		t.Fatalf("start dockerd: %v", err)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-k.exited:
			k.cmd = nil
			t.Fatalf("dockerd exited early: %v\n%s", err, tail(k.logs.String(), 4000))
		default:
		}
		if c, err := net.Dial("unix", k.sock); err == nil {
			c.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			_, err := k.dockerCtx(ctx, nil, "version")
			cancel()
			if err == nil {
				return k
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer within 60s\n%s", tail(k.logs.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *dockerd) cleanup() {
	if k.cmd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, _ := k.dockerCtx(ctx, nil, "ps", "-aq")
		if ids := strings.Fields(out); len(ids) > 0 {
			_, _ = k.dockerCtx(ctx, nil, append([]string{"rm", "-f", "-v"}, ids...)...)
		}
		cancel()
		if k.t.Failed() {
			k.t.Logf("dockerd log (tail):\n%s", tail(k.logs.String(), 4000))
		}
		// dockerd stops its containerd on SIGTERM; whatever is left of
		// the group after 20s is killed.
		_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-k.exited:
		case <-time.After(20 * time.Second):
			k.t.Logf("dockerd did not stop within 20s of SIGTERM: killing it")
			_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
			<-k.exited
		}
		_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
		k.cmd = nil
	}
	// containerd and its shims name the temp dir on their command lines
	// (shims have process groups of their own); the containers are in
	// the test's cgroups.
	if !isTestTemp(k.tmp) {
		k.t.Errorf("clean-up: %q is not a test temp dir; not killing, unmounting or removing anything for it", k.tmp)
		return
	}
	killMentioning(k.tmp + "/")
	for _, dir := range cgroupDirs(k.cgroupParent) {
		killCgroup(dir)
	}
	for _, dir := range cgroupDirs(k.cgroupParent) {
		removeCgroupTree(dir)
	}
	// The mounts are in dockerd's namespace, gone with its last process;
	// this catches any that propagated all the same.
	if err := mount.UnmountAll(k.tmp); err != nil {
		k.t.Logf("unmount %s: %v", k.tmp, err)
	}
	if err := os.RemoveAll(k.tmp); err != nil {
		k.t.Logf("remove %s: %v", k.tmp, err)
	}
	// Remove only if empty: another containerd's shims may use them.
	if !k.runContainerdS {
		_ = os.Remove("/run/containerd/s")
	}
	if !k.runContainerd {
		_ = os.Remove("/run/containerd")
	}
}

// killMentioning SIGKILLs every process whose command line contains s,
// which must name a directory under the system's temp dir: a short or
// empty s would match (and kill) every process on the machine.
func killMentioning(s string) {
	if !isTestTemp(s) {
		panic("killMentioning: refusing to kill processes mentioning " + strconv.Quote(s) + ": not a test temp dir")
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), s) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// isTestTemp says whether dir is a directory below the system's temp dir
// (not the temp dir itself), the only places the harnesses' clean-up may
// kill processes for or unmount and remove.
func isTestTemp(dir string) bool {
	dir = filepath.Clean(dir)
	base := filepath.Clean(os.TempDir())
	return strings.HasPrefix(dir, base+"/") && len(dir) > len(base)+len("/shoal-")
}
