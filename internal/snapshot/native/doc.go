// Package native is the copying Snapshotter, for filesystems where
// overlayfs does not work: every snapshot is a complete tree, made by
// copying its parent's tree at Prepare. It costs disk and time per
// snapshot, and works on any filesystem that supports the file types being
// copied.
//
// # Mounts
//
//	Prepare             bind <id>/fs          rw   (a copy of the parent)
//	View, no parent     bind <id>/fs          ro   (empty)
//	View, parent p      bind p/fs             ro   (no copy: p is committed,
//	                                                so it never changes, and
//	                                                cannot be removed while
//	                                                the view exists)
//
// Deleting a file in an active snapshot deletes it from the copy; there are
// no whiteouts.
//
// # Copy
//
// The copy walks the parent with *at system calls on directory file
// descriptors, never following symlinks, and keeps file types (regular,
// directory, symlink, character and block devices, fifos, sockets), hard
// links (within the tree), owners, modes including setuid/setgid/sticky,
// extended attributes (trusted.*, security.* included; needs root) and
// modification times. Sparse files are copied densely.
//
// # On disk
//
//	<root>/metadata.db
//	<root>/snapshots/<id>/fs     the snapshot's whole tree
package native
