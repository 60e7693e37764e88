package testsuite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mount"
	"github.com/shoal-dev/shoal/internal/snapshot"
	"github.com/shoal-dev/shoal/internal/testutil"
)

// NewFunc opens a Snapshotter rooted at root. The returned cleanup closes
// it and may remove what the implementation keeps outside root.
type NewFunc func(ctx context.Context, root string) (snapshot.Snapshotter, func() error, error)

// env is one test's world: a fresh root, a snapshotter on it, and a
// directory for mount targets.
type env struct {
	t       *testing.T
	ctx     context.Context
	sn      snapshot.Snapshotter
	root    string
	targets string
	newFn   NewFunc
	closeFn func() error
}

type testCase struct {
	name  string
	mount bool // needs root: mounts through internal/mount
	fn    func(e *env)
}

var cases = []testCase{
	{"ErrorClasses", false, testErrorClasses},
	{"InvalidKeys", false, testInvalidKeys},
	{"StatAndLabels", false, testStatAndLabels},
	{"Walk", false, testWalk},
	{"RemoveWithChildren", false, testRemoveWithChildren},
	{"CrashCleanup", false, testCrashCleanup},
	{"Reopen", false, testReopen},
	{"ConcurrentPrepare", false, testConcurrentPrepare},
	{"LayerChain", true, testLayerChain},
	{"Deletions", true, testDeletions},
	{"ViewReadOnly", true, testViewReadOnly},
	{"Usage", true, testUsage},
	{"LongChain", true, testLongChain},
}

// Run runs the conformance suite on the implementation newSnapshotter
// makes, as subtests of t named name/<test>.
func Run(t *testing.T, name string, newSnapshotter NewFunc) {
	t.Run(name, func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				if tc.mount {
					testutil.RequiresRoot(t)
				}
				tc.fn(setup(t, newSnapshotter))
			})
		}
	})
}

func setup(t *testing.T, newFn NewFunc) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{t: t, ctx: t.Context(), root: filepath.Join(base, "root"), targets: filepath.Join(base, "mnt"), newFn: newFn}
	if err := os.MkdirAll(e.targets, 0o755); err != nil {
		t.Fatal(err)
	}
	// Registered before anything mounts, so it runs after every other
	// cleanup and before t.TempDir removes base.
	t.Cleanup(func() { checkNoMounts(t, base) })
	e.open()
	t.Cleanup(func() {
		if e.sn == nil {
			return
		}
		// t.Context is already cancelled when cleanups run.
		checkConsistent(t, context.Background(), e.sn)
		if err := e.closeFn(); err != nil {
			t.Errorf("close snapshotter: %v", err)
		}
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	sn, closeFn, err := e.newFn(e.ctx, e.root)
	if err != nil {
		e.t.Fatalf("open snapshotter on %s: %v", e.root, err)
	}
	e.sn, e.closeFn = sn, closeFn
}

// reopen closes the snapshotter and opens a new one on the same root.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.closeFn(); err != nil {
		e.t.Fatalf("close snapshotter: %v", err)
	}
	e.sn = nil
	e.open()
}

func checkNoMounts(t *testing.T, dir string) {
	t.Helper()
	mps, err := mount.Mountpoints(dir)
	if err != nil {
		t.Errorf("list mounts: %v", err)
		return
	}
	if len(mps) == 0 {
		return
	}
	t.Errorf("left mounted after the test: %v", mps)
	for i := len(mps) - 1; i >= 0; i-- {
		if err := mount.Unmount(mps[i], syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount leftover: %v", err)
		}
	}
}

