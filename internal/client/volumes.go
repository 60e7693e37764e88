package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/moby/moby/api/types/volume"
)

// VolumeCreate creates a volume.
func (c *Client) VolumeCreate(ctx context.Context, req volume.CreateRequest) (volume.Volume, error) {
	var out volume.Volume
	err := c.call(ctx, Request{Method: http.MethodPost, Path: "/volumes/create", JSON: req}, &out)
	return out, err
}

// VolumeList lists volumes.
func (c *Client) VolumeList(ctx context.Context, filters map[string][]string) (volume.ListResponse, error) {
	q := url.Values{}
	filtersParam(q, filters)
	var out volume.ListResponse
	err := c.get(ctx, "/volumes", q, &out)
	return out, err
}

// VolumeInspect returns a volume, and the JSON it came in.
func (c *Client) VolumeInspect(ctx context.Context, name string) (volume.Volume, []byte, error) {
	var out volume.Volume
	raw, err := c.getRaw(ctx, "/volumes/"+url.PathEscape(name), &out)
	return out, raw, err
}

// VolumeRemove removes a volume; force removes it even if in use.
func (c *Client) VolumeRemove(ctx context.Context, name string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	return c.call(ctx, Request{Method: http.MethodDelete, Path: "/volumes/" + url.PathEscape(name), Query: q}, nil)
}

// VolumesPrune removes unused volumes.
func (c *Client) VolumesPrune(ctx context.Context, filters map[string][]string) (volume.PruneReport, error) {
	q := url.Values{}
	filtersParam(q, filters)
	var out volume.PruneReport
	err := c.call(ctx, Request{Method: http.MethodPost, Path: "/volumes/prune", Query: q}, &out)
	return out, err
}

// Events returns the daemon's event stream: one JSON events.Message a
// line, until until (or for ever) or ctx ends.
func (c *Client) Events(ctx context.Context, since, until string, filters map[string][]string) (io.ReadCloser, error) {
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	if until != "" {
		q.Set("until", until)
	}
	filtersParam(q, filters)
	return c.stream(ctx, Request{Method: http.MethodGet, Path: "/events", Query: q})
}
