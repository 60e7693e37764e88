package daemon

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/harness"
)

func TestClientEnv(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://elsewhere:2375")
	t.Setenv("CONTAINERS_CONF", "/etc/x")
	t.Setenv(harness.EnvStage, "inner")
	t.Setenv(harness.EnvTmpDir, "/tmp/x")
	t.Setenv("SHOAL_BENCH_KEEP_ME", "1")
	env := ClientEnv([]string{"DOCKER_HOST=unix:///run/e.sock"})
	for _, kv := range env {
		if kv == "DOCKER_HOST=tcp://elsewhere:2375" || strings.HasPrefix(kv, "CONTAINERS_") ||
			strings.HasPrefix(kv, harness.EnvStage+"=") || strings.HasPrefix(kv, harness.EnvTmpDir+"=") {
			t.Errorf("ClientEnv kept %q", kv)
		}
	}
	for _, want := range []string{"DOCKER_CLI_HINTS=false", "DOCKER_HOST=unix:///run/e.sock", "SHOAL_BENCH_KEEP_ME=1"} {
		if !slices.Contains(env, want) {
			t.Errorf("ClientEnv lacks %q", want)
		}
	}
	if env[len(env)-1] != "DOCKER_HOST=unix:///run/e.sock" {
		t.Errorf("ClientEnv: extra not last: %q", env[len(env)-2:])
	}
}

func TestTimed(t *testing.T) {
	ctx := t.Context()
	c, out := Command(ctx, ClientEnv(nil), "sh", "-c", "echo out; echo err >&2")
	d, err := Timed(c, out)
	if err != nil || d <= 0 || out.Stdout.String() != "out\n" || out.Stderr.String() != "err\n" {
		t.Errorf("Timed = %v, %v; stdout %q, stderr %q", d, err, out.Stdout.String(), out.Stderr.String())
	}
	c, out = Command(ctx, ClientEnv(nil), "sh", "-c", "echo out; echo err >&2; exit 3")
	if _, err := Timed(c, out); err == nil || err.Error() != "sh -c echo out; echo err >&2; exit 3: exit status 3: err\n\nout" {
		t.Errorf("Timed(failing) error = %q", err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	c, out = Command(short, nil, "sleep", "10")
	if d, err := Timed(c, out); err == nil || d > 5*time.Second {
		t.Errorf("Timed(sleep 10) with a 100 ms context = %v, %v; want an error soon", d, err)
	}
}

// fakeCLI writes a docker CLI that answers ps from a file of container
// IDs, empties it on rm -f and fails on anything unknown.
func fakeCLI(t *testing.T, ids string) (cli, state string) {
	d := t.TempDir()
	state = filepath.Join(d, "ids")
	if err := os.WriteFile(state, []byte(ids), 0o644); err != nil {
		t.Fatal(err)
	}
	cli = filepath.Join(d, "docker")
	script := `#!/bin/sh
case "$1" in
version) echo "host $DOCKER_HOST" ;;
ps) cat ` + state + ` ;;
rm) : > ` + state + ` ;;
*) echo "unknown command $1" >&2; exit 1 ;;
esac
`
	if err := os.WriteFile(cli, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cli, state
}

func TestEngine(t *testing.T) {
	cli, state := fakeCLI(t, "a1\nb2\n")
	tmp := t.TempDir()
	e, err := New(tmp, "dockerd", cli, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e.Dir != filepath.Join(tmp, "engine-dockerd") || e.Sock != filepath.Join(e.Dir, "docker.sock") || e.Log != filepath.Join(e.Dir, "daemon.log") {
		t.Errorf("New = %+v", e)
	}
	if fi, err := os.Stat(filepath.Join(e.Dir, "docker-config")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("docker-config: %v", err)
	}
	ctx := t.Context()
	_, out, err := e.Docker(ctx, "version")
	if err != nil || out != "host unix://"+e.Sock+"\n" {
		t.Errorf("Docker(version) = %q, %v", out, err)
	}
	if _, _, err := e.Docker(ctx, "bogus"); err == nil || !strings.HasPrefix(err.Error(), "dockerd: "+cli+" bogus: exit status 1: unknown command bogus") {
		t.Errorf("Docker(bogus) error = %v", err)
	}
	if ids, err := e.ContainerIDs(ctx); err != nil || !slices.Equal(ids, []string{"a1", "b2"}) {
		t.Errorf("ContainerIDs = %q, %v", ids, err)
	}
	if n, _, err := e.RemoveAll(ctx); n != 2 || err != nil {
		t.Errorf("RemoveAll = %d, %v; want 2, nil", n, err)
	}
	if b, _ := os.ReadFile(state); len(b) != 0 {
		t.Errorf("after RemoveAll the fake still lists %q", b)
	}
	if n, _, err := e.RemoveAll(ctx); n != 0 || err != nil {
		t.Errorf("RemoveAll of none = %d, %v", n, err)
	}
}

func TestWaitReady(t *testing.T) {
	cli, _ := fakeCLI(t, "")
	e, err := New(t.TempDir(), "shoal", cli, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Spawn(nil, "sleep", "30"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Cmd.Process.Kill(); _ = e.Cmd.Wait() }()
	if err := e.WaitReady(t.Context(), 5*time.Second); err != nil {
		t.Errorf("WaitReady: %v", err)
	}

	// A daemon that exits at once, and a CLI that never answers.
	e2, err := New(t.TempDir(), "dockerd", "false", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Spawn(nil, "sh", "-c", "echo cannot start; exit 1"); err != nil {
		t.Fatal(err)
	}
	go func() { _ = e2.Cmd.Wait() }()
	err = e2.WaitReady(t.Context(), 5*time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), "dockerd exited at start:\ncannot start") {
		t.Errorf("WaitReady(exited daemon) = %v", err)
	}
}

func TestArgv(t *testing.T) {
	e, err := New(t.TempDir(), "dockerd", "docker", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	argv, err := e.DockerdArgv("/shoal-bench-1-dockerd", "--bridge=none", "--iptables=false")
	if err != nil {
		t.Fatal(err)
	}
	d := e.Dir
	want := "dockerd --data-root " + d + "/data --exec-root " + d + "/exec -H unix://" + d + "/docker.sock --pidfile " + d + "/dockerd.pid" +
		" --config-file " + d + "/daemon.json --bridge=none --iptables=false --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs" +
		" --cgroup-parent /shoal-bench-1-dockerd --log-level warn"
	if got := strings.Join(argv, " "); got != want {
		t.Errorf("DockerdArgv =\n%s\nwant\n%s", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(d, "daemon.json")); err != nil || string(b) != "{}\n" {
		t.Errorf("daemon.json = %q, %v", b, err)
	}
	s := strings.Join(e.ShoalArgv("/x/shoal", "debug", "/shoal-bench-1-shoal"), " ")
	if want := "/x/shoal daemon --data-root " + d + "/data --exec-root " + d + "/exec -H unix://" + d + "/docker.sock --log-level debug --cgroup-parent /shoal-bench-1-shoal"; s != want {
		t.Errorf("ShoalArgv =\n%s\nwant\n%s", s, want)
	}
}
