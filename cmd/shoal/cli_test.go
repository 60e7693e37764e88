package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
)

// parseRun parses a run command line into its create request.
func parseRun(t *testing.T, args ...string) (*containerConfig, *runOptions, error) {
	t.Helper()
	cl := &cli{}
	o := &runOptions{}
	cmd := cl.runCmd(o)
	if err := cmd.ParseFlags(args); err != nil {
		return nil, nil, err
	}
	rest := cmd.Flags().Args()
	req, err := o.parse(cmd.Flags(), rest[0], rest[1:])
	return req, o, err
}

func TestParseRunFlags(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# comment\nFROM_FILE=1\n\nSPACE= x \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PASSED", "through")
	req, o, err := parseRun(t,
		"-d", "--rm", "--name", "web", "-e", "A=1", "-e", "PASSED", "--env-file", envFile, "-w", "/srv", "-u", "1000:1000",
		"--entrypoint", "/bin/sh", "-h", "box", "-l", "k=v", "--init", "-v", "/host:/ctr:ro", "-v", "/anon",
		"--mount", "type=tmpfs,target=/scratch,tmpfs-size=64m", "--tmpfs", "/run:size=1m", "--read-only",
		"-m", "512m", "--memory-swap", "-1", "--cpus", "1.5", "--cpu-shares", "512", "--cpuset-cpus", "0-1",
		"--pids-limit", "100", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged",
		"--security-opt", "no-new-privileges", "--ulimit", "nofile=1024:2048", "--stop-signal", "SIGINT",
		"--stop-timeout", "5", "--device", "/dev/fuse", "--group-add", "wheel", "--sysctl", "net.core.somaxconn=1024",
		"--pid", "host", "--ipc", "private", "--shm-size", "128m", "--network", "none", "--add-host", "db:10.0.0.2",
		"--dns", "1.1.1.1", "--health-cmd", "true", "--health-interval", "5s", "--health-retries", "3",
		"--health-timeout", "2s", "--health-start-period", "1s", "--log-driver", "json-file", "--log-opt", "max-size=1m",
		"--runtime", "runc", "--restart", "no", "-p", "127.0.0.1:8080:80/tcp", "--expose", "9000",
		"bb", "-c", "echo hi")
	if err != nil {
		t.Fatal(err)
	}
	if !o.detach || o.name != "web" {
		t.Errorf("detach %v name %q", o.detach, o.name)
	}
	c, h := req.Config, req.HostConfig
	if c.Image != "bb" || !reflect.DeepEqual([]string(c.Cmd), []string{"-c", "echo hi"}) || !reflect.DeepEqual([]string(c.Entrypoint), []string{"/bin/sh"}) {
		t.Errorf("image %q cmd %q entrypoint %q", c.Image, c.Cmd, c.Entrypoint)
	}
	if want := []string{"FROM_FILE=1", "SPACE= x ", "A=1", "PASSED=through"}; !reflect.DeepEqual(c.Env, want) {
		t.Errorf("Env = %q, want %q", c.Env, want)
	}
	if c.WorkingDir != "/srv" || c.User != "1000:1000" || c.Hostname != "box" || c.Labels["k"] != "v" || c.StopSignal != "SIGINT" ||
		c.StopTimeout == nil || *c.StopTimeout != 5 {
		t.Errorf("config %+v", c)
	}
	if _, ok := c.Volumes["/anon"]; !ok || len(h.Binds) != 1 || h.Binds[0] != "/host:/ctr:ro" {
		t.Errorf("volumes %v binds %v", c.Volumes, h.Binds)
	}
	if len(h.Mounts) != 1 || h.Mounts[0].Type != mount.TypeTmpfs || h.Mounts[0].Target != "/scratch" || h.Mounts[0].TmpfsOptions.SizeBytes != 64<<20 {
		t.Errorf("mounts %+v", h.Mounts)
	}
	if h.Tmpfs["/run"] != "size=1m" || !h.ReadonlyRootfs || !h.AutoRemove || h.Init == nil || !*h.Init || !h.Privileged {
		t.Errorf("tmpfs %v readonly %v autoremove %v init %v", h.Tmpfs, h.ReadonlyRootfs, h.AutoRemove, h.Init)
	}
	if h.Memory != 512<<20 || h.MemorySwap != -1 || h.NanoCPUs != 1_500_000_000 || h.CPUShares != 512 || h.CpusetCpus != "0-1" ||
		h.PidsLimit == nil || *h.PidsLimit != 100 || h.ShmSize != 128<<20 {
		t.Errorf("resources %+v", h.Resources)
	}
	if !reflect.DeepEqual(h.CapAdd, []string{"NET_ADMIN"}) || !reflect.DeepEqual(h.CapDrop, []string{"ALL"}) ||
		!reflect.DeepEqual(h.SecurityOpt, []string{"no-new-privileges"}) || !reflect.DeepEqual(h.GroupAdd, []string{"wheel"}) {
		t.Errorf("caps %v %v secopt %v groups %v", h.CapAdd, h.CapDrop, h.SecurityOpt, h.GroupAdd)
	}
	if len(h.Ulimits) != 1 || h.Ulimits[0].Name != "nofile" || h.Ulimits[0].Soft != 1024 || h.Ulimits[0].Hard != 2048 {
		t.Errorf("ulimits %+v", h.Ulimits)
	}
	if len(h.Devices) != 1 || h.Devices[0] != (container.DeviceMapping{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"}) {
		t.Errorf("devices %+v", h.Devices)
	}
	if h.Sysctls["net.core.somaxconn"] != "1024" || h.PidMode != "host" || h.IpcMode != "private" || h.NetworkMode != "none" {
		t.Errorf("sysctls %v pid %q ipc %q net %q", h.Sysctls, h.PidMode, h.IpcMode, h.NetworkMode)
	}
	if !reflect.DeepEqual(h.ExtraHosts, []string{"db:10.0.0.2"}) || len(h.DNS) != 1 || h.DNS[0] != netip.MustParseAddr("1.1.1.1") {
		t.Errorf("hosts %v dns %v", h.ExtraHosts, h.DNS)
	}
	hc := c.Healthcheck
	if hc == nil || !reflect.DeepEqual(hc.Test, []string{"CMD-SHELL", "true"}) || hc.Interval != 5*time.Second || hc.Retries != 3 ||
		hc.Timeout != 2*time.Second || hc.StartPeriod != time.Second {
		t.Errorf("healthcheck %+v", hc)
	}
	if h.LogConfig.Type != "json-file" || h.LogConfig.Config["max-size"] != "1m" || h.Runtime != "runc" || h.RestartPolicy.Name != "no" {
		t.Errorf("log %+v runtime %q restart %+v", h.LogConfig, h.Runtime, h.RestartPolicy)
	}
	p80 := network.MustParsePort("80/tcp")
	if b := h.PortBindings[p80]; len(b) != 1 || b[0].HostPort != "8080" || b[0].HostIP != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("port bindings %v", h.PortBindings)
	}
	if _, ok := c.ExposedPorts[network.MustParsePort("9000/tcp")]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	// Not detached, not -i: stdout and stderr attached.
	if !c.AttachStdout || !c.AttachStderr || c.AttachStdin || c.OpenStdin {
		t.Errorf("attach %v %v %v open %v", c.AttachStdin, c.AttachStdout, c.AttachStderr, c.OpenStdin)
	}
}

