package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// serve runs h on a unix socket in a temp dir and returns a client of it.
func serve(t *testing.T, h http.Handler) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		host    string
		wantErr bool
	}{
		{"unix:///run/x.sock", false},
		{"tcp://127.0.0.1:2375", false},
		{"", false},
		{"/run/x.sock", true},
		{"ssh://host", true},
		{"tcp://nohostport", true},
		{"unix://", true},
	} {
		_, err := New(tc.host)
		if (err != nil) != tc.wantErr {
			t.Errorf("New(%q) = %v, want error %v", tc.host, err, tc.wantErr)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v"+APIVersion+"/") {
			t.Errorf("request path %q lacks the version prefix", r.URL.Path)
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing/json"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"No such container: missing"}`)
		case strings.HasSuffix(r.URL.Path, "/busy/json"):
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"message":"container is busy"}`)
		case strings.HasSuffix(r.URL.Path, "/broken/json"):
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "plain text failure\n")
		case strings.HasSuffix(r.URL.Path, "/empty/json"):
			w.WriteHeader(http.StatusBadRequest)
		default:
			_, _ = io.WriteString(w, `{"Id":"abc","Name":"/ok"}`)
		}
	}))
	ctx := t.Context()
	for _, tc := range []struct {
		ref     string
		msg     string
		status  int
		class   error
		noClass bool
	}{
		{"missing", "Error response from daemon: No such container: missing", 404, errdefs.ErrNotFound, false},
		{"busy", "Error response from daemon: container is busy", 409, errdefs.ErrConflict, false},
		{"broken", "Error response from daemon: plain text failure", 500, nil, true},
		{"empty", "Error response from daemon: 400 Bad Request", 400, errdefs.ErrInvalidArgument, false},
	} {
		_, _, err := c.ContainerInspect(ctx, tc.ref)
		if err == nil || err.Error() != tc.msg {
			t.Errorf("ContainerInspect(%q) error = %v, want %q", tc.ref, err, tc.msg)
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.StatusCode != tc.status {
			t.Errorf("ContainerInspect(%q) error %#v, want status %d", tc.ref, err, tc.status)
		}
		if tc.noClass {
			for _, cl := range []error{errdefs.ErrNotFound, errdefs.ErrConflict, errdefs.ErrInvalidArgument} {
				if errors.Is(err, cl) {
					t.Errorf("ContainerInspect(%q) error is %v, want no class", tc.ref, cl)
				}
			}
		} else if !errors.Is(err, tc.class) {
			t.Errorf("ContainerInspect(%q) error is not %v", tc.ref, tc.class)
		}
	}
	info, raw, err := c.ContainerInspect(ctx, "ok")
	if err != nil || info.ID != "abc" || info.Name != "/ok" || !bytes.Contains(raw, []byte(`"Id":"abc"`)) {
		t.Errorf("ContainerInspect(ok) = %+v, %s, %v", info, raw, err)
	}
}

func TestConnectError(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	c, err := New(host)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(t.Context())
	want := "Cannot connect to the Shoal daemon at " + host + ". Is the daemon running?"
	var ce *ConnectError
	if !errors.As(err, &ce) || err.Error() != want {
		t.Errorf("Ping with no daemon = %v, want %q", err, want)
	}
}

func TestDemux(t *testing.T) {
	var in bytes.Buffer
	for _, f := range []struct {
		stream byte
		p      string
	}{{Stdout, "out1\n"}, {Stderr, "err1\n"}, {Stdout, ""}, {Stdout, strings.Repeat("x", 40000)}, {Stderr, "err2"}} {
		if err := WriteFrame(&in, f.stream, []byte(f.p)); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	n, err := Demux(&out, &errb, bytes.NewReader(in.Bytes()))
	if err != nil {
		t.Fatalf("Demux: %v", err)
	}
	if want := "out1\n" + strings.Repeat("x", 40000); out.String() != want {
		t.Errorf("stdout = %d bytes %.20q, want %d bytes", out.Len(), out.String(), len(want))
	}
	if errb.String() != "err1\nerr2" {
		t.Errorf("stderr = %q, want %q", errb.String(), "err1\nerr2")
	}
	if n != int64(out.Len()+errb.Len()) {
		t.Errorf("Demux wrote %d, want %d", n, out.Len()+errb.Len())
	}

	// A nil writer drops its stream.
	out.Reset()
	if _, err := Demux(&out, nil, bytes.NewReader(in.Bytes())); err != nil || !strings.HasPrefix(out.String(), "out1\n") {
		t.Errorf("Demux(stdout only) = %q, %v", out.String(), err)
	}

	// systemerr ends the stream with its message.
	var sys bytes.Buffer
	_ = WriteFrame(&sys, Stdout, []byte("a"))
	_ = WriteFrame(&sys, Systemerr, []byte("exec failed"))
	_ = WriteFrame(&sys, Stdout, []byte("b"))
	out.Reset()
	if _, err := Demux(&out, io.Discard, &sys); err == nil || !strings.Contains(err.Error(), "exec failed") || out.String() != "a" {
		t.Errorf("Demux(systemerr) = %q, %v", out.String(), err)
	}

	// A cut frame is an error, a cut at a frame boundary is not.
	cut := in.Bytes()[:len(in.Bytes())-2]
	if _, err := Demux(io.Discard, io.Discard, bytes.NewReader(cut)); err == nil {
		t.Error("Demux of a truncated frame: no error")
	}
	if _, err := Demux(io.Discard, io.Discard, bytes.NewReader(in.Bytes()[:3])); err == nil {
		t.Error("Demux of a truncated header: no error")
	}
	if _, err := Demux(io.Discard, io.Discard, bytes.NewReader([]byte{9, 0, 0, 0, 0, 0, 0, 1, 'x'})); err == nil {
		t.Error("Demux of an unknown stream: no error")
	}
}

func TestHijack(t *testing.T) {
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "tcp" || r.Header.Get("Connection") != "Upgrade" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"message":"no upgrade asked"}`)
			return
		}
		if r.URL.Query().Get("stdin") != "1" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"No such container: x"}`)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
		// Echo stdin as stdout frames, line by line, until EOF.
		sc := bufio.NewScanner(brw.Reader)
		for sc.Scan() {
			_ = WriteFrame(conn, Stdout, []byte(strings.ToUpper(sc.Text())+"\n"))
		}
		_ = WriteFrame(conn, Stderr, []byte("bye\n"))
	}))
	ctx := t.Context()
	if _, err := c.ContainerAttach(ctx, "x", AttachOptions{Stream: true}); !errdefs.IsNotFound(err) {
		t.Fatalf("attach refused: %v, want not found", err)
	}
	conn, err := c.ContainerAttach(ctx, "x", AttachOptions{Stream: true, Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Tty {
		t.Error("multiplexed stream taken for a terminal")
	}
	if _, err := io.WriteString(conn, "hello\nworld\n"); err != nil {
		t.Fatal(err)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if _, err := Demux(&out, &errb, conn); err != nil {
		t.Fatal(err)
	}
	if out.String() != "HELLO\nWORLD\n" || errb.String() != "bye\n" {
		t.Errorf("echo = %q / %q", out.String(), errb.String())
	}
}

func TestContainerWaitAndCreate(t *testing.T) {
	release := make(chan struct{})
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/containers/create"):
			var req container.CreateRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Config == nil || req.Config.Image != "bb" || r.URL.Query().Get("name") != "n1" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"message":"bad create request"}`)
				return
			}
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"Id":"c1","Warnings":["w1"]}`)
		case strings.HasSuffix(r.URL.Path, "/wait"):
			if r.URL.Query().Get("condition") != "next-exit" {
				t.Errorf("wait condition %q", r.URL.Query().Get("condition"))
			}
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).Flush()
			<-release
			_, _ = io.WriteString(w, `{"StatusCode":3}`)
		}
	}))
	ctx := t.Context()
	resp, err := c.ContainerCreate(ctx, "n1", "", container.CreateRequest{Config: &container.Config{Image: "bb"}})
	if err != nil || resp.ID != "c1" || len(resp.Warnings) != 1 {
		t.Fatalf("ContainerCreate = %+v, %v", resp, err)
	}
	wait, err := c.ContainerWait(ctx, "c1", "next-exit")
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	res, err := wait()
	if err != nil || res.StatusCode != 3 {
		t.Errorf("wait = %+v, %v, want status 3", res, err)
	}
}

func TestTCPHost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v"+APIVersion+"/_ping" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, "OK")
	}))
	defer srv.Close()
	c, err := New("tcp://" + strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("Ping over tcp: %v", err)
	}
}

// TestVersionDowngrade: a daemon that refuses API 1.50 as too new gets
// the same request again in its own version, and every later one too.
func TestVersionDowngrade(t *testing.T) {
	var paths []string
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if strings.HasPrefix(r.URL.Path, "/v"+APIVersion+"/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"message":"client version `+APIVersion+` is too new. Maximum supported API version is 1.41"}`)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "OK")
	}))
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("ping after the downgrade: %v", err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"/v" + APIVersion + "/_ping", "/v1.41/_ping", "/v1.41/_ping"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("paths %v, want %v", paths, want)
	}
}
