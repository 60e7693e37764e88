package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var idPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\w+\-.]+$`) })

// ValidateID checks a container ID the way runc does: letters, digits and
// "_+-." only, and not "." or "..".
func ValidateID(id string) error {
	if id == "" || len(id) > 1024 || !idPattern().MatchString(id) || id == "." || id == ".." {
		return fmt.Errorf("invalid container id %q: %w", id, ErrInvalidConfig)
	}
	return nil
}

// LoadBundle reads and validates bundle/config.json. It returns the spec
// and the absolute path of the root filesystem.
func LoadBundle(bundle string) (*specs.Spec, string, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, "", fmt.Errorf("bundle %s: %w", bundle, err)
	}
	data, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("bundle %s: config.json not found: %w", abs, ErrInvalidConfig)
		}
		return nil, "", fmt.Errorf("read config.json: %w", err)
	}
	spec, err := ParseSpec(data)
	if err != nil {
		return nil, "", err
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(abs, rootfs)
	}
	st, err := os.Stat(rootfs)
	if err != nil {
		return nil, "", fmt.Errorf("rootfs %s: %w: %w", rootfs, ErrInvalidConfig, err)
	}
	if !st.IsDir() {
		return nil, "", fmt.Errorf("rootfs %s is not a directory: %w", rootfs, ErrInvalidConfig)
	}
	return spec, rootfs, nil
}

// ParseSpec decodes config.json and checks what can be checked without
// touching the host.
func ParseSpec(data []byte) (*specs.Spec, error) {
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("parse config.json: %w: %w", ErrInvalidConfig, err)
	}
	if err := ValidateSpec(&spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

var nsFlags = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

// ValidateSpec checks a spec for errors that make it unrunnable.
func ValidateSpec(spec *specs.Spec) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("config.json: "+format+": %w", append(a, ErrInvalidConfig)...)
	}
	if spec.Version == "" {
		return bad("ociVersion is empty")
	}
	if !strings.HasPrefix(spec.Version, "1.") {
		return bad("unsupported ociVersion %q", spec.Version)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return bad("root.path is required")
	}
	// A spec without a process can be created but not started.
	if spec.Process != nil {
		if err := validateProcess(spec.Process); err != nil {
			return bad("%v", err)
		}
	}
	if spec.Linux == nil {
		return bad("linux section is required")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		if _, ok := nsFlags[ns.Type]; !ok {
			return bad("unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return bad("namespace %q listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return bad("namespace %q path %q is not absolute", ns.Type, ns.Path)
		}
	}
	if (len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return bad("uidMappings/gidMappings need a user namespace")
	}
	if seen[specs.UserNamespace] {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.UserNamespace && ns.Path == "" && (len(spec.Linux.UIDMappings) == 0 || len(spec.Linux.GIDMappings) == 0) {
				return bad("a new user namespace needs uidMappings and gidMappings")
			}
		}
	}
	if spec.Hostname != "" && !seen[specs.UTSNamespace] {
		return bad("hostname needs a uts namespace")
	}
	if len(spec.Linux.TimeOffsets) > 0 {
		return bad("time namespace offsets are not supported")
	}
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return bad("mount destination %q is not absolute", m.Destination)
		}
	}
	for _, d := range spec.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			return bad("device path %q is not absolute", d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return bad("device %s has unknown type %q", d.Path, d.Type)
		}
	}
	return nil
}

func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 && p.CommandLine == "" {
		return errors.New("process.args must not be empty")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd %q must be an absolute path", p.Cwd)
	}
	if p.Capabilities != nil {
		for _, set := range [][]string{p.Capabilities.Bounding, p.Capabilities.Effective, p.Capabilities.Permitted, p.Capabilities.Inheritable, p.Capabilities.Ambient} {
			for _, c := range set {
				if _, err := parseCap(c); err != nil {
					return err
				}
			}
		}
	}
	for _, r := range p.Rlimits {
		if _, ok := rlimitNames[r.Type]; !ok {
			return fmt.Errorf("unknown rlimit %q", r.Type)
		}
		if r.Soft > r.Hard {
			return fmt.Errorf("rlimit %s: soft limit %d is above hard limit %d", r.Type, r.Soft, r.Hard)
		}
	}
	return nil
}

// hasNamespace reports whether the spec lists a namespace of type t (new
// or joined).
func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}
