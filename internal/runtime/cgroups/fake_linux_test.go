package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The tests in this file run without root against fake cgroup trees: plain
// directories and files in t.TempDir laid out like cgroupfs, with a fake
// statfs, mount table and /proc/self/cgroup.

// fakeSys describes a fake host: statfs magics by path (others do not
// exist), the mount table and the caller's /proc/self/cgroup.
func fakeSys(magic map[string]int64, mountinfo, procCgroup string) system {
	return system{
		statfs: func(p string) (int64, error) {
			if v, ok := magic[p]; ok {
				return v, nil
			}
			return 0, &fs.PathError{Op: "statfs", Path: p, Err: unix.ENOENT}
		},
		mountinfo:  func() ([]byte, error) { return []byte(mountinfo), nil },
		procCgroup: func() ([]byte, error) { return []byte(procCgroup), nil },
	}
}

// writeFiles creates files under dir; a value "-" removes the file instead.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if content == "-" {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// v2Files are the files of a fake cgroup2 directory with every controller
// enabled.
func v2Files(controllers string) map[string]string {
	return map[string]string{
		"cgroup.controllers": controllers, "cgroup.subtree_control": "", "cgroup.procs": "",
		"cgroup.freeze": "0", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.kill": "",
		"memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "memory.high": "max",
		"memory.current": "0", "memory.events": "oom 0\noom_kill 0\n",
		"cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0",
		"cpuset.cpus": "", "cpuset.mems": "", "pids.max": "max", "io.weight": "default 100", "io.max": "",
		"hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max", "rdma.max": "",
	}
}

// fakeV2 lays out a cgroup2 tree at root with the directories rels, giving
// each directory the files of v2Files plus extra.
func fakeV2(t *testing.T, root, controllers string, extra map[string]string, rels ...string) system {
	t.Helper()
	for _, rel := range append([]string{""}, rels...) {
		writeFiles(t, filepath.Join(root, rel), merge(v2Files(controllers), extra))
	}
	return fakeSys(map[string]int64{root: unix.CGROUP2_SUPER_MAGIC}, "", "0::/\n")
}

const allV2Controllers = "cpuset cpu io memory hugetlb pids rdma"

func fullV2Resources() *specs.LinuxResources {
	return &specs.LinuxResources{
		Memory: &specs.LinuxMemory{
			Limit:       ptr[int64](256 << 20),
			Swap:        ptr[int64](512 << 20),
			Reservation: ptr[int64](128 << 20),
			Kernel:      ptr[int64](1 << 20),
		},
		CPU: &specs.LinuxCPU{
			Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](100000),
			Burst: ptr[uint64](1000), Idle: ptr[int64](0), Cpus: "0-1", Mems: "0",
		},
		Pids: &specs.LinuxPids{Limit: ptr[int64](100)},
		BlockIO: &specs.LinuxBlockIO{
			Weight: ptr[uint16](500),
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1 << 20},
			},
		},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
		Rdma:           map[string]specs.LinuxRdma{"mlx4_0": {HcaHandles: ptr[uint32](2)}},
		Unified:        map[string]string{"memory.high": "200000000"},
	}
}

func TestUnifiedFake(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	sys := fakeV2(t, root, allV2Controllers, nil, "shoal", "shoal/abc")
	res := fullV2Resources()
	m, err := newManager(Config{Path: "/shoal/abc", Root: root, Resources: res}, sys)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "shoal/abc")
	if got := m.Mode(); got != Unified {
		t.Fatalf("Mode() = %v, want unified", got)
	}
	if got, want := m.Paths(), map[string]string{"": dir}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Paths() = %v, want %v", got, want)
	}
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(dir, "cgroup.procs")); got != "4242" {
		t.Errorf("cgroup.procs = %q, want 4242", got)
	}
	for _, a := range []string{root, filepath.Join(root, "shoal")} {
		want := "+cpu +cpuset +hugetlb +io +memory +pids +rdma"
		if got := readTrim(t, filepath.Join(a, "cgroup.subtree_control")); got != want {
			t.Errorf("%s/cgroup.subtree_control = %q, want %q", a, got, want)
		}
	}
	if err := m.Set(res); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"memory.max":           "268435456",
		"memory.swap.max":      "268435456", // 512Mi memory+swap - 256Mi memory
		"memory.low":           "134217728",
		"memory.high":          "200000000",
		"cpu.weight":           "39",
		"cpu.max":              "50000 100000",
		"cpu.max.burst":        "1000",
		"cpu.idle":             "0",
		"cpuset.cpus":          "0-1",
		"cpuset.mems":          "0",
		"pids.max":             "100",
		"io.weight":            "4950",
		"io.max":               "8:0 rbps=1048576",
		"hugetlb.2MB.max":      "4194304",
		"hugetlb.2MB.rsvd.max": "4194304",
		"rdma.max":             "mlx4_0 hca_handle=2",
	}
	for f, v := range want {
		if got := readTrim(t, filepath.Join(dir, f)); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
}

func TestUnifiedSetValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra map[string]string
		r     *specs.LinuxResources
		want  map[string]string
		err   error
	}{
		{
			name: "swap equal to memory disables swap",
			r:    &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 << 20), Swap: ptr[int64](100 << 20)}},
			want: map[string]string{"memory.max": "104857600", "memory.swap.max": "0"},
		},
		{
			name:  "unlimited memory lifts swap",
			extra: map[string]string{"memory.max": "5", "memory.swap.max": "5"},
			r:     &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want:  map[string]string{"memory.max": "max", "memory.swap.max": "max"},
		},
		{
			name:  "no swap accounting, swap limit",
			extra: map[string]string{"memory.swap.max": "-"},
			r:     &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](200)}},
			err:   ErrNotSupported,
		},
		{
			name:  "no swap accounting, unlimited",
			extra: map[string]string{"memory.swap.max": "-"},
			r:     &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1), Swap: ptr[int64](-1)}},
			want:  map[string]string{"memory.max": "max"},
		},
		{
			name:  "check before update",
			extra: map[string]string{"memory.current": "1000"},
			r:     &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](500), CheckBeforeUpdate: ptr(true)}},
			err:   ErrInvalidResource,
		},
		{
			name: "pids unlimited",
			r:    &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](0)}},
			want: map[string]string{"pids.max": "max"},
		},
		{
			name: "quota only keeps period",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](20000)}},
			want: map[string]string{"cpu.max": "20000"},
		},
		{
			name:  "bfq weight",
			extra: map[string]string{"io.bfq.weight": "default 100"},
			r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](300), WeightDevice: []specs.LinuxWeightDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](200)},
			}}},
			want: map[string]string{"io.bfq.weight": "8:0 200", "io.weight": "default 100"},
		},
		{
			name:  "no burst file",
			extra: map[string]string{"cpu.max.burst": "-"},
			r:     &specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: ptr[uint64](10)}},
			err:   ErrNotSupported,
		},
		{
			name: "unknown hugepage size",
			r:    &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "1GB", Limit: 1}}},
			err:  ErrNotSupported,
		},
		{
			name: "swappiness",
			r:    &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](1)}},
			err:  ErrNotSupported,
		},
		{
			name: "nil",
			r:    nil,
			want: map[string]string{"memory.max": "max"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			sys := fakeV2(t, root, allV2Controllers, tt.extra, "c")
			m, err := newManager(Config{Path: "/c", Root: root}, sys)
			if err != nil {
				t.Fatal(err)
			}
			err = m.Set(tt.r)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Set() error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for f, v := range tt.want {
				if got := readTrim(t, filepath.Join(root, "c", f)); got != v {
					t.Errorf("%s = %q, want %q", f, got, v)
				}
			}
		})
	}
}

