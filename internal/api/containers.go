package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/shoal-dev/shoal/internal/detach"
	"github.com/shoal-dev/shoal/internal/engine"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/events"
	"github.com/shoal-dev/shoal/internal/filters"
	"github.com/shoal-dev/shoal/internal/logfile"
	"github.com/shoal-dev/shoal/internal/monitor"
)

// ContainerBackend is what the container handlers call. engine.Engine
// implements it.
type ContainerBackend interface {
	Create(ctx context.Context, name string, req engine.CreateRequest) (string, []string, error)
	Start(ctx context.Context, ref string) error
	Stop(ctx context.Context, ref, signal string, timeout *int) error
	Restart(ctx context.Context, ref, signal string, timeout *int) error
	Kill(ctx context.Context, ref, signal string) error
	Wait(ctx context.Context, ref, condition string) (<-chan engine.WaitResult, error)
	Remove(ctx context.Context, ref string, o engine.RemoveOptions) error
	Inspect(ctx context.Context, ref string) (container.InspectResponse, error)
	List(ctx context.Context, o engine.ListOptions) ([]container.Summary, error)
	Logs(ctx context.Context, ref string, o engine.LogsOptions, out func(logfile.Message) error) error
	Tty(ref string) (bool, error)
	Attach(ctx context.Context, ref string, o engine.AttachOptions, ready func()) (*engine.Attachment, error)
	Resize(ctx context.Context, ref string, width, height uint16) error
	Pause(ctx context.Context, ref string) error
	Unpause(ctx context.Context, ref string) error
	Rename(ctx context.Context, ref, newName string) error
	ExecCreate(ctx context.Context, ref string, o container.ExecCreateRequest) (string, error)
	ExecStart(ctx context.Context, execID string, detach bool) (*monitor.Stream, bool, error)
	ExecFinished(execID string, code int)
	ExecInspect(ctx context.Context, execID string) (container.ExecInspectResponse, error)
	ExecResize(ctx context.Context, execID string, width, height uint16) error
	Events() *events.Bus
}

// maxBody bounds a JSON request body.
const maxBody = 4 << 20

// legacyFields are fields real clients still send that the current API
// no longer has (docker CLI 28 sends Detach on exec create; older
// clients MacAddress and the kernel memory limits; docker-compose 1.29
// CheckDuplicate on network create and Container on exec create): they
// are dropped,
// as dockerd ignores them. Any other unknown field is an error.
var legacyFields = map[string]bool{"Detach": true, "MacAddress": true, "KernelMemory": true, "KernelMemoryTCP": true, "CheckDuplicate": true, "Container": true}

// decodeBody reads a JSON body strictly enough to report Docker's errors
// for malformed input, rejects unknown fields and bounds the size.
func decodeBody(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return invalidf("invalid JSON: empty request body")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return invalidf("read request body: %v", err)
	}
	if len(data) > maxBody {
		return invalidf("request body too large: more than %d bytes", maxBody)
	}
	err = decodeStrict(data, v)
	if err != nil && strings.HasPrefix(err.Error(), "json: unknown field ") {
		var generic any
		if json.Unmarshal(data, &generic) == nil && dropLegacy(generic) {
			if cleaned, merr := json.Marshal(generic); merr == nil {
				err = decodeStrict(cleaned, v)
			}
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return invalidf("invalid JSON: empty request body")
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return invalidf("invalid JSON: json: cannot unmarshal %s into Go struct field %s of type %s", ute.Value, ute.Field, ute.Type)
		}
		return invalidf("invalid JSON: %v", err)
	}
	return nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// dropLegacy removes legacyFields from the body's top-level object and
