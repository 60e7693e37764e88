package spec

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerSeccomp is Docker's seccomp profile format (moby/profiles): the
// OCI fields, plus an architecture map and syscall rules that apply only
// on some architectures, kernels or capability sets.
//
//	{
//	  "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
//	  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
//	  "syscalls": [
//	    {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
//	    {"name": "ptrace", "action": "SCMP_ACT_ALLOW",
//	     "includes": {"caps": ["CAP_SYS_PTRACE"], "arches": ["amd64"], "minKernel": "4.8"},
//	     "excludes": {...}, "args": [...], "comment": "..."}
//	  ]
//	}
type dockerSeccomp struct {
	specs.LinuxSeccomp
	ArchMap  []dockerArch     `json:"archMap,omitempty"`
	Syscalls []*dockerSyscall `json:"syscalls"` // shadows LinuxSeccomp.Syscalls
}

type dockerArch struct {
	Arch      specs.Arch   `json:"architecture"`
	SubArches []specs.Arch `json:"subArchitectures"`
}

type dockerSyscall struct {
	specs.LinuxSyscall
	Name     string        `json:"name,omitempty"` // the old, single-name form
	Comment  string        `json:"comment,omitempty"`
	Includes *dockerFilter `json:"includes,omitempty"`
	Excludes *dockerFilter `json:"excludes,omitempty"`
}

type dockerFilter struct {
	Caps      []string       `json:"caps,omitempty"`
	Arches    []string       `json:"arches,omitempty"`
	MinKernel *kernelVersion `json:"minKernel,omitempty"`
}

// kernelVersion is "<major>.<minor>"; patch levels and suffixes of the
// host's version are ignored when comparing.
type kernelVersion struct{ major, minor int }

func (k *kernelVersion) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf(`invalid kernel version: %s, expected "<kernel>.<major>": %w`, b, err)
	}
	if s == "" {
		return nil
	}
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 2 {
		return fmt.Errorf(`invalid kernel version: %s, expected "<kernel>.<major>"`, b)
	}
	var err error
	if k.major, err = strconv.Atoi(parts[0]); err != nil || k.major < 0 || k.major > 255 {
		return fmt.Errorf(`invalid kernel version: %s, expected "<kernel>.<major>"`, b)
	}
	if k.minor, err = strconv.Atoi(parts[1]); err != nil || k.minor < 0 || k.minor > 255 {
		return fmt.Errorf(`invalid kernel version: %s, expected "<kernel>.<major>"`, b)
	}
	if k.major == 0 && k.minor == 0 {
		return fmt.Errorf(`invalid kernel version: %s, expected "<kernel>.<major>": version cannot be 0.0`, b)
	}
	return nil
}

// seccompArchNames maps GOARCH to the names Docker's profiles use in
// "arches" (libseccomp's), and those to the architecture of archMap.
var seccompArchNames = map[string]struct {
	name string
	arch specs.Arch
}{
	"386":      {"x86", specs.ArchX86},
	"amd64":    {"amd64", specs.ArchX86_64},
	"arm":      {"arm", specs.ArchARM},
	"arm64":    {"arm64", specs.ArchAARCH64},
	"loong64":  {"loongarch64", specs.ArchLOONGARCH64},
	"mips64":   {"mips64", specs.ArchMIPS64},
	"mips64le": {"mipsel64", specs.ArchMIPSEL64},
	"mipsle":   {"mipsel", specs.ArchMIPSEL},
	"ppc64":    {"ppc64", specs.ArchPPC64},
	"ppc64le":  {"ppc64le", specs.ArchPPC64LE},
	"riscv64":  {"riscv64", specs.ArchRISCV64},
	"s390x":    {"s390x", specs.ArchS390X},
}

// convertDockerSeccomp turns a profile in Docker's format into the OCI
// form for this host's architecture and kernel and a container holding
// caps, as dockerd's seccomp.LoadProfile does. A profile with neither a
// default action nor syscalls disables seccomp (nil).
func convertDockerSeccomp(body []byte, caps []string, h host) (*specs.LinuxSeccomp, error) {
	var in dockerSeccomp
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, invalid("Decoding seccomp profile failed: %v", err)
	}
	if in.DefaultAction == "" && len(in.Syscalls) == 0 {
		return nil, nil
	}
	if len(in.Architectures) != 0 && len(in.ArchMap) != 0 {
		return nil, invalid("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'")
	}
	out := in.LinuxSeccomp
	out.Syscalls = nil
	native, known := seccompArchNames[h.goarch()]
	if known {
		for _, a := range in.ArchMap {
			if a.Arch == native.arch {
				out.Architectures = append(append(out.Architectures, a.Arch), a.SubArches...)
				break
			}
		}
	}
	for _, call := range in.Syscalls {
		if call == nil {
			continue
		}
		if call.Name != "" {
			if len(call.Names) != 0 {
				return nil, invalid("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'")
			}
			call.Names = []string{call.Name}
		}
		if !ruleApplies(call, native.name, caps, h) {
			continue
		}
		out.Syscalls = append(out.Syscalls, call.LinuxSyscall)
	}
	return &out, nil
}

// ruleApplies evaluates a rule's excludes (any match drops it) and
// includes (every condition must hold).
func ruleApplies(call *dockerSyscall, arch string, caps []string, h host) bool {
	if ex := call.Excludes; ex != nil {
		if slices.Contains(ex.Arches, arch) {
			return false
		}
		for _, c := range ex.Caps {
			if slices.Contains(caps, c) {
				return false
			}
		}
		if ex.MinKernel != nil && h.kernelAtLeast(ex.MinKernel.major, ex.MinKernel.minor) {
			return false
		}
	}
	if inc := call.Includes; inc != nil {
		if len(inc.Arches) > 0 && !slices.Contains(inc.Arches, arch) {
			return false
		}
		for _, c := range inc.Caps {
			if !slices.Contains(caps, c) {
				return false
			}
		}
		if inc.MinKernel != nil && !h.kernelAtLeast(inc.MinKernel.major, inc.MinKernel.minor) {
			return false
		}
	}
	return true
}
