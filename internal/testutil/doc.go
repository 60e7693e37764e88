// Package testutil holds what Shoal's tests share: the root gate, kernel
// feature skips and small fixtures such as a busybox root filesystem.
//
// Root-only tests call RequiresRoot. It skips unless SHOAL_TEST_ROOT=1 is
// set, and fails if that is set but the process is not root, so a CI run
// that meant to run them cannot silently skip them.
package testutil
