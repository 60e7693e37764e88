package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	gname "github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/api"
	"github.com/shoal-dev/shoal/internal/api/types"
	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/image/pull"
	"github.com/shoal-dev/shoal/internal/image/transfer"
	"github.com/shoal-dev/shoal/internal/metadata"
)

// fakeImages is an ImageBackend of fixed images; Pull really pulls, into
// a content store in a temporary directory, so that progress is real.
type fakeImages struct {
	imgs    []image.Image
	sizes   map[digest.Digest]int64
	err     error // returned by every method when set
	store   content.Store
	removed []string
}

func (f *fakeImages) find(name string) (image.Image, error) {
	for _, img := range f.imgs {
		if img.ID.String() == name || slices.Contains(img.Names, name) || slices.Contains(img.Names, "docker.io/library/"+name) || slices.Contains(img.Names, "docker.io/library/"+name+":latest") {
			return img, nil
		}
	}
	return image.Image{}, &metadata.ImageNotFoundError{Ref: name}
}

func (f *fakeImages) Pull(ctx context.Context, name string, opts ...pull.Opt) (image.Image, error) {
	if f.err != nil {
		return image.Image{}, f.err
	}
	res, err := pull.Pull(ctx, name, f.store, opts...)
	if err != nil {
		return image.Image{}, err
	}
	return image.Image{Image: metadata.Image{ID: res.Config.Digest, Name: name, Target: res.Manifest}, Names: []string{name}}, nil
}

func (f *fakeImages) Push(context.Context, string, ...pull.Opt) (image.Image, error) {
	return image.Image{}, errdefs.ErrNotImplemented
}

func (f *fakeImages) Get(_ context.Context, name string) (image.Image, error) {
	if f.err != nil {
		return image.Image{}, f.err
	}
	return f.find(name)
}

func (f *fakeImages) List(context.Context) ([]image.Summary, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []image.Summary
	for _, img := range f.imgs {
		row := image.Summary{ID: img.ID, Size: f.sizes[img.ID], Repository: "<none>", Tag: "<none>"}
		if len(img.Names) == 0 {
			out = append(out, row)
		}
		for range img.Names {
			out = append(out, row)
		}
	}
	return out, nil
}

func (f *fakeImages) Tag(_ context.Context, src, target string) error {
	if f.err != nil {
		return f.err
	}
	_, err := f.find(src)
	return err
}

func (f *fakeImages) Remove(_ context.Context, name string, _ bool) ([]image.Deleted, error) {
	if f.err != nil {
		return nil, f.err
	}
	img, err := f.find(name)
	if err != nil {
		return nil, err
	}
	f.removed = append(f.removed, name)
	return []image.Deleted{{Untagged: name}, {Deleted: img.ID}}, nil
}

func (f *fakeImages) Prune(context.Context, bool) ([]image.Deleted, error) {
	return []image.Deleted{{Deleted: f.imgs[len(f.imgs)-1].ID}}, f.err
}

func (f *fakeImages) Save(_ context.Context, names []string, w io.Writer, _ transfer.Format) error {
	for _, n := range names {
		if _, err := f.find(n); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "tar")
	return err
}

func (f *fakeImages) Load(context.Context, io.Reader) ([]image.Image, error) {
	return f.imgs[:1], f.err
}

func (f *fakeImages) Import(context.Context, io.Reader, string, transfer.ImportOpts) (image.Image, error) {
	return image.Image{}, errdefs.ErrNotImplemented
}

func (f *fakeImages) Snapshotter() string { return "native" }

var _ api.ImageBackend = (*fakeImages)(nil)

const (
	busyboxID  = digest.Digest("sha256:1111111111111111111111111111111111111111111111111111111111111111")
	danglingID = digest.Digest("sha256:2222222222222222222222222222222222222222222222222222222222222222")
	manifestD  = digest.Digest("sha256:3333333333333333333333333333333333333333333333333333333333333333")
)

