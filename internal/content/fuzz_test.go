package content

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// FuzzWriterRef: whatever the ref, the store creates files only under its
// root, and the ref round-trips through Status.
func FuzzWriterRef(f *testing.F) {
	for _, seed := range []string{"", "a", "../../../../tmp/x", "/etc/passwd", "a/../../b", "..", ".", "fetch-sha256:" + strings.Repeat("0", 64), "\x00", "x\ny", strings.Repeat("/..", 400)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		ctx := context.Background()
		base := t.TempDir()
		root := filepath.Join(base, "store")
		s, err := NewStore(root)
		if err != nil {
			t.Fatal(err)
		}
		w, err := s.Writer(ctx, WithRef(ref))
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Writer(WithRef(%q)) = %v, want nil or invalid argument", ref, err)
			}
		} else {
			if _, err := w.Write([]byte(ref)); err != nil {
				t.Fatal(err)
			}
			w.Close()
			st, err := s.Status(ctx, ref)
			if err != nil || st.Ref != ref || st.Offset != int64(len(ref)) {
				t.Fatalf("Status(%q) = %+v, %v", ref, st, err)
			}
		}
		checkOnlyUnder(t, base, root)
		checkStore(t, root)
		if err == nil {
			if err := s.Abort(ctx, ref); err != nil {
				t.Fatalf("Abort(%q) = %v", ref, err)
			}
		}
	})
}

// FuzzDigest: whatever the digest, every operation either works on a
// well-formed sha256 digest or fails with invalid argument, and nothing is
// created outside the root.
func FuzzDigest(f *testing.F) {
	for _, seed := range []string{"", "sha256:../../etc", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256", ":",
		digest.FromString("x").String(), "sha256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("a", 64) + "/.."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ctx := context.Background()
		base := t.TempDir()
		root := filepath.Join(base, "store")
		st, err := NewStore(root)
		if err != nil {
			t.Fatal(err)
		}
		d := digest.Digest(s)
		valid := validateDigest(d) == nil
		if valid && (d.Algorithm() != digest.SHA256 || d.Validate() != nil) {
			t.Fatalf("validateDigest(%q) accepted a digest go-digest rejects", s)
		}
		want := func(op string, err error, okClass error) {
			t.Helper()
			if valid {
				if err != nil && !errors.Is(err, okClass) {
					t.Errorf("%s(%q) = %v, want nil or %v", op, s, err, okClass)
				}
			} else if !errdefs.IsInvalidArgument(err) {
				t.Errorf("%s(%q) = %v, want invalid argument", op, s, err)
			}
		}
		_, err = st.Info(ctx, d)
		want("Info", err, errdefs.ErrNotFound)
		_, err = st.ReaderAt(ctx, ocispec.Descriptor{Digest: d})
		want("ReaderAt", err, errdefs.ErrNotFound)
		want("Delete", st.Delete(ctx, d), errdefs.ErrNotFound)
		err = Fetch(ctx, st, ocispec.Descriptor{Digest: d, Size: 1}, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("x")), nil
		})
		want("Fetch", err, errdefs.ErrFailedPrecondition) // fine only for sha256("x")
		if s != "" {
			w, err := st.Writer(ctx, WithRef("r"), WithDescriptor(ocispec.Descriptor{Digest: d}))
			want("Writer", err, errdefs.ErrAlreadyExists)
			if err == nil {
				w.Close()
			}
		}
		checkOnlyUnder(t, base, root)
		checkStore(t, root)
	})
}

// checkOnlyUnder fails t if base holds anything but root and what is
// under it.
func checkOnlyUnder(t *testing.T, base, root string) {
	t.Helper()
	err := filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == base {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Errorf("%s is outside the store root %s", p, root)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatal(err)
	}
}
