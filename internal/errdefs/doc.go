// Package errdefs holds Shoal's small set of error classes.
//
// A class says what kind of failure happened, not where: "not found" is the
// same class whether a blob, an image or a container is missing. Packages
// wrap a class sentinel with their own context, once per layer that adds
// information, and callers test for it with errors.Is or the IsX helpers:
//
//	return fmt.Errorf("open blob %s: %w", dgst, errdefs.ErrNotFound)
//	...
//	if errdefs.IsNotFound(err) { ... }
//
// Never match on error strings.
//
// # Mapping at the edges
//
// The classes are mapped to HTTP status codes in exactly one file of the API
// server, and to RPC codes in exactly one file of the cluster package:
//
//	ErrInvalidArgument     400 Bad Request
//	ErrPermissionDenied    403 Forbidden
//	ErrNotFound            404 Not Found
//	ErrAlreadyExists       409 Conflict
//	ErrConflict            409 Conflict
//	ErrFailedPrecondition  412 Precondition Failed (Docker answers 409 in places)
//	ErrNotImplemented      501 Not Implemented
//	ErrUnavailable         503 Service Unavailable
//
// An error of no class is a 500 and is logged in full. Cancellation is not a
// class: context.Canceled and context.DeadlineExceeded are used as they are.
//
// # Invariants
//
// The sentinels are distinct values; no class Is another. An error may carry
// more than one class (errors.Join, or several %w verbs), in which case every
// matching IsX helper reports true and the mapping picks the first in its
// own order.
package errdefs
