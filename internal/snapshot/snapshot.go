package snapshot

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/mount"
)

// Kind is the state of a snapshot.
type Kind uint8

// The kinds of snapshot. The zero Kind is invalid.
const (
	// KindUnknown is the zero value; no stored snapshot has it.
	KindUnknown Kind = iota
	// KindView is a read-only snapshot of a committed parent, made by View.
	// It cannot be committed.
	KindView
	// KindActive is a writable snapshot made by Prepare. It can be
	// committed once.
	KindActive
	// KindCommitted is an immutable snapshot made by Commit. Only committed
	// snapshots can be parents.
	KindCommitted
)

// String returns the lower-case name of k.
func (k Kind) String() string {
	switch k {
	case KindView:
		return "view"
	case KindActive:
		return "active"
	case KindCommitted:
		return "committed"
	default:
		return fmt.Sprintf("unknown(%d)", uint8(k))
	}
}

// Info describes a snapshot.
type Info struct {
	Kind Kind
	// Name is the key of an active snapshot or view, or the name of a
	// committed snapshot.
	Name string
	// Parent is the name of the committed parent, or empty.
	Parent string
	// Labels are the caller's annotations; never nil after Stat.
	Labels map[string]string
	// Created is when the snapshot was created (for a committed snapshot:
	// when it was committed).
	Created time.Time
	// Updated is when the snapshot's metadata last changed.
	Updated time.Time
}

// Usage is the disk a snapshot uses on its own, excluding its parents.
type Usage struct {
	// Inodes is the number of distinct inodes.
	Inodes int64
	// Size is the allocated size in bytes (st_blocks * 512).
	Size int64
}

// Opt changes the Info of a snapshot being created or committed.
type Opt func(*Info) error

// WithLabels adds labels to the snapshot. Later options win.
func WithLabels(labels map[string]string) Opt {
	return func(info *Info) error {
		if info.Labels == nil {
			info.Labels = make(map[string]string, len(labels))
		}
		for k, v := range labels {
			info.Labels[k] = v
		}
		return nil
	}
}

// WalkFunc is called by Walk once per snapshot.
type WalkFunc func(ctx context.Context, info Info) error

// Snapshotter manages snapshots: directory trees stacked on committed
// parents. It returns mounts and never mounts anything itself.
//
// The life of a layer, as the image unpacker uses it:
//
//	mounts, _ := sn.Prepare(ctx, "extract-"+random, parentChainID)
//	mount.All(mounts, tmp); apply the layer diff into tmp; unmount
//	sn.Commit(ctx, chainID, "extract-"+random) // the layer is now shared
//
// and a container's root filesystem:
//
//	mounts, _ := sn.Prepare(ctx, containerID, imageTopChainID)
//	// hand mounts to the runtime; on container removal:
//	sn.Remove(ctx, containerID)
//
// Every method is safe for concurrent use. Keys and names share one
// namespace: an active snapshot, a view and a committed snapshot can never
// have the same key.
type Snapshotter interface {
	// Stat returns the Info of the snapshot with the key or name key.
	// ErrNotFound if there is none.
	Stat(ctx context.Context, key string) (Info, error)

	// Mounts returns the mounts of an active snapshot or view, as Prepare
	// or View returned them. ErrNotFound if there is none;
	// ErrFailedPrecondition for a committed snapshot (View it instead).
	Mounts(ctx context.Context, key string) ([]mount.Mount, error)

	// Prepare creates an active snapshot named key on top of the committed
	// snapshot parent (empty for a new empty tree) and returns the mounts
	// that make it writable at a target. ErrAlreadyExists if key is taken;
	// ErrNotFound if parent does not exist; ErrFailedPrecondition if parent
	// is not committed; ErrInvalidArgument for a malformed key.
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)

	// View is Prepare for a read-only snapshot: its mounts are read-only
	// and it cannot be committed. Errors as for Prepare.
	View(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)

	// Commit turns the active snapshot key into the committed snapshot
	// name, which then can be a parent. key no longer exists afterwards.
	// The caller must have unmounted key's mounts and must not write to
	// them again. ErrNotFound if key does not exist; ErrFailedPrecondition
	// if it is not active; ErrAlreadyExists if name is taken.
	Commit(ctx context.Context, name, key string, opts ...Opt) error

	// Remove deletes the snapshot with the key or name key, and its files.
	// ErrNotFound if there is none; ErrFailedPrecondition if it has
	// children. Removing a snapshot that is still mounted is the caller's
	// mistake.
	Remove(ctx context.Context, key string) error

	// Walk calls fn for every snapshot, in no promised order, outside any
	// lock or transaction, so fn may call the Snapshotter. It stops at the
	// first error fn returns and returns that error.
	Walk(ctx context.Context, fn WalkFunc) error

	// Usage returns the disk used by the snapshot itself, not its parents.
	// For an active snapshot it is measured now; for a committed one it was
	// measured at commit.
	Usage(ctx context.Context, key string) (Usage, error)

	// Close releases the metadata store. Other methods fail afterwards.
	Close() error
}

// MaxKeyLen is the longest key or name a Snapshotter accepts, in bytes.
const MaxKeyLen = 1024

// MaxLabelLen is the longest a label may be: key plus value, in bytes.
const MaxLabelLen = 4096

// ValidateKey checks that key is usable as a snapshot key or name: not
// empty, at most MaxKeyLen bytes, no NUL byte. Keys are otherwise opaque;
// they are never used as paths.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("snapshot key is empty: %w", errdefs.ErrInvalidArgument)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("snapshot key is %d bytes, longer than %d: %w", len(key), MaxKeyLen, errdefs.ErrInvalidArgument)
	}
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return fmt.Errorf("snapshot key %q contains NUL: %w", key, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// ValidateLabels checks that every label has a non-empty key and that key
// and value together are at most MaxLabelLen bytes.
func ValidateLabels(labels map[string]string) error {
	for k, v := range labels {
		if k == "" {
			return fmt.Errorf("snapshot label with empty key: %w", errdefs.ErrInvalidArgument)
		}
		if len(k)+len(v) > MaxLabelLen {
			return fmt.Errorf("snapshot label %.64q is %d bytes, longer than %d: %w", k, len(k)+len(v), MaxLabelLen, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// ApplyOpts applies opts to a fresh Info and validates the labels they set.
func ApplyOpts(opts ...Opt) (Info, error) {
	var info Info
	for _, o := range opts {
		if err := o(&info); err != nil {
			return Info{}, fmt.Errorf("apply snapshot option: %w", err)
		}
	}
	if err := ValidateLabels(info.Labels); err != nil {
		return Info{}, err
	}
	return info, nil
}
