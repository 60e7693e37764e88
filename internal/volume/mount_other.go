//go:build !linux

package volume

import (
	"fmt"
	"os"
	"slices"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func parseMountOptions(o string) (bind bool, err error) {
	opts := splitMountOptions(o)
	return slices.Contains(opts, "bind") || slices.Contains(opts, "rbind"), nil
}

func mountData(opts map[string]string, data string) error {
	return fmt.Errorf("mount volume: %w", errdefs.ErrNotImplemented)
}

func unmountData(data string) error { return nil }

func mountpoints(dir string) (map[string]bool, error) {
	return nil, fmt.Errorf("list mounts: %w", errdefs.ErrNotImplemented)
}

func removeDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
