package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/moby/moby/api/types/network"
)

// NetworkCreate creates a network; req.Name names it.
func (c *Client) NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	var out network.CreateResponse
	err := c.call(ctx, Request{Method: http.MethodPost, Path: "/networks/create", JSON: req}, &out)
	return out, err
}

// NetworkList lists networks.
func (c *Client) NetworkList(ctx context.Context, filters map[string][]string) ([]network.Summary, error) {
	q := url.Values{}
	filtersParam(q, filters)
	var out []network.Summary
	err := c.get(ctx, "/networks", q, &out)
	return out, err
}

// NetworkInspect returns a network (by name, ID or ID prefix), and the
// JSON it came in.
func (c *Client) NetworkInspect(ctx context.Context, ref string) (network.Inspect, []byte, error) {
	var out network.Inspect
	raw, err := c.getRaw(ctx, "/networks/"+url.PathEscape(ref), &out)
	return out, raw, err
}

// NetworkRemove removes a network.
func (c *Client) NetworkRemove(ctx context.Context, ref string) error {
	return c.call(ctx, Request{Method: http.MethodDelete, Path: "/networks/" + url.PathEscape(ref)}, nil)
}

// NetworksPrune removes the networks no container uses.
func (c *Client) NetworksPrune(ctx context.Context, filters map[string][]string) (network.PruneReport, error) {
	q := url.Values{}
	filtersParam(q, filters)
	var out network.PruneReport
	err := c.call(ctx, Request{Method: http.MethodPost, Path: "/networks/prune", Query: q}, &out)
	return out, err
}

// NetworkConnect connects a container to a network; settings (may be
// nil) are its endpoint's aliases, addresses and links.
func (c *Client) NetworkConnect(ctx context.Context, ref, container string, settings *network.EndpointSettings) error {
	req := network.ConnectRequest{Container: container, EndpointConfig: settings}
	return c.call(ctx, Request{Method: http.MethodPost, Path: "/networks/" + url.PathEscape(ref) + "/connect", JSON: req}, nil)
}

// NetworkDisconnect disconnects a container from a network; force goes on
// even if the container's endpoint cannot be torn down.
func (c *Client) NetworkDisconnect(ctx context.Context, ref, container string, force bool) error {
	req := network.DisconnectRequest{Container: container, Force: force}
	return c.call(ctx, Request{Method: http.MethodPost, Path: "/networks/" + url.PathEscape(ref) + "/disconnect", JSON: req}, nil)
}
