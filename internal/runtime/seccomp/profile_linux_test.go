package seccomp

import (
	"fmt"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	cloneNewNS   = unix.CLONE_NEWNS
	cloneNewUser = unix.CLONE_NEWUSER
	cloneThread  = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM
)

func TestDefaultProfileAMD64(t *testing.T) {
	none := compileFor(t, defaultProfile("amd64", nil, true), specs.ArchX86_64)
	admin := compileFor(t, defaultProfile("amd64", []string{"CAP_SYS_ADMIN"}, true), specs.ArchX86_64)
	ptrace := compileFor(t, defaultProfile("amd64", []string{"sys_ptrace"}, true), specs.ArchX86_64)
	docker := compileFor(t, defaultProfile("amd64", dockerCaps, true), specs.ArchX86_64)
	old := compileFor(t, defaultProfile("amd64", nil, false), specs.ArchX86_64)
	oldPtrace := compileFor(t, defaultProfile("amd64", []string{"CAP_SYS_PTRACE"}, false), specs.ArchX86_64)

	sys := func(name string, args ...uint64) call {
		nr, ok := syscallsAMD64()[name]
		if !ok {
			t.Fatalf("no amd64 syscall %s", name)
		}
		c := call{arch: amd64, nr: nr}
		copy(c.args[:], args)
		return c
	}
	tests := []struct {
		name string
		vm   vm
		c    call
		want uint32
	}{
		{"read", none, sys("read"), retAllow},
		{"write", none, sys("write"), retAllow},
		{"execve", none, sys("execve"), retAllow},
		{"getpid", none, sys("getpid"), retAllow},
		{"futex", none, sys("futex"), retAllow},
		{"arch_prctl", none, sys("arch_prctl"), retAllow},
		{"mount", none, sys("mount"), retEPERM},
		{"umount2", none, sys("umount2"), retEPERM},
		{"unshare", none, sys("unshare", cloneNewUser), retEPERM},
		{"setns", none, sys("setns"), retEPERM},
		{"keyctl", none, sys("keyctl"), retEPERM},
		{"add_key", none, sys("add_key"), retEPERM},
		{"request_key", none, sys("request_key"), retEPERM},
		{"ptrace", none, sys("ptrace"), retAllow},
		{"ptrace before 4.8", old, sys("ptrace"), retEPERM},
		{"ptrace cap before 4.8", oldPtrace, sys("ptrace"), retAllow},
		{"process_vm_readv", none, sys("process_vm_readv"), retAllow},
		{"process_vm_readv before 4.8", old, sys("process_vm_readv"), retEPERM},
		{"reboot", none, sys("reboot"), retEPERM},
		{"kexec_load", none, sys("kexec_load"), retEPERM},
		{"init_module", none, sys("init_module"), retEPERM},
		{"bpf", none, sys("bpf"), retEPERM},
		{"perf_event_open", none, sys("perf_event_open"), retEPERM},
		{"userfaultfd", none, sys("userfaultfd"), retEPERM},
		{"chroot", none, sys("chroot"), retEPERM},
		{"open_by_handle_at", none, sys("open_by_handle_at"), retEPERM},
		{"clone thread", none, sys("clone", cloneThread), retAllow},
		{"clone fork", none, sys("clone", uint64(unix.SIGCHLD)), retAllow},
		{"clone newns", none, sys("clone", cloneNewNS|uint64(unix.SIGCHLD)), retEPERM},
		{"clone newuser", none, sys("clone", cloneNewUser), retEPERM},
		{"clone newcgroup", none, sys("clone", unix.CLONE_NEWCGROUP), retEPERM},
		{"clone newuser high bits", none, sys("clone", 1<<40|cloneNewUser), retEPERM},
		{"clone3", none, sys("clone3"), retErrno(uint32(unix.ENOSYS))},
		{"personality linux", none, sys("personality", 0), retAllow},
		{"personality linux32", none, sys("personality", 8), retAllow},
		{"personality uname26", none, sys("personality", 0x20000), retAllow},
		{"personality uname26 linux32", none, sys("personality", 0x20008), retAllow},
		{"personality query", none, sys("personality", 0xffffffff), retAllow},
		{"personality addr_no_randomize", none, sys("personality", 0x0040000), retEPERM},
		{"personality query 64-bit", none, sys("personality", 0xffffffff_ffffffff), retEPERM},
		{"socket inet", none, sys("socket", unix.AF_INET), retAllow},
		{"socket netlink", none, sys("socket", unix.AF_NETLINK), retAllow},
		{"socket alg", none, sys("socket", unix.AF_ALG), retEPERM},
		{"socket nfc", none, sys("socket", 39), retAllow},
		{"socket vsock", none, sys("socket", unix.AF_VSOCK), retEPERM},
		{"socket above vsock", none, sys("socket", 41), retAllow},
		{"socket vsock high word", none, sys("socket", 1<<32|unix.AF_VSOCK), retAllow},
		{"x32 read", none, call{arch: amd64, nr: syscallsX32()["read"]}, retAllow},
		{"x32 mount", none, call{arch: amd64, nr: syscallsX32()["mount"]}, retEPERM},
		{"i386 read", none, call{arch: i386, nr: syscalls386()["read"]}, retAllow},
		{"i386 socketcall", none, call{arch: i386, nr: syscalls386()["socketcall"]}, retAllow},
		{"i386 mount", none, call{arch: i386, nr: syscalls386()["mount"]}, retEPERM},
		{"i386 clone newns", none, call{arch: i386, nr: syscalls386()["clone"], args: [6]uint64{cloneNewNS}}, retEPERM},
		{"arm64 read", none, call{arch: arm64, nr: syscallsARM64()["read"]}, retKillThread},

		{"admin mount", admin, sys("mount"), retAllow},
		{"admin unshare", admin, sys("unshare"), retAllow},
		{"admin clone newns", admin, sys("clone", cloneNewNS), retAllow},
		{"admin clone3", admin, sys("clone3"), retAllow},
		{"admin bpf", admin, sys("bpf"), retAllow},
		{"admin ptrace", admin, sys("ptrace"), retAllow},
		{"admin keyctl", admin, sys("keyctl"), retEPERM},
		{"admin i386 clone newns", admin, call{arch: i386, nr: syscalls386()["clone"], args: [6]uint64{cloneNewNS}}, retAllow},

		{"ptrace cap", ptrace, sys("ptrace"), retAllow},
		{"ptrace cap kcmp", ptrace, sys("kcmp"), retAllow},
		{"ptrace cap mount", ptrace, sys("mount"), retEPERM},

		{"docker chroot", docker, sys("chroot"), retAllow},
		{"docker mount", docker, sys("mount"), retEPERM},
		{"docker clone newuser", docker, sys("clone", cloneNewUser), retEPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.vm.run(t, tt.c); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.name, retName(got), retName(tt.want))
			}
		})
	}
}

