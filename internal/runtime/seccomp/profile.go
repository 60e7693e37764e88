package seccomp

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// profileRule is one entry of the default profile before it is resolved
// for an architecture and a capability set. Arches use GOARCH-like names
// ("amd64", "386", "arm64", "arm", "x32", "s390x", ...), as Docker's
// profile does ("x86" there is our "386").
type profileRule struct {
	names    []string
	action   specs.LinuxSeccompAction
	errnoRet uint // 0: none
	args     []specs.LinuxSeccompArg

	arches        []string // only on these arches (empty: all)
	notArches     []string // never on these arches
	caps          []string // only when every one of these is held
	notCaps       []string // never when any of these is held
	sinceLinux4_8 bool     // Docker gates these on kernel >= 4.8 (seccomp cannot be bypassed with ptrace since)
}

// nsFlags is the clone(2) namespace flags a container without
// CAP_SYS_ADMIN may not pass: CLONE_NEWNS | CLONE_NEWCGROUP |
// CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
// CLONE_NEWNET.
const nsFlags = 0x7e020000

// defaultRules mirrors Docker's (moby) default seccomp profile: deny by
// default with EPERM, allow a fixed list, and widen it per capability
// and architecture.
var defaultRules = []profileRule{
	{names: defaultAllowed, action: specs.ActAllow},
	{
		// Docker allows these without CAP_SYS_PTRACE on kernels >= 4.8,
		// where seccomp can no longer be bypassed with ptrace; so does
		// Shoal. On older kernels they need CAP_SYS_PTRACE (rule below).
		names:         []string{"process_vm_readv", "process_vm_writev", "ptrace"},
		action:        specs.ActAllow,
		sinceLinux4_8: true,
	},
	// socket: every family but AF_ALG (38) and AF_VSOCK (40).
	{names: []string{"socket"}, action: specs.ActAllow, args: []specs.LinuxSeccompArg{{Index: 0, Value: 38, Op: specs.OpLessThan}}},
	{names: []string{"socket"}, action: specs.ActAllow, args: []specs.LinuxSeccompArg{{Index: 0, Value: 39, Op: specs.OpEqualTo}}},
	{names: []string{"socket"}, action: specs.ActAllow, args: []specs.LinuxSeccompArg{{Index: 0, Value: 40, Op: specs.OpGreaterThan}}},
	// personality: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32
	// and the 0xffffffff query.
	{names: []string{"personality"}, action: specs.ActAllow, args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x0, Op: specs.OpEqualTo}}},
	{names: []string{"personality"}, action: specs.ActAllow, args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x8, Op: specs.OpEqualTo}}},
	{names: []string{"personality"}, action: specs.ActAllow, args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x20000, Op: specs.OpEqualTo}}},
	{names: []string{"personality"}, action: specs.ActAllow, args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x20008, Op: specs.OpEqualTo}}},
	{names: []string{"personality"}, action: specs.ActAllow, args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}}},
	{names: []string{"sync_file_range2", "swapcontext"}, action: specs.ActAllow, arches: []string{"ppc64le"}},
	{
		names:  []string{"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
		action: specs.ActAllow,
		arches: []string{"arm", "arm64"},
	},
	{names: []string{"arch_prctl"}, action: specs.ActAllow, arches: []string{"amd64", "x32"}},
	{names: []string{"modify_ldt"}, action: specs.ActAllow, arches: []string{"amd64", "x32", "386"}},
	{names: []string{"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}, action: specs.ActAllow, arches: []string{"s390", "s390x"}},
	{names: []string{"riscv_flush_icache"}, action: specs.ActAllow, arches: []string{"riscv64"}},
	{names: []string{"open_by_handle_at"}, action: specs.ActAllow, caps: []string{"CAP_DAC_READ_SEARCH"}},
	{
		names: []string{
			"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
			"lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr",
			"mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl",
			"quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2",
			"unshare",
		},
		action: specs.ActAllow,
		caps:   []string{"CAP_SYS_ADMIN"},
	},
	// clone without namespace flags; s390 swaps the first two arguments.
	{
		names:     []string{"clone"},
		action:    specs.ActAllow,
		args:      []specs.LinuxSeccompArg{{Index: 0, Value: nsFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}},
		notCaps:   []string{"CAP_SYS_ADMIN"},
		notArches: []string{"s390", "s390x"},
	},
	{
		names:   []string{"clone"},
		action:  specs.ActAllow,
		args:    []specs.LinuxSeccompArg{{Index: 1, Value: nsFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}},
		arches:  []string{"s390", "s390x"},
		notCaps: []string{"CAP_SYS_ADMIN"},
	},
	// clone3 passes its flags in memory, out of a filter's reach: make
	// libc fall back to clone.
	{names: []string{"clone3"}, action: specs.ActErrno, errnoRet: 38, notCaps: []string{"CAP_SYS_ADMIN"}}, // ENOSYS
	{names: []string{"reboot"}, action: specs.ActAllow, caps: []string{"CAP_SYS_BOOT"}},
	{names: []string{"chroot"}, action: specs.ActAllow, caps: []string{"CAP_SYS_CHROOT"}},
	{names: []string{"delete_module", "init_module", "finit_module"}, action: specs.ActAllow, caps: []string{"CAP_SYS_MODULE"}},
	{names: []string{"acct"}, action: specs.ActAllow, caps: []string{"CAP_SYS_PACCT"}},
	{
		names:  []string{"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"},
		action: specs.ActAllow,
		caps:   []string{"CAP_SYS_PTRACE"},
	},
	{names: []string{"iopl", "ioperm"}, action: specs.ActAllow, caps: []string{"CAP_SYS_RAWIO"}},
	{names: []string{"settimeofday", "stime", "clock_settime", "clock_settime64"}, action: specs.ActAllow, caps: []string{"CAP_SYS_TIME"}},
	{names: []string{"vhangup"}, action: specs.ActAllow, caps: []string{"CAP_SYS_TTY_CONFIG"}},
	{names: []string{"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}, action: specs.ActAllow, caps: []string{"CAP_SYS_NICE"}},
	{names: []string{"syslog"}, action: specs.ActAllow, caps: []string{"CAP_SYSLOG"}},
	{names: []string{"bpf"}, action: specs.ActAllow, caps: []string{"CAP_BPF"}},
	{names: []string{"perf_event_open"}, action: specs.ActAllow, caps: []string{"CAP_PERFMON"}},
}

// defaultAllowed is allowed whatever the capabilities. Names an
// architecture lacks are skipped when the filter is compiled.
var defaultAllowed = []string{
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat",
	"capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
	"clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
	"clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close",
	"close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
	"epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
	"execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
	"fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
	"fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
	"fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
	"fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
	"futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
	"futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
	"geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
	"getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
	"getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
	"getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
	"get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
	"getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1",
	"inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
	"io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
	"io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
	"landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat",
	"listen", "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek",
	"lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
	"map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
	"mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
	"mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
	"mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
	"mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
	"munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
	"_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
	"pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect",
	"poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
	"prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64",
	"pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
	"recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
	"removexattr", "removexattrat", "rename", "renameat", "renameat2",
	"restart_syscall", "riscv_hwprobe", "rmdir", "rseq", "rt_sigaction",
	"rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
	"rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
	"sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
	"sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
	"sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
	"semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
	"sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
	"setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
	"setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid",
	"setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
	"set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address",
	"setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
	"shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
	"sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
	"statfs64", "statmount", "statx", "symlink", "symlinkat", "sync",
	"sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
	"timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
	"timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
	"timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill",
	"truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
	"uretprobe", "utime", "utimensat", "utimensat_time64", "utimes", "vfork",
	"vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
}

// subArches lists, per GOARCH, the seccomp architectures a default
// profile covers: the native one and the compat ABIs its kernel runs.
var subArches = map[string][]specs.Arch{
	"amd64":    {specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
	"arm64":    {specs.ArchAARCH64, specs.ArchARM},
	"mips64":   {specs.ArchMIPS64, specs.ArchMIPS, specs.ArchMIPS64N32},
	"mips64le": {specs.ArchMIPSEL64, specs.ArchMIPSEL, specs.ArchMIPSEL64N32},
	"s390x":    {specs.ArchS390X, specs.ArchS390},
	"riscv64":  {specs.ArchRISCV64},
}

// DefaultProfile returns the equivalent of Docker's default seccomp
// profile for the architecture of this process and a container holding
// the capabilities caps (names like "CAP_SYS_ADMIN"; the "CAP_" prefix
// and case are optional). Unlisted syscalls fail with EPERM.
func DefaultProfile(caps []string) *specs.LinuxSeccomp {
	return defaultProfile(runtime.GOARCH, caps, kernelAtLeast(4, 8))
}

// kernelAtLeast reports whether the running kernel is major.minor or newer.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

func defaultProfile(goarch string, caps []string, linux4_8 bool) *specs.LinuxSeccomp {
	held := make(map[string]bool, len(caps))
	for _, c := range caps {
		c = strings.ToUpper(strings.TrimSpace(c))
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		held[c] = true
	}
	eperm := uint(1)
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   slices.Clone(subArches[goarch]),
	}
	for _, r := range defaultRules {
		if !r.applies(goarch, held, linux4_8) {
			continue
		}
		call := specs.LinuxSyscall{
			Names:  slices.Clone(r.names),
			Action: r.action,
			Args:   slices.Clone(r.args),
		}
		if r.errnoRet != 0 {
			e := r.errnoRet
			call.ErrnoRet = &e
		}
		p.Syscalls = append(p.Syscalls, call)
	}
	return p
}

func (r profileRule) applies(goarch string, held map[string]bool, linux4_8 bool) bool {
	if r.sinceLinux4_8 && !linux4_8 {
		return false
	}
	if len(r.arches) > 0 && !slices.Contains(r.arches, goarch) {
		return false
	}
	if slices.Contains(r.notArches, goarch) {
		return false
	}
	for _, c := range r.caps {
		if !held[c] {
			return false
		}
	}
	for _, c := range r.notCaps {
		if held[c] {
			return false
		}
	}
	return true
}
