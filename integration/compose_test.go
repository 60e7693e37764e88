//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// The compose tests run `shoal compose` (and Debian's docker-compose
// 1.29) against a daemon in a network namespace of its own: the app's
// networks and traffic stay inside it. The clients only talk to the
// daemon's unix socket.

// composeApp is a three-service app: backend serves "backend-ok"; web
// fetches its page from backend by service name at startup and serves
// it, healthy once it does; job waits for web to be healthy, prints what
// web serves and exits 0. init: true lets httpd stop on SIGTERM and
// timeout kill wget (busybox's wget crashes with -T).
const composeApp = `services:
  backend:
    image: bb
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo backend-ok > /www/index.html && exec httpd -f -p 80 -h /www"]
  web:
    image: bb
    init: true
    depends_on: [backend]
    command: ["sh", "-c", "mkdir -p /www && until timeout 2 wget -q -O /www/index.html http://backend/; do sleep 0.1; done; exec httpd -f -p 80 -h /www"]
    healthcheck:
      test: ["CMD-SHELL", "timeout 2 wget -q -O- http://localhost/"]
      interval: 1s
      timeout: 3s
      retries: 30
  job:
    image: bb
    init: true
    depends_on:
      web:
        condition: service_healthy
    command: ["sh", "-c", "echo fetched: $$(timeout 5 wget -q -O- http://web/)"]
`

// composeDir writes files into a new project directory named name.
func composeDir(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// run runs a client command in dir against d and returns its combined
// output and exit code.
func (d *daemon) runIn(dir string, env []string, name string, args ...string) (string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "DOCKER_HOST=unix://"+d.sock, "DOCKER_CONFIG="+d.cfg), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		d.t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out), 0
}

// compose runs `shoal compose ARGS` in dir.
func (d *daemon) compose(dir string, args ...string) (string, int) {
	d.t.Helper()
	return d.runIn(dir, nil, shoalBin, append([]string{"-H", "unix://" + d.sock, "compose"}, args...)...)
}

