package runtime

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var rlimitNames = map[string]int{
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
}

var capByName = sync.OnceValue(func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
})

func parseCap(name string) (capability.Cap, error) {
	c, ok := capByName()[strings.ToUpper(name)]
	if !ok {
		return 0, fmt.Errorf("unknown capability %q", name)
	}
	return c, nil
}

// checkHostLimits refuses, before anything is created, what the host will
// not let the container have: capabilities outside this process's bounding
// set and rlimits above the current hard limit without CAP_SYS_RESOURCE.
func checkHostLimits(p *specs.Process) error {
	self, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("read own capabilities: %w", err)
	}
	if err := self.Load(); err != nil {
		return fmt.Errorf("read own capabilities: %w", err)
	}
	last, err := capability.LastCap()
	if err != nil {
		return fmt.Errorf("read last capability: %w", err)
	}
	if p.Capabilities != nil {
		for _, set := range [][]string{p.Capabilities.Bounding, p.Capabilities.Effective, p.Capabilities.Permitted, p.Capabilities.Inheritable, p.Capabilities.Ambient} {
			for _, name := range set {
				c, err := parseCap(name)
				if err != nil {
					return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
				}
				if c > last {
					return fmt.Errorf("capability %s is not supported by this kernel: %w", name, ErrInvalidConfig)
				}
				if !self.Get(capability.BOUNDING, c) {
					return fmt.Errorf("capability %s is not in the host's bounding set: %w", name, ErrInvalidConfig)
				}
			}
		}
	}
	canRaise := self.Get(capability.EFFECTIVE, capability.CAP_SYS_RESOURCE)
	for _, r := range p.Rlimits {
		var cur unix.Rlimit
		if err := unix.Getrlimit(rlimitNames[r.Type], &cur); err != nil {
			return fmt.Errorf("read %s: %w", r.Type, err)
		}
		if r.Hard > cur.Max && !canRaise {
			return fmt.Errorf("rlimit %s: hard limit %d is above the host's hard limit %d and CAP_SYS_RESOURCE is missing: %w", r.Type, r.Hard, cur.Max, ErrInvalidConfig)
		}
	}
	return nil
}

// rlimit is one rlimit ready for the prlimit syscall.
type rlimit struct {
	name     string
	resource int
	lim      unix.Rlimit
}

// setRaisingRlimits sets the rlimits whose hard limit is above the
// current one (they need CAP_SYS_RESOURCE, held now, maybe not later) and
// returns the others, to be set just before execve.
func setRaisingRlimits(p *specs.Process) ([]rlimit, error) {
	var late []rlimit
	for _, r := range p.Rlimits {
		rl := rlimit{name: r.Type, resource: rlimitNames[r.Type], lim: unix.Rlimit{Cur: r.Soft, Max: r.Hard}}
		var cur unix.Rlimit
		if err := unix.Getrlimit(rl.resource, &cur); err != nil {
			return nil, fmt.Errorf("read rlimit %s: %w", r.Type, err)
		}
		if r.Hard <= cur.Max {
			late = append(late, rl)
			continue
		}
		if err := unix.Prlimit(0, rl.resource, &rl.lim, nil); err != nil {
			return nil, fmt.Errorf("set rlimit %s to %d/%d: %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	return late, nil
}

// capSets converts the spec's capability names.
func capSets(c *specs.LinuxCapabilities) (capability.Capabilities, error) {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return nil, err
	}
	caps.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	if c == nil {
		return caps, nil
	}
	for _, s := range []struct {
		which capability.CapType
		names []string
	}{
		{capability.BOUNDING, c.Bounding},
		{capability.EFFECTIVE, c.Effective},
		{capability.PERMITTED, c.Permitted},
		{capability.INHERITABLE, c.Inheritable},
		{capability.AMBIENT, c.Ambient},
	} {
		for _, n := range s.names {
			v, err := parseCap(n)
			if err != nil {
				return nil, err
			}
			caps.Set(s.which, v)
		}
	}
	return caps, nil
}

// setupUser switches to the spec's user, keeping the capabilities the
// spec asks for: drop the bounding set, keep caps across setuid, then set
// the remaining sets. The caller has locked its OS thread.
func setupUser(p *specs.Process) error {
	caps, err := capSets(p.Capabilities)
	if err != nil {
		return err
	}
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("drop bounding set: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	groups := make([]int, 0, len(p.User.AdditionalGids))
	for _, g := range p.User.AdditionalGids {
		groups = append(groups, int(g))
	}
	if err := unix.Setgroups(groups); err != nil && !(errors.Is(err, unix.EPERM) && len(groups) == 0 && setgroupsDenied()) {
		return fmt.Errorf("setgroups %v: %w", groups, err)
	}
	if err := unix.Setresgid(int(p.User.GID), int(p.User.GID), int(p.User.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", p.User.GID, err)
	}
	if err := unix.Setresuid(int(p.User.UID), int(p.User.UID), int(p.User.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", p.User.UID, err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", err)
	}
	if err := caps.Apply(capability.CAPS | capability.AMBS); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	}
	return nil
}

func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

// procStartTime returns field 22 of /proc/PID/stat: the process's start
// time in clock ticks since boot, which tells a live init from a new
// process that reused its pid.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); start time is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// procState returns field 3 of /proc/PID/stat (R, S, Z, ...).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}
