//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/runtime"
	"github.com/shoal-dev/shoal/internal/runtime/seccomp"
	"github.com/shoal-dev/shoal/internal/testutil"
)

// shoalBin is the binary under test, built once by TestMain.
var shoalBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shoal-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shoalBin = filepath.Join(dir, "shoal")
	// Built as users get it (static, see scripts/build).
	out, err := exec.Command("../scripts/build", shoalBin).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build shoal: %v\n%s", err, out)
		os.Exit(1)
	}
	before := hostNetSnapshot()
	code := m.Run()
	// Every daemon ran in a namespace of its own: the host's links and
	// nftables tables must be exactly as they were.
	if after := hostNetSnapshot(); after != before {
		fmt.Fprintf(os.Stderr, "FAIL: the tests changed the host's network:\nbefore: %s\nafter:  %s\n", before, after)
		code = 1
	}
	os.RemoveAll(dir)
	// The tests' cgroups live under /shoal-test; remove the parents.
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/shoal-test")
	parents = append(parents, "/sys/fs/cgroup/shoal-test")
	for _, p := range parents {
		_ = os.Remove(p)
	}
	os.Exit(code)
}

// rt runs `shoal runtime` against a private state root.
type rt struct {
	t    *testing.T
	root string
	bin  string
}

func newRT(t *testing.T) *rt {
	t.Helper()
	testutil.RequiresRoot(t)
	r := &rt{t: t, root: t.TempDir(), bin: shoalBin}
	t.Cleanup(func() { r.cleanup() })
	return r
}

type result struct {
	stdout, stderr string
	code           int
}

func (r *rt) run(args ...string) result {
	r.t.Helper()
	return r.runIn(nil, args...)
}

func (r *rt) runIn(stdin []byte, args ...string) result {
	r.t.Helper()
	cmd := exec.Command(r.bin, append([]string{"runtime", "--root", r.root}, args...)...)
	// Files, not pipes: a detached container keeps its stdio open, and
	// Wait would wait for it.
	so, se := tempFile(r.t), tempFile(r.t)
	cmd.Stdout, cmd.Stderr = so, se
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("run shoal %v: %v", args, err)
	}
	return result{readAll(r.t, so), readAll(r.t, se), code}
}

func tempFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// ok runs a verb that must succeed and returns its stdout.
func (r *rt) ok(args ...string) string {
	r.t.Helper()
	res := r.run(args...)
	if res.code != 0 {
		r.t.Fatalf("shoal runtime %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

func (r *rt) state(id string) specs.State {
	r.t.Helper()
	var st specs.State
	out := r.ok("state", id)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		r.t.Fatalf("state %s: %v: %s", id, err, out)
	}
	return st
}

// cleanup force-deletes whatever the test left and then checks that
// nothing is left: no state, no cgroup, no mount of the test's files.
func (r *rt) cleanup() {
	ents, _ := os.ReadDir(r.root)
	for _, e := range ents {
		// The test's binary may be a copy a test broke: use the original.
		_ = exec.Command(shoalBin, "runtime", "--root", r.root, "delete", "--force", e.Name()).Run()
	}
	ents, _ = os.ReadDir(r.root)
	for _, e := range ents {
		r.t.Errorf("state left behind: %s", e.Name())
	}
}

// bundle writes a bundle with a busybox rootfs and a config that runs
// args, after edit has changed it.
func bundle(t *testing.T, edit func(*specs.Spec), args ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := testutil.MakeBusyboxRootfs(testutil.BusyboxPath(t), filepath.Join(dir, "rootfs")); err != nil {
		t.Fatal(err)
	}
	spec := runtime.DefaultSpec()
	spec.Process.Terminal = false
	spec.Root.Readonly = false
	spec.Process.Args = args
	spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: runtime.DefaultCaps, Effective: runtime.DefaultCaps, Permitted: runtime.DefaultCaps,
	}
	spec.Linux.CgroupsPath = "/shoal-test/" + filepath.Base(dir)
	if edit != nil {
		edit(spec)
	}
	writeSpec(t, dir, spec)
	t.Cleanup(func() { checkNoMounts(t, dir) })
	return dir
}

func writeSpec(t *testing.T, dir string, spec *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readSpec(t *testing.T, dir string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// checkNoMounts fails t if the host's mount table mentions dir.
func checkNoMounts(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, dir) {
			t.Errorf("mount left behind: %s", l)
		}
	}
}

// cgroupDirs lists the host cgroup directories of a cgroupsPath in every
// hierarchy that has it.
func cgroupDirs(path string) []string {
	var out []string
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range ents {
		p := filepath.Join("/sys/fs/cgroup", e.Name(), path)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", path, "cgroup.procs")); err == nil {
		out = append(out, filepath.Join("/sys/fs/cgroup", path))
	}
	return out
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func defaultProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	return seccomp.DefaultProfile(nil)
}
