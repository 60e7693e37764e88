package logfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestWriteFormat(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	w := openWriter(t, path, Options{})
	t1 := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
	t2 := time.Date(2026, 11, 23, 11, 0, 0, 200000000, time.FixedZone("CET", 3600))
	records := []struct {
		stream string
		line   string
		t      time.Time
	}{
		{"stdout", "hello\n", t1},
		{"stderr", "no newline", t2},
		{"stdout", "<a&b>\t\"q\"\\ \x01\x7f\r\n", t1},
		{"stdout", "bad \xff utf8 \u2028\u2029 é\n", t1},
		{"", "", t1},
	}
	for _, r := range records {
		if err := w.Write(r.stream, []byte(r.line), r.t); err != nil {
			t.Fatalf("Write(%q, %q) = %v", r.stream, r.line, err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"log":"hello\n","stream":"stdout","time":"2026-11-23T10:00:00.123456789Z"}
{"log":"no newline","stream":"stderr","time":"2026-11-23T10:00:00.2Z"}
{"log":"\u003ca\u0026b\u003e\u0009\"q\"\\ \u0001` + "\x7f" + `\r\n","stream":"stdout","time":"2026-11-23T10:00:00.123456789Z"}
{"log":"bad \ufffd utf8 \u2028\u2029 é\n","stream":"stdout","time":"2026-11-23T10:00:00.123456789Z"}
{"time":"2026-11-23T10:00:00.123456789Z"}
`
	if string(got) != want {
		t.Fatalf("file =\n%s\nwant\n%s", got, want)
	}

	msgs := readAll(t, path, ReadConfig{Tail: -1})
	if len(msgs) != len(records) {
		t.Fatalf("Read = %d messages, want %d", len(msgs), len(records))
	}
	for i, r := range records {
		m := msgs[i]
		wantLine := validUTF8(r.line)
		if m.Stream != r.stream || string(m.Line) != wantLine || !m.Time.Equal(r.t) || m.Time.Location() != time.UTC {
			t.Errorf("message %d = %q %q %v, want %q %q %v UTC", i, m.Stream, m.Line, m.Time, r.stream, wantLine, r.t)
		}
	}
}

// validUTF8 replaces each byte of invalid UTF-8 with U+FFFD, as JSON
// encoding does.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// FuzzRecord: any line and stream encode to one valid JSON line that
// decodes back to them.
func FuzzRecord(f *testing.F) {
	for _, s := range []string{"", "hello\n", "\x00\x1f\"\\<>&\u2028\xff\xfe", "é\r\n\t"} {
		f.Add(s, "stdout")
	}
	f.Fuzz(func(t *testing.T, line, stream string) {
		ts := t0.Add(123456789)
		rec, err := appendRecord(nil, stream, []byte(line), ts)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(rec), "\n") != 1 || rec[len(rec)-1] != '\n' || !json.Valid(rec) {
			t.Fatalf("appendRecord(%q, %q) = %q, not one JSON line", stream, line, rec)
		}
		m, ok := decode(rec[:len(rec)-1])
		if !ok || m.Stream != validUTF8(stream) || string(m.Line) != validUTF8(line) || !m.Time.Equal(ts) {
			t.Fatalf("decode(%q) = %+v, %v", rec, m, ok)
		}
	})
}

func TestOpenAppends(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	w := openWriter(t, path, Options{})
	writeLines(t, w, 0, 3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^FileMode != 0 || perm&0o600 != 0o600 {
		t.Errorf("mode = %v, want %v (less the umask)", perm, FileMode)
	}
	w = openWriter(t, path, Options{})
	writeLines(t, w, 3, 5)
	if got, want := lines(readAll(t, path, ReadConfig{Tail: -1})), lineRange(0, 5); !slices.Equal(got, want) {
		t.Fatalf("Read = %q, want %q", got, want)
	}
}

// A file ending in a torn record gets a newline before the next record.
func TestOpenTornFile(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	if err := os.WriteFile(path, []byte(`{"log":"torn`), 0o640); err != nil {
		t.Fatal(err)
	}
	w := openWriter(t, path, Options{})
	writeLines(t, w, 0, 2)
	if got, want := lines(readAll(t, path, ReadConfig{Tail: -1})), lineRange(0, 2); !slices.Equal(got, want) {
		t.Fatalf("Read = %q, want %q", got, want)
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	w := openWriter(t, path, Options{})
	if err := w.Write("stdout", []byte("x"), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Write(year 10000) = %v, want invalid argument", err)
	}
	if err := w.Write("stdout", make([]byte, MaxRecordSize), t0); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Write(%d bytes) = %v, want invalid argument", MaxRecordSize, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := w.Write("stdout", []byte("x"), t0); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Write after Close = %v, want fs.ErrClosed", err)
	}
	if n := countLines(t, path); n != 0 {
		t.Errorf("%d records written, want 0", n)
	}
	for _, o := range []Options{{MaxSize: -1}, {MaxFiles: -1}} {
		if _, err := Open(path, o); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Open(%+v) = %v, want invalid argument", o, err)
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "x.log"), Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open in a missing directory = %v, want not exist", err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	const maxSize = 1000
	for _, maxFiles := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("max-file=%d", maxFiles), func(t *testing.T) {
			t.Parallel()
			path := logPath(t)
			w := openWriter(t, path, Options{MaxSize: maxSize, MaxFiles: maxFiles})
			const n = 200 // about 70 bytes each: 14 per file
			writeLines(t, w, 0, n)

			var want []string
			want = append(want, filepath.Base(path))
			for i := 1; i < maxFiles; i++ {
				want = append(want, fmt.Sprintf("%s.%d", filepath.Base(path), i))
			}
			got := logFiles(t, path)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("files = %q, want %q", got, want)
			}
			for _, name := range got {
				fi, err := os.Stat(filepath.Join(filepath.Dir(path), name))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() > maxSize {
					t.Errorf("%s is %d bytes, more than %d", name, fi.Size(), maxSize)
				}
				if name != filepath.Base(path) && fi.Size() < maxSize*9/10 {
					t.Errorf("rotated %s is %d bytes, want nearly %d", name, fi.Size(), maxSize)
				}
			}
			// Read gives the newest records, in order, across files.
			kept := countLines(t, path)
			if got, want := lines(readAll(t, path, ReadConfig{Tail: -1})), lineRange(n-kept, n); !slices.Equal(got, want) {
				t.Fatalf("Read = %q, want %q", got, want)
			}
		})
	}
}

