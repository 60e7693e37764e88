package native

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/snapshot"
	"github.com/shoal-dev/shoal/internal/snapshot/storage"
)

// Snapshotter stores every snapshot as a full copy under one root.
type Snapshotter struct {
	storage.Common
}

var _ snapshot.Snapshotter = (*Snapshotter)(nil)

// New opens the native snapshotter rooted at root, an absolute path,
// deleting directories a crash left behind.
func New(root string) (*Snapshotter, error) {
	st, err := storage.Open(context.Background(), root)
	if err != nil {
		return nil, fmt.Errorf("open native snapshotter: %w", err)
	}
	s := &Snapshotter{}
	s.Common = storage.Common{Store: st, MountsOf: s.mounts}
	return s, nil
}

// Prepare implements snapshot.Snapshotter.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	snap, err := s.Store.Create(ctx, snapshot.KindActive, key, parent, opts, func(ctx context.Context, dir string, parentIDs []string) error {
		fs := filepath.Join(dir, "fs")
		if len(parentIDs) == 0 {
			return os.Mkdir(fs, 0o755)
		}
		return copyTree(ctx, s.FSDir(parentIDs[0]), fs)
	})
	if err != nil {
		return nil, err
	}
	return s.mounts(snap), nil
}

// View implements snapshot.Snapshotter.
func (s *Snapshotter) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	snap, err := s.Store.Create(ctx, snapshot.KindView, key, parent, opts, func(ctx context.Context, dir string, parentIDs []string) error {
		return os.Mkdir(filepath.Join(dir, "fs"), 0o755)
	})
	if err != nil {
		return nil, err
	}
	return s.mounts(snap), nil
}

func (s *Snapshotter) mounts(snap storage.Snapshot) []mount.Mount {
	dir, mode := s.FSDir(snap.ID), "rw"
	if snap.Kind == snapshot.KindView {
		mode = "ro"
		if len(snap.ParentIDs) > 0 {
			dir = s.FSDir(snap.ParentIDs[0])
		}
	}
	return []mount.Mount{{Type: "bind", Source: dir, Options: []string{"rbind", mode}}}
}
