package transfer

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/archive"
	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/ref"
)

// LoadStore is what Load needs of a content store.
type LoadStore interface {
	content.Ingester
	content.Provider
}

// Load reads an image archive, in either format Save writes or as
// `docker save` (any version), skopeo or containerd write it, and stores
// the blobs of every image in it. It returns the images; recording their
// names is the caller's job.
//
// The archive is read once, as a stream. Every file goes into its own
// ingest (small JSON files are kept in memory instead) and nothing is
// committed until the whole archive has been read and every image in it
// checked: each blob named blobs/sha256/<hex> must hash to that name, each
// descriptor's blob must be in the archive (or already in the store) with
// the descriptor's size. Then only the blobs the images reach are
// committed, children before parents; the other ingests are aborted when
// the store can (it implements Abort).
//
// Malformed archives (unsafe or duplicate paths, links leaving the
// archive, device entries, missing blobs, bad JSON) fail with
// ErrInvalidArgument; content that does not match its digest or size with
// ErrFailedPrecondition.
func Load(ctx context.Context, store LoadStore, r io.Reader) (_ []Loaded, err error) {
	id, err := randomRef("load")
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	l := &loader{
		store:    store,
		id:       id,
		files:    map[string]*entry{},
		links:    map[string]string{},
		byDigest: map[digest.Digest]*entry{},
	}
	defer func() {
		if cerr := l.cleanup(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := l.read(ctx, r); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	loaded, err := l.images(ctx)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := l.commit(ctx); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return loaded, nil
}

// entry is one regular file of the archive.
type entry struct {
	name   string
	digest digest.Digest // sha256 of its bytes
	size   int64
	head   []byte // the first bytes, to sniff compression
	data   []byte // all of it, when kept in memory
	ref    string // its ingest, when spooled into one
	// w is the ingest's writer, kept open (up to maxOpenWriters) so
	// commit need not reopen it, which re-reads and re-hashes the data.
	w      content.Writer
	stored bool // the blob was in the store already; not read
}

// maxOpenWriters bounds the descriptors a Load keeps open: an archive
// can hold any number of files.
const maxOpenWriters = 32

// loader is the state of one Load.
type loader struct {
	store    LoadStore
	id       string
	nrefs    int
	files    map[string]*entry
	links    map[string]string // link name → target, both archive paths
	byDigest map[digest.Digest]*entry
	buffered int64

	ingests   []string // every ingest made
	open      int      // writers kept open
	withW     []*entry // entries whose writer was kept open
	committed map[string]bool
	needed    []ocispec.Descriptor // blobs to commit, in order
	neededSet map[digest.Digest]bool
}

const headSize = 512

// metadataFiles are read into memory, never stored as blobs.
var metadataFiles = map[string]bool{
	ociLayoutFile: true, indexFile: true, manifestFile: true, repositoriesFile: true,
}

// cleanName turns a tar entry name into an archive path: relative, no
// "." or ".." elements, no trailing slash. Names that would leave the
// archive are ErrInvalidArgument.
func cleanName(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry name %q: NUL byte: %w", name, errdefs.ErrInvalidArgument)
	}
	if path.IsAbs(name) || strings.HasPrefix(name, `\`) {
		return "", fmt.Errorf("entry name %q: absolute path: %w", name, errdefs.ErrInvalidArgument)
	}
	for _, el := range strings.Split(strings.ReplaceAll(name, `\`, "/"), "/") {
		if el == ".." {
			return "", fmt.Errorf("entry name %q: path traversal: %w", name, errdefs.ErrInvalidArgument)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// read reads the whole archive into memory and ingests.
func (l *loader) read(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(archive.ContextReader(ctx, r))
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return tarError(ctx, err)
		}
		if n >= maxEntries {
			return fmt.Errorf("more than %d entries: %w", maxEntries, errdefs.ErrInvalidArgument)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" && hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("entry %q has no name: %w", hdr.Name, errdefs.ErrInvalidArgument)
		}
		if _, dup := l.files[name]; dup {
			return fmt.Errorf("entry %q appears twice: %w", name, errdefs.ErrInvalidArgument)
		}
		if _, dup := l.links[name]; dup {
			return fmt.Errorf("entry %q appears twice: %w", name, errdefs.ErrInvalidArgument)
		}
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader:
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old writers still use '\x00'
			if err := l.file(ctx, name, hdr.Size, tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if path.IsAbs(hdr.Linkname) {
				return fmt.Errorf("symlink %q points outside the archive (%q): %w", name, hdr.Linkname, errdefs.ErrInvalidArgument)
			}
			target := path.Join(path.Dir(name), hdr.Linkname)
			if target == ".." || strings.HasPrefix(target, "../") {
				return fmt.Errorf("symlink %q points outside the archive (%q): %w", name, hdr.Linkname, errdefs.ErrInvalidArgument)
			}
			l.links[name] = target
		case tar.TypeLink:
			target, err := cleanName(hdr.Linkname)
			if err != nil {
				return fmt.Errorf("hard link %q: %w", name, err)
			}
			l.links[name] = target
		default:
			return fmt.Errorf("entry %q: type %q is not allowed in an image archive: %w", name, hdr.Typeflag, errdefs.ErrInvalidArgument)
		}
	}
}

// tarError classifies an error from reading the archive: the caller's
// cancellation as is, anything else as a malformed archive.
func tarError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, errdefs.ErrFailedPrecondition) || errors.Is(err, errdefs.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("read archive: %w: %w", err, errdefs.ErrInvalidArgument)
}

// blobDigest is the digest a path blobs/sha256/<hex> names, or "".
func blobDigest(name string) (digest.Digest, error) {
	rest, ok := strings.CutPrefix(name, blobsDir+"/sha256/")
	if !ok {
		return "", nil
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, rest)
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("entry %q is not named by a sha256 digest: %w", name, errdefs.ErrInvalidArgument)
	}
	return d, nil
}

// file reads one regular file: metadata and small JSON into memory, the
// rest into an ingest.
func (l *loader) file(ctx context.Context, name string, size int64, r io.Reader) error {
	e := &entry{name: name, size: size}
	expected, err := blobDigest(name)
	if err != nil {
		return err
	}
	br := newPeekReader(r)
	head, err := br.peek(headSize)
	if err != nil {
		return tarError(ctx, err)
	}
	e.head = head
	if metadataFiles[name] {
		if size > maxJSONSize {
			return fmt.Errorf("%s is %d bytes, more than %d: %w", name, size, maxJSONSize, errdefs.ErrInvalidArgument)
		}
		e.data, err = io.ReadAll(br)
		if err != nil {
			return tarError(ctx, err)
		}
		l.files[name] = e
		return nil
	}
	if looksJSON(head) && size <= maxJSONSize && l.buffered+size <= maxBuffered {
		e.data, err = io.ReadAll(br)
		if err != nil {
			return tarError(ctx, err)
		}
		l.buffered += size
		e.digest = digest.FromBytes(e.data)
		if expected != "" && e.digest != expected {
			return fmt.Errorf("entry %q holds %s: %w", name, e.digest, errdefs.ErrFailedPrecondition)
		}
	} else if err := l.spool(ctx, e, expected, br); err != nil {
		return err
	}
	l.files[name] = e
	if _, ok := l.byDigest[e.digest]; !ok {
		l.byDigest[e.digest] = e
	}
	return nil
}

// spool writes a file into a fresh ingest, which stays uncommitted.
func (l *loader) spool(ctx context.Context, e *entry, expected digest.Digest, r io.Reader) error {
	l.nrefs++
	ref := fmt.Sprintf("%s-%d", l.id, l.nrefs)
	w, err := l.store.Writer(ctx, content.WithRef(ref), content.WithDescriptor(ocispec.Descriptor{Digest: expected, Size: e.size}))
	if errdefs.IsAlreadyExists(err) {
		// Already stored (and verified back then): skip these bytes.
		ra, err := l.store.ReaderAt(ctx, ocispec.Descriptor{Digest: expected})
		if err != nil {
			return fmt.Errorf("store %q: %w", e.name, err)
		}
		stored := ra.Size()
		if err := ra.Close(); err != nil {
			return fmt.Errorf("store %q: %w", e.name, err)
		}
		if stored != e.size {
			return fmt.Errorf("entry %q is %d bytes, blob %s is %d: %w", e.name, e.size, expected, stored, errdefs.ErrFailedPrecondition)
		}
		e.digest, e.stored = expected, true
		return nil
	}
	if err != nil {
		return fmt.Errorf("store %q: %w", e.name, err)
	}
	l.ingests = append(l.ingests, ref)
	e.ref = ref
	if _, err := io.Copy(w, r); err != nil {
		return errors.Join(tarError(ctx, fmt.Errorf("store %q: %w", e.name, err)), w.Close())
	}
	e.digest = w.Digest()
	if l.open < maxOpenWriters {
		l.open++
		e.w = w
		l.withW = append(l.withW, e)
	} else if err := w.Close(); err != nil {
		return fmt.Errorf("store %q: %w", e.name, err)
	}
	if expected != "" && e.digest != expected {
		return fmt.Errorf("entry %q holds %s: %w", e.name, e.digest, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// looksJSON reports whether head starts like a JSON object or array.
func looksJSON(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// resolve finds the file an archive path names, following links.
func (l *loader) resolve(name string) (*entry, error) {
	p, err := cleanName(name)
	if err != nil {
		return nil, err
	}
	for range 16 {
		if e, ok := l.files[p]; ok {
			return e, nil
		}
		target, ok := l.links[p]
		if !ok {
			return nil, fmt.Errorf("%q is not in the archive: %w", name, errdefs.ErrInvalidArgument)
		}
		p = target
	}
	return nil, fmt.Errorf("%q: too many levels of links: %w", name, errdefs.ErrInvalidArgument)
}

// blob finds the blob desc in the archive or, failing that, the store.
func (l *loader) blob(ctx context.Context, desc ocispec.Descriptor) (*entry, error) {
	if err := checkDescriptor(desc); err != nil {
		return nil, err
	}
	e, ok := l.byDigest[desc.Digest]
	if !ok {
		ra, err := l.store.ReaderAt(ctx, desc)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return nil, fmt.Errorf("blob %s is missing from the archive: %w", desc.Digest, errdefs.ErrInvalidArgument)
			}
			return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
		}
		e = &entry{name: blobPath(desc.Digest), digest: desc.Digest, size: ra.Size(), stored: true}
		if err := ra.Close(); err != nil {
			return nil, err
		}
		l.byDigest[desc.Digest] = e
	}
	if e.size != desc.Size {
		return nil, fmt.Errorf("blob %s is %d bytes, descriptor says %d: %w", desc.Digest, e.size, desc.Size, errdefs.ErrFailedPrecondition)
	}
	return e, nil
}

// checkDescriptor checks what Load relies on in a descriptor.
func checkDescriptor(desc ocispec.Descriptor) error {
	if err := desc.Digest.Validate(); err != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("descriptor digest %q: only sha256 is supported: %w", desc.Digest, errdefs.ErrInvalidArgument)
	}
	if desc.Size < 0 {
		return fmt.Errorf("descriptor %s: negative size %d: %w", desc.Digest, desc.Size, errdefs.ErrInvalidArgument)
	}
	return nil
}

// readJSON decodes the blob desc, which must be small.
func (l *loader) readJSON(ctx context.Context, desc ocispec.Descriptor, v any) error {
	e, err := l.blob(ctx, desc)
	if err != nil {
		return err
	}
	data := e.data
	switch {
	case data != nil:
	case e.stored:
		if e.size > maxJSONSize {
			return fmt.Errorf("blob %s is %d bytes, too large for %s: %w", desc.Digest, e.size, desc.MediaType, errdefs.ErrInvalidArgument)
		}
		if data, err = content.ReadBlob(ctx, l.store, desc); err != nil {
			return err
		}
	default:
		return fmt.Errorf("blob %s (%s) is too large or not JSON: %w", desc.Digest, desc.MediaType, errdefs.ErrInvalidArgument)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w: %w", desc.Digest, errdefs.ErrInvalidArgument, err)
	}
	return nil
}

// need marks desc to be committed.
func (l *loader) need(desc ocispec.Descriptor) {
	if l.neededSet == nil {
		l.neededSet = map[digest.Digest]bool{}
	}
	if l.neededSet[desc.Digest] {
		return
	}
	l.neededSet[desc.Digest] = true
	l.needed = append(l.needed, desc)
}

// images works out the images of the archive and checks that every blob
// they need is there.
func (l *loader) images(ctx context.Context) ([]Loaded, error) {
	if idx, ok := l.files[indexFile]; ok {
		var index ocispec.Index
		if err := json.Unmarshal(idx.data, &index); err != nil {
			return nil, fmt.Errorf("parse %s: %w: %w", indexFile, errdefs.ErrInvalidArgument, err)
		}
		_, hasDocker := l.files[manifestFile]
		if len(index.Manifests) > 0 || !hasDocker {
			return l.ociImages(ctx, index)
		}
	}
	if _, ok := l.files[manifestFile]; ok {
		return l.dockerImages(ctx)
	}
	return nil, fmt.Errorf("neither %s nor %s in the archive: %w", indexFile, manifestFile, errdefs.ErrInvalidArgument)
}

// collector merges the images found, by manifest digest.
type collector struct {
	out   []Loaded
	index map[digest.Digest]int
}

func (c *collector) add(img Loaded) {
	if c.index == nil {
		c.index = map[digest.Digest]int{}
	}
	i, ok := c.index[img.Manifest.Digest]
	if !ok {
		c.index[img.Manifest.Digest] = len(c.out)
		img.Names = dedupe(nil, img.Names)
		c.out = append(c.out, img)
		return
	}
	c.out[i].Names = dedupe(c.out[i].Names, img.Names)
}

func dedupe(have, more []string) []string {
	out := append([]string{}, have...)
	for _, n := range more {
		found := false
		for _, h := range out {
			found = found || h == n
		}
		if !found {
			out = append(out, n)
		}
	}
	return out
}

// ociImages reads the images of an OCI layout's index.json.
func (l *loader) ociImages(ctx context.Context, index ocispec.Index) ([]Loaded, error) {
	var c collector
	for _, desc := range index.Manifests {
		names, err := annotationNames(desc.Annotations)
		if err != nil {
			return nil, fmt.Errorf("%s entry %s: %w", indexFile, desc.Digest, err)
		}
		switch {
		case isManifestType(desc.MediaType):
		case isIndexType(desc.MediaType):
			if desc, err = l.pickManifest(ctx, desc); err != nil {
				return nil, err
			}
		default:
			continue // not an image (an artifact, an attestation)
		}
		img, err := l.image(ctx, desc)
		if err != nil {
			return nil, err
		}
		img.Names = names
		c.add(img)
	}
	if len(c.out) == 0 {
		return nil, fmt.Errorf("%s lists no image manifests: %w", indexFile, errdefs.ErrInvalidArgument)
	}
	return c.out, nil
}

// annotationNames reads the names an index.json entry gives its image:
// containerd's full name, else the OCI ref name when it is more than a
// bare tag.
func annotationNames(ann map[string]string) ([]string, error) {
	n := ann[annotationImageName]
	if n == "" {
		rn := ann[ocispec.AnnotationRefName]
		if !strings.ContainsAny(rn, ":/@") {
			return nil, nil // a bare tag names no repository
		}
		n = rn
	}
	r, err := ref.Parse(n)
	if err != nil {
		return nil, fmt.Errorf("image name %q: %w", n, err)
	}
	return []string{r.String()}, nil
}

// pickManifest chooses from the index desc the manifest for the default
// platform, or the only one whose blob the archive holds.
func (l *loader) pickManifest(ctx context.Context, desc ocispec.Descriptor) (ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := l.readJSON(ctx, desc, &idx); err != nil {
		return desc, fmt.Errorf("read index %s: %w", desc.Digest, err)
	}
	want := defaultPlatform()
	var present []ocispec.Descriptor
	for _, m := range idx.Manifests {
		if !isManifestType(m.MediaType) {
			continue
		}
		if _, ok := l.byDigest[m.Digest]; !ok {
			continue
		}
		present = append(present, m)
		if m.Platform != nil && m.Platform.OS == want.OS && m.Platform.Architecture == want.Architecture {
			return m, nil
		}
	}
	if len(present) == 1 {
		return present[0], nil
	}
	return desc, fmt.Errorf("index %s: no manifest for %s/%s in the archive: %w", desc.Digest, want.OS, want.Architecture, errdefs.ErrInvalidArgument)
}

// image checks one image manifest and everything it reaches.
func (l *loader) image(ctx context.Context, desc ocispec.Descriptor) (Loaded, error) {
	var m ocispec.Manifest
	if err := l.readJSON(ctx, desc, &m); err != nil {
		return Loaded{}, fmt.Errorf("read manifest %s: %w", desc.Digest, err)
	}
	if m.SchemaVersion != 2 {
		return Loaded{}, fmt.Errorf("manifest %s: schema version %d: %w", desc.Digest, m.SchemaVersion, errdefs.ErrInvalidArgument)
	}
	var cfg ocispec.Image
	if err := l.readJSON(ctx, m.Config, &cfg); err != nil {
		return Loaded{}, fmt.Errorf("read config %s: %w", m.Config.Digest, err)
	}
	if err := checkConfig(cfg, len(m.Layers)); err != nil {
		return Loaded{}, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	for _, layer := range m.Layers {
		if _, err := l.blob(ctx, layer); err != nil {
			return Loaded{}, fmt.Errorf("manifest %s: layer: %w", desc.Digest, err)
		}
		l.need(layer)
	}
	l.need(m.Config)
	l.need(desc)
	out := desc
	out.Annotations, out.Platform, out.URLs = nil, nil, nil
	return Loaded{Manifest: out, Config: m.Config}, nil
}

func checkConfig(cfg ocispec.Image, layers int) error {
	if cfg.RootFS.Type != "layers" {
		return fmt.Errorf("rootfs type %q, want \"layers\": %w", cfg.RootFS.Type, errdefs.ErrInvalidArgument)
	}
	if len(cfg.RootFS.DiffIDs) != layers {
		return fmt.Errorf("%d diff ids for %d layers: %w", len(cfg.RootFS.DiffIDs), layers, errdefs.ErrInvalidArgument)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("diff id %q: %w", d, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// dockerImages reads the images of a docker save manifest.json, building
// a Docker schema 2 manifest for each (an OCI one if a layer is zstd).
func (l *loader) dockerImages(ctx context.Context) ([]Loaded, error) {
	var entries []dockerManifestEntry
	if err := json.Unmarshal(l.files[manifestFile].data, &entries); err != nil {
		return nil, fmt.Errorf("parse %s: %w: %w", manifestFile, errdefs.ErrInvalidArgument, err)
	}
	var c collector
	for i, e := range entries {
		img, err := l.dockerImage(ctx, e)
		if err != nil {
			return nil, fmt.Errorf("%s entry %d: %w", manifestFile, i, err)
		}
		c.add(img)
	}
	if len(c.out) == 0 {
		return nil, fmt.Errorf("%s lists no images: %w", manifestFile, errdefs.ErrInvalidArgument)
	}
	return c.out, nil
}

func (l *loader) dockerImage(ctx context.Context, me dockerManifestEntry) (Loaded, error) {
	var img Loaded
	for _, t := range me.RepoTags {
		r, err := ref.Parse(t)
		if err != nil {
			return img, fmt.Errorf("repo tag %q: %w", t, err)
		}
		img.Names = append(img.Names, r.String())
	}
	ce, err := l.resolve(me.Config)
	if err != nil {
		return img, fmt.Errorf("config: %w", err)
	}
	if hex, ok := strings.CutSuffix(path.Base(ce.name), ".json"); ok && digest.NewDigestFromEncoded(digest.SHA256, hex).Validate() == nil && hex != ce.digest.Encoded() {
		return img, fmt.Errorf("config %q holds %s: %w", ce.name, ce.digest, errdefs.ErrFailedPrecondition)
	}
	if ce.data == nil {
		return img, fmt.Errorf("config %q is too large or not JSON: %w", ce.name, errdefs.ErrInvalidArgument)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(ce.data, &cfg); err != nil {
		return img, fmt.Errorf("parse config %q: %w: %w", ce.name, errdefs.ErrInvalidArgument, err)
	}
	if err := checkConfig(cfg, len(me.Layers)); err != nil {
		return img, fmt.Errorf("config %q: %w", ce.name, err)
	}

	layers := make([]ocispec.Descriptor, 0, len(me.Layers))
	oci := false
	for i, p := range me.Layers {
		le, err := l.resolve(p)
		if err != nil {
			return img, fmt.Errorf("layer: %w", err)
		}
		head := le.head
		if head == nil && le.stored {
			if head, err = l.storedHead(ctx, le); err != nil {
				return img, err
			}
		}
		d := ocispec.Descriptor{Digest: le.digest, Size: le.size}
		switch archive.DetectCompression(head) {
		case archive.Gzip:
			d.MediaType = mediaTypeDockerLayerGzip
		case archive.Zstd:
			d.MediaType, oci = ocispec.MediaTypeImageLayerZstd, true
		default:
			d.MediaType = mediaTypeDockerLayer
			if le.digest != cfg.RootFS.DiffIDs[i] {
				return img, fmt.Errorf("layer %q is %s, config says diff id %s: %w", p, le.digest, cfg.RootFS.DiffIDs[i], errdefs.ErrFailedPrecondition)
			}
		}
		layers = append(layers, d)
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: mediaTypeDockerManifest,
		Config:    ocispec.Descriptor{MediaType: mediaTypeDockerConfig, Digest: ce.digest, Size: ce.size},
		Layers:    layers,
	}
	if oci {
		m.MediaType, m.Config.MediaType = ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig
		for i := range m.Layers {
			switch m.Layers[i].MediaType {
			case mediaTypeDockerLayerGzip:
				m.Layers[i].MediaType = ocispec.MediaTypeImageLayerGzip
			case mediaTypeDockerLayer:
				m.Layers[i].MediaType = ocispec.MediaTypeImageLayer
			}
		}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return img, fmt.Errorf("encode manifest: %w", err)
	}
	desc := jsonBlob(m.MediaType, data)
	if _, ok := l.byDigest[desc.Digest]; !ok {
		l.byDigest[desc.Digest] = &entry{name: "(built manifest)", digest: desc.Digest, size: desc.Size, data: data}
	}
	for _, layer := range layers {
		l.need(layer)
	}
	l.need(m.Config)
	l.need(desc)
	img.Manifest, img.Config = desc, m.Config
	return img, nil
}

// storedHead reads the first bytes of a blob already in the store.
func (l *loader) storedHead(ctx context.Context, e *entry) ([]byte, error) {
	ra, err := l.store.ReaderAt(ctx, ocispec.Descriptor{Digest: e.digest})
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", e.digest, err)
	}
	defer ra.Close()
	head := make([]byte, min(headSize, ra.Size()))
	if _, err := ra.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read blob %s: %w", e.digest, err)
	}
	return head, nil
}

// commit makes every needed blob visible, in the order they were found
// needed (layers and configs before the manifests that name them).
func (l *loader) commit(ctx context.Context) error {
	l.committed = map[string]bool{}
	for _, desc := range l.needed {
		e := l.byDigest[desc.Digest]
		switch {
		case e.stored:
		case e.data != nil:
			if err := writeBlob(ctx, l.store, ocispec.Descriptor{MediaType: desc.MediaType, Digest: e.digest, Size: e.size}, e.data); err != nil {
				return err
			}
		case e.w != nil:
			err := e.w.Commit(ctx, e.size, e.digest)
			e.w.Close()
			e.w = nil
			l.open--
			if err != nil && !errdefs.IsAlreadyExists(err) {
				return fmt.Errorf("commit %s: %w", e.digest, err)
			}
			l.committed[e.ref] = true
		default:
			w, err := l.store.Writer(ctx, content.WithRef(e.ref), content.WithDescriptor(ocispec.Descriptor{Digest: e.digest, Size: e.size}))
			if errdefs.IsAlreadyExists(err) {
				continue // committed meanwhile by someone else; our ingest is aborted later
			}
			if err != nil {
				return fmt.Errorf("commit %s: %w", e.digest, err)
			}
			if err := w.Commit(ctx, e.size, e.digest); err != nil && !errdefs.IsAlreadyExists(err) {
				return fmt.Errorf("commit %s: %w", e.digest, err)
			}
			l.committed[e.ref] = true
		}
	}
	return nil
}

// cleanup removes every ingest not committed.
func (l *loader) cleanup(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var errs []error
	// Writers still open hold their ingest's lock: close them first.
	for _, e := range l.withW {
		if e.w != nil {
			errs = append(errs, e.w.Close())
			e.w = nil
		}
	}
	for _, ref := range l.ingests {
		if l.committed[ref] {
			continue
		}
		errs = append(errs, abortIngest(cctx, l.store, ref))
	}
	return errors.Join(errs...)
}

// peekReader lets file look at the first bytes of an entry and then read
// all of it.
type peekReader struct {
	r   io.Reader
	buf []byte
}

func newPeekReader(r io.Reader) *peekReader { return &peekReader{r: r} }

// peek reads up to n bytes (fewer at the end of the entry). Unlike
// io.ReadFull it tells a short entry (fine) from a truncated archive
// (io.ErrUnexpectedEOF from the tar reader).
func (p *peekReader) peek(n int) ([]byte, error) {
	buf := make([]byte, n)
	m := 0
	for m < n {
		k, err := p.r.Read(buf[m:])
		m += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	p.buf = buf[:m]
	return append([]byte(nil), p.buf...), nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}
