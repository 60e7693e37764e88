package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is the compression of a layer stream, as sniffed from its
// first bytes.
type Compression int

// The compressions Decompress recognises.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

// String returns the compression's name as used in media types.
func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	default:
		return fmt.Sprintf("compression(%d)", int(c))
	}
}

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// DetectCompression reports the compression whose magic bytes source starts
// with; anything unrecognised is Uncompressed.
func DetectCompression(source []byte) Compression {
	switch {
	case bytes.HasPrefix(source, gzipMagic):
		return Gzip
	case bytes.HasPrefix(source, zstdMagic):
		return Zstd
	default:
		return Uncompressed
	}
}

// Decompress sniffs r's first bytes and returns a reader of the
// decompressed stream together with the compression it found. A stream that
// is neither gzip nor zstd is returned as it is (Uncompressed), so a tar
// layer of any of the three kinds can be handed to Apply through it. The
// caller must Close the returned reader; closing it does not close r.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(len(zstdMagic))
	if err != nil && err != io.EOF {
		return nil, Uncompressed, fmt.Errorf("read layer header: %w", err)
	}
	switch c := DetectCompression(head); c {
	case Gzip:
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("open gzip stream: %w", err)
		}
		return gz, c, nil
	case Zstd:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("open zstd stream: %w", err)
		}
		return zstdReadCloser{zr}, c, nil
	default:
		return io.NopCloser(br), c, nil
	}
}

// zstdReadCloser adapts a zstd.Decoder, whose Close returns nothing.
type zstdReadCloser struct{ d *zstd.Decoder }

func (z zstdReadCloser) Read(p []byte) (int, error) { return z.d.Read(p) }

func (z zstdReadCloser) Close() error {
	z.d.Close()
	return nil
}