func TestUnifiedMissingController(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	sys := fakeV2(t, root, "cpu memory", nil)
	// root/new is created by Apply, but as a plain directory it has no
	// cgroup.controllers: Apply must fail and remove it again.
	res := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}}
	m, err := newManager(Config{Path: "/new/c", Root: root, Resources: res}, sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(1); !errors.Is(err, ErrNoController) {
		t.Fatalf("Apply() needing pids = %v, want ErrNoController", err)
	}
	m, err = newManager(Config{Path: "/new/c", Root: root}, sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(1); err == nil {
		t.Fatal("Apply() under a directory without cgroup.controllers succeeded")
	}
	if _, err := os.Stat(filepath.Join(root, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Apply() left %s/new behind: %v", root, err)
	}
	if err := m.Set(res); !errors.Is(err, ErrNoController) {
		t.Errorf("Set() needing pids = %v, want ErrNoController", err)
	}
	// Optional stats controllers are enabled only when available.
	if got := readTrim(t, filepath.Join(root, "cgroup.subtree_control")); got != "+cpu +memory" {
		t.Errorf("cgroup.subtree_control = %q, want %q", got, "+cpu +memory")
	}
}

func TestUnifiedFreezeFake(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	sys := fakeV2(t, root, allV2Controllers, nil, "c")
	dir := filepath.Join(root, "c")
	mg, err := newManager(Config{Path: "/c", Root: root}, sys)
	if err != nil {
		t.Fatal(err)
	}
	m := mg.(*unifiedManager)
	m.timeout = 100 * time.Millisecond

	if st, err := m.State(); err != nil || st != Thawed {
		t.Fatalf("State() = %v, %v, want thawed", st, err)
	}
	// The kernel never reports "frozen 1": Freeze times out and thaws.
	if err := m.Freeze(); err == nil {
		t.Fatal("Freeze() with cgroup.events stuck at frozen 0 succeeded")
	}
	if got := readTrim(t, filepath.Join(dir, "cgroup.freeze")); got != "0" {
		t.Errorf("after a failed Freeze cgroup.freeze = %q, want 0", got)
	}
	writeFiles(t, dir, map[string]string{"cgroup.events": "populated 1\nfrozen 1\n"})
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(dir, "cgroup.freeze")); got != "1" {
		t.Errorf("cgroup.freeze = %q, want 1", got)
	}
	if st, err := m.State(); err != nil || st != Frozen {
		t.Errorf("State() = %v, %v, want frozen", st, err)
	}
	writeFiles(t, dir, map[string]string{"cgroup.events": "populated 1\nfrozen 0\n"})
	if st, err := m.State(); err != nil || st != Freezing {
		t.Errorf("State() = %v, %v, want freezing", st, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(dir, "cgroup.freeze")); got != "0" {
		t.Errorf("cgroup.freeze = %q, want 0", got)
	}
	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State() = %v, %v, want thawed", st, err)
	}
	// Without cgroup.freeze (Linux < 5.2) freezing is not supported.
	writeFiles(t, dir, map[string]string{"cgroup.freeze": "-"})
	if err := m.Freeze(); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Freeze() without cgroup.freeze = %v, want ErrNotSupported", err)
	}
	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State() without cgroup.freeze = %v, %v, want thawed", st, err)
	}
	// SIGKILL goes through cgroup.kill.
	if err := m.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(dir, "cgroup.kill")); got != "1" {
		t.Errorf("cgroup.kill = %q, want 1", got)
	}
}

