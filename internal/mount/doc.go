// Package mount holds the Mount value type that snapshotters hand to the
// runtime, and the few syscalls that apply and remove such mounts.
//
// A Mount is plain data: it says what to mount (Type, Source, Options) and,
// optionally, where below the final target (Target). Producing mounts is
// pure (internal/snapshot never mounts anything); applying them is the job
// of All, called by whoever owns the target directory (the runtime, the
// image unpacker, tests).
//
// # Options
//
// Options are fstab-style strings. Well-known flags ("ro", "rw", "nosuid",
// "nodev", "noexec", "bind", "rbind", "noatime", propagation such as
// "rprivate", ...) become mount(2) flags; everything else ("lowerdir=...",
// "upperdir=...", "workdir=...", "size=...") is passed to the filesystem as
// data. Type "bind" (or a "bind"/"rbind" option) makes a bind mount; "ro"
// on a bind mount is applied by a read-only remount, as the kernel requires.
//
// # Long overlay lower lists
//
// mount(2) takes at most a page of option data. When an overlay's options
// would not fit, All uses the new mount API instead (fsopen/fsconfig with
// one "lowerdir+" per layer, Linux 6.8+); on older kernels it falls back to
// mounting with paths relative to the lowers' common parent, from a locked
// OS thread that has unshared its working directory (unshare(CLONE_FS)), so
// no other goroutine sees the chdir.
//
// # Invariants
//
//   - All either mounts every Mount or, on error, unmounts what it mounted
//     before returning.
//   - Target paths below the final target are resolved with securejoin, so a
//     Mount.Target cannot escape the target directory through "..".
//   - UnmountAll leaves target with nothing mounted on it: it unmounts until
//     the kernel says target is not a mount point.
package mount
