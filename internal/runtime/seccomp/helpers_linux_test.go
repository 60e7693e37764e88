package seccomp

import (
	"encoding/binary"
	"fmt"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// call is one synthetic syscall: what the kernel would put in
// seccomp_data.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// data encodes c as seccomp_data for x/net/bpf's VM. The kernel loads
// 32-bit words in native (little-endian) order, the VM in network order,
// so each word is stored big-endian at the offset where the kernel would
// find it: the VM then loads exactly the value the kernel would.
func (c call) data() []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], c.nr)
	binary.BigEndian.PutUint32(b[4:], c.arch)
	for i, a := range c.args {
		binary.BigEndian.PutUint32(b[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(b[16+8*i+4:], uint32(a>>32))
	}
	return b
}

// vm wraps a compiled program in x/net/bpf's VM.
type vm struct {
	*bpf.VM
}

func newVM(t testing.TB, prog []unix.SockFilter) vm {
	t.Helper()
	v, err := loadVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func loadVM(prog []unix.SockFilter) (vm, error) {
	raw := make([]bpf.RawInstruction, len(prog))
	for i, ins := range prog {
		raw[i] = bpf.RawInstruction{Op: ins.Code, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		return vm{}, fmt.Errorf("program has instructions x/net/bpf cannot decode")
	}
	v, err := bpf.NewVM(insns)
	if err != nil {
		return vm{}, fmt.Errorf("load program in VM: %w", err)
	}
	return vm{v}, nil
}

func (v vm) run(t testing.TB, c call) uint32 {
	t.Helper()
	r, err := v.Run(c.data())
	if err != nil {
		t.Fatalf("run %+v: %v", c, err)
	}
	return uint32(r)
}

// compileFor compiles cfg as if the process ran on native.
func compileFor(t testing.TB, cfg *specs.LinuxSeccomp, native specs.Arch) vm {
	t.Helper()
	prog, err := compile(cfg, native)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return newVM(t, prog)
}

// Return values as the kernel sees them.
const (
	retAllow       = unix.SECCOMP_RET_ALLOW
	retKillThread  = unix.SECCOMP_RET_KILL_THREAD
	retKillProcess = unix.SECCOMP_RET_KILL_PROCESS
	retTrap        = unix.SECCOMP_RET_TRAP
	retLog         = unix.SECCOMP_RET_LOG
)

func retErrno(e uint32) uint32 { return unix.SECCOMP_RET_ERRNO | e }
func retTrace(d uint32) uint32 { return unix.SECCOMP_RET_TRACE | d }

var retEPERM = retErrno(uint32(unix.EPERM))

func retName(r uint32) string {
	switch r & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW:
		return "ALLOW"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD"
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS"
	case unix.SECCOMP_RET_TRAP:
		return "TRAP"
	case unix.SECCOMP_RET_LOG:
		return "LOG"
	case unix.SECCOMP_RET_ERRNO:
		return fmt.Sprintf("ERRNO(%d)", r&unix.SECCOMP_RET_DATA)
	case unix.SECCOMP_RET_TRACE:
		return fmt.Sprintf("TRACE(%d)", r&unix.SECCOMP_RET_DATA)
	}
	return fmt.Sprintf("%#x", r)
}

func uptr(v uint) *uint { return &v }

// oracle is an independent, direct reading of the rule semantics in the
// package documentation. It answers what the filter compiled from cfg
// for native must return for c. cfg must compile without error.
func oracle(cfg *specs.LinuxSeccomp, native specs.Arch, c call) uint32 {
	ret := func(act specs.LinuxSeccompAction, e *uint) uint32 {
		data := uint32(1)
		if e != nil {
			data = uint32(*e)
		}
		switch act {
		case specs.ActKill, specs.ActKillThread:
			return retKillThread
		case specs.ActKillProcess:
			return retKillProcess
		case specs.ActTrap:
			return retTrap
		case specs.ActErrno:
			return retErrno(data)
		case specs.ActTrace:
			return retTrace(data)
		case specs.ActAllow:
			return retAllow
		case specs.ActLog:
			return retLog
		}
		panic("oracle: unexpected action " + act)
	}
	def := ret(cfg.DefaultAction, cfg.DefaultErrnoRet)

	listed := map[specs.Arch]bool{native: true}
	for _, a := range cfg.Architectures {
		listed[a] = true
	}
	var a arch
	switch {
	case c.arch == unix.AUDIT_ARCH_X86_64 && (listed[specs.ArchX86_64] || listed[specs.ArchX32]):
		name := specs.ArchX86_64
		if c.nr >= x32Bit {
			name = specs.ArchX32
		}
		if !listed[name] {
			return def
		}
		a = arches[name]
	default:
		found := false
		for name := range listed {
			if arches[name].audit == c.arch {
				a, found = arches[name], true
			}
		}
		if !found {
			return retKillThread
		}
	}
	if a.table == nil {
		return def
	}
	hasName := func(names []string) bool {
		for _, n := range names {
			if nr, ok := a.table()[n]; ok && nr == c.nr {
				return true
			}
		}
		return false
	}
	holds := func(cd specs.LinuxSeccompArg) bool {
		arg, v, v2 := c.args[cd.Index], cd.Value, cd.ValueTwo
		if a.is32 {
			arg, v, v2 = uint64(uint32(arg)), uint64(uint32(v)), uint64(uint32(v2))
		}
		switch cd.Op {
		case specs.OpEqualTo:
			return arg == v
		case specs.OpNotEqual:
			return arg != v
		case specs.OpLessThan:
			return arg < v
		case specs.OpLessEqual:
			return arg <= v
		case specs.OpGreaterThan:
			return arg > v
		case specs.OpGreaterEqual:
			return arg >= v
		case specs.OpMaskedEqual:
			return arg&v == v2
		}
		panic("oracle: unexpected operator " + cd.Op)
	}

	type alt struct {
		conds []specs.LinuxSeccompArg
		ret   uint32
	}
	var alts []alt
	for _, s := range cfg.Syscalls {
		r := ret(s.Action, s.ErrnoRet)
		if r == def || !hasName(s.Names) {
			continue
		}
		seen := map[uint]bool{}
		dup := false
		for _, arg := range s.Args {
			dup = dup || seen[arg.Index]
			seen[arg.Index] = true
		}
		if dup {
			for _, arg := range s.Args {
				alts = append(alts, alt{[]specs.LinuxSeccompArg{arg}, r})
			}
		} else {
			alts = append(alts, alt{s.Args, r})
		}
	}
	for _, al := range alts {
		if len(al.conds) == 0 {
			return al.ret
		}
	}
	for _, al := range alts {
		ok := true
		for _, cd := range al.conds {
			ok = ok && holds(cd)
		}
		if ok {
			return al.ret
		}
	}
	return def
}
