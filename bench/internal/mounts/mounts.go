package mounts

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckPrivate makes sure a mount on path cannot leak to the host: the
// caller is in a mount namespace other than its parent's and path's mount
// is not shared.
func CheckPrivate(path string) error {
	self, err1 := os.Readlink("/proc/self/ns/mnt")
	parent, err2 := os.Readlink("/proc/" + strconv.Itoa(os.Getppid()) + "/ns/mnt")
	if err1 != nil || err2 != nil || self == parent {
		return errors.New("refusing to mount: not in a private mount namespace")
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	if shared(string(data), path) {
		return fmt.Errorf("refusing to mount: %s is a shared mount", path)
	}
	return nil
}

// shared tells whether a mount at path in mountinfo has a shared:N
// optional field.
func shared(mountinfo, path string) bool {
	for _, line := range strings.Split(mountinfo, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 6 && fields[4] == path {
			for _, opt := range fields[6:] {
				if opt == "-" {
					break
				}
				if strings.HasPrefix(opt, "shared:") {
					return true
				}
			}
		}
	}
	return false
}

// Under lists the mount points at or below dir, deepest first.
func Under(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	return under(lines, dir)
}

func under(mountinfo []string, dir string) []string {
	var mps []string
	for _, l := range mountinfo {
		fs := strings.Fields(l)
		if len(fs) > 4 && (fs[4] == dir || strings.HasPrefix(fs[4], dir+"/")) {
			mps = append(mps, fs[4])
		}
	}
	sort.SliceStable(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps
}

// UnmountUnder detaches every mount at or below dir, deepest first. A
// failure (other than the mount being gone already) is passed to logf,
// if not nil; the rest are detached anyway.
func UnmountUnder(dir string, logf func(format string, a ...any)) {
	for _, mp := range Under(dir) {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) && logf != nil {
			logf("umount %s: %v", mp, err)
		}
	}
}

// RemoveTree detaches any mount at or below dir (see UnmountUnder), then
// removes dir and everything in it.
func RemoveTree(dir string, logf func(format string, a ...any)) error {
	UnmountUnder(dir, logf)
	return os.RemoveAll(dir)
}
