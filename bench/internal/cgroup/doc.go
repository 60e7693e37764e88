// Package cgroup finds and removes the cgroups of a benchmark run in every
// cgroup hierarchy, and hides the cgroup2 mount of a hybrid host from the
// runtimes under test.
//
// # Hybrid hosts
//
// On a hybrid host (cgroup v1 hierarchies plus a cgroup2 mount at
// /sys/fs/cgroup/unified) Debian's crun 1.8.1, also podman's runtime,
// refuses to run. HideUnified mounts a tmpfs over /sys/fs/cgroup/unified in
// the benchmark's private mount namespace, so every engine and runtime of
// the run sees cgroup v1 only, alike. Runtimes that still write their
// cgroup there create plain directories on that tmpfs: Glob lists them
// too, and RemoveTree removes them as directories.
package cgroup
