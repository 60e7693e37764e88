package seccomp

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	amd64 uint32 = unix.AUDIT_ARCH_X86_64
	i386  uint32 = unix.AUDIT_ARCH_I386
	arm64 uint32 = unix.AUDIT_ARCH_AARCH64
	arm   uint32 = unix.AUDIT_ARCH_ARM
)

func nr64(name string) uint32 { return syscallsAMD64()[name] }

func TestCompileNil(t *testing.T) {
	prog, err := Compile(nil)
	if prog != nil || err != nil {
		t.Fatalf("Compile(nil) = %v, %v, want nil, nil", prog, err)
	}
}

func TestCompileActions(t *testing.T) {
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: uptr(38)},
			{Names: []string{"getppid"}, Action: specs.ActErrno},
			{Names: []string{"kill"}, Action: specs.ActKill},
			{Names: []string{"tkill"}, Action: specs.ActKillThread},
			{Names: []string{"tgkill"}, Action: specs.ActKillProcess},
			{Names: []string{"uname"}, Action: specs.ActTrap},
			{Names: []string{"sync"}, Action: specs.ActTrace, ErrnoRet: uptr(7)},
			{Names: []string{"syncfs"}, Action: specs.ActTrace},
			{Names: []string{"gettid"}, Action: specs.ActLog},
			{Names: []string{"no_such_syscall", "close"}, Action: specs.ActAllow},
		},
	}
	v := compileFor(t, cfg, specs.ArchX86_64)
	tests := []struct {
		name string
		want uint32
	}{
		{"read", retAllow},
		{"write", retAllow},
		{"close", retAllow},
		{"getpid", retErrno(38)},
		{"getppid", retEPERM},
		{"kill", retKillThread},
		{"tkill", retKillThread},
		{"tgkill", retKillProcess},
		{"uname", retTrap},
		{"sync", retTrace(7)},
		{"syncfs", retTrace(1)},
		{"gettid", retLog},
		{"mount", retEPERM},
		{"openat", retEPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := v.run(t, call{arch: amd64, nr: nr64(tt.name)}); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.name, retName(got), retName(tt.want))
			}
		})
	}
	for _, nr := range []uint32{1000, 0xffff, 0x3fffffff, 0xffffffff} {
		if got := v.run(t, call{arch: amd64, nr: nr}); got != retEPERM {
			t.Errorf("nr %#x = %s, want %s", nr, retName(got), retName(retEPERM))
		}
	}
}

func TestCompileDefaultActions(t *testing.T) {
	tests := []struct {
		act   specs.LinuxSeccompAction
		errno *uint
		want  uint32
	}{
		{specs.ActErrno, nil, retEPERM},
		{specs.ActErrno, uptr(38), retErrno(38)},
		{specs.ActKill, nil, retKillThread},
		{specs.ActKillProcess, nil, retKillProcess},
		{specs.ActAllow, nil, retAllow},
		{specs.ActLog, nil, retLog},
		{specs.ActTrap, nil, retTrap},
		{specs.ActTrace, uptr(3), retTrace(3)},
	}
	for _, tt := range tests {
		t.Run(string(tt.act), func(t *testing.T) {
			cfg := &specs.LinuxSeccomp{
				DefaultAction:   tt.act,
				DefaultErrnoRet: tt.errno,
				Syscalls:        []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActTrap}},
			}
			if tt.act == specs.ActTrap {
				cfg.Syscalls[0].Action = specs.ActAllow
			}
			v := compileFor(t, cfg, specs.ArchX86_64)
			if got := v.run(t, call{arch: amd64, nr: nr64("write")}); got != tt.want {
				t.Errorf("write = %s, want %s", retName(got), retName(tt.want))
			}
		})
	}
}

// argRule allows getpid when arg 1 compares to value with op.
func argRule(op specs.LinuxSeccompOperator, value, valueTwo uint64) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{
			Names:  []string{"getpid"},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 1, Value: value, ValueTwo: valueTwo, Op: op}},
		}},
	}
}

