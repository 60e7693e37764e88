//go:build linux

package seccomp

import (
	"fmt"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// x32Bit is __X32_SYSCALL_BIT: x32 syscalls arrive with the x86_64 audit
// arch and this bit set in the syscall number.
const x32Bit = 0x40000000

// arch describes one seccomp architecture (an ABI as libseccomp counts
// them: x86_64 and x32 are two, sharing one audit arch value).
type arch struct {
	name  specs.Arch
	audit uint32                   // seccomp_data.arch value
	table func() map[string]uint32 // nil: no syscall table, only the default action
	is32  bool                     // arguments are 32 bits wide
}

// arches lists every architecture name the runtime spec defines.
var arches = map[specs.Arch]arch{
	specs.ArchX86_64:      {specs.ArchX86_64, unix.AUDIT_ARCH_X86_64, syscallsAMD64, false},
	specs.ArchX86:         {specs.ArchX86, unix.AUDIT_ARCH_I386, syscalls386, true},
	specs.ArchX32:         {specs.ArchX32, unix.AUDIT_ARCH_X86_64, syscallsX32, true},
	specs.ArchAARCH64:     {specs.ArchAARCH64, unix.AUDIT_ARCH_AARCH64, syscallsARM64, false},
	specs.ArchARM:         {specs.ArchARM, unix.AUDIT_ARCH_ARM, syscallsARM, true},
	specs.ArchMIPS:        {specs.ArchMIPS, unix.AUDIT_ARCH_MIPS, nil, true},
	specs.ArchMIPS64:      {specs.ArchMIPS64, unix.AUDIT_ARCH_MIPS64, nil, false},
	specs.ArchMIPS64N32:   {specs.ArchMIPS64N32, unix.AUDIT_ARCH_MIPS64N32, nil, true},
	specs.ArchMIPSEL:      {specs.ArchMIPSEL, unix.AUDIT_ARCH_MIPSEL, nil, true},
	specs.ArchMIPSEL64:    {specs.ArchMIPSEL64, unix.AUDIT_ARCH_MIPSEL64, nil, false},
	specs.ArchMIPSEL64N32: {specs.ArchMIPSEL64N32, unix.AUDIT_ARCH_MIPSEL64N32, nil, true},
	specs.ArchPPC:         {specs.ArchPPC, unix.AUDIT_ARCH_PPC, nil, true},
	specs.ArchPPC64:       {specs.ArchPPC64, unix.AUDIT_ARCH_PPC64, nil, false},
	specs.ArchPPC64LE:     {specs.ArchPPC64LE, unix.AUDIT_ARCH_PPC64LE, nil, false},
	specs.ArchS390:        {specs.ArchS390, unix.AUDIT_ARCH_S390, nil, true},
	specs.ArchS390X:       {specs.ArchS390X, unix.AUDIT_ARCH_S390X, nil, false},
	specs.ArchPARISC:      {specs.ArchPARISC, unix.AUDIT_ARCH_PARISC, nil, true},
	specs.ArchPARISC64:    {specs.ArchPARISC64, unix.AUDIT_ARCH_PARISC64, nil, false},
	specs.ArchRISCV64:     {specs.ArchRISCV64, unix.AUDIT_ARCH_RISCV64, nil, false},
	specs.ArchLOONGARCH64: {specs.ArchLOONGARCH64, unix.AUDIT_ARCH_LOONGARCH64, nil, false},
	specs.ArchM68K:        {specs.ArchM68K, unix.AUDIT_ARCH_M68K, nil, true},
	specs.ArchSH:          {specs.ArchSH, unix.AUDIT_ARCH_SHEL, nil, true},
	specs.ArchSHEB:        {specs.ArchSHEB, unix.AUDIT_ARCH_SH, nil, true},
}

// goArches maps GOARCH values to the seccomp architecture of the process.
var goArches = map[string]specs.Arch{
	"amd64":    specs.ArchX86_64,
	"386":      specs.ArchX86,
	"arm64":    specs.ArchAARCH64,
	"arm":      specs.ArchARM,
	"mips":     specs.ArchMIPS,
	"mipsle":   specs.ArchMIPSEL,
	"mips64":   specs.ArchMIPS64,
	"mips64le": specs.ArchMIPSEL64,
	"ppc64":    specs.ArchPPC64,
	"ppc64le":  specs.ArchPPC64LE,
	"s390x":    specs.ArchS390X,
	"riscv64":  specs.ArchRISCV64,
	"loong64":  specs.ArchLOONGARCH64,
}

// nativeArch is the seccomp architecture of this process ("" if unknown).
func nativeArch() specs.Arch {
	return goArches[runtime.GOARCH]
}

// resolveArches returns the architectures a filter covers: native first,
// then the listed ones in order, without duplicates.
func resolveArches(native specs.Arch, listed []specs.Arch) ([]arch, error) {
	n, ok := arches[native]
	if !ok || n.table == nil {
		return nil, fmt.Errorf("no syscall table for native architecture %q", native)
	}
	out := []arch{n}
	seen := map[specs.Arch]bool{native: true}
	for _, name := range listed {
		a, ok := arches[name]
		if !ok {
			return nil, fmt.Errorf("unknown architecture %q", name)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, a)
	}
	return out, nil
}
