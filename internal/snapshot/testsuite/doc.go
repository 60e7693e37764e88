// Package testsuite is the conformance suite every snapshot.Snapshotter in
// Shoal runs: an implementation's test calls Run with a constructor.
//
// Tests that mount (file visibility through a parent chain, deletions,
// read-only views, usage) need root and are gated by testutil.RequiresRoot;
// the metadata tests (errors, stat, walk, remove with children, crash
// cleanup, reopen) run everywhere.
//
// # Invariants checked on every test's cleanup
//
//   - Nothing is left mounted below the test's temporary directory
//     (/proc/self/mountinfo); leftovers fail the test and are unmounted.
//   - Every snapshot Walk reports can be Stat-ed with the same Info, and
//     its parent exists and is committed.
//
// The crash test assumes the on-disk layout documented in package snapshot
// (<root>/snapshots/<id>), which every implementation in this tree shares.
package testsuite
