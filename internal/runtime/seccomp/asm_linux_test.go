package seccomp

import (
	"strings"
	"testing"
)

// TestAssemblerFarJumps checks both kinds of trampoline: a copy of a far
// ret, and a ja to far code that is not a ret.
func TestAssemblerFarJumps(t *testing.T) {
	for _, pad := range []int{0, 200, 255, 256, 300, 1000} {
		var a assembler
		farRet, farCode, near := a.newLabel(), a.newLabel(), a.newLabel()
		a.load(offNr)
		a.jump(opJeqK, 1, farRet, near)
		a.bind(near)
		next := a.newLabel()
		a.jump(opJeqK, 2, farCode, next)
		a.bind(next)
		for range pad {
			a.ret(100)
		}
		a.ret(3) // reached by nothing but padding when pad is 0
		a.bind(farRet)
		a.ret(10)
		a.bind(farCode)
		a.load(offArch)
		a.ret(20)
		prog, err := a.assemble()
		if err != nil {
			t.Fatalf("pad %d: %v", pad, err)
		}
		v := newVM(t, prog)
		for nr, want := range map[uint32]uint32{1: 10, 2: 20, 3: 100} {
			if pad == 0 && nr == 3 {
				want = 3
			}
			if got := v.run(t, call{nr: nr, arch: 20}); got != want {
				t.Errorf("pad %d: nr %d = %d, want %d", pad, nr, got, want)
			}
		}
		for i, ins := range prog {
			if isCond(ins.Code) && i+1+int(ins.Jt) >= len(prog) {
				t.Errorf("pad %d: instruction %d jumps out of the program", pad, i)
			}
		}
	}
}

func TestAssemblerErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(a *assembler)
		want  string
	}{
		{"unbound label", func(a *assembler) {
			l := a.newLabel()
			a.jump(opJeqK, 0, l, l)
			a.ret(0)
		}, "label without an instruction"},
		{"label at the end", func(a *assembler) {
			l := a.newLabel()
			a.ja(l)
			a.ret(0)
			a.bind(l)
		}, "label without an instruction"},
		{"backward jump", func(a *assembler) {
			l := a.newLabel()
			a.bind(l)
			a.ret(0)
			a.ja(l)
			a.ret(0)
		}, "backward jump"},
		{"no final ret", func(a *assembler) {
			a.load(0)
		}, "does not end with a return"},
		{"too long", func(a *assembler) {
			for range maxInstructions + 1 {
				a.ret(0)
			}
		}, "kernel's limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a assembler
			tt.build(&a)
			_, err := a.assemble()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("assemble() = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}
