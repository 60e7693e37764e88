package cgroups

import (
	"errors"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func TestValidatePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{in: "/shoal/abc", want: "/shoal/abc"},
		{in: "shoal/abc", want: "shoal/abc"},
		{in: "/shoal//abc/./", want: "/shoal/abc"},
		{in: "/a:b:c", want: "/a:b:c"},
		{in: "a:b", want: "a:b"},
		{in: "", wantErr: ErrInvalidPath},
		{in: "/", wantErr: ErrInvalidPath},
		{in: ".", wantErr: ErrInvalidPath},
		{in: "/shoal/../abc", wantErr: ErrInvalidPath},
		{in: "../abc", wantErr: ErrInvalidPath},
		{in: "/shoal/..", wantErr: ErrInvalidPath},
		{in: "/a\nb", wantErr: ErrInvalidPath},
		{in: "system.slice:shoal:abc", wantErr: ErrSystemdDriver},
		{in: ":shoal:abc", wantErr: ErrSystemdDriver},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := validatePath(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("validatePath(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("validatePath(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCgroupDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		point, mountRoot, own, path string
		useParent                   bool
		want                        string
		wantErr                     bool
	}{
		{name: "absolute", point: "/sys/fs/cgroup/memory", mountRoot: "/", own: "/x", path: "/shoal/a", want: "/sys/fs/cgroup/memory/shoal/a"},
		{name: "relative v1", point: "/sys/fs/cgroup/memory", mountRoot: "/", own: "/docker/c1", path: "shoal/a", want: "/sys/fs/cgroup/memory/docker/c1/shoal/a"},
		{name: "relative v2 parent", point: "/sys/fs/cgroup", mountRoot: "/", own: "/user.slice/session-1.scope", path: "shoal/a", useParent: true, want: "/sys/fs/cgroup/user.slice/shoal/a"},
		{name: "relative at root", point: "/sys/fs/cgroup", mountRoot: "/", own: "/", path: "a", useParent: true, want: "/sys/fs/cgroup/a"},
		{name: "mount shows a subtree", point: "/sys/fs/cgroup/cpu", mountRoot: "/docker/c1", own: "/docker/c1/inner", path: "a", want: "/sys/fs/cgroup/cpu/inner/a"},
		{name: "own outside mount", point: "/sys/fs/cgroup/cpu", mountRoot: "/docker/c1", own: "/other", path: "a", wantErr: true},
		{name: "own unknown", point: "/sys/fs/cgroup", mountRoot: "/", own: "", path: "a", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cgroupDir(tt.point, tt.mountRoot, tt.own, tt.path, tt.useParent)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("cgroupDir(%q, %q, %q, %q, %v) = %q, %v, want %q (error %v)", tt.point, tt.mountRoot, tt.own, tt.path, tt.useParent, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAncestors(t *testing.T) {
	t.Parallel()
	got, err := ancestors("/r", "/r/a/b/c")
	want := []string{"/r", "/r/a", "/r/a/b"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ancestors = %v, %v, want %v", got, err, want)
	}
	if got, err := ancestors("/r", "/r/a"); err != nil || !reflect.DeepEqual(got, []string{"/r"}) {
		t.Fatalf("ancestors(/r, /r/a) = %v, %v, want [/r]", got, err)
	}
	for _, dir := range []string{"/r", "/other/a"} {
		if _, err := ancestors("/r", dir); err == nil {
			t.Errorf("ancestors(/r, %q) succeeded, want error", dir)
		}
	}
}

const sampleMountinfo = `22 1 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 /docker/c1 /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
41 1 0:31 / /mnt/my\040memory rw,relatime - cgroup cgroup rw,memory
42 30 0:38 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
`

func TestParseMountinfo(t *testing.T) {
	t.Parallel()
	mounts, err := parseMountinfo([]byte(sampleMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 10 {
		t.Fatalf("parseMountinfo: %d mounts, want 10", len(mounts))
	}
	if got := mounts[8].Point; got != "/mnt/my memory" {
		t.Errorf("escaped mount point = %q, want %q", got, "/mnt/my memory")
	}
	v1 := v1Mounts(mounts, "/sys/fs/cgroup")
	want := map[string]string{
		"cpu":          "/sys/fs/cgroup/cpu,cpuacct",
		"cpuacct":      "/sys/fs/cgroup/cpu,cpuacct",
		"cpuset":       "/sys/fs/cgroup/cpuset",
		"memory":       "/sys/fs/cgroup/memory",
		"pids":         "/sys/fs/cgroup/pids",
		"name=systemd": "/sys/fs/cgroup/systemd",
		"net_cls":      "/sys/fs/cgroup/net_cls,net_prio",
		"net_prio":     "/sys/fs/cgroup/net_cls,net_prio",
	}
	got := map[string]string{}
	for c, m := range v1 {
		got[c] = m.Point
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("v1Mounts = %v, want %v", got, want)
	}
	if r := v1["pids"].Root; r != "/docker/c1" {
		t.Errorf("pids mount root = %q, want /docker/c1", r)
	}
	if m, ok := findMount(mounts, "/sys/fs/cgroup/unified", "cgroup2"); !ok || m.Root != "/" {
		t.Errorf("findMount(unified) = %+v, %v", m, ok)
	}
	if _, err := parseMountinfo([]byte("1 2 3\n")); err == nil {
		t.Error("parseMountinfo(short line) succeeded, want error")
	}
}

func TestParseProcCgroup(t *testing.T) {
	t.Parallel()
	in := "12:cpu,cpuacct:/docker/c1\n4:memory:/m\n1:name=systemd:/init.scope\n0::/user.slice/s.scope\n"
	got, err := parseProcCgroup([]byte(in))
	want := map[string]string{
		"cpu": "/docker/c1", "cpuacct": "/docker/c1", "memory": "/m",
		"name=systemd": "/init.scope", "": "/user.slice/s.scope",
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseProcCgroup = %v, %v, want %v", got, err, want)
	}
	if _, err := parseProcCgroup([]byte("garbage\n")); err == nil {
		t.Error("parseProcCgroup(garbage) succeeded, want error")
	}
}

func TestCPUSharesToWeight(t *testing.T) {
	t.Parallel()
	tests := []struct{ shares, want uint64 }{
		{0, 0}, {1, 1}, {2, 1}, {512, 20}, {1024, 39}, {2048, 79}, {262144, 10000}, {1 << 20, 10000},
	}
	for _, tt := range tests {
		if got := cpuSharesToWeight(tt.shares); got != tt.want {
			t.Errorf("cpuSharesToWeight(%d) = %d, want %d", tt.shares, got, tt.want)
		}
	}
}

func TestBlkioWeightToIOWeight(t *testing.T) {
	t.Parallel()
	tests := []struct{ w, want uint64 }{{0, 0}, {10, 1}, {500, 4950}, {1000, 10000}, {5, 1}}
	for _, tt := range tests {
		if got := blkioWeightToIOWeight(tt.w); got != tt.want {
			t.Errorf("blkioWeightToIOWeight(%d) = %d, want %d", tt.w, got, tt.want)
		}
	}
}

func TestSwapV2String(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		swap, memory int64
		want         string
		wantErr      bool
	}{
		{name: "unset", swap: 0, memory: 100, want: ""},
		{name: "unset both", swap: 0, memory: 0, want: ""},
		{name: "unlimited memory", swap: 0, memory: -1, want: "max"},
		{name: "unlimited swap", swap: -1, memory: 100, want: "max"},
		{name: "swap part", swap: 300, memory: 100, want: "200"},
		{name: "no swap", swap: 100, memory: 100, want: "0"},
		{name: "below memory", swap: 50, memory: 100, wantErr: true},
		{name: "no memory limit", swap: 50, memory: 0, wantErr: true},
		{name: "memory unlimited", swap: 50, memory: -1, wantErr: true},
		{name: "bad swap", swap: -5, memory: 100, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := swapV2String(tt.swap, tt.memory)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("swapV2String(%d, %d) = %q, %v, want %q (error %v)", tt.swap, tt.memory, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidResource) {
				t.Errorf("error %v is not ErrInvalidResource", err)
			}
		})
	}
}

func TestCPUMax(t *testing.T) {
	t.Parallel()
	tests := []struct {
		quota  *int64
		period *uint64
		want   string
	}{
		{nil, nil, ""},
		{ptr[int64](50000), ptr[uint64](100000), "50000 100000"},
		{ptr[int64](50000), nil, "50000"},
		{ptr[int64](-1), ptr[uint64](100000), "max 100000"},
		{nil, ptr[uint64](200000), "max 200000"},
		{ptr[int64](-1), nil, "max"},
	}
	for _, tt := range tests {
		if got := cpuMax(tt.quota, tt.period); got != tt.want {
			t.Errorf("cpuMax(%v, %v) = %q, want %q", val(tt.quota), val(tt.period), got, tt.want)
		}
	}
}

func TestLimitStrings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in        int64
		pids, mem string
	}{{-1, "max", "max"}, {0, "max", "0"}, {42, "42", "42"}} {
		if got := pidsMax(tt.in); got != tt.pids {
			t.Errorf("pidsMax(%d) = %q, want %q", tt.in, got, tt.pids)
		}
		if got := limitString(tt.in); got != tt.mem {
			t.Errorf("limitString(%d) = %q, want %q", tt.in, got, tt.mem)
		}
	}
	d := specs.LinuxThrottleDevice{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}}
	if got := ioMaxLine(d, "rbps"); got != "8:16 rbps=max" {
		t.Errorf("ioMaxLine(rate 0) = %q", got)
	}
	d.Rate = 1048576
	if got := ioMaxLine(d, "wiops"); got != "8:16 wiops=1048576" {
		t.Errorf("ioMaxLine = %q", got)
	}
	if got := rdmaLine("mlx4_0", specs.LinuxRdma{HcaHandles: ptr[uint32](2), HcaObjects: ptr[uint32](2000)}); got != "mlx4_0 hca_handle=2 hca_object=2000" {
		t.Errorf("rdmaLine = %q", got)
	}
	if got := rdmaLine("mlx4_0", specs.LinuxRdma{}); got != "" {
		t.Errorf("rdmaLine(empty) = %q, want empty", got)
	}
}

func TestRequiredControllers(t *testing.T) {
	t.Parallel()
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](1 << 20)},
		CPU:     &specs.LinuxCPU{Cpus: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](10)},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](100)},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)},
		Unified: map[string]string{"misc.max": "x 1", "cgroup.max.depth": "3"},
	}
	if got, want := requiredControllers(r, false), []string{"blkio", "cpuset", "devices", "memory", "net_cls", "pids"}; !reflect.DeepEqual(got, want) {
		t.Errorf("requiredControllers(v1) = %v, want %v", got, want)
	}
	if got, want := requiredControllers(r, true), []string{"cpuset", "io", "memory", "misc", "pids"}; !reflect.DeepEqual(got, want) {
		t.Errorf("requiredControllers(v2) = %v, want %v", got, want)
	}
	kernelOnly := &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: ptr[int64](1)}, CPU: &specs.LinuxCPU{}}
	if got := requiredControllers(kernelOnly, false); len(got) != 0 {
		t.Errorf("requiredControllers(kernel memory only) = %v, want none", got)
	}
	if got := requiredControllers(nil, true); got != nil {
		t.Errorf("requiredControllers(nil) = %v", got)
	}
}

