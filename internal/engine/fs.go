package engine

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/containerfs"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/transfer"
)

// withRoot runs fn with a path of the container's root as its processes
// see it: /proc/PID/root while it runs (volumes and binds included), or
// its root filesystem mounted for the call.
func (e *Engine) withRoot(ctx context.Context, ref string, fn func(rec *record, root string) error) error {
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	rec := c.snapshot()
	if rec.State.Status == StatusRunning || rec.State.Status == StatusPaused {
		return fn(&rec, fmt.Sprintf("/proc/%d/root", rec.State.Pid))
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	rec = c.snapshot()
	if rec.State.Status == StatusRemoving {
		return fmt.Errorf("container %s is being removed: %w", ShortID(rec.ID), errdefs.ErrConflict)
	}
	root, err := e.mountRootfs(ctx, c)
	if err != nil {
		return err
	}
	defer e.unmountRootfs(ctx, c)
	return fn(&rec, root)
}

func notInContainer(path, id string, err error) error {
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("Could not find the file %s in container %s: %w", path, id, errdefs.ErrNotFound)
	}
	return err
}

// StatPath is HEAD /containers/{id}/archive.
func (e *Engine) StatPath(ctx context.Context, ref, path string) (container.PathStat, error) {
	var st container.PathStat
	err := e.withRoot(ctx, ref, func(rec *record, root string) error {
		cst, err := containerfs.Stat(root, path)
		st = pathStat(cst)
		return notInContainer(path, ref, err)
	})
	return st, err
}

// ArchivePath is GET /containers/{id}/archive: stat first, then the tar.
func (e *Engine) ArchivePath(ctx context.Context, ref, path string, header func(container.PathStat) io.Writer) error {
	return e.withRoot(ctx, ref, func(rec *record, root string) error {
		st, err := containerfs.Stat(root, path)
		if err != nil {
			return notInContainer(path, ref, err)
		}
		return containerfs.Tar(ctx, root, path, header(pathStat(st)))
	})
}

// ExtractToPath is PUT /containers/{id}/archive.
func (e *Engine) ExtractToPath(ctx context.Context, ref, path string, r io.Reader, noOverwriteDirNonDir, copyUIDGID bool) error {
	return e.withRoot(ctx, ref, func(rec *record, root string) error {
		if rec.HostConfig.ReadonlyRootfs {
			return fmt.Errorf("container rootfs is marked read-only: %w", errdefs.ErrPermissionDenied)
		}
		err := containerfs.Extract(ctx, root, path, r, noOverwriteDirNonDir, copyUIDGID, containerfs.WithUser(rec.Config.User))
		if err == nil {
			c, lerr := e.lookup(rec.ID)
			if lerr == nil {
				r := c.snapshot()
				e.emit(&r, "extract-to-dir", nil)
			}
		}
		return notInContainer(path, ref, err)
	})
}

// overlayDirs reads the upper and lower directories of the container's
// writable layer.
func (e *Engine) overlayDirs(ctx context.Context, id string) (upper string, lowers []string, err error) {
	ms, err := e.cfg.Images.Mounts(ctx, id)
	if err != nil {
		return "", nil, err
	}
	for _, m := range ms {
		if m.Type != "overlay" {
			continue
		}
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				upper = v
			}
			if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
				lowers = strings.Split(v, ":")
			}
		}
	}
	if upper == "" {
		return "", nil, fmt.Errorf("the %s storage driver keeps no separate layer of changes: %w", e.cfg.Images.Snapshotter(), errdefs.ErrNotImplemented)
	}
	return upper, lowers, nil
}

// Changes is docker diff.
func (e *Engine) Changes(ctx context.Context, ref string) ([]container.FilesystemChange, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	upper, lowers, err := e.overlayDirs(ctx, c.snapshot().ID)
	if err != nil {
		return nil, err
	}
	chs, err := containerfs.Changes(ctx, upper, lowers)
	if err != nil {
		return nil, err
	}
	out := make([]container.FilesystemChange, 0, len(chs))
	for _, ch := range chs {
		if ch.Kind == containerfs.ChangeAdd && mountpointFiles[ch.Path] {
			continue
		}
		out = append(out, container.FilesystemChange{Path: ch.Path, Kind: container.ChangeType(ch.Kind)})
	}
	// /etc is listed as changed only for what else changed in it: the
	// mount points of the files above are the engine's, not the user's
	// (dockerd keeps them in an init layer).
	etcChanged := false
	for _, ch := range out {
		etcChanged = etcChanged || strings.HasPrefix(ch.Path, "/etc/")
	}
	if !etcChanged {
		kept := out[:0]
		for _, ch := range out {
			if ch.Path != "/etc" || ch.Kind == container.ChangeDelete {
				kept = append(kept, ch)
			}
		}
		out = kept
	}
	return out, nil
}

// mountpointFiles are the files the engine bind-mounts into every
// container; the empty files made as their mount points are not changes.
var mountpointFiles = map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true}

func pathStat(s containerfs.PathStat) container.PathStat {
	return container.PathStat{Name: s.Name, Size: s.Size, Mode: s.Mode, Mtime: s.Mtime, LinkTarget: s.LinkTarget}
}

// Export is docker export: the container's root filesystem as a tar.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	rec := c.snapshot()
	wasMounted := rec.RootfsMounted
	root, err := e.mountRootfs(ctx, c)
	if err != nil {
		return err
	}
	if !wasMounted {
		defer e.unmountRootfs(ctx, c)
	}
	if err := containerfs.Export(ctx, root, w); err != nil {
		return err
	}
	e.emit(&rec, "export", nil)
	return nil
}

// CommitOptions are docker commit's options. Apply, when set, changes
// the image configuration taken from the container (the request's
// config and --change instructions).
type CommitOptions struct {
	Name, Author, Comment string
	Pause                 bool
	Apply                 func(*ocispec.ImageConfig) error
}

// Commit makes an image of the container's changes on top of its image.
func (e *Engine) Commit(ctx context.Context, ref string, o CommitOptions) (string, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return "", err
	}
	rec := c.snapshot()
	cfg := imageConfigOf(rec.Config)
	if o.Apply != nil {
		if err := o.Apply(&cfg); err != nil {
			return "", err
		}
	}
	upper, _, err := e.overlayDirs(ctx, rec.ID)
	if err != nil {
		return "", err
	}
	if o.Pause && rec.State.Status == StatusRunning {
		if err := e.Pause(ctx, rec.ID); err == nil {
			defer func() { _ = e.Unpause(context.WithoutCancel(ctx), rec.ID) }()
		}
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(containerfs.WriteLayer(ctx, upper, pw)) }()
	img, err := e.cfg.Images.Commit(ctx, rec.ImageID, o.Name, pr, transfer.CommitOpts{
		Config: cfg, CreatedBy: commandString(&rec), Author: o.Author, Comment: o.Comment,
	})
	pr.CloseWithError(err)
	if err != nil {
		return "", err
	}
	e.emit(&rec, "commit", map[string]string{"comment": o.Comment, "imageID": img.ID.String()})
	return img.ID.String(), nil
}

// imageConfigOf is the image configuration a commit starts from: the
// container's.
func imageConfigOf(c *container.Config) ocispec.ImageConfig {
	ic := ocispec.ImageConfig{
		User: c.User, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
		WorkingDir: c.WorkingDir, Labels: c.Labels, StopSignal: c.StopSignal,
	}
	if len(c.ExposedPorts) > 0 {
		ic.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			ic.ExposedPorts[p.String()] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		ic.Volumes = c.Volumes
	}
	return ic
}