func (d *daemon) mustCompose(dir string, args ...string) string {
	d.t.Helper()
	out, code := d.compose(dir, args...)
	if code != 0 {
		d.t.Fatalf("shoal compose %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// projectLeft lists what of project is left on d: containers and
// networks with its label.
func (d *daemon) projectLeft(project string) string {
	d.t.Helper()
	f := "label=com.docker.compose.project=" + project
	cts := strings.TrimSpace(d.must("ps", "-aq", "--filter", f))
	nets := strings.TrimSpace(d.must("network", "ls", "-q", "--filter", f))
	vols := strings.TrimSpace(d.must("volume", "ls", "-q", "--filter", f))
	return strings.TrimSpace(cts + " " + nets + " " + vols)
}

var nslookupAddr = regexp.MustCompile(`(?m)^Address:\s*(\d+\.\d+\.\d+\.\d+)\s*$`)

// lookup resolves name inside service's container with busybox
// nslookup and returns the IPv4 addresses of the answer.
func lookupIn(out string) []string {
	_, answer, ok := strings.Cut(out, "Name:")
	if !ok {
		return nil
	}
	var addrs []string
	for _, m := range nslookupAddr.FindAllStringSubmatch("\n"+answer, -1) {
		addrs = append(addrs, m[1])
	}
	return addrs
}

func TestComposeApp(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	dir := composeDir(t, "App_1", map[string]string{"compose.yaml": composeApp})
	const project = "app_1" // the directory's name, normalized

	t0 := time.Now()
	out := d.mustCompose(dir, "up", "-d")
	t.Logf("compose up -d (3 services, healthy wait): %v\n%s", time.Since(t0).Round(time.Millisecond), out)
	for _, want := range []string{"Network app_1_default  Created", "Container app_1-web-1  Healthy", "Container app_1-job-1  Started"} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q", want)
		}
	}

	// job ran after web was healthy, and web's page came from backend.
	if code := strings.TrimSpace(d.must("wait", project+"-job-1")); code != "0" {
		t.Fatalf("job exited %s\n%s", code, d.must("logs", project+"-job-1"))
	}
	logs := d.mustCompose(dir, "logs", "job")
	if !regexp.MustCompile(`(?m)^job-1 +\| fetched: backend-ok$`).MatchString(logs) {
		t.Errorf("compose logs job = %q, want a line \"job-1  | fetched: backend-ok\"", logs)
	}
	ps := d.mustCompose(dir, "ps")
	for _, want := range []string{"NAME", "SERVICE", project + "-backend-1", project + "-web-1"} {
		if !strings.Contains(ps, want) {
			t.Errorf("compose ps lacks %q:\n%s", want, ps)
		}
	}
	if strings.Contains(ps, project+"-job-1") {
		t.Errorf("compose ps shows the exited job without -a:\n%s", ps)
	}
	if psa := d.mustCompose(dir, "ps", "-a"); !strings.Contains(psa, project+"-job-1") || !strings.Contains(psa, "Exited (0)") {
		t.Errorf("compose ps -a lacks the exited job:\n%s", psa)
	}
	if got := d.mustCompose(dir, "exec", "-T", "web", "wget", "-q", "-O-", "http://localhost/"); strings.TrimSpace(got) != "backend-ok" {
		t.Errorf("compose exec web wget = %q, want backend-ok", got)
	}
	labels := d.must("inspect", "-f", `{{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.container-number"}} {{index .Config.Labels "com.docker.compose.oneoff"}} {{len (index .Config.Labels "com.docker.compose.config-hash")}}`, project+"-web-1")
	if strings.TrimSpace(labels) != project+" web 1 False 64" {
		t.Errorf("web's compose labels = %q", labels)
	}
	if nl := d.must("network", "inspect", "-f", `{{index .Labels "com.docker.compose.network"}} {{index .Labels "com.docker.compose.project"}}`, project+"_default"); strings.TrimSpace(nl) != "default "+project {
		t.Errorf("network labels = %q", nl)
	}

	// up again keeps the running containers (and runs the job again).
	ids := d.must("inspect", "-f", "{{.Id}} {{.State.StartedAt}}", project+"-web-1", project+"-backend-1")
	out = d.mustCompose(dir, "up", "-d")
	if strings.Contains(out, "Recreate") || strings.Contains(out, "Creating") {
		t.Errorf("second up recreated containers:\n%s", out)
	}
	if again := d.must("inspect", "-f", "{{.Id}} {{.State.StartedAt}}", project+"-web-1", project+"-backend-1"); again != ids {
		t.Errorf("second up changed the running containers: %q -> %q", ids, again)
	}

	// Scale: three backends, all behind the name backend.
	out = d.mustCompose(dir, "up", "-d", "--scale", "backend=3")
	if n := len(strings.Fields(d.mustCompose(dir, "ps", "-q", "backend"))); n != 3 {
		t.Fatalf("backend containers after --scale backend=3: %d\n%s", n, out)
	}
	for i := 1; i <= 3; i++ {
		if !strings.Contains(d.mustCompose(dir, "ps", "backend"), fmt.Sprintf("%s-backend-%d", project, i)) {
			t.Errorf("no container %s-backend-%d", project, i)
		}
	}
	ns := d.mustCompose(dir, "exec", "-T", "web", "nslookup", "backend")
	if addrs := lookupIn(ns); len(addrs) != 3 {
		t.Errorf("backend resolves to %v, want 3 addresses\n%s", addrs, ns)
	}

	// down leaves nothing of the project.
	t0 = time.Now()
	out = d.mustCompose(dir, "down")
	t.Logf("compose down: %v", time.Since(t0).Round(time.Millisecond))
	if left := d.projectLeft(project); left != "" {
		t.Errorf("left after down: %s\n%s", left, out)
	}
}

func TestComposeBadInput(t *testing.T) {
	d := startDaemon(t)
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"cycle", "services:\n  a:\n    image: bb\n    depends_on: [b]\n  b:\n    image: bb\n    depends_on: [a]\n",
			[]string{"dependency cycle detected", "a -> b -> a"}},
		{"unknown key", "services:\n  web:\n    image: bb\n    ports_typo: [\"80\"]\n",
			[]string{"services.web", "ports_typo"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := composeDir(t, "bad", map[string]string{"compose.yaml": tc.yaml})
			for _, verb := range [][]string{{"up", "-d"}, {"config"}} {
				out, code := d.compose(dir, verb...)
				if code == 0 {
					t.Errorf("compose %s succeeded on a bad file:\n%s", verb[0], out)
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("compose %s error %q does not mention %q", verb[0], strings.TrimSpace(out), w)
					}
				}
			}
			if left := d.projectLeft("bad"); left != "" {
				t.Errorf("a bad file left resources: %s", left)
			}
		})
	}
}

