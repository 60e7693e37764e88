package runtimecli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/internal/runtime"
)

// ExitError makes the process exit with a code, printing nothing.
type ExitError int

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ExitCode is the status the process exits with.
func (e ExitError) ExitCode() int { return int(e) }

// Short is the one-line description of the verb, for the binary's help.
const Short = "OCI runtime with runc's command line"

const long = `shoal runtime is an OCI runtime: it runs a container from an OCI bundle
(a directory with config.json and a root filesystem). Its command line is
runc's, so tools that drive runc can drive it.`

// command is one verb of `shoal runtime`. The command line is parsed with
// the standard flag package (not cobra, which would pull in the rest of
// the binary's initialisation, see the package doc): flags may follow the
// arguments, as runc and docker allow, except where noInterspersed says
// the arguments are a command line of their own (exec, ps).
type command struct {
	use, short     string
	aliases        []string
	args           func(n int) error
	flags          func(*flagSet)
	noInterspersed bool
	noRuntime      bool // needs no state directory (spec, features)
	run            func(ctx context.Context, e *env) error
}

func (c *command) name() string { n, _, _ := strings.Cut(c.use, " "); return n }

// env is what a verb runs with.
type env struct {
	r      *runtime.Runtime
	args   []string
	flags  *flagSet
	stdout io.Writer
}

// Main runs `shoal runtime` with args (os.Args[1:], starting with
// "runtime") and returns the exit status. Errors are printed as the rest
// of the binary prints them.
func Main(args []string) int {
	err := run(context.Background(), args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return 0
	}
	var ee ExitError
	if errors.As(err, &ee) {
		return int(ee)
	}
	if !errors.Is(err, errUsage) {
		fmt.Fprintf(os.Stderr, "shoal: %v\n", err)
	}
	return 1
}

// errUsage is a command-line error whose message and usage are printed
// already.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := &runtimeFlags{}
	global := newFlagSet("shoal runtime", stderr)
	global.StringVar(&f.root, "root", "/run/shoal/runtime", "directory for container state")
	global.StringVar(&f.logFile, "log", "", "write errors to this file as well as stderr")
	global.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	global.BoolVar(&f.debug, "debug", false, "log debug messages")
	global.BoolVar(&f.systemd, "systemd-cgroup", false, "use the systemd cgroup driver (not supported)")
	global.Bool("rootless", false, "ignored: rootless mode is decided by the euid")
	cmds := commands()
	global.fs.Usage = func() { usage(stderr, global, cmds) }
	if err := global.fs.Parse(args); err != nil {
		return parseError(err)
	}
	rest := global.fs.Args()
	if len(rest) == 0 || rest[0] == "help" {
		usage(stdout, global, cmds)
		return nil
	}
	i := slices.IndexFunc(cmds, func(c *command) bool { return c.name() == rest[0] || slices.Contains(c.aliases, rest[0]) })
	if i < 0 {
		return fmt.Errorf("unknown command %q for \"shoal runtime\"\nRun 'shoal runtime --help' for usage", rest[0])
	}
	c := cmds[i]
	if f.systemd {
		return errors.New("--systemd-cgroup: the systemd cgroup driver is not supported; use cgroupfs paths")
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return fmt.Errorf("--log-format %q: must be text or json", f.logFormat)
	}
	fl := newFlagSet("shoal runtime "+c.name(), stderr)
	if c.flags != nil {
		c.flags(fl)
	}
	fl.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:  shoal runtime %s\n\n%s\n\nFlags:\n", c.use, c.short)
		fl.fs.PrintDefaults()
	}
	pos, err := fl.parse(rest[1:], !c.noInterspersed)
	if err != nil {
		return parseError(err)
	}
	if err := c.args(len(pos)); err != nil {
		return fmt.Errorf("%s: %w", c.name(), err)
	}
	e := &env{args: pos, flags: fl, stdout: stdout}
	if !c.noRuntime {
		if e.r, err = runtime.New(f.root); err != nil {
			f.logError(err)
			return err
		}
	}
	err = c.run(ctx, e)
	if err != nil && !isExit(err) {
		f.logError(err)
	}
	return err
}

func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return errUsage
}

func usage(w io.Writer, global *flagSet, cmds []*command) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  shoal runtime [global flags] COMMAND [flags] [ARG...]\n\nCommands:\n", long)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name(), c.short)
	}
	fmt.Fprintln(w, "\nGlobal flags:")
	global.fs.SetOutput(w)
	global.fs.PrintDefaults()
}

func exactArgs(n int) func(int) error {
	return func(got int) error {
		if got != n {
			return fmt.Errorf("accepts %d arg(s), received %d", n, got)
		}
		return nil
	}
}

func rangeArgs(lo, hi int) func(int) error {
	return func(got int) error {
		if got < lo || got > hi {
			return fmt.Errorf("accepts between %d and %d arg(s), received %d", lo, hi, got)
		}
		return nil
	}
}

func minArgs(n int) func(int) error {
	return func(got int) error {
		if got < n {
			return fmt.Errorf("requires at least %d arg(s), only received %d", n, got)
		}
		return nil
	}
}

// flagSet is flag.FlagSet with one-letter aliases (-b for --bundle),
// repeatable flags and a record of which flags were given.
type flagSet struct {
	fs    *flag.FlagSet
	alias map[string]string // short name → long name
}

func newFlagSet(name string, out io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &flagSet{fs: fs, alias: map[string]string{}}
}

func (f *flagSet) short(short, long string) {
	if short != "" {
		f.fs.Var(f.fs.Lookup(long).Value, short, "short for --"+long)
		f.alias[short] = long
	}
}

func (f *flagSet) StringVar(p *string, name, def, usage string) { f.fs.StringVar(p, name, def, usage) }
func (f *flagSet) BoolVar(p *bool, name string, def bool, usage string) {
	f.fs.BoolVar(p, name, def, usage)
}
func (f *flagSet) IntVar(p *int, name string, def int, usage string) {
	f.fs.IntVar(p, name, def, usage)
}
func (f *flagSet) Int64Var(p *int64, name string, def int64, usage string) {
	f.fs.Int64Var(p, name, def, usage)
}
func (f *flagSet) Bool(name string, def bool, usage string) { f.fs.Bool(name, def, usage) }

func (f *flagSet) StringVarP(p *string, name, short, def, usage string) {
	f.fs.StringVar(p, name, def, usage)
	f.short(short, name)
}

func (f *flagSet) BoolVarP(p *bool, name, short string, def bool, usage string) {
	f.fs.BoolVar(p, name, def, usage)
	f.short(short, name)
}

// StringArrayVarP is a flag that may be given many times.
func (f *flagSet) StringArrayVarP(p *[]string, name, short, usage string) {
	f.fs.Func(name, usage, func(s string) error { *p = append(*p, s); return nil })
	f.short(short, name)
}

// IntSliceVarP is a flag that may be given many times, each a
// comma-separated list of integers.
func (f *flagSet) IntSliceVarP(p *[]int, name, short, usage string) {
	f.fs.Func(name, usage, func(s string) error {
		for _, v := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			*p = append(*p, n)
		}
		return nil
	})
	f.short(short, name)
}

// Changed reports whether the flag (by its long name) was given.
func (f *flagSet) Changed(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == name || f.alias[fl.Name] == name {
			set = true
		}
	})
	return set
}

// parse parses args and returns the positional arguments. With
// interspersed, flags may also follow positional arguments; "--" ends the
// flags either way.
func (f *flagSet) parse(args []string, interspersed bool) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, err
		}
		rest := f.fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if !interspersed || (len(rest) < len(args) && args[len(args)-len(rest)-1] == "--") {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
