package volume

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/mount"
)

// parseMountOptions checks the o option with the engine's one mount
// option parser and reports whether it asks for a bind mount.
func parseMountOptions(o string) (bind bool, err error) {
	p, err := mount.ParseOptions(splitMountOptions(o))
	if err != nil {
		return false, invalidf("volume option o=%q: %v", o, err)
	}
	return p.Bind, nil
}

// mountData mounts an option volume's device on its data directory.
func mountData(opts map[string]string, data string) error {
	m := mount.Mount{Type: opts[optType], Source: opts[optDevice], Options: splitMountOptions(opts[optO])}
	if err := mount.All([]mount.Mount{m}, data); err != nil {
		return fmt.Errorf("mount volume: %w", err)
	}
	return nil
}

// unmountData unmounts whatever is mounted on data.
func unmountData(data string) error {
	return mount.UnmountAll(data)
}

// mountpoints returns the mount points at or below dir.
func mountpoints(dir string) (map[string]bool, error) {
	ps, err := mount.Mountpoints(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ps))
	for _, p := range ps {
		out[p] = true
	}
	return out, nil
}

// removeDir deletes dir and everything below it, without following
// symlinks and without descending into mounts: anything mounted at or
// below dir is detached first, and nothing is deleted if that fails.
func removeDir(dir string) error {
	ps, err := mount.Mountpoints(dir)
	if err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	for i := len(ps) - 1; i >= 0; i-- {
		if err := mount.Unmount(ps[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
