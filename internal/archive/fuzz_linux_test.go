package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeedSentinel is the sentinel path baked into the seed corpus; the
// relative hostile names ("../sentinel") hit the real sentinel anyway.
const fuzzSeedSentinel = "/tmp/shoal-fuzz-seed/sentinel"

// FuzzApply applies arbitrary bytes as a layer into a temporary root and
// asserts that nothing outside root was created, changed or removed,
// whatever Apply returns.
func FuzzApply(f *testing.F) {
	for i, tc := range hostileLayers(f, &hostEnv{sentinel: fuzzSeedSentinel}) {
		f.Add(uint8(i%8), tc.layer)
	}
	f.Add(uint8(0), layer(f, dir("d/"), file("d/f", "x"), file("d/.wh..wh..opq", ""), hardlink("h", "d/f")))
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		e := newHostEnv(t)
		opts := []ApplyOpt{WithMaxBytes(1 << 20)}
		if mode&1 != 0 {
			opts = append(opts, WithWhiteouts(OverlayWhiteouts))
		}
		if mode&2 != 0 {
			opts = append(opts, WithNoChown())
		}
		if mode&4 != 0 {
			opts = append(opts, WithSkipDevices())
		}
		_, _ = Apply(t.Context(), e.root, bytes.NewReader(data), opts...)
		e.check(t)
		if fi, err := os.Lstat(e.root); err != nil || !fi.IsDir() {
			t.Errorf("root after Apply: %v, %v; want a directory", fi, err)
		}
		for _, p := range []string{"/" + escapeName, filepath.Join(filepath.Dir(e.base), escapeName)} {
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("host path %s exists (Lstat: %v)", p, err)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzApply from the hostile
// layers when SHOAL_WRITE_FUZZ_SEEDS=1 (see testdata/README.md).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SHOAL_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set SHOAL_WRITE_FUZZ_SEEDS=1 to regenerate the FuzzApply seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzApply")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, tc := range hostileLayers(t, &hostEnv{sentinel: fuzzSeedSentinel}) {
		data := tc.layer
		if len(data) > 64<<10 {
			continue
		}
		body := fmt.Sprintf("go test fuzz v1\nbyte(%q)\n[]byte(%q)\n", byte(i%8), data)
		name := filepath.Join(dir, fmt.Sprintf("hostile-%02d", i))
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
