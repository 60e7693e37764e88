//go:build linux

package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNotifyUnsupported is returned for profiles that use SCMP_ACT_NOTIFY
// (or the flag that only makes sense with it): Shoal has no seccomp agent.
var ErrNotifyUnsupported = errors.New("seccomp notify is not supported")

// Offsets in struct seccomp_data (include/uapi/linux/seccomp.h):
//
//	0  int   nr
//	4  u32   arch
//	8  u64   instruction_pointer
//	16 u64   args[6]
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
	maxArgs = 6
)

// badArchRet is returned for an audit arch the filter does not list; it
// is what libseccomp does by default (SCMP_ACT_KILL, i.e. kill thread).
const badArchRet = unix.SECCOMP_RET_KILL_THREAD

// flagTSYNC is the spelling runc accepts for SECCOMP_FILTER_FLAG_TSYNC;
// the runtime spec has no constant for it.
const flagTSYNC specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// Compile turns cfg into a seccomp BPF program for the architecture of
// this process plus every architecture in cfg.Architectures. A nil cfg
// compiles to a nil program. The layout and the rule semantics are
// described in the package documentation.
func Compile(cfg *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	return compile(cfg, nativeArch())
}

// cond is one argument comparison.
type cond struct {
	index           uint
	op              specs.LinuxSeccompOperator
	value, valueTwo uint64
}

// rule is one alternative for a syscall: when all conds hold (an empty
// list always holds) the filter returns ret.
type rule struct {
	conds []cond
	ret   uint32
}

// syscallRule is one entry of cfg.Syscalls after validation.
type syscallRule struct {
	names []string
	rules []rule
}

func compile(cfg *specs.LinuxSeccomp, native specs.Arch) ([]unix.SockFilter, error) {
	if cfg == nil {
		return nil, nil
	}
	def, err := actionRet(cfg.DefaultAction, cfg.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("default action: %w", err)
	}
	if _, err := filterFlags(cfg.Flags); err != nil {
		return nil, err
	}
	archs, err := resolveArches(native, cfg.Architectures)
	if err != nil {
		return nil, err
	}
	calls, err := parseSyscalls(cfg.Syscalls, def)
	if err != nil {
		return nil, err
	}
	c := &compiler{def: def, calls: calls}
	c.emitProgram(archs)
	prog, err := c.a.assemble()
	if err != nil {
		return nil, err
	}
	return prog, nil
}

// actionRet returns the SECCOMP_RET_* value for act. errnoRet is the
// errno (SCMP_ACT_ERRNO) or tracer message (SCMP_ACT_TRACE); EPERM when
// nil, like runc.
func actionRet(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		if act != specs.ActErrno && act != specs.ActTrace {
			return 0, fmt.Errorf("errnoRet is only valid with %s and %s, not %q", specs.ActErrno, specs.ActTrace, act)
		}
		if *errnoRet > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errnoRet %d does not fit in 16 bits", *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch act {
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | data, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | data, nil
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, ErrNotifyUnsupported
	}
	return 0, fmt.Errorf("unknown action %q", act)
}

// filterFlags returns the seccomp(2) flags that flags ask for.
func filterFlags(flags []specs.LinuxSeccompFlag) (uint, error) {
	var out uint
	for _, f := range flags {
		switch f {
		case flagTSYNC:
			out |= unix.SECCOMP_FILTER_FLAG_TSYNC
		case specs.LinuxSeccompFlagLog:
			out |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			out |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			return 0, fmt.Errorf("flag %s: %w", f, ErrNotifyUnsupported)
		default:
			return 0, fmt.Errorf("unknown seccomp flag %q", f)
		}
	}
	return out, nil
}

func validOp(op specs.LinuxSeccompOperator) bool {
	switch op {
	case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
		return true
	}
	return false
}

