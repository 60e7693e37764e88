// Package archive applies OCI/Docker image layers (tar streams) to a
// directory safely.
//
// It is the security-critical core of image unpacking: a layer comes from a
// registry and is hostile until proven otherwise. Whatever a layer holds,
// Apply never creates, changes or removes anything outside the root it is
// given.
//
// # Glossary
//
//   - layer: an uncompressed tar stream; Decompress turns a gzip, zstd or
//     plain blob into one by sniffing its magic bytes.
//   - root: the existing directory a layer is applied onto: an overlayfs
//     upper directory, or a copy of the parent snapshot.
//   - whiteout: an entry ".wh.name" saying that name of a lower layer is
//     deleted; the opaque marker ".wh..wh..opq" says every lower entry of
//     its directory is.
//
// # How an entry is applied
//
// The entry name is cleaned lexically as if root were "/": absolute names
// and ".." cannot climb above it ("../../etc/x" becomes root/etc/x, as
// Docker does). The parent directory is then resolved with openat2 and
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS relative to a descriptor of root,
// so symlinks met on the way, absolute or climbing, resolve inside root
// too, and /proc magic links are refused. Missing parents are created one
// component at a time with mkdirat in their resolved parent (mode 0755);
// a dangling symlink on the way is an error, never a directory to create.
// Every change is then made with *at calls on the resolved parent
// descriptor and the last component, which never follow it: openat with
// O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat, symlinkat, linkat, mknodat,
// fchownat and utimensat with AT_SYMLINK_NOFOLLOW, unlinkat.
//
//   - An existing entry at the path is removed first (recursively for a
//     directory, without following symlinks), unless both it and the new
//     entry are directories: then the directory stays and its metadata is
//     updated.
//   - A symlink is created as it is, whatever it points at: it is only a
//     name. No later entry can write through it out of root.
//   - A hardlink target is resolved like an entry name; linkat links its
//     last component itself (a symlink is linked, not followed), so a link
//     can only name an inode already in root. Hardlink entries set no
//     metadata: the inode's came with the target.
//   - Ownership (lchown, through WithIDMap if given), then xattrs, then
//     mode (after chown, which clears setuid/setgid), then times.
//     Directories get their mode and times after the whole layer, deepest
//     first, since writing inside a directory changes its mtime and a
//     read-only mode would stop the writes.
//   - Character and block devices need CAP_MKNOD: without it Apply fails
//     with errdefs.ErrPermissionDenied, or skips them under
//     WithSkipDevices. FIFOs need no privilege.
//   - An entry naming root itself (".", "/") is ignored: root's metadata
//     belongs to the snapshot.
//
// # Whiteouts
//
// RemoveWhiteouts (the default) deletes the named path; a whiteout whose
// directory does not exist is a no-op. An opaque marker removes every
// entry below its directory that this layer did not write, whatever the
// order of the entries in the tar (as the OCI spec asks). OverlayWhiteouts
// creates a 0:0 character device (allowed without privilege since Linux
// 5.8) and sets trusted.overlay.opaque=y (needs CAP_SYS_ADMIN). Other
// ".wh..wh." AUFS metadata entries are ignored; ".wh." with an empty name
// or "." or ".." is refused.
//
// # Extended attributes
//
// Xattrs come from SCHILY.xattr.* PAX records. trusted.overlay.* and
// user.overlay.* are dropped: in an overlay upper directory they would
// forge whiteouts, opaque directories or redirects. security.capability is
// kept (file capabilities, as Docker keeps them). A file system without
// xattr support (ENOTSUP) is tolerated, and so is EPERM when not running as
// root or for user.* on symlinks and devices, where the kernel refuses it.
// LIBARCHIVE.xattr.* records are not read.
//
// # Resource bounds
//
// Names and link targets longer than 4096 bytes, names with more than 512
// components and names with NUL bytes are refused with
// errdefs.ErrInvalidArgument, and so is a tar whose stream ends before a
// header's size (truncation) or whose header is malformed. WithMaxBytes
// caps the regular-file bytes written; without it a sparse file's holes
// are written out in full. The number of entries is not bounded.
//
// # Caveats
//
//   - Apply assumes nothing else writes to root while it runs (no
//     container runs on a snapshot being unpacked). Resolution is safe
//     against anything, but a few steps (chmod of a directory or device
//     just checked to be one) would follow a symlink swapped in by a
//     concurrent writer, though only to an inode inside root.
//   - On error root is left partly applied; the caller discards it.
//   - Needs openat2 (Linux 5.6); without it Apply fails with
//     errdefs.ErrNotImplemented. The /proc/self/fd path of the parent is
//     used to set xattrs on entries other than regular files, so /proc must
//     be mounted when a layer carries such xattrs.
//   - In OverlayWhiteouts mode root holds only this layer, so a hardlink to
//     a file of a lower layer fails; the opaque bookkeeping follows names,
//     not resolved paths, so a whiteout or opaque marker reached through a
//     symlink to a directory may remove entries this layer wrote under the
//     other name (inside root).
//   - Docker's bzip2 and xz layers are not recognised: they are not in the
//     OCI image spec.
//   - Only Linux is supported; elsewhere Apply returns ErrNotImplemented.
//   - Not written yet: Diff (an overlay upper directory back to a layer,
//     0:0 devices and the opaque xattr back to .wh. entries) and WriteTar
//     (a directory tree to a tar, for export and commit).
package archive
