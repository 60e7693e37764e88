package content

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// source serves one blob and counts how often it is opened.
type source struct {
	data    []byte
	opens   atomic.Int32
	release chan struct{} // if set, reads wait for it to close
	seek    bool          // whether the stream is an io.Seeker
}

func (s *source) open(ctx context.Context) (io.ReadCloser, error) {
	s.opens.Add(1)
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r := bytes.NewReader(s.data)
	if s.seek {
		return readSeekNopCloser{r}, nil
	}
	return io.NopCloser(struct{ io.Reader }{r}), nil
}

type readSeekNopCloser struct{ io.ReadSeeker }

func (readSeekNopCloser) Close() error { return nil }

func TestFetchOnce(t *testing.T) {
	t.Parallel()
	data, desc := randomBlob(20, 1<<20)
	tests := []struct {
		name   string
		stores int // stores on one root; each gets callers/stores callers
	}{
		{"one store", 1},
		{"two stores on one root", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			first := newTestStore(t)
			stores := []*LocalStore{first}
			for len(stores) < tt.stores {
				s, err := NewStore(first.Root())
				if err != nil {
					t.Fatal(err)
				}
				stores = append(stores, s)
			}
			src := &source{data: data, release: make(chan struct{})}
			const callers = 10
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() { errs[i] = Fetch(ctx, stores[i%len(stores)], desc, src.open) })
			}
			// Let the callers pile up on the held download. open must run
			// once either way: a caller that arrives after the commit finds
			// the blob and does not download.
			time.Sleep(50 * time.Millisecond)
			close(src.release)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Fetch #%d = %v", i, err)
				}
			}
			if n := src.opens.Load(); n != 1 {
				t.Errorf("open called %d times, want 1", n)
			}
			got, err := ReadBlob(ctx, first, desc)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("ReadBlob = %d bytes, %v", len(got), err)
			}
			// Present now: open is not called again.
			if err := Fetch(ctx, first, desc, src.open); err != nil || src.opens.Load() != 1 {
				t.Errorf("Fetch of a present blob = %v, %d opens, want nil, 1", err, src.opens.Load())
			}
		})
	}
}

func TestFetchBadSource(t *testing.T) {
	t.Parallel()
	data, desc := randomBlob(21, 1000)
	bad := append([]byte{}, data...)
	bad[500] ^= 0xff
	tests := []struct {
		name string
		data []byte
	}{
		{"corrupt", bad},
		{"short", data[:999]},
		{"long", append(append([]byte{}, data...), 0)},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t)
			src := &source{data: tt.data}
			if err := Fetch(t.Context(), s, desc, src.open); !errdefs.IsFailedPrecondition(err) {
				t.Errorf("Fetch = %v, want failed precondition", err)
			}
			assertNoBlobs(t, s)
		})
	}
}

func TestFetchOpenError(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	_, desc := randomBlob(22, 10)
	boom := errors.New("boom")
	err := Fetch(t.Context(), s, desc, func(context.Context) (io.ReadCloser, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("Fetch = %v, want %v", err, boom)
	}
}

func TestFetchResume(t *testing.T) {
	t.Parallel()
	data, desc := randomBlob(23, 100000)
	tests := []struct {
		name      string
		seek      bool
		prefix    []byte // what an earlier, interrupted fetch left
		wantBytes int    // bytes the source must deliver this time
	}{
		{"seekable", true, data[:40000], 60000},
		{"not seekable", false, data[:40000], 100000},
		{"seekable, bad prefix", true, make([]byte, 40000), 60000 + 100000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := newTestStore(t)
			w, err := s.Writer(ctx, WithRef("fetch-"+desc.Digest.String()), WithDescriptor(desc))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(tt.prefix); err != nil {
				t.Fatal(err)
			}
			w.Close()
			var read atomic.Int64
			src := &source{data: data, seek: tt.seek}
			open := func(ctx context.Context) (io.ReadCloser, error) {
				rc, err := src.open(ctx)
				return counted(rc, &read), err
			}
			if err := Fetch(ctx, s, desc, open); err != nil {
				t.Fatal(err)
			}
			if got := read.Load(); got != int64(tt.wantBytes) {
				t.Errorf("source delivered %d bytes, want %d", got, tt.wantBytes)
			}
			if got, err := ReadBlob(ctx, s, desc); err != nil || !bytes.Equal(got, data) {
				t.Errorf("ReadBlob = %d bytes, %v", len(got), err)
			}
		})
	}
}

// counted counts the bytes read from rc, keeping rc's Seek if it has one.
func counted(rc io.ReadCloser, n *atomic.Int64) io.ReadCloser {
	c := countingReadCloser{rc, n}
	if sk, ok := rc.(io.Seeker); ok {
		return struct {
			countingReadCloser
			io.Seeker
		}{c, sk}
	}
	return c
}

type countingReadCloser struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingReadCloser) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestFetchLeaderCancelled(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	data, desc := randomBlob(24, 1000)
	started := make(chan struct{})
	var opens atomic.Int32
	open := func(ctx context.Context) (io.ReadCloser, error) {
		if opens.Add(1) == 1 {
			close(started)
			<-ctx.Done() // the first download hangs until its caller gives up
			return nil, ctx.Err()
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	leaderCtx, cancel := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() { leaderErr <- Fetch(leaderCtx, s, desc, open) }()
	<-started
	followerErr := make(chan error, 1)
	go func() { followerErr <- Fetch(t.Context(), s, desc, open) }()
	time.Sleep(20 * time.Millisecond) // let the follower join
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader Fetch = %v, want %v", err, context.Canceled)
	}
	if err := <-followerErr; err != nil {
		t.Errorf("follower Fetch = %v, want nil", err)
	}
	if _, err := s.Info(t.Context(), desc.Digest); err != nil {
		t.Errorf("Info = %v", err)
	}
}

// plainStore is a Store that is not a pointer: Fetch cannot join its
// callers, and the ref lock alone must keep the download single.
type plainStore struct{ *LocalStore }

func TestFetchNonPointerStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := plainStore{newTestStore(t)}
	data, desc := randomBlob(25, 1<<16)
	src := &source{data: data, release: make(chan struct{})}
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() { errs[i] = Fetch(ctx, s, desc, src.open) })
	}
	time.Sleep(30 * time.Millisecond)
	close(src.release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Fetch #%d = %v", i, err)
		}
	}
	if n := src.opens.Load(); n != 1 {
		t.Errorf("open called %d times, want 1", n)
	}
}
