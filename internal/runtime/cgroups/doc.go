// Package cgroups places container processes in Linux control groups and
// applies the OCI linux.resources limits to them, with the cgroupfs driver
// (files under /sys/fs/cgroup; the systemd driver is not implemented).
//
// # Glossary
//
//   - hierarchy: one mounted cgroup filesystem. cgroup v1 has one per
//     controller or per group of co-mounted controllers ("cpu,cpuacct"),
//     plus named hierarchies without a controller ("name=systemd"); cgroup
//     v2 has exactly one, the unified hierarchy.
//   - controller: a resource kind (memory, cpu, pids, ...). Paths keys are
//     v1 controller names; the unified hierarchy's directory has the key "".
//   - path: the OCI linux.cgroupsPath, the same in every hierarchy.
//   - dir: where a path lands in one hierarchy, an absolute directory.
//
// # Layouts
//
// DetectMode looks at the filesystem type of /sys/fs/cgroup (Config.Root):
//
//	cgroup2                                  Unified  (pure v2)
//	tmpfs, and <root>/unified is cgroup2     Hybrid   (systemd's hybrid)
//	tmpfs otherwise                          Legacy   (pure v1)
//
// In Legacy and Hybrid mode the v1 hierarchies are found in
// /proc/self/mountinfo: every cgroup v1 mount directly under the root, with
// its controllers read from the super options, so co-mounted or renamed
// mount points need no guessing. A container gets a directory in every
// mounted hierarchy the package knows (cpuset, cpu, cpuacct, memory, pids,
// devices, freezer, blkio, hugetlb, net_cls, net_prio, perf_event, rdma,
// misc, name=systemd). A hierarchy that is not mounted is skipped, unless a
// requested resource needs it: then Apply and Set fail with ErrNoController.
// In Hybrid mode the path is also created and joined in the unified
// hierarchy, as runc does, but limits go to v1 only.
//
// In Unified mode, Apply enables in cgroup.subtree_control of every ancestor
// (from the root down) the controllers the resources need (an unavailable
// one is ErrNoController) and, when available, cpu, memory, pids and io so
// that Stats has counters. Nothing else is enabled.
//
// # Paths
//
// An absolute path is relative to the root of each hierarchy:
// "/shoal/abc" is /sys/fs/cgroup/memory/shoal/abc in v1 and
// /sys/fs/cgroup/shoal/abc in v2. A relative path follows runc's cgroupfs
// driver: it is joined under the caller's own cgroup (/proc/self/cgroup,
// relative to what the mount shows of the hierarchy) — in v1 under that
// cgroup itself, in v2 under its parent, because the caller's cgroup holds
// processes and the "no internal processes" rule would keep controllers
// from its children. Empty paths, the root itself, ".." components and the
// systemd form "slice:prefix:name" (ErrSystemdDriver) are refused.
//
// New is deterministic for an absolute path. A relative path depends on
// the caller, so a later invocation of the runtime (state, pause, kill,
// delete) must rebuild the Manager from the saved Mode and Paths with
// NewFromPaths.
//
// # Resources
//
// Set follows the OCI semantics and runc's conversions:
//
//   - memory: v1 memory.limit_in_bytes, memory.memsw.limit_in_bytes (OCI
//     swap is memory+swap; written before or after the limit so memsw never
//     drops below it; a swap limit without memsw is ErrNotSupported),
//     soft_limit_in_bytes, swappiness, oom_control. v2 memory.max,
//     memory.swap.max = swap - limit ("max" for -1, "0" when swap equals
//     the limit), memory.low; swappiness and disableOOMKiller are
//     ErrNotSupported on v2. Kernel memory limits are deprecated and ignored
//     with a debug log.
//   - cpu: v1 shares, cfs quota/period/burst, rt runtime/period, idle. v2
//     cpu.weight = 1 + ((shares-2)*9999)/262142, cpu.max "quota period"
//     ("max" for a quota that is not positive), cpu.max.burst, cpu.idle.
//     Realtime settings are ErrNotSupported on v2.
//   - cpuset cpus/mems. v1 cpuset directories start with empty
//     cpuset.cpus/mems, which admit no process, so Apply copies them from the
//     parent into each new directory, top down.
//   - pids.max ("max" for 0 or -1), blkio/io weights and throttles
//     (v2 io.bfq.weight when present, else io.weight converted from the blkio
//     range; io.max with "max" for a rate of 0), hugetlb (and its rsvd
//     files when present), rdma.max, v1 net_cls/net_prio (ErrNotSupported on
//     v2), and on v2 the raw Unified files, written last. Unified is an
//     error in Legacy and Hybrid mode.
//
// # Devices
//
// An empty device list leaves device access alone. Otherwise:
//
// v1 writes "a" to devices.deny, then each rule in order to devices.allow
// or devices.deny; the kernel keeps a default plus exceptions, and "a"
// resets both. The rules are briefly all-deny while they are replaced on a
// running container.
//
// v2 has no devices controller: Set compiles the rules to an eBPF program
// of type BPF_PROG_TYPE_CGROUP_DEVICE (deviceFilter documents the code) and
// attaches it to the cgroup directory with BPF_PROG_ATTACH and
// BPF_F_ALLOW_MULTI, then detaches the programs that were there. The
// program denies by default and lets the last rule that matches a device
// decide each access bit (read, write, mknod). Unlike v1, a deny rule can
// punch a hole in a wildcard allow. The attachment lives as long as the
// cgroup, not as long as the runtime process: no pinning is needed.
// Programs attached by someone else without BPF_F_ALLOW_MULTI make the
// attach fail.
//
// # Caveats
//
//   - Methods take no context: Freeze and Thaw poll for at most 10s, Destroy
//     retries rmdir on EBUSY for about 1.3s.
//   - Kill freezes the cgroup (for at most a second) around the signals so
//     that forks cannot escape them, and thaws it afterwards if it froze it,
//     or for SIGKILL. On v2, SIGKILL uses cgroup.kill when the kernel has
//     it (5.14+). A cgroup removed before or during Kill (its processes
//     exited and a delete raced with the kill) is not an error.
//   - Freezing a v2 cgroup needs cgroup.freeze (Linux 5.2+); without it,
//     Freeze is ErrNotSupported and State says Thawed. Without a v1
//     freezer hierarchy Freeze is ErrNoController.
//   - Loading the device program needs CAP_SYS_ADMIN and, before Linux
//     5.11, enough RLIMIT_MEMLOCK; this package does not raise the limit.
//   - Files are opened without O_CREAT: a missing file means the
//     controller or the kernel feature is missing. Writes use O_TRUNC,
//     which cgroupfs ignores, so that tests can use a fake tree of plain
//     files.
package cgroups
