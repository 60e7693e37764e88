//go:build !linux

package volume

import (
	"context"
	"fmt"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func copyUp(ctx context.Context, src, dst string) error {
	return fmt.Errorf("copy %s: %w", src, errdefs.ErrNotImplemented)
}
