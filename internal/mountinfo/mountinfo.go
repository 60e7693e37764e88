// Package mountinfo reads /proc/PID/mountinfo: which filesystems are
// mounted where, with what options. The runtime uses it to find cgroup
// hierarchies and to unmount what a container left; the cgroups package to
// find controllers.
package mountinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Entry is one line of /proc/self/mountinfo.
type Entry struct {
	Root   string // part of the filesystem the mount shows
	Point  string // where it is mounted
	FSType string
	Source string
	// Options are the per-mount options (rw, nosuid, ...); Super the
	// filesystem's (for cgroup v1: its controllers).
	Options []string
	Super   []string
}

// Parse parses /proc/<pid>/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//
// Field 7 repeats zero or more times, ended by "-".
func Parse(data []byte) ([]Entry, error) {
	var out []Entry
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
		e := Entry{
			Root:    Unescape(fields[3]),
			Point:   Unescape(fields[4]),
			FSType:  fields[sep+1],
			Source:  Unescape(fields[sep+2]),
			Options: strings.Split(fields[5], ","),
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

// Unescape undoes the kernel's octal escapes (\040 for a space).
func Unescape(s string) string {
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

// Self reads and parses /proc/self/mountinfo.
func Self() ([]Entry, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return Parse(data)
}
