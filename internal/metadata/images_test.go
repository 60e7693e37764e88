package metadata

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestCreateGet(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t, true)
	s := db.Images()
	img := newImage("a")
	img.Name = "busybox"
	img.Created = time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	created := mustCreate(t, s, img)
	if created.Name != "docker.io/library/busybox:latest" {
		t.Errorf("Create().Name = %q, want fully qualified", created.Name)
	}
	if !created.Created.Equal(img.Created) || created.Created.Location() != time.UTC {
		t.Errorf("Create().Created = %v, want %v in UTC", created.Created, img.Created)
	}
	untagged := mustCreate(t, s, newImage("b"))
	if untagged.Created.IsZero() {
		t.Error("Create() left Created zero")
	}

	id := img.ID
	tests := []struct {
		in       string
		wantID   digest.Digest
		wantName string
	}{
		{"busybox", id, "docker.io/library/busybox:latest"},
		{"busybox:latest", id, "docker.io/library/busybox:latest"},
		{"docker.io/library/busybox:latest", id, "docker.io/library/busybox:latest"},
		{id.String(), id, ""},
		{id.Encoded(), id, ""},
		{id.Encoded()[:12], id, ""},
		{id.Encoded()[:1], id, ""}, // "a"-derived and "b"-derived IDs differ in the first digit
		{"sha256:" + id.Encoded()[:5], id, ""},
		{untagged.ID.Encoded()[:12], untagged.ID, ""},
	}
	if id.Encoded()[0] == untagged.ID.Encoded()[0] {
		t.Fatal("test IDs share their first digit; pick other seeds")
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := s.Get(t.Context(), tt.in)
			if err != nil {
				t.Fatalf("Get(%q) = %v", tt.in, err)
			}
			if got.ID != tt.wantID || got.Name != tt.wantName {
				t.Errorf("Get(%q) = %s %q, want %s %q", tt.in, got.ID, got.Name, tt.wantID, tt.wantName)
			}
		})
	}
	got, err := s.Get(t.Context(), "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if got.Target.Digest != img.Target.Digest || got.Labels["seed"] != "a" || !got.Created.Equal(img.Created) {
		t.Errorf("Get(busybox) = %+v, want the created record", got)
	}
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t, true)
	s := db.Images()
	a := newImage("a")
	a.ID = idWithPrefix("abc1", "1")
	b := newImage("b")
	b.ID = idWithPrefix("abc2", "2")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	// A name that looks like a prefix wins over the prefix (Docker's order).
	mustTag(t, s, "abc", b.ID)

	missing := digestOf("missing")
	tests := []struct {
		in    string
		class error
		msg   string
	}{
		{"nosuch", errdefs.ErrNotFound, "No such image: nosuch:latest"},
		{"user/app:1", errdefs.ErrNotFound, "No such image: user/app:1"},
		{"localhost:5000/x", errdefs.ErrNotFound, "No such image: localhost:5000/x:latest"},
		{missing.String(), errdefs.ErrNotFound, "No such image: " + missing.String()},
		{missing.Encoded(), errdefs.ErrNotFound, "No such image: " + missing.String()},
		{"abd", errdefs.ErrNotFound, "No such image: abd:latest"},
		{"ab", errdefs.ErrConflict, "image ID prefix ab is ambiguous: it matches more than one image"},
		{"sha256:abc", errdefs.ErrConflict, "image ID prefix sha256:abc is ambiguous: it matches more than one image"},
		{"Busybox", errdefs.ErrInvalidArgument, "invalid reference format: repository name (library/Busybox) must be lowercase"},
		{"", errdefs.ErrInvalidArgument, "invalid reference format"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := s.Get(t.Context(), tt.in)
			if !errors.Is(err, tt.class) {
				t.Fatalf("Get(%q) = %v, %v, want error of class %v", tt.in, got.ID, err, tt.class)
			}
			if err.Error() != tt.msg {
				t.Errorf("Get(%q) error = %q, want %q", tt.in, err.Error(), tt.msg)
			}
		})
	}
	got, err := s.Get(t.Context(), "abc")
	if err != nil || got.ID != b.ID {
		t.Errorf("Get(abc) = %s, %v, want name match %s", got.ID, err, b.ID)
	}
	if got, err := s.Get(t.Context(), "abc1"); err != nil || got.ID != a.ID {
		t.Errorf("Get(abc1) = %s, %v, want %s", got.ID, err, a.ID)
	}
}

