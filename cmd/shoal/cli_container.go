package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// parallel runs op on every argument, at most 50 at a time, and returns
// their errors in argument order (docker's parallelOperation).
func parallel(ctx context.Context, args []string, op func(ctx context.Context, id string) error) []error {
	errs := make([]error, len(args))
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for i, a := range args {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = op(ctx, a)
			<-sem
		}()
	}
	wg.Wait()
	return errs
}

// eachContainer is the shape of stop, kill, pause...: the operation on
// every argument, each name printed on success, the errors at the end.
func (cl *cli) eachContainer(cmd *cobra.Command, args []string, op func(ctx context.Context, c *client.Client, id string) error) error {
	c, err := cl.client()
	if err != nil {
		return err
	}
	errs := parallel(cmd.Context(), args, func(ctx context.Context, id string) error { return op(ctx, c, id) })
	var failed runErrors
	for i, err := range errs {
		if err != nil {
			failed.add(err)
			continue
		}
		fmt.Fprintln(out(cmd), args[i])
	}
	return failed.err()
}

func (cl *cli) newStopCmd() *cobra.Command {
	return cl.stopLike("stop", "Stop one or more running containers")
}

func (cl *cli) newRestartCmd() *cobra.Command {
	return cl.stopLike("restart", "Restart one or more containers")
}

func (cl *cli) stopLike(verb, short string) *cobra.Command {
	var signal string
	var timeout int
	cmd := &cobra.Command{
		Use:   verb + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *int
			if cmd.Flags().Changed("timeout") || cmd.Flags().Changed("time") {
				t = &timeout
			}
			return cl.eachContainer(cmd, args, func(ctx context.Context, c *client.Client, id string) error {
				if verb == "stop" {
					return c.ContainerStop(ctx, id, signal, t)
				}
				return c.ContainerRestart(ctx, id, signal, t)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	fs.IntVarP(&timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	fs.IntVar(&timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	_ = fs.MarkDeprecated("time", "use --timeout instead")
	return cmd
}

func (cl *cli) newKillCmd() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cl.eachContainer(cmd, args, func(ctx context.Context, c *client.Client, id string) error {
				return c.ContainerKill(ctx, id, signal)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func (cl *cli) newPauseCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cl.eachContainer(cmd, args, func(ctx context.Context, c *client.Client, id string) error {
				return c.ContainerPause(ctx, id)
			})
		},
	}
}

func (cl *cli) newUnpauseCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cl.eachContainer(cmd, args, func(ctx context.Context, c *client.Client, id string) error {
				return c.ContainerUnpause(ctx, id)
			})
		},
	}
}

func (cl *cli) newRmCmd() *cobra.Command {
	var force, volumes bool
	var u unsupported
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			errs := parallel(cmd.Context(), args, func(ctx context.Context, id string) error {
				id = strings.Trim(id, "/")
				if id == "" {
					return errors.New("container name cannot be empty")
				}
				return c.ContainerRemove(ctx, id, force, volumes)
			})
			var failed runErrors
			for i, err := range errs {
				if err != nil {
					if force && errdefs.IsNotFound(err) {
						// Printed, but not a failure.
						fmt.Fprintln(errOut(cmd), err)
						continue
					}
					failed.add(err)
					continue
				}
				fmt.Fprintln(out(cmd), args[i])
			}
			return failed.err()
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	fs.BoolVarP(&volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	u.add(fs, "link", "l", "bool", "Remove the specified link")
	return cmd
}

func (cl *cli) newWaitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			var failed runErrors
			for _, id := range args {
				wait, err := c.ContainerWait(cmd.Context(), id, "")
				if err == nil {
					var res container.WaitResponse
					res, err = wait()
					if err == nil {
						fmt.Fprintf(out(cmd), "%d\n", res.StatusCode)
						continue
					}
				}
				failed.add(err)
			}
			return failed.err()
		},
	}
}

func (cl *cli) newRenameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			old, name := strings.TrimSpace(args[0]), strings.TrimSpace(args[1])
			if old == "" || name == "" {
				return errors.New("Error: Neither old nor new names may be empty")
			}
			if err := c.ContainerRename(cmd.Context(), old, name); err != nil {
				return fmt.Errorf("%w\nError: failed to rename container named %s", err, old)
			}
			return nil
		},
	}
}

