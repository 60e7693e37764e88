package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// fakeFile is a file in a fake container or image.
type fakeFile struct {
	dir      bool
	link     string
	mode     int64
	uid, gid int
	data     string
}

type fakeFS map[string]fakeFile // clean absolute path → file

func (f fakeFS) clone() fakeFS {
	out := fakeFS{}
	for k, v := range f {
		out[k] = v
	}
	return out
}

type fakeImage struct {
	img Image
	fs  fakeFS
}

type fakeContainer struct {
	cfg ContainerConfig
	fs  fakeFS
	ran bool
}

// fakeBackend is an in-memory Backend: images and containers are maps,
// a container's file system a map of paths.
type fakeBackend struct {
	mu         sync.Mutex
	images     map[string]*fakeImage
	names      map[string]string
	containers map[string]*fakeContainer
	n          int
	// run is what RUN does: it may change the container's files and
	// returns the output and exit code.
	run func(c *fakeContainer) (string, int)
	// counts of calls by method
	calls map[string]int
}

func newFakeBackend() *fakeBackend {
	f := &fakeBackend{
		images: map[string]*fakeImage{}, names: map[string]string{}, containers: map[string]*fakeContainer{},
		calls: map[string]int{},
	}
	base := dockerspec.DockerOCIImage{}
	base.OS, base.Architecture = "linux", hostArch()
	base.RootFS.Type = "layers"
	base.RootFS.DiffIDs = []digest.Digest{digest.FromString("base")}
	base.Config.Env = []string{"PATH=/bin"}
	base.Config.Cmd = []string{"sh"}
	id := "sha256:" + strings.Repeat("b", 64)
	f.images[id] = &fakeImage{img: Image{ID: id, Config: base}, fs: fakeFS{
		"/":           {dir: true, mode: 0o755},
		"/bin":        {dir: true, mode: 0o755},
		"/bin/sh":     {mode: 0o755, data: "#!"},
		"/etc":        {dir: true, mode: 0o755},
		"/etc/passwd": {mode: 0o644, data: "root:x:0:0::/root:/bin/sh\n"},
	}}
	f.names["bb"] = id
	return f
}

func (f *fakeBackend) count(m string) {
	f.calls[m]++
}

func (f *fakeBackend) newID() string {
	f.n++
	return "sha256:" + fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint("id", f.n))))
}

func (f *fakeBackend) lookup(ref string) (*fakeImage, error) {
	if id, ok := f.names[ref]; ok {
		ref = id
	}
	if img, ok := f.images[ref]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("No such image: %s: %w", ref, errdefs.ErrNotFound)
}

func (f *fakeBackend) Image(_ context.Context, ref string) (Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("Image")
	img, err := f.lookup(ref)
	if err != nil {
		return Image{}, err
	}
	// A deep copy, as a real backend decodes a fresh one.
	var out Image
	b, _ := json.Marshal(img.img.Config)
	_ = json.Unmarshal(b, &out.Config)
	out.ID = img.img.ID
	return out, nil
}

func (f *fakeBackend) Pull(_ context.Context, ref string, _ func(string)) (Image, error) {
	return Image{}, fmt.Errorf("pull access denied for %s: %w", ref, errdefs.ErrNotFound)
}

func (f *fakeBackend) CommitConfig(_ context.Context, parent string, img dockerspec.DockerOCIImage) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("CommitConfig")
	fs := fakeFS{"/": {dir: true, mode: 0o755}}
	if parent != "" {
		p, err := f.lookup(parent)
		if err != nil {
			return "", err
		}
		if len(p.img.Config.RootFS.DiffIDs) != len(img.RootFS.DiffIDs) {
			return "", errors.New("diff ids changed in a config-only commit")
		}
		fs = p.fs.clone()
	}
	b, _ := json.Marshal(img)
	id := digest.FromBytes(b).String()
	f.images[id] = &fakeImage{img: Image{ID: id, Config: img}, fs: fs}
	return id, nil
}

func (f *fakeBackend) ScratchImage(ctx context.Context) (string, error) {
	img := dockerspec.DockerOCIImage{}
	img.OS, img.Architecture = "linux", hostArch()
	img.RootFS.Type = "layers"
	img.RootFS.DiffIDs = []digest.Digest{}
	return f.CommitConfig(ctx, "", img)
}

func (f *fakeBackend) Tag(_ context.Context, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[name] = id
	return nil
}

func (f *fakeBackend) CreateContainer(_ context.Context, c ContainerConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("CreateContainer")
	img, err := f.lookup(c.Image)
	if err != nil {
		return "", err
	}
	id := strings.TrimPrefix(f.newID(), "sha256:")
	f.containers[id] = &fakeContainer{cfg: c, fs: img.fs.clone()}
	return id, nil
}

