// Package transfer moves images in and out of Shoal as files: `docker
// save`/`docker load` archives, OCI image layouts in a tar (what `skopeo
// copy oci-archive:` reads and writes), and `docker import` of a root file
// system tarball.
//
// It works on the content store and plain values only: Save reads blobs,
// Load and Import write them, and each returns descriptors. Giving the
// images names (metadata records) and unpacking them into snapshots is the
// caller's job (internal/image).
//
// # Formats
//
// Save writes one of two layouts; Load reads both, and the older `docker
// save` layout too (layer.tar directories, <id>.json configs, symlinked
// duplicate layers):
//
//	DockerArchive (docker save, Docker 25+)    OCIArchive (OCI image layout)
//	oci-layout                                  oci-layout
//	blobs/sha256/<hex>   layers as stored,      blobs/sha256/<hex>
//	                     configs, manifests
//	index.json           one entry per name     index.json
//	manifest.json        [{Config, RepoTags, Layers}], paths into blobs/
//	repositories         {familiar name: {tag: top diff id hex}}
//
// index.json entries carry io.containerd.image.name (the full name) and
// org.opencontainers.image.ref.name (the tag), as Docker and containerd
// write them. Layers are saved as they are stored, usually gzip: classic
// `docker load` and skopeo decompress layer files in manifest.json, and
// the OCI part needs the original blobs for the manifest digests to hold.
//
// Load prefers index.json when it lists manifests, else manifest.json. For
// a manifest.json-only archive it builds a Docker schema 2 manifest (OCI if
// a layer is zstd) from the config and the layer files, sniffing each
// layer's compression; the config digest (the image ID) is kept, the
// manifest digest is new, as with `docker load`.
//
// # Invariants
//
//   - Nothing is ever written outside the content store: archive entries
//     only ever become ingests, through content.Writer.
//   - Load commits nothing until the whole archive is read and every image
//     in it checked; then it commits only the blobs the images reach,
//     children before parents. A failed Load leaves no new blob behind
//     (short of a failure during that final commit) and aborts its
//     ingests when the store implements Abort.
//   - A file named blobs/sha256/<hex> must hash to <hex>, and a blob must
//     have the size its descriptor says (ErrFailedPrecondition).
//   - Archive paths are checked, not trusted: absolute names, "..", links
//     that leave the archive, devices, fifos and duplicate names are
//     ErrInvalidArgument. Links are resolved inside the archive only.
//   - Save verifies every blob it copies against its digest.
//
// # Caveats
//
//   - Load does not decompress layers: a compressed layer's diff id is
//     checked when it is unpacked (internal/image/unpack), not here. An
//     uncompressed layer of a manifest.json archive is checked at once.
//   - From a multi-platform index Load takes the manifest for linux and
//     Shoal's architecture, or the only one whose blob the archive holds.
//   - Small JSON-looking files (up to 16 MiB each, 256 MiB in all) are held
//     in memory while the archive is read; everything else goes to disk.
//   - Blobs in the archive under another digest algorithm than sha256 are
//     not supported.
//
// # Glossary
//
// archive: the tar stream. entry: one file in it. blob: content-addressed
// bytes (layer, config, manifest, index). diff id: the sha256 of a layer's
// uncompressed tar, listed in the config. image ID: the config digest.
// familiar name: a name as docker shows it ("busybox:latest").
package transfer
