package api

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/api/types"
	"github.com/shoal-dev/shoal/internal/engine"
)

// ping answers HEAD and GET /_ping as dockerd does: "OK" and the headers
// clients negotiate with.
func (s *server) ping(_ context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	h := w.Header()
	h.Set("API-Version", MaxAPIVersion)
	h.Set("OSType", "linux")
	h.Set("Docker-Experimental", "false")
	h.Set("Builder-Version", "1")
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	_, err := w.Write([]byte("OK"))
	return err
}

func (s *server) version(_ context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion) error {
	kernel := kernelVersion()
	v := types.Version{
		Platform: types.Platform{Name: "Shoal"},
		Components: []types.ComponentVersion{{
			Name:    "Engine",
			Version: s.cfg.Version,
			Details: map[string]string{
				"ApiVersion":    MaxAPIVersion,
				"MinAPIVersion": MinAPIVersion,
				"GitCommit":     s.cfg.GitCommit,
				"GoVersion":     runtime.Version(),
				"Os":            runtime.GOOS,
				"Arch":          runtime.GOARCH,
				"KernelVersion": kernel,
				"BuildTime":     s.cfg.BuildTime,
				"Experimental":  "false",
			},
		}},
		Version:       s.cfg.Version,
		APIVersion:    MaxAPIVersion,
		MinAPIVersion: MinAPIVersion,
		GitCommit:     s.cfg.GitCommit,
		GoVersion:     runtime.Version(),
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		KernelVersion: kernel,
		BuildTime:     s.cfg.BuildTime,
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *server) info(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion) error {
	rows, err := s.images.List(ctx)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, r := range rows {
		ids[r.ID.String()] = true
	}
	name, _ := os.Hostname()
	info := types.Info{
		ID:              s.cfg.ID,
		Images:          len(ids),
		Driver:          s.images.Snapshotter(),
		OperatingSystem: operatingSystem(),
		OSType:          runtime.GOOS,
		Architecture:    machine(),
		NCPU:            runtime.NumCPU(),
		MemTotal:        memTotal(),
		DockerRootDir:   s.cfg.DataRoot,
		ServerVersion:   s.cfg.Version,
		KernelVersion:   kernelVersion(),
		Name:            name,
		Swarm:           types.Swarm{LocalNodeState: "inactive"},
		LoggingDriver:   "json-file",
		CgroupDriver:    "cgroupfs",
		CgroupVersion:   cgroupVersion(),
	}
	if s.containers != nil {
		list, err := s.containers.List(ctx, engine.ListOptions{All: true})
		if err != nil {
			return err
		}
		for _, c := range list {
			info.Containers++
			switch c.State {
			case "running":
				info.ContainersRunning++
			case "paused":
				info.ContainersPaused++
			default:
				info.ContainersStopped++
			}
		}
		if rb, ok := s.containers.(interface {
			RuntimeNames() ([]string, string)
		}); ok {
			names, def := rb.RuntimeNames()
			info.Runtimes = map[string]types.Runtime{}
			for _, n := range names {
				info.Runtimes[n] = types.Runtime{Path: n}
			}
			info.DefaultRuntime = def
		}
	}
	return writeJSON(w, http.StatusOK, info)
}

// cgroupVersion is "2" on a unified host, "1" otherwise (legacy and
// hybrid), as dockerd reports it.
func cgroupVersion() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}

func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(v)
}
