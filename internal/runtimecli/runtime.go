package runtimecli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/runtime"
)

type runtimeFlags struct {
	root      string
	logFile   string
	logFormat string
	debug     bool
	systemd   bool
}

// commands are `shoal runtime`'s verbs, in the order help lists them.
func commands() []*command {
	load := func(run func(ctx context.Context, r *runtime.Runtime, id string) error) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error { return run(ctx, e.r, e.args[0]) }
	}
	return []*command{
		createCmd(),
		runCmd(),
		{use: "start ID", short: "start a created container", args: exactArgs(1),
			run: load(func(ctx context.Context, r *runtime.Runtime, id string) error { return r.Start(ctx, id) })},
		{use: "state ID", short: "print a container's OCI state as JSON", args: exactArgs(1),
			run: func(ctx context.Context, e *env) error {
				c, err := e.r.Load(e.args[0])
				if err != nil {
					return err
				}
				out := struct {
					specs.State
					Rootfs  string    `json:"rootfs"`
					Created time.Time `json:"created"`
					Owner   string    `json:"owner"`
				}{c.State(), c.Rootfs, c.Created, c.Owner}
				return printJSON(e.stdout, out, true)
			}},
		killCmd(),
		deleteCmd(),
		listCmd(),
		execCmd(),
		{use: "pause ID", short: "freeze every process of a container", args: exactArgs(1),
			run: load(func(ctx context.Context, r *runtime.Runtime, id string) error { return r.Pause(ctx, id) })},
		{use: "resume ID", short: "thaw a paused container", args: exactArgs(1),
			run: load(func(ctx context.Context, r *runtime.Runtime, id string) error { return r.Resume(ctx, id) })},
		updateCmd(),
		psCmd(),
		specCmd(),
		{use: "features", short: "print what this runtime supports as JSON", args: exactArgs(0), noRuntime: true,
			run: func(_ context.Context, e *env) error { return printJSON(e.stdout, runtime.Features(), true) }},
	}
}

// logError writes err to the --log file in the chosen format.
func (f *runtimeFlags) logError(err error) {
	if f.logFile == "" {
		return
	}
	lf, oerr := os.OpenFile(f.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if oerr != nil {
		return
	}
	defer lf.Close()
	var h slog.Handler
	if f.logFormat == "json" {
		h = slog.NewJSONHandler(lf, nil)
	} else {
		h = slog.NewTextHandler(lf, nil)
	}
	slog.New(h).Error(err.Error())
}

func isExit(err error) bool {
	var e ExitError
	return errors.As(err, &e)
}

func printJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

func stdio() runtime.IO { return runtime.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr} }

func createCmd() *command {
	var o runtime.CreateOpts
	var pidFile string
	return &command{
		use: "create [flags] ID", short: "create a container from a bundle", args: exactArgs(1),
		flags: func(fl *flagSet) { addBundleFlags(fl, &o, &pidFile) },
		run: func(ctx context.Context, e *env) error {
			o.IO = stdio()
			c, err := e.r.Create(ctx, e.args[0], o)
			if err != nil {
				return err
			}
			if pidFile != "" {
				return runtime.WritePidFile(pidFile, c.Pid)
			}
			return nil
		},
	}
}

func addBundleFlags(fl *flagSet, o *runtime.CreateOpts, pidFile *string) {
	fl.StringVarP(&o.Bundle, "bundle", "b", ".", "path to the bundle directory")
	fl.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket that receives the pty master when process.terminal is set")
	fl.StringVar(pidFile, "pid-file", "", "write the init's pid to this file")
	fl.IntVar(&o.PreserveFDs, "preserve-fds", 0, "pass this many extra file descriptors (from 3) to the container")
	fl.Bool("no-pivot", false, "ignored: pivot_root is used where it works, chroot otherwise")
	fl.Bool("no-new-keyring", false, "ignored: no session keyring is created")
}

