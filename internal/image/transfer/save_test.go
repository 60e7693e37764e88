package transfer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestSaveSkopeoReads(t *testing.T) {
	t.Parallel()
	for _, format := range []Format{DockerArchive, OCIArchive} {
		t.Run(format.String(), func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			img := randomImage(t, 2)
			manifest, config := putImage(t, store, img)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}

			file := filepath.Join(t.TempDir(), "img.tar")
			var buf bytes.Buffer
			imgs := []SaveImage{{Names: []string{"docker.io/library/busybox:latest"}, Manifest: manifest}}
			if err := Save(t.Context(), store, imgs, &buf, format); err != nil {
				t.Fatalf("Save() = %v", err)
			}
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			src := format.String() + ":" + file

			rawConfig := skopeo(t, "inspect", "--raw", "--config", src)
			if got := digest.FromBytes(rawConfig); got != config.Digest {
				t.Errorf("skopeo inspect --config %s: config %s, want %s", format, got, config.Digest)
			}
			var inspect struct{ Layers []digest.Digest }
			if err := json.Unmarshal(skopeo(t, "inspect", src), &inspect); err != nil {
				t.Fatal(err)
			}
			var want []digest.Digest
			if format == OCIArchive {
				// The manifest is ours, byte for byte.
				if got := digest.FromBytes(skopeo(t, "inspect", "--raw", src)); got != manifest.Digest {
					t.Errorf("skopeo inspect --raw: manifest %s, want %s", got, manifest.Digest)
				}
				layers, _ := img.Layers()
				for _, l := range layers {
					d, _ := l.Digest()
					want = append(want, digest.Digest(d.String()))
				}
			} else {
				// docker-archive shows the uncompressed layers.
				for _, d := range cf.RootFS.DiffIDs {
					want = append(want, digest.Digest(d.String()))
				}
			}
			if !slices.Equal(inspect.Layers, want) {
				t.Errorf("skopeo inspect: layers %v, want %v", inspect.Layers, want)
			}

			// A full copy reads every blob; dir: keeps the config as it is
			// (converting to oci: would rewrite it).
			dir := filepath.Join(t.TempDir(), "dir")
			skopeo(t, "copy", src, "dir:"+dir)
			var m ocispec.Manifest
			b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m.Config.Digest != config.Digest {
				t.Errorf("skopeo copy to dir: config %s, want %s", m.Config.Digest, config.Digest)
			}
		})
	}
}

func TestSaveDockerLayout(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	manifest, config := putImage(t, store, randomImage(t, 1))
	var buf bytes.Buffer
	imgs := []SaveImage{{Names: []string{"docker.io/library/busybox:latest", "ghcr.io/o/r:1", "docker.io/library/busybox@" + manifest.Digest.String()}, Manifest: manifest}}
	if err := Save(t.Context(), store, imgs, &buf, DockerArchive); err != nil {
		t.Fatal(err)
	}
	files := readTar(t, buf.Bytes())
	for _, name := range []string{"oci-layout", "index.json", "manifest.json", "repositories", "blobs/sha256/" + config.Digest.Encoded(), "blobs/sha256/" + manifest.Digest.Encoded()} {
		if _, ok := files[name]; !ok {
			t.Errorf("archive has no %s", name)
		}
	}
	var mf []dockerManifestEntry
	if err := json.Unmarshal(files["manifest.json"], &mf); err != nil {
		t.Fatal(err)
	}
	if len(mf) != 1 || mf[0].Config != "blobs/sha256/"+config.Digest.Encoded() || !slices.Equal(mf[0].RepoTags, []string{"busybox:latest", "ghcr.io/o/r:1"}) {
		t.Errorf("manifest.json = %s", files["manifest.json"])
	}
	var idx ocispec.Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range idx.Manifests {
		names = append(names, d.Annotations[annotationImageName]+"|"+d.Annotations[ocispec.AnnotationRefName])
	}
	want := []string{"docker.io/library/busybox:latest|latest", "ghcr.io/o/r:1|1", "docker.io/library/busybox@" + manifest.Digest.String() + "|"}
	if !slices.Equal(names, want) {
		t.Errorf("index.json names = %q, want %q", names, want)
	}

	// Saving again gives the same bytes.
	var again bytes.Buffer
	if err := Save(t.Context(), store, imgs, &again, DockerArchive); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("Save is not deterministic")
	}
}

func TestSaveErrors(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	manifest, _ := putImage(t, store, randomImage(t, 1))
	missing := manifest
	missing.Digest = digest.FromString("nope")
	tests := []struct {
		name string
		imgs []SaveImage
		want error
	}{
		{"no images", nil, errInvalid},
		{"bad name", []SaveImage{{Names: []string{"Not A Name"}, Manifest: manifest}}, errInvalid},
		{"missing manifest", []SaveImage{{Manifest: missing}}, errNotFound},
		{"index", []SaveImage{{Manifest: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: manifest.Digest, Size: manifest.Size}}}, errInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Save(t.Context(), store, tt.imgs, &buf, OCIArchive)
			checkErr(t, "Save", err, tt.want)
		})
	}
}
