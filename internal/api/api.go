package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/image/pull"
	"github.com/shoal-dev/shoal/internal/image/transfer"
)

// The Docker Engine API versions served. A request may ask for any version
// in [MinAPIVersion, MaxAPIVersion]; without a version prefix it gets
// MaxAPIVersion.
const (
	MaxAPIVersion = "1.50"
	MinAPIVersion = "1.24"
)

// Config is what the API reports about the daemon.
type Config struct {
	// Version is the daemon's version (Docker's "ServerVersion").
	Version   string
	GitCommit string
	BuildTime string
	// ID identifies this daemon's data root across restarts.
	ID string
	// DataRoot is the daemon's data root (Docker's "DockerRootDir").
	DataRoot string
}

// ImageBackend is what the image handlers call. image.Service implements
// it.
type ImageBackend interface {
	Pull(ctx context.Context, name string, opts ...pull.Opt) (image.Image, error)
	Push(ctx context.Context, name string, opts ...pull.Opt) (image.Image, error)
	Get(ctx context.Context, nameOrID string) (image.Image, error)
	List(ctx context.Context) ([]image.Summary, error)
	Tag(ctx context.Context, src, target string) error
	Remove(ctx context.Context, nameOrID string, force bool) ([]image.Deleted, error)
	Prune(ctx context.Context, all bool) ([]image.Deleted, error)
	Save(ctx context.Context, names []string, w io.Writer, format transfer.Format) error
	Load(ctx context.Context, r io.Reader) ([]image.Image, error)
	Import(ctx context.Context, r io.Reader, name string, opts transfer.ImportOpts) (image.Image, error)
	// Snapshotter names the storage driver ("overlay", "native").
	Snapshotter() string
}

// server holds the handlers' dependencies.
type server struct {
	cfg        Config
	images     ImageBackend
	containers ContainerBackend
	volumes    VolumeBackend
	networks   NetworkBackend
	builder    BuildBackend
	log        *slog.Logger
}

// Option adds a backend to the API.
type Option func(*server)

// WithContainers serves the container and exec endpoints from b.
func WithContainers(b ContainerBackend) Option { return func(s *server) { s.containers = b } }

// WithVolumes serves the volume endpoints from b.
func WithVolumes(b VolumeBackend) Option { return func(s *server) { s.volumes = b } }

// handlerFunc is a route's handler: it writes a success answer itself
// and returns an error for writeError to map, unless it has already
// started its answer.
type handlerFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, v apiVersion) error

// New returns the Docker Engine API handler. A nil log discards.
func New(cfg Config, images ImageBackend, log *slog.Logger, opts ...Option) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	s := &server{cfg: cfg, images: images, log: log}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	ctx := r.Context()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(ctx, "handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeJSONError(sw, http.StatusInternalServerError, "internal server error")
			}
		}
		s.log.DebugContext(ctx, "api request", "method", r.Method, "path", r.URL.Path, "status", sw.code(), "duration", time.Since(start))
	}()

	h := sw.Header()
	h.Set("Server", "Docker/"+s.cfg.Version+" (linux)")
	h.Set("API-Version", MaxAPIVersion)
	h.Set("OSType", "linux")

	path, v, err := splitVersion(r.URL.Path)
	if err != nil {
		s.writeError(ctx, sw, r, err)
		return
	}
	handler := s.route(r.Method, path, r)
	if handler == nil {
		writeJSONError(sw, http.StatusNotFound, "page not found")
		return
	}
	if err := handler(ctx, sw, r, v); err != nil {
		if sw.status != 0 {
			// The answer has begun: the status is sent, so all that is
			// left is to log.
			s.log.WarnContext(ctx, "api request failed after answer began", "method", r.Method, "path", r.URL.Path, "err", err)
			return
		}
		s.writeError(ctx, sw, r, err)
	}
}

