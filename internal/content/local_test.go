package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// newTestStore opens a store in a new temporary directory and checks the
// store's invariants when the test ends.
func newTestStore(t testing.TB) *LocalStore {
	t.Helper()
	s, err := NewStore(filepath.Join(t.TempDir(), "content"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkStore(t, s.Root()) })
	return s
}

// checkStore verifies the on-disk invariants of the store at root: only
// blobs/ and ingest/ at the top, every blob read-only and hashing to its
// name, every initialised ingest directory named by the hash of its ref.
func checkStore(t testing.TB, root string) {
	t.Helper()
	top, err := os.ReadDir(root)
	if err != nil {
		t.Errorf("check store: %v", err)
		return
	}
	for _, e := range top {
		if e.Name() != blobsDirName && e.Name() != ingestDirName {
			t.Errorf("check store: unexpected %s in root", e.Name())
		}
	}
	blobs := filepath.Join(root, blobsDirName, "sha256")
	entries, err := os.ReadDir(blobs)
	if err != nil {
		t.Errorf("check store: %v", err)
		return
	}
	for _, e := range entries {
		p := filepath.Join(blobs, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("check store: %v", err)
			continue
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o444 {
			t.Errorf("check store: blob %s has mode %v, want -r--r--r--", e.Name(), fi.Mode())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("check store: %v", err)
			continue
		}
		if got := digest.FromBytes(b).Encoded(); got != e.Name() {
			t.Errorf("check store: blob %s hashes to %s", e.Name(), got)
		}
	}
	ingests, err := os.ReadDir(filepath.Join(root, ingestDirName))
	if err != nil {
		t.Errorf("check store: %v", err)
		return
	}
	for _, e := range ingests {
		ref, err := os.ReadFile(filepath.Join(root, ingestDirName, e.Name(), refFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue // never initialised
		}
		if err != nil {
			t.Errorf("check store: %v", err)
			continue
		}
		if refKey(string(ref)) != e.Name() {
			t.Errorf("check store: ingest %s holds ref %q", e.Name(), ref)
		}
	}
}

// randomBlob returns n pseudo-random bytes, the same for the same seed, and
// their descriptor.
func randomBlob(seed uint64, n int) ([]byte, ocispec.Descriptor) {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	_, _ = r.Read(b)
	return b, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(b), Size: int64(n)}
}

// writeBlob writes and commits data under ref.
func writeBlob(t testing.TB, s Store, ref string, data []byte) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	w, err := s.Writer(ctx, WithRef(ref), WithDescriptor(desc))
	if err != nil {
		t.Fatalf("Writer(%q) = %v", ref, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	return desc
}

// crash drops w as a killed process would: its descriptors close, so the
// flock goes, but nothing else happens. The in-process lock stays held, so
// the test must go on with a new LocalStore on the same root.
func crash(t testing.TB, w Writer) {
	t.Helper()
	lw := w.(*writer)
	lw.fp.Close()
	lw.lock.f.Close()
	lw.fp = nil
}

func TestWriteCommitRead(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 4096, 1<<20 + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := newTestStore(t)
			data, desc := randomBlob(uint64(n), n)
			w, err := s.Writer(ctx, WithRef("r"), WithDescriptor(desc))
			if err != nil {
				t.Fatal(err)
			}
			// Write in uneven pieces.
			for rest := data; len(rest) > 0; {
				k := min(len(rest), 1000)
				if _, err := w.Write(rest[:k]); err != nil {
					t.Fatal(err)
				}
				rest = rest[k:]
			}
			if got := w.Digest(); got != desc.Digest {
				t.Errorf("Digest() = %s, want %s", got, desc.Digest)
			}
			if _, err := s.Info(ctx, desc.Digest); !errdefs.IsNotFound(err) {
				t.Errorf("Info before Commit = %v, want not found", err)
			}
			if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil {
				t.Fatal(err)
			}
			got, err := ReadBlob(ctx, s, desc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("ReadBlob: %d bytes differ from the %d written", len(got), len(data))
			}
			info, err := s.Info(ctx, desc.Digest)
			if err != nil || info.Size != desc.Size || info.Digest != desc.Digest {
				t.Errorf("Info = %+v, %v, want size %d", info, err, desc.Size)
			}
			if _, err := s.Status(ctx, "r"); !errdefs.IsNotFound(err) {
				t.Errorf("Status after Commit = %v, want not found", err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close after Commit = %v, want nil", err)
			}
			if _, err := w.Write([]byte("x")); !errdefs.IsFailedPrecondition(err) {
				t.Errorf("Write after Commit = %v, want failed precondition", err)
			}
		})
	}
}

