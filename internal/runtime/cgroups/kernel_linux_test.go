package cgroups

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// The tests in this file need root (SHOAL_TEST_ROOT=1) and create real
// cgroups under unique /shoal-test-<random> paths, removed on cleanup even
// when a test fails.

// helperEnv makes the test binary act as a child process for the kernel
// tests: it waits for a line on stdin (so the test can move it into a
// cgroup first), then does what the variable says.
const helperEnv = "SHOAL_CGROUPS_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper implements the child: "open-rdwr" and "open-rdonly" open
// /dev/null and print "ok" or "errno=N"; "alloc" touches 256 MiB.
func runHelper(mode string) int {
	var b [1]byte
	if _, err := os.Stdin.Read(b[:]); err != nil {
		return 2
	}
	switch mode {
	case "open-rdwr", "open-rdonly":
		flag := os.O_RDWR
		if mode == "open-rdonly" {
			flag = os.O_RDONLY
		}
		f, err := os.OpenFile("/dev/null", flag, 0)
		if err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) {
				fmt.Printf("errno=%d", int(errno))
				return 0
			}
			fmt.Print(err)
			return 1
		}
		f.Close()
		fmt.Print("ok")
		return 0
	case "alloc":
		var keep [][]byte
		for i := 0; i < 256; i++ {
			chunk := make([]byte, 1<<20)
			for j := range chunk {
				chunk[j] = byte(j)
			}
			keep = append(keep, chunk)
		}
		fmt.Print(len(keep))
		return 0
	}
	return 3
}

type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
}

// startHelper starts the test binary as a child in helper mode, waiting
// for its go signal.
func startHelper(t *testing.T, mode string) *helper {
	t.Helper()
	h := &helper{cmd: exec.Command("/proc/self/exe", "-test.run=^$")}
	h.cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	h.cmd.Stdout = &h.out
	h.cmd.Stderr = os.Stderr
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.cmd.Process.Kill()
		_, _ = h.cmd.Process.Wait()
	})
	return h
}

// run lets the helper go and waits for it.
func (h *helper) run(t *testing.T) (string, error) {
	t.Helper()
	if _, err := h.stdin.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	err := h.cmd.Wait()
	return h.out.String(), err
}

func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	return cmd
}

func uniquePath(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "/shoal-test-" + hex.EncodeToString(b)
}

// cleanupCgroup removes the directories of m when the test ends, killing
// what is left in them, and fails the test if one stays behind. Registered
// right after New, it runs after the child processes are killed.
func cleanupCgroup(t *testing.T, m Manager) {
	t.Helper()
	paths := m.Paths()
	t.Cleanup(func() {
		for _, d := range uniqueDirs(paths) {
			if pids, err := allPids(d); err == nil {
				_ = signalPids(pids, syscall.SIGKILL)
			}
			_ = writeFile(d, "freezer.state", "THAWED")
			_ = writeFile(d, "cgroup.freeze", "0")
		}
		for _, d := range uniqueDirs(paths) {
			if err := removeTree(d); err != nil {
				t.Errorf("cleanup: %v", err)
			}
			if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("cleanup: %s is still there: %v", d, err)
			}
		}
	})
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// ownCgroupLine returns the path of pid's cgroup in the hierarchy whose
// /proc/<pid>/cgroup controller field is ctrl ("" for cgroup v2).
func ownCgroupLine(t *testing.T, pid int, ctrl string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	cg, err := parseProcCgroup(data)
	if err != nil {
		t.Fatal(err)
	}
	return cg[ctrl]
}

// unifiedRoot returns where this host's cgroup2 hierarchy is mounted, or
// skips when it has none.
func unifiedRoot(t *testing.T) string {
	t.Helper()
	mode, err := DetectMode()
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case Unified:
		return DefaultRoot
	case Hybrid:
		return filepath.Join(DefaultRoot, "unified")
	}
	t.Skipf("host cgroup mode is %s: no cgroup2 hierarchy", mode)
	return ""
}

func availableV2(t *testing.T, root string) []string {
	t.Helper()
	s, err := readFile(root, "cgroup.controllers")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(s)
}

