package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	mounttypes "github.com/moby/moby/api/types/mount"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/logfile"
)

// resolveMounts turns -v, --mount, --tmpfs and the image's VOLUMEs into
// mount points, creating the named and anonymous volumes they need.
func (e *Engine) resolveMounts(ctx context.Context, id string, cfg *container.Config, hc *container.HostConfig) (mps []MountPoint, err error) {
	seen := map[string]bool{}
	add := func(mp MountPoint) error {
		if !path.IsAbs(mp.Destination) {
			return fmt.Errorf("invalid mount config: the destination %q must be an absolute path: %w", mp.Destination, errdefs.ErrInvalidArgument)
		}
		mp.Destination = path.Clean(mp.Destination)
		if mp.Destination == "/" {
			return fmt.Errorf("invalid specification: destination can't be '/': %w", errdefs.ErrInvalidArgument)
		}
		if seen[mp.Destination] {
			return fmt.Errorf("Duplicate mount point: %s: %w", mp.Destination, errdefs.ErrInvalidArgument)
		}
		seen[mp.Destination] = true
		mps = append(mps, mp)
		return nil
	}
	defer func() {
		if err != nil {
			e.releaseVolumes(ctx, id, mps, true)
		}
	}()
	for _, b := range hc.Binds {
		mp, err := parseBind(b)
		if err != nil {
			return nil, err
		}
		if mp.Type == "bind" {
			// -v makes a missing host directory, as Docker does.
			if _, err := os.Stat(mp.Source); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(mp.Source, 0o755); err != nil {
					return nil, fmt.Errorf("create bind source %s: %w", mp.Source, err)
				}
			}
		}
		if err := add(mp); err != nil {
			return nil, err
		}
	}
	for _, m := range hc.Mounts {
		mp, err := fromMount(m)
		if err != nil {
			return nil, err
		}
		if err := add(mp); err != nil {
			return nil, err
		}
	}
	for dst, opts := range hc.Tmpfs {
		mp := MountPoint{Type: "tmpfs", Destination: dst, RW: true}
		if opts != "" {
			mp.Options = strings.Split(opts, ",")
		}
		for _, o := range mp.Options {
			if o == "ro" {
				mp.RW = false
			}
		}
		if err := add(mp); err != nil {
			return nil, err
		}
	}
	vols := make([]string, 0, len(cfg.Volumes))
	for v := range cfg.Volumes {
		vols = append(vols, v)
	}
	sort.Strings(vols)
	for _, v := range vols {
		if seen[path.Clean(v)] {
			continue
		}
		if err := add(MountPoint{Type: "volume", Destination: v, RW: true, Anonymous: true}); err != nil {
			return nil, err
		}
	}
	// Volumes are created last, once every spec parsed.
	for i := range mps {
		mp := &mps[i]
		if mp.Type != "volume" {
			continue
		}
		if e.cfg.Volumes == nil {
			return nil, fmt.Errorf("volumes are not available: %w", errdefs.ErrFailedPrecondition)
		}
		var labels map[string]string
		if mp.Anonymous {
			labels = map[string]string{"com.docker.volume.anonymous": ""}
		}
		v, err := e.cfg.Volumes.Create(ctx, mp.Name, "local", nil, labels)
		if err != nil {
			return nil, err
		}
		mp.Name = v.Name
		mp.Source = v.Mountpoint
		if _, err := e.cfg.Volumes.Mount(ctx, v.Name, id); err != nil {
			return nil, err
		}
	}
	return mps, nil
}

// releaseVolumes drops the container's references to its volumes and,
// with removeAnon, removes its anonymous volumes (docker rm -v).
func (e *Engine) releaseVolumes(ctx context.Context, id string, mps []MountPoint, removeAnon bool) {
	if e.cfg.Volumes == nil {
		return
	}
	for _, mp := range mps {
		if mp.Type != "volume" || mp.Name == "" {
			continue
		}
		if err := e.cfg.Volumes.Unmount(ctx, mp.Name, id); err != nil {
			e.log.Warn("release volume", "volume", mp.Name, "container", id, "err", err)
		}
		if removeAnon && mp.Anonymous {
			if err := e.cfg.Volumes.Remove(ctx, mp.Name, false); err != nil && !errdefs.IsNotFound(err) {
				e.log.Warn("remove anonymous volume", "volume", mp.Name, "err", err)
			}
		}
	}
}

