package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/ref"
)

// runOptions are run's flags beyond the container's.
type runOptions struct {
	containerOptions
	detach     bool
	sigProxy   bool
	detachKeys string
}

func (cl *cli) newRunCmd() *cobra.Command { return cl.runCmd(&runOptions{}) }

// runCmd is run with its options in o.
func (cl *cli) runCmd(o *runOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cl.run(cmd, o, args)
		},
	}
	fs := cmd.Flags()
	o.addFlags(fs)
	fs.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	fs.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	// run takes --detach-keys (the create flags declare it unsupported).
	fs.Lookup("detach-keys").Value = &anyValue{typ: "string"}
	fs.Lookup("detach-keys").Usage = "Override the key sequence for detaching a container"
	o.unsupported.names = removeName(o.unsupported.names, "detach-keys")
	return cmd
}

func removeName(names []string, name string) []string {
	out := names[:0]
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

func (cl *cli) newCreateCmd() *cobra.Command {
	o := &containerOptions{}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := o.parse(cmd.Flags(), args[0], args[1:])
			if err != nil {
				return withHelp(cmd, err, 125)
			}
			c, err := cl.client()
			if err != nil {
				return withHelp(cmd, err, 125)
			}
			id, err := cl.createContainer(cmd, c, o, req)
			if err != nil {
				return err // docker create exits 1 here, run 125
			}
			fmt.Fprintln(out(cmd), id)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// withHelp is Docker's "docker: <error>\n\nRun 'docker run --help' ...".
func withHelp(cmd *cobra.Command, err error, code int) error {
	return statusError{code: code, msg: fmt.Sprintf("%s: %v\n\nRun '%s --help' for more information", cmd.Root().Name(), err, cmd.CommandPath())}
}

// startStatus is run's exit status for a failure to create or start:
// 127 when the command was not found, 126 when it could not be run, 125
// otherwise (Docker's toStatusError).
func startStatus(cmd *cobra.Command, err error) error {
	msg := err.Error()
	code := 125
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") ||
		strings.Contains(msg, "system cannot find the file specified"):
		code = 127
	case strings.Contains(msg, syscall.EACCES.Error()) || strings.Contains(msg, syscall.EISDIR.Error()):
		code = 126
	}
	return withHelp(cmd, err, code)
}

// createContainer creates the container, pulling its image first with
// --pull always, or when missing with --pull missing, and writes
// --cidfile.
func (cl *cli) createContainer(cmd *cobra.Command, c *client.Client, o *containerOptions, req *containerConfig) (string, error) {
	ctx := cmd.Context()
	var cid *os.File
	written := false
	if o.cidfile != "" {
		if _, err := os.Stat(o.cidfile); err == nil {
			return "", fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", o.cidfile)
		}
		f, err := os.Create(o.cidfile)
		if err != nil {
			return "", fmt.Errorf("failed to create the container ID file: %w", err)
		}
		cid = f
		defer func() {
			f.Close()
			if !written {
				os.Remove(o.cidfile)
			}
		}()
	}
	image := req.Config.Image
	named, nerr := ref.Parse(image)
	pullImage := func() error {
		w := errOut(cmd)
		if o.quiet {
			w = io.Discard
		}
		return cl.pullImage(ctx, c, image, o.platform, w)
	}
	if o.pull == "always" {
		if err := pullImage(); err != nil {
			return "", err
		}
	}
	req.HostConfig.ConsoleSize[0], req.HostConfig.ConsoleSize[1] = ttySize(out(cmd))
	resp, err := c.ContainerCreate(ctx, o.name, o.platform, *req)
	if err != nil && errdefs.IsNotFound(err) && nerr == nil && o.pull == "missing" && isImageNotFound(err) {
		if !o.quiet {
			fmt.Fprintf(errOut(cmd), "Unable to find image '%s' locally\n", named.Familiar())
		}
		if err := pullImage(); err != nil {
			return "", err
		}
		resp, err = c.ContainerCreate(ctx, o.name, o.platform, *req)
	}
	if err != nil {
		return "", err
	}
	for _, w := range resp.Warnings {
		fmt.Fprintln(errOut(cmd), "WARNING:", w)
	}
	if cid != nil {
		if _, err := cid.WriteString(resp.ID); err != nil {
			return resp.ID, fmt.Errorf("failed to write the container ID (%s) to file: %w", resp.ID, err)
		}
		written = true
	}
	return resp.ID, nil
}

// isImageNotFound tells a missing image from another missing thing (a
// --volumes-from container, a network): only the image is pulled.
func isImageNotFound(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "image")
}

