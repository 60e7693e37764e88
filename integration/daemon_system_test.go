//go:build integration

package integration

import (
	"strings"
	"testing"
)

// TestDaemonSystem covers commit, info, system df, system prune and the
// image removal rules while containers use an image.
func TestDaemonSystem(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	d.must("run", "--name", "maker", "--network", "none", "bb", "sh", "-c", "echo baked > /baked; rm /bin/vi")
	id := strings.TrimSpace(d.must("commit", "-c", "ENV BAKED=1", "-c", `CMD ["cat", "/baked"]`, "-m", "a message", "-a", "tester", "maker", "baked:v1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("commit printed %q", id)
	}
	if out := d.must("run", "--rm", "--network", "none", "baked:v1"); out != "baked\n" {
		t.Errorf("run of the committed image = %q", out)
	}
	if out := d.must("run", "--rm", "--network", "none", "baked:v1", "sh", "-c", "echo $BAKED; ls /bin/vi 2>&1; true"); !strings.HasPrefix(out, "1\n") || !strings.Contains(out, "No such file") {
		t.Errorf("committed env/whiteout = %q", out)
	}
	if out := d.must("history", "--format", "{{.Comment}}", "baked:v1"); !strings.HasPrefix(out, "a message\n") {
		t.Errorf("history = %q", out)
	}
	if out := d.must("image", "inspect", "-f", "{{.Author}} {{len .RootFS.Layers}}", "baked:v1"); out != "tester 2\n" {
		t.Errorf("image inspect = %q", out)
	}

	// --platform: the image's own platform runs, another one is refused
	// (the CLI then tries to pull it: --pull never keeps this offline).
	if out := d.must("run", "--rm", "--network", "none", "--platform", "linux/amd64", "bb", "true"); out != "" {
		t.Errorf("run --platform linux/amd64 = %q", out)
	}
	if out, code := d.docker("create", "--pull", "never", "--network", "none", "--platform", "linux/arm64", "bb"); code == 0 || !strings.Contains(out, "does not match the specified platform") {
		t.Errorf("create --platform linux/arm64 = %d %q", code, out)
	}

	// An image a container uses is not removed without force.
	d.must("create", "--name", "user", "--network", "none", "baked:v1")
	if out, code := d.docker("rmi", "baked:v1"); code == 0 || !strings.Contains(out, "must force") {
		t.Errorf("rmi of a used image = %d %q", code, out)
	}
	d.must("rm", "user")

	d.must("run", "-d", "--name", "up", "--network", "none", "bb", "sleep", "1000")
	info := d.must("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.CgroupDriver}} {{.DefaultRuntime}}")
	if info != "2 1 1 cgroupfs shoal\n" {
		t.Errorf("info = %q", info)
	}
	df := d.must("system", "df")
	for _, want := range []string{"Images", "Containers", "Local Volumes"} {
		if !strings.Contains(df, want) {
			t.Errorf("system df lacks %q:\n%s", want, df)
		}
	}
	out := d.must("system", "prune", "-f")
	if !strings.Contains(out, "Total reclaimed space") {
		t.Errorf("system prune = %q", out)
	}
	if out := d.must("ps", "-a", "--format", "{{.Names}}"); out != "up\n" {
		t.Errorf("after system prune = %q", out)
	}
}
