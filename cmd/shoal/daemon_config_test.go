package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// noDaemonFlags is a command line that set nothing.
func noDaemonFlags(string) (string, bool) { return "", false }

func TestMergeDaemonJSON(t *testing.T) {
	base := func() daemonConfig {
		return daemonConfig{
			DataRoot: "/var/lib/shoal", ExecRoot: "/run/shoal", LogLevel: "info",
			DefaultRuntime: "shoal", CgroupParent: "/shoal",
		}
	}
	tests := []struct {
		name  string
		file  string
		flags map[string]string // flags the command line set, with dockerd's printing
		want  func(*daemonConfig)
		err   string
	}{
		{name: "empty", file: "", want: func(*daemonConfig) {}},
		{name: "blank", file: " \n\t", want: func(*daemonConfig) {}},
		{name: "empty object", file: "{}", want: func(*daemonConfig) {}},
		{
			name: "every key",
			file: `{"data-root": "/d", "exec-root": "/e", "hosts": ["unix:///s.sock", "tcp://127.0.0.1:2376"],
				"pidfile": "/p.pid", "log-level": "debug", "tls": true, "tlsverify": true,
				"tlscacert": "/ca.pem", "tlscert": "/cert.pem", "tlskey": "/key.pem",
				"insecure-registries": ["reg:5000"], "runtimes": {"runc": {"path": "/usr/sbin/runc", "runtimeArgs": ["--debug"]}},
				"default-runtime": "runc", "dns": ["1.1.1.1"], "cgroup-parent": "/cg", "storage-driver": "native"}`,
			want: func(c *daemonConfig) {
				*c = daemonConfig{
					DataRoot: "/d", ExecRoot: "/e", Hosts: []string{"unix:///s.sock", "tcp://127.0.0.1:2376"},
					Pidfile: "/p.pid", LogLevel: "debug", TLS: true, TLSVerify: true,
					TLSCACert: "/ca.pem", TLSCert: "/cert.pem", TLSKey: "/key.pem",
					InsecureRegistries: []string{"reg:5000"},
					Runtimes:           map[string]runtimeConfig{"runc": {Path: "/usr/sbin/runc", Args: []string{"--debug"}}},
					DefaultRuntime:     "runc", DNS: []string{"1.1.1.1"}, CgroupParent: "/cg", Snapshotter: "native",
				}
			},
		},
		{
			name: "byte order mark",
			file: "\xef\xbb\xbf{\"pidfile\": \"/p\"}",
			want: func(c *daemonConfig) { c.Pidfile = "/p" },
		},
		{
			name: "dockerd storage drivers",
			file: `{"storage-driver": "overlay2"}`,
			want: func(c *daemonConfig) { c.Snapshotter = "overlay" },
		},
		{
			name:  "flags for other keys",
			file:  `{"pidfile": "/p"}`,
			flags: map[string]string{"host": "[unix:///a]", "data-root": "/x"},
			want:  func(c *daemonConfig) { c.Pidfile = "/p" },
		},
		{
			name:  "conflict",
			file:  `{"hosts": ["tcp://127.0.0.1:2376"], "pidfile": "/f.pid", "dns": ["8.8.8.8"]}`,
			flags: map[string]string{"host": "[unix:///var/run/docker.sock]", "pidfile": "/p.pid"},
			err: "the following directives are specified both as a flag and in the configuration file: " +
				"hosts: (from flag: [unix:///var/run/docker.sock], from file: [tcp://127.0.0.1:2376]), " +
				"pidfile: (from flag: /p.pid, from file: /f.pid)",
		},
		{
			name:  "conflict with a root flag",
			file:  `{"storage-driver": "vfs", "insecure-registries": ["a:5000"]}`,
			flags: map[string]string{"snapshotter": "native", "insecure-registry": "[b:5000]"},
			err: "insecure-registries: (from flag: [b:5000], from file: [a:5000]), " +
				"storage-driver: (from flag: native, from file: vfs)",
		},
		{
			name: "conflict on a boolean",
			file: `{"tlsverify": false}`, flags: map[string]string{"tlsverify": "true"},
			err: "tlsverify: (from flag: true, from file: false)",
		},
		{
			name: "unknown keys",
			file: `{"debug": true, "pidfile": "/p", "userland-proxy": false}`,
			err:  "the following directives don't match any configuration option: debug, userland-proxy",
		},
		{
			name:  "unknown keys before conflicts",
			file:  `{"zzz": 1, "pidfile": "/p"}`,
			flags: map[string]string{"pidfile": "/q"},
			err:   "don't match any configuration option: zzz",
		},
		{name: "malformed", file: `{"hosts": [`, err: "invalid JSON: unexpected end of JSON input"},
		{name: "trailing garbage", file: `{} {}`, err: "invalid JSON: "},
		{name: "not an object", file: `["hosts"]`, err: "invalid JSON: "},
		{name: "wrong type", file: `{"hosts": "unix:///s.sock"}`, err: "invalid JSON: json: cannot unmarshal string"},
		{name: "wrong type of bool", file: `{"tlsverify": "yes"}`, err: "invalid JSON: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := func(name string) (string, bool) {
				v, ok := tt.flags[name]
				return v, ok
			}
			got := base()
			err := mergeDaemonJSON(&got, []byte(tt.file), flags)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("mergeDaemonJSON(%q) error = %v, want one containing %q", tt.file, err, tt.err)
				}
				if want := base(); !reflect.DeepEqual(got, want) {
					t.Errorf("mergeDaemonJSON(%q) failed but changed the config: %+v", tt.file, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("mergeDaemonJSON(%q): %v", tt.file, err)
			}
			want := base()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("mergeDaemonJSON(%q) =\n%+v\nwant\n%+v", tt.file, got, want)
			}
		})
	}
}

func TestMergeConfigFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	cfg := daemonConfig{Pidfile: "/keep"}
	if err := mergeConfigFile(&cfg, missing, false, noDaemonFlags); err != nil {
		t.Errorf("missing default file: %v, want nil", err)
	}
	if cfg.Pidfile != "/keep" {
		t.Errorf("missing default file changed the config: %+v", cfg)
	}
	err := mergeConfigFile(&cfg, missing, true, noDaemonFlags)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing explicit file: %v, want an error naming %s", err, missing)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, explicit := range []bool{false, true} {
		err := mergeConfigFile(&cfg, bad, explicit, noDaemonFlags)
		want := "unable to configure the daemon with file " + bad + ": invalid JSON"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("malformed file (explicit %v): %v, want %q...", explicit, err, want)
		}
	}
}

// daemonCmdFor parses args as the real command tree would and returns
// the daemon's configuration.
func daemonCmdFor(t *testing.T, args ...string) (*daemonConfig, error) {
	t.Helper()
	root := &cobra.Command{Use: "shoal"}
	addImageCmds(root)
	cmd, f := newDaemonCmdFlags()
	root.AddCommand(cmd)
	c, rest, err := root.Find(append([]string{"daemon"}, args...))
	if err != nil || c != cmd {
		t.Fatalf("find daemon: %v", err)
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return f.config(cmd)
}

func TestDaemonFlagsAndFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	none := write("none.json", "")

	cfg, err := daemonCmdFor(t, "--config-file", none)
	if err != nil {
		t.Fatal(err)
	}
	want := &daemonConfig{
		DataRoot: "/var/lib/shoal", ExecRoot: "/run/shoal", LogLevel: "info",
		DefaultRuntime: "shoal", CgroupParent: "/shoal", Bridge: "shoal0",
	}
	// Printed, so that nil and empty lists compare equal.
	if fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", want) {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}

	cfg, err = daemonCmdFor(t, "--config-file", none, "--data-root", "/d", "-H", "unix:///a", "-H", "tcp://h:1",
		"--add-runtime", "r=/bin/true", "--insecure-registry", "x:1,y:2", "--snapshotter", "native", "--tlsverify")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataRoot != "/d" || !reflect.DeepEqual(cfg.Hosts, []string{"unix:///a", "tcp://h:1"}) ||
		!reflect.DeepEqual(cfg.Runtimes, map[string]runtimeConfig{"r": {Path: "/bin/true"}}) ||
		!reflect.DeepEqual(cfg.InsecureRegistries, []string{"x:1", "y:2"}) || cfg.Snapshotter != "native" || !cfg.TLSVerify {
		t.Errorf("flags = %+v", cfg)
	}

	// The root command's flags count as set only when given.
	file := write("d.json", `{"data-root": "/from-file", "storage-driver": "vfs", "insecure-registries": ["f:1"], "runtimes": {"r": {"path": "/bin/true", "runtimeArgs": ["a"]}}}`)
	cfg, err = daemonCmdFor(t, "--config-file", file, "--pidfile", "/p")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataRoot != "/from-file" || cfg.Snapshotter != "native" || !reflect.DeepEqual(cfg.InsecureRegistries, []string{"f:1"}) ||
		!reflect.DeepEqual(cfg.Runtimes["r"].Args, []string{"a"}) || cfg.Pidfile != "/p" {
		t.Errorf("file = %+v", cfg)
	}

	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"--data-root", "/d"}, "data-root: (from flag: /d, from file: /from-file)"},
		{[]string{"--insecure-registry", "a:1", "--insecure-registry", "b:2"}, "insecure-registries: (from flag: [a:1 b:2], from file: [f:1])"},
		{[]string{"--add-runtime", "q=/bin/false"}, "runtimes: (from flag: [q=/bin/false], from file: map[r:map[path:/bin/true runtimeArgs:[a]]])"},
		{[]string{"--snapshotter", "overlay"}, "storage-driver: (from flag: overlay, from file: vfs)"},
	} {
		_, err := daemonCmdFor(t, append([]string{"--config-file", file}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), "specified both as a flag and in the configuration file: "+tt.err) {
			t.Errorf("%q: %v, want a conflict %q", tt.args, err, tt.err)
		}
	}

	_, err = daemonCmdFor(t, "--config-file", filepath.Join(dir, "nope.json"))
	if err == nil {
		t.Error("missing explicit --config-file: no error")
	}
}

func TestDaemonConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  daemonConfig
		err  string
	}{
		{"ok", daemonConfig{LogLevel: "warn", Runtimes: map[string]runtimeConfig{"runc": {Path: "/usr/sbin/runc"}}}, ""},
		{"dockerd levels", daemonConfig{LogLevel: "fatal"}, ""},
		{"bad level", daemonConfig{LogLevel: "loud"}, "invalid logging level: loud"},
		{"own name", daemonConfig{LogLevel: "info", Runtimes: map[string]runtimeConfig{"shoal": {Path: "/x"}}}, "the name shoal is Shoal's own runtime"},
		{"shim", daemonConfig{LogLevel: "info", Runtimes: map[string]runtimeConfig{"k": {Type: "io.containerd.kata.v2"}}}, "runtimeType and options"},
		{"no path", daemonConfig{LogLevel: "info", Runtimes: map[string]runtimeConfig{"k": {Args: []string{"a"}}}}, "runtime k: no path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.validate()
			if tt.err == "" {
				if err != nil {
					t.Errorf("validate(%+v) = %v, want nil", tt.cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("validate(%+v) = %v, want %q", tt.cfg, err, tt.err)
			}
		})
	}
}

func TestParseRuntimeFlags(t *testing.T) {
	got, err := parseRuntimeFlags([]string{"a=/x", "b=/y=z"})
	want := map[string]runtimeConfig{"a": {Path: "/x"}, "b": {Path: "/y=z"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseRuntimeFlags = %v, %v, want %v", got, err, want)
	}
	for _, bad := range [][]string{{"a"}, {"=/x"}, {"a="}, {"a=/x", "a=/y"}} {
		if _, err := parseRuntimeFlags(bad); err == nil {
			t.Errorf("parseRuntimeFlags(%q): no error", bad)
		}
	}
}
