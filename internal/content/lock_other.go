//go:build !unix

package content

import "os"

// flock is a no-op where there is no flock(2): only the in-process ref lock
// protects an ingest, so two processes must not share a root there.
func flock(*os.File) error { return nil }
