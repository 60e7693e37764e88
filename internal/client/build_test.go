package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestImageBuild(t *testing.T) {
	var got struct {
		path, ctype, body string
		tags              []string
		args, labels      string
		dockerfile, pull  string
	}
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		q := r.URL.Query()
		got.path, got.ctype, got.body = r.URL.Path, r.Header.Get("Content-Type"), string(b)
		got.tags, got.args, got.labels = q["t"], q.Get("buildargs"), q.Get("labels")
		got.dockerfile, got.pull = q.Get("dockerfile"), q.Get("pull")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"stream":"Step 1/1 : FROM scratch\n"}`+"\n"+`{"aux":{"ID":"sha256:abc"}}`+"\n")
	}))
	v := "1"
	body, err := c.ImageBuild(context.Background(), strings.NewReader("TAR"), BuildOptions{
		Tags: []string{"a:1", "b"}, Dockerfile: "sub/Dockerfile", BuildArgs: map[string]*string{"V": &v, "FROM_ENV": nil},
		Labels: map[string]string{"l": "x"}, Pull: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(body)
	body.Close()
	if !strings.Contains(string(out), "sha256:abc") {
		t.Errorf("stream = %q", out)
	}
	if got.path != "/v"+APIVersion+"/build" || got.ctype != "application/x-tar" || got.body != "TAR" {
		t.Errorf("request %s %s %q", got.path, got.ctype, got.body)
	}
	if strings.Join(got.tags, ",") != "a:1,b" || got.dockerfile != "sub/Dockerfile" || got.pull != "1" {
		t.Errorf("query tags %v dockerfile %q pull %q", got.tags, got.dockerfile, got.pull)
	}
	var args map[string]*string
	if err := json.Unmarshal([]byte(got.args), &args); err != nil || *args["V"] != "1" || args["FROM_ENV"] != nil {
		t.Errorf("buildargs = %s (%v)", got.args, err)
	}
	if got.labels != `{"l":"x"}` {
		t.Errorf("labels = %s", got.labels)
	}

	missing := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"page not found"}`)
	}))
	if _, err := missing.ImageBuild(context.Background(), strings.NewReader("TAR"), BuildOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("ImageBuild on a daemon without /build = %v, want not found", err)
	}
}
