package spec

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// TestGenerateErrors checks that every invalid value fails with Docker's
// message (the API shows the text before ": invalid argument").
func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Input, *fakeHost)
		want string
	}{
		{"no command", func(in *Input, _ *fakeHost) { in.Config.Cmd = nil }, "no command specified"},
		{"relative workdir", func(in *Input, _ *fakeHost) { in.Config.WorkingDir = "srv" }, "the working directory 'srv' is invalid, it needs to be an absolute path"},
		{"empty env name", func(in *Input, _ *fakeHost) { in.Config.Env = []string{"=x"} }, "invalid environment variable: =x"},
		{"stop signal", func(in *Input, _ *fakeHost) { in.Config.StopSignal = "SIGFOO" }, "invalid signal: SIGFOO"},
		{"stop signal 0", func(in *Input, _ *fakeHost) { in.Config.StopSignal = "0" }, "invalid signal: 0"},
		{"healthcheck", func(in *Input, _ *fakeHost) {
			in.Config.Healthcheck = &container.HealthConfig{Interval: time.Microsecond}
		}, "Interval in Healthcheck cannot be less than 1ms"},
		{"hostname too long", func(in *Input, _ *fakeHost) { in.Config.Hostname = strings.Repeat("h", 65) }, `hostname "` + strings.Repeat("h", 65) + `" is too long (maximum 64 bytes)`},
		{"unknown user", func(in *Input, _ *fakeHost) { in.Config.User = "nobody2" }, "unable to find user nobody2: no matching entries in passwd file"},
		{"unknown group", func(in *Input, _ *fakeHost) { in.Config.User = "alice:staff" }, "unable to find group staff: no matching entries in group file"},
		{"unknown group-add", func(in *Input, _ *fakeHost) { in.HostConfig.GroupAdd = []string{"staff"} }, "unable to find group staff: no matching entries in group file"},
		{"uid out of range", func(in *Input, _ *fakeHost) { in.Config.User = "4294967296" }, "uids and gids must be in range 0-2147483647"},
		{"unknown capability", func(in *Input, _ *fakeHost) { in.HostConfig.CapAdd = []string{"foo"} }, `invalid CapAdd: unknown capability: "CAP_FOO"`},
		{"unknown capability to drop", func(in *Input, _ *fakeHost) { in.HostConfig.CapDrop = []string{"CAP_BAR"} }, `invalid CapDrop: unknown capability: "CAP_BAR"`},
		{"capability the host lacks", func(in *Input, _ *fakeHost) { in.HostConfig.CapAdd = []string{"SYS_MODULE"} }, `invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_MODULE"`},
		{"ulimit type", func(in *Input, _ *fakeHost) {
			in.HostConfig.Ulimits = []*container.Ulimit{{Name: "as", Soft: 1, Hard: 1}}
		}, "invalid ulimit type: as"},
		{"ulimit soft above hard", func(in *Input, _ *fakeHost) {
			in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 20, Hard: 10}}
		}, "ulimit soft limit must be less than or equal to hard limit: 20 > 10"},
		{"oom score adj", func(in *Input, _ *fakeHost) { in.HostConfig.OomScoreAdj = 1001 }, "Invalid value 1001, range for oom score adj is [-1000, 1000]"},
		{"security opt without value", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"seccomp"} }, `invalid --security-opt 1: "seccomp"`},
		{"security opt unknown key", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"foo=bar"} }, `invalid --security-opt 2: "foo=bar"`},
		{"no-new-privileges value", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"no-new-privileges=maybe"} }, `invalid --security-opt 2: "no-new-privileges=maybe"`},
		{"selinux label", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"label=type:svirt_apache_t"} }, "invalid --security-opt label=type:svirt_apache_t: SELinux labels are not supported (only label=disable)"},
		{"apparmor without AppArmor", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"apparmor=docker-default"} }, "invalid --security-opt apparmor=docker-default: AppArmor is not enabled on this host"},
		{"seccomp bad json", func(in *Input, _ *fakeHost) { in.HostConfig.SecurityOpt = []string{"seccomp={"} }, "Decoding seccomp profile failed: unexpected end of JSON input"},
		{"seccomp arch and archMap", func(in *Input, _ *fakeHost) {
			in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`}
		}, "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'"},
		{"seccomp name and names", func(in *Input, _ *fakeHost) {
			in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}`}
		}, "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'"},
		{"seccomp bad action", func(in *Input, _ *fakeHost) {
			in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_NOPE"}`}
		}, "invalid seccomp profile: "},
		{"memory too low", func(in *Input, _ *fakeHost) { in.HostConfig.Memory = 4 << 20 }, "Minimum memory limit allowed is 6MB"},
		{"swap below memory", func(in *Input, _ *fakeHost) {
			in.HostConfig.Memory = 64 << 20
			in.HostConfig.MemorySwap = 32 << 20
		}, "Minimum memoryswap limit should be larger than memory limit, see usage"},
		{"swap without memory", func(in *Input, _ *fakeHost) { in.HostConfig.MemorySwap = 64 << 20 }, "You should always set the Memory limit when using Memoryswap limit, see usage"},
		{"swap without accounting", func(in *Input, h *fakeHost) {
			h.swap = false
			in.HostConfig.Memory = 64 << 20
			in.HostConfig.MemorySwap = 128 << 20
		}, "Your kernel does not support swap limit capabilities or the cgroup is not mounted"},
		{"swappiness range", func(in *Input, h *fakeHost) {
			h.mode = "v1"
			in.HostConfig.MemorySwappiness = i64p(101)
		}, "Invalid value: 101, valid memory swappiness range is 0-100"},
		{"swappiness on v2", func(in *Input, _ *fakeHost) { in.HostConfig.MemorySwappiness = i64p(60) }, "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted (memory swappiness is not available with cgroup v2)"},
		{"reservation too low", func(in *Input, _ *fakeHost) { in.HostConfig.MemoryReservation = 1 << 20 }, "Minimum memory reservation allowed is 6MB"},
		{"reservation above limit", func(in *Input, _ *fakeHost) {
			in.HostConfig.Memory = 64 << 20
			in.HostConfig.MemoryReservation = 128 << 20
		}, "Minimum memory limit can not be less than memory reservation limit, see usage"},
		{"oom-kill-disable on v2", func(in *Input, _ *fakeHost) { in.HostConfig.OomKillDisable = boolp(true) }, "Your kernel does not support OomKillDisable (the OOM killer cannot be disabled with cgroup v2)"},
		{"too many cpus", func(in *Input, _ *fakeHost) { in.HostConfig.NanoCPUs = 5e9 }, "range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"},
		{"negative cpus", func(in *Input, _ *fakeHost) { in.HostConfig.NanoCPUs = -1 }, "range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"},
		{"cpus and period", func(in *Input, _ *fakeHost) {
			in.HostConfig.NanoCPUs = 1e9
			in.HostConfig.CPUPeriod = 50000
		}, "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{"cpus and quota", func(in *Input, _ *fakeHost) {
			in.HostConfig.NanoCPUs = 1e9
			in.HostConfig.CPUQuota = 50000
		}, "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{"negative shares", func(in *Input, _ *fakeHost) { in.HostConfig.CPUShares = -2 }, "invalid CPU shares (-2): value must be a positive integer"},
		{"period range", func(in *Input, _ *fakeHost) { in.HostConfig.CPUPeriod = 999 }, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"},
		{"quota too small", func(in *Input, _ *fakeHost) { in.HostConfig.CPUQuota = 999 }, "CPU cfs quota can not be less than 1ms (i.e. 1000)"},
		{"realtime on v2", func(in *Input, _ *fakeHost) { in.HostConfig.CPURealtimeRuntime = 1000 }, "kernel does not support CPU real-time scheduler"},
		{"realtime runtime above period", func(in *Input, h *fakeHost) {
			h.realtime = true
			in.HostConfig.CPURealtimePeriod = 1000
			in.HostConfig.CPURealtimeRuntime = 2000
		}, "cpu real-time runtime cannot be higher than cpu real-time period"},
		{"cpu percent", func(in *Input, _ *fakeHost) { in.HostConfig.CPUPercent = 50 }, "invalid option: CPU percent is not supported on linux"},
		{"cpuset format", func(in *Input, _ *fakeHost) { in.HostConfig.CpusetCpus = "1-x" }, "Invalid value 1-x for cpuset cpus: invalid format: 1-x"},
		{"cpuset unavailable", func(in *Input, _ *fakeHost) { in.HostConfig.CpusetCpus = "0,7" }, "Requested CPUs are not available - requested 0,7, available: 0-3"},
		{"cpuset huge", func(in *Input, _ *fakeHost) { in.HostConfig.CpusetCpus = "0-9223372036854775807" }, "Invalid value 0-9223372036854775807 for cpuset cpus: value of out range, maximum is 8192"},
		{"cpuset mems unavailable", func(in *Input, _ *fakeHost) { in.HostConfig.CpusetMems = "1" }, "Requested memory nodes are not available - requested 1, available: 0"},
		{"blkio weight", func(in *Input, _ *fakeHost) { in.HostConfig.BlkioWeight = 5 }, "Range of blkio weight is from 10 to 1000"},
		{"blkio weight device", func(in *Input, _ *fakeHost) {
			in.HostConfig.BlkioWeightDevice = []*blkiodev.WeightDevice{{Path: "/dev/sda", Weight: 5000}}
		}, "invalid weight for device: /dev/sda:5000"},
		{"blkio missing device", func(in *Input, _ *fakeHost) {
			in.HostConfig.BlkioDeviceReadBps = []*blkiodev.ThrottleDevice{{Path: "/dev/nope", Rate: 1}}
		}, "stat /dev/nope: no such file or directory"},
		{"io maximum", func(in *Input, _ *fakeHost) { in.HostConfig.IOMaximumBandwidth = 1 }, "invalid option: QoS maximum bandwidth configuration is not supported on linux"},
		{"missing device", func(in *Input, _ *fakeHost) {
			in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/nope", PathInContainer: "/dev/nope", CgroupPermissions: "rwm"}}
		}, `error gathering device information while adding custom device "/dev/nope": no such file or directory`},
		{"device mode", func(in *Input, _ *fakeHost) {
			in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/null", CgroupPermissions: "rwx"}}
		}, "invalid device mode: rwx"},
		{"device container path", func(in *Input, _ *fakeHost) {
			in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "null"}}
		}, "null is not an absolute path"},
		{"device cgroup rule", func(in *Input, _ *fakeHost) { in.HostConfig.DeviceCgroupRules = []string{"x 1:2 rwm"} }, "invalid device cgroup rule format: 'x 1:2 rwm'"},
		{"gpus", func(in *Input, _ *fakeHost) {
			in.HostConfig.DeviceRequests = []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}
		}, `could not select device driver "" with capabilities: [[gpu]]`},
		{"sysctl not namespaced", func(in *Input, _ *fakeHost) { in.HostConfig.Sysctls = map[string]string{"kernel.panic": "1"} }, `sysctl "kernel.panic" is not in a separate kernel namespace`},
		{"sysctl vm", func(in *Input, _ *fakeHost) { in.HostConfig.Sysctls = map[string]string{"vm/swappiness": "1"} }, `sysctl "vm.swappiness" is not in a separate kernel namespace`},
		{"sysctl hostname", func(in *Input, _ *fakeHost) { in.HostConfig.Sysctls = map[string]string{"kernel.hostname": "x"} }, `sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field`},
		{"sysctl net with host network", func(in *Input, _ *fakeHost) {
			in.HostConfig.NetworkMode = "host"
			in.NetNS = "host"
			in.HostConfig.Sysctls = map[string]string{"net.core.somaxconn": "1024"}
		}, `sysctl "net.core.somaxconn" not allowed in host network namespace`},
		{"sysctl net in a joined host netns", func(in *Input, h *fakeHost) {
			in.HostConfig.NetworkMode = "container:other"
			in.NetNS = "/proc/7/ns/net"
			h.hostNetNS = map[string]bool{"/proc/7/ns/net": true}
			in.HostConfig.Sysctls = map[string]string{"net.core.somaxconn": "1024"}
		}, `sysctl "net.core.somaxconn" not allowed in host network namespace`},
		{"sysctl ipc with host ipc", func(in *Input, _ *fakeHost) {
			in.HostConfig.IpcMode = "host"
			in.IPCNS = "host"
			in.HostConfig.Sysctls = map[string]string{"kernel.shmmax": "1"}
		}, `sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace`},
		{"domainname with uts host", func(in *Input, _ *fakeHost) {
			in.HostConfig.UTSMode = "host"
			in.UTSNS = "host"
			in.Config.Domainname = "example.org"
		}, "conflicting options: domainname and the UTS mode"},
		{"ipc mode", func(in *Input, _ *fakeHost) { in.HostConfig.IpcMode = "bogus" }, "invalid IPC mode: bogus"},
		{"pid mode", func(in *Input, _ *fakeHost) { in.HostConfig.PidMode = "bogus" }, "invalid PID mode: bogus"},
		{"uts mode", func(in *Input, _ *fakeHost) { in.HostConfig.UTSMode = "bogus" }, "invalid UTS mode: bogus"},
		{"cgroupns mode", func(in *Input, _ *fakeHost) { in.HostConfig.CgroupnsMode = "bogus" }, "invalid cgroup namespace mode: bogus"},
		{"userns", func(in *Input, _ *fakeHost) { in.HostConfig.UsernsMode = "private" }, `invalid user namespace mode "private": only "host" is supported (user namespace remapping is not)`},
		{"cgroup of another container", func(in *Input, _ *fakeHost) { in.HostConfig.Cgroup = "container:x" }, `invalid cgroup "container:x": sharing the cgroup of another container is not supported`},
		{"isolation", func(in *Input, _ *fakeHost) { in.HostConfig.Isolation = "hyperv" }, "invalid isolation 'hyperv' on linux"},
		{"negative shm", func(in *Input, _ *fakeHost) { in.HostConfig.ShmSize = -1 }, "SHM size can not be less than 0"},
		{"empty annotation key", func(in *Input, _ *fakeHost) { in.HostConfig.Annotations = map[string]string{"": "x"} }, "invalid Annotations: the empty string is not permitted as an annotation key"},
		{"tmpfs option", func(in *Input, _ *fakeHost) {
			in.Mounts = []Mount{{Type: "tmpfs", Destination: "/run", RW: true, Options: []string{"foo=bar"}}}
		}, `invalid tmpfs option "foo"`},
		{"tmpfs destination", func(in *Input, _ *fakeHost) { in.HostConfig.Tmpfs = map[string]string{"run": ""} }, "invalid mount path: 'run' mount path must be absolute"},
		{"tmpfs on root", func(in *Input, _ *fakeHost) { in.HostConfig.Tmpfs = map[string]string{"/": ""} }, "invalid specification: destination can't be '/'"},
		{"tmpfs option in HostConfig", func(in *Input, _ *fakeHost) { in.HostConfig.Tmpfs = map[string]string{"/run": "tmpcopyup"} }, `invalid tmpfs option "tmpcopyup"`},
		{"duplicate mount", func(in *Input, _ *fakeHost) {
			in.Mounts = []Mount{{Type: "bind", Source: "/a", Destination: "/x"}, {Type: "tmpfs", Destination: "/x/"}}
		}, "Duplicate mount point: /x"},
		{"bind option", func(in *Input, _ *fakeHost) {
			in.Mounts = []Mount{{Type: "bind", Source: "/a", Destination: "/x", Options: []string{"size=1"}}}
		}, `invalid mount option "size=1" for /x`},
		{"mount type", func(in *Input, _ *fakeHost) { in.Mounts = []Mount{{Type: "npipe", Source: "/a", Destination: "/x"}} }, `invalid mount type "npipe" for /x`},
		{"propagation", func(in *Input, _ *fakeHost) {
			in.Mounts = []Mount{{Type: "bind", Source: "/a", Destination: "/x", Propagation: "sideways"}}
		}, `invalid mount propagation "sideways" for /x`},
		{"shared propagation on a private mount", func(in *Input, _ *fakeHost) {
			in.Mounts = []Mount{{Type: "bind", Source: "/srv", Destination: "/x", Propagation: "shared"}}
		}, "path /srv is mounted on /mnt but it is not a shared mount"},
		{"slave propagation on a private mount", func(in *Input, _ *fakeHost) {
			in.Mounts = []Mount{{Type: "bind", Source: "/srv", Destination: "/x", Propagation: "rslave"}}
		}, "path /srv is mounted on /mnt but it is not a shared or slave mount"},
		{"ipc host without /dev/shm", func(in *Input, h *fakeHost) {
			h.noShm = true
			in.HostConfig.IpcMode = "host"
			in.IPCNS = "host"
		}, "/dev/shm is not mounted, but must be for --ipc=host"},
		{"init without a binary", func(in *Input, _ *fakeHost) {
			in.HostConfig.Init = boolp(true)
			in.InitPath = ""
		}, "--init: no init binary is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(t)
			h := newFakeHost()
			tt.mod(&in, h)
			_, err := generate(in, h)
			if err == nil {
				t.Fatalf("generate succeeded, want %q", tt.want)
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("error %q is not of class ErrInvalidArgument", err)
			}
			msg := strings.TrimSuffix(err.Error(), ": "+errdefs.ErrInvalidArgument.Error())
			if strings.HasSuffix(tt.want, ": ") {
				if !strings.HasPrefix(msg, tt.want) {
					t.Errorf("error = %q, want prefix %q", msg, tt.want)
				}
			} else if msg != tt.want {
				t.Errorf("error = %q\n     want %q", msg, tt.want)
			}
		})
	}
}