func TestValidateResources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		r       *specs.LinuxResources
		mode    Mode
		wantErr error
	}{
		{name: "nil", r: nil, mode: Unified},
		{name: "v2 swappiness", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](10)}}, mode: Unified, wantErr: ErrNotSupported},
		{name: "v1 swappiness", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](10)}}, mode: Legacy},
		{name: "v1 swappiness too big", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}}, mode: Legacy, wantErr: ErrInvalidResource},
		{name: "v2 oom killer", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: ptr(true)}}, mode: Unified, wantErr: ErrNotSupported},
		{name: "v2 oom killer false", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: ptr(false)}}, mode: Unified},
		{name: "swap below limit v1", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](50)}}, mode: Hybrid, wantErr: ErrInvalidResource},
		{name: "swap below limit v2", r: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](50)}}, mode: Unified, wantErr: ErrInvalidResource},
		{name: "v2 realtime", r: &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](10)}}, mode: Unified, wantErr: ErrNotSupported},
		{name: "v2 network", r: &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}}, mode: Unified, wantErr: ErrNotSupported},
		{name: "v2 leaf weight", r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](10)}}, mode: Unified, wantErr: ErrNotSupported},
		{name: "unified on v1", r: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, mode: Legacy, wantErr: ErrNotSupported},
		{name: "unified on hybrid", r: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, mode: Hybrid, wantErr: ErrNotSupported},
		{name: "unified key with slash", r: &specs.LinuxResources{Unified: map[string]string{"../memory.high": "1"}}, mode: Unified, wantErr: ErrInvalidResource},
		{name: "unified procs", r: &specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, mode: Unified, wantErr: ErrInvalidResource},
		{name: "unified ok", r: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, mode: Unified},
		{name: "bad page size", r: &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M/../x", Limit: 1}}}, mode: Unified, wantErr: ErrInvalidResource},
		{name: "page size", r: &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}}, mode: Legacy},
		{name: "bad device type", r: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x"}}}, mode: Legacy, wantErr: ErrInvalidResource},
		{name: "bad interface", r: &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0 1"}}}}, mode: Legacy, wantErr: ErrInvalidResource},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateResources(tt.r, tt.mode)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("validateResources(%s) = %v, want %v", tt.mode, err, tt.wantErr)
			}
		})
	}
}