// TestComposeV1 drives the same app with Debian's docker-compose 1.29
// (Python, API 1.25-era calls, container names <project>_<service>_<n>).
func TestComposeV1(t *testing.T) {
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("docker-compose not installed (apt-get install docker-compose)")
	}
	d := startDaemon(t)
	d.busyboxImage("bb")
	dir := composeDir(t, "v1app", map[string]string{"docker-compose.yml": composeApp})
	dc := func(args ...string) (string, int) {
		t.Helper()
		return d.runIn(dir, []string{"COMPOSE_INTERACTIVE_NO_CLI=1"}, "docker-compose", args...)
	}
	must := func(args ...string) string {
		t.Helper()
		out, code := dc(args...)
		if code != 0 {
			t.Fatalf("docker-compose %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	t0 := time.Now()
	out := must("up", "-d")
	t.Logf("docker-compose 1.29 up -d: %v\n%s", time.Since(t0).Round(time.Millisecond), out)
	if code := strings.TrimSpace(d.must("wait", "v1app_job_1")); code != "0" {
		t.Fatalf("job exited %s", code)
	}
	if ps := must("ps"); !strings.Contains(ps, "v1app_web_1") || !strings.Contains(ps, "v1app_backend_1") {
		t.Errorf("docker-compose ps:\n%s", ps)
	}
	if logs := must("logs", "job"); !strings.Contains(logs, "fetched: backend-ok") {
		t.Errorf("docker-compose logs job = %q, want fetched: backend-ok", logs)
	}
	if got := must("exec", "-T", "web", "wget", "-q", "-O-", "http://localhost/"); strings.TrimSpace(got) != "backend-ok" {
		t.Errorf("docker-compose exec = %q, want backend-ok", got)
	}
	// It scales: three backends, all behind the service name.
	must("up", "-d", "--scale", "backend=3")
	if ps := must("ps"); !strings.Contains(ps, "v1app_backend_3") {
		t.Errorf("docker-compose ps after --scale backend=3:\n%s", ps)
	}
	if out := must("exec", "-T", "web", "nslookup", "backend"); strings.Count(out, "Address: ") != 3 {
		t.Errorf("nslookup backend after --scale backend=3 gives %d addresses:\n%s", strings.Count(out, "Address: "), out)
	}
	// shoal compose sees the project docker-compose made.
	if got := d.mustCompose(dir, "ps", "--services"); !strings.Contains(got, "backend") || !strings.Contains(got, "web") {
		t.Errorf("shoal compose ps --services on a docker-compose project = %q", got)
	}
	must("down")
	if left := d.projectLeft("v1app"); left != "" {
		t.Errorf("left after docker-compose down: %s", left)
	}
}

// tenServices is a compose file of n independent services.
func tenServices(n int, networked bool) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%d:\n    image: bb\n    init: true\n    command: [sleep, \"3600\"]\n", i)
		if !networked {
			b.WriteString("    network_mode: none\n")
		}
	}
	return b.String()
}

// TestComposeUpTiming measures `compose up -d` of ten services, with
// shoal compose and docker-compose 1.29 on the same daemon.
func TestComposeUpTiming(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	dir := composeDir(t, "ten", map[string]string{"compose.yaml": tenServices(10, true)})
	t0 := time.Now()
	d.mustCompose(dir, "up", "-d")
	shoalUp := time.Since(t0)
	if n := len(strings.Fields(d.mustCompose(dir, "ps", "-q"))); n != 10 {
		t.Fatalf("%d containers running, want 10", n)
	}
	t0 = time.Now()
	d.mustCompose(dir, "down", "-t", "1")
	shoalDown := time.Since(t0)
	t.Logf("shoal compose, 10 services on shoal: up -d %v, down %v", shoalUp.Round(time.Millisecond), shoalDown.Round(time.Millisecond))
	if left := d.projectLeft("ten"); left != "" {
		t.Errorf("left after down: %s", left)
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		return
	}
	t0 = time.Now()
	out, code := d.runIn(dir, nil, "docker-compose", "up", "-d")
	v1Up := time.Since(t0)
	if code != 0 {
		t.Logf("docker-compose up -d: exit %d\n%s", code, out)
		return
	}
	t.Logf("docker-compose 1.29, 10 services on shoal: up -d %v", v1Up.Round(time.Millisecond))
	_, _ = d.runIn(dir, nil, "docker-compose", "down", "-t", "1")
}