func newFake(t *testing.T) *fakeImages {
	t.Helper()
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cs, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &fakeImages{
		store: cs,
		sizes: map[digest.Digest]int64{busyboxID: 4_000_000, danglingID: 10},
		imgs: []image.Image{
			{
				Image: metadata.Image{ID: busyboxID, Target: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: manifestD, Size: 500}},
				Names: []string{"docker.io/library/busybox:latest"},
				Config: ocispec.Image{
					Created:  &created,
					Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
					Config:   ocispec.ImageConfig{Cmd: []string{"sh"}, Labels: map[string]string{"a": "b"}},
					RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{busyboxID}},
					History:  []ocispec.History{{Created: &created, CreatedBy: "ADD rootfs"}, {Created: &created, CreatedBy: "CMD sh", EmptyLayer: true}},
				},
				Manifest: ocispec.Manifest{Layers: []ocispec.Descriptor{{Digest: busyboxID, Size: 2000}}},
			},
			{Image: metadata.Image{ID: danglingID}, Config: ocispec.Image{Created: &created}},
		},
	}
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func newHandler(t *testing.T, f *fakeImages) http.Handler {
	return api.New(api.Config{Version: "test", ID: "id", DataRoot: "/data"}, f, nil)
}

func TestVersionNegotiation(t *testing.T) {
	h := newHandler(t, newFake(t))
	for _, tc := range []struct {
		path string
		code int
		msg  string
	}{
		{"/version", 200, ""},
		{"/v1.50/version", 200, ""},
		{"/v1.24/version", 200, ""},
		{"/v1.41/version", 200, ""},
		{"/v1.51/version", 400, "client version 1.51 is too new. Maximum supported API version is 1.50"},
		{"/v2.0/version", 400, "client version 2.0 is too new. Maximum supported API version is 1.50"},
		{"/v1.23/version", 400, "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"/v1.9/version", 400, "client version 1.9 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"/v1/version", 400, `invalid API version "1"`},
		{"/vx/version", 404, "page not found"},
		{"/nosuch", 404, "page not found"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := do(t, h, "GET", tc.path, nil)
			if rec.Code != tc.code {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, rec.Code, rec.Body, tc.code)
			}
			if got := rec.Header().Get("API-Version"); got != "1.50" {
				t.Errorf("API-Version = %q", got)
			}
			if tc.msg == "" {
				var v types.Version
				if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
					t.Fatal(err)
				}
				if v.APIVersion != "1.50" || v.MinAPIVersion != "1.24" || v.Platform.Name == "" || len(v.Components) != 1 || v.Version != "test" {
					t.Errorf("version = %+v", v)
				}
				return
			}
			var e types.ErrorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message != tc.msg {
				t.Errorf("GET %s body = %s, want message %q", tc.path, rec.Body, tc.msg)
			}
		})
	}
}

