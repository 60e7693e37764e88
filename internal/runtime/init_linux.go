package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/runtime/seccomp"
)

// InitArg is argv[1] of the re-executed binary that becomes a container's
// init. cmd/shoal dispatches it to Init before anything else runs.
const InitArg = "init"

// initFDEnv names the sync socket of an init started without stage 0
// (no namespace to join); _SHOAL_NSENTER names it otherwise.
const initFDEnv = "_SHOAL_INIT"

// IsInit reports whether this process was started as a container init.
func IsInit() bool {
	return len(os.Args) > 1 && os.Args[1] == InitArg && (os.Getenv("_SHOAL_NSENTER") != "" || os.Getenv(initFDEnv) != "")
}

// Init is the Go half of a container's init process. It never returns.
// The nsenter constructor has already put the process in its namespaces.
func Init() {
	goruntime.GOMAXPROCS(1)
	goruntime.LockOSThread()
	fdEnv := os.Getenv("_SHOAL_NSENTER")
	if fdEnv == "" {
		fdEnv = os.Getenv(initFDEnv)
		// What nsenter does for its child: no access through
		// /proc/PID/exe or ptrace until the container's program runs.
		_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	}
	fd, err := strconv.Atoi(fdEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal init: bad sync descriptor")
		os.Exit(1)
	}
	unix.CloseOnExec(fd)
	os.Clearenv()
	sock := os.NewFile(uintptr(fd), "sync")
	conn := newSyncConn(sock)
	var cfg initConfig
	if err := conn.dec.Decode(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "shoal init: read config: %v\n", err)
		os.Exit(1)
	}
	err = runInit(&cfg, conn)
	if serr := conn.send(syncMsg{Type: msgError, Error: err.Error()}); serr != nil {
		// The runtime has gone (create returned): the container's
		// stderr is the only place left to say why it did not start.
		fmt.Fprintf(os.Stderr, "shoal init: %v\n", err)
	}
	os.Exit(1)
}

func runInit(cfg *initConfig, conn *syncConn) error {
	p := cfg.Process
	if cfg.NewCgroupNS {
		// On this locked thread, which is the one that execs: the
		// container's program inherits the namespace.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if !cfg.Exec {
		spec := cfg.Spec
		rs := &rootfsSetup{spec: spec, rootfs: cfg.Rootfs, bundle: cfg.Bundle, userns: cfg.UserNS, newMnt: cfg.NewMnt,
			cgroupNS: hasNamespace(spec, specs.CgroupNamespace)}
		if err := rs.prepare(); err != nil {
			return err
		}
		if err := conn.send(syncMsg{Type: msgHooks}); err != nil {
			return err
		}
		if err := conn.expect(msgAck); err != nil {
			return err
		}
		if spec.Hooks != nil {
			if err := runHooks(spec.Hooks.CreateContainer, cfg.State, "createContainer"); err != nil {
				return err
			}
		}
		if cfg.NewMnt {
			if err := pivotRoot(cfg.Rootfs); err != nil {
				return err
			}
			if err := setRootPropagation(spec.Linux.RootfsPropagation); err != nil {
				return err
			}
		} else if err := chrootInto(cfg.Rootfs); err != nil {
			return err
		}
		// Sysctls first: /proc/sys is among the read-only paths.
		if err := writeSysctls(spec.Linux.Sysctl); err != nil {
			return err
		}
		if err := maskPaths(spec.Linux.MaskedPaths); err != nil {
			return err
		}
		if err := readonlyPaths(spec.Linux.ReadonlyPaths); err != nil {
			return err
		}
		if spec.Root.Readonly {
			if err := remountBind("/", unix.MS_RDONLY); err != nil {
				return fmt.Errorf("make root read-only: %w", err)
			}
		}
		if spec.Hostname != "" {
			if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
				return fmt.Errorf("set hostname: %w", err)
			}
		}
		if spec.Domainname != "" {
			if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
				return fmt.Errorf("set domainname: %w", err)
			}
		}
	}
	if p == nil {
		// Created without a process: start refuses to run it; wait
		// until delete kills us.
		if err := conn.send(syncMsg{Type: msgReady}); err != nil {
			return err
		}
		for {
			unix.Pause()
		}
	}
	if p.Terminal {
		if err := setupConsole(cfg.ConsoleFD, p.ConsoleSize); err != nil {
			return err
		}
	}
	if err := applyLSM(p); err != nil {
		return err
	}
	// Limits that raise a hard limit need CAP_SYS_RESOURCE, which the
	// container may not keep: set them now. The others are set at the very
	// end, just before execve: a low RLIMIT_AS would starve this process's
	// own Go runtime (it has reserved more address space than that).
	late, err := setRaisingRlimits(p)
	if err != nil {
		return err
	}
	if p.IOPriority != nil {
		if err := setIOPriority(p.IOPriority); err != nil {
			return err
		}
	}
	env := p.Env
	if err := unix.Chdir(p.Cwd); err != nil {
		return fmt.Errorf("chdir to cwd %q: %w", p.Cwd, err)
	}
	// CVE-2024-21626: the working directory must lie inside the container.
	// (Checked before seccomp, which may deny getcwd.)
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("working directory %q is outside the container", p.Cwd)
	}
	var sc *specs.LinuxSeccomp
	if cfg.Spec != nil && cfg.Spec.Linux != nil {
		sc = cfg.Spec.Linux.Seccomp
	}
	if sc != nil && !p.NoNewPrivileges {
		if err := seccomp.Install(sc); err != nil {
			return fmt.Errorf("install seccomp filter: %w", err)
		}
	}
	if err := setupUser(p); err != nil {
		return err
	}
	// The program is looked up now, inside the container, as its user and
	// in its working directory, so that create (or exec) fails with the
	// reason rather than the container after start; execve uses the path
	// found here.
	path, err := lookPath(p.Args[0], env)
	if err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
		if sc != nil {
			if err := seccomp.Install(sc); err != nil {
				return fmt.Errorf("install seccomp filter: %w", err)
			}
		}
	}
	// Nothing of the host may reach the container's program: every
	// descriptor above stdio and the preserved ones closes on exec.
	if err := closeExtraFDs(3 + cfg.PreserveFDs); err != nil {
		return err
	}
	if err := conn.send(syncMsg{Type: msgReady}); err != nil {
		return err
	}
	if !cfg.Exec {
		fifo, err := unix.Open("/proc/self/fd/"+strconv.Itoa(cfg.FifoFD), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open exec fifo: %w", err)
		}
		if _, err := unix.Write(fifo, []byte{0}); err != nil {
			return fmt.Errorf("write exec fifo: %w", err)
		}
		// The fifo stays open (close-on-exec): start reads EOF exactly
		// when the container's program has been exec'd.
		if cfg.Spec.Hooks != nil {
			st := cfg.State
			st.Status = specs.StateRunning
			if err := runHooks(cfg.Spec.Hooks.StartContainer, st, "startContainer"); err != nil {
				return err
			}
		}
	}
	return execWithRlimits(path, p.Args, env, late)
}

