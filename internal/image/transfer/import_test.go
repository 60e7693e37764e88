package transfer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestImport(t *testing.T) {
	t.Parallel()
	rootfs := makeTar(t, []tarEntry{file("etc/motd", []byte("hello from import\n"))})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(rootfs)
	zw.Close()
	var zs bytes.Buffer
	zsw, _ := zstd.NewWriter(&zs)
	zsw.Write(rootfs)
	zsw.Close()

	tests := []struct {
		name      string
		input     []byte
		layerType string
		keepBlob  bool // the layer blob is the input as given
	}{
		{"plain tar", rootfs, ocispec.MediaTypeImageLayer, true},
		{"gzip", gz.Bytes(), ocispec.MediaTypeImageLayerGzip, true},
		{"zstd", zs.Bytes(), ocispec.MediaTypeImageLayerZstd, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			opts := ImportOpts{
				Platform: ocispec.Platform{OS: "linux", Architecture: "arm64"},
				Changes:  ocispec.ImageConfig{Cmd: []string{"/bin/sh"}, Env: []string{"A=b"}, WorkingDir: "/w", Labels: map[string]string{"k": "v"}},
			}
			manifest, config, err := Import(t.Context(), store, bytes.NewReader(tt.input), opts)
			if err != nil {
				t.Fatalf("Import() = %v", err)
			}
			raw, err := readBlob(t, store, config)
			if err != nil {
				t.Fatal(err)
			}
			var cfg ocispec.Image
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			if want := []digest.Digest{digest.FromBytes(rootfs)}; !slices.Equal(cfg.RootFS.DiffIDs, want) {
				t.Errorf("diff ids %v, want %v", cfg.RootFS.DiffIDs, want)
			}
			if cfg.Architecture != "arm64" || cfg.OS != "linux" || cfg.Config.WorkingDir != "/w" || !slices.Equal(cfg.Config.Cmd, []string{"/bin/sh"}) || cfg.Config.Labels["k"] != "v" {
				t.Errorf("config = %s", raw)
			}
			if len(cfg.History) != 1 || cfg.History[0].Comment != "Imported from -" || cfg.Created == nil {
				t.Errorf("config history = %s", raw)
			}
			raw, err = readBlob(t, store, manifest)
			if err != nil {
				t.Fatal(err)
			}
			var m ocispec.Manifest
			json.Unmarshal(raw, &m)
			if len(m.Layers) != 1 || m.Layers[0].MediaType != tt.layerType {
				t.Fatalf("manifest = %s", raw)
			}
			if tt.keepBlob && m.Layers[0].Digest != digest.FromBytes(tt.input) {
				t.Errorf("layer %s, want the input as given %s", m.Layers[0].Digest, digest.FromBytes(tt.input))
			}
			noIngests(t, store)

			// Save and Load handle it.
			for _, format := range []Format{DockerArchive, OCIArchive} {
				var buf bytes.Buffer
				if err := Save(t.Context(), store, []SaveImage{{Names: []string{"docker.io/library/imported:latest"}, Manifest: manifest}}, &buf, format); err != nil {
					t.Fatalf("Save(%s) = %v", format, err)
				}
				arch := buf.Bytes()
				loaded, err := Load(t.Context(), newStore(t), bytes.NewReader(arch))
				if err != nil || len(loaded) != 1 || loaded[0].Config.Digest != config.Digest || loaded[0].Manifest.Digest != manifest.Digest {
					t.Errorf("Load(Save(%s)) = %+v, %v", format, loaded, err)
				}
				if tt.layerType == ocispec.MediaTypeImageLayerZstd {
					continue // skopeo 1.9 does not decompress zstd in docker-archive
				}
				f := filepath.Join(t.TempDir(), "img.tar")
				os.WriteFile(f, arch, 0o644)
				if got := digest.FromBytes(skopeo(t, "inspect", "--raw", "--config", format.String()+":"+f)); got != config.Digest {
					t.Errorf("skopeo inspect %s: config %s, want %s", format, got, config.Digest)
				}
			}
		})
	}
}

func TestImportErrors(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("not a tar at all, just some text that is long enough to be read"))
	zw.Close()
	tests := []struct {
		name  string
		input []byte
		opts  ImportOpts
		want  error
	}{
		{"empty", nil, ImportOpts{}, errInvalid},
		{"not a tar", bytes.Repeat([]byte("nope"), 300), ImportOpts{}, errInvalid},
		{"gzip of not a tar", gz.Bytes(), ImportOpts{}, errInvalid},
		{"corrupt gzip", []byte{0x1f, 0x8b, 0x08, 0, 1, 2, 3}, ImportOpts{}, errInvalid},
		{"half a platform", makeTar(t, []tarEntry{file("a", nil)}), ImportOpts{Platform: ocispec.Platform{OS: "linux"}}, errInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			_, _, err := Import(t.Context(), store, bytes.NewReader(tt.input), tt.opts)
			checkErr(t, "Import", err, tt.want)
			noIngests(t, store)
			if len(blobs(t, store)) != 0 {
				t.Errorf("failed Import() left blobs %v", blobs(t, store))
			}
		})
	}
}