func TestParseRunDefaults(t *testing.T) {
	req, _, err := parseRun(t, "-it", "bb")
	if err != nil {
		t.Fatal(err)
	}
	c, h := req.Config, req.HostConfig
	if !c.Tty || !c.OpenStdin || !c.AttachStdin || !c.StdinOnce || c.Cmd != nil || c.Entrypoint != nil {
		t.Errorf("-it config %+v", c)
	}
	if h.NetworkMode != "default" || h.Init != nil || c.StopTimeout != nil || c.Healthcheck != nil {
		t.Errorf("defaults: network %q init %v stop-timeout %v health %v", h.NetworkMode, h.Init, c.StopTimeout, c.Healthcheck)
	}
	req, _, err = parseRun(t, "--entrypoint=", "--no-healthcheck", "-a", "stderr", "bb")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual([]string(req.Config.Entrypoint), []string{""}) || !reflect.DeepEqual(req.Config.Healthcheck.Test, []string{"NONE"}) ||
		req.Config.AttachStdout || !req.Config.AttachStderr {
		t.Errorf("--entrypoint= %q, --no-healthcheck %+v, -a stderr %v/%v", req.Config.Entrypoint, req.Config.Healthcheck, req.Config.AttachStdout, req.Config.AttachStderr)
	}
}

func TestParseRunErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rm", "--restart", "always", "bb"}, "conflicting options: cannot specify both --restart and --rm"},
		{[]string{"--no-healthcheck", "--health-cmd", "x", "bb"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--pull", "sometimes", "bb"}, `invalid pull option: 'sometimes'`},
		{[]string{"--gpus", "all", "bb"}, "the --gpus flag is not supported by shoal yet"},
		{[]string{"--link-local-ip", "169.254.1.1", "bb"}, "the --link-local-ip flag is not supported by shoal yet"},
		{[]string{"--restart", ":3", "bb"}, "invalid restart policy format: no policy provided before colon"},
		{[]string{"-v", "relative", "bb"}, "mount path must be absolute"},
		{[]string{"--pid", "bogus", "bb"}, "--pid: invalid PID mode"},
		{[]string{"--memory-swappiness", "101", "bb"}, "Valid memory swappiness range is 0-100"},
		{[]string{"--device", "/dev/x:rw:bad", "bb"}, "bad mode specified: bad"},
		{[]string{"--security-opt", "seccomp", "bb"}, `invalid --security-opt: "seccomp"`},
		{[]string{"-p", "8000-8002:80-81", "bb"}, "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"},
		{[]string{"--mount", "type=bind,src=/x", "bb"}, "target is required"},
	} {
		_, _, err := parseRun(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: error %v, want %q", tc.args, err, tc.want)
		}
	}
	// Flag values are checked as they are parsed.
	for _, args := range [][]string{{"-m", "lots", "bb"}, {"--cpus", "x", "bb"}, {"--ulimit", "nofile", "bb"}, {"-e", "=x", "bb"}, {"-a", "stdfoo", "bb"}} {
		if _, _, err := parseRun(t, args...); err == nil {
			t.Errorf("run %q: no error", args)
		}
	}
}

