package seccomp

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fuzzReader hands out the fuzz input a byte at a time, then zeros.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fuzzReader) u64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = r.byte()
	}
	return binary.LittleEndian.Uint64(buf[:])
}

// pickMostly picks from valid, or from invalid when the byte is 248 or
// more, so that most inputs compile.
func pickMostly[T any](r *fuzzReader, valid, invalid []T) T {
	b := int(r.byte())
	if b >= 248 {
		return invalid[b%len(invalid)]
	}
	return valid[b%len(valid)]
}

// errno reads a control byte and a 16-bit value. Odd control bytes set
// errnoRet when act takes one; control bytes 248..255 set it to a value
// above 16 bits whatever act is, which is invalid.
func (r *fuzzReader) errno(act specs.LinuxSeccompAction) *uint {
	ctl := r.byte()
	v := uint(r.byte()) | uint(r.byte())<<8
	switch {
	case ctl >= 248:
		v += 0x10000
		return &v
	case ctl%2 == 1 && (act == specs.ActErrno || act == specs.ActTrace):
		return &v
	}
	return nil
}

var (
	fuzzBadActions = []specs.LinuxSeccompAction{specs.ActNotify, "", "SCMP_ACT_BOGUS"}
	fuzzBadOps     = []specs.LinuxSeccompOperator{"", "SCMP_CMP_BOGUS"}
	fuzzArches     = append(slices.Clone(testArches), specs.ArchS390X)
	fuzzBadArches  = []specs.Arch{"SCMP_ARCH_BOGUS"}
	fuzzNatives    = []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64, specs.ArchX86, specs.ArchARM}
	fuzzBadNatives = []specs.Arch{specs.ArchRISCV64}
	fuzzFlags      = []specs.LinuxSeccompFlag{flagTSYNC, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}
	fuzzBadFlags   = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv, "SECCOMP_FILTER_FLAG_BOGUS"}
	fuzzNames      = append(slices.Clone(testNames), "no_such_syscall", "arch_prctl", "kill", "exit_group")
	fuzzBadNames   = []string{""}
)

// decodeProfile builds a profile from fuzz input. Layout, one byte per
// choice (taken modulo the number of options; bytes 248..255 pick an
// invalid option where there are some, see pickMostly):
//
//	default action, errno (3 bytes, see fuzzReader.errno), native arch,
//	#arches (mod 4) + one byte per arch, #flags (mod 3) + one byte each,
//	#syscalls (mod 24) and per syscall:
//	  #names (1 + mod 3) + one byte per name, action, errno (3 bytes),
//	  #args (mod 4) and per arg: index (mod 7), op, value (8 bytes LE),
//	  valueTwo (8 bytes LE).
//
// Whatever input is left seeds the random calls the program is run on.
func decodeProfile(r *fuzzReader) (*specs.LinuxSeccomp, specs.Arch) {
	cfg := &specs.LinuxSeccomp{DefaultAction: pickMostly(r, testActions, fuzzBadActions)}
	cfg.DefaultErrnoRet = r.errno(cfg.DefaultAction)
	native := pickMostly(r, fuzzNatives, fuzzBadNatives)
	for range r.byte() % 4 {
		cfg.Architectures = append(cfg.Architectures, pickMostly(r, fuzzArches, fuzzBadArches))
	}
	for range r.byte() % 3 {
		cfg.Flags = append(cfg.Flags, pickMostly(r, fuzzFlags, fuzzBadFlags))
	}
	for range r.byte() % 24 {
		var s specs.LinuxSyscall
		for range 1 + r.byte()%3 {
			s.Names = append(s.Names, pickMostly(r, fuzzNames, fuzzBadNames))
		}
		s.Action = pickMostly(r, testActions, fuzzBadActions)
		s.ErrnoRet = r.errno(s.Action)
		for range r.byte() % 4 {
			s.Args = append(s.Args, specs.LinuxSeccompArg{
				Index:    uint(r.byte() % 7),
				Op:       pickMostly(r, testOps, fuzzBadOps),
				Value:    r.u64(),
				ValueTwo: r.u64(),
			})
		}
		cfg.Syscalls = append(cfg.Syscalls, s)
	}
	return cfg, native
}

// FuzzCompile checks that compile never panics, and that every program
// it returns fits the kernel's limit, loads in the BPF VM and answers
// like the oracle.
func FuzzCompile(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &fuzzReader{b: in}
		cfg, native := decodeProfile(r)
		prog, err := compile(cfg, native)
		if err != nil {
			if prog != nil {
				t.Fatalf("compile returned a program and an error: %v", err)
			}
			return
		}
		if len(prog) == 0 || len(prog) > maxInstructions {
			t.Fatalf("program has %d instructions", len(prog))
		}
		v, err := loadVM(prog)
		if err != nil {
			t.Fatal(err)
		}
		h := fnv.New64a()
		h.Write(r.b)
		rng := rand.New(rand.NewPCG(h.Sum64(), uint64(len(in))))
		for range 32 {
			c := randomCall(rng, cfg, native)
			got, err := v.Run(c.data())
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if want := oracle(cfg, native, c); uint32(got) != want {
				t.Fatalf("%+v on %s: arch %#x nr %#x args %#x = %s, want %s", cfg, native, c.arch, c.nr, c.args, retName(uint32(got)), retName(want))
			}
		}
	})
}
