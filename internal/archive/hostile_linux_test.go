package archive

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// errAny stands for "some error" in the table below.
var errAny = errors.New("any error")

// escapeName is a name no test layer may create outside root (checked at
// "/", beside root and beside the test's temporary directory).
const escapeName = "shoal-archive-escape"

// hostileLayers are layers that try to reach outside root. Each yields an
// error or lands inside root; the test asserts which, and that nothing
// outside root changed. They also seed FuzzApply.
func hostileLayers(t testing.TB, e *hostEnv) []hostileCase {
	s := e.sentinel // absolute host path of the sentinel directory
	rs := "../sentinel"
	return []hostileCase{
		{name: "dotdot file", layer: layer(t, file("../"+escapeName, "x")),
			inRoot: []string{escapeName}},
		{name: "deep dotdot file", layer: layer(t, file("../../../../../../../../"+escapeName, "x")),
			inRoot: []string{escapeName}},
		{name: "dotdot into sentinel", layer: layer(t, file(rs+"/pwned", "x")),
			inRoot: []string{"sentinel/pwned"}},
		{name: "absolute file", layer: layer(t, file("/abs/"+escapeName, "x")),
			inRoot: []string{"abs/" + escapeName}},
		{name: "absolute sentinel path", layer: layer(t, file(s+"/pwned", "x")),
			inRoot: []string{strings.TrimPrefix(s, "/") + "/pwned"}},
		{name: "absolute symlink then write through", wantErr: errdefs.ErrNotFound,
			layer: layer(t, symlink("evil", s), file("evil/pwned", "x"))},
		{name: "relative climbing symlink then write through", wantErr: errdefs.ErrNotFound,
			layer: layer(t, symlink("evil", "../../../sentinel"), file("evil/pwned", "x"))},
		{name: "symlink to dotdot then write", layer: layer(t, symlink("evil", "../.."), file("evil/"+escapeName, "x")),
			inRoot: []string{escapeName}},
		{name: "symlink to proc root then write", wantErr: errdefs.ErrNotFound,
			layer: layer(t, symlink("evil", "/proc/self/root"+s), file("evil/pwned", "x"))},
		{name: "symlink then directory through it", wantErr: errdefs.ErrNotFound,
			layer: layer(t, symlink("evil", s), dir("evil/sub/"))},
		{name: "symlink then deep file through it", wantErr: errdefs.ErrNotFound,
			layer: layer(t, symlink("evil", s), file("evil/dir/new/pwned", "x"))},
		{name: "symlink to file then overwrite", layer: layer(t, symlink("evil", s+"/file"), file("evil", "x")),
			inRoot: []string{"evil"}},
		{name: "symlink to dir then directory entry", layer: layer(t, symlink("evil", s), dir("evil/")),
			inRoot: []string{"evil"}},
		{name: "hardlink dotdot", wantErr: errdefs.ErrNotFound,
			layer: layer(t, hardlink("h", "../../sentinel/file"))},
		{name: "hardlink absolute host path", wantErr: errdefs.ErrNotFound,
			layer: layer(t, hardlink("h", s+"/file"))},
		{name: "hardlink through symlink", wantErr: errdefs.ErrNotFound,
			layer: layer(t, symlink("evil", s), hardlink("h", "evil/file"))},
		{name: "hardlink through climbing symlink", wantErr: errdefs.ErrNotFound,
			layer: layer(t, symlink("evil", "../../.."+s), hardlink("h", "evil/file"))},
		{name: "hardlink to outside symlink then overwrite", layer: layer(t, symlink("evil", s+"/file"), hardlink("h", "evil"), file("h", "x")),
			inRoot: []string{"h", "evil"}},
		{name: "hardlink to root", wantErr: errdefs.ErrInvalidArgument, layer: layer(t, hardlink("h", "/"))},
		{name: "whiteout dotdot", layer: layer(t, file(rs+"/.wh.file", ""))},
		{name: "whiteout absolute", layer: layer(t, file(s+"/.wh.file", ""))},
		{name: "whiteout through symlink", layer: layer(t, symlink("evil", s), file("evil/.wh.file", ""))},
		{name: "whiteout through climbing symlink", layer: layer(t, symlink("evil", "../"+rs), file("evil/.wh.file", ""))},
		{name: "whiteout of dotdot", wantErr: errdefs.ErrInvalidArgument, layer: layer(t, file("a/.wh...", ""))},
		{name: "opaque through symlink", layer: layer(t, symlink("evil", s), file("evil/.wh..wh..opq", ""))},
		{name: "opaque through climbing symlink", layer: layer(t, symlink("evil", "../../sentinel"), file("evil/.wh..wh..opq", ""))},
		{name: "overlay whiteout through symlink", opts: []ApplyOpt{WithWhiteouts(OverlayWhiteouts)}, wantErr: errdefs.ErrNotFound,
			layer: layer(t, symlink("evil", s), file("evil/.wh.file", ""))},
		{name: "symlink loop", wantErr: errdefs.ErrInvalidArgument,
			layer: layer(t, symlink("a", "b"), symlink("b", "a"), file("a/x", "x"))},
		{name: "self symlink", wantErr: errdefs.ErrInvalidArgument,
			layer: layer(t, symlink("a", "a"), file("a/x", "x"))},
		{name: "directory replaced by symlink then written through", wantErr: errdefs.ErrNotFound,
			layer: layer(t, dir("d/"), file("d/ok", "x"), symlink("d", s), file("d/pwned", "x"))},
		{name: "parent directory replaced by climbing symlink",
			layer:  layer(t, dir("d/"), dir("d/e/"), symlink("d", ".."), file("d/e/pwned", "x")),
			inRoot: []string{"e/pwned"}},
		{name: "file as directory", wantErr: errdefs.ErrInvalidArgument,
			layer: layer(t, file("f", "x"), file("f/g", "x"))},
		{name: "overlay xattr in pax is dropped", layer: layer(t,
			withPAX(withPAX(dir("d/"), "SCHILY.xattr.trusted.overlay.opaque", "y"), "SCHILY.xattr.user.overlay.opaque", "y"),
			withPAX(file("d/f", "x"), "SCHILY.xattr.trusted.overlay.redirect", "/"+escapeName)),
			inRoot: []string{"d/f"}, noXattr: map[string]string{"d": "trusted.overlay.opaque", "d/f": "trusted.overlay.redirect"}},
		{name: "name too long", wantErr: errdefs.ErrInvalidArgument,
			layer: layer(t, file(strings.Repeat("a/", 2100)+"f", "x"))},
		{name: "nested too deep", wantErr: errdefs.ErrInvalidArgument,
			layer: layer(t, file(strings.Repeat("a/", 600)+"f", "x"))},
		{name: "link target too long", wantErr: errdefs.ErrInvalidArgument,
			layer: layer(t, symlink("l", strings.Repeat("x", 5000)))},
		{name: "root replaced", layer: layer(t, symlink(".", s), file("pwned", "x")), inRoot: []string{"pwned"}},
		{name: "root as file", layer: layer(t, file("a/..", "x"), file("ok", "x")), inRoot: []string{"ok"}},
	}
}

