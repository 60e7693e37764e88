package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shoal-dev/shoal/internal/client"
)

// The CLI verbs (run, ps, logs, ...) talk to a daemon through the Docker
// Engine API, as the docker CLI does, with its flags, output and exit
// codes:
//
//   - 125: a flag the command does not take, or run/create failing before
//     the container ran (daemon unreachable, no such image, ...);
//   - 126/127: the container's command could not be executed / found;
//   - the container's exit code for run, start -a and wait;
//   - 1: any other failure (a daemon error for stop, rm, inspect, ...).
//
// The error text goes to stderr by the verb itself; main only sees an
// exitError.

// cli is the state the verbs share: the daemon address flag and the
// client made from it.
type cli struct {
	host string
	c    *client.Client
}

// statusError makes the command exit with code after printing msg (if
// not empty) to stderr, as the docker CLI's StatusError.
type statusError struct {
	code int
	msg  string
}

func (e statusError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("exit status %d", e.code)
}

// addClientCmds registers the CLI verbs on root.
func addClientCmds(root *cobra.Command) {
	cl := &cli{}
	root.PersistentFlags().StringVarP(&cl.host, "host", "H", "",
		"daemon socket to connect to: unix:///PATH or tcp://HOST:PORT (default $DOCKER_HOST, else "+client.DefaultHost+")")
	cmds := []*cobra.Command{
		cl.newRunCmd(), cl.newCreateCmd(), cl.newStartCmd(), cl.newStopCmd(), cl.newRestartCmd(),
		cl.newKillCmd(), cl.newRmCmd(), cl.newPsCmd(), cl.newLogsCmd(), cl.newExecCmd(), cl.newWaitCmd(),
		cl.newAttachCmd(), cl.newInspectCmd(), cl.newTopCmd(), cl.newStatsCmd(), cl.newPauseCmd(),
		cl.newUnpauseCmd(), cl.newRenameCmd(), cl.newPortCmd(), cl.newCpCmd(), cl.newDiffCmd(),
		cl.newExportCmd(), cl.newUpdateCmd(), cl.newEventsCmd(),
	}
	for _, c := range cmds {
		root.AddCommand(setupCmd(c))
	}
	root.AddCommand(setupCmd(cl.newContainerCmd()))
	root.AddCommand(setupCmd(cl.newVolumeCmd()))
	root.AddCommand(setupCmd(cl.newNetworkCmd()))
	root.AddCommand(setupCmd(cl.newComposeCmd()))
	cl.addImageVerbs(root)
	cl.addBuildVerbs(root)
}

// newContainerCmd is `shoal container VERB`: the same verbs, with ls for
// ps and rm, and prune.
func (cl *cli) newContainerCmd() *cobra.Command {
	group := &cobra.Command{Use: "container", Short: "Manage containers", Args: noArgs}
	ls := cl.newPsCmd()
	ls.Use = "ls [OPTIONS]"
	ls.Aliases = []string{"ps", "list"}
	rm := cl.newRmCmd()
	rm.Aliases = []string{"remove"}
	group.AddCommand(
		cl.newRunCmd(), cl.newCreateCmd(), cl.newStartCmd(), cl.newStopCmd(), cl.newRestartCmd(),
		cl.newKillCmd(), rm, ls, cl.newLogsCmd(), cl.newExecCmd(), cl.newWaitCmd(), cl.newAttachCmd(),
		cl.newContainerInspectCmd(), cl.newTopCmd(), cl.newStatsCmd(), cl.newPauseCmd(), cl.newUnpauseCmd(),
		cl.newRenameCmd(), cl.newPortCmd(), cl.newCpCmd(), cl.newDiffCmd(), cl.newExportCmd(),
		cl.newUpdateCmd(), cl.newContainerPruneCmd(),
	)
	return group
}

// client returns the client of the daemon chosen by -H, DOCKER_HOST or
// the default.
func (cl *cli) client() (*client.Client, error) {
	if cl.c != nil {
		return cl.c, nil
	}
	host := cl.host
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	c, err := client.New(host)
	if err != nil {
		return nil, err
	}
	cl.c = c
	return c, nil
}

