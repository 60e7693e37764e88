// Package mounts finds and detaches the mounts a benchmark run leaves
// below its temp dir, and checks, before the benchmark mounts anything of
// its own, that the mount cannot leak to the host: the caller must be in
// a mount namespace of its own and the mount point must not be shared.
//
// Everything reads /proc/self/mountinfo, so it sees the caller's mount
// namespace: the outer stage of a benchmark (in the host's namespace)
// checks there that nothing is left.
package mounts
