package overlay

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/snapshot"
	"github.com/shoal-dev/shoal/internal/snapshot/storage"
	"github.com/shoal-dev/shoal/internal/snapshot/testsuite"
)

func TestOverlay(t *testing.T) {
	if os.Getenv("SHOAL_TEST_ROOT") == "1" && os.Geteuid() == 0 {
		if err := Supported(t.TempDir()); err != nil {
			if errors.Is(err, ErrNotSupported) {
				t.Skipf("overlayfs: %v", err)
			}
			t.Fatal(err)
		}
	}
	testsuite.Run(t, "overlay", func(ctx context.Context, root string) (snapshot.Snapshotter, func() error, error) {
		sn, err := New(root)
		if err != nil {
			return nil, nil, err
		}
		return sn, sn.Close, nil
	})
}

func TestNewRejectsRoot(t *testing.T) {
	t.Parallel()
	for _, root := range []string{"relative", "/tmp/a:b", "/tmp/a,b"} {
		if _, err := New(root); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("New(%q) = %v, want invalid argument", root, err)
		}
	}
}

// TestMounts checks the mount table in doc.go without mounting.
func TestMounts(t *testing.T) {
	t.Parallel()
	s := &Snapshotter{Common: storage.Common{Store: mustStore(t)}}
	fs := func(id string) string { return s.FSDir(id) }
	bind := func(dir, mode string) []mount.Mount {
		return []mount.Mount{{Type: "bind", Source: dir, Options: []string{"rbind", mode}}}
	}
	for _, c := range []struct {
		name string
		snap storage.Snapshot
		want []mount.Mount
	}{
		{"active no parent", storage.Snapshot{ID: "5", Kind: snapshot.KindActive}, bind(fs("5"), "rw")},
		{"view no parent", storage.Snapshot{ID: "5", Kind: snapshot.KindView}, bind(fs("5"), "ro")},
		{"view one parent", storage.Snapshot{ID: "5", Kind: snapshot.KindView, ParentIDs: []string{"2"}}, bind(fs("2"), "ro")},
		{"view two parents", storage.Snapshot{ID: "5", Kind: snapshot.KindView, ParentIDs: []string{"3", "2"}},
			[]mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + fs("3") + ":" + fs("2"), "ro"}}}},
		{"active two parents", storage.Snapshot{ID: "5", Kind: snapshot.KindActive, ParentIDs: []string{"3", "2"}},
			[]mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{
				"lowerdir=" + fs("3") + ":" + fs("2"), "upperdir=" + fs("5"), "workdir=" + s.Store.Dir("5") + "/work"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := s.mounts(c.snap); !reflect.DeepEqual(got, c.want) {
				t.Errorf("mounts(%+v) = %+v, want %+v", c.snap, got, c.want)
			}
		})
	}
}

func mustStore(t *testing.T) *storage.Store {
	t.Helper()
	st, err := storage.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
