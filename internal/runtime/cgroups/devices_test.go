package cgroups

import (
	"math/rand"
	"testing"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runFilter interprets the subset of eBPF that deviceFilter emits, against
// a struct bpf_cgroup_dev_ctx {u32 access_type; u32 major; u32 minor}. The
// kernel runs the same program in TestKernelDeviceFilter.
func runFilter(t *testing.T, insts asm.Instructions, typ, access, major, minor uint32) uint64 {
	t.Helper()
	syms := map[string]int{}
	for i, ins := range insts {
		if s := ins.Symbol(); s != "" {
			syms[s] = i
		}
	}
	ctx := [3]uint32{typ | access<<16, major, minor}
	var reg [11]uint64
	for pc := 0; pc < len(insts); {
		ins := insts[pc]
		op := ins.OpCode
		switch op.Class() {
		case asm.LdXClass:
			if ins.Src != asm.R1 || op.Size() != asm.Word || ins.Offset < 0 || ins.Offset > 8 || ins.Offset%4 != 0 {
				t.Fatalf("pc %d: unexpected load %v", pc, ins)
			}
			reg[ins.Dst] = uint64(ctx[ins.Offset/4])
		case asm.ALUClass:
			src := uint32(reg[ins.Src])
			if op.Source() == asm.ImmSource {
				src = uint32(ins.Constant)
			}
			dst := uint32(reg[ins.Dst])
			switch op.ALUOp() {
			case asm.Mov:
				dst = src
			case asm.And:
				dst &= src
			case asm.Or:
				dst |= src
			case asm.RSh:
				dst >>= src
			default:
				t.Fatalf("pc %d: unexpected ALU op %v", pc, ins)
			}
			reg[ins.Dst] = uint64(dst) // 32-bit ALU ops zero the upper half
		case asm.JumpClass:
			switch op.JumpOp() {
			case asm.Exit:
				return reg[asm.R0]
			case asm.JNE:
				src := reg[ins.Src]
				if op.Source() == asm.ImmSource {
					src = uint64(ins.Constant)
				}
				if reg[ins.Dst] != src {
					target, ok := syms[ins.Reference()]
					if !ok || target <= pc {
						t.Fatalf("pc %d: jump to %q (index %d, found %v) is not forward", pc, ins.Reference(), target, ok)
					}
					pc = target
					continue
				}
			default:
				t.Fatalf("pc %d: unexpected jump %v", pc, ins)
			}
		default:
			t.Fatalf("pc %d: unexpected instruction %v", pc, ins)
		}
		pc++
	}
	t.Fatal("program fell off its end")
	return 0
}

// refAllowed is the specification: default deny, the last matching rule
// decides each access bit.
func refAllowed(rules []deviceRule, typ byte, major, minor int64, access uint32) bool {
	var granted uint32
	for _, r := range rules {
		if (r.typ != 'a' && r.typ != typ) || (r.major >= 0 && r.major != major) || (r.minor >= 0 && r.minor != minor) {
			continue
		}
		if r.allow {
			granted |= r.access
		} else {
			granted &^= r.access
		}
	}
	return granted&access == access
}

func filterAllows(t *testing.T, rules []deviceRule, typ byte, major, minor int64, access uint32) bool {
	t.Helper()
	bpfType := uint32(devChar)
	if typ == 'b' {
		bpfType = devBlock
	}
	return runFilter(t, deviceFilter(rules), bpfType, access, uint32(major), uint32(minor)) == 1
}

func TestDeviceFilter(t *testing.T) {
	t.Parallel()
	dev := func(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: &major, Minor: &minor, Access: access}
	}
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	allowAll := specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}
	type query struct {
		typ          byte
		major, minor int64
		access       uint32
		want         bool
	}
	tests := []struct {
		name    string
		rules   []specs.LinuxDeviceCgroup
		queries []query
	}{
		{
			name:  "empty denies",
			rules: nil,
			queries: []query{
				{'c', 1, 3, accRead, false},
			},
		},
		{
			name:  "allow list",
			rules: []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rwm"), dev(true, "c", 136, -1, "rw")},
			queries: []query{
				{'c', 1, 3, accRead | accWrite, true},
				{'c', 1, 3, accMknod, true},
				{'b', 1, 3, accRead, false},
				{'c', 1, 5, accRead, false},
				{'c', 136, 7, accRead | accWrite, true},
				{'c', 136, 7, accMknod, false},
			},
		},
		{
			name:  "privileged",
			rules: []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "r"), allowAll},
			queries: []query{
				{'c', 1, 3, accAll, true},
				{'b', 8, 0, accAll, true},
			},
		},
		{
			name:  "hole in a wildcard",
			rules: []specs.LinuxDeviceCgroup{dev(true, "c", -1, -1, "rwm"), dev(false, "c", 1, 3, "w")},
			queries: []query{
				{'c', 1, 3, accRead, true},
				{'c', 1, 3, accRead | accWrite, false},
				{'c', 1, 5, accRead | accWrite, true},
				{'b', 1, 3, accRead, false},
			},
		},
		{
			name:  "bits from several rules",
			rules: []specs.LinuxDeviceCgroup{dev(true, "c", 1, -1, "r"), dev(true, "c", -1, 3, "w")},
			queries: []query{
				{'c', 1, 3, accRead | accWrite, true},
				{'c', 1, 4, accRead | accWrite, false},
			},
		},
		{
			name:  "deny after allow wins",
			rules: []specs.LinuxDeviceCgroup{allowAll, dev(false, "", -1, -1, "m")},
			queries: []query{
				{'c', 1, 3, accMknod, false},
				{'b', 8, 0, accRead | accWrite, true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := parseDeviceRules(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range tt.queries {
				if got := filterAllows(t, rules, q.typ, q.major, q.minor, q.access); got != q.want {
					t.Errorf("filter(%c %d:%d access %b) = %v, want %v", q.typ, q.major, q.minor, q.access, got, q.want)
				}
				if got := refAllowed(rules, q.typ, q.major, q.minor, q.access); got != q.want {
					t.Errorf("refAllowed(%c %d:%d access %b) = %v, want %v", q.typ, q.major, q.minor, q.access, got, q.want)
				}
			}
		})
	}
}

// TestDeviceFilterMatchesSpec compares the program with refAllowed on random
// rule lists.
func TestDeviceFilterMatchesSpec(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	types := []byte{'a', 'b', 'c'}
	nums := []int64{-1, 1, 3, 5}
	for iter := 0; iter < 2000; iter++ {
		rules := make([]deviceRule, rng.Intn(8))
		for i := range rules {
			rules[i] = deviceRule{
				allow:  rng.Intn(2) == 0,
				typ:    types[rng.Intn(3)],
				major:  nums[rng.Intn(len(nums))],
				minor:  nums[rng.Intn(len(nums))],
				access: uint32(rng.Intn(8)),
			}
		}
		for q := 0; q < 20; q++ {
			typ := types[1+rng.Intn(2)]
			major, minor := nums[1+rng.Intn(3)], nums[1+rng.Intn(3)]
			access := uint32(1 + rng.Intn(7))
			want := refAllowed(rules, typ, major, minor, access)
			if got := filterAllows(t, rules, typ, major, minor, access); got != want {
				t.Fatalf("rules %+v: filter(%c %d:%d access %b) = %v, want %v", rules, typ, major, minor, access, got, want)
			}
		}
	}
}
