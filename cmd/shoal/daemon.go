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
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/api"
	"github.com/shoal-dev/shoal/internal/build"
	"github.com/shoal-dev/shoal/internal/engine"
	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/metadata"
	"github.com/shoal-dev/shoal/internal/monitor"
	"github.com/shoal-dev/shoal/internal/network"
	"github.com/shoal-dev/shoal/internal/runtime/driver"
	"github.com/shoal-dev/shoal/internal/volume"
)

// The daemon's wiring checks: the concrete services fit the interfaces
// the API declares.
var (
	_ api.ImageBackend     = (*image.Service)(nil)
	_ api.NetworkBackend   = (*engine.Engine)(nil)
	_ api.ContainerBackend = (*engine.Engine)(nil)
	_ engine.Networks      = (*network.Manager)(nil)
)

// daemonFlags are the daemon's own flags; the root command's
// --data-root, --snapshotter and --insecure-registry are read from cmd.
type daemonFlags struct {
	execRoot       string
	hosts          []string
	pidfile        string
	configFile     string
	validate       bool
	logLevel       string
	tls, tlsVerify bool
	tlsCACert      string
	tlsCert        string
	tlsKey         string
	runtimes       []string
	defaultRuntime string
	cgroupParent   string
	dns            []string
	bridge         string
	bip            string
}

func newDaemonCmd() *cobra.Command {
	cmd, _ := newDaemonCmdFlags()
	return cmd
}

// newDaemonCmdFlags is `shoal daemon` and the flags it fills in.
func newDaemonCmdFlags() (*cobra.Command, *daemonFlags) {
	f := &daemonFlags{}
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "serve the Docker Engine API",
		Long: "Serve the Docker Engine API on a unix socket, so the docker CLI " +
			"(DOCKER_HOST=unix:///run/shoal/shoal.sock) can drive Shoal, and on TCP with mutual TLS only " +
			"(--tlsverify with --tlscacert, --tlscert and --tlskey). " +
			"--data-root, --snapshotter and --insecure-registry are the image verbs' flags. " +
			"The config file takes dockerd's daemon.json keys for these settings; a key may not be both there and a flag.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd)
			if err != nil {
				return err
			}
			if f.validate {
				if _, err := planListeners(cfg); err != nil {
					return err
				}
				fmt.Fprintln(os.Stderr, "configuration OK")
				return nil
			}
			return runDaemon(cmd.Context(), cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.execRoot, "exec-root", "/run/shoal", "where the daemon keeps its runtime state")
	fl.StringArrayVarP(&f.hosts, "host", "H", nil, "where to listen: unix:///PATH or tcp://HOST[:PORT] (TCP needs --tlsverify; default "+defaultHost+"); may repeat")
	fl.StringVar(&f.pidfile, "pidfile", "", "the daemon's pid file (default <exec-root>/shoal.pid)")
	fl.StringVar(&f.configFile, "config-file", defaultConfigFile, "daemon.json with dockerd's keys (may be missing unless given)")
	fl.BoolVar(&f.validate, "validate", false, "check the configuration and exit")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.BoolVar(&f.tls, "tls", false, "use TLS; refused without --tlsverify: Shoal never serves TCP without client authentication")
	fl.BoolVar(&f.tlsVerify, "tlsverify", false, "serve TCP with TLS, requiring client certificates signed by --tlscacert")
	fl.StringVar(&f.tlsCACert, "tlscacert", "", "CA certificates (PEM) that client certificates must chain to")
	fl.StringVar(&f.tlsCert, "tlscert", "", "the server's TLS certificate (PEM)")
	fl.StringVar(&f.tlsKey, "tlskey", "", "the server's TLS key (PEM)")
	fl.StringArrayVar(&f.runtimes, "add-runtime", nil, "an OCI runtime binary containers may use: NAME=PATH (e.g. runc=/usr/sbin/runc); may repeat")
	fl.StringVar(&f.defaultRuntime, "default-runtime", "shoal", "the runtime of containers that name none")
	fl.StringVar(&f.cgroupParent, "cgroup-parent", "/shoal", "the cgroup containers are made under")
	fl.StringArrayVar(&f.dns, "dns", nil, "DNS server for containers (default: the host's)")
	fl.StringVarP(&f.bridge, "bridge", "b", "shoal0", `the default bridge network's bridge; "none" for no default bridge network`)
	fl.StringVar(&f.bip, "bip", "", "the default bridge's address and subnet (CIDR, e.g. 172.17.0.1/16)")
	return cmd, f
}

