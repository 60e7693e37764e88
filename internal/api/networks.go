package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/network"

	"github.com/shoal-dev/shoal/internal/filters"
)

// NetworkBackend is what the network handlers call. engine.Engine
// implements it.
type NetworkBackend interface {
	NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	NetworkInspect(ctx context.Context, ref string) (network.Inspect, error)
	NetworkList(ctx context.Context, f filters.Args) ([]network.Summary, error)
	NetworkRemove(ctx context.Context, ref string) error
	NetworkPrune(ctx context.Context, f filters.Args) (network.PruneReport, error)
	NetworkConnect(ctx context.Context, ref, container string, s *network.EndpointSettings) error
	NetworkDisconnect(ctx context.Context, ref, container string, force bool) error
}

// WithNetworks serves the network endpoints from b.
func WithNetworks(b NetworkBackend) Option { return func(s *server) { s.networks = b } }

// networkRoute routes /networks/... paths.
func (s *server) networkRoute(method, path string) handlerFunc {
	if s.networks == nil {
		return nil
	}
	switch path {
	case "/networks":
		return only(method, http.MethodGet, s.listNetworks)
	case "/networks/create":
		return only(method, http.MethodPost, s.createNetwork)
	case "/networks/prune":
		return only(method, http.MethodPost, s.pruneNetworks)
	}
	rest, ok := strings.CutPrefix(path, "/networks/")
	if !ok || rest == "" {
		return nil
	}
	name, op, _ := strings.Cut(rest, "/")
	switch {
	case op == "" && method == http.MethodGet:
		return withName(name, s.inspectNetwork)
	case op == "" && method == http.MethodDelete:
		return withName(name, s.removeNetwork)
	case op == "connect" && method == http.MethodPost:
		return withName(name, s.connectNetwork)
	case op == "disconnect" && method == http.MethodPost:
		return withName(name, s.disconnectNetwork)
	}
	return nil
}

func (s *server) listNetworks(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	out, err := s.networks.NetworkList(ctx, f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *server) createNetwork(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	var req network.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	out, err := s.networks.NetworkCreate(ctx, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *server) inspectNetwork(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, name string) error {
	q := r.URL.Query()
	if sc := q.Get("scope"); sc != "" && sc != "local" {
		return notFoundf("network %s not found", name)
	}
	out, err := s.networks.NetworkInspect(ctx, name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *server) removeNetwork(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, name string) error {
	if err := s.networks.NetworkRemove(ctx, name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) pruneNetworks(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	out, err := s.networks.NetworkPrune(ctx, f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *server) connectNetwork(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, name string) error {
	var req network.ConnectRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Container == "" {
		return invalidf("no container specified")
	}
	if err := s.networks.NetworkConnect(ctx, name, req.Container, req.EndpointConfig); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *server) disconnectNetwork(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, name string) error {
	var req network.DisconnectRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Container == "" {
		return invalidf("no container specified")
	}
	if err := s.networks.NetworkDisconnect(ctx, name, req.Container, req.Force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
