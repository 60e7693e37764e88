package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	mounttypes "github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/filters"
)

func timeString(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Inspect describes a container as docker inspect shows it.
func (e *Engine) Inspect(ctx context.Context, ref string) (container.InspectResponse, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return container.InspectResponse{}, err
	}
	c.mu.Lock()
	rec := *c.rec
	var execIDs []string
	for id := range c.execs {
		execIDs = append(execIDs, id)
	}
	c.mu.Unlock()
	sort.Strings(execIDs)
	dir := e.containerDir(rec.ID)
	st := rec.State
	out := container.InspectResponse{
		ID: rec.ID, Created: timeString(rec.Created), Path: rec.Path, Args: rec.Args,
		State: &container.State{
			Status: container.ContainerState(st.Status), Running: st.Status == StatusRunning || st.Status == StatusPaused,
			Paused: st.Status == StatusPaused, Restarting: st.Status == StatusRestarting,
			OOMKilled: st.OOMKilled, Dead: st.Status == StatusDead, Pid: st.Pid, ExitCode: st.ExitCode,
			Error: st.Error, StartedAt: timeString(st.StartedAt), FinishedAt: timeString(st.FinishedAt),
			Health: st.Health,
		},
		Image:          rec.ImageID,
		ResolvConfPath: filepath.Join(dir, "resolv.conf"),
		HostnamePath:   filepath.Join(dir, "hostname"),
		HostsPath:      filepath.Join(dir, "hosts"),
		LogPath:        e.logPath(rec.ID),
		Name:           rec.Name,
		RestartCount:   rec.RestartCount,
		Driver:         rec.Driver,
		Platform:       "linux",
		ExecIDs:        execIDs,
		HostConfig:     rec.HostConfig,
		GraphDriver: &storage.DriverData{Name: rec.Driver, Data: map[string]string{
			"MergedDir": e.rootfsDir(rec.ID),
		}},
		Mounts:          mountPoints(rec.Mounts),
		Config:          rec.Config,
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}},
	}
	if rec.HostConfig.LogConfig.Type == "none" {
		out.LogPath = ""
	}
	e.networkSettings(&rec, out.NetworkSettings)
	if st.Pid > 0 && rec.HostConfig.NetworkMode.IsNone() {
		out.NetworkSettings.SandboxKey = fmt.Sprintf("/proc/%d/ns/net", st.Pid)
	}
	return out, nil
}

func mountPoints(mps []MountPoint) []container.MountPoint {
	out := []container.MountPoint{}
	for _, mp := range mps {
		m := container.MountPoint{
			Type: mounttypes.Type(mp.Type), Name: mp.Name, Source: mp.Source, Destination: mp.Destination,
			Mode: mp.Mode, RW: mp.RW, Propagation: mounttypes.Propagation(mp.Propagation),
		}
		if mp.Type == "volume" {
			m.Driver = "local"
		}
		out = append(out, m)
	}
	return out
}

// ListOptions are docker ps's options.
type ListOptions struct {
	All     bool
	Limit   int
	Size    bool
	Filters filters.Args
}

var psFilters = map[string]bool{
	"id": true, "name": true, "label": true, "status": true, "exited": true, "ancestor": true,
	"before": true, "since": true, "volume": true, "health": true, "network": true,
	"is-task": true, "publish": true, "expose": true,
}

// List returns the containers docker ps shows.
func (e *Engine) List(ctx context.Context, o ListOptions) ([]container.Summary, error) {
	f := o.Filters
	if err := f.Validate(psFilters); err != nil {
		return nil, err
	}
	for _, s := range f.Get("status") {
		switch s {
		case StatusCreated, StatusRunning, StatusPaused, StatusRestarting, StatusRemoving, StatusExited, StatusDead:
		default:
			return nil, fmt.Errorf("invalid filter 'status=%s': %w", s, errdefs.ErrInvalidArgument)
		}
	}
	var exitCodes []int
	for _, s := range f.Get("exited") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'exited=%s': %w", s, errdefs.ErrInvalidArgument)
		}
		exitCodes = append(exitCodes, n)
	}
	all := o.All || f.Contains("status") || f.Contains("exited")
	var before, since *time.Time
	for _, key := range []string{"before", "since"} {
		for _, ref := range f.Get(key) {
			c, err := e.lookup(ref)
			if err != nil {
				return nil, err
			}
			t := c.snapshot().Created
			if key == "before" {
				before = &t
			} else {
				since = &t
			}
		}
	}
	if since != nil || before != nil {
		all = true
	}
	out := []container.Summary{}
	for _, c := range e.list() {
		rec := c.snapshot()
		running := rec.State.Status == StatusRunning || rec.State.Status == StatusPaused || rec.State.Status == StatusRestarting
		if !all && !running {
			continue
		}
		if !e.matchContainer(ctx, &rec, f, exitCodes) {
			continue
		}
		if before != nil && !rec.Created.Before(*before) {
			continue
		}
		if since != nil && !rec.Created.After(*since) {
			continue
		}
		s := e.summary(&rec)
		if o.Size {
			if img, rw, err := e.cfg.Images.Sizes(ctx, rec.ImageID, rec.ID); err == nil {
				s.SizeRw, s.SizeRootFs = rw, img+rw
			}
		}
		out = append(out, s)
		if o.Limit > 0 && len(out) >= o.Limit {
			break
		}
	}
	return out, nil
}

