package ref

import (
	_ "crypto/sha256" // digest.Digest.Validate needs the hash registered
	_ "crypto/sha512"
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

const (
	// DefaultRegistry is the registry of names without one (Docker Hub).
	DefaultRegistry = "docker.io"
	// DefaultTag is the tag of names with neither tag nor digest.
	DefaultTag = "latest"

	legacyDefaultRegistry = "index.docker.io"
	officialPrefix        = "library/"
	localhost             = "localhost"

	// maxNameLength bounds registry + "/" + repository, as in Docker.
	maxNameLength = 255
)

// Docker's reference grammar (distribution/reference regexp.go).
const (
	alphanumeric        = `[a-z0-9]+`
	separator           = `(?:[._]|__|[-]+)`
	domainNameComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	optionalPort        = `(?::[0-9]+)?`
	tagPat              = `[\w][\w.-]{0,127}`
	digestPat           = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`
	ipv6address         = `\[(?:[a-fA-F0-9:]+)\]`
	domainName          = domainNameComponent + `(?:\.` + domainNameComponent + `)*`
	host                = `(?:` + domainName + `|` + ipv6address + `)`
	domainAndPort       = host + optionalPort
	pathComponent       = alphanumeric + `(?:` + separator + alphanumeric + `)*`
	remoteName          = pathComponent + `(?:/` + pathComponent + `)*`
	namePat             = `(?:` + domainAndPort + `/)?` + remoteName
)

var (
	referenceRegexp  = regexp.MustCompile(`^(` + namePat + `)(?::(` + tagPat + `))?(?:@(` + digestPat + `))?$`)
	nameRegexp       = regexp.MustCompile(`^(?:(` + domainAndPort + `)/)?(` + remoteName + `)$`)
	identifierRegexp = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// formatError is a parse failure: Docker's message, class InvalidArgument.
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }
func (e *formatError) Unwrap() error { return errdefs.ErrInvalidArgument }

func invalid(format string, args ...any) error {
	return &formatError{msg: fmt.Sprintf(format, args...)}
}

// Ref is a parsed, normalised image reference. The zero Ref is not a valid
// reference; use Parse.
type Ref struct {
	registry   string
	repository string
	tag        string
	digest     digest.Digest
}

// Parse parses s as the docker CLI does and normalises it: a missing
// registry becomes docker.io, a single-component Docker Hub repository gets
// "library/", and a name with neither tag nor digest gets the tag "latest".
// Errors are of class errdefs.ErrInvalidArgument.
func Parse(s string) (Ref, error) {
	if identifierRegexp.MatchString(s) {
		return Ref{}, invalid("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	registry, remainder := splitRegistry(s)
	remote := remainder
	if i := strings.IndexByte(remainder, ':'); i >= 0 {
		remote = remainder[:i]
	}
	if strings.ToLower(remote) != remote {
		return Ref{}, invalid("invalid reference format: repository name (%s) must be lowercase", remote)
	}
	full := registry + "/" + remainder
	m := referenceRegexp.FindStringSubmatch(full)
	if m == nil {
		if referenceRegexp.MatchString(strings.ToLower(full)) {
			return Ref{}, invalid("invalid reference format: repository name must be lowercase")
		}
		return Ref{}, invalid("invalid reference format")
	}
	if len(m[1]) > maxNameLength {
		return Ref{}, invalid("repository name must not be more than %d characters", maxNameLength)
	}
	nm := nameRegexp.FindStringSubmatch(m[1])
	if nm == nil || nm[1] == "" {
		// Cannot happen: full always starts with a registry that the
		// reference grammar accepted.
		return Ref{}, invalid("invalid reference format")
	}
	r := Ref{registry: nm[1], repository: nm[2], tag: m[2]}
	if m[3] != "" {
		d, err := digest.Parse(m[3])
		if err != nil {
			return Ref{}, invalid("%s", err.Error())
		}
		r.digest = d
	}
	if r.tag == "" && r.digest == "" {
		r.tag = DefaultTag
	}
	return r, nil
}

// splitRegistry splits s into registry and the rest, as Docker's
// splitDockerDomain does: the first component is a registry if it is
// "localhost", contains "." or ":", or has upper case letters.
func splitRegistry(s string) (registry, remainder string) {
	first, rest, ok := strings.Cut(s, "/")
	switch {
	case !ok:
		registry, remainder = DefaultRegistry, s
	case first == localhost:
		registry, remainder = first, rest
	case first == legacyDefaultRegistry:
		registry, remainder = DefaultRegistry, rest
	case strings.ContainsAny(first, ".:"):
		registry, remainder = first, rest
	case strings.ToLower(first) != first:
		registry, remainder = first, rest
	default:
		registry, remainder = DefaultRegistry, s
	}
	if registry == DefaultRegistry && !strings.ContainsRune(remainder, '/') {
		remainder = officialPrefix + remainder
	}
	return registry, remainder
}

// Registry returns the registry host[:port], e.g. "docker.io".
func (r Ref) Registry() string { return r.registry }

// Repository returns the path inside the registry, e.g. "library/busybox".
func (r Ref) Repository() string { return r.repository }

// Name returns registry/repository, e.g. "docker.io/library/busybox".
func (r Ref) Name() string { return r.registry + "/" + r.repository }

// Tag returns the tag, or "" for a digest-only reference.
func (r Ref) Tag() string { return r.tag }

// Digest returns the digest, or "" for a tag-only reference.
func (r Ref) Digest() digest.Digest { return r.digest }

// String returns the fully qualified reference, e.g.
// "docker.io/library/busybox:latest".
func (r Ref) String() string { return r.Name() + r.suffix() }

// Familiar returns the reference as docker shows it: "busybox:latest",
// "user/app:1", "localhost:5000/x:latest".
func (r Ref) Familiar() string {
	name := r.Name()
	if r.registry == DefaultRegistry {
		name = r.repository
		if rest, ok := strings.CutPrefix(name, officialPrefix); ok && !strings.ContainsRune(rest, '/') {
			name = rest
		}
	}
	return name + r.suffix()
}

func (r Ref) suffix() string {
	var s string
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest.String()
	}
	return s
}
