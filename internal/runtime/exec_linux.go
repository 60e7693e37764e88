package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOpts are the options of Exec.
type ExecOpts struct {
	IO            IO
	ConsoleSocket string
	console       *os.File
	PreserveFDs   int
	Detach        bool
	// PidFile, when set, receives the exec'd process's pid.
	PidFile string
	// Started, when set, is called with the process's pid once it runs
	// the program.
	Started func(pid int)
}

// Exec runs p in the namespaces and cgroup of a running container. Unless
// detached it waits for p and returns its exit status.
func (r *Runtime) Exec(ctx context.Context, id string, p *specs.Process, o ExecOpts) (int, error) {
	c, err := r.Load(id)
	if err != nil {
		return 0, err
	}
	if st := c.Status(); st != StatusRunning && st != StatusCreated {
		return 0, fmt.Errorf("container %s is %s, not running: %w", id, st, ErrState)
	}
	if err := validateProcess(p); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := checkHostLimits(p); err != nil {
		return 0, err
	}
	if p.Terminal && o.ConsoleSocket == "" && o.console == nil {
		return 0, fmt.Errorf("a terminal needs --console-socket: %w", ErrInvalidConfig)
	}
	cg, err := c.cgroup()
	if err != nil {
		return 0, err
	}
	so := spawnOpts{
		stdin: o.IO.Stdin, stdout: o.IO.Stdout, stderr: o.IO.Stderr,
		plan: !r.goInit,
		joinCgroup: func(pid int) error {
			if err := cg.Apply(pid); err != nil {
				return fmt.Errorf("join cgroup: %w", err)
			}
			return nil
		},
	}
	if p.OOMScoreAdj != nil {
		so.oomScoreAdj = p.OOMScoreAdj
	}
	for i := 0; i < o.PreserveFDs; i++ {
		so.preserve = append(so.preserve, os.NewFile(uintptr(3+i), "preserved"))
	}
	userns := false
	for _, ns := range c.Spec.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			userns = true
		}
		so.nsPaths = append(so.nsPaths, nsTypeName[ns.Type]+":/proc/"+strconv.Itoa(c.Pid)+"/ns/"+nsTypeName[ns.Type])
	}
	if p.Terminal {
		if o.console != nil {
			so.console = o.console
		} else {
			conn, err := dialConsole(o.ConsoleSocket)
			if err != nil {
				return 0, err
			}
			defer conn.Close()
			so.console = conn
		}
	}
	var sigs chan os.Signal
	if !o.Detach {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		sigs = make(chan os.Signal, 32)
		signal.Notify(sigs, forwardedSignals...)
		defer signal.Stop(sigs)
	}
	sp, err := spawn(so)
	if err != nil {
		return 0, err
	}
	defer sp.sock.Close()
	// Seccomp and the rest of the container's security settings apply to
	// exec'd processes too.
	spec := &specs.Spec{Linux: &specs.Linux{}}
	if c.Spec.Linux != nil {
		spec.Linux.Seccomp = c.Spec.Linux.Seccomp
	}
	cfg := &initConfig{Exec: true, Spec: spec, Process: p, UserNS: userns, PreserveFDs: o.PreserveFDs}
	if so.console != nil {
		cfg.ConsoleFD = 3 + o.PreserveFDs + 1
	}
	if err := sendInit(sp, cfg); err != nil {
		_ = unix.Kill(sp.pid, unix.SIGKILL)
		_, _ = unix.Wait4(sp.pid, nil, 0, nil)
		return 0, err
	}
	if err := sp.conn.expect(msgReady); err != nil {
		_ = unix.Kill(sp.pid, unix.SIGKILL)
		_, _ = unix.Wait4(sp.pid, nil, 0, nil)
		return 0, err
	}
	// After ready, init execs; an exec failure still sends an error.
	var m syncMsg
	if err := sp.conn.dec.Decode(&m); err == nil && m.Type == msgError {
		_, _ = unix.Wait4(sp.pid, nil, 0, nil)
		return 0, errors.New(m.Error)
	}
	if o.PidFile != "" {
		if err := WritePidFile(o.PidFile, sp.pid); err != nil {
			return 0, err
		}
	}
	if o.Started != nil {
		o.Started(sp.pid)
	}
	if o.Detach {
		return 0, nil
	}
	return waitForward(sp.pid, sigs), nil
}

// forwardedSignals are the signals run and exec pass on to the process
// they wait for. (Not every signal: handlers for all 64 cost a start-up's
// worth of rt_sigaction calls, and SIGCHLD, SIGPIPE, SIGURG are the
// runtime's own.)
var forwardedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGWINCH, unix.SIGCONT, unix.SIGALRM, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
	unix.SIGPWR, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGPROF,
}

// waitForward waits for pid, forwarding the signals that arrive on sigs,
// and returns its exit status (128+signal when killed).
func waitForward(pid int, sigs chan os.Signal) int {
	status := make(chan int, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			wpid, err := unix.Wait4(-1, &ws, 0, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				status <- 255
				return
			}
			if wpid == pid {
				if ws.Signaled() {
					status <- 128 + int(ws.Signal())
				} else {
					status <- ws.ExitStatus()
				}
				return
			}
		}
	}()
	for {
		select {
		case code := <-status:
			return code
		case s := <-sigs:
			if sig, ok := s.(unix.Signal); ok && sig != unix.SIGCHLD && sig != unix.SIGURG {
				_ = unix.Kill(pid, sig)
			}
		}
	}
}

// WritePidFile writes pid to path atomically.
func WritePidFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}