// config is the daemon's configuration: the flags, then the config file
// merged in.
func (f *daemonFlags) config(cmd *cobra.Command) (*daemonConfig, error) {
	runtimes, err := parseRuntimeFlags(f.runtimes)
	if err != nil {
		return nil, err
	}
	cfg := &daemonConfig{
		DataRoot: flagValue(cmd, "data-root", "/var/lib/shoal"), ExecRoot: f.execRoot,
		Hosts: f.hosts, Pidfile: f.pidfile, LogLevel: f.logLevel,
		TLS: f.tls, TLSVerify: f.tlsVerify, TLSCACert: f.tlsCACert, TLSCert: f.tlsCert, TLSKey: f.tlsKey,
		InsecureRegistries: flagList(cmd, "insecure-registry"), Runtimes: runtimes,
		DefaultRuntime: f.defaultRuntime, DNS: f.dns, CgroupParent: f.cgroupParent,
		Snapshotter: flagValue(cmd, "snapshotter", ""), Bridge: f.bridge, BIP: f.bip,
	}
	lookup := func(name string) (string, bool) {
		fl := cmd.Flag(name)
		if fl == nil || !fl.Changed {
			return "", false
		}
		if sv, ok := fl.Value.(interface{ GetSlice() []string }); ok {
			return fmt.Sprint(sv.GetSlice()), true
		}
		return fl.Value.String(), true
	}
	if err := mergeConfigFile(cfg, f.configFile, cmd.Flags().Changed("config-file"), lookup); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
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

func runDaemon(ctx context.Context, cfg *daemonConfig) error {
	level, err := daemonLogLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	handler := slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	log := slog.New(handler)

	plan, err := planListeners(cfg)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(cfg.DataRoot)
	if err != nil {
		return err
	}
	execRoot, err := filepath.Abs(cfg.ExecRoot)
	if err != nil {
		return err
	}
	pidFile := filepath.Join(execRoot, "shoal.pid")
	if cfg.Pidfile != "" {
		if pidFile, err = filepath.Abs(cfg.Pidfile); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(execRoot, 0o700); err != nil {
		return fmt.Errorf("create exec root: %w", err)
	}
	// The pid file first: a second daemon is turned away before it
	// touches the first one's state.
	pid := os.Getpid()
	if err := writePidfile(pidFile, pid); err != nil {
		return err
	}
	defer func() {
		if err := removePidfile(pidFile, pid); err != nil {
			log.Warn("remove pid file", "path", pidFile, "err", err)
		}
	}()
	if err := os.MkdirAll(root, 0o711); err != nil {
		return fmt.Errorf("create data root: %w", err)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	db, err := metadata.Open(ctx, filepath.Join(root, "state.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := image.New(ctx, image.Config{
		Root: root, Snapshotter: cfg.Snapshotter, InsecureRegistries: cfg.InsecureRegistries,
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
	nets, err := openNetworks(ctx, cfg, root, execRoot, id, log)
	if err != nil {
		return err
	}
	defer nets.Close()
	eng, vols, err := openEngine(ctx, cfg, root, execRoot, svc, nets, log)
	if err != nil {
		return err
	}
	defer vols.Close()
	defer eng.Close()
	buildBackend, err := build.NewEngineBackend(eng, svc, root)
	if err != nil {
		return err
	}
	builder, err := build.New(build.Config{Root: filepath.Join(root, "build"), Backend: buildBackend, Log: log.With("component", "build")})
	if err != nil {
		return err
	}
	defer builder.Close()

	// Only the sockets this daemon created are removed on the way out:
	// never one it refused to replace because another daemon owns it.
	var listeners []net.Listener
	var created []string
	defer func() {
		for _, l := range listeners {
			l.Close() // unlinks a unix socket
		}
		for _, p := range created {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				log.Warn("remove socket", "path", p, "err", err)
			}
		}
	}()
	var hosts []string
	for _, h := range plan.hosts {
		l, err := plan.listen(h)
		if err != nil {
			return err
		}
		listeners = append(listeners, l)
		if h.proto == "unix" {
			created = append(created, h.addr)
		}
		hosts = append(hosts, h.String())
	}

	commit, built := buildInfo()
	srv := &http.Server{
		Handler: api.New(api.Config{
			Version: version, GitCommit: commit, BuildTime: built, ID: id, DataRoot: root,
		}, svc, log.With("component", "api"), api.WithContainers(eng), api.WithVolumes(vols), api.WithNetworks(eng),
			api.WithBuilder(builder)),
		// Also the deadline of a TLS handshake.
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
	log.Info("daemon started", "version", version, "data_root", root, "exec_root", execRoot, "pidfile", pidFile,
		"hosts", hosts, "snapshotter", svc.Snapshotter(), "api_version", api.MaxAPIVersion)

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
func openEngine(ctx context.Context, cfg *daemonConfig, root, execRoot string, images *image.Service, nets *network.Manager, log *slog.Logger) (*engine.Engine, *volume.Store, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find own binary: %w", err)
	}
	mon, err := monitor.Ensure(ctx, filepath.Join(execRoot, "monitor"), exe, nil)
	if err != nil {
		return nil, nil, err
	}
	runtimes := map[string]driver.Spec{}
	for name, r := range cfg.Runtimes {
		if _, err := os.Stat(r.Path); err != nil {
			return nil, nil, fmt.Errorf("runtime %s: %w", name, err)
		}
		runtimes[name] = driver.Spec{Name: name, Path: r.Path, Args: r.Args}
	}
	vols, err := volume.Open(ctx, filepath.Join(root, "volumes"), volume.WithLogger(log.With("component", "volume")))
	if err != nil {
		return nil, nil, err
	}
	eng, err := engine.New(ctx, engine.Config{
		DataRoot: root, ExecRoot: execRoot, Images: images, Volumes: vols, Monitor: mon,
		Runtimes: runtimes, DefaultRuntime: cfg.DefaultRuntime, CgroupParent: cfg.CgroupParent,
		InitPath: exe, DNS: cfg.DNS, Networks: nets, Log: log.With("component", "engine"),
	})
	if err != nil {
		vols.Close()
		return nil, nil, err
	}
	return eng, vols, nil
}

// openNetworks opens the network manager: the default bridge (unless
// --bridge=none), the user's networks, and the embedded DNS forwarding to
// --dns or the host's resolvers.
func openNetworks(ctx context.Context, cfg *daemonConfig, root, execRoot, hostID string, log *slog.Logger) (*network.Manager, error) {
	var bip netip.Prefix
	if cfg.BIP != "" {
		p, err := netip.ParsePrefix(cfg.BIP)
		if err != nil {
			return nil, fmt.Errorf("invalid --bip %q: %w", cfg.BIP, err)
		}
		bip = p
	}
	upstreams, err := dnsUpstreams(cfg.DNS)
	if err != nil {
		return nil, err
	}
	return network.New(ctx, network.Config{
		Root: filepath.Join(root, "network"), ExecRoot: execRoot, Table: "shoal",
		DefaultBridge: cfg.Bridge, DefaultBridgeIP: bip, Upstreams: upstreams, HostID: hostID,
		Log: log.With("component", "network"),
	})
}

// dnsUpstreams is where the embedded DNS forwards names it does not
// know: the daemon's --dns servers, or else the nameservers of the
// host's resolv.conf, read again at each query batch (so a changed
// resolv.conf is followed).
func dnsUpstreams(dns []string) (func() []netip.AddrPort, error) {
	var fixed []netip.AddrPort
	for _, d := range dns {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, fmt.Errorf("invalid --dns %q: %w", d, err)
		}
		fixed = append(fixed, netip.AddrPortFrom(a, 53))
	}
	if len(fixed) > 0 {
		return func() []netip.AddrPort { return fixed }, nil
	}
	return func() []netip.AddrPort {
		data, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			return nil
		}
		var out []netip.AddrPort
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "nameserver" {
				if a, err := netip.ParseAddr(f[1]); err == nil {
					out = append(out, netip.AddrPortFrom(a, 53))
				}
			}
		}
		return out
	}, nil
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
