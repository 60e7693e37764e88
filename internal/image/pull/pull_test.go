package pull

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/content"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// testRegistry is an in-memory registry on 127.0.0.1 whose responses a
// test can tamper with through wrap.
type testRegistry struct {
	host string
	mu   sync.Mutex
	wrap func(http.ResponseWriter, *http.Request, http.Handler)
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		wrap := tr.wrap
		tr.mu.Unlock()
		if wrap != nil {
			wrap(w, r, inner)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

func (tr *testRegistry) setWrap(f func(http.ResponseWriter, *http.Request, http.Handler)) {
	tr.mu.Lock()
	tr.wrap = f
	tr.mu.Unlock()
}

func (tr *testRegistry) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(tr.host + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (tr *testRegistry) push(t *testing.T, repoTag string, img v1.Image) name.Reference {
	t.Helper()
	r := tr.ref(t, repoTag)
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", r, err)
	}
	return r
}

func newStore(t *testing.T) *content.LocalStore {
	t.Helper()
	s, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(2048, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// anon keeps tests off the developer's ~/.docker/config.json.
var anon = WithKeychain(authn.NewMultiKeychain())

// checkImage checks that res describes img and every blob is in store.
func checkImage(t *testing.T, store content.Store, res Result, img v1.Image) {
	t.Helper()
	d, _ := img.Digest()
	if res.Manifest.Digest.String() != d.String() {
		t.Errorf("manifest = %s, want %s", res.Manifest.Digest, d)
	}
	cd, _ := img.ConfigName()
	if res.Config.Digest.String() != cd.String() {
		t.Errorf("config = %s, want %s", res.Config.Digest, cd)
	}
	if got := digest.FromBytes(res.ConfigBlob); got != res.Config.Digest {
		t.Errorf("config blob hashes to %s, want %s", got, res.Config.Digest)
	}
	layers, _ := img.Layers()
	if len(res.Layers) != len(layers) {
		t.Fatalf("%d layers, want %d", len(res.Layers), len(layers))
	}
	want := []ocispec.Descriptor{res.Manifest, res.Config}
	for i, l := range layers {
		ld, _ := l.Digest()
		if res.Layers[i].Digest.String() != ld.String() {
			t.Errorf("layer %d = %s, want %s", i, res.Layers[i].Digest, ld)
		}
		want = append(want, res.Layers[i])
	}
	for _, desc := range want {
		b, err := content.ReadBlob(t.Context(), store, desc)
		if err != nil {
			t.Errorf("ReadBlob(%s): %v", desc.Digest, err)
			continue
		}
		if got := digest.FromBytes(b); got != desc.Digest {
			t.Errorf("blob %s hashes to %s", desc.Digest, got)
		}
		if int64(len(b)) != desc.Size {
			t.Errorf("blob %s is %d bytes, want %d", desc.Digest, len(b), desc.Size)
		}
	}
}

func TestPullSingle(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	img := randomImage(t, 4)
	ref := reg.push(t, "test/single:v1", img)
	dgst, _ := img.Digest()

	tests := []struct {
		name string
		ref  string
	}{
		{"tag", ref.String()},
		{"digest", reg.host + "/test/single@" + dgst.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			res, err := Pull(t.Context(), tt.ref, store, anon)
			if err != nil {
				t.Fatalf("Pull(%q): %v", tt.ref, err)
			}
			if res.Index != nil {
				t.Errorf("Index = %v, want nil", res.Index)
			}
			checkImage(t, store, res, img)
			if !strings.HasPrefix(res.Name, reg.host+"/test/single") {
				t.Errorf("Name = %q", res.Name)
			}
		})
	}
}

func TestPullIndex(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	amd, arm, armv7 := randomImage(t, 2), randomImage(t, 3), randomImage(t, 1)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: armv7, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}}},
	)
	ref := reg.ref(t, "test/multi:latest")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()

	host := amd
	switch runtime.GOARCH {
	case "arm64":
		host = arm
	case "arm":
		host = armv7
	}
	tests := []struct {
		name     string
		platform string
		want     v1.Image
		wantErr  error
	}{
		{"host", "", host, nil},
		{"amd64", "linux/amd64", amd, nil},
		{"arm64", "linux/arm64", arm, nil},
		{"arm64/v8", "linux/arm64/v8", arm, nil},
		{"arm v6 cannot run v7", "linux/arm/v6", nil, errdefs.ErrNotFound},
		{"arm v8 runs v7", "linux/arm/v8", armv7, nil},
		{"missing", "linux/s390x", nil, errdefs.ErrNotFound},
		{"malformed", "linux", nil, errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			res, err := Pull(t.Context(), ref.String(), store, anon, WithPlatform(tt.platform))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Pull(platform %q) = %v, want %v", tt.platform, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pull(platform %q): %v", tt.platform, err)
			}
			if res.Index == nil || res.Index.Digest.String() != idxDigest.String() {
				t.Fatalf("Index = %v, want %s", res.Index, idxDigest)
			}
			if _, err := store.Info(t.Context(), res.Index.Digest); err != nil {
				t.Errorf("index not stored: %v", err)
			}
			if res.Manifest.Platform == nil {
				t.Errorf("manifest descriptor has no platform")
			}
			checkImage(t, store, res, tt.want)
		})
	}
}

