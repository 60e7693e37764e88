package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/moby/moby/api/types/container"
)

// ContainerCreate creates a container named name ("" for a generated
// name) from an image of platform ("" for the daemon's).
func (c *Client) ContainerCreate(ctx context.Context, name, platform string, req container.CreateRequest) (container.CreateResponse, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	if platform != "" {
		q.Set("platform", platform)
	}
	var out container.CreateResponse
	err := c.call(ctx, Request{Method: http.MethodPost, Path: "/containers/create", Query: q, JSON: req}, &out)
	return out, err
}

// ListOptions are the parameters of ContainerList.
type ListOptions struct {
	All   bool
	Size  bool
	Limit int
	// Filters is Docker's filters: key to values.
	Filters map[string][]string
}

func filtersParam(q url.Values, f map[string][]string) {
	if len(f) == 0 {
		return
	}
	b, _ := json.Marshal(f)
	q.Set("filters", string(b))
}

// ContainerList lists containers.
func (c *Client) ContainerList(ctx context.Context, o ListOptions) ([]container.Summary, error) {
	q := url.Values{}
	if o.All {
		q.Set("all", "1")
	}
	if o.Size {
		q.Set("size", "1")
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	filtersParam(q, o.Filters)
	var out []container.Summary
	err := c.get(ctx, "/containers/json", q, &out)
	return out, err
}

// ContainerInspect returns a container's record, and the JSON it came in.
func (c *Client) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, []byte, error) {
	var out container.InspectResponse
	raw, err := c.getRaw(ctx, "/containers/"+url.PathEscape(id)+"/json", &out)
	return out, raw, err
}

// post sends a POST without a body and discards the answer.
func (c *Client) post(ctx context.Context, path string, q url.Values) error {
	return c.call(ctx, Request{Method: http.MethodPost, Path: path, Query: q}, nil)
}

func cpath(id, op string) string { return "/containers/" + url.PathEscape(id) + "/" + op }

// ContainerStart starts a container.
func (c *Client) ContainerStart(ctx context.Context, id string) error {
	return c.post(ctx, cpath(id, "start"), nil)
}

func stopQuery(signal string, timeout *int) url.Values {
	q := url.Values{}
	if signal != "" {
		q.Set("signal", signal)
	}
	if timeout != nil {
		q.Set("t", strconv.Itoa(*timeout))
	}
	return q
}

// ContainerStop stops a container: signal (or its stop signal), then
// SIGKILL after timeout seconds (nil: the container's own timeout).
func (c *Client) ContainerStop(ctx context.Context, id, signal string, timeout *int) error {
	return c.post(ctx, cpath(id, "stop"), stopQuery(signal, timeout))
}

// ContainerRestart stops and starts a container.
func (c *Client) ContainerRestart(ctx context.Context, id, signal string, timeout *int) error {
	return c.post(ctx, cpath(id, "restart"), stopQuery(signal, timeout))
}

// ContainerKill sends signal ("" for SIGKILL) to a container.
func (c *Client) ContainerKill(ctx context.Context, id, signal string) error {
	q := url.Values{}
	if signal != "" {
		q.Set("signal", signal)
	}
	return c.post(ctx, cpath(id, "kill"), q)
}

// ContainerRemove removes a container; force kills it first, volumes
// removes its anonymous volumes.
func (c *Client) ContainerRemove(ctx context.Context, id string, force, volumes bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	if volumes {
		q.Set("v", "1")
	}
	return c.call(ctx, Request{Method: http.MethodDelete, Path: "/containers/" + url.PathEscape(id), Query: q}, nil)
}

// ContainerWait waits for condition ("not-running", "next-exit",
// "removed"). The returned function blocks until the daemon answers; the
// wait is registered when ContainerWait returns, so a container started
// afterwards is not missed.
func (c *Client) ContainerWait(ctx context.Context, id, condition string) (func() (container.WaitResponse, error), error) {
	q := url.Values{}
	if condition != "" {
		q.Set("condition", condition)
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: cpath(id, "wait"), Query: q})
	if err != nil {
		return nil, err
	}
	return func() (container.WaitResponse, error) {
		defer resp.Body.Close()
		var out container.WaitResponse
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			return out, fmt.Errorf("wait for container %s: %w", id, err)
		}
		if out.Error != nil && out.Error.Message != "" {
			return out, fmt.Errorf("wait for container %s: %s", id, out.Error.Message)
		}
		return out, nil
	}, nil
}