// parseSyscalls validates calls and turns each into alternatives. Rules
// whose action is the default action are dropped, as runc does. When two
// conditions of one entry test the same argument, every condition of the
// entry becomes a rule of its own (OR), as runc does; otherwise all the
// conditions form one rule (AND).
func parseSyscalls(calls []specs.LinuxSyscall, def uint32) ([]syscallRule, error) {
	out := make([]syscallRule, 0, len(calls))
	for i, call := range calls {
		ret, err := actionRet(call.Action, call.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscall rule %d: %w", i, err)
		}
		if len(call.Names) == 0 {
			return nil, fmt.Errorf("syscall rule %d: no syscall names", i)
		}
		if slices.Contains(call.Names, "") {
			return nil, fmt.Errorf("syscall rule %d: empty syscall name", i)
		}
		var counts [maxArgs]int
		split := false
		conds := make([]cond, 0, len(call.Args))
		for _, arg := range call.Args {
			if !validOp(arg.Op) {
				return nil, fmt.Errorf("syscall rule %d: unknown operator %q", i, arg.Op)
			}
			if arg.Index >= maxArgs {
				return nil, fmt.Errorf("syscall rule %d: argument index %d out of range 0..%d", i, arg.Index, maxArgs-1)
			}
			counts[arg.Index]++
			split = split || counts[arg.Index] > 1
			conds = append(conds, cond{index: arg.Index, op: arg.Op, value: arg.Value, valueTwo: arg.ValueTwo})
		}
		if ret == def {
			continue
		}
		sr := syscallRule{names: call.Names}
		if split {
			for _, c := range conds {
				sr.rules = append(sr.rules, rule{conds: []cond{c}, ret: ret})
			}
		} else {
			sr.rules = []rule{{conds: conds, ret: ret}}
		}
		out = append(out, sr)
	}
	return out, nil
}

// rulesFor resolves the rules for one architecture: syscall number →
// alternatives in profile order. Names the architecture lacks are
// skipped. An unconditional rule replaces everything else for its
// syscall (the first one wins), as in libseccomp.
func rulesFor(a arch, calls []syscallRule) map[uint32][]rule {
	m := map[uint32][]rule{}
	for _, call := range calls {
		for _, name := range call.names {
			nr, ok := a.table()[name]
			if !ok {
				continue
			}
			m[nr] = append(m[nr], call.rules...)
		}
	}
	for nr, rules := range m {
		var kept []rule
		for _, r := range rules {
			if len(r.conds) == 0 {
				kept = []rule{r}
				break
			}
			if !slices.ContainsFunc(kept, func(k rule) bool { return sameRule(k, r) }) {
				kept = append(kept, r)
			}
		}
		m[nr] = kept
	}
	return m
}

func sameRule(a, b rule) bool {
	return a.ret == b.ret && slices.Equal(a.conds, b.conds)
}

// class is the code a syscall number dispatches to: a plain return, or a
// chain of rules shared by every syscall with the same rules.
type class struct {
	isRet bool
	ret   uint32
	rules []rule
	lbl   label
}

type interval struct {
	lo, hi uint64 // inclusive
	cls    int
}

type compiler struct {
	a     assembler
	def   uint32
	calls []syscallRule
}

// auditEntry is one value of seccomp_data.arch the filter accepts.
type auditEntry struct {
	audit uint32
	main  *arch // the architecture owning audit (nil: only x32 listed)
	x32   *arch // set for AUDIT_ARCH_X86_64 when X32 is listed
	lbl   label
}

