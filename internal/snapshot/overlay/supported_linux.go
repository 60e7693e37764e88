package overlay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mount"
)

// ErrNotSupported says overlayfs cannot be used on a root; errors carrying
// it are also of class errdefs.ErrNotImplemented.
var ErrNotSupported = errors.New("overlayfs not supported")

// Supported reports whether overlayfs works with root as the place for
// upper and work directories, by mounting a two-layer overlay in a
// temporary directory below root. It needs CAP_SYS_ADMIN. On failure the
// error wraps ErrNotSupported and errdefs.ErrNotImplemented, and the caller
// should use the native snapshotter.
func Supported(root string) (err error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("probe overlayfs: %w", err)
	}
	dir, err := os.MkdirTemp(root, "overlay-probe-")
	if err != nil {
		return fmt.Errorf("probe overlayfs: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove overlayfs probe: %w", rerr))
		}
	}()
	for _, d := range []string{"l1", "l2", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return fmt.Errorf("probe overlayfs: %w", err)
		}
	}
	m := mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + filepath.Join(dir, "l2") + ":" + filepath.Join(dir, "l1"),
		"upperdir=" + filepath.Join(dir, "upper"),
		"workdir=" + filepath.Join(dir, "work"),
	}}
	merged := filepath.Join(dir, "merged")
	if err := mount.All([]mount.Mount{m}, merged); err != nil {
		return fmt.Errorf("%w on %s: %w: %w", ErrNotSupported, root, errdefs.ErrNotImplemented, err)
	}
	if err := mount.UnmountAll(merged); err != nil {
		return fmt.Errorf("probe overlayfs: %w", err)
	}
	return nil
}
