// Package containerfs implements the file system operations behind docker
// cp (Stat, Tar, Extract), docker diff (Changes), docker commit
// (WriteLayer) and docker export (Export) for a container whose root file
// system is an overlayfs mount of read-only lower directories and one
// writable upper directory.
//
// # Glossary
//
//   - root: the container's root file system as the host sees it, the
//     merged overlay directory. The caller trusts the path; the container
//     controls everything below it.
//   - upper, lowers: the overlay's writable directory and its read-only
//     layer directories, highest first as in lowerdir=. Lowers come from
//     images and are as hostile as the container.
//   - path: a path inside the container from an API caller ("/etc/hosts",
//     "etc", "/var/log/.").
//
// # Resolving paths inside the container
//
// A container controls its own files and symlinks, so a path is never
// joined to root and handed to the host's path resolution. Every path from
// a caller is cleaned lexically as if root were "/" ("../../x" is "/x"),
// then resolved with openat2 and RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS
// relative to a descriptor of root (filepath-securejoin's pathrs-lite
// emulates it where openat2 is missing): symlinks, absolute or climbing,
// resolve as if root were "/", and /proc magic links are refused. What a
// path names is then opened relative to its resolved parent, with
// O_NOFOLLOW, or stat'ed with AT_SYMLINK_NOFOLLOW. Walks (Tar, Export,
// WriteLayer, Changes) descend through directory descriptors with
// O_NOFOLLOW and never follow a symlink. A regular file is opened O_PATH,
// checked to be a regular file and only then reopened for reading, so a
// file the container swaps for a device node or FIFO mid-walk is never
// opened; devices and FIFOs are archived from their stat alone.
//
// # Docker's rules
//
// A path ending in "/" or "/." asserts a directory: its last symlink is
// followed. Otherwise Stat reports a final symlink itself (with LinkTarget
// resolved inside root) and Tar archives it as a symlink. Tar names a
// directory's entries after its base name ("etc/", "etc/passwd"), or "./"
// for a path ending in "/.", and "/", "/bin/" for the root, as Docker's
// TarResource and RebaseArchiveEntries do. Archives carry uid/gid, mode
// (with setuid, setgid, sticky), mtime rounded down to the second, device
// numbers, hardlinks (by inode, the first name written as a file), and
// xattrs as SCHILY.xattr PAX records. Sockets are skipped.
//
// Extract resolves its directory with every symlink followed, then hands
// the stream to archive.Apply with that directory, named through its
// descriptor (/proc/self/fd/N), as Apply's root: no entry, and no symlink
// inside the directory, reaches outside it. This matches current Docker,
// whose extraction resolves symlinks inside the destination too.
//
// # Xattrs
//
// overlayfs' own attributes (trusted.overlay.*, user.overlay.*) are never
// archived, nor are SELinux labels (security.selinux), which belong to the
// host's policy. A version 3 file capability is written as version 2, as
// Docker writes it.
//
// # Caveats
//
//   - Docker's xz and bzip2 compressed uploads are not recognised (see
//     archive.Decompress); gzip, zstd and plain tar are.
//   - Extract refuses ".wh.*" entries, which Docker writes as plain files.
//   - Changes and WriteLayer assume overlay mounts without redirect_dir and
//     metacopy; they fail with errdefs.ErrNotImplemented on the xattrs
//     those features leave.
//   - The walks read a live tree: an entry removed or replaced while it is
//     archived is skipped, and a file that shrinks is padded with zeros.
//   - /proc must be mounted: reopening files, Extract's root and xattrs of
//     symlinks and devices go through /proc/self/fd.
//   - Extract needs openat2 (Linux 5.6) even where resolution falls back
//     to user space: archive.Apply does.
//   - Only Linux is supported; elsewhere everything fails with
//     errdefs.ErrNotImplemented.
package containerfs
