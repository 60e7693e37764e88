// Command shoal is Shoal's one binary: the CLI, the daemon, and the OCI
// runtime (`shoal runtime`, with runc's command line).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/initproc"
	"github.com/shoal-dev/shoal/internal/runtime"
	_ "github.com/shoal-dev/shoal/internal/runtime/nsenter" // joins namespaces before Go starts
)

// version is set with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if runtime.IsInit() {
		runtime.Init() // never returns
	}
	if filepath.Base(os.Args[0]) == initproc.Name {
		os.Exit(initproc.Main(os.Args[1:]))
	}
	root := &cobra.Command{
		Use:           "shoal",
		Short:         "Shoal runs containers",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRuntimeCmd())
	root.AddCommand(newDaemonCmd())
	root.AddCommand(newMonitorCmd())
	addImageCmds(root)
	addClientCmds(root)
	if err := root.ExecuteContext(context.Background()); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(int(ee))
		}
		fmt.Fprintf(os.Stderr, "shoal: %v\n", err)
		os.Exit(1)
	}
}

// exitError makes the process exit with a code, printing nothing.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
