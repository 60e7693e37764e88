package native

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/snapshot"
	"github.com/shoal-dev/shoal/internal/snapshot/storage"
)

// Snapshotter stores every snapshot as a full copy under one root.
type Snapshotter struct {
	store *storage.Store
}

var _ snapshot.Snapshotter = (*Snapshotter)(nil)

// New opens the native snapshotter rooted at root, an absolute path,
// deleting directories a crash left behind.
func New(root string) (*Snapshotter, error) {
	st, err := storage.Open(context.Background(), root)
	if err != nil {
		return nil, fmt.Errorf("open native snapshotter: %w", err)
	}
	return &Snapshotter{store: st}, nil
}

// Stat implements snapshot.Snapshotter.
func (s *Snapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	return s.store.Stat(ctx, key)
}

// Mounts implements snapshot.Snapshotter.
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	snap, err := s.store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("mounts: %w", err)
	}
	if snap.Kind == snapshot.KindCommitted {
		return nil, fmt.Errorf("mounts of committed snapshot %q: view it instead: %w", key, errdefs.ErrFailedPrecondition)
	}
	return s.mounts(snap), nil
}

// Prepare implements snapshot.Snapshotter.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	snap, err := s.store.Create(ctx, snapshot.KindActive, key, parent, opts, func(ctx context.Context, dir string, parentIDs []string) error {
		fs := filepath.Join(dir, "fs")
		if len(parentIDs) == 0 {
			return os.Mkdir(fs, 0o755)
		}
		return copyTree(ctx, s.fsDir(parentIDs[0]), fs)
	})
	if err != nil {
		return nil, err
	}
	return s.mounts(snap), nil
}

// View implements snapshot.Snapshotter.
func (s *Snapshotter) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	snap, err := s.store.Create(ctx, snapshot.KindView, key, parent, opts, func(ctx context.Context, dir string, parentIDs []string) error {
		return os.Mkdir(filepath.Join(dir, "fs"), 0o755)
	})
	if err != nil {
		return nil, err
	}
	return s.mounts(snap), nil
}

func (s *Snapshotter) fsDir(id string) string { return filepath.Join(s.store.Dir(id), "fs") }

func (s *Snapshotter) mounts(snap storage.Snapshot) []mount.Mount {
	dir, mode := s.fsDir(snap.ID), "rw"
	if snap.Kind == snapshot.KindView {
		mode = "ro"
		if len(snap.ParentIDs) > 0 {
			dir = s.fsDir(snap.ParentIDs[0])
		}
	}
	return []mount.Mount{{Type: "bind", Source: dir, Options: []string{"rbind", mode}}}
}

// Commit implements snapshot.Snapshotter.
func (s *Snapshotter) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	return s.store.Commit(ctx, name, key, s.measure, opts)
}

func (s *Snapshotter) measure(ctx context.Context, dir string) (snapshot.Usage, error) {
	return storage.DiskUsage(ctx, filepath.Join(dir, "fs"))
}

// Remove implements snapshot.Snapshotter.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	return s.store.Remove(ctx, key)
}

// Walk implements snapshot.Snapshotter.
func (s *Snapshotter) Walk(ctx context.Context, fn snapshot.WalkFunc) error {
	return s.store.Walk(ctx, fn)
}

// Usage implements snapshot.Snapshotter.
func (s *Snapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	return s.store.Usage(ctx, key, s.measure)
}

// Close implements snapshot.Snapshotter.
func (s *Snapshotter) Close() error { return s.store.Close() }
