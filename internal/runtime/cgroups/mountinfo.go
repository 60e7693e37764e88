package cgroups

import (
	"fmt"
	"github.com/shoal-dev/shoal/internal/mountinfo"
	"path/filepath"
	"strings"
)

// mountEntry is a line of /proc/self/mountinfo.
type mountEntry = mountinfo.Entry

func parseMountinfo(data []byte) ([]mountEntry, error) { return mountinfo.Parse(data) }

// v1Controllers are the v1 hierarchies a container joins when they are
// mounted, in the order Apply creates them. "name=systemd" is a named
// hierarchy without a controller; runc joins it too so that the container is
// not left in the runtime's systemd unit.
var v1Controllers = []string{
	"cpuset", "cpu", "cpuacct", "memory", "pids", "devices", "freezer",
	"blkio", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc",
	"name=systemd",
}

func isV1Controller(name string) bool {
	for _, c := range v1Controllers {
		if c == name {
			return true
		}
	}
	return false
}

// v1Mounts maps each known v1 controller to its mount directly under root.
// Co-mounted controllers ("cpu,cpuacct") map to the same entry.
func v1Mounts(mounts []mountEntry, root string) map[string]mountEntry {
	out := make(map[string]mountEntry)
	for _, m := range mounts {
		if m.FSType != "cgroup" || filepath.Dir(m.Point) != root {
			continue
		}
		for _, opt := range m.Super {
			if !isV1Controller(opt) {
				continue
			}
			if _, dup := out[opt]; !dup {
				out[opt] = m
			}
		}
	}
	return out
}

// findMount returns the mount of fstype at point.
func findMount(mounts []mountEntry, point, fstype string) (mountEntry, bool) {
	for _, m := range mounts {
		if m.Point == point && m.FSType == fstype {
			return m, true
		}
	}
	return mountEntry{}, false
}

// parseProcCgroup parses /proc/<pid>/cgroup ("4:memory:/a", "2:cpu,cpuacct:/a",
// "0::/a") into controller → cgroup path. The cgroup v2 entry has the key "".
func parseProcCgroup(data []byte) (map[string]string, error) {
	out := make(map[string]string)
	for n, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("parse /proc/self/cgroup line %d %q: want id:controllers:path", n+1, line)
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}
