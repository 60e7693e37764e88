package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/shoal-dev/shoal/internal/api/types"
	"github.com/shoal-dev/shoal/internal/build"
)

// BuildBackend runs Dockerfile builds. build.Builder implements it.
type BuildBackend interface {
	Build(ctx context.Context, contextTar io.Reader, o build.Options, r build.Reporter) (string, error)
}

// WithBuilder serves POST /build from b.
func WithBuilder(b BuildBackend) Option { return func(s *server) { s.builder = b } }

// postBuild is POST /build, Docker's classic builder: the body is the
// build context (a tar), the answer a stream of {"stream": ...} lines
// ("Step 1/3 : FROM busybox"), {"aux": {"ID": ...}} for each stage's
// image, and an error line if the build fails after it began.
func (s *server) postBuild(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	if s.builder == nil {
		return notImplementedf("this daemon does not build images")
	}
	q := r.URL.Query()
	switch q.Get("version") {
	case "", "1":
	case "2":
		return notImplementedf("BuildKit is not supported by this daemon; build with the classic builder (DOCKER_BUILDKIT=0)")
	default:
		return invalidf("invalid version %q", q.Get("version"))
	}
	if rc := q.Get("remote"); rc != "" {
		return notImplementedf("remote build contexts (%s) are not supported: this daemon has no internet access; send the context in the request", rc)
	}
	if boolParam(r, "squash") {
		return invalidf("squash is only supported with experimental mode")
	}
	o := build.Options{
		Dockerfile:  q.Get("dockerfile"),
		Tags:        q["t"],
		Target:      q.Get("target"),
		NoCache:     boolParam(r, "nocache"),
		ForceRemove: boolParam(r, "forcerm"),
		NetworkMode: q.Get("networkmode"),
		Platform:    q.Get("platform"),
		Pull:        boolParam(r, "pull"),
	}
	switch {
	case o.ForceRemove, q.Get("rm") == "":
		o.Remove = true
	default:
		o.Remove = boolParam(r, "rm")
	}
	if o.NetworkMode == "default" {
		o.NetworkMode = ""
	}
	if v := q.Get("buildargs"); v != "" {
		if err := json.Unmarshal([]byte(v), &o.BuildArgs); err != nil {
			return invalidf("error reading build args: %v", err)
		}
	}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &o.Labels); err != nil {
			return invalidf("error reading labels: %v", err)
		}
	}
	rep := &buildReporter{stream: newJSONStream(w), quiet: boolParam(r, "q")}
	id, err := s.builder.Build(ctx, r.Body, o, rep)
	if err != nil {
		rep.flush()
		if !rep.stream.started() {
			return err
		}
		s.log.DebugContext(ctx, "build failed", "err", err)
		m := errorMessage(err)
		m.Error = userMessage(err)
		m.ErrorDetail.Message = m.Error
		var be *build.Error
		if errors.As(err, &be) {
			m.ErrorDetail.Code = be.Code
		}
		rep.stream.send(m)
		return nil
	}
	if rep.quiet {
		rep.stream.send(types.JSONMessage{Stream: id + "\n"})
	}
	return nil
}

// buildReporter turns a build's output into stream messages; quiet holds
// them back (they are sent only if the build fails, as dockerd does).
type buildReporter struct {
	stream *jsonStream
	quiet  bool
	mu     sync.Mutex
	held   []types.JSONMessage
}

func (b *buildReporter) send(m types.JSONMessage) {
	if b.quiet {
		b.mu.Lock()
		b.held = append(b.held, m)
		b.mu.Unlock()
		return
	}
	b.stream.send(m)
}

// flush sends what quiet held back.
func (b *buildReporter) flush() {
	b.mu.Lock()
	held := b.held
	b.held = nil
	b.mu.Unlock()
	for _, m := range held {
		b.stream.send(m)
	}
}

func (b *buildReporter) Stdout(s string) { b.send(types.JSONMessage{Stream: s}) }

// Stderr is red on a terminal, as dockerd's stderr formatter writes it.
func (b *buildReporter) Stderr(s string) {
	b.send(types.JSONMessage{Stream: "\x1b[91m" + s + "\x1b[0m"})
}

func (b *buildReporter) ImageID(id string) {
	b.send(types.JSONMessage{Aux: map[string]string{"ID": id}})
}
