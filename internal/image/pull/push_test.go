package pull

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPushImage(t *testing.T) {
	t.Parallel()
	src, dst := newTestRegistry(t), newTestRegistry(t)
	img := randomImage(t, 3)
	ref := src.push(t, "test/push:v1", img)
	store := newStore(t)
	res, err := Pull(t.Context(), ref.String(), store, anon)
	if err != nil {
		t.Fatal(err)
	}

	target := dst.host + "/copied/image:v2"
	if err := Push(t.Context(), target, store, res.Manifest, anon); err != nil {
		t.Fatalf("Push(%s): %v", target, err)
	}
	desc, err := remote.Get(dst.ref(t, "copied/image:v2"))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != res.Manifest.Digest.String() {
		t.Errorf("pushed manifest = %s, want %s", desc.Digest, res.Manifest.Digest)
	}
	again := newStore(t)
	res2, err := Pull(t.Context(), target, again, anon)
	if err != nil {
		t.Fatalf("Pull(pushed): %v", err)
	}
	checkImage(t, again, res2, img)
}

func TestPushIndex(t *testing.T) {
	t.Parallel()
	src, dst := newTestRegistry(t), newTestRegistry(t)
	amd, arm := randomImage(t, 2), randomImage(t, 2)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	ref := src.ref(t, "test/index:v1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	var res Result
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		var err error
		if res, err = Pull(t.Context(), ref.String(), store, anon, WithPlatform(p)); err != nil {
			t.Fatal(err)
		}
	}
	target := dst.host + "/copied/index:v1"
	if err := Push(t.Context(), target, store, *res.Index, anon); err != nil {
		t.Fatalf("Push(index): %v", err)
	}
	got, err := remote.Index(dst.ref(t, "copied/index:v1"))
	if err != nil {
		t.Fatal(err)
	}
	gd, _ := got.Digest()
	if gd.String() != res.Index.Digest.String() {
		t.Errorf("pushed index = %s, want %s", gd, res.Index.Digest)
	}
	for _, want := range []v1.Image{amd, arm} {
		d, _ := want.Digest()
		if _, err := remote.Image(dst.ref(t, "copied/index@"+d.String())); err != nil {
			t.Errorf("child %s not pushed: %v", d, err)
		}
	}
}
