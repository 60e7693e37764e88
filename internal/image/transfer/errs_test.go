package transfer

import (
	"errors"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

var (
	errInvalid      = errdefs.ErrInvalidArgument
	errPrecondition = errdefs.ErrFailedPrecondition
	errNotFound     = errdefs.ErrNotFound
)

func checkErr(t *testing.T, op string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s() = %v, want nil", op, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s() = %v, want class %v", op, err, want)
	}
	t.Logf("%s() = %v", op, err)
}
