// Package pull downloads images from a registry into the content store,
// and Push uploads them back. The registry protocol is go-containerregistry's
// remote package; every blob goes into the store through content.Fetch.
//
// # How an image is pulled
//
//  1. The reference (tag or digest, Docker's defaults: docker.io,
//     library/, :latest) is resolved to a descriptor. An index or Docker
//     manifest list is stored, and the manifest for the wanted platform
//     (the host's, or WithPlatform's) is picked from it.
//  2. The manifest and then the config are stored. A blob fetched by digest
//     is verified against it; a manifest fetched by tag is named by the
//     digest of its bytes.
//  3. The layers are downloaded in parallel (WithConcurrency, 3 by
//     default), each through content.Fetch: a blob already in the store is
//     "Already exists", concurrent pulls of one blob share one download, and
//     a download interrupted earlier resumes at the ingest's offset with an
//     HTTP Range request.
//
// # Invariants
//
//   - No blob becomes visible in the store unless its bytes hash to its
//     digest (the store checks at commit). A blob whose bytes did not
//     match fails the pull and its ingest is discarded, so a retry starts
//     clean; an ingest cut off by cancellation or a network error is kept
//     to be resumed.
//   - Plain HTTP is used only for loopback registries (localhost,
//     127.0.0.0/8, ::1), as Docker does, and for the registries named in
//     WithInsecureRegistries, which also skip TLS verification. Every other
//     request, blob redirects included, is HTTPS: the transport refuses
//     anything else, whatever go-containerregistry would choose (it would
//     use HTTP for private address ranges).
//   - Progress callbacks are serialised: fn is never called concurrently.
//
// # Caveats
//
//   - Non-distributable (foreign) layers are refused with
//     errdefs.ErrNotImplemented; schema 1 manifests are not supported.
//   - WithPlatform picks from an index only; a single-platform manifest is
//     taken as it is, whatever its config says.
//   - Concurrent pulls of one blob share progress only in the pull that
//     downloads it; the others report "Downloading" no bytes and then
//     "Download complete".
//   - Push uploads a single-platform image or an index whose every child
//     manifest, config and layer is in the store.
//
// # Glossary
//
// reference: "registry/repository:tag" or "...@sha256:<hex>". descriptor:
// media type, digest and size of a blob. index: an OCI image index or
// Docker manifest list, one manifest per platform. platform: "os/arch" or
// "os/arch/variant" ("linux/arm/v7").
package pull
