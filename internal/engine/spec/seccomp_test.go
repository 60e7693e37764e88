package spec

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/runtime/seccomp"
)

// dockerProfile is in Docker's format, with rules of every conditional
// kind, shaped like moby's default.json.
const dockerProfile = `{
	"defaultAction": "SCMP_ACT_ERRNO",
	"defaultErrnoRet": 1,
	"archMap": [
		{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
		{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
	],
	"syscalls": [
		{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
		{"name": "getpid", "action": "SCMP_ACT_ALLOW"},
		{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
		{"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
		{"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
		{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]},
		 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
		{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
		{"names": ["old_thing"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.0"}},
		{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
	]
}`

func names(p *specs.LinuxSeccomp) []string {
	var out []string
	for _, c := range p.Syscalls {
		out = append(out, strings.Join(c.Names, ","))
	}
	return out
}

func TestConvertDockerSeccomp(t *testing.T) {
	tests := []struct {
		name   string
		arch   string
		kernel [2]int
		caps   []string
		arches []specs.Arch
		rules  []string
	}{
		{"amd64 default caps", "amd64", [2]int{6, 1}, defaultCaps,
			[]specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			[]string{"read,write,exit_group", "getpid", "personality", "arch_prctl", "clone", "ptrace", "clone3"}},
		{"amd64 with CAP_SYS_ADMIN", "amd64", [2]int{6, 1}, append([]string{"CAP_SYS_ADMIN"}, defaultCaps...),
			[]specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			[]string{"read,write,exit_group", "getpid", "personality", "arch_prctl", "mount", "ptrace"}},
		{"arm64 old kernel", "arm64", [2]int{4, 4}, defaultCaps,
			[]specs.Arch{specs.ArchAARCH64, specs.ArchARM},
			[]string{"read,write,exit_group", "getpid", "personality", "set_tls", "clone", "old_thing", "clone3"}},
		{"s390x", "s390x", [2]int{6, 1}, defaultCaps, nil,
			[]string{"read,write,exit_group", "getpid", "personality", "ptrace", "clone3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost()
			h.arch, h.kernel = tt.arch, tt.kernel
			p, err := convertDockerSeccomp([]byte(dockerProfile), tt.caps, h)
			if err != nil {
				t.Fatal(err)
			}
			if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
				t.Errorf("default = %s %v", p.DefaultAction, p.DefaultErrnoRet)
			}
			if !reflect.DeepEqual(p.Architectures, tt.arches) {
				t.Errorf("architectures = %v, want %v", p.Architectures, tt.arches)
			}
			if got := names(p); !reflect.DeepEqual(got, tt.rules) {
				t.Errorf("rules = %q\n want %q", got, tt.rules)
			}
			for _, c := range p.Syscalls {
				switch c.Names[0] {
				case "personality":
					if len(c.Args) != 1 || c.Args[0].Value != 8 || c.Args[0].Op != specs.OpEqualTo {
						t.Errorf("personality args = %+v", c.Args)
					}
				case "clone":
					if len(c.Args) != 1 || c.Args[0].Op != specs.OpMaskedEqual || c.Args[0].Value != 2114060288 {
						t.Errorf("clone args = %+v", c.Args)
					}
				case "clone3":
					if c.Action != specs.ActErrno || c.ErrnoRet == nil || *c.ErrnoRet != 38 {
						t.Errorf("clone3 = %+v", c)
					}
				}
			}
		})
	}
}

func TestConvertDockerSeccompCompiles(t *testing.T) {
	// What the conversion produces for this machine loads in the runtime.
	h := newFakeHost()
	h.arch = realHost{}.goarch()
	p, err := convertDockerSeccomp([]byte(dockerProfile), defaultCaps, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seccomp.Compile(p); err != nil {
		t.Errorf("Compile(converted profile) = %v", err)
	}
}

func TestConvertDockerSeccompEdges(t *testing.T) {
	h := newFakeHost()
	// Nothing in it: seccomp off, as in Docker.
	for _, body := range []string{`{}`, `{"syscalls": []}`} {
		p, err := convertDockerSeccomp([]byte(body), defaultCaps, h)
		if err != nil || p != nil {
			t.Errorf("convert(%s) = %+v, %v; want nil", body, p, err)
		}
	}
	// OCI fields pass through.
	p, err := convertDockerSeccomp([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"flags":["SECCOMP_FILTER_FLAG_LOG"],
		"syscalls":[{"names":["kexec_load"],"action":"SCMP_ACT_KILL_PROCESS"}]}`), defaultCaps, h)
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != specs.ActAllow || !reflect.DeepEqual(p.Architectures, []specs.Arch{specs.ArchX86_64}) ||
		!reflect.DeepEqual(p.Flags, []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"}) || p.Syscalls[0].Action != specs.ActKillProcess {
		t.Errorf("profile = %+v", p)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4"}}]}`, `Decoding seccomp profile failed: invalid kernel version: "4", expected "<kernel>.<major>"`},
		{`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"0.0"}}]}`, `Decoding seccomp profile failed: invalid kernel version: "0.0", expected "<kernel>.<major>": version cannot be 0.0`},
		{`[]`, "Decoding seccomp profile failed: json: cannot unmarshal array into Go value of type spec.dockerSeccomp"},
	} {
		_, err := convertDockerSeccomp([]byte(tt.body), defaultCaps, h)
		if err == nil || err.Error() != tt.want+": invalid argument" || !errdefs.IsInvalidArgument(err) {
			t.Errorf("convert(%s) = %v\n want %q", tt.body, err, tt.want)
		}
	}
}
