//go:build integration

package integration

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// startAuthRegistry runs Debian's docker-registry on loopback with
// htpasswd basic authentication for user:pass.
func startAuthRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry not installed: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
auth:
  htpasswd:
    realm: shoal-test
    path: %s
`, filepath.Join(dir, "data"), addr, htpasswd)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, "registry", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
	return addr
}

// TestDaemonLogin: docker login checks credentials through the daemon,
// and the stored credentials then authorise push and pull.
func TestDaemonLogin(t *testing.T) {
	d := startDaemonHostNet(t)
	d.busyboxImage("bb")
	reg := startAuthRegistry(t, "alice", "s3cret")
	if out, code := d.docker("login", "-u", "alice", "-p", "wrong", reg); code == 0 || !strings.Contains(out, "unauthorized") {
		t.Errorf("login with a wrong password = %d %q", code, out)
	}
	d.must("tag", "bb", reg+"/team/bb:v1")
	if out, code := d.docker("push", reg+"/team/bb:v1"); code == 0 {
		t.Errorf("push before login succeeded: %q", out)
	}
	if out := d.must("login", "-u", "alice", "-p", "s3cret", reg); !strings.Contains(out, "Login Succeeded") {
		t.Errorf("login = %q", out)
	}
	d.must("push", reg+"/team/bb:v1")
	d.must("rmi", reg+"/team/bb:v1")
	d.must("pull", reg+"/team/bb:v1")
	if out := d.must("run", "--rm", "--network", "none", reg+"/team/bb:v1", "echo", "pulled"); out != "pulled\n" {
		t.Errorf("run of the pulled image = %q", out)
	}
}
