//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// TestDaemonTLS serves the API on TCP with mutual TLS next to the unix
// socket and drives it with the docker CLI; clients without a
// certificate of the CA get no answer.
func TestDaemonTLS(t *testing.T) {
	pki := newDaemonTLSFiles(t)
	addr := "127.0.0.1:" + freeTCPPort(t)
	d := startDaemonHostNet(t, "-H", "tcp://"+addr, "--tlsverify",
		"--tlscacert", pki.ca, "--tlscert", pki.serverCert, "--tlskey", pki.serverKey)
	waitFor(t, "the TCP listener", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	// The docker CLI, configured through the environment and with flags.
	viaEnv := append(d.env(), "DOCKER_HOST=tcp://"+addr, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+pki.clientDir)
	if out, code := dockerEnv(t, viaEnv, nil, "version", "--format", "{{.Server.Os}}"); code != 0 || out != "linux\n" {
		t.Fatalf("docker version over TLS (DOCKER_TLS_VERIFY): exit %d\n%s", code, out)
	}
	noTLSEnv := append(d.env(), "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=")
	flags := []string{"--tlsverify", "--tlscacert", pki.ca, "--tlscert", filepath.Join(pki.clientDir, "cert.pem"),
		"--tlskey", filepath.Join(pki.clientDir, "key.pem"), "-H", "tcp://" + addr}
	if out, code := dockerEnv(t, noTLSEnv, nil, append(flags, "info", "--format", "{{.DockerRootDir}}")...); code != 0 || out != d.data+"\n" {
		t.Errorf("docker info over TLS (flags) = exit %d %q, want %q", code, out, d.data)
	}
	// A container over TLS: attach takes the connection over, stdin
	// is half-closed at its end.
	d.busyboxImage("tlsbb")
	if out, code := dockerEnv(t, viaEnv, []byte("over tls\n"), "run", "-i", "--rm", "--network", "none", "tlsbb", "cat"); code != 0 || out != "over tls\n" {
		t.Errorf("docker run -i over TLS = exit %d %q", code, out)
	}
	// The unix socket serves as well.
	if out := d.must("version", "--format", "{{.Server.Os}}"); out != "linux\n" {
		t.Errorf("docker version over the unix socket = %q", out)
	}

	// Refused: no certificate, a certificate of another CA, the docker
	// CLI without TLS, and plain HTTP.
	good := pki.clientConfig(t, pki.clientDir)
	if body, err := tlsPing(addr, good); err != nil || body != "OK" {
		t.Fatalf("GET /_ping with a client certificate = %q, %v", body, err)
	}
	if body, err := tlsPing(addr, pki.clientConfig(t, "")); err == nil {
		t.Errorf("a client without a certificate got an answer: %q", body)
	}
	other := newDaemonTLSFiles(t)
	if body, err := tlsPing(addr, pki.clientConfig(t, other.clientDir)); err == nil {
		t.Errorf("a client with a certificate of another CA got an answer: %q", body)
	}
	plainEnv := append(d.env(), "DOCKER_HOST=tcp://"+addr, "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=")
	if out, code := dockerEnv(t, plainEnv, nil, "version", "--format", "{{.Server.Os}}"); code == 0 || strings.Contains(out, "linux") {
		t.Errorf("docker without TLS got an answer: exit %d %q", code, out)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/_ping")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || resp.Header.Get("Api-Version") != "" {
			t.Errorf("plain HTTP got an API answer: %s %q", resp.Status, b)
		}
	}
	waitFor(t, "the refusals in the daemon log", 5*time.Second, func() bool {
		return strings.Contains(d.logs.String(), "client didn't provide a certificate") &&
			strings.Contains(d.logs.String(), "certificate signed by unknown authority")
	})
}

