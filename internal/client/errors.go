package client

import (
	"fmt"
	"net/http"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Error is a request the daemon answered with an error status.
type Error struct {
	StatusCode int
	// Message is the daemon's message, as it sent it.
	Message string
}

// Error reads as the docker CLI prints daemon errors.
func (e *Error) Error() string { return "Error response from daemon: " + e.Message }

// Unwrap is the errdefs class of the status, or nil for one without a
// class (500 and others).
func (e *Error) Unwrap() error {
	switch e.StatusCode {
	case http.StatusNotFound:
		return errdefs.ErrNotFound
	case http.StatusBadRequest:
		return errdefs.ErrInvalidArgument
	case http.StatusConflict:
		return errdefs.ErrConflict
	case http.StatusPreconditionFailed:
		return errdefs.ErrFailedPrecondition
	case http.StatusUnauthorized, http.StatusForbidden:
		return errdefs.ErrPermissionDenied
	case http.StatusServiceUnavailable:
		return errdefs.ErrUnavailable
	case http.StatusNotImplemented:
		return errdefs.ErrNotImplemented
	}
	return nil
}

// ConnectError is a daemon that could not be reached.
type ConnectError struct {
	Host string
	Err  error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("Cannot connect to the Shoal daemon at %s. Is the daemon running?", e.Host)
}

func (e *ConnectError) Unwrap() error { return e.Err }