func TestParseDeviceRules(t *testing.T) {
	t.Parallel()
	got, err := parseDeviceRules([]specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rw"},
		{Allow: true, Type: "b", Major: ptr[int64](8), Minor: ptr[int64](-1)},
	})
	want := []deviceRule{
		{allow: false, typ: 'a', major: -1, minor: -1, access: accAll},
		{allow: true, typ: 'c', major: 1, minor: 3, access: accRead | accWrite},
		{allow: true, typ: 'b', major: 8, minor: -1, access: accAll},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseDeviceRules = %+v, %v, want %+v", got, err, want)
	}
	for _, bad := range []specs.LinuxDeviceCgroup{
		{Type: "u"}, {Type: "c", Access: "rx"}, {Type: "c", Major: ptr[int64](-2)}, {Type: "c", Minor: ptr[int64](1 << 40)},
	} {
		if _, err := parseDeviceRules([]specs.LinuxDeviceCgroup{bad}); !errors.Is(err, ErrInvalidResource) {
			t.Errorf("parseDeviceRules(%+v) error = %v, want ErrInvalidResource", bad, err)
		}
	}
}

func TestV1DeviceLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    deviceRule
		want []string
	}{
		{deviceRule{typ: 'a', major: -1, minor: -1, access: accAll}, []string{"a"}},
		{deviceRule{typ: 'c', major: 1, minor: 3, access: accRead | accWrite}, []string{"c 1:3 rw"}},
		{deviceRule{typ: 'b', major: 8, minor: -1, access: accMknod}, []string{"b 8:* m"}},
		{deviceRule{typ: 'a', major: -1, minor: -1, access: accRead}, []string{"c *:* r", "b *:* r"}},
		{deviceRule{typ: 'a', major: 5, minor: -1, access: accAll}, []string{"c 5:* rwm", "b 5:* rwm"}},
	}
	for _, tt := range tests {
		if got := v1DeviceLines(tt.r); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("v1DeviceLines(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