// execWithRlimits sets the late rlimits and execs, with nothing allocated
// in between: everything execve needs is built first.
func execWithRlimits(path string, argv, env []string, late []rlimit) error {
	pathp, err := unix.BytePtrFromString(path)
	if err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	argvp, err := cStrings(argv)
	if err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	envp, err := cStrings(env)
	if err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	for i := range late {
		if _, _, errno := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(late[i].resource), uintptr(unsafe.Pointer(&late[i].lim)), 0, 0, 0); errno != 0 {
			return fmt.Errorf("set rlimit %s to %d/%d: %w", late[i].name, late[i].lim.Cur, late[i].lim.Max, errno)
		}
	}
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(pathp)), uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	return fmt.Errorf("exec %s: %w", argv[0], errno)
}

// lookPath finds argv0 as runc does: with exec.LookPath, whose error texts
// Docker users know (`exec: "x": executable file not found in $PATH`,
// `exec: "/etc/passwd": permission denied`), against the container's PATH:
// the last PATH in env, none when env has none. It sets PATH in this
// process's own environment, which init cleared and never passes on.
func lookPath(argv0 string, env []string) (string, error) {
	pathEnv, ok := "", false
	for _, e := range env {
		if v, found := strings.CutPrefix(e, "PATH="); found {
			pathEnv, ok = v, true
		}
	}
	var err error
	if ok {
		err = os.Setenv("PATH", pathEnv)
	} else {
		err = os.Unsetenv("PATH")
	}
	if err != nil {
		return "", fmt.Errorf("set PATH for the program lookup: %w", err)
	}
	return exec.LookPath(argv0)
}

// closeExtraFDs marks every descriptor from lowest on close-on-exec.
func closeExtraFDs(lowest int) error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list descriptors: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < lowest {
			continue
		}
		unix.CloseOnExec(fd)
	}
	return nil
}

func applyLSM(p *specs.Process) error {
	if p.SelinuxLabel != "" {
		return errors.New("selinuxLabel is set but SELinux is not supported by this runtime")
	}
	if p.ApparmorProfile == "" {
		return nil
	}
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || !strings.HasPrefix(string(b), "Y") {
		return fmt.Errorf("apparmor profile %q is set but AppArmor is not enabled on this host", p.ApparmorProfile)
	}
	if err := os.WriteFile("/proc/self/attr/apparmor/exec", []byte("exec "+p.ApparmorProfile), 0); err != nil {
		if err2 := os.WriteFile("/proc/self/attr/exec", []byte("exec "+p.ApparmorProfile), 0); err2 != nil {
			return fmt.Errorf("apply apparmor profile %q: %w", p.ApparmorProfile, err)
		}
	}
	return nil
}

var ioprioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT:   1,
	specs.IOPRIO_CLASS_BE:   2,
	specs.IOPRIO_CLASS_IDLE: 3,
}

func setIOPriority(p *specs.LinuxIOPriority) error {
	class, ok := ioprioClasses[p.Class]
	if !ok {
		return fmt.Errorf("unknown ioPriority class %q", p.Class)
	}
	const ioprioWhoProcess = 1
	prio := class<<13 | p.Priority
	if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(prio)); errno != 0 {
		return fmt.Errorf("set io priority: %w", errno)
	}
	return nil
}

// hookState is the JSON given to a hook on its stdin.
func hookState(st specs.State) []byte {
	b, _ := json.Marshal(st)
	return b
}

// cStrings is a NULL-terminated array of C strings.
func cStrings(ss []string) ([]*byte, error) {
	out := make([]*byte, len(ss)+1)
	for i, s := range ss {
		p, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}
