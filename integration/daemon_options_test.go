//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDaemonRunOptions checks each docker run flag's effect from inside
// the container.
func TestDaemonRunOptions(t *testing.T) {
	d := startDaemon(t, "--add-runtime", "runc=/usr/sbin/runc")
	d.busyboxImage("bb")
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "f"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(host, "env")
	if err := os.WriteFile(envFile, []byte("FROMFILE=yes\n# comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string // flags, then the command
		want []string // substrings of the output
	}{
		{"env", []string{"-e", "A=1", "--env-file", envFile, "bb", "env"}, []string{"A=1\n", "FROMFILE=yes\n", "PATH=/usr/local/sbin"}},
		{"workdir", []string{"-w", "/tmp/x", "bb", "pwd"}, []string{"/tmp/x\n"}},
		{"user", []string{"-u", "1000:1000", "--group-add", "123", "bb", "id"}, []string{"uid=1000 gid=1000 groups=123"}},
		{"entrypoint", []string{"--entrypoint", "echo", "bb", "via", "entrypoint"}, []string{"via entrypoint\n"}},
		{"hostname", []string{"-h", "box1", "bb", "hostname"}, []string{"box1\n"}},
		{"read-only", []string{"--read-only", "bb", "sh", "-c", "touch /x 2>&1; echo rc=$?"}, []string{"Read-only file system", "rc=1"}},
		{"tmpfs", []string{"--read-only", "--tmpfs", "/scratch:size=1m", "bb", "sh", "-c", "grep ' /scratch ' /proc/mounts && touch /scratch/ok && echo ok"}, []string{"tmpfs /scratch tmpfs", "size=1024k", "ok\n"}},
		{"bind", []string{"-v", host + ":/h:ro", "bb", "sh", "-c", "cat /h/f; touch /h/g 2>&1; true"}, []string{"from host\n", "Read-only file system"}},
		{"memory", []string{"--memory", "64m", "bb", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}, []string{"67108864\n"}},
		{"memory-swap", []string{"--memory", "64m", "--memory-swap", "128m", "bb", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo noswapaccount"}, nil},
		{"cpus", []string{"--cpus", "0.5", "bb", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"}, []string{"50000\n"}},
		{"cpu-quota", []string{"--cpu-quota", "30000", "bb", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"}, []string{"30000\n"}},
		{"cpu-shares", []string{"--cpu-shares", "512", "bb", "cat", "/sys/fs/cgroup/cpu/cpu.shares"}, []string{"512\n"}},
		{"cpuset", []string{"--cpuset-cpus", "0", "bb", "cat", "/sys/fs/cgroup/cpuset/cpuset.cpus"}, []string{"0\n"}},
		{"pids-limit", []string{"--pids-limit", "20", "bb", "cat", "/sys/fs/cgroup/pids/pids.max"}, []string{"20\n"}},
		{"cap-drop", []string{"--cap-drop", "ALL", "bb", "grep", "CapEff", "/proc/self/status"}, []string{"CapEff:\t0000000000000000"}},
		{"cap-add", []string{"--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "bb", "grep", "CapEff", "/proc/self/status"}, []string{"CapEff:\t0000000000001000"}},
		{"privileged", []string{"--privileged", "bb", "sh", "-c", "grep -E 'CapEff|Seccomp:' /proc/self/status"}, []string{"Seccomp:\t0"}},
		{"seccomp default", []string{"bb", "grep", "Seccomp:", "/proc/self/status"}, []string{"Seccomp:\t2"}},
		{"seccomp unconfined", []string{"--security-opt", "seccomp=unconfined", "bb", "grep", "Seccomp:", "/proc/self/status"}, []string{"Seccomp:\t0"}},
		{"no-new-privileges", []string{"--security-opt", "no-new-privileges", "bb", "grep", "NoNewPrivs", "/proc/self/status"}, []string{"NoNewPrivs:\t1"}},
		{"ulimit", []string{"--ulimit", "nofile=100:200", "bb", "sh", "-c", "ulimit -n; ulimit -Hn"}, []string{"100\n200\n"}},
		{"device", []string{"--device", "/dev/null:/dev/mynull", "bb", "sh", "-c", "echo x > /dev/mynull && ls -l /dev/mynull"}, []string{"/dev/mynull"}},
		{"sysctl", []string{"--sysctl", "kernel.shmmax=123456", "bb", "cat", "/proc/sys/kernel/shmmax"}, []string{"123456\n"}},
		{"shm-size", []string{"--shm-size", "32m", "bb", "sh", "-c", "grep ' /dev/shm ' /proc/mounts"}, []string{"size=32768k"}},
		{"pid host", []string{"--pid", "host", "bb", "sh", "-c", "cat /proc/1/comm"}, []string{}},
		{"ipc host", []string{"--ipc", "host", "bb", "sh", "-c", "readlink /proc/self/ns/ipc"}, []string{hostNS(t, "ipc")}},
		{"init", []string{"--init", "bb", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"}, []string{"/sbin/docker-init -- sh -c"}},
		{"network none", []string{"bb", "sh", "-c", "cat /sys/class/net/lo/operstate; ls /sys/class/net"}, []string{"lo\n"}},
		// The daemon's network namespace is the test's own (startDaemon).
		{"network host", []string{"--network", "host", "bb", "readlink", "/proc/self/ns/net"}, []string{d.daemonNS("net")}},
		{"hosts files", []string{"--add-host", "db:10.1.2.3", "bb", "sh", "-c", "cat /etc/hosts /etc/hostname"}, []string{"127.0.0.1\tlocalhost", "10.1.2.3\tdb"}},
		{"dns", []string{"--dns", "10.9.8.7", "bb", "cat", "/etc/resolv.conf"}, []string{"nameserver 10.9.8.7"}},
		{"runtime runc", []string{"--runtime", "runc", "bb", "echo", "runc ran"}, []string{"runc ran\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--rm"}, tc.args...)
			if !hasNetwork(tc.args) {
				args = append([]string{"run", "--rm", "--network", "none"}, tc.args...)
			}
			out, code := d.docker(args...)
			if code != 0 {
				t.Fatalf("docker %s: exit %d\n%s", strings.Join(args, " "), code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("docker %s:\n%s\nwant %q", strings.Join(args, " "), out, w)
				}
			}
		})
	}
	// --pid host sees the host's processes.
	if out := d.must("run", "--rm", "--network", "none", "--pid", "host", "bb", "sh", "-c", "ls /proc | grep -c '^[0-9]'"); strings.TrimSpace(out) < "10" && len(strings.TrimSpace(out)) < 2 {
		t.Errorf("--pid host sees %s processes", out)
	}

	// Values Shoal cannot honour are refused, not ignored.
	if out, code := d.docker("run", "--network", "none", "--restart", "bogus", "bb", "true"); code != 125 || !strings.Contains(out, "invalid restart policy") {
		t.Errorf("--restart bogus = %d %q", code, out)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "1k"}, "Minimum memory limit allowed is 6MB"},
		{[]string{"--cpus", "99"}, "range of CPUs is from 0.01 to"},
		{[]string{"--cap-add", "NOT_A_CAP"}, "NOT_A_CAP"},
		{[]string{"--sysctl", "vm.swappiness=1"}, "vm.swappiness"},
		{[]string{"--runtime", "nosuch"}, "unknown or invalid runtime name: nosuch"},
		{[]string{"--log-driver", "syslog"}, "syslog"},
		{[]string{"--userns", "private"}, "userns"},
	} {
		args := append(append([]string{"run", "--rm"}, bad.args...), "bb", "true")
		if !hasNetwork(bad.args) {
			args = append(append([]string{"run", "--rm", "--network", "none"}, bad.args...), "bb", "true")
		}
		out, code := d.docker(args...)
		if code != 125 || !strings.Contains(out, bad.want) {
			t.Errorf("docker %s = exit %d %q; want 125 and %q", strings.Join(args, " "), code, out, bad.want)
		}
	}
	if out := d.must("ps", "-aq"); out != "" {
		t.Errorf("refused runs left containers: %q", out)
	}
}

func hasNetwork(args []string) bool {
	for _, a := range args {
		if a == "--network" {
			return true
		}
	}
	return false
}

func hostNS(t *testing.T, kind string) string {
	l, err := os.Readlink("/proc/self/ns/" + kind)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