// TestKernelHost runs a container-like process through the whole life
// cycle with this host's layout; on a hybrid host also as if it were pure
// v1 (the unified hierarchy left alone).
func TestKernelHost(t *testing.T) {
	testutil.RequiresRoot(t)
	mode, err := DetectMode()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("host cgroup mode: %s", mode)
	t.Run(mode.String(), func(t *testing.T) { testLifecycle(t, mode, 0) })
	if mode == Hybrid {
		t.Run("as legacy", func(t *testing.T) { testLifecycle(t, Legacy, Legacy) })
	}
}

// testLifecycle creates a cgroup with limits, puts a sleep in it, pauses,
// inspects, kills and removes it. mode is the expected layout, cfgMode
// what Config asks for (0: detect).
func testLifecycle(t *testing.T, mode, cfgMode Mode) {
	if mode == Unified {
		avail := availableV2(t, DefaultRoot)
		for _, c := range []string{"memory", "pids"} {
			if !slices.Contains(avail, c) {
				t.Skipf("host cgroup2 hierarchy has no %s controller (cgroup.controllers: %q)", c, avail)
			}
		}
	}
	const memLimit = 64 << 20
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](memLimit)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](32)},
	}
	path := uniquePath(t)
	m, err := New(Config{Path: path, Resources: res, Mode: cfgMode, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cleanupCgroup(t, m)
	if _, ok := m.Paths()[""]; ok != (mode != Legacy) {
		t.Errorf("Paths() = %v: unified entry %v in %s mode", m.Paths(), ok, mode)
	}
	if m.Mode() != mode {
		t.Fatalf("Mode() = %s, want %s", m.Mode(), mode)
	}
	if m.Exists() {
		t.Fatal("Exists() = true before Apply")
	}
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(res); err != nil {
		t.Fatal(err)
	}
	if !m.Exists() {
		t.Fatal("Exists() = false after Apply")
	}

	paths := m.Paths()
	memFile, memDir, pidsDir := "memory.limit_in_bytes", paths["memory"], paths["pids"]
	if mode == Unified {
		memFile, memDir, pidsDir = "memory.max", paths[""], paths[""]
	}
	if got, err := readFile(memDir, memFile); err != nil || got != strconv.Itoa(memLimit) {
		t.Errorf("%s = %q, %v, want %d", memFile, got, err, memLimit)
	}
	if got, err := readFile(pidsDir, "pids.max"); err != nil || got != "32" {
		t.Errorf("pids.max = %q, %v, want 32", got, err)
	}
	ctrl := "memory"
	if mode == Unified {
		ctrl = ""
	}
	if got := ownCgroupLine(t, pid, ctrl); got != path {
		t.Errorf("/proc/%d/cgroup %q entry = %q, want %q", pid, ctrl, got, path)
	}
	if mode == Hybrid {
		if got := ownCgroupLine(t, pid, ""); got != path {
			t.Errorf("/proc/%d/cgroup unified entry = %q, want %q", pid, got, path)
		}
	}

	pids, err := m.Pids()
	if err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Pids() = %v, %v, want [%d]", pids, err, pid)
	}

	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State() = %v, %v, want thawed", st, err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.State(); err != nil || st != Frozen {
		t.Errorf("State() after Freeze = %v, %v, want frozen", st, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State() after Thaw = %v, %v, want thawed", st, err)
	}

	stats, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: %+v", *stats)
	if stats.Memory.Limit != memLimit || stats.Pids.Limit != 32 || stats.Pids.Current != 1 {
		t.Errorf("Stats() memory limit %d, pids %d/%d, want %d, 1/32", stats.Memory.Limit, stats.Pids.Current, stats.Pids.Limit, memLimit)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 0 {
		t.Errorf("OOMKillCount() = %d, %v, want 0", n, err)
	}

	// Kill a paused container: SIGKILL must get through.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("sleep ended with %v, want SIGKILL", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Error("Exists() = true after Destroy")
	}
	for k, d := range paths {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Destroy left %q dir %s: %v", k, d, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy() = %v", err)
	}
}

