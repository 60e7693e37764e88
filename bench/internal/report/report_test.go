package report

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestWriteHost(t *testing.T) {
	for _, tc := range []struct {
		name          string
		width         int
		kernelVersion bool
	}{
		{"daemon-run and network", 11, false},
		{"runtime-start", 13, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			WriteHost(&buf, tc.width, tc.kernelVersion)
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			labels := []string{"date:", "kernel:", "cpu:", "memory:"}
			if len(lines) != len(labels) {
				t.Fatalf("WriteHost wrote %d lines, want %d:\n%s", len(lines), len(labels), buf.String())
			}
			for i, l := range lines {
				want := labels[i] + strings.Repeat(" ", tc.width-len(labels[i]))
				if !strings.HasPrefix(l, want) || len(l) == len(want) || l[len(want)] == ' ' {
					t.Errorf("line %d = %q, want %q followed by a value", i, l, want)
				}
			}
			if !regexp.MustCompile(`^date: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(lines[0]) {
				t.Errorf("date line = %q, want an RFC 3339 UTC time", lines[0])
			}
			// Release and machine; with kernelVersion also the build
			// string, which has spaces of its own.
			if n := len(strings.Fields(lines[1])); n < 3 || (!tc.kernelVersion && n != 3) || (tc.kernelVersion && n < 4) {
				t.Errorf("kernel line = %q: %d fields", lines[1], n)
			}
			if !regexp.MustCompile(`^cpu: +\d+ online, .+$`).MatchString(lines[2]) {
				t.Errorf("cpu line = %q", lines[2])
			}
		})
	}
}

func TestField(t *testing.T) {
	var buf bytes.Buffer
	Field(&buf, 11, "load avg:", "1 2 3")
	Field(&buf, 4, "too long:", "x")
	if want := "load avg:  1 2 3\ntoo long:x\n"; buf.String() != want {
		t.Errorf("Field wrote %q, want %q", buf.String(), want)
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"only", 1, "only"},
		{"", 3, ""},
		{"a\n\n\n", 1, "a"},
	} {
		if got := Tail(tc.in, tc.n); got != tc.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestIndent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"runc version 1.1.5\nspec: 1.0.2\n", "  runc version 1.1.5\n  spec: 1.0.2\n"},
		{"one line", "  one line\n"},
		{"", "  \n"},
	} {
		if got := Indent(tc.in, "  "); got != tc.want {
			t.Errorf("Indent(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFirstLine(t *testing.T) {
	if got := FirstLine("Docker version 28.2.2\nmore"); got != "Docker version 28.2.2" {
		t.Errorf("FirstLine = %q", got)
	}
	if got := FirstLine("no newline"); got != "no newline" {
		t.Errorf("FirstLine = %q", got)
	}
}

func TestFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	// sha256("abc") = ba7816bf8f01cfea...
	if got := SHA256File(p); got != "ba7816bf8f01cfea" {
		t.Errorf("SHA256File(abc) = %q, want ba7816bf8f01cfea", got)
	}
	if got := FileSize(p); got != 3 {
		t.Errorf("FileSize = %d, want 3", got)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if got := SHA256File(missing); got != "?" {
		t.Errorf("SHA256File(missing) = %q, want ?", got)
	}
	if got := FileSize(missing); got != 0 {
		t.Errorf("FileSize(missing) = %d, want 0", got)
	}
	if got := FSType(t.TempDir()); got == "?" {
		t.Errorf("FSType(temp dir) = ?")
	}
}

func TestVersionOf(t *testing.T) {
	if got := VersionOf("/nonexistent/tool", "--version"); !strings.HasPrefix(got, "(/nonexistent/tool --version: ") || !strings.HasSuffix(got, ")\n") {
		t.Errorf("VersionOf(missing) = %q", got)
	}
}

func TestLoadAvg(t *testing.T) {
	if got := LoadAvg(); !regexp.MustCompile(`^[0-9.]+ [0-9.]+ [0-9.]+$`).MatchString(got) {
		t.Errorf("LoadAvg() = %q", got)
	}
}
