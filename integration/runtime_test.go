//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRuntimeIsolation(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) { s.Hostname = "shoaltest" },
		"sh", "-c", `echo pid=$$; echo host=$(hostname); echo procs $(cd /proc && echo [0-9]*); echo cgroups $(cut -d: -f3 /proc/self/cgroup | sort -u); cat /proc/mounts`)
	out := r.ok("run", "--bundle", b, "iso")
	// With a cgroup namespace the container's cgroup is its root.
	for _, want := range []string{"pid=1\n", "host=shoaltest\n", "cgroups /\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The container sees its own few processes, none of the host's.
	i := strings.Index(out, "procs ")
	procs := strings.Fields(out[i+6 : i+strings.Index(out[i:], "\n")])
	if len(procs) == 0 || len(procs) > 3 || procs[0] != "1" {
		t.Errorf("container sees processes %v", procs)
	}
	// The container sees its own mounts only: none of the host's others.
	if strings.Contains(out, "/work") || strings.Contains(out, b) {
		t.Errorf("container sees host mounts:\n%s", out)
	}
	if st, err := os.ReadDir(r.root); err != nil || len(st) != 0 {
		t.Errorf("state left after run: %v %v", st, err)
	}
}

func TestRuntimeExitCodes(t *testing.T) {
	r := newRT(t)
	res := r.run("run", "--bundle", bundle(t, nil, "sh", "-c", "exit 42"), "exit42")
	if res.code != 42 {
		t.Errorf("run exit 42: got %d, stderr %s", res.code, res.stderr)
	}
	// A signal sent to `run` reaches the container's init.
	b := bundle(t, nil, "sh", "-c", `trap "exit 7" TERM; echo ready; while :; do sleep 0.05; done`)
	cmd := exec.Command(r.bin, "runtime", "--root", r.root, "run", "--bundle", b, "sig")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("container did not start: %q %v", buf, err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != 7 {
		t.Errorf("run after SIGTERM: %v, want exit 7", err)
	}
	// Killed by a signal: 128+signal.
	b = bundle(t, nil, "sleep", "100")
	cmd = exec.Command(r.bin, "runtime", "--root", r.root, "run", "--bundle", b, "killed")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "container to run", 5*time.Second, func() bool {
		return r.run("state", "killed").code == 0 && r.state("killed").Status == "running"
	})
	r.ok("kill", "killed", "KILL")
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 137 {
		t.Errorf("init killed by SIGKILL: run exited %d, want 137", code)
	}
}