// parseBind reads a -v SRC:DST[:OPTS] value.
func parseBind(b string) (MountPoint, error) {
	parts := strings.Split(b, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return MountPoint{}, fmt.Errorf("invalid volume specification: '%s': %w", b, errdefs.ErrInvalidArgument)
	}
	mp := MountPoint{Source: parts[0], Destination: parts[1], RW: true}
	if filepath.IsAbs(parts[0]) {
		mp.Type = "bind"
		mp.Source = filepath.Clean(parts[0])
		mp.Propagation = "rprivate"
	} else {
		mp.Type, mp.Name, mp.Source = "volume", parts[0], ""
	}
	if len(parts) == 3 {
		mp.Mode = parts[2]
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				mp.RW = false
			case "rw":
				mp.RW = true
			case "z", "Z":
				return MountPoint{}, fmt.Errorf("invalid volume specification: '%s': SELinux relabeling (%s) is not supported: %w", b, o, errdefs.ErrInvalidArgument)
			case "private", "rprivate", "shared", "rshared", "slave", "rslave":
				if mp.Type != "bind" {
					return MountPoint{}, fmt.Errorf("invalid volume specification: '%s': propagation only applies to bind mounts: %w", b, errdefs.ErrInvalidArgument)
				}
				mp.Propagation = o
			case "nocopy":
				mp.Options = append(mp.Options, "nocopy")
			default:
				return MountPoint{}, fmt.Errorf("invalid mode: %s: %w", o, errdefs.ErrInvalidArgument)
			}
		}
	}
	return mp, nil
}

// fromMount reads a --mount value.
func fromMount(m mounttypes.Mount) (MountPoint, error) {
	mp := MountPoint{Destination: m.Target, RW: !m.ReadOnly}
	if m.Target == "" {
		return mp, fmt.Errorf("invalid mount config: Target must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	switch m.Type {
	case mounttypes.TypeBind:
		if !filepath.IsAbs(m.Source) {
			return mp, fmt.Errorf("invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute: %w", m.Source, errdefs.ErrInvalidArgument)
		}
		if _, err := os.Stat(m.Source); err != nil {
			if m.BindOptions == nil || !m.BindOptions.CreateMountpoint {
				return mp, fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s: %w", m.Source, errdefs.ErrInvalidArgument)
			}
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return mp, fmt.Errorf("create bind source %s: %w", m.Source, err)
			}
		}
		mp.Type, mp.Source, mp.Propagation = "bind", filepath.Clean(m.Source), "rprivate"
		if m.BindOptions != nil && m.BindOptions.Propagation != "" {
			mp.Propagation = string(m.BindOptions.Propagation)
		}
	case mounttypes.TypeVolume:
		mp.Type, mp.Name = "volume", m.Source
		if m.Source == "" {
			mp.Anonymous = true
		}
		if m.VolumeOptions != nil {
			if m.VolumeOptions.DriverConfig != nil && m.VolumeOptions.DriverConfig.Name != "" && m.VolumeOptions.DriverConfig.Name != "local" {
				return mp, fmt.Errorf("volume driver %q: only the local driver is available: %w", m.VolumeOptions.DriverConfig.Name, errdefs.ErrInvalidArgument)
			}
			if m.VolumeOptions.NoCopy {
				mp.Options = append(mp.Options, "nocopy")
			}
		}
	case mounttypes.TypeTmpfs:
		if m.Source != "" {
			return mp, fmt.Errorf("invalid mount config for type \"tmpfs\": source must not be specified: %w", errdefs.ErrInvalidArgument)
		}
		mp.Type = "tmpfs"
		if m.TmpfsOptions != nil {
			if m.TmpfsOptions.SizeBytes > 0 {
				mp.Options = append(mp.Options, "size="+strconv.FormatInt(m.TmpfsOptions.SizeBytes, 10))
			}
			if m.TmpfsOptions.Mode != 0 {
				mp.Options = append(mp.Options, "mode="+strconv.FormatUint(uint64(m.TmpfsOptions.Mode), 8))
			}
		}
		if m.ReadOnly {
			mp.Options = append(mp.Options, "ro")
		}
	default:
		return mp, fmt.Errorf("invalid mount config: mount type %q is not supported: %w", m.Type, errdefs.ErrInvalidArgument)
	}
	return mp, nil
}

// checkLogConfig accepts the json-file driver (the default) and "none".
func checkLogConfig(lc *container.LogConfig) error {
	switch lc.Type {
	case "":
		lc.Type = "json-file"
	case "json-file":
	case "none":
		if len(lc.Config) > 0 {
			return fmt.Errorf("logging driver none takes no options: %w", errdefs.ErrInvalidArgument)
		}
		return nil
	default:
		return fmt.Errorf("logger: no log driver named '%s' is registered: %w", lc.Type, errdefs.ErrInvalidArgument)
	}
	_, err := logfile.ParseOptions(lc.Config)
	return err
}
