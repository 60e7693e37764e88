package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/api"
	"github.com/shoal-dev/shoal/internal/engine"
	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/metadata"
	"github.com/shoal-dev/shoal/internal/monitor"
	"github.com/shoal-dev/shoal/internal/runtime/driver"
	"github.com/shoal-dev/shoal/internal/volume"
)

// The daemon's wiring checks: the concrete services fit the interfaces
// the API declares.
var _ api.ImageBackend = (*image.Service)(nil)

const defaultHost = "unix:///run/shoal/shoal.sock"

type daemonFlags struct {
	execRoot       string
	hosts          []string
	logLevel       string
	runtimes       []string
	defaultRuntime string
	cgroupParent   string
	dns            []string
}

func newDaemonCmd() *cobra.Command {
	f := &daemonFlags{}
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "serve the Docker Engine API",
		Long: "Serve the Docker Engine API on a unix socket, so the docker CLI " +
			"(DOCKER_HOST=unix:///run/shoal/shoal.sock) can drive Shoal. " +
			"--data-root, --snapshotter and --insecure-registry are the image verbs' flags.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), f, flagValue(cmd, "data-root", "/var/lib/shoal"),
				flagValue(cmd, "snapshotter", ""), flagList(cmd, "insecure-registry"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.execRoot, "exec-root", "/run/shoal", "where the daemon keeps its runtime state (pid file)")
	fl.StringArrayVarP(&f.hosts, "host", "H", nil, "socket to listen on: unix:///PATH (default "+defaultHost+"); may repeat")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringArrayVar(&f.runtimes, "add-runtime", nil, "an OCI runtime binary containers may use: NAME=PATH (e.g. runc=/usr/sbin/runc); may repeat")
	fl.StringVar(&f.defaultRuntime, "default-runtime", "shoal", "the runtime of containers that name none")
	fl.StringVar(&f.cgroupParent, "cgroup-parent", "/shoal", "the cgroup containers are made under")
	fl.StringArrayVar(&f.dns, "dns", nil, "DNS server for containers (default: the host's)")
	return cmd
}

// flagValue reads a flag the root command declares (the image verbs'
// persistent flags), or def if there is none.
func flagValue(cmd *cobra.Command, name, def string) string {
	if fl := cmd.Flag(name); fl != nil {
		return fl.Value.String()
	}
	return def
}

func flagList(cmd *cobra.Command, name string) []string {
	fl := cmd.Flag(name)
	if fl == nil {
		return nil
	}
	if sv, ok := fl.Value.(interface{ GetSlice() []string }); ok {
		return sv.GetSlice()
	}
	return nil
}

// socketPaths checks the -H values: unix sockets only, for now.
func socketPaths(hosts []string) ([]string, error) {
	if len(hosts) == 0 {
		hosts = []string{defaultHost}
	}
	var paths []string
	for _, h := range hosts {
		proto, addr, ok := strings.Cut(h, "://")
		if !ok {
			return nil, fmt.Errorf("-H %s: want unix:///PATH", h)
		}
		switch proto {
		case "unix":
			if !filepath.IsAbs(addr) {
				return nil, fmt.Errorf("-H %s: the socket path must be absolute", h)
			}
			paths = append(paths, filepath.Clean(addr))
		case "tcp":
			return nil, fmt.Errorf("-H %s: TCP needs --tlsverify: not supported yet", h)
		default:
			return nil, fmt.Errorf("-H %s: protocol %q is not supported (want unix://)", h, proto)
		}
	}
	return paths, nil
}

