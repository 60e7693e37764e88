package volume

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestCreateGetListRemove(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)

	labels := map[string]string{"app": "web"}
	v, err := s.Create(ctx, "data", "", nil, labels)
	if err != nil {
		t.Fatalf("Create(data) = %v", err)
	}
	labels["app"] = "mutated" // the store must not alias the caller's map
	want := Volume{
		Name:       "data",
		Driver:     "local",
		Mountpoint: filepath.Join(s.root, "data", "_data"),
		CreatedAt:  v.CreatedAt,
		Labels:     map[string]string{"app": "web"},
	}
	if v.CreatedAt.IsZero() {
		t.Error("CreatedAt is zero")
	}
	if !volumeEqual(v, want) {
		t.Errorf("Create(data) = %+v, want %+v", v, want)
	}
	for path, perm := range map[string]os.FileMode{filepath.Join(s.root, "data"): 0o701, v.Mountpoint: 0o755} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != perm {
			t.Errorf("%s: mode %v, want directory %v", path, fi.Mode(), perm)
		}
	}

	got, err := s.Get(ctx, "data")
	if err != nil || !volumeEqual(got, want) {
		t.Errorf("Get(data) = %+v, %v, want %+v", got, err, want)
	}
	got.Labels["app"] = "mutated"
	if again, _ := s.Get(ctx, "data"); again.Labels["app"] != "web" {
		t.Error("Get returned a map aliasing the store's")
	}

	if _, err := s.Create(ctx, "other", "local", nil, nil); err != nil {
		t.Fatal(err)
	}
	ls, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := volumeNames(ls); !slices.Equal(names, []string{"data", "other"}) {
		t.Errorf("List() = %v, want [data other]", names)
	}

	writeFile(t, filepath.Join(v.Mountpoint, "sub", "file"), "hello")
	if err := s.Remove(ctx, "data", false); err != nil {
		t.Fatalf("Remove(data) = %v", err)
	}
	if exists(t, filepath.Join(s.root, "data")) {
		t.Error("Remove left the volume directory")
	}
	_, err = s.Get(ctx, "data")
	if !errdefs.IsNotFound(err) || err.Error() != "get data: no such volume" {
		t.Errorf("Get(removed) = %v, want not found \"get data: no such volume\"", err)
	}
	err = s.Remove(ctx, "data", false)
	if !errdefs.IsNotFound(err) || err.Error() != "get data: no such volume" {
		t.Errorf("Remove(missing) = %v, want not found", err)
	}
	if err := s.Remove(ctx, "data", true); err != nil {
		t.Errorf("Remove(missing, force) = %v, want nil", err)
	}
}

