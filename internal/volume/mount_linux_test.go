package volume

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mountinfo"
	"github.com/shoal-dev/shoal/internal/testutil"
)

// mountsAt returns the mountinfo entries mounted exactly at path.
func mountsAt(t *testing.T, path string) []mountinfo.Entry {
	t.Helper()
	all, err := mountinfo.Self()
	if err != nil {
		t.Fatal(err)
	}
	var out []mountinfo.Entry
	for _, m := range all {
		if m.Point == path {
			out = append(out, m)
		}
	}
	return out
}

func TestTmpfsVolumeMountedByRefs(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	v, err := s.Create(ctx, "scratch", "", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000,mode=0750"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unmountData(v.Mountpoint) })
	if ms := mountsAt(t, v.Mountpoint); len(ms) != 0 {
		t.Fatalf("option volume mounted before first ref: %+v", ms)
	}

	if _, err := s.Mount(ctx, "scratch", "c1"); err != nil {
		t.Fatalf("Mount(c1) = %v", err)
	}
	ms := mountsAt(t, v.Mountpoint)
	if len(ms) != 1 || ms[0].FSType != "tmpfs" || !slices.Contains(ms[0].Super, "size=1024k") || !slices.Contains(ms[0].Super, "uid=1000") {
		t.Fatalf("after first Mount, mounts at %s = %+v, want one tmpfs with size=1024k,uid=1000", v.Mountpoint, ms)
	}
	writeFile(t, filepath.Join(v.Mountpoint, "f"), "x")
	if _, err := s.Mount(ctx, "scratch", "c2"); err != nil {
		t.Fatal(err)
	}
	if ms := mountsAt(t, v.Mountpoint); len(ms) != 1 {
		t.Errorf("second ref mounted again: %d mounts", len(ms))
	}
	if err := s.Remove(ctx, "scratch", true); !errdefs.IsConflict(err) {
		t.Errorf("Remove(mounted, force) = %v, want conflict", err)
	}
	if err := s.Unmount(ctx, "scratch", "c1"); err != nil {
		t.Fatal(err)
	}
	if ms := mountsAt(t, v.Mountpoint); len(ms) != 1 || !exists(t, filepath.Join(v.Mountpoint, "f")) {
		t.Errorf("unmounted while a ref remains: %+v", ms)
	}
	if err := s.Unmount(ctx, "scratch", "c2"); err != nil {
		t.Fatal(err)
	}
	if ms := mountsAt(t, v.Mountpoint); len(ms) != 0 {
		t.Errorf("still mounted after the last ref: %+v", ms)
	}
	if exists(t, filepath.Join(v.Mountpoint, "f")) {
		t.Error("tmpfs content visible after unmount")
	}
	if err := s.Remove(ctx, "scratch", false); err != nil {
		t.Errorf("Remove = %v", err)
	}
}

// A bind volume's host directory survives Remove, even when the volume is
// still mounted from before a restart (no refs, but mounted).
func TestBindVolumeRemoveKeepsHostData(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	ctx := t.Context()
	host := t.TempDir()
	writeFile(t, filepath.Join(host, "precious"), "keep")
	dir := filepath.Join(t.TempDir(), "volumes")
	s := openStore(t, dir)
	v, err := s.Create(ctx, "hostdir", "", map[string]string{"type": "none", "device": host, "o": "bind"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unmountData(v.Mountpoint) })
	if _, err := s.Mount(ctx, "hostdir", "c1"); err != nil {
		t.Fatal(err)
	}
	if !exists(t, filepath.Join(v.Mountpoint, "precious")) {
		t.Fatal("bind volume does not show the host directory")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir)
	// The restarted engine registers its container again: no second mount.
	if _, err := s2.Mount(ctx, "hostdir", "c1"); err != nil {
		t.Fatal(err)
	}
	if ms := mountsAt(t, v.Mountpoint); len(ms) != 1 {
		t.Errorf("re-registering a mounted volume made %d mounts, want 1", len(ms))
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	s3 := openStore(t, dir) // mounted, no refs
	if err := s3.Remove(ctx, "hostdir", false); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(host, "precious")); err != nil || string(data) != "keep" {
		t.Fatalf("host data after Remove = %q, %v", data, err)
	}
	if ms := mountsAt(t, v.Mountpoint); len(ms) != 0 {
		t.Errorf("mounts left after Remove: %+v", ms)
	}
}

// Open deletes a leftover _removing- directory without deleting through a
// mount inside it.
func TestOpenLeftoverWithMount(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	host := t.TempDir()
	writeFile(t, filepath.Join(host, "precious"), "keep")
	dir := filepath.Join(t.TempDir(), "volumes")
	trashData := filepath.Join(dir, "_removing-x-1", "_data")
	if err := os.MkdirAll(trashData, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mountData(map[string]string{"type": "none", "device": host, "o": "bind"}, trashData); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unmountData(trashData) })
	openStore(t, dir)
	if !exists(t, filepath.Join(host, "precious")) {
		t.Fatal("Open deleted host data through a mount in a leftover directory")
	}
	if exists(t, filepath.Join(dir, "_removing-x-1")) {
		t.Error("Open left the leftover directory")
	}
}