// LogsOptions are the parameters of ContainerLogs.
type LogsOptions struct {
	Stdout, Stderr bool
	Follow         bool
	Timestamps     bool
	Details        bool
	Since, Until   string
	Tail           string
}

// ContainerLogs returns a container's log stream: multiplexed unless the
// container has a terminal.
func (c *Client) ContainerLogs(ctx context.Context, id string, o LogsOptions) (io.ReadCloser, error) {
	q := url.Values{}
	set := func(k string, v bool) {
		if v {
			q.Set(k, "1")
		}
	}
	set("stdout", o.Stdout)
	set("stderr", o.Stderr)
	set("follow", o.Follow)
	set("timestamps", o.Timestamps)
	set("details", o.Details)
	if o.Since != "" {
		q.Set("since", o.Since)
	}
	if o.Until != "" {
		q.Set("until", o.Until)
	}
	if o.Tail != "" {
		q.Set("tail", o.Tail)
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: cpath(id, "logs"), Query: q})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// AttachOptions are the parameters of ContainerAttach.
type AttachOptions struct {
	Stream, Logs          bool
	Stdin, Stdout, Stderr bool
	DetachKeys            string
}

// ContainerAttach attaches to a container's stdio.
func (c *Client) ContainerAttach(ctx context.Context, id string, o AttachOptions) (*Conn, error) {
	q := url.Values{}
	for k, v := range map[string]bool{"stream": o.Stream, "logs": o.Logs, "stdin": o.Stdin, "stdout": o.Stdout, "stderr": o.Stderr} {
		if v {
			q.Set(k, "1")
		}
	}
	if o.DetachKeys != "" {
		q.Set("detachKeys", o.DetachKeys)
	}
	return c.Hijack(ctx, Request{Method: http.MethodPost, Path: cpath(id, "attach"), Query: q})
}

func sizeQuery(height, width uint) url.Values {
	return url.Values{"h": {strconv.FormatUint(uint64(height), 10)}, "w": {strconv.FormatUint(uint64(width), 10)}}
}

// ContainerResize sets the size of a container's terminal.
func (c *Client) ContainerResize(ctx context.Context, id string, height, width uint) error {
	return c.post(ctx, cpath(id, "resize"), sizeQuery(height, width))
}

// ContainerPause freezes a container.
func (c *Client) ContainerPause(ctx context.Context, id string) error {
	return c.post(ctx, cpath(id, "pause"), nil)
}

// ContainerUnpause thaws a container.
func (c *Client) ContainerUnpause(ctx context.Context, id string) error {
	return c.post(ctx, cpath(id, "unpause"), nil)
}

// ContainerRename renames a container.
func (c *Client) ContainerRename(ctx context.Context, id, name string) error {
	return c.post(ctx, cpath(id, "rename"), url.Values{"name": {name}})
}

// ContainerTop lists a container's processes (psArgs: ps options).
func (c *Client) ContainerTop(ctx context.Context, id, psArgs string) (container.TopResponse, error) {
	var q url.Values
	if psArgs != "" {
		q = url.Values{"ps_args": {psArgs}}
	}
	var out container.TopResponse
	err := c.get(ctx, cpath(id, "top"), q, &out)
	return out, err
}

// ContainerStats returns a container's stats stream (one JSON object a
// sample): one sample, with the previous one for CPU percentages, unless
// stream.
func (c *Client) ContainerStats(ctx context.Context, id string, stream bool) (io.ReadCloser, error) {
	q := url.Values{"stream": {strconv.FormatBool(stream)}}
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: cpath(id, "stats"), Query: q})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ContainerChanges lists the changes of a container's file system.
func (c *Client) ContainerChanges(ctx context.Context, id string) ([]container.FilesystemChange, error) {
	var out []container.FilesystemChange
	err := c.get(ctx, cpath(id, "changes"), nil, &out)
	return out, err
}

