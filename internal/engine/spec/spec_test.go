package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/runtime"
)

func TestGenerateDefaults(t *testing.T) {
	in := baseInput(t)
	in.HostsPath, in.HostnamePath, in.ResolvConfPath = "/run/c/hosts", "/run/c/hostname", "/run/c/resolv.conf"
	s, err := generate(in, newFakeHost())
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.ValidateSpec(s); err != nil {
		t.Fatalf("runtime rejects the spec: %v", err)
	}
	if s.Version != specs.Version || s.Root.Path != in.Rootfs || s.Root.Readonly {
		t.Errorf("version/root = %q %+v", s.Version, s.Root)
	}
	p := s.Process
	if !reflect.DeepEqual(p.Args, []string{"sh"}) || p.Cwd != "/" || p.Terminal {
		t.Errorf("args %q cwd %q terminal %v", p.Args, p.Cwd, p.Terminal)
	}
	wantEnv := []string{"PATH=/usr/bin:/bin", "HOSTNAME=0123456789ab", "HOME=/root"}
	if !reflect.DeepEqual(p.Env, wantEnv) {
		t.Errorf("env = %q, want %q", p.Env, wantEnv)
	}
	if p.User.UID != 0 || p.User.GID != 0 || !reflect.DeepEqual(p.User.AdditionalGids, []uint32{0, 10}) {
		t.Errorf("user = %+v", p.User)
	}
	if !reflect.DeepEqual(p.Capabilities.Bounding, defaultCaps) || !reflect.DeepEqual(p.Capabilities.Effective, defaultCaps) ||
		!reflect.DeepEqual(p.Capabilities.Permitted, defaultCaps) || p.Capabilities.Inheritable != nil || p.Capabilities.Ambient != nil {
		t.Errorf("capabilities = %+v", p.Capabilities)
	}
	if p.NoNewPrivileges || p.ApparmorProfile != "" || p.Rlimits != nil || p.User.Umask != nil {
		t.Errorf("nnp %v apparmor %q rlimits %v umask %v", p.NoNewPrivileges, p.ApparmorProfile, p.Rlimits, p.User.Umask)
	}
	if p.OOMScoreAdj == nil || *p.OOMScoreAdj != 0 {
		t.Errorf("oomScoreAdj = %v", p.OOMScoreAdj)
	}
	if s.Hostname != "0123456789ab" {
		t.Errorf("hostname = %q", s.Hostname)
	}
	var types []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		types = append(types, n.Type)
		if n.Path != "" {
			t.Errorf("namespace %s joins %q", n.Type, n.Path)
		}
	}
	wantNS := []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.IPCNamespace, specs.CgroupNamespace}
	if !reflect.DeepEqual(types, wantNS) {
		t.Errorf("namespaces = %v, want %v (cgroupns private on v2)", types, wantNS)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	wantDests := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}
	slices.Sort(dests[7:])
	if !reflect.DeepEqual(dests, wantDests) {
		t.Errorf("mounts = %q, want %q", dests, wantDests)
	}
	if m := mountAt(s, "/dev/shm"); !reflect.DeepEqual(m.Options, []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}) {
		t.Errorf("/dev/shm options = %q", m.Options)
	}
	if m := mountAt(s, "/sys"); !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys options = %q, want ro", m.Options)
	}
	if m := mountAt(s, "/sys/fs/cgroup"); m.Type != "cgroup" || !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys/fs/cgroup = %+v", m)
	}
	if m := mountAt(s, "/etc/hosts"); m.Type != "bind" || m.Source != "/run/c/hosts" || !reflect.DeepEqual(m.Options, []string{"rbind", "rprivate"}) {
		t.Errorf("/etc/hosts = %+v", m)
	}
	if m := mountAt(s, "/dev/pts"); !reflect.DeepEqual(m.Options, []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}) {
		t.Errorf("/dev/pts = %+v", m)
	}
	wantMasked := append(slices.Clone(defaultMaskedPaths), "/sys/devices/system/cpu/cpu0/thermal_throttle")
	if !reflect.DeepEqual(s.Linux.MaskedPaths, wantMasked) || !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") {
		t.Errorf("maskedPaths = %q", s.Linux.MaskedPaths)
	}
	if !reflect.DeepEqual(s.Linux.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
		t.Errorf("readonlyPaths = %q", s.Linux.ReadonlyPaths)
	}
	r := s.Linux.Resources
	if len(r.Devices) != 2 || r.Devices[0].Allow || r.Devices[0].Access != "rwm" || r.Devices[0].Type != "" ||
		r.Devices[1].Allow || *r.Devices[1].Major != 10 || *r.Devices[1].Minor != 229 {
		t.Errorf("device rules = %+v", r.Devices)
	}
	if r.Memory != nil || r.CPU != nil || r.Pids != nil || r.BlockIO != nil {
		t.Errorf("resources = %+v", r)
	}
	wantSysctl := map[string]string{"net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "0"}
	if !reflect.DeepEqual(s.Linux.Sysctl, wantSysctl) {
		t.Errorf("sysctl = %v", s.Linux.Sysctl)
	}
	if s.Linux.CgroupsPath != in.CgroupsPath {
		t.Errorf("cgroupsPath = %q", s.Linux.CgroupsPath)
	}
	sc := s.Linux.Seccomp
	if sc == nil || sc.DefaultAction != specs.ActErrno || len(sc.Syscalls) == 0 {
		t.Fatalf("seccomp = %+v, want Docker's default profile", sc)
	}
	for _, c := range sc.Syscalls {
		if slices.Contains(c.Names, "mount") {
			t.Errorf("default profile allows mount without CAP_SYS_ADMIN: %+v", c)
		}
	}
}

