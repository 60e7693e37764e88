package build

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

const multiStage = `ARG BASE=bb
FROM ${BASE} AS build
ARG MSG=hi
ENV GREETING=$MSG OLD=x$GREETING
WORKDIR /src
COPY app/ ./app/
RUN make
FROM bb
COPY --from=build /src/out.txt /usr/local/bin/
USER nobody
LABEL a=b
CMD ["main"]
`

func multiStageFiles(main string) []ctxFile {
	return []ctxFile{
		{name: "Dockerfile", data: multiStage},
		{name: "app/main.txt", data: main},
		{name: "app/lib/x.txt", data: "lib"},
	}
}

// makeRun is a RUN that writes /src/out.txt from the greeting and
// app/main.txt.
func makeRun(c *fakeContainer) (string, int) {
	greeting := ""
	for _, kv := range c.cfg.Env {
		if v, ok := strings.CutPrefix(kv, "GREETING="); ok {
			greeting = v
		}
	}
	c.fs["/src/out.txt"] = fakeFile{mode: 0o644, data: greeting + ":" + c.fs["/src/app/main.txt"].data}
	return "made\n", 0
}

func TestBuildMultiStage(t *testing.T) {
	t.Parallel()
	b, be := newTestBuilder(t)
	be.run = makeRun
	msg := "given"
	id, out := mustBuild(t, b, Options{Tags: []string{"demo"}, Remove: true, BuildArgs: map[string]*string{"MSG": &msg}},
		multiStageFiles("v1")...)
	for _, want := range []string{
		"Step 1/12 : ARG BASE=bb\n", "Step 2/12 : FROM ${BASE} AS build\n", "Step 7/12 : RUN make\n", " ---> Running in ",
		"made\n", " ---> Removed intermediate container ", "Step 12/12 : CMD [\"main\"]\n",
		"Successfully built " + shortID(id) + "\n", "Successfully tagged demo:latest\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	img, err := be.Image(t.Context(), "docker.io/library/demo:latest")
	if err != nil {
		t.Fatal(err)
	}
	cfg := img.Config.Config
	if cfg.User != "nobody" || cfg.Labels["a"] != "b" || strings.Join(cfg.Cmd, " ") != "main" {
		t.Errorf("config = %+v", cfg)
	}
	f, ok := be.file(t, id, "/usr/local/bin/out.txt")
	if !ok || f.data != "given:v1" || f.uid != 0 {
		t.Errorf("/usr/local/bin/out.txt = %+v, %v", f, ok)
	}
	// The first stage: its environment and working directory.
	var stage1 Image
	for _, fi := range be.images {
		if _, ok := fi.fs["/src/out.txt"]; ok {
			stage1 = fi.img
		}
	}
	if !slices.Contains(stage1.Config.Config.Env, "GREETING=given") || !slices.Contains(stage1.Config.Config.Env, "OLD=x") {
		t.Errorf("stage 1 env = %v (ENV sees the values before it)", stage1.Config.Config.Env)
	}
	if _, ok := be.file(t, stage1.ID, "/src/app/lib/x.txt"); !ok {
		t.Error("COPY app/ ./app/ did not copy the tree")
	}
	if len(be.containers) != 0 {
		t.Errorf("%d containers left", len(be.containers))
	}
}

func TestBuildCache(t *testing.T) {
	t.Parallel()
	b, be := newTestBuilder(t)
	be.run = makeRun
	o := Options{Remove: true}
	first, _ := mustBuild(t, b, o, multiStageFiles("v1")...)

	creates := be.calls["CreateContainer"]
	again, out := mustBuild(t, b, o, multiStageFiles("v1")...)
	if again != first {
		t.Errorf("rebuild = %s, want %s", again, first)
	}
	// Every step but the meta ARG and the two FROMs.
	if n := strings.Count(out, " ---> Using cache\n"); n != 9 {
		t.Errorf("%d steps cached, want 9:\n%s", n, out)
	}
	if be.calls["CreateContainer"] != creates {
		t.Errorf("a fully cached build created %d containers", be.calls["CreateContainer"]-creates)
	}

	// A copied file changes: the steps before COPY are cached, not the
	// rest.
	changed, out := mustBuild(t, b, o, multiStageFiles("v2")...)
	if changed == first {
		t.Fatal("a changed file gave the same image")
	}
	if n := strings.Count(out, " ---> Using cache\n"); n != 3 {
		t.Errorf("%d steps cached, want 3 (ARG, ENV, WORKDIR):\n%s", n, out)
	}
	if i := strings.Index(out, "Step 6/12 : COPY"); i < 0 || strings.Contains(out[i:], "Using cache") {
		t.Errorf("steps from COPY on used the cache:\n%s", out)
	}
	if f, _ := be.file(t, changed, "/usr/local/bin/out.txt"); f.data != "hi:v2" {
		t.Errorf("out.txt = %q", f.data)
	}

	// Only the time of a file changes (the tar carries none here, so
	// change the mode instead and back): a mode change is a miss.
	files := multiStageFiles("v2")
	files[1].mode = 0o600
	_, out = mustBuild(t, b, o, files...)
	if strings.Count(out, " ---> Using cache\n") != 3 {
		t.Errorf("a mode change used the cache:\n%s", out)
	}

	// --no-cache builds everything again.
	_, out = mustBuild(t, b, Options{Remove: true, NoCache: true}, multiStageFiles("v2")...)
	if strings.Contains(out, "Using cache") {
		t.Errorf("--no-cache used the cache:\n%s", out)
	}

	// A cached image that was removed is a miss.
	be.mu.Lock()
	delete(be.images, changed)
	be.mu.Unlock()
	_, out = mustBuild(t, b, o, multiStageFiles("v2")...)
	if !strings.Contains(out, "Step 12/12 : CMD [\"main\"]\n ---> ") || strings.HasSuffix(strings.Split(out, "Step 12/12")[1], "Using cache\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestBuildCacheIgnoresTimes(t *testing.T) {
	t.Parallel()
	b, _ := newTestBuilder(t)
	df := ctxFile{name: "Dockerfile", data: "FROM bb\nCOPY f /f\n"}
	bc1, err := extractTestContext(t, df, ctxFile{name: "f", data: "same"})
	if err != nil {
		t.Fatal(err)
	}
	bc2, err := extractTestContextTime(t, df, ctxFile{name: "f", data: "same"})
	if err != nil {
		t.Fatal(err)
	}
	if bc1.visible["f"].sum != bc2.visible["f"].sum {
		t.Error("the sum of a file depends on its time")
	}
	_, _ = mustBuild(t, b, Options{}, df, ctxFile{name: "f", data: "same"})
	_, out := mustBuild(t, b, Options{}, df, ctxFile{name: "f", data: "same"})
	if !strings.Contains(out, "Using cache") {
		t.Errorf("no cache:\n%s", out)
	}
}

func TestBuildRunFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		o         Options
		remaining int
	}{
		{"rm", Options{Remove: true}, 0},
		{"force-rm", Options{Remove: true, ForceRemove: true}, 0},
		{"no-rm", Options{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, be := newTestBuilder(t)
			be.run = func(c *fakeContainer) (string, int) { return "failing\n", 3 }
			_, out, err := build(t, b, tc.o, ctxFile{name: "Dockerfile", data: "FROM bb\nRUN echo failing; exit 3\n"})
			var be2 *Error
			if !errors.As(err, &be2) || be2.Code != 3 ||
				be2.Message != "The command '/bin/sh -c echo failing; exit 3' returned a non-zero code: 3" {
				t.Fatalf("build error = %#v", err)
			}
			if !strings.Contains(out, "failing\n") {
				t.Errorf("the command's output is missing:\n%s", out)
			}
			if len(be.containers) != tc.remaining {
				t.Errorf("%d containers left, want %d", len(be.containers), tc.remaining)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	ctx := []ctxFile{{name: "a.txt", data: "a"}, {name: "b.txt", data: "b"}}
	for _, tc := range []struct {
		name, df, want string
		o              Options
	}{
		{"missing file", "FROM bb\nCOPY missing.txt /x\n",
			"COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist", Options{}},
		{"outside context", "FROM bb\nCOPY ../x /x\n", "COPY failed: forbidden path outside the build context: ../x", Options{}},
		{"add url", "FROM bb\nADD http://example.com/x /x\n", "ADD failed: cannot download http://example.com/x: this daemon has no internet access", Options{}},
		{"copy url", "FROM bb\nCOPY https://example.com/x /x\n", "COPY failed: source can't be a URL for COPY", Options{}},
		{"many to file", "FROM bb\nCOPY a.txt b.txt /dest\n", "When using COPY with more than one source file, the destination must be a directory and end with a /", Options{}},
		{"no match", "FROM bb\nCOPY *.nope /dest/\n", "COPY failed: no source files were specified", Options{}},
		{"bad chmod", "FROM bb\nCOPY --chmod=999 a.txt /dest\n", "invalid chmod parameter", Options{}},
		{"no image", "FROM nope\n", "pull access denied for nope", Options{}},
		{"from current stage", "FROM bb\nCOPY --from=0 /x /y\n", "invalid from flag value 0: refers to current build stage", Options{}},
		{"bad signal", "FROM bb\nSTOPSIGNAL SIGNOPE\n", "Invalid signal: SIGNOPE", Options{}},
		{"bad port", "FROM bb\nEXPOSE 80/xyz\n", "invalid proto: xyz", Options{}},
		{"no dockerfile", "", "Cannot locate specified Dockerfile: Dockerfile", Options{}},
		{"target", "FROM bb AS a\n", `target stage "b" could not be found`, Options{Target: "b"}},
		{"platform", "FROM bb\n", "platform linux/s390x is not supported", Options{Platform: "linux/s390x"}},
		{"stage platform", "FROM --platform=linux/arm64 bb\n", "platform linux/arm64 is not supported", Options{}},
		{"tag", "FROM bb\n", "invalid reference format", Options{Tags: []string{"Bad:Tag!"}}},
		{"scratch only", "FROM scratch\n", "No image was generated. Is your Dockerfile empty?", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, be := newTestBuilder(t)
			files := ctx
			if tc.df != "" {
				files = append([]ctxFile{{name: "Dockerfile", data: tc.df}}, ctx...)
			}
			_, out, err := build(t, b, tc.o, files...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("build error = %v, want %q\n%s", err, tc.want, out)
			}
			if len(be.containers) != 0 {
				t.Errorf("%d containers left", len(be.containers))
			}
		})
	}
}

func TestBuildDockerignore(t *testing.T) {
	t.Parallel()
	b, be := newTestBuilder(t)
	id, _ := mustBuild(t, b, Options{},
		ctxFile{name: "Dockerfile", data: "FROM bb\nCOPY . /ctx/\n"},
		ctxFile{name: ".dockerignore", data: "*.log\n!keep.log\nsecret\n**/*.tmp\n"},
		ctxFile{name: "a.log", data: "x"}, ctxFile{name: "keep.log", data: "k"},
		ctxFile{name: "secret/key", data: "s"}, ctxFile{name: "src/x.tmp", data: "t"}, ctxFile{name: "src/main.go", data: "m"},
	)
	for p, want := range map[string]bool{
		"/ctx/Dockerfile": true, "/ctx/.dockerignore": true, "/ctx/keep.log": true, "/ctx/src/main.go": true,
		"/ctx/a.log": false, "/ctx/secret/key": false, "/ctx/secret": false, "/ctx/src/x.tmp": false,
	} {
		if _, ok := be.file(t, id, p); ok != want {
			t.Errorf("%s copied = %v, want %v", p, ok, want)
		}
	}
	// An ignored Dockerfile is still read, but not copied.
	id, _ = mustBuild(t, b, Options{},
		ctxFile{name: "Dockerfile", data: "FROM bb\nCOPY . /ctx/\n"},
		ctxFile{name: ".dockerignore", data: "Dockerfile\n.dockerignore\n"}, ctxFile{name: "f", data: "f"})
	if _, ok := be.file(t, id, "/ctx/Dockerfile"); ok {
		t.Error("an ignored Dockerfile was copied")
	}
	if _, ok := be.file(t, id, "/ctx/f"); !ok {
		t.Error("f was not copied")
	}
}

func TestBuildCopySemantics(t *testing.T) {
	t.Parallel()
	b, be := newTestBuilder(t)
	id, out := mustBuild(t, b, Options{},
		ctxFile{name: "Dockerfile", data: `FROM bb
WORKDIR /app
COPY one.txt .
COPY one.txt renamed.txt
COPY --chmod=600 one.txt /modes/
COPY --chown=1000:1000 dir /owned/
COPY link /deref
ADD arch.tar /ext/
ADD arch.tar /notar/arch.txt
COPY d* /glob/
`},
		ctxFile{name: "one.txt", data: "1"}, ctxFile{name: "dir/sub/f", data: "f"},
		ctxFile{name: "link", link: "one.txt"},
		ctxFile{name: "arch.tar", data: string(makeTar(t, ctxFile{name: "inner/x", data: "x"}))},
	)
	checks := []struct {
		path string
		want func(f fakeFile) bool
	}{
		{"/app/one.txt", func(f fakeFile) bool { return f.data == "1" }},
		{"/app/renamed.txt", func(f fakeFile) bool { return f.data == "1" }},
		{"/modes/one.txt", func(f fakeFile) bool { return f.mode == 0o600 }},
		{"/owned/sub/f", func(f fakeFile) bool { return f.uid == 1000 && f.data == "f" }},
		{"/owned", func(f fakeFile) bool { return f.dir && f.uid == 1000 }},
		{"/deref", func(f fakeFile) bool { return f.data == "1" && f.link == "" }},
		{"/ext/inner/x", func(f fakeFile) bool { return f.data == "x" }},
		{"/glob/sub/f", func(f fakeFile) bool { return f.data == "f" }},
	}
	for _, c := range checks {
		f, ok := be.file(t, id, c.path)
		if !ok || !c.want(f) {
			t.Errorf("%s = %+v, %v\n%s", c.path, f, ok, out)
		}
	}
	if f, ok := be.file(t, id, "/notar/arch.txt/inner/x"); !ok || f.data != "x" {
		t.Errorf("ADD of a tar to a path not ending in / did not extract it there: %+v %v", f, ok)
	}
}

func TestBuildArgs(t *testing.T) {
	t.Parallel()
	b, be := newTestBuilder(t)
	var env []string
	be.run = func(c *fakeContainer) (string, int) { env = c.cfg.Env; return "", 0 }
	df := ctxFile{name: "Dockerfile", data: "FROM bb\nARG X=1\nRUN echo $X\n"}
	p1, p2, x := "proxy1", "proxy2", "2"
	_, out := mustBuild(t, b, Options{BuildArgs: map[string]*string{"HTTP_PROXY": &p1, "UNUSED": nil}}, df)
	if !slices.Contains(env, "HTTP_PROXY=proxy1") || !slices.Contains(env, "X=1") {
		t.Errorf("RUN env = %v", env)
	}
	if !strings.Contains(out, "[Warning] One or more build-args [UNUSED] were not consumed\n") {
		t.Errorf("no unused warning:\n%s", out)
	}
	// A builtin proxy arg does not decide the cache; a declared one does.
	_, out = mustBuild(t, b, Options{BuildArgs: map[string]*string{"HTTP_PROXY": &p2}}, df)
	if strings.Count(out, "Using cache") != 2 {
		t.Errorf("a new proxy missed the cache:\n%s", out)
	}
	_, out = mustBuild(t, b, Options{BuildArgs: map[string]*string{"X": &x}}, df)
	if strings.Count(out, "Using cache") != 1 || !slices.Contains(env, "X=2") {
		t.Errorf("a new X used the cache (env %v):\n%s", env, out)
	}
}

func TestBuildTargetLabelsOnbuild(t *testing.T) {
	t.Parallel()
	b, be := newTestBuilder(t)
	df := ctxFile{name: "Dockerfile", data: "FROM bb AS one\nENV S=1\nONBUILD ENV TRIGGERED=yes\nFROM one\nENV S=2\n"}
	id, out := mustBuild(t, b, Options{Target: "one", Labels: map[string]string{"l": "v", "a": "$NOT"}}, df)
	img, _ := be.Image(t.Context(), id)
	if img.Config.Config.Labels["a"] != "$NOT" || img.Config.Config.Labels["l"] != "v" || !slices.Contains(img.Config.Config.Env, "S=1") {
		t.Errorf("target config = %+v", img.Config.Config)
	}
	if !strings.Contains(out, "Step 4/5 : LABEL a=$NOT\n") || !strings.Contains(out, "Step 5/5 : LABEL l=v\n") {
		t.Errorf("output:\n%s", out)
	}
	id, out = mustBuild(t, b, Options{}, df)
	img, _ = be.Image(t.Context(), id)
	if !slices.Contains(img.Config.Config.Env, "TRIGGERED=yes") || len(img.Config.Config.OnBuild) != 0 {
		t.Errorf("ONBUILD not run: %+v\n%s", img.Config.Config, out)
	}
	if !strings.Contains(out, "# Executing 1 build trigger\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestBuildScratchAndMeta(t *testing.T) {
	t.Parallel()
	b, be := newTestBuilder(t)
	id, out := mustBuild(t, b, Options{}, ctxFile{name: "Dockerfile", data: `FROM scratch
COPY f /f
SHELL ["/bin/bash", "-c"]
ENTRYPOINT echo hi
HEALTHCHECK --interval=2s CMD ["true"]
EXPOSE 80 90-91/udp
VOLUME ["/v"]
STOPSIGNAL TERM
MAINTAINER me
`}, ctxFile{name: "f", data: "f"})
	if !strings.Contains(out, "Step 1/9 : FROM scratch\n ---> \n") {
		t.Errorf("output:\n%s", out)
	}
	img, _ := be.Image(t.Context(), id)
	c := img.Config.Config
	if strings.Join(c.Entrypoint, "|") != "/bin/bash|-c|echo hi" || c.Cmd != nil || c.Healthcheck == nil ||
		c.StopSignal != "TERM" || len(c.ExposedPorts) != 3 || len(c.Volumes) != 1 || img.Config.Author != "me" {
		t.Errorf("config = %+v", img.Config)
	}
	if f, ok := be.file(t, id, "/f"); !ok || f.data != "f" {
		t.Error("COPY on scratch failed")
	}
	if n := len(img.Config.RootFS.DiffIDs); n != 1 {
		t.Errorf("%d layers, want 1 (metadata steps add none)", n)
	}
	if be.calls["CreateContainer"] != 1 {
		t.Errorf("%d containers for one COPY and metadata steps", be.calls["CreateContainer"])
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	r := &run{lex: shell.NewLex('\\')}
	env := []string{"A=1", "B=two words"}
	for in, want := range map[string]string{
		"$A":          "1",
		"${A}x":       "1x",
		"${C:-def}":   "def",
		"${A:+set}":   "set",
		`\$A`:         "$A",
		"'$A'":        "$A",
		`"$B"`:        "two words",
		"${B%words}!": "two !",
	} {
		got, err := r.expand(in, env)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if _, err := r.expand("${A", env); !errdefs.IsInvalidArgument(err) {
		t.Errorf("expand of a bad word: %v", err)
	}
}

func TestStepKey(t *testing.T) {
	t.Parallel()
	a := stepKey("sha256:1", "run\x00x", "")
	if a != stepKey("sha256:1", "run\x00x", "") {
		t.Error("stepKey is not deterministic")
	}
	for _, other := range []string{stepKey("sha256:2", "run\x00x", ""), stepKey("sha256:1", "run\x00y", ""), stepKey("sha256:1", "run\x00x", "me")} {
		if other == a {
			t.Error("different steps share a key")
		}
	}
}