func TestUnifiedStatsFake(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	sys := fakeV2(t, root, allV2Controllers, map[string]string{
		"memory.current":      "1000",
		"memory.peak":         "2000",
		"memory.max":          "4096",
		"memory.swap.current": "5",
		"memory.events":       "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n",
		"memory.stat":         "anon 10\nfile 20\n",
		"cpu.stat":            "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 9\nnr_throttled 3\nthrottled_usec 7\n",
		"pids.current":        "4",
		"pids.max":            "max",
		"io.stat":             "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n",
	}, "c")
	m, err := newManager(Config{Path: "/c", Root: root}, sys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		Memory: MemoryStats{Usage: 1000, MaxUsage: 2000, Limit: 4096, SwapUsage: 5, OOMKills: 2, Stat: map[string]uint64{"anon": 10, "file": 20}},
		CPU:    CPUStats{Total: 100000, User: 60000, System: 40000, ThrottledPeriods: 3, ThrottledTime: 7000},
		Pids:   PidsStats{Current: 4, Limit: 0},
		IO:     []IOStats{{Major: 8, Minor: 0, ReadBytes: 1, WriteBytes: 2, ReadIOs: 3, WriteIOs: 4}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 2 {
		t.Errorf("OOMKillCount() = %d, %v, want 2", n, err)
	}
	writeFiles(t, filepath.Join(root, "c"), map[string]string{"memory.events": "-"})
	if n, err := m.OOMKillCount(); err != nil || n != 0 {
		t.Errorf("OOMKillCount() without memory controller = %d, %v, want 0", n, err)
	}
}

// v1Mountinfo mounts a fake v1 tree: tmpfs at root and the given
// hierarchies ("cpu,cpuacct", "name=systemd" mounted at "systemd") below.
func v1Mountinfo(root string, hierarchies ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "30 22 0:27 / %s rw,relatime - tmpfs tmpfs rw,mode=755\n", root)
	for i, h := range hierarchies {
		point := h
		if strings.HasPrefix(h, "name=") {
			point = strings.TrimPrefix(h, "name=")
		}
		fmt.Fprintf(&b, "%d 30 0:%d / %s/%s rw,relatime - cgroup cgroup rw,%s\n", 31+i, 28+i, root, point, h)
	}
	return b.String()
}

// v1Files are the files of each fake v1 hierarchy directory.
var v1Files = map[string]map[string]string{
	"cpu,cpuacct": {
		"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.cfs_burst_us": "0",
		"cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0", "cpu.stat": "nr_periods 0\nnr_throttled 1\nthrottled_time 9\n",
		"cpuacct.usage": "5000", "cpuacct.usage_user": "3000", "cpuacct.usage_sys": "2000",
	},
	"cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
	"memory": {
		"memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "9223372036854771712",
		"memory.soft_limit_in_bytes": "9223372036854771712", "memory.swappiness": "60",
		"memory.oom_control":    "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
		"memory.usage_in_bytes": "1000", "memory.max_usage_in_bytes": "2000", "memory.memsw.usage_in_bytes": "1500",
		"memory.stat": "cache 7\nrss 8\n",
	},
	"pids":         {"pids.max": "max", "pids.current": "2"},
	"freezer":      {"freezer.state": "THAWED"},
	"devices":      {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm"},
	"name=systemd": {},
}

// fakeV1 lays out the hierarchies of v1Files at root with directories rels;
// the root cpuset has CPUs 0-3 and memory node 0.
func fakeV1(t *testing.T, root string, extra map[string]map[string]string, rels ...string) string {
	t.Helper()
	var hs []string
	for h, files := range v1Files {
		hs = append(hs, h)
		point := strings.TrimPrefix(h, "name=")
		for _, rel := range append([]string{""}, rels...) {
			f := merge(files, map[string]string{"cgroup.procs": ""}, extra[h])
			if h == "cpuset" && rel == "" {
				f = merge(f, map[string]string{"cpuset.cpus": "0-3", "cpuset.mems": "0"})
			}
			writeFiles(t, filepath.Join(root, point, rel), f)
		}
	}
	return v1Mountinfo(root, hs...)
}

func TestLegacyFake(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mi := fakeV1(t, root, nil, "shoal", "shoal/abc")
	// No <root>/unified: a pure v1 host.
	sys := fakeSys(map[string]int64{root: unix.TMPFS_MAGIC}, mi, "")
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{
			Limit: ptr[int64](256 << 20), Swap: ptr[int64](512 << 20), Reservation: ptr[int64](128 << 20),
			Swappiness: ptr[uint64](10), DisableOOMKiller: ptr(true),
		},
		CPU: &specs.LinuxCPU{
			Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](200000),
			Cpus: "1", Mems: "0",
		},
		Pids: &specs.LinuxPids{Limit: ptr[int64](-1)},
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
		},
	}
	m, err := newManager(Config{Path: "/shoal/abc", Root: root, Resources: res}, sys)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Mode(); got != Legacy {
		t.Fatalf("Mode() = %v, want legacy", got)
	}
	paths := m.Paths()
	if _, ok := paths[""]; ok {
		t.Errorf("Paths() has a unified entry in legacy mode: %v", paths)
	}
	if paths["cpu"] != paths["cpuacct"] || paths["cpu"] != filepath.Join(root, "cpu,cpuacct/shoal/abc") {
		t.Errorf("Paths() cpu = %q, cpuacct = %q, want both %s/cpu,cpuacct/shoal/abc", paths["cpu"], paths["cpuacct"], root)
	}
	if got := paths["name=systemd"]; got != filepath.Join(root, "systemd/shoal/abc") {
		t.Errorf("Paths()[name=systemd] = %q", got)
	}
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	for _, d := range uniqueDirs(paths) {
		if got := readTrim(t, filepath.Join(d, "cgroup.procs")); got != "4242" {
			t.Errorf("%s/cgroup.procs = %q, want 4242", d, got)
		}
	}
	// cpuset: every new level copies its parent.
	for _, rel := range []string{"shoal", "shoal/abc"} {
		d := filepath.Join(root, "cpuset", rel)
		if cpus, mems := readTrim(t, filepath.Join(d, "cpuset.cpus")), readTrim(t, filepath.Join(d, "cpuset.mems")); cpus != "0-3" || mems != "0" {
			t.Errorf("%s cpuset.cpus = %q, cpuset.mems = %q, want 0-3 and 0", d, cpus, mems)
		}
	}
	if err := m.Set(res); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"memory": {
			"memory.limit_in_bytes": "268435456", "memory.memsw.limit_in_bytes": "536870912",
			"memory.soft_limit_in_bytes": "134217728", "memory.swappiness": "10", "memory.oom_control": "1",
		},
		"cpu":     {"cpu.shares": "512", "cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "200000"},
		"cpuset":  {"cpuset.cpus": "1", "cpuset.mems": "0"},
		"pids":    {"pids.max": "max"},
		"devices": {"devices.deny": "a", "devices.allow": "c 1:3 rwm"},
	}
	for ctrl, files := range want {
		for f, v := range files {
			if got := readTrim(t, filepath.Join(paths[ctrl], f)); got != v {
				t.Errorf("%s %s = %q, want %q", ctrl, f, got, v)
			}
		}
	}
	if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Set(Unified) in legacy mode = %v, want ErrNotSupported", err)
	}

	// The kernel would keep counting in memory.oom_control; the fake file
	// now holds the "1" Set wrote.
	writeFiles(t, paths["memory"], map[string]string{"memory.oom_control": v1Files["memory"]["memory.oom_control"]})
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	wantStats := &Stats{
		Memory: MemoryStats{Usage: 1000, MaxUsage: 2000, Limit: 268435456, SwapUsage: 500, OOMKills: 1, Stat: map[string]uint64{"cache": 7, "rss": 8}},
		CPU:    CPUStats{Total: 5000, User: 3000, System: 2000, ThrottledPeriods: 1, ThrottledTime: 9},
		Pids:   PidsStats{Current: 2, Limit: 0},
	}
	if !reflect.DeepEqual(st, wantStats) {
		t.Errorf("Stats() = %+v, want %+v", st, wantStats)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 1 {
		t.Errorf("OOMKillCount() = %d, %v, want 1", n, err)
	}
}

func TestLegacyMemoryOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		curLimit          string
		limit, swap       int64
		wantLimit, wantSw string
		wantErr           error
		noMemsw           bool
	}{
		{name: "raise", curLimit: "100", limit: 200, swap: 400, wantLimit: "200", wantSw: "400"},
		{name: "lower", curLimit: "9223372036854771712", limit: 200, swap: 400, wantLimit: "200", wantSw: "400"},
		{name: "unlimited", curLimit: "100", limit: -1, wantLimit: "-1", wantSw: "-1"},
		{name: "no memsw, swap", noMemsw: true, limit: 200, swap: 400, wantErr: ErrNotSupported},
		{name: "no memsw, unlimited", noMemsw: true, limit: -1, swap: -1, wantLimit: "-1"},
		{name: "no memsw, memory only", noMemsw: true, limit: 200, wantLimit: "200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			extra := map[string]string{"memory.limit_in_bytes": tt.curLimit}
			if tt.noMemsw {
				extra["memory.memsw.limit_in_bytes"] = "-"
			}
			mi := fakeV1(t, root, map[string]map[string]string{"memory": extra}, "c")
			m, err := newManager(Config{Path: "/c", Root: root, Mode: Legacy}, fakeSys(nil, mi, ""))
			if err != nil {
				t.Fatal(err)
			}
			err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &tt.limit, Swap: &tt.swap}})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Set() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "memory/c")
			if got := readTrim(t, filepath.Join(dir, "memory.limit_in_bytes")); got != tt.wantLimit {
				t.Errorf("memory.limit_in_bytes = %q, want %q", got, tt.wantLimit)
			}
			if !tt.noMemsw {
				if got := readTrim(t, filepath.Join(dir, "memory.memsw.limit_in_bytes")); got != tt.wantSw {
					t.Errorf("memory.memsw.limit_in_bytes = %q, want %q", got, tt.wantSw)
				}
			}
		})
	}
}

