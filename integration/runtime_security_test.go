//go:build integration

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func fileHash(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CVE-2019-5736: a container process that holds /proc/PID/exe of a shoal
// process in its pid namespace must not be able to write the host binary
// once that process has exec'd.
func TestRuntimeExeOverwrite(t *testing.T) {
	r := newRT(t)
	// A private copy of the binary: if the defence fails, only it is lost.
	bin := filepath.Join(t.TempDir(), "shoal")
	data, err := os.ReadFile(shoalBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	r.bin = bin
	before := fileHash(t, bin)

	victim := bundle(t, nil, "sleep", "100")
	r.ok("create", "--bundle", victim, "victim")
	vpid := r.state("victim").Pid

	shared := t.TempDir()
	attacker := bundle(t, func(s *specs.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == specs.PIDNamespace {
				s.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(vpid) + "/ns/pid"
			}
		}
		caps := append([]string{"CAP_SYS_PTRACE"}, defaultCapsFor(t)...)
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"rbind"}})
	}, "sh", "-c", `
exec 3</proc/1/exe || { echo noopen > /shared/result; exit 1; }
echo opened > /shared/opened
while ! grep -q sleep /proc/1/cmdline; do sleep 0.02; done
for i in $(seq 100); do
  if echo pwned 2>/shared/err >/proc/self/fd/3; then echo written > /shared/result; exit 0; fi
  grep -q "Text file busy" /shared/err || break
  sleep 0.05
done
echo refused > /shared/result
`)
	r.ok("run", "--detach", "--bundle", attacker, "attacker")
	waitFor(t, "attacker to open the victim's exe", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(shared, "opened"))
		return err == nil
	})
	r.ok("start", "victim")
	waitFor(t, "attacker's verdict", 15*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(shared, "result"))
		return err == nil
	})
	res, _ := os.ReadFile(filepath.Join(shared, "result"))
	msg, _ := os.ReadFile(filepath.Join(shared, "err"))
	if after := fileHash(t, bin); after != before {
		t.Fatalf("host binary was overwritten through /proc/PID/exe (attacker says %q)", res)
	}
	if strings.TrimSpace(string(res)) != "refused" {
		t.Errorf("attacker result %q (%s), want refused", res, msg)
	}
	t.Logf("write through /proc/self/fd/3 refused: %s", strings.TrimSpace(string(msg)))
}

// CVE-2024-21626: a descriptor the runtime inherited must not reach the
// container, neither as an open fd nor as a working directory outside it.
func TestRuntimeNoLeakedFDs(t *testing.T) {
	r := newRT(t)
	hostDir := t.TempDir()
	sentinel := filepath.Join(hostDir, "sentinel")
	if err := os.WriteFile(sentinel, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	dirFD, err := os.Open(hostDir)
	if err != nil {
		t.Fatal(err)
	}
	defer dirFD.Close()
	run := func(id string, cwd string, args ...string) result {
		b := bundle(t, func(s *specs.Spec) { s.Process.Cwd = cwd }, args...)
		cmd := exec.Command(r.bin, "runtime", "--root", r.root, "run", "--bundle", b, id)
		// fds 3-7 of the runtime, none preserved; the runtime's own
		// descriptors take the low ones, the others reach its children.
		cmd.ExtraFiles = []*os.File{dirFD, dirFD, dirFD, dirFD, dirFD}
		so, se := tempFile(t), tempFile(t)
		cmd.Stdout, cmd.Stderr = so, se
		_ = cmd.Run()
		return result{readAll(t, so), readAll(t, se), cmd.ProcessState.ExitCode()}
	}
	res := run("fds", "/", "sh", "-c", "ls -l /proc/$$/fd/")
	if strings.Contains(res.stdout, hostDir) {
		t.Errorf("host descriptor leaked into the container:\n%s", res.stdout)
	}
	for fd := 3; fd <= 10; fd++ {
		res := run("cwd"+strconv.Itoa(fd), "/proc/self/fd/"+strconv.Itoa(fd), "sh", "-c", "echo pwned > sentinel; pwd")
		if res.code == 0 && !strings.HasPrefix(res.stdout, "/") {
			t.Errorf("cwd /proc/self/fd/%d: container ran outside its root: %+v", fd, res)
		}
	}
	if data, _ := os.ReadFile(sentinel); string(data) != "host" {
		t.Fatalf("host sentinel changed to %q", data)
	}
}

// A symlink in the image must not redirect a mount or the creation of its
// target onto the host.
func TestRuntimeMountSymlinkEscape(t *testing.T) {
	r := newRT(t)
	hostDir := t.TempDir()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("bound"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := bundle(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/evil/sub", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/evil/file", Type: "bind", Source: src, Options: []string{"bind"}},
			specs.Mount{Destination: "/up/../../../" + hostDir + "/dotdot", Type: "tmpfs", Source: "tmpfs"},
		)
	}, "sh", "-c", "cat /evil/file; ls "+hostDir)
	if err := os.Symlink(hostDir, filepath.Join(b, "rootfs", "evil")); err != nil {
		t.Fatal(err)
	}
	// A dangling link: a clear error, nothing created on the host.
	res := r.run("run", "--bundle", b, "dangling")
	if res.code == 0 || !strings.Contains(res.stderr, "/evil/sub") {
		t.Errorf("mount under a dangling symlink: %+v", res)
	}
	// The link's target exists inside the rootfs: the mounts land there.
	if err := os.MkdirAll(filepath.Join(b, "rootfs", hostDir), 0o755); err != nil {
		t.Fatal(err)
	}
	res = r.run("run", "--bundle", b, "symlink")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "bound") {
		t.Errorf("container with mounts under a symlink: %+v", res)
	}
	ents, _ := os.ReadDir(hostDir)
	for _, e := range ents {
		t.Errorf("mount target created on the host: %s", filepath.Join(hostDir, e.Name()))
	}
	// The targets were created inside the rootfs instead.
	if _, err := os.Stat(filepath.Join(b, "rootfs", hostDir, "sub")); err != nil {
		t.Errorf("mount target not created inside the rootfs: %v", err)
	}
}

