package cgroups

import (
	"fmt"
	"path/filepath"
	"strings"
)

// isSystemdPath reports whether p has the systemd driver's
// "slice:prefix:name" form. Absolute paths are cgroupfs paths even when they
// contain colons.
func isSystemdPath(p string) bool {
	return !strings.HasPrefix(p, "/") && strings.Count(p, ":") == 2
}

// validatePath checks an OCI cgroupsPath and returns it cleaned.
func validatePath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidPath)
	}
	if isSystemdPath(p) {
		return "", fmt.Errorf("cgroups path %q: %w", p, ErrSystemdDriver)
	}
	if strings.ContainsAny(p, "\x00\n") {
		return "", fmt.Errorf("%w %q: contains a NUL or newline", ErrInvalidPath, p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w %q: contains \"..\"", ErrInvalidPath, p)
		}
	}
	clean := filepath.Clean(p)
	if clean == "/" || clean == "." {
		return "", fmt.Errorf("%w %q: names the cgroup root", ErrInvalidPath, p)
	}
	return clean, nil
}

// cgroupDir is where path lands in the hierarchy mounted at mountPoint.
// mountRoot is the part of the hierarchy the mount shows (the mountinfo root
// field, "/" on a normal host) and own the caller's cgroup in that hierarchy
// as /proc/self/cgroup gives it. An absolute path is joined to the mount
// point; a relative one under own, or under own's parent when useParent is
// set (cgroup v2: own has processes, so its children could get no
// controllers).
func cgroupDir(mountPoint, mountRoot, own, path string, useParent bool) (string, error) {
	if filepath.IsAbs(path) {
		return filepath.Join(mountPoint, path), nil
	}
	if own == "" {
		return "", fmt.Errorf("relative cgroups path %q: own cgroup unknown", path)
	}
	if mountRoot == "" {
		mountRoot = "/"
	}
	rel, err := filepath.Rel(mountRoot, own)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("relative cgroups path %q: own cgroup %s is outside the mounted part %s of the hierarchy", path, own, mountRoot)
	}
	if useParent {
		rel = filepath.Dir(rel)
	}
	return filepath.Join(mountPoint, rel, path), nil
}

// ancestors lists the directories from root down to dir's parent. dir must
// be below root.
func ancestors(root, dir string) ([]string, error) {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, fmt.Errorf("%s is not below %s", dir, root)
	}
	out := []string{root}
	cur := root
	parts := strings.Split(rel, "/")
	for _, p := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, p)
		out = append(out, cur)
	}
	return out, nil
}
