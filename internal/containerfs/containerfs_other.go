//go:build !linux

package containerfs

import (
	"context"
	"fmt"
	"io"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Stat needs Linux (openat2).
func Stat(root, p string) (PathStat, error) {
	return PathStat{}, fmt.Errorf("stat %s: %w", p, errdefs.ErrNotImplemented)
}

// Tar needs Linux (openat2).
func Tar(ctx context.Context, root, p string, w io.Writer) error {
	return fmt.Errorf("archive %s: %w", p, errdefs.ErrNotImplemented)
}

// Extract needs Linux (openat2).
func Extract(ctx context.Context, root, dir string, r io.Reader, noOverwriteDirNonDir, copyUIDGID bool, opts ...ExtractOpt) error {
	return fmt.Errorf("extract to %s: %w", dir, errdefs.ErrNotImplemented)
}

// Changes needs Linux (overlayfs).
func Changes(ctx context.Context, upper string, lowers []string) ([]Change, error) {
	return nil, fmt.Errorf("diff %s: %w", upper, errdefs.ErrNotImplemented)
}

// WriteLayer needs Linux (overlayfs).
func WriteLayer(ctx context.Context, upper string, w io.Writer) error {
	return fmt.Errorf("write layer from %s: %w", upper, errdefs.ErrNotImplemented)
}

// Export needs Linux.
func Export(ctx context.Context, root string, w io.Writer) error {
	return fmt.Errorf("export %s: %w", root, errdefs.ErrNotImplemented)
}
