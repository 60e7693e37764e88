//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// writeFiles writes name → content files below dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const buildDockerfile = `ARG BASE=bb
FROM ${BASE} AS build
ARG GREETING=hello
ENV MSG="${GREETING} from the build stage"
WORKDIR /src
COPY app/ ./app/
RUN echo "$MSG" > out.txt && cat app/data.txt >> out.txt && ls -a app >> out.txt

FROM bb
LABEL org.example.built-by=shoal
WORKDIR /app
COPY --from=build /src/out.txt ./
USER nobody
CMD ["sh", "-c", "cat /app/out.txt; id -u; pwd"]
`

// steps of buildDockerfile that can come from the cache (all but the
// ARG before FROM and the two FROMs).
const buildCachedSteps = 10

// TestBuild builds a two-stage Dockerfile with the docker CLI's classic
// builder, runs it, rebuilds it from the cache, then changes a copied
// file.
func TestBuild(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	ctx := t.TempDir()
	writeFiles(t, ctx, map[string]string{
		"Dockerfile":      buildDockerfile,
		".dockerignore":   "app/*.secret\n*.md\n",
		"app/data.txt":    "data v1\n",
		"app/key.secret":  "do not send\n",
		"README.md":       "ignored\n",
		"app/sub/keep.go": "package keep\n",
	})

	out := d.must("build", "--build-arg", "GREETING=hi", "-t", "demo", ctx)
	for _, want := range []string{
		"Step 1/13 : ARG BASE=bb\n", "Step 2/13 : FROM ${BASE} AS build\n",
		"Step 7/13 : RUN echo \"$MSG\" > out.txt && cat app/data.txt >> out.txt && ls -a app >> out.txt\n",
		" ---> Running in ", " ---> Removed intermediate container ", "Step 13/13 : CMD", "Successfully built ",
		"Successfully tagged demo:latest\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	run := d.must("run", "--rm", "--network", "none", "demo")
	if want := "hi from the build stage\ndata v1\n.\n..\ndata.txt\nsub\n65534\n/app\n"; run != want {
		t.Errorf("run = %q, want %q", run, want)
	}
	if l := d.must("inspect", "--format", `{{index .Config.Labels "org.example.built-by"}} {{.Config.User}}`, "demo"); l != "shoal nobody\n" {
		t.Errorf("label and user = %q", l)
	}

	// docker images hides the build's intermediate images; -a shows them.
	top := strings.Fields(d.must("images", "-q"))
	all := strings.Fields(d.must("images", "-a", "-q"))
	if len(top) > 3 || len(all) <= len(top)+5 {
		t.Errorf("docker images lists %d images, -a %d: intermediate images are not hidden (or not kept)\n%s", len(top), len(all), d.must("images"))
	}

	// Nothing changed: every step comes from the cache, fast.
	firstID := d.must("inspect", "--format", "{{.Id}}", "demo")
	var times []time.Duration
	for range 5 {
		t0 := time.Now()
		out = d.must("build", "--build-arg", "GREETING=hi", "-t", "demo", ctx)
		times = append(times, time.Since(t0))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("cached rebuild through the docker CLI: median %v (min %v)", times[2].Round(time.Millisecond), times[0].Round(time.Millisecond))
	if n := strings.Count(out, " ---> Using cache\n"); n != buildCachedSteps {
		t.Errorf("%d steps from the cache, want %d:\n%s", n, buildCachedSteps, out)
	}
	if strings.Contains(out, "Running in") {
		t.Errorf("a cached build ran a container:\n%s", out)
	}
	if id := d.must("inspect", "--format", "{{.Id}}", "demo"); id != firstID {
		t.Errorf("cached rebuild gave %s, want %s", id, firstID)
	}

	// A copied file changes: the cache serves the steps before its COPY.
	writeFiles(t, ctx, map[string]string{"app/data.txt": "data v2\n"})
	out = d.must("build", "--build-arg", "GREETING=hi", "-t", "demo", ctx)
	// Cached: the steps of stage 1 before COPY app/, and of stage 2
	// before COPY --from; the rest is built again.
	wantCached := map[int]bool{3: true, 4: true, 5: true, 6: false, 7: false, 9: true, 10: true, 11: false, 12: false, 13: false}
	step := regexp.MustCompile(`(?m)^Step (\d+)/13 : (.*)\n((?:[^S].*\n)*)`)
	seen := 0
	for _, m := range step.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		want, ok := wantCached[n]
		if !ok {
			continue
		}
		seen++
		if cached := strings.Contains(m[3], " ---> Using cache\n"); cached != want {
			t.Errorf("step %d (%s): from the cache %v, want %v", n, m[2], cached, want)
		}
	}
	if seen != len(wantCached) {
		t.Errorf("found %d of %d steps in:\n%s", seen, len(wantCached), out)
	}
	if run := d.must("run", "--rm", "--network", "none", "demo"); !strings.Contains(run, "data v2\n") {
		t.Errorf("run after the change = %q", run)
	}

	// shoal build prints what docker build prints.
	got, code := d.shoal(nil, "build", "--build-arg", "GREETING=hi", "-t", "demo", ctx)
	want := d.must("build", "--build-arg", "GREETING=hi", "-t", "demo", ctx)
	want = strings.ReplaceAll(want, "Docker daemon", "Shoal daemon")
	want = regexp.MustCompile(`(?s)^DEPRECATED:.*?\n\n`).ReplaceAllString(want, "")
	if code != 0 || got != want {
		t.Errorf("shoal build (exit %d):\n%s\ndocker build:\n%s", code, got, want)
	}
	if q, _ := d.shoal(nil, "build", "-q", "--build-arg", "GREETING=hi", ctx); !strings.HasPrefix(q, "sha256:") || strings.Count(q, "\n") != 1 {
		t.Errorf("shoal build -q = %q", q)
	}

	if ps := d.must("ps", "-aq"); ps != "" {
		t.Errorf("containers left after the builds: %q", ps)
	}
}

// TestBuildBadInput checks the errors of builds that cannot succeed, and
// that they leave no container.
func TestBuildBadInput(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	build := func(df string, args ...string) (string, int) {
		t.Helper()
		ctx := t.TempDir()
		writeFiles(t, ctx, map[string]string{"Dockerfile": df, "present.txt": "x"})
		return d.docker(append(append([]string{"build"}, args...), ctx)...)
	}
	for _, tc := range []struct {
		name, df string
		args     []string
		code     int
		want     []string
	}{
		{"unknown instruction", "FROM bb\nRUN true\nFOO bar\n", nil, 1,
			[]string{"Error response from daemon: dockerfile parse error on line 3: unknown instruction: FOO\n"}},
		{"missing file", "FROM bb\nCOPY missing.txt /x\n", nil, 1, []string{"Step 2/2 : COPY missing.txt /x\n",
			"COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist\n"}},
		{"outside context", "FROM bb\nCOPY ../x /x\n", nil, 1,
			[]string{"Step 2/2 : COPY ../x /x\n", "COPY failed: forbidden path outside the build context: ../x\n"}},
		{"add url", "FROM bb\nADD https://example.com/f /f\n", nil, 1, []string{"this daemon has no internet access"}},
		{"failing run", "FROM bb\nRUN echo about to fail; false\n", nil, 1,
			[]string{" ---> Running in ", "about to fail\n", " ---> Removed intermediate container ",
				"The command '/bin/sh -c echo about to fail; false' returned a non-zero code: 1\n"}},
		{"exit code", "FROM bb\nRUN exit 7\n", []string{"--force-rm"}, 7,
			[]string{"The command '/bin/sh -c exit 7' returned a non-zero code: 7\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := build(tc.df, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if ps := d.must("ps", "-aq"); ps != "" {
				t.Errorf("containers left: %q", ps)
			}
		})
	}
	// With --rm=false a failed RUN's container stays, for inspection.
	out, code := build("FROM bb\nRUN false\n", "--rm=false")
	if code != 1 || !strings.Contains(out, "returned a non-zero code: 1") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if ps := strings.Fields(d.must("ps", "-aq")); len(ps) != 1 {
		t.Errorf("containers after a failed RUN with --rm=false: %v", ps)
	} else {
		d.must("rm", ps[0])
	}
}

// TestBuildDockerd builds the same two-stage Dockerfile on dockerd (its
// classic builder) and on Shoal: the images must behave the same and a
// rebuild must come from the cache on both. The times are logged.
func TestBuildDockerd(t *testing.T) {
	testutil.RequiresRoot(t)
	ref := startDockerd(t)
	d := startDaemon(t)
	tmp := t.TempDir()
	bbTar := filepath.Join(tmp, "bb.tar")
	if out, err := exec.Command("tar", "-C", testutil.BusyboxRootfs(t), "-cf", bbTar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar busybox: %v\n%s", err, out)
	}
	ctx := filepath.Join(tmp, "ctx")
	writeFiles(t, ctx, map[string]string{
		"Dockerfile":     buildDockerfile,
		".dockerignore":  "app/*.secret\n*.md\n",
		"app/data.txt":   "data v1\n",
		"app/key.secret": "do not send\n",
		"README.md":      "ignored\n",
	})
	median := func(c *dockerCLI, args ...string) (time.Duration, string) {
		var times []time.Duration
		out := ""
		for range 5 {
			t0 := time.Now()
			out = c.must(args...)
			times = append(times, time.Since(t0))
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		return times[2], out
	}
	build := []string{"build", "--network", "none", "-t", "demo", ctx}
	results := map[string]string{}
	for _, e := range []struct {
		name string
		c    *dockerCLI
	}{{"dockerd", &ref.dockerCLI}, {"shoal", &d.dockerCLI}} {
		e.c.must("import", "--change", `CMD ["sh"]`, bbTar, "bb")
		t0 := time.Now()
		e.c.must(build...)
		first := time.Since(t0)
		cached, out := median(e.c, build...)
		if n := strings.Count(out, " ---> Using cache\n"); n != buildCachedSteps {
			t.Errorf("%s: %d steps from the cache, want %d:\n%s", e.name, n, buildCachedSteps, out)
		}
		t.Logf("%s: first build %v, cached rebuild median %v (docker CLI included)", e.name, first.Round(time.Millisecond), cached.Round(time.Millisecond))
		results[e.name] = e.c.must("run", "--rm", "--network", "none", "demo")
	}
	if results["dockerd"] != results["shoal"] {
		t.Errorf("the images differ: dockerd runs %q, shoal %q", results["dockerd"], results["shoal"])
	}
}

// TestBuildInstructions covers ADD of a local archive, --chown/--chmod,
// wildcards, WORKDIR, SHELL and a FROM scratch stage, by running the
// result.
func TestBuildInstructions(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	ctx := t.TempDir()
	writeFiles(t, ctx, map[string]string{
		"Dockerfile": `FROM bb AS tools