// checkConsistent is the invariant oracle: every walked snapshot stats the
// same, and its parent exists and is committed.
func checkConsistent(t *testing.T, ctx context.Context, sn snapshot.Snapshotter) {
	t.Helper()
	err := sn.Walk(ctx, func(ctx context.Context, info snapshot.Info) error {
		got, err := sn.Stat(ctx, info.Name)
		if err != nil {
			return fmt.Errorf("stat walked snapshot %q: %w", info.Name, err)
		}
		if !reflect.DeepEqual(got, info) {
			return fmt.Errorf("Stat(%q) = %+v, Walk saw %+v", info.Name, got, info)
		}
		if info.Parent != "" {
			p, err := sn.Stat(ctx, info.Parent)
			if err != nil {
				return fmt.Errorf("parent of %q: %w", info.Name, err)
			}
			if p.Kind != snapshot.KindCommitted {
				return fmt.Errorf("parent %q of %q is %v", p.Name, info.Name, p.Kind)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("consistency: %v", err)
	}
}

// mountAt mounts ms on a new directory and returns it with a function that
// unmounts it (idempotent; also run on cleanup).
func (e *env) mountAt(name string, ms []mount.Mount) (string, func()) {
	e.t.Helper()
	target := filepath.Join(e.targets, name)
	if err := os.Mkdir(target, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := mount.All(ms, target); err != nil {
		e.t.Fatalf("mount %s (%+v): %v", name, ms, err)
	}
	var once sync.Once
	unmount := func() {
		once.Do(func() {
			if err := mount.UnmountAll(target); err != nil {
				e.t.Errorf("unmount %s: %v", target, err)
			}
		})
	}
	e.t.Cleanup(unmount)
	return target, unmount
}

// layer prepares key on parent, applies change through its mounts and
// commits it as name.
func (e *env) layer(name, parent string, change func(dir string)) {
	e.t.Helper()
	key := "prepare-" + name
	ms, err := e.sn.Prepare(e.ctx, key, parent)
	if err != nil {
		e.t.Fatalf("Prepare(%q, %q): %v", key, parent, err)
	}
	dir, unmount := e.mountAt(key, ms)
	change(dir)
	unmount()
	if err := e.sn.Commit(e.ctx, name, key); err != nil {
		e.t.Fatalf("Commit(%q, %q): %v", name, key, err)
	}
}

// metaLayer makes a committed snapshot without mounting anything.
func (e *env) metaLayer(name, parent string, opts ...snapshot.Opt) {
	e.t.Helper()
	key := "prepare-" + name
	if _, err := e.sn.Prepare(e.ctx, key, parent); err != nil {
		e.t.Fatalf("Prepare(%q, %q): %v", key, parent, err)
	}
	if err := e.sn.Commit(e.ctx, name, key, opts...); err != nil {
		e.t.Fatalf("Commit(%q, %q): %v", name, key, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// expectFiles checks that each path below dir has the given content, or
// does not exist when the content is "<missing>".
func expectFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for rel, content := range want {
		got, err := os.ReadFile(filepath.Join(dir, rel))
		if content == missing {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: ReadFile error %v, want not-exist", rel, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		} else if string(got) != content {
			t.Errorf("%s = %q, want %q", rel, got, content)
		}
	}
}

const missing = "<missing>"

func testErrorClasses(e *env) {
	e.metaLayer("base", "")
	if _, err := e.sn.Prepare(e.ctx, "active", "base"); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.sn.View(e.ctx, "view", "base"); err != nil {
		e.t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"prepare existing key", second(e.sn.Prepare(e.ctx, "active", "")), errdefs.ErrAlreadyExists},
		{"prepare key equal to committed name", second(e.sn.Prepare(e.ctx, "base", "")), errdefs.ErrAlreadyExists},
		{"view existing key", second(e.sn.View(e.ctx, "view", "base")), errdefs.ErrAlreadyExists},
		{"prepare missing parent", second(e.sn.Prepare(e.ctx, "x", "nope")), errdefs.ErrNotFound},
		{"prepare on active parent", second(e.sn.Prepare(e.ctx, "x", "active")), errdefs.ErrFailedPrecondition},
		{"view on view parent", second(e.sn.View(e.ctx, "x", "view")), errdefs.ErrFailedPrecondition},
		{"commit view", e.sn.Commit(e.ctx, "c", "view"), errdefs.ErrFailedPrecondition},
		{"commit committed", e.sn.Commit(e.ctx, "c", "base"), errdefs.ErrFailedPrecondition},
		{"commit missing", e.sn.Commit(e.ctx, "c", "nope"), errdefs.ErrNotFound},
		{"commit onto taken name", e.sn.Commit(e.ctx, "view", "active"), errdefs.ErrAlreadyExists},
		{"mounts of committed", second(e.sn.Mounts(e.ctx, "base")), errdefs.ErrFailedPrecondition},
		{"mounts of missing", second(e.sn.Mounts(e.ctx, "nope")), errdefs.ErrNotFound},
		{"stat missing", second(e.sn.Stat(e.ctx, "nope")), errdefs.ErrNotFound},
		{"usage missing", second(e.sn.Usage(e.ctx, "nope")), errdefs.ErrNotFound},
		{"remove missing", e.sn.Remove(e.ctx, "nope"), errdefs.ErrNotFound},
		{"bad label", second(e.sn.Prepare(e.ctx, "x", "", snapshot.WithLabels(map[string]string{"": "v"}))), errdefs.ErrInvalidArgument},
	} {
		if !errors.Is(c.err, c.want) {
			e.t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
	// Failed calls left nothing behind.
	if _, err := e.sn.Stat(e.ctx, "x"); !errors.Is(err, errdefs.ErrNotFound) {
		e.t.Errorf("Stat(x) after failed creates = %v, want not found", err)
	}
	if _, err := e.sn.Stat(e.ctx, "active"); err != nil {
		e.t.Errorf("active after failed commit: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func testInvalidKeys(e *env) {
	for _, key := range []string{"", "a\x00b", strings.Repeat("k", snapshot.MaxKeyLen+1)} {
		if _, err := e.sn.Prepare(e.ctx, key, ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
			e.t.Errorf("Prepare(%.20q) = %v, want invalid argument", key, err)
		}
		if _, err := e.sn.Stat(e.ctx, key); !errors.Is(err, errdefs.ErrInvalidArgument) {
			e.t.Errorf("Stat(%.20q) = %v, want invalid argument", key, err)
		}
	}
	// Keys are opaque: path-like and digest-like keys are fine and never
	// touch the filesystem by name.
	for _, key := range []string{"../../etc", "/abs", "sha256:" + strings.Repeat("a", 64), "a/b/../c", "ünï cödé", strings.Repeat("k", snapshot.MaxKeyLen)} {
		if _, err := e.sn.Prepare(e.ctx, key, ""); err != nil {
			e.t.Errorf("Prepare(%.20q): %v", key, err)
			continue
		}
		if len(key) == snapshot.MaxKeyLen {
			continue
		}
		if err := e.sn.Commit(e.ctx, key+"@", key); err != nil {
			e.t.Errorf("Commit(%.20q): %v", key, err)
		}
	}
}

func testStatAndLabels(e *env) {
	labels := map[string]string{"shoal.dev/gc.root": "1", "k": ""}
	if _, err := e.sn.Prepare(e.ctx, "a", "", snapshot.WithLabels(labels)); err != nil {
		e.t.Fatal(err)
	}
	info, err := e.sn.Stat(e.ctx, "a")
	if err != nil {
		e.t.Fatal(err)
	}
	if info.Kind != snapshot.KindActive || info.Name != "a" || info.Parent != "" || !reflect.DeepEqual(info.Labels, labels) {
		e.t.Errorf("Stat(a) = %+v, want active, no parent, labels %v", info, labels)
	}
	if info.Created.IsZero() || info.Updated.Before(info.Created) {
		e.t.Errorf("Stat(a) times = %v, %v", info.Created, info.Updated)
	}
	if err := e.sn.Commit(e.ctx, "sha256:l1", "a", snapshot.WithLabels(map[string]string{"c": "1"})); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.sn.Stat(e.ctx, "a"); !errors.Is(err, errdefs.ErrNotFound) {
		e.t.Errorf("Stat(a) after commit = %v, want not found", err)
	}
	if _, err := e.sn.View(e.ctx, "v", "sha256:l1"); err != nil {
		e.t.Fatal(err)
	}
	for _, c := range []struct {
		key    string
		kind   snapshot.Kind
		parent string
		labels map[string]string
	}{
		{"sha256:l1", snapshot.KindCommitted, "", map[string]string{"c": "1"}},
		{"v", snapshot.KindView, "sha256:l1", map[string]string{}},
	} {
		info, err := e.sn.Stat(e.ctx, c.key)
		if err != nil {
			e.t.Errorf("Stat(%q): %v", c.key, err)
			continue
		}
		if info.Kind != c.kind || info.Parent != c.parent || !reflect.DeepEqual(info.Labels, c.labels) {
			e.t.Errorf("Stat(%q) = %+v, want kind %v parent %q labels %v", c.key, info, c.kind, c.parent, c.labels)
		}
	}
}

func testWalk(e *env) {
	e.metaLayer("l1", "")
	e.metaLayer("l2", "l1")
	if _, err := e.sn.Prepare(e.ctx, "c1", "l2"); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.sn.View(e.ctx, "v1", "l1"); err != nil {
		e.t.Fatal(err)
	}
	got := map[string]string{}
	if err := e.sn.Walk(e.ctx, func(ctx context.Context, info snapshot.Info) error {
		got[info.Name] = info.Kind.String() + "<" + info.Parent
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	want := map[string]string{"l1": "committed<", "l2": "committed<l1", "c1": "active<l2", "v1": "view<l1"}
	if !reflect.DeepEqual(got, want) {
		e.t.Errorf("Walk saw %v, want %v", got, want)
	}
	stop := errors.New("stop")
	n := 0
	err := e.sn.Walk(e.ctx, func(ctx context.Context, info snapshot.Info) error {
		n++
		// fn may call back into the snapshotter.
		if _, err := e.sn.Stat(ctx, info.Name); err != nil {
			return err
		}
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		e.t.Errorf("Walk with failing fn = %v after %d calls, want stop after 1", err, n)
	}
}

func testRemoveWithChildren(e *env) {
	e.metaLayer("l1", "")
	e.metaLayer("l2", "l1")
	if _, err := e.sn.View(e.ctx, "v", "l2"); err != nil {
		e.t.Fatal(err)
	}
	for _, key := range []string{"l1", "l2"} {
		if err := e.sn.Remove(e.ctx, key); !errors.Is(err, errdefs.ErrFailedPrecondition) {
			e.t.Errorf("Remove(%q) with children = %v, want failed precondition", key, err)
		}
	}
	for _, key := range []string{"v", "l2", "l1"} {
		if err := e.sn.Remove(e.ctx, key); err != nil {
			e.t.Errorf("Remove(%q): %v", key, err)
		}
		if _, err := e.sn.Stat(e.ctx, key); !errors.Is(err, errdefs.ErrNotFound) {
			e.t.Errorf("Stat(%q) after remove = %v, want not found", key, err)
		}
	}
	// Names are free again.
	e.metaLayer("l1", "")
	entries, err := os.ReadDir(filepath.Join(e.root, "snapshots"))
	if err != nil {
		e.t.Fatal(err)
	}
	if len(entries) != 1 {
		e.t.Errorf("snapshot directories after removing all but one: %v", names(entries))
	}
}

func names(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func testCrashCleanup(e *env) {
	e.metaLayer("l1", "")
	if _, err := e.sn.Prepare(e.ctx, "c1", "l1"); err != nil {
		e.t.Fatal(err)
	}
	if err := e.closeFn(); err != nil {
		e.t.Fatal(err)
	}
	e.sn = nil
	dir := filepath.Join(e.root, "snapshots")
	before, err := os.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	// What a crash leaves: a directory being filled, a directory renamed
	// to its id whose transaction never committed, and a half-removed one.
	orphans := []string{"new-123456", "999", "removing-7"}
	for _, o := range orphans {
		writeFile(e.t, filepath.Join(dir, o, "fs", "file"), "orphan")
	}
	e.open()
	after, err := os.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	if !reflect.DeepEqual(names(after), names(before)) {
		e.t.Errorf("snapshot directories after reopen = %v, want %v", names(after), names(before))
	}
	// The survivors still work, and new ids do not collide.
	if _, err := e.sn.Mounts(e.ctx, "c1"); err != nil {
		e.t.Errorf("Mounts(c1) after reopen: %v", err)
	}
	for i := range 3 {
		if _, err := e.sn.Prepare(e.ctx, fmt.Sprintf("new%d", i), "l1"); err != nil {
			e.t.Errorf("Prepare after reopen: %v", err)
		}
	}
}

func testReopen(e *env) {
	e.metaLayer("l1", "", snapshot.WithLabels(map[string]string{"a": "b"}))
	if _, err := e.sn.Prepare(e.ctx, "c1", "l1"); err != nil {
		e.t.Fatal(err)
	}
	want := map[string]snapshot.Info{}
	collect := func(into map[string]snapshot.Info) {
		if err := e.sn.Walk(e.ctx, func(ctx context.Context, info snapshot.Info) error {
			into[info.Name] = info
			return nil
		}); err != nil {
			e.t.Fatal(err)
		}
	}
	collect(want)
	e.reopen()
	got := map[string]snapshot.Info{}
	collect(got)
	if len(got) != 2 {
		e.t.Errorf("after reopen: %d snapshots, want 2", len(got))
	}
	for k, w := range want {
		g := got[k]
		if g.Kind != w.Kind || g.Parent != w.Parent || !reflect.DeepEqual(g.Labels, w.Labels) || !g.Created.Equal(w.Created) {
			e.t.Errorf("after reopen %q = %+v, want %+v", k, g, w)
		}
	}
}

func testConcurrentPrepare(e *env) {
	e.metaLayer("l1", "")
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("c%d", i%8) // each key twice
			_, errs[i] = e.sn.Prepare(e.ctx, key, "l1")
		}()
	}
	wg.Wait()
	ok, exists := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, errdefs.ErrAlreadyExists):
			exists++
		default:
			e.t.Errorf("concurrent Prepare: %v", err)
		}
	}
	if ok != 8 || exists != 8 {
		e.t.Errorf("concurrent Prepare: %d ok, %d already exists; want 8 and 8", ok, exists)
	}
	entries, err := os.ReadDir(filepath.Join(e.root, "snapshots"))
	if err != nil {
		e.t.Fatal(err)
	}
	if len(entries) != 9 {
		e.t.Errorf("snapshot directories = %v, want 9 (losers cleaned up)", names(entries))
	}
}

func testLayerChain(e *env) {
	e.layer("sha256:l1", "", func(d string) {
		writeFile(e.t, filepath.Join(d, "a"), "1")
		writeFile(e.t, filepath.Join(d, "shared"), "from l1")
		writeFile(e.t, filepath.Join(d, "dir", "x"), "x1")
	})
	e.layer("sha256:l2", "sha256:l1", func(d string) {
		expectFiles(e.t, d, map[string]string{"a": "1", "dir/x": "x1"})
		writeFile(e.t, filepath.Join(d, "b"), "2")
		writeFile(e.t, filepath.Join(d, "shared"), "from l2")
		writeFile(e.t, filepath.Join(d, "dir", "y"), "y2")
	})
	e.layer("sha256:l3", "sha256:l2", func(d string) {
		writeFile(e.t, filepath.Join(d, "c"), "3")
	})
	all := map[string]string{"a": "1", "b": "2", "c": "3", "shared": "from l2", "dir/x": "x1", "dir/y": "y2"}
	views := []struct {
		parent string
		want   map[string]string
	}{
		{"sha256:l1", map[string]string{"a": "1", "b": missing, "shared": "from l1", "dir/y": missing}},
		{"sha256:l2", map[string]string{"a": "1", "b": "2", "c": missing, "shared": "from l2"}},
		{"sha256:l3", all},
	}
	for i, v := range views {
		key := fmt.Sprintf("view%d", i)
		ms, err := e.sn.View(e.ctx, key, v.parent)
		if err != nil {
			e.t.Fatal(err)
		}
		again, err := e.sn.Mounts(e.ctx, key)
		if err != nil || !reflect.DeepEqual(again, ms) {
			e.t.Errorf("Mounts(%q) = %v, %v; want %v as View returned", key, again, err, ms)
		}
		d, _ := e.mountAt(key, ms)
		expectFiles(e.t, d, v.want)
	}
	// A container's writable layer: sees everything, changes stay its own.
	ms, err := e.sn.Prepare(e.ctx, "container", "sha256:l3")
	if err != nil {
		e.t.Fatal(err)
	}
	d, unmount := e.mountAt("container", ms)
	expectFiles(e.t, d, all)
	writeFile(e.t, filepath.Join(d, "a"), "changed")
	writeFile(e.t, filepath.Join(d, "new"), "n")
	unmount()
	ms, err = e.sn.View(e.ctx, "after", "sha256:l3")
	if err != nil {
		e.t.Fatal(err)
	}
	d, _ = e.mountAt("after", ms)
	expectFiles(e.t, d, all)
	expectFiles(e.t, d, map[string]string{"new": missing})
	// The container's changes persist across remounts.
	ms, err = e.sn.Mounts(e.ctx, "container")
	if err != nil {
		e.t.Fatal(err)
	}
	d, _ = e.mountAt("container-again", ms)
	expectFiles(e.t, d, map[string]string{"a": "changed", "new": "n", "c": "3"})
}

func testDeletions(e *env) {
	e.layer("l1", "", func(d string) {
		writeFile(e.t, filepath.Join(d, "del"), "x")
		writeFile(e.t, filepath.Join(d, "keep", "f"), "k")
		writeFile(e.t, filepath.Join(d, "gone", "x"), "x")
		writeFile(e.t, filepath.Join(d, "opaque", "old"), "o")
	})
	e.layer("l2", "l1", func(d string) {
		for _, p := range []string{"del", "gone"} {
			if err := os.RemoveAll(filepath.Join(d, p)); err != nil {
				e.t.Fatal(err)
			}
		}
		if err := os.RemoveAll(filepath.Join(d, "opaque")); err != nil {
			e.t.Fatal(err)
		}
		writeFile(e.t, filepath.Join(d, "opaque", "new"), "n")
	})
	e.layer("l3", "l2", func(d string) {
		writeFile(e.t, filepath.Join(d, "l3"), "3")
	})
	want := map[string]string{"del": missing, "gone/x": missing, "keep/f": "k", "opaque/old": missing, "opaque/new": "n", "l3": "3"}
	ms, err := e.sn.View(e.ctx, "v", "l3")
	if err != nil {
		e.t.Fatal(err)
	}
	d, _ := e.mountAt("v", ms)
	expectFiles(e.t, d, want)
	if _, err := os.Lstat(filepath.Join(d, "gone")); !errors.Is(err, os.ErrNotExist) {
		e.t.Errorf("deleted directory: Lstat = %v, want not-exist", err)
	}
	ms, err = e.sn.Prepare(e.ctx, "c", "l3")
	if err != nil {
		e.t.Fatal(err)
	}
	d, _ = e.mountAt("c", ms)
	expectFiles(e.t, d, want)
	// The lower layer still has its files.
	ms, err = e.sn.View(e.ctx, "v1", "l1")
	if err != nil {
		e.t.Fatal(err)
	}
	d, _ = e.mountAt("v1", ms)
	expectFiles(e.t, d, map[string]string{"del": "x", "gone/x": "x", "opaque/old": "o"})
}

func testViewReadOnly(e *env) {
	e.layer("l1", "", func(d string) { writeFile(e.t, filepath.Join(d, "a"), "1") })
	e.layer("l2", "l1", func(d string) { writeFile(e.t, filepath.Join(d, "b"), "2") })
	for _, c := range []struct{ key, parent string }{{"empty", ""}, {"one", "l1"}, {"two", "l2"}} {
		ms, err := e.sn.View(e.ctx, c.key, c.parent)
		if err != nil {
			e.t.Fatal(err)
		}
		d, _ := e.mountAt(c.key, ms)
		err = os.WriteFile(filepath.Join(d, "new"), []byte("x"), 0o644)
		if !errors.Is(err, syscall.EROFS) {
			e.t.Errorf("view %q: write = %v, want EROFS", c.key, err)
		}
		if c.parent != "" {
			if err := os.Remove(filepath.Join(d, "a")); !errors.Is(err, syscall.EROFS) {
				e.t.Errorf("view %q: remove = %v, want EROFS", c.key, err)
			}
		}
	}
}

func testUsage(e *env) {
	const size = 1 << 20
	ms, err := e.sn.Prepare(e.ctx, "a", "")
	if err != nil {
		e.t.Fatal(err)
	}
	d, unmount := e.mountAt("a", ms)
	empty, err := e.sn.Usage(e.ctx, "a")
	if err != nil {
		e.t.Fatal(err)
	}
	writeFile(e.t, filepath.Join(d, "big"), strings.Repeat("x", size))
	writeFile(e.t, filepath.Join(d, "dir", "small"), "s")
	if err := os.Link(filepath.Join(d, "big"), filepath.Join(d, "big-link")); err != nil {
		e.t.Fatal(err)
	}
	unmount()
	active, err := e.sn.Usage(e.ctx, "a")
	if err != nil {
		e.t.Fatal(err)
	}
	if got := active.Inodes - empty.Inodes; got != 3 {
		e.t.Errorf("usage inodes grew by %d, want 3 (hard link counted once)", got)
	}
	if got := active.Size - empty.Size; got < size || got > 2*size {
		e.t.Errorf("usage size grew by %d, want about %d", got, size)
	}
	if err := e.sn.Commit(e.ctx, "l1", "a"); err != nil {
		e.t.Fatal(err)
	}
	committed, err := e.sn.Usage(e.ctx, "l1")
	if err != nil {
		e.t.Fatal(err)
	}
	if committed != active {
		e.t.Errorf("Usage(l1) = %+v, want %+v as measured before commit", committed, active)
	}
}

func testLongChain(e *env) {
	// Enough layers that the overlay option string exceeds a page.
	const n = 90
	parent := ""
	want := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("sha256:%064d", i)
		file := fmt.Sprintf("f%02d", i)
		e.layer(name, parent, func(d string) {
			writeFile(e.t, filepath.Join(d, file), name)
			writeFile(e.t, filepath.Join(d, "top"), name)
		})
		want[file] = name
		parent = name
	}
	want["top"] = parent
	ms, err := e.sn.Prepare(e.ctx, "c", parent)
	if err != nil {
		e.t.Fatal(err)
	}
	d, _ := e.mountAt("c", ms)
	expectFiles(e.t, d, want)
	entries, err := os.ReadDir(d)
	if err != nil {
		e.t.Fatal(err)
	}
	got := names(entries)
	sort.Strings(got)
	if len(got) != n+1 {
		e.t.Errorf("top of %d layers has %d entries, want %d", n, len(got), n+1)
	}
}
