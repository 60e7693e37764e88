package runtime

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func validSpec() *specs.Spec {
	s := DefaultSpec()
	s.Process.Terminal = false
	return s
}

func TestValidateSpec(t *testing.T) {
	cases := []struct {
		name string
		edit func(*specs.Spec)
		want string // "" means valid
	}{
		{"default", func(*specs.Spec) {}, ""},
		{"no version", func(s *specs.Spec) { s.Version = "" }, "ociVersion is empty"},
		{"version 2", func(s *specs.Spec) { s.Version = "2.0.0" }, "unsupported ociVersion"},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path is required"},
		{"no process: can be created, not started", func(s *specs.Spec) { s.Process = nil }, ""},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "must be an absolute path"},
		{"unknown cap", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_NOPE"} }, `unknown capability "CAP_NOPE"`},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FOO"}} }, "unknown rlimit"},
		{"soft above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}}
		}, "soft limit 2 is above hard limit 1"},
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "foo"})
		}, `unknown namespace type "foo"`},
		{"namespace twice", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "listed twice"},
		{"relative ns path", func(s *specs.Spec) {
			s.Linux.Namespaces[0].Path = "proc/1/ns/pid"
		}, "is not absolute"},
		{"no mount namespace: shares the runtime's", func(s *specs.Spec) {
			var ns []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.MountNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
		}, ""},
		{"maps without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, "need a user namespace"},
		{"userns without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "needs uidMappings and gidMappings"},
		{"hostname without uts", func(s *specs.Spec) {
			var ns []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.UTSNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
		}, "hostname needs a uts namespace"},
		{"relative mount", func(s *specs.Spec) { s.Mounts[0].Destination = "proc" }, "is not absolute"},
		{"bad device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}}
		}, "unknown type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.edit(s)
			err := ValidateSpec(s)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateSpec = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ValidateSpec = %v, want error containing %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("ValidateSpec error %v is not ErrInvalidConfig", err)
			}
		})
	}
}

func TestValidateID(t *testing.T) {
	for id, ok := range map[string]bool{
		"abc": true, "a.b-c_d+e": true, "": false, ".": false, "..": false,
		"a/b": false, "a b": false, "../x": false, strings.Repeat("a", 1025): false,
	} {
		if err := ValidateID(id); (err == nil) != ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	seed, _ := json.Marshal(validSpec())
	f.Add(seed)
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"r"},"process":{"args":["sh"],"cwd":"/"},"linux":{"namespaces":[{"type":"mount"}]}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("ParseSpec error %v is not ErrInvalidConfig", err)
			}
			return
		}
		// Whatever parses must hold what later code relies on.
		if s.Process == nil || len(s.Process.Args) == 0 && s.Process.CommandLine == "" || s.Linux == nil || s.Root == nil {
			t.Fatalf("ParseSpec accepted an unrunnable spec: %s", data)
		}
	})
}