func TestCompileOperators64(t *testing.T) {
	const v = 0x00000005_00000010 // high word 5, low word 16
	tests := []struct {
		op   specs.LinuxSeccompOperator
		arg  uint64
		want bool
	}{
		{specs.OpEqualTo, v, true},
		{specs.OpEqualTo, 0x00000004_00000010, false}, // only the high word differs
		{specs.OpEqualTo, 0x00000005_00000011, false},
		{specs.OpEqualTo, 0x10, false},
		{specs.OpNotEqual, v, false},
		{specs.OpNotEqual, 0x00000006_00000010, true},
		{specs.OpNotEqual, 0x00000005_00000000, true},
		{specs.OpGreaterThan, v, false},
		{specs.OpGreaterThan, v + 1, true},
		{specs.OpGreaterThan, 0x00000006_00000000, true}, // high greater, low smaller
		{specs.OpGreaterThan, 0x00000004_ffffffff, false},
		{specs.OpGreaterEqual, v, true},
		{specs.OpGreaterEqual, v - 1, false},
		{specs.OpGreaterEqual, 0x00000006_00000000, true},
		{specs.OpGreaterEqual, 0x00000004_ffffffff, false},
		{specs.OpLessThan, v, false},
		{specs.OpLessThan, v - 1, true},
		{specs.OpLessThan, 0x00000004_ffffffff, true}, // high smaller, low greater
		{specs.OpLessThan, 0x00000006_00000000, false},
		{specs.OpLessThan, 0xffffffff_ffffffff, false},
		{specs.OpLessEqual, v, true},
		{specs.OpLessEqual, v + 1, false},
		{specs.OpLessEqual, 0x00000004_ffffffff, true},
		{specs.OpLessEqual, 0x00000006_00000000, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.op), func(t *testing.T) {
			v := compileFor(t, argRule(tt.op, v, 0), specs.ArchX86_64)
			want := retEPERM
			if tt.want {
				want = retAllow
			}
			c := call{arch: amd64, nr: nr64("getpid")}
			c.args[1] = tt.arg
			if got := v.run(t, c); got != want {
				t.Errorf("arg %#x %s %#x = %s, want %s", tt.arg, tt.op, uint64(0x00000005_00000010), retName(got), retName(want))
			}
		})
	}
}

// TestCompileOperatorsSmallValues covers values with a zero high word,
// which take shorter code paths.
func TestCompileOperatorsSmallValues(t *testing.T) {
	ops := []specs.LinuxSeccompOperator{
		specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpGreaterEqual,
		specs.OpLessThan, specs.OpLessEqual,
	}
	values := []uint64{0, 1, 7, 0xffffffff, 0x1_00000000, 0xffffffff_ffffffff}
	args := []uint64{0, 1, 6, 7, 8, 0xfffffffe, 0xffffffff, 0x1_00000000, 0x1_00000007, 0x7_00000000, 0xffffffff_ffffffff}
	for _, op := range ops {
		for _, value := range values {
			cfg := argRule(op, value, 0)
			v := compileFor(t, cfg, specs.ArchX86_64)
			for _, arg := range args {
				c := call{arch: amd64, nr: nr64("getpid")}
				c.args[1] = arg
				if got, want := v.run(t, c), oracle(cfg, specs.ArchX86_64, c); got != want {
					t.Errorf("arg %#x %s %#x = %s, want %s", arg, op, value, retName(got), retName(want))
				}
			}
		}
	}
}

