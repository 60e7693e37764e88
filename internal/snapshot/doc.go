// Package snapshot defines the Snapshotter: the store of layered directory
// trees that image layers are unpacked into and containers run on.
//
// Implementations live in sub-packages: overlay (overlayfs, the default:
// each layer is stored once and stacked by the kernel) and native (a full
// copy per snapshot, for filesystems where overlayfs does not work). Both
// keep their metadata with package storage and pass the conformance suite
// in package testsuite. A Snapshotter returns mounts (internal/mount) and
// never mounts anything itself.
//
// # Glossary
//
//   - key: the caller's handle for an active snapshot or a view, chosen at
//     Prepare or View (a container ID, "extract-<random>").
//   - name: the caller's handle for a committed snapshot, chosen at Commit.
//     Keys and names are one namespace; both are opaque strings validated by
//     ValidateKey and never used as paths.
//   - active: a writable snapshot (Prepare). It is mounted read-write,
//     written to, and either committed or removed.
//   - view: a read-only snapshot of a committed parent (View). It cannot be
//     committed.
//   - committed: an immutable snapshot (Commit). Only committed snapshots
//     can be parents; a committed snapshot is not mounted directly, only
//     through an active snapshot or view on top of it.
//   - parent chain: a snapshot's parent, that one's parent, and so on. The
//     files visible through a snapshot's mounts are its own changes over
//     its parent chain's.
//   - chain id: the image spec's identifier of a stack of layers
//     (ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))). The
//     image code commits each unpacked layer under its chain id, so a layer
//     shared by many images is unpacked once and found by name.
//   - id: the number the metadata store allocates for a snapshot; its
//     directory is named by it. Callers never see ids.
//
// # Invariants
//
//   - A snapshot's parent is committed, exists as long as the snapshot does
//     (Remove refuses a snapshot with children), and never changes.
//   - A committed snapshot's files never change.
//   - Metadata never points at a missing directory: a directory is made
//     complete before the transaction that records it, and a snapshot is
//     removed from the metadata before its directory is deleted. Directories
//     without metadata (left by a crash) are deleted when a Snapshotter is
//     opened.
//
// # On disk
//
// Every implementation in this tree uses the same layout:
//
//	<root>/
//	├── metadata.db           bbolt, schema in package storage
//	└── snapshots/
//	    ├── 1/                one directory per snapshot, named by id
//	    │   ├── fs/           the snapshot's own files (overlay: upperdir)
//	    │   └── work/         overlay only: overlayfs workdir
//	    ├── new-<random>/     being created (no metadata yet)
//	    └── removing-<id>/    being deleted (metadata gone)
package snapshot
