package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"

	"github.com/shoal-dev/shoal/internal/api/types"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/image/pull"
	"github.com/shoal-dev/shoal/internal/image/ref"
	"github.com/shoal-dev/shoal/internal/image/transfer"
)

// GET /images/json
func (s *server) listImages(ctx context.Context, w http.ResponseWriter, r *http.Request, v apiVersion) error {
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	var dangling *bool
	var patterns []string
	for key, vals := range f {
		switch key {
		case "dangling":
			b, err := boolFilter(key, vals)
			if err != nil {
				return err
			}
			dangling = &b
		case "reference":
			patterns = vals
		case "before", "since", "label", "until":
			return notImplementedf("filter '%s' is not supported yet", key)
		default:
			return invalidf("invalid filter '%s'", key)
		}
	}
	rows, err := s.images.List(ctx)
	if err != nil {
		return err
	}
	// Without all, a build's intermediate images (untagged, with images
	// built on them) are hidden, as dockerd hides them.
	all := boolParam(r, "all")
	parents, _ := s.builder.(interface{ HasChildren(id string) bool })
	out := []types.ImageSummary{}
	seen := map[digest.Digest]bool{}
	for _, row := range rows {
		if seen[row.ID] {
			continue
		}
		seen[row.ID] = true
		img, err := s.images.Get(ctx, row.ID.String())
		if errdefs.IsNotFound(err) {
			continue // removed since List
		}
		if err != nil {
			return err
		}
		tags, digests := repoNames(img)
		if !all && parents != nil && len(tags) == 0 && len(digests) == 0 && parents.HasChildren(row.ID.String()) {
			continue
		}
		if dangling != nil && *dangling != (len(tags) == 0) {
			continue
		}
		if len(patterns) > 0 {
			tags = slices.DeleteFunc(tags, func(t string) bool { return !matchReference(patterns, t) })
			if len(tags) == 0 {
				continue
			}
		}
		sum := types.ImageSummary{
			ID:          row.ID.String(),
			RepoTags:    tags,
			RepoDigests: digests,
			Size:        row.Size,
			SharedSize:  -1,
			Labels:      img.Config.Config.Labels,
			Containers:  -1,
		}
		if img.Config.Created != nil {
			sum.Created = img.Config.Created.Unix()
		}
		if v.less(apiVersion{1, 43}) {
			if len(sum.RepoTags) == 0 && len(sum.RepoDigests) == 0 {
				sum.RepoTags = []string{"<none>:<none>"}
				sum.RepoDigests = []string{"<none>@<none>"}
			}
		}
		if v.less(apiVersion{1, 44}) {
			size := row.Size
			sum.VirtualSize = &size
		}
		out = append(out, sum)
	}
	return writeJSON(w, http.StatusOK, out)
}

// repoNames are the image's familiar tags ("busybox:latest") and digests
// ("busybox@sha256:…"): each tagged repository with the digest of the
// manifest the image was recorded from, as the containerd-backed dockerd
// reports them.
func repoNames(img image.Image) (tags, digests []string) {
	tags, digests = []string{}, []string{}
	for _, n := range img.Names {
		r, err := ref.Parse(n)
		if err != nil {
			continue
		}
		fam := r.Familiar()
		if r.Tag() != "" {
			tags = append(tags, strings.Split(fam, "@")[0])
			fam = strings.TrimSuffix(strings.Split(fam, "@")[0], ":"+r.Tag())
		} else {
			fam = strings.Split(fam, "@")[0]
		}
		d := r.Digest()
		if d == "" {
			d = img.Target.Digest
		}
		if d != "" {
			if rd := fam + "@" + d.String(); !slices.Contains(digests, rd) {
				digests = append(digests, rd)
			}
		}
	}
	return tags, digests
}

// matchReference reports whether the familiar tag ("busybox:latest")
// matches one of the patterns, against the whole tag or its repository,
// as Docker's reference filter does.
func matchReference(patterns []string, tag string) bool {
	repo := tag
	if i := strings.LastIndex(tag, ":"); i > strings.LastIndex(tag, "/") {
		repo = tag[:i]
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, tag); ok {
			return true
		}
		if ok, _ := path.Match(p, repo); ok {
			return true
		}
	}
	return false
}

