// Package integration holds Shoal's end-to-end tests: they build the shoal
// binary, drive it from the command line as a user would, and check the
// host afterwards. They need the integration build tag and root
// (SHOAL_TEST_ROOT=1); see internal/testutil.
package integration
