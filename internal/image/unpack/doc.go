// Package unpack turns an image's layers, already in the content store,
// into committed snapshots: one per layer, named by the layer's chain id.
//
// # How a layer is unpacked
//
// For layer n of a manifest, Unpack computes its chain id from the image
// config's rootfs.diff_ids (ChainIDs). If a committed snapshot of that name
// exists the layer is skipped: each layer is unpacked once, keyed by its
// chain id, and shared by every image that has it. Otherwise Unpack
//
//  1. prepares an active snapshot "extract-<random> <chain id>" on the
//     previous layer's chain id (none for the first layer),
//  2. finds the directory to write from the returned mounts, without
//     mounting anything: a bind mount's Source (native snapshotter, or
//     overlay's first layer), or an overlay mount's upperdir= option,
//  3. decompresses the blob (by media type; gzip and zstd are sniffed) and
//     applies the tar with internal/archive, hashing the uncompressed
//     stream as it goes: overlay whiteouts (0:0 devices, opaque xattr) into
//     an upper directory, removals into a bind/native directory, which
//     already holds the parent's files,
//  4. compares that hash with the layer's diff id and, if it matches,
//     commits the snapshot under the chain id.
//
// # Invariants
//
//   - A snapshot is committed under a chain id only after the whole
//     uncompressed layer hashed to its diff id. Any failure removes the
//     active snapshot; nothing half-applied is ever committed.
//   - Concurrent unpacks of images that share layers do not fail: both may
//     apply the same layer under different keys, the first Commit wins and
//     the other sees ErrAlreadyExists, removes its copy and goes on.
//
// # Caveats
//
//   - The layer blobs are trusted to match their digests, as the content
//     store verifies every blob before it becomes visible; only the diff
//     ids, which come from the config, are checked here.
//   - Non-distributable ("foreign") layers are refused with
//     errdefs.ErrNotImplemented: their bytes are not in the store.
//   - Applying into an overlay upper directory without mounting means a
//     hardlink to a file of a lower layer fails (see internal/archive).
//   - A layer applied by two concurrent unpacks is written twice; only
//     one copy is kept.
//
// # Glossary
//
// diff id: the sha256 of a layer's uncompressed tar, as listed in the image
// config. chain id: the identifier of a stack of layers, ChainID(L0) =
// DiffID(L0), ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " +
// DiffID(Ln)); it names the committed snapshot of that stack. key: the
// temporary name of the active snapshot a layer is applied into.
package unpack