func TestCompileMaskedEqual(t *testing.T) {
	tests := []struct {
		name        string
		mask, datum uint64
		arg         uint64
		want        bool
		native      specs.Arch
		audit       uint32
		nr          uint32
	}{
		{name: "clear", mask: 0x7e020000, datum: 0, arg: 0x00011200, want: true},
		{name: "flag set", mask: 0x7e020000, datum: 0, arg: 0x10000000, want: false},
		{name: "datum", mask: 0xff, datum: 0x12, arg: 0xab12, want: true},
		{name: "datum mismatch", mask: 0xff, datum: 0x12, arg: 0xab13, want: false},
		{name: "high word", mask: 0xff_00000000, datum: 0x01_00000000, arg: 0x01_ffffffff, want: true},
		{name: "high word mismatch", mask: 0xff_00000000, datum: 0x01_00000000, arg: 0x02_00000000, want: false},
		{name: "both words", mask: 0xf0_0000000f, datum: 0x10_00000001, arg: 0x1f_f0000001, want: true},
		{name: "both words low mismatch", mask: 0xf0_0000000f, datum: 0x10_00000001, arg: 0x1f_f0000002, want: false},
		{name: "datum outside mask", mask: 0x0f, datum: 0x10, arg: 0x10, want: false},
		{name: "zero mask", mask: 0, datum: 0, arg: 0xdead, want: true},
		{name: "32-bit ignores high word", mask: 0xff_000000ff, datum: 0xff_00000012, arg: 0x12, want: true, native: specs.ArchARM, audit: arm, nr: syscallsARM()["getpid"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			native, audit, nr := tt.native, tt.audit, tt.nr
			if native == "" {
				native, audit, nr = specs.ArchX86_64, amd64, nr64("getpid")
			}
			v := compileFor(t, argRule(specs.OpMaskedEqual, tt.mask, tt.datum), native)
			want := retEPERM
			if tt.want {
				want = retAllow
			}
			c := call{arch: audit, nr: nr}
			c.args[1] = tt.arg
			if got := v.run(t, c); got != want {
				t.Errorf("(%#x & %#x) == %#x = %s, want %s", tt.arg, tt.mask, tt.datum, retName(got), retName(want))
			}
		})
	}
}

// TestCompileArgs checks AND across arguments and runc's OR split when
// two conditions test the same argument.
func TestCompileArgs(t *testing.T) {
	and := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{
			Names:  []string{"mmap"},
			Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo},
				{Index: 5, Value: 0x2_00000000, Op: specs.OpEqualTo},
			},
		}},
	}
	sameIndex := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{
			Names:  []string{"mmap"},
			Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo},
				{Index: 0, Value: 3, Op: specs.OpEqualTo},
				{Index: 2, Value: 9, Op: specs.OpEqualTo},
			},
		}},
	}
	tests := []struct {
		name string
		cfg  *specs.LinuxSeccomp
		args [6]uint64
		want uint32
	}{
		{"and both", and, [6]uint64{0: 1, 5: 0x2_00000000}, retAllow},
		{"and first only", and, [6]uint64{0: 1, 5: 0}, retEPERM},
		{"and second only", and, [6]uint64{0: 2, 5: 0x2_00000000}, retEPERM},
		{"same index first", sameIndex, [6]uint64{0: 1}, retAllow},
		{"same index second", sameIndex, [6]uint64{0: 3}, retAllow},
		{"same index other arg alone", sameIndex, [6]uint64{0: 7, 2: 9}, retAllow},
		{"same index none", sameIndex, [6]uint64{0: 2, 2: 8}, retEPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := compileFor(t, tt.cfg, specs.ArchX86_64)
			c := call{arch: amd64, nr: nr64("mmap"), args: tt.args}
			if got := v.run(t, c); got != tt.want {
				t.Errorf("mmap%v = %s, want %s", tt.args, retName(got), retName(tt.want))
			}
		})
	}
}

