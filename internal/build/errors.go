package build

import (
	"fmt"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Error is a build failure worded as Docker words it. Code is the exit
// code of a RUN that failed (the docker CLI exits with it), 0 otherwise.
// Unwrap gives the error class (errdefs).
type Error struct {
	Message string
	Code    int
	Class   error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the error's class.
func (e *Error) Unwrap() error { return e.Class }

// invalidf is an ErrInvalidArgument with exactly the message given.
func invalidf(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...), Class: errdefs.ErrInvalidArgument}
}

// notFoundf is an ErrNotFound with exactly the message given.
func notFoundf(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...), Class: errdefs.ErrNotFound}
}
