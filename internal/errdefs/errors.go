package errdefs

import "errors"

// The error classes. Wrap them with fmt.Errorf("...: %w", ErrX); test with
// errors.Is or the IsX helpers.
var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an object with that identity exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the request conflicts with the current state of an
	// object (for example, removing a running container).
	ErrConflict = errors.New("conflict")
	// ErrInvalidArgument: the request is malformed; retrying it unchanged
	// will fail again.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition: the request is well formed, but the state it
	// depends on does not hold (for example, written data does not match
	// its expected digest).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable: the object is busy or the service cannot answer right
	// now; retrying later may succeed.
	ErrUnavailable = errors.New("unavailable")
	// ErrNotImplemented: the operation is not supported by this
	// implementation.
	ErrNotImplemented = errors.New("not implemented")
	// ErrPermissionDenied: the caller may not do this.
	ErrPermissionDenied = errors.New("permission denied")
)

// IsNotFound reports whether err is of class ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsAlreadyExists reports whether err is of class ErrAlreadyExists.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// IsConflict reports whether err is of class ErrConflict.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsInvalidArgument reports whether err is of class ErrInvalidArgument.
func IsInvalidArgument(err error) bool { return errors.Is(err, ErrInvalidArgument) }

// IsFailedPrecondition reports whether err is of class ErrFailedPrecondition.
func IsFailedPrecondition(err error) bool { return errors.Is(err, ErrFailedPrecondition) }

// IsUnavailable reports whether err is of class ErrUnavailable.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// IsNotImplemented reports whether err is of class ErrNotImplemented.
func IsNotImplemented(err error) bool { return errors.Is(err, ErrNotImplemented) }

// IsPermissionDenied reports whether err is of class ErrPermissionDenied.
func IsPermissionDenied(err error) bool { return errors.Is(err, ErrPermissionDenied) }