// TestComposeBuild builds a service's image through POST /build and runs
// it; a daemon without a builder must make a clear error.
func TestComposeBuild(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	dir := composeDir(t, "b", map[string]string{
		"compose.yaml":  "services:\n  hello:\n    build: .\n    init: true\n",
		"Dockerfile":    "FROM bb\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n",
		"hello.txt":     "built-ok\n",
		"skip.log":      "x\n",
		".dockerignore": "*.log\n",
	})
	out, code := d.compose(dir, "up", "-d", "--build")
	if code != 0 {
		if strings.Contains(out, "cannot build images") {
			t.Skipf("the daemon has no builder yet: %s", strings.TrimSpace(out))
		}
		t.Fatalf("compose up --build: exit %d\n%s", code, out)
	}
	if code := strings.TrimSpace(d.must("wait", "b-hello-1")); code != "0" {
		t.Fatalf("hello exited %s", code)
	}
	if logs := d.mustCompose(dir, "logs", "--no-log-prefix", "hello"); strings.TrimSpace(logs) != "built-ok" {
		t.Errorf("logs of the built service = %q, want built-ok", logs)
	}
	if img := strings.TrimSpace(d.must("inspect", "-f", "{{.Config.Image}}", "b-hello-1")); img != "b-hello" {
		t.Errorf("built image name = %q, want b-hello", img)
	}
	d.mustCompose(dir, "down")
	if left := d.projectLeft("b"); left != "" {
		t.Errorf("left after down: %s", left)
	}
}

// TestComposeVerbs covers run, stop, start, restart, config, named
// volumes and down -v.
func TestComposeVerbs(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	dir := composeDir(t, "verbs", map[string]string{"compose.yaml": `services:
  store:
    image: bb
    init: true
    command: ["sh", "-c", "echo $$GREETING > /data/greeting && exec sleep 3600"]
    environment:
      GREETING: hello-volume
    volumes: [data:/data]
  tool:
    image: bb
    profiles: [tools]
    volumes: [data:/data]
    depends_on: [store]
volumes:
  data: {}
`})
	if out := d.mustCompose(dir, "config", "--services"); strings.TrimSpace(out) != "store" {
		t.Errorf("config --services = %q, want store (tool is behind a profile)", out)
	}
	if out := d.mustCompose(dir, "--profile", "tools", "config", "--services"); !strings.Contains(out, "tool") {
		t.Errorf("config --services with --profile tools = %q", out)
	}
	d.mustCompose(dir, "up", "-d")
	if v := d.must("volume", "inspect", "-f", `{{index .Labels "com.docker.compose.volume"}} {{index .Labels "com.docker.compose.project"}}`, "verbs_data"); strings.TrimSpace(v) != "data verbs" {
		t.Errorf("volume labels = %q", v)
	}
	// run: a one-off container of a profiled service sees the volume.
	out, code := d.compose(dir, "run", "--rm", "-T", "tool", "cat", "/data/greeting")
	if code != 0 || !strings.Contains(out, "hello-volume") {
		t.Errorf("compose run --rm tool cat = exit %d %q, want hello-volume", code, out)
	}
	if n := strings.TrimSpace(d.must("ps", "-aq", "--filter", "label=com.docker.compose.oneoff=True")); n != "" {
		t.Errorf("run --rm left its container: %s", n)
	}
	if _, code := d.compose(dir, "run", "--rm", "-T", "tool", "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("compose run exit code = %d, want 3", code)
	}
	d.mustCompose(dir, "stop", "-t", "1")
	if st := strings.TrimSpace(d.must("inspect", "-f", "{{.State.Status}}", "verbs-store-1")); st != "exited" {
		t.Errorf("after stop: %s", st)
	}
	d.mustCompose(dir, "start")
	started := d.must("inspect", "-f", "{{.State.StartedAt}}", "verbs-store-1")
	if st := strings.TrimSpace(d.must("inspect", "-f", "{{.State.Status}}", "verbs-store-1")); st != "running" {
		t.Errorf("after start: %s", st)
	}
	d.mustCompose(dir, "restart", "-t", "1")
	if again := d.must("inspect", "-f", "{{.State.StartedAt}}", "verbs-store-1"); again == started {
		t.Error("restart did not restart store")
	}
	d.mustCompose(dir, "down", "-v", "-t", "1")
	if left := d.projectLeft("verbs"); left != "" {
		t.Errorf("left after down -v: %s", left)
	}

	// up attached streams the logs and returns when the containers exit.
	att := composeDir(t, "att", map[string]string{"compose.yaml": "services:\n  a:\n    image: bb\n    command: [echo, hi-from-a]\n  bb:\n    image: bb\n    command: [sh, -c, 'echo hi-from-bb >&2']\n"})
	out, code = d.compose(att, "up")
	if code != 0 || !regexp.MustCompile(`(?m)^a-1 +\| hi-from-a$`).MatchString(out) || !regexp.MustCompile(`(?m)^bb-1 +\| hi-from-bb$`).MatchString(out) {
		t.Errorf("compose up (attached) = exit %d\n%s", code, out)
	}
	d.mustCompose(att, "down")
}

