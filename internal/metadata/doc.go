// Package metadata is the engine's bbolt database: the records that are
// not blobs or snapshot directories. For now it holds images and their
// names; containers, volumes and leases get their own buckets later.
//
// # Images, IDs and names
//
// As in Docker, an image is identified by its ID, the digest of its config
// blob. An image record keeps the descriptor of the manifest or index it
// was created from (its target), its creation time and labels. A name
// ("docker.io/library/busybox:latest", or a digest reference
// "docker.io/library/busybox@sha256:...") points at one image ID together
// with the target it was tagged from. An image has any number of names; an
// image with none is dangling ("<none>:<none>" in docker images).
//
// Names are always stored fully qualified, as ref.Parse(name).String()
// prints them; callers may pass any form ref.Parse accepts.
//
// # Lookup order
//
// ImageStore.Get resolves a string as Docker's daemon does:
//
//  1. "sha256:<64 hex>" or bare "<64 hex>": that image ID;
//  2. a name: the image it points at;
//  3. a hex prefix of an ID (optionally "sha256:"-prefixed, at least one
//     digit): the one image whose ID starts with it. Two or more matches
//     is an ErrConflict ("... is ambiguous ..."); none is an
//     ImageNotFoundError ("No such image: busybox:latest") of class
//     ErrNotFound.
//
// A string that is neither an ID, a valid name nor a hex prefix fails with
// ref.Parse's ErrInvalidArgument, as Docker answers "invalid reference
// format".
//
// # Invariants
//
//   - Every name points at an existing image record. Create with a name,
//     Tag, Untag and Delete change names and images in one transaction, so
//     no crash leaves a dangling name.
//   - Image keys are canonical "sha256:<64 hex>" digests; name keys are
//     canonical reference strings. DB.Check verifies both, and every
//     record, and tests run it on cleanup.
//   - Every value read is validated before use. A record that fails is
//     reported as an error wrapping ErrCorrupt, never a panic.
//   - The schema's major version is the top-level bucket's name ("v1");
//     its minor version is v1/version. Open refuses a database written by
//     a newer schema (ErrFailedPrecondition) and migrates older minors.
//
// # On disk
//
//	state.db
//	└── v1/                          schema major version 1
//	    ├── version: uint64 BE       schema minor version (1)
//	    ├── images/
//	    │   └── <id>/                "sha256:<64 hex>", the config digest
//	    │       ├── target: JSON     ocispec.Descriptor of the manifest or index
//	    │       ├── createdat: bin   time.Time.MarshalBinary
//	    │       └── labels/          optional
//	    │           └── <key>: <value>
//	    └── names/
//	        └── <name>/              fully qualified reference
//	            ├── image: <id>      must exist in images/
//	            └── target: JSON     descriptor the name was tagged from
//
// Still to come, as siblings of images/ and names/: containers/,
// volumes/, leases/. There is no reverse index from image to names:
// Names and Delete scan names/, which stays small (one entry per tag).
//
// # Garbage collection roots
//
// Content is live if it is reachable from a root. Today the roots are the
// targets of images and names (ImageStore.Roots, LiveDigests); from each,
// the collector will walk index → manifests → config and layers in the
// content store (internal/content), and delete every blob it did not
// reach. Leases (content held by a pull or build in progress) and
// container snapshots will join the roots when those buckets exist; until
// then a GC must not run concurrently with a pull.
//
// # Caveats
//
//   - There are no namespaces: one engine, one set of images, as in Docker.
//   - A name's target is the target of the image when tagged; the API to
//     tag one config under a different manifest (same image pulled from a
//     different index) does not exist yet.
//   - bbolt allows one process at a time: Open waits up to a second for
//     another holder and then fails with ErrUnavailable.
package metadata
