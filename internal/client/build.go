package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
)

// BuildOptions are the parameters of POST /build (the classic builder).
type BuildOptions struct {
	Dockerfile  string
	Tags        []string
	BuildArgs   map[string]*string
	Target      string
	Labels      map[string]string
	NoCache     bool
	Remove      bool
	ForceRemove bool
	Quiet       bool
	NetworkMode string
	Platform    string
	Pull        bool
}

// ImageBuild sends a build context (a tar) and returns the build's
// progress stream.
func (c *Client) ImageBuild(ctx context.Context, buildContext io.Reader, o BuildOptions) (io.ReadCloser, error) {
	q := url.Values{}
	for _, t := range o.Tags {
		q.Add("t", t)
	}
	if o.Dockerfile != "" {
		q.Set("dockerfile", o.Dockerfile)
	}
	if o.Target != "" {
		q.Set("target", o.Target)
	}
	if o.NetworkMode != "" {
		q.Set("networkmode", o.NetworkMode)
	}
	if o.Platform != "" {
		q.Set("platform", o.Platform)
	}
	flag := func(name string, v bool) {
		if v {
			q.Set(name, "1")
		}
	}
	flag("nocache", o.NoCache)
	flag("forcerm", o.ForceRemove)
	flag("q", o.Quiet)
	flag("pull", o.Pull)
	if o.Remove {
		q.Set("rm", "1")
	} else {
		q.Set("rm", "0")
	}
	if len(o.BuildArgs) > 0 {
		b, err := json.Marshal(o.BuildArgs)
		if err != nil {
			return nil, err
		}
		q.Set("buildargs", string(b))
	}
	if len(o.Labels) > 0 {
		b, err := json.Marshal(o.Labels)
		if err != nil {
			return nil, err
		}
		q.Set("labels", string(b))
	}
	q.Set("version", "1")
	return c.stream(ctx, Request{
		Method: http.MethodPost, Path: "/build", Query: q, Body: buildContext,
		Header: http.Header{"Content-Type": {"application/x-tar"}},
	})
}
