package ref

import (
	"errors"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

const (
	hex1 = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"
	dgst = "sha256:" + hex1
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                       string
		registry, repo, tag, dig string
		str, familiar            string
	}{
		{"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest", "user/app:latest"},
		{"user/app:1", "docker.io", "user/app", "1", "", "docker.io/user/app:1", "user/app:1"},
		{"docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", "busybox:latest"},
		{"index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/library/a/b", "docker.io", "library/a/b", "latest", "", "docker.io/library/a/b:latest", "library/a/b:latest"},
		{"localhost/x", "localhost", "x", "latest", "", "localhost/x:latest", "localhost/x:latest"},
		{"localhost:5000/x", "localhost:5000", "x", "latest", "", "localhost:5000/x:latest", "localhost:5000/x:latest"},
		{"localhost:5000/a/b:v2", "localhost:5000", "a/b", "v2", "", "localhost:5000/a/b:v2", "localhost:5000/a/b:v2"},
		{"127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", "", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"},
		{"[::1]:5000/x", "[::1]:5000", "x", "latest", "", "[::1]:5000/x:latest", "[::1]:5000/x:latest"},
		{"ghcr.io/org/repo", "ghcr.io", "org/repo", "latest", "", "ghcr.io/org/repo:latest", "ghcr.io/org/repo:latest"},
		{"Example.com/x", "Example.com", "x", "latest", "", "Example.com/x:latest", "Example.com/x:latest"},
		{"myhost:5000", "docker.io", "library/myhost", "5000", "", "docker.io/library/myhost:5000", "myhost:5000"},
		{"localhost", "docker.io", "library/localhost", "latest", "", "docker.io/library/localhost:latest", "localhost:latest"},
		{"a__b/c--d.e_f", "docker.io", "a__b/c--d.e_f", "latest", "", "docker.io/a__b/c--d.e_f:latest", "a__b/c--d.e_f:latest"},
		{"x:Tag_1.2-rc", "docker.io", "library/x", "Tag_1.2-rc", "", "docker.io/library/x:Tag_1.2-rc", "x:Tag_1.2-rc"},
		{"x@" + dgst, "docker.io", "library/x", "", dgst, "docker.io/library/x@" + dgst, "x@" + dgst},
		{"x:tag@" + dgst, "docker.io", "library/x", "tag", dgst, "docker.io/library/x:tag@" + dgst, "x:tag@" + dgst},
		{"localhost:5000/x@" + dgst, "localhost:5000", "x", "", dgst, "localhost:5000/x@" + dgst, "localhost:5000/x@" + dgst},
		{"abc123", "docker.io", "library/abc123", "latest", "", "docker.io/library/abc123:latest", "abc123:latest"},
		{strings.Repeat("a", 63), "docker.io", "library/" + strings.Repeat("a", 63), "latest", "", "docker.io/library/" + strings.Repeat("a", 63) + ":latest", strings.Repeat("a", 63) + ":latest"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want nil error", tt.in, err)
			}
			got := []string{r.Registry(), r.Repository(), r.Tag(), r.Digest().String(), r.String(), r.Familiar()}
			want := []string{tt.registry, tt.repo, tt.tag, tt.dig, tt.str, tt.familiar}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("Parse(%q) = %q, want %q", tt.in, got, want)
					break
				}
			}
			if r.Name() != tt.registry+"/"+tt.repo {
				t.Errorf("Parse(%q).Name() = %q, want %q", tt.in, r.Name(), tt.registry+"/"+tt.repo)
			}
			for _, s := range []string{r.String(), r.Familiar()} {
				again, err := Parse(s)
				if err != nil || again != r {
					t.Errorf("Parse(%q) = %v, %v, want %v", s, again, err, r)
				}
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, msg string
	}{
		{"", "invalid reference format"},
		{"Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"},
		{"user/App", "invalid reference format: repository name (user/App) must be lowercase"},
		{"localhost:5000/X", "invalid reference format: repository name (X) must be lowercase"},
		{"busybox:", "invalid reference format"},
		{"busybox:bad/tag", "invalid reference format"},
		{"busybox:-tag", "invalid reference format"},
		{"busybox:" + strings.Repeat("t", 129), "invalid reference format"},
		{"busybox:ta g", "invalid reference format"},
		{"busybox@", "invalid reference format"},
		{"busybox@sha256:abc", "invalid reference format"},
		{"busybox@sha256:" + strings.Repeat("a", 63), "invalid checksum digest length"},
		{"busybox@md5:" + strings.Repeat("a", 32), "unsupported digest algorithm"},
		{"/busybox", "invalid reference format"},
		{"busybox/", "invalid reference format"},
		{"a//b", "invalid reference format"},
		{"-a", "invalid reference format"},
		{"a-", "invalid reference format"},
		{"a...b", "invalid reference format"},
		{"a b", "invalid reference format"},
		{"https://docker.io/x", "invalid reference format"},
		{hex1, "invalid repository name (" + hex1 + "), cannot specify 64-byte hexadecimal strings"},
		{"example.com/" + strings.Repeat("a", 250), "repository name must not be more than 255 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %q", tt.in, r, tt.msg)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("Parse(%q) error %v is not ErrInvalidArgument", tt.in, err)
			}
			if err.Error() != tt.msg {
				t.Errorf("Parse(%q) error = %q, want %q", tt.in, err.Error(), tt.msg)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"localhost", true},
		{"localhost:5000", true},
		{"LocalHost:5000", true},
		{"127.0.0.1", true},
		{"127.0.0.1:5000", true},
		{"127.1.2.3:80", true},
		{"::1", true},
		{"[::1]", true},
		{"[::1]:5000", true},
		{"docker.io", false},
		{"localhost.example.com", false},
		{"128.0.0.1:5000", false},
		{"10.0.0.1", false},
		{"[::2]:5000", false},
		{"", false},
		{"localhost:5000:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := IsLoopback(tt.in); got != tt.want {
				t.Errorf("IsLoopback(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
