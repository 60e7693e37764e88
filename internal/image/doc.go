// Package image is Shoal's image service: it ties the content store
// (blobs), the snapshotter (unpacked layers), the metadata database
// (names and image records) and the registry client together into what
// the engine and the CLI call: pull, list, inspect, tag, remove, and the
// root filesystem of a container.
//
// # Glossary
//
// image ID: the digest of the image's config blob, as Docker's. target: the
// manifest (already chosen for the platform) an image record points at.
// chain ID: the name of the committed snapshot holding an image's layers
// up to a given one (see internal/image/unpack).
//
// # Invariants
//
//   - An image record exists only once everything it needs is in place:
//     every blob in the content store and its top chain ID committed.
//   - Remove deletes, after the record, every blob and committed layer
//     snapshot no remaining image reaches (manifest → config, layers;
//     config → chain IDs). Active snapshots (a container's writable layer)
//     are never collected.
//
// # One owner
//
// Collection runs inside Remove; within one process a mutex orders it
// with pulls and loads. A data root has one owning process at a time:
// the metadata database is opened with an exclusive lock, and a second
// process (the offline CLI while a daemon runs, a second daemon) is
// refused as unavailable (metadata.Open), so a collection never races a
// pull in another process.
package image
