package containerfs

import (
	"errors"
	"os"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestParseCopyPath(t *testing.T) {
	tests := []struct {
		in        string
		abs, rel  string
		assertDir bool
	}{
		{"/", "/", "", true},
		{".", "/.", "", true},
		{"/.", "/.", "", true},
		{"etc", "/etc", "etc", false},
		{"/etc/", "/etc/", "etc", true},
		{"/etc/.", "/etc/.", "etc", true},
		{"/etc/./", "/etc/./", "etc", true},
		{"etc//passwd", "/etc/passwd", "etc/passwd", false},
		{"../../etc/passwd", "/etc/passwd", "etc/passwd", false},
		{"/a/b/..", "/a", "a", false},
		{"/a/b/../", "/a/", "a", true},
	}
	for _, tc := range tests {
		got := parseCopyPath(tc.in)
		if got.abs != tc.abs || got.rel != tc.rel || got.assertsDir != tc.assertDir {
			t.Errorf("parseCopyPath(%q) = %+v, want abs %q rel %q assertsDir %v", tc.in, got, tc.abs, tc.rel, tc.assertDir)
		}
	}
}

func TestStat(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t)
	build(t, e.root,
		withMode(ffile("etc/shadow", "secret"), 0o640|os.ModeSetuid),
		flink("link", "/etc/passwd"),
		flink("rel", "etc/../etc/passwd"),
		flink("dirlink", "/etc"),
		flink("dangling", "/nowhere/x"),
		flink("chain", "link"),
		flink("loop", "loop"),
		ffifo("fifo"),
	)
	tests := []struct {
		path    string
		want    PathStat // Mtime not compared
		wantErr error
	}{
		{path: "/etc/passwd", want: PathStat{Name: "passwd", Size: 30, Mode: 0o644}},
		{path: "etc/shadow", want: PathStat{Name: "shadow", Size: 6, Mode: 0o640 | os.ModeSetuid}},
		{path: "../../../etc/passwd", want: PathStat{Name: "passwd", Size: 30, Mode: 0o644}},
		{path: "/etc", want: PathStat{Name: "etc", Mode: os.ModeDir | 0o755}},
		{path: "/", want: PathStat{Name: "/", Mode: os.ModeDir | 0o755}},
		{path: "/fifo", want: PathStat{Name: "fifo", Mode: os.ModeNamedPipe | 0o600}},
		{path: "/link", want: PathStat{Name: "link", Size: 11, Mode: os.ModeSymlink | 0o777, LinkTarget: "/etc/passwd"}},
		{path: "/rel", want: PathStat{Name: "rel", Size: 17, Mode: os.ModeSymlink | 0o777, LinkTarget: "/etc/passwd"}},
		{path: "/chain", want: PathStat{Name: "chain", Size: 4, Mode: os.ModeSymlink | 0o777, LinkTarget: "/etc/passwd"}},
		{path: "/dirlink", want: PathStat{Name: "dirlink", Size: 4, Mode: os.ModeSymlink | 0o777, LinkTarget: "/etc"}},
		{path: "/dirlink/", want: PathStat{Name: "dirlink", Mode: os.ModeDir | 0o755}},
		{path: "/dirlink/.", want: PathStat{Name: ".", Mode: os.ModeDir | 0o755}},
		{path: "/dirlink/passwd", want: PathStat{Name: "passwd", Size: 30, Mode: 0o644}},
		{path: "/dangling", want: PathStat{Name: "dangling", Size: 10, Mode: os.ModeSymlink | 0o777, LinkTarget: "/nowhere/x"}},
		// Hostile links resolve inside root.
		{path: "/evil", want: PathStat{Name: "evil", Size: 1, Mode: os.ModeSymlink | 0o777, LinkTarget: "/"}},
		{path: "/evil/etc/passwd", want: PathStat{Name: "passwd", Size: 30, Mode: 0o644}},
		{path: "/up", want: PathStat{Name: "up", Size: 11, Mode: os.ModeSymlink | 0o777, LinkTarget: "/sentinel"}},
		{path: "/sub/esc", want: PathStat{Name: "esc", Size: 8, Mode: os.ModeSymlink | 0o777, LinkTarget: "/"}},
		{path: "/up/", wantErr: errdefs.ErrNotFound},
		{path: "/up/file", wantErr: errdefs.ErrNotFound},
		{path: "/deepup/file", wantErr: errdefs.ErrNotFound},
		{path: "/abs/file", wantErr: errdefs.ErrNotFound},
		{path: "/abs/dir/", wantErr: errdefs.ErrNotFound},
		{path: "/magic/file", wantErr: errdefs.ErrNotFound},
		{path: "/missing", wantErr: errdefs.ErrNotFound},
		{path: "/etc/passwd/", wantErr: errdefs.ErrNotFound},
		{path: "/etc/passwd/x", wantErr: errdefs.ErrNotFound},
		{path: "/loop/", wantErr: errdefs.ErrInvalidArgument},
		{path: "/loop", wantErr: errdefs.ErrInvalidArgument},
		{path: "", wantErr: errdefs.ErrInvalidArgument},
	}
	for _, tc := range tests {
		got, err := Stat(e.root, tc.path)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Stat(%q) = %+v, %v; want %v", tc.path, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Stat(%q): %v", tc.path, err)
			continue
		}
		if got.Mtime.IsZero() {
			t.Errorf("Stat(%q).Mtime is zero", tc.path)
		}
		got.Mtime = tc.want.Mtime
		if got.Mode.IsDir() {
			got.Size = 0 // file-system dependent
		}
		if got != tc.want {
			t.Errorf("Stat(%q) = %+v, want %+v", tc.path, got, tc.want)
		}
	}
	e.check(t)
}

func TestStatMissingRoot(t *testing.T) {
	t.Parallel()
	if _, err := Stat(t.TempDir()+"/nope", "/"); err == nil {
		t.Error("Stat on a missing root succeeded")
	}
}
