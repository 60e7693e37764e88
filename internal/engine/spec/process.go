package spec

import (
	"path"
	"strings"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// process fills in the process: args, environment, working directory,
// terminal, user, rlimits and OOM score. Capabilities, seccomp and the
// LSM settings come from security.go.
func (g *generation) process() error {
	p := g.spec.Process
	args := append(append([]string{}, g.cfg.Entrypoint...), g.cfg.Cmd...)
	if len(args) == 0 {
		return invalid("no command specified")
	}
	// --init only when the container has a pid namespace of its own:
	// the host's or another container's already has an init.
	if g.hc.Init != nil && *g.hc.Init && g.in.PidNS == "" {
		if g.in.InitPath == "" {
			return invalid("--init: no init binary is configured")
		}
		args = append([]string{initPath, "--"}, args...)
	}
	p.Args = args

	p.Cwd = "/"
	if wd := g.cfg.WorkingDir; wd != "" {
		if !path.IsAbs(wd) {
			return invalid("the working directory '%s' is invalid, it needs to be an absolute path", wd)
		}
		p.Cwd = path.Clean(wd)
	}

	p.Terminal = g.cfg.Tty
	if g.cfg.Tty && (g.hc.ConsoleSize[0] > 0 || g.hc.ConsoleSize[1] > 0) {
		p.ConsoleSize = &specs.Box{Height: g.hc.ConsoleSize[0], Width: g.hc.ConsoleSize[1]}
	}

	user, home, err := resolveUser(g.in.Rootfs, g.cfg.User, g.hc.GroupAdd)
	if err != nil {
		return err
	}
	p.User, g.home = user, home
	p.Env = g.env()

	rl, err := rlimits(g.hc.Ulimits)
	if err != nil {
		return err
	}
	p.Rlimits = rl
	score := g.hc.OomScoreAdj
	p.OOMScoreAdj = &score
	return nil
}

// env is Docker's: PATH, HOSTNAME and (with a tty) TERM, overridden by
// the container's Env, where "KEY" alone removes KEY. HOME is added from
// the user's passwd entry when unset, as runc does.
func (g *generation) env() []string {
	env := []string{"PATH=" + defaultPath, "HOSTNAME=" + g.cfg.Hostname}
	if g.cfg.Tty {
		env = append(env, "TERM=xterm")
	}
	index := map[string]int{}
	for i, e := range env {
		k, _, _ := strings.Cut(e, "=")
		index[k] = i
	}
	removed := map[int]bool{}
	for _, e := range g.cfg.Env {
		k, _, hasValue := strings.Cut(e, "=")
		i, exists := index[k]
		switch {
		case !hasValue:
			if exists {
				removed[i] = true
			}
		case exists:
			env[i] = e
			delete(removed, i)
		default:
			index[k] = len(env)
			env = append(env, e)
		}
	}
	out := make([]string, 0, len(env)+1)
	for i, e := range env {
		if !removed[i] {
			out = append(out, e)
		}
	}
	if _, ok := index["HOME"]; !ok {
		out = append(out, "HOME="+g.home)
	}
	return out
}

// rlimits turns --ulimit into process rlimits; -1 is unlimited. Docker
// sets no others: the container inherits the daemon's.
func rlimits(ulimits []*container.Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	index := map[string]int{}
	for _, u := range ulimits {
		if u == nil {
			continue
		}
		if !ulimitNames[u.Name] {
			return nil, invalid("invalid ulimit type: %s", u.Name)
		}
		r := specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)}
		if r.Soft > r.Hard {
			return nil, invalid("ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard)
		}
		if i, ok := index[r.Type]; ok {
			out[i] = r // the last one wins
			continue
		}
		index[r.Type] = len(out)
		out = append(out, r)
	}
	return out, nil
}