// TestDaemonTLSRefused checks that the daemon never serves TCP without
// client authentication: it exits with an error before touching
// anything.
func TestDaemonTLSRefused(t *testing.T) {
	testutil.RequiresRoot(t)
	pki := newDaemonTLSFiles(t)
	port := freeTCPPort(t)
	files := []string{"--tlscacert", pki.ca, "--tlscert", pki.serverCert, "--tlskey", pki.serverKey}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"tcp alone", []string{"-H", "tcp://127.0.0.1:" + port},
			"shoal: -H tcp://127.0.0.1:" + port + ": Shoal never serves TCP without client authentication: give --tlsverify with --tlscacert, --tlscert and --tlskey"},
		{"tcp with a unix socket", []string{"-H", "unix:///run/shoal-never.sock", "-H", "tcp://127.0.0.1"},
			"-H tcp://127.0.0.1: Shoal never serves TCP without client authentication"},
		{"tcp with the files but no tlsverify", append([]string{"-H", "tcp://127.0.0.1:" + port}, files...),
			"Shoal never serves TCP without client authentication"},
		{"tls without tlsverify", append([]string{"--tls", "-H", "tcp://127.0.0.1:" + port}, files...),
			"--tls without --tlsverify would serve TCP without checking client certificates: Shoal never serves TCP without client authentication"},
		{"tlsverify=false", append([]string{"--tls", "--tlsverify=false", "-H", "tcp://127.0.0.1:" + port}, files...),
			"--tls without --tlsverify"},
		{"tlsverify without files", []string{"--tlsverify", "-H", "tcp://127.0.0.1:" + port},
			"--tlsverify needs --tlscacert, --tlscert and --tlskey: --tlscacert, --tlscert, --tlskey missing"},
		{"a server key that does not match", []string{"--tlsverify", "-H", "tcp://127.0.0.1:" + port,
			"--tlscacert", pki.ca, "--tlscert", pki.serverCert, "--tlskey", filepath.Join(pki.clientDir, "key.pem")},
			"invalid TLS configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			stderr, code := runDaemonToExit(t, tmp, tt.args...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("shoal daemon %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(tt.args, " "), code, stderr, tt.want)
			}
			for _, p := range []string{"data", "run", "/run/shoal-never.sock"} {
				if !filepath.IsAbs(p) {
					p = filepath.Join(tmp, p)
				}
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("refused daemon made %s (%v)", p, err)
				}
			}
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
				c.Close()
				t.Errorf("something listens on 127.0.0.1:%s", port)
			}
		})
	}
}

// TestDaemonConfigFile starts a daemon from a config file alone: its
// hosts, pidfile and roots take effect; a second daemon naming the same
// pid file is turned away.
func TestDaemonConfigFile(t *testing.T) {
	d := newConfigDaemon(t)
	pidfile := filepath.Join(d.tmp, "pids", "custom.pid")
	conf := writeDaemonJSON(t, d.tmp, map[string]any{
		"data-root": d.data, "exec-root": d.run, "hosts": []string{"unix://" + d.sock},
		"pidfile": pidfile, "cgroup-parent": d.cgroupParent, "log-level": "debug",
	})
	d.launch("daemon", "--config-file", conf)

	if out := d.must("info", "--format", "{{.DockerRootDir}}"); out != d.data+"\n" {
		t.Errorf("DockerRootDir = %q, want %q (data-root of the file)", out, d.data)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("pid file of the config file: %v", err)
	}
	if got, want := strings.TrimSpace(string(b)), strconv.Itoa(d.cmd.Process.Pid); got != want {
		t.Errorf("pid file holds %q, want the daemon's pid %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(d.run, "shoal.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the default pid file exists too (%v)", err)
	}
	if !strings.Contains(d.logs.String(), `"hosts":["unix://`+d.sock+`"]`) {
		t.Errorf("the daemon's start log does not list its host:\n%s", tail(d.logs.String(), 3000))
	}

	// Another daemon with the same pid file, on other roots and socket.
	other := t.TempDir()
	stderr, code := runDaemonToExit(t, other, "--pidfile", pidfile, "-H", "unix://"+filepath.Join(other, "o.sock"))
	want := "failed to start daemon, ensure shoal is not running or delete " + pidfile + ": process with PID " + strconv.Itoa(d.cmd.Process.Pid) + " is still running"
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("second daemon on the same pid file: exit %d %q, want exit 1 and %q", code, stderr, want)
	}
	if _, err := os.Stat(filepath.Join(other, "data")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused daemon made its data root (%v)", err)
	}

	d.stop()
	for _, p := range []string{pidfile, d.sock} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after the daemon stopped (%v)", p, err)
		}
	}
}