func TestPing(t *testing.T) {
	h := newHandler(t, newFake(t))
	for _, method := range []string{"GET", "HEAD"} {
		t.Run(method, func(t *testing.T) {
			rec := do(t, h, method, "/_ping", nil)
			if rec.Code != 200 {
				t.Fatalf("%s /_ping = %d", method, rec.Code)
			}
			want := map[string]string{
				"API-Version": "1.50", "OSType": "linux", "Docker-Experimental": "false",
				"Builder-Version": "1", "Swarm": "inactive", "Pragma": "no-cache",
			}
			for k, v := range want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(rec.Header().Get("Cache-Control"), "no-cache") {
				t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
			}
			wantBody := "OK"
			if method == "HEAD" {
				wantBody = ""
			}
			if rec.Body.String() != wantBody {
				t.Errorf("body = %q, want %q", rec.Body, wantBody)
			}
		})
	}
	if rec := do(t, h, "POST", "/_ping", nil); rec.Code != 404 {
		t.Errorf("POST /_ping = %d, want 404", rec.Code)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("x: %w", errdefs.ErrNotFound), 404},
		{fmt.Errorf("x: %w", errdefs.ErrInvalidArgument), 400},
		{fmt.Errorf("x: %w", errdefs.ErrConflict), 409},
		{fmt.Errorf("x: %w", errdefs.ErrAlreadyExists), 409},
		{fmt.Errorf("x: %w", errdefs.ErrFailedPrecondition), 412},
		{fmt.Errorf("x: %w", errdefs.ErrPermissionDenied), 403},
		{fmt.Errorf("x: %w", errdefs.ErrUnavailable), 503},
		{fmt.Errorf("x: %w", errdefs.ErrNotImplemented), 501},
		{fmt.Errorf("disk on fire"), 500},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			f := newFake(t)
			f.err = tc.err
			rec := do(t, newHandler(t, f), "GET", "/images/busybox/json", nil)
			if rec.Code != tc.code {
				t.Errorf("error %v = %d, want %d", tc.err, rec.Code, tc.code)
			}
			// The class a package wrapped in is not shown to the user.
			want := tc.err.Error()
			if tc.code != 500 {
				want = "x"
			}
			var e types.ErrorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message != want {
				t.Errorf("body = %s, want message %q", rec.Body, want)
			}
		})
	}
	t.Run("no such image", func(t *testing.T) {
		rec := do(t, newHandler(t, newFake(t)), "GET", "/v1.50/images/nosuch:latest/json", nil)
		if rec.Code != 404 || strings.TrimSpace(rec.Body.String()) != `{"message":"No such image: nosuch:latest"}` {
			t.Errorf("inspect missing = %d %s", rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
	})
}

func TestListImages(t *testing.T) {
	h := newHandler(t, newFake(t))
	for _, tc := range []struct {
		path     string
		dangling any // RepoTags of the dangling image
		virtual  bool
	}{
		{"/v1.50/images/json", []any{}, false},
		{"/v1.43/images/json", []any{}, true},
		{"/v1.42/images/json", []any{"<none>:<none>"}, true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := do(t, h, "GET", tc.path, nil)
			if rec.Code != 200 {
				t.Fatalf("GET %s = %d %s", tc.path, rec.Code, rec.Body)
			}
			var got []map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("got %d images, want 2: %s", len(got), rec.Body)
			}
			bb := got[0]
			want := map[string]any{
				"Id": busyboxID.String(), "ParentId": "", "RepoTags": []any{"busybox:latest"},
				"RepoDigests": []any{"busybox@" + manifestD.String()},
				"Created":     float64(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC).Unix()),
				"Size":        float64(4_000_000), "SharedSize": float64(-1), "Containers": float64(-1),
				"Labels": map[string]any{"a": "b"},
			}
			for k, v := range want {
				if fmt.Sprint(bb[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, bb[k], v)
				}
			}
			if _, ok := bb["VirtualSize"]; ok != tc.virtual {
				t.Errorf("VirtualSize present = %v, want %v", ok, tc.virtual)
			}
			if fmt.Sprint(got[1]["RepoTags"]) != fmt.Sprint(tc.dangling) || got[1]["RepoTags"] == nil {
				t.Errorf("dangling RepoTags = %#v, want %v", got[1]["RepoTags"], tc.dangling)
			}
		})
	}
	t.Run("filters", func(t *testing.T) {
		for q, n := range map[string]int{
			`{"dangling":["true"]}`:       1,
			`{"dangling":{"false":true}}`: 1,
			`{"reference":["busy*"]}`:     1,
			`{"reference":["nothing"]}`:   0,
		} {
			rec := do(t, h, "GET", "/images/json?filters="+q, nil)
			var got []types.ImageSummary
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != n {
				t.Errorf("filters %s = %d %s, want %d images", q, rec.Code, rec.Body, n)
			}
		}
		if rec := do(t, h, "GET", `/images/json?filters={"bogus":["x"]}`, nil); rec.Code != 400 {
			t.Errorf("bogus filter = %d, want 400", rec.Code)
		}
	})
}

