// Package storage keeps the metadata and directories that every
// Snapshotter implementation in this tree shares: which snapshots exist,
// their kinds, parents, labels and ids, and the directory each id owns.
//
// Implementations decide what goes inside a snapshot directory and which
// mounts expose it; Store decides when a directory exists. Store is the
// only code that creates, renames or deletes snapshot directories.
//
// # Bucket schema (bbolt, <root>/metadata.db)
//
//	v1                              schema version 1
//	├── snapshots                   sequence: last allocated id
//	│   └── <key or name>           one bucket per snapshot
//	│       ├── id       → decimal uint64; the directory snapshots/<id>
//	│       ├── kind     → one byte, snapshot.Kind
//	│       ├── parent   → parent's name (absent: no parent)
//	│       ├── created  → time.Time.MarshalBinary
//	│       ├── updated  → time.Time.MarshalBinary
//	│       ├── inodes   → uvarint (committed only: usage at commit)
//	│       ├── size     → uvarint (committed only)
//	│       └── labels
//	│           └── <label key> → label value
//	└── children                    the parent→children index
//	    └── <parent name>           exists while the parent has children
//	        └── <child key or name> → empty
//
// # Invariants
//
//   - Every snapshot bucket's id names a directory snapshots/<id> that is
//     complete: Create fills a "new-*" directory, renames it to its id
//     inside the write transaction and commits; if the commit fails or the
//     process dies first, the directory has no metadata and is deleted.
//   - Remove deletes the metadata first and commits; only then is the
//     directory renamed to "removing-<id>" and deleted.
//   - Open deletes every entry of snapshots/ that is not the directory of
//     a recorded id: crash leftovers ("new-*", "removing-*", ids whose
//     transaction never committed). Open therefore must not run while
//     another Store uses the same root; bbolt's file lock enforces that.
//   - children/<p> lists exactly the snapshots whose parent is p; a
//     snapshot with an entry there cannot be removed.
//   - ids are never reused once a transaction recording them commits.
//
// # Caveats
//
// A directory whose removal fails after the metadata is gone (for example
// because something is still mounted on it) stays until the next Open.
package storage
