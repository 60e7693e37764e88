package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// mountEntry is the part of a /proc/self/mountinfo line this package uses.
type mountEntry struct {
	Root   string // part of the filesystem the mount shows
	Point  string // where it is mounted
	FSType string
	Super  []string // super options: for cgroup v1 the controllers
}

// parseMountinfo parses /proc/<pid>/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//
// Field 7 repeats zero or more times, ended by "-".
func parseMountinfo(data []byte) ([]mountEntry, error) {
	var out []mountEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 6 || sep < 0 || len(fields) < sep+3 {
			return nil, fmt.Errorf("parse mountinfo line %d %q: too few fields", n, line)
		}
		e := mountEntry{
			Root:   unescapeMount(fields[3]),
			Point:  unescapeMount(fields[4]),
			FSType: fields[sep+1],
		}
		if len(fields) > sep+3 {
			e.Super = strings.Split(fields[sep+3], ",")
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

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