func TestRuntimeBadInput(t *testing.T) {
	r := newRT(t)
	self, _ := capability.NewPid2(0)
	_ = self.Load()
	missingCap := ""
	for _, c := range capability.ListKnown() {
		if ok, _ := capability.GetBound(c); !ok {
			missingCap = "CAP_" + strings.ToUpper(c.String())
			break
		}
	}
	var nofile unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile)
	canRaise := self.Get(capability.EFFECTIVE, capability.CAP_SYS_RESOURCE)

	cases := []struct {
		name  string
		setup func(t *testing.T) string // returns bundle dir
		want  string
		skip  string
	}{
		{"malformed config", func(t *testing.T) string {
			b := bundle(t, nil, "true")
			os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": `), 0o644)
			return b
		}, "parse config.json", ""},
		{"missing config", func(t *testing.T) string {
			b := bundle(t, nil, "true")
			os.Remove(filepath.Join(b, "config.json"))
			return b
		}, "config.json not found", ""},
		{"unknown namespace", func(t *testing.T) string {
			return bundle(t, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			}, "true")
		}, `unknown namespace type "bogus"`, ""},
		{"missing rootfs", func(t *testing.T) string {
			b := bundle(t, nil, "true")
			os.RemoveAll(filepath.Join(b, "rootfs"))
			return b
		}, "rootfs", ""},
		{"capability outside bounding set", func(t *testing.T) string {
			return bundle(t, func(s *specs.Spec) {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, missingCap)
			}, "true")
		}, "not in the host's bounding set", map[bool]string{true: "every capability is in this host's bounding set"}[missingCap == ""]},
		{"rlimit above hard limit", func(t *testing.T) string {
			return bundle(t, func(s *specs.Spec) {
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: nofile.Max + 1}}
			}, "true")
		}, "above the host's hard limit", map[bool]string{true: "this host has CAP_SYS_RESOURCE"}[canRaise]},
		{"missing executable", func(t *testing.T) string { return bundle(t, nil, "/no/such/program") }, "no such file", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			b := tc.setup(t)
			res := r.run("create", "--bundle", b, "bad")
			msg := strings.TrimSpace(res.stderr)
			if res.code == 0 {
				t.Fatalf("create succeeded")
			}
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.want)) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line containing %q", msg, tc.want)
			}
			if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
				t.Errorf("state left behind: %v", ents)
			}
			if d := cgroupDirs("/shoal-test/" + filepath.Base(b)); len(d) != 0 {
				t.Errorf("cgroups left behind: %v", d)
			}
		})
	}
}
