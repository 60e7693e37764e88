package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/events"
	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/image/transfer"
	"github.com/shoal-dev/shoal/internal/monitor"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/runtime/driver"
	"github.com/shoal-dev/shoal/internal/volume"
)

// Images is what the engine needs of the image service.
type Images interface {
	Get(ctx context.Context, nameOrID string) (image.Image, error)
	RootFS(ctx context.Context, nameOrID, key string) ([]mount.Mount, error)
	Mounts(ctx context.Context, key string) ([]mount.Mount, error)
	RemoveRootFS(ctx context.Context, key string) error
	Commit(ctx context.Context, parent, name string, layerTar io.Reader, opts transfer.CommitOpts) (image.Image, error)
	Sizes(ctx context.Context, nameOrID, key string) (image, rw int64, err error)
	Snapshotter() string
}

// Config configures an Engine.
type Config struct {
	// DataRoot holds containers.db and containers/<id>/ (logs, hosts
	// files, the mounted root filesystem).
	DataRoot string
	// ExecRoot holds the bundles and the runtimes' state.
	ExecRoot string
	Images   Images
	Volumes  *volume.Store
	Events   *events.Bus
	Monitor  *monitor.Client
	// Runtimes are the runtimes by name besides Shoal's own ("shoal",
	// always there); DefaultRuntime names the default.
	Runtimes       map[string]driver.Spec
	DefaultRuntime string
	// CgroupParent is the cgroup containers are made under ("/shoal").
	CgroupParent string
	// InitPath is the binary mounted as /sbin/docker-init for --init.
	InitPath string
	// DNS servers for containers' resolv.conf ("" = the host's).
	DNS []string
	// Networks builds containers' network stacks (nil: only the none,
	// host and container: modes).
	Networks Networks
	Log      *slog.Logger
}

// Engine runs the containers of one host.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	store *store

	mu     sync.RWMutex
	byID   map[string]*ctr
	byName map[string]string // "/name" -> id
	execs  map[string]*execRecord

	runtimes map[string]driver.Runtime
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New opens the engine's store and reconciles its containers with the
// monitor.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = "/shoal"
	}
	if cfg.Events == nil {
		cfg.Events = events.New(256)
	}
	for _, d := range []string{filepath.Join(cfg.DataRoot, "containers"), filepath.Join(cfg.ExecRoot, "containers"), filepath.Join(cfg.ExecRoot, "runtime")} {
		if err := os.MkdirAll(d, 0o710); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	st, err := openStore(filepath.Join(cfg.DataRoot, "containers.db"))
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg: cfg, log: cfg.Log, store: st,
		byID: map[string]*ctr{}, byName: map[string]string{}, execs: map[string]*execRecord{},
		runtimes: map[string]driver.Runtime{},
	}
	specs := map[string]driver.Spec{"shoal": {Name: "shoal"}}
	for name, s := range cfg.Runtimes {
		s.Name = name
		specs[name] = s
	}
	for name, s := range specs {
		s.Root = filepath.Join(cfg.ExecRoot, "runtime", name)
		rt, err := driver.New(s)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("runtime %s: %w", name, err)
		}
		e.runtimes[name] = rt
		specs[name] = s
	}
	e.cfg.Runtimes = specs
	if e.cfg.DefaultRuntime == "" {
		e.cfg.DefaultRuntime = "shoal"
	}
	if _, ok := specs[e.cfg.DefaultRuntime]; !ok {
		st.close()
		return nil, fmt.Errorf("default runtime %q is not configured: %w", e.cfg.DefaultRuntime, errdefs.ErrInvalidArgument)
	}
	recs, err := st.all(func(id string, err error) {
		e.log.Error("container record unreadable; kept as is", "id", id, "err", err)
	})
	if err != nil {
		st.close()
		return nil, err
	}
	for _, r := range recs {
		c := newCtr(r)
		e.byID[r.ID] = c
		e.byName[r.Name] = r.ID
	}
	ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.collectOrphans(ctx)
	// Network stacks first: running containers get their ports and DNS
	// back; the stacks of those that died while the daemon was down go
	// with their exit, which reconcile handles.
	if e.cfg.Networks != nil {
		running := func(id string) bool {
			c, err := e.lookup(id)
			if err != nil {
				return false
			}
			st := c.snapshot().State.Status
			return st == StatusRunning || st == StatusPaused || st == StatusRestarting
		}
		if err := e.cfg.Networks.Restore(ctx, running); err != nil {
			e.log.Warn("restore network stacks", "err", err)
		}
	}
	if err := e.reconcile(ctx); err != nil {
		e.cancel()
		st.close()
		return nil, err
	}
	return e, nil
}

