//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDaemonBadInput sends malformed, hostile and conflicting requests:
// each gets a clear 4xx error, nothing panics, nothing changes.
func TestDaemonBadInput(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", d.sock)
	}}}
	call := func(method, path string, body []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://shoal/v1.50"+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e struct{ Message string }
		_ = json.Unmarshal(b, &e)
		if e.Message != "" {
			return resp.StatusCode, e.Message
		}
		return resp.StatusCode, string(b)
	}
	huge := append([]byte(`{"Image":"bb","Cmd":["`), bytes.Repeat([]byte("a"), 5<<20)...)
	huge = append(huge, `"]}`...)
	for _, tc := range []struct {
		method, path, body string
		raw                []byte
		code               int
		want               string
	}{
		{"POST", "/containers/create", `{"Image": "bb", `, nil, 400, "invalid JSON"},
		{"POST", "/containers/create", `{"Image": 5}`, nil, 400, "cannot unmarshal number"},
		{"POST", "/containers/create", `{"Image": "bb", "Bogus": 1}`, nil, 400, `unknown field "Bogus"`},
		{"POST", "/containers/create", `{"Image": "bb", "HostConfig": {"Memory": "lots"}}`, nil, 400, "cannot unmarshal string"},
		{"POST", "/containers/create", ``, nil, 400, "empty request body"},
		{"POST", "/containers/create", `null`, nil, 400, "config cannot be empty"},
		{"POST", "/containers/create", "", huge, 400, "too large"},
		{"POST", "/containers/create?name=../x", `{"Image": "bb"}`, nil, 400, "Invalid container name"},
		{"POST", "/containers/create?name=a%2Fb", `{"Image": "bb"}`, nil, 400, "Invalid container name"},
		{"POST", "/containers/create", `{"Image": "bb", "HostConfig": {"NetworkMode": "none", "Binds": ["relative:/x:zz"]}}`, nil, 400, "invalid mode"},
		{"POST", "/containers/create", `{"Image": "bb", "HostConfig": {"NetworkMode": "none", "Binds": ["/tmp:relative"]}}`, nil, 400, "absolute path"},
		{"POST", "/containers/create", `{"Image": "bb", "HostConfig": {"NetworkMode": "none", "Binds": ["../../etc:/x"]}}`, nil, 400, "includes invalid characters"},
		{"POST", "/volumes/create", `{"Name": "../../escape"}`, nil, 400, "includes invalid characters"},
		{"POST", "/volumes/create", `{"Name": "ok", "Driver": "nfs-plugin"}`, nil, 404, "not found"},
		{"POST", "/containers/nosuch/kill?signal=SIGBOGUS", ``, nil, 404, "No such container: nosuch"},
		{"POST", "/containers/nosuch/start", ``, nil, 404, "No such container: nosuch"},
		{"GET", "/containers/nosuch/archive?path=/etc", ``, nil, 404, "No such container"},
		{"GET", "/nope", ``, nil, 404, "page not found"},
		{"PUT", "/containers/json", ``, nil, 404, "page not found"},
		{"GET", "/containers/json?filters=%7Bbad", ``, nil, 400, "invalid filter"},
		{"GET", "/containers/json?filters=%7B%22nokey%22%3A%7B%22x%22%3Atrue%7D%7D", ``, nil, 400, "invalid filter 'nokey'"},
	} {
		body := tc.raw
		if body == nil {
			body = []byte(tc.body)
		}
		code, msg := call(tc.method, tc.path, body)
		if code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("%s %s %.60q = %d %.200q; want %d and %q", tc.method, tc.path, body, code, msg, tc.code, tc.want)
		}
	}
	if out := d.must("ps", "-aq"); out != "" {
		t.Errorf("bad requests created containers: %q", out)
	}
	if out := d.must("volume", "ls", "-q"); out != "" {
		t.Errorf("bad requests created volumes: %q", out)
	}
	if _, err := os.Stat(filepath.Join(d.data, "escape")); err == nil {
		t.Errorf("volume name escaped the volumes directory")
	}

	// Name clashes.
	d.must("create", "--name", "taken", "--network", "none", "bb")
	if out, code := d.docker("create", "--name", "taken", "--network", "none", "bb"); code == 0 || !strings.Contains(out, "is already in use") {
		t.Errorf("name clash = %d %q", code, out)
	}
	if out, code := d.docker("rename", "taken", "taken"); code == 0 {
		t.Errorf("rename to the same name = %q", out)
	}

	// cp resolves paths inside the container, whatever its symlinks say.
	sentinelDir := t.TempDir()
	sentinel := filepath.Join(sentinelDir, "secret")
	if err := os.WriteFile(sentinel, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.must("run", "-d", "--name", "evil", "--network", "none", "bb", "sh", "-c",
		"ln -s / /hostroot; ln -s "+sentinelDir+" /link; ln -s ../../../../.. /up; exec sleep 1000")
	waitFor(t, "links", 5e9, func() bool { out, _ := d.docker("exec", "evil", "ls", "/up"); return out != "" })
	out, code := d.docker("cp", "evil:/link/secret", filepath.Join(t.TempDir(), "got"))
	if code == 0 || strings.Contains(out, "host secret") {
		t.Errorf("cp through a link to a host dir = %d %q", code, out)
	}
	dst := t.TempDir()
	d.must("cp", "evil:/up/etc/hostname", filepath.Join(dst, "hn"))
	if b, _ := os.ReadFile(filepath.Join(dst, "hn")); len(b) == 0 || string(b) == mustRead(t, "/etc/hostname") {
		t.Errorf("cp of /up/etc/hostname read %q: the host's, not the container's", b)
	}
	src := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _ = d.docker("cp", src, "evil:/link/")
	_, _ = d.docker("cp", src, "evil:/up/up/up/tmp/")
	if _, err := os.Stat(filepath.Join(sentinelDir, "payload")); err == nil {
		t.Errorf("cp into the container wrote through a symlink onto the host")
	}
	if strings.Contains(d.logs.String(), "handler panic") {
		t.Errorf("the daemon panicked")
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