// ContainerExport returns a tar stream of a container's file system.
func (c *Client) ContainerExport(ctx context.Context, id string) (io.ReadCloser, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: cpath(id, "export")})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ContainerUpdate changes a container's resources and restart policy.
func (c *Client) ContainerUpdate(ctx context.Context, id string, u container.UpdateConfig) (container.UpdateResponse, error) {
	var out container.UpdateResponse
	err := c.call(ctx, Request{Method: http.MethodPost, Path: cpath(id, "update"), JSON: u}, &out)
	return out, err
}

// ContainersPrune removes stopped containers.
func (c *Client) ContainersPrune(ctx context.Context, filters map[string][]string) (container.PruneReport, error) {
	q := url.Values{}
	filtersParam(q, filters)
	var out container.PruneReport
	err := c.call(ctx, Request{Method: http.MethodPost, Path: "/containers/prune", Query: q}, &out)
	return out, err
}

func pathStat(h http.Header) (container.PathStat, error) {
	var st container.PathStat
	v := h.Get("X-Docker-Container-Path-Stat")
	if v == "" {
		return st, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return st, fmt.Errorf("decode path stat: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("decode path stat: %w", err)
	}
	return st, nil
}

// ContainerStatPath describes a path in a container.
func (c *Client) ContainerStatPath(ctx context.Context, id, path string) (container.PathStat, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodHead, Path: cpath(id, "archive"), Query: url.Values{"path": {path}}})
	if err != nil {
		return container.PathStat{}, err
	}
	resp.Body.Close()
	return pathStat(resp.Header)
}

// CopyFromContainer returns a tar stream of path in a container, and the
// path's description.
func (c *Client) CopyFromContainer(ctx context.Context, id, path string) (io.ReadCloser, container.PathStat, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: cpath(id, "archive"), Query: url.Values{"path": {path}}})
	if err != nil {
		return nil, container.PathStat{}, err
	}
	st, err := pathStat(resp.Header)
	if err != nil {
		resp.Body.Close()
		return nil, st, err
	}
	return resp.Body, st, nil
}

// CopyToContainer extracts the tar stream content into the directory
// path of a container.
func (c *Client) CopyToContainer(ctx context.Context, id, path string, content io.Reader, noOverwriteDirNonDir, copyUIDGID bool) error {
	q := url.Values{"path": {path}}
	if noOverwriteDirNonDir {
		q.Set("noOverwriteDirNonDir", "true")
	}
	if copyUIDGID {
		q.Set("copyUIDGID", "true")
	}
	h := http.Header{"Content-Type": {"application/x-tar"}}
	return c.call(ctx, Request{Method: http.MethodPut, Path: cpath(id, "archive"), Query: q, Header: h, Body: content}, nil)
}

// ExecCreate makes an exec instance in a container.
func (c *Client) ExecCreate(ctx context.Context, id string, req container.ExecCreateRequest) (string, error) {
	var out container.ExecCreateResponse
	err := c.call(ctx, Request{Method: http.MethodPost, Path: cpath(id, "exec"), JSON: req}, &out)
	return out.ID, err
}

// ExecStartDetached starts an exec instance without attaching to it.
func (c *Client) ExecStartDetached(ctx context.Context, execID string) error {
	return c.call(ctx, Request{Method: http.MethodPost, Path: "/exec/" + url.PathEscape(execID) + "/start",
		JSON: container.ExecStartRequest{Detach: true}}, nil)
}

// ExecAttach starts an exec instance and returns its stream.
func (c *Client) ExecAttach(ctx context.Context, execID string, req container.ExecStartRequest) (*Conn, error) {
	return c.Hijack(ctx, Request{Method: http.MethodPost, Path: "/exec/" + url.PathEscape(execID) + "/start", JSON: req})
}

// ExecInspect returns an exec instance's state.
func (c *Client) ExecInspect(ctx context.Context, execID string) (container.ExecInspectResponse, error) {
	var out container.ExecInspectResponse
	err := c.get(ctx, "/exec/"+url.PathEscape(execID)+"/json", nil, &out)
	return out, err
}

// ExecResize sets the size of an exec instance's terminal.
func (c *Client) ExecResize(ctx context.Context, execID string, height, width uint) error {
	return c.post(ctx, "/exec/"+url.PathEscape(execID)+"/resize", sizeQuery(height, width))
}