// parseFilters decodes Docker's filters parameter, in its current form
// ({"key":["v"]}) or the old one ({"key":{"v":true}}).
func parseFilters(s string) (map[string][]string, error) {
	out := map[string][]string{}
	if s == "" {
		return out, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, invalidf("invalid filter: %v", err)
	}
	for k, m := range raw {
		var list []string
		if err := json.Unmarshal(m, &list); err == nil {
			out[k] = list
			continue
		}
		var set map[string]bool
		if err := json.Unmarshal(m, &set); err != nil {
			return nil, invalidf("invalid filter '%s': %v", k, err)
		}
		for v, on := range set {
			if on {
				out[k] = append(out[k], v)
			}
		}
		slices.Sort(out[k])
	}
	return out, nil
}

func boolFilter(key string, vals []string) (bool, error) {
	if len(vals) != 1 {
		return false, invalidf("invalid filter '%s': want one value", key)
	}
	switch strings.ToLower(vals[0]) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, invalidf("invalid filter '%s=%s'", key, vals[0])
}

// POST /images/create: pull (fromImage) or import (fromSrc).
func (s *server) createImage(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	q := r.URL.Query()
	if src := q.Get("fromSrc"); src != "" {
		return s.importImage(ctx, w, r, src)
	}
	from := q.Get("fromImage")
	if from == "" {
		return invalidf("fromImage or fromSrc is required")
	}
	rf, err := ref.Parse(withTag(from, q.Get("tag")))
	if err != nil {
		return err
	}
	opts, err := authOpts(r)
	if err != nil {
		return err
	}
	if p := q.Get("platform"); p != "" {
		opts = append(opts, pull.WithPlatform(p))
	}
	var oldID digest.Digest
	if old, err := s.images.Get(ctx, rf.String()); err == nil {
		oldID = old.ID
	}

	stream := newJSONStream(w)
	what := rf.Tag()
	if rf.Digest() != "" {
		what = rf.Digest().String()
	}
	announced := false
	announce := func() {
		if !announced {
			announced = true
			stream.send(types.JSONMessage{Status: "Pulling from " + rf.Repository(), ID: what})
		}
	}
	var order []string
	last := map[string]string{}
	opts = append(opts, pull.WithProgress(func(p pull.Progress) {
		announce()
		if _, ok := last[p.ID]; !ok {
			order = append(order, p.ID)
		}
		last[p.ID] = p.Status
		m := types.JSONMessage{Status: p.Status, ID: p.ID}
		if p.Status == pull.StatusDownloading {
			m.ProgressDetail = &types.ProgressDetail{Current: p.Current, Total: p.Total}
		}
		stream.send(m)
	}))
	img, err := s.images.Pull(ctx, rf.String(), opts...)
	if err != nil {
		if !stream.started() {
			return err
		}
		s.log.WarnContext(ctx, "pull failed", "image_ref", rf.String(), "err", err)
		stream.send(errorMessage(err))
		return nil
	}
	announce()
	for _, id := range order {
		if last[id] == pull.StatusDownloadComplete {
			stream.send(types.JSONMessage{Status: "Pull complete", ID: id})
		}
	}
	stream.send(types.JSONMessage{Status: "Digest: " + img.Target.Digest.String()})
	if oldID == img.ID {
		stream.send(types.JSONMessage{Status: "Status: Image is up to date for " + rf.Familiar()})
	} else {
		stream.send(types.JSONMessage{Status: "Status: Downloaded newer image for " + rf.Familiar()})
	}
	return nil
}

// importImage is POST /images/create?fromSrc=-: a root file system
// tarball in the body becomes an image.
func (s *server) importImage(ctx context.Context, w http.ResponseWriter, r *http.Request, src string) error {
	q := r.URL.Query()
	if src != "-" {
		return notImplementedf("importing from a URL is not supported yet")
	}
	var opts transfer.ImportOpts
	if err := parseChanges(q["changes"], &opts.Changes); err != nil {
		return err
	}
	opts.Message = q.Get("message")
	name := q.Get("repo")
	if name != "" && q.Get("tag") != "" {
		name += ":" + q.Get("tag")
	}
	img, err := s.images.Import(ctx, r.Body, name, opts)
	if err != nil {
		return err
	}
	stream := newJSONStream(w)
	stream.send(types.JSONMessage{Status: img.ID.String()})
	return nil
}