// its HostConfig (where the kernel memory limits were) and reports
// whether it removed any. Deeper objects keep their fields: a
// network endpoint's MacAddress is current API, not legacy.
func dropLegacy(v any) bool {
	top, ok := v.(map[string]any)
	if !ok {
		return false
	}
	dropped := false
	for _, obj := range []map[string]any{top, asObject(top["HostConfig"])} {
		for k := range obj {
			if legacyFields[k] {
				delete(obj, k)
				dropped = true
			}
		}
	}
	return dropped
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// containerRoute routes /containers/... and /exec/... paths.
func (s *server) containerRoute(method, path string) handlerFunc {
	if s.containers == nil {
		return nil
	}
	switch path {
	case "/containers/create":
		return only(method, http.MethodPost, s.createContainer)
	case "/containers/json":
		return only(method, http.MethodGet, s.listContainers)
	}
	if rest, ok := strings.CutPrefix(path, "/exec/"); ok {
		id, op, _ := strings.Cut(rest, "/")
		if id == "" {
			return nil
		}
		switch {
		case op == "start" && method == http.MethodPost:
			return withName(id, s.execStart)
		case op == "resize" && method == http.MethodPost:
			return withName(id, s.execResize)
		case op == "json" && method == http.MethodGet:
			return withName(id, s.execInspect)
		}
		return nil
	}
	rest, ok := strings.CutPrefix(path, "/containers/")
	if !ok {
		return nil
	}
	id, op, _ := strings.Cut(rest, "/")
	if id == "" {
		return nil
	}
	if op == "" {
		return only(method, http.MethodDelete, withName(id, s.removeContainer))
	}
	type route struct {
		method string
		h      namedHandler
	}
	routes := map[string]route{
		"json":    {http.MethodGet, s.inspectContainer},
		"start":   {http.MethodPost, s.startContainer},
		"stop":    {http.MethodPost, s.stopContainer},
		"restart": {http.MethodPost, s.restartContainer},
		"kill":    {http.MethodPost, s.killContainer},
		"wait":    {http.MethodPost, s.waitContainer},
		"logs":    {http.MethodGet, s.containerLogs},
		"attach":  {http.MethodPost, s.attachContainer},
		"resize":  {http.MethodPost, s.resizeContainer},
		"pause":   {http.MethodPost, s.pauseContainer},
		"unpause": {http.MethodPost, s.unpauseContainer},
		"rename":  {http.MethodPost, s.renameContainer},
		"exec":    {http.MethodPost, s.execCreate},
	}
	if rt, ok := routes[op]; ok && rt.method == method {
		return withName(id, rt.h)
	}
	if h := s.containerExtraRoute(method, op); h != nil {
		return withName(id, h)
	}
	return nil
}

func (s *server) createContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, v apiVersion) error {
	var req engine.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if p := r.URL.Query().Get("platform"); p != "" {
		if err := s.checkPlatform(ctx, req.Config, p); err != nil {
			return err
		}
	}
	id, warnings, err := s.containers.Create(ctx, r.URL.Query().Get("name"), req)
	if err != nil {
		return err
	}
	if warnings == nil {
		warnings = []string{}
	}
	return writeJSON(w, http.StatusCreated, container.CreateResponse{ID: id, Warnings: warnings})
}

func (s *server) listContainers(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	q := r.URL.Query()
	f, err := filters.FromJSON(q.Get("filters"))
	if err != nil {
		return err
	}
	o := engine.ListOptions{All: boolParam(r, "all"), Size: boolParam(r, "size"), Filters: f}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			return invalidf("invalid limit %q", l)
		}
		o.Limit = n
	}
	list, err := s.containers.List(ctx, o)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list)
}