// dockerCaps is the capability set Docker gives a container by default.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

func TestDefaultProfileARM64(t *testing.T) {
	v := compileFor(t, defaultProfile("arm64", nil, true), specs.ArchAARCH64)
	tests := []struct {
		name string
		c    call
		want uint32
	}{
		{"read", call{arch: arm64, nr: syscallsARM64()["read"]}, retAllow},
		{"mount", call{arch: arm64, nr: syscallsARM64()["mount"]}, retEPERM},
		{"clone newns", call{arch: arm64, nr: syscallsARM64()["clone"], args: [6]uint64{cloneNewNS}}, retEPERM},
		{"clone fork", call{arch: arm64, nr: syscallsARM64()["clone"], args: [6]uint64{uint64(unix.SIGCHLD)}}, retAllow},
		{"arm read", call{arch: arm, nr: syscallsARM()["read"]}, retAllow},
		{"arm set_tls", call{arch: arm, nr: syscallsARM()["set_tls"]}, retAllow},
		{"arm cacheflush", call{arch: arm, nr: syscallsARM()["cacheflush"]}, retAllow},
		{"arm mount", call{arch: arm, nr: syscallsARM()["mount"]}, retEPERM},
		{"x86_64", call{arch: amd64, nr: 0}, retKillThread},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := v.run(t, tt.c); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.name, retName(got), retName(tt.want))
			}
		})
	}
}

