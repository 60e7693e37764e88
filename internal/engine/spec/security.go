package spec

import (
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/runtime/seccomp"
)

// defaultCaps is the capability set Docker gives a container.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// securityOpts is --security-opt parsed.
type securityOpts struct {
	noNewPrivileges bool
	writableCgroups *bool
	labels          []string // label=... values
	apparmor        string   // the profile named, "" if none
	seccomp         string   // "", "unconfined", "builtin" or a JSON profile
}

// parseSecurityOpts parses --security-opt values as dockerd does: "key=value"
// (or the deprecated "key:value"), and the bare flags "no-new-privileges",
// "writable-cgroups" and "disable" (label=disable).
func parseSecurityOpts(opts []string) (securityOpts, error) {
	var s securityOpts
	for _, opt := range opts {
		switch opt {
		case "no-new-privileges":
			s.noNewPrivileges = true
			continue
		case "writable-cgroups":
			t := true
			s.writableCgroups = &t
			continue
		case "disable":
			s.labels = append(s.labels, "disable")
			continue
		}
		var k, v string
		var ok bool
		if strings.Contains(opt, "=") {
			k, v, ok = strings.Cut(opt, "=")
		} else if strings.Contains(opt, ":") {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return s, invalid("invalid --security-opt 1: %q", opt)
		}
		switch k {
		case "label":
			s.labels = append(s.labels, v)
		case "apparmor":
			s.apparmor = v
		case "seccomp":
			s.seccomp = v
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, invalid("invalid --security-opt 2: %q", opt)
			}
			s.noNewPrivileges = b
		case "writable-cgroups":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, invalid("invalid --security-opt 2: %q", opt)
			}
			s.writableCgroups = &b
		default:
			return s, invalid("invalid --security-opt 2: %q", opt)
		}
	}
	for _, l := range s.labels {
		// Shoal never labels a container, so disabling labels is what
		// happens anyway; anything else would be silently ignored.
		if l != "disable" {
			return s, invalid("invalid --security-opt label=%s: SELinux labels are not supported (only label=disable)", l)
		}
	}
	return s, nil
}

// apparmorProfile is the profile the container runs under. Without
// AppArmor on the host, unconfined (or no option) is a no-op and any other
// profile an error. Shoal has no docker-default profile, so an unprivileged
// container without the option gets none, as on a host without AppArmor.
func apparmorProfile(opt string, privileged bool, h host) (string, error) {
	enabled := h.apparmorEnabled()
	switch {
	case opt == "" && privileged && enabled, opt == "unconfined" && enabled:
		return "unconfined", nil
	case opt == "", opt == "unconfined":
		return "", nil
	case !enabled:
		return "", invalid("invalid --security-opt apparmor=%s: AppArmor is not enabled on this host", opt)
	}
	return opt, nil
}

func validateSecurity(hc *container.HostConfig, _ *container.Config, h host, _ string) error {
	sec, err := parseSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return err
	}
	if _, err := apparmorProfile(sec.apparmor, hc.Privileged, h); err != nil {
		return err
	}
	caps, err := capabilities(hc, h)
	if err != nil {
		return err
	}
	_, err = seccompProfile(sec.seccomp, hc.Privileged, caps, h)
	return err
}

// capabilities is the container's capability set: Docker's default, or the
// host's bounding set for --privileged, adjusted by --cap-add and
// --cap-drop ("CAP_" prefix optional, any case, "ALL").
func capabilities(hc *container.HostConfig, h host) ([]string, error) {
	hostCaps, err := h.capBounding()
	if err != nil {
		return nil, err
	}
	add, err := normalizeCaps(hc.CapAdd, hostCaps)
	if err != nil {
		return nil, invalid("invalid CapAdd: %v", err)
	}
	drop, err := normalizeCaps(hc.CapDrop, hostCaps)
	if err != nil {
		return nil, invalid("invalid CapDrop: %v", err)
	}
	var caps []string
	switch {
	case hc.Privileged:
		caps = slices.Clone(hostCaps)
	case slices.Contains(add, "ALL"):
		for _, c := range hostCaps {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drop, "ALL"):
		caps = add
	default:
		for _, c := range defaultCaps {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
		caps = append(caps, add...)
	}
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// capError is an unknown or unavailable capability, worded as Docker's.
type capError string

func (e capError) Error() string { return string(e) }

// normalizeCaps upper-cases names, adds the "CAP_" prefix and checks that
// each is a capability this host has ("ALL" passes as it is).
func normalizeCaps(in, hostCaps []string) ([]string, error) {
	var out []string
	for _, c := range in {
		c = strings.ToUpper(c)
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !knownCap(c) {
			return nil, capError("unknown capability: " + strconv.Quote(c))
		}
		if !slices.Contains(hostCaps, c) {
			return nil, capError("capability not supported by your kernel or not available in the current environment: " + strconv.Quote(c))
		}
		out = append(out, c)
	}
	return out, nil
}

func knownCap(name string) bool {
	for _, c := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(c.String()) == name {
			return true
		}
	}
	return false
}

func (g *generation) capabilities() error {
	caps, err := capabilities(&g.hc, g.host)
	if err != nil {
		return err
	}
	g.spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:  caps,
		Effective: slices.Clone(caps),
		Permitted: slices.Clone(caps),
	}
	return nil
}

// security sets no_new_privs, the AppArmor profile and seccomp.
func (g *generation) security() error {
	p := g.spec.Process
	p.NoNewPrivileges = g.sec.noNewPrivileges
	prof, err := apparmorProfile(g.sec.apparmor, g.hc.Privileged, g.host)
	if err != nil {
		return err
	}
	p.ApparmorProfile = prof
	g.spec.Linux.Seccomp, err = seccompProfile(g.sec.seccomp, g.hc.Privileged, p.Capabilities.Bounding, g.host)
	return err
}

// seccompProfile is the container's filter: Docker's default profile for
// its capabilities, none for seccomp=unconfined or --privileged, or the
// profile the docker CLI inlined as seccomp=<json> (applied to privileged
// containers too, as Docker does).
func seccompProfile(opt string, privileged bool, caps []string, h host) (*specs.LinuxSeccomp, error) {
	switch {
	case opt == "unconfined":
		return nil, nil
	case opt == "" && privileged:
		return nil, nil
	case opt == "" || opt == "builtin":
		return seccomp.DefaultProfile(caps), nil
	}
	p, err := convertDockerSeccomp([]byte(opt), caps, h)
	if err != nil {
		return nil, err
	}
	if err := h.checkSeccomp(p); err != nil {
		return nil, invalid("invalid seccomp profile: %v", err)
	}
	return p, nil
}
