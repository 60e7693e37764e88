package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runner is one row of the table: how to invoke a runtime.
type runner struct {
	name string
	// bin is the runtime's binary; global are its arguments before the
	// subcommand (e.g. "runtime --root DIR" for shoal).
	bin    string
	global []string
	state  string // --root dir; "" for bare
	log    string // stdout+stderr of the last invocation
	// bareArgv is the whole command line of the bare reference.
	bareArgv []string

	samples []sample
}

// sample is one timed invocation.
type sample struct {
	wall       time.Duration
	user, sys  time.Duration
	minflt     int64
	nvcsw      int64
	nivcsw     int64
	exitStatus int
}

func (b *bench) newRunner(name string) (*runner, error) {
	o := b.opts
	r := &runner{name: name, log: filepath.Join(b.tmp, "log", name+".log")}
	if err := os.MkdirAll(filepath.Dir(r.log), 0o755); err != nil {
		return nil, err
	}
	if name != "bare" {
		r.state = filepath.Join(b.tmp, "state", name)
		if err := os.MkdirAll(r.state, 0o700); err != nil {
			return nil, err
		}
	}
	switch name {
	case "shoal":
		r.bin, r.global = o.shoal, []string{"runtime", "--root", r.state}
	case "runc":
		r.bin, r.global = o.runc, []string{"--root", r.state}
	case "crun":
		r.bin, r.global = o.crun, []string{"--root", r.state}
	case "bare":
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			return nil, err
		}
		chroot, err := exec.LookPath("chroot")
		if err != nil {
			return nil, err
		}
		r.bin = unshare
		r.bareArgv = []string{"--pid", "--fork", "--mount", "--uts", "--ipc", "--net", chroot, b.rootfs, "/bin/true"}
	default:
		return nil, fmt.Errorf("unknown runtime %q", name)
	}
	return r, nil
}

// argv is the runtime's command line for a subcommand, without the binary
// (for bare: the whole reference command line).
func (r *runner) argv(sub ...string) []string {
	if r.name == "bare" {
		return r.bareArgv
	}
	return append(append([]string{}, r.global...), sub...)
}

// cmd returns the exec.Cmd for a subcommand of the runtime.
func (r *runner) cmd(ctx context.Context, sub ...string) (*exec.Cmd, *os.File, error) {
	return r.command(ctx, r.bin, r.argv(sub...)...)
}

// command returns an exec.Cmd with stdin /dev/null and stdout+stderr to
// r.log: plain files, so os/exec starts no copying goroutines.
func (r *runner) command(ctx context.Context, bin string, args ...string) (*exec.Cmd, *os.File, error) {
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, err
	}
	c := exec.CommandContext(ctx, bin, args...)
	c.Stdin = nil // /dev/null
	c.Stdout, c.Stderr = logf, logf
	// Own process group: a Ctrl-C on the terminal reaches the harness,
	// which stops between runs, not the runtime in the middle of one.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	return c, logf, nil
}

// exec runs one prepared command and times it from fork to exit.
func (r *runner) exec(c *exec.Cmd, logf *os.File) (sample, error) {
	defer logf.Close()
	t0 := time.Now()
	err := c.Start()
	if err == nil {
		err = c.Wait()
	}
	wall := time.Since(t0)
	s := sample{wall: wall}
	if c.ProcessState != nil {
		s.exitStatus = c.ProcessState.ExitCode()
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.user = time.Duration(ru.Utime.Nano())
			s.sys = time.Duration(ru.Stime.Nano())
			s.minflt = ru.Minflt
			s.nvcsw = ru.Nvcsw
			s.nivcsw = ru.Nivcsw
		}
	}
	if err != nil {
		out, _ := os.ReadFile(r.log)
		return s, fmt.Errorf("%s %s: %v\n--- output ---\n%s", c.Path, strings.Join(c.Args[1:], " "), err, out)
	}
	return s, nil
}

// runOnce does one `run` (or the bare command) with a fresh cgroupsPath.
func (b *bench) runOnce(ctx context.Context, r *runner, iter string) (sample, error) {
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}
	id := containerID(b.token, r.name, iter)
	if r.name != "bare" {
		if err := b.writeConfig(r.name, iter); err != nil {
			return sample{}, err
		}
	}
	c, logf, err := r.cmd(ctx, "run", "--bundle", b.bundle, id)
	if err != nil {
		return sample{}, err
	}
	s, err := r.exec(c, logf)
	b.orphans[r.name] += reapOrphans()
	if err != nil {
		if r.name != "bare" {
			r.forceDelete(id)
		}
		return s, err
	}
	return s, nil
}

func containerID(token, runtime, iter string) string {
	return "sb-" + token + "-" + runtime + "-" + iter
}

// forceDelete removes a container after a failed or interrupted run.
func (r *runner) forceDelete(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := append(append([]string{}, r.global...), "delete", "--force", id)
	c := exec.CommandContext(ctx, r.bin, args...)
	_ = c.Run()
}

// reapOrphans collects exited processes that were reparented to us (we
// are a child subreaper) and returns how many there were. It must not run
// while an exec.Cmd of ours is between Start and Wait.
func reapOrphans() int {
	n := 0
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			if err != nil && !errors.Is(err, unix.ECHILD) && !errors.Is(err, unix.EINTR) {
				fmt.Fprintln(os.Stderr, "reap orphans:", err)
			}
			return n
		}
		n++
	}
}
