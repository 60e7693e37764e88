package unpack_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/pull"
	"github.com/shoal-dev/shoal/internal/image/unpack"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/snapshot"
	"github.com/shoal-dev/shoal/internal/snapshot/native"
	"github.com/shoal-dev/shoal/internal/snapshot/overlay"
	"github.com/shoal-dev/shoal/internal/testutil"
)

func TestChainIDs(t *testing.T) {
	t.Parallel()
	a := digest.FromString("a")
	b := digest.FromString("b")
	c := digest.FromString("c")
	ab := digest.FromString(a.String() + " " + b.String())
	abc := digest.FromString(ab.String() + " " + c.String())
	tests := []struct {
		name string
		in   []digest.Digest
		want []digest.Digest
	}{
		{"none", nil, nil},
		{"one", []digest.Digest{a}, []digest.Digest{a}},
		{"three", []digest.Digest{a, b, c}, []digest.Digest{a, ab, abc}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unpack.ChainIDs(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("ChainIDs(%v) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("ChainIDs(%v)[%d] = %s, want %s", tt.in, i, got[i], tt.want[i])
				}
			}
		})
	}
}

// entry is one tar entry of a test layer: a directory (name ends in /) or
// a regular file.
type entry struct{ name, body string }

func tarBytes(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		if strings.HasSuffix(e.name, "/") {
			hdr.Mode, hdr.Typeflag, hdr.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func layerOf(t *testing.T, b []byte, opts ...tarball.LayerOption) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage has three layers: a Docker gzip one with files and dirs, an
// OCI zstd one that whites out a file and makes a directory opaque, and an
// uncompressed OCI one.
func testImage(t *testing.T) v1.Image {
	t.Helper()
	l1 := layerOf(t, tarBytes(t,
		entry{"etc/", ""},
		entry{"etc/hello", "hello\n"},
		entry{"etc/gone", "bye\n"},
		entry{"opaque/", ""},
		entry{"opaque/old", "old\n"},
	))
	l2 := layerOf(t, tarBytes(t,
		entry{"etc/.wh.gone", ""},
		entry{"etc/new", "new\n"},
		entry{"opaque/.wh..wh..opq", ""},
		entry{"opaque/fresh", "fresh\n"},
	), tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	l3 := static.NewLayer(tarBytes(t, entry{"etc/hello", "hello again\n"}), types.OCIUncompressedLayer)
	img, err := mutate.AppendLayers(empty.Image, l1, l2, l3)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// wantFiles is what testImage's root filesystem holds (nil: absent).
var wantFiles = map[string]*string{
	"etc/hello":    ptr("hello again\n"),
	"etc/new":      ptr("new\n"),
	"etc/gone":     nil,
	"opaque/fresh": ptr("fresh\n"),
	"opaque/old":   nil,
}

func ptr(s string) *string { return &s }

func checkTree(t *testing.T, root string) {
	t.Helper()
	for p, want := range wantFiles {
		b, err := os.ReadFile(filepath.Join(root, p))
		switch {
		case want == nil && !errors.Is(err, os.ErrNotExist):
			t.Errorf("%s: err %v, want it whited out", p, err)
		case want != nil && err != nil:
			t.Errorf("%s: %v", p, err)
		case want != nil && string(b) != *want:
			t.Errorf("%s = %q, want %q", p, b, *want)
		}
	}
}

// pulled pushes img to an in-memory registry, pulls it into a new store
// and returns the store and the manifest.
func pulled(t *testing.T, img v1.Image) (*content.LocalStore, ocispec.Manifest) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/test/unpack:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	store, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := pull.Pull(t.Context(), ref.String(), store, pull.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := content.ReadBlob(t.Context(), store, res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return store, m
}

func newNative(t *testing.T) snapshot.Snapshotter {
	t.Helper()
	sn, err := native.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	return sn
}

func diffIDs(t *testing.T, img v1.Image) []digest.Digest {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []digest.Digest
	for _, d := range cfg.RootFS.DiffIDs {
		out = append(out, digest.Digest(d.String()))
	}
	return out
}

// snapshots returns the names of sn's snapshots by kind.
func snapshots(t *testing.T, sn snapshot.Snapshotter) map[snapshot.Kind][]string {
	t.Helper()
	out := map[snapshot.Kind][]string{}
	err := sn.Walk(t.Context(), func(_ context.Context, info snapshot.Info) error {
		out[info.Kind] = append(out[info.Kind], info.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// viewDir views chainID and returns a directory showing it: the bind
// source of a single-directory view, or the view mounted (root only).
func viewDir(t *testing.T, sn snapshot.Snapshotter, chainID digest.Digest, mountIt bool) string {
	t.Helper()
	mounts, err := sn.View(t.Context(), "view-"+t.Name(), chainID.String())
	if err != nil {
		t.Fatal(err)
	}
	if !mountIt {
		if len(mounts) != 1 || mounts[0].Type != "bind" {
			t.Fatalf("view mounts = %+v, want one bind mount", mounts)
		}
		return mounts[0].Source
	}
	target := t.TempDir()
	if err := mount.All(mounts, target); err != nil {
		t.Fatalf("mount view: %v", err)
	}
	t.Cleanup(func() {
		if err := mount.UnmountAll(target); err != nil {
			t.Errorf("unmount view: %v", err)
		}
	})
	return target
}

func TestUnpackNative(t *testing.T) {
	t.Parallel()
	img := testImage(t)
	store, m := pulled(t, img)
	sn := newNative(t)

	chain := unpack.ChainIDs(diffIDs(t, img))
	got, err := unpack.Unpack(t.Context(), store, sn, m)
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if want := chain[len(chain)-1]; got != want {
		t.Fatalf("Unpack = %s, want %s", got, want)
	}
	for _, c := range chain {
		info, err := sn.Stat(t.Context(), c.String())
		if err != nil || info.Kind != snapshot.KindCommitted {
			t.Errorf("Stat(%s) = %+v, %v; want committed", c, info, err)
		}
	}
	if s := snapshots(t, sn); len(s[snapshot.KindActive]) != 0 || len(s[snapshot.KindCommitted]) != len(chain) {
		t.Errorf("snapshots after Unpack = %v, want %d committed and nothing else", s, len(chain))
	}
	checkTree(t, viewDir(t, sn, got, false))

	// A second unpack finds every layer and prepares nothing.
	again, err := unpack.Unpack(t.Context(), store, sn, m)
	if err != nil || again != got {
		t.Fatalf("second Unpack = %s, %v; want %s", again, err, got)
	}
}

func TestUnpackOverlay(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	root := t.TempDir()
	if err := overlay.Supported(root); err != nil {
		if errors.Is(err, overlay.ErrNotSupported) {
			t.Skipf("overlayfs: %v", err)
		}
		t.Fatal(err)
	}
	sn, err := overlay.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	img := testImage(t)
	store, m := pulled(t, img)
	got, err := unpack.Unpack(t.Context(), store, sn, m)
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	checkTree(t, viewDir(t, sn, got, true))
}

func TestUnpackNativeMounted(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	img := testImage(t)
	store, m := pulled(t, img)
	sn := newNative(t)
	got, err := unpack.Unpack(t.Context(), store, sn, m)
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	checkTree(t, viewDir(t, sn, got, true))
}

func TestUnpackDiffIDMismatch(t *testing.T) {
	t.Parallel()
	img := testImage(t)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS.DiffIDs[1], _ = v1.NewHash(digest.FromString("a lie").String())
	liar, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	store, m := pulled(t, liar)
	sn := newNative(t)

	_, err = unpack.Unpack(t.Context(), store, sn, m)
	if !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Unpack with a lying config = %v, want ErrFailedPrecondition", err)
	}
	chain := unpack.ChainIDs(diffIDs(t, liar))
	if _, err := sn.Stat(t.Context(), chain[0].String()); err != nil {
		t.Errorf("Stat(first layer) = %v, want it committed", err)
	}
	if _, err := sn.Stat(t.Context(), chain[1].String()); !errdefs.IsNotFound(err) {
		t.Errorf("Stat(lying layer) = %v, want ErrNotFound", err)
	}
	if s := snapshots(t, sn); len(s[snapshot.KindActive]) != 0 || len(s[snapshot.KindCommitted]) != 1 {
		t.Errorf("snapshots after failed Unpack = %v, want the first layer only", s)
	}
}

func TestUnpackConcurrent(t *testing.T) {
	t.Parallel()
	img := testImage(t)
	store, m := pulled(t, img)
	sn := newNative(t)
	const n = 4
	var wg sync.WaitGroup
	ids := make([]digest.Digest, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = unpack.Unpack(t.Context(), store, sn, m) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("Unpack %d = %s, %v; want %s", i, ids[i], errs[i], ids[0])
		}
	}
	if s := snapshots(t, sn); len(s[snapshot.KindActive]) != 0 || len(s[snapshot.KindCommitted]) != len(m.Layers) {
		t.Errorf("snapshots = %v, want %d committed", s, len(m.Layers))
	}
	checkTree(t, viewDir(t, sn, ids[0], false))
}

func TestUnpackRefused(t *testing.T) {
	t.Parallel()
	layer := tarBytes(t, entry{"f", "x"})
	cfg, _ := json.Marshal(ocispec.Image{RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(layer)}}})
	store, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte, mt string) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
		err := content.Fetch(t.Context(), store, d, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cfgDesc := put(cfg, ocispec.MediaTypeImageConfig)
	tests := []struct {
		name      string
		mediaType string
		layers    int
		want      error
	}{
		{"docker foreign", unpack.MediaTypeDockerForeignLayer, 1, errdefs.ErrNotImplemented},
		{"oci non-distributable", "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", 1, errdefs.ErrNotImplemented},
		{"unknown", "application/x-not-a-layer", 1, errdefs.ErrNotImplemented},
		{"layer count", ocispec.MediaTypeImageLayer, 2, errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sn := newNative(t)
			l := put(layer, tt.mediaType)
			m := ocispec.Manifest{Config: cfgDesc}
			for range tt.layers {
				m.Layers = append(m.Layers, l)
			}
			if _, err := unpack.Unpack(t.Context(), store, sn, m); !errors.Is(err, tt.want) {
				t.Fatalf("Unpack(%s) = %v, want %v", tt.mediaType, err, tt.want)
			}
			if s := snapshots(t, sn); len(s) != 0 {
				t.Errorf("snapshots = %v, want none", s)
			}
		})
	}
}
