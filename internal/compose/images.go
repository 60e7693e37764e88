package compose

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sync/errgroup"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// imageOptions say how up gets images.
type imageOptions struct {
	build, noBuild bool
	pull           string
}

// ensureImages makes sure every selected service's image exists,
// building or pulling it as its pull policy and build section say, and
// returns each service's image ID. Pulls run concurrently; builds one
// after the other.
func (c *Compose) ensureImages(ctx context.Context, p *types.Project, o imageOptions) (map[string]string, error) {
	type job struct {
		image    string
		services []string
		build    *types.ServiceConfig
		pull     bool
		platform string
	}
	jobs := map[string]*job{}
	var order []string
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		img := ImageName(p.Name, s)
		j, ok := jobs[img]
		if !ok {
			j = &job{image: img, platform: s.Platform}
			jobs[img] = j
			order = append(order, img)
		}
		j.services = append(j.services, name)
		policy := s.PullPolicy
		if o.pull != "" {
			policy = o.pull
		}
		switch {
		case s.Build != nil && !o.noBuild && (o.build || policy == types.PullPolicyBuild):
			j.build = &s
		case policy == types.PullPolicyAlways && s.Image != "":
			j.pull = true
		}
	}
	ids := map[string]string{}
	var mu sync.Mutex
	record := func(j *job, id string) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range j.services {
			ids[s] = id
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	var builds []*job
	for _, img := range order {
		j := jobs[img]
		if j.build != nil {
			mu.Lock()
			builds = append(builds, j)
			mu.Unlock()
			continue
		}
		g.Go(func() error {
			if !j.pull {
				info, err := c.eng.ImageInspect(gctx, j.image)
				if err == nil {
					record(j, info.ID)
					return nil
				}
				if !errdefs.IsNotFound(err) {
					return fmt.Errorf("inspect image %s: %w", j.image, err)
				}
				s := p.Services[j.services[0]]
				switch {
				case s.Build != nil && !o.noBuild:
					mu.Lock()
					j.build = &s
					builds = append(builds, j)
					mu.Unlock()
					return nil
				case s.Build != nil:
					return withClass(fmt.Errorf("service %q has no image %s and --no-build was given", s.Name, j.image), errdefs.ErrNotFound)
				case s.PullPolicy == types.PullPolicyNever || o.pull == types.PullPolicyNever:
					return withClass(fmt.Errorf("service %q: image %s not found and pull_policy is never", s.Name, j.image), errdefs.ErrNotFound)
				}
			}
			if err := c.pull(gctx, j.image, j.platform); err != nil {
				return err
			}
			info, err := c.eng.ImageInspect(gctx, j.image)
			if err != nil {
				return fmt.Errorf("inspect image %s: %w", j.image, err)
			}
			record(j, info.ID)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, j := range builds {
		if err := c.build(ctx, p, *j.build, BuildOptions{}); err != nil {
			return nil, err
		}
		info, err := c.eng.ImageInspect(ctx, j.image)
		if err != nil {
			return nil, fmt.Errorf("inspect built image %s: %w", j.image, err)
		}
		record(j, info.ID)
	}
	return ids, nil
}

func (c *Compose) pull(ctx context.Context, image, platform string) error {
	c.event("Image", image, "Pulling")
	if err := c.eng.ImagePull(ctx, image, platform, io.Discard); err != nil {
		c.progress(Event{Kind: "Image", Name: image, Status: "Error", Text: err.Error()})
		return fmt.Errorf("pull image %s: %w", image, err)
	}
	c.event("Image", image, "Pulled")
	return nil
}

// PullOptions are pull's flags.
type PullOptions struct {
	// IgnoreFailures goes on when an image cannot be pulled.
	IgnoreFailures bool
}

// Pull pulls the images of the named services (none: all) concurrently.
// Services that are built and name no image are skipped.
func (c *Compose) Pull(ctx context.Context, p *types.Project, services []string, o PullOptions) error {
	p, err := selectServices(p, services, false)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	var mu sync.Mutex
	var failed []error
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Image == "" || seen[s.Image] || s.PullPolicy == types.PullPolicyBuild {
			continue
		}
		seen[s.Image] = true
		g.Go(func() error {
			err := c.pull(gctx, s.Image, s.Platform)
			if err != nil && (o.IgnoreFailures || s.Build != nil) {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, err := range failed {
		c.warn("Image", "", err.Error())
	}
	return nil
}

// BuildOptions are build's flags.
type BuildOptions struct {
	NoCache bool
	Pull    bool
	// Args override build args (KEY=VALUE).
	Args map[string]string
}

// Build builds the images of the named services (none: all) that have a
// build section, one after the other.
func (c *Compose) Build(ctx context.Context, p *types.Project, services []string, o BuildOptions) error {
	p, err := selectServices(p, services, false)
	if err != nil {
		return err
	}
	built := map[string]bool{}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Build == nil {
			continue
		}
		img := ImageName(p.Name, s)
		if built[img] {
			continue
		}
		built[img] = true
		if err := c.build(ctx, p, s, o); err != nil {
			return err
		}
	}
	return nil
}

// build builds service s's image through the daemon's POST /build.
func (c *Compose) build(ctx context.Context, p *types.Project, s types.ServiceConfig, o BuildOptions) error {
	b := s.Build
	img := ImageName(p.Name, s)
	c.event("Service", s.Name, "Building")
	dir := b.Context
	if dir == "" {
		dir = "."
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(p.WorkingDir, dir)
	}
	if strings.Contains(b.Context, "://") || strings.HasPrefix(b.Context, "git@") {
		return invalidf("service %s: remote build contexts are not supported: %s", s.Name, b.Context)
	}
	dockerfile := b.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	var extra map[string][]byte
	switch {
	case b.DockerfileInline != "":
		dockerfile = ".shoal-compose.inline.Dockerfile"
		extra = map[string][]byte{dockerfile: []byte(b.DockerfileInline)}
	case filepath.IsAbs(dockerfile):
		if rel, err := filepath.Rel(dir, dockerfile); err == nil && !strings.HasPrefix(rel, "..") {
			dockerfile = filepath.ToSlash(rel)
		} else {
			data, err := os.ReadFile(dockerfile)
			if err != nil {
				return fmt.Errorf("service %s: read Dockerfile: %w", s.Name, err)
			}
			dockerfile = ".shoal-compose.Dockerfile"
			extra = map[string][]byte{dockerfile: data}
		}
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeContext(pw, dir, dockerfile, extra))
	}()
	defer pr.Close()
	args := map[string]*string{}
	for k, v := range b.Args {
		args[k] = v
	}
	for k, v := range o.Args {
		args[k] = &v
	}
	tags := append([]string{img}, b.Tags...)
	platform := s.Platform
	if len(b.Platforms) > 0 && platform == "" {
		platform = b.Platforms[0]
	}
	req := BuildRequest{
		Context: pr, Tags: tags, Dockerfile: dockerfile, Args: args, Labels: b.Labels,
		Target: b.Target, Pull: b.Pull || o.Pull, NoCache: b.NoCache || o.NoCache, Network: b.Network, Platform: platform,
	}
	if err := c.eng.ImageBuild(ctx, req, c.out); err != nil {
		c.progress(Event{Kind: "Service", Name: s.Name, Status: "Error", Text: err.Error()})
		if errdefs.IsNotFound(err) || errdefs.IsNotImplemented(err) {
			return withClass(fmt.Errorf("build service %s: the daemon cannot build images (POST /build: %w)", s.Name, err), errdefs.ErrNotImplemented)
		}
		return fmt.Errorf("build service %s: %w", s.Name, err)
	}
	c.event("Service", s.Name, "Built")
	return nil
}

// writeContext writes the build context dir as a tar stream, leaving out
// what its .dockerignore excludes (but never the Dockerfile or the
// .dockerignore itself), plus the extra files.
func writeContext(w io.Writer, dir, dockerfile string, extra map[string][]byte) error {
	var pm *patternmatcher.PatternMatcher
	if f, err := os.Open(filepath.Join(dir, ".dockerignore")); err == nil {
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read .dockerignore: %w", err)
		}
		if pm, err = patternmatcher.New(patterns); err != nil {
			return fmt.Errorf("parse .dockerignore: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("open .dockerignore: %w", err)
	}
	tw := tar.NewWriter(w)
	keep := map[string]bool{filepath.ToSlash(filepath.Clean(dockerfile)): true, ".dockerignore": true}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if pm != nil && !keep[rel] {
			skip, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if skip {
				if d.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("archive build context %s: %w", dir, err)
	}
	for _, name := range sortedKeys(extra) {
		data := extra[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}
