package storage

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/snapshot"
)

// Common is what every snapshotter layout shares: all of
// snapshot.Snapshotter but Prepare and View, given how the layout turns a
// snapshot into mounts. Each layout keeps a layer's files in <dir>/fs.
type Common struct {
	Store    *Store
	MountsOf func(Snapshot) []mount.Mount
}

// Stat implements snapshot.Snapshotter.
func (c *Common) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	return c.Store.Stat(ctx, key)
}

// Mounts implements snapshot.Snapshotter.
func (c *Common) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	snap, err := c.Store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("mounts: %w", err)
	}
	if snap.Kind == snapshot.KindCommitted {
		return nil, fmt.Errorf("mounts of committed snapshot %q: view it instead: %w", key, errdefs.ErrFailedPrecondition)
	}
	return c.MountsOf(snap), nil
}

// Commit implements snapshot.Snapshotter.
func (c *Common) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	return c.Store.Commit(ctx, name, key, measureFS, opts)
}

// measureFS counts the layer only: the fs directory (not an overlay's
// workdir).
func measureFS(ctx context.Context, dir string) (snapshot.Usage, error) {
	return DiskUsage(ctx, filepath.Join(dir, "fs"))
}

// Remove implements snapshot.Snapshotter.
func (c *Common) Remove(ctx context.Context, key string) error {
	return c.Store.Remove(ctx, key)
}

// Walk implements snapshot.Snapshotter.
func (c *Common) Walk(ctx context.Context, fn snapshot.WalkFunc) error {
	return c.Store.Walk(ctx, fn)
}

// Usage implements snapshot.Snapshotter.
func (c *Common) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	return c.Store.Usage(ctx, key, measureFS)
}

// Close implements snapshot.Snapshotter.
func (c *Common) Close() error { return c.Store.Close() }

// FSDir is the directory holding the files of the snapshot with id.
func (c *Common) FSDir(id string) string { return filepath.Join(c.Store.Dir(id), "fs") }