// TestDaemonConfigRuntimes gives a runtime through the config file, with
// arguments, as the default: containers run with it.
func TestDaemonConfigRuntimes(t *testing.T) {
	testutil.RequiresRoot(t)
	conf := writeDaemonJSON(t, t.TempDir(), map[string]any{
		// `shoal runtime` is runc-compatible: the argument "runtime"
		// is needed before the verbs, so this fails without
		// runtimeArgs.
		"runtimes":        map[string]any{"alt": map[string]any{"path": shoalBin, "runtimeArgs": []string{"runtime"}}},
		"default-runtime": "alt",
		"dns":             []string{"192.0.2.53"},
	})
	d := startDaemon(t, "--config-file", conf)
	d.busyboxImage("cfgbb")
	if out := d.must("run", "--name", "altctr", "--network", "none", "cfgbb", "echo", "hi"); out != "hi\n" {
		t.Errorf("docker run with the config's runtime = %q", out)
	}
	if out := d.must("inspect", "-f", "{{.HostConfig.Runtime}}", "altctr"); out != "alt\n" {
		t.Errorf("runtime of the container = %q, want alt", out)
	}
	if _, err := os.Stat(filepath.Join(d.run, "runtime", "alt")); err != nil {
		t.Errorf("the alt runtime's state directory: %v", err)
	}
}

// TestDaemonConfigErrors checks that the daemon refuses a bad config
// file as dockerd does, naming the file.
func TestDaemonConfigErrors(t *testing.T) {
	testutil.RequiresRoot(t)
	tests := []struct {
		name string
		file string
		args []string
		want string
	}{
		{
			name: "conflict with a flag",
			file: `{"hosts": ["unix:///run/from-file.sock"], "data-root": "/nope"}`,
			args: []string{"-H", "unix:///run/from-flag.sock"},
			want: "the following directives are specified both as a flag and in the configuration file: " +
				"data-root: (from flag: DATA, from file: /nope), hosts: (from flag: [unix:///run/from-flag.sock], from file: [unix:///run/from-file.sock])",
		},
		{
			name: "unknown key",
			file: `{"live-restore": true, "pidfile": "/x.pid"}`,
			want: "the following directives don't match any configuration option: live-restore",
		},
		{name: "malformed JSON", file: `{"hosts": ["unix:///a.sock",]}`, want: "invalid JSON: invalid character ']'"},
		{name: "wrong type", file: `{"dns": "1.1.1.1"}`, want: "invalid JSON: json: cannot unmarshal string"},
		{name: "bad log level", file: `{"log-level": "chatty"}`, want: "invalid logging level: chatty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			conf := filepath.Join(tmp, "daemon.json")
			if err := os.WriteFile(conf, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			stderr, code := runDaemonToExit(t, tmp, append([]string{"--config-file", conf}, tt.args...)...)
			want := strings.ReplaceAll(tt.want, "DATA", filepath.Join(tmp, "data"))
			if !strings.Contains(want, "invalid logging level") {
				want = "unable to configure the daemon with file " + conf + ": " + want
			}
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
			}
			if _, err := os.Stat(filepath.Join(tmp, "data")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused daemon made its data root (%v)", err)
			}
		})
	}

	// A missing file is an error when named, not when it is the default.
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "missing.json")
	stderr, code := runDaemonToExit(t, tmp, "--config-file", missing)
	if code != 1 || !strings.Contains(stderr, "unable to configure the daemon with file "+missing+": open "+missing+": no such file or directory") {
		t.Errorf("missing explicit config file: exit %d %q", code, stderr)
	}
	if _, err := os.Stat("/etc/shoal/daemon.json"); errors.Is(err, fs.ErrNotExist) {
		cmd := exec.Command(shoalBin, "daemon", "--validate", "--data-root", filepath.Join(tmp, "data"))
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "configuration OK") {
			t.Errorf("--validate without /etc/shoal/daemon.json: %v %q", err, out)
		}
	}
}

// newConfigDaemon is a daemon on temporary roots that is not started:
// launch starts it with exactly the arguments given, so a config file
// can set what startDaemon's flags would. The harness's clean-up applies.
func newConfigDaemon(t *testing.T) *daemon {
	t.Helper()
	testutil.RequiresRoot(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not on PATH")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	tmp, err := os.MkdirTemp("", "shoal-dc-")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{
		dockerCLI: dockerCLI{t: t, sock: filepath.Join(tmp, "d.sock"), cfg: filepath.Join(tmp, "docker-config")},
		tmp:       tmp, data: filepath.Join(tmp, "data"), run: filepath.Join(tmp, "run"),
		cgroupParent: "/shoal-test-" + hex.EncodeToString(b[:]),
		netns:        daemonNetNS(t),
	}
	t.Cleanup(d.cleanup)
	return d
}

