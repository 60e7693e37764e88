package archive

// WhiteoutMode says what Apply does with OCI whiteout entries (".wh.name"
// and the opaque marker ".wh..wh..opq").
type WhiteoutMode int

const (
	// RemoveWhiteouts deletes the whited-out path from root and, for an
	// opaque marker, every entry of the directory that this layer did not
	// write. Use it when root already holds the parent layers' files (the
	// native, copying snapshotter). It is the default.
	RemoveWhiteouts WhiteoutMode = iota
	// OverlayWhiteouts turns ".wh.name" into an overlayfs whiteout (a 0:0
	// character device named name) and ".wh..wh..opq" into the
	// trusted.overlay.opaque="y" xattr on its directory. Use it when root is
	// an empty overlayfs upper directory. The opaque xattr needs
	// CAP_SYS_ADMIN.
	OverlayWhiteouts
)

// String returns the mode's name.
func (m WhiteoutMode) String() string {
	switch m {
	case RemoveWhiteouts:
		return "remove"
	case OverlayWhiteouts:
		return "overlay"
	default:
		return "unknown"
	}
}

// IDMapFunc maps a uid/gid pair from a layer to the pair written to disk,
// for example into a user namespace's range. An error aborts Apply.
type IDMapFunc func(uid, gid int) (int, int, error)

// ApplyOpt configures Apply.
type ApplyOpt func(*applyOptions)

type applyOptions struct {
	whiteouts   WhiteoutMode
	chown       *bool // nil: chown when running as root
	idMap       IDMapFunc
	skipDevices bool
	maxBytes    int64 // 0: unlimited
}

// WithWhiteouts selects how whiteout entries are applied; the default is
// RemoveWhiteouts.
func WithWhiteouts(m WhiteoutMode) ApplyOpt {
	return func(o *applyOptions) { o.whiteouts = m }
}

// WithNoChown keeps files owned by the caller instead of the uid/gid in the
// layer. It is the default when the process is not root, where lchown to
// another owner would fail; this option forces it for root too.
func WithNoChown() ApplyOpt {
	f := false
	return func(o *applyOptions) { o.chown = &f }
}

// WithIDMap maps every uid/gid of the layer through f before it is set, and
// turns chown on. f is called once per entry.
func WithIDMap(f IDMapFunc) ApplyOpt {
	t := true
	return func(o *applyOptions) {
		o.idMap = f
		o.chown = &t
	}
}

// WithSkipDevices silently skips character and block device entries instead
// of failing with errdefs.ErrPermissionDenied when mknod is not permitted
// (rootless, or a user namespace). FIFOs are still created, and overlay
// whiteouts are never skipped.
func WithSkipDevices() ApplyOpt {
	return func(o *applyOptions) { o.skipDevices = true }
}

// WithMaxBytes makes Apply fail with errdefs.ErrInvalidArgument once the
// regular files of the layer add up to more than n bytes (n <= 0: no limit).
// It bounds what a hostile layer, for example one of sparse files whose
// holes are written out as zeros, can make Apply write.
func WithMaxBytes(n int64) ApplyOpt {
	return func(o *applyOptions) { o.maxBytes = n }
}