func TestAnonymous(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	v, err := s.Create(ctx, "", "", nil, map[string]string{"x": "y"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(v.Name) {
		t.Errorf("anonymous name %q is not 64 hex digits", v.Name)
	}
	if !v.Anonymous || !maps.Equal(v.Labels, map[string]string{"x": "y", AnonymousLabel: ""}) {
		t.Errorf("anonymous volume = %+v, want Anonymous with labels x=y and %s", v, AnonymousLabel)
	}
	w, err := s.Create(ctx, "", "", nil, nil)
	if err != nil || w.Name == v.Name {
		t.Errorf("second anonymous volume = %q, %v; want a new name", w.Name, err)
	}
	named, _ := s.Create(ctx, "named", "", nil, nil)
	if named.Anonymous {
		t.Error("named volume is Anonymous")
	}
}

func TestCreateIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	first, err := s.Create(ctx, "v1", "", nil, map[string]string{"a": "1"})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(first.Mountpoint, "keep"), "x")
	// Docker returns the existing volume unchanged, whatever the options
	// and labels of the second create.
	again, err := s.Create(ctx, "v1", "local", map[string]string{"type": "tmpfs", "device": "tmpfs"}, map[string]string{"b": "2"})
	if err != nil {
		t.Fatalf("Create(existing) = %v", err)
	}
	if !volumeEqual(again, first) {
		t.Errorf("Create(existing) = %+v, want %+v", again, first)
	}
	if !exists(t, filepath.Join(first.Mountpoint, "keep")) {
		t.Error("Create(existing) lost data")
	}
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	hostDir := t.TempDir()
	tests := []struct {
		name, volume, driver string
		opts                 map[string]string
		class                func(error) bool
		msg                  string // exact message, if not empty
	}{
		{"driver", "v", "foo", nil, errdefs.IsNotFound, `create v: error looking up volume plugin foo: plugin "foo" not found`},
		{"dotdot", "../x", "", nil, errdefs.IsInvalidArgument, `create ../x: "../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{"absolute", "/abs", "", nil, errdefs.IsInvalidArgument, `create /abs: "/abs" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{"short", "a", "", nil, errdefs.IsInvalidArgument, `create a: volume name is too short, names should be at least two alphanumeric characters`},
		{"unicode", "vélo", "", nil, errdefs.IsInvalidArgument, `create vélo: "vélo" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{"unknown option", "vv", "", map[string]string{"foo": "bar"}, errdefs.IsInvalidArgument, `create vv: invalid option: "foo"`},
		{"type alone", "vv", "", map[string]string{"type": "tmpfs"}, errdefs.IsInvalidArgument, `create vv: missing required option: "device"`},
		{"device alone", "vv", "", map[string]string{"device": "tmpfs"}, errdefs.IsInvalidArgument, `create vv: missing required option: "type"`},
		{"o alone", "vv", "", map[string]string{"o": "size=1m"}, errdefs.IsInvalidArgument, `create vv: missing required option: "device"`},
		{"size quota", "vv", "", map[string]string{"size": "10m"}, errdefs.IsInvalidArgument, `create vv: quota size requested but no quota support`},
		{"size bad", "vv", "", map[string]string{"size": "lots"}, errdefs.IsInvalidArgument, ""},
		{"nfs", "vv", "", map[string]string{"type": "nfs", "device": ":/export", "o": "addr=10.0.0.1"}, errdefs.IsInvalidArgument, `create vv: volume type "nfs" is not supported: only tmpfs, bind (type=none, o=bind) and filesystems on a local block device are`},
		{"cifs", "vv", "", map[string]string{"type": "cifs", "device": "//srv/share", "o": "username=u"}, errdefs.IsInvalidArgument, ""},
		{"fuse", "vv", "", map[string]string{"type": "fuse.sshfs", "device": "u@h:/", "o": ""}, errdefs.IsInvalidArgument, ""},
		{"bind without o", "vv", "", map[string]string{"type": "none", "device": hostDir}, errdefs.IsInvalidArgument, ""},
		{"bind relative", "vv", "", map[string]string{"type": "none", "device": "rel/dir", "o": "bind"}, errdefs.IsInvalidArgument, ""},
		{"tmpfs bind", "vv", "", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "bind"}, errdefs.IsInvalidArgument, ""},
		{"not block", "vv", "", map[string]string{"type": "ext4", "device": "/dev/null"}, errdefs.IsInvalidArgument, ""},
		{"bad o", "vv", "", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "idmap"}, errdefs.IsInvalidArgument, ""},
		{"empty type", "vv", "", map[string]string{"type": "", "device": "tmpfs"}, errdefs.IsInvalidArgument, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Create(t.Context(), tc.volume, tc.driver, tc.opts, nil)
			if err == nil || !tc.class(err) {
				t.Fatalf("Create(%q, %q, %v) = %v, want an error of the right class", tc.volume, tc.driver, tc.opts, err)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("Create(%q) error = %q, want %q", tc.volume, err, tc.msg)
			}
		})
	}
	if ls, _ := s.List(t.Context()); len(ls) != 0 {
		t.Errorf("failed creates left volumes: %v", volumeNames(ls))
	}
}

func TestCreateOptionsAccepted(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	optsList := []map[string]string{
		{"type": "tmpfs", "device": "tmpfs", "o": "size=64m,uid=1000"},
		{"type": "tmpfs", "device": "tmpfs"},
		{"type": "none", "device": t.TempDir(), "o": "bind"},
		{"type": "bind", "device": t.TempDir(), "o": "rbind,ro"},
		{"size": "0"},
	}
	if fi, err := os.Stat("/dev/loop0"); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
		optsList = append(optsList, map[string]string{"type": "ext4", "device": "/dev/loop0", "o": "ro,noatime"})
	}
	for i, opts := range optsList {
		name := fmt.Sprintf("opt%d", i)
		v, err := s.Create(t.Context(), name, "", opts, nil)
		if err != nil {
			t.Errorf("Create(%v) = %v", opts, err)
			continue
		}
		if !maps.Equal(v.Options, opts) {
			t.Errorf("Create(%v).Options = %v", opts, v.Options)
		}
	}
}

func TestValidateName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"ab", true}, {"a.b-c_d", true}, {"0x", true}, {"Vol1", true},
		{"", false}, {"a", false}, {"../x", false}, {"..", false}, {"/abs", false},
		{"-ab", false}, {".ab", false}, {"_ab", false}, {"a b", false}, {"a/b", false},
		{"ab\n", false}, {"vélo", false}, {"ab:c", false}, {"日本", false},
	} {
		err := ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Errorf("ValidateName(%q) = %v, not InvalidArgument", tc.name, err)
		}
	}
}

func TestRemoveInUse(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	v, _ := s.Create(ctx, "busy", "", nil, nil)
	for _, ref := range []string{"c2", "c1", "c1"} {
		p, err := s.Mount(ctx, "busy", ref)
		if err != nil || p != v.Mountpoint {
			t.Fatalf("Mount(busy, %s) = %q, %v, want %q", ref, p, err, v.Mountpoint)
		}
	}
	if refs := s.Refs("busy"); !slices.Equal(refs, []string{"c1", "c2"}) {
		t.Errorf("Refs(busy) = %v, want [c1 c2]", refs)
	}
	for _, force := range []bool{false, true} {
		err := s.Remove(ctx, "busy", force)
		if !errdefs.IsConflict(err) || err.Error() != "remove busy: volume is in use - [c1, c2]" {
			t.Errorf("Remove(busy, force=%v) = %v, want conflict \"remove busy: volume is in use - [c1, c2]\"", force, err)
		}
	}
	if err := s.Unmount(ctx, "busy", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unmount(ctx, "busy", "never-held"); err != nil {
		t.Errorf("Unmount(unknown ref) = %v, want nil", err)
	}
	if err := s.Remove(ctx, "busy", false); !errdefs.IsConflict(err) {
		t.Errorf("Remove with one ref left = %v, want conflict", err)
	}
	if err := s.Unmount(ctx, "busy", "c2"); err != nil {
		t.Fatal(err)
	}
	if refs := s.Refs("busy"); refs != nil {
		t.Errorf("Refs after unmounting all = %v, want nil", refs)
	}
	if err := s.Remove(ctx, "busy", false); err != nil {
		t.Errorf("Remove(unused) = %v", err)
	}
	if _, err := s.Mount(ctx, "busy", "c3"); !errdefs.IsNotFound(err) {
		t.Errorf("Mount(removed) = %v, want not found", err)
	}
	if err := s.Unmount(ctx, "busy", "c3"); !errdefs.IsNotFound(err) {
		t.Errorf("Unmount(removed) = %v, want not found", err)
	}
}

func TestRemoveDoesNotFollowSymlinks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "precious"), "keep me")
	v, _ := s.Create(ctx, "links", "", nil, nil)
	if err := os.Symlink(outside, filepath.Join(v.Mountpoint, "dir-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "precious"), filepath.Join(v.Mountpoint, "file-link")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "links", false); err != nil {
		t.Fatal(err)
	}
	if !exists(t, filepath.Join(outside, "precious")) {
		t.Fatal("Remove followed a symlink out of the volume")
	}

	// A data directory replaced by a symlink is refused by Mount, and
	// Remove deletes the link, not its target.
	w, _ := s.Create(ctx, "swapped", "", nil, nil)
	if err := os.Remove(w.Mountpoint); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, w.Mountpoint); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount(ctx, "swapped", "c1"); err == nil {
		t.Error("Mount of a volume whose _data is a symlink succeeded")
	}
	if err := s.Remove(ctx, "swapped", false); err != nil {
		t.Fatal(err)
	}
	if !exists(t, filepath.Join(outside, "precious")) {
		t.Fatal("Remove followed a _data symlink out of the volume")
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	anon1, _ := s.Create(ctx, "", "", nil, nil)
	anon2, _ := s.Create(ctx, "", "", nil, map[string]string{"env": "test"})
	anonBusy, _ := s.Create(ctx, "", "", nil, nil)
	if _, err := s.Create(ctx, "named1", "", nil, map[string]string{"env": "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "named2", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "withopts", "", map[string]string{"type": "tmpfs", "device": "tmpfs"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount(ctx, anonBusy.Name, "c1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(anon1.Mountpoint, "a"), string(make([]byte, 1000)))
	writeFile(t, filepath.Join(anon2.Mountpoint, "d", "b"), string(make([]byte, 500)))
	if err := os.Link(filepath.Join(anon2.Mountpoint, "d", "b"), filepath.Join(anon2.Mountpoint, "b-link")); err != nil {
		t.Fatal(err)
	}

	removed, reclaimed, err := s.Prune(ctx, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := sorted(anon1.Name, anon2.Name); !slices.Equal(removed, want) || reclaimed != 1500 {
		t.Errorf("Prune(anonymous) = %v, %d, want %v, 1500", removed, reclaimed, want)
	}

	envTest := func(l map[string]string) bool { return l["env"] == "test" }
	removed, _, err = s.Prune(ctx, true, envTest)
	if err != nil || !slices.Equal(removed, []string{"named1"}) {
		t.Errorf("Prune(all, env=test) = %v, %v, want [named1]", removed, err)
	}
	removed, _, err = s.Prune(ctx, true, nil)
	if err != nil || !slices.Equal(removed, []string{"named2"}) {
		t.Errorf("Prune(all) = %v, %v, want [named2] (busy and option volumes stay)", removed, err)
	}
	ls, _ := s.List(ctx)
	if got, want := volumeNames(ls), sorted(anonBusy.Name, "withopts"); !slices.Equal(got, want) {
		t.Errorf("after prune List() = %v, want %v", got, want)
	}
	removed, reclaimed, err = s.Prune(ctx, true, nil)
	if err != nil || len(removed) != 0 || removed == nil || reclaimed != 0 {
		t.Errorf("Prune(nothing) = %#v, %d, %v, want empty", removed, reclaimed, err)
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	v, _ := s.Create(ctx, "sized", "", nil, nil)
	writeFile(t, filepath.Join(v.Mountpoint, "a"), "12345")
	writeFile(t, filepath.Join(v.Mountpoint, "d", "b"), "123")
	if err := os.Link(filepath.Join(v.Mountpoint, "a"), filepath.Join(v.Mountpoint, "d", "a-link")); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Size(ctx, "sized"); err != nil || n != 8 {
		t.Errorf("Size(sized) = %d, %v, want 8", n, err)
	}
	if _, err := s.Create(ctx, "tmp", "", map[string]string{"type": "tmpfs", "device": "tmpfs"}, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Size(ctx, "tmp"); err != nil || n != -1 {
		t.Errorf("Size(option volume) = %d, %v, want -1", n, err)
	}
	if _, err := s.Size(ctx, "missing"); !errdefs.IsNotFound(err) {
		t.Errorf("Size(missing) = %v, want not found", err)
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "volumes")
	s := openStore(t, dir)
	a, _ := s.Create(ctx, "alpha", "", nil, map[string]string{"k": "v"})
	b, _ := s.Create(ctx, "bravo", "", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}, nil)
	c, _ := s.Create(ctx, "", "", nil, nil)
	writeFile(t, filepath.Join(a.Mountpoint, "file"), "data")
	if _, err := s.Mount(ctx, "alpha", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir)
	ls, err := s2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Volume{a, b, c}
	slices.SortFunc(want, func(x, y Volume) int { return strings.Compare(x.Name, y.Name) })
	if len(ls) != len(want) {
		t.Fatalf("List after reopen = %v, want %v", volumeNames(ls), volumeNames(want))
	}
	for i := range ls {
		if !volumeEqual(ls[i], want[i]) {
			t.Errorf("after reopen %+v, want %+v", ls[i], want[i])
		}
	}
	if refs := s2.Refs("alpha"); refs != nil {
		t.Errorf("Refs after reopen = %v, want none (refs live in memory)", refs)
	}
	if data, err := os.ReadFile(filepath.Join(a.Mountpoint, "file")); err != nil || string(data) != "data" {
		t.Errorf("data after reopen = %q, %v", data, err)
	}
}

func TestOpenRepairs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "volumes")
	s := openStore(t, dir)
	for _, n := range []string{"creating", "removing", "nodata", "intact"} {
		if _, err := s.Create(ctx, n, "", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Crash states: a Create that wrote its record but had not renamed
	// its directory into place, a Remove that renamed the directory away
	// but had not deleted the record, a volume whose _data went missing,
	// and a volume directory whose record is lost.
	mustRename(t, filepath.Join(dir, "creating"), filepath.Join(dir, "_creating-creating-123"))
	mustRename(t, filepath.Join(dir, "removing"), filepath.Join(dir, "_removing-removing-456"))
	if err := os.Remove(filepath.Join(dir, "nodata", "_data")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "orphan", "_data", "file"), "survives")
	if err := os.MkdirAll(filepath.Join(dir, "notavolume"), 0o755); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir)
	ls, _ := s2.List(ctx)
	if got, want := volumeNames(ls), []string{"intact", "nodata", "orphan"}; !slices.Equal(got, want) {
		t.Errorf("List after repair = %v, want %v", got, want)
	}
	for _, n := range []string{"_creating-creating-123", "_removing-removing-456"} {
		if exists(t, filepath.Join(dir, n)) {
			t.Errorf("Open left %s", n)
		}
	}
	if !exists(t, filepath.Join(dir, "nodata", "_data")) {
		t.Error("Open did not recreate nodata/_data")
	}
	if data, err := os.ReadFile(filepath.Join(dir, "orphan", "_data", "file")); err != nil || string(data) != "survives" {
		t.Errorf("adopted volume data = %q, %v", data, err)
	}
	// The dropped names can be created again.
	if _, err := s2.Create(ctx, "creating", "", nil, nil); err != nil {
		t.Errorf("Create(creating) after repair = %v", err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening a repaired store changes nothing.
	s3 := openStore(t, dir)
	ls, _ = s3.List(ctx)
	if got, want := volumeNames(ls), []string{"creating", "intact", "nodata", "orphan"}; !slices.Equal(got, want) {
		t.Errorf("List after second reopen = %v, want %v", got, want)
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	const workers, rounds = 8, 20
	names := []string{"shared1", "shared2", "shared3"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ref := fmt.Sprintf("c%d", w)
			for i := range rounds {
				name := names[(w+i)%len(names)]
				if _, err := s.Create(ctx, name, "", nil, nil); err != nil {
					t.Errorf("Create(%s) = %v", name, err)
					return
				}
				if _, err := s.Mount(ctx, name, ref); err != nil && !errdefs.IsNotFound(err) {
					t.Errorf("Mount(%s) = %v", name, err)
				}
				_ = s.Refs(name)
				if _, err := s.List(ctx); err != nil {
					t.Errorf("List = %v", err)
				}
				if err := s.Unmount(ctx, name, ref); err != nil && !errdefs.IsNotFound(err) {
					t.Errorf("Unmount(%s) = %v", name, err)
				}
				if err := s.Remove(ctx, name, true); err != nil && !errdefs.IsConflict(err) {
					t.Errorf("Remove(%s) = %v", name, err)
				}
				if i%5 == 0 {
					if _, _, err := s.Prune(ctx, true, nil); err != nil && !errdefs.IsConflict(err) {
						t.Errorf("Prune = %v", err)
					}
				}
				own := fmt.Sprintf("own-%d-%d", w, i)
				if _, err := s.Create(ctx, own, "", nil, nil); err != nil {
					t.Errorf("Create(%s) = %v", own, err)
				}
			}
		})
	}
	wg.Wait()
	// Every ref was released, so every remaining volume can go.
	ls, _ := s.List(ctx)
	for _, v := range ls {
		if refs := s.Refs(v.Name); refs != nil {
			t.Errorf("Refs(%s) = %v after all unmounts", v.Name, refs)
		}
	}
	// Concurrent creates of one name agree on one volume.
	var mu sync.Mutex
	created := map[string]bool{}
	var wg2 sync.WaitGroup
	for range workers {
		wg2.Go(func() {
			v, err := s.Create(ctx, "same", "", nil, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			created[v.CreatedAt.String()] = true
			mu.Unlock()
		})
	}
	wg2.Wait()
	if len(created) != 1 {
		t.Errorf("concurrent creates of one name made %d volumes", len(created))
	}
}

func TestContextCanceled(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Create(ctx, "v1", "", nil, nil); err != context.Canceled {
		t.Errorf("Create(canceled) = %v, want context.Canceled", err)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func volumeEqual(a, b Volume) bool {
	return a.Name == b.Name && a.Driver == b.Driver && a.Mountpoint == b.Mountpoint &&
		a.CreatedAt.Equal(b.CreatedAt) && maps.Equal(a.Labels, b.Labels) &&
		maps.Equal(a.Options, b.Options) && a.Anonymous == b.Anonymous
}

func volumeNames(vs []Volume) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