type hostileCase struct {
	name    string
	layer   []byte
	opts    []ApplyOpt
	wantErr error    // nil: must succeed; errAny: any error
	inRoot  []string // paths that must exist inside root afterwards
	noXattr map[string]string
}

func TestApplyHostile(t *testing.T) {
	// The cases need the sentinel's path, so build them from a throwaway
	// env just to count and name them.
	names := hostileLayers(t, &hostEnv{sentinel: "/x"})
	for i := range names {
		t.Run(names[i].name, func(t *testing.T) {
			e := newHostEnv(t)
			tc := hostileLayers(t, e)[i]
			hostPaths := []string{
				"/" + escapeName,
				"/abs/" + escapeName,
				filepath.Join(e.base, escapeName),
				filepath.Join(filepath.Dir(e.base), escapeName),
			}
			_, err := Apply(t.Context(), e.root, bytes.NewReader(tc.layer), tc.opts...)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Errorf("Apply() = %v, want success", err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Errorf("Apply() = %v, want %v", err, tc.wantErr)
			}
			e.check(t)
			for _, p := range hostPaths {
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("host path %s exists (Lstat: %v)", p, err)
				}
			}
			for _, p := range tc.inRoot {
				if _, err := os.Lstat(filepath.Join(e.root, p)); err != nil {
					t.Errorf("want %s inside root: %v", p, err)
				}
			}
			for p, x := range tc.noXattr {
				_, err := unix.Lgetxattr(filepath.Join(e.root, p), x, make([]byte, 64))
				if !errors.Is(err, unix.ENODATA) {
					t.Errorf("Lgetxattr(%s, %s) = %v, want ENODATA", p, x, err)
				}
			}
		})
	}
}