func TestCompileRuleOrder(t *testing.T) {
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			// Conditional rules: first match wins.
			{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: uptr(5), Args: []specs.LinuxSeccompArg{{Index: 0, Value: 10, Op: specs.OpGreaterThan}}},
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 20, Op: specs.OpLessThan}}},
			// An unconditional rule overrides conditional ones, the
			// first unconditional one wins.
			{Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: uptr(5), Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
			{Names: []string{"write"}, Action: specs.ActAllow},
			{Names: []string{"write"}, Action: specs.ActKillProcess},
			// A rule with the default action is dropped, so it does not
			// shadow the next one.
			{Names: []string{"close"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 3, Op: specs.OpEqualTo}}},
			{Names: []string{"close"}, Action: specs.ActAllow},
		},
	}
	tests := []struct {
		name string
		arg0 uint64
		want uint32
	}{
		{"read", 15, retErrno(5)},
		{"read", 5, retAllow},
		{"read", 25, retErrno(5)},
		{"write", 1, retAllow},
		{"write", 2, retAllow},
		{"close", 3, retAllow},
	}
	v := compileFor(t, cfg, specs.ArchX86_64)
	for _, tt := range tests {
		c := call{arch: amd64, nr: nr64(tt.name)}
		c.args[0] = tt.arg0
		if got := v.run(t, c); got != tt.want {
			t.Errorf("%s(%d) = %s, want %s", tt.name, tt.arg0, retName(got), retName(tt.want))
		}
	}
}

func TestCompileArchitectures(t *testing.T) {
	allowRead := func(archs ...specs.Arch) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: archs,
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read", "readv"}, Action: specs.ActAllow},
			},
		}
	}
	tests := []struct {
		name   string
		cfg    *specs.LinuxSeccomp
		native specs.Arch
		c      call
		want   uint32
	}{
		{"native", allowRead(), specs.ArchX86_64, call{arch: amd64, nr: nr64("read")}, retAllow},
		{"x32 not listed", allowRead(), specs.ArchX86_64, call{arch: amd64, nr: nr64("read") | x32Bit}, retEPERM},
		{"x32 readv as x86_64 number", allowRead(specs.ArchX32), specs.ArchX86_64, call{arch: amd64, nr: nr64("readv") | x32Bit}, retEPERM},
		{"x32 listed", allowRead(specs.ArchX32), specs.ArchX86_64, call{arch: amd64, nr: nr64("read") | x32Bit}, retAllow},
		{"x32 readv", allowRead(specs.ArchX32), specs.ArchX86_64, call{arch: amd64, nr: 515 | x32Bit}, retAllow},
		{"x32 high numbers", allowRead(specs.ArchX32), specs.ArchX86_64, call{arch: amd64, nr: 0xffffffff}, retEPERM},
		{"i386 not listed", allowRead(), specs.ArchX86_64, call{arch: i386, nr: syscalls386()["read"]}, retKillThread},
		{"i386 listed", allowRead(specs.ArchX86), specs.ArchX86_64, call{arch: i386, nr: syscalls386()["read"]}, retAllow},
		{"i386 uses its own numbers", allowRead(specs.ArchX86), specs.ArchX86_64, call{arch: i386, nr: nr64("read")}, retEPERM},
		{"foreign arch", allowRead(specs.ArchX86), specs.ArchX86_64, call{arch: arm64, nr: syscallsARM64()["read"]}, retKillThread},
		{"listed arch without table", allowRead(specs.ArchMIPS64), specs.ArchX86_64, call{arch: unix.AUDIT_ARCH_MIPS64, nr: 5000}, retEPERM},
		{"arm64 native", allowRead(specs.ArchARM), specs.ArchAARCH64, call{arch: arm64, nr: syscallsARM64()["read"]}, retAllow},
		{"arm compat", allowRead(specs.ArchARM), specs.ArchAARCH64, call{arch: arm, nr: syscallsARM()["read"]}, retAllow},
		{"arm compat other", allowRead(specs.ArchARM), specs.ArchAARCH64, call{arch: arm, nr: syscallsARM()["write"]}, retEPERM},
		{"x86_64 on arm64", allowRead(specs.ArchARM), specs.ArchAARCH64, call{arch: amd64, nr: nr64("read")}, retKillThread},
		{"only x32 listed on arm64", allowRead(specs.ArchX32), specs.ArchAARCH64, call{arch: amd64, nr: nr64("read")}, retEPERM},
		{"only x32 listed on arm64, x32 call", allowRead(specs.ArchX32), specs.ArchAARCH64, call{arch: amd64, nr: nr64("read") | x32Bit}, retAllow},
		{"duplicate arches", allowRead(specs.ArchX86_64, specs.ArchX86, specs.ArchX86), specs.ArchX86_64, call{arch: i386, nr: syscalls386()["read"]}, retAllow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := compileFor(t, tt.cfg, tt.native)
			if got := v.run(t, tt.c); got != tt.want {
				t.Errorf("arch %#x nr %#x = %s, want %s", tt.c.arch, tt.c.nr, retName(got), retName(tt.want))
			}
			if want := oracle(tt.cfg, tt.native, tt.c); want != tt.want {
				t.Errorf("oracle disagrees with the test table: %s", retName(want))
			}
		})
	}
}

