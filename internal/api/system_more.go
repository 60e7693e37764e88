package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/engine"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// CommitBackend makes images of containers.
type CommitBackend interface {
	Commit(ctx context.Context, ref string, o engine.CommitOptions) (string, error)
}

// commit is POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause=.
func (s *server) commit(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	cb, ok := s.containers.(CommitBackend)
	if !ok {
		return notImplementedf("commit is not available")
	}
	q := r.URL.Query()
	var body container.Config
	if r.ContentLength > 0 {
		if err := decodeBody(r, &body); err != nil {
			return err
		}
	}
	name := q.Get("repo")
	if name != "" && q.Get("tag") != "" {
		name += ":" + q.Get("tag")
	}
	pause := true
	if q.Get("pause") != "" {
		pause = boolParam(r, "pause")
	}
	id, err := cb.Commit(ctx, q.Get("container"), engine.CommitOptions{
		Name: name, Author: q.Get("author"), Comment: q.Get("comment"), Pause: pause,
		Apply: func(ic *ocispec.ImageConfig) error {
			applyConfig(ic, &body)
			return parseChanges(q["changes"], ic)
		},
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"Id": id})
}

// applyConfig lays the fields a commit request sets over ic.
func applyConfig(ic *ocispec.ImageConfig, c *container.Config) {
	if len(c.Cmd) > 0 {
		ic.Cmd = c.Cmd
	}
	if len(c.Entrypoint) > 0 {
		ic.Entrypoint = c.Entrypoint
	}
	if len(c.Env) > 0 {
		ic.Env = c.Env
	}
	if c.User != "" {
		ic.User = c.User
	}
	if c.WorkingDir != "" {
		ic.WorkingDir = c.WorkingDir
	}
	if len(c.Labels) > 0 {
		ic.Labels = c.Labels
	}
	if c.StopSignal != "" {
		ic.StopSignal = c.StopSignal
	}
}

// emptyPrune answers the prune endpoints of kinds Shoal keeps none of
// yet (user networks, build cache): there is truly nothing to remove.
func emptyPrune(field string) handlerFunc {
	return func(_ context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion) error {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return json.NewEncoder(w).Encode(map[string]any{field: []string{}, "SpaceReclaimed": 0})
	}
}

// systemDF is GET /system/df.
func (s *server) systemDF(ctx context.Context, w http.ResponseWriter, r *http.Request, v apiVersion) error {
	out := map[string]any{"LayersSize": int64(0), "Images": []any{}, "Containers": []any{}, "Volumes": []any{}, "BuildCache": []any{}}
	rows, err := s.images.List(ctx)
	if err != nil {
		return err
	}
	var images []map[string]any
	var layers int64
	seen := map[string]bool{}
	used := map[string]int{}
	var ctrs []container.Summary
	if s.containers != nil {
		if ctrs, err = s.containers.List(ctx, engine.ListOptions{All: true}); err != nil {
			return err
		}
		for _, c := range ctrs {
			used[c.ImageID]++
		}
		out["Containers"] = ctrs
	}
	for _, row := range rows {
		id := row.ID.String()
		if seen[id] {
			continue
		}
		seen[id] = true
		layers += row.Size
		images = append(images, map[string]any{
			"Id": id, "RepoTags": []string{}, "Created": row.Created.Unix(), "Size": row.Size,
			"SharedSize": int64(-1), "Containers": int64(used[id]), "Labels": map[string]string{},
		})
	}
	if images != nil {
		out["Images"] = images
	}
	out["LayersSize"] = layers
	if s.volumes != nil {
		vs, err := s.volumes.List(ctx)
		if err != nil {
			return err
		}
		var vols []any
		for _, vol := range vs {
			vols = append(vols, s.volumeJSON(ctx, vol, true))
		}
		if vols != nil {
			out["Volumes"] = vols
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// login is POST /auth: the daemon checks the credentials against the
// registry and keeps nothing (the CLI stores them).
func (s *server) login(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	lb, ok := s.images.(interface {
		Login(ctx context.Context, server, username, password string) error
	})
	if !ok {
		return notImplementedf("login is not available")
	}
	var req struct {
		Username      string `json:"username"`
		Password      string `json:"password"`
		ServerAddress string `json:"serveraddress"`
		Email         string `json:"email,omitempty"`
		Auth          string `json:"auth,omitempty"`
		IdentityToken string `json:"identitytoken,omitempty"`
		RegistryToken string `json:"registrytoken,omitempty"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.IdentityToken != "" || req.RegistryToken != "" {
		return invalidf("login with an identity or registry token is not supported: use a username and password")
	}
	if err := lb.Login(ctx, req.ServerAddress, req.Username, req.Password); err != nil {
		if errdefs.IsPermissionDenied(err) {
			writeJSONError(w, http.StatusUnauthorized, userMessage(err))
			return nil
		}
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"Status": "Login Succeeded", "IdentityToken": ""})
}
