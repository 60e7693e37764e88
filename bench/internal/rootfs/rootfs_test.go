package rootfs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestEdit(t *testing.T) {
	in := `{"ociVersion":"1.3.0","process":{"terminal":true,"args":["sh"],"cwd":"/"},"root":{"path":"x"},
	"hostname":"shoal","linux":{"namespaces":[{"type":"user"}],"cgroupsPath":"/a"}}`
	for _, tc := range []struct {
		name string
		c    Config
		ns   []specs.LinuxNamespaceType
	}{
		{"runtime-start", Config{Version: "1.0.2", Root: "rootfs", CgroupNS: true, CgroupsPath: "@P@"},
			[]specs.LinuxNamespaceType{"pid", "network", "ipc", "uts", "mount", "cgroup"}},
		{"daemon-run", Config{Version: "1.0.2", Root: "/tmp/r/rootfs", CgroupsPath: "@P@"},
			[]specs.LinuxNamespaceType{"pid", "network", "ipc", "uts", "mount"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := edit([]byte(in), tc.c)
			if err != nil {
				t.Fatalf("edit: %v", err)
			}
			if !strings.HasPrefix(string(out), "{\n  \"ociVersion\": \"1.0.2\",\n") || strings.HasSuffix(string(out), "\n") {
				t.Errorf("edit output not indented by two spaces without a final newline:\n%s", out)
			}
			var s specs.Spec
			if err := json.Unmarshal(out, &s); err != nil {
				t.Fatal(err)
			}
			if s.Version != tc.c.Version || s.Process.Terminal || len(s.Process.Args) != 1 || s.Process.Args[0] != "/bin/true" ||
				s.Root.Path != tc.c.Root || !s.Root.Readonly || s.Linux.CgroupsPath != tc.c.CgroupsPath || s.Hostname != "shoal" || s.Process.Cwd != "/" {
				t.Errorf("edit = %s", out)
			}
			var got []specs.LinuxNamespaceType
			for _, n := range s.Linux.Namespaces {
				got = append(got, n.Type)
			}
			if strings.Join(toStrings(got), ",") != strings.Join(toStrings(tc.ns), ",") {
				t.Errorf("namespaces = %v, want %v", got, tc.ns)
			}
		})
	}
	if _, err := edit([]byte(`{"ociVersion":"1.0.0"}`), Config{}); err == nil {
		t.Error("edit of a config without process/root/linux: no error")
	}
}

func toStrings(ns []specs.LinuxNamespaceType) []string {
	var s []string
	for _, n := range ns {
		s = append(s, string(n))
	}
	return s
}

func TestCopyFile(t *testing.T) {
	d := t.TempDir()
	src := filepath.Join(d, "src")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(d, "a", "b", "dst")
	if err := CopyFile(src, dst); err != nil {
		t.Fatalf("CopyFile: %v", err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "#!/bin/sh\n" || fi.Mode().Perm() != 0o750 {
		t.Errorf("copy has %q, mode %v; want the source's content and mode 0750", b, fi.Mode().Perm())
	}
}

func TestIsStatic(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A test binary: static or not depending on cgo, but an ELF file.
	_ = IsStatic(exe)
	notELF := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(notELF, []byte("text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if IsStatic(notELF) == nil {
		t.Error("IsStatic(text file) = nil")
	}
}

func TestBuild(t *testing.T) {
	if IsStatic(Busybox) != nil {
		t.Skip(Busybox + " is not a static busybox")
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := Build(root, []string{"usr/local/bin"}, map[string]string{"etc/nsswitch.conf": "hosts: files dns\n"}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	for p, want := range map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/nsswitch.conf": "hosts: files dns\n"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	if l, err := os.Readlink(filepath.Join(root, "bin", "sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh -> %q, %v; want busybox", l, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp: %v, %v; want mode 1777", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(root, "usr", "local", "bin")); err != nil || !fi.IsDir() {
		t.Errorf("usr/local/bin: %v", err)
	}
}
