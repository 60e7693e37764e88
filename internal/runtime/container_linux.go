package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/runtime/cgroups"
)

// IO is the stdio a container's process gets.
type IO struct {
	Stdin, Stdout, Stderr *os.File
}

// CreateOpts are the options of Create.
type CreateOpts struct {
	Bundle string
	// ConsoleSocket is the path of a unix socket that receives the pty
	// master when process.terminal is set.
	ConsoleSocket string
	// console, when set, is used instead of dialling ConsoleSocket.
	console *os.File
	// spec and rootfs, when set, are the bundle already loaded.
	spec        *specs.Spec
	rootfs      string
	PreserveFDs int
	IO          IO
}

// Create creates a container from a bundle: namespaces, cgroups and
// mounts are set up and the init waits for Start.
func (r *Runtime) Create(ctx context.Context, id string, o CreateOpts) (*Container, error) {
	c, sp, err := r.create(ctx, id, o)
	if sp != nil {
		sp.sock.Close()
	}
	return c, err
}

func (r *Runtime) create(ctx context.Context, id string, o CreateOpts) (c *Container, sp *spawned, err error) {
	if err := ValidateID(id); err != nil {
		return nil, nil, err
	}
	spec, rootfs := o.spec, o.rootfs
	if spec == nil {
		if spec, rootfs, err = LoadBundle(o.Bundle); err != nil {
			return nil, nil, err
		}
	}
	if spec.Process != nil {
		if err := checkHostLimits(spec.Process); err != nil {
			return nil, nil, err
		}
	}
	if spec.Process != nil && spec.Process.Terminal && o.ConsoleSocket == "" && o.console == nil {
		return nil, nil, fmt.Errorf("process.terminal is set: --console-socket is required: %w", ErrInvalidConfig)
	}
	bundle, _ := filepath.Abs(o.Bundle)
	dir := filepath.Join(r.root, id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, nil, fmt.Errorf("container %s: %w", id, ErrExist)
		}
		return nil, nil, fmt.Errorf("create state dir: %w", err)
	}
	// The owner is recorded as a uid; resolving a name goes through NSS
	// (milliseconds with cgo) and only `list` shows it.
	owner := strconv.Itoa(os.Geteuid())
	c = &Container{
		ID: id, Bundle: bundle, Rootfs: rootfs, Created: time.Now().UTC(),
		Owner: owner, Spec: spec, dir: dir,
	}
	var cg cgroupManager
	defer func() {
		if err == nil {
			return
		}
		if sp != nil {
			_ = unix.Kill(sp.pid, unix.SIGKILL)
			waitGone(sp.pid, c.StartTime, 2*time.Second)
			sp.sock.Close()
			sp = nil
		}
		if cg != nil {
			_ = cg.Destroy()
		}
		_ = os.RemoveAll(dir)
	}()

	fifoPath := filepath.Join(dir, fifoName)
	if err := unix.Mkfifo(fifoPath, 0o600); err != nil {
		return nil, nil, fmt.Errorf("create exec fifo: %w", err)
	}
	if spec.Process != nil {
		// init opens the fifo after it became the container's user.
		uid := hostID(spec.Linux.UIDMappings, spec.Process.User.UID)
		gid := hostID(spec.Linux.GIDMappings, spec.Process.User.GID)
		if err := os.Chown(fifoPath, int(uid), int(gid)); err != nil {
			return nil, nil, fmt.Errorf("chown exec fifo: %w", err)
		}
	}
	fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()

	cg, err = newCgroup(id, spec)
	if err != nil {
		return nil, nil, err
	}

	so := spawnOpts{
		uidMappings: spec.Linux.UIDMappings,
		gidMappings: spec.Linux.GIDMappings,
		stdin:       o.IO.Stdin, stdout: o.IO.Stdout, stderr: o.IO.Stderr,
		fifo: fifo,
		plan: !r.goInit,
		joinCgroup: func(pid int) error {
			if err := cg.Apply(pid); err != nil {
				return fmt.Errorf("join cgroup: %w", err)
			}
			if err := cg.Set(withDefaultDevices(spec)); err != nil {
				return fmt.Errorf("apply resources: %w", err)
			}
			return nil
		},
	}
	if spec.Process != nil {
		so.oomScoreAdj = spec.Process.OOMScoreAdj
	}
	for i := 0; i < o.PreserveFDs; i++ {
		so.preserve = append(so.preserve, os.NewFile(uintptr(3+i), "preserved"))
	}
	userns := false
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			userns = true
		}
		if ns.Path == "" {
			so.cloneFlags |= nsCloneFlag[ns.Type]
			if ns.Type == specs.PIDNamespace {
				c.OwnPidNS = true
			}
			if ns.Type == specs.MountNamespace {
				c.OwnMntNS = true
			}
		} else {
			so.nsPaths = append(so.nsPaths, nsTypeName[ns.Type]+":"+ns.Path)
		}
	}
	if spec.Process != nil && spec.Process.Terminal {
		if o.console != nil {
			so.console = o.console
		} else {
			conn, err := dialConsole(o.ConsoleSocket)
			if err != nil {
				return nil, nil, err
			}
			defer conn.Close()
			so.console = conn
		}
	}
	sp, err = spawn(so)
	if err != nil {
		return nil, nil, err
	}
	c.Pid = sp.pid
	if c.StartTime, err = procStartTime(sp.pid); err != nil {
		return nil, nil, fmt.Errorf("read init start time: %w", err)
	}
	c.CgroupMode, c.CgroupPaths = int(cg.Mode()), cg.Paths()
	if err := c.save(); err != nil {
		return nil, nil, err
	}
	cfg := &initConfig{
		Spec: spec, Process: spec.Process, Rootfs: rootfs, Bundle: bundle,
		UserNS: userns, NewMnt: c.OwnMntNS, PreserveFDs: o.PreserveFDs,
		NewCgroupNS: so.cloneFlags&unix.CLONE_NEWCGROUP != 0,
		State:       c.State(),
	}
	cfg.State.Status = StatusCreating
	cfg.FifoFD = 3 + o.PreserveFDs + 1
	if so.console != nil {
		cfg.ConsoleFD = cfg.FifoFD + 1
	}
	if err := sendInit(sp, cfg); err != nil {
		return nil, nil, err
	}
	if err := sp.conn.expect(msgHooks); err != nil {
		return nil, nil, err
	}
	if spec.Hooks != nil {
		st := c.State()
		st.Status = StatusCreated
		if err := runHooks(spec.Hooks.Prestart, st, "prestart"); err != nil { //nolint:staticcheck // prestart is deprecated but still in the spec
			return nil, nil, err
		}
		if err := runHooks(spec.Hooks.CreateRuntime, st, "createRuntime"); err != nil {
			return nil, nil, err
		}
	}
	if err := sp.conn.send(syncMsg{Type: msgAck}); err != nil {
		return nil, nil, err
	}
	if err := sp.conn.expect(msgReady); err != nil {
		return nil, nil, err
	}
	return c, sp, nil
}

