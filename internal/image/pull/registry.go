package pull

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// ErrPlainHTTP is wrapped by the error of a request that would have used
// plain HTTP to a registry not allowed it.
var ErrPlainHTTP = fmt.Errorf("plain http to a registry that is not insecure: %w", errdefs.ErrPermissionDenied)

// parseRef parses ref with Docker's defaults, marking loopback and
// insecure registries so go-containerregistry may try HTTP for them.
func parseRef(ref string, o *options) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parse reference %q: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	host := r.Context().RegistryStr()
	if !o.allowHTTP(host) {
		return r, nil
	}
	r, err = name.ParseReference(ref, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("parse reference %q: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	return r, nil
}

// familiarName is ref's full name with Docker Hub spelled docker.io.
func familiarName(ref name.Reference) string {
	reg := ref.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	sep := ":"
	if _, ok := ref.(name.Digest); ok {
		sep = "@"
	}
	return reg + "/" + ref.Context().RepositoryStr() + sep + ref.Identifier()
}

// isLoopback reports whether host (no port) is localhost or a loopback
// address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// allowHTTP reports whether hostport ("host" or "host:port") may be
// reached over plain HTTP.
func (o *options) allowHTTP(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return isLoopback(host) || o.insecureHost(hostport, host)
}

// insecureHost reports whether the registry is in WithInsecureRegistries:
// named with its port, without one, or by a CIDR holding its address.
func (o *options) insecureHost(hostport, host string) bool {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	for _, e := range o.insecure {
		e = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(e, "http://"), "https://"), "/")
		if strings.EqualFold(e, hostport) || strings.EqualFold(e, host) {
			return true
		}
		if _, n, err := net.ParseCIDR(e); err == nil && ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// policyTransport refuses plain HTTP to registries not allowed it and
// skips TLS verification only for insecure ones.
type policyTransport struct {
	o        *options
	secure   http.RoundTripper
	insecure http.RoundTripper // TLS without verification
}

func newPolicyTransport(o *options) *policyTransport {
	if o.transport != nil {
		return &policyTransport{o: o, secure: o.transport, insecure: o.transport}
	}
	secure := http.DefaultTransport.(*http.Transport).Clone()
	insecure := secure.Clone()
	insecure.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for WithInsecureRegistries
	return &policyTransport{o: o, secure: secure, insecure: insecure}
}

func (p *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	switch req.URL.Scheme {
	case "http":
		if !p.o.allowHTTP(req.URL.Host) {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), ErrPlainHTTP)
		}
	case "https":
		if p.o.insecureHost(req.URL.Host, host) {
			return p.insecure.RoundTrip(req)
		}
	}
	return p.secure.RoundTrip(req)
}

// client is one pull's or push's connection to one repository.
type client struct {
	o      *options
	repo   name.Repository
	base   http.RoundTripper
	remote []remote.Option

	once   sync.Once
	http   *http.Client // authenticated, for Range requests
	errTr  error
	puller *remote.Puller
}

func newClient(ctx context.Context, o *options, repo name.Repository) (*client, error) {
	base := newPolicyTransport(o)
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(base)}
	if o.auth != nil {
		ropts = append(ropts, remote.WithAuth(o.auth))
	} else if o.keychain != nil {
		ropts = append(ropts, remote.WithAuthFromKeychain(o.keychain))
	}
	if o.userAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(o.userAgent))
	}
	p, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	return &client{o: o, repo: repo, base: base, remote: ropts, puller: p}, nil
}

// authenticator resolves the credentials for c.repo.
func (c *client) authenticator(ctx context.Context) (authn.Authenticator, error) {
	switch {
	case c.o.auth != nil:
		return c.o.auth, nil
	case c.o.keychain != nil:
		a, err := authn.Resolve(ctx, c.o.keychain, c.repo)
		if err != nil {
			return nil, fmt.Errorf("resolve credentials for %s: %w", c.repo, err)
		}
		return a, nil
	default:
		return authn.Anonymous, nil
	}
}

// rangeClient returns an HTTP client authenticated for pulls from c.repo.
func (c *client) rangeClient(ctx context.Context) (*http.Client, error) {
	c.once.Do(func() {
		auth, err := c.authenticator(ctx)
		if err != nil {
			c.errTr = err
			return
		}
		var rt http.RoundTripper = c.base
		if c.o.userAgent != "" {
			rt = transport.NewUserAgent(rt, c.o.userAgent)
		}
		rt, err = transport.NewWithContext(ctx, c.repo.Registry, auth, rt, []string{c.repo.Scope(transport.PullScope)})
		if err != nil {
			c.errTr = fmt.Errorf("authenticate to %s: %w", c.repo.RegistryStr(), err)
			return
		}
		c.http = &http.Client{Transport: rt}
	})
	return c.http, c.errTr
}

// openRange GETs the blob dgst from offset on. A registry that ignores
// the Range header is read past offset.
func (c *client) openRange(ctx context.Context, dgst digest.Digest, offset, size int64) (io.ReadCloser, error) {
	hc, err := c.rangeClient(ctx)
	if err != nil {
		return nil, err
	}
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", c.repo.Scheme(), c.repo.RegistryStr(), c.repo.RepositoryStr(), dgst)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, size-1))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, http.StatusOK, http.StatusPartialContent); err != nil {
		resp.Body.Close()
		return nil, err
	}
	if resp.StatusCode == http.StatusPartialContent {
		var start, end, total int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); err != nil || start != offset {
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: Content-Range %q does not start at %d", dgst, resp.Header.Get("Content-Range"), offset)
		}
		return resp.Body, nil
	}
	if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
		resp.Body.Close()
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("GET %s: skip %d bytes: %w", dgst, offset, err)
	}
	return resp.Body, nil
}