func runDaemon(ctx context.Context, f *daemonFlags, dataRoot, snapshotter string, insecure []string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", f.logLevel, err)
	}
	handler := slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	log := slog.New(handler)

	paths, err := socketPaths(f.hosts)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(dataRoot)
	if err != nil {
		return err
	}
	execRoot, err := filepath.Abs(f.execRoot)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return fmt.Errorf("create data root: %w", err)
	}
	if err := os.MkdirAll(execRoot, 0o700); err != nil {
		return fmt.Errorf("create exec root: %w", err)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	db, err := metadata.Open(ctx, filepath.Join(root, "state.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := image.New(ctx, image.Config{
		Root: root, Snapshotter: snapshotter, InsecureRegistries: insecure,
		Logger: log.With("component", "image"),
	}, db)
	if err != nil {
		return err
	}
	defer svc.Close()
	id, err := engineID(root)
	if err != nil {
		return err
	}
	eng, vols, err := openEngine(ctx, f, root, execRoot, svc, log)
	if err != nil {
		return err
	}
	defer vols.Close()
	defer eng.Close()

	pidFile := filepath.Join(execRoot, "shoal.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	defer os.Remove(pidFile)

	// Only the sockets this daemon created are removed on the way out:
	// never one it refused to replace because another daemon owns it.
	var listeners []net.Listener
	var created []string
	defer func() {
		for _, l := range listeners {
			l.Close() // unlinks the socket
		}
		for _, p := range created {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				log.Warn("remove socket", "path", p, "err", err)
			}
		}
	}()
	for _, p := range paths {
		l, err := listenUnix(p)
		if err != nil {
			return err
		}
		listeners = append(listeners, l)
		created = append(created, p)
	}

	commit, built := buildInfo()
	srv := &http.Server{
		Handler: api.New(api.Config{
			Version: version, GitCommit: commit, BuildTime: built, ID: id, DataRoot: root,
		}, svc, log.With("component", "api"), api.WithContainers(eng), api.WithVolumes(vols)),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(handler.WithAttrs([]slog.Attr{slog.String("component", "http")}), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, len(listeners))
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", l.Addr(), err)
			}
		}()
	}
	log.Info("daemon started", "version", version, "data_root", root, "exec_root", execRoot,
		"sockets", paths, "snapshotter", svc.Snapshotter(), "api_version", api.MaxAPIVersion)

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("daemon stopping", "reason", context.Cause(ctx).Error())
	case serveErr = <-errc:
		log.Error("daemon stopping", "err", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at shutdown: closing them", "err", err)
		srv.Close()
	}
	wg.Wait()
	log.Info("daemon stopped")
	return serveErr
}

// openEngine starts (or finds) the monitor and opens the volumes and the
// container engine.
func openEngine(ctx context.Context, f *daemonFlags, root, execRoot string, images *image.Service, log *slog.Logger) (*engine.Engine, *volume.Store, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find own binary: %w", err)
	}
	mon, err := monitor.Ensure(ctx, filepath.Join(execRoot, "monitor"), exe, nil)
	if err != nil {
		return nil, nil, err
	}
	runtimes := map[string]driver.Spec{}
	for _, r := range f.runtimes {
		name, path, ok := strings.Cut(r, "=")
		if !ok || name == "" || path == "" {
			return nil, nil, fmt.Errorf("--add-runtime %q: want NAME=PATH", r)
		}
		if name == "shoal" {
			return nil, nil, fmt.Errorf("--add-runtime %q: the name shoal is Shoal's own runtime", r)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("--add-runtime %s: %w", r, err)
		}
		runtimes[name] = driver.Spec{Name: name, Path: path}
	}
	vols, err := volume.Open(ctx, filepath.Join(root, "volumes"), volume.WithLogger(log.With("component", "volume")))
	if err != nil {
		return nil, nil, err
	}
	eng, err := engine.New(ctx, engine.Config{
		DataRoot: root, ExecRoot: execRoot, Images: images, Volumes: vols, Monitor: mon,
		Runtimes: runtimes, DefaultRuntime: f.defaultRuntime, CgroupParent: f.cgroupParent,
		InitPath: exe, DNS: f.dns, Log: log.With("component", "engine"),
	})
	if err != nil {
		vols.Close()
		return nil, nil, err
	}
	return eng, vols, nil
}

// listenUnix listens on path with mode 0660, replacing a stale socket
// (one nothing listens on) but never a live one or another kind of file.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("listen on %s: a file that is not a socket is in the way", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on %s: another daemon is listening there", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("listen on %s: probe existing socket: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The umask makes the socket 0660 from its creation: no window in
	// which others may connect. Nothing else runs yet to be affected.
	old := unix.Umask(0o117)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return l, nil
}

// engineID is the daemon's identity, kept in <data-root>/engine-id: a
// random UUID made the first time.
func engineID(root string) (string, error) {
	p := filepath.Join(root, "engine-id")
	if b, err := os.ReadFile(p); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read engine id: %w", err)
	}
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", err
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	id := fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write engine id: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("write engine id: %w", err)
	}
	return id, nil
}

// buildInfo is the VCS commit and time the binary was built from, if Go
// recorded them.
func buildInfo() (commit, built string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ""
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
			if len(commit) > 7 {
				commit = commit[:7]
			}
		case "vcs.time":
			built = s.Value
		}
	}
	return commit, built
}
