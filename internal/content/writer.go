package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// writer is the LocalStore's Writer. It holds the ingest's locks from
// Writer until Close or Commit.
type writer struct {
	s    *LocalStore
	lock *ingestLock

	mu        sync.Mutex // guards everything below
	fp        *os.File   // the ingest's data file; nil once closed
	digester  digest.Digester
	offset    int64
	total     int64
	expected  digest.Digest
	startedAt time.Time
	updatedAt time.Time
}

var errClosed = fmt.Errorf("writer closed: %w", errdefs.ErrFailedPrecondition)

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fp == nil {
		return 0, errClosed
	}
	if w.total > 0 && w.offset+int64(len(p)) > w.total {
		return 0, fmt.Errorf("write %d bytes at offset %d: more than the expected %d: %w",
			len(p), w.offset, w.total, errdefs.ErrFailedPrecondition)
	}
	n, err := w.fp.WriteAt(p, w.offset)
	w.digester.Hash().Write(p[:n])
	w.offset += int64(n)
	w.updatedAt = time.Now()
	if err != nil {
		return n, fmt.Errorf("write ingest: %w", err)
	}
	return n, nil
}

func (w *writer) Digest() digest.Digest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.digester.Digest()
}

func (w *writer) Status() (Status, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fp == nil {
		return Status{}, errClosed
	}
	return Status{
		Ref:       w.lock.ref,
		Offset:    w.offset,
		Total:     w.total,
		Expected:  w.expected,
		StartedAt: w.startedAt,
		UpdatedAt: w.updatedAt,
	}, nil
}

func (w *writer) Truncate(size int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fp == nil {
		return errClosed
	}
	if size < 0 || size > w.offset {
		return fmt.Errorf("truncate ingest to %d: outside [0, %d]: %w", size, w.offset, errdefs.ErrInvalidArgument)
	}
	if err := w.fp.Truncate(size); err != nil {
		return fmt.Errorf("truncate ingest: %w", err)
	}
	dg := digest.SHA256.Digester()
	if _, err := io.Copy(dg.Hash(), io.NewSectionReader(w.fp, 0, size)); err != nil {
		return fmt.Errorf("truncate ingest: rehash: %w", err)
	}
	w.digester, w.offset, w.updatedAt = dg, size, time.Now()
	return nil
}

func (w *writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeLocked()
}

// closeLocked releases the ingest, keeping its data for a later Writer.
func (w *writer) closeLocked() error {
	if w.fp == nil {
		return nil
	}
	err := w.fp.Close()
	w.fp = nil
	w.lock.release()
	if err != nil {
		return fmt.Errorf("close ingest: %w", err)
	}
	return nil
}

// discardLocked removes the ingest and releases it; cause is returned,
// joined with any cleanup error.
func (w *writer) discardLocked(cause error) error {
	err := w.fp.Close()
	w.fp = nil
	if rerr := os.RemoveAll(w.lock.dir); rerr != nil {
		err = errors.Join(err, rerr)
	}
	w.lock.release()
	if err != nil {
		return errors.Join(cause, fmt.Errorf("discard ingest: %w", err))
	}
	return cause
}

// Commit verifies the ingest and renames it into blobs/sha256:
//
//  1. size and digest of what was written are checked against the
//     expected ones; a mismatch discards the ingest;
//  2. if the blob exists already, the ingest is discarded;
//  3. the data file is made read-only and fsynced, renamed to
//     blobs/sha256/<hex>, and blobs/sha256 is fsynced;
//  4. the ingest directory is removed.
//
// A crash before 3's rename leaves the ingest, resumable; a crash after it
// leaves a complete blob and possibly an ingest directory without data,
// which Abort of that ref, or the next Commit of it, removes.
func (w *writer) Commit(ctx context.Context, size int64, expected digest.Digest, opts ...Opt) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fp == nil {
		return errClosed
	}
	fail := func(err error) error {
		return errors.Join(fmt.Errorf("commit %.80q: %w", w.lock.ref, err), w.closeLocked())
	}
	var info Info
	for _, o := range opts {
		if err := o(&info); err != nil {
			return fail(err)
		}
	}
	if len(info.Labels) > 0 {
		return fail(fmt.Errorf("labels: %w", errdefs.ErrNotImplemented))
	}
	if size < 0 {
		return fail(fmt.Errorf("negative size %d: %w", size, errdefs.ErrInvalidArgument))
	}
	if expected != "" {
		if err := validateDigest(expected); err != nil {
			return fail(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if size == 0 {
		size = w.total
	}
	if expected == "" {
		expected = w.expected
	}

	mismatch := func(format string, args ...any) error {
		err := fmt.Errorf(format+": %w", append(args, errdefs.ErrFailedPrecondition)...)
		return w.discardLocked(fmt.Errorf("commit %.80q: %w", w.lock.ref, err))
	}
	fi, err := w.fp.Stat()
	if err != nil {
		return fail(err)
	}
	if fi.Size() != w.offset {
		return mismatch("data file has %d bytes, %d were written through this writer", fi.Size(), w.offset)
	}
	if size > 0 && size != w.offset {
		return mismatch("size %d, but %d bytes were written", size, w.offset)
	}
	dgst := w.digester.Digest()
	if expected != "" && expected != dgst {
		return mismatch("digest %s, but the data written is %s", expected, dgst)
	}
	target := w.s.blobPath(dgst)
	if _, err := os.Lstat(target); err == nil {
		return w.discardLocked(fmt.Errorf("commit %.80q: blob %s: %w", w.lock.ref, dgst, errdefs.ErrAlreadyExists))
	}

	if err := w.fp.Chmod(0o444); err != nil {
		return fail(err)
	}
	if err := w.fp.Sync(); err != nil {
		// Leave the ingest resumable: writable again.
		return fail(errors.Join(err, w.fp.Chmod(0o600)))
	}
	if err := w.fp.Close(); err != nil {
		w.fp = nil
		w.lock.release()
		return fmt.Errorf("commit %.80q: %w", w.lock.ref, err)
	}
	w.fp = nil
	defer w.lock.release()
	data := filepath.Join(w.lock.dir, dataFile)
	if err := os.Rename(data, target); err != nil {
		// Leave the ingest resumable: writable again.
		return errors.Join(fmt.Errorf("commit %.80q: %w", w.lock.ref, err), os.Chmod(data, 0o600))
	}
	if err := syncDir(w.s.blobsDir()); err != nil {
		return fmt.Errorf("commit %.80q: %w", w.lock.ref, err)
	}
	if err := os.RemoveAll(w.lock.dir); err != nil {
		return fmt.Errorf("commit %.80q: remove ingest: %w", w.lock.ref, err)
	}
	return nil
}