// TestCompile32BitArgs checks that 32-bit architectures compare the low
// word only, with the value truncated.
func TestCompile32BitArgs(t *testing.T) {
	cfg := argRule(specs.OpEqualTo, 0xffffffff_ffffffff, 0) // e.g. fd -1 sign-extended
	cfg.Architectures = []specs.Arch{specs.ArchX86}
	v := compileFor(t, cfg, specs.ArchX86_64)
	c := call{arch: i386, nr: syscalls386()["getpid"]}
	c.args[1] = 0xffffffff
	if got := v.run(t, c); got != retAllow {
		t.Errorf("i386 getpid(_, 0xffffffff) = %s, want ALLOW", retName(got))
	}
	c = call{arch: amd64, nr: nr64("getpid")}
	c.args[1] = 0xffffffff
	if got := v.run(t, c); got != retEPERM {
		t.Errorf("x86_64 getpid(_, 0xffffffff) = %s, want EPERM", retName(got))
	}
}

func TestCompileErrors(t *testing.T) {
	valid := func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}},
		}
	}
	tests := []struct {
		name   string
		edit   func(*specs.LinuxSeccomp)
		native specs.Arch
		want   string
		is     error
	}{
		{name: "empty default action", edit: func(c *specs.LinuxSeccomp) { c.DefaultAction = "" }, want: "unknown action"},
		{name: "unknown default action", edit: func(c *specs.LinuxSeccomp) { c.DefaultAction = "SCMP_ACT_MAYBE" }, want: "unknown action"},
		{name: "unknown action", edit: func(c *specs.LinuxSeccomp) { c.Syscalls[0].Action = "SCMP_ACT_MAYBE" }, want: "unknown action"},
		{name: "notify", edit: func(c *specs.LinuxSeccomp) { c.Syscalls[0].Action = specs.ActNotify }, is: ErrNotifyUnsupported},
		{name: "notify default", edit: func(c *specs.LinuxSeccomp) { c.DefaultAction = specs.ActNotify }, is: ErrNotifyUnsupported},
		{name: "wait killable flag", edit: func(c *specs.LinuxSeccomp) {
			c.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
		}, is: ErrNotifyUnsupported},
		{name: "unknown flag", edit: func(c *specs.LinuxSeccomp) { c.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NOPE"} }, want: "unknown seccomp flag"},
		{name: "unknown operator", edit: func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}
		}, want: "unknown operator"},
		{name: "unknown operator on unknown syscall", edit: func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Names = []string{"no_such_syscall"}
			c.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}
		}, want: "unknown operator"},
		{name: "arg index", edit: func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}
		}, want: "argument index 6"},
		{name: "unknown arch", edit: func(c *specs.LinuxSeccomp) { c.Architectures = []specs.Arch{"SCMP_ARCH_Z80"} }, want: "unknown architecture"},
		{name: "native without table", native: specs.ArchRISCV64, want: "no syscall table for native architecture"},
		{name: "empty name", edit: func(c *specs.LinuxSeccomp) { c.Syscalls[0].Names = []string{"read", ""} }, want: "empty syscall name"},
		{name: "no names", edit: func(c *specs.LinuxSeccomp) { c.Syscalls[0].Names = nil }, want: "no syscall names"},
		{name: "errnoRet on allow", edit: func(c *specs.LinuxSeccomp) { c.Syscalls[0].ErrnoRet = uptr(1) }, want: "errnoRet is only valid"},
		{name: "defaultErrnoRet on kill", edit: func(c *specs.LinuxSeccomp) {
			c.DefaultAction = specs.ActKillProcess
			c.DefaultErrnoRet = uptr(1)
		}, want: "errnoRet is only valid"},
		{name: "errno too large", edit: func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Action = specs.ActErrno
			c.Syscalls[0].ErrnoRet = uptr(0x10000)
		}, want: "16 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			if tt.edit != nil {
				tt.edit(cfg)
			}
			native := tt.native
			if native == "" {
				native = specs.ArchX86_64
			}
			_, err := compile(cfg, native)
			switch {
			case err == nil:
				t.Fatalf("compile() succeeded, want an error")
			case tt.is != nil && !errors.Is(err, tt.is):
				t.Errorf("compile() = %v, want %v", err, tt.is)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("compile() = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestFilterFlags(t *testing.T) {
	tests := []struct {
		flags []specs.LinuxSeccompFlag
		want  uint
	}{
		{nil, 0},
		{[]specs.LinuxSeccompFlag{flagTSYNC}, unix.SECCOMP_FILTER_FLAG_TSYNC},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, unix.SECCOMP_FILTER_FLAG_LOG},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagLog}, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_LOG},
	}
	for _, tt := range tests {
		got, err := filterFlags(tt.flags)
		if err != nil || got != tt.want {
			t.Errorf("filterFlags(%v) = %#x, %v, want %#x", tt.flags, got, err, tt.want)
		}
	}
}

