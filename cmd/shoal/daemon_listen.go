package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	defaultHost = "unix://" + defaultSocket
	// defaultSocket is the socket of unix:// without a path.
	defaultSocket = "/run/shoal/shoal.sock"
	// defaultTLSPort is the IANA port of Docker over TLS, used when
	// tcp:// names none (the daemon never serves plain TCP, so 2375 is
	// never the default).
	defaultTLSPort = "2376"
	// defaultTCPHost is where tcp:// without a host listens, and where a
	// daemon with --tlsverify and no -H listens (dockerd's defaults).
	defaultTCPHost = "localhost"
)

// noTCPWithoutAuth is the reason behind every refusal to serve TCP
// without client certificates.
const noTCPWithoutAuth = "Shoal never serves TCP without client authentication: " +
	"give --tlsverify with --tlscacert, --tlscert and --tlskey (or \"tlsverify\", \"tlscacert\", \"tlscert\" and \"tlskey\" in the config file)"

// listenAddr is one address the daemon listens on: "unix" with an absolute
// socket path, or "tcp" with host:port.
type listenAddr struct {
	proto, addr string
}

func (h listenAddr) String() string { return h.proto + "://" + h.addr }

// parseListenAddr reads one -H value as dockerd does: unix:///PATH (unix://
// alone is the default socket), tcp://HOST:PORT (host defaults to
// localhost, port to 2376), or HOST:PORT with no scheme, meaning tcp.
func parseListenAddr(s string) (listenAddr, error) {
	s = strings.TrimSpace(s)
	proto, addr, ok := strings.Cut(s, "://")
	if !ok {
		proto, addr = "tcp", s
	}
	switch proto {
	case "unix":
		if addr == "" {
			addr = defaultSocket
		}
		if !filepath.IsAbs(addr) {
			return listenAddr{}, fmt.Errorf("invalid bind address (%s): the socket path must be absolute", s)
		}
		return listenAddr{"unix", filepath.Clean(addr)}, nil
	case "tcp":
		u, err := url.Parse("tcp://" + addr)
		if err != nil {
			return listenAddr{}, fmt.Errorf("invalid bind address (%s): %w", s, err)
		}
		if u.Path != "" || u.RawQuery != "" || u.User != nil {
			return listenAddr{}, fmt.Errorf("invalid bind address (%s): want tcp://HOST:PORT", s)
		}
		host, port := u.Hostname(), u.Port()
		if host == "" {
			host = defaultTCPHost
		}
		if port == "" {
			port = defaultTLSPort
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return listenAddr{}, fmt.Errorf("invalid bind address (%s): invalid port: %s", s, port)
		}
		return listenAddr{"tcp", net.JoinHostPort(host, port)}, nil
	case "fd":
		return listenAddr{}, fmt.Errorf("invalid bind address (%s): systemd socket activation (fd://) is not supported", s)
	default:
		return listenAddr{}, fmt.Errorf("invalid bind address (%s): unsupported proto '%s'", s, proto)
	}
}

// listenPlan is what the daemon will listen on, checked before anything
// is touched.
type listenPlan struct {
	hosts []listenAddr
	// tls is the server configuration of the TCP listeners; nil when
	// there are none and TLS was not asked for.
	tls *tls.Config
}

// planListeners checks the hosts and the TLS settings of cfg: TCP only
// with --tlsverify and its three files, and --tls never without
// --tlsverify, whatever the hosts.
func planListeners(cfg *daemonConfig) (listenPlan, error) {
	if cfg.TLS && !cfg.TLSVerify {
		return listenPlan{}, fmt.Errorf("--tls without --tlsverify would serve TCP without checking client certificates: %s",
			noTCPWithoutAuth)
	}
	hosts := cfg.Hosts
	if len(hosts) == 0 {
		hosts = []string{defaultHost}
		if cfg.TLSVerify {
			// As dockerd: TLS with no host asked for means the TLS port.
			hosts = []string{"tcp://" + net.JoinHostPort(defaultTCPHost, defaultTLSPort)}
		}
	}
	var p listenPlan
	seen := map[listenAddr]bool{}
	tcp := false
	for _, h := range hosts {
		a, err := parseListenAddr(h)
		if err != nil {
			return listenPlan{}, err
		}
		if seen[a] {
			return listenPlan{}, fmt.Errorf("-H %s: %s is given twice", h, a)
		}
		seen[a] = true
		if a.proto == "tcp" && !cfg.TLSVerify {
			return listenPlan{}, fmt.Errorf("-H %s: %s", h, noTCPWithoutAuth)
		}
		tcp = tcp || a.proto == "tcp"
		p.hosts = append(p.hosts, a)
	}
	if cfg.TLSVerify || tcp {
		c, err := serverTLSConfig(cfg.TLSCACert, cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return listenPlan{}, err
		}
		p.tls = c
	}
	return p, nil
}

// serverTLSConfig is the configuration of the TCP listeners: TLS 1.2 or
// newer, the server's certificate from certFile and keyFile, and a
// client certificate required and verified against the CAs in caFile.
// HTTP/1.1 only: attach and exec take the connection over, which HTTP/2
// cannot do.
func serverTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	var missing []string
	for _, f := range []struct{ flag, val string }{{"--tlscacert", caFile}, {"--tlscert", certFile}, {"--tlskey", keyFile}} {
		if f.val == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("--tlsverify needs --tlscacert, --tlscert and --tlskey: %s missing",
			strings.Join(missing, ", "))
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("invalid TLS configuration: load --tlscert %s and --tlskey %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("invalid TLS configuration: read --tlscacert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("invalid TLS configuration: --tlscacert %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// listen opens one listener of the plan. The caller removes the socket
// of a unix listener it made when done.
func (p listenPlan) listen(h listenAddr) (net.Listener, error) {
	switch h.proto {
	case "unix":
		return listenUnix(h.addr)
	case "tcp":
		if p.tls == nil || p.tls.ClientAuth != tls.RequireAndVerifyClientCert {
			// planListeners never lets this happen; the check keeps it so.
			return nil, fmt.Errorf("listen on %s: %s", h, noTCPWithoutAuth)
		}
		l, err := net.Listen("tcp", h.addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", h, err)
		}
		return tls.NewListener(l, p.tls), nil
	}
	return nil, fmt.Errorf("listen on %s: unsupported proto", h)
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