// setupCmd gives c and its subcommands Docker's error handling: flag
// errors exit 125 with the usage line, and a RunE error is printed to
// stderr here and becomes an exitError for main.
func setupCmd(c *cobra.Command) *cobra.Command {
	c.DisableFlagsInUseLine = true
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s\n\nUsage:  %s\n\nRun '%s --help' for more information\n", err, cmd.UseLine(), cmd.CommandPath())
		return exitError(125)
	})
	if c.RunE != nil {
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			return reportError(cmd.ErrOrStderr(), run(cmd, args))
		}
	} else if c.Run == nil {
		// A group: `shoal volume` prints its help.
		c.RunE = func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		}
	}
	for _, sub := range c.Commands() {
		setupCmd(sub)
	}
	return c
}

// reportError prints err as the docker CLI does and returns the exit
// code for main.
func reportError(stderr io.Writer, err error) error {
	if err == nil {
		return nil
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee
	}
	var se statusError
	if errors.As(err, &se) {
		if se.msg != "" {
			fmt.Fprintln(stderr, se.msg)
		}
		return exitError(se.code)
	}
	fmt.Fprintln(stderr, err)
	return exitError(1)
}

// Docker's argument checks, with its messages. They print the message
// themselves: cobra returns their error to main without RunE.

// argsError prints msg and the usage; verb is "See" or "Run", as each
// of Docker's checks words it.
func argsError(cmd *cobra.Command, verb, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintf(cmd.ErrOrStderr(), "%s\n\nUsage:  %s\n\n%s '%s --help' for more information\n", msg, cmd.UseLine(), verb, cmd.CommandPath())
	return exitError(1)
}

func plural(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return argsError(cmd, "Run", "%s: unknown command: %s %s", cmd.Root().Name(), cmd.CommandPath(), args[0])
	}
	return argsError(cmd, "Run", "%s: '%s' accepts no arguments", cmd.Root().Name(), cmd.CommandPath())
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, "See", "%s: '%s' requires at least %d %s", cmd.Root().Name(), cmd.CommandPath(), n, plural("argument", n))
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, "Run", "%s: '%s' requires %d %s", cmd.Root().Name(), cmd.CommandPath(), n, plural("argument", n))
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, "Run", "%s: '%s' requires at least %d and at most %d %s", cmd.Root().Name(), cmd.CommandPath(), lo, hi, plural("argument", hi))
	}
}

// unsupported declares Docker flags Shoal does not implement yet: they
// parse, so scripts get a clear error rather than "unknown flag", and
// using one is refused by checkUnsupported.
type unsupported struct {
	names []string
}

// anyValue is a flag value that takes anything.
type anyValue struct {
	typ string
	set bool
	v   string
}

func (a *anyValue) String() string { return a.v }
func (a *anyValue) Set(s string) error {
	a.v, a.set = s, true
	return nil
}
func (a *anyValue) Type() string { return a.typ }

// add declares flag name (shorthand may be ""), of type typ ("bool" for
// a switch).
func (u *unsupported) add(fs *pflag.FlagSet, name, shorthand, typ, usage string) {
	f := fs.VarPF(&anyValue{typ: typ}, name, shorthand, usage+" (not supported by shoal yet)")
	if typ == "bool" {
		f.NoOptDefVal = "true"
	}
	u.names = append(u.names, name)
}

// check refuses the flags of u that were given.
func (u *unsupported) check(fs *pflag.FlagSet) error {
	for _, n := range u.names {
		if fs.Changed(n) {
			return fmt.Errorf("the --%s flag is not supported by shoal yet", n)
		}
	}
	return nil
}

// out and errOut are the command's streams.
func out(cmd *cobra.Command) io.Writer    { return cmd.OutOrStdout() }
func errOut(cmd *cobra.Command) io.Writer { return cmd.ErrOrStderr() }

// runErrors collects the per-argument failures of a verb that goes on
// with the next argument (stop, rm, ...), as the docker CLI does: all
// messages, then exit 1.
type runErrors []string

func (e *runErrors) add(err error) {
	if err != nil {
		*e = append(*e, err.Error())
	}
}

func (e runErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return errors.New(strings.Join(e, "\n"))
}
