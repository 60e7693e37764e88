package transfer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestLoadSkopeoWrote(t *testing.T) {
	t.Parallel()
	img := randomImage(t, 2)
	srcDir := filepath.Join(t.TempDir(), "src")
	p, err := layout.Write(srcDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{ocispec.AnnotationRefName: "src"})); err != nil {
		t.Fatal(err)
	}
	wantManifest, _ := img.Digest()
	wantConfig, _ := img.ConfigName()
	layers, _ := img.Layers()

	tests := []struct {
		name      string
		dest      string // skopeo destination, %s = file
		names     []string
		keepsMfst bool // the manifest digest survives
	}{
		{"docker-archive", "docker-archive:%s:busybox:latest", []string{"docker.io/library/busybox:latest"}, false},
		{"oci-archive full name", "oci-archive:%s:docker.io/library/busybox:1", []string{"docker.io/library/busybox:1"}, true},
		{"oci-archive bare tag", "oci-archive:%s:latest", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "img.tar")
			skopeo(t, "copy", "oci:"+srcDir+":src", replaceFile(tt.dest, file))
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			store := newStore(t)
			loaded, err := Load(t.Context(), store, f)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			if len(loaded) != 1 {
				t.Fatalf("Load() = %d images, want 1", len(loaded))
			}
			got := loaded[0]
			if got.Config.Digest.String() != wantConfig.String() {
				t.Errorf("Load(): config %s, want %s", got.Config.Digest, wantConfig)
			}
			if tt.keepsMfst && got.Manifest.Digest.String() != wantManifest.String() {
				t.Errorf("Load(): manifest %s, want %s", got.Manifest.Digest, wantManifest)
			}
			if !slices.Equal(got.Names, tt.names) {
				t.Errorf("Load(): names %q, want %q", got.Names, tt.names)
			}
			checkLoaded(t, store, got, len(layers))
			noIngests(t, store)
		})
	}
}

func replaceFile(dest, file string) string {
	return string(bytes.Replace([]byte(dest), []byte("%s"), []byte(file), 1))
}

// checkLoaded checks that a loaded image's blobs are all in store and
// consistent.
func checkLoaded(t *testing.T, store LoadStore, img Loaded, layers int) {
	t.Helper()
	ctx := t.Context()
	raw, err := readBlob(t, store, img.Manifest)
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Config.Digest != img.Config.Digest || len(m.Layers) != layers {
		t.Fatalf("manifest = %s", raw)
	}
	if _, err := readBlob(t, store, m.Config); err != nil {
		t.Fatalf("read config: %v", err)
	}
	for _, l := range m.Layers {
		ra, err := store.ReaderAt(ctx, l)
		if err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
		if ra.Size() != l.Size {
			t.Errorf("layer %s: %d bytes, manifest says %d", l.Digest, ra.Size(), l.Size)
		}
		ra.Close()
	}
}

func readBlob(t *testing.T, store LoadStore, desc ocispec.Descriptor) ([]byte, error) {
	t.Helper()
	ra, err := store.ReaderAt(t.Context(), desc)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	b := make([]byte, ra.Size())
	_, err = ra.ReadAt(b, 0)
	return b, err
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	for _, format := range []Format{DockerArchive, OCIArchive} {
		t.Run(format.String(), func(t *testing.T) {
			t.Parallel()
			src := newStore(t)
			m1, c1 := putImage(t, src, randomImage(t, 2))
			m2, c2 := putImage(t, src, randomImage(t, 1))
			m3, c3 := putImage(t, src, randomImage(t, 1))
			imgs := []SaveImage{
				{Names: []string{"docker.io/library/busybox:latest", "localhost:5000/x/y:2"}, Manifest: m1},
				{Names: []string{"ghcr.io/o/r:1"}, Manifest: m2},
				{Manifest: m3}, // untagged
			}
			var buf bytes.Buffer
			if err := Save(t.Context(), src, imgs, &buf, format); err != nil {
				t.Fatal(err)
			}
			dst := newStore(t)
			loaded, err := Load(t.Context(), dst, &buf)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			want := []Loaded{
				{Names: imgs[0].Names, Manifest: m1, Config: c1},
				{Names: imgs[1].Names, Manifest: m2, Config: c2},
				{Names: []string{}, Manifest: m3, Config: c3},
			}
			if len(loaded) != len(want) {
				t.Fatalf("Load() = %d images, want %d", len(loaded), len(want))
			}
			for i := range want {
				g, w := loaded[i], want[i]
				if !slices.Equal(g.Names, w.Names) || g.Manifest.Digest != w.Manifest.Digest || g.Manifest.MediaType != w.Manifest.MediaType ||
					g.Manifest.Size != w.Manifest.Size || g.Config.Digest != w.Config.Digest {
					t.Errorf("Load()[%d] = %+v, want %+v", i, g, w)
				}
			}
			if got, want := blobs(t, dst), blobs(t, src); !slices.Equal(got, want) {
				t.Errorf("loaded store has blobs %v, want %v", got, want)
			}
			noIngests(t, dst)

			// Loading again into the same store is fine (blobs exist).
			var again bytes.Buffer
			if err := Save(t.Context(), src, imgs, &again, format); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(t.Context(), dst, &again); err != nil {
				t.Fatalf("second Load() = %v", err)
			}
			noIngests(t, dst)
		})
	}
}