// TestCallerMistakes covers inputs only a buggy caller sends: they fail,
// but not as the user's fault.
func TestCallerMistakes(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Input)
	}{
		{"no config", func(in *Input) { in.Config = nil }},
		{"relative rootfs", func(in *Input) { in.Rootfs = "rootfs" }},
		{"net host without host netns", func(in *Input) { in.HostConfig.NetworkMode = "host" }},
		{"host netns without net host", func(in *Input) { in.NetNS = "host" }},
		{"pid container without path", func(in *Input) { in.HostConfig.PidMode = "container:x" }},
		{"relative namespace path", func(in *Input) { in.UTSNS = "proc/1/ns/uts" }},
		{"cgroup mode", func(in *Input) { in.CgroupMode = "v3" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(t)
			tt.mod(&in)
			if _, err := generate(in, newFakeHost()); err == nil || errdefs.IsInvalidArgument(err) {
				t.Errorf("generate = %v, want a non-user error", err)
			}
		})
	}
}

// TestValidateCreateOnly covers the checks that apply to the request as
// the client sent it, and not to the defaulted configuration Generate sees.
func TestValidateCreateOnly(t *testing.T) {
	h := newFakeHost()
	cfg := &container.Config{Cmd: []string{"sh"}, Hostname: "web"}
	for _, tt := range []struct {
		hc   *container.HostConfig
		want string
	}{
		{&container.HostConfig{UTSMode: "host"}, "conflicting options: hostname and the UTS mode"},
		{&container.HostConfig{NetworkMode: "container:db"}, "conflicting options: hostname and the network mode"},
	} {
		err := validate(tt.hc, cfg, h, "v2", true)
		if err == nil || err.Error() != tt.want+": invalid argument" {
			t.Errorf("validate(%+v) = %v, want %q", tt.hc, err, tt.want)
		}
		if err := validate(tt.hc, cfg, h, "v2", false); err != nil {
			t.Errorf("validate at start (%+v) = %v, want nil", tt.hc, err)
		}
	}
	hc := &container.HostConfig{NetworkMode: "container:db", Links: []string{"a:b"}}
	err := validate(hc, &container.Config{Cmd: []string{"sh"}}, h, "v2", true)
	if want := "conflicting options: container type network can't be used with links. This would result in undefined behavior: invalid argument"; err == nil || err.Error() != want {
		t.Errorf("validate(links) = %v", err)
	}
}

func TestValidateHostConfigReal(t *testing.T) {
	// The real host: whatever it is, a plain config passes and an absurd
	// CPU count fails with Docker's message.
	cfg := &container.Config{Cmd: []string{"true"}}
	if err := ValidateHostConfig(&container.HostConfig{}, cfg); err != nil {
		t.Fatalf("ValidateHostConfig(empty) = %v", err)
	}
	err := ValidateHostConfig(&container.HostConfig{Resources: container.Resources{NanoCPUs: 1 << 40}}, cfg)
	if err == nil || !strings.HasPrefix(err.Error(), "range of CPUs is from 0.01 to ") || !errdefs.IsInvalidArgument(err) {
		t.Errorf("ValidateHostConfig(huge cpus) = %v", err)
	}
	err = ValidateHostConfig(&container.HostConfig{CapAdd: []string{"CAP_NOPE"}}, cfg)
	if err == nil || err.Error() != `invalid CapAdd: unknown capability: "CAP_NOPE": invalid argument` {
		t.Errorf("ValidateHostConfig(cap) = %v", err)
	}
}