func (cl *cli) newTopCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			top, err := c.ContainerTop(cmd.Context(), args[0], strings.Join(args[1:], " "))
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out(cmd), 20, 1, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(top.Titles, "\t"))
			for _, p := range top.Processes {
				fmt.Fprintln(tw, strings.Join(p, "\t"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func (cl *cli) newDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			changes, err := c.ContainerChanges(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for _, ch := range changes {
				kind := "C"
				switch ch.Kind {
				case container.ChangeAdd:
					kind = "A"
				case container.ChangeDelete:
					kind = "D"
				}
				fmt.Fprintf(out(cmd), "%s %s\n", kind, ch.Path)
			}
			return nil
		},
	}
}

// writeTo copies r to the file name (atomically), or to stdout, which
// must not be a terminal.
func writeTo(cmd *cobra.Command, name string, r io.Reader, what string) error {
	if name == "" {
		if _, ok := terminalFd(out(cmd)); ok {
			return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		_, err := io.Copy(out(cmd), r)
		return err
	}
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("failed to %s: %w", what, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("failed to %s: %w", what, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("failed to %s: %w", what, err)
	}
	return os.Rename(tmp, name)
}

func (cl *cli) newExportCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			if output == "" {
				if _, ok := terminalFd(out(cmd)); ok {
					return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
			}
			body, err := c.ContainerExport(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer body.Close()
			return writeTo(cmd, output, body, "export container")
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func (cl *cli) newUpdateCmd() *cobra.Command {
	var (
		blkio                                                uint16
		cpuPeriod, cpuQuota, cpuRtPeriod, cpuRtRuntime, cpuS int64
		pids                                                 int64
		cpus                                                 nanoCPUs
		cpusetCpus, cpusetMems, restart                      string
		memory, memoryRes                                    bytesValue
		memorySwap                                           = bytesValue{swap: true}
	)
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			fs := cmd.Flags()
			var rp container.RestartPolicy
			if fs.Changed("restart") {
				var err error
				if rp, err = parseRestartPolicy(restart); err != nil {
					return err
				}
			}
			u := container.UpdateConfig{
				Resources: container.Resources{
					BlkioWeight: blkio, CpusetCpus: cpusetCpus, CpusetMems: cpusetMems,
					Memory: memory.n, MemoryReservation: memoryRes.n, MemorySwap: memorySwap.n,
					CPUPeriod: cpuPeriod, CPUQuota: cpuQuota, CPURealtimePeriod: cpuRtPeriod,
					CPURealtimeRuntime: cpuRtRuntime, CPUShares: cpuS, NanoCPUs: int64(cpus),
				},
				RestartPolicy: rp,
			}
			if fs.Changed("pids-limit") {
				u.PidsLimit = &pids
			}
			var warnings []string
			var mu sync.Mutex
			err := cl.eachContainer(cmd, args, func(ctx context.Context, c *client.Client, id string) error {
				resp, err := c.ContainerUpdate(ctx, id, u)
				mu.Lock()
				warnings = append(warnings, resp.Warnings...)
				mu.Unlock()
				return err
			})
			for _, w := range warnings {
				fmt.Fprintln(errOut(cmd), w)
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.Uint16Var(&blkio, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable")
	fs.Int64Var(&cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.Int64Var(&cpuRtPeriod, "cpu-rt-period", 0, "Limit the CPU real-time period in microseconds")
	fs.Int64Var(&cpuRtRuntime, "cpu-rt-runtime", 0, "Limit the CPU real-time runtime in microseconds")
	fs.Int64VarP(&cpuS, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Var(&cpus, "cpus", "Number of CPUs")
	fs.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.VarP(&memory, "memory", "m", "Memory limit")
	fs.Var(&memoryRes, "memory-reservation", "Memory soft limit")
	fs.Var(&memorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	fs.Int64Var(&pids, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&restart, "restart", "", "Restart policy to apply when a container exits")
	return cmd
}

// confirm asks the prune question unless force; true to go on.
func confirm(cmd *cobra.Command, force bool, warning string) bool {
	if force {
		return true
	}
	fmt.Fprintf(out(cmd), "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}

func (cl *cli) newContainerPruneCmd() *cobra.Command {
	var force bool
	var filters filterFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			if !confirm(cmd, force, "WARNING! This will remove all stopped containers.") {
				// docker 28 ends a declined prune quietly, with status 0.
				return nil
			}
			rep, err := c.ContainersPrune(cmd.Context(), filters.m)
			if err != nil {
				return err
			}
			w := out(cmd)
			if len(rep.ContainersDeleted) > 0 {
				fmt.Fprintln(w, "Deleted Containers:")
				for _, id := range rep.ContainersDeleted {
					fmt.Fprintln(w, id)
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "Total reclaimed space: %s\n", units.HumanSize(float64(rep.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().Var(&filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

func (cl *cli) newLogsCmd() *cobra.Command {
	var o client.LogsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			info, _, err := c.ContainerInspect(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			o.Stdout, o.Stderr = true, true
			body, err := c.ContainerLogs(cmd.Context(), info.ID, o)
			if err != nil {
				return err
			}
			defer body.Close()
			if info.Config != nil && info.Config.Tty {
				_, err = io.Copy(out(cmd), body)
			} else {
				_, err = client.Demux(out(cmd), errOut(cmd), body)
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.Details, "details", false, "Show extra details provided to logs")
	fs.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	fs.StringVar(&o.Since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fs.StringVarP(&o.Tail, "tail", "n", "all", `Number of lines to show from the end of the logs`)
	fs.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	fs.StringVar(&o.Until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	return cmd
}

func (cl *cli) newExecCmd() *cobra.Command {
	var (
		detach, interactive, tty, privileged bool
		detachKeys, user, workdir            string
		env, envFile                         []string
	)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			keys, err := parseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			vars := []string{}
			for _, f := range envFile {
				v, err := readKVFile(f, os.LookupEnv)
				if err != nil {
					return err
				}
				vars = append(vars, v...)
			}
			vars = append(vars, env...)
			req := container.ExecCreateRequest{
				User: user, Privileged: privileged, Tty: tty, Cmd: args[1:], WorkingDir: workdir, Env: vars,
				DetachKeys: detachKeys,
			}
			if !detach {
				req.AttachStdout, req.AttachStderr, req.AttachStdin = true, true, interactive
			}
			if _, _, err := c.ContainerInspect(ctx, args[0]); err != nil {
				return err
			}
			stdin := cmd.InOrStdin()
			if !detach {
				if err := checkTty(stdin, req.AttachStdin, tty); err != nil {
					return err
				}
			}
			if tty {
				h, w := ttySize(out(cmd))
				req.ConsoleSize = &[2]uint{h, w}
			}
			execID, err := c.ExecCreate(ctx, args[0], req)
			if err != nil {
				return err
			}
			if detach {
				return c.ExecStartDetached(ctx, execID)
			}
			conn, err := c.ExecAttach(ctx, execID, container.ExecStartRequest{Tty: tty, ConsoleSize: req.ConsoleSize})
			if err != nil {
				return err
			}
			defer conn.Close()
			s := &streamer{conn: conn, tty: tty, keys: keys, out: out(cmd), errw: errOut(cmd)}
			if tty {
				s.errw = out(cmd)
			}
			if interactive {
				s.in = stdin
			}
			sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			defer cancel()
			if tty {
				if _, ok := terminalFd(stdin); ok {
					monitorTTYSize(sctx, out(cmd), func(ctx context.Context, h, w uint) error {
						return c.ExecResize(ctx, execID, h, w)
					})
				}
			}
			if err := s.run(sctx); err != nil {
				if errors.Is(err, errDetached) {
					return nil
				}
				return err
			}
			res, err := c.ExecInspect(ctx, execID)
			if err != nil {
				var ce *client.ConnectError
				if errors.As(err, &ce) {
					return exitError(-1)
				}
				return err
			}
			if res.ExitCode != nil && *res.ExitCode != 0 {
				return exitError(*res.ExitCode)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
	fs.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fs.VarP(&listValue{v: &env, validate: validateEnv}, "env", "e", "Set environment variables")
	fs.Var(newList(&envFile), "env-file", "Read in a file of environment variables")
	fs.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVar(&privileged, "privileged", false, "Give extended privileges to the command")
	fs.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.StringVarP(&user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	fs.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}
