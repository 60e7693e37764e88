package runtime

import "errors"

var (
	// ErrNotExist means no container has the given ID.
	ErrNotExist = errors.New("container does not exist")
	// ErrExist means a container with the given ID already exists.
	ErrExist = errors.New("container already exists")
	// ErrInvalidConfig means the bundle's config.json cannot be run.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrState means the container is not in a state that allows the operation.
	ErrState = errors.New("container is in the wrong state")
)
