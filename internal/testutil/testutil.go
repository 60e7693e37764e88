package testutil

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ErrNotSupported is returned by feature probes when the kernel or host
// lacks what a test needs.
var ErrNotSupported = errors.New("not supported on this host")

// RequiresRoot skips t unless SHOAL_TEST_ROOT=1; it fails t if that is set
// but the test is not running as root.
func RequiresRoot(t testing.TB) {
	t.Helper()
	if os.Getenv("SHOAL_TEST_ROOT") != "1" {
		t.Skip("needs root: set SHOAL_TEST_ROOT=1 and run as root")
	}
	if os.Geteuid() != 0 {
		t.Fatalf("SHOAL_TEST_ROOT=1 but euid is %d, not 0", os.Geteuid())
	}
}

// SkipIfNotSupported skips t when err says the host lacks a feature and
// fails it on any other non-nil error.
func SkipIfNotSupported(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("skipped: %v", err)
	}
	t.Fatal(err)
}

// BusyboxPath returns the path of a statically linked busybox (Debian's
// busybox-static installs /bin/busybox), skipping t when there is none.
func BusyboxPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SHOAL_BUSYBOX"), "/bin/busybox", "/usr/bin/busybox"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("SHOAL_TEST_ROOT") == "1" {
		t.Fatal("busybox not found: install busybox-static")
	}
	t.Skip("busybox not found: install busybox-static")
	return ""
}

// BusyboxRootfs builds a minimal root filesystem in a new temporary
// directory: /bin/busybox with a symlink per applet, and the usual empty
// top-level directories. It returns the rootfs path.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := MakeBusyboxRootfs(BusyboxPath(t), root); err != nil {
		t.Fatal(err)
	}
	return root
}

// MakeBusyboxRootfs writes a busybox root filesystem at root from the
// static busybox binary at bb.
func MakeBusyboxRootfs(bb, root string) error {
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "run", "home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return err
	}
	for _, name := range splitLines(string(out)) {
		if name == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", name)); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
