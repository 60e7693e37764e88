//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/metadata"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/testutil"
)

// startRegistry runs Debian's docker-registry on a free loopback port with
// its storage in a temp dir, and returns host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry not installed (apt-get install docker-registry): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)), 0o644); err != nil {
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
		return resp.StatusCode == 200
	})
	return addr
}

// busyboxLayout writes an OCI image layout holding a one-layer busybox
// image tagged "latest".
func busyboxLayout(t *testing.T) string {
	t.Helper()
	rootfs := testutil.BusyboxRootfs(t)
	tarPath := filepath.Join(t.TempDir(), "layer.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarPath, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	layer, err := tarball.LayerFromFile(tarPath, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Env = []string{"PATH=/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})); err != nil {
		t.Fatal(err)
	}
	return dir
}

func skopeoDigest(t *testing.T, ref string) string {
	t.Helper()
	out, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "docker://"+ref).Output()
	if err != nil {
		t.Fatalf("skopeo inspect %s: %v", ref, err)
	}
	var v struct{ Digest string }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v.Digest
}

// An image copied into a registry by skopeo is pulled by Shoal and runs;
// an image pushed by Shoal is read back by skopeo; the digests agree.
func TestImageRegistryRoundTrip(t *testing.T) {
	testutil.RequiresRoot(t)
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Fatalf("skopeo not installed (apt-get install skopeo): %v", err)
	}
	reg := startRegistry(t)
	src := reg + "/test/busybox:latest"
	if out, err := exec.Command("skopeo", "copy", "--dest-tls-verify=false", "oci:"+busyboxLayout(t)+":latest", "docker://"+src).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v: %s", err, out)
	}
	want := skopeoDigest(t, src)

	data := t.TempDir()
	shoal := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(shoalBin, append([]string{"--data-root", data}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("shoal %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := shoal("pull", src)
	if !strings.Contains(out, "Digest: "+want) {
		t.Errorf("shoal pull digest differs from skopeo's %s:\n%s", want, out)
	}
	if out := shoal("images"); !strings.Contains(out, reg+"/test/busybox") || !strings.Contains(out, "latest") {
		t.Errorf("images:\n%s", out)
	}

	// Push under another name; skopeo reads back the same digest.
	dst := reg + "/test/pushed:v1"
	shoal("tag", src, dst)
	if out := shoal("push", dst); !strings.Contains(out, want) {
		t.Errorf("push output lacks %s:\n%s", want, out)
	}
	if got := skopeoDigest(t, dst); got != want {
		t.Errorf("skopeo sees %s for the pushed image, want %s", got, want)
	}

	// The pulled image runs: its root filesystem is a snapshot, mounted
	// into a bundle for the runtime.
	runImage(t, data, src)

	// save in docker's format; skopeo reads it.
	saved := filepath.Join(t.TempDir(), "saved.tar")
	shoal("save", "-o", saved, src)
	if out, err := exec.Command("skopeo", "inspect", "docker-archive:"+saved).CombinedOutput(); err != nil {
		t.Errorf("skopeo inspect of shoal save: %v\n%s", err, out)
	}

	// rmi of both names removes the image and collects its blobs.
	shoal("rmi", dst)
	if out := shoal("rmi", src); !strings.Contains(out, "Deleted: sha256:") {
		t.Errorf("rmi:\n%s", out)
	}
	blobs, _ := os.ReadDir(filepath.Join(data, "content", "blobs", "sha256"))
	if len(blobs) != 0 {
		t.Errorf("%d blobs left after rmi", len(blobs))
	}

	// load brings it back under its name; the same image ID.
	if out := shoal("load", "-i", saved); !strings.Contains(out, "Loaded image: "+src) {
		t.Errorf("load:\n%s", out)
	}
	if out := shoal("images"); !strings.Contains(out, reg+"/test/busybox") {
		t.Errorf("images after load:\n%s", out)
	}
	runImage(t, data, src)

	// import of a root filesystem tarball makes a runnable image.
	tarPath := filepath.Join(t.TempDir(), "rootfs.tar")
	if out, err := exec.Command("tar", "-C", testutil.BusyboxRootfs(t), "-cf", tarPath, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	if out := shoal("import", "-c", "CMD [\"sh\"]", tarPath, "test/imported:1"); !strings.HasPrefix(out, "sha256:") {
		t.Errorf("import printed %q", out)
	}
	if out := shoal("images"); !strings.Contains(out, "test/imported") {
		t.Errorf("images after import:\n%s", out)
	}
	runImage(t, data, "test/imported:1")
	if out := shoal("history", "test/imported:1"); !strings.Contains(out, "CREATED BY") || !strings.Contains(out, "Imported from") {
		t.Errorf("history:\n%s", out)
	}

	// prune -a removes every image and leaves no blob.
	if out := shoal("image", "prune", "-a", "-f"); !strings.Contains(out, "deleted: sha256:") {
		t.Errorf("prune:\n%s", out)
	}
	if out := shoal("images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("images after prune -a: %q", out)
	}
	blobs, _ = os.ReadDir(filepath.Join(data, "content", "blobs", "sha256"))
	if len(blobs) != 0 {
		t.Errorf("%d blobs left after prune -a", len(blobs))
	}
}

func runImage(t *testing.T, data, name string) {
	t.Helper()
	ctx := context.Background()
	db, err := metadata.Open(ctx, filepath.Join(data, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := image.New(ctx, image.Config{Root: data}, db)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	key := "test-container-" + filepath.Base(t.TempDir())
	mounts, err := svc.RootFS(ctx, name, key)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.RemoveRootFS(ctx, key)
	b := bundle(t, nil, "sh", "-c", "echo from-the-image; ls /bin/busybox")
	rootfs := filepath.Join(b, "rootfs")
	if err := os.RemoveAll(rootfs); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mount.All(mounts, rootfs); err != nil {
		t.Fatal(err)
	}
	defer mount.UnmountAll(rootfs)
	spec := readSpec(t, b)
	spec.Process.Env = []string{"PATH=/bin"}
	writeSpec(t, b, spec)
	r := newRT(t)
	out := r.ok("run", "--bundle", b, "from-image-"+filepath.Base(b))
	if !strings.Contains(out, "from-the-image") {
		t.Errorf("container from the pulled image printed %q", out)
	}
	_ = specs.Version
	_ = v1.Hash{}
}

// SIGKILL of the CLI in the middle of a pull leaves a store that the next
// pull completes correctly: no blob of the cut layer, no image record, and
// the second pull ends with the registry's digest.
func TestImagePullKilled(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := startRegistry(t)
	// A 192 MiB layer of random bytes, stored without compression so the
	// pull takes long enough to be cut.
	dir := t.TempDir()
	big := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(big, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("dd", "if=/dev/urandom", "of="+filepath.Join(big, "blob"), "bs=1M", "count=192", "status=none").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v: %s", err, out)
	}
	tarPath := filepath.Join(dir, "layer.tar")
	if out, err := exec.Command("tar", "-C", big, "-cf", tarPath, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	layer, err := tarball.LayerFromFile(tarPath, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(0))
	if err != nil {
		t.Fatal(err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	oci := filepath.Join(dir, "oci")
	p, err := layout.Write(oci, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("skopeo", "copy", "--dest-tls-verify=false", "oci:"+oci+":latest", "docker://"+reg+"/test/big:latest").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v: %s", err, out)
	}
	want := skopeoDigest(t, reg+"/test/big:latest")
	// Pull through a proxy that slows the first pull down, so the kill
	// always lands mid-layer, whatever the machine's speed.
	proxy, slow := throttleProxy(t, reg)
	src := proxy + "/test/big:latest"
	ld, err := layer.Digest()
	if err != nil {
		t.Fatal(err)
	}

	data := t.TempDir()
	cmd := exec.Command(shoalBin, "--data-root", data, "pull", src)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once part of the layer is in an ingest.
	ingest := filepath.Join(data, "content", "ingest")
	waitFor(t, "part of the layer", 60*time.Second, func() bool {
		var part int64
		ents, _ := os.ReadDir(ingest)
		for _, e := range ents {
			if st, err := os.Stat(filepath.Join(ingest, e.Name(), "data")); err == nil && st.Size() > part {
				part = st.Size()
			}
		}
		return part > 16<<20
	})
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	slow.Store(false)
	if _, err := os.Stat(filepath.Join(data, "content", "blobs", "sha256", ld.Hex)); err == nil {
		t.Fatalf("the cut layer is visible as a blob")
	}
	out, err := exec.Command(shoalBin, "--data-root", data, "images", "-q").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("images after the killed pull: %v %q", err, out)
	}
	out, err = exec.Command(shoalBin, "--data-root", data, "pull", src).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Digest: "+want) {
		t.Fatalf("second pull: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, "content", "blobs", "sha256", ld.Hex)); err != nil {
		t.Errorf("layer blob missing after the second pull: %v", err)
	}
}

// throttleProxy forwards TCP connections to addr; while the returned flag
// is set, each connection is slowed to about 16 MiB/s.
func throttleProxy(t *testing.T, addr string) (string, *atomic.Bool) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	slow := &atomic.Bool{}
	slow.Store(true)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				buf := make([]byte, 64<<10)
				for {
					n, err := up.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
						if slow.Load() {
							time.Sleep(4 * time.Millisecond) // 64 KiB per 4 ms
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String(), slow
}
