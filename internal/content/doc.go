// Package content is Shoal's content-addressed blob store: image layers,
// configs, manifests and indexes, each stored once under its sha256 digest.
//
// # Roles
//
// The store is split by role, so each consumer asks for only what it uses:
// Provider reads committed blobs, Ingester writes new ones, Manager
// inspects, lists and deletes committed blobs, IngestManager inspects and
// aborts writes in progress. Store is all four; LocalStore implements it in
// a directory. Fetch and VerifyReader are helpers over those roles.
//
// # Invariants
//
//   - A blob is visible (ReaderAt, Info, Walk) only after Commit has checked
//     its bytes against the expected size and digest, fsynced them and
//     renamed them into place. A crash at any point never leaves a visible
//     blob whose bytes do not hash to its name.
//   - Committed blob files are read-only (0444) and never written again;
//     the only change is Delete.
//   - Only sha256 is accepted. Every digest is validated (algorithm, 64
//     lower-case hex digits) before it names a file, and a ref never names
//     a file at all (its directory is the sha256 of the ref), so neither can
//     reach outside the root.
//   - At most one Writer per ref exists at a time, across processes sharing
//     a root: an in-process lock plus a flock on the ingest directory, which
//     the kernel drops when its holder dies. A second Writer gets
//     ErrUnavailable.
//   - An ingest outlives its Writer and its process. A Writer opened later
//     with the same ref continues at the ingest's offset (Status reports
//     it); the hash state is rebuilt by reading the data back, so nothing
//     but the bytes on disk needs to survive a crash.
//
// # On disk
//
//	<root>/                      (the data root's content/ directory)
//	├── blobs/
//	│   └── sha256/
//	│       └── <64 hex>          committed blob, 0444; name = sha256 of bytes
//	└── ingest/                   0700
//	    └── <sha256 hex of ref>/  one write in progress; flocked while open
//	        ├── data              the bytes written so far (offset = size)
//	        ├── ref               the ref itself; written last, so an ingest
//	        │                     without it is still being created
//	        ├── startedat         RFC 3339 time of the first Writer
//	        ├── total             expected size, decimal, 0 = unknown
//	        └── expected          expected digest, empty = unknown
//
// Commit renames ingest/<key>/data to blobs/sha256/<hex>, fsyncs
// blobs/sha256, then removes ingest/<key>/. Both trees are on one file
// system, so the rename is atomic.
//
// # Caveats
//
//   - Labels are not kept: Info.Labels is always empty, Update and
//     WithLabels with labels return ErrNotImplemented. Labels and garbage
//     collection roots belong in the bbolt metadata store
//     (internal/metadata), which will wrap this store, as containerd's
//     metadata package wraps its content store.
//   - Writes before Commit are not fsynced. After SIGKILL the ingest is
//     intact (the page cache survives the process); after a power cut its
//     tail may be missing or garbage. Either way Commit verifies every byte,
//     and Fetch starts over once when resumed bytes fail verification.
//   - Leftover ingests (a pull abandoned for good) stay until aborted;
//     garbage collection of stale ingests comes with the metadata store.
//   - Without flock (non-unix builds) two processes must not share a root.
//
// # Glossary
//
// blob: committed, immutable content, named by its digest. digest: the
// "sha256:<hex>" of a blob's bytes. ingest: a write in progress, named by
// its ref. ref: a caller-chosen name for an ingest, stable across retries
// so that a write can be resumed ("fetch-<digest>" for Fetch). commit: the
// verified move of an ingest into the blobs. descriptor: an OCI descriptor
// (media type, digest, size) saying what a blob should be.
package content
