package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/pull"
	"github.com/shoal-dev/shoal/internal/image/ref"
	"github.com/shoal-dev/shoal/internal/image/unpack"
	"github.com/shoal-dev/shoal/internal/metadata"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/snapshot"
	"github.com/shoal-dev/shoal/internal/snapshot/native"
	"github.com/shoal-dev/shoal/internal/snapshot/overlay"
)

// Config configures a Service.
type Config struct {
	// Root holds content/ and snapshots/<driver>/.
	Root string
	// Snapshotter is "overlay", "native", or "" to use overlay where it
	// works and native otherwise.
	Snapshotter string
	// InsecureRegistries may be reached over plain HTTP (loopback
	// registries always may, as with Docker).
	InsecureRegistries []string
	Logger             *slog.Logger
}

// Service is the image service. Its methods are safe for concurrent use.
type Service struct {
	content *content.LocalStore
	sn      snapshot.Snapshotter
	driver  string
	images  *metadata.ImageStore
	cfg     Config
	log     *slog.Logger
	gc      sync.Mutex
}

// New opens the image service under cfg.Root, with image records in db.
func New(ctx context.Context, cfg Config, db *metadata.DB) (*Service, error) {
	if cfg.Root == "" || !filepath.IsAbs(cfg.Root) {
		return nil, fmt.Errorf("image root %q must be an absolute path: %w", cfg.Root, errdefs.ErrInvalidArgument)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cs, err := content.NewStore(filepath.Join(cfg.Root, "content"))
	if err != nil {
		return nil, fmt.Errorf("open content store: %w", err)
	}
	driver := cfg.Snapshotter
	if driver == "" {
		driver = "overlay"
		probe := filepath.Join(cfg.Root, "snapshots", "overlay")
		if err := os.MkdirAll(probe, 0o700); err != nil {
			return nil, fmt.Errorf("create snapshot root: %w", err)
		}
		if err := overlay.Supported(probe); err != nil {
			log.WarnContext(ctx, "overlayfs unavailable, copying snapshots", "err", err)
			driver = "native"
		}
	}
	root := filepath.Join(cfg.Root, "snapshots", driver)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create snapshot root: %w", err)
	}
	var sn snapshot.Snapshotter
	switch driver {
	case "overlay":
		sn, err = overlay.New(root)
	case "native":
		sn, err = native.New(root)
	default:
		return nil, fmt.Errorf("snapshotter %q: must be overlay or native: %w", driver, errdefs.ErrInvalidArgument)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s snapshotter: %w", driver, err)
	}
	return &Service{content: cs, sn: sn, driver: driver, images: db.Images(), cfg: cfg, log: log}, nil
}

// Close releases the snapshotter.
func (s *Service) Close() error { return s.sn.Close() }

// Snapshotter is the name of the snapshotter in use.
func (s *Service) Snapshotter() string { return s.driver }

// Image is an image record with what its config says.
type Image struct {
	metadata.Image
	Config ocispec.Image
	// Docker is what Docker's image config has beyond OCI's: the
	// HEALTHCHECK, ONBUILD triggers and SHELL of a Dockerfile.
	Docker   dockerspec.DockerOCIImageConfigExt
	Manifest ocispec.Manifest
	// Names are every name the image has (fully qualified).
	Names []string
}

// PullOpt changes how an image is pulled.
type PullOpt = pull.Opt

// Pull fetches name from its registry, unpacks it and records it under
// its fully qualified name.
func (s *Service) Pull(ctx context.Context, name string, opts ...PullOpt) (Image, error) {
	r, err := ref.Parse(name)
	if err != nil {
		return Image{}, err
	}
	all := append([]pull.Opt{pull.WithInsecureRegistries(s.cfg.InsecureRegistries)}, opts...)
	res, err := pull.Pull(ctx, r.String(), s.content, all...)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", r.Familiar(), err)
	}
	img, err := s.record(ctx, res.Manifest, res.Config, []string{r.String()})
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", r.Familiar(), err)
	}
	img.Name = r.String() // found by this name, as Get would say
	return img, nil
}

// Push uploads the image known as name to the registry its name points
// at.
func (s *Service) Push(ctx context.Context, name string, opts ...PullOpt) (Image, error) {
	r, err := ref.Parse(name)
	if err != nil {
		return Image{}, err
	}
	img, err := s.Get(ctx, r.String())
	if err != nil {
		return Image{}, err
	}
	all := append([]pull.Opt{pull.WithInsecureRegistries(s.cfg.InsecureRegistries)}, opts...)
	if err := pull.Push(ctx, r.String(), s.content, img.Target, all...); err != nil {
		return Image{}, fmt.Errorf("push %s: %w", r.Familiar(), err)
	}
	return img, nil
}

