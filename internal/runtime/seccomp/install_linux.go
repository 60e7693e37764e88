package seccomp

import (
	"errors"
	"fmt"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Install compiles cfg and loads it into the kernel for the calling
// process; a nil cfg installs nothing.
//
// The caller (container init) must already have set no_new_privs
// (prctl(PR_SET_NO_NEW_PRIVS)) or hold CAP_SYS_ADMIN, and should have
// locked its OS thread and execve right after: the filter also applies
// to this Go process from here on, so whatever the runtime needs until
// then must be allowed.
//
// Install always adds SECCOMP_FILTER_FLAG_TSYNC so that every thread of
// the process gets the filter, whatever cfg.Flags says. On kernels
// without seccomp(2) (before 3.17) it falls back to
// prctl(PR_SET_SECCOMP), which filters the calling thread only, provided
// cfg asks for no flag other than TSYNC.
func Install(cfg *specs.LinuxSeccomp) error {
	if cfg == nil {
		return nil
	}
	prog, err := Compile(cfg)
	if err != nil {
		return fmt.Errorf("compile seccomp filter: %w", err)
	}
	flags, err := filterFlags(cfg.Flags)
	if err != nil {
		return fmt.Errorf("compile seccomp filter: %w", err)
	}
	return load(prog, flags)
}

// Program compiles cfg into the BPF program and the seccomp(2) filter
// flags that Install would load (without SECCOMP_FILTER_FLAG_TSYNC, which
// the loader adds), for a loader that is not this package: the C init of
// internal/runtime/nsenter.
func Program(cfg *specs.LinuxSeccomp) ([]unix.SockFilter, uint, error) {
	prog, err := Compile(cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("compile seccomp filter: %w", err)
	}
	flags, err := filterFlags(cfg.Flags)
	if err != nil {
		return nil, 0, fmt.Errorf("compile seccomp filter: %w", err)
	}
	if len(prog) == 0 {
		return nil, 0, errors.New("compile seccomp filter: empty program")
	}
	return prog, flags, nil
}

func load(prog []unix.SockFilter, flags uint) error {
	if len(prog) == 0 {
		return errors.New("load seccomp filter: empty program")
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		uintptr(flags|unix.SECCOMP_FILTER_FLAG_TSYNC), uintptr(unsafe.Pointer(&fprog)))
	switch {
	case errno == unix.ENOSYS && flags&^unix.SECCOMP_FILTER_FLAG_TSYNC == 0:
		if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
			return fmt.Errorf("load seccomp filter with prctl: %w", err)
		}
		return nil
	case errno != 0:
		return fmt.Errorf("load seccomp filter: %w", errno)
	case r != 0:
		// With TSYNC, a positive result is the thread that could not
		// be synchronized (it has an incompatible filter).
		return fmt.Errorf("load seccomp filter: %w", &syncError{tid: int(r)})
	}
	return nil
}

// syncError reports that TSYNC could not apply the filter to a thread.
type syncError struct{ tid int }

func (e *syncError) Error() string {
	return fmt.Sprintf("thread %d could not be synchronized", e.tid)
}