func TestCommitMismatch(t *testing.T) {
	t.Parallel()
	data, desc := randomBlob(1, 10000)
	_, other := randomBlob(2, 10000)
	tests := []struct {
		name     string
		desc     ocispec.Descriptor // given to Writer
		write    []byte
		size     int64 // given to Commit
		expected digest.Digest
	}{
		{name: "wrong digest", write: data, size: desc.Size, expected: other.Digest},
		{name: "wrong size", write: data, size: desc.Size - 1, expected: desc.Digest},
		{name: "wrong size no digest", write: data, size: desc.Size + 1},
		{name: "truncated", write: data[:5000], size: desc.Size, expected: desc.Digest},
		{name: "truncated from descriptor", desc: desc, write: data[:5000]},
		{name: "wrong digest from descriptor", desc: other, write: data},
		{name: "flipped byte", desc: desc, write: append(append([]byte{}, data[:9999]...), data[9999]^1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := newTestStore(t)
			w, err := s.Writer(ctx, WithRef("r"), WithDescriptor(tt.desc))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(tt.write); err != nil {
				t.Fatal(err)
			}
			err = w.Commit(ctx, tt.size, tt.expected)
			if !errdefs.IsFailedPrecondition(err) {
				t.Fatalf("Commit = %v, want failed precondition", err)
			}
			assertNoBlobs(t, s)
			if _, err := s.Status(ctx, "r"); !errdefs.IsNotFound(err) {
				t.Errorf("Status after failed Commit = %v, want not found", err)
			}
			if sts, _ := s.ListStatuses(ctx); len(sts) != 0 {
				t.Errorf("ListStatuses after failed Commit = %v, want none", sts)
			}
			// The ref is free again.
			w, err = s.Writer(ctx, WithRef("r"))
			if err != nil {
				t.Fatalf("Writer after failed Commit = %v", err)
			}
			if st, _ := w.Status(); st.Offset != 0 {
				t.Errorf("new ingest offset = %d, want 0", st.Offset)
			}
			w.Close()
		})
	}
}

