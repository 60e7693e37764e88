//go:build linux && cgo

// Package nsenter holds the only C in Shoal: a constructor that joins and
// creates namespaces before the Go runtime starts (setns into mount and
// user namespaces needs a single-threaded process). Importing it for its
// side effect is enough; see nsenter.c for the protocol, and
// internal/runtime for its Go half.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
*/
import "C"
