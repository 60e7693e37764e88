package volume

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// openStore opens a store in dir with logs to t, closing it and checking
// the invariants on cleanup.
func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dir, WithLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.checkInvariants(context.Background()); err != nil {
			t.Errorf("invariants: %v", err)
		}
		// Close twice is fine for bbolt; a test may have closed it.
		_ = s.Close()
	})
	return s
}

func newStore(t *testing.T) *Store {
	t.Helper()
	return openStore(t, filepath.Join(t.TempDir(), "volumes"))
}

// checkInvariants verifies that the in-memory volumes, the records and
// the directories agree (the invariants in the package documentation),
// and that no temporary directory is left. It skips a closed store.
func (s *Store) checkInvariants(ctx context.Context) error {
	var errs []error
	recs, err := loadRecords(ctx, s.db)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return nil
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, e := range s.vols {
		if _, ok := recs[name]; !ok {
			errs = append(errs, errors.New("volume "+name+" has no record"))
		}
		fi, err := os.Lstat(e.v.Mountpoint)
		if err != nil || !fi.IsDir() {
			errs = append(errs, errors.New("volume "+name+" has no data directory"))
		}
	}
	for name := range recs {
		if _, ok := s.vols[name]; !ok {
			errs = append(errs, errors.New("record "+name+" has no volume"))
		}
	}
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	for _, d := range ents {
		if strings.HasPrefix(d.Name(), "_") {
			errs = append(errs, errors.New("temporary directory left: "+d.Name()))
		}
	}
	return errors.Join(errs...)
}

func writeFile(t *testing.T, path string, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}
