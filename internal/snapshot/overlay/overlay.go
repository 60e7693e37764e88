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
	storage.Common
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
	s := &Snapshotter{}
	s.Common = storage.Common{Store: st, MountsOf: s.mounts}
	return s, nil
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
	snap, err := s.Store.Create(ctx, kind, key, parent, opts, func(ctx context.Context, dir string, _ []string) error {
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

// mounts returns the mounts of an active snapshot or view, see doc.go.
func (s *Snapshotter) mounts(snap storage.Snapshot) []mount.Mount {
	ro := snap.Kind == snapshot.KindView
	switch {
	case len(snap.ParentIDs) == 0:
		return []mount.Mount{bind(s.FSDir(snap.ID), ro)}
	case ro && len(snap.ParentIDs) == 1:
		return []mount.Mount{bind(s.FSDir(snap.ParentIDs[0]), true)}
	}
	lowers := make([]string, len(snap.ParentIDs))
	for i, id := range snap.ParentIDs {
		lowers[i] = s.FSDir(id)
	}
	options := []string{"lowerdir=" + strings.Join(lowers, ":")}
	if ro {
		options = append(options, "ro")
	} else {
		options = append(options,
			"upperdir="+s.FSDir(snap.ID),
			"workdir="+filepath.Join(s.Store.Dir(snap.ID), "work"))
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