// TestKernelOOMKill lets a child exceed its memory limit.
func TestKernelOOMKill(t *testing.T) {
	testutil.RequiresRoot(t)
	mode, err := DetectMode()
	if err != nil {
		t.Fatal(err)
	}
	if mode == Unified && !slices.Contains(availableV2(t, DefaultRoot), "memory") {
		t.Skip("host cgroup2 hierarchy has no memory controller")
	}
	m, err := New(Config{Path: uniquePath(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cleanupCgroup(t, m)
	h := startHelper(t, "alloc")
	if err := m.Apply(h.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// memory+swap = memory: no swap, so the OOM killer has to act.
	limit := int64(32 << 20)
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit}})
	if errors.Is(err, ErrNotSupported) {
		// No swap accounting: fine as long as there is no swap either.
		swaps, rerr := os.ReadFile("/proc/swaps")
		if rerr != nil || strings.Count(strings.TrimSpace(string(swaps)), "\n") > 0 {
			t.Skipf("swap is on but cannot be limited (%v), the child could swap instead of being OOM-killed", err)
		}
		err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.run(t)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v (output %q), want SIGKILL by the OOM killer", err, out)
	}
	n, err := m.OOMKillCount()
	if err != nil || n < 1 {
		t.Errorf("OOMKillCount() = %d, %v, want at least 1", n, err)
	}
}

// TestKernelUnified uses the cgroup2 hierarchy of this host (on a hybrid
// host the controller-less one at /sys/fs/cgroup/unified) in Unified mode.
func TestKernelUnified(t *testing.T) {
	testutil.RequiresRoot(t)
	root := unifiedRoot(t)
	avail := availableV2(t, root)
	t.Logf("cgroup2 at %s, controllers %q", root, avail)
	path := uniquePath(t)
	m, err := New(Config{Path: path, Root: root, Mode: Unified, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cleanupCgroup(t, m)
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	if got := ownCgroupLine(t, pid, ""); got != path {
		t.Errorf("/proc/%d/cgroup unified entry = %q, want %q", pid, got, path)
	}
	if pids, err := m.Pids(); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Pids() = %v, %v, want [%d]", pids, err, pid)
	}

	t.Run("freeze", func(t *testing.T) {
		err := m.Freeze()
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("kernel has no cgroup.freeze: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if st, err := m.State(); err != nil || st != Frozen {
			t.Errorf("State() = %v, %v, want frozen", st, err)
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("frozen sleep: %s", strings.Split(string(status), "\n")[2])
		if err := m.Thaw(); err != nil {
			t.Fatal(err)
		}
		if st, err := m.State(); err != nil || st != Thawed {
			t.Errorf("State() = %v, %v, want thawed", st, err)
		}
	})

	limits := []struct {
		ctrl, file, want string
		r                *specs.LinuxResources
	}{
		{"memory", "memory.max", "67108864", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}}},
		{"pids", "pids.max", "16", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](16)}}},
		{"cpu", "cpu.max", "50000 100000", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](50000), Period: ptr[uint64](100000)}}},
	}
	for _, l := range limits {
		t.Run(l.ctrl, func(t *testing.T) {
			if !slices.Contains(avail, l.ctrl) {
				t.Skipf("host cgroup2 hierarchy at %s has no %s controller (cgroup.controllers: %q)", root, l.ctrl, avail)
			}
			if err := m.Set(l.r); err != nil {
				t.Fatal(err)
			}
			if got, err := readFile(m.Paths()[""], l.file); err != nil || got != l.want {
				t.Errorf("%s = %q, %v, want %q", l.file, got, err, l.want)
			}
		})
	}
	if _, err := m.Stats(); err != nil {
		t.Errorf("Stats() = %v", err)
	}

	if err := m.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("sleep ended with %v, want SIGKILL", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Error("Exists() = true after Destroy")
	}
}

