package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	eventtypes "github.com/moby/moby/api/types/events"
	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/events"
	"github.com/shoal-dev/shoal/internal/filters"
	"github.com/shoal-dev/shoal/internal/volume"
)

// VolumeBackend is what the volume handlers call. volume.Store
// implements it.
type VolumeBackend interface {
	Create(ctx context.Context, name, driver string, opts, labels map[string]string) (volume.Volume, error)
	Get(ctx context.Context, name string) (volume.Volume, error)
	List(ctx context.Context) ([]volume.Volume, error)
	Remove(ctx context.Context, name string, force bool) error
	Prune(ctx context.Context, all bool, labelFilter func(labels map[string]string) bool) ([]string, uint64, error)
	Refs(name string) []string
	Size(ctx context.Context, name string) (int64, error)
}

// containerExtraRoute routes the container endpoints beyond the
// lifecycle: top, stats, changes, export, archive, update.
func (s *server) containerExtraRoute(method, op string) namedHandler {
	switch {
	case op == "top" && method == http.MethodGet:
		return s.topContainer
	case op == "stats" && method == http.MethodGet:
		return s.containerStats
	case op == "changes" && method == http.MethodGet:
		return s.containerChanges
	case op == "export" && method == http.MethodGet:
		return s.exportContainer
	case op == "update" && method == http.MethodPost:
		return s.updateContainer
	case op == "archive" && method == http.MethodHead:
		return s.statArchive
	case op == "archive" && method == http.MethodGet:
		return s.getArchive
	case op == "archive" && method == http.MethodPut:
		return s.putArchive
	}
	return nil
}

// otherRoute routes volumes and events.
func (s *server) otherRoute(method, path string) handlerFunc {
	switch path {
	case "/commit":
		if s.containers != nil {
			return only(method, http.MethodPost, s.commit)
		}
		return nil
	case "/auth":
		return only(method, http.MethodPost, s.login)
	case "/system/df":
		return only(method, http.MethodGet, s.systemDF)
	case "/networks/prune":
		return only(method, http.MethodPost, emptyPrune("NetworksDeleted"))
	case "/build/prune":
		return only(method, http.MethodPost, emptyPrune("CachesDeleted"))
	case "/containers/prune":
		if s.containers != nil {
			return only(method, http.MethodPost, s.pruneContainers)
		}
		return nil
	case "/events":
		if s.containers != nil {
			return only(method, http.MethodGet, s.events)
		}
		return nil
	}
	if s.volumes == nil {
		return nil
	}
	switch path {
	case "/volumes":
		return only(method, http.MethodGet, s.listVolumes)
	case "/volumes/create":
		return only(method, http.MethodPost, s.createVolume)
	case "/volumes/prune":
		return only(method, http.MethodPost, s.pruneVolumes)
	}
	name, ok := strings.CutPrefix(path, "/volumes/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil
	}
	switch method {
	case http.MethodGet:
		return withName(name, s.inspectVolume)
	case http.MethodDelete:
		return withName(name, s.removeVolume)
	}
	return nil
}

