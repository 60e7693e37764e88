//go:build integration

package integration

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/runtime"
)

func TestRuntimeUserNamespace(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}, "sh", "-c", "id -u; cat /proc/self/uid_map; sleep 100")
	// The container's root is an unprivileged host uid: it must be able
	// to reach the rootfs, as with any runtime.
	for d := b; d != "/tmp" && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := tempFile(t)
	cmd := exec.Command(r.bin, "runtime", "--root", r.root, "create", "--bundle", b, "userns")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("create: %v: %s", err, readAll(t, out))
	}
	r.ok("start", "userns")
	pid := r.state("userns").Pid
	waitFor(t, "container output", 5*time.Second, func() bool { return strings.Count(readAll(t, out), "\n") >= 2 })
	got := strings.Fields(readAll(t, out))
	if len(got) < 4 || got[0] != "0" || got[1] != "0" || got[2] != "100000" || got[3] != "65536" {
		t.Errorf("inside the user namespace: %q", got)
	}
	// Seen from the host, the container's root is uid 100000.
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Uid:") && strings.Fields(l)[1] != "100000" {
			t.Errorf("host view of the container's uid: %s", l)
		}
	}
	r.ok("delete", "--force", "userns")
}

func TestRuntimeConsoleSocket(t *testing.T) {
	r := newRT(t)
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		f, _ := c.File()
		master, err := runtime.ReceiveConsole(f)
		f.Close()
		if err != nil {
			got <- err.Error()
			return
		}
		defer master.Close()
		var sb strings.Builder
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "done") {
				break
			}
		}
		got <- sb.String()
	}()
	b := bundle(t, func(s *specs.Spec) { s.Process.Terminal = true }, "sh", "-c", "tty; [ -t 0 ] && echo stdin-is-tty; echo done; sleep 1")
	if res := r.run("run", "--bundle", b, "--detach", "--console-socket", sock, "tty"); res.code != 0 {
		t.Fatalf("run with a console socket: %+v", res)
	}
	select {
	case out := <-got:
		if !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "stdin-is-tty") {
			t.Errorf("terminal output: %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no output on the terminal")
	}
	// Without a console socket, a terminal is refused with a clear error.
	if res := r.run("create", "--bundle", b, "notty"); res.code == 0 || !strings.Contains(res.stderr, "console-socket") {
		t.Errorf("terminal without console socket: %+v", res)
	}
}

func TestRuntimeUpdate(t *testing.T) {
	r := newRT(t)
	b := bundle(t, nil, "sleep", "100")
	r.ok("run", "--detach", "--bundle", b, "upd")
	r.ok("update", "--memory", strconv.Itoa(64<<20), "--pids-limit", "50", "--cpu-quota", "50000", "--cpu-period", "100000", "upd")
	cg := readSpec(t, b).Linux.CgroupsPath
	read := func(ctrl, file string) string {
		data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctrl, cg, file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		t.Skip("no cgroup v1 memory hierarchy on this host")
	}
	if got := read("memory", "memory.limit_in_bytes"); got != strconv.Itoa(64<<20) {
		t.Errorf("memory limit %s", got)
	}
	if got := read("pids", "pids.max"); got != "50" {
		t.Errorf("pids.max %s", got)
	}
	if got := read("cpu", "cpu.cfs_quota_us"); got != "50000" {
		t.Errorf("cfs quota %s", got)
	}
	r.ok("delete", "--force", "upd")
}

// Pure cgroup v1: the hybrid host's unified mount hidden in a private
// mount namespace, where the runtime must run as on a legacy host.
func TestRuntimePureV1(t *testing.T) {
	r := newRT(t)
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err != nil {
		t.Skip("host has no hybrid unified mount to hide")
	}
	limit := int64(48 << 20)
	b := bundle(t, func(s *specs.Spec) { s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit} },
		"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ls /sys/fs/cgroup")
	script := "umount /sys/fs/cgroup/unified && exec " + r.bin + " runtime --root " + r.root + " run --bundle " + b + " v1"
	out, err := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("run on pure v1: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), strconv.FormatInt(limit, 10)) || strings.Contains(string(out), "unified") {
		t.Errorf("pure v1 container: %s", out)
	}
	if d := cgroupDirs(readSpec(t, b).Linux.CgroupsPath); len(d) != 0 {
		t.Errorf("cgroups left: %v", d)
	}
}

func TestRuntimePreserveFDs(t *testing.T) {
	r := newRT(t)
	f, err := os.CreateTemp(t.TempDir(), "passed")
	if err != nil {
		t.Fatal(err)
	}
	b := bundle(t, nil, "sh", "-c", "echo through-fd3 >&3")
	cmd := exec.Command(r.bin, "runtime", "--root", r.root, "run", "--preserve-fds", "1", "--bundle", b, "pfd")
	cmd.ExtraFiles = []*os.File{f}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run --preserve-fds: %v: %s", err, out)
	}
	if data, _ := os.ReadFile(f.Name()); string(data) != "through-fd3\n" {
		t.Errorf("preserved fd got %q", data)
	}
}

