package transfer

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/content"
)

func newStore(t *testing.T) *content.LocalStore {
	t.Helper()
	s, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomImage is an OCI image of n random gzip layers (linux/amd64).
func randomImage(t *testing.T, n int) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for range n {
		l, err := random.Layer(512, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func ociDesc(t *testing.T, mt types.MediaType, h v1.Hash, size int64) ocispec.Descriptor {
	t.Helper()
	return ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(h.String()), Size: size}
}

// putImage writes img's blobs into store and returns its manifest and
// config descriptors.
func putImage(t *testing.T, store content.Ingester, img v1.Image) (manifest, config ocispec.Descriptor) {
	t.Helper()
	ctx := t.Context()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		mt, _ := l.MediaType()
		d, _ := l.Digest()
		if err := writeBlob(ctx, store, ociDesc(t, mt, d, int64(len(data))), data); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	mf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	config = jsonBlob(string(mf.Config.MediaType), cfg)
	if err := writeBlob(ctx, store, config, cfg); err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	manifest = jsonBlob(string(mt), raw)
	if err := writeBlob(ctx, store, manifest, raw); err != nil {
		t.Fatal(err)
	}
	return manifest, config
}

// blobs lists the digests of every committed blob, sorted.
func blobs(t *testing.T, store *content.LocalStore) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	if err := store.Walk(context.Background(), func(i content.Info) error {
		out = append(out, i.Digest)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// noIngests fails if store has writes in progress.
func noIngests(t *testing.T, store *content.LocalStore) {
	t.Helper()
	st, err := store.ListStatuses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 0 {
		t.Errorf("store has %d ingests left, want 0: %+v", len(st), st)
	}
}

// skopeo runs skopeo, skipping the test if it is not installed.
func skopeo(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not installed (want it on PATH, e.g. /usr/bin/skopeo); skipping interoperability test")
	}
	// No network, no user policy: an explicit permissive policy.
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--policy", policy, "--tmpdir", t.TempDir()}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// tarEntry is one entry of a hand-made archive.
type tarEntry struct {
	hdr  tar.Header
	body []byte
}

func file(name string, body []byte) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: body}
}

func makeTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readTar reads an archive into name → bytes.
func readTar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = b
	}
}

func tarHeaderLink(name, target string) tar.Header {
	return tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}
}
