package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/singleflight"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// fetches joins concurrent Fetch calls for the same store and digest in
// this process. Keys are "<store address>/<digest>"; a key exists only
// while a fetch is in flight, and the fetch keeps its store alive, so an
// address cannot be reused under a live key.
var fetches singleflight.Group

// maxLeaderRetries bounds how often a Fetch caller starts over because the
// caller whose download it shared was cancelled.
const maxLeaderRetries = 3

// Fetch makes sure the blob desc is in store, calling open for its bytes
// only if it is missing. It returns nil at once if the blob exists.
//
// Concurrent Fetch calls for the same store and digest in one process run
// one download and all get its result. Across processes (or stores that
// share a root) the ingest's ref lock does the same job: a Fetch that finds
// the download running elsewhere waits until the blob appears or the lock
// is released, then goes on. A download interrupted earlier (even by
// SIGKILL) is resumed: if the stream open returns is an io.Seeker it is
// moved to the ingest's offset, otherwise the ingest starts over.
//
// The shared download runs under the context of the caller that started
// it; other callers stop waiting when their own context ends. If the
// starting caller is cancelled, the others start a new download.
func Fetch(ctx context.Context, store InfoIngester, desc ocispec.Descriptor, open func(context.Context) (io.ReadCloser, error)) error {
	if err := validateDigest(desc.Digest); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if desc.Size < 0 {
		return fmt.Errorf("fetch %s: negative size %d: %w", desc.Digest, desc.Size, errdefs.ErrInvalidArgument)
	}
	if _, err := store.Info(ctx, desc.Digest); err == nil {
		return nil
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("fetch %s: %w", desc.Digest, err)
	}

	download := func() (any, error) { return nil, fetch(ctx, store, desc, open) }
	// Only a pointer identifies a store; others are never joined (the ref
	// lock still keeps them from downloading twice).
	v := reflect.ValueOf(store)
	if v.Kind() != reflect.Pointer {
		_, err := download()
		return err
	}
	key := fmt.Sprintf("%x/%s", v.Pointer(), desc.Digest)
	for i := 0; ; i++ {
		ch := fetches.DoChan(key, download)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-ch:
			if r.Err != nil && r.Shared && ctx.Err() == nil && isContextError(r.Err) && i < maxLeaderRetries {
				continue // the starting caller gave up; this one has not
			}
			return r.Err
		}
	}
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// fetch downloads desc into store unless it is there or another holder of
// its ref commits it first.
func fetch(ctx context.Context, store InfoIngester, desc ocispec.Descriptor, open func(context.Context) (io.ReadCloser, error)) error {
	ref := "fetch-" + desc.Digest.String()
	wait := 10 * time.Millisecond
	restarted := false
	for {
		w, err := store.Writer(ctx, WithRef(ref), WithDescriptor(desc))
		switch {
		case err == nil:
		case errdefs.IsAlreadyExists(err):
			return nil
		case errdefs.IsUnavailable(err):
			// Someone else holds the ingest: wait for the blob or the lock.
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, time.Second)
			if _, err := store.Info(ctx, desc.Digest); err == nil {
				return nil
			}
			continue
		default:
			return fmt.Errorf("fetch %s: %w", desc.Digest, err)
		}

		resumed, err := copyBlob(ctx, w, desc, open)
		switch {
		case err == nil, errdefs.IsAlreadyExists(err):
			return nil
		case resumed && !restarted && errdefs.IsFailedPrecondition(err):
			// The resumed bytes were bad (a different source, or torn by
			// a power cut); Commit has discarded them. Start over once.
			restarted = true
			continue
		default:
			return fmt.Errorf("fetch %s: %w", desc.Digest, err)
		}
	}
}

// copyBlob writes the stream open returns into w, resuming at w's offset
// if the stream can seek, and commits. resumed says whether bytes written
// before this call were kept.
func copyBlob(ctx context.Context, w Writer, desc ocispec.Descriptor, open func(context.Context) (io.ReadCloser, error)) (resumed bool, err error) {
	defer w.Close() // after Commit, a no-op
	st, err := w.Status()
	if err != nil {
		return false, err
	}
	rc, err := open(ctx)
	if err != nil {
		return false, fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	if st.Offset > 0 {
		sk, ok := rc.(io.Seeker)
		if ok {
			_, err = sk.Seek(st.Offset, io.SeekStart)
		}
		if !ok || err != nil {
			if err := w.Truncate(0); err != nil {
				return false, err
			}
		} else {
			resumed = true
		}
	}
	// Stop when ctx ends, whether or not the stream watches ctx.
	src := readerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return rc.Read(p)
	})
	if _, err := io.Copy(w, src); err != nil {
		return resumed, fmt.Errorf("copy: %w", err)
	}
	return resumed, w.Commit(ctx, desc.Size, desc.Digest)
}

// readerFunc is an io.Reader made of a function.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