// TestKernelDeviceFilter attaches device filters to cgroup2 directories and
// lets a child open /dev/null (c 1:3) under them.
func TestKernelDeviceFilter(t *testing.T) {
	testutil.RequiresRoot(t)
	root := unifiedRoot(t)
	dev := func(allow bool, major, minor int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: access}
	}
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	allowList := []specs.LinuxDeviceCgroup{denyAll, dev(true, 1, 5, "rwm"), dev(true, 1, 9, "rwm"), dev(true, 136, -1, "rwm")}
	eperm := fmt.Sprintf("errno=%d", int(unix.EPERM))
	tests := []struct {
		name  string
		rules [][]specs.LinuxDeviceCgroup // applied in turn with Set
		mode  string
		want  string
	}{
		{name: "not in allow list", rules: [][]specs.LinuxDeviceCgroup{allowList}, mode: "open-rdwr", want: eperm},
		{name: "allowed", rules: [][]specs.LinuxDeviceCgroup{append(slices.Clone(allowList), dev(true, 1, 3, "rwm"))}, mode: "open-rdwr", want: "ok"},
		{name: "read only allowed, read", rules: [][]specs.LinuxDeviceCgroup{{denyAll, dev(true, 1, 3, "r")}}, mode: "open-rdonly", want: "ok"},
		{name: "read only allowed, read-write", rules: [][]specs.LinuxDeviceCgroup{{denyAll, dev(true, 1, 3, "r")}}, mode: "open-rdwr", want: eperm},
		{name: "hole in wildcard", rules: [][]specs.LinuxDeviceCgroup{{dev(true, -1, -1, "rwm"), dev(false, 1, 3, "w")}}, mode: "open-rdwr", want: eperm},
		{name: "replaced: allowed then denied", rules: [][]specs.LinuxDeviceCgroup{{denyAll, dev(true, 1, 3, "rwm")}, allowList}, mode: "open-rdwr", want: eperm},
		{name: "replaced: denied then allowed", rules: [][]specs.LinuxDeviceCgroup{allowList, {denyAll, dev(true, 1, 3, "rwm")}}, mode: "open-rdwr", want: "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(Config{Path: uniquePath(t), Root: root, Mode: Unified, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			cleanupCgroup(t, m)
			if err := m.Apply(-1); err != nil {
				t.Fatal(err)
			}
			for _, rules := range tt.rules {
				if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
					t.Fatal(err)
				}
			}
			if n := attachedDevicePrograms(t, m.Paths()[""]); n != 1 {
				t.Errorf("%d device programs attached, want 1", n)
			}
			h := startHelper(t, tt.mode)
			if err := m.Apply(h.cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
			out, err := h.run(t)
			if err != nil {
				t.Fatalf("helper: %v (output %q)", err, out)
			}
			if out != tt.want {
				t.Errorf("open /dev/null (%s) = %q, want %q", tt.mode, out, tt.want)
			}
		})
	}
}

func attachedDevicePrograms(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Programs)
}

// TestKernelDestroyWaitsForExit removes a cgroup whose last process is
// still exiting.
func TestKernelDestroyWaitsForExit(t *testing.T) {
	testutil.RequiresRoot(t)
	m, err := New(Config{Path: uniquePath(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cleanupCgroup(t, m)
	cmd := startSleep(t)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Reap in the background while Destroy retries on EBUSY.
	done := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = cmd.Process.Wait()
		close(done)
	}()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	<-done
	if m.Exists() {
		t.Error("Exists() = true after Destroy")
	}
}

// TestKernelDevicesV1 replays device rules on a v1 devices hierarchy.
func TestKernelDevicesV1(t *testing.T) {
	testutil.RequiresRoot(t)
	mode, err := DetectMode()
	if err != nil {
		t.Fatal(err)
	}
	if mode == Unified {
		t.Skip("host has no cgroup v1 devices hierarchy (unified mode)")
	}
	null := func(access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: access}
	}
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	eperm := fmt.Sprintf("errno=%d", int(unix.EPERM))
	tests := []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		mode  string
		want  string
	}{
		{name: "not in allow list", rules: []specs.LinuxDeviceCgroup{denyAll}, mode: "open-rdwr", want: eperm},
		{name: "allowed", rules: []specs.LinuxDeviceCgroup{denyAll, null("rwm")}, mode: "open-rdwr", want: "ok"},
		{name: "read only, read-write", rules: []specs.LinuxDeviceCgroup{denyAll, null("r")}, mode: "open-rdwr", want: eperm},
		{name: "allow all then deny", rules: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, {Allow: false, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"}}, mode: "open-rdonly", want: eperm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(Config{Path: uniquePath(t), Mode: Legacy, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m.Paths()["devices"]; !ok {
				t.Skip("devices hierarchy not mounted")
			}
			cleanupCgroup(t, m)
			if err := m.Apply(-1); err != nil {
				t.Fatal(err)
			}
			if err := m.Set(&specs.LinuxResources{Devices: tt.rules}); err != nil {
				t.Fatal(err)
			}
			list, _ := readFile(m.Paths()["devices"], "devices.list")
			t.Logf("devices.list: %q", list)
			h := startHelper(t, tt.mode)
			if err := m.Apply(h.cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
			out, err := h.run(t)
			if err != nil {
				t.Fatalf("helper: %v (output %q)", err, out)
			}
			if out != tt.want {
				t.Errorf("open /dev/null (%s) = %q, want %q", tt.mode, out, tt.want)
			}
		})
	}
}
