package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/shoal-dev/shoal/internal/filters"
)

// ContainerExtraBackend is the rest of the container endpoints.
type ContainerExtraBackend interface {
	Top(ctx context.Context, ref, psArgs string) (container.TopResponse, error)
	Stats(ctx context.Context, ref string) (container.StatsResponse, error)
	Changes(ctx context.Context, ref string) ([]container.FilesystemChange, error)
	Export(ctx context.Context, ref string, w io.Writer) error
	Update(ctx context.Context, ref string, u container.UpdateConfig) ([]string, error)
	StatPath(ctx context.Context, ref, path string) (container.PathStat, error)
	ArchivePath(ctx context.Context, ref, path string, header func(container.PathStat) io.Writer) error
	ExtractToPath(ctx context.Context, ref, path string, r io.Reader, noOverwriteDirNonDir, copyUIDGID bool) error
	Prune(ctx context.Context, f filters.Args) (container.PruneReport, error)
}

func (s *server) extra() ContainerExtraBackend {
	return s.containers.(ContainerExtraBackend)
}

func (s *server) topContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	top, err := s.extra().Top(ctx, id, r.URL.Query().Get("ps_args"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, top)
}

// containerStats answers one sample (stream=false: with the previous
// sample a second earlier, so the CLI can compute CPU%), or a sample a
// second while the client listens.
func (s *server) containerStats(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	stream := true
	if v := r.URL.Query().Get("stream"); v != "" {
		stream = boolParam(r, "stream")
	}
	oneShot := boolParam(r, "one-shot")
	prev, err := s.extra().Stats(ctx, id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	if !stream && oneShot {
		return enc.Encode(prev)
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := s.extra().Stats(ctx, id)
		if err != nil {
			return nil
		}
		cur.PreCPUStats, cur.PreRead = prev.CPUStats, prev.Read
		if err := enc.Encode(cur); err != nil {
			return nil
		}
		_ = rc.Flush()
		if !stream {
			return nil
		}
		prev = cur
	}
}

func (s *server) containerChanges(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, id string) error {
	ch, err := s.extra().Changes(ctx, id)
	if err != nil {
		return err
	}
	if ch == nil {
		ch = []container.FilesystemChange{}
	}
	return writeJSON(w, http.StatusOK, ch)
}

func (s *server) exportContainer(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ apiVersion, id string) error {
	lw := &lazyHeader{w: w, contentType: "application/x-tar"}
	return s.extra().Export(ctx, id, lw)
}

// lazyHeader sends the 200 with the first byte, so an error before it
// is still an error answer.
type lazyHeader struct {
	w           http.ResponseWriter
	contentType string
	started     bool
}

func (l *lazyHeader) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", l.contentType)
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}

func (s *server) updateContainer(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	var u container.UpdateConfig
	if err := decodeBody(r, &u); err != nil {
		return err
	}
	warnings, err := s.extra().Update(ctx, id, u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, container.UpdateResponse{Warnings: warnings})
}

func pathStatHeader(st container.PathStat) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", invalidf("path cannot be empty")
	}
	return p, nil
}

func (s *server) statArchive(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	st, err := s.extra().StatPath(ctx, id, p)
	if err != nil {
		return err
	}
	h, err := pathStatHeader(st)
	if err != nil {
		return err
	}
	w.Header().Set("X-Docker-Container-Path-Stat", h)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *server) getArchive(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	var herr error
	lw := &lazyHeader{w: w, contentType: "application/x-tar"}
	err = s.extra().ArchivePath(ctx, id, p, func(st container.PathStat) io.Writer {
		h, err := pathStatHeader(st)
		if err != nil {
			herr = err
		}
		w.Header().Set("X-Docker-Container-Path-Stat", h)
		return lw
	})
	if herr != nil {
		return herr
	}
	if err != nil && !lw.started {
		return err
	}
	if !lw.started {
		_, _ = lw.Write(nil)
	}
	return nil
}

func (s *server) putArchive(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion, id string) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	if err := s.extra().ExtractToPath(ctx, id, p, r.Body, boolParam(r, "noOverwriteDirNonDir"), boolParam(r, "copyUIDGID")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *server) pruneContainers(ctx context.Context, w http.ResponseWriter, r *http.Request, _ apiVersion) error {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	rep, err := s.extra().Prune(ctx, f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}
