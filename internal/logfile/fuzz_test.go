package logfile

import (
	"os"
	"slices"
	"testing"
)

// FuzzRead: whatever the bytes of a log, Read does not panic; the last k
// records are those Tail k gives; following to Done gives what a plain
// read gives. The first byte says where the bytes are split between
// path.1 and path.
func FuzzRead(f *testing.F) {
	f.Add([]byte("\x10" + `{"log":"hello\n","stream":"stdout","time":"2026-11-23T10:00:00.123456789Z"}` + "\n" +
		`{"log":"partial","stream":"stderr","time":"2026-11-23T10:00:01Z"}` + "\n"))
	f.Add([]byte("\x00garbage\n{\n}\nnull\n" + `{"log":"x"}` + "\n\n" + `{"log":"tail no newline"}`))
	f.Add([]byte("\x03{\"log\":\"a\"}\n{\"log\":\"b\"}\n{\"time\":5}\n{\"log\":\"c\"}"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4*MaxRecordSize {
			return
		}
		path := logPath(t)
		split := 0
		if len(data) > 0 {
			split = min(int(data[0]), len(data)-1)
			data = data[1:]
		}
		if split > 0 {
			if err := os.WriteFile(path+".1", data[:split], 0o640); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path, data[split:], 0o640); err != nil {
			t.Fatal(err)
		}

		all := readAll(t, path, ReadConfig{Tail: -1})
		for _, k := range []int{0, 1, 2, len(all) / 2, len(all), len(all) + 1} {
			got := readAll(t, path, ReadConfig{Tail: k})
			want := all[max(0, len(all)-k):]
			if !equalMessages(got, want) {
				t.Fatalf("Read(tail %d) = %q, want %q", k, lines(got), lines(want))
			}
		}
		done := make(chan struct{})
		close(done)
		if got := readAll(t, path, ReadConfig{Tail: -1, Follow: true, Done: done}); !equalMessages(got, all) {
			t.Fatalf("Read(follow, done) = %q, want %q", lines(got), lines(all))
		}
		if len(all) > 0 {
			readAll(t, path, ReadConfig{Tail: -1, Since: all[len(all)/2].Time, Until: all[0].Time})
		}
	})
}

func equalMessages(a, b []Message) bool {
	return slices.EqualFunc(a, b, func(x, y Message) bool {
		return x.Stream == y.Stream && string(x.Line) == string(y.Line) && x.Time.Equal(y.Time)
	})
}