func TestCreateInvalid(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t, true)
	s := db.Images()
	good := newImage("a")
	mustCreate(t, s, good)
	tests := []struct {
		name  string
		edit  func(*Image)
		class error
	}{
		{"duplicate id", func(*Image) {}, errdefs.ErrAlreadyExists},
		{"empty id", func(i *Image) { i.ID = "" }, errdefs.ErrInvalidArgument},
		{"sha512 id", func(i *Image) { i.ID = digest.SHA512.FromString("x") }, errdefs.ErrInvalidArgument},
		{"short id", func(i *Image) { i.ID = "sha256:abc" }, errdefs.ErrInvalidArgument},
		{"no media type", func(i *Image) { i.ID = digestOf("1"); i.Target.MediaType = "" }, errdefs.ErrInvalidArgument},
		{"bad target digest", func(i *Image) { i.ID = digestOf("2"); i.Target.Digest = "sha256:zz" }, errdefs.ErrInvalidArgument},
		{"negative size", func(i *Image) { i.ID = digestOf("3"); i.Target.Size = -1 }, errdefs.ErrInvalidArgument},
		{"bad name", func(i *Image) { i.ID = digestOf("4"); i.Name = "Bad" }, errdefs.ErrInvalidArgument},
		{"empty label key", func(i *Image) { i.ID = digestOf("5"); i.Labels = map[string]string{"": "x"} }, errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := newImage("a")
			tt.edit(&img)
			if _, err := s.Create(t.Context(), img); !errors.Is(err, tt.class) {
				t.Errorf("Create(%s) = %v, want class %v", tt.name, err, tt.class)
			}
		})
	}
	list, err := s.List(t.Context(), nil)
	if err != nil || len(list) != 1 {
		t.Errorf("List() = %v, %v, want only the first image", describe(list), err)
	}
}

func TestTagUntag(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t, true)
	s := db.Images()
	ctx := t.Context()
	a := mustCreate(t, s, newImage("a"))
	b := mustCreate(t, s, newImage("b"))

	mustTag(t, s, "app:1", a.ID)
	mustTag(t, s, "docker.io/library/app:2", a.ID)
	mustTag(t, s, "localhost:5000/app", a.ID)
	names, err := s.Names(ctx, a.ID)
	want := []string{"docker.io/library/app:1", "docker.io/library/app:2", "localhost:5000/app:latest"}
	if err != nil || !slices.Equal(names, want) {
		t.Fatalf("Names(a) = %q, %v, want %q", names, err, want)
	}

	// Re-tagging moves the name.
	mustTag(t, s, "app:1", b.ID)
	if got, err := s.Get(ctx, "app:1"); err != nil || got.ID != b.ID || got.Target.Digest != b.Target.Digest {
		t.Errorf("Get(app:1) after move = %s, %v, want %s", got.ID, err, b.ID)
	}
	if names, _ := s.Names(ctx, a.ID); slices.Contains(names, "docker.io/library/app:1") {
		t.Errorf("Names(a) = %q, still has the moved tag", names)
	}

	if err := s.Untag(ctx, "app:2"); err != nil {
		t.Fatalf("Untag(app:2) = %v", err)
	}
	if _, err := s.Get(ctx, "app:2"); !errdefs.IsNotFound(err) {
		t.Errorf("Get(app:2) after Untag = %v, want not found", err)
	}
	if _, err := s.Get(ctx, a.ID.String()); err != nil {
		t.Errorf("Get(a) after Untag = %v, want the image to stay", err)
	}
	err = s.Untag(ctx, "app:2")
	if !errdefs.IsNotFound(err) || err.Error() != "No such image: app:2" {
		t.Errorf("Untag(app:2) again = %v, want No such image: app:2", err)
	}
	if err := s.Untag(ctx, "Bad"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Untag(Bad) = %v, want invalid argument", err)
	}
	missing := digestOf("missing")
	if err := s.Tag(ctx, "x", missing); !errdefs.IsNotFound(err) {
		t.Errorf("Tag(x, missing) = %v, want not found", err)
	}
	if err := s.Tag(ctx, "x", "sha256:nothex"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Tag(x, bad id) = %v, want invalid argument", err)
	}
	if err := s.Tag(ctx, "x:bad/tag", a.ID); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Tag(bad name) = %v, want invalid argument", err)
	}
	if _, err := s.Names(ctx, missing); !errdefs.IsNotFound(err) {
		t.Errorf("Names(missing) = %v, want not found", err)
	}
}

