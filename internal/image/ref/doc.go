// Package ref parses and prints Docker-compatible image references.
//
// A reference names an image in a registry the way the docker CLI does:
//
//	busybox                      docker.io/library/busybox:latest
//	user/app:1                   docker.io/user/app:1
//	localhost:5000/x             localhost:5000/x:latest
//	ghcr.io/o/r@sha256:<hex>     ghcr.io/o/r@sha256:<hex>
//	x:tag@sha256:<hex>           docker.io/library/x:tag@sha256:<hex>
//
// Parse implements the grammar and normalisation of Docker's
// distribution/reference package (ParseNormalizedNamed followed by
// TagNameOnly), and its error messages, so that what users type and read
// matches Docker byte for byte. go-containerregistry's name package is not
// used: it canonicalises Docker Hub as "index.docker.io" and words its
// errors differently.
//
// # Glossary
//
//   - registry: the host[:port] part ("docker.io", "localhost:5000").
//     Docker calls it the domain.
//   - repository: the path inside the registry ("library/busybox"). Docker
//     calls it the path; together with the registry it is the name.
//   - tag: a mutable label ("latest"); digest: the immutable
//     "sha256:<hex>" of a manifest or index.
//   - fully qualified: registry, repository and tag and/or digest spelled
//     out (String). familiar: what docker shows, with "docker.io/" and
//     "library/" dropped (Familiar).
//
// # Invariants
//
//   - A Ref returned by Parse has a registry, a repository, and a tag, a
//     digest or both; a name without either gets the tag "latest".
//   - Parse(r.String()) returns r again, and Parse(r.Familiar()) too.
//   - Every error from Parse is of class errdefs.ErrInvalidArgument and its
//     message is Docker's ("invalid reference format", ...).
//   - 64 lower-case hex digits are never a name: they are an image ID, and
//     Parse refuses them as Docker does.
//
// # Caveats
//
//   - The registry keeps its case ("Example.com/x" stays as typed), as in
//     Docker; repository names must be lower case.
//   - A digest must use an algorithm go-digest supports (sha256, sha384,
//     sha512) with the right length.
package ref