func TestRuntimeProcessSettings(t *testing.T) {
	r := newRT(t)
	adj := 500
	b := bundle(t, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
		s.Process.Env = append(s.Process.Env, "SHOAL_VAR=hello")
		s.Process.Cwd = "/tmp"
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}}
		s.Process.OOMScoreAdj = &adj
		s.Process.NoNewPrivileges = true
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Effective: []string{"CAP_KILL"},
			Permitted: []string{"CAP_KILL"}, Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"},
		}
	}, "sh", "-c", `id; echo env=$SHOAL_VAR; pwd; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; grep -E '^(NoNewPrivs|Cap(Inh|Prm|Eff|Bnd|Amb))' /proc/self/status`)
	out := r.ok("run", "--bundle", b, "proc")
	for _, want := range []string{
		"uid=1000 gid=1000 groups=10,20", "env=hello\n", "/tmp\n", "321\n654\n", "500\n",
		"NoNewPrivs:\t1",
		"CapInh:\t0000000000000020", "CapPrm:\t0000000000000020", "CapEff:\t0000000000000020",
		"CapBnd:\t0000000000000021", "CapAmb:\t0000000000000020",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A low RLIMIT_AS applies to the container's program, not to the runtime's
// own init (whose Go runtime has reserved more address space than that).
func TestRuntimeAddressSpaceLimit(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_AS", Soft: 256 << 20, Hard: 512 << 20},
			{Type: "RLIMIT_DATA", Soft: 256 << 20, Hard: 512 << 20},
		}
	}, "sh", "-c", "ulimit -v; ulimit -Hv; ulimit -d")
	out := r.ok("run", "--bundle", b, "as")
	if got := strings.Fields(out); len(got) != 3 || got[0] != "262144" || got[1] != "524288" || got[2] != "262144" {
		t.Errorf("limits inside: %q", out)
	}
}

// create looks the program up inside the container before it returns, as
// runc does: a program that is missing, not executable or a directory makes
// create fail with exec.LookPath's message (what Docker users see, and what
// the engine maps to exit codes 127 and 126), leaving nothing behind.
func TestRuntimeCreateProgramLookup(t *testing.T) {
	r := newRT(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"nosuch"}, `exec: "nosuch": executable file not found in $PATH`},
		{"not executable", []string{"/etc/passwd"}, `exec: "/etc/passwd": permission denied`},
		{"directory", []string{"/etc"}, `exec: "/etc": is a directory`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := bundle(t, nil, tc.args...)
			cg := readSpec(t, b).Linux.CgroupsPath
			res := r.run("create", "--bundle", b, "lookup")
			if res.code == 0 {
				t.Fatalf("create succeeded")
			}
			if msg := strings.TrimSpace(res.stderr); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("create error %q: want one line containing %q", msg, tc.want)
			}
			if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
				t.Errorf("state left behind: %v", ents)
			}
			if d := cgroupDirs(cg); len(d) != 0 {
				t.Errorf("cgroups left behind: %v", d)
			}
			if p := pidsInCgroup(cg); len(p) != 0 {
				t.Errorf("processes left behind: %v", p)
			}
		})
	}
	// exec into a running container fails the same way, before anything
	// runs, and the container goes on.
	b := bundle(t, nil, "sleep", "100")
	r.ok("create", "--bundle", b, "lookup-exec")
	r.ok("start", "lookup-exec")
	for _, tc := range cases {
		res := r.run("exec", "lookup-exec", tc.args[0])
		if res.code == 0 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("exec %s: exit %d, stderr %q, want an error containing %q", tc.args[0], res.code, res.stderr, tc.want)
		}
	}
	if st := r.state("lookup-exec"); st.Status != "running" {
		t.Errorf("after failed execs: %s", st.Status)
	}
	r.ok("delete", "--force", "lookup-exec")
}

// pidsInCgroup lists the host processes whose cgroup (in any hierarchy)
// is path.
func pidsInCgroup(path string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasSuffix(l, ":"+path) {
				out = append(out, e.Name())
				break
			}
		}
	}
	return out
}

// The container's /dev has the symlinks runc makes, /dev/core only where
// the host has /proc/kcore.
func TestRuntimeDevSymlinks(t *testing.T) {
	r := newRT(t)
	b := bundle(t, nil, "sh", "-c", "cd /dev && for l in fd stdin stdout stderr ptmx core; do [ -L $l ] && echo $l=$(readlink $l); done; true")
	out := r.ok("run", "--bundle", b, "devlinks")
	want := "fd=/proc/self/fd\nstdin=/proc/self/fd/0\nstdout=/proc/self/fd/1\nstderr=/proc/self/fd/2\nptmx=pts/ptmx\n"
	if _, err := os.Stat("/proc/kcore"); err == nil {
		want += "core=/proc/kcore\n"
	}
	if out != want {
		t.Errorf("/dev symlinks:\n%s\nwant:\n%s", out, want)
	}
}
