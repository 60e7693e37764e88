package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/snapshot"
	bolt "go.etcd.io/bbolt"
)

func emptyFill(ctx context.Context, dir string, _ []string) error {
	return os.Mkdir(filepath.Join(dir, "fs"), 0o755)
}

func open(t *testing.T, root string) *Store {
	t.Helper()
	s, err := Open(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dirNames(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, snapshotsDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestCrashBeforeCommit dies (panics) inside Create's transaction after the
// directory got its id: the metadata rolls back, the directory stays, and
// the next Open deletes it.
func TestCrashBeforeCommit(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := open(t, root)
	if _, err := s.Create(t.Context(), snapshot.KindActive, "kept", "", nil, emptyFill); err != nil {
		t.Fatal(err)
	}
	s.testHookBeforeCommit = func() { panic("crash") }
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("hook did not run")
			}
		}()
		_, _ = s.Create(t.Context(), snapshot.KindActive, "lost", "", nil, emptyFill)
	}()
	if got := dirNames(t, root); len(got) != 2 {
		t.Fatalf("after crash: directories %v, want the kept one and the orphan", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, root)
	defer s.Close()
	if _, err := s.Stat(t.Context(), "lost"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Stat(lost) = %v, want not found", err)
	}
	snap, err := s.Get(t.Context(), "kept")
	if err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, root); len(got) != 1 || got[0] != snap.ID {
		t.Errorf("after reopen: directories %v, want [%s]", got, snap.ID)
	}
	// The rolled-back id is allocated again without colliding.
	if _, err := s.Create(t.Context(), snapshot.KindActive, "next", "", nil, emptyFill); err != nil {
		t.Errorf("Create after crash: %v", err)
	}
}

func TestFillFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := open(t, root)
	defer s.Close()
	boom := errors.New("boom")
	_, err := s.Create(t.Context(), snapshot.KindActive, "a", "", nil, func(context.Context, string, []string) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Create = %v, want boom", err)
	}
	if got := dirNames(t, root); len(got) != 0 {
		t.Errorf("directories after failed fill: %v", got)
	}
}

// TestChildrenIndex checks the parent→children index through commits and
// removals, reading the buckets directly.
func TestChildrenIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t, t.TempDir())
	defer s.Close()
	measure := func(context.Context, string) (snapshot.Usage, error) { return snapshot.Usage{Inodes: 1}, nil }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Create(ctx, snapshot.KindActive, "k1", "", nil, emptyFill)
	must(err)
	must(s.Commit(ctx, "l1", "k1", measure, nil))
	_, err = s.Create(ctx, snapshot.KindActive, "k2", "l1", nil, emptyFill)
	must(err)
	_, err = s.Create(ctx, snapshot.KindView, "v", "l1", nil, emptyFill)
	must(err)
	children := func(parent string) []string {
		var out []string
		must(s.db.View(func(tx *bolt.Tx) error {
			b := childrenBucket(tx).Bucket([]byte(parent))
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, _ []byte) error { out = append(out, string(k)); return nil })
		}))
		return out
	}
	for _, c := range []struct {
		step string
		do   func() error
		want []string
	}{
		{"two children", func() error { return nil }, []string{"k2", "v"}},
		{"commit renames child", func() error { return s.Commit(ctx, "l2", "k2", measure, nil) }, []string{"l2", "v"}},
		{"remove view", func() error { return s.Remove(ctx, "v") }, []string{"l2"}},
		{"remove last child", func() error { return s.Remove(ctx, "l2") }, nil},
	} {
		must(c.do())
		if got := children("l1"); !equal(got, c.want) {
			t.Errorf("%s: children(l1) = %v, want %v", c.step, got, c.want)
		}
	}
	snap, err := s.Get(ctx, "l1")
	must(err)
	if snap.Kind != snapshot.KindCommitted || len(snap.ParentIDs) != 0 {
		t.Errorf("Get(l1) = %+v", snap)
	}
	u, err := s.Usage(ctx, "l1", nil)
	must(err)
	if u.Inodes != 1 {
		t.Errorf("Usage(l1) = %+v, want the one recorded at commit", u)
	}
}

func TestOpenRejectsRelativeRoot(t *testing.T) {
	t.Parallel()
	if _, err := Open(t.Context(), "relative/root"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Open(relative) = %v, want invalid argument", err)
	}
}

func TestOpenTwiceUnavailable(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := open(t, root)
	defer s.Close()
	if _, err := Open(t.Context(), root); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("second Open = %v, want unavailable", err)
	}
}
