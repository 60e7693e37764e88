package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/monitor"
)

// newMonitorCmd is the hidden `shoal monitor`, the parent of every
// container of a daemon; the daemon starts it.
func newMonitorCmd() *cobra.Command {
	var root string
	cmd := &cobra.Command{
		Use:    "monitor",
		Short:  "hold containers' stdio, logs and exit codes (started by the daemon)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			return monitor.Run(cmd.Context(), root, log)
		},
	}
	cmd.Flags().StringVar(&root, "root", "/run/shoal/monitor", "the monitor's directory")
	return cmd
}