func (s *server) inspectContainer(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, id string) error {
	c, err := s.containers.Inspect(ctx, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *server) startContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	if r.ContentLength > 0 {
		// API < 1.24 sent a HostConfig here; dockerd rejects it since.
		var hc map[string]any
		if err := decodeBody(r, &hc); err != nil {
			return err
		}
		if len(hc) > 0 {
			return invalidf("starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24")
		}
	}
	if err := s.containers.Start(ctx, id); err != nil {
		if errors.Is(err, engine.ErrNotModified) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stopParams reads ?signal= and ?t= (seconds; -1 waits for ever).
func stopParams(r *http.Request) (string, *int, error) {
	q := r.URL.Query()
	var timeout *int
	if t := q.Get("t"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return "", nil, invalidf("invalid value for t: %q", t)
		}
		timeout = &n
	}
	sig := q.Get("signal")
	if sig != "" {
		if _, err := engine.ParseSignal(sig); err != nil {
			return "", nil, err
		}
	}
	return sig, timeout, nil
}

func (s *server) stopContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	sig, timeout, err := stopParams(r)
	if err != nil {
		return err
	}
	if err := s.containers.Stop(ctx, id, sig, timeout); err != nil {
		if errors.Is(err, engine.ErrNotModified) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) restartContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	sig, timeout, err := stopParams(r)
	if err != nil {
		return err
	}
	if err := s.containers.Restart(ctx, id, sig, timeout); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) killContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	if err := s.containers.Kill(ctx, id, r.URL.Query().Get("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) removeContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	if boolParam(r, "link") {
		return invalidf("Conflict, cannot remove the default link name of the container")
	}
	if err := s.containers.Remove(ctx, id, engine.RemoveOptions{Force: boolParam(r, "force"), RemoveVolumes: boolParam(r, "v")}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// waitContainer sends its status line at once (the CLI starts the
// container only then) and the result when the condition is met.
func (s *server) waitContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	ch, err := s.containers.Wait(ctx, id, r.URL.Query().Get("condition"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	res, ok := <-ch
	if !ok {
		return nil
	}
	resp := container.WaitResponse{StatusCode: int64(res.ExitCode)}
	if res.Error != "" {
		resp.Error = &container.WaitExitError{Message: res.Error}
	}
	return json.NewEncoder(w).Encode(resp)
}

func (s *server) containerLogs(ctx context.Context, w http.ResponseWriter, r *http.Request, v apiVersion, id string) error {
	q := r.URL.Query()
	o := engine.LogsOptions{Stdout: boolParam(r, "stdout"), Stderr: boolParam(r, "stderr"), Follow: boolParam(r, "follow"), Tail: -1}
	if !o.Stdout && !o.Stderr {
		return invalidf("Bad parameters: you must choose at least one stream")
	}
	if t := q.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			n = -1
		}
		o.Tail = n
	}
	var err error
	if o.Since, err = events.ParseTime(q.Get("since"), time.Now()); err != nil {
		return err
	}
	if o.Until, err = events.ParseTime(q.Get("until"), time.Now()); err != nil {
		return err
	}
	tty, err := s.containers.Tty(id)
	if err != nil {
		return err
	}
	timestamps := boolParam(r, "timestamps")
	rc := http.NewResponseController(w)
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		w.Header().Set("Content-Type", streamContentType(tty, v))
		w.WriteHeader(http.StatusOK)
	}
	err = s.containers.Logs(ctx, id, o, func(m logfile.Message) error {
		start()
		line := m.Line
		if timestamps {
			line = append([]byte(m.Time.UTC().Format(time.RFC3339Nano)+" "), line...)
		}
		var werr error
		if tty {
			_, werr = w.Write(line)
		} else {
			stream := monitor.StreamStdout
			if m.Stream == "stderr" {
				stream = monitor.StreamStderr
			}
			werr = monitor.WriteFrame(w, stream, line)
		}
		if werr != nil {
			return werr
		}
		if o.Follow {
			return rc.Flush()
		}
		return nil
	})
	if err != nil && !started {
		return err
	}
	start()
	return nil
}

