package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/testutil"
)

func TestParseOptions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []string
		want Options
	}{
		{nil, Options{}},
		{[]string{"rbind", "ro"}, Options{Bind: true, Recursive: true, Flags: unix.MS_RDONLY}},
		{[]string{"bind"}, Options{Bind: true}},
		// A later option wins, and an explicit clear is remembered.
		{[]string{"ro", "rw"}, Options{Clear: unix.MS_RDONLY}},
		{[]string{"nosuid", "lowerdir=/a:/b", "rprivate", "size=64k"}, Options{Flags: unix.MS_NOSUID, Propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC}, Data: []string{"lowerdir=/a:/b", "size=64k"}}},
		{[]string{"rro", "rsuid"}, Options{RecAttrSet: unix.MOUNT_ATTR_RDONLY, RecAttrClr: unix.MOUNT_ATTR_NOSUID}},
	} {
		got, err := ParseOptions(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseOptions(%q) = %+v, %v, want %+v", c.in, got, err, c.want)
		}
	}
	if got := (Options{Data: []string{"a=1", "b"}}).DataString(); got != "a=1,b" {
		t.Errorf("DataString = %q", got)
	}
	for _, bad := range []string{"idmap", "ridmap", "tmpcopyup"} {
		if _, err := ParseOptions([]string{bad}); err == nil {
			t.Errorf("ParseOptions(%q) accepted an option Shoal cannot honour", bad)
		}
	}
}

func TestCommonDir(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"/r/s/1/fs", "/r/s/2/fs", "/r/s/3/work"}, "/r/s"},
		{[]string{"/r/s/1/fs"}, "/r/s/1"},
		{[]string{"/r/s/1/fs", "/x/y"}, "/"},
		{[]string{"/r/ab/fs", "/r/a/fs"}, "/r"},
		{[]string{"relative/x"}, ""},
	} {
		if got := commonDir(c.in); got != c.want {
			t.Errorf("commonDir(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		opts []string
		want bool
	}{{nil, false}, {[]string{"rbind", "ro"}, true}, {[]string{"ro", "rw"}, false}} {
		if got := (Mount{Options: c.opts}).ReadOnly(); got != c.want {
			t.Errorf("ReadOnly(%q) = %v, want %v", c.opts, got, c.want)
		}
	}
}

// rootDir returns a temporary directory that must have nothing mounted
// below it when the test ends; leftovers fail the test and are unmounted.
func rootDir(t *testing.T) string {
	t.Helper()
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	t.Cleanup(func() {
		mps, err := Mountpoints(dir)
		if err != nil {
			t.Error(err)
		}
		if len(mps) > 0 {
			t.Errorf("left mounted: %v", mps)
		}
		for i := len(mps) - 1; i >= 0; i-- {
			_ = Unmount(mps[i], unix.MNT_DETACH)
		}
	})
	return dir
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func mountT(t *testing.T, ms []Mount, target string) {
	t.Helper()
	if err := All(ms, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := UnmountAll(target); err != nil {
			t.Error(err)
		}
	})
}

func TestBind(t *testing.T) {
	t.Parallel()
	dir := rootDir(t)
	src, rw, ro := filepath.Join(dir, "src"), filepath.Join(dir, "rw"), filepath.Join(dir, "ro")
	mkdirs(t, src, rw, ro)
	mountT(t, []Mount{{Type: "bind", Source: src, Options: []string{"rbind", "rw"}}}, rw)
	mountT(t, []Mount{{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}}, ro)
	if err := os.WriteFile(filepath.Join(rw, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(ro, "f")); err != nil || string(got) != "x" {
		t.Errorf("read through ro bind = %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(ro, "g"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write through ro bind = %v, want EROFS", err)
	}
}

// TestOverlayLong mounts overlays whose options exceed a page, through the
// new mount API and through the relative-path fallback.
func TestOverlayLong(t *testing.T) {
	for _, relative := range []bool{false, true} {
		t.Run(fmt.Sprintf("relative=%v", relative), func(t *testing.T) {
			dir := rootDir(t)
			if relative {
				forceRelativeOverlay = true
				t.Cleanup(func() { forceRelativeOverlay = false })
			}
			long := filepath.Join(dir, strings.Repeat("d", 60))
			var lowers []string
			for i := range 80 {
				l := filepath.Join(long, fmt.Sprintf("layer%03d", i))
				mkdirs(t, l)
				if err := os.WriteFile(filepath.Join(l, fmt.Sprintf("f%d", i)), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				lowers = append([]string{l}, lowers...)
			}
			upper, work, target := filepath.Join(long, "upper"), filepath.Join(long, "work"), filepath.Join(dir, "mnt")
			mkdirs(t, upper, work, target)
			m := Mount{Type: "overlay", Source: "overlay", Options: []string{
				"lowerdir=" + strings.Join(lowers, ":"), "upperdir=" + upper, "workdir=" + work}}
			if n := len(strings.Join(m.Options, ",")); n < os.Getpagesize() {
				t.Fatalf("options are %d bytes, want more than a page", n)
			}
			mountT(t, []Mount{m}, target)
			entries, err := os.ReadDir(target)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 80 {
				t.Errorf("overlay of 80 layers shows %d entries", len(entries))
			}
			if err := os.WriteFile(filepath.Join(target, "w"), nil, 0o644); err != nil {
				t.Errorf("write to overlay: %v", err)
			}
			if _, err := os.Stat(filepath.Join(upper, "w")); err != nil {
				t.Errorf("write did not reach upperdir: %v", err)
			}
			if wd, _ := os.Getwd(); strings.HasPrefix(wd, long) {
				t.Errorf("process working directory changed to %s", wd)
			}
		})
	}
}

func TestAllRollsBack(t *testing.T) {
	t.Parallel()
	dir := rootDir(t)
	src, target := filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	mkdirs(t, src, target)
	err := All([]Mount{
		{Type: "bind", Source: src, Options: []string{"rbind"}},
		{Type: "bind", Source: filepath.Join(dir, "missing"), Options: []string{"rbind"}},
	}, target)
	if err == nil {
		t.Fatal("All with a missing source succeeded")
	}
	if mps, _ := Mountpoints(dir); len(mps) != 0 {
		t.Errorf("after failed All, still mounted: %v", mps)
	}
}

func TestUnmountAllStacked(t *testing.T) {
	t.Parallel()
	dir := rootDir(t)
	a, b, target := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "mnt")
	mkdirs(t, a, b, target)
	if err := All([]Mount{{Type: "bind", Source: a}, {Type: "bind", Source: b}, {Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}}, target); err != nil {
		t.Fatal(err)
	}
	if mps, _ := Mountpoints(target); len(mps) != 3 {
		t.Errorf("Mountpoints(%s) = %v, want 3 stacked", target, mps)
	}
	if err := UnmountAll(target); err != nil {
		t.Fatal(err)
	}
	if err := UnmountAll(filepath.Join(dir, "does-not-exist")); err != nil {
		t.Errorf("UnmountAll(missing) = %v, want nil", err)
	}
}
