package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSubset(t *testing.T) {
	allowed := []string{"shoal", "dockerd", "podman"}
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"shoal,dockerd,podman", []string{"shoal", "dockerd", "podman"}, ""},
		{" podman , shoal,,podman", []string{"podman", "shoal"}, ""},
		{"", nil, ""},
		{"shoal,runc", nil, `-engines: unknown "runc" (want a subset of shoal,dockerd,podman)`},
	} {
		got, err := Subset("-engines", tc.in, allowed)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Subset(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Subset(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	tmp, err := TempDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(tmp) || !strings.HasPrefix(filepath.Base(tmp), Prefix) {
		t.Fatalf("TempDir = %q, want an absolute path named %s...", tmp, Prefix)
	}
	tok := Token(tmp)
	if tok == "" || strings.Contains(tok, "/") || Prefix+tok != filepath.Base(tmp) {
		t.Errorf("Token(%q) = %q", tmp, tok)
	}
	if got := CgroupParent("123", "shoal"); got != "/shoal-bench-123-shoal" {
		t.Errorf("CgroupParent = %q", got)
	}
	if ok, _ := filepath.Match(CgroupPattern("123"), strings.TrimPrefix(CgroupParent("123", "dockerd"), "/")); !ok {
		t.Errorf("CgroupPattern(123) = %q does not match CgroupParent(123, dockerd)", CgroupPattern("123"))
	}
	if ok, _ := filepath.Match(CgroupPattern("123"), "shoal-bench-1234-shoal"); ok {
		t.Errorf("CgroupPattern(123) matches another run's cgroup")
	}
	if left := Leftovers(tmp, tok); len(left) != 0 {
		t.Errorf("Leftovers of a fresh temp dir = %q", left)
	}
}

func TestWriteFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "b.conf")
	if got := WriteFile(p, "x = 1\n"); got != p {
		t.Errorf("WriteFile returned %q, want %q", got, p)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "x = 1\n" {
		t.Errorf("file has %q, %v", b, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("WriteFile into a file as a directory did not panic")
		}
	}()
	WriteFile(filepath.Join(p, "c"), "")
}

type job struct {
	run        func(ctx context.Context) error
	cleanupErr error
	cleaned    bool
}

func (j *job) Run(ctx context.Context) error { return j.run(ctx) }
func (j *job) Cleanup() error                { j.cleaned = true; return j.cleanupErr }

func TestInner(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv(EnvTmpDir, tmp)
	for _, tc := range []struct {
		name       string
		run        func(ctx context.Context) error
		cleanupErr error
		want       int
	}{
		{"ok", func(context.Context) error { return nil }, nil, 0},
		{"fails", func(context.Context) error { return errors.New("boom") }, nil, 1},
		{"panics", func(context.Context) error { panic("oops") }, nil, 1},
		{"cleanup fails", func(context.Context) error { return nil }, errors.New("left"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &job{run: tc.run, cleanupErr: tc.cleanupErr}
			var gotTmp string
			rc := Inner("test", func(d string) Job { gotTmp = d; return j })
			if rc != tc.want || !j.cleaned || gotTmp != tmp {
				t.Errorf("Inner = %d (cleaned %v, tmp %q), want %d (cleaned, tmp %q)", rc, j.cleaned, gotTmp, tc.want, tmp)
			}
		})
	}
	t.Run("not re-executed", func(t *testing.T) {
		t.Setenv(EnvTmpDir, "")
		if rc := Inner("test", func(string) Job { t.Error("job made"); return nil }); rc != 2 {
			t.Errorf("Inner without %s = %d, want 2", EnvTmpDir, rc)
		}
	})
}

func TestResolve(t *testing.T) {
	sh, missing := "sh", "/nonexistent/bin/x"
	if err := Resolve(&sh); err != nil || !filepath.IsAbs(sh) {
		t.Errorf("Resolve(sh) = %q, %v", sh, err)
	}
	if err := Resolve(&missing); err == nil {
		t.Error("Resolve(missing): no error")
	}
}

func TestSubsetSet(t *testing.T) {
	got, err := SubsetSet("-phases", "dns,setup", []string{"dns", "throughput", "setup"})
	if err != nil || len(got) != 2 || !got["dns"] || !got["setup"] || got["throughput"] {
		t.Errorf("SubsetSet(dns,setup) = %v, %v", got, err)
	}
	if _, err := SubsetSet("-phases", "bogus", []string{"dns"}); err == nil {
		t.Error("SubsetSet(bogus): no error")
	}
}
