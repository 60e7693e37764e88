package content

import (
	"crypto/sha256" // also registers sha256 for go-digest
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// maxRefLen bounds a ref; refs are names such as "fetch-sha256:<hex>",
// not payloads.
const maxRefLen = 1024

// validateDigest accepts only well-formed sha256 digests: "sha256:" and 64
// lower-case hex digits. A digest that passes is safe to use as a file name.
func validateDigest(d digest.Digest) error {
	if d == "" {
		return fmt.Errorf("empty digest: %w", errdefs.ErrInvalidArgument)
	}
	// Not d.Algorithm(): go-digest panics on a digest without ':'.
	algo, encoded, ok := strings.Cut(string(d), ":")
	if !ok {
		return fmt.Errorf("digest %.80q: no algorithm: %w", d, errdefs.ErrInvalidArgument)
	}
	if digest.Algorithm(algo) != digest.SHA256 {
		return fmt.Errorf("digest %.80q: only sha256 is supported: %w", d, errdefs.ErrInvalidArgument)
	}
	if !isHex64(encoded) {
		return fmt.Errorf("digest %.80q: want 64 lower-case hex digits: %w", d, errdefs.ErrInvalidArgument)
	}
	if err := d.Validate(); err != nil { // agrees today; kept in case go-digest grows stricter
		return fmt.Errorf("digest %.80q: %w: %w", d, errdefs.ErrInvalidArgument, err)
	}
	return nil
}

// validateRef accepts any non-empty ref up to maxRefLen bytes. A ref never
// becomes a path: its ingest directory is named by the ref's sha256.
func validateRef(ref string) error {
	if ref == "" {
		return fmt.Errorf("empty ref: %w", errdefs.ErrInvalidArgument)
	}
	if len(ref) > maxRefLen {
		return fmt.Errorf("ref of %d bytes, longer than %d: %w", len(ref), maxRefLen, errdefs.ErrInvalidArgument)
	}
	return nil
}

// refKey names the ingest directory of ref.
func refKey(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return hex.EncodeToString(sum[:])
}

// isHex64 reports whether s is 64 lower-case hex digits: the file names in
// blobs/sha256 and ingest.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
