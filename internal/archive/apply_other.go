//go:build !linux

package archive

import (
	"context"
	"fmt"
	"io"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Apply applies a tar layer onto root. It needs Linux (openat2).
func Apply(ctx context.Context, root string, r io.Reader, opts ...ApplyOpt) (int64, error) {
	return 0, fmt.Errorf("apply layer: %w", errdefs.ErrNotImplemented)
}