// TestDefaultProfileExhaustive checks every syscall number of every
// architecture the profile covers against the oracle, with a few
// capability sets.
func TestDefaultProfileExhaustive(t *testing.T) {
	capSets := [][]string{nil, {"CAP_SYS_ADMIN"}, dockerCaps, allCaps()}
	for _, goarch := range []string{"amd64", "arm64"} {
		native := goArches[goarch]
		for _, caps := range capSets {
			cfg := defaultProfile(goarch, caps, true)
			prog, err := compile(cfg, native)
			if err != nil {
				t.Fatalf("%s %v: %v", goarch, caps, err)
			}
			if len(prog) >= maxInstructions {
				t.Errorf("%s %v: %d instructions, want fewer than %d", goarch, caps, len(prog), maxInstructions)
			}
			v := newVM(t, prog)
			for _, name := range append([]specs.Arch{native}, cfg.Architectures...) {
				a := arches[name]
				for _, nr := range a.table() {
					for _, args := range [][6]uint64{{}, {cloneNewNS}, {0xffffffff}, {unix.AF_VSOCK}, {1 << 33}} {
						c := call{arch: a.audit, nr: nr, args: args}
						if got, want := v.run(t, c), oracle(cfg, native, c); got != want {
							t.Fatalf("%s %v: arch %s nr %#x args %#x = %s, want %s", goarch, caps, name, nr, args, retName(got), retName(want))
						}
					}
				}
			}
		}
	}
}

func allCaps() []string {
	var caps []string
	for _, r := range defaultRules {
		caps = append(caps, r.caps...)
		caps = append(caps, r.notCaps...)
	}
	slices.Sort(caps)
	return slices.Compact(caps)
}

func TestDefaultProfileSize(t *testing.T) {
	for _, tt := range []struct {
		goarch string
		caps   []string
	}{{"amd64", nil}, {"amd64", allCaps()}, {"arm64", nil}, {"arm64", allCaps()}} {
		t.Run(fmt.Sprintf("%s/%d caps", tt.goarch, len(tt.caps)), func(t *testing.T) {
			prog, err := compile(defaultProfile(tt.goarch, tt.caps, true), goArches[tt.goarch])
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s with %d caps: %d instructions", tt.goarch, len(tt.caps), len(prog))
			if len(prog) >= maxInstructions {
				t.Errorf("%d instructions, want fewer than %d", len(prog), maxInstructions)
			}
		})
	}
}

func TestDefaultProfileShape(t *testing.T) {
	p := defaultProfile("amd64", nil, true)
	if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
		t.Errorf("default action = %s/%v, want SCMP_ACT_ERRNO/1", p.DefaultAction, p.DefaultErrnoRet)
	}
	if want := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}; !slices.Equal(p.Architectures, want) {
		t.Errorf("architectures = %v, want %v", p.Architectures, want)
	}
	if p := defaultProfile("riscv64", nil, true); !slices.Equal(p.Architectures, []specs.Arch{specs.ArchRISCV64}) {
		t.Errorf("riscv64 architectures = %v", p.Architectures)
	}
	// The native profile must compile on the machine running the tests.
	if _, err := Compile(DefaultProfile(nil)); err != nil && nativeArch() != "" && arches[nativeArch()].table != nil {
		t.Errorf("Compile(DefaultProfile(nil)) = %v", err)
	}
	// Editing the returned profile must not change the next one.
	p.Syscalls[0].Names[0] = "mount"
	if q := defaultProfile("amd64", nil, true); q.Syscalls[0].Names[0] == "mount" {
		t.Errorf("DefaultProfile shares its tables with callers")
	}
}

// TestDefaultProfileNames reports allow-list names no table knows, to
// catch typos; names of architectures without tables are expected.
func TestDefaultProfileNames(t *testing.T) {
	known := map[string]bool{}
	for _, tbl := range []map[string]uint32{syscallsAMD64(), syscalls386(), syscallsX32(), syscallsARM64(), syscallsARM()} {
		for n := range tbl {
			known[n] = true
		}
	}
	otherArches := map[string]bool{
		"riscv_flush_icache": true, "riscv_hwprobe": true, "s390_pci_mmio_read": true,
		"s390_pci_mmio_write": true, "s390_runtime_instr": true, "swapcontext": true,
		"usr26": true, "usr32": true,
	}
	var unknown []string
	for _, r := range defaultRules {
		for _, n := range r.names {
			if !known[n] && !otherArches[n] {
				unknown = append(unknown, n)
			}
		}
	}
	if len(unknown) > 0 {
		t.Logf("names in no table (skipped when compiling): %v", unknown)
	}
}