// TestCompileLongJumps builds a profile whose rule chains and dispatch
// tree are far longer than the 255-instruction reach of a conditional
// jump, and checks every syscall against the oracle.
func TestCompileLongJumps(t *testing.T) {
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32}}
	for i, name := range slices.Sorted(maps.Keys(syscallsAMD64())) {
		s := specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow}
		switch i % 3 {
		case 0:
			s.Args = []specs.LinuxSeccompArg{{Index: uint(i % 6), Value: uint64(i) << 20, Op: specs.OpGreaterThan}}
		case 1:
			s.Action = specs.ActErrno
			s.ErrnoRet = uptr(uint(i % 100))
		}
		cfg.Syscalls = append(cfg.Syscalls, s)
	}
	prog, err := compile(cfg, specs.ArchX86_64)
	if err != nil {
		t.Fatal(err)
	}
	far := 0
	for _, ins := range prog {
		if ins.Code == opJa && ins.K > 0xff {
			far++
		}
	}
	t.Logf("%d instructions, %d long ja", len(prog), far)
	if far == 0 {
		t.Errorf("expected the program to need long jumps")
	}
	v := newVM(t, prog)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, a := range []struct {
		audit uint32
		table func() map[string]uint32
		bit   uint32
	}{{amd64, syscallsAMD64, 0}, {i386, syscalls386, 0}, {amd64, syscallsX32, 0}} {
		for _, nr := range a.table() {
			for range 4 {
				c := call{arch: a.audit, nr: nr | a.bit}
				for j := range c.args {
					c.args[j] = rng.Uint64() >> (rng.IntN(64))
				}
				if got, want := v.run(t, c), oracle(cfg, specs.ArchX86_64, c); got != want {
					t.Fatalf("arch %#x nr %#x args %#x = %s, want %s", c.arch, c.nr, c.args, retName(got), retName(want))
				}
			}
		}
	}
}

