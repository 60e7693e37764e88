package mount

// Mount is one filesystem to mount. It is a plain value: creating one has
// no effect until it is passed to All.
type Mount struct {
	// Type is the filesystem type ("overlay", "bind", "tmpfs", ...).
	Type string
	// Source is the device or directory to mount ("overlay" for overlayfs,
	// the directory for bind mounts).
	Source string
	// Target is an optional path below the target given to All; empty
	// means the target itself.
	Target string
	// Options are fstab-style options, see the package documentation.
	Options []string
}

// ReadOnly reports whether m carries the "ro" option.
func (m Mount) ReadOnly() bool {
	ro := false
	for _, o := range m.Options {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}
