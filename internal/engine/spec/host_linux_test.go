package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/testutil"
)

func TestMountPropagation(t *testing.T) {
	const info = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /mnt rw,relatime master:7 - tmpfs tmpfs rw
31 30 0:27 / /mnt/priv rw,relatime - tmpfs tmpfs rw
32 30 0:28 / /mnt/priv rw,relatime shared:9 - tmpfs tmpfs rw
33 22 0:29 / /mnt\040space rw shared:3 master:2 - tmpfs tmpfs rw
`
	for _, tt := range []struct {
		path          string
		point         string
		shared, slave bool
	}{
		{"/srv/data", "/", true, false},
		{"/mnt/x", "/mnt", false, true},
		{"/mntx", "/", true, false},
		{"/mnt/priv/a", "/mnt/priv", true, false}, // the later of two stacked mounts
		{"/mnt space/f", "/mnt space", true, true},
	} {
		point, shared, slave, err := mountPropagation([]byte(info), tt.path)
		if err != nil || point != tt.point || shared != tt.shared || slave != tt.slave {
			t.Errorf("mountPropagation(%q) = %q %v %v %v, want %q %v %v", tt.path, point, shared, slave, err, tt.point, tt.shared, tt.slave)
		}
	}
	if _, _, _, err := mountPropagation(nil, "/x"); err == nil {
		t.Error("mountPropagation(no mounts) succeeded")
	}
}

func TestReadCapBnd(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(p, []byte("Name:\tx\nCapBnd:\t000001ffffffffff\nCapAmb:\t0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := readCapBnd(p); err != nil || m != 0x1ffffffffff {
		t.Errorf("readCapBnd = %x, %v", m, err)
	}
	caps := HostCapabilities()
	if len(caps) == 0 || !slices.Contains(caps, "CAP_KILL") && os.Geteuid() == 0 {
		t.Errorf("HostCapabilities() = %q", caps)
	}
	for _, c := range caps {
		if !strings.HasPrefix(c, "CAP_") || strings.ToUpper(c) != c {
			t.Errorf("capability name %q", c)
		}
	}
	h := realHost{bounding: []string{"CAP_CHOWN"}}
	if got, _ := h.capBounding(); !reflect.DeepEqual(got, []string{"CAP_CHOWN"}) {
		t.Errorf("capBounding with an override = %q", got)
	}
}

func TestRealDevices(t *testing.T) {
	h := realHost{}
	_, devs, err := h.devicesAt("/dev/null")
	if err != nil {
		t.Skipf("no /dev/null device here: %v", err)
	}
	if len(devs) != 1 || devs[0].Type != "c" || devs[0].Major != 1 || devs[0].Minor != 3 || devs[0].FileMode == nil {
		t.Errorf("devicesAt(/dev/null) = %+v", devs)
	}
	_, _, err = h.devicesAt("/dev/does-not-exist")
	if err == nil || err.Error() != "no such file or directory" {
		t.Errorf("devicesAt(missing) = %v", err)
	}
	if _, _, err := h.devicesAt(t.TempDir()); err == nil {
		t.Error("devicesAt(an empty directory) succeeded")
	}
	if _, _, err := h.blockDevice("/dev/does-not-exist"); err == nil || err.Error() != "stat /dev/does-not-exist: no such file or directory" {
		t.Errorf("blockDevice(missing) = %v", err)
	}
	all, err := h.hostDevices()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(all, func(d specs.LinuxDevice) bool { return d.Path == "/dev/null" }) {
		t.Errorf("hostDevices() lacks /dev/null: %d devices", len(all))
	}
	for _, d := range all {
		if strings.HasPrefix(d.Path, "/dev/pts/") || d.Path == "/dev/console" || d.Type == "p" {
			t.Errorf("hostDevices() lists %s", d.Path)
		}
	}
}

func TestDevicesInDirectory(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	snd := filepath.Join(dir, "snd")
	if err := os.Mkdir(snd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(snd, "timer"), unix.S_IFCHR|0o660, int(unix.Mkdev(116, 33))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(snd, "README"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(snd, filepath.Join(dir, "sound")); err != nil {
		t.Fatal(err)
	}
	resolved, devs, err := realHost{}.devicesAt(filepath.Join(dir, "sound"))
	if err != nil || resolved != snd || len(devs) != 1 || devs[0].Major != 116 || devs[0].Path != filepath.Join(snd, "timer") {
		t.Errorf("devicesAt(dir) = %q %+v %v", resolved, devs, err)
	}
}

func TestRealHostProbes(t *testing.T) {
	h := realHost{}
	mode, err := h.cgroupMode()
	if err != nil {
		t.Skipf("no cgroup filesystem: %v", err)
	}
	if mode != "v1" && mode != "v2" && mode != "hybrid" {
		t.Errorf("cgroupMode = %q", mode)
	}
	if h.numCPU() < 1 {
		t.Error("numCPU < 1")
	}
	if ok, err := cpusetAvailable("0", h.onlineCPUs()); err != nil || !ok {
		t.Errorf("cpu 0 not online in %q: %v", h.onlineCPUs(), err)
	}
	if h.onlineMems() == "" {
		t.Error("onlineMems is empty")
	}
	if !h.kernelAtLeast(3, 0) || h.kernelAtLeast(1000, 0) {
		t.Error("kernelAtLeast is wrong")
	}
	if !h.sysctlExists("kernel.hostname") || h.sysctlExists("kernel.nope") {
		t.Error("sysctlExists is wrong")
	}
	if host, err := h.isHostNetNS("/proc/self/ns/net"); err != nil || !host {
		t.Errorf("isHostNetNS(self) = %v, %v", host, err)
	}
}

func TestParseHelpers(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"TERM", 15, true}, {"SIGTERM", 15, true}, {"sigkill", 9, true}, {"9", 9, true},
		{"RTMIN+3", 37, true}, {"SIGRTMAX-1", 63, true}, {"RTMAX-15", 0, false}, {"0", 0, false}, {"SIGFOO", 0, false},
	} {
		n, err := parseSignal(tt.in)
		if (err == nil) != tt.ok || n != tt.want {
			t.Errorf("parseSignal(%q) = %d, %v", tt.in, n, err)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"net.ipv4.ip_forward", "net.ipv4.ip_forward"},
		{"net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"},
		{"kernel", "kernel"},
	} {
		if got := dotSysctl(tt.in); got != tt.want {
			t.Errorf("dotSysctl(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		req, avail string
		ok         bool
		err        bool
	}{
		{"0-2", "0-3", true, false}, {"0,3", "0-2,4", false, false}, {"", "0", true, false},
		{"2-1", "0-3", false, true}, {"a", "0-3", false, true}, {"0-100000", "0-3", false, true},
	} {
		ok, err := cpusetAvailable(tt.req, tt.avail)
		if ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("cpusetAvailable(%q, %q) = %v, %v", tt.req, tt.avail, ok, err)
		}
	}
	got, err := mergeTmpfsOptions([]string{"defaults", "ro", "rw", "suid", "nosuid", "size=1", "size=2", "shared", "private"})
	if err != nil || !reflect.DeepEqual(got, []string{"rw", "nosuid", "size=2", "private"}) {
		t.Errorf("mergeTmpfsOptions = %q, %v", got, err)
	}
}
