//go:build unix

package content

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// flock takes an exclusive, non-blocking flock on f. The kernel drops it
// when the last descriptor sharing f's open file is closed, including when
// the process dies, so a SIGKILLed writer never leaves a stale lock. flock
// locks belong to open files, not processes: two opens in one process
// exclude each other too.
func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("ingest locked by another process: %w", errdefs.ErrUnavailable)
		default:
			return fmt.Errorf("lock ingest: %w", err)
		}
	}
}
