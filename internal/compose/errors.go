package compose

import (
	"fmt"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// classError is an error of an errdefs class whose message does not end
// in the class's name: compose's errors are shown to users as they are.
type classError struct {
	err   error
	class error
}

func (e *classError) Error() string   { return e.err.Error() }
func (e *classError) Unwrap() []error { return []error{e.err, e.class} }

// withClass gives err the errdefs class.
func withClass(err, class error) error { return &classError{err: err, class: class} }

// invalidf is an errdefs.ErrInvalidArgument error with the message.
func invalidf(format string, args ...any) error {
	return withClass(fmt.Errorf(format, args...), errdefs.ErrInvalidArgument)
}