func (s *server) volumeJSON(ctx context.Context, v volume.Volume, withUsage bool) *volumetypes.Volume {
	out := &volumetypes.Volume{
		Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint,
		CreatedAt: v.CreatedAt.UTC().Format(time.RFC3339), Labels: v.Labels, Options: v.Options, Scope: "local",
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if withUsage {
		size, _ := s.volumes.Size(ctx, v.Name)
		out.UsageData = &volumetypes.UsageData{Size: size, RefCount: int64(len(s.volumes.Refs(v.Name)))}
	}
	return out
}

func (s *server) createVolume(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	var req volumetypes.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	v, err := s.volumes.Create(ctx, req.Name, req.Driver, req.DriverOpts, req.Labels)
	if err != nil {
		return err
	}
	s.publishVolume(v.Name, "create", v.Driver)
	return writeJSON(w, http.StatusCreated, s.volumeJSON(ctx, v, false))
}

func (s *server) publishVolume(name, action, driver string) {
	if s.containers == nil {
		return
	}
	s.containers.Events().Publish(eventsMessage("volume", action, name, map[string]string{"driver": driver}))
}

var volumeFilters = map[string]bool{"name": true, "driver": true, "label": true, "dangling": true}

func (s *server) listVolumes(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	if err := f.Validate(volumeFilters); err != nil {
		return err
	}
	vs, err := s.volumes.List(ctx)
	if err != nil {
		return err
	}
	dangling, hasDangling := false, f.Contains("dangling")
	if hasDangling {
		if dangling, err = f.GetBoolOrDefault("dangling", false); err != nil {
			return err
		}
	}
	out := volumetypes.ListResponse{Volumes: []volumetypes.Volume{}, Warnings: []string{}}
	for _, v := range vs {
		if !f.Match("name", v.Name) || !f.ExactMatch("driver", v.Driver) || !f.MatchKVList("label", v.Labels) {
			continue
		}
		if hasDangling && (len(s.volumes.Refs(v.Name)) == 0) != dangling {
			continue
		}
		out.Volumes = append(out.Volumes, *s.volumeJSON(ctx, v, false))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *server) inspectVolume(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, name string) error {
	v, err := s.volumes.Get(ctx, name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.volumeJSON(ctx, v, false))
}

func (s *server) removeVolume(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, name string) error {
	if err := s.volumes.Remove(ctx, name, boolParam(r, "force")); err != nil {
		return err
	}
	s.publishVolume(name, "destroy", "local")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) pruneVolumes(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	if err := f.Validate(map[string]bool{"label": true, "label!": true, "all": true}); err != nil {
		return err
	}
	all, err := f.GetBoolOrDefault("all", false)
	if err != nil {
		return err
	}
	removed, reclaimed, err := s.volumes.Prune(ctx, all, func(labels map[string]string) bool {
		return f.MatchKVList("label", labels) && !matchesNegated(f, labels)
	})
	if err != nil {
		return err
	}
	if removed == nil {
		removed = []string{}
	}
	for _, name := range removed {
		s.publishVolume(name, "destroy", "local")
	}
	return writeJSON(w, http.StatusOK, volumetypes.PruneReport{VolumesDeleted: removed, SpaceReclaimed: reclaimed})
}

// matchesNegated reports whether labels match a label!= filter.
func matchesNegated(f filters.Args, labels map[string]string) bool {
	for _, want := range f.Get("label!") {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := labels[k]
		if ok && (!hasValue || got == v) {
			return true
		}
	}
	return false
}

// events streams the event bus: the buffered events since ?since, then
// live ones until ?until or the client goes away.
func (s *server) events(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	q := r.URL.Query()
	now := time.Now()
	since, err := events.ParseTime(q.Get("since"), now)
	if err != nil {
		return err
	}
	until, err := events.ParseTime(q.Get("until"), now)
	if err != nil {
		return err
	}
	f, err := filters.FromJSON(q.Get("filters"))
	if err != nil {
		return err
	}
	if err := events.ValidateFilters(f); err != nil {
		return err
	}
	past, sub := s.containers.Events().Subscribe(since, until, f)
	defer sub.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	for _, m := range past {
		if err := enc.Encode(m); err != nil {
			return nil
		}
	}
	_ = rc.Flush()
	var deadline <-chan time.Time
	if !until.IsZero() {
		if d := time.Until(until); d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			deadline = t.C
		} else {
			return nil
		}
	}
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				return nil
			}
			if err := enc.Encode(m); err != nil {
				return nil
			}
			_ = rc.Flush()
		case <-deadline:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

var _ = errdefs.ErrNotFound

func eventsMessage(typ, action, id string, attrs map[string]string) eventtypes.Message {
	return eventtypes.Message{Type: eventtypes.Type(typ), Action: eventtypes.Action(action), Actor: eventtypes.Actor{ID: id, Attributes: attrs}, Scope: "local"}
}