// A record bigger than MaxSize goes alone into a file of its own.
func TestRotationBigRecord(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	w := openWriter(t, path, Options{MaxSize: 100, MaxFiles: 3})
	big := strings.Repeat("x", 300) + "\n"
	for _, l := range []string{"a\n", big, "b\n"} {
		if err := w.Write("stdout", []byte(l), t0); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{path + ".2", path + ".1", path} {
		if n := len(readAll(t, name, ReadConfig{Tail: -1})); i < 2 && n != 1 {
			t.Errorf("%s holds %d records, want 1", name, n)
		}
	}
	if got, want := lines(readAll(t, path, ReadConfig{Tail: -1})), []string{"a\n", big, "b\n"}; !slices.Equal(got, want) {
		t.Fatalf("Read = %q, want %q", got, want)
	}
}

// When rotation fails, records still go to the current file.
func TestRotationFailure(t *testing.T) {
	t.Parallel()
	path := logPath(t)
	// path.1 a non-empty directory: it can be neither removed nor
	// replaced by a file.
	if err := os.MkdirAll(filepath.Join(path+".1", "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := openWriter(t, path, Options{MaxSize: 100, MaxFiles: 2})
	var errs int
	for i := range 5 {
		if err := w.Write("stdout", []byte(line(i)), t0); err != nil {
			errs++
		}
	}
	if errs == 0 {
		t.Fatal("Write never reported the rotation failure")
	}
	if got, want := lines(readAll(t, path, ReadConfig{Tail: -1})), lineRange(0, 5); !slices.Equal(got, want) {
		t.Fatalf("Read = %q, want %q", got, want)
	}
	// Once the obstacle is gone, rotation resumes.
	if err := os.RemoveAll(path + ".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, 5, 6)
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("no rotation after the obstacle went: %v", err)
	}
	if got, want := lines(readAll(t, path, ReadConfig{Tail: -1})), lineRange(0, 6); !slices.Equal(got, want) {
		t.Fatalf("Read = %q, want %q", got, want)
	}
}

func BenchmarkWrite(b *testing.B) {
	w := openWriter(b, logPath(b), Options{MaxSize: 10 << 20, MaxFiles: 2})
	l := []byte(strings.Repeat("benchmark output ", 6) + "\n")
	b.SetBytes(int64(len(l)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write("stdout", l, t0); err != nil {
			b.Fatal(err)
		}
	}
}
