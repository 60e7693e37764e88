package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/shoal-dev/shoal/internal/api/types"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// This file is the one place where error classes become HTTP status
// codes, following dockerd (api/server/httpstatus): its own classes where
// it has them, and its mapping of containerd's classes for the rest
// (FailedPrecondition is 412 there).

// statusOf is the HTTP status for err's class.
func statusOf(err error) int {
	switch {
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidArgument(err):
		return http.StatusBadRequest
	case errdefs.IsConflict(err), errdefs.IsAlreadyExists(err):
		return http.StatusConflict
	case errdefs.IsFailedPrecondition(err):
		return http.StatusPreconditionFailed
	case errdefs.IsPermissionDenied(err):
		return http.StatusForbidden
	case errdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers with err's status and {"message": ...}. An error of
// no known class is a 500 and is logged in full.
func (s *server) writeError(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	if code == http.StatusInternalServerError {
		s.log.ErrorContext(ctx, "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSONError(w, code, userMessage(err))
}

// userMessage is err's text without the class name a package appended
// when it wrapped the class in (fmt.Errorf("No such container: x: %w",
// errdefs.ErrNotFound) reads "No such container: x" to the user).
func userMessage(err error) string {
	msg := err.Error()
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrConflict,
		errdefs.ErrAlreadyExists, errdefs.ErrFailedPrecondition, errdefs.ErrUnavailable,
		errdefs.ErrNotImplemented, errdefs.ErrPermissionDenied} {
		if errors.Is(err, class) {
			msg = strings.TrimSuffix(msg, ": "+class.Error())
		}
	}
	return msg
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(types.ErrorResponse{Message: msg})
}

// classError is an error whose message is the user's answer verbatim
// (Docker's wording), of class class.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

// invalidf is an InvalidArgument error with exactly the message given.
func invalidf(format string, args ...any) error {
	return &classError{msg: fmt.Sprintf(format, args...), class: errdefs.ErrInvalidArgument}
}

// notFoundf is a NotFound error with exactly the message given.
func notFoundf(format string, args ...any) error {
	return &classError{msg: fmt.Sprintf(format, args...), class: errdefs.ErrNotFound}
}

// notImplementedf is a NotImplemented error with exactly the message given.
func notImplementedf(format string, args ...any) error {
	return &classError{msg: fmt.Sprintf(format, args...), class: errdefs.ErrNotImplemented}
}

// errorMessage is err as a progress-stream error line.
func errorMessage(err error) types.JSONMessage {
	return types.JSONMessage{ErrorDetail: &types.JSONError{Message: err.Error()}, Error: err.Error()}
}