func (c *compiler) emitProgram(archs []arch) {
	var entries []*auditEntry
	byAudit := map[uint32]*auditEntry{}
	for i := range archs {
		a := &archs[i]
		e := byAudit[a.audit]
		if e == nil {
			e = &auditEntry{audit: a.audit, lbl: c.a.newLabel()}
			byAudit[a.audit] = e
			entries = append(entries, e)
		}
		if a.name == specs.ArchX32 {
			e.x32 = a
		} else {
			e.main = a
		}
	}

	retDef := c.a.newLabel()
	c.a.load(offArch)
	for _, e := range entries {
		target := e.lbl
		if e.x32 == nil && e.main.table == nil {
			target = retDef
		}
		next := c.a.newLabel()
		c.a.jump(opJeqK, e.audit, target, next)
		c.a.bind(next)
	}
	c.a.ret(badArchRet)

	for _, e := range entries {
		if e.x32 == nil && e.main.table == nil {
			continue
		}
		c.a.bind(e.lbl)
		c.a.load(offNr)
		if e.audit != unix.AUDIT_ARCH_X86_64 {
			c.emitDispatch(e.main, 0, 0xffffffff)
			continue
		}
		// x86_64 and x32 share the audit arch; the x32 bit in nr
		// tells them apart. An ABI that is not listed gets the
		// default action.
		x64, x32 := c.a.newLabel(), c.a.newLabel()
		c.a.jump(opJgeK, x32Bit, x32, x64)
		c.a.bind(x64)
		if e.main != nil {
			c.emitDispatch(e.main, 0, x32Bit-1)
		} else {
			c.a.ret(c.def)
		}
		c.a.bind(x32)
		if e.x32 != nil {
			c.emitDispatch(e.x32, x32Bit, 0xffffffff)
		} else {
			c.a.ret(c.def)
		}
	}
	c.a.bind(retDef)
	c.a.ret(c.def)
}

// emitDispatch emits, for syscall numbers in [lo, hi] (already in A), a
// binary search over ranges of numbers that share their code, followed
// by the rule chains the search jumps to.
func (c *compiler) emitDispatch(a *arch, lo, hi uint64) {
	rules := rulesFor(*a, c.calls)
	classes := []*class{{isRet: true, ret: c.def}}
	byKey := map[string]int{}
	nrs := make([]uint32, 0, len(rules))
	for nr := range rules {
		if uint64(nr) >= lo && uint64(nr) <= hi {
			nrs = append(nrs, nr)
		}
	}
	slices.Sort(nrs)

	var ivs []interval
	add := func(lo, hi uint64, cls int) {
		if n := len(ivs); n > 0 && ivs[n-1].cls == cls && ivs[n-1].hi+1 == lo {
			ivs[n-1].hi = hi
			return
		}
		ivs = append(ivs, interval{lo, hi, cls})
	}
	next := lo
	for _, nr := range nrs {
		rs := rules[nr]
		key := fmt.Sprint(rs)
		cls, ok := byKey[key]
		if !ok {
			cl := &class{rules: rs}
			if len(rs) == 1 && len(rs[0].conds) == 0 {
				cl.isRet, cl.ret = true, rs[0].ret
			} else {
				cl.lbl = c.a.newLabel()
			}
			cls = len(classes)
			classes = append(classes, cl)
			byKey[key] = cls
		}
		if uint64(nr) > next {
			add(next, uint64(nr)-1, 0)
		}
		add(uint64(nr), uint64(nr), cls)
		next = uint64(nr) + 1
	}
	if next <= hi {
		add(next, hi, 0)
	}

	c.emitTree(ivs, classes)
	for _, cl := range classes {
		if cl.isRet {
			continue
		}
		c.a.bind(cl.lbl)
		c.emitChain(a.is32, cl.rules)
	}
}

// emitTree emits a balanced binary search over ivs, comparing the
// syscall number in A with range boundaries.
func (c *compiler) emitTree(ivs []interval, classes []*class) {
	if len(ivs) == 1 {
		cl := classes[ivs[0].cls]
		if cl.isRet {
			c.a.ret(cl.ret)
		} else {
			c.a.ja(cl.lbl)
		}
		return
	}
	target := func(part []interval) (label, bool) {
		if len(part) == 1 && !classes[part[0].cls].isRet {
			return classes[part[0].cls].lbl, false
		}
		return c.a.newLabel(), true
	}
	mid := len(ivs) / 2
	left, right := ivs[:mid], ivs[mid:]
	lt, leftInline := target(left)
	rt, rightInline := target(right)
	c.a.jump(opJgeK, uint32(right[0].lo), rt, lt)
	if leftInline {
		c.a.bind(lt)
		c.emitTree(left, classes)
	}
	if rightInline {
		c.a.bind(rt)
		c.emitTree(right, classes)
	}
}

