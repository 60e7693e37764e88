package containerfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/shoal-dev/shoal/internal/archive"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

func layerOf(t *testing.T, upper string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteLayer(t.Context(), upper, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWriteLayerEntries checks the whiteout conversions on a hand-made
// upper directory.
func TestWriteLayerEntries(t *testing.T) {
	t.Parallel()
	upper := t.TempDir()
	build(t, upper, fdir("etc"), ffile("etc/new", "n"), fhard("etc/new2", "etc/new"),
		fdir("opq"), ffile("opq/kept", "k"), ffile("xwo", ""), ffile("etc/owned", "o"))
	mkWhiteout(t, filepath.Join(upper, "etc/gone"))
	setXattr(t, filepath.Join(upper, "opq"), "user.overlay.opaque", "y")
	setXattr(t, filepath.Join(upper, "xwo"), "user.overlay.whiteout", "")
	setXattr(t, filepath.Join(upper, "etc/owned"), "user.overlay.origin", "forged")
	setXattr(t, filepath.Join(upper, "etc/owned"), "user.keep", "1")

	es := readTar(t, layerOf(t, upper))
	want := "etc/ etc/.wh.gone etc/new etc/new2 etc/owned opq/ opq/.wh..wh..opq opq/kept .wh.xwo"
	if got := joinNames(tarNames(es)); got != want {
		t.Errorf("WriteLayer names = %q, want %q", got, want)
	}
	for _, en := range es {
		h := en.hdr
		switch h.Name {
		case "etc/.wh.gone", ".wh.xwo", "opq/.wh..wh..opq":
			if h.Typeflag != tar.TypeReg || h.Size != 0 {
				t.Errorf("%s: type %q size %d, want an empty file", h.Name, h.Typeflag, h.Size)
			}
		case "etc/new2":
			if h.Typeflag != tar.TypeLink || h.Linkname != "etc/new" {
				t.Errorf("etc/new2: %q -> %q, want hardlink to etc/new", h.Typeflag, h.Linkname)
			}
		case "etc/owned":
			if _, ok := h.PAXRecords["SCHILY.xattr.user.overlay.origin"]; ok {
				t.Error("etc/owned: overlay xattr archived")
			}
			if h.PAXRecords["SCHILY.xattr.user.keep"] != "1" {
				t.Errorf("etc/owned: PAX %v, want user.keep", h.PAXRecords)
			}
		case "opq/":
			if len(h.PAXRecords) != 0 {
				t.Errorf("opq/: PAX %v, want no overlay xattr", h.PAXRecords)
			}
		}
	}

	// Features a layer cannot express.
	setXattr(t, filepath.Join(upper, "etc/new"), "user.overlay.metacopy", "")
	if err := WriteLayer(t.Context(), upper, &bytes.Buffer{}); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("WriteLayer with a metacopy file = %v, want not implemented", err)
	}
}

// TestWriteLayerReproducesMerged: the layer of a real overlay's upper
// directory, applied to a copy of the lowers, gives the merged view.
func TestWriteLayerReproducesMerged(t *testing.T) {
	t.Parallel()
	f := newOverlayFixture(t)
	layer := layerOf(t, f.upper)
	names := map[string]rentry{}
	for _, en := range readTar(t, layer) {
		names[en.hdr.Name] = en
	}
	for _, n := range []string{".wh.opt", "usr/.wh..wh..opq", "var/log/.wh.a", "etc/passwd", "etc/new", "newfifo", "etclink"} {
		if _, ok := names[n]; !ok {
			t.Errorf("layer has no %s; it has %q", n, joinNames(tarNames(readTar(t, layer))))
		}
	}
	if l := names["etc/new2"].hdr; l == nil || l.Typeflag != tar.TypeLink || l.Linkname != "etc/new" {
		t.Errorf("etc/new2 = %+v, want a hardlink to etc/new", l)
	}

	// A copy of the lowers: Export of their read-only overlay, applied.
	var lower bytes.Buffer
	if err := Export(t.Context(), f.lowerView, &lower); err != nil {
		t.Fatal(err)
	}
	cp := t.TempDir()
	if _, err := archive.Apply(t.Context(), cp, &lower); err != nil {
		t.Fatal(err)
	}
	diffMaps(t, "exported lowers", describe(t, cp), describe(t, f.lowerView))
	if _, err := archive.Apply(t.Context(), cp, bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	diffMaps(t, "lowers + layer", describe(t, cp), describe(t, f.merged))
}
