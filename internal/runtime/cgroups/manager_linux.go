package cgroups

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"time"
)

// freezeTimeout bounds how long Freeze and Thaw wait for the kernel.
const freezeTimeout = 10 * time.Second

func newManager(cfg Config, sys system) (Manager, error) {
	path, err := validatePath(cfg.Path)
	if err != nil {
		return nil, err
	}
	root := cfg.Root
	if root == "" {
		root = DefaultRoot
	}
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("new cgroup manager: %w: root %q is not absolute", ErrInvalidPath, root)
	}
	root = filepath.Clean(root)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	mode := cfg.Mode
	if mode == 0 {
		if mode, err = detectMode(root, sys.statfs); err != nil {
			return nil, err
		}
	} else if !mode.valid() {
		return nil, fmt.Errorf("new cgroup manager: unknown mode %d", int(mode))
	}
	if err := validateResources(cfg.Resources, mode); err != nil {
		return nil, fmt.Errorf("new cgroup manager: %w", err)
	}

	relative := !filepath.IsAbs(path)
	var own map[string]string
	if relative {
		data, err := sys.procCgroup()
		if err != nil {
			return nil, fmt.Errorf("new cgroup manager: read own cgroup: %w", err)
		}
		if own, err = parseProcCgroup(data); err != nil {
			return nil, fmt.Errorf("new cgroup manager: %w", err)
		}
	}
	var mounts []mountEntry
	if relative || mode != Unified {
		data, err := sys.mountinfo()
		if err != nil {
			return nil, fmt.Errorf("new cgroup manager: read mountinfo: %w", err)
		}
		if mounts, err = parseMountinfo(data); err != nil {
			return nil, fmt.Errorf("new cgroup manager: %w", err)
		}
	}

	// unifiedDir places path in the cgroup2 hierarchy at point.
	unifiedDir := func(point string, useParent bool) (string, error) {
		mountRoot := "/"
		if m, ok := findMount(mounts, point, "cgroup2"); ok {
			mountRoot = m.Root
		}
		return cgroupDir(point, mountRoot, own[""], path, useParent)
	}

	if mode == Unified {
		dir, err := unifiedDir(root, true)
		if err != nil {
			return nil, fmt.Errorf("new cgroup manager: %w", err)
		}
		return &unifiedManager{root: root, dir: dir, res: cfg.Resources, log: log, timeout: freezeTimeout}, nil
	}

	paths := make(map[string]string)
	for ctrl, m := range v1Mounts(mounts, root) {
		dir, err := cgroupDir(m.Point, m.Root, own[ctrl], path, false)
		if err != nil {
			return nil, fmt.Errorf("new cgroup manager: %s: %w", ctrl, err)
		}
		paths[ctrl] = dir
	}
	if mode == Hybrid {
		dir, err := unifiedDir(filepath.Join(root, "unified"), false)
		if err != nil {
			return nil, fmt.Errorf("new cgroup manager: %w", err)
		}
		paths[""] = dir
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("new cgroup manager: no cgroup v1 hierarchy is mounted under %s: %w", root, ErrNoController)
	}
	return &legacyManager{mode: mode, paths: paths, res: cfg.Resources, log: log, timeout: freezeTimeout}, nil
}

func newFromPaths(mode Mode, paths map[string]string) (Manager, error) {
	if !mode.valid() {
		return nil, fmt.Errorf("cgroup manager from paths: unknown mode %d", int(mode))
	}
	cp := make(map[string]string, len(paths))
	for k, p := range paths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return nil, fmt.Errorf("cgroup manager from paths: %w: %s path %q is not absolute and clean", ErrInvalidPath, k, p)
		}
		if k != "" && mode == Unified {
			return nil, fmt.Errorf("cgroup manager from paths: %w: controller key %q in unified mode", ErrInvalidPath, k)
		}
		cp[k] = p
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if mode == Unified {
		dir, ok := cp[""]
		if !ok {
			return nil, fmt.Errorf("cgroup manager from paths: %w: no unified path", ErrInvalidPath)
		}
		return &unifiedManager{dir: dir, log: log, timeout: freezeTimeout}, nil
	}
	if _, ok := cp[""]; ok && mode == Legacy {
		return nil, fmt.Errorf("cgroup manager from paths: %w: unified path in legacy mode", ErrInvalidPath)
	}
	if len(cp) == 0 {
		return nil, fmt.Errorf("cgroup manager from paths: %w: no paths", ErrInvalidPath)
	}
	return &legacyManager{mode: mode, paths: cp, log: log, timeout: freezeTimeout}, nil
}

// uniqueDirs lists the distinct directories of paths (co-mounted controllers
// share one), sorted.
func uniqueDirs(paths map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range paths {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}
