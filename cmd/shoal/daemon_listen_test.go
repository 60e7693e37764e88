package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseListenAddr(t *testing.T) {
	tests := []struct {
		in   string
		want listenAddr
		err  string
	}{
		{in: "unix:///run/x.sock", want: listenAddr{"unix", "/run/x.sock"}},
		{in: "unix:///run//x.sock", want: listenAddr{"unix", "/run/x.sock"}},
		{in: "unix://", want: listenAddr{"unix", "/run/shoal/shoal.sock"}},
		{in: "tcp://127.0.0.1:2376", want: listenAddr{"tcp", "127.0.0.1:2376"}},
		{in: "tcp://127.0.0.1", want: listenAddr{"tcp", "127.0.0.1:2376"}},
		{in: "tcp://0.0.0.0:4000", want: listenAddr{"tcp", "0.0.0.0:4000"}},
		{in: "tcp://:4000", want: listenAddr{"tcp", "localhost:4000"}},
		{in: "tcp://", want: listenAddr{"tcp", "localhost:2376"}},
		{in: "tcp://[::1]", want: listenAddr{"tcp", "[::1]:2376"}},
		{in: "tcp://host.example:1", want: listenAddr{"tcp", "host.example:1"}},
		{in: "10.0.0.1:2376", want: listenAddr{"tcp", "10.0.0.1:2376"}},
		{in: " tcp://127.0.0.1:1 ", want: listenAddr{"tcp", "127.0.0.1:1"}},
		{in: "unix://run/x.sock", err: "must be absolute"},
		{in: "tcp://127.0.0.1:2376/path", err: "want tcp://HOST:PORT"},
		{in: "tcp://127.0.0.1:0", err: "invalid port"},
		{in: "tcp://127.0.0.1:70000", err: "invalid port"},
		{in: "tcp://127.0.0.1:http", err: "invalid"},
		{in: "fd://", err: "not supported"},
		{in: "npipe:////./pipe/docker", err: "unsupported proto 'npipe'"},
		{in: "/run/x.sock", err: "want tcp://HOST:PORT"},
	}
	for _, tt := range tests {
		got, err := parseListenAddr(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseListenAddr(%q) = %v, %v, want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseListenAddr(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestPlanListeners(t *testing.T) {
	pki := newDaemonPKI(t)
	// withTLS turns on --tlsverify with the test PKI's files where c
	// names none.
	withTLS := func(c daemonConfig) *daemonConfig {
		c.TLSVerify = true
		for _, f := range []struct {
			p *string
			v string
		}{{&c.TLSCACert, pki.caFile}, {&c.TLSCert, pki.serverCert}, {&c.TLSKey, pki.serverKey}} {
			if *f.p == "" {
				*f.p = f.v
			}
		}
		return &c
	}
	tests := []struct {
		name    string
		cfg     *daemonConfig
		want    []listenAddr
		wantTLS bool
		err     string
	}{
		{name: "default", cfg: &daemonConfig{}, want: []listenAddr{{"unix", "/run/shoal/shoal.sock"}}},
		{name: "unix", cfg: &daemonConfig{Hosts: []string{"unix:///a", "unix:///b"}}, want: []listenAddr{{"unix", "/a"}, {"unix", "/b"}}},
		{
			name: "tcp without tlsverify", cfg: &daemonConfig{Hosts: []string{"unix:///a", "tcp://127.0.0.1:1"}},
			err: "-H tcp://127.0.0.1:1: Shoal never serves TCP without client authentication",
		},
		{
			name: "tcp with only the files", cfg: &daemonConfig{Hosts: []string{"tcp://127.0.0.1:1"}, TLSCACert: pki.caFile, TLSCert: pki.serverCert, TLSKey: pki.serverKey},
			err: "never serves TCP without client authentication",
		},
		{
			name: "tls without verify", cfg: &daemonConfig{TLS: true, Hosts: []string{"unix:///a"}},
			err: "--tls without --tlsverify would serve TCP without checking client certificates: Shoal never serves TCP without client authentication",
		},
		{
			name: "tls and tlsverify=false", cfg: &daemonConfig{TLS: true, Hosts: []string{"tcp://127.0.0.1:1"}, TLSCACert: pki.caFile, TLSCert: pki.serverCert, TLSKey: pki.serverKey},
			err: "--tls without --tlsverify",
		},
		{
			name: "tlsverify without files", cfg: &daemonConfig{TLSVerify: true, TLSCert: "/c", Hosts: []string{"tcp://127.0.0.1:1"}},
			err: "--tlsverify needs --tlscacert, --tlscert and --tlskey: --tlscacert, --tlskey missing",
		},
		{
			name: "mixed", cfg: withTLS(daemonConfig{TLS: true, Hosts: []string{"unix:///a", "tcp://127.0.0.1:1", "tcp://127.0.0.1"}}),
			want: []listenAddr{{"unix", "/a"}, {"tcp", "127.0.0.1:1"}, {"tcp", "127.0.0.1:2376"}}, wantTLS: true,
		},
		{name: "tlsverify defaults to the TLS port", cfg: withTLS(daemonConfig{}), want: []listenAddr{{"tcp", "localhost:2376"}}, wantTLS: true},
		{name: "duplicate", cfg: &daemonConfig{Hosts: []string{"unix:///a", "unix:///a/"}}, err: "given twice"},
		{
			name: "key of another certificate", cfg: withTLS(daemonConfig{Hosts: []string{"tcp://127.0.0.1:1"}, TLSKey: pki.clientKey}),
			err: "invalid TLS configuration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planListeners(tt.cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("planListeners(%+v) error = %v, want %q", tt.cfg, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("planListeners(%+v): %v", tt.cfg, err)
			}
			if len(p.hosts) != len(tt.want) {
				t.Fatalf("planListeners(%+v) hosts = %v, want %v", tt.cfg, p.hosts, tt.want)
			}
			for i := range p.hosts {
				if p.hosts[i] != tt.want[i] {
					t.Errorf("planListeners(%+v) hosts = %v, want %v", tt.cfg, p.hosts, tt.want)
				}
			}
			if (p.tls != nil) != tt.wantTLS {
				t.Errorf("planListeners(%+v) TLS = %v, want %v", tt.cfg, p.tls != nil, tt.wantTLS)
			}
		})
	}
}

func TestServerTLSConfig(t *testing.T) {
	pki := newDaemonPKI(t)
	c, err := serverTLSConfig(pki.caFile, pki.serverCert, pki.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS12 || c.ClientAuth != tls.RequireAndVerifyClientCert || c.ClientCAs == nil ||
		len(c.Certificates) != 1 || strings.Join(c.NextProtos, ",") != "http/1.1" {
		t.Errorf("serverTLSConfig = min %x auth %v CAs %v certs %d protos %v", c.MinVersion, c.ClientAuth, c.ClientCAs != nil, len(c.Certificates), c.NextProtos)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ ca, cert, key, err string }{
		{notPEM, pki.serverCert, pki.serverKey, "holds no PEM certificate"},
		{"/nonexistent/ca.pem", pki.serverCert, pki.serverKey, "read --tlscacert"},
		{pki.caFile, "/nonexistent/cert.pem", pki.serverKey, "load --tlscert"},
		{pki.caFile, pki.serverCert, pki.clientKey, "load --tlscert"},
	} {
		if _, err := serverTLSConfig(tt.ca, tt.cert, tt.key); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("serverTLSConfig(%s, %s, %s) = %v, want %q", tt.ca, tt.cert, tt.key, err, tt.err)
		}
	}
}

// TestTLSListener serves HTTP on a planned TCP listener and checks who
// gets an answer: only clients with a certificate of the CA.
func TestTLSListener(t *testing.T) {
	pki := newDaemonPKI(t)
	p, err := planListeners(&daemonConfig{
		Hosts: []string{"tcp://127.0.0.1:1"}, TLSVerify: true,
		TLSCACert: pki.caFile, TLSCert: pki.serverCert, TLSKey: pki.serverKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.listen(listenAddr{"tcp", "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var serverLog strings.Builder
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Api-Version", "test")
			io.WriteString(w, "OK")
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(logWriterFunc(func(b []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return serverLog.Write(b)
		}), "", 0),
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	addr := l.Addr().String()

	// get does GET /_ping over TLS with cfg and returns the body.
	get := func(cfg *tls.Config) (string, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	good := pki.clientTLS(t, pki.clientCert, pki.clientKey)
	if body, err := get(good); err != nil || body != "OK" {
		t.Fatalf("client with a certificate: %q, %v, want OK", body, err)
	}
	if cs := tlsHandshake(t, addr, good); cs.NegotiatedProtocol != "http/1.1" && cs.NegotiatedProtocol != "" {
		t.Errorf("negotiated %q, want http/1.1", cs.NegotiatedProtocol)
	}

	noCert := pki.clientTLS(t, "", "")
	if body, err := get(noCert); err == nil {
		t.Errorf("client without a certificate got %q", body)
	}
	other := newDaemonPKI(t)
	rogue := pki.clientTLS(t, other.clientCert, other.clientKey)
	if body, err := get(rogue); err == nil {
		t.Errorf("client with a certificate of another CA got %q", body)
	}
	// The server's certificate is not a client certificate.
	server := pki.clientTLS(t, pki.serverCert, pki.serverKey)
	if body, err := get(server); err == nil {
		t.Errorf("client with a server-only certificate got %q", body)
	}
	old := pki.clientTLS(t, pki.clientCert, pki.clientKey)
	old.MaxVersion = tls.VersionTLS11
	if body, err := get(old); err == nil {
		t.Errorf("TLS 1.1 client got %q", body)
	}
	// The server turned them away for the right reasons (it logs after
	// the client has seen the failure: wait a little).
	for _, why := range []string{"client didn't provide a certificate", "certificate signed by unknown authority", "incompatible key usage"} {
		var logged string
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			logged = serverLog.String()
			mu.Unlock()
			if strings.Contains(logged, why) || time.Now().After(deadline) {
				break
			}
		}
		if !strings.Contains(logged, why) {
			t.Errorf("server log lacks %q:\n%s", why, logged)
		}
	}
	// Plain HTTP gets no API answer.
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/_ping")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || resp.Header.Get("Api-Version") != "" || string(b) == "OK" {
			t.Errorf("plain HTTP got an API answer: %s %q", resp.Status, b)
		}
	}
}

type logWriterFunc func([]byte) (int, error)

func (f logWriterFunc) Write(b []byte) (int, error) { return f(b) }

func tlsHandshake(t *testing.T, addr string, cfg *tls.Config) tls.ConnectionState {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState()
}

// daemonPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, in PEM files.
type daemonPKI struct {
	dir                   string
	ca                    *x509.Certificate
	caKey                 *ecdsa.PrivateKey
	caFile                string
	certPool              *x509.CertPool
	serverCert, serverKey string
	clientCert, clientKey string
	serial                int64
}

func newDaemonPKI(t *testing.T) *daemonPKI {
	t.Helper()
	p := &daemonPKI{dir: t.TempDir(), serial: 1}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: "shoal test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p.caKey = key
	p.caFile = p.writePEM(t, "ca.pem", "CERTIFICATE", der)
	p.certPool = x509.NewCertPool()
	p.certPool.AddCert(p.ca)
	p.serverCert, p.serverKey = p.issue(t, "server", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = p.issue(t, "client", x509.ExtKeyUsageClientAuth)
	return p
}

func (p *daemonPKI) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.writePEM(t, name+"-cert.pem", "CERTIFICATE", der), p.writePEM(t, name+"-key.pem", "EC PRIVATE KEY", kb)
}

func (p *daemonPKI) writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	f := filepath.Join(p.dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// clientTLS is a client configuration trusting the CA and presenting
// the certificate in certFile and keyFile, if any.
func (p *daemonPKI) clientTLS(t *testing.T, certFile, keyFile string) *tls.Config {
	t.Helper()
	c := &tls.Config{RootCAs: p.certPool, ServerName: "127.0.0.1"}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}
