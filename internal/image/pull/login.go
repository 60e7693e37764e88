package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Login checks credentials (WithAuth) against a registry, as docker login
// does: the registry's /v2/ endpoint must accept them. server is a host
// ("127.0.0.1:5000") or a URL; "" and Docker Hub's names mean Docker Hub.
func Login(ctx context.Context, server string, opts ...Opt) error {
	o := newOptions(opts)
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://"), "/")
	host = strings.TrimSuffix(host, "/v1")
	if host == "" || host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
		host = name.DefaultRegistry
	}
	var nopts []name.Option
	if o.allowHTTP(host) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, nopts...)
	if err != nil {
		return fmt.Errorf("login to %s: %v: %w", server, err, errdefs.ErrInvalidArgument)
	}
	auth := o.auth
	if auth == nil {
		auth = authn.Anonymous
	}
	tr, err := transport.NewWithContext(ctx, reg, auth, newPolicyTransport(o), []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return loginError(err)
	}
	scheme := "https"
	if o.allowHTTP(host) && reg.Scheme() == "http" {
		scheme = "http"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return loginError(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("Get %q: unauthorized: incorrect username or password: %w", req.URL.String(), errdefs.ErrPermissionDenied)
	}
	return fmt.Errorf("login to %s: registry answered %s", host, resp.Status)
}

func loginError(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("unauthorized: incorrect username or password: %w", errdefs.ErrPermissionDenied)
	}
	return fmt.Errorf("login: %w", err)
}
