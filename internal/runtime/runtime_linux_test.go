package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	_ "github.com/shoal-dev/shoal/internal/runtime/nsenter" // stage 0 of exec'd processes
	"github.com/shoal-dev/shoal/internal/testutil"
)

// The tests in this file that need root run real containers: the test
// binary is their init (TestMain dispatches to Init, as cmd/shoal does),
// the rootfs is busybox, the cgroup a unique /shoal-unit-<random>.

func TestMain(m *testing.M) {
	if IsInit() {
		Init()
	}
	os.Exit(m.Run())
}

// testBundle writes a bundle running args in a busybox rootfs; edit, when
// not nil, changes the spec first.
func testBundle(t *testing.T, edit func(*specs.Spec), args ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := testutil.MakeBusyboxRootfs(testutil.BusyboxPath(t), filepath.Join(dir, "rootfs")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	spec := DefaultSpec()
	spec.Process.Terminal = false
	spec.Process.Args = args
	spec.Linux.CgroupsPath = "/shoal-unit-" + hex.EncodeToString(b)
	if edit != nil {
		edit(spec)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testRuntime is a runtime with a private state root; every container left
// is force-deleted when the test ends.
func testRuntime(t *testing.T) *Runtime {
	t.Helper()
	testutil.RequiresRoot(t)
	r, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs, _ := r.List()
		for _, c := range cs {
			if err := r.Delete(context.Background(), c.ID, true); err != nil {
				t.Errorf("cleanup: delete %s: %v", c.ID, err)
			}
		}
	})
	return r
}

// cgroupLeft lists the host cgroup directories of a cgroupsPath.
func cgroupLeft(path string) []string {
	var out []string
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", e.Name(), path)); err == nil {
			out = append(out, filepath.Join("/sys/fs/cgroup", e.Name(), path))
		}
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", path, "cgroup.procs")); err == nil {
		out = append(out, filepath.Join("/sys/fs/cgroup", path))
	}
	return out
}

// processesIn lists the host pids whose cgroup path ends with path.
func processesIn(path string) []string {
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

func readSpecOf(t *testing.T, bundle string) *specs.Spec {
	t.Helper()
	spec, _, err := LoadBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestCreateLooksUpProgram: create resolves process.args[0] inside the
// container with its PATH and fails, as runc does, with exec.LookPath's
// error, leaving nothing behind.
func TestCreateLooksUpProgram(t *testing.T) {
	for _, p := range initPaths {
		t.Run(p.name, func(t *testing.T) { testCreateLooksUpProgram(t, p.goInit) })
	}
}

func testCreateLooksUpProgram(t *testing.T, goInit bool) {
	r := testRuntime(t)
	r.goInit = goInit
	cases := []struct {
		name string
		edit func(*specs.Spec)
		args []string
		want string // "" means create succeeds
	}{
		{"missing", nil, []string{"nosuch"}, `exec: "nosuch": executable file not found in $PATH`},
		{"not executable", nil, []string{"/etc/passwd"}, `exec: "/etc/passwd": permission denied`},
		{"directory", nil, []string{"/etc"}, `exec: "/etc": is a directory`},
		{"missing path", nil, []string{"/no/such"}, `exec: "/no/such": stat /no/such: no such file or directory`},
		// The container's PATH, not the runtime's: /etc has passwd, but
		// a file that is not executable is skipped.
		{"not executable in PATH", func(s *specs.Spec) { s.Process.Env = []string{"PATH=/etc"} }, []string{"passwd"}, `exec: "passwd": executable file not found in $PATH`},
		// No PATH at all: no search, as runc (Docker always sets one).
		{"no PATH", func(s *specs.Spec) { s.Process.Env = []string{"TERM=xterm"} }, []string{"true"}, `exec: "true": executable file not found in $PATH`},
		{"last PATH wins", func(s *specs.Spec) { s.Process.Env = []string{"PATH=/bin", "PATH=/nowhere"} }, []string{"true"}, `exec: "true": executable file not found in $PATH`},
		// As the container's user: a program only root may run.
		{"not executable by the user", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 65534, GID: 65534}
		}, []string{"/root/prog"}, `exec: "/root/prog": permission denied`},
		{"found in PATH", func(s *specs.Spec) { s.Process.Env = []string{"PATH=/nowhere:/bin"} }, []string{"true"}, ""},
		{"relative to cwd", func(s *specs.Spec) { s.Process.Cwd = "/bin" }, []string{"./true"}, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := testBundle(t, tc.edit, tc.args...)
			if err := os.WriteFile(filepath.Join(b, "rootfs/root/prog"), []byte("#!/bin/sh\n"), 0o700); err != nil {
				t.Fatal(err)
			}
			id := "lookup" + string(rune('a'+i))
			cg := readSpecOf(t, b).Linux.CgroupsPath
			_, err := r.Create(t.Context(), id, CreateOpts{Bundle: b})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Create() = %v, want success", err)
				}
				if err := r.Delete(t.Context(), id, true); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Create() = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(r.Root(), id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state left behind: %v", err)
			}
			if d := cgroupLeft(cg); len(d) != 0 {
				t.Errorf("cgroups left behind: %v", d)
			}
			if p := processesIn(cg); len(p) != 0 {
				t.Errorf("processes left behind: %v", p)
			}
		})
	}
}