func TestLegacyUnmountedController(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mi := fakeV1(t, root, nil, "c")
	sys := fakeSys(nil, mi, "")
	for _, r := range []*specs.LinuxResources{
		{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001)}},
		{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}}},
		{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}},
		{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](100)}},
	} {
		m, err := newManager(Config{Path: "/c", Root: root, Mode: Legacy, Resources: r}, sys)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(-1); !errors.Is(err, ErrNoController) {
			t.Errorf("Apply() needing %v = %v, want ErrNoController", requiredControllers(r, false), err)
		}
		if err := m.Set(r); !errors.Is(err, ErrNoController) {
			t.Errorf("Set() needing %v = %v, want ErrNoController", requiredControllers(r, false), err)
		}
	}
	// Resources that need no missing controller are fine.
	m, err := newManager(Config{Path: "/c", Root: root, Mode: Legacy, Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](3)}}}, sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatalf("Apply() = %v", err)
	}
}

func TestLegacyFreezeAndKillFake(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mi := fakeV1(t, root, nil, "c")
	m, err := newManager(Config{Path: "/c", Root: root, Mode: Legacy}, fakeSys(nil, mi, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.State(); err != nil || st != Frozen {
		t.Errorf("State() = %v, %v, want frozen", st, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State() = %v, %v, want thawed", st, err)
	}

	// A real child listed in the fake cgroup gets the signal; the test
	// process itself, listed too, does not.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	procs := fmt.Sprintf("%d\n%d\n", os.Getpid(), cmd.Process.Pid)
	writeFiles(t, filepath.Join(root, "pids/c"), map[string]string{"cgroup.procs": procs})
	if err := m.Kill(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("child ended with %v, want SIGTERM", err)
	}
	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State() after Kill = %v, %v, want thawed", st, err)
	}
}

func TestHybridFake(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mi := fakeV1(t, root, nil, "shoal/abc")
	mi += fmt.Sprintf("50 30 0:40 / %s/unified rw - cgroup2 cgroup2 rw\n", root)
	writeFiles(t, filepath.Join(root, "unified/shoal/abc"), map[string]string{"cgroup.procs": ""})
	sys := fakeSys(map[string]int64{root: unix.TMPFS_MAGIC, filepath.Join(root, "unified"): unix.CGROUP2_SUPER_MAGIC}, mi, "")
	m, err := newManager(Config{Path: "/shoal/abc", Root: root}, sys)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Mode(); got != Hybrid {
		t.Fatalf("Mode() = %v, want hybrid", got)
	}
	udir := filepath.Join(root, "unified/shoal/abc")
	if got := m.Paths()[""]; got != udir {
		t.Fatalf("Paths()[\"\"] = %q, want %q", got, udir)
	}
	if err := m.Apply(99); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{udir, m.Paths()["memory"]} {
		if got := readTrim(t, filepath.Join(d, "cgroup.procs")); got != "99" {
			t.Errorf("%s/cgroup.procs = %q, want 99", d, got)
		}
	}
	// Limits go to v1 only.
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](7)}}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(m.Paths()["pids"], "pids.max")); got != "7" {
		t.Errorf("pids.max = %q, want 7", got)
	}
	if _, err := os.Stat(filepath.Join(udir, "pids.max")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a limit was written to the unified hierarchy: %v", err)
	}
	if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"pids.max": "1"}}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Set(Unified) in hybrid mode = %v, want ErrNotSupported", err)
	}
}

