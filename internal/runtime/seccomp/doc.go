// Package seccomp turns the seccomp section of an OCI runtime spec
// (specs.LinuxSeccomp) into a classic BPF filter and installs it, in pure
// Go (no libseccomp, no cgo). It also provides Shoal's default profile,
// the equivalent of Docker's.
//
//   - Compile is pure: spec in, []unix.SockFilter out. Tests run its
//     output in golang.org/x/net/bpf's VM.
//   - Install compiles and loads the filter with seccomp(2). Container
//     init calls it last, after PR_SET_NO_NEW_PRIVS (or holding
//     CAP_SYS_ADMIN), with its OS thread locked, right before execve.
//   - DefaultProfile resolves Docker's default profile for this
//     architecture and a capability set.
//
// # Glossary
//
// Architecture: a seccomp ABI as the spec names it (SCMP_ARCH_X86_64,
// SCMP_ARCH_X32, ...). Audit arch: the AUDIT_ARCH_* value the kernel puts
// in seccomp_data.arch; x86_64 and x32 share one. Native: the
// architecture of this process (runtime.GOARCH). Rule: one alternative
// for a syscall: conditions that are all true, then an action.
// Default action: what every syscall no rule matches gets.
//
// # Program layout
//
//	ld  arch
//	jeq AUDIT_ARCH_<native>  → section native
//	jeq AUDIT_ARCH_<listed>  → section listed       (one per listed arch)
//	jeq AUDIT_ARCH_<no table>→ ret default          (listed, no syscall table)
//	ret KILL_THREAD                                  (arch not listed)
//	section:
//	  ld  nr
//	  [x86_64 only: jge 0x40000000 → x32 part (or ret default if X32 is not listed)]
//	  binary search on nr over ranges of numbers sharing their code;
//	  leaves are "ret ALLOW", "ret default", ... or jumps to a chain
//	  chain (one per distinct rule list, shared by syscalls):
//	    rule 1: test args → ret action 1, else next rule
//	    rule 2: ...
//	    ret default
//	ret default
//
// Syscall numbers whose rules are the same unconditional action form one
// range with their neighbours, so Docker's profile costs a few hundred
// instructions per architecture and about log2(ranges) comparisons per
// syscall. Classic BPF conditional jumps reach 255 instructions at most;
// the assembler routes longer jumps through a trampoline inserted after
// the jump: a copy of the target when it is a ret, else a ja (32-bit
// offset). Programs longer than the kernel's 4096 instructions are an
// error.
//
// # Rule semantics
//
// They follow runc with libseccomp where these are defined:
//
//   - The native architecture is always covered; Compile fails if there
//     is no syscall table for it. Tables exist for x86_64, x86 (i386),
//     x32, aarch64 and arm. Other architectures in cfg.Architectures are
//     accepted and all their syscalls get the default action. An unknown
//     architecture name is an error. A syscall from an audit arch that is
//     not listed kills the thread (libseccomp's default "bad arch"
//     action).
//   - On x86_64, x32 syscalls carry the x32 bit (0x40000000) in nr and
//     are checked against the x32 table, never against x86_64 rules. If
//     SCMP_ARCH_X32 is not listed they get the default action (and, the
//     other way round, x86_64 syscalls do when only X32 is listed).
//   - A syscall name unknown on an architecture is skipped there. An
//     unknown action, operator or flag, an argument index above 5, an
//     empty name and errnoRet on an action other than ERRNO or TRACE are
//     errors. SCMP_ACT_NOTIFY and SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
//     are rejected with ErrNotifyUnsupported.
//   - SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD. ERRNO returns errnoRet (EPERM
//     when unset; cfg.DefaultErrnoRet for the default action), TRACE
//     passes errnoRet to the tracer (EPERM when unset), like runc.
//   - Rules whose action equals the default action are dropped (runc).
//   - Conditions in one rule are ANDed. When two conditions of one rule
//     test the same argument, runc adds each condition of that rule as a
//     rule of its own, so they are ORed; Compile does the same.
//   - Per syscall, an unconditional rule overrides every other rule (the
//     first one wins), as in libseccomp. Otherwise the conditional rules
//     are tried in profile order and the first that matches decides;
//     libseccomp orders overlapping conditional rules with different
//     actions by its own tree layout, so such profiles may behave
//     differently there.
//   - Arguments are compared as unsigned 64-bit values, high then low
//     32-bit word (seccomp_data is little-endian on every architecture
//     with a table). SCMP_CMP_MASKED_EQ tests arg & value == valueTwo. On
//     32-bit architectures (x86, x32, arm) only the low word is compared
//     and the values are truncated to 32 bits, as libseccomp does.
//
// # Caveats
//
//   - Syscall tables are generated from golang.org/x/sys (mksyscalls.go,
//     `go generate`). The x32 table is the x86_64 one with the x32 bit,
//     except for the x32-specific numbers 512..547, which are exact.
//   - runc answers syscalls newer than a profile with ENOSYS rather than
//     the default action so that libc falls back; Compile does not.
//   - listenerPath and listenerMetadata are ignored: there is no notify
//     support.
//   - Install adds SECCOMP_FILTER_FLAG_TSYNC so every thread of the Go
//     process gets the filter; the prctl fallback for kernels without
//     seccomp(2) filters the calling thread only.
package seccomp

//go:generate go run mksyscalls.go
