package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// TestDockerCLI builds shoal, starts `shoal daemon` on temporary roots
// and drives the real docker CLI against it.
func TestDockerCLI(t *testing.T) {
	testutil.RequiresRoot(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not on PATH")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "shoal")
	if out, err := exec.Command("../../scripts/build", bin).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data, run, sock := filepath.Join(tmp, "data"), filepath.Join(tmp, "run"), filepath.Join(tmp, "s.sock")

	var logs bytes.Buffer
	// --bridge=none: this daemon runs in the host's network namespace and
	// must not make a bridge or nftables table there.
	d := exec.Command(bin, "daemon", "--data-root", data, "--exec-root", run, "-H", "unix://"+sock, "--log-level", "debug", "--bridge=none")
	d.Stderr = &logs
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			d.Process.Kill()
			<-exited
		}
		// The daemon's monitor outlives it by design: stop it here.
		if b, err := os.ReadFile(filepath.Join(run, "monitor", "monitor.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	waitForSocket(t, sock, exited)

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o660 {
		t.Errorf("socket mode = %o, want 660", got)
	}

	cfg := filepath.Join(tmp, "docker-config")
	docker := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+cfg)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := docker(args...)
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	if out := must("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}"); strings.TrimSpace(out) != "1.50 linux" {
		t.Errorf("docker version = %q, want 1.50 linux", out)
	}
	if out := must("images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("docker images -q on an empty root = %q", out)
	}
	out, err := docker("image", "inspect", "nosuch")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "No such image") {
		t.Errorf("docker image inspect nosuch = %v, %q; want exit 1 and No such image", err, out)
	}

	archive := filepath.Join(tmp, "tiny.tar")
	writeArchive(t, archive, "shoaltest/tiny:v1")
	out = must("load", "-i", archive)
	if !strings.Contains(out, "Loaded image: shoaltest/tiny:v1") {
		t.Errorf("docker load = %q", out)
	}
	out = must("images", "--format", "{{.Repository}}:{{.Tag}}")
	if strings.TrimSpace(out) != "shoaltest/tiny:v1" {
		t.Errorf("docker images after load = %q", out)
	}
	must("tag", "shoaltest/tiny:v1", "localhost:5000/x/tiny:v2")
	out = must("images", "--format", "{{.Repository}}:{{.Tag}}")
	for _, want := range []string{"shoaltest/tiny:v1", "localhost:5000/x/tiny:v2"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker images after tag = %q, want %s", out, want)
		}
	}
	out = must("image", "inspect", "--format", "{{.Os}} {{len .RootFS.Layers}} {{index .RepoTags 0}}", "localhost:5000/x/tiny:v2")
	if !strings.HasPrefix(out, "linux 1 ") {
		t.Errorf("docker image inspect = %q", out)
	}
	must("history", "shoaltest/tiny:v1")

	saved := filepath.Join(tmp, "saved.tar")
	must("save", "-o", saved, "shoaltest/tiny:v1")
	if fi, err := os.Stat(saved); err != nil || fi.Size() == 0 {
		t.Errorf("docker save wrote %v, %v", fi, err)
	}

	out = must("rmi", "localhost:5000/x/tiny:v2")
	if !strings.Contains(out, "Untagged: localhost:5000/x/tiny:v2") || strings.Contains(out, "Deleted") {
		t.Errorf("docker rmi of one of two names = %q", out)
	}
	out = must("rmi", "shoaltest/tiny:v1")
	if !strings.Contains(out, "Deleted: sha256:") {
		t.Errorf("docker rmi of the last name = %q", out)
	}
	if out := must("images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("docker images -q after rmi = %q", out)
	}

	// docker pull from a registry on loopback.
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	rimg, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	rtag, err := name.NewTag(host + "/lib/tiny:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(rtag, rimg); err != nil {
		t.Fatal(err)
	}
	out = must("pull", host+"/lib/tiny:v1")
	for _, want := range []string{"v1: Pulling from lib/tiny", "Pull complete", "Digest: sha256:", "Status: Downloaded newer image for " + host + "/lib/tiny:v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker pull output lacks %q:\n%s", want, out)
		}
	}
	must("rmi", host+"/lib/tiny:v1")

	// The saved archive loads back; prune -a removes it again.
	must("load", "-i", saved)
	out = must("image", "prune", "-a", "-f")
	if !strings.Contains(out, "deleted: sha256:") {
		t.Errorf("docker image prune -a = %q", out)
	}

	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("daemon exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop within 15s of SIGTERM")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left behind after SIGTERM: %v", err)
	}
}

func waitForSocket(t *testing.T, sock string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("daemon exited early: %v", err)
		default:
		}
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("daemon socket did not appear")
}

// writeArchive writes a one-layer random linux/amd64 image named tag as a
// docker-save archive.
func writeArchive(t *testing.T, path, tag string) {
	t.Helper()
	l, err := random.Layer(1024, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.History = []v1.History{{Created: cf.Created, CreatedBy: "test layer"}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatal(err)
	}
}
