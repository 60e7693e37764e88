// Command shoal is Shoal's one binary: the CLI, the daemon, and the OCI
// runtime (`shoal runtime`, with runc's command line).
//
// GOMAXPROCS is the number of CPUs, as with Go before 1.25: reading the
// cgroup's CPU limit at every start (mountinfo, cgroup files) and a
// goroutine that follows it cost ~2 ms per process on the machines we
// measure, and most shoal processes live for milliseconds.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	_ "github.com/shoal-dev/shoal/internal/fastpath"        // container init, --init and `shoal runtime`, before the other packages initialise
	_ "github.com/shoal-dev/shoal/internal/runtime/nsenter" // joins namespaces before Go starts
	"github.com/shoal-dev/shoal/internal/runtimecli"
)

// version is set with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "shoal",
		Short:         "Shoal runs containers",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runtimeCmd())
	root.AddCommand(newDaemonCmd())
	root.AddCommand(newMonitorCmd())
	addImageCmds(root)
	addClientCmds(root)
	if err := root.ExecuteContext(context.Background()); err != nil {
		var ee interface{ ExitCode() int }
		if errors.As(err, &ee) {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintf(os.Stderr, "shoal: %v\n", err)
		os.Exit(1)
	}
}

// exitError makes the process exit with a code, printing nothing.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ExitCode is the status the process exits with.
func (e exitError) ExitCode() int { return int(e) }

// runtimeCmd lists `shoal runtime` in the binary's help. internal/fastpath
// runs the verb before main; this is reached only when global flags come
// first (`shoal -H … runtime …`).
func runtimeCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "runtime",
		Short:              runtimecli.Short,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := runtimecli.Main(append([]string{"runtime"}, args...)); code != 0 {
				return exitError(code)
			}
			return nil
		},
	}
}
