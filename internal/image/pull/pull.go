package pull

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Manifest media types outside the OCI image spec's Go constants.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// Result describes a pulled image. Every descriptor it holds names a blob
// now in the store.
type Result struct {
	// Name is the reference in full: registry (docker.io for Docker Hub),
	// repository and tag or digest.
	Name string
	// Index is the index or manifest list the manifest was picked from,
	// nil for a single-platform reference.
	Index *ocispec.Descriptor
	// Manifest is the image manifest for the platform, with the platform
	// set when it came from an index.
	Manifest ocispec.Descriptor
	// Config is the image config and ConfigBlob its bytes.
	Config     ocispec.Descriptor
	ConfigBlob []byte
	// Layers are the manifest's layers, in order.
	Layers []ocispec.Descriptor
}

// Pull downloads the image ref into store: its index (if any), the
// manifest for the platform, the config and the layers. See the package
// documentation for the steps and what is verified.
//
// Errors: a malformed reference or platform is errdefs.ErrInvalidArgument,
// an index without the platform errdefs.ErrNotFound, an unsupported
// manifest or layer type errdefs.ErrNotImplemented, bytes that do not
// match their digest errdefs.ErrFailedPrecondition, plain HTTP to a
// registry that is not allowed it ErrPlainHTTP. Registry errors are
// go-containerregistry's *transport.Error (with the HTTP status).
func Pull(ctx context.Context, ref string, store content.Store, opts ...Opt) (Result, error) {
	o := newOptions(opts)
	want, err := wantPlatform(o.platform)
	if err != nil {
		return Result{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	r, err := parseRef(ref, o)
	if err != nil {
		return Result{}, fmt.Errorf("pull: %w", err)
	}
	res, err := pull(ctx, r, store, o, want)
	if err != nil {
		return Result{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	return res, nil
}

func pull(ctx context.Context, ref name.Reference, store content.Store, o *options, want ocispec.Platform) (Result, error) {
	c, err := newClient(ctx, o, ref.Context())
	if err != nil {
		return Result{}, err
	}
	res := Result{Name: familiarName(ref)}

	top, err := c.puller.Get(ctx, ref)
	if err != nil {
		return Result{}, fmt.Errorf("resolve: %w", classifyRegistry(err))
	}
	desc := ocispec.Descriptor{
		MediaType: string(top.MediaType),
		Digest:    digest.Digest(top.Digest.String()),
		Size:      top.Size,
	}
	raw := top.Manifest
	if isIndex(desc.MediaType) {
		if err := putBytes(ctx, store, desc, raw); err != nil {
			return Result{}, fmt.Errorf("store index: %w", err)
		}
		index := desc
		res.Index = &index
		if desc, err = pickPlatform(raw, want); err != nil {
			return Result{}, err
		}
		m, err := c.puller.Get(ctx, ref.Context().Digest(desc.Digest.String()))
		if err != nil {
			return Result{}, fmt.Errorf("get manifest %s: %w", desc.Digest, err)
		}
		raw = m.Manifest
		if string(m.MediaType) != desc.MediaType && desc.MediaType != "" {
			return Result{}, fmt.Errorf("manifest %s is %s, index says %s: %w", desc.Digest, m.MediaType, desc.MediaType, errdefs.ErrFailedPrecondition)
		}
		desc.MediaType = string(m.MediaType)
	}
	if !isManifest(desc.MediaType) {
		return Result{}, fmt.Errorf("manifest media type %q: %w", desc.MediaType, errdefs.ErrNotImplemented)
	}
	if err := putBytes(ctx, store, desc, raw); err != nil {
		return Result{}, fmt.Errorf("store manifest: %w", err)
	}
	res.Manifest = desc

	var manifest ocispec.Manifest
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return Result{}, fmt.Errorf("parse manifest %s: %v: %w", desc.Digest, err, errdefs.ErrInvalidArgument)
	}
	for _, l := range append([]ocispec.Descriptor{manifest.Config}, manifest.Layers...) {
		if err := validateBlob(l); err != nil {
			return Result{}, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
	}
	res.Config, res.Layers = manifest.Config, manifest.Layers

	if err := c.fetchBlob(ctx, store, manifest.Config, nil); err != nil {
		return Result{}, fmt.Errorf("fetch config: %w", err)
	}
	if res.ConfigBlob, err = content.ReadBlob(ctx, store, manifest.Config); err != nil {
		return Result{}, fmt.Errorf("read config: %w", err)
	}

	rep := &reporter{fn: o.progress}
	defer rep.stop()
	for _, l := range manifest.Layers {
		rep.report(l, StatusPullingFsLayer, 0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.concurrency)
	for _, l := range manifest.Layers {
		g.Go(func() error {
			if err := c.fetchBlob(gctx, store, l, rep); err != nil {
				return fmt.Errorf("fetch layer %s: %w", l.Digest, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	return res, nil
}

// validateBlob refuses descriptors Pull cannot fetch.
func validateBlob(d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil || d.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("blob digest %q: %w", d.Digest, errdefs.ErrInvalidArgument)
	}
	if d.Size < 0 {
		return fmt.Errorf("blob %s: negative size: %w", d.Digest, errdefs.ErrInvalidArgument)
	}
	if d.MediaType == MediaTypeDockerForeignLayer || strings.Contains(d.MediaType, "nondistributable") {
		return fmt.Errorf("non-distributable (foreign) layer %s (%s) is not supported: %w", d.Digest, d.MediaType, errdefs.ErrNotImplemented)
	}
	return nil
}

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

func isManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

// putBytes stores b, which must match desc.
func putBytes(ctx context.Context, store content.Store, desc ocispec.Descriptor, b []byte) error {
	return content.Fetch(ctx, store, desc, func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

// wantPlatform parses "os/arch[/variant]", or returns the host's platform
// for "".
func wantPlatform(s string) (ocispec.Platform, error) {
	if s == "" {
		return ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH, Variant: hostVariant()}, nil
	}
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]: %w", s, errdefs.ErrInvalidArgument)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return normalize(p), nil
}

// hostVariant is the variant of the host's CPU architecture as image
// indexes name it.
func hostVariant() string {
	switch runtime.GOARCH {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	}
	return ""
}

// normalize spells architectures and variants as image indexes do.
func normalize(p ocispec.Platform) ocispec.Platform {
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	}
	if p.Architecture == "arm64" && (p.Variant == "" || p.Variant == "8") {
		p.Variant = "v8"
	}
	if p.Architecture == "arm" && len(p.Variant) == 1 {
		p.Variant = "v" + p.Variant
	}
	return p
}

// rank scores how well have serves want: 0 is no match, higher is better.
// An arm host runs older variants too, preferring the newest.
func rank(want, have ocispec.Platform) int {
	have = normalize(have)
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return 0
	}
	switch {
	case have.Variant == want.Variant:
		return 100
	case want.Variant == "":
		return 50
	case want.Architecture == "arm":
		order := []string{"v8", "v7", "v6", "v5"}
		w, h := -1, -1
		for i, v := range order {
			if v == want.Variant {
				w = i
			}
			if v == have.Variant {
				h = i
			}
		}
		if w >= 0 && h >= w {
			return 90 - (h - w)
		}
		if have.Variant == "" {
			return 10
		}
	case want.Architecture == "arm64" && have.Variant == "":
		return 90
	}
	return 0
}

// pickPlatform returns the manifest in the index raw that best matches
// want; on a tie the first.
func pickPlatform(raw []byte, want ocispec.Platform) (ocispec.Descriptor, error) {
	var index ocispec.Index
	if err := json.Unmarshal(raw, &index); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("parse index: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	best, bestRank := -1, 0
	for i, m := range index.Manifests {
		if m.Platform == nil || !isManifest(m.MediaType) && m.MediaType != "" {
			continue
		}
		if r := rank(want, *m.Platform); r > bestRank {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		p := want.OS + "/" + want.Architecture
		if want.Variant != "" {
			p += "/" + want.Variant
		}
		return ocispec.Descriptor{}, fmt.Errorf("no manifest for platform %s in index: %w", p, errdefs.ErrNotFound)
	}
	d := index.Manifests[best]
	if err := validateBlob(d); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("index: %w", err)
	}
	return d, nil
}

// fetchBlob makes sure the blob desc is in store, downloading it from the
// repository if not, and reports progress to rep (if not nil).
func (c *client) fetchBlob(ctx context.Context, store content.Store, desc ocispec.Descriptor, rep *reporter) error {
	if _, err := store.Info(ctx, desc.Digest); err == nil {
		rep.report(desc, StatusAlreadyExists, desc.Size)
		return nil
	} else if !errdefs.IsNotFound(err) {
		return err
	}
	var mismatch atomic.Bool
	err := content.Fetch(ctx, store, desc, func(ctx context.Context) (io.ReadCloser, error) {
		return &blobReader{ctx: ctx, c: c, desc: desc, rep: rep, mismatch: &mismatch}, nil
	})
	if err != nil {
		if mismatch.Load() && ctx.Err() == nil {
			// The bytes were wrong: drop them, so a retry starts clean.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			aerr := store.Abort(actx, "fetch-"+desc.Digest.String())
			cancel()
			if aerr != nil && !errdefs.IsNotFound(aerr) {
				err = errors.Join(err, fmt.Errorf("discard ingest: %w", aerr))
			}
		}
		return err
	}
	rep.report(desc, StatusDownloadComplete, desc.Size)
	return nil
}

// blobReader streams a blob from the registry: from
// remote.Layer().Compressed() when read from the start, with a Range
// request after Seek (a resumed ingest). It counts bytes for progress and
// turns a failed read of the last bytes (go-containerregistry's digest
// check) into ErrFailedPrecondition.
type blobReader struct {
	ctx      context.Context
	c        *client
	desc     ocispec.Descriptor
	rep      *reporter
	mismatch *atomic.Bool

	rc     io.ReadCloser
	offset int64
	last   time.Time
}

func (b *blobReader) Seek(offset int64, whence int) (int64, error) {
	if b.rc != nil || whence != io.SeekStart || offset < 0 || offset > b.desc.Size {
		return 0, fmt.Errorf("seek blob %s to %d (whence %d): %w", b.desc.Digest, offset, whence, errdefs.ErrInvalidArgument)
	}
	b.offset = offset
	return offset, nil
}

func (b *blobReader) open() error {
	var err error
	if b.offset == 0 {
		var l interface{ Compressed() (io.ReadCloser, error) }
		l, err = b.c.puller.Layer(b.ctx, b.c.repo.Digest(b.desc.Digest.String()))
		if err == nil {
			b.rc, err = l.Compressed()
		}
	} else {
		b.rc, err = b.c.openRange(b.ctx, b.desc.Digest, b.offset, b.desc.Size)
	}
	return err
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.rc == nil {
		if b.offset == b.desc.Size {
			return 0, io.EOF
		}
		if err := b.open(); err != nil {
			return 0, err
		}
	}
	n, err := b.rc.Read(p)
	b.offset += int64(n)
	switch {
	case err == nil:
		if now := time.Now(); now.Sub(b.last) >= 100*time.Millisecond {
			b.last = now
			b.rep.report(b.desc, StatusDownloading, b.offset)
		}
	case errors.Is(err, io.EOF):
		b.rep.report(b.desc, StatusDownloading, b.offset)
		b.rep.report(b.desc, StatusVerifyingChecksum, b.offset)
	case b.offset >= b.desc.Size && b.ctx.Err() == nil:
		b.mismatch.Store(true)
		err = fmt.Errorf("verify blob %s: %v: %w", b.desc.Digest, err, errdefs.ErrFailedPrecondition)
	}
	if b.offset > b.desc.Size {
		b.mismatch.Store(true)
	}
	return n, err
}

func (b *blobReader) Close() error {
	if b.rc == nil {
		return nil
	}
	return b.rc.Close()
}

// reporter serialises progress callbacks. A nil reporter or function
// reports nothing.
type reporter struct {
	mu   sync.Mutex
	fn   func(Progress)
	done bool // set when Pull returns: a straggling download reports nothing
}

// stop ends reporting.
func (r *reporter) stop() {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

func (r *reporter) report(desc ocispec.Descriptor, status string, current int64) {
	if r == nil || r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	r.fn(Progress{ID: shortID(desc.Digest), Status: status, Current: current, Total: desc.Size})
}

// shortID is the first 12 hex digits of d, as Docker shows layer ids.
func shortID(d digest.Digest) string {
	h := d.Encoded()
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// classifyRegistry adds the error class the API maps to a status: a
// registry's "unknown" answers (or a 404) are not found, refusals are
// permission denied.
func classifyRegistry(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	if te.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
			return fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return fmt.Errorf("%w: %w", err, errdefs.ErrPermissionDenied)
		}
	}
	if te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: %w", err, errdefs.ErrPermissionDenied)
	}
	return err
}