// launch starts shoal with args and waits for d.sock.
func (d *daemon) launch(args ...string) {
	d.t.Helper()
	d.logs = &bytes.Buffer{}
	d.cmd = d.command(args...)
	d.cmd.Stderr = d.logs
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(d.cmd, d.exited)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.exited:
			d.cmd = nil
			d.t.Fatalf("daemon exited early: %v\n%s", err, d.logs)
		default:
		}
		if c, err := net.Dial("unix", d.sock); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("daemon socket did not appear\n%s", d.logs)
}

// runDaemonToExit runs `shoal daemon` on roots in tmp with args, expects
// it to exit within 30 s, and returns its stderr and exit code. Unless
// args name one, the config file is an empty one (not the host's).
func runDaemonToExit(t *testing.T, tmp string, args ...string) (string, int) {
	t.Helper()
	full := []string{"daemon", "--data-root", filepath.Join(tmp, "data"), "--exec-root", filepath.Join(tmp, "run")}
	if !strings.Contains(strings.Join(args, " "), "--config-file") {
		empty := filepath.Join(tmp, "empty.json")
		if err := os.WriteFile(empty, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		full = append(full, "--config-file", empty)
	}
	if !strings.Contains(strings.Join(args, " "), "-H ") {
		full = append(full, "-H", "unix://"+filepath.Join(tmp, "d.sock"))
	}
	full = append(full, args...)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, shoalBin, full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	t.Cleanup(func() {
		// A daemon that wrongly started may have left a monitor.
		if b, err := os.ReadFile(filepath.Join(tmp, "run", "monitor", "monitor.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	if ctx.Err() != nil {
		t.Fatalf("shoal %s did not exit: %s", strings.Join(full, " "), stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stderr.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), 0
}

func writeDaemonJSON(t *testing.T, dir string, v map[string]any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dockerEnv runs the docker CLI with env and returns its combined output
// and exit code.
func dockerEnv(t *testing.T, env []string, stdin []byte, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return string(out), 0
}

// freeTCPPort is a loopback port nothing listened on a moment ago.
func freeTCPPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// tlsPing does GET /_ping over TLS with cfg and returns the body.
func tlsPing(addr string, cfg *tls.Config) (string, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /_ping HTTP/1.1\r\nHost: shoal\r\nConnection: close\r\n\r\n"); err != nil {
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

// daemonTLSFiles is a CA, a server certificate for 127.0.0.1 and a
// client certificate in PEM files; clientDir holds the client's as the
// docker CLI wants them (ca.pem, cert.pem, key.pem).
type daemonTLSFiles struct {
	ca, serverCert, serverKey string
	clientDir                 string
	pool                      *x509.CertPool
}

func newDaemonTLSFiles(t *testing.T) *daemonTLSFiles {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(0)
	template := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		}
	}
	caKey := newKey()
	caT := template("shoal test CA")
	caT.IsCA, caT.BasicConstraintsValid, caT.KeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(cn string, usage x509.ExtKeyUsage) (cert, key []byte) {
		k := newKey()
		tmpl := template(cn)
		tmpl.KeyUsage, tmpl.ExtKeyUsage = x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{usage}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der, kb
	}
	f := &daemonTLSFiles{clientDir: filepath.Join(dir, "client"), pool: x509.NewCertPool()}
	f.pool.AddCert(ca)
	f.ca = write("ca.pem", "CERTIFICATE", caDER)
	sc, sk := issue("shoal server", x509.ExtKeyUsageServerAuth)
	f.serverCert, f.serverKey = write("server-cert.pem", "CERTIFICATE", sc), write("server-key.pem", "EC PRIVATE KEY", sk)
	cc, ck := issue("shoal client", x509.ExtKeyUsageClientAuth)
	write("client/ca.pem", "CERTIFICATE", caDER)
	write("client/cert.pem", "CERTIFICATE", cc)
	write("client/key.pem", "EC PRIVATE KEY", ck)
	return f
}

// clientConfig trusts the CA and presents the client certificate in
// clientDir, if any.
func (f *daemonTLSFiles) clientConfig(t *testing.T, clientDir string) *tls.Config {
	t.Helper()
	c := &tls.Config{RootCAs: f.pool, ServerName: "127.0.0.1"}
	if clientDir != "" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(clientDir, "cert.pem"), filepath.Join(clientDir, "key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}
