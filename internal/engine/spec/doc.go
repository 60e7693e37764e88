// Package spec turns a Docker container's configuration (the API's
// container.Config and container.HostConfig, already merged with the
// image's defaults) into the OCI runtime spec that Shoal's runtime
// executes, the way dockerd does for `docker run` with the same flags.
// moby's daemon/oci_linux.go and daemon/pkg/oci/defaults.go are the
// reference; error messages are Docker's where Docker has one.
//
// Two entry points:
//
//   - ValidateHostConfig runs the checks dockerd runs at create time, so
//     `docker create` fails early. Pass the configuration as the client
//     sent it (merged with the image, but before the engine fills in
//     defaults such as the hostname).
//   - Generate builds the spec at start time. It repeats the checks that
//     do not depend on the request's original form, resolves the user in
//     the container's /etc/passwd and /etc/group, and probes the host
//     (CPUs, capabilities, kernel version, device nodes, mount
//     propagation).
//
// Every flag either shows in the spec or fails with an error of class
// errdefs.ErrInvalidArgument; nothing is silently dropped. Where Docker
// only warns and discards a setting the host cannot honour (memory
// swappiness or --oom-kill-disable on cgroup v2, an explicit swap limit
// without swap accounting), Generate fails instead.
//
// # Files
//
// process.go builds the process (args, env, cwd, user, rlimits), user.go
// resolves users inside the rootfs, mounts.go the mounts and masked paths,
// resources.go the cgroup resources, devices and sysctls, security.go
// capabilities, security options and seccomp, seccomp.go Docker's seccomp
// profile format; host_linux.go holds every probe of the host behind the
// host interface, so the rest is testable with a fake.
//
// # Glossary
//
// rootfs: the container's mounted root filesystem on the host. Bounding
// set: the container's capabilities (Docker gives the same list to the
// bounding, effective and permitted sets). Default mounts: /proc, /dev,
// /dev/pts, /sys, /sys/fs/cgroup, /dev/mqueue, /dev/shm and the init
// binary; user mounts: Input.Mounts plus the hosts files, which replace a
// default mount at the same destination.
//
// # Caveats
//
//   - The image is untrusted: /etc/passwd and /etc/group are opened with
//     every path component resolved inside the rootfs (openat2
//     RESOLVE_IN_ROOT, or filepath-securejoin where openat2 is missing),
//     and only regular files are read, so a symlink or a device node in
//     the image cannot make the daemon read a host file.
//   - No user namespace: --userns must be empty or "host".
//   - No SELinux: only label=disable is accepted (it is what Shoal does
//     anyway). AppArmor profiles are set only where the host has AppArmor;
//     apparmor=unconfined is a no-op elsewhere. Shoal has no docker-default
//     AppArmor profile.
//   - The time namespace Docker adds on recent kernels is not requested:
//     the runtime does not advertise it.
//   - For --ipc shareable and container:<name>, Docker shares a
//     daemon-managed tmpfs at /dev/shm; here the caller must pass it as a
//     Mount at /dev/shm, or the container gets its own tmpfs.
//   - --init has no effect with --pid host or container:<name>, as in
//     Docker: that namespace has an init already.
//   - The working directory is not created in the rootfs; the caller does
//     that, as dockerd does before building the spec.
package spec