// pullImage pulls image, rendering the progress to w.
func (cl *cli) pullImage(ctx context.Context, c *client.Client, image, platform string, w io.Writer) error {
	body, err := c.ImagePull(ctx, image, platform, "")
	if err != nil {
		return err
	}
	defer body.Close()
	return displayStream(body, w, nil)
}

func (cl *cli) run(cmd *cobra.Command, o *runOptions, args []string) error {
	ctx := cmd.Context()
	fs := cmd.Flags()
	req, err := o.parse(fs, args[0], args[1:])
	if err != nil {
		return withHelp(cmd, err, 125)
	}
	keys, err := parseDetachKeys(fs.Lookup("detach-keys").Value.String())
	if err != nil {
		return withHelp(cmd, err, 125)
	}
	c, err := cl.client()
	if err != nil {
		return withHelp(cmd, err, 125)
	}
	cfg := req.Config
	stdin, stdout, stderr := cmd.InOrStdin(), out(cmd), errOut(cmd)
	if o.detach {
		if len(o.attach) != 0 {
			return withHelp(cmd, errors.New("conflicting options: cannot specify both --attach and --detach"), 125)
		}
		cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr, cfg.StdinOnce = false, false, false, false
	} else if err := checkTty(stdin, cfg.AttachStdin, cfg.Tty); err != nil {
		return withHelp(cmd, err, 125)
	}

	id, err := cl.createContainer(cmd, c, &o.containerOptions, req)
	if err != nil {
		return startStatus(cmd, err)
	}
	if o.sigProxy && !o.detach {
		stop := forwardSignals(context.WithoutCancel(ctx), c, id)
		defer stop()
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	attach := cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr
	var streamDone chan error
	if attach {
		conn, err := c.ContainerAttach(ctx, id, client.AttachOptions{
			Stream: true, Stdin: cfg.AttachStdin, Stdout: cfg.AttachStdout, Stderr: cfg.AttachStderr,
		})
		if err != nil {
			return startStatus(cmd, err)
		}
		defer conn.Close()
		s := &streamer{conn: conn, tty: cfg.Tty, keys: keys}
		if cfg.AttachStdin {
			s.in = stdin
		}
		if cfg.AttachStdout {
			s.out = stdout
		}
		if cfg.AttachStderr {
			s.errw = stderr
			if cfg.Tty {
				s.errw = stdout
			}
		}
		streamDone = make(chan error, 1)
		go func() { streamDone <- s.run(ctx) }()
	}

	condition := "next-exit"
	if o.rm {
		condition = "removed"
	}
	statusC := make(chan int, 1)
	wait, werr := c.ContainerWait(context.WithoutCancel(ctx), id, condition)
	if werr != nil {
		fmt.Fprintf(stderr, "error waiting for container: %v\n", werr)
		statusC <- 125
	} else {
		go func() {
			res, err := wait()
			if err != nil {
				fmt.Fprintf(stderr, "error waiting for container: %v\n", err)
				statusC <- 125
				return
			}
			statusC <- int(res.StatusCode)
		}()
	}

	if err := c.ContainerStart(ctx, id); err != nil {
		if attach {
			cancel()
			<-streamDone
		}
		if o.rm && werr == nil {
			<-statusC
		}
		return startStatus(cmd, err)
	}
	if !attach {
		fmt.Fprintln(stdout, id)
		return nil
	}
	if cfg.Tty {
		if _, ok := terminalFd(stdout); ok {
			monitorTTYSize(ctx, stdout, func(ctx context.Context, h, w uint) error {
				return c.ContainerResize(ctx, id, h, w)
			})
		}
	}
	select {
	case err := <-streamDone:
		if err != nil {
			if errors.Is(err, errDetached) {
				return nil
			}
			return err
		}
		if status := <-statusC; status != 0 {
			return exitError(status)
		}
	case status := <-statusC:
		if !cfg.AttachStdout && !cfg.AttachStderr {
			cancel()
		}
		<-streamDone
		if status != 0 {
			return exitError(status)
		}
	}
	return nil
}

func (cl *cli) newStartCmd() *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	var u unsupported
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			if attach || interactive {
				if len(args) > 1 {
					return errors.New("you cannot start and attach multiple containers at once")
				}
				keys, err := parseDetachKeys(detachKeys)
				if err != nil {
					return err
				}
				return cl.startAttached(cmd, c, args[0], attach, interactive, keys)
			}
			var failed []string
			for _, id := range args {
				if err := c.ContainerStart(cmd.Context(), id); err != nil {
					fmt.Fprintln(errOut(cmd), err)
					failed = append(failed, id)
					continue
				}
				fmt.Fprintln(out(cmd), id)
			}
			if len(failed) > 0 {
				return fmt.Errorf("Error: failed to start containers: %s", strings.Join(failed, ", "))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	fs.BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	fs.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	u.add(fs, "checkpoint", "", "string", "Restore from this checkpoint")
	u.add(fs, "checkpoint-dir", "", "string", "Use a custom checkpoint storage directory")
	return cmd
}

// startAttached is start -a/-i: attach, start, stream, and exit with the
// container's code.
func (cl *cli) startAttached(cmd *cobra.Command, c *client.Client, ref string, attach, interactive bool, keys []byte) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(cmd.Context()))
	defer cancel()
	info, _, err := c.ContainerInspect(ctx, ref)
	if err != nil {
		return err
	}
	if info.State != nil && info.State.Running {
		// Docker attaches to a running container only with -a.
		if !attach {
			return nil
		}
	}
	id := info.ID
	cfg := info.Config
	tty := cfg != nil && cfg.Tty
	stdinOpen := interactive && cfg != nil && cfg.OpenStdin
	stdin := cmd.InOrStdin()
	if err := checkTty(stdin, stdinOpen, tty); err != nil {
		return err
	}
	stop := forwardSignals(ctx, c, id)
	defer stop()
	conn, err := c.ContainerAttach(ctx, id, client.AttachOptions{Stream: true, Stdin: stdinOpen, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	s := &streamer{conn: conn, tty: tty, keys: keys, out: out(cmd), errw: errOut(cmd)}
	if tty {
		s.errw = out(cmd)
	}
	if stdinOpen {
		s.in = stdin
	}
	streamDone := make(chan error, 1)
	go func() { streamDone <- s.run(ctx) }()
	wait, err := c.ContainerWait(ctx, id, "next-exit")
	if err != nil {
		return err
	}
	if info.State == nil || !info.State.Running {
		if err := c.ContainerStart(ctx, id); err != nil {
			cancel()
			<-streamDone
			return err
		}
	}
	if tty {
		if _, ok := terminalFd(out(cmd)); ok {
			monitorTTYSize(ctx, out(cmd), func(ctx context.Context, h, w uint) error {
				return c.ContainerResize(ctx, id, h, w)
			})
		}
	}
	if err := <-streamDone; err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	res, err := wait()
	if err != nil {
		return err
	}
	if res.StatusCode != 0 {
		return exitError(res.StatusCode)
	}
	return nil
}

func (cl *cli) newAttachCmd() *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			keys, err := parseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(context.WithoutCancel(cmd.Context()))
			defer cancel()
			info, _, err := c.ContainerInspect(ctx, args[0])
			if err != nil {
				return err
			}
			if info.State == nil || !info.State.Running {
				return errors.New("You cannot attach to a stopped container, start it first")
			}
			if info.State.Paused {
				return errors.New("You cannot attach to a paused container, unpause it first")
			}
			if info.State.Restarting {
				return errors.New("You cannot attach to a restarting container, wait until it is running")
			}
			cfg := &container.Config{}
			if info.Config != nil {
				cfg = info.Config
			}
			attachStdin := !noStdin && cfg.OpenStdin
			stdin := cmd.InOrStdin()
			if err := checkTty(stdin, attachStdin, cfg.Tty); err != nil {
				return err
			}
			if sigProxy && !cfg.Tty {
				stop := forwardSignals(ctx, c, info.ID)
				defer stop()
			}
			conn, err := c.ContainerAttach(ctx, info.ID, client.AttachOptions{Stream: true, Stdin: attachStdin, Stdout: true, Stderr: true})
			if err != nil {
				return err
			}
			defer conn.Close()
			wait, err := c.ContainerWait(ctx, info.ID, "")
			if err != nil {
				return err
			}
			s := &streamer{conn: conn, tty: cfg.Tty, keys: keys, out: out(cmd), errw: errOut(cmd)}
			if cfg.Tty {
				s.errw = out(cmd)
				if _, ok := terminalFd(out(cmd)); ok {
					monitorTTYSize(ctx, out(cmd), func(ctx context.Context, h, w uint) error {
						return c.ContainerResize(ctx, info.ID, h, w)
					})
				}
			}
			if attachStdin {
				s.in = stdin
			}
			if err := s.run(ctx); err != nil {
				if errors.Is(err, errDetached) {
					return nil
				}
				return err
			}
			res, err := wait()
			if err != nil {
				return err
			}
			if res.StatusCode != 0 {
				return exitError(res.StatusCode)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fs.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	fs.BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	return cmd
}
