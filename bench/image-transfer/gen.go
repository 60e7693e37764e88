package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// The benchmark images. Everything below is a pure function of the seed and
// these parameters, so every engine (and every run on every machine) pulls
// byte-identical blobs with identical digests.
//
// File contents are bytes drawn uniformly from a 16-symbol alphabet
// (4 bits of entropy per byte): gzip brings them to ~0.56 of their size, so
// unpacking does real inflate work (random bytes would be "stored" blocks
// and inflate for free), and a 64 MiB layer is ~37 MB of gzip.
type layerSpec struct {
	BigFiles   int // files of BigKiB each
	BigKiB     int
	SmallFiles int // files of SmallKiB each
	SmallKiB   int
	RestKiB    int // one more file of this size, if > 0
}

// specFor is totalMiB of bigKiB files, one file with the remainder, and
// small files of 4 KiB.
func specFor(totalMiB, bigKiB, small int) layerSpec {
	s := layerSpec{BigKiB: bigKiB, SmallFiles: small, SmallKiB: 4}
	left := totalMiB<<10 - small*4
	s.BigFiles = left / bigKiB
	s.RestKiB = left - s.BigFiles*bigKiB
	return s
}

func (s layerSpec) size() int64 {
	return int64(s.BigFiles)*int64(s.BigKiB)<<10 + int64(s.SmallFiles)*int64(s.SmallKiB)<<10 + int64(s.RestKiB)<<10
}

const alphabet = "abcdefghijklmnop"

var epoch = time.Unix(0, 0).UTC()

// fill writes n pseudo-random alphabet bytes from r.
func fill(r *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 16 {
		v := r.Uint64()
		for j := 0; j < 16 && i+j < len(b); j++ {
			b[i+j] = alphabet[v&15]
			v >>= 4
		}
	}
}

// layerTar builds the uncompressed tar of layer idx of image name.
func layerTar(seed uint64, name string, idx int, s layerSpec) []byte {
	var h uint64
	for _, c := range name {
		h = h*131 + uint64(c)
	}
	r := rand.New(rand.NewChaCha8(seedBytes(seed, h, uint64(idx))))
	var buf bytes.Buffer
	buf.Grow(int(s.size()) + (s.BigFiles+s.SmallFiles+4)*1024)
	tw := tar.NewWriter(&buf)
	dir := fmt.Sprintf("data/%s/l%02d/", name, idx)
	hdr := func(n string, size int64, typ byte, mode int64) {
		must(tw.WriteHeader(&tar.Header{Name: n, Size: size, Typeflag: typ, Mode: mode,
			ModTime: epoch, Format: tar.FormatPAX}))
	}
	hdr("data/", 0, tar.TypeDir, 0o755)
	hdr("data/"+name+"/", 0, tar.TypeDir, 0o755)
	hdr(dir, 0, tar.TypeDir, 0o755)
	chunk := make([]byte, 1<<20)
	write := func(fn string, kib int) {
		size := int64(kib) << 10
		hdr(fn, size, tar.TypeReg, 0o644)
		for left := size; left > 0; {
			n := min(left, int64(len(chunk)))
			fill(r, chunk[:n])
			_, err := tw.Write(chunk[:n])
			must(err)
			left -= n
		}
	}
	for i := 0; i < s.BigFiles; i++ {
		write(fmt.Sprintf("%sbig%03d.bin", dir, i), s.BigKiB)
	}
	if s.RestKiB > 0 {
		write(dir+"rest.bin", s.RestKiB)
	}
	for i := 0; i < s.SmallFiles; i++ {
		write(fmt.Sprintf("%ssmall%04d.txt", dir, i), s.SmallKiB)
	}
	must(tw.Close())
	return buf.Bytes()
}

func seedBytes(a, b, c uint64) [32]byte {
	var s [32]byte
	for i, v := range []uint64{a, b, c, 0x5ea1} {
		for j := 0; j < 8; j++ {
			s[i*8+j] = byte(v >> (8 * j))
		}
	}
	return s
}

func gz(b []byte, level int) []byte {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, level)
	must(err)
	// no name, no mtime: deterministic header
	_, err = zw.Write(b)
	must(err)
	must(zw.Close())
	return out.Bytes()
}

type genImage struct {
	Name      string
	Img       v1.Image
	Layers    int
	TarBytes  int64 // uncompressed layer tars, summed
	GzipBytes int64 // compressed blobs, summed
	FirstTar  []byte
}

// makeImage builds an image of n layers of spec s (gzip at level), docker
// schema2 media types, linux/amd64, fixed timestamps.
func makeImage(seed uint64, name string, n int, s layerSpec, level int, keepTar bool) genImage {
	g := genImage{Name: name, Layers: n}
	img := empty.Image
	var adds []mutate.Addendum
	for i := 0; i < n; i++ {
		raw := layerTar(seed, name, i, s)
		z := gz(raw, level)
		g.TarBytes += int64(len(raw))
		g.GzipBytes += int64(len(z))
		if keepTar && i == 0 {
			g.FirstTar = raw
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(z)), nil
		}, tarball.WithMediaType(types.DockerLayer))
		must(err)
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{
			Created: v1.Time{Time: epoch}, CreatedBy: fmt.Sprintf("bench-image-transfer layer %d", i)}})
	}
	img, err := mutate.Append(img, adds...)
	must(err)
	cf, err := img.ConfigFile()
	must(err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	img, err = mutate.ConfigFile(img, cf)
	must(err)
	img = mutate.MediaType(img, types.DockerManifestSchema2)
	img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	g.Img = img
	return g
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
