// Package volume implements Docker's named volumes with the "local"
// driver: `docker volume create|ls|inspect|rm|prune`, `-v NAME:/path`,
// and the anonymous volumes made for `-v /path` and an image's VOLUME.
//
// # Glossary
//
//   - name: the volume's identity, "[a-zA-Z0-9][a-zA-Z0-9_.-]+" (Docker's
//     rule, see ValidateName). An anonymous volume gets a random 64-hex
//     name and the label com.docker.volume.anonymous="" (AnonymousLabel).
//   - data directory: <root>/<name>/_data, the Mountpoint the API shows
//     and the directory bind-mounted into containers.
//   - option volume: a volume created with the local driver's options
//     type/device/o. Its device is mount(2)ed on the data directory when
//     the first reference mounts it and unmounted when the last goes.
//   - ref: an opaque holder of a volume, a container ID. A volume with
//     refs is "in use": Remove and Prune refuse it. Refs live in memory
//     only; the engine registers them again (Mount) for its containers
//     when it starts.
//
// # On disk
//
//	<root>/                         0701, as Docker's volumes directory
//	├── metadata.db                 bbolt, see below
//	├── <name>/                     0701 root:root
//	│   └── _data/                  0755 root:root, the volume's contents
//	├── _creating-<name>-<rand>/    a Create in progress (or crashed)
//	└── _removing-<name>-<rand>/    a Remove in progress (or crashed)
//
//	metadata.db
//	└── v1/                         schema major version 1
//	    ├── version: uint64 BE      schema minor version (1)
//	    └── volumes/
//	        └── <name>: JSON        {"driver","created_at","labels","options"}
//
// Temporary directories start with "_", which no volume name can, so they
// never collide with a volume.
//
// # Invariants
//
//   - A volume is listed only if its record exists and its directory is in
//     place. Create builds <name>/_data under a temporary name, writes the
//     record, then renames the directory into place; Remove renames the
//     directory away, deletes the record, then deletes the directory. Open
//     repairs whatever a crash in between left: it deletes temporary
//     directories, drops records whose directory is missing, and adopts a
//     valid <name>/_data directory that has no record (a lost database
//     must not lose data) as a plain local volume.
//   - Data is deleted only by Remove and Prune, never through a symlink
//     (os.RemoveAll semantics) and never through a mount: mounts below a
//     directory are detached first, and removal stops if that fails.
//   - Every method is safe for concurrent use. One store-wide lock orders
//     Create and the record/rename steps of Remove; a per-volume lock
//     orders refs, mounting and CopyUp of that volume. Slow work (deleting
//     data, copying, measuring) does not hold the store-wide lock.
//
// # Caveats
//
//   - Creating a volume that exists returns the existing one unchanged,
//     even if the options or labels differ (Docker does the same).
//   - Refs are a set: mounting twice with the same ref is one ref, and one
//     Unmount releases it.
//   - Close leaves option volumes mounted (a restarting engine finds them
//     mounted and keeps using them, as Docker's live restore does).
//   - Only the local driver exists; any other driver name is "not found",
//     as an absent plugin is in Docker. Option volumes are limited to
//     tmpfs, bind mounts and filesystems on a local block device: network
//     filesystems (nfs, cifs, ...) are refused.
//   - There are no size quotas: the option size=N is refused for N > 0,
//     as Docker does without quota support.
package volume