// TestExecLooksUpProgram: exec fails before the process starts, with the
// same errors, and the container keeps running.
func TestExecLooksUpProgram(t *testing.T) {
	for _, p := range initPaths {
		t.Run(p.name, func(t *testing.T) { testExecLooksUpProgram(t, p.goInit) })
	}
}

func testExecLooksUpProgram(t *testing.T, goInit bool) {
	r := testRuntime(t)
	r.goInit = goInit
	b := testBundle(t, nil, "sleep", "100")
	if _, err := r.Create(t.Context(), "execlookup", CreateOpts{Bundle: b}); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context(), "execlookup"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"nosuch"}, []string{"PATH=/bin"}, `exec: "nosuch": executable file not found in $PATH`},
		{[]string{"/etc/passwd"}, nil, `exec: "/etc/passwd": permission denied`},
		{[]string{"/etc"}, nil, `exec: "/etc": is a directory`},
		{[]string{"true"}, nil, `exec: "true": executable file not found in $PATH`},
	}
	for _, tc := range cases {
		p := &specs.Process{Args: tc.args, Env: tc.env, Cwd: "/"}
		code, err := r.Exec(t.Context(), "execlookup", p, ExecOpts{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Exec(%q) = %d, %v, want %q", tc.args, code, err, tc.want)
		}
	}
	p := &specs.Process{Args: []string{"true"}, Env: []string{"PATH=/bin"}, Cwd: "/"}
	if code, err := r.Exec(t.Context(), "execlookup", p, ExecOpts{}); err != nil || code != 0 {
		t.Errorf("Exec(true) = %d, %v, want 0", code, err)
	}
	c, err := r.Load("execlookup")
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st != StatusRunning {
		t.Errorf("after failed execs the container is %s, want running", st)
	}
}