// TestLoadDockerManifestOnly loads what classic `docker save` (before
// Docker 25) writes: manifest.json, <id>.json, <v1 id>/layer.tar, and a
// duplicate layer as a symlink.
func TestLoadDockerManifestOnly(t *testing.T) {
	t.Parallel()
	layerTar := makeTar(t, []tarEntry{file("hello", []byte("hello"))})
	diffID := digest.FromBytes(layerTar)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layerTar)
	zw.Close()
	cfg, _ := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID, diffID, diffID}},
	})
	cfgDigest := digest.FromBytes(cfg)
	mf, _ := json.Marshal([]dockerManifestEntry{{
		Config:   cfgDigest.Encoded() + ".json",
		RepoTags: []string{"busybox:latest", "my/app:1"},
		Layers:   []string{"aaa/layer.tar", "bbb/layer.tar", "blobs/sha256/" + digest.FromBytes(gz.Bytes()).Encoded()},
	}})
	archive := makeTar(t, []tarEntry{
		file(cfgDigest.Encoded()+".json", cfg),
		file("aaa/VERSION", []byte("1.0")),
		file("aaa/json", []byte(`{"id":"aaa"}`)),
		file("aaa/layer.tar", layerTar),
		{hdr: tarHeaderLink("bbb/layer.tar", "../aaa/layer.tar")},
		file("blobs/sha256/"+digest.FromBytes(gz.Bytes()).Encoded(), gz.Bytes()),
		file("manifest.json", mf),
		file("repositories", []byte(`{"busybox":{"latest":"aaa"}}`)),
	})
	store := newStore(t)
	loaded, err := Load(t.Context(), store, bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if len(loaded) != 1 {
		t.Fatalf("Load() = %d images", len(loaded))
	}
	img := loaded[0]
	if img.Config.Digest != cfgDigest {
		t.Errorf("config %s, want %s", img.Config.Digest, cfgDigest)
	}
	if want := []string{"docker.io/library/busybox:latest", "docker.io/my/app:1"}; !slices.Equal(img.Names, want) {
		t.Errorf("names %q, want %q", img.Names, want)
	}
	checkLoaded(t, store, img, 3)
	raw, _ := readBlob(t, store, img.Manifest)
	var m ocispec.Manifest
	json.Unmarshal(raw, &m)
	gotTypes := []string{m.MediaType, m.Config.MediaType}
	for _, l := range m.Layers {
		gotTypes = append(gotTypes, l.MediaType)
	}
	wantTypes := []string{mediaTypeDockerManifest, mediaTypeDockerConfig, mediaTypeDockerLayer, mediaTypeDockerLayer, mediaTypeDockerLayerGzip}
	if !slices.Equal(gotTypes, wantTypes) {
		t.Errorf("media types %q, want %q", gotTypes, wantTypes)
	}
	// manifest, config, one uncompressed and one gzip layer; no legacy json.
	if got := len(blobs(t, store)); got != 4 {
		t.Errorf("store has %d blobs, want 4", got)
	}
	noIngests(t, store)

	// And it saves again, for skopeo to read.
	var out bytes.Buffer
	if err := Save(t.Context(), store, []SaveImage{{Names: img.Names[:1], Manifest: img.Manifest}}, &out, DockerArchive); err != nil {
		t.Fatalf("Save() = %v", err)
	}
	f := filepath.Join(t.TempDir(), "again.tar")
	os.WriteFile(f, out.Bytes(), 0o644)
	if got := digest.FromBytes(skopeo(t, "inspect", "--raw", "--config", "docker-archive:"+f)); got != cfgDigest {
		t.Errorf("skopeo: config %s, want %s", got, cfgDigest)
	}
}
