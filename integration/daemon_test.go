//go:build integration

package integration

import (
	"strings"
	"testing"
)

// TestDaemonContainers drives the container lifecycle with the docker CLI.
func TestDaemonContainers(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")

	if out := d.must("run", "--rm", "--network", "none", "bb", "echo", "hello"); out != "hello\n" {
		t.Errorf("docker run echo = %q", out)
	}
	if out, code := d.docker("run", "--network", "none", "--name", "three", "bb", "sh", "-c", "echo out; echo err >&2; exit 3"); code != 3 || !strings.Contains(out, "out\n") || !strings.Contains(out, "err\n") {
		t.Errorf("docker run exit 3 = %d %q", code, out)
	}
	if out := d.must("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "three"); out != "exited 3\n" {
		t.Errorf("inspect three = %q", out)
	}
	if out := d.must("logs", "three"); !strings.Contains(out, "out\n") || !strings.Contains(out, "err\n") {
		t.Errorf("docker logs three = %q", out)
	}
	if out, code := d.docker("create", "--pull", "never", "--network", "none", "nosuch"); code == 0 || !strings.Contains(out, "No such image: nosuch:latest") {
		t.Errorf("create of a missing image = %d %q", code, out)
	}
	if out, code := d.docker("run", "--name", "three", "--network", "none", "bb", "true"); code != 125 || !strings.Contains(out, `The container name "/three" is already in use`) {
		t.Errorf("name clash = %d %q", code, out)
	}

	id := strings.TrimSpace(d.must("run", "-d", "--name", "web", "--network", "none", "bb", "sh", "-c", "echo started; exec sleep 1000"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	if out := d.must("ps", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(out, "web Up") {
		t.Errorf("docker ps = %q", out)
	}
	if out := d.must("exec", "web", "echo", "hi"); out != "hi\n" {
		t.Errorf("docker exec = %q", out)
	}
	if _, code := d.docker("exec", "web", "sh", "-c", "exit 5"); code != 5 {
		t.Errorf("docker exec exit = %d, want 5", code)
	}
	waitFor(t, "log line", 5e9, func() bool { return strings.Contains(d.must("logs", "web"), "started") })
	if out := d.must("stop", "-t", "1", "web"); out != "web\n" {
		t.Errorf("docker stop = %q", out)
	}
	if out := d.must("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web"); out != "exited 137\n" {
		t.Errorf("inspect after stop = %q", out)
	}
	if out, code := d.docker("rm", "nosuch"); code == 0 || !strings.Contains(out, "No such container: nosuch") {
		t.Errorf("rm nosuch = %d %q", code, out)
	}
	d.must("start", "web")
	if out, code := d.docker("rm", "web"); code == 0 || !strings.Contains(out, "container is running") {
		t.Errorf("rm of a running container = %d %q", code, out)
	}
	d.must("rm", "-f", "web", "three")
	if out := d.must("ps", "-aq"); out != "" {
		t.Errorf("containers left: %q", out)
	}
}