// hostID maps a container uid or gid to the host's through the id map;
// without a map they are the same.
func hostID(m []specs.LinuxIDMapping, id uint32) uint32 {
	if len(m) == 0 {
		return id
	}
	for _, e := range m {
		if id >= e.ContainerID && id < e.ContainerID+e.Size {
			return e.HostID + id - e.ContainerID
		}
	}
	return 65534
}

func dialConsole(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), "console-socket"), nil
}

// Start releases a created container's init to exec its program.
func (r *Runtime) Start(ctx context.Context, id string) error {
	c, err := r.Load(id)
	if err != nil {
		return err
	}
	unlock, err := lockDir(c.dir)
	if err != nil {
		return fmt.Errorf("lock %s: %w", id, err)
	}
	defer unlock()
	return c.start()
}

func (c *Container) start() error {
	if st := c.Status(); st != StatusCreated {
		return fmt.Errorf("container %s is %s, not created: %w", c.ID, st, ErrState)
	}
	if c.Spec.Process == nil {
		// Nothing to run: the container ends, as the spec asks.
		_ = unix.Kill(c.Pid, unix.SIGKILL)
		waitGone(c.Pid, c.StartTime, 5*time.Second)
		return fmt.Errorf("container %s has no process to start: %w", c.ID, ErrInvalidConfig)
	}
	fifoPath := filepath.Join(c.dir, fifoName)
	fifo, err := c.openFifo(fifoPath)
	if err != nil {
		return err
	}
	buf := make([]byte, 1)
	n, err := fifo.Read(buf)
	_ = os.Remove(fifoPath)
	if err != nil || n != 1 {
		fifo.Close()
		return fmt.Errorf("container %s init exited before start", c.ID)
	}
	// EOF comes when init execs the container's program (its end of the
	// fifo is close-on-exec), or dies trying.
	_, _ = fifo.Read(buf)
	fifo.Close()
	if c.Spec.Hooks != nil && len(c.Spec.Hooks.Poststart) > 0 {
		st := c.State()
		st.Status = StatusRunning
		// The spec: a failing poststart hook is warned about and the
		// others still run.
		runHooksWarn(c.Spec.Hooks.Poststart, st, "poststart")
	}
	return nil
}

