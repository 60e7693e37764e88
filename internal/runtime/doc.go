// Package runtime is Shoal's OCI runtime: it turns an OCI bundle (a root
// filesystem and a config.json) into an isolated, resource-limited process
// and manages its lifecycle with runc's verbs (create, start, state, kill,
// delete, exec, pause, resume, update, ps).
//
// # Processes
//
// When the spec asks only for new namespaces and no user namespace, the
// parent forks init with the clone flags and execs `shoal init` directly.
// Otherwise (joined namespace paths, a user namespace to map, exec into a
// running container) it takes three processes:
//
//	runtime (shoal runtime create)         the parent; applies cgroups, runs
//	  │                                    prestart/createRuntime/poststart hooks
//	  └─ stage 0 (shoal init, C part)      joins and unshares namespaces before
//	       │                               Go starts (internal/runtime/nsenter),
//	       │                               then exits
//	       └─ init (clone(CLONE_PARENT))   pid 1 of the container: mounts,
//	                                       pivot_root, user, capabilities,
//	                                       seccomp; waits on the exec fifo
//	                                       and execs the container's program
//
// Init's work is done in C by default: the parent computes a plan of
// every step (plan_linux.go) and the C of internal/runtime/nsenter
// executes it after the namespace phase and execs the program, so no Go
// runtime starts in a container. What the plan cannot express (hooks that
// run inside the container, LSM labels, no mount namespace, ...) runs the
// Go init instead, as does every init when SHOAL_RUNTIME_INIT=go.
//
// Init (or stage 0) is started from a sealed copy of the shoal binary (a read-only
// overlay, or a sealed memfd where overlayfs cannot be mounted), so the
// container can never reach the host's binary through /proc/PID/exe
// (CVE-2019-5736). Before exec, every descriptor except stdio and the
// preserved ones is closed and the working directory is checked to lie
// inside the container (CVE-2024-21626). Mount destinations are resolved
// inside the root filesystem, so a symlink in an image cannot redirect a
// mount onto the host.
//
// Init looks the program up (process.args[0], with exec.LookPath against
// the PATH of process.env, inside the container, as its user) before it
// reports ready, as runc does: create and exec fail with the reason
// (`exec: "x": executable file not found in $PATH`, `exec: "/etc/passwd":
// permission denied`), not the container after start.
//
// # State
//
// Each container has a directory under the runtime root (default
// /run/shoal/runtime): state.json (what `state` prints, plus what later
// verbs need: the config, cgroup paths, the init's start time to detect
// pid reuse) and exec.fifo while the container is created but not started.
// `start` opens the fifo, which releases the waiting init.
//
// # Glossary
//
// bundle: the directory holding config.json; rootfs: the container's root
// filesystem on the host; init: the container's first process (pid 1 when
// it has its own pid namespace).
package runtime