// emitChain emits rules tried in order, then the default action.
func (c *compiler) emitChain(is32 bool, rules []rule) {
	for _, r := range rules {
		next := c.a.newLabel()
		for _, cd := range r.conds {
			pass := c.a.newLabel()
			c.emitCond(is32, cd, pass, next)
			c.a.bind(pass)
		}
		c.a.ret(r.ret)
		c.a.bind(next)
	}
	c.a.ret(c.def)
}

// emitCond emits a test of one argument that jumps to pass or fail; the
// caller binds pass right after the emitted code.
// Arguments are 64-bit little-endian in seccomp_data: the low word at
// offArgs+8*i, the high word 4 bytes later. Comparisons are unsigned. On
// 32-bit architectures only the low word is compared, with the value
// truncated to 32 bits, as libseccomp does.
func (c *compiler) emitCond(is32 bool, cd cond, pass, fail label) {
	offLo := uint32(offArgs + 8*cd.index)
	offHi := offLo + 4
	vLo, vHi := uint32(cd.value), uint32(cd.value>>32)

	if cd.op == specs.OpMaskedEqual {
		mask, datum := cd.value, cd.valueTwo
		if !is32 {
			cont := c.a.newLabel()
			if !c.emitMaskedWord(offHi, uint32(mask>>32), uint32(datum>>32), cont, fail) {
				return
			}
			c.a.bind(cont)
		}
		c.emitMaskedWord(offLo, uint32(mask), uint32(datum), pass, fail)
		return
	}

	if !is32 {
		// Decide on the high words; fall through to the low words
		// only when they are equal.
		low := c.a.newLabel()
		c.a.load(offHi)
		switch cd.op {
		case specs.OpEqualTo:
			c.a.jump(opJeqK, vHi, low, fail)
		case specs.OpNotEqual:
			c.a.jump(opJeqK, vHi, low, pass)
		case specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual:
			above, below := pass, fail // where hi > vHi and hi < vHi lead
			if cd.op == specs.OpLessThan || cd.op == specs.OpLessEqual {
				above, below = fail, pass
			}
			if vHi == 0 {
				c.a.jump(opJgtK, 0, above, low)
			} else {
				notAbove := c.a.newLabel()
				c.a.jump(opJgtK, vHi, above, notAbove)
				c.a.bind(notAbove)
				c.a.jump(opJeqK, vHi, low, below)
			}
		}
		c.a.bind(low)
	}
	c.a.load(offLo)
	switch cd.op {
	case specs.OpEqualTo:
		c.a.jump(opJeqK, vLo, pass, fail)
	case specs.OpNotEqual:
		c.a.jump(opJeqK, vLo, fail, pass)
	case specs.OpGreaterThan:
		c.a.jump(opJgtK, vLo, pass, fail)
	case specs.OpGreaterEqual:
		c.a.jump(opJgeK, vLo, pass, fail)
	case specs.OpLessThan:
		c.a.jump(opJgeK, vLo, fail, pass)
	case specs.OpLessEqual:
		c.a.jump(opJgtK, vLo, fail, pass)
	}
}

// emitMaskedWord tests (word at off) & mask == datum, jumping to pass or
// fail; pass must be bound right after the emitted code. It returns
// false when the test can never pass (datum has bits outside mask) and
// it emitted a jump to fail.
func (c *compiler) emitMaskedWord(off, mask, datum uint32, pass, fail label) bool {
	switch {
	case datum&^mask != 0:
		c.a.ja(fail)
		return false
	case mask == 0:
		return true // always true: fall through to pass
	}
	c.a.load(off)
	if mask != 0xffffffff {
		c.a.and(mask)
	}
	c.a.jump(opJeqK, datum, pass, fail)
	return true
}
