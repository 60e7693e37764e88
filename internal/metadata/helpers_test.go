package metadata

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// newDB opens a database in a temporary directory and, on cleanup, checks
// its invariants (unless the test corrupts it on purpose) and closes it.
func newDB(t *testing.T, check bool) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() {
		if check {
			if err := db.Check(context.Background()); err != nil {
				t.Errorf("Check() = %v, want nil", err)
			}
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return db, path
}

// digestOf returns the sha256 digest of s.
func digestOf(s string) digest.Digest {
	return digest.NewDigestFromBytes(digest.SHA256, func() []byte { h := sha256.Sum256([]byte(s)); return h[:] }())
}

// idWithPrefix returns a syntactically valid image ID starting with hex
// prefix p (the rest derived from seed); IDs need not be real hashes here.
func idWithPrefix(p, seed string) digest.Digest {
	h := digestOf(seed).Encoded()
	return digest.Digest("sha256:" + p + h[len(p):])
}

// newImage returns an image whose ID and target are derived from seed.
func newImage(seed string) Image {
	return Image{
		ID: digestOf("config-" + seed),
		Target: ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageManifest,
			Digest:    digestOf("manifest-" + seed),
			Size:      int64(100 + len(seed)),
		},
		Labels: map[string]string{"seed": seed},
	}
}

func mustCreate(t *testing.T, s *ImageStore, img Image) Image {
	t.Helper()
	got, err := s.Create(t.Context(), img)
	if err != nil {
		t.Fatalf("Create(%s) = %v", img.ID, err)
	}
	return got
}

func mustTag(t *testing.T, s *ImageStore, name string, id digest.Digest) {
	t.Helper()
	if err := s.Tag(t.Context(), name, id); err != nil {
		t.Fatalf("Tag(%q, %s) = %v", name, id, err)
	}
}

func describe(imgs []Image) []string {
	var out []string
	for _, img := range imgs {
		out = append(out, fmt.Sprintf("%s=%s", img.Name, img.ID.Encoded()[:6]))
	}
	return out
}
