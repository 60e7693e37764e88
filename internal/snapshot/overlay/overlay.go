package overlay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/snapshot"
	"github.com/shoal-dev/shoal/internal/snapshot/storage"
)

// Snapshotter stores snapshots as overlayfs layers under one root.
type Snapshotter struct {
	store *storage.Store
}

var _ snapshot.Snapshotter = (*Snapshotter)(nil)

// New opens the overlay snapshotter rooted at root, an absolute path,
// deleting directories a crash left behind. It does not probe overlayfs;
// see Supported.
func New(root string) (*Snapshotter, error) {
	if strings.ContainsAny(root, ":,") {
		return nil, fmt.Errorf("overlay snapshotter root %q contains ':' or ',': %w", root, errdefs.ErrInvalidArgument)
	}
	st, err := storage.Open(context.Background(), root)
	if err != nil {
		return nil, fmt.Errorf("open overlay snapshotter: %w", err)
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
	return s.create(ctx, snapshot.KindActive, key, parent, opts)
}

// View implements snapshot.Snapshotter.
func (s *Snapshotter) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	return s.create(ctx, snapshot.KindView, key, parent, opts)
}

func (s *Snapshotter) create(ctx context.Context, kind snapshot.Kind, key, parent string, opts []snapshot.Opt) ([]mount.Mount, error) {
	snap, err := s.store.Create(ctx, kind, key, parent, opts, func(ctx context.Context, dir string, _ []string) error {
		if err := os.Mkdir(filepath.Join(dir, "fs"), 0o755); err != nil {
			return err
		}
		if kind == snapshot.KindActive {
			return os.Mkdir(filepath.Join(dir, "work"), 0o700)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.mounts(snap), nil
}

func (s *Snapshotter) fsDir(id string) string { return filepath.Join(s.store.Dir(id), "fs") }

// mounts returns the mounts of an active snapshot or view, see doc.go.
func (s *Snapshotter) mounts(snap storage.Snapshot) []mount.Mount {
	ro := snap.Kind == snapshot.KindView
	switch {
	case len(snap.ParentIDs) == 0:
		return []mount.Mount{bind(s.fsDir(snap.ID), ro)}
	case ro && len(snap.ParentIDs) == 1:
		return []mount.Mount{bind(s.fsDir(snap.ParentIDs[0]), true)}
	}
	lowers := make([]string, len(snap.ParentIDs))
	for i, id := range snap.ParentIDs {
		lowers[i] = s.fsDir(id)
	}
	options := []string{"lowerdir=" + strings.Join(lowers, ":")}
	if ro {
		options = append(options, "ro")
	} else {
		options = append(options,
			"upperdir="+s.fsDir(snap.ID),
			"workdir="+filepath.Join(s.store.Dir(snap.ID), "work"))
	}
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: options}}
}

func bind(dir string, ro bool) mount.Mount {
	mode := "rw"
	if ro {
		mode = "ro"
	}
	return mount.Mount{Type: "bind", Source: dir, Options: []string{"rbind", mode}}
}

// Commit implements snapshot.Snapshotter.
func (s *Snapshotter) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	return s.store.Commit(ctx, name, key, s.measure, opts)
}

// measure counts the layer only: the fs directory, not the workdir.
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