func TestDetectMode(t *testing.T) {
	t.Parallel()
	const root = "/fake/cgroup"
	tests := []struct {
		name    string
		magic   map[string]int64
		want    Mode
		wantErr bool
	}{
		{name: "unified", magic: map[string]int64{root: unix.CGROUP2_SUPER_MAGIC}, want: Unified},
		{name: "hybrid", magic: map[string]int64{root: unix.TMPFS_MAGIC, root + "/unified": unix.CGROUP2_SUPER_MAGIC}, want: Hybrid},
		{name: "pure v1", magic: map[string]int64{root: unix.TMPFS_MAGIC}, want: Legacy},
		{name: "unified dir not cgroup2", magic: map[string]int64{root: unix.TMPFS_MAGIC, root + "/unified": unix.TMPFS_MAGIC}, want: Legacy},
		{name: "missing root", magic: nil, wantErr: true},
		{name: "other filesystem", magic: map[string]int64{root: unix.EXT4_SUPER_MAGIC}, wantErr: true},
		{name: "single v1 hierarchy", magic: map[string]int64{root: unix.CGROUP_SUPER_MAGIC}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := detectMode(root, fakeSys(tt.magic, "", "").statfs)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("detectMode() = %v, %v, want %v (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNewPaths(t *testing.T) {
	t.Parallel()
	root := "/fake"
	mi := v1Mountinfo(root, "memory", "cpu,cpuacct", "name=systemd") +
		"60 30 0:50 / /elsewhere/memory rw - cgroup cgroup rw,memory\n" +
		"61 30 0:51 / /fake/unified rw - cgroup2 cgroup2 rw\n"
	own := "4:memory:/docker/c1\n3:cpu,cpuacct:/docker/c1\n1:name=systemd:/init.scope\n0::/user.slice/s.scope\n"
	tests := []struct {
		name    string
		cfg     Config
		magic   map[string]int64
		want    map[string]string
		wantErr error
	}{
		{
			name:  "v2 absolute",
			cfg:   Config{Path: "/shoal/a", Root: root},
			magic: map[string]int64{root: unix.CGROUP2_SUPER_MAGIC},
			want:  map[string]string{"": "/fake/shoal/a"},
		},
		{
			name:  "v2 relative uses the parent of the own cgroup",
			cfg:   Config{Path: "shoal/a", Root: root},
			magic: map[string]int64{root: unix.CGROUP2_SUPER_MAGIC},
			want:  map[string]string{"": "/fake/user.slice/shoal/a"},
		},
		{
			name:  "v1 relative uses the own cgroup of each controller",
			cfg:   Config{Path: "shoal/a", Root: root},
			magic: map[string]int64{root: unix.TMPFS_MAGIC},
			want: map[string]string{
				"memory": "/fake/memory/docker/c1/shoal/a", "cpu": "/fake/cpu,cpuacct/docker/c1/shoal/a",
				"cpuacct": "/fake/cpu,cpuacct/docker/c1/shoal/a", "name=systemd": "/fake/systemd/init.scope/shoal/a",
			},
		},
		{
			name:  "hybrid absolute",
			cfg:   Config{Path: "/shoal/a", Root: root},
			magic: map[string]int64{root: unix.TMPFS_MAGIC, root + "/unified": unix.CGROUP2_SUPER_MAGIC},
			want: map[string]string{
				"memory": "/fake/memory/shoal/a", "cpu": "/fake/cpu,cpuacct/shoal/a", "cpuacct": "/fake/cpu,cpuacct/shoal/a",
				"name=systemd": "/fake/systemd/shoal/a", "": "/fake/unified/shoal/a",
			},
		},
		{
			name:    "systemd form",
			cfg:     Config{Path: "system.slice:shoal:abc", Root: root},
			magic:   map[string]int64{root: unix.CGROUP2_SUPER_MAGIC},
			wantErr: ErrSystemdDriver,
		},
		{
			name:    "dot dot",
			cfg:     Config{Path: "/shoal/../../etc", Root: root},
			magic:   map[string]int64{root: unix.CGROUP2_SUPER_MAGIC},
			wantErr: ErrInvalidPath,
		},
		{
			name:    "unified resources on v1",
			cfg:     Config{Path: "/a", Root: root, Resources: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}},
			magic:   map[string]int64{root: unix.TMPFS_MAGIC},
			wantErr: ErrNotSupported,
		},
		{
			name:    "no v1 hierarchy",
			cfg:     Config{Path: "/a", Root: "/empty"},
			magic:   map[string]int64{"/empty": unix.TMPFS_MAGIC},
			wantErr: ErrNoController,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := newManager(tt.cfg, fakeSys(tt.magic, mi, own))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("New(%+v) error = %v, want %v", tt.cfg, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Paths(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Paths() = %v, want %v", got, tt.want)
			}
			// A later invocation rebuilds the same manager from its paths.
			m2, err := NewFromPaths(m.Mode(), m.Paths())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m2.Paths(), m.Paths()) || m2.Mode() != m.Mode() {
				t.Errorf("NewFromPaths: %v %v, want %v %v", m2.Mode(), m2.Paths(), m.Mode(), m.Paths())
			}
		})
	}
}

func TestNewFromPaths(t *testing.T) {
	t.Parallel()
	bad := []struct {
		mode  Mode
		paths map[string]string
	}{
		{0, map[string]string{"": "/a"}},
		{Unified, map[string]string{}},
		{Unified, map[string]string{"memory": "/a"}},
		{Unified, map[string]string{"": "relative"}},
		{Legacy, map[string]string{"memory": "/a/../b"}},
		{Legacy, map[string]string{"": "/a"}},
		{Legacy, nil},
	}
	for _, tt := range bad {
		if _, err := NewFromPaths(tt.mode, tt.paths); err == nil {
			t.Errorf("NewFromPaths(%v, %v) succeeded, want error", tt.mode, tt.paths)
		}
	}

	// A manager rebuilt from paths finds the cgroup2 root by itself.
	root := t.TempDir()
	fakeV2(t, root, allV2Controllers, nil, "shoal", "shoal/abc")
	m, err := NewFromPaths(Unified, map[string]string{"": filepath.Join(root, "shoal/abc")})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](9)}}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(root, "cgroup.subtree_control")); !strings.Contains(got, "+pids") {
		t.Errorf("root cgroup.subtree_control = %q, want pids enabled", got)
	}
	if err := m.Apply(5); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(root, "shoal/abc/cgroup.procs")); got != "5" {
		t.Errorf("cgroup.procs = %q, want 5", got)
	}
}

