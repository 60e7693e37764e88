package runtime

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/runtime/seccomp"
)

// Both init paths: the C executor of a plan, and the Go init.
var initPaths = []struct {
	name   string
	goInit bool
}{{"c", false}, {"go", true}}

func planConfig(edit func(*initConfig)) *initConfig {
	spec := DefaultSpec()
	spec.Process.Args = []string{"true"}
	cfg := &initConfig{Spec: spec, Process: spec.Process, Rootfs: "/nonexistent", NewMnt: true}
	if edit != nil {
		edit(cfg)
	}
	return cfg
}

// TestBuildPlanFallback: what the plan cannot express goes to the Go init.
func TestBuildPlanFallback(t *testing.T) {
	if !openat2Works() {
		t.Skip("no openat2: every init runs in Go")
	}
	cases := []struct {
		name string
		edit func(*initConfig)
		ok   bool
	}{
		{"default spec", nil, true},
		{"exec", func(c *initConfig) { c.Exec = true; c.NewMnt = false }, true},
		{"no process", func(c *initConfig) { c.Process = nil }, false},
		{"command line only", func(c *initConfig) { c.Process.Args = nil }, false},
		{"apparmor", func(c *initConfig) { c.Process.ApparmorProfile = "x" }, false},
		{"selinux", func(c *initConfig) { c.Process.SelinuxLabel = "x" }, false},
		{"no mount namespace", func(c *initConfig) { c.NewMnt = false }, false},
		{"createContainer hook", func(c *initConfig) {
			c.Spec.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
		}, false},
		{"startContainer hook", func(c *initConfig) {
			c.Spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
		}, false},
		{"prestart hook runs in the parent", func(c *initConfig) {
			c.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}}}
		}, true},
		{"bad mount option", func(c *initConfig) {
			c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/", Options: []string{"idmap"}})
		}, false},
		{"bad sysctl", func(c *initConfig) { c.Spec.Linux.Sysctl = map[string]string{"net..x": "1"} }, false},
		{"NUL in env", func(c *initConfig) { c.Process.Env = append(c.Process.Env, "A=\x00") }, false},
		{"bad seccomp", func(c *initConfig) {
			c.Spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}
		}, false},
		{"seccomp", func(c *initConfig) { c.Spec.Linux.Seccomp = seccomp.DefaultProfile(nil) }, true},
		{"unknown rootfsPropagation", func(c *initConfig) { c.Spec.Linux.RootfsPropagation = "bogus" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := buildPlan(planConfig(tc.edit), os.Getpid())
			if tc.ok && (err != nil || len(plan) == 0) {
				t.Fatalf("buildPlan() = %d bytes, %v, want a plan", len(plan), err)
			}
			if !tc.ok && !errors.Is(err, errNoPlan) {
				t.Fatalf("buildPlan() = %d bytes, %v, want errNoPlan", len(plan), err)
			}
		})
	}
}

