package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/runtime/seccomp"
)

// fakeHost is a host with fixed answers. Devices are looked up in devs by
// host path; a path absent there is ENOENT.
type fakeHost struct {
	mode       string
	cpus       int
	online     string
	mems       string
	bounding   []string
	apparmor   bool
	kernel     [2]int
	arch       string
	swap       bool
	realtime   bool
	devs       map[string][]specs.LinuxDevice
	hostDevs   []specs.LinuxDevice
	props      map[string][2]bool // source -> shared, slave
	masked     []string
	sysctls    map[string]bool
	hostNetNS  map[string]bool
	noShm      bool
	name       string
	realVerify bool // compile seccomp profiles for real
}

func newFakeHost() *fakeHost {
	all := append([]string{}, defaultCaps...)
	all = append(all, "CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_TIME", "CAP_DAC_READ_SEARCH")
	return &fakeHost{
		mode: "v2", cpus: 4, online: "0-3", mems: "0", bounding: all, kernel: [2]int{6, 1}, arch: "amd64",
		swap: true, devs: map[string][]specs.LinuxDevice{}, props: map[string][2]bool{},
		masked:  []string{"/sys/devices/system/cpu/cpu0/thermal_throttle"},
		sysctls: map[string]bool{"net.ipv4.ping_group_range": true, "net.ipv4.ip_unprivileged_port_start": true},
		name:    "thehost", realVerify: true,
	}
}

func (h *fakeHost) cgroupMode() (string, error)    { return h.mode, nil }
func (h *fakeHost) hostname() (string, error)      { return h.name, nil }
func (h *fakeHost) numCPU() int                    { return h.cpus }
func (h *fakeHost) onlineCPUs() string             { return h.online }
func (h *fakeHost) onlineMems() string             { return h.mems }
func (h *fakeHost) capBounding() ([]string, error) { return h.bounding, nil }
func (h *fakeHost) apparmorEnabled() bool          { return h.apparmor }
func (h *fakeHost) goarch() string                 { return h.arch }
func (h *fakeHost) swapAccounting(string) bool     { return h.swap }
func (h *fakeHost) cpuRealtime(string) bool        { return h.realtime }
func (h *fakeHost) maskedExtra() []string          { return h.masked }
func (h *fakeHost) sysctlExists(n string) bool     { return h.sysctls[n] }
func (h *fakeHost) exists(p string) bool           { return !(p == "/dev/shm" && h.noShm) }

func (h *fakeHost) kernelAtLeast(major, minor int) bool {
	return h.kernel[0] > major || h.kernel[0] == major && h.kernel[1] >= minor
}

func (h *fakeHost) devicesAt(p string) (string, []specs.LinuxDevice, error) {
	d, ok := h.devs[p]
	if !ok {
		return p, nil, unix.ENOENT
	}
	return p, append([]specs.LinuxDevice{}, d...), nil
}

func (h *fakeHost) hostDevices() ([]specs.LinuxDevice, error) { return h.hostDevs, nil }

func (h *fakeHost) blockDevice(p string) (int64, int64, error) {
	d, ok := h.devs[p]
	if !ok || len(d) != 1 {
		return 0, 0, &fs.PathError{Op: "stat", Path: p, Err: unix.ENOENT}
	}
	return d[0].Major, d[0].Minor, nil
}

func (h *fakeHost) propagation(p string) (string, bool, bool, error) {
	pr := h.props[p]
	return "/mnt", pr[0], pr[1], nil
}

func (h *fakeHost) isHostNetNS(p string) (bool, error) { return h.hostNetNS[p], nil }

func (h *fakeHost) checkSeccomp(p *specs.LinuxSeccomp) error {
	if !h.realVerify {
		return nil
	}
	_, err := seccomp.Compile(p)
	return err
}

// writeRootfs makes a root filesystem with the given /etc files.
func writeRootfs(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const testPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:100::/home/bob:/bin/sh
`

const testGroup = `root:x:0:root
wheel:x:10:root,alice
users:x:100:
alice:x:1000:
audio:x:29:alice,bob
`

// baseInput is a minimal valid Input on a rootfs with testPasswd and
// testGroup.
func baseInput(t *testing.T) Input {
	t.Helper()
	root := writeRootfs(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	return Input{
		ID:          "0123456789abcdef0123456789abcdef",
		Config:      &container.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/usr/bin:/bin"}},
		HostConfig:  &container.HostConfig{},
		Rootfs:      root,
		CgroupsPath: "/shoal/0123456789ab",
		InitPath:    "/usr/libexec/shoal-init",
	}
}

func mountAt(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func hasNS(s *specs.Spec, typ specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	for _, n := range s.Linux.Namespaces {
		if n.Type == typ {
			return n, true
		}
	}
	return specs.LinuxNamespace{}, false
}

func envValue(env []string, key string) (string, bool) {
	for _, e := range env {
		if k, v, _ := strings.Cut(e, "="); k == key {
			return v, true
		}
	}
	return "", false
}
