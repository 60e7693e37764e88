package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/moby/moby/api/types/image"
)

// ImageList lists images.
func (c *Client) ImageList(ctx context.Context, all bool, filters map[string][]string) ([]image.Summary, error) {
	q := url.Values{}
	if all {
		q.Set("all", "1")
	}
	filtersParam(q, filters)
	var out []image.Summary
	err := c.get(ctx, "/images/json", q, &out)
	return out, err
}

// ImageInspect returns an image's record, and the JSON it came in.
func (c *Client) ImageInspect(ctx context.Context, name string) (image.InspectResponse, []byte, error) {
	var out image.InspectResponse
	raw, err := c.getRaw(ctx, "/images/"+name+"/json", &out)
	return out, raw, err
}

// stream sends r and returns the body of the answer: a progress stream
// of JSON messages, or an archive.
func (c *Client) stream(ctx context.Context, r Request) (io.ReadCloser, error) {
	resp, err := c.Do(ctx, r)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func authHeader(auth string) http.Header {
	if auth == "" {
		return nil
	}
	return http.Header{"X-Registry-Auth": {auth}}
}

// ImagePull pulls ref (name[:tag|@digest]); auth is the base64url JSON of
// the credentials, or "". The answer is a progress stream.
func (c *Client) ImagePull(ctx context.Context, ref, platform, auth string) (io.ReadCloser, error) {
	q := url.Values{"fromImage": {ref}}
	if platform != "" {
		q.Set("platform", platform)
	}
	return c.stream(ctx, Request{Method: http.MethodPost, Path: "/images/create", Query: q, Header: authHeader(auth)})
}

// ImagePush pushes name[:tag]. The answer is a progress stream.
func (c *Client) ImagePush(ctx context.Context, name, tag, auth string) (io.ReadCloser, error) {
	var q url.Values
	if tag != "" {
		q = url.Values{"tag": {tag}}
	}
	if auth == "" {
		// dockerd refuses a push without the header; "{}" is anonymous.
		auth = "e30="
	}
	return c.stream(ctx, Request{Method: http.MethodPost, Path: "/images/" + name + "/push", Query: q, Header: authHeader(auth)})
}

// ImageTag gives the image source the name repo[:tag].
func (c *Client) ImageTag(ctx context.Context, source, repo, tag string) error {
	q := url.Values{"repo": {repo}}
	if tag != "" {
		q.Set("tag", tag)
	}
	return c.call(ctx, Request{Method: http.MethodPost, Path: "/images/" + source + "/tag", Query: q}, nil)
}

// ImageRemove removes an image name, or an image.
func (c *Client) ImageRemove(ctx context.Context, name string, force, noPrune bool) ([]image.DeleteResponse, error) {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	if noPrune {
		q.Set("noprune", "1")
	}
	var out []image.DeleteResponse
	err := c.call(ctx, Request{Method: http.MethodDelete, Path: "/images/" + name, Query: q}, &out)
	return out, err
}

// ImageHistory returns an image's history, newest first.
func (c *Client) ImageHistory(ctx context.Context, name string) ([]image.HistoryResponseItem, error) {
	var out []image.HistoryResponseItem
	err := c.get(ctx, "/images/"+name+"/history", nil, &out)
	return out, err
}

// ImagesPrune removes unused images.
func (c *Client) ImagesPrune(ctx context.Context, filters map[string][]string) (image.PruneReport, error) {
	q := url.Values{}
	filtersParam(q, filters)
	var out image.PruneReport
	err := c.call(ctx, Request{Method: http.MethodPost, Path: "/images/prune", Query: q}, &out)
	return out, err
}

// ImageSave returns a docker-save tar archive of the images.
func (c *Client) ImageSave(ctx context.Context, names []string) (io.ReadCloser, error) {
	return c.stream(ctx, Request{Method: http.MethodGet, Path: "/images/get", Query: url.Values{"names": names}})
}

// ImageLoad loads images from a tar archive. The answer is a progress
// stream.
func (c *Client) ImageLoad(ctx context.Context, archive io.Reader, quiet bool) (io.ReadCloser, error) {
	q := url.Values{}
	if quiet {
		q.Set("quiet", "1")
	}
	h := http.Header{"Content-Type": {"application/x-tar"}}
	return c.stream(ctx, Request{Method: http.MethodPost, Path: "/images/load", Query: q, Header: h, Body: archive})
}

// ImageImport makes an image of a root file system tarball, named
// repo[:tag] unless repo is "". The answer is a progress stream.
func (c *Client) ImageImport(ctx context.Context, tarball io.Reader, repo, tag, message string, changes []string) (io.ReadCloser, error) {
	q := url.Values{"fromSrc": {"-"}}
	if repo != "" {
		q.Set("repo", repo)
	}
	if tag != "" {
		q.Set("tag", tag)
	}
	if message != "" {
		q.Set("message", message)
	}
	for _, ch := range changes {
		q.Add("changes", ch)
	}
	h := http.Header{"Content-Type": {"application/x-tar"}}
	return c.stream(ctx, Request{Method: http.MethodPost, Path: "/images/create", Query: q, Header: h, Body: tarball})
}
