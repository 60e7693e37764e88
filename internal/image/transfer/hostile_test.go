package transfer

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// validOCI is a well-formed one-image OCI archive, as entries, with the
// pieces hostile cases change.
type validOCI struct {
	layer, config, manifest []byte
	ld, cd, md              ocispec.Descriptor
}

func newValidOCI(t *testing.T) validOCI {
	t.Helper()
	var v validOCI
	v.layer = makeTar(t, []tarEntry{file("etc/hostname", []byte("x"))})
	v.ld = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(v.layer), Size: int64(len(v.layer))}
	v.config, _ = json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{v.ld.Digest}},
	})
	v.cd = jsonBlob(ocispec.MediaTypeImageConfig, v.config)
	v.setManifest(v.ld)
	return v
}

func (v *validOCI) setManifest(layers ...ocispec.Descriptor) {
	v.manifest, _ = json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: v.cd, Layers: layers,
	})
	v.md = jsonBlob(ocispec.MediaTypeImageManifest, v.manifest)
}

func (v validOCI) index() []byte {
	md := v.md
	md.Annotations = map[string]string{annotationImageName: "docker.io/library/x:1"}
	b, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{md}})
	return b
}

func bp(d digest.Digest) string { return "blobs/sha256/" + d.Encoded() }

func (v validOCI) entries() []tarEntry {
	return []tarEntry{
		file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)),
		file(bp(v.ld.Digest), v.layer),
		file(bp(v.cd.Digest), v.config),
		file(bp(v.md.Digest), v.manifest),
		file("index.json", v.index()),
	}
}

