//go:build !linux

package mount

import (
	"fmt"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// All is only implemented on Linux.
func All(mounts []Mount, target string) error {
	return fmt.Errorf("mount on %s: %w", target, errdefs.ErrNotImplemented)
}

// Unmount is only implemented on Linux.
func Unmount(target string, flags int) error {
	return fmt.Errorf("unmount %s: %w", target, errdefs.ErrNotImplemented)
}

// UnmountAll is only implemented on Linux.
func UnmountAll(target string) error {
	return fmt.Errorf("unmount %s: %w", target, errdefs.ErrNotImplemented)
}

// Mountpoints is only implemented on Linux.
func Mountpoints(dir string) ([]string, error) {
	return nil, fmt.Errorf("list mounts: %w", errdefs.ErrNotImplemented)
}