// authOpts turns X-Registry-Auth into credentials for the registry. The
// daemon never reads its own credential files: no header means anonymous,
// as with dockerd.
func authOpts(r *http.Request) ([]pull.Opt, error) {
	anon := []pull.Opt{pull.WithKeychain(anonymous{})}
	h := r.Header.Get("X-Registry-Auth")
	if h == "" {
		return anon, nil
	}
	raw, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(h); err != nil {
			if raw, err = base64.StdEncoding.DecodeString(h); err != nil {
				return nil, invalidf("invalid X-Registry-Auth header: %v", err)
			}
		}
	}
	var ac types.AuthConfig
	if err := json.Unmarshal(raw, &ac); err != nil {
		return nil, invalidf("invalid X-Registry-Auth header: %v", err)
	}
	user, pass := ac.Username, ac.Password
	if ac.Auth != "" && user == "" {
		dec, err := base64.StdEncoding.DecodeString(ac.Auth)
		if err != nil {
			return nil, invalidf("invalid X-Registry-Auth header: auth: %v", err)
		}
		user, pass, _ = strings.Cut(string(dec), ":")
	}
	switch {
	case ac.IdentityToken != "":
		return []pull.Opt{pull.WithAuth("<token>", ac.IdentityToken)}, nil
	case user != "" || pass != "":
		return []pull.Opt{pull.WithAuth(user, pass)}, nil
	}
	return anon, nil
}

// anonymous is the keychain of a request without credentials.
type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

// GET /images/{name}/json
func (s *server) inspectImage(ctx context.Context, w http.ResponseWriter, _ *http.Request, v apiVersion, name string) error {
	img, err := s.images.Get(ctx, name)
	if err != nil {
		return err
	}
	size, err := s.sizeOf(ctx, img.ID)
	if err != nil {
		return err
	}
	tags, digests := repoNames(img)
	cfg := img.Config.Config
	out := types.ImageInspect{
		ID:           img.ID.String(),
		RepoTags:     tags,
		RepoDigests:  digests,
		Config:       &dockerspec.DockerOCIImageConfig{ImageConfig: cfg, DockerOCIImageConfigExt: img.Docker},
		Architecture: img.Config.Architecture,
		Variant:      img.Config.Variant,
		Os:           img.Config.OS,
		OsVersion:    img.Config.OSVersion,
		Author:       img.Config.Author,
		Size:         size,
		GraphDriver:  types.GraphDriver{Name: s.images.Snapshotter()},
		RootFS:       types.RootFS{Type: img.Config.RootFS.Type},
	}
	if img.Config.Created != nil {
		out.Created = img.Config.Created.Format(time.RFC3339Nano)
	}
	for _, d := range img.Config.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	if v.less(apiVersion{1, 44}) {
		out.VirtualSize = &size
	}
	if !v.less(apiVersion{1, 48}) {
		desc := img.Target
		out.Descriptor = &desc
	}
	return writeJSON(w, http.StatusOK, out)
}

// sizeOf is the image's size as `images` lists it.
func (s *server) sizeOf(ctx context.Context, id digest.Digest) (int64, error) {
	rows, err := s.images.List(ctx)
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if r.ID == id {
			return r.Size, nil
		}
	}
	return 0, nil
}