// TestPlanRecords: the plan ends with P_RUN and every record is well formed.
func TestPlanRecords(t *testing.T) {
	if !openat2Works() {
		t.Skip("no openat2")
	}
	plan, err := buildPlan(planConfig(func(c *initConfig) {
		c.Spec.Linux.Seccomp = seccomp.DefaultProfile(nil)
		c.Spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1"}
	}), os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var types []uint32
	for len(plan) > 0 {
		if len(plan) < 8 {
			t.Fatalf("truncated record header")
		}
		typ, n := binary.NativeEndian.Uint32(plan[0:]), binary.NativeEndian.Uint32(plan[4:])
		if int(n) > len(plan)-8 || n > planMaxRecord {
			t.Fatalf("record %d: length %d beyond the plan", typ, n)
		}
		types = append(types, typ)
		plan = plan[8+n:]
	}
	if types[len(types)-1] != pRun {
		t.Errorf("last record %d, want P_RUN", types[len(types)-1])
	}
	idx := func(typ uint32) int {
		for i, x := range types {
			if x == typ {
				return i
			}
		}
		return -1
	}
	// The order the Go init has: mounts, hooks, pivot_root, sysctls
	// (before /proc/sys turns read-only), masked, read-only paths.
	order := []uint32{opRootfs, opMount, opHooks, opPivot, opSysctl, opMask, opReadonly, opRootRO, opHostname, pRun}
	for i := 1; i < len(order); i++ {
		if a, b := idx(order[i-1]), idx(order[i]); a < 0 || b < 0 || a > b {
			t.Errorf("record %d at %d, record %d at %d: wrong order", order[i-1], a, order[i], b)
		}
	}
}

func TestOwnCgroup(t *testing.T) {
	proc := "12:cpu,cpuacct:/a\n11:memory:/b\n1:name=systemd:/c\n0::/d\n"
	cases := []struct {
		h    cgroupHier
		want string
	}{
		{cgroupHier{"/sys/fs/cgroup/cpu,cpuacct", "cgroup", "cpu,cpuacct"}, "/a"},
		{cgroupHier{"/sys/fs/cgroup/memory", "cgroup", "memory"}, "/b"},
		{cgroupHier{"/sys/fs/cgroup/systemd", "cgroup", "name=systemd"}, "/c"},
		{cgroupHier{"/sys/fs/cgroup/unified", "cgroup2", ""}, "/d"},
		{cgroupHier{"/sys/fs/cgroup/pids", "cgroup", "pids"}, ""},
	}
	for _, tc := range cases {
		if got := ownCgroup(tc.h, proc); got != tc.want {
			t.Errorf("ownCgroup(%v) = %q, want %q", tc.h, got, tc.want)
		}
	}
}

// TestInitPath: a created container's init is the C executor (one
// thread, no Go runtime) unless the Go path is forced.
func TestInitPath(t *testing.T) {
	for _, p := range initPaths {
		t.Run(p.name, func(t *testing.T) {
			r := testRuntime(t)
			r.goInit = p.goInit
			b := testBundle(t, nil, "true")
			c, err := r.Create(t.Context(), "path"+p.name, CreateOpts{Bundle: b})
			if err != nil {
				t.Fatal(err)
			}
			threads := procThreads(t, c.Pid)
			if p.goInit && threads < 2 || !p.goInit && threads != 1 {
				t.Errorf("init has %d threads; goInit=%v", threads, p.goInit)
			}
		})
	}
}

func procThreads(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads in status")
	return 0
}

// runOutput creates and starts a container and returns what it wrote.
func runOutput(t *testing.T, r *Runtime, id, bundle string) string {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	c, err := r.Create(t.Context(), id, CreateOpts{Bundle: bundle, IO: IO{Stdout: out, Stderr: out}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(c.Pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(t.Context(), id, true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "exit " + strconv.Itoa(ws.ExitStatus())
}

// TestInitPathsAgree: the container a plan sets up is the one the Go init
// sets up, seen from inside: user, groups, capabilities, limits, no_new_privs,
// seccomp, hostname, sysctls, mounts, masked and read-only paths, devices,
// cwd, umask, environment.
func TestInitPathsAgree(t *testing.T) {
	script := `id; hostname; cat /proc/sys/kernel/domainname; pwd; umask; env | sort
grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status
ulimit -n; ulimit -Hn; ulimit -c
cat /proc/sys/net/ipv4/ip_forward
cat /proc/kcore 2>&1 | head -c 0; wc -c < /proc/kcore
echo x > /proc/sys/kernel/hostname 2>&1 || echo ro-proc-sys
touch /rootfile 2>/dev/null || echo ro-root
touch /tmp/ok && echo tmp-ok
ls -ln /dev | awk '{print $1, $3, $4, $5, $6, $NF}'
awk '{print $2, $3, $4}' /proc/self/mounts | sed 's/,seclabel//' | sort
ls /sys/fs/cgroup
cat /proc/self/cgroup | cut -d: -f2,3
`
	var outs []string
	for _, p := range initPaths {
		r := testRuntime(t)
		r.goInit = p.goInit
		b := testBundle(t, func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: ptr(uint32(0o027))}
			s.Process.Cwd = "/tmp"
			s.Process.Env = append(s.Process.Env, "FOO=bar")
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CORE", Hard: 4096, Soft: 1024})
			s.Linux.Seccomp = seccomp.DefaultProfile(s.Process.Capabilities.Bounding)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
			s.Domainname = "example.org"
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=1777"}})
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/etc", Type: "bind", Source: "/etc", Options: []string{"rbind", "ro", "rprivate"}})
		}, "sh", "-c", script)
		outs = append(outs, runOutput(t, r, "agree"+p.name, b))
	}
	if outs[0] != outs[1] {
		t.Errorf("C init:\n%s\n\nGo init:\n%s", outs[0], outs[1])
	}
	for _, want := range []string{"uid=1000 gid=1000 groups=10,20", "shoal\nexample.org\n/tmp\n0027\n", "FOO=bar", "NoNewPrivs:\t1", "Seccomp:\t2", "ro-root", "tmp-ok", "exit 0"} {
		if !strings.Contains(outs[0], want) {
			t.Errorf("C init output lacks %q:\n%s", want, outs[0])
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestPlanMountSymlinkEscape: with the C executor, a mount target under a
// symlink pointing out of the rootfs lands inside it.
func TestPlanMountSymlinkEscape(t *testing.T) {
	r := testRuntime(t)
	host := t.TempDir()
	b := testBundle(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/evil/sub", Type: "tmpfs", Source: "tmpfs"})
	}, "true")
	if err := os.Symlink(host, filepath.Join(b, "rootfs", "evil")); err != nil {
		t.Fatal(err)
	}
	_, err := r.Create(t.Context(), "escape1", CreateOpts{Bundle: b})
	if err == nil || !strings.Contains(err.Error(), "mount tmpfs on /evil/sub: openat2 /evil: no such file or directory") {
		t.Errorf("Create() = %v, want the dangling link refused", err)
	}
	if err := os.MkdirAll(filepath.Join(b, "rootfs", host), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(t.Context(), "escape2", CreateOpts{Bundle: b}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(host); len(ents) != 0 {
		t.Errorf("mount target created on the host: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(b, "rootfs", host, "sub")); err != nil {
		t.Errorf("mount target not made inside the rootfs: %v", err)
	}
}
