//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// shoal runs the shoal CLI against d's socket and returns its combined
// output and exit code.
func (d *daemon) shoal(stdin []byte, args ...string) (string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, shoalBin, append([]string{"-H", "unix://" + d.sock}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		d.t.Fatalf("shoal %s: %v", strings.Join(args, " "), err)
	}
	return string(out), 0
}

var (
	longID  = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	shortID = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	ago     = regexp.MustCompile(`(Less than a second|About a minute|About an hour|\d+ (second|minute|hour)s?)`)
	stamp   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	columns = regexp.MustCompile(` {2,}`)
)

// mask hides what differs between two runs of the same command: ids,
// times, and the column widths those change.
func mask(s string) string {
	s = longID.ReplaceAllString(s, "<ID>")
	s = shortID.ReplaceAllString(s, "<SHORT>")
	s = ago.ReplaceAllString(s, "<T>")
	s = stamp.ReplaceAllString(s, "<TIME>")
	return columns.ReplaceAllString(s, " | ")
}

// TestShoalCLI runs the shoal CLI's verbs against a daemon and compares
// what they print with what the docker CLI prints for the same commands.
func TestShoalCLI(t *testing.T) {
	d := startDaemonHostNet(t)
	d.busyboxImage("bb")

	// same runs a command with both CLIs and wants the same (masked)
	// output and exit code; it returns shoal's output.
	same := func(wantCode int, args ...string) string {
		t.Helper()
		got, gotCode := d.shoal(nil, args...)
		want, wantCodeDocker := d.docker(args...)
		want = strings.ReplaceAll(want, "docker", "shoal")
		want = strings.ReplaceAll(want, "Docker", "Shoal")
		if gotCode != wantCodeDocker || gotCode != wantCode {
			t.Errorf("%s: shoal exit %d, docker exit %d, want %d\nshoal: %q\ndocker: %q", strings.Join(args, " "), gotCode, wantCodeDocker, wantCode, got, want)
		}
		if mask(got) != mask(want) {
			t.Errorf("%s:\nshoal:\n%s\ndocker:\n%s", strings.Join(args, " "), got, want)
		}
		return got
	}

	// run in the foreground: output and exit code of the container.
	if out := same(0, "run", "--rm", "--network", "none", "bb", "echo", "hi"); out != "hi\n" {
		t.Errorf("shoal run echo = %q", out)
	}
	same(3, "run", "--rm", "--network", "none", "bb", "sh", "-c", "echo out; exit 3")
	if out, code := d.shoal(nil, "run", "--rm", "--network", "none", "bb", "nosuchcmd"); code != 127 || !strings.Contains(out, "shoal: Error response from daemon:") {
		t.Errorf("run of a missing command = %d %q, want 127", code, out)
	}
	if out, code := d.shoal([]byte("piped\n"), "run", "--rm", "-i", "--network", "none", "bb", "cat"); code != 0 || out != "piped\n" {
		t.Errorf("run -i cat = %d %q", code, out)
	}

	// run -d, then the verbs on the running container.
	out, code := d.shoal(nil, "run", "-d", "--name", "s1", "-l", "k=v", "--network", "none", "bb", "sh", "-c", "echo started; echo warn >&2; exec sleep 1000")
	if id := strings.TrimSpace(out); code != 0 || !longID.MatchString(id) || len(id) != 64 {
		t.Fatalf("shoal run -d = %d %q", code, out)
	}
	d.must("run", "-d", "--name", "d1", "--network", "none", "bb", "sleep", "1000")
	waitFor(t, "log line", 5*time.Second, func() bool { out, _ := d.shoal(nil, "logs", "s1"); return strings.Contains(out, "started") })

	same(0, "ps")
	same(0, "ps", "-a", "--no-trunc")
	same(0, "ps", "-q")
	same(0, "ps", "--format", "{{.Names}} {{.Status}} {{.Label \"k\"}}")
	same(0, "ps", "--format", "table {{.Names}}\t{{.Image}}\t{{.Command}}")
	same(0, "ps", "--format", "json")
	same(0, "ps", "-f", "name=s1", "--format", "{{.Names}}")
	if out := same(0, "logs", "s1"); !strings.Contains(out, "started\n") || !strings.Contains(out, "warn\n") {
		t.Errorf("shoal logs = %q", out)
	}
	same(0, "logs", "--tail", "1", "s1")
	if out := same(0, "exec", "s1", "echo", "fromexec"); out != "fromexec\n" {
		t.Errorf("shoal exec = %q", out)
	}
	same(7, "exec", "s1", "sh", "-c", "exit 7")
	same(0, "exec", "-e", "X=1", "-w", "/tmp", "s1", "sh", "-c", "echo $X $PWD")
	same(0, "inspect", "-f", "{{.State.Running}} {{.Name}} {{json .Config.Cmd}} {{.Config.Labels.k}}", "s1")
	same(0, "inspect", "--format", "{{.Id}}", "s1", "bb")
	same(1, "inspect", "nosuch")
	same(0, "top", "s1", "-o", "pid,args")
	same(0, "port", "s1")
	same(0, "diff", "s1")

	// The full inspect JSON is the daemon's, indented as docker does.
	got, _ := d.shoal(nil, "inspect", "s1")
	want := d.must("inspect", "s1")
	if got != want {
		t.Errorf("inspect JSON differs:\nshoal:\n%s\ndocker:\n%s", got, want)
	}

	// stop, rm and their errors.
	if out := same(0, "stop", "-t", "1", "s1", "d1"); out != "s1\nd1\n" {
		t.Errorf("shoal stop = %q", out)
	}
	same(0, "ps", "-a", "--format", "{{.Names}} {{.Status}}")
	same(1, "stop", "nosuch")
	if out, code := d.shoal(nil, "rm", "s1", "nosuch"); code != 1 || !strings.HasPrefix(out, "s1\n") || !strings.Contains(out, "No such container: nosuch") {
		t.Errorf("shoal rm s1 nosuch = %d %q", code, out)
	}
	same(0, "rm", "-f", "nosuch")
	if out, code := d.shoal(nil, "rm", "d1"); code != 0 || out != "d1\n" {
		t.Errorf("shoal rm d1 = %d %q", code, out)
	}

	// Images and volumes.
	same(0, "images")
	same(0, "images", "-q")
	same(0, "images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}")
	same(0, "history", "bb")
	same(0, "image", "inspect", "-f", "{{.Os}} {{.RepoTags}}", "bb")
	if out := same(0, "volume", "create", "--label", "a=b", "v1"); out != "v1\n" {
		t.Errorf("shoal volume create = %q", out)
	}
	d.shoal(nil, "volume", "create", "v2")
	same(0, "volume", "ls")
	same(0, "volume", "ls", "-q")
	same(0, "volume", "ls", "-f", "label=a=b", "--format", "{{.Name}} {{.Labels}}")
	same(0, "volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels}}", "v1")
	if out, code := d.shoal(nil, "volume", "rm", "v1", "v2"); code != 0 || out != "v1\nv2\n" {
		t.Errorf("shoal volume rm = %d %q", code, out)
	}
	same(1, "volume", "rm", "v1")

	// A missing image is pulled from the registry, the progress on
	// stderr as docker prints it; pull and push go through the daemon.
	reg := startRegistry(t)
	src := reg + "/test/busybox:latest"
	if out, err := exec.Command("skopeo", "copy", "--dest-tls-verify=false", "oci:"+busyboxLayout(t)+":latest", "docker://"+src).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v: %s", err, out)
	}
	out, code = d.shoal(nil, "run", "--rm", "--network", "none", src, "echo", "pulled")
	if code != 0 || !strings.HasPrefix(out, "Unable to find image '"+src+"' locally\n") || !strings.Contains(out, "latest: Pulling from test/busybox\n") ||
		!strings.Contains(out, ": Pull complete\n") || !strings.Contains(out, "Status: Downloaded newer image for "+src+"\n") || !strings.HasSuffix(out, "pulled\n") {
		t.Errorf("run of a missing image = %d\n%s", code, out)
	}
	if out, code := d.shoal(nil, "pull", reg+"/test/busybox"); code != 0 || !strings.HasPrefix(out, "Using default tag: latest\n") ||
		!strings.Contains(out, "Status: Image is up to date for "+src+"\n") || !strings.HasSuffix(out, "\n"+src+"\n") {
		t.Errorf("shoal pull = %d\n%s", code, out)
	}
	same(0, "tag", src, reg+"/test/pushed:v1")
	if out, code := d.shoal(nil, "push", reg+"/test/pushed:v1"); code != 0 || !strings.Contains(out, "The push refers to repository ["+reg+"/test/pushed]") || !strings.Contains(out, "v1: digest: sha256:") {
		t.Errorf("shoal push = %d\n%s", code, out)
	}
	if out, code := d.shoal(nil, "rmi", reg+"/test/pushed:v1"); code != 0 || out != "Untagged: "+reg+"/test/pushed:v1\n" {
		t.Errorf("shoal rmi = %d %q", code, out)
	}
	same(1, "rmi", reg+"/test/pushed:v1")

	// Usage errors, and no daemon at all.
	same(125, "ps", "--bogus")
	same(1, "stop")
	none := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	cmd := exec.Command(shoalBin, "-H", none, "ps")
	out2, err := cmd.CombinedOutput()
	if wantMsg := "Cannot connect to the Shoal daemon at " + none + ". Is the daemon running?\n"; err == nil || string(out2) != wantMsg {
		t.Errorf("shoal ps without a daemon = %v %q, want %q", err, out2, wantMsg)
	}
}