func fixedContainers(now time.Time) []container.Summary {
	return []container.Summary{
		{
			ID: "0123456789abcdef0123456789abcdef", Image: "docker.io/library/busybox:latest", ImageID: "sha256:ffff",
			Command: "sh -c 'echo a long command line'", Created: now.Add(-2 * time.Hour).Unix(),
			Status: "Up 2 hours", State: "running", Names: []string{"/web"},
			Ports: []container.PortSummary{
				{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
				{PrivatePort: 9000, Type: "tcp"}, {PrivatePort: 9001, Type: "tcp"},
			},
			Labels: map[string]string{"b": "2", "a": "1"},
		},
		{
			ID: "fedcba9876543210", Image: "sha256:abcdef0123456789abcdef", ImageID: "sha256:abcdef0123456789abcdef",
			Command: "true", Created: now.Add(-3 * 24 * time.Hour).Unix(), Status: "Exited (0) 3 days ago", State: "exited",
			Names: []string{"/other/link", "/db"},
		},
	}
}

func renderPs(t *testing.T, format string, trunc bool, quiet bool) string {
	t.Helper()
	l := lister{format: format, table: defaultContainerTable, header: containerHeader}
	if quiet {
		l.quiet = "{{.ID}}"
	}
	var rows []any
	for _, s := range fixedContainers(time.Now()) {
		rows = append(rows, &containerRow{c: s, trunc: trunc})
	}
	var b bytes.Buffer
	if err := l.write(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPsTable(t *testing.T) {
	got := renderPs(t, "", true, false)
	want := "" +
		"CONTAINER ID   IMAGE            COMMAND                  CREATED       STATUS                  PORTS                                 NAMES\n" +
		"0123456789ab   busybox:latest   \"sh -c 'echo a long …\"   2 hours ago   Up 2 hours              9000-9001/tcp, 0.0.0.0:8080->80/tcp   web\n" +
		"fedcba987654   abcdef012345     \"true\"                   3 days ago    Exited (0) 3 days ago                                         db\n"
	if got != want {
		t.Errorf("ps table:\n%s\nwant:\n%s", got, want)
	}
	if got := renderPs(t, "", true, true); got != "0123456789ab\nfedcba987654\n" {
		t.Errorf("ps -q = %q", got)
	}
	if got := renderPs(t, "{{.Names}}|{{.Image}}|{{.Labels}}|{{.Label \"b\"}}", false, false); got !=
		"web|docker.io/library/busybox:latest|a=1,b=2|2\nother/link,db|sha256:abcdef0123456789abcdef||\n" {
		t.Errorf("ps --no-trunc --format = %q", got)
	}
	if got := renderPs(t, "table {{.ID}}\\t{{upper .State}}", true, false); got != "CONTAINER ID   STATE\n0123456789ab   RUNNING\nfedcba987654   EXITED\n" {
		t.Errorf("ps --format table = %q", got)
	}
	got = renderPs(t, "json", true, false)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"Command":"\"sh -c 'echo a long …\"","CreatedAt":`) || !strings.Contains(lines[0], `"Names":"web"`) ||
		!strings.Contains(lines[0], `"Platform":null`) {
		t.Errorf("ps --format json = %s", got)
	}
}

func TestTemplateFuncs(t *testing.T) {
	data := map[string]any{"L": []string{"a", "b"}, "S": "Hello World", "M": map[string]int{"x": 2, "y": 1}, "E": ""}
	for _, tc := range []struct{ tmpl, want string }{
		{`{{join .L ","}}`, "a,b"},
		{`{{join .M "+"}}`, "1+2"},
		{`{{json .L}}`, `["a","b"]`},
		{`{{json "<&>"}}`, `"<&>"`},
		{`{{upper .S}} {{lower .S}} {{title "foo bar"}}`, "HELLO WORLD hello world Foo Bar"},
		{`{{truncate .S 5}}|{{truncate "ab" 5}}`, "Hello|ab"},
		{`[{{pad .S 1 2}}][{{pad .E 1 2}}]`, "[ Hello World  ][]"},
		{`{{index (split "a:b" ":") 1}}`, "b"},
	} {
		tmpl, err := parseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("parse %q: %v", tc.tmpl, err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, data); err != nil {
			t.Fatalf("execute %q: %v", tc.tmpl, err)
		}
		if b.String() != tc.want {
			t.Errorf("%s = %q, want %q", tc.tmpl, b.String(), tc.want)
		}
	}
	if _, err := parseTemplate("{{.Bad"); err == nil || !strings.HasPrefix(err.Error(), "template parsing error:") {
		t.Errorf("bad template: %v", err)
	}
}

func TestInspector(t *testing.T) {
	raw := [][]byte{[]byte(`{"Id":"a","Extra":{"K":1}}` + "\n"), []byte(`{"Id":"b"}`)}
	in, _ := newInspector("")
	for _, r := range raw {
		_ = in.add(nil, r)
	}
	var b bytes.Buffer
	if err := in.flush(&b); err != nil {
		t.Fatal(err)
	}
	want := "[\n    {\n        \"Id\": \"a\",\n        \"Extra\": {\n            \"K\": 1\n        }\n    },\n    {\n        \"Id\": \"b\"\n    }\n]\n"
	if b.String() != want {
		t.Errorf("indented inspect:\n%s\nwant:\n%s", b.String(), want)
	}
	// A template on the typed value, falling back to the raw JSON for a
	// field the type lacks.
	in, _ = newInspector("{{.Extra.K}}")
	type typed struct{ ID string }
	if err := in.add(typed{ID: "a"}, raw[0]); err != nil {
		t.Fatal(err)
	}
	in2, _ := newInspector("{{.ID}}")
	_ = in2.add(typed{ID: "a"}, raw[0])
	b.Reset()
	_ = in.flush(&b)
	_ = in2.flush(&b)
	if b.String() != "1\na\n" {
		t.Errorf("template inspect = %q", b.String())
	}
	if _, err := newInspector("{{"); err == nil {
		t.Error("bad inspect template: no error")
	}
}

func TestDisplayPorts(t *testing.T) {
	ip := netip.MustParseAddr("0.0.0.0")
	for _, tc := range []struct {
		ports []container.PortSummary
		want  string
	}{
		{nil, ""},
		{[]container.PortSummary{{PrivatePort: 80, Type: "tcp"}}, "80/tcp"},
		{[]container.PortSummary{{IP: ip, PrivatePort: 80, PublicPort: 80, Type: "tcp"}, {IP: ip, PrivatePort: 81, PublicPort: 81, Type: "tcp"}}, "0.0.0.0:80-81->80-81/tcp"},
		{[]container.PortSummary{{PrivatePort: 53, Type: "udp"}, {IP: netip.MustParseAddr("::"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"}}, "53/udp, [::]:8080->80/tcp"},
	} {
		if got := displayPorts(tc.ports); got != tc.want {
			t.Errorf("displayPorts(%v) = %q, want %q", tc.ports, got, tc.want)
		}
	}
}

func TestFamiliarImage(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                                        "busybox",
		"docker.io/library/busybox:latest":               "busybox:latest",
		"localhost:5000/x/y:1":                           "localhost:5000/x/y:1",
		"busybox@sha256:" + strings.Repeat("a", 64):      "busybox",
		"busybox:1.36@sha256:" + strings.Repeat("a", 64): "busybox:1.36",
		"Not/Valid":                                      "Not/Valid",
	} {
		if got := familiarImage(in); got != want {
			t.Errorf("familiarImage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{"": {16, 17}, "ctrl-a,x": {1, 'x'}, "ctrl-@,ctrl-[": {0, 27}} {
		got, err := parseDetachKeys(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := parseDetachKeys("ctrl-1"); err == nil {
		t.Error("parseDetachKeys(ctrl-1): no error")
	}
	if _, err := parseDetachKeys("ctrl-1"); err == nil || err.Error() != "invalid detach keys (ctrl-1): unknown character: 'ctrl-1'" {
		t.Errorf("parseDetachKeys(ctrl-1): %v", err)
	}
}

func TestDisplayMessages(t *testing.T) {
	stream := `{"status":"Pulling from library/bb","id":"latest"}
{"status":"Pulling fs layer","progressDetail":{},"id":"aaa"}
{"status":"Downloading","progressDetail":{"current":5,"total":10},"id":"aaa"}
{"status":"Download complete","progressDetail":{},"id":"aaa"}
{"status":"Pull complete","progressDetail":{},"id":"aaa"}
{"stream":"Loaded image: bb:latest\n"}
{"aux":{"Tag":"v1"}}
{"status":"Digest: sha256:x"}
`
	var b bytes.Buffer
	var aux []string
	err := displayMessages(strings.NewReader(stream), &b, false, func(m json.RawMessage) { aux = append(aux, string(m)) })
	want := "latest: Pulling from library/bb\naaa: Pulling fs layer\naaa: Download complete\naaa: Pull complete\nLoaded image: bb:latest\nDigest: sha256:x\n"
	if err != nil || b.String() != want {
		t.Errorf("plain display = %q, %v\nwant %q", b.String(), err, want)
	}
	if len(aux) != 1 || aux[0] != `{"Tag":"v1"}` {
		t.Errorf("aux = %q", aux)
	}
	err = displayMessages(strings.NewReader(`{"status":"x"}`+"\n"+`{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}`), io.Discard, false, nil)
	if err == nil || err.Error() != "manifest unknown" {
		t.Errorf("error message: %v", err)
	}
	// On a terminal the layer lines are redrawn in place.
	b.Reset()
	if err := displayMessages(strings.NewReader(stream), &b, true, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[1A\r\x1b[2Kaaa: Downloading [=========================>") {
		t.Errorf("terminal display = %q", b.String())
	}
}

func TestCpArgsAndTar(t *testing.T) {
	for in, want := range map[string]cpArg{
		"web:/etc/hosts": {container: "web", path: "/etc/hosts"},
		"/abs:colon":     {path: "/abs:colon"},
		"./rel:x":        {path: "./rel:x"},
		"file":           {path: "file"},
		"-":              {path: "-"},
		"dir/a:b":        {path: "dir/a:b"},
	} {
		if got := splitCpArg(in); got != want {
			t.Errorf("splitCpArg(%q) = %+v, want %+v", in, got, want)
		}
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(src, "sub", "f"), []byte("data"), 0o640)
	_ = os.Symlink("sub/f", filepath.Join(src, "link"))
	var tarball bytes.Buffer
	if err := tarPath(&tarball, src, "src"); err != nil {
		t.Fatal(err)
	}
	// Extract under another name, into a fresh directory.
	dst := t.TempDir()
	if err := untar(bytes.NewReader(tarball.Bytes()), dst, "src", "copy"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dst, "copy", "sub", "f"))
	if err != nil || string(b) != "data" {
		t.Errorf("extracted file = %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "copy", "link")); err != nil || l != "sub/f" {
		t.Errorf("extracted link = %q, %v", l, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "copy", "sub", "f")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("extracted mode = %v, %v", fi, err)
	}
	// An entry climbing out stays inside.
	var evil bytes.Buffer
	if err := tarPath(&evil, filepath.Join(src, "sub"), "../../escape"); err != nil {
		t.Fatal(err)
	}
	dst2 := filepath.Join(t.TempDir(), "in")
	_ = os.Mkdir(dst2, 0o755)
	if err := untar(bytes.NewReader(evil.Bytes()), dst2, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst2, "escape", "f")); err != nil {
		t.Errorf("climbing entry not kept inside: %v", err)
	}
}

func TestNaturalLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"v2", "v10", true}, {"v10", "v2", false}, {"a", "b", true}, {"a", "a1", true}, {"x01", "x1", false}, {"vol", "vol", false}} {
		if got := naturalLess(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestArgsErrorsAndFlagErrors(t *testing.T) {
	root := &cobra.Command{Use: "shoal", SilenceErrors: true, SilenceUsage: true}
	addImageCmds(root)
	addClientCmds(root)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"stop"}, 1, "shoal: 'shoal stop' requires at least 1 argument\n\nUsage:  shoal stop [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'shoal stop --help' for more information\n"},
		{[]string{"rename", "a"}, 1, "shoal: 'shoal rename' requires 2 arguments\n\nUsage:  shoal rename CONTAINER NEW_NAME\n\nRun 'shoal rename --help' for more information\n"},
		{[]string{"ps", "--bogus"}, 125, "unknown flag: --bogus\n\nUsage:  shoal ps [OPTIONS]\n\nRun 'shoal ps --help' for more information\n"},
		{[]string{"-H", "unix://" + filepath.Join(t.TempDir(), "none.sock"), "ps"}, 1, "Cannot connect to the Shoal daemon at unix://"},
		{[]string{"-H", "unix://" + filepath.Join(t.TempDir(), "none.sock"), "run", "bb"}, 125, "shoal: Cannot connect to the Shoal daemon at unix://"},
		{[]string{"run", "--gpus", "all", "bb"}, 125, "shoal: the --gpus flag is not supported by shoal yet\n\nRun 'shoal run --help' for more information\n"},
	} {
		var stderr bytes.Buffer
		root.SetErr(&stderr)
		root.SetOut(io.Discard)
		root.SetArgs(tc.args)
		err := root.Execute()
		var ee exitError
		if !errors.As(err, &ee) || int(ee) != tc.code || !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("shoal %q: %v, stderr %q; want exit %d, %q", tc.args, err, stderr.String(), tc.code, tc.want)
		}
	}
}
