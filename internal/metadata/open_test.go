package metadata

import (
	"errors"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// TestOpenIsExclusive: a data root has one owner at a time. A second Open
// (another process: the offline CLI while a daemon runs, or a second
// daemon) is refused, so image collection in one process can never race a
// pull in another; once the owner closes, it opens.
func TestOpenIsExclusive(t *testing.T) {
	db, path := newDB(t, false)
	second, err := Open(t.Context(), path)
	if err == nil {
		second.Close()
		t.Fatal("a second Open of a database in use succeeded")
	}
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "another process holds it") {
		t.Fatalf("second Open: %v, want ErrUnavailable naming the other holder", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open after the owner closed: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
