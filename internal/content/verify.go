package content

import (
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// VerifyReader wraps r so that reading it checks desc: reading more than
// desc.Size bytes fails at once, and at the end of r a short read or a
// digest other than desc.Digest is an error (ErrFailedPrecondition) in
// place of io.EOF. desc.Size is the exact size, 0 included.
//
// The bytes are handed on as they are read, before they are verified: a
// consumer (a streaming unpack, say) must treat an error at the end as
// "everything read was wrong" and undo its work.
func VerifyReader(r io.Reader, desc ocispec.Descriptor) (io.Reader, error) {
	if err := validateDigest(desc.Digest); err != nil {
		return nil, fmt.Errorf("verify reader: %w", err)
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("verify reader: negative size %d: %w", desc.Size, errdefs.ErrInvalidArgument)
	}
	return &verifyReader{r: r, desc: desc, digester: digest.SHA256.Digester()}, nil
}

type verifyReader struct {
	r        io.Reader
	desc     ocispec.Descriptor
	digester digest.Digester
	n        int64
	err      error // sticky: the verdict once reached
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	if left := v.desc.Size - v.n; int64(n) > left {
		v.digester.Hash().Write(p[:left])
		v.n += left
		v.err = fmt.Errorf("blob %s: more than %d bytes: %w", v.desc.Digest, v.desc.Size, errdefs.ErrFailedPrecondition)
		return int(left), v.err
	}
	v.digester.Hash().Write(p[:n])
	v.n += int64(n)
	if errors.Is(err, io.EOF) {
		v.err = v.verdict()
		return n, v.err
	}
	return n, err
}

// verdict is io.EOF if what was read matches desc.
func (v *verifyReader) verdict() error {
	if v.n != v.desc.Size {
		return fmt.Errorf("blob %s: %d bytes, want %d: %w", v.desc.Digest, v.n, v.desc.Size, errdefs.ErrFailedPrecondition)
	}
	if got := v.digester.Digest(); got != v.desc.Digest {
		return fmt.Errorf("blob %s: data is %s: %w", v.desc.Digest, got, errdefs.ErrFailedPrecondition)
	}
	return io.EOF
}