func TestCreateMovesName(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t, true)
	s := db.Images()
	a := newImage("a")
	a.Name = "app"
	mustCreate(t, s, a)
	b := newImage("b")
	b.Name = "app:latest"
	mustCreate(t, s, b)
	got, err := s.Get(t.Context(), "app")
	if err != nil || got.ID != b.ID {
		t.Errorf("Get(app) = %s, %v, want %s", got.ID, err, b.ID)
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t, true)
	s := db.Images()
	a := mustCreate(t, s, newImage("a"))
	b := mustCreate(t, s, newImage("b"))
	c := mustCreate(t, s, newImage("c")) // dangling
	mustTag(t, s, "zeta", a.ID)
	mustTag(t, s, "alpha:1", a.ID)
	mustTag(t, s, "ghcr.io/o/r", b.ID)
	short := func(d digest.Digest) string { return d.Encoded()[:6] }

	tests := []struct {
		name   string
		filter func(Image) bool
		want   []string
	}{
		{"all", nil, []string{
			"docker.io/library/alpha:1=" + short(a.ID),
			"docker.io/library/zeta:latest=" + short(a.ID),
			"ghcr.io/o/r:latest=" + short(b.ID),
			"=" + short(c.ID),
		}},
		{"dangling", func(i Image) bool { return i.Name == "" }, []string{"=" + short(c.ID)}},
		{"reference", func(i Image) bool { return strings.HasPrefix(i.Name, "ghcr.io/") }, []string{"ghcr.io/o/r:latest=" + short(b.ID)}},
		{"label", func(i Image) bool { return i.Labels["seed"] == "a" }, []string{
			"docker.io/library/alpha:1=" + short(a.ID),
			"docker.io/library/zeta:latest=" + short(a.ID),
		}},
		{"none", func(Image) bool { return false }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.List(t.Context(), tt.filter)
			if err != nil {
				t.Fatalf("List(%s) = %v", tt.name, err)
			}
			if !slices.Equal(describe(got), tt.want) {
				t.Errorf("List(%s) = %q, want %q", tt.name, describe(got), tt.want)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t, true)
	s := db.Images()
	ctx := t.Context()
	a := mustCreate(t, s, newImage("a"))
	b := mustCreate(t, s, newImage("b"))
	mustTag(t, s, "one", a.ID)
	mustTag(t, s, "two", a.ID)
	mustTag(t, s, "three", b.ID)
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatalf("Delete(a) = %v", err)
	}
	for _, n := range []string{"one", "two", a.ID.String()} {
		if _, err := s.Get(ctx, n); !errdefs.IsNotFound(err) {
			t.Errorf("Get(%q) after Delete = %v, want not found", n, err)
		}
	}
	if got, err := s.Get(ctx, "three"); err != nil || got.ID != b.ID {
		t.Errorf("Get(three) = %s, %v, want %s", got.ID, err, b.ID)
	}
	err := s.Delete(ctx, a.ID)
	if !errdefs.IsNotFound(err) || err.Error() != "No such image: "+a.ID.String() {
		t.Errorf("Delete(a) again = %v, want No such image", err)
	}
}

func TestLiveDigests(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t, true)
	s := db.Images()
	a := mustCreate(t, s, newImage("a"))
	b := newImage("b")
	b.Target.MediaType = ocispec.MediaTypeImageIndex
	b = mustCreate(t, s, b)
	mustTag(t, s, "x", a.ID)
	mustTag(t, s, "y", a.ID)
	got, err := s.LiveDigests(t.Context())
	want := []digest.Digest{a.Target.Digest, b.Target.Digest}
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("LiveDigests() = %v, %v, want %v", got, err, want)
	}
	roots, err := s.Roots(t.Context())
	if err != nil || len(roots) != 2 {
		t.Fatalf("Roots() = %v, %v", roots, err)
	}
	for _, r := range roots {
		if r.Digest == b.Target.Digest && r.MediaType != ocispec.MediaTypeImageIndex {
			t.Errorf("Roots() lost the media type of %s: %q", r.Digest, r.MediaType)
		}
	}
}

func TestConcurrentTagging(t *testing.T) {
	t.Parallel()
	db, _ := newDB(t, true)
	s := db.Images()
	const workers, rounds = 8, 25
	ids := make([]digest.Digest, workers)
	for i := range ids {
		ids[i] = mustCreate(t, s, newImage(fmt.Sprint("w", i))).ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*3)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				shared := fmt.Sprintf("shared:%d", r%3)
				own := fmt.Sprintf("own%d:%d", w, r)
				if err := s.Tag(t.Context(), shared, ids[w]); err != nil {
					errs <- err
				}
				if err := s.Tag(t.Context(), own, ids[w]); err != nil {
					errs <- err
				}
				if r%2 == 0 {
					if err := s.Untag(t.Context(), own); err != nil {
						errs <- err
					}
				}
				if _, err := s.Get(t.Context(), shared); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent op: %v", err)
	}
	list, err := s.List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// 3 shared names, plus the odd rounds' own names of every worker.
	if want := 3 + workers*(rounds/2); len(list) != want {
		t.Errorf("List() has %d entries, want %d", len(list), want)
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	db, path := newDB(t, false)
	s := db.Images()
	img := newImage("a")
	img.Name = "persist:1"
	created := mustCreate(t, s, img)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open again = %v", err)
	}
	t.Cleanup(func() {
		if err := db2.Check(context.Background()); err != nil {
			t.Errorf("Check() = %v", err)
		}
		db2.Close()
	})
	got, err := db2.Images().Get(t.Context(), "persist:1")
	if err != nil {
		t.Fatalf("Get after reopen = %v", err)
	}
	if got.ID != created.ID || got.Name != created.Name || !got.Created.Equal(created.Created) ||
		got.Target.Digest != created.Target.Digest || got.Labels["seed"] != "a" {
		t.Errorf("Get after reopen = %+v, want %+v", got, created)
	}
}