// flipBlob corrupts one byte in every full GET of the blob dgst.
func flipBlob(dgst string) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, h http.Handler) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+dgst) {
			w = &flipWriter{ResponseWriter: w}
		}
		h.ServeHTTP(w, r)
	}
}

type flipWriter struct {
	http.ResponseWriter
	done bool
}

func (f *flipWriter) Write(p []byte) (int, error) {
	if !f.done && len(p) > 0 {
		q := append([]byte(nil), p...)
		q[len(q)/2] ^= 0xff
		f.done = true
		return f.ResponseWriter.Write(q)
	}
	return f.ResponseWriter.Write(p)
}

func TestPullCorruptLayer(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	img := randomImage(t, 3)
	ref := reg.push(t, "test/corrupt:v1", img)
	layers, _ := img.Layers()
	bad, _ := layers[1].Digest()
	reg.setWrap(flipBlob(bad.String()))

	store := newStore(t)
	_, err := Pull(t.Context(), ref.String(), store, anon)
	if err == nil {
		t.Fatal("Pull of a corrupted layer succeeded")
	}
	if !errdefs.IsFailedPrecondition(err) {
		t.Errorf("Pull error = %v, want ErrFailedPrecondition", err)
	}
	if _, err := store.Info(t.Context(), digest.Digest(bad.String())); !errdefs.IsNotFound(err) {
		t.Errorf("Info(corrupted layer) = %v, want ErrNotFound", err)
	}
	if _, err := store.Status(t.Context(), "fetch-"+bad.String()); !errdefs.IsNotFound(err) {
		t.Errorf("Status(ingest of corrupted layer) = %v, want ErrNotFound (discarded)", err)
	}

	// Once the registry serves the right bytes, the pull completes.
	reg.setWrap(nil)
	res, err := Pull(t.Context(), ref.String(), store, anon)
	if err != nil {
		t.Fatalf("Pull after repair: %v", err)
	}
	checkImage(t, store, res, img)
}

func TestPullProgress(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	img := randomImage(t, 3)
	ref := reg.push(t, "test/progress:v1", img)
	store := newStore(t)

	var (
		mu     sync.Mutex
		events []Progress
	)
	record := WithProgress(func(p Progress) {
		mu.Lock()
		events = append(events, p)
		mu.Unlock()
	})
	res, err := Pull(t.Context(), ref.String(), store, anon, record)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Layers {
		id := l.Digest.Encoded()[:12]
		seen := map[string]Progress{}
		for _, e := range events {
			if e.ID == id {
				seen[e.Status] = e
				if e.Total != l.Size {
					t.Errorf("layer %s: %q total %d, want %d", id, e.Status, e.Total, l.Size)
				}
			}
		}
		for _, s := range []string{StatusPullingFsLayer, StatusDownloading, StatusVerifyingChecksum, StatusDownloadComplete} {
			if _, ok := seen[s]; !ok {
				t.Errorf("layer %s: no %q event in %v", id, s, events)
			}
		}
		if e := seen[StatusDownloadComplete]; e.Current != l.Size {
			t.Errorf("layer %s: complete at %d, want %d", id, e.Current, l.Size)
		}
	}

	// A second pull finds every layer.
	events = nil
	if _, err := Pull(t.Context(), ref.String(), store, anon, record); err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Layers {
		id := l.Digest.Encoded()[:12]
		var statuses []string
		for _, e := range events {
			if e.ID == id {
				statuses = append(statuses, e.Status)
			}
		}
		if want := []string{StatusPullingFsLayer, StatusAlreadyExists}; strings.Join(statuses, ",") != strings.Join(want, ",") {
			t.Errorf("second pull, layer %s: statuses %q, want %q", id, statuses, want)
		}
	}
}