func TestRuntimeLifecycle(t *testing.T) {
	r := newRT(t)
	b := bundle(t, nil, "sleep", "100")
	pidFile := filepath.Join(t.TempDir(), "pid")
	r.ok("create", "--bundle", b, "--pid-file", pidFile, "life")
	st := r.state("life")
	if st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("after create: %+v", st)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(st.Pid) {
		t.Errorf("pid file %q, state pid %d (%v)", data, st.Pid, err)
	}
	if res := r.run("create", "--bundle", b, "life"); res.code == 0 || !strings.Contains(res.stderr, "already exists") {
		t.Errorf("duplicate create: %+v", res)
	}
	r.ok("start", "life")
	if st := r.state("life"); st.Status != "running" {
		t.Fatalf("after start: %+v", st)
	}
	if res := r.run("delete", "life"); res.code == 0 {
		t.Errorf("delete of a running container succeeded")
	}
	// exec joins the container's namespaces.
	out := r.ok("exec", "life", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname")
	if !strings.HasPrefix(out, "sleep 100") {
		t.Errorf("exec does not see the container's init: %q", out)
	}
	if res := r.run("exec", "life", "sh", "-c", "exit 3"); res.code != 3 {
		t.Errorf("exec exit code %d, want 3", res.code)
	}
	r.ok("pause", "life")
	if st := r.state("life"); st.Status != "paused" {
		t.Errorf("after pause: %s", st.Status)
	}
	r.ok("resume", "life")
	if st := r.state("life"); st.Status != "running" {
		t.Errorf("after resume: %s", st.Status)
	}
	pids := r.ok("ps", "--format", "json", "life")
	if !strings.Contains(pids, strconv.Itoa(st.Pid)) {
		t.Errorf("ps json %s lacks init %d", pids, st.Pid)
	}
	list := r.ok("list")
	if !strings.Contains(list, "life") || !strings.Contains(list, "running") {
		t.Errorf("list:\n%s", list)
	}
	r.ok("kill", "life", "KILL")
	waitFor(t, "stopped", 5*time.Second, func() bool { return r.state("life").Status == "stopped" })
	cg := readSpec(t, b).Linux.CgroupsPath
	if len(cgroupDirs(cg)) == 0 {
		t.Errorf("no cgroup for %s before delete", cg)
	}
	r.ok("delete", "life")
	if res := r.run("state", "life"); res.code == 0 {
		t.Errorf("state after delete succeeded")
	}
	if d := cgroupDirs(cg); len(d) != 0 {
		t.Errorf("cgroups left after delete: %v", d)
	}
}

func TestRuntimeReadonlyRoot(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) { s.Root.Readonly = true }, "sh", "-c", "touch /x && echo wrote")
	res := r.run("run", "--bundle", b, "ro")
	if res.code == 0 || strings.Contains(res.stdout, "wrote") || !strings.Contains(res.stderr, "Read-only file system") {
		t.Errorf("write to readonly root: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(b, "rootfs/x")); err == nil {
		t.Errorf("file written to the readonly rootfs")
	}
}

func TestRuntimeCapabilitiesAndSeccomp(t *testing.T) {
	r := newRT(t)
	// Default capabilities: no CAP_SYS_ADMIN, so mount is refused.
	res := r.run("run", "--bundle", bundle(t, nil, "sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted"), "caps")
	if res.code == 0 || strings.Contains(res.stdout, "mounted") {
		t.Errorf("mount without CAP_SYS_ADMIN: %+v", res)
	}
	admin := append([]string{"CAP_SYS_ADMIN"}, defaultCapsFor(t)...)
	withAdmin := func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: admin, Effective: admin, Permitted: admin}
	}
	// Control: with CAP_SYS_ADMIN and no seccomp filter, mount works.
	res = r.run("run", "--bundle", bundle(t, withAdmin, "sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted"), "admin")
	if !strings.Contains(res.stdout, "mounted") {
		t.Fatalf("control: mount with CAP_SYS_ADMIN failed: %+v", res)
	}
	// The default profile (computed for a container without CAP_SYS_ADMIN)
	// denies mount and unshare even though the capability is there.
	prof := defaultProfile(t)
	b := bundle(t, func(s *specs.Spec) { withAdmin(s); s.Linux.Seccomp = prof },
		"sh", "-c", "mkdir -p /mnt; mount -t tmpfs none /mnt && echo mounted; unshare -U true && echo unshared; echo done")
	res = r.run("run", "--bundle", b, "seccomp")
	if strings.Contains(res.stdout, "mounted") || strings.Contains(res.stdout, "unshared") || !strings.Contains(res.stdout, "done") {
		t.Errorf("default seccomp profile: %+v", res)
	}
	if !strings.Contains(res.stderr, "Operation not permitted") {
		t.Errorf("seccomp denial is not EPERM: %s", res.stderr)
	}
}

func TestRuntimeMemoryLimitOOM(t *testing.T) {
	r := newRT(t)
	limit := int64(32 << 20)
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
			s.Linux.Resources.Memory.Swap = &limit
		}
	}, "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; tail /dev/zero; echo survived")
	res := r.run("run", "--bundle", b, "oom")
	if !strings.HasPrefix(res.stdout, strconv.FormatInt(limit, 10)) {
		t.Errorf("container's memory limit reads %q, want %d", res.stdout, limit)
	}
	if strings.Contains(res.stdout, "survived") == false && res.code == 0 {
		t.Errorf("shell exited 0 without the survivor line")
	}
	// tail is killed by the OOM killer; the shell survives and says so.
	if !strings.Contains(res.stdout, "survived") || !strings.Contains(res.stderr, "Killed") {
		t.Errorf("memory hog was not OOM-killed: %+v", res)
	}
}

