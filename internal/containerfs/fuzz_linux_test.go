package containerfs

import (
	"bytes"
	"compress/gzip"
	"os"
	"strings"
	"testing"
)

// fuzzSentinel is the sentinel path baked into the seeds; the relative
// hostile names ("../sentinel") reach each run's real sentinel anyway.
const fuzzSentinel = "/tmp/shoal-fuzz-seed/sentinel"

// fuzzDirs are the extraction directories FuzzExtract picks from: plain
// ones and the hostile links of newHostEnv.
var fuzzDirs = []string{"/", "/sub", "/etc", "/evil", "/sub/esc", "/up", "/abs", "/magic", "/deepup"}

// extractSeeds are tars that try to get out of the extraction directory or
// the root, as TestExtractHostile's do, plus a few well-formed ones.
func extractSeeds(t testing.TB) [][]byte {
	s := fuzzSentinel
	seeds := [][]byte{
		mktar(t, tfile("../"+escapeName, "x")),
		mktar(t, tfile("../../../../../../"+escapeName, "x")),
		mktar(t, tfile(s+"/pwned", "x")),
		mktar(t, tsymlink("evil", s), tfile("evil/pwned", "x")),
		mktar(t, tsymlink("evil", "../../../sentinel"), tfile("evil/pwned", "x")),
		mktar(t, tsymlink("evil", "/"), tfile("evil/"+escapeName, "x")),
		mktar(t, tsymlink("evil", "/proc/self/root"+s), tfile("evil/pwned", "x")),
		mktar(t, tsymlink("evil", s+"/file"), tfile("evil", "x")),
		mktar(t, thardlink("h", "../../sentinel/file")),
		mktar(t, thardlink("h", s+"/file")),
		mktar(t, tsymlink("evil", s), thardlink("h", "evil/file")),
		mktar(t, thardlink("h", "esc/etc/passwd")),
		mktar(t, tfile("esc/"+escapeName, "x")),
		mktar(t, tdir("d/"), tfile("d/f", "x"), tsymlink("d", s), tfile("d/pwned", "x")),
		mktar(t, tdir("x/"), tfile("x", "x"), tdir("x/")),
		mktar(t, tfile("etc/.wh.passwd", ""), tfile("etc/.wh..wh..opq", "")),
		mktar(t, tsymlink("a", "b"), tsymlink("b", "a"), tfile("a/x", "x")),
		mktar(t, tfile(strings.Repeat("a/", 600)+"f", "x")),
		mktar(t, towner(tfile("owned", "x"), 1, 2), tdir("etc/"), tfile("etc/passwd", "root:x:0:0::/:/bin/sh\n")),
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(mktar(t, tdir("z/"), tfile("z/f", "zipped")))
	zw.Close()
	return append(seeds, gz.Bytes())
}

// FuzzExtract extracts arbitrary bytes into a container root full of
// hostile symlinks and asserts that nothing outside root was created,
// changed or removed, whatever Extract returns.
func FuzzExtract(f *testing.F) {
	for i, data := range extractSeeds(f) {
		f.Add(uint8(i), data)
	}
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		e := newHostEnv(t)
		dir := fuzzDirs[int(mode&0x0f)%len(fuzzDirs)]
		_ = Extract(t.Context(), e.root, dir, bytes.NewReader(data), mode&0x10 != 0, mode&0x20 != 0, WithUser("root"))
		e.check(t)
		e.checkEscape(t)
		if fi, err := os.Lstat(e.root); err != nil || !fi.IsDir() {
			t.Errorf("root after Extract: %v, %v; want a directory", fi, err)
		}
	})
}