// GET /images/{name}/history, newest first. Sizes are the compressed
// sizes of the layers.
func (s *server) imageHistory(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, name string) error {
	img, err := s.images.Get(ctx, name)
	if err != nil {
		return err
	}
	tags, _ := repoNames(img)
	var created int64
	if img.Config.Created != nil {
		created = img.Config.Created.Unix()
	}
	var out []types.HistoryItem
	layer := 0
	hist := img.Config.History
	if len(hist) == 0 {
		// No history recorded: one entry per layer.
		for range img.Manifest.Layers {
			out = append(out, types.HistoryItem{Created: created})
		}
		for i, l := range img.Manifest.Layers {
			out[i].Size = l.Size
		}
	}
	for _, h := range hist {
		item := types.HistoryItem{CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer && layer < len(img.Manifest.Layers) {
			item.Size = img.Manifest.Layers[layer].Size
			layer++
		}
		out = append(out, item)
	}
	slices.Reverse(out)
	for i := range out {
		out[i].ID = "<missing>"
		out[i].Tags = nil
	}
	if len(out) == 0 {
		out = append(out, types.HistoryItem{Created: created})
	}
	out[0].ID = img.ID.String()
	out[0].Tags = tags
	return writeJSON(w, http.StatusOK, out)
}

// POST /images/{name}/tag?repo=&tag=
func (s *server) tagImage(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, name string) error {
	q := r.URL.Query()
	target := q.Get("repo")
	if target == "" {
		return invalidf("repository name must have at least one component")
	}
	if tag := q.Get("tag"); tag != "" {
		target += ":" + tag
	}
	if err := s.images.Tag(ctx, name, target); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// DELETE /images/{name}?force=
func (s *server) removeImage(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, name string) error {
	force := boolParam(r, "force")
	if err := s.imageInUse(ctx, name, force); err != nil {
		return err
	}
	del, err := s.images.Remove(ctx, name, force)
	if err != nil && len(del) == 0 {
		return err
	}
	if err != nil {
		// The image is gone; only collecting its unused layers failed.
		s.log.WarnContext(ctx, "image removed, collecting layers failed", "image_ref", name, "err", err)
	}
	return writeJSON(w, http.StatusOK, deleteResponses(del))
}

// imageInUse refuses, as dockerd does, to remove the last reference to
// an image a container was made from (unless forced), and to force the
// removal of one a running container uses.
func (s *server) imageInUse(ctx context.Context, name string, force bool) error {
	users, ok := s.containers.(interface{ UsesImage(id string) []string })
	if !ok {
		return nil
	}
	img, err := s.images.Get(ctx, name)
	if err != nil {
		return nil // Remove reports it
	}
	ids := users.UsesImage(img.ID.String())
	if len(ids) == 0 {
		return nil
	}
	short := strings.TrimPrefix(img.ID.String(), "sha256:")[:12]
	if force {
		for _, id := range ids {
			if c, err := s.containers.Inspect(ctx, id); err == nil && c.State != nil && c.State.Running {
				return &classError{msg: fmt.Sprintf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", short, id[:12]), class: errdefs.ErrConflict}
			}
		}
		return nil
	}
	tags, _ := repoNames(img)
	isID := strings.HasPrefix(img.ID.String(), name) || strings.HasPrefix(img.ID.Encoded(), name)
	if isID || len(tags) <= 1 {
		if isID {
			return &classError{msg: fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", short, ids[0][:12]), class: errdefs.ErrConflict}
		}
		return &classError{msg: fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", name, ids[0][:12], short), class: errdefs.ErrConflict}
	}
	return nil
}

func deleteResponses(del []image.Deleted) []types.DeleteResponse {
	out := []types.DeleteResponse{}
	for _, d := range del {
		if d.Untagged != "" {
			out = append(out, types.DeleteResponse{Untagged: d.Untagged})
		} else {
			out = append(out, types.DeleteResponse{Deleted: d.Deleted.String()})
		}
	}
	return out
}

// POST /images/prune?filters=: dangling images, or with dangling=false,
// every image. SpaceReclaimed adds up the sizes of the images deleted.
func (s *server) pruneImages(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	all := false
	for key, vals := range f {
		switch key {
		case "dangling":
			d, err := boolFilter(key, vals)
			if err != nil {
				return err
			}
			all = !d
		case "until", "label", "label!":
			return notImplementedf("filter '%s' is not supported yet", key)
		default:
			return invalidf("invalid filter '%s'", key)
		}
	}
	rows, err := s.images.List(ctx)
	if err != nil {
		return err
	}
	sizes := map[digest.Digest]int64{}
	for _, r := range rows {
		sizes[r.ID] = r.Size
	}
	del, err := s.images.Prune(ctx, all)
	if err != nil && len(del) == 0 {
		return err
	}
	if err != nil {
		s.log.WarnContext(ctx, "prune stopped early", "err", err)
	}
	rep := types.PruneReport{ImagesDeleted: deleteResponses(del)}
	for _, d := range del {
		if d.Deleted != "" {
			rep.SpaceReclaimed += uint64(max(sizes[d.Deleted], 0))
		}
	}
	return writeJSON(w, http.StatusOK, rep)
}

// GET /images/get?names=…
func (s *server) saveImages(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	names := r.URL.Query()["names"]
	if len(names) == 0 {
		return invalidf("no images given: names is required")
	}
	return s.save(ctx, w, names)
}

// GET /images/{name}/get
func (s *server) saveImage(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, name string) error {
	return s.save(ctx, w, []string{name})
}

func (s *server) save(ctx context.Context, w http.ResponseWriter, names []string) error {
	lw := &lazyWriter{w: w, contentType: "application/x-tar"}
	err := s.images.Save(ctx, names, lw, transfer.DockerArchive)
	if err != nil && lw.started {
		// The tar is half sent: break the connection so the client sees
		// an error rather than a short archive.
		s.log.WarnContext(ctx, "save failed mid-stream", "err", err)
		panic(http.ErrAbortHandler)
	}
	if err == nil && !lw.started {
		lw.start()
	}
	return err
}

// POST /images/load?quiet=
func (s *server) loadImages(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	imgs, err := s.images.Load(ctx, r.Body)
	if err != nil {
		return err
	}
	stream := newJSONStream(w)
	for _, img := range imgs {
		tags, _ := repoNames(img)
		if len(tags) == 0 {
			stream.send(types.JSONMessage{Stream: "Loaded image ID: " + img.ID.String() + "\n"})
		}
		for _, t := range tags {
			stream.send(types.JSONMessage{Stream: "Loaded image: " + t + "\n"})
		}
	}
	if !stream.started() {
		stream.start()
	}
	return nil
}

// POST /images/{name}/push?tag=
func (s *server) pushImage(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, name string) error {
	rf, err := ref.Parse(withTag(name, r.URL.Query().Get("tag")))
	if err != nil {
		return err
	}
	opts, err := authOpts(r)
	if err != nil {
		return err
	}
	if _, err := s.images.Get(ctx, rf.String()); err != nil {
		return err
	}
	stream := newJSONStream(w)
	stream.send(types.JSONMessage{Status: "The push refers to repository [" + rf.Name() + "]"})
	img, err := s.images.Push(ctx, rf.String(), opts...)
	if err != nil {
		s.log.WarnContext(ctx, "push failed", "image_ref", rf.String(), "err", err)
		stream.send(errorMessage(err))
		return nil
	}
	tag := rf.Tag()
	stream.send(types.JSONMessage{Status: fmt.Sprintf("%s: digest: %s size: %d", tag, img.Target.Digest, img.Target.Size)})
	stream.send(types.JSONMessage{Aux: types.PushResult{Tag: tag, Digest: img.Target.Digest.String(), Size: img.Target.Size}})
	return nil
}

func boolParam(r *http.Request, key string) bool {
	switch strings.ToLower(r.URL.Query().Get(key)) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// jsonStream writes a progress stream: application/json, one message a
// line, flushed as it goes. The 200 goes out with the first message, so a
// handler can still answer with an error status until then. It is safe
// for concurrent use.
type jsonStream struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *json.Encoder
	on  bool
	err error
}

func newJSONStream(w http.ResponseWriter) *jsonStream {
	return &jsonStream{w: w, rc: http.NewResponseController(w), enc: json.NewEncoder(w)}
}

func (s *jsonStream) started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.on
}

func (s *jsonStream) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startLocked()
}

func (s *jsonStream) startLocked() {
	if !s.on {
		s.on = true
		s.w.Header().Set("Content-Type", "application/json")
		s.w.WriteHeader(http.StatusOK)
	}
}

// send writes m; once a write fails (the client went away) it writes
// nothing more.
func (s *jsonStream) send(m types.JSONMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startLocked()
	if s.err != nil {
		return
	}
	if s.err = s.enc.Encode(m); s.err == nil {
		if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			s.err = err
		}
	}
}

// lazyWriter sends the 200 and its content type with the first byte.
type lazyWriter struct {
	w           http.ResponseWriter
	contentType string
	started     bool
}

func (l *lazyWriter) start() {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", l.contentType)
		l.w.WriteHeader(http.StatusOK)
	}
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	l.start()
	return l.w.Write(p)
}

// withTag joins the tag query parameter of pull and push to the image
// name: a digest with "@", anything else with ":".
func withTag(name, tag string) string {
	if tag == "" {
		return name
	}
	if _, err := digest.Parse(tag); err == nil {
		return name + "@" + tag
	}
	return name + ":" + tag
}