func TestRuntimePidsLimit(t *testing.T) {
	r := newRT(t)
	limit := int64(16)
	b := bundle(t, func(s *specs.Spec) { s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit} },
		// Counting with builtins only: the bomb leaves no pid to fork with.
		"sh", "-c", `bomb() { bomb | bomb & }; bomb; sleep 1; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo procs=$n; kill -9 -1`)
	res := r.run("run", "--bundle", b, "bomb")
	i := strings.Index(res.stdout, "procs=")
	if i < 0 {
		t.Fatalf("no count: %+v", res)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(res.stdout[i+6:]))
	if n == 0 || n > int(limit) {
		t.Errorf("fork bomb reached %d processes, limit %d", n, limit)
	}
	if !strings.Contains(res.stderr, "fork") {
		t.Errorf("no fork failures reported: %s", res.stderr)
	}
}

func TestRuntimeHooks(t *testing.T) {
	r := newRT(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "hooks")
	hook := func(name, file string) specs.Hook {
		// The hook reads the state from stdin, as the spec says.
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `read -r st; case "$st" in *'"id":"hooks"'*) echo ` + name + ` >> ` + file + `;; esac`}}
	}
	b := bundle(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: dir, Options: []string{"bind"}})
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart", out)}, //nolint:staticcheck // still in the spec
			CreateRuntime:   []specs.Hook{hook("createRuntime", out)},
			CreateContainer: []specs.Hook{hook("createContainer", out)},
			// Runs inside the container: its paths are the container's.
			StartContainer: []specs.Hook{hook("startContainer", "/out/hooks")},
			Poststart:      []specs.Hook{hook("poststart", out)},
			Poststop:       []specs.Hook{hook("poststop", out)},
		}
	}, "true")
	r.ok("run", "--bundle", b, "hooks")
	data, _ := os.ReadFile(out)
	want := "prestart,createRuntime,createContainer,startContainer,poststart,poststop"
	if got := strings.Join(strings.Fields(string(data)), ","); got != want {
		t.Errorf("hooks ran as %s, want %s", got, want)
	}
}

func TestRuntimeResourcesAndDevices(t *testing.T) {
	r := newRT(t)
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.shares"); err != nil {
		t.Skip("no cgroup v1 cpu hierarchy here; v2 files are covered by the cgroups package tests")
	}
	shares, quota, period := uint64(512), int64(20000), uint64(100000)
	res := int64(16 << 20)
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period, Cpus: "0"}
		s.Linux.Resources.Memory = &specs.LinuxMemory{Reservation: &res}
	}, "sh", "-c", `cd /sys/fs/cgroup; cat cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpuset/cpuset.cpus memory/memory.soft_limit_in_bytes
head -c 4 /dev/zero | wc -c
mknod /tmp/sda b 8 0 && echo mknod-allowed
echo x > /proc/sys/kernel/domainname && echo sysctl-writable
echo keys=$(wc -c < /proc/keys)`)
	out := r.run("run", "--bundle", b, "res")
	want := []string{"512\n20000\n100000\n0\n16777216\n", "4\n", "keys=0"}
	for _, w := range want {
		if !strings.Contains(out.stdout, w) {
			t.Errorf("output lacks %q:\n%s\n%s", w, out.stdout, out.stderr)
		}
	}
	// The device allow-list refuses a node it does not list (CAP_MKNOD is
	// held); /proc/sys is read-only; /proc/keys is masked (the host shows its keys).
	if strings.Contains(out.stdout, "mknod-allowed") || strings.Contains(out.stdout, "sysctl-writable") {
		t.Errorf("device allow-list or readonly paths not applied:\n%s", out.stdout)
	}
}

func defaultCapsFor(t *testing.T) []string {
	return []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"}
}