// Get resolves a name, full ID or unique ID prefix as Docker does.
func (s *Service) Get(ctx context.Context, nameOrID string) (Image, error) {
	rec, err := s.images.Get(ctx, nameOrID)
	if err != nil {
		return Image{}, err
	}
	return s.load(ctx, rec)
}

func (s *Service) load(ctx context.Context, rec metadata.Image) (Image, error) {
	img := Image{Image: rec}
	if err := s.readJSON(ctx, rec.Target, &img.Manifest); err != nil {
		return Image{}, err
	}
	var dc dockerspec.DockerOCIImage
	if err := s.readJSON(ctx, img.Manifest.Config, &dc); err != nil {
		return Image{}, err
	}
	img.Config, img.Docker = dc.Image, dc.Config.DockerOCIImageConfigExt
	img.Config.Config = dc.Config.ImageConfig
	names, err := s.images.Names(ctx, rec.ID)
	if err != nil {
		return Image{}, err
	}
	img.Names = names
	return img, nil
}

func (s *Service) readJSON(ctx context.Context, desc ocispec.Descriptor, v any) error {
	data, err := content.ReadBlob(ctx, s.content, desc)
	if err != nil {
		return fmt.Errorf("read %s: %w", desc.Digest, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w: %w", desc.Digest, errdefs.ErrInvalidArgument, err)
	}
	return nil
}

// Summary is a row of `images`.
type Summary struct {
	ID         digest.Digest
	Repository string // familiar, "<none>" for a dangling image
	Tag        string // "<none>" for a dangling image
	Created    time.Time
	Size       int64 // unpacked size of all layers
}

// List returns one row per name, and one per image without a name.
func (s *Service) List(ctx context.Context) ([]Summary, error) {
	recs, err := s.images.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(recs))
	for _, rec := range recs {
		img, err := s.load(ctx, rec)
		if err != nil {
			return nil, err
		}
		row := Summary{ID: rec.ID, Repository: "<none>", Tag: "<none>", Size: s.size(ctx, img)}
		if img.Config.Created != nil {
			row.Created = *img.Config.Created
		}
		if rec.Name != "" {
			if r, err := ref.Parse(rec.Name); err == nil {
				fam := r.Familiar()
				if r.Tag() != "" {
					row.Repository, row.Tag = strings.TrimSuffix(fam, ":"+r.Tag()), r.Tag()
				} else {
					row.Repository = strings.Split(fam, "@")[0]
				}
			}
		}
		out = append(out, row)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// size adds up the unpacked layers of img, or their compressed size where
// a snapshot's usage is unknown.
func (s *Service) size(ctx context.Context, img Image) int64 {
	var total int64
	chain := unpack.ChainIDs(img.Config.RootFS.DiffIDs)
	for i, c := range chain {
		if u, err := s.sn.Usage(ctx, c.String()); err == nil {
			total += u.Size
		} else if i < len(img.Manifest.Layers) {
			total += img.Manifest.Layers[i].Size
		}
	}
	return total
}

// Tag gives the image src the name target.
func (s *Service) Tag(ctx context.Context, src, target string) error {
	img, err := s.images.Get(ctx, src)
	if err != nil {
		return err
	}
	r, err := ref.Parse(target)
	if err != nil {
		return err
	}
	if r.Digest() != "" {
		return fmt.Errorf("refusing to create a tag with a digest reference: %w", errdefs.ErrInvalidArgument)
	}
	return s.images.Tag(ctx, r.String(), img.ID)
}

// Deleted is what Remove did, in Docker's terms: a name untagged or an
// image deleted.
type Deleted struct {
	Untagged string
	Deleted  digest.Digest
}

// Remove removes a name, or, given an ID or the image's last name, the
// image, and then collects what no image needs any more. An image with
// several names given by ID needs force, as with Docker.
func (s *Service) Remove(ctx context.Context, nameOrID string, force bool) ([]Deleted, error) {
	s.gc.Lock()
	defer s.gc.Unlock()
	rec, err := s.images.Get(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	names, err := s.images.Names(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	var out []Deleted
	byName := rec.Name != ""
	if byName && len(names) > 1 {
		if err := s.images.Untag(ctx, rec.Name); err != nil {
			return nil, err
		}
		return []Deleted{{Untagged: familiar(rec.Name)}}, nil
	}
	if !byName && len(names) > 1 && !force {
		return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories: %w", short(rec.ID), errdefs.ErrConflict)
	}
	for _, n := range names {
		out = append(out, Deleted{Untagged: familiar(n)})
	}
	if err := s.images.Delete(ctx, rec.ID); err != nil {
		return nil, err
	}
	out = append(out, Deleted{Deleted: rec.ID})
	if err := s.collect(ctx); err != nil {
		return out, fmt.Errorf("collect unused layers: %w", err)
	}
	return out, nil
}

// collect deletes the blobs and committed layer snapshots no image needs.
func (s *Service) collect(ctx context.Context) error {
	recs, err := s.images.List(ctx, nil)
	if err != nil {
		return err
	}
	liveBlobs := map[digest.Digest]bool{}
	liveChains := map[string]bool{}
	for _, rec := range recs {
		img, err := s.load(ctx, rec)
		if err != nil {
			return err
		}
		liveBlobs[rec.Target.Digest] = true
		liveBlobs[img.Manifest.Config.Digest] = true
		for _, l := range img.Manifest.Layers {
			liveBlobs[l.Digest] = true
		}
		for _, c := range unpack.ChainIDs(img.Config.RootFS.DiffIDs) {
			liveChains[c.String()] = true
		}
	}
	var errs []error
	var dead []digest.Digest
	if err := s.content.Walk(ctx, func(info content.Info) error {
		if !liveBlobs[info.Digest] {
			dead = append(dead, info.Digest)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, d := range dead {
		if err := s.content.Delete(ctx, d); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	// Layer snapshots, children before parents: repeat until a pass
	// removes nothing.
	for {
		var infos []snapshot.Info
		if err := s.sn.Walk(ctx, func(ctx context.Context, info snapshot.Info) error {
			infos = append(infos, info)
			return nil
		}); err != nil {
			return errors.Join(append(errs, err)...)
		}
		parents := map[string]bool{}
		for _, info := range infos {
			if info.Parent != "" {
				parents[info.Parent] = true
			}
		}
		removed := 0
		for _, info := range infos {
			if info.Kind != snapshot.KindCommitted || liveChains[info.Name] || parents[info.Name] || !strings.HasPrefix(info.Name, "sha256:") {
				continue
			}
			if err := s.sn.Remove(ctx, info.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			removed++
		}
		if removed == 0 {
			break
		}
	}
	return errors.Join(errs...)
}

// Prune removes the images that have no name (dangling), or with all,
// every image, and collects what they used. It returns what it removed.
func (s *Service) Prune(ctx context.Context, all bool) ([]Deleted, error) {
	recs, err := s.images.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []Deleted
	seen := map[digest.Digest]bool{}
	for _, rec := range recs {
		if seen[rec.ID] || (rec.Name != "" && !all) {
			continue
		}
		seen[rec.ID] = true
		del, err := s.Remove(ctx, rec.ID.String(), true)
		out = append(out, del...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// RootFS prepares a writable layer named key on top of the image and
// returns its mounts: a container's root filesystem.
func (s *Service) RootFS(ctx context.Context, nameOrID, key string) ([]mount.Mount, error) {
	img, err := s.Get(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	chain := unpack.ChainIDs(img.Config.RootFS.DiffIDs)
	parent := ""
	if len(chain) > 0 {
		parent = chain[len(chain)-1].String()
	}
	return s.sn.Prepare(ctx, key, parent)
}

// RemoveRootFS removes a container's writable layer.
func (s *Service) RemoveRootFS(ctx context.Context, key string) error {
	return s.sn.Remove(ctx, key)
}

func familiar(name string) string {
	if r, err := ref.Parse(name); err == nil {
		return r.Familiar()
	}
	return name
}

func short(d digest.Digest) string {
	h := d.Encoded()
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// Mounts returns the mounts of a container's writable layer made by
// RootFS.
func (s *Service) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	return s.sn.Mounts(ctx, key)
}

// Login checks credentials against a registry (docker login).
func (s *Service) Login(ctx context.Context, server, username, password string) error {
	return pull.Login(ctx, server, pull.WithAuth(username, password), pull.WithInsecureRegistries(s.cfg.InsecureRegistries))
}

// Sizes returns the unpacked size of the image nameOrID and the disk
// usage of a container's writable layer key (docker ps -s).
func (s *Service) Sizes(ctx context.Context, nameOrID, key string) (image, rw int64, err error) {
	img, err := s.Get(ctx, nameOrID)
	if err != nil {
		return 0, 0, err
	}
	u, err := s.sn.Usage(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	return s.size(ctx, img), u.Size, nil
}