func runCmd() *command {
	var o runtime.CreateOpts
	var pidFile string
	var detach bool
	return &command{
		use: "run [flags] ID", short: "create and start a container, and wait for it", args: exactArgs(1),
		flags: func(fl *flagSet) {
			addBundleFlags(fl, &o, &pidFile)
			fl.BoolVarP(&detach, "detach", "d", false, "do not wait for the container")
		},
		run: func(ctx context.Context, e *env) error {
			o.IO = stdio()
			code, err := e.r.Run(ctx, e.args[0], o, detach, func(pid int) error {
				if pidFile != "" {
					return runtime.WritePidFile(pidFile, pid)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if code != 0 {
				return ExitError(code)
			}
			return nil
		},
	}
}

func killCmd() *command {
	var all bool
	return &command{
		use: "kill [flags] ID [SIGNAL]", short: "send a signal to a container's init (default SIGTERM)", args: rangeArgs(1, 2),
		flags: func(fl *flagSet) { fl.BoolVarP(&all, "all", "a", false, "signal every process of the container") },
		run: func(ctx context.Context, e *env) error {
			sig := unix.SIGTERM
			if len(e.args) == 2 {
				var err error
				if sig, err = parseSignal(e.args[1]); err != nil {
					return err
				}
			}
			return e.r.Kill(ctx, e.args[0], sig, all)
		},
	}
}

// parseSignal reads a signal as runc does: a number, or a name with or
// without the SIG prefix.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("unknown signal %q", s)
	}
	return sig, nil
}

func deleteCmd() *command {
	var force bool
	return &command{
		use: "delete [flags] ID...", short: "delete containers", args: minArgs(1),
		flags: func(fl *flagSet) {
			fl.BoolVarP(&force, "force", "f", false, "kill the container first if it is running")
		},
		run: func(ctx context.Context, e *env) error {
			var errs []error
			for _, id := range e.args {
				if err := e.r.Delete(ctx, id, force); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
}

func listCmd() *command {
	var format string
	var quiet bool
	return &command{
		use: "list", aliases: []string{"ls"}, short: "list containers", args: exactArgs(0),
		flags: func(fl *flagSet) {
			fl.StringVarP(&format, "format", "f", "table", "table or json")
			fl.BoolVarP(&quiet, "quiet", "q", false, "print IDs only")
		},
		run: func(ctx context.Context, e *env) error {
			cs, err := e.r.List()
			if err != nil {
				return err
			}
			out := e.stdout
			if quiet {
				for _, c := range cs {
					fmt.Fprintln(out, c.ID)
				}
				return nil
			}
			type entry struct {
				ID          string            `json:"id"`
				Pid         int               `json:"pid"`
				Status      string            `json:"status"`
				Bundle      string            `json:"bundle"`
				Rootfs      string            `json:"rootfs"`
				Created     time.Time         `json:"created"`
				Annotations map[string]string `json:"annotations,omitempty"`
				Owner       string            `json:"owner"`
			}
			var es []entry
			names := userNames()
			for _, c := range cs {
				st := c.State()
				owner := c.Owner
				if n, ok := names[owner]; ok {
					owner = n
				}
				es = append(es, entry{c.ID, st.Pid, string(st.Status), c.Bundle, c.Rootfs, c.Created, st.Annotations, owner})
			}
			switch format {
			case "json":
				if es == nil {
					es = []entry{}
				}
				return printJSON(out, es, false)
			case "table":
				tw := tabwriter.NewWriter(out, 12, 1, 3, ' ', 0)
				fmt.Fprintln(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
				for _, e := range es {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.Pid, e.Status, e.Bundle, e.Created.Format(time.RFC3339Nano), e.Owner)
				}
				return tw.Flush()
			default:
				return fmt.Errorf("--format %q: must be table or json", format)
			}
		},
	}
}

func execCmd() *command {
	var (
		o          runtime.ExecOpts
		procFile   string
		cwd        string
		envVars    []string
		tty        bool
		userSpec   string
		groups     []int
		caps       []string
		noNewPrivs bool
		apparmor   string
		label      string
	)
	return &command{
		use: "exec [flags] ID [COMMAND [ARG...]]", short: "run a process in a running container", args: minArgs(1),
		noInterspersed: true,
		flags: func(fl *flagSet) {
			fl.StringVarP(&procFile, "process", "p", "", "path to a process.json (runtime-spec Process), - for stdin")
			fl.StringVar(&cwd, "cwd", "", "working directory in the container")
			fl.StringArrayVarP(&envVars, "env", "e", "set an environment variable (KEY=VALUE)")
			fl.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-terminal (needs --console-socket)")
			fl.StringVarP(&userSpec, "user", "u", "", "UID[:GID] to run as")
			fl.IntSliceVarP(&groups, "additional-gids", "g", "additional group IDs")
			fl.StringArrayVarP(&caps, "cap", "c", "add a capability")
			fl.BoolVar(&noNewPrivs, "no-new-privs", false, "set no_new_privs for the process")
			fl.StringVar(&apparmor, "apparmor", "", "AppArmor profile")
			fl.StringVar(&label, "process-label", "", "SELinux label")
			fl.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket that receives the pty master")
			fl.StringVar(&o.PidFile, "pid-file", "", "write the process's pid to this file")
			fl.IntVar(&o.PreserveFDs, "preserve-fds", 0, "pass this many extra file descriptors (from 3)")
			fl.BoolVarP(&o.Detach, "detach", "d", false, "do not wait for the process")
			fl.Bool("ignore-paused", false, "ignored")
		},
		run: func(ctx context.Context, e *env) error {
			args := e.args
			c, err := e.r.Load(args[0])
			if err != nil {
				return err
			}
			var p specs.Process
			if procFile != "" {
				data, err := readFileOrStdin(procFile)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(data, &p); err != nil {
					return fmt.Errorf("parse --process %s: %w", procFile, err)
				}
			} else {
				if len(args) < 2 {
					return errors.New("exec needs a command or --process")
				}
				// Start from the container's own process settings, as runc does.
				p = *c.Spec.Process
				p.Args = args[1:]
				p.Terminal = tty
				if cwd != "" {
					p.Cwd = cwd
				}
				p.Env = append(append([]string{}, p.Env...), envVars...)
				if userSpec != "" {
					u, g, err := parseUser(userSpec)
					if err != nil {
						return err
					}
					p.User.UID, p.User.GID = u, g
				}
				for _, g := range groups {
					p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
				}
				if len(caps) > 0 {
					pc := *p.Capabilities
					pc.Bounding = append(append([]string{}, pc.Bounding...), caps...)
					pc.Effective = append(append([]string{}, pc.Effective...), caps...)
					pc.Permitted = append(append([]string{}, pc.Permitted...), caps...)
					p.Capabilities = &pc
				}
				if e.flags.Changed("no-new-privs") {
					p.NoNewPrivileges = noNewPrivs
				}
				if apparmor != "" {
					p.ApparmorProfile = apparmor
				}
				if label != "" {
					p.SelinuxLabel = label
				}
			}
			o.IO = stdio()
			code, err := e.r.Exec(ctx, args[0], &p, o)
			if err != nil {
				return err
			}
			if code != 0 {
				return ExitError(code)
			}
			return nil
		},
	}
}

func parseUser(s string) (uint32, uint32, error) {
	us, gs, _ := strings.Cut(s, ":")
	u, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want UID[:GID] as numbers", s)
	}
	g := uint64(0)
	if gs != "" {
		if g, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("--user %q: want UID[:GID] as numbers", s)
		}
	}
	return uint32(u), uint32(g), nil
}

func readFileOrStdin(p string) ([]byte, error) {
	if p == "-" {
		return io.ReadAll(os.Stdin)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return data, nil
}

func updateCmd() *command {
	var resFile string
	var mem, memRes, memSwap, cpuShares, cpuPeriod, cpuQuota, pids, blkio int64
	var cpus, mems string
	return &command{
		use: "update [flags] ID", short: "change a container's resource limits", args: exactArgs(1),
		flags: func(fl *flagSet) {
			fl.StringVarP(&resFile, "resources", "r", "", "path to a resources JSON file (runtime-spec LinuxResources), - for stdin")
			fl.Int64Var(&mem, "memory", 0, "memory limit in bytes")
			fl.Int64Var(&memRes, "memory-reservation", 0, "memory soft limit in bytes")
			fl.Int64Var(&memSwap, "memory-swap", 0, "memory plus swap limit in bytes, -1 for unlimited")
			fl.Int64Var(&cpuShares, "cpu-shares", 0, "CPU shares (relative weight)")
			fl.Int64Var(&cpuPeriod, "cpu-period", 0, "CFS period in microseconds")
			fl.Int64Var(&cpuQuota, "cpu-quota", 0, "CFS quota in microseconds, -1 for none")
			fl.StringVar(&cpus, "cpuset-cpus", "", "CPUs to run on (0-3, 0,1)")
			fl.StringVar(&mems, "cpuset-mems", "", "memory nodes to use")
			fl.Int64Var(&pids, "pids-limit", 0, "maximum number of processes, -1 for unlimited")
			fl.Int64Var(&blkio, "blkio-weight", 0, "block IO weight (10-1000)")
		},
		run: func(ctx context.Context, e *env) error {
			res := &specs.LinuxResources{}
			if resFile != "" {
				data, err := readFileOrStdin(resFile)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(data, res); err != nil {
					return fmt.Errorf("parse --resources: %w", err)
				}
			}
			ch := e.flags.Changed
			mr := func() *specs.LinuxMemory {
				if res.Memory == nil {
					res.Memory = &specs.LinuxMemory{}
				}
				return res.Memory
			}
			cr := func() *specs.LinuxCPU {
				if res.CPU == nil {
					res.CPU = &specs.LinuxCPU{}
				}
				return res.CPU
			}
			if ch("memory") {
				mr().Limit = &mem
			}
			if ch("memory-reservation") {
				mr().Reservation = &memRes
			}
			if ch("memory-swap") {
				mr().Swap = &memSwap
			}
			if ch("cpu-shares") {
				v := uint64(cpuShares)
				cr().Shares = &v
			}
			if ch("cpu-period") {
				v := uint64(cpuPeriod)
				cr().Period = &v
			}
			if ch("cpu-quota") {
				cr().Quota = &cpuQuota
			}
			if ch("cpuset-cpus") {
				cr().Cpus = cpus
			}
			if ch("cpuset-mems") {
				cr().Mems = mems
			}
			if ch("pids-limit") {
				res.Pids = &specs.LinuxPids{Limit: &pids}
			}
			if ch("blkio-weight") {
				w := uint16(blkio)
				res.BlockIO = &specs.LinuxBlockIO{Weight: &w}
			}
			return e.r.Update(ctx, e.args[0], res)
		},
	}
}

func psCmd() *command {
	var format string
	return &command{
		use: "ps [flags] ID [PS_OPTIONS...]", short: "list a container's processes", args: minArgs(1),
		noInterspersed: true,
		flags:          func(fl *flagSet) { fl.StringVarP(&format, "format", "f", "table", "table or json") },
		run: func(ctx context.Context, e *env) error {
			args := e.args
			pids, err := e.r.Pids(ctx, args[0])
			if err != nil {
				return err
			}
			out := e.stdout
			switch format {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				return printJSON(out, pids, false)
			case "table":
			default:
				return fmt.Errorf("--format %q: must be table or json", format)
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			psOut, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("run ps: %w", err)
			}
			return runtime.FilterPs(out, psOut, pids)
		},
	}
}

func specCmd() *command {
	var bundle string
	var rootless bool
	return &command{
		use: "spec", short: "write a default config.json into the bundle", args: exactArgs(0), noRuntime: true,
		flags: func(fl *flagSet) {
			fl.StringVarP(&bundle, "bundle", "b", ".", "bundle directory")
			fl.BoolVar(&rootless, "rootless", false, "generate a spec for rootless containers")
		},
		run: func(_ context.Context, _ *env) error {
			if rootless {
				return errors.New("--rootless: rootless specs are not supported yet")
			}
			p := bundle + "/config.json"
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s already exists: remove it first", p)
			}
			data, err := json.MarshalIndent(runtime.DefaultSpec(), "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(p, append(data, '\n'), 0o644)
		},
	}
}

// userNames maps uids to names from /etc/passwd (no NSS: list is the only
// place that shows a name).
func userNames() map[string]string {
	m := map[string]string{}
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return m
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) > 2 {
			m[f[2]] = f[0]
		}
	}
	return m
}