func assertNoBlobs(t testing.TB, s Store) {
	t.Helper()
	var seen []digest.Digest
	if err := s.Walk(context.Background(), func(i Info) error { seen = append(seen, i.Digest); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 0 {
		t.Errorf("Walk found %v, want no blobs", seen)
	}
}

func TestWriteBeyondTotal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	data, desc := randomBlob(3, 100)
	w, err := s.Writer(ctx, WithRef("r"), WithDescriptor(desc))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(data[:60]); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write(make([]byte, 41)); !errdefs.IsFailedPrecondition(err) || n != 0 {
		t.Fatalf("Write past total = %d, %v, want 0, failed precondition", n, err)
	}
	if _, err := w.Write(data[60:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, 0, ""); err != nil {
		t.Fatalf("Commit with the descriptor's size and digest = %v", err)
	}
}

func TestCommitExisting(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	data, desc := randomBlob(4, 1000)
	writeBlob(t, s, "first", data)

	// Writer knows the digest: refused at once.
	if _, err := s.Writer(ctx, WithRef("second"), WithDescriptor(desc)); !errdefs.IsAlreadyExists(err) {
		t.Errorf("Writer for an existing digest = %v, want already exists", err)
	}
	// Writer does not know: found at Commit, and the ingest is dropped.
	w, err := s.Writer(ctx, WithRef("third"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); !errdefs.IsAlreadyExists(err) {
		t.Errorf("Commit of an existing digest = %v, want already exists", err)
	}
	if _, err := s.Status(ctx, "third"); !errdefs.IsNotFound(err) {
		t.Errorf("Status after Commit of an existing digest = %v, want not found", err)
	}
}

func TestResumeAfterCrash(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "content")
	t.Cleanup(func() { checkStore(t, root) })
	data, desc := randomBlob(5, 300000)

	s1, err := NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s1.Writer(ctx, WithRef("pull"), WithDescriptor(desc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:123457]); err != nil {
		t.Fatal(err)
	}
	crash(t, w)

	s2, err := NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s2.Status(ctx, "pull")
	if err != nil {
		t.Fatal(err)
	}
	want := Status{Ref: "pull", Offset: 123457, Total: desc.Size, Expected: desc.Digest}
	if st.Ref != want.Ref || st.Offset != want.Offset || st.Total != want.Total || st.Expected != want.Expected {
		t.Errorf("Status = %+v, want %+v", st, want)
	}
	if st.StartedAt.IsZero() || st.UpdatedAt.Before(st.StartedAt.Add(-1)) {
		t.Errorf("Status times = %v, %v", st.StartedAt, st.UpdatedAt)
	}
	if sts, err := s2.ListStatuses(ctx); err != nil || len(sts) != 1 || sts[0].Ref != "pull" {
		t.Errorf("ListStatuses = %+v, %v, want the one ingest", sts, err)
	}
	assertNoBlobs(t, s2)

	// Resume with only the ref: the descriptor was remembered.
	w, err = s2.Writer(ctx, WithRef("pull"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := w.Status()
	if err != nil || ws.Offset != st.Offset || ws.Expected != desc.Digest {
		t.Fatalf("Writer.Status = %+v, %v, want offset %d", ws, err, st.Offset)
	}
	if _, err := w.Write(data[ws.Offset:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBlob(ctx, s2, desc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadBlob after resume = %d bytes, %v", len(got), err)
	}
}

func TestResumeConflictingDescriptor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	data, desc := randomBlob(6, 100)
	_, other := randomBlob(7, 200)
	w, err := s.Writer(ctx, WithRef("r"), WithDescriptor(desc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:10]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	tests := []struct {
		name string
		desc ocispec.Descriptor
	}{
		{"digest", ocispec.Descriptor{Digest: other.Digest}},
		{"size", ocispec.Descriptor{Size: other.Size}},
	}
	for _, tt := range tests {
		if _, err := s.Writer(ctx, WithRef("r"), WithDescriptor(tt.desc)); !errdefs.IsFailedPrecondition(err) {
			t.Errorf("%s: Writer with a different descriptor = %v, want failed precondition", tt.name, err)
		}
	}
	// The ingest is untouched and still resumable.
	if st, err := s.Status(ctx, "r"); err != nil || st.Offset != 10 || st.Expected != desc.Digest {
		t.Errorf("Status = %+v, %v, want offset 10", st, err)
	}
	if err := s.Abort(ctx, "r"); err != nil {
		t.Fatal(err)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	data, desc := randomBlob(8, 1000)
	w, err := s.Writer(ctx, WithRef("r"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(data[:700]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("garbage")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int64{-1, 708} {
		if err := w.Truncate(bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Truncate(%d) = %v, want invalid argument", bad, err)
		}
	}
	if err := w.Truncate(700); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[700:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s1 := newTestStore(t)
	s2, err := NewStore(s1.Root()) // another store on the same root: flock only
	if err != nil {
		t.Fatal(err)
	}
	w, err := s1.Writer(ctx, WithRef("r"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    *LocalStore
	}{
		{"same store", s1},
		{"other store", s2},
	}
	for _, tt := range tests {
		if _, err := tt.s.Writer(ctx, WithRef("r")); !errdefs.IsUnavailable(err) {
			t.Errorf("%s: second Writer = %v, want unavailable", tt.name, err)
		}
		if err := tt.s.Abort(ctx, "r"); !errdefs.IsUnavailable(err) {
			t.Errorf("%s: Abort while writing = %v, want unavailable", tt.name, err)
		}
	}
	// Other refs are not affected.
	w2, err := s2.Writer(ctx, WithRef("other"))
	if err != nil {
		t.Fatalf("Writer for another ref = %v", err)
	}
	w2.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		w, err := tt.s.Writer(ctx, WithRef("r"))
		if err != nil {
			t.Fatalf("%s: Writer after Close = %v", tt.name, err)
		}
		w.Close()
	}
}

func TestInvalidDigests(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	hex := strings.Repeat("a", 64)
	bad := []string{
		"",
		"sha256:../../etc",
		"sha256:../../../../../../etc/passwd",
		"sha256:" + strings.Repeat("a", 63) + "/",
		"sha256:" + strings.ToUpper(hex),
		"sha256:" + hex + "a",
		"sha256:",
		"sha256",
		hex,
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		"sha512:" + strings.Repeat("a", 128),
		"sha384:" + strings.Repeat("a", 96),
		"../sha256:" + hex,
		"sha256:" + hex[:32] + "\x00" + hex[33:],
	}
	ops := []struct {
		name string
		do   func(d digest.Digest) error
	}{
		{"ReaderAt", func(d digest.Digest) error {
			_, err := s.ReaderAt(ctx, ocispec.Descriptor{Digest: d})
			return err
		}},
		{"Info", func(d digest.Digest) error { _, err := s.Info(ctx, d); return err }},
		{"Delete", func(d digest.Digest) error { return s.Delete(ctx, d) }},
		{"Update", func(d digest.Digest) error { _, err := s.Update(ctx, Info{Digest: d}); return err }},
		{"Fetch", func(d digest.Digest) error {
			return Fetch(ctx, s, ocispec.Descriptor{Digest: d}, func(context.Context) (io.ReadCloser, error) {
				t.Errorf("Fetch(%q) called open", d)
				return nil, errors.New("no")
			})
		}},
		{"VerifyReader", func(d digest.Digest) error {
			_, err := VerifyReader(strings.NewReader(""), ocispec.Descriptor{Digest: d})
			return err
		}},
		{"Commit", func(d digest.Digest) error {
			w, err := s.Writer(ctx, WithRef("commit-"+string(d)))
			if err != nil {
				return fmt.Errorf("Writer: %w", err) // not invalid argument: test fails
			}
			defer s.Abort(ctx, "commit-"+string(d))
			if d == "" {
				return errdefs.ErrInvalidArgument // empty means "unknown" to Commit
			}
			return w.Commit(ctx, 0, d)
		}},
	}
	for _, b := range bad {
		d := digest.Digest(b)
		descOp := func(d digest.Digest) error {
			if d == "" {
				return errdefs.ErrInvalidArgument // empty means "unknown" to WithDescriptor
			}
			_, err := s.Writer(ctx, WithRef("r"), WithDescriptor(ocispec.Descriptor{Digest: d}))
			return err
		}
		for _, op := range append(ops, struct {
			name string
			do   func(d digest.Digest) error
		}{"Writer", descOp}) {
			t.Run(fmt.Sprintf("%s/%q", op.name, d), func(t *testing.T) {
				if err := op.do(d); !errdefs.IsInvalidArgument(err) {
					t.Errorf("%s(%q) = %v, want invalid argument", op.name, d, err)
				}
			})
		}
	}
	assertNoBlobs(t, s)
}

func TestInvalidRefs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	for _, ref := range []string{"", strings.Repeat("x", maxRefLen+1)} {
		if _, err := s.Writer(ctx, WithRef(ref)); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Writer(WithRef(%.20q)) = %v, want invalid argument", ref, err)
		}
		if _, err := s.Status(ctx, ref); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Status(%.20q) = %v, want invalid argument", ref, err)
		}
		if err := s.Abort(ctx, ref); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Abort(%.20q) = %v, want invalid argument", ref, err)
		}
	}
	if _, err := s.Writer(ctx); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Writer() = %v, want invalid argument", err)
	}
	// Refs that look like paths are only names.
	for _, ref := range []string{"../../x", "/etc/passwd", "a/b", ".", strings.Repeat("x", maxRefLen)} {
		w, err := s.Writer(ctx, WithRef(ref))
		if err != nil {
			t.Errorf("Writer(WithRef(%.20q)) = %v", ref, err)
			continue
		}
		w.Close()
		if st, err := s.Status(ctx, ref); err != nil || st.Ref != ref {
			t.Errorf("Status(%.20q) = %+v, %v", ref, st, err)
		}
	}
}

func TestWalkInfoDelete(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	var descs []ocispec.Descriptor
	for i := range 5 {
		data, _ := randomBlob(uint64(100+i), 10*(i+1))
		descs = append(descs, writeBlob(t, s, fmt.Sprint(i), data))
	}
	// A stray file in blobs/sha256 is not a blob.
	if err := os.WriteFile(filepath.Join(s.blobsDir(), "stray"), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(filepath.Join(s.blobsDir(), "stray"))

	var all []digest.Digest
	if err := s.Walk(ctx, func(i Info) error {
		if i.Size == 0 || i.CreatedAt.IsZero() {
			t.Errorf("Walk info %+v", i)
		}
		all = append(all, i.Digest)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []digest.Digest
	for _, d := range descs {
		want = append(want, d.Digest)
	}
	slices.Sort(all)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("Walk = %v, want %v", all, want)
	}

	var big []int64
	if err := s.Walk(ctx, func(i Info) error { big = append(big, i.Size); return nil },
		func(i Info) bool { return i.Size >= 30 }, func(i Info) bool { return i.Size < 50 }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(big)
	if !slices.Equal(big, []int64{30, 40}) {
		t.Errorf("Walk with filters = %v, want [30 40]", big)
	}
	stop := errors.New("stop")
	if err := s.Walk(ctx, func(Info) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Walk stopped = %v, want %v", err, stop)
	}

	if info, err := s.Info(ctx, descs[2].Digest); err != nil || info.Size != 30 {
		t.Errorf("Info = %+v, %v, want size 30", info, err)
	}
	if _, err := s.Update(ctx, Info{Digest: descs[2].Digest, Labels: map[string]string{"a": "b"}}); !errdefs.IsNotImplemented(err) {
		t.Errorf("Update labels = %v, want not implemented", err)
	}
	ra, err := s.ReaderAt(ctx, descs[2])
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	if err := s.Delete(ctx, descs[2].Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Info(ctx, descs[2].Digest); !errdefs.IsNotFound(err) {
		t.Errorf("Info after Delete = %v, want not found", err)
	}
	if _, err := s.ReaderAt(ctx, descs[2]); !errdefs.IsNotFound(err) {
		t.Errorf("ReaderAt after Delete = %v, want not found", err)
	}
	if err := s.Delete(ctx, descs[2].Digest); !errdefs.IsNotFound(err) {
		t.Errorf("second Delete = %v, want not found", err)
	}
	if _, err := s.Update(ctx, Info{Digest: descs[2].Digest}); !errdefs.IsNotFound(err) {
		t.Errorf("Update after Delete = %v, want not found", err)
	}
	// An open reader keeps reading the deleted blob.
	buf := make([]byte, ra.Size())
	if _, err := ra.ReadAt(buf, 0); err != nil || digest.FromBytes(buf) != descs[2].Digest {
		t.Errorf("ReadAt after Delete = %v", err)
	}
}

func TestAbort(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	if err := s.Abort(ctx, "none"); !errdefs.IsNotFound(err) {
		t.Errorf("Abort of nothing = %v, want not found", err)
	}
	if _, err := s.Status(ctx, "none"); !errdefs.IsNotFound(err) {
		t.Errorf("Status of nothing = %v, want not found", err)
	}
	w, err := s.Writer(ctx, WithRef("r"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := s.Abort(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Status(ctx, "r"); !errdefs.IsNotFound(err) {
		t.Errorf("Status after Abort = %v, want not found", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.Root(), ingestDirName)); len(entries) != 0 {
		t.Errorf("ingest/ after Abort has %d entries", len(entries))
	}
}

func TestCommitLabels(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	w, err := s.Writer(ctx, WithRef("r"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, 0, "", WithLabels(map[string]string{"a": "b"})); !errdefs.IsNotImplemented(err) {
		t.Errorf("Commit with labels = %v, want not implemented", err)
	}
	// Nothing was committed, and the ingest is kept.
	assertNoBlobs(t, s)
	if st, err := s.Status(ctx, "r"); err != nil || st.Offset != 1 {
		t.Errorf("Status = %+v, %v, want offset 1", st, err)
	}
}

func TestHalfCreatedIngest(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestStore(t)
	// A Writer that died between creating the directory and writing its
	// ref: the ingest is invisible, and the next Writer starts it afresh.
	dir := s.ingestDir("r")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dataFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Status(ctx, "r"); !errdefs.IsNotFound(err) {
		t.Errorf("Status of a half-created ingest = %v, want not found", err)
	}
	if sts, err := s.ListStatuses(ctx); err != nil || len(sts) != 0 {
		t.Errorf("ListStatuses = %v, %v, want none", sts, err)
	}
	data, desc := randomBlob(9, 50)
	w, err := s.Writer(ctx, WithRef("r"), WithDescriptor(desc))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := w.Status(); st.Offset != 0 {
		t.Errorf("offset of a restarted ingest = %d, want 0", st.Offset)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
}