ADD files.tar.gz /opt/
COPY --chown=nobody:nogroup --chmod=640 conf.txt /etc/app/
COPY *.txt /all/
WORKDIR /data
RUN touch made-here
SHELL ["/bin/sh", "-ec"]
RUN echo shell-ok
CMD ["sh", "-c", "ls -ln /etc/app/conf.txt | awk '{print $1,$3,$4}'; ls /opt/inner; ls /all; ls /data; pwd"]

FROM scratch AS tiny
COPY --from=tools /bin/busybox /bin/sh
COPY conf.txt /
CMD ["/bin/sh", "-c", "read l < /conf.txt; echo tiny:$l"]
`,
		"conf.txt": "setting=1\n",
		"b.txt":    "b\n",
		"inner/x":  "x\n",
	})
	if out, err := exec.Command("tar", "-C", ctx, "-czf", filepath.Join(ctx, "files.tar.gz"), "inner").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	out := d.must("build", "--target", "tools", "-t", "tools", ctx)
	if !strings.Contains(out, "shell-ok\n") {
		t.Errorf("SHELL output missing:\n%s", out)
	}
	want := "-rw-r----- 65534 65534\nx\nb.txt\nconf.txt\nmade-here\n/data\n"
	if got := d.must("run", "--rm", "--network", "none", "tools"); got != want {
		t.Errorf("tools runs %q, want %q", got, want)
	}
	d.must("build", "-t", "tiny", ctx)
	if got := d.must("run", "--rm", "--network", "none", "tiny"); got != "tiny:setting=1\n" {
		t.Errorf("tiny runs %q", got)
	}
	// As with Docker, one layer per COPY: no empty base layer.
	if n := d.must("inspect", "--format", "{{len .RootFS.Layers}}", "tiny"); n != "2\n" {
		t.Errorf("tiny has %q layers, want 2", n)
	}
	if ps := d.must("ps", "-aq"); ps != "" {
		t.Errorf("containers left: %q", ps)
	}
}

// TestBuildHealthcheck: an image's HEALTHCHECK shows in image inspect and
// runs in its containers (dockerd's merge: the container's own settings
// win, the rest comes from the image).
func TestBuildHealthcheck(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	ctx := t.TempDir()
	writeFiles(t, ctx, map[string]string{
		"Dockerfile": "FROM bb\nHEALTHCHECK --interval=1s --retries=2 CMD test -f /tmp/ok\nCMD [\"sleep\", \"1000\"]\n",
	})
	d.must("build", "-q", "-t", "hc", ctx)
	if out := d.must("image", "inspect", "-f", "{{json .Config.Healthcheck}}", "hc"); !strings.Contains(out, `"Test":["CMD-SHELL","test -f /tmp/ok"]`) {
		t.Errorf("image inspect Healthcheck: %s", out)
	}
	d.must("run", "-d", "--name", "hc1", "--network", "none", "hc")
	waitFor(t, "hc1 unhealthy", 20*time.Second, func() bool {
		out, _ := d.docker("inspect", "-f", "{{.State.Health.Status}}", "hc1")
		return strings.TrimSpace(out) == "unhealthy"
	})
	d.must("exec", "hc1", "touch", "/tmp/ok")
	waitFor(t, "hc1 healthy", 20*time.Second, func() bool {
		out, _ := d.docker("inspect", "-f", "{{.State.Health.Status}}", "hc1")
		return strings.TrimSpace(out) == "healthy"
	})
	// --no-healthcheck turns the image's check off.
	d.must("run", "-d", "--name", "hc2", "--network", "none", "--no-healthcheck", "hc")
	if out := d.must("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", "hc2"); strings.TrimSpace(out) != "none" {
		t.Errorf("--no-healthcheck: health %q", out)
	}
	d.must("rm", "-f", "hc1", "hc2")
}
