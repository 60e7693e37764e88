package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Info describes a committed blob.
type Info struct {
	Digest digest.Digest
	Size   int64
	// CreatedAt is when the blob was committed; UpdatedAt when its
	// metadata last changed. The local store has no mutable metadata yet,
	// so both are the blob file's modification time.
	CreatedAt time.Time
	UpdatedAt time.Time
	// Labels are always empty in the local store (see the package doc).
	Labels map[string]string
}

// Status describes an ingest: a write in progress, identified by its ref.
type Status struct {
	Ref string
	// Offset is how many bytes have been written so far; a resumed Writer
	// continues from here.
	Offset int64
	// Total is the expected size, 0 when unknown.
	Total int64
	// Expected is the expected digest, empty when unknown.
	Expected  digest.Digest
	StartedAt time.Time
	UpdatedAt time.Time
}

// ReaderAt reads a committed blob. Close releases it; a blob deleted while
// a ReaderAt is open stays readable through it.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	// Size is the blob's size in bytes.
	Size() int64
}

// Provider gives read access to committed blobs.
type Provider interface {
	// ReaderAt opens the blob desc.Digest. Only desc.Digest is used. A
	// missing blob is ErrNotFound; a digest that is not a valid sha256
	// digest is ErrInvalidArgument.
	ReaderAt(ctx context.Context, desc ocispec.Descriptor) (ReaderAt, error)
}

// InfoProvider describes committed blobs.
type InfoProvider interface {
	// Info describes the blob dgst, or fails with ErrNotFound.
	Info(ctx context.Context, dgst digest.Digest) (Info, error)
}

// Ingester starts and resumes writes.
type Ingester interface {
	// Writer opens the ingest named by WithRef (required), creating it or
	// resuming it at its current offset. While a Writer is open, no other
	// Writer, in this process or another, can open the same ref: that is
	// ErrUnavailable, and the caller should retry later. If WithDescriptor
	// names a digest that is already committed, Writer fails with
	// ErrAlreadyExists and nothing needs writing.
	Writer(ctx context.Context, opts ...WriterOpt) (Writer, error)
}

// Writer writes one ingest. It is not safe for concurrent Write calls, but
// Status may be called from another goroutine (for progress reports).
type Writer interface {
	// Write appends to the ingest. Writing past a known total size fails
	// with ErrFailedPrecondition and writes nothing.
	//
	// Close releases the ingest without committing it: the data stays on
	// disk and a later Writer with the same ref resumes it. Close on a
	// closed or committed Writer returns nil.
	io.WriteCloser

	// Digest is the digest of the bytes written so far.
	Digest() digest.Digest

	// Commit makes the written bytes visible as a blob. size and expected
	// may be zero to fall back to the values given by WithDescriptor;
	// whatever is known is checked against what was written. On a
	// mismatch Commit fails with ErrFailedPrecondition and removes the
	// ingest: nothing becomes visible. If the blob exists already Commit
	// fails with ErrAlreadyExists and removes the ingest. Commit always
	// closes the Writer, even when it fails.
	Commit(ctx context.Context, size int64, expected digest.Digest, opts ...Opt) error

	// Status describes the ingest.
	Status() (Status, error)

	// Truncate cuts the ingest to size bytes, 0 <= size <= Status().Offset,
	// to restart a write or to drop a suspect tail.
	Truncate(size int64) error
}

// WalkFunc is called by Walk for each blob. Returning an error stops the
// walk, and Walk returns that error.
type WalkFunc func(Info) error

// Filter selects the blobs Walk visits.
type Filter func(Info) bool

// Manager inspects, lists and removes committed blobs.
type Manager interface {
	InfoProvider

	// Update changes the mutable fields of a blob's Info (its labels),
	// limited to fieldpaths such as "labels.foo" when any are given.
	Update(ctx context.Context, info Info, fieldpaths ...string) (Info, error)

	// Walk calls fn for every committed blob that passes all filters, in
	// no particular order. Blobs committed or deleted during the walk may
	// or may not be visited.
	Walk(ctx context.Context, fn WalkFunc, filters ...Filter) error

	// Delete removes a committed blob, or fails with ErrNotFound. Open
	// ReaderAts keep reading the deleted data.
	Delete(ctx context.Context, dgst digest.Digest) error
}

// IngestManager inspects and cancels writes in progress.
type IngestManager interface {
	// Status describes the ingest ref, or fails with ErrNotFound. It does
	// not need the ref's lock, so it works while another process writes.
	Status(ctx context.Context, ref string) (Status, error)

	// ListStatuses describes every ingest, in no particular order.
	ListStatuses(ctx context.Context) ([]Status, error)

	// Abort removes the ingest ref and its data. It fails with
	// ErrNotFound if there is none and ErrUnavailable while a Writer holds
	// it.
	Abort(ctx context.Context, ref string) error
}

// Store is the whole content store: blobs go in through Ingester, are
// managed through IngestManager until committed, and afterwards are read
// through Provider and managed through Manager. Until a write is committed
// it is invisible to Provider and Manager; once committed it is gone from
// IngestManager.
type Store interface {
	Provider
	Ingester
	Manager
	IngestManager
}

// InfoIngester is what Fetch needs of a store.
type InfoIngester interface {
	InfoProvider
	Ingester
}

// Opt changes the Info of a blob being committed.
type Opt func(*Info) error

// WithLabels sets labels on a blob at commit. The local store does not
// keep labels yet and rejects non-empty labels with ErrNotImplemented.
func WithLabels(labels map[string]string) Opt {
	return func(info *Info) error {
		info.Labels = labels
		return nil
	}
}

// WriterOpts holds the options of Ingester.Writer.
type WriterOpts struct {
	Ref  string
	Desc ocispec.Descriptor
}

// WriterOpt sets an option of Ingester.Writer.
type WriterOpt func(*WriterOpts) error

// WithRef names the ingest. The ref is required; writers with the same
// ref share one ingest, which is how a write is resumed.
func WithRef(ref string) WriterOpt {
	return func(o *WriterOpts) error {
		o.Ref = ref
		return nil
	}
}

// WithDescriptor tells the Writer what is expected: desc.Digest (empty if
// unknown) and desc.Size (0 if unknown). Both are then checked at Commit.
func WithDescriptor(desc ocispec.Descriptor) WriterOpt {
	return func(o *WriterOpts) error {
		o.Desc = desc
		return nil
	}
}

// ReadBlob reads a whole blob into memory; meant for small blobs such as
// manifests and configs.
func ReadBlob(ctx context.Context, p Provider, desc ocispec.Descriptor) ([]byte, error) {
	ra, err := p.ReaderAt(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	buf := make([]byte, ra.Size())
	n, err := ra.ReadAt(buf, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		return nil, fmt.Errorf("read blob %s: %w", desc.Digest, err)
	}
	return buf, nil
}