func streamContentType(tty bool, v apiVersion) string {
	if tty || v.less(apiVersion{1, 42}) {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

func dimensions(r *http.Request) (uint16, uint16, error) {
	q := r.URL.Query()
	h, err1 := strconv.ParseUint(q.Get("h"), 10, 16)
	wd, err2 := strconv.ParseUint(q.Get("w"), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, invalidf("invalid resize: width and height must be numbers between 0 and 65535")
	}
	return uint16(wd), uint16(h), nil
}

func (s *server) resizeContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	wd, h, err := dimensions(r)
	if err != nil {
		return err
	}
	if err := s.containers.Resize(ctx, id, wd, h); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *server) pauseContainer(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, id string) error {
	if err := s.containers.Pause(ctx, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) unpauseContainer(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, id string) error {
	if err := s.containers.Unpause(ctx, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) renameContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	if err := s.containers.Rename(ctx, id, r.URL.Query().Get("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) execCreate(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	var o container.ExecCreateRequest
	if err := decodeBody(r, &o); err != nil {
		return err
	}
	execID, err := s.containers.ExecCreate(ctx, id, o)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: execID})
}

func (s *server) execInspect(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, id string) error {
	x, err := s.containers.ExecInspect(ctx, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *server) execResize(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	wd, h, err := dimensions(r)
	if err != nil {
		return err
	}
	if err := s.containers.ExecResize(ctx, id, wd, h); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *server) execStart(ctx context.Context, w http.ResponseWriter, r *http.Request, v apiVersion, id string) error {
	var o container.ExecStartRequest
	if r.ContentLength != 0 {
		if err := decodeBody(r, &o); err != nil {
			return err
		}
	}
	if o.Detach {
		if _, _, err := s.containers.ExecStart(ctx, id, true); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	x, err := s.containers.ExecInspect(ctx, id)
	if err != nil {
		return err
	}
	tty := x.ProcessConfig != nil && x.ProcessConfig.Tty
	// As dockerd: the stream is taken over first, so a process that cannot
	// start is reported in it (and by the exec's exit code, 126).
	conn, err := hijack(w, r, streamContentType(tty, v))
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, _, err := s.containers.ExecStart(context.WithoutCancel(ctx), id, false)
	if err != nil {
		msg := []byte(userMessage(err) + "\r\n")
		if tty {
			_, _ = conn.Write(msg)
		} else {
			_ = monitor.WriteFrame(conn, monitor.StreamStdout, msg)
		}
		return nil
	}
	defer stream.Close()
	if o.ConsoleSize != nil && tty {
		_ = s.containers.ExecResize(ctx, id, uint16(o.ConsoleSize[1]), uint16(o.ConsoleSize[0]))
	}
	keys, err := detach.ParseKeys(r.URL.Query().Get("detachKeys"))
	if err != nil {
		keys = detach.Default
	}
	code, _ := pipeStreams(conn, stream, tty, true, keys)
	if code != nil {
		s.containers.ExecFinished(id, *code)
	}
	return nil
}

func (s *server) attachContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, v apiVersion, id string) error {
	o := engine.AttachOptions{Stdin: boolParam(r, "stdin"), Stdout: boolParam(r, "stdout"), Stderr: boolParam(r, "stderr")}
	keys, err := parseDetachKeys(r.URL.Query().Get("detachKeys"))
	if err != nil {
		return err
	}
	if !boolParam(r, "stream") && !boolParam(r, "logs") {
		return invalidf("Bad parameters: you must choose at least one stream")
	}
	tty, err := s.containers.Tty(id)
	if err != nil {
		return err
	}
	// The CLI starts the container once the upgrade is answered: the
	// attach must be registered before that.
	var conn *hijackedConn
	var herr error
	att, err := s.containers.Attach(context.WithoutCancel(ctx), id, o, func() {
		conn, herr = hijack(w, r, streamContentType(tty, v))
	})
	if herr != nil {
		if att != nil {
			att.Close()
		}
		return herr
	}
	if err != nil {
		if conn != nil {
			conn.Close()
			return nil
		}
		return err
	}
	defer att.Close()
	defer conn.Close()
	_, _ = pipeStreams(conn, att.Stream, tty, o.Stdin, keys)
	return nil
}

// pipeStreams copies the monitor's frames to the client (raw for a
// terminal, framed otherwise) and the client's input to the monitor. It
// returns the exit code carried by a StreamExit frame, if any.
func pipeStreams(conn *hijackedConn, s *monitor.Stream, tty, stdin bool, detachKeys []byte) (*int, error) {
	if stdin {
		go func() {
			_, err := io.Copy(s, detach.NewReader(conn.reader(), detachKeys))
			if errors.Is(err, detach.ErrDetached) {
				// Detaching leaves the container and its stdin alone: only
				// this client's streams end.
				_ = s.Close()
				_ = conn.Close()
				return
			}
			_ = s.CloseWrite()
		}()
	}
	buf := make([]byte, 32*1024)
	for {
		stream, p, err := s.ReadFrame(buf)
		if err != nil {
			return nil, nil
		}
		if cap(p) > cap(buf) {
			buf = p
		}
		if stream == monitor.StreamExit {
			st, err := monitor.DecodeExit(p)
			if err != nil {
				return nil, fmt.Errorf("exec exit status: %w", err)
			}
			return &st.Code, nil
		}
		if tty {
			_, err = conn.Write(p)
		} else {
			err = monitor.WriteFrame(conn, stream, p)
		}
		if err != nil {
			return nil, err
		}
	}
}

var _ = errdefs.ErrNotFound

// checkPlatform refuses, as dockerd does, an image whose platform is not
// the one asked for (--platform): a 404, so the CLI pulls the right one.
func (s *server) checkPlatform(ctx context.Context, cfg *container.Config, platform string) error {
	osName, arch, _ := strings.Cut(platform, "/")
	arch, _, _ = strings.Cut(arch, "/")
	if osName != "linux" {
		return invalidf("invalid platform %q: only linux is supported", platform)
	}
	if cfg == nil || cfg.Image == "" {
		return nil
	}
	img, err := s.images.Get(ctx, cfg.Image)
	if err != nil {
		return nil // create reports the missing image
	}
	if arch != "" && img.Config.Architecture != arch {
		return &classError{msg: fmt.Sprintf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s/%s",
			cfg.Image, platform, img.Config.OS, img.Config.Architecture), class: errdefs.ErrNotFound}
	}
	return nil
}