// TestDevSymlinks: the container's /dev has /dev/core only when the host
// has /proc/kcore, as with runc.
func TestDevSymlinks(t *testing.T) {
	for _, kcore := range []bool{false, true} {
		var got []string
		for _, l := range devSymlinks(kcore) {
			got = append(got, l[1]+"->"+l[0])
		}
		want := []string{"/dev/fd->/proc/self/fd", "/dev/stdin->/proc/self/fd/0", "/dev/stdout->/proc/self/fd/1", "/dev/stderr->/proc/self/fd/2"}
		if kcore {
			want = append(want, "/dev/core->/proc/kcore")
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("devSymlinks(%v) = %v, want %v", kcore, got, want)
		}
	}

	r := testRuntime(t)
	b := testBundle(t, nil, "sleep", "100")
	c, err := r.Create(t.Context(), "devlinks", CreateOpts{Bundle: b})
	if err != nil {
		t.Fatal(err)
	}
	// Seen from the host through init's root.
	dev := filepath.Join("/proc", strconv.Itoa(c.Pid), "root/dev")
	_, err = os.Lstat(filepath.Join(dev, "core"))
	_, kerr := os.Stat("/proc/kcore")
	if (err == nil) != (kerr == nil) {
		t.Errorf("/dev/core in the container: %v; /proc/kcore on the host: %v", err, kerr)
	}
	for _, name := range []string{"fd", "stdin", "stdout", "stderr", "ptmx"} {
		if _, err := os.Readlink(filepath.Join(dev, name)); err != nil {
			t.Errorf("/dev/%s: %v", name, err)
		}
	}
}

// TestKillWhileExiting kills a container over and over, with and without
// all, while its init exits: a kill of every process finds nothing to kill
// (no error), a kill of init reports a container that is not running
// (ErrState), never a raw ESRCH or a missing cgroup file.
func TestKillWhileExiting(t *testing.T) {
	r := testRuntime(t)
	for i := range 10 {
		id := "killrace" + strconv.Itoa(i)
		b := testBundle(t, nil, "sh", "-c", "sleep 0.05")
		if _, err := r.Create(t.Context(), id, CreateOpts{Bundle: b}); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		deleted := make(chan error, 1)
		go func() {
			// What a monitor does: reap init (our child here) and
			// delete at once.
			c, err := r.Load(id)
			if err != nil {
				deleted <- err
				return
			}
			if _, err := unix.Wait4(c.Pid, nil, 0, nil); err != nil {
				deleted <- err
				return
			}
			deleted <- r.Delete(context.Background(), id, true)
		}()
		deadline := time.Now().Add(5 * time.Second)
		for n := 0; ; n++ {
			all := n%2 == 0
			err := r.Kill(t.Context(), id, unix.SIGKILL, all)
			if errors.Is(err, ErrNotExist) {
				break // deleted
			}
			if err != nil && (all || !errors.Is(err, ErrState)) {
				t.Fatalf("round %d: Kill(all=%v) = %v", i, all, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: container never went away", i)
			}
		}
		if err := <-deleted; err != nil {
			t.Fatalf("round %d: delete: %v", i, err)
		}
	}
}

// TestKillStopped: signalling the init of a stopped container is ErrState;
// killing all of its processes is not an error.
func TestKillStopped(t *testing.T) {
	for _, p := range initPaths {
		t.Run(p.name, func(t *testing.T) { testKillStopped(t, p.goInit) })
	}
}

func testKillStopped(t *testing.T, goInit bool) {
	r := testRuntime(t)
	r.goInit = goInit
	b := testBundle(t, nil, "true")
	c, err := r.Create(t.Context(), "stopped", CreateOpts{Bundle: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context(), "stopped"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.alive() {
		if time.Now().After(deadline) {
			t.Fatal("init did not exit")
		}
		time.Sleep(time.Millisecond)
	}
	if err := r.Kill(t.Context(), "stopped", unix.SIGTERM, false); !errors.Is(err, ErrState) {
		t.Errorf("Kill(all=false) of a stopped container = %v, want ErrState", err)
	}
	if err := r.Kill(t.Context(), "stopped", unix.SIGKILL, true); err != nil {
		t.Errorf("Kill(all=true) of a stopped container = %v, want nil", err)
	}
	if err := r.Delete(t.Context(), "stopped", false); err != nil {
		t.Fatal(err)
	}
	if err := r.Kill(t.Context(), "stopped", unix.SIGKILL, true); !errors.Is(err, ErrNotExist) {
		t.Errorf("Kill of a deleted container = %v, want ErrNotExist", err)
	}
}
