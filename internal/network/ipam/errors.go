package ipam

import "github.com/shoal-dev/shoal/internal/errdefs"

// Failures a caller may branch on (errors.Is). Each carries dockerd's
// wording and an errdefs class, which errors.Is also reports.
var (
	// ErrNoAvailableIPs: every address a pool may hand out is taken.
	ErrNoAvailableIPs error = &kind{msgNoAvailable, errdefs.ErrUnavailable}
	// ErrIPAlreadyAllocated: the requested address is held or reserved.
	ErrIPAlreadyAllocated error = &kind{msgInUse, errdefs.ErrConflict}
	// ErrPoolOverlap: a pool shares addresses with one already recorded.
	ErrPoolOverlap error = &kind{msgOverlap, errdefs.ErrConflict}
	// ErrNoMoreSubnets: no default pool candidate is free.
	ErrNoMoreSubnets error = &kind{"all predefined address pools have been fully subnetted", errdefs.ErrInvalidArgument}
)

// dockerd's wording (libnetwork/ipamapi).
const (
	msgNoAvailable = "no available addresses on this pool"
	msgInUse       = "Address already in use"
	msgOverlap     = "Pool overlaps with other one on this address space"
)

// kind is a sentinel error: dockerd's message, then its class (so that
// the API, which trims a trailing class name, shows dockerd's text).
type kind struct {
	msg   string
	class error
}

func (k *kind) Error() string { return k.msg + ": " + k.class.Error() }
func (k *kind) Unwrap() error { return k.class }

// detail is a sentinel with a message of its own: msg replaces the
// sentinel's text, errors.Is still finds the sentinel and its class.
type detail struct {
	msg  string
	kind *kind
}

func (d *detail) Error() string { return d.msg + ": " + d.kind.class.Error() }
func (d *detail) Unwrap() error { return d.kind }

func withDetail(msg string, sentinel error) error {
	return &detail{msg: msg, kind: sentinel.(*kind)}
}