func TestPidsAndDestroyFake(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	base := filepath.Join(root, "pids/shoal/abc")
	writeFiles(t, base, map[string]string{"cgroup.procs": "1\n2\n"})
	writeFiles(t, filepath.Join(base, "sub"), map[string]string{"cgroup.procs": "3\n2\n"})
	mi := v1Mountinfo(root, "pids", "memory")
	m, err := newManager(Config{Path: "/shoal/abc", Root: root, Mode: Legacy}, fakeSys(nil, mi, ""))
	if err != nil {
		t.Fatal(err)
	}
	pids, err := m.Pids()
	if err != nil || !reflect.DeepEqual(pids, []int{1, 2, 3}) {
		t.Fatalf("Pids() = %v, %v, want [1 2 3]", pids, err)
	}

	// Destroy on directories only (a fake tree's files would make rmdir
	// fail; cgroupfs lets it remove them).
	if err := os.RemoveAll(base); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"pids/shoal/abc/sub/deeper", "memory/shoal/abc/x"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if !m.Exists() {
		t.Fatal("Exists() = false before Destroy")
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Error("Exists() = true after Destroy")
	}
	for _, d := range []string{"pids/shoal", "memory/shoal"} {
		if _, err := os.Stat(filepath.Join(root, d)); err != nil {
			t.Errorf("Destroy removed the parent %s: %v", d, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy() = %v, want nil", err)
	}
	if _, err := m.Stats(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stats() after Destroy = %v, want ErrNotExist", err)
	}
}

func TestParseBlkioStats(t *testing.T) {
	t.Parallel()
	bytes := "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:16 Read 1\nTotal 12289\n"
	ios := "8:0 Read 1\n8:0 Write 2\nTotal 3\n"
	got := parseBlkioStats(bytes, ios)
	want := []IOStats{
		{Major: 8, Minor: 0, ReadBytes: 4096, WriteBytes: 8192, ReadIOs: 1, WriteIOs: 2},
		{Major: 8, Minor: 16, ReadBytes: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseBlkioStats = %+v, want %+v", got, want)
	}
	if got := strconv.Itoa(len(parseIOStat("garbage\n"))); got != "0" {
		t.Errorf("parseIOStat(garbage) has %s entries", got)
	}
}