func TestGenerateDoesNotModifyInput(t *testing.T) {
	in := baseInput(t)
	in.HostConfig.Memory = 64 << 20
	in.Config.Entrypoint = []string{""}
	before := *in.HostConfig
	if _, err := generate(in, newFakeHost()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*in.HostConfig, before) || in.Config.Hostname != "" || len(in.Config.Entrypoint) != 1 {
		t.Errorf("Generate changed its input: %+v", in.HostConfig)
	}
}

func boolp(b bool) *bool  { return &b }
func i64p(i int64) *int64 { return &i }

func TestGenerateFlags(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*Input, *fakeHost)
		check func(*testing.T, *specs.Spec)
	}{
		{"entrypoint and cmd", func(in *Input, _ *fakeHost) {
			in.Config.Entrypoint = []string{"/bin/echo", "-n"}
			in.Config.Cmd = []string{"hi"}
		}, func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Process.Args, []string{"/bin/echo", "-n", "hi"}) {
				t.Errorf("args = %q", s.Process.Args)
			}
		}},
		{"empty entrypoint resets", func(in *Input, _ *fakeHost) {
			in.Config.Entrypoint = []string{""}
			in.Config.Cmd = []string{"top", "-b"}
		}, func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Process.Args, []string{"top", "-b"}) {
				t.Errorf("args = %q", s.Process.Args)
			}
		}},
		{"init", func(in *Input, _ *fakeHost) {
			in.HostConfig.Init = boolp(true)
			in.Config.Entrypoint = []string{"/ep"}
		}, func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Process.Args, []string{"/sbin/docker-init", "--", "/ep", "sh"}) {
				t.Errorf("args = %q", s.Process.Args)
			}
			m := mountAt(s, "/sbin/docker-init")
			if m == nil || m.Source != "/usr/libexec/shoal-init" || m.Type != "bind" || !reflect.DeepEqual(m.Options, []string{"bind", "ro"}) {
				t.Errorf("init mount = %+v", m)
			}
		}},
		{"init ignored with pid host", func(in *Input, _ *fakeHost) {
			in.HostConfig.Init = boolp(true)
			in.HostConfig.PidMode = "host"
			in.PidNS = "host"
		}, func(t *testing.T, s *specs.Spec) {
			if s.Process.Args[0] != "sh" || mountAt(s, "/sbin/docker-init") != nil {
				t.Errorf("args = %q", s.Process.Args)
			}
			if _, ok := hasNS(s, specs.PIDNamespace); ok {
				t.Error("pid namespace with --pid host")
			}
		}},
		{"env overrides and removal", func(in *Input, _ *fakeHost) {
			in.Config.Env = []string{"HOSTNAME", "FOO=1", "PATH=/x", "FOO=2", "HOME=/h"}
			in.Config.Tty = true
		}, func(t *testing.T, s *specs.Spec) {
			want := []string{"PATH=/x", "TERM=xterm", "FOO=2", "HOME=/h"}
			if !reflect.DeepEqual(s.Process.Env, want) {
				t.Errorf("env = %q, want %q", s.Process.Env, want)
			}
			if !s.Process.Terminal {
				t.Error("terminal = false with Tty")
			}
		}},
		{"default PATH", func(in *Input, _ *fakeHost) { in.Config.Env = nil }, func(t *testing.T, s *specs.Spec) {
			if v, _ := envValue(s.Process.Env, "PATH"); v != "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" {
				t.Errorf("PATH = %q", v)
			}
		}},
		{"console size", func(in *Input, _ *fakeHost) {
			in.Config.Tty = true
			in.HostConfig.ConsoleSize = [2]uint{24, 80}
		}, func(t *testing.T, s *specs.Spec) {
			if b := s.Process.ConsoleSize; b == nil || b.Height != 24 || b.Width != 80 {
				t.Errorf("consoleSize = %+v", b)
			}
		}},
		{"workdir", func(in *Input, _ *fakeHost) { in.Config.WorkingDir = "/srv/app/../data/" }, func(t *testing.T, s *specs.Spec) {
			if s.Process.Cwd != "/srv/data" {
				t.Errorf("cwd = %q", s.Process.Cwd)
			}
		}},
		{"user name", func(in *Input, _ *fakeHost) { in.Config.User = "alice" }, func(t *testing.T, s *specs.Spec) {
			u := s.Process.User
			if u.UID != 1000 || u.GID != 1000 || !reflect.DeepEqual(u.AdditionalGids, []uint32{1000, 10, 29}) {
				t.Errorf("user = %+v", u)
			}
			if v, _ := envValue(s.Process.Env, "HOME"); v != "/home/alice" {
				t.Errorf("HOME = %q", v)
			}
		}},
		{"user with group-add", func(in *Input, _ *fakeHost) {
			in.Config.User = "bob:wheel"
			in.HostConfig.GroupAdd = []string{"audio", "4242", "users"}
		}, func(t *testing.T, s *specs.Spec) {
			u := s.Process.User
			if u.UID != 1001 || u.GID != 10 || !reflect.DeepEqual(u.AdditionalGids, []uint32{10, 29, 4242, 100}) {
				t.Errorf("user = %+v", u)
			}
		}},
		{"numeric user unknown to passwd", func(in *Input, _ *fakeHost) { in.Config.User = "5000:6000" }, func(t *testing.T, s *specs.Spec) {
			u := s.Process.User
			if u.UID != 5000 || u.GID != 6000 || !reflect.DeepEqual(u.AdditionalGids, []uint32{6000}) {
				t.Errorf("user = %+v", u)
			}
			if v, _ := envValue(s.Process.Env, "HOME"); v != "/" {
				t.Errorf("HOME = %q", v)
			}
		}},
		{"no-new-privileges", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"no-new-privileges"} }, func(t *testing.T, s *specs.Spec) {
			if !s.Process.NoNewPrivileges {
				t.Error("noNewPrivileges = false")
			}
		}},
		{"no-new-privileges=false", func(in *Input, _ *fakeHost) {
			in.HostConfig.SecurityOpt = []string{"no-new-privileges", "no-new-privileges=false"}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Process.NoNewPrivileges {
				t.Error("noNewPrivileges = true")
			}
		}},
		{"no-new-privileges:true (deprecated colon)", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"no-new-privileges:true"} }, func(t *testing.T, s *specs.Spec) {
			if !s.Process.NoNewPrivileges {
				t.Error("noNewPrivileges = false")
			}
		}},
		{"cap-add and cap-drop", func(in *Input, _ *fakeHost) {
			in.HostConfig.CapAdd = []string{"net_admin", "CAP_SYS_ADMIN", "chown"}
			in.HostConfig.CapDrop = []string{"Cap_Kill", "mknod"}
		}, func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities.Bounding
			for _, want := range []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_CHOWN"} {
				if !slices.Contains(c, want) {
					t.Errorf("caps %q lack %s", c, want)
				}
			}
			if slices.Contains(c, "CAP_KILL") || slices.Contains(c, "CAP_MKNOD") || len(c) != 14 {
				t.Errorf("caps = %q", c)
			}
			mountAllowed := false
			for _, sc := range s.Linux.Seccomp.Syscalls {
				mountAllowed = mountAllowed || slices.Contains(sc.Names, "mount") && sc.Action == specs.ActAllow
			}
			if !mountAllowed {
				t.Error("default seccomp profile does not allow mount with CAP_SYS_ADMIN")
			}
		}},
		{"cap-drop ALL", func(in *Input, _ *fakeHost) {
			in.HostConfig.CapDrop = []string{"all"}
			in.HostConfig.CapAdd = []string{"NET_BIND_SERVICE"}
		}, func(t *testing.T, s *specs.Spec) {
			if c := s.Process.Capabilities; !reflect.DeepEqual(c.Bounding, []string{"CAP_NET_BIND_SERVICE"}) || !reflect.DeepEqual(c.Effective, c.Bounding) {
				t.Errorf("caps = %+v", c)
			}
		}},
		{"cap-add ALL", func(in *Input, h *fakeHost) {
			in.HostConfig.CapAdd = []string{"ALL"}
			in.HostConfig.CapDrop = []string{"SYS_ADMIN"}
		}, func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities.Bounding
			if len(c) != 18 || slices.Contains(c, "CAP_SYS_ADMIN") || !slices.Contains(c, "CAP_SYS_TIME") {
				t.Errorf("caps = %q", c)
			}
		}},
		{"ulimits", func(in *Input, _ *fakeHost) {
			in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "core", Soft: -1, Hard: -1}, {Name: "nofile", Soft: 10, Hard: 20}}
		}, func(t *testing.T, s *specs.Spec) {
			want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}, {Type: "RLIMIT_CORE", Soft: ^uint64(0), Hard: ^uint64(0)}}
			if !reflect.DeepEqual(s.Process.Rlimits, want) {
				t.Errorf("rlimits = %+v", s.Process.Rlimits)
			}
		}},
		{"oom-score-adj", func(in *Input, _ *fakeHost) { in.HostConfig.OomScoreAdj = -500 }, func(t *testing.T, s *specs.Spec) {
			if *s.Process.OOMScoreAdj != -500 {
				t.Errorf("oomScoreAdj = %d", *s.Process.OOMScoreAdj)
			}
		}},
		{"apparmor unconfined without AppArmor", func(in *Input, _ *fakeHost) {
			in.HostConfig.SecurityOpt = []string{"apparmor=unconfined", "label=disable", "label:disable"}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "" || s.Process.SelinuxLabel != "" {
				t.Errorf("apparmor %q selinux %q", s.Process.ApparmorProfile, s.Process.SelinuxLabel)
			}
		}},
		{"apparmor unconfined with AppArmor", func(in *Input, h *fakeHost) {
			h.apparmor = true
			in.HostConfig.SecurityOpt = []string{"apparmor=unconfined"}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "unconfined" {
				t.Errorf("apparmor = %q", s.Process.ApparmorProfile)
			}
		}},
		{"apparmor profile with AppArmor", func(in *Input, h *fakeHost) {
			h.apparmor = true
			in.HostConfig.SecurityOpt = []string{"apparmor=my-profile"}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "my-profile" {
				t.Errorf("apparmor = %q", s.Process.ApparmorProfile)
			}
		}},
		{"seccomp unconfined", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"seccomp=unconfined"} }, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil {
				t.Error("seccomp set with seccomp=unconfined")
			}
		}},
		{"seccomp inline profile", func(in *Input, _ *fakeHost) {
			in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}`}
		}, func(t *testing.T, s *specs.Spec) {
			sc := s.Linux.Seccomp
			if sc == nil || sc.DefaultAction != specs.ActErrno || len(sc.Syscalls) != 1 || !reflect.DeepEqual(sc.Syscalls[0].Names, []string{"read", "write"}) {
				t.Errorf("seccomp = %+v", sc)
			}
		}},
		{"seccomp builtin", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"seccomp=builtin"} }, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
				t.Errorf("seccomp = %+v", s.Linux.Seccomp)
			}
		}},
		{"read-only root", func(in *Input, _ *fakeHost) {
			in.HostConfig.ReadonlyRootfs = true
			in.HostsPath = "/run/c/hosts"
		}, func(t *testing.T, s *specs.Spec) {
			if !s.Root.Readonly {
				t.Error("root.readonly = false")
			}
			if m := mountAt(s, "/etc/hosts"); !reflect.DeepEqual(m.Options, []string{"rbind", "rro", "rprivate"}) {
				t.Errorf("/etc/hosts options = %q", m.Options)
			}
			if m := mountAt(s, "/dev/shm"); slices.Contains(m.Options, "ro") {
				t.Errorf("/dev/shm options = %q", m.Options)
			}
		}},
		{"hostname and domainname", func(in *Input, _ *fakeHost) {
			in.Config.Hostname = "web"
			in.Config.Domainname = "example.org"
		}, func(t *testing.T, s *specs.Spec) {
			if s.Hostname != "web" || s.Linux.Sysctl["kernel.domainname"] != "example.org" {
				t.Errorf("hostname %q sysctl %v", s.Hostname, s.Linux.Sysctl)
			}
			if v, _ := envValue(s.Process.Env, "HOSTNAME"); v != "web" {
				t.Errorf("HOSTNAME = %q", v)
			}
		}},
		{"uts host", func(in *Input, _ *fakeHost) {
			in.HostConfig.UTSMode = "host"
			in.UTSNS = "host"
		}, func(t *testing.T, s *specs.Spec) {
			if s.Hostname != "" {
				t.Errorf("hostname = %q with --uts host", s.Hostname)
			}
			if _, ok := hasNS(s, specs.UTSNamespace); ok {
				t.Error("uts namespace with --uts host")
			}
		}},
		{"network host", func(in *Input, _ *fakeHost) {
			in.HostConfig.NetworkMode = "host"
			in.NetNS = "host"
		}, func(t *testing.T, s *specs.Spec) {
			if _, ok := hasNS(s, specs.NetworkNamespace); ok {
				t.Error("network namespace with --network host")
			}
			if s.Hostname != "thehost" || len(s.Linux.Sysctl) != 0 {
				t.Errorf("hostname %q sysctls %v", s.Hostname, s.Linux.Sysctl)
			}
		}},
		{"joined namespaces", func(in *Input, _ *fakeHost) {
			in.HostConfig.NetworkMode = "container:abc"
			in.NetNS = "/proc/42/ns/net"
			in.HostConfig.PidMode = "container:abc"
			in.PidNS = "/proc/42/ns/pid"
			in.HostConfig.IpcMode = "container:abc"
			in.IPCNS = "/proc/42/ns/ipc"
			in.HostConfig.Sysctls = map[string]string{"net.core.somaxconn": "1024"}
		}, func(t *testing.T, s *specs.Spec) {
			for typ, p := range map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "/proc/42/ns/net", specs.PIDNamespace: "/proc/42/ns/pid", specs.IPCNamespace: "/proc/42/ns/ipc"} {
				if n, ok := hasNS(s, typ); !ok || n.Path != p {
					t.Errorf("namespace %s = %+v", typ, n)
				}
			}
			want := map[string]string{"net.core.somaxconn": "1024"}
			if !reflect.DeepEqual(s.Linux.Sysctl, want) {
				t.Errorf("sysctl = %v, want %v (no defaults in a joined netns)", s.Linux.Sysctl, want)
			}
		}},
		{"ipc host", func(in *Input, _ *fakeHost) {
			in.HostConfig.IpcMode = "host"
			in.IPCNS = "host"
		}, func(t *testing.T, s *specs.Spec) {
			if _, ok := hasNS(s, specs.IPCNamespace); ok {
				t.Error("ipc namespace with --ipc host")
			}
			m := mountAt(s, "/dev/shm")
			if m == nil || m.Type != "bind" || m.Source != "/dev/shm" || !reflect.DeepEqual(m.Options, []string{"rbind", "rprivate"}) {
				t.Errorf("/dev/shm = %+v", m)
			}
		}},
		{"ipc none", func(in *Input, _ *fakeHost) { in.HostConfig.IpcMode = "none" }, func(t *testing.T, s *specs.Spec) {
			if mountAt(s, "/dev/shm") != nil {
				t.Error("/dev/shm mounted with --ipc none")
			}
			if _, ok := hasNS(s, specs.IPCNamespace); !ok {
				t.Error("no ipc namespace with --ipc none")
			}
		}},
		{"shm-size", func(in *Input, _ *fakeHost) { in.HostConfig.ShmSize = 128 << 20 }, func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/dev/shm"); !slices.Contains(m.Options, "size=134217728") {
				t.Errorf("/dev/shm options = %q", m.Options)
			}
		}},
		{"cgroupns host on v2", func(in *Input, _ *fakeHost) { in.HostConfig.CgroupnsMode = "host" }, func(t *testing.T, s *specs.Spec) {
			if _, ok := hasNS(s, specs.CgroupNamespace); ok {
				t.Error("cgroup namespace with --cgroupns host")
			}
		}},
		{"cgroupns default on v1", func(in *Input, h *fakeHost) { h.mode = "v1" }, func(t *testing.T, s *specs.Spec) {
			if _, ok := hasNS(s, specs.CgroupNamespace); ok {
				t.Error("cgroup namespace by default on v1")
			}
		}},
		{"cgroupns private on v1", func(in *Input, _ *fakeHost) {
			in.CgroupMode = "v1"
			in.HostConfig.CgroupnsMode = "private"
		}, func(t *testing.T, s *specs.Spec) {
			if _, ok := hasNS(s, specs.CgroupNamespace); !ok {
				t.Error("no cgroup namespace with --cgroupns private")
			}
		}},
		{"userns host", func(in *Input, _ *fakeHost) { in.HostConfig.UsernsMode = "host" }, func(t *testing.T, s *specs.Spec) {
			if _, ok := hasNS(s, specs.UserNamespace); ok {
				t.Error("user namespace")
			}
		}},
		{"bind and volume mounts", func(in *Input, _ *fakeHost) {
			in.Mounts = []Mount{
				{Type: "bind", Source: "/srv/data", Destination: "/data/sub", RW: true},
				{Type: "volume", Source: "/var/lib/shoal/volumes/v/_data", Destination: "/data", RW: false, Options: []string{"nocopy"}},
				{Type: "bind", Source: "/etc/ssl", Destination: "/ssl", Options: []string{"bind", "ro", "nosuid"}},
			}
		}, func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/data"); m.Type != "bind" || !reflect.DeepEqual(m.Options, []string{"rbind", "rro", "rprivate"}) {
				t.Errorf("/data = %+v", m)
			}
			if m := mountAt(s, "/data/sub"); !reflect.DeepEqual(m.Options, []string{"rbind", "rprivate"}) {
				t.Errorf("/data/sub = %+v", m)
			}
			if m := mountAt(s, "/ssl"); !reflect.DeepEqual(m.Options, []string{"bind", "ro", "rprivate", "nosuid"}) {
				t.Errorf("/ssl = %+v", m)
			}
			idx := func(d string) int {
				return slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == d })
			}
			if idx("/data") > idx("/data/sub") {
				t.Error("/data/sub is mounted before its parent /data")
			}
		}},
		{"read-only bind on an old kernel", func(in *Input, h *fakeHost) {
			h.kernel = [2]int{5, 4}
			in.Mounts = []Mount{{Type: "bind", Source: "/srv", Destination: "/srv"}}
		}, func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/srv"); !reflect.DeepEqual(m.Options, []string{"rbind", "ro", "rprivate"}) {
				t.Errorf("/srv = %+v", m)
			}
		}},
		{"shared propagation", func(in *Input, h *fakeHost) {
			h.props["/srv"] = [2]bool{true, false}
			in.Mounts = []Mount{{Type: "bind", Source: "/srv", Destination: "/srv", RW: true, Propagation: "rshared"}}
		}, func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/srv"); !reflect.DeepEqual(m.Options, []string{"rbind", "rshared"}) {
				t.Errorf("/srv = %+v", m)
			}
			if s.Linux.RootfsPropagation != "shared" {
				t.Errorf("rootfsPropagation = %q", s.Linux.RootfsPropagation)
			}
		}},
		{"slave propagation", func(in *Input, h *fakeHost) {
			h.props["/srv"] = [2]bool{false, true}
			in.Mounts = []Mount{{Type: "bind", Source: "/srv", Destination: "/srv", RW: true, Propagation: "rslave"}}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Linux.RootfsPropagation != "rslave" {
				t.Errorf("rootfsPropagation = %q", s.Linux.RootfsPropagation)
			}
		}},
		{"tmpfs", func(in *Input, _ *fakeHost) {
			in.Mounts = []Mount{
				{Type: "tmpfs", Destination: "/run", RW: true, Options: []string{"exec", "size=64m", "mode=1770", "size=32m"}},
				{Type: "tmpfs", Destination: "/ro", RW: false, Options: []string{"rw"}},
			}
		}, func(t *testing.T, s *specs.Spec) {
			m := mountAt(s, "/run")
			if m.Type != "tmpfs" || m.Source != "tmpfs" || !reflect.DeepEqual(m.Options, []string{"nosuid", "nodev", "rprivate", "exec", "mode=1770", "size=32m"}) {
				t.Errorf("/run = %+v", m)
			}
			if m := mountAt(s, "/ro"); !reflect.DeepEqual(m.Options, []string{"noexec", "nosuid", "nodev", "rprivate", "ro"}) {
				t.Errorf("/ro = %+v", m)
			}
		}},
		{"user mount replaces a default", func(in *Input, _ *fakeHost) {
			in.HostsPath = "/run/c/hosts"
			in.Mounts = []Mount{
				{Type: "tmpfs", Destination: "/dev/shm", RW: true, Options: []string{"size=1g"}},
				{Type: "bind", Source: "/my/hosts", Destination: "/etc/hosts"},
			}
		}, func(t *testing.T, s *specs.Spec) {
			n := 0
			for _, m := range s.Mounts {
				if m.Destination == "/dev/shm" || m.Destination == "/etc/hosts" {
					n++
				}
			}
			if n != 2 || mountAt(s, "/dev/shm").Source != "tmpfs" || mountAt(s, "/etc/hosts").Source != "/my/hosts" {
				t.Errorf("mounts = %+v", s.Mounts)
			}
		}},
		{"user /dev replaces everything below", func(in *Input, _ *fakeHost) {
			in.Mounts = []Mount{{Type: "bind", Source: "/dev", Destination: "/dev", RW: true}}
		}, func(t *testing.T, s *specs.Spec) {
			for _, m := range s.Mounts {
				if strings.HasPrefix(m.Destination, "/dev/") {
					t.Errorf("default mount %s kept under a user /dev", m.Destination)
				}
			}
		}},
		{"writable-cgroups", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"writable-cgroups=true"} }, func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/sys/fs/cgroup"); slices.Contains(m.Options, "ro") {
				t.Errorf("cgroup options = %q", m.Options)
			}
		}},
		{"custom masked and readonly paths", func(in *Input, _ *fakeHost) {
			in.HostConfig.MaskedPaths = []string{"/proc/foo"}
			in.HostConfig.ReadonlyPaths = []string{}
		}, func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Linux.MaskedPaths, []string{"/proc/foo"}) || len(s.Linux.ReadonlyPaths) != 0 {
				t.Errorf("masked %q readonly %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
		}},
		{"memory with default swap", func(in *Input, _ *fakeHost) {
			in.HostConfig.Memory = 64 << 20
			in.HostConfig.MemoryReservation = 32 << 20
			in.HostConfig.OomKillDisable = boolp(false)
			in.HostConfig.MemorySwappiness = i64p(-1)
		}, func(t *testing.T, s *specs.Spec) {
			m := s.Linux.Resources.Memory
			if *m.Limit != 64<<20 || *m.Swap != 128<<20 || *m.Reservation != 32<<20 || m.Swappiness != nil || m.DisableOOMKiller != nil {
				t.Errorf("memory = %+v", m)
			}
		}},
		{"memory without swap accounting", func(in *Input, h *fakeHost) {
			h.swap = false
			in.HostConfig.Memory = 64 << 20
		}, func(t *testing.T, s *specs.Spec) {
			if m := s.Linux.Resources.Memory; *m.Limit != 64<<20 || m.Swap != nil {
				t.Errorf("memory = %+v", m)
			}
		}},
		{"memory-swap unlimited", func(in *Input, _ *fakeHost) {
			in.HostConfig.Memory = 64 << 20
			in.HostConfig.MemorySwap = -1
		}, func(t *testing.T, s *specs.Spec) {
			if m := s.Linux.Resources.Memory; *m.Swap != -1 {
				t.Errorf("swap = %d", *m.Swap)
			}
		}},
		{"memory-swap explicit", func(in *Input, _ *fakeHost) {
			in.HostConfig.Memory = 64 << 20
			in.HostConfig.MemorySwap = 100 << 20
		}, func(t *testing.T, s *specs.Spec) {
			if m := s.Linux.Resources.Memory; *m.Swap != 100<<20 {
				t.Errorf("swap = %d", *m.Swap)
			}
		}},
		{"swappiness and oom-kill-disable on v1", func(in *Input, h *fakeHost) {
			h.mode = "v1"
			in.HostConfig.MemorySwappiness = i64p(10)
			in.HostConfig.OomKillDisable = boolp(true)
		}, func(t *testing.T, s *specs.Spec) {
			m := s.Linux.Resources.Memory
			if *m.Swappiness != 10 || !*m.DisableOOMKiller {
				t.Errorf("memory = %+v", m)
			}
		}},
		{"cpus", func(in *Input, _ *fakeHost) {
			in.HostConfig.NanoCPUs = 1500000000
			in.HostConfig.CPUShares = 512
			in.HostConfig.CpusetCpus = "0,2-3"
			in.HostConfig.CpusetMems = "0"
		}, func(t *testing.T, s *specs.Spec) {
			c := s.Linux.Resources.CPU
			if *c.Period != 100000 || *c.Quota != 150000 || *c.Shares != 512 || c.Cpus != "0,2-3" || c.Mems != "0" {
				t.Errorf("cpu = %+v", c)
			}
		}},
		{"cpu period and quota", func(in *Input, _ *fakeHost) {
			in.HostConfig.CPUPeriod = 50000
			in.HostConfig.CPUQuota = 25000
		}, func(t *testing.T, s *specs.Spec) {
			if c := s.Linux.Resources.CPU; *c.Period != 50000 || *c.Quota != 25000 {
				t.Errorf("cpu = %+v", c)
			}
		}},
		{"cpu realtime on v1", func(in *Input, h *fakeHost) {
			h.mode, h.realtime = "v1", true
			in.HostConfig.CPURealtimePeriod = 1000000
			in.HostConfig.CPURealtimeRuntime = 950000
		}, func(t *testing.T, s *specs.Spec) {
			if c := s.Linux.Resources.CPU; *c.RealtimePeriod != 1000000 || *c.RealtimeRuntime != 950000 {
				t.Errorf("cpu = %+v", c)
			}
		}},
		{"pids-limit", func(in *Input, _ *fakeHost) { in.HostConfig.PidsLimit = i64p(100) }, func(t *testing.T, s *specs.Spec) {
			if p := s.Linux.Resources.Pids; *p.Limit != 100 {
				t.Errorf("pids = %d", *p.Limit)
			}
		}},
		{"pids-limit 0 is unlimited", func(in *Input, _ *fakeHost) { in.HostConfig.PidsLimit = i64p(0) }, func(t *testing.T, s *specs.Spec) {
			if p := s.Linux.Resources.Pids; *p.Limit != -1 {
				t.Errorf("pids = %d", *p.Limit)
			}
		}},
		{"blkio", func(in *Input, h *fakeHost) {
			h.devs["/dev/sda"] = []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0}}
			in.HostConfig.BlkioWeight = 300
			in.HostConfig.BlkioWeightDevice = []*blkiodev.WeightDevice{{Path: "/dev/sda", Weight: 200}}
			in.HostConfig.BlkioDeviceReadBps = []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 1 << 20}}
			in.HostConfig.BlkioDeviceWriteIOps = []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 100}}
		}, func(t *testing.T, s *specs.Spec) {
			b := s.Linux.Resources.BlockIO
			if *b.Weight != 300 || len(b.WeightDevice) != 1 || *b.WeightDevice[0].Weight != 200 || b.WeightDevice[0].Major != 8 {
				t.Errorf("blkio = %+v", b)
			}
			if len(b.ThrottleReadBpsDevice) != 1 || b.ThrottleReadBpsDevice[0].Rate != 1<<20 || len(b.ThrottleWriteIOPSDevice) != 1 || b.ThrottleWriteIOPSDevice[0].Rate != 100 {
				t.Errorf("blkio throttle = %+v", b)
			}
		}},
		{"devices", func(in *Input, h *fakeHost) {
			h.devs["/dev/fuse"] = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
			h.devs["/dev/snd"] = []specs.LinuxDevice{{Path: "/dev/snd/timer", Type: "c", Major: 116, Minor: 33}, {Path: "/dev/snd/ctl", Type: "c", Major: 116, Minor: 2}}
			in.HostConfig.Devices = []container.DeviceMapping{
				{PathOnHost: "/dev/fuse", CgroupPermissions: "rw"},
				{PathOnHost: "/dev/snd", PathInContainer: "/dev/sound", CgroupPermissions: "rwm"},
			}
			in.HostConfig.DeviceCgroupRules = []string{"c 42:* rmw", "b *:* r"}
		}, func(t *testing.T, s *specs.Spec) {
			var paths []string
			for _, d := range s.Linux.Devices {
				paths = append(paths, d.Path)
			}
			if !reflect.DeepEqual(paths, []string{"/dev/fuse", "/dev/sound/timer", "/dev/sound/ctl"}) {
				t.Errorf("devices = %q", paths)
			}
			r := s.Linux.Resources.Devices
			if len(r) != 7 {
				t.Fatalf("device rules = %+v", r)
			}
			if fuse := r[2]; !fuse.Allow || fuse.Type != "c" || *fuse.Major != 10 || *fuse.Minor != 229 || fuse.Access != "rw" {
				t.Errorf("fuse rule = %+v", fuse)
			}
			if rule := r[5]; rule.Type != "c" || *rule.Major != 42 || *rule.Minor != -1 || rule.Access != "rmw" {
				t.Errorf("cgroup rule = %+v", rule)
			}
			if rule := r[6]; rule.Type != "b" || *rule.Major != -1 || rule.Access != "r" {
				t.Errorf("cgroup rule = %+v", rule)
			}
		}},
		{"sysctls", func(in *Input, _ *fakeHost) {
			in.HostConfig.Sysctls = map[string]string{
				"kernel.shmmax": "1", "fs.mqueue.msg_max": "20", "net.ipv4.ip_unprivileged_port_start": "1024",
				"net/ipv4/conf/all/forwarding": "1",
			}
		}, func(t *testing.T, s *specs.Spec) {
			sc := s.Linux.Sysctl
			if sc["kernel.shmmax"] != "1" || sc["fs.mqueue.msg_max"] != "20" || sc["net.ipv4.ip_unprivileged_port_start"] != "1024" ||
				sc["net/ipv4/conf/all/forwarding"] != "1" || sc["net.ipv4.ping_group_range"] == "" {
				t.Errorf("sysctl = %v", sc)
			}
		}},
		{"annotations", func(in *Input, _ *fakeHost) { in.HostConfig.Annotations = map[string]string{"a": "b"} }, func(t *testing.T, s *specs.Spec) {
			if s.Annotations["a"] != "b" {
				t.Errorf("annotations = %v", s.Annotations)
			}
		}},
		{"stop signal", func(in *Input, _ *fakeHost) { in.Config.StopSignal = "sigusr1" }, func(t *testing.T, s *specs.Spec) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(t)
			h := newFakeHost()
			tt.mod(&in, h)
			s, err := generate(in, h)
			if err != nil {
				t.Fatalf("generate: %v", err)
			}
			if err := runtime.ValidateSpec(s); err != nil {
				t.Fatalf("runtime rejects the spec: %v", err)
			}
			tt.check(t, s)
		})
	}
}

func TestGeneratePrivileged(t *testing.T) {
	in := baseInput(t)
	in.HostConfig.Privileged = true
	in.HostConfig.ReadonlyRootfs = true
	in.HostConfig.CapDrop = []string{"SYS_ADMIN"} // ignored, as in Docker
	h := newFakeHost()
	h.hostDevs = []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}, {Path: "/dev/sda", Type: "b", Major: 8}}
	h.devs["/dev/kvm"] = []specs.LinuxDevice{{Path: "/dev/kvm", Type: "c", Major: 10, Minor: 232}}
	in.HostConfig.Devices = []container.DeviceMapping{
		{PathOnHost: "/dev/kvm", PathInContainer: "/dev/kvm", CgroupPermissions: "r"},
		{PathOnHost: "/dev/kvm", PathInContainer: "/dev/vm", CgroupPermissions: "r"},
	}
	s, err := generate(in, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.ValidateSpec(s); err != nil {
		t.Fatal(err)
	}
	if c := s.Process.Capabilities; !reflect.DeepEqual(c.Bounding, h.bounding) || !reflect.DeepEqual(c.Effective, h.bounding) {
		t.Errorf("caps = %q, want the host's bounding set %q", c.Bounding, h.bounding)
	}
	if s.Linux.Seccomp != nil || s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Errorf("seccomp %v masked %q readonly %q", s.Linux.Seccomp, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if m := mountAt(s, "/sys"); slices.Contains(m.Options, "ro") {
		t.Errorf("/sys options = %q, want rw", m.Options)
	}
	if m := mountAt(s, "/sys/fs/cgroup"); slices.Contains(m.Options, "ro") {
		t.Errorf("cgroup options = %q, want rw", m.Options)
	}
	r := s.Linux.Resources.Devices
	if len(r) != 1 || !r[0].Allow || r[0].Type != "" || r[0].Major != nil || r[0].Access != "rwm" {
		t.Errorf("device rules = %+v, want a *:* rwm", r)
	}
	var paths []string
	for _, d := range s.Linux.Devices {
		paths = append(paths, d.Path)
	}
	if !reflect.DeepEqual(paths, []string{"/dev/null", "/dev/sda", "/dev/vm"}) {
		t.Errorf("devices = %q", paths)
	}

	// Without --privileged, the same host gives Docker's 14 capabilities.
	in.HostConfig.Privileged = false
	in.HostConfig.Devices = nil
	s, err = generate(in, h)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(defaultCaps), func(c string) bool { return c == "CAP_SYS_ADMIN" })
	if !reflect.DeepEqual(s.Process.Capabilities.Bounding, want) || len(want) != 14 {
		t.Errorf("caps = %q", s.Process.Capabilities.Bounding)
	}
	if s.Linux.Seccomp == nil || s.Linux.MaskedPaths == nil {
		t.Error("unprivileged container without seccomp or masked paths")
	}

	// A privileged container with a custom profile keeps it (Docker does).
	in.HostConfig.Privileged = true
	in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kexec_load"],"action":"SCMP_ACT_ERRNO"}]}`}
	h.apparmor = true
	s, err = generate(in, h)
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow {
		t.Errorf("seccomp = %+v", s.Linux.Seccomp)
	}
	if s.Process.ApparmorProfile != "unconfined" {
		t.Errorf("apparmor = %q, want unconfined for a privileged container on an AppArmor host", s.Process.ApparmorProfile)
	}
}