func TestPullResume(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	img, err := random.Image(1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.push(t, "test/resume:v1", img)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	size, _ := layers[0].Size()

	// The registry sends half the layer, then stalls.
	half := make(chan struct{})
	var once sync.Once
	var ranges atomic.Int32
	reg.setWrap(func(w http.ResponseWriter, r *http.Request, h http.Handler) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			h.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Range") != "" {
			ranges.Add(1)
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		w.Header().Set("Content-Length", rec.Header().Get("Content-Length"))
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes()[:size/2])
		w.(http.Flusher).Flush()
		once.Do(func() { close(half) })
		<-r.Context().Done()
	})

	store := newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := Pull(ctx, ref.String(), store, anon)
		errc <- err
	}()
	select {
	case <-half:
	case err := <-errc:
		t.Fatalf("Pull returned before the stall: %v", err)
	}
	ingest := "fetch-" + ld.String()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := store.Status(t.Context(), ingest)
		if err == nil && st.Offset == size/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest never reached %d bytes: %+v, %v", size/2, st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Pull = %v, want context.Canceled", err)
	}
	if _, err := store.Info(t.Context(), digest.Digest(ld.String())); !errdefs.IsNotFound(err) {
		t.Fatalf("Info(half layer) = %v, want ErrNotFound", err)
	}

	res, err := Pull(t.Context(), ref.String(), store, anon)
	if err != nil {
		t.Fatalf("resumed Pull: %v", err)
	}
	checkImage(t, store, res, img)
	if ranges.Load() == 0 {
		t.Errorf("resumed Pull sent no Range request")
	}
}

func TestPullAuth(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	img := randomImage(t, 1)
	ref := reg.push(t, "test/auth:v1", img)
	reg.setWrap(func(w http.ResponseWriter, r *http.Request, h http.Handler) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})

	tests := []struct {
		name    string
		opt     Opt
		wantErr bool
	}{
		{"anonymous", anon, true},
		{"wrong password", WithAuth("alice", "nope"), true},
		{"basic", WithAuth("alice", "secret"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			res, err := Pull(t.Context(), ref.String(), store, tt.opt)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Pull = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				checkImage(t, store, res, img)
			}
		})
	}
}

func TestPlainHTTPPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host     string
		insecure []string
		want     bool
	}{
		{"localhost:5000", nil, true},
		{"localhost", nil, true},
		{"127.0.0.1:5000", nil, true},
		{"127.8.9.10", nil, true},
		{"[::1]:5000", nil, true},
		{"10.0.0.5:5000", nil, false},
		{"192.168.1.2:5000", nil, false},
		{"registry.example:5000", nil, false},
		{"registry.example:5000", []string{"registry.example:5000"}, true},
		{"registry.example:5000", []string{"registry.example"}, true},
		{"registry.example:5001", []string{"registry.example:5000"}, false},
		{"10.0.0.5:5000", []string{"10.0.0.0/8"}, true},
	}
	for _, tt := range tests {
		o := newOptions([]Opt{WithInsecureRegistries(tt.insecure)})
		if got := o.allowHTTP(tt.host); got != tt.want {
			t.Errorf("allowHTTP(%q) with insecure %q = %v, want %v", tt.host, tt.insecure, got, tt.want)
		}
	}
}

func TestPlainHTTPRefused(t *testing.T) {
	t.Parallel()
	// A registry in a private range is HTTP in go-containerregistry's eyes;
	// the transport must refuse it unless it is insecure. No connection is
	// made: the policy answers first (and the https attempt goes through a
	// transport that fails at once).
	failing := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, errors.New("no network in tests")
	})
	store := newStore(t)
	_, err := Pull(t.Context(), "10.255.255.1:5000/x/y:z", store, anon, WithTransport(failing))
	if err == nil {
		t.Fatal("Pull from a private-range registry over HTTP succeeded")
	}
	rt := newPolicyTransport(newOptions([]Opt{WithTransport(failing)}))
	req, _ := http.NewRequest(http.MethodGet, "http://10.255.255.1:5000/v2/", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("RoundTrip(http to private range) = %v, want ErrPlainHTTP", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConcurrentPulls(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	img := randomImage(t, 5)
	ref := reg.push(t, "test/concurrent:v1", img)
	store := newStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	results := make([]Result, 4)
	for i := range errs {
		wg.Go(func() { results[i], errs[i] = Pull(t.Context(), ref.String(), store, anon) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("pull %d: %v", i, err)
		}
		checkImage(t, store, results[i], img)
	}
}

func TestRank(t *testing.T) {
	t.Parallel()
	p := func(s string) ocispec.Platform {
		w, err := wantPlatform(s)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	tests := []struct {
		want, have string
		match      bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/amd64", "linux/arm64", false},
		{"linux/amd64", "windows/amd64", false},
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm/v7", "linux/arm/v6", true},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/x86_64", "linux/amd64", true},
	}
	for _, tt := range tests {
		if got := rank(p(tt.want), p(tt.have)) > 0; got != tt.match {
			t.Errorf("rank(%s, %s) > 0 = %v, want %v", tt.want, tt.have, got, tt.match)
		}
	}
}

func TestPullMissingIsNotFound(t *testing.T) {
	reg := httptest.NewServer(registry.New())
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	store, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pull(context.Background(), host+"/no/such:tag", store)
	if !errdefs.IsNotFound(err) {
		t.Fatalf("Pull of a missing repository = %v, want a NotFound error", err)
	}
}