// TestComposeVsDockerd times `up -d` of ten independent services: shoal
// compose on Shoal against docker-compose 1.29 on dockerd. dockerd runs
// in the host's network namespace, so the services there use
// network_mode: none and the run first checks, on Shoal, that
// docker-compose makes no network for such a file.
func TestComposeVsDockerd(t *testing.T) {
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("docker-compose not installed (apt-get install docker-compose)")
	}
	ref := startDockerd(t)
	d := startDaemon(t)
	tarFile := filepath.Join(t.TempDir(), "bb.tar")
	if out, err := exec.Command("tar", "-C", testutil.BusyboxRootfs(t), "-cf", tarFile, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar busybox: %v\n%s", err, out)
	}
	ref.must("import", "--change", `CMD ["sh"]`, tarFile, "bb")
	d.must("import", "--change", `CMD ["sh"]`, tarFile, "bb")
	dir := composeDir(t, "tennone", map[string]string{"compose.yaml": tenServices(10, false)})
	dc := func(sock string, args ...string) (time.Duration, string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "docker-compose", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock)
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		return time.Since(t0), string(out), err
	}

	// Safety first: on Shoal, docker-compose must make no network.
	v1Shoal, out, err := dc(d.sock, "up", "-d")
	if err != nil {
		t.Fatalf("docker-compose up -d on shoal: %v\n%s", err, out)
	}
	if nets := strings.TrimSpace(d.must("network", "ls", "-q", "--filter", "label=com.docker.compose.project=tennone")); nets != "" {
		t.Fatalf("docker-compose made a network for network_mode: none services; not running it on dockerd")
	}
	if _, out, err := dc(d.sock, "down", "-t", "0"); err != nil {
		t.Fatalf("docker-compose down on shoal: %v\n%s", err, out)
	}

	t0 := time.Now()
	d.mustCompose(dir, "up", "-d")
	shoalUp := time.Since(t0)
	if n := len(strings.Fields(d.mustCompose(dir, "ps", "-q"))); n != 10 {
		t.Fatalf("shoal compose: %d containers running, want 10", n)
	}
	d.mustCompose(dir, "down", "-t", "0")

	v1Dockerd, out, err := dc(ref.sock, "up", "-d")
	if err != nil {
		t.Fatalf("docker-compose up -d on dockerd: %v\n%s", err, out)
	}
	if n := len(strings.Fields(ref.must("ps", "-q"))); n != 10 {
		t.Errorf("dockerd: %d containers running, want 10", n)
	}
	_, _, _ = dc(ref.sock, "down", "-t", "0")
	t.Logf("up -d of 10 services (network_mode: none): shoal compose on shoal %v; docker-compose 1.29 on dockerd %v; docker-compose 1.29 on shoal %v",
		shoalUp.Round(time.Millisecond), v1Dockerd.Round(time.Millisecond), v1Shoal.Round(time.Millisecond))
	if shoalUp > v1Dockerd {
		t.Errorf("shoal compose up -d (%v) slower than docker-compose on dockerd (%v)", shoalUp, v1Dockerd)
	}
}