func (e *Engine) matchContainer(ctx context.Context, rec *record, f filters.Args, exitCodes []int) bool {
	if ids := f.Get("id"); len(ids) > 0 {
		ok := false
		for _, id := range ids {
			ok = ok || strings.HasPrefix(rec.ID, id)
		}
		if !ok {
			return false
		}
	}
	if names := f.Get("name"); len(names) > 0 {
		if !f.Match("name", strings.TrimPrefix(rec.Name, "/")) && !f.Match("name", rec.Name) {
			return false
		}
	}
	if !f.MatchKVList("label", rec.Config.Labels) {
		return false
	}
	if !f.ExactMatch("status", rec.State.Status) {
		return false
	}
	if len(exitCodes) > 0 {
		if rec.State.Status != StatusExited {
			return false
		}
		ok := false
		for _, n := range exitCodes {
			ok = ok || n == rec.State.ExitCode
		}
		if !ok {
			return false
		}
	}
	if refs := f.Get("ancestor"); len(refs) > 0 {
		ok := false
		for _, r := range refs {
			if img, err := e.cfg.Images.Get(ctx, r); err == nil && img.ID.String() == rec.ImageID {
				ok = true
			}
			ok = ok || r == rec.Config.Image
		}
		if !ok {
			return false
		}
	}
	if vols := f.Get("volume"); len(vols) > 0 {
		ok := false
		for _, v := range vols {
			for _, mp := range rec.Mounts {
				ok = ok || mp.Name == v || mp.Destination == v || mp.Source == v
			}
		}
		if !ok {
			return false
		}
	}
	if hs := f.Get("health"); len(hs) > 0 {
		status := string(container.NoHealthcheck)
		if rec.State.Health != nil {
			status = string(rec.State.Health.Status)
		}
		if !f.ExactMatch("health", status) {
			return false
		}
	}
	if nets := f.Get("network"); len(nets) > 0 && !f.ExactMatch("network", string(rec.HostConfig.NetworkMode)) {
		return false
	}
	if f.Contains("is-task") {
		if ok, _ := f.GetBoolOrDefault("is-task", false); ok {
			return false
		}
	}
	if f.Contains("publish") || f.Contains("expose") {
		return false
	}
	return true
}

func (e *Engine) summary(rec *record) container.Summary {
	s := container.Summary{
		ID: rec.ID, Names: []string{rec.Name}, Image: rec.Config.Image, ImageID: rec.ImageID,
		Command: commandString(rec), Created: rec.Created.Unix(), Ports: e.portSummaries(rec),
		Labels: rec.Config.Labels, State: container.ContainerState(rec.State.Status),
		Status: statusString(rec), Mounts: mountPoints(rec.Mounts),
		NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{}},
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.HostConfig.NetworkMode = string(rec.HostConfig.NetworkMode)
	ns := &container.NetworkSettings{Networks: s.NetworkSettings.Networks}
	e.networkSettings(rec, ns)
	if rec.State.Health != nil {
		s.Health = &container.HealthSummary{Status: rec.State.Health.Status, FailingStreak: rec.State.Health.FailingStreak}
	}
	return s
}

// commandString is docker ps's COMMAND: arguments with spaces are
// single-quoted, as dockerd shows them.
func commandString(rec *record) string {
	parts := []string{rec.Path}
	for _, a := range rec.Args {
		if strings.ContainsAny(a, " \t\n") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// statusString is docker ps's STATUS column.
func statusString(rec *record) string {
	st := rec.State
	switch st.Status {
	case StatusRunning, StatusPaused:
		s := "Up " + humanDuration(time.Since(st.StartedAt))
		if st.Status == StatusPaused {
			s += " (Paused)"
		} else if st.Health != nil {
			switch st.Health.Status {
			case container.Starting:
				s += " (health: starting)"
			case container.Healthy:
				s += " (healthy)"
			case container.Unhealthy:
				s += " (unhealthy)"
			}
		}
		return s
	case StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, humanDuration(time.Since(st.FinishedAt)))
	case StatusRemoving:
		return "Removal In Progress"
	case StatusDead:
		return "Dead"
	case StatusCreated:
		return "Created"
	}
	if st.FinishedAt.IsZero() {
		return "Created"
	}
	return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, humanDuration(time.Since(st.FinishedAt)))
}

func humanDuration(d time.Duration) string { return units.HumanDuration(d) }