// openFifo opens the exec fifo for reading, which blocks until init opens
// its end. If init dies first (it may after create returned, or while
// this waits), the open is released by opening the writing end here, and
// start fails instead of waiting forever.
func (c *Container) openFifo(path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
		done <- opened{f, err}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case o := <-done:
			if o.err != nil {
				return nil, fmt.Errorf("open exec fifo: %w", o.err)
			}
			return o.f, nil
		case <-tick.C:
			if c.alive() {
				continue
			}
			// A non-blocking open of the writing end succeeds once the
			// reader's open is waiting (ENXIO before), and releases it:
			// a read then sees EOF, and start reports that init is gone.
			for {
				if w, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
					w.Close()
					break
				} else if !errors.Is(err, unix.ENXIO) {
					break
				}
				select {
				case o := <-done:
					return o.f, o.err
				case <-time.After(5 * time.Millisecond):
				}
			}
			o := <-done
			return o.f, o.err
		}
	}
}

// Run creates and starts a container and waits for its init to exit,
// forwarding signals to it. It returns the exit status: the code, or
// 128+signal. The container is deleted unless detach is set.
// created, when not nil, is called with init's pid once it exists.
func (r *Runtime) Run(ctx context.Context, id string, o CreateOpts, detach bool, created func(pid int) error) (int, error) {
	if !detach {
		// Child subreaper: if the init is in our pid namespace its
		// orphans come back to us; and we reap init ourselves.
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	sigs := make(chan os.Signal, 32)
	if !detach {
		signal.Notify(sigs, forwardedSignals...)
		defer signal.Stop(sigs)
	}
	// A terminal without a console socket: the runtime holds the pty
	// master itself and copies it to its own stdio, as runc does.
	if err := ValidateID(id); err != nil {
		return 0, err
	}
	var err error
	if o.spec, o.rootfs, err = LoadBundle(o.Bundle); err != nil {
		return 0, err
	}
	var consolePeer *os.File
	if !detach && o.ConsoleSocket == "" {
		if spec := o.spec; spec.Process != nil && spec.Process.Terminal {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return 0, fmt.Errorf("create console socket: %w", err)
			}
			o.console = os.NewFile(uintptr(fds[0]), "console")
			consolePeer = os.NewFile(uintptr(fds[1]), "console-peer")
			defer o.console.Close()
			defer consolePeer.Close()
		}
	}
	c, sp, err := r.create(ctx, id, o)
	if err != nil {
		return 0, err
	}
	sp.sock.Close()
	if consolePeer != nil {
		master, err := ReceiveConsole(consolePeer)
		if err != nil {
			_ = r.Delete(ctx, id, true)
			return 0, err
		}
		defer master.Close()
		restore := proxyConsole(master, o.IO)
		defer restore()
	}
	if created != nil {
		if err := created(c.Pid); err != nil {
			_ = r.Delete(ctx, id, true)
			return 0, err
		}
	}
	if err := c.start(); err != nil {
		_ = r.Delete(ctx, id, true)
		return 0, err
	}
	if detach {
		return 0, nil
	}
	code := waitForward(c.Pid, sigs)
	_ = r.Delete(ctx, id, true)
	return code, nil
}

// Kill sends sig to the container's init, or with all to every process
// in its cgroup. Signalling the init of a container that is not running
// (its init exited, even just now) is ErrState; with all, a container whose
// processes are gone, cgroup included, has nothing to kill and that is not
// an error.
func (r *Runtime) Kill(ctx context.Context, id string, sig unix.Signal, all bool) error {
	c, err := r.Load(id)
	if err != nil {
		return err
	}
	if all {
		if cg, err := c.cgroup(); err == nil && cg != nil {
			if err := cg.Kill(sig); err != nil {
				return fmt.Errorf("signal processes of %s: %w", id, err)
			}
			return nil
		}
	}
	return c.signalInit(sig)
}

