// Package overlay is the default Snapshotter: every snapshot is a directory
// of its own changes, and overlayfs stacks a snapshot's parent chain at
// mount time. A layer shared by many images is stored once.
//
// # Mounts
//
//	Prepare, no parent      bind  <id>/fs                       rw
//	Prepare, parents p1..pn overlay lowerdir=p1/fs:...:pn/fs,   nearest first
//	                                upperdir=<id>/fs, workdir=<id>/work
//	View, no parent         bind  <id>/fs                       ro
//	View, one parent        bind  p1/fs                         ro
//	View, parents p1..pn    overlay lowerdir=p1/fs:...:pn/fs    ro (overlayfs
//	                        needs two lowers to mount without an upperdir)
//
// Deletions in an active snapshot are recorded by overlayfs itself as
// whiteouts (0/0 character devices) and opaque directories (the
// trusted.overlay.opaque xattr) in the upperdir; once committed they hide
// the parents' files in every mount stacked on top.
//
// # On disk
//
//	<root>/metadata.db
//	<root>/snapshots/<id>/fs     upperdir of an active snapshot; the layer
//	                             of a committed one
//	<root>/snapshots/<id>/work   overlayfs workdir (same filesystem as fs)
//
// # Caveats
//
// root must be on a filesystem overlayfs accepts as upper (not overlayfs
// itself, for example); call Supported before New and fall back to the
// native snapshotter if it fails. root may not contain ':' or ',', which
// overlayfs options cannot carry unescaped.
package overlay