// TestCompileMatchesOracle compiles random profiles and compares the
// program with the oracle on random calls.
func TestCompileMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 200 {
		cfg, native := randomProfile(rng)
		prog, err := compile(cfg, native)
		if err != nil {
			t.Fatalf("profile %d: %v", iter, err)
		}
		v := newVM(t, prog)
		for range 200 {
			c := randomCall(rng, cfg, native)
			if got, want := v.run(t, c), oracle(cfg, native, c); got != want {
				t.Fatalf("profile %d %+v: arch %#x nr %#x args %#x = %s, want %s", iter, cfg, c.arch, c.nr, c.args, retName(got), retName(want))
			}
		}
	}
}

var (
	testActions = []specs.LinuxSeccompAction{
		specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
		specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog,
	}
	testOps = []specs.LinuxSeccompOperator{
		specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
	}
	testArches = []specs.Arch{
		specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM, specs.ArchMIPS,
	}
	testNames = []string{"read", "write", "openat", "mmap", "clone", "personality", "socket", "readv", "ioctl", "getpid", "socketcall", "set_tls"}
)

// interesting returns values near the edges of 32-bit words.
func interesting(rng *rand.Rand) uint64 {
	words := []uint64{0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff}
	switch rng.IntN(3) {
	case 0:
		return words[rng.IntN(len(words))]<<32 | words[rng.IntN(len(words))]
	case 1:
		return uint64(rng.IntN(8))
	}
	return rng.Uint64()
}

func randomProfile(rng *rand.Rand) (*specs.LinuxSeccomp, specs.Arch) {
	natives := []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64, specs.ArchX86, specs.ArchARM}
	native := natives[rng.IntN(len(natives))]
	cfg := &specs.LinuxSeccomp{DefaultAction: testActions[rng.IntN(len(testActions))]}
	if cfg.DefaultAction == specs.ActErrno && rng.IntN(2) == 0 {
		cfg.DefaultErrnoRet = uptr(uint(rng.IntN(4)))
	}
	for range rng.IntN(4) {
		cfg.Architectures = append(cfg.Architectures, testArches[rng.IntN(len(testArches))])
	}
	for range rng.IntN(12) {
		s := specs.LinuxSyscall{Action: testActions[rng.IntN(len(testActions))]}
		for range 1 + rng.IntN(3) {
			s.Names = append(s.Names, testNames[rng.IntN(len(testNames))])
		}
		if (s.Action == specs.ActErrno || s.Action == specs.ActTrace) && rng.IntN(2) == 0 {
			s.ErrnoRet = uptr(uint(rng.IntN(4)))
		}
		for range rng.IntN(4) {
			s.Args = append(s.Args, specs.LinuxSeccompArg{
				Index:    uint(rng.IntN(3)),
				Value:    interesting(rng),
				ValueTwo: interesting(rng),
				Op:       testOps[rng.IntN(len(testOps))],
			})
		}
		cfg.Syscalls = append(cfg.Syscalls, s)
	}
	return cfg, native
}

func randomCall(rng *rand.Rand, cfg *specs.LinuxSeccomp, native specs.Arch) call {
	archs := append([]specs.Arch{native, specs.ArchAARCH64}, cfg.Architectures...)
	a := arches[archs[rng.IntN(len(archs))]]
	c := call{arch: a.audit, nr: uint32(rng.IntN(600))}
	if a.table != nil && rng.IntN(4) != 0 {
		name := testNames[rng.IntN(len(testNames))]
		if nr, ok := a.table()[name]; ok {
			c.nr = nr
		}
	}
	if rng.IntN(8) == 0 {
		c.nr ^= x32Bit
	}
	for i := range c.args {
		c.args[i] = interesting(rng)
	}
	// Make conditions hold now and then.
	if len(cfg.Syscalls) > 0 && rng.IntN(2) == 0 {
		s := cfg.Syscalls[rng.IntN(len(cfg.Syscalls))]
		for _, arg := range s.Args {
			if rng.IntN(3) != 0 {
				c.args[arg.Index] = arg.Value
				if arg.Op == specs.OpMaskedEqual {
					c.args[arg.Index] = arg.ValueTwo
				}
			}
		}
	}
	return c
}
