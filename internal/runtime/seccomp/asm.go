//go:build linux

package seccomp

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// maxInstructions is the kernel's BPF_MAXINSNS: the longest filter that
// seccomp(2) accepts.
const maxInstructions = 4096

// Classic BPF opcodes used by the compiler.
const (
	opLdAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	opAndK   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	opJa     = unix.BPF_JMP | unix.BPF_JA
	opJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJgtK   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	opJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	opRetK   = unix.BPF_RET | unix.BPF_K
)

// label names a position in the program: the instruction emitted after
// bind. Jumps target labels; assemble turns them into offsets.
type label int

// item is one element of the program being built: an instruction, or
// (bind != noLabel) the definition of a label.
type item struct {
	bind   label
	code   uint16
	k      uint32
	jt, jf label // conditional jump targets
	target label // ja target
}

const noLabel label = -1

// assembler builds a classic BPF program with symbolic forward jumps.
// Conditional jumps have 8-bit offsets; assemble reaches farther targets
// through trampolines (a ja, or a copy of the ret it would jump to)
// inserted right after the jump.
type assembler struct {
	items   []item
	nlabels int
}

func (a *assembler) newLabel() label {
	a.nlabels++
	return label(a.nlabels - 1)
}

func (a *assembler) bind(l label) {
	a.items = append(a.items, item{bind: l, jt: noLabel, jf: noLabel, target: noLabel})
}

func (a *assembler) insn(code uint16, k uint32) {
	a.items = append(a.items, item{bind: noLabel, code: code, k: k, jt: noLabel, jf: noLabel, target: noLabel})
}

// load loads the 32-bit word at off in seccomp_data into A.
func (a *assembler) load(off uint32) { a.insn(opLdAbsW, off) }

func (a *assembler) and(k uint32) { a.insn(opAndK, k) }

func (a *assembler) ret(k uint32) { a.insn(opRetK, k) }

// jump emits a conditional jump (opJeqK, opJgtK or opJgeK) comparing A
// with k.
func (a *assembler) jump(code uint16, k uint32, jt, jf label) {
	a.items = append(a.items, item{bind: noLabel, code: code, k: k, jt: jt, jf: jf, target: noLabel})
}

func (a *assembler) ja(l label) {
	a.items = append(a.items, item{bind: noLabel, code: opJa, jt: noLabel, jf: noLabel, target: l})
}

func isCond(code uint16) bool {
	return code&0x07 == unix.BPF_JMP && code != opJa
}

// layout computes each label's program counter and, per label, the index
// in items of the instruction it designates.
func (a *assembler) layout() (pcs []int, at []int, n int) {
	pcs = make([]int, a.nlabels)
	at = make([]int, a.nlabels)
	for i := range pcs {
		pcs[i], at[i] = -1, -1
	}
	var pending []label
	for i, it := range a.items {
		if it.bind != noLabel {
			pcs[it.bind] = n
			pending = append(pending, it.bind)
			continue
		}
		for _, l := range pending {
			at[l] = i
		}
		pending = pending[:0]
		n++
	}
	return pcs, at, n
}

// offset returns the jump offset from the instruction at pc to l.
func offset(pcs, at []int, pc int, l label) (int, error) {
	if l < 0 || int(l) >= len(pcs) || at[l] < 0 {
		return 0, errors.New("jump to a label without an instruction")
	}
	off := pcs[l] - (pc + 1)
	if off < 0 {
		return 0, errors.New("backward jump")
	}
	return off, nil
}

// fixFarJumps inserts trampolines for conditional jumps whose targets are
// out of 8-bit reach. It reports whether it changed anything.
func (a *assembler) fixFarJumps() (bool, error) {
	pcs, at, _ := a.layout()
	changed := false
	out := make([]item, 0, len(a.items))
	pc := 0
	for _, it := range a.items {
		if it.bind != noLabel {
			out = append(out, it)
			continue
		}
		if !isCond(it.code) {
			out = append(out, it)
			pc++
			continue
		}
		var tramps []item
		for _, t := range []*label{&it.jt, &it.jf} {
			off, err := offset(pcs, at, pc, *t)
			if err != nil {
				return false, err
			}
			if off <= 0xff {
				continue
			}
			l := a.newLabel()
			tramps = append(tramps, item{bind: l, jt: noLabel, jf: noLabel, target: noLabel})
			if dst := a.items[at[*t]]; dst.code == opRetK {
				tramps = append(tramps, item{bind: noLabel, code: opRetK, k: dst.k, jt: noLabel, jf: noLabel, target: noLabel})
			} else {
				tramps = append(tramps, item{bind: noLabel, code: opJa, jt: noLabel, jf: noLabel, target: *t})
			}
			*t = l
			changed = true
		}
		out = append(out, it)
		out = append(out, tramps...)
		pc++
	}
	a.items = out
	return changed, nil
}

// assemble resolves labels and returns the program.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	for {
		changed, err := a.fixFarJumps()
		if err != nil {
			return nil, fmt.Errorf("assemble filter: %w", err)
		}
		if !changed {
			break
		}
	}
	pcs, at, n := a.layout()
	if n > maxInstructions {
		return nil, fmt.Errorf("filter has %d instructions, more than the kernel's limit of %d", n, maxInstructions)
	}
	prog := make([]unix.SockFilter, 0, n)
	for _, it := range a.items {
		if it.bind != noLabel {
			continue
		}
		pc := len(prog)
		ins := unix.SockFilter{Code: it.code, K: it.k}
		switch {
		case it.code == opJa:
			off, err := offset(pcs, at, pc, it.target)
			if err != nil {
				return nil, fmt.Errorf("assemble filter: %w", err)
			}
			ins.K = uint32(off)
		case isCond(it.code):
			jt, err := offset(pcs, at, pc, it.jt)
			if err != nil {
				return nil, fmt.Errorf("assemble filter: %w", err)
			}
			jf, err := offset(pcs, at, pc, it.jf)
			if err != nil {
				return nil, fmt.Errorf("assemble filter: %w", err)
			}
			ins.Jt, ins.Jf = uint8(jt), uint8(jf)
		}
		prog = append(prog, ins)
	}
	if len(prog) == 0 || prog[len(prog)-1].Code != opRetK {
		return nil, errors.New("assemble filter: program does not end with a return")
	}
	return prog, nil
}
