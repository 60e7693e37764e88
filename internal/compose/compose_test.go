package compose

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// project writes files (name -> content) into a new directory named dir
// and loads it with opts.
func project(t *testing.T, dir string, files map[string]string, opts LoadOptions) (*types.Project, error) {
	t.Helper()
	root := filepath.Join(t.TempDir(), dir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if opts.WorkingDir == "" {
		opts.WorkingDir = root
	}
	return Load(t.Context(), opts)
}

func mustProject(t *testing.T, yaml string) *types.Project {
	t.Helper()
	p, err := project(t, "app", map[string]string{"compose.yaml": yaml}, LoadOptions{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func TestLoadProjectName(t *testing.T) {
	const yaml = "services:\n  web:\n    image: busybox\n"
	tests := []struct {
		name, dir string
		opts      LoadOptions
		want      string
	}{
		{"directory", "My_App.v2", LoadOptions{}, "my_appv2"},
		{"flag", "app", LoadOptions{Name: "other"}, "other"},
		{"env", "app", LoadOptions{Env: []string{"COMPOSE_PROJECT_NAME=fromenv"}}, "fromenv"},
		{"flag wins over env", "app", LoadOptions{Name: "flag", Env: []string{"COMPOSE_PROJECT_NAME=fromenv"}}, "flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := project(t, tc.dir, map[string]string{"compose.yaml": yaml}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tc.want {
				t.Errorf("project name = %q, want %q", p.Name, tc.want)
			}
		})
	}
	if _, err := project(t, "app", map[string]string{"compose.yaml": yaml}, LoadOptions{Name: "Bad Name"}); err == nil {
		t.Error("Load with -p \"Bad Name\" succeeded, want an error")
	}
}

func TestLoadDefaultFiles(t *testing.T) {
	p, err := project(t, "app", map[string]string{
		"docker-compose.yml": "services:\n  old:\n    image: busybox\n",
		"compose.yaml":       "services:\n  new:\n    image: busybox\n",
	}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Services["new"]; !ok || len(p.Services) != 1 {
		t.Errorf("services = %v, want only compose.yaml's \"new\"", p.ServiceNames())
	}
	if len(p.ComposeFiles) != 1 || filepath.Base(p.ComposeFiles[0]) != "compose.yaml" {
		t.Errorf("ComposeFiles = %v, want [.../compose.yaml]", p.ComposeFiles)
	}
	_, err = project(t, "empty", map[string]string{"README": "x"}, LoadOptions{})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "no configuration file provided") {
		t.Errorf("Load without a file = %v, want not found: no configuration file provided", err)
	}
}

func TestLoadEnvAndProfiles(t *testing.T) {
	files := map[string]string{
		"compose.yaml": `services:
  web:
    image: busybox:${TAG:-1}
    env_file: web.env
    environment:
      B: from-file-overridden
  debug:
    image: busybox
    profiles: [debug]
`,
		"web.env": "A=1\nB=2\n",
	}
	p, err := project(t, "app", files, LoadOptions{Env: []string{"TAG=2"}})
	if err != nil {
		t.Fatal(err)
	}
	web := p.Services["web"]
	if web.Image != "busybox:2" {
		t.Errorf("image = %q, want busybox:2 (interpolated)", web.Image)
	}
	env := envList(web.Environment)
	if !slices.Contains(env, "A=1") || !slices.Contains(env, "B=from-file-overridden") {
		t.Errorf("environment = %v, want A=1 from env_file and B from environment:", env)
	}
	if _, ok := p.Services["debug"]; ok {
		t.Error("service debug enabled without its profile")
	}
	p, err = project(t, "app", files, LoadOptions{Profiles: []string{"debug"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Services["debug"]; !ok {
		t.Error("service debug not enabled with --profile debug")
	}
	if got := p.Services["web"].CustomLabels[LabelProject]; got != "app" {
		t.Errorf("web's project label = %q, want app", got)
	}
	p, err = project(t, "app", files, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.DisabledServices["debug"].CustomLabels[LabelService]; got != "debug" {
		t.Errorf("disabled service's service label = %q, want debug (it may still be run)", got)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"cycle", "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n",
			[]string{"dependency cycle detected", "a -> b -> c -> a"}},
		{"self cycle", "services:\n  a:\n    image: x\n    depends_on: [a]\n", []string{"dependency cycle detected", "a -> a"}},
		{"unknown service key", "services:\n  web:\n    image: x\n    imagee: y\n", []string{"services.web", `"imagee"`}},
		{"unknown nested key", "services:\n  web:\n    image: x\n    healthcheck:\n      tst: [CMD, x]\n", []string{"services.web.healthcheck", `"tst"`}},
		{"unknown top-level key", "servicess:\n  web:\n    image: x\n", []string{"top level", `"servicess"`}},
		{"undefined dependency", "services:\n  web:\n    image: x\n    depends_on: [db]\n", []string{`"web"`, `"db"`}},
		{"no image", "services:\n  web:\n    command: [x]\n", []string{`"web"`, "image"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := project(t, "app", map[string]string{"compose.yaml": tc.yaml}, LoadOptions{})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error %q does not mention %s", err, w)
				}
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("Load error %v is not ErrInvalidArgument", err)
			}
		})
	}
}

func TestCheckDependenciesCycle(t *testing.T) {
	// compose-go finds cycles too; checkDependencies must on its own.
	p := &types.Project{Name: "p", Services: types.Services{
		"a": {Name: "a", WorkloadSpec: types.WorkloadSpec{DependsOn: types.DependsOnConfig{"b": {Condition: "service_started", Required: true}}}},
		"b": {Name: "b", WorkloadSpec: types.WorkloadSpec{DependsOn: types.DependsOnConfig{"a": {Condition: "service_started", Required: true}}}},
	}}
	err := checkDependencies(p)
	if err == nil || !strings.Contains(err.Error(), "a -> b -> a") {
		t.Errorf("checkDependencies = %v, want cycle a -> b -> a", err)
	}
}

func TestServiceHash(t *testing.T) {
	p := mustProject(t, "services:\n  web:\n    image: busybox\n    command: [sleep, '1']\n    deploy:\n      replicas: 2\n")
	base := p.Services["web"]
	h0, err := ServiceHash(base)
	if err != nil {
		t.Fatal(err)
	}
	if h1, _ := ServiceHash(base); h1 != h0 || len(h0) != 64 {
		t.Fatalf("ServiceHash not stable: %s, %s", h0, h1)
	}
	same := func(name string, change func(*types.ServiceConfig)) {
		s := base
		if base.Deploy != nil {
			d := *base.Deploy
			s.Deploy = &d
		}
		change(&s)
		if h, _ := ServiceHash(s); h != h0 {
			t.Errorf("changing %s changed the hash", name)
		}
	}
	differs := func(name string, change func(*types.ServiceConfig)) {
		s := base
		change(&s)
		if h, _ := ServiceHash(s); h == h0 {
			t.Errorf("changing %s kept the hash", name)
		}
	}
	same("scale", func(s *types.ServiceConfig) { s.SetScale(5) })
	same("depends_on", func(s *types.ServiceConfig) {
		s.DependsOn = types.DependsOnConfig{"db": {Condition: "service_healthy"}}
	})
	same("build", func(s *types.ServiceConfig) { s.Build = &types.BuildConfig{Context: "."} })
	same("pull_policy", func(s *types.ServiceConfig) { s.PullPolicy = "always" })
	same("profiles", func(s *types.ServiceConfig) { s.Profiles = []string{"x"} })
	same("custom labels", func(s *types.ServiceConfig) { s.CustomLabels = types.Labels{"a": "b"} })
	differs("command", func(s *types.ServiceConfig) { s.Command = []string{"sleep", "2"} })
	differs("image", func(s *types.ServiceConfig) { s.Image = "busybox:2" })
	differs("environment", func(s *types.ServiceConfig) { v := "1"; s.Environment = types.MappingWithEquals{"X": &v} })
	if *base.Deploy.Replicas != 2 {
		t.Errorf("ServiceHash changed the caller's deploy.replicas to %v", base.Deploy.Replicas)
	}
}

func TestCreateRequest(t *testing.T) {
	p := mustProject(t, `services:
  web:
    image: busybox
    command: [httpd, -f]
    environment: [A=1]
    labels: [tier=front]
    ports: ["8080:80"]
    volumes: [data:/data, ./site:/www:ro]
    healthcheck:
      test: [CMD, wget, -q, http://localhost/]
      interval: 1s
      retries: 3
    restart: on-failure:3
    init: true
  db:
    image: busybox
    networks:
      back:
        aliases: [database]
networks:
  back: {}
volumes:
  data: {}
`)
	s := p.Services["web"]
	req, err := createRequest(p, s, createSpec{number: 2, name: "app-web-2", hash: "h", imageID: "sha256:i", serviceAlias: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		LabelProject: "app", LabelService: "web", LabelNumber: "2", LabelOneoff: "False", LabelConfigHash: "h",
		LabelImage: "sha256:i", LabelVersion: Version, LabelWorkingDir: p.WorkingDir,
		LabelConfigFiles: filepath.Join(p.WorkingDir, "compose.yaml"), "tier": "front",
	}
	for k, v := range want {
		if got := req.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	if got := string(req.HostConfig.NetworkMode); got != "app_default" {
		t.Errorf("network mode = %q, want app_default", got)
	}
	ep := req.NetworkingConfig.EndpointsConfig["app_default"]
	if ep == nil || !slices.Equal(ep.Aliases, []string{"app-web-2", "web"}) {
		t.Errorf("endpoint = %+v, want aliases [app-web-2 web]", ep)
	}
	if !slices.Equal(req.Cmd, []string{"httpd", "-f"}) || !slices.Contains(req.Env, "A=1") {
		t.Errorf("cmd %v env %v", req.Cmd, req.Env)
	}
	if req.HostConfig.RestartPolicy.Name != container.RestartPolicyOnFailure || req.HostConfig.RestartPolicy.MaximumRetryCount != 3 {
		t.Errorf("restart policy = %+v, want on-failure:3", req.HostConfig.RestartPolicy)
	}
	if req.HostConfig.Init == nil || !*req.HostConfig.Init {
		t.Error("init not set")
	}
	if hc := req.Healthcheck; hc == nil || hc.Test[0] != "CMD" || hc.Interval.Seconds() != 1 || hc.Retries != 3 {
		t.Errorf("healthcheck = %+v", hc)
	}
	if len(req.HostConfig.PortBindings) != 1 {
		t.Errorf("port bindings = %v, want 80/tcp -> 8080", req.HostConfig.PortBindings)
	}
	for p, b := range req.HostConfig.PortBindings {
		if p.String() != "80/tcp" || b[0].HostPort != "8080" {
			t.Errorf("port binding %s -> %+v, want 80/tcp -> 8080", p, b)
		}
	}
	if len(req.HostConfig.Mounts) != 1 || req.HostConfig.Mounts[0].Source != "app_data" || req.HostConfig.Mounts[0].Target != "/data" {
		t.Errorf("mounts = %+v, want volume app_data at /data", req.HostConfig.Mounts)
	}
	if wantBind := filepath.Join(p.WorkingDir, "site") + ":/www:ro"; !slices.Equal(req.HostConfig.Binds, []string{wantBind}) {
		t.Errorf("binds = %v, want [%s]", req.HostConfig.Binds, wantBind)
	}
	db, err := createRequest(p, p.Services["db"], createSpec{number: 1, name: "app-db-1", serviceAlias: true})
	if err != nil {
		t.Fatal(err)
	}
	if ep := db.NetworkingConfig.EndpointsConfig["app_back"]; ep == nil || !slices.Equal(ep.Aliases, []string{"app-db-1", "db", "database"}) {
		t.Errorf("db endpoint = %+v, want aliases [app-db-1 db database] on app_back", ep)
	}
	run, err := createRequest(p, s, createSpec{number: 1, name: "app-web-run-x", oneoff: true, slug: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Labels[LabelOneoff] != "True" || slices.Contains(run.NetworkingConfig.EndpointsConfig["app_default"].Aliases, "web") {
		t.Errorf("one-off: labels %v aliases %v", run.Labels, run.NetworkingConfig.EndpointsConfig["app_default"].Aliases)
	}
}

func TestContainerNaming(t *testing.T) {
	s := types.ServiceConfig{Name: "web"}
	if got := ContainerName("app", s, 3); got != "app-web-3" {
		t.Errorf("ContainerName = %q, want app-web-3", got)
	}
	s.ContainerName = "custom"
	if got := ContainerName("app", s, 1); got != "custom" {
		t.Errorf("ContainerName with container_name = %q, want custom", got)
	}
	if got := ImageName("app", types.ServiceConfig{Name: "api"}); got != "app-api" {
		t.Errorf("ImageName = %q, want app-api", got)
	}
}

const appYAML = `services:
  backend:
    image: busybox
  web:
    image: busybox
    depends_on: [backend]
    healthcheck:
      test: [CMD, "true"]
  job:
    image: busybox
    labels: {test.exit: "0"}
    depends_on:
      web: {condition: service_healthy}
  after:
    image: busybox
    depends_on:
      job: {condition: service_completed_successfully}
`

func TestUpScaleAndIdempotence(t *testing.T) {
	f := newFake()
	c := New(f, Options{})
	p := mustProject(t, appYAML)
	ctx := t.Context()
	if err := c.Up(ctx, p, UpOptions{Scale: map[string]int{"backend": 3}}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	want := []string{"app-after-1", "app-backend-1", "app-backend-2", "app-backend-3", "app-job-1", "app-web-1"}
	if got := f.names(); !slices.Equal(got, want) {
		t.Fatalf("containers = %v, want %v", got, want)
	}
	if got := f.ops("network create"); !slices.Equal(got, []string{"network create app_default"}) {
		t.Errorf("network creates = %v, want one of app_default", got)
	}
	// Up again: nothing changes but the exited job, which starts again.
	creates := len(f.ops("create "))
	if err := c.Up(ctx, p, UpOptions{Scale: map[string]int{"backend": 3}}); err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if n := len(f.ops("create ")); n != creates {
		t.Errorf("second Up created %d containers, want none", n-creates)
	}
	if n := len(f.ops("network create")); n != 1 {
		t.Errorf("second Up created networks: %v", f.ops("network create"))
	}
	// Scale down: the highest numbers go.
	if err := c.Up(ctx, p, UpOptions{Scale: map[string]int{"backend": 1}}); err != nil {
		t.Fatalf("Up --scale backend=1: %v", err)
	}
	if got := f.names(); !slices.Equal(got, []string{"app-after-1", "app-backend-1", "app-job-1", "app-web-1"}) {
		t.Errorf("after scale down: %v", got)
	}
	// A changed service is recreated, the others kept.
	p2 := mustProject(t, strings.Replace(appYAML, "  backend:\n    image: busybox\n", "  backend:\n    image: busybox\n    command: [sleep, '9']\n", 1))
	before := f.byName("app-web-1").id
	oldBackend := f.byName("app-backend-1").id
	if err := c.Up(ctx, p2, UpOptions{}); err != nil {
		t.Fatalf("Up changed: %v", err)
	}
	if f.byName("app-backend-1").id == oldBackend {
		t.Error("backend with a changed command was not recreated")
	}
	if f.byName("app-web-1").id != before {
		t.Error("unchanged web was recreated")
	}
}

func TestUpOrder(t *testing.T) {
	f := newFake()
	c := New(f, Options{})
	p := mustProject(t, appYAML)
	if err := c.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	order := func(a, b string) {
		t.Helper()
		ia, ib := f.index(a), f.index(b)
		if ia < 0 || ib < 0 || ia > ib {
			t.Errorf("%q (at %d) not before %q (at %d) in %v", a, ia, b, ib, f.log)
		}
	}
	order("start app-backend-1", "start app-web-1")
	order("healthy app-web-1", "start app-job-1")
	order("exit app-job-1 0", "start app-after-1")
	order("create app-backend-1", "create app-web-1")
}

func TestUpDependencyFailure(t *testing.T) {
	f := newFake()
	var mu sync.Mutex
	var events []Event
	c := New(f, Options{Progress: func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	p := mustProject(t, strings.Replace(appYAML, `test.exit: "0"`, `test.exit: "3"`, 1))
	err := c.Up(t.Context(), p, UpOptions{})
	if err == nil || !strings.Contains(err.Error(), `service "job" didn't complete successfully: exit 3`) {
		t.Fatalf("Up = %v, want job's failure", err)
	}
	if f.index("start app-after-1") >= 0 {
		t.Error("after was started although job failed")
	}
	// Healthy without a healthcheck is an error naming the container.
	f2 := newFake()
	p2 := mustProject(t, "services:\n  a:\n    image: busybox\n  b:\n    image: busybox\n    depends_on:\n      a: {condition: service_healthy}\n")
	err = New(f2, Options{}).Up(t.Context(), p2, UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "app-a-1 has no healthcheck") {
		t.Errorf("Up = %v, want app-a-1 has no healthcheck", err)
	}
}

func TestUpPullsAndBuilds(t *testing.T) {
	f := newFake()
	c := New(f, Options{})
	p, err := project(t, "app", map[string]string{
		"compose.yaml": "services:\n  a:\n    image: alpine\n  b:\n    build: ./b\n  c:\n    image: alpine\n",
		"b/Dockerfile": "FROM busybox\n", "b/keep.txt": "x", "b/skip.log": "x", "b/.dockerignore": "*.log\n",
	}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if got := f.ops("pull "); !slices.Equal(got, []string{"pull alpine"}) {
		t.Errorf("pulls = %v, want alpine once", got)
	}
	if len(f.builds) != 1 || f.builds[0].Tags[0] != "app-b" || f.builds[0].Dockerfile != "Dockerfile" {
		t.Fatalf("builds = %+v, want one of app-b", f.builds)
	}
	files := tarNames(t, f.builds[0])
	if !slices.Contains(files, "Dockerfile") || !slices.Contains(files, "keep.txt") || slices.Contains(files, "skip.log") {
		t.Errorf("build context = %v, want Dockerfile and keep.txt, not skip.log", files)
	}
	// Without /build the error says so.
	f2 := newFake()
	f2.noBuild = true
	err = New(f2, Options{}).Up(t.Context(), p, UpOptions{})
	if err == nil || !errdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "cannot build") {
		t.Errorf("Up without /build = %v, want a not-implemented build error", err)
	}
}

func TestDown(t *testing.T) {
	f := newFake()
	c := New(f, Options{})
	p := mustProject(t, appYAML+"    volumes: [data:/d]\nvolumes:\n  data: {}\n")
	ctx := t.Context()
	if err := c.Up(ctx, p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if _, ok := f.volumes["app_data"]; !ok {
		t.Fatalf("volume app_data not created: %v", f.volumes)
	}
	// A container of another project stays.
	other := mustProject(t, "name: other\nservices:\n  x:\n    image: busybox\n")
	if err := c.Up(ctx, other, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Down(ctx, &types.Project{Name: "app", Services: p.Services}, DownOptions{Volumes: true}); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if got := f.names(); !slices.Equal(got, []string{"other-x-1"}) {
		t.Errorf("containers after down = %v, want only other-x-1", got)
	}
	if _, ok := f.networks["app_default"]; ok {
		t.Error("network app_default left behind")
	}
	if _, ok := f.networks["other_default"]; !ok {
		t.Error("network other_default removed")
	}
	if len(f.volumes) != 0 {
		t.Errorf("volumes left: %v", f.volumes)
	}
	// Dependents go first.
	if ia, ib := f.index("remove app-after-1"), f.index("remove app-backend-1"); ia > ib {
		t.Errorf("backend removed before after: %v", f.log)
	}
	// Down by name alone removes everything labelled.
	if err := c.Down(ctx, &types.Project{Name: "other"}, DownOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(f.names()) != 0 || len(f.networks) != 0 {
		t.Errorf("left after down -p other: %v %v", f.names(), f.networks)
	}
}

func TestRunOneOff(t *testing.T) {
	f := newFake()
	c := New(f, Options{})
	p := mustProject(t, "services:\n  db:\n    image: busybox\n  cli:\n    image: busybox\n    profiles: [tools]\n    ports: ['80:80']\n    depends_on: [db]\n")
	id, name, err := c.CreateOneOff(t.Context(), p, RunOptions{Service: "cli", Command: []string{"echo", "hi"}, Env: []string{"X=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "app-cli-run-") || len(name) != len("app-cli-run-")+12 {
		t.Errorf("one-off name = %q", name)
	}
	ct := f.byName(name)
	if ct == nil || ct.id != id || ct.req.Labels[LabelOneoff] != "True" || ct.req.Labels[LabelProject] != "app" || !slices.Equal(ct.req.Cmd, []string{"echo", "hi"}) {
		t.Fatalf("one-off container = %+v", ct)
	}
	if len(ct.req.HostConfig.PortBindings) != 0 || !slices.Contains(ct.req.Env, "X=1") {
		t.Errorf("one-off ports %v env %v", ct.req.HostConfig.PortBindings, ct.req.Env)
	}
	if f.index("start app-db-1") < 0 {
		t.Error("run did not start its dependency db")
	}
	// ps leaves one-offs out unless asked.
	list, err := c.Containers(t.Context(), "app", ContainerFilter{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || Name(list[0]) != "app-db-1" {
		t.Errorf("Containers = %v, want app-db-1 only", list)
	}
}

func TestSelectServicesUnknown(t *testing.T) {
	p := mustProject(t, "services:\n  web:\n    image: busybox\n")
	err := New(newFake(), Options{}).Up(context.Background(), p, UpOptions{Services: []string{"nope"}})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "no such service: nope") {
		t.Errorf("Up nope = %v, want no such service: nope", err)
	}
	var e errNoSuchService
	if !errors.As(err, &e) {
		t.Errorf("Up nope error %T does not unwrap to errNoSuchService", err)
	}
}

// tarNames lists the entries of a build request's context.
func tarNames(t *testing.T, req BuildRequest) []string {
	t.Helper()
	tr := tar.NewReader(req.Context)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}