// Close stops the engine's background work. Containers keep running.
func (e *Engine) Close() error {
	e.cancel()
	e.wg.Wait()
	return e.store.close()
}

// Events is the engine's event bus.
func (e *Engine) Events() *events.Bus { return e.cfg.Events }

// lookup finds a container by full id, name or unique id prefix, as
// Docker does.
func (e *Engine) lookup(ref string) (*ctr, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if c, ok := e.byID[ref]; ok {
		return c, nil
	}
	name := ref
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if id, ok := e.byName[name]; ok {
		return e.byID[id], nil
	}
	if ref != "" && isHexString(ref) {
		var found *ctr
		for id, c := range e.byID {
			if strings.HasPrefix(id, ref) {
				if found != nil {
					return nil, fmt.Errorf("multiple IDs found with provided prefix: %s: %w", ref, errdefs.ErrInvalidArgument)
				}
				found = c
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, noSuchContainer(ref)
}

func noSuchContainer(ref string) error {
	return fmt.Errorf("No such container: %s: %w", ref, errdefs.ErrNotFound)
}

// NotFoundError strips the class suffix for messages that must be
// exactly Docker's.
func isHexString(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// list returns the containers, newest first.
func (e *Engine) list() []*ctr {
	e.mu.RLock()
	out := make([]*ctr, 0, len(e.byID))
	for _, c := range e.byID {
		out = append(out, c)
	}
	e.mu.RUnlock()
	// Each record is read once under its lock, not at every comparison.
	created := make(map[*ctr]time.Time, len(out))
	for _, c := range out {
		c.mu.Lock()
		created[c] = c.rec.Created
		c.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return created[out[i]].After(created[out[j]]) })
	return out
}

// containerDir is the container's directory under the data root.
func (e *Engine) containerDir(id string) string {
	return filepath.Join(e.cfg.DataRoot, "containers", id)
}

func (e *Engine) bundleDir(id string) string {
	return filepath.Join(e.cfg.ExecRoot, "containers", id)
}

func (e *Engine) runtime(name string) (driver.Runtime, driver.Spec, error) {
	if name == "" {
		name = e.cfg.DefaultRuntime
	}
	rt, ok := e.runtimes[name]
	if !ok {
		return nil, driver.Spec{}, fmt.Errorf("unknown or invalid runtime name: %s: %w", name, errdefs.ErrInvalidArgument)
	}
	return rt, e.cfg.Runtimes[name], nil
}

// save persists the container's record; the caller holds c.mu.
func (e *Engine) save(ctx context.Context, c *ctr) error {
	return e.store.put(ctx, c.rec)
}

var errNotModified = errors.New("not modified")

// ErrNotModified is returned for a start of a running container or a
// stop of a stopped one: the API answers 304.
var ErrNotModified = errNotModified

func now() time.Time { return time.Now().UTC() }

// RuntimeNames lists the configured runtimes and the default one.
func (e *Engine) RuntimeNames() ([]string, string) {
	names := make([]string, 0, len(e.runtimes))
	for n := range e.runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, e.cfg.DefaultRuntime
}
