package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func extractTestContext(t *testing.T, files ...ctxFile) (*buildContext, error) {
	t.Helper()
	bc, err := extractContext(t.Context(), bytes.NewReader(makeTar(t, files...)), t.TempDir())
	if err != nil {
		return nil, err
	}
	return bc, bc.applyIgnore()
}

// extractTestContextTime is extractTestContext with every file an hour
// older.
func extractTestContextTime(t *testing.T, files ...ctxFile) (*buildContext, error) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.data))
	}
	tw.Close()
	bc, err := extractContext(t.Context(), &buf, t.TempDir())
	if err != nil {
		return nil, err
	}
	return bc, bc.applyIgnore()
}

func TestContextHostile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files []ctxFile
		want  string
	}{
		{"dotdot", []ctxFile{{name: "../evil", data: "x"}}, "is outside the context"},
		{"dotdot inside", []ctxFile{{name: "a/../../evil", data: "x"}}, "is outside the context"},
		{"through symlink", []ctxFile{{name: "l", link: "/tmp"}, {name: "l/evil", data: "x"}}, "which is not a directory"},
		{"through file", []ctxFile{{name: "f", data: "x"}, {name: "f/evil", data: "x"}}, "which is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dir := filepath.Join(parent, "ctx")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			_, err := extractContext(t.Context(), bytes.NewReader(makeTar(t, tc.files...)), dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errdefs.IsInvalidArgument(err) {
				t.Fatalf("extract = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(parent, "evil")); err == nil {
				t.Error("a file was written outside the context")
			}
		})
	}
	// A hard link to a file that is not in the context.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"})
	tw.Close()
	if _, err := extractContext(t.Context(), &buf, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no such file in the context") {
		t.Errorf("hard link out of the context: %v", err)
	}
}

func TestContextForms(t *testing.T) {
	t.Parallel()
	// A gzipped tar.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(makeTar(t, ctxFile{name: "Dockerfile", data: "FROM bb\n"}, ctxFile{name: "./sub/", dir: true, mode: 0o700}))
	zw.Close()
	bc, err := extractContext(t.Context(), &gz, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := bc.applyIgnore(); err != nil {
		t.Fatal(err)
	}
	if data, ok, _ := bc.readFile("Dockerfile"); !ok || string(data) != "FROM bb\n" {
		t.Errorf("Dockerfile = %q, %v", data, ok)
	}
	if e := bc.visible["sub"]; e == nil || !e.isDir() || e.mode != 0o700 {
		t.Errorf("sub = %+v", e)
	}
	// A Dockerfile on its own.
	bc, err = extractContext(t.Context(), strings.NewReader("FROM bb\nRUN true\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if data, ok, _ := bc.readFile("Dockerfile"); !ok || !strings.HasPrefix(string(data), "FROM bb") {
		t.Errorf("plain Dockerfile = %q, %v", data, ok)
	}
}

func TestContextResolveAndSums(t *testing.T) {
	t.Parallel()
	bc, err := extractTestContext(t,
		ctxFile{name: "d/a", data: "a"}, ctxFile{name: "d/b", data: "b"},
		ctxFile{name: "ln", link: "d/a"}, ctxFile{name: "abs", link: "/d"}, ctxFile{name: "loop", link: "loop"},
		ctxFile{name: "up", link: "../../d/b"},
	)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"ln": "d/a", "abs": "d", "abs/b": "d/b", "up": "d/b", "d/../d/a": "d/a"} {
		got, _, err := bc.resolve(in)
		if err != nil || got != want {
			t.Errorf("resolve(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if _, _, err := bc.resolve("loop"); err == nil {
		t.Error("a symlink loop resolved")
	}
	if _, _, err := bc.resolve("nope"); err == nil {
		t.Error("a missing path resolved")
	}
	sum := bc.treeSum("d", bc.visible["d"])
	bc2, _ := extractTestContext(t, ctxFile{name: "d/a", data: "a"}, ctxFile{name: "d/b", data: "B"})
	bc3, _ := extractTestContext(t, ctxFile{name: "d/a", data: "a"}, ctxFile{name: "d/c", data: "b"})
	if sum == bc2.treeSum("d", bc2.visible["d"]) || sum == bc3.treeSum("d", bc3.visible["d"]) {
		t.Error("tree sums ignore content or names")
	}
	bc4, _ := extractTestContext(t, ctxFile{name: "d/a", data: "a"}, ctxFile{name: "d/b", data: "b"}, ctxFile{name: "other", data: "o"})
	if sum != bc4.treeSum("d", bc4.visible["d"]) {
		t.Error("a file outside the tree changed its sum")
	}
}
