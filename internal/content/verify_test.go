package content

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestVerifyReader(t *testing.T) {
	t.Parallel()
	data, desc := randomBlob(30, 10000)
	flipped := bytes.Clone(data)
	flipped[0] ^= 1
	empty := ocispec.Descriptor{Digest: digest.FromBytes(nil), Size: 0}
	tests := []struct {
		name    string
		r       io.Reader
		desc    ocispec.Descriptor
		wantErr error // nil: read to a clean io.EOF
		wantN   int   // bytes handed on
	}{
		{"exact", bytes.NewReader(data), desc, nil, 10000},
		{"exact, one byte at a time", iotest.OneByteReader(bytes.NewReader(data)), desc, nil, 10000},
		{"exact, data with EOF", iotest.DataErrReader(bytes.NewReader(data)), desc, nil, 10000},
		{"empty", bytes.NewReader(nil), empty, nil, 0},
		{"short", bytes.NewReader(data[:9999]), desc, errdefs.ErrFailedPrecondition, 9999},
		{"long", bytes.NewReader(append(bytes.Clone(data), 'x')), desc, errdefs.ErrFailedPrecondition, 10000},
		{"long, empty expected", bytes.NewReader([]byte("x")), empty, errdefs.ErrFailedPrecondition, 0},
		{"wrong content", bytes.NewReader(flipped), desc, errdefs.ErrFailedPrecondition, 10000},
		{"reader error", iotest.TimeoutReader(bytes.NewReader(data)), desc, iotest.ErrTimeout, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := VerifyReader(tt.r, tt.desc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ReadAll = %v, want nil", err)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadAll = %v, want %v", err, tt.wantErr)
			}
			if tt.wantN >= 0 && len(got) != tt.wantN {
				t.Errorf("read %d bytes, want %d", len(got), tt.wantN)
			}
			// The verdict sticks.
			if _, err2 := r.Read(make([]byte, 1)); tt.wantErr != nil && tt.wantErr != iotest.ErrTimeout && !errors.Is(err2, tt.wantErr) {
				t.Errorf("Read after the verdict = %v, want %v", err2, tt.wantErr)
			}
		})
	}
	if _, err := VerifyReader(bytes.NewReader(nil), ocispec.Descriptor{Digest: desc.Digest, Size: -1}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("VerifyReader with size -1 = %v, want invalid argument", err)
	}
}