// route picks the handler for method and path (without the version
// prefix), or nil. Image names may contain slashes, so the routes under
// /images/ are fixed names first and then matched by suffix.
func (s *server) route(method, path string, r *http.Request) handlerFunc {
	switch path {
	case "/_ping":
		if method == http.MethodGet || method == http.MethodHead {
			return s.ping
		}
		return nil
	case "/version":
		return only(method, http.MethodGet, s.version)
	case "/info":
		return only(method, http.MethodGet, s.info)
	case "/images/json":
		return only(method, http.MethodGet, s.listImages)
	case "/images/create":
		return only(method, http.MethodPost, s.createImage)
	case "/images/get":
		return only(method, http.MethodGet, s.saveImages)
	case "/images/load":
		return only(method, http.MethodPost, s.loadImages)
	case "/images/prune":
		return only(method, http.MethodPost, s.pruneImages)
	case "/build":
		return only(method, http.MethodPost, s.postBuild)
	}
	if h := s.containerRoute(method, path); h != nil {
		return h
	}
	if h := s.networkRoute(method, path); h != nil {
		return h
	}
	if h := s.otherRoute(method, path); h != nil {
		return h
	}
	rest, ok := strings.CutPrefix(path, "/images/")
	if !ok || rest == "" {
		return nil
	}
	if method == http.MethodDelete {
		return withName(rest, s.removeImage)
	}
	suffixes := []struct {
		method, suffix string
		h              namedHandler
	}{
		{http.MethodGet, "/json", s.inspectImage},
		{http.MethodGet, "/history", s.imageHistory},
		{http.MethodGet, "/get", s.saveImage},
		{http.MethodPost, "/tag", s.tagImage},
		{http.MethodPost, "/push", s.pushImage},
	}
	for _, sf := range suffixes {
		if name, ok := strings.CutSuffix(rest, sf.suffix); ok && name != "" && method == sf.method {
			return withName(name, sf.h)
		}
	}
	return nil
}

// namedHandler is a handler of /images/{name}/...
type namedHandler func(ctx context.Context, w http.ResponseWriter, r *http.Request, v apiVersion, name string) error

func withName(name string, h namedHandler) handlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, v apiVersion) error {
		return h(ctx, w, r, v, name)
	}
}

func only(method, want string, h handlerFunc) handlerFunc {
	if method != want {
		return nil
	}
	return h
}

// apiVersion is a Docker API version, "1.xx", as numbers.
type apiVersion struct{ major, minor int }

var (
	maxVersion = mustVersion(MaxAPIVersion)
	minVersion = mustVersion(MinAPIVersion)
)

func mustVersion(s string) apiVersion {
	v, ok := parseVersion(s)
	if !ok {
		panic("bad API version constant " + s)
	}
	return v
}

func parseVersion(s string) (apiVersion, bool) {
	maj, min, ok := strings.Cut(s, ".")
	if !ok {
		return apiVersion{}, false
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return apiVersion{}, false
	}
	return apiVersion{a, b}, true
}

func (v apiVersion) less(o apiVersion) bool {
	return v.major < o.major || (v.major == o.major && v.minor < o.minor)
}

func (v apiVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// splitVersion takes the /v1.xx prefix off path and checks it is a
// version served, as dockerd's version middleware does.
func splitVersion(path string) (string, apiVersion, error) {
	rest, ok := strings.CutPrefix(path, "/v")
	if !ok {
		return path, maxVersion, nil
	}
	vs, tail, _ := strings.Cut(rest, "/")
	if vs == "" || strings.Trim(vs, "0123456789.") != "" {
		return path, maxVersion, nil // not a version prefix: let routing 404 it
	}
	v, ok := parseVersion(vs)
	if !ok {
		return "", apiVersion{}, invalidf("invalid API version %q", vs)
	}
	if v.less(minVersion) {
		return "", apiVersion{}, invalidf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", vs, MinAPIVersion)
	}
	if maxVersion.less(v) {
		return "", apiVersion{}, invalidf("client version %s is too new. Maximum supported API version is %s", vs, MaxAPIVersion)
	}
	return "/" + tail, v, nil
}

// statusWriter remembers the status sent, so that an error after the
// answer began is not written over it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach Flush.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
