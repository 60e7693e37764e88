package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/runtime/cgroups"
)

type cgroupManager = cgroups.Manager

// newCgroup returns the manager of a new container's cgroup: the spec's
// cgroupsPath, or /shoal/ID when it has none.
func newCgroup(id string, spec *specs.Spec) (cgroups.Manager, error) {
	path := spec.Linux.CgroupsPath
	if path == "" {
		path = "/shoal/" + id
	}
	m, err := cgroups.New(cgroups.Config{Path: path, Resources: withDefaultDevices(spec)})
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", path, err)
	}
	return m, nil
}

// cgroup rebuilds the manager of an existing container's cgroup.
func (c *Container) cgroup() (cgroups.Manager, error) {
	m, err := cgroups.NewFromPaths(cgroups.Mode(c.CgroupMode), c.CgroupPaths)
	if err != nil {
		return nil, fmt.Errorf("cgroup of %s: %w", c.ID, err)
	}
	return m, nil
}

// withDefaultDevices returns the spec's resources with the device cgroup
// rules a container always needs appended, as runc does: the default
// device nodes, ptys and the spec's own devices stay usable even when the
// spec's rules start by denying everything.
func withDefaultDevices(spec *specs.Spec) *specs.LinuxResources {
	res := &specs.LinuxResources{}
	if spec.Linux.Resources != nil {
		cp := *spec.Linux.Resources
		res = &cp
	}
	if len(res.Devices) == 0 {
		return res
	}
	i64 := func(v int64) *int64 { return &v }
	rules := append([]specs.LinuxDeviceCgroup{}, res.Devices...)
	for _, d := range defaultDevices {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(d.Major), Minor: i64(d.Minor), Access: "rwm"})
	}
	rules = append(rules,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(136), Access: "rwm"},              // /dev/pts/*
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"}, // /dev/ptmx
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(5), Minor: i64(1), Access: "rwm"}, // /dev/console
	)
	for _, d := range spec.Linux.Devices {
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		if typ == "p" {
			continue
		}
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: i64(d.Major), Minor: i64(d.Minor), Access: "rwm"})
	}
	res.Devices = rules
	return res
}