func TestLoadHostile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		archive func(t *testing.T, v validOCI) []byte
		want    error
	}{
		{"valid", func(t *testing.T, v validOCI) []byte { return makeTar(t, v.entries()) }, nil},
		{"path traversal", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, append(v.entries(), file("../../evil", []byte("x"))))
		}, errInvalid},
		{"path traversal inside", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, append(v.entries(), file("blobs/../../evil", []byte("x"))))
		}, errInvalid},
		{"absolute path", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, append(v.entries(), file("/etc/evil", []byte("x"))))
		}, errInvalid},
		{"symlink out of the archive", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, append(v.entries(), tarEntry{hdr: tarHeaderLink("blobs/sha256/evil", "../../../etc/passwd")}))
		}, errInvalid},
		{"absolute symlink", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, append(v.entries(), tarEntry{hdr: tarHeaderLink("evil", "/etc/passwd")}))
		}, errInvalid},
		{"hard link out of the archive", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, append(v.entries(), tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "evil", Linkname: "../x"}}))
		}, errInvalid},
		{"symlinked blob", func(t *testing.T, v validOCI) []byte {
			// The layer's name is a link to a file that is not in the archive.
			e := v.entries()
			e[1] = tarEntry{hdr: tarHeaderLink(bp(v.ld.Digest), "../../../../etc/hostname")}
			return makeTar(t, e)
		}, errInvalid},
		{"device", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, append(v.entries(), tarEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Devmajor: 1, Devminor: 3}}))
		}, errInvalid},
		{"duplicate entry", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, append(v.entries(), file("index.json", v.index())))
		}, errInvalid},
		{"missing layer", func(t *testing.T, v validOCI) []byte {
			e := v.entries()
			return makeTar(t, slices.Delete(e, 1, 2))
		}, errInvalid},
		{"missing config", func(t *testing.T, v validOCI) []byte {
			e := v.entries()
			return makeTar(t, slices.Delete(e, 2, 3))
		}, errInvalid},
		{"layer does not match its name", func(t *testing.T, v validOCI) []byte {
			e := v.entries()
			e[1] = file(bp(v.ld.Digest), append(bytes.Clone(v.layer[:len(v.layer)-1]), 'x'))
			return makeTar(t, e)
		}, errPrecondition},
		{"config does not match its name", func(t *testing.T, v validOCI) []byte {
			e := v.entries()
			e[2] = file(bp(v.cd.Digest), append(bytes.Clone(v.config), ' '))
			return makeTar(t, e)
		}, errPrecondition},
		{"layer size differs from descriptor", func(t *testing.T, v validOCI) []byte {
			ld := v.ld
			ld.Size++
			v.setManifest(ld)
			return makeTar(t, v.entries())
		}, errPrecondition},
		{"absurd descriptor size", func(t *testing.T, v validOCI) []byte {
			ld := v.ld
			ld.Size = 1 << 62
			v.setManifest(ld)
			return makeTar(t, v.entries())
		}, errPrecondition},
		{"negative descriptor size", func(t *testing.T, v validOCI) []byte {
			ld := v.ld
			ld.Size = -1
			v.setManifest(ld)
			return makeTar(t, v.entries())
		}, errInvalid},
		{"sha512 descriptor", func(t *testing.T, v validOCI) []byte {
			ld := v.ld
			ld.Digest = digest.SHA512.FromBytes(v.layer)
			v.setManifest(ld)
			return makeTar(t, v.entries())
		}, errInvalid},
		{"bad blob name", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, append(v.entries(), file("blobs/sha256/NOTHEX", []byte("x"))))
		}, errInvalid},
		{"truncated archive", func(t *testing.T, v validOCI) []byte {
			b := makeTar(t, v.entries())
			// Cut inside the layer's data.
			i := bytes.Index(b, v.layer)
			return b[:i+100]
		}, errInvalid},
		{"absurd entry size", func(t *testing.T, v validOCI) []byte {
			b := makeTar(t, v.entries()[:1])
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "blobs/sha256/" + strings.Repeat("a", 64), Size: 1 << 40})
			tw.Write([]byte("short"))
			return append(b[:len(b)-1024], buf.Bytes()[:buf.Len()-0]...)
		}, errInvalid},
		{"huge index.json", func(t *testing.T, v validOCI) []byte {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "index.json", Size: 1 << 30})
			tw.Write([]byte("{"))
			return buf.Bytes()
		}, errInvalid},
		{"no index or manifest.json", func(t *testing.T, v validOCI) []byte {
			return makeTar(t, v.entries()[:4])
		}, errInvalid},
		{"not a tar", func(t *testing.T, v validOCI) []byte {
			return bytes.Repeat([]byte("garbage!"), 200)
		}, errInvalid},
		{"index lists no image", func(t *testing.T, v validOCI) []byte {
			e := v.entries()
			e[4] = file("index.json", []byte(`{"schemaVersion":2,"manifests":[]}`))
			return makeTar(t, e)
		}, errInvalid},
		{"bad image name", func(t *testing.T, v validOCI) []byte {
			e := v.entries()
			md := v.md
			md.Annotations = map[string]string{annotationImageName: "not a name"}
			b, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{md}})
			e[4] = file("index.json", b)
			return makeTar(t, e)
		}, errInvalid},
		{"config diff ids do not match layers", func(t *testing.T, v validOCI) []byte {
			v.setManifest(v.ld, v.ld)
			return makeTar(t, v.entries())
		}, errInvalid},
		{"manifest.json path traversal", func(t *testing.T, v validOCI) []byte {
			mf, _ := json.Marshal([]dockerManifestEntry{{Config: bp(v.cd.Digest), Layers: []string{"../../../etc/passwd"}}})
			e := v.entries()
			e[4] = file("manifest.json", mf)
			return makeTar(t, e)
		}, errInvalid},
		{"manifest.json missing layer", func(t *testing.T, v validOCI) []byte {
			mf, _ := json.Marshal([]dockerManifestEntry{{Config: bp(v.cd.Digest), Layers: []string{"nope/layer.tar"}}})
			e := v.entries()
			e[4] = file("manifest.json", mf)
			return makeTar(t, e)
		}, errInvalid},
		{"manifest.json bad repo tag", func(t *testing.T, v validOCI) []byte {
			mf, _ := json.Marshal([]dockerManifestEntry{{Config: bp(v.cd.Digest), RepoTags: []string{"a b"}, Layers: []string{bp(v.ld.Digest)}}})
			e := v.entries()
			e[4] = file("manifest.json", mf)
			return makeTar(t, e)
		}, errInvalid},
		{"manifest.json config named by another digest", func(t *testing.T, v validOCI) []byte {
			other := digest.FromString("other").Encoded() + ".json"
			mf, _ := json.Marshal([]dockerManifestEntry{{Config: other, Layers: []string{bp(v.ld.Digest)}}})
			e := v.entries()
			e[4] = file("manifest.json", mf)
			return makeTar(t, append(e, file(other, v.config)))
		}, errPrecondition},
		{"manifest.json uncompressed layer is not its diff id", func(t *testing.T, v validOCI) []byte {
			other := makeTar(t, []tarEntry{file("other", []byte("y"))})
			mf, _ := json.Marshal([]dockerManifestEntry{{Config: bp(v.cd.Digest), Layers: []string{"x/layer.tar"}}})
			e := v.entries()
			e[4] = file("manifest.json", mf)
			return makeTar(t, append(e, file("x/layer.tar", other)))
		}, errPrecondition},
		{"symlink loop", func(t *testing.T, v validOCI) []byte {
			mf, _ := json.Marshal([]dockerManifestEntry{{Config: bp(v.cd.Digest), Layers: []string{"a"}}})
			e := v.entries()
			e[4] = file("manifest.json", mf)
			return makeTar(t, append(e, tarEntry{hdr: tarHeaderLink("a", "b")}, tarEntry{hdr: tarHeaderLink("b", "a")}))
		}, errInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			v := newValidOCI(t)
			archive := tt.archive(t, v)
			loaded, err := Load(t.Context(), store, bytes.NewReader(archive))
			checkErr(t, "Load", err, tt.want)
			noIngests(t, store)
			got := blobs(t, store)
			if tt.want == nil {
				if len(loaded) != 1 || len(got) != 3 {
					t.Errorf("Load() = %+v, store %v; want 1 image, 3 blobs", loaded, got)
				}
				return
			}
			if len(got) != 0 {
				t.Errorf("failed Load() left blobs %v, want none", got)
			}
		})
	}
}