// signalInit sends sig to the container's init, unless it is no longer
// the process that was started: a pidfd pins it, so a pid reused between
// the check and the signal cannot be hit.
func (c *Container) signalInit(sig unix.Signal) error {
	notRunning := fmt.Errorf("container %s is not running: %w", c.ID, ErrState)
	if c.Pid <= 0 {
		return notRunning
	}
	pidfd, err := unix.PidfdOpen(c.Pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return notRunning
	}
	if err == nil {
		defer unix.Close(pidfd)
	}
	if !c.alive() {
		return notRunning
	}
	if err == nil {
		err = unix.PidfdSendSignal(pidfd, sig, nil, 0)
	} else {
		// No pidfd (Linux < 5.3): the start-time check above is the
		// best there is.
		err = unix.Kill(c.Pid, sig)
	}
	if errors.Is(err, unix.ESRCH) {
		return notRunning
	}
	if err != nil {
		return fmt.Errorf("signal %s: %w", c.ID, err)
	}
	if sig == unix.SIGKILL {
		// A frozen init dies only once thawed (cgroup v1), as runc does.
		if cg, err := c.cgroup(); err == nil {
			if st, err := cg.State(); err == nil && st != cgroups.Thawed {
				_ = cg.Thaw()
			}
		}
	}
	return nil
}

// Delete removes a stopped container (any container with force): its
// processes, cgroups and state; then runs the poststop hooks.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	c, err := r.Load(id)
	if err != nil {
		if errors.Is(err, ErrNotExist) && force {
			// A half-created container may have left a bare directory.
			if ValidateID(id) == nil {
				_ = os.RemoveAll(filepath.Join(r.root, id))
			}
			return nil
		}
		return err
	}
	unlock, err := lockDir(c.dir)
	if err != nil {
		return fmt.Errorf("lock %s: %w", id, err)
	}
	defer unlock()
	st := c.Status()
	if st != StatusStopped && !force {
		return fmt.Errorf("container %s is %s: stop it or use --force: %w", id, st, ErrState)
	}
	cg, _ := c.cgroup()
	if st != StatusStopped {
		if cg != nil && st == StatusPaused {
			_ = cg.Thaw()
		}
		_ = unix.Kill(c.Pid, unix.SIGKILL)
		if !waitGone(c.Pid, c.StartTime, 10*time.Second) {
			return fmt.Errorf("container %s: init %d did not die", id, c.Pid)
		}
	}
	var errs []error
	if !c.OwnMntNS {
		if err := unmountUnder(c.Rootfs); err != nil {
			errs = append(errs, err)
		}
	}
	if cg != nil {
		if !c.OwnPidNS {
			_ = cg.Kill(unix.SIGKILL)
		}
		if err := cg.Destroy(); err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
		}
	}
	if c.Spec != nil && c.Spec.Hooks != nil {
		s := c.State()
		s.Status = StatusStopped
		// The spec: a failing poststop hook is only warned about.
		runHooksWarn(c.Spec.Hooks.Poststop, s, "poststop")
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove state: %w", err))
	}
	return errors.Join(errs...)
}

// waitGone waits until pid is no longer the process that started at
// startTime (or is a zombie).
func waitGone(pid int, startTime uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		st, err := procStartTime(pid)
		if err != nil || st != startTime || procState(pid) == "Z" {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Pause freezes every process of the container.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	return r.withCgroup(id, func(c *Container, cg cgroupManager) error {
		if st := c.Status(); st != StatusRunning && st != StatusCreated {
			return fmt.Errorf("container %s is %s, not running: %w", id, st, ErrState)
		}
		return cg.Freeze()
	})
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	return r.withCgroup(id, func(c *Container, cg cgroupManager) error {
		if st := c.Status(); st != StatusPaused {
			return fmt.Errorf("container %s is %s, not paused: %w", id, st, ErrState)
		}
		return cg.Thaw()
	})
}

// Update changes a running container's resources.
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	return r.withCgroup(id, func(c *Container, cg cgroupManager) error {
		if c.Status() == StatusStopped {
			return fmt.Errorf("container %s is stopped: %w", id, ErrState)
		}
		if err := cg.Set(res); err != nil {
			return fmt.Errorf("update %s: %w", id, err)
		}
		return nil
	})
}

// Pids lists the host pids of the container's processes.
func (r *Runtime) Pids(ctx context.Context, id string) ([]int, error) {
	var pids []int
	err := r.withCgroup(id, func(c *Container, cg cgroupManager) error {
		var err error
		pids, err = cg.Pids()
		return err
	})
	return pids, err
}

func (r *Runtime) withCgroup(id string, f func(*Container, cgroupManager) error) error {
	c, err := r.Load(id)
	if err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	return f(c, cg)
}