func (f *fakeBackend) container(id string) (*fakeContainer, error) {
	c, ok := f.containers[id]
	if !ok {
		return nil, fmt.Errorf("No such container: %s: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}

func (f *fakeBackend) RunContainer(_ context.Context, id string, stdout, _ io.Writer) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("RunContainer")
	c, err := f.container(id)
	if err != nil {
		return 0, err
	}
	c.ran = true
	if f.run == nil {
		return 0, nil
	}
	out, code := f.run(c)
	_, _ = io.WriteString(stdout, out)
	return code, nil
}

func (f *fakeBackend) StatPath(_ context.Context, id, p string) (PathInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("StatPath")
	c, err := f.container(id)
	if err != nil {
		return PathInfo{}, err
	}
	wantDir := strings.HasSuffix(p, "/")
	e, ok := c.fs[path.Clean(p)]
	if !ok || (wantDir && !e.dir) {
		return PathInfo{}, fmt.Errorf("stat %s: %w", p, errdefs.ErrNotFound)
	}
	mode := os.FileMode(e.mode)
	if e.dir {
		mode |= os.ModeDir
	}
	return PathInfo{Name: path.Base(p), Mode: mode}, nil
}

func (f *fakeBackend) CopyTo(_ context.Context, id, dir string, r io.Reader, chown bool) error {
	f.mu.Lock()
	c, err := f.container(id)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		data, _ := io.ReadAll(tr)
		p := path.Join(dir, hdr.Name)
		f.mu.Lock()
		for d := path.Dir(p); ; d = path.Dir(d) {
			if _, ok := c.fs[d]; !ok {
				c.fs[d] = fakeFile{dir: true, mode: 0o755}
			}
			if d == "/" {
				break
			}
		}
		ff := fakeFile{dir: hdr.Typeflag == tar.TypeDir, mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid, data: string(data), link: hdr.Linkname}
		if chown {
			ff.uid, ff.gid = 1000, 1000
		}
		c.fs[p] = ff
		f.mu.Unlock()
	}
}

func (f *fakeBackend) CopyFrom(_ context.Context, id, p string, w io.Writer) error {
	f.mu.Lock()
	c, err := f.container(id)
	var paths []string
	if err == nil {
		p = path.Clean(p)
		if _, ok := c.fs[p]; !ok {
			err = fmt.Errorf("%s: %w", p, errdefs.ErrNotFound)
		}
		for q := range c.fs {
			if q == p || strings.HasPrefix(q, p+"/") || p == "/" {
				paths = append(paths, q)
			}
		}
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	sort.Strings(paths)
	tw := tar.NewWriter(w)
	base := path.Base(p)
	for _, q := range paths {
		e := c.fs[q]
		name := base + strings.TrimPrefix(q, p)
		hdr := &tar.Header{Name: name, Mode: e.mode, Uid: e.uid, Gid: e.gid, Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		if e.dir {
			hdr.Typeflag, hdr.Name, hdr.Size = tar.TypeDir, name+"/", 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !e.dir {
			if _, err := io.WriteString(tw, e.data); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func (f *fakeBackend) CommitContainer(_ context.Context, id string, cm Commit) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("CommitContainer")
	c, err := f.container(id)
	if err != nil {
		return "", err
	}
	parent, err := f.lookup(c.cfg.Image)
	if err != nil {
		return "", err
	}
	img := parent.img.Config
	img.RootFS.DiffIDs = append(append([]digest.Digest{}, img.RootFS.DiffIDs...), digest.FromString(f.newID()))
	img.Config = cm.Config
	img.Author = cm.Author
	nid := f.newID()
	f.images[nid] = &fakeImage{img: Image{ID: nid, Config: img}, fs: c.fs.clone()}
	return nid, nil
}

func (f *fakeBackend) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("RemoveContainer")
	if _, err := f.container(id); err != nil {
		return err
	}
	delete(f.containers, id)
	return nil
}

// file returns a file of an image.
func (f *fakeBackend) file(t *testing.T, ref, p string) (fakeFile, bool) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	img, err := f.lookup(ref)
	if err != nil {
		t.Fatalf("image %s: %v", ref, err)
	}
	e, ok := img.fs[p]
	return e, ok
}

// recorder is a Reporter that keeps the output.
type recorder struct {
	mu  sync.Mutex
	out strings.Builder
	ids []string
}

func (r *recorder) Stdout(s string) { r.mu.Lock(); r.out.WriteString(s); r.mu.Unlock() }
func (r *recorder) Stderr(s string) { r.mu.Lock(); r.out.WriteString(s); r.mu.Unlock() }
func (r *recorder) ImageID(id string) {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
}

// ctxFile is a file of a test build context.
type ctxFile struct {
	name, data string
	mode       int64
	dir        bool
	link       string
}

func makeTar(t *testing.T, files ...ctxFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		switch {
		case f.dir:
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		case f.link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, f.link, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, f.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newTestBuilder is a Builder over a fake backend in a temporary root.
func newTestBuilder(t *testing.T) (*Builder, *fakeBackend) {
	t.Helper()
	be := newFakeBackend()
	b, err := New(Config{Root: t.TempDir(), Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, be
}

// build runs a build of files with options o; it returns the image ID,
// the output and the error.
func build(t *testing.T, b *Builder, o Options, files ...ctxFile) (string, string, error) {
	t.Helper()
	rec := &recorder{}
	id, err := b.Build(t.Context(), bytes.NewReader(makeTar(t, files...)), o, rec)
	return id, rec.out.String(), err
}

func mustBuild(t *testing.T, b *Builder, o Options, files ...ctxFile) (string, string) {
	t.Helper()
	id, out, err := build(t, b, o, files...)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return id, out
}
