package cgroups

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Device access bits and types as the kernel passes them to a
// BPF_PROG_TYPE_CGROUP_DEVICE program (include/uapi/linux/bpf.h).
const (
	accMknod = 1 // BPF_DEVCG_ACC_MKNOD
	accRead  = 2 // BPF_DEVCG_ACC_READ
	accWrite = 4 // BPF_DEVCG_ACC_WRITE
	accAll   = accMknod | accRead | accWrite

	devBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devChar  = 2 // BPF_DEVCG_DEV_CHAR
)

// deviceRule is a checked OCI device cgroup rule.
type deviceRule struct {
	allow  bool
	typ    byte  // 'a', 'b' or 'c'
	major  int64 // -1: any
	minor  int64 // -1: any
	access uint32
}

// all reports whether the rule covers every device and every access.
func (r deviceRule) all() bool {
	return r.typ == 'a' && r.major < 0 && r.minor < 0 && r.access == accAll
}

// parseDeviceRules checks OCI rules. An empty type means "a" (all devices)
// and an empty access means "rwm", as in runc.
func parseDeviceRules(in []specs.LinuxDeviceCgroup) ([]deviceRule, error) {
	out := make([]deviceRule, 0, len(in))
	for i, d := range in {
		r := deviceRule{allow: d.Allow, major: -1, minor: -1}
		switch d.Type {
		case "", "a":
			r.typ = 'a'
		case "b", "c":
			r.typ = d.Type[0]
		default:
			return nil, fmt.Errorf("%w: device rule %d: type %q (want a, b or c)", ErrInvalidResource, i, d.Type)
		}
		for _, p := range []struct {
			in  *int64
			out *int64
			n   string
		}{{d.Major, &r.major, "major"}, {d.Minor, &r.minor, "minor"}} {
			if p.in == nil || *p.in == -1 {
				continue
			}
			if *p.in < 0 || *p.in > math.MaxInt32 {
				return nil, fmt.Errorf("%w: device rule %d: %s %d", ErrInvalidResource, i, p.n, *p.in)
			}
			*p.out = *p.in
		}
		access := d.Access
		if access == "" {
			access = "rwm"
		}
		for _, c := range access {
			switch c {
			case 'r':
				r.access |= accRead
			case 'w':
				r.access |= accWrite
			case 'm':
				r.access |= accMknod
			default:
				return nil, fmt.Errorf("%w: device rule %d: access %q (want letters of rwm)", ErrInvalidResource, i, d.Access)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// v1DeviceLines renders a rule for devices.allow or devices.deny. The kernel
// reads type "a" as "everything" whatever the numbers and access say, so a
// narrower "a" rule becomes one "b" and one "c" line.
func v1DeviceLines(r deviceRule) []string {
	if r.all() {
		return []string{"a"}
	}
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	acc := ""
	if r.access&accRead != 0 {
		acc += "r"
	}
	if r.access&accWrite != 0 {
		acc += "w"
	}
	if r.access&accMknod != 0 {
		acc += "m"
	}
	types := []byte{r.typ}
	if r.typ == 'a' {
		types = []byte{'c', 'b'}
	}
	var out []string
	for _, t := range types {
		out = append(out, fmt.Sprintf("%c %s:%s %s", t, num(r.major), num(r.minor), acc))
	}
	return out
}

// deviceFilter compiles rules to a BPF_PROG_TYPE_CGROUP_DEVICE program.
//
// Semantics: access is denied by default; the rules are applied in order and,
// for each access bit (read, write, mknod), the last rule that matches the
// device and names that bit decides. A request is allowed only if all of its
// bits are. This is what writing the rules in order to the v1
// devices.allow/devices.deny files means, except that a deny rule can punch
// a hole in a wildcard allow (v1 only removes exact matches).
//
// The program keeps the allowed bits in R6:
//
//	R2 = ctx->access_type & 0xffff   device type
//	R3 = ctx->access_type >> 16      requested access
//	R4 = ctx->major, R5 = ctx->minor
//	R6 = 0
//	rule-i:  if R2 != type goto rule-i+1   (omitted for type a)
//	         if R4 != major goto rule-i+1  (omitted for a wildcard)
//	         if R5 != minor goto rule-i+1  (omitted for a wildcard)
//	         R6 |= access  (allow)  or  R6 &= ^access  (deny)
//	rule-n:  R6 &= R3; R0 = 0; if R6 != R3 goto exit; R0 = 1
//	exit:    return R0
//
// Rules before the last one that covers everything are dropped: it decides
// every request alone and only sets the starting value of R6.
func deviceFilter(rules []deviceRule) asm.Instructions {
	start := int32(0)
	for i := len(rules) - 1; i >= 0; i-- {
		if rules[i].all() {
			if rules[i].allow {
				start = accAll
			}
			rules = rules[i+1:]
			break
		}
	}
	label := func(i int) string { return "rule-" + strconv.Itoa(i) }
	insts := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xffff),
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
		asm.Mov.Imm32(asm.R6, start),
	}
	n := 0
	for _, r := range rules {
		if r.access == 0 {
			continue // changes no bit
		}
		next := label(n + 1)
		var block asm.Instructions
		switch r.typ {
		case 'b':
			block = append(block, asm.JNE.Imm(asm.R2, devBlock, next))
		case 'c':
			block = append(block, asm.JNE.Imm(asm.R2, devChar, next))
		}
		if r.major >= 0 {
			block = append(block, asm.JNE.Imm(asm.R4, int32(r.major), next))
		}
		if r.minor >= 0 {
			block = append(block, asm.JNE.Imm(asm.R5, int32(r.minor), next))
		}
		if r.allow {
			block = append(block, asm.Or.Imm32(asm.R6, int32(r.access)))
		} else {
			block = append(block, asm.And.Imm32(asm.R6, int32(^r.access&accAll)))
		}
		block[0] = block[0].WithSymbol(label(n))
		insts = append(insts, block...)
		n++
	}
	return append(insts,
		asm.And.Reg32(asm.R6, asm.R3).WithSymbol(label(n)),
		asm.Mov.Imm32(asm.R0, 0),
		asm.JNE.Reg(asm.R6, asm.R3, "exit"),
		asm.Mov.Imm32(asm.R0, 1),
		asm.Return().WithSymbol("exit"),
	)
}