func TestImageRoutes(t *testing.T) {
	f := newFake(t)
	f.imgs[0].Names = append(f.imgs[0].Names, "localhost:5000/x/y:v1")
	h := newHandler(t, f)

	rec := do(t, h, "GET", "/v1.50/images/localhost:5000/x/y:v1/json", nil)
	if rec.Code != 200 {
		t.Fatalf("inspect a name with slashes = %d %s", rec.Code, rec.Body)
	}
	var ins types.ImageInspect
	if err := json.Unmarshal(rec.Body.Bytes(), &ins); err != nil {
		t.Fatal(err)
	}
	if ins.ID != busyboxID.String() || ins.Os != "linux" || ins.Created != "2024-05-06T07:08:09Z" || ins.RootFS.Type != "layers" ||
		len(ins.RootFS.Layers) != 1 || ins.Descriptor == nil || ins.Size != 4_000_000 || !slices.Contains(ins.RepoTags, "localhost:5000/x/y:v1") {
		t.Errorf("inspect = %+v", ins)
	}

	rec = do(t, h, "GET", "/images/busybox/history", nil)
	var hist []types.HistoryItem
	if err := json.Unmarshal(rec.Body.Bytes(), &hist); err != nil || len(hist) != 2 {
		t.Fatalf("history = %d %s", rec.Code, rec.Body)
	}
	if hist[0].ID != busyboxID.String() || hist[0].CreatedBy != "CMD sh" || hist[1].ID != "<missing>" || hist[1].Size != 2000 {
		t.Errorf("history = %+v", hist)
	}

	if rec := do(t, h, "POST", "/images/busybox/tag?repo=foo&tag=bar", nil); rec.Code != 201 {
		t.Errorf("tag = %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, h, "POST", "/images/busybox/tag", nil); rec.Code != 400 {
		t.Errorf("tag without repo = %d %s", rec.Code, rec.Body)
	}

	rec = do(t, h, "DELETE", "/images/localhost:5000/x/y:v1?force=1", nil)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `[{"Untagged":"localhost:5000/x/y:v1"},{"Deleted":"`+busyboxID.String()+`"}]` {
		t.Errorf("delete = %d %s", rec.Code, rec.Body)
	}

	rec = do(t, h, "GET", "/images/get?names=busybox", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/x-tar" || rec.Body.String() != "tar" {
		t.Errorf("save = %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if rec := do(t, h, "GET", "/images/get?names=nosuch", nil); rec.Code != 404 {
		t.Errorf("save of a missing image = %d %s", rec.Code, rec.Body)
	}

	rec = do(t, h, "POST", "/images/load?quiet=1", strings.NewReader("tar"))
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), `{"stream":"Loaded image: busybox:latest\n"}`+"\n") {
		t.Errorf("load = %d %s", rec.Code, rec.Body)
	}

	rec = do(t, h, "POST", `/images/prune?filters={"dangling":["false"]}`, nil)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"ImagesDeleted":[{"Deleted":"`+danglingID.String()+`"}],"SpaceReclaimed":10}` {
		t.Errorf("prune = %d %s", rec.Code, rec.Body)
	}
}

func TestPullStream(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := gname.NewTag(host + "/lib/tiny:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	mdig, _ := img.Digest()

	h := newHandler(t, newFake(t))
	rec := do(t, h, "POST", "/v1.50/images/create?fromImage="+host+"/lib/tiny&tag=v1", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("pull = %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	var msgs []types.JSONMessage
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		var m types.JSONMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) < 4 {
		t.Fatalf("pull stream too short: %s", rec.Body)
	}
	if msgs[0].Status != "Pulling from lib/tiny" || msgs[0].ID != "v1" {
		t.Errorf("first message = %+v", msgs[0])
	}
	n := len(msgs)
	if msgs[n-2].Status != "Digest: "+mdig.String() {
		t.Errorf("digest message = %+v, want Digest: %s", msgs[n-2], mdig)
	}
	if msgs[n-1].Status != "Status: Downloaded newer image for "+host+"/lib/tiny:v1" {
		t.Errorf("last message = %+v", msgs[n-1])
	}
	complete, downloading := 0, 0
	for _, m := range msgs[1 : n-2] {
		if len(m.ID) != 12 {
			t.Errorf("layer message id %q is not 12 hex digits", m.ID)
		}
		switch m.Status {
		case "Pull complete":
			complete++
		case "Downloading":
			downloading++
			if m.ProgressDetail == nil || m.ProgressDetail.Total == 0 {
				t.Errorf("Downloading without progressDetail: %+v", m)
			}
		}
	}
	if complete != 2 || downloading == 0 {
		t.Errorf("pull stream has %d Pull complete, %d Downloading; want 2 and some:\n%s", complete, downloading, rec.Body)
	}

	// A failure before anything is sent is an HTTP error, not a stream;
	// a missing repository is a 404, as dockerd answers.
	rec = do(t, h, "POST", "/images/create?fromImage="+host+"/lib/nosuch&tag=v1", nil)
	var e types.ErrorResponse
	if rec.Code != 404 || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Message == "" {
		t.Errorf("pull of a missing image = %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "POST", "/images/create?fromImage=UPPER", nil)
	if rec.Code != 400 {
		t.Errorf("pull of an invalid name = %d %s", rec.Code, rec.Body)
	}
}

func TestInfo(t *testing.T) {
	rec := do(t, newHandler(t, newFake(t)), "GET", "/info", nil)
	var info types.Info
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if info.Images != 2 || info.Driver != "native" || info.DockerRootDir != "/data" || info.ID != "id" || info.NCPU == 0 || info.OSType != "linux" {
		t.Errorf("info = %+v", info)
	}
}
