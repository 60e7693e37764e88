package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// spawnOpts says how to start an init process (the container's first
// process, or an exec'd one).
type spawnOpts struct {
	cloneFlags  uint32
	nsPaths     []string // "type:path"
	uidMappings []specs.LinuxIDMapping
	gidMappings []specs.LinuxIDMapping
	oomScoreAdj *int
	// joinCgroup moves init into the container's cgroup before it gets
	// its initConfig, so a new cgroup namespace (made by init) and the
	// container's program start there.
	joinCgroup func(pid int) error
	stdin      *os.File
	stdout     *os.File
	stderr     *os.File
	// preserve are passed through at fds 3…; the fifo and console follow.
	preserve []*os.File
	fifo     *os.File
	console  *os.File
	// plan makes init wait for a plan (or PLAN_GO) in its C part; see
	// plan_linux.go and internal/runtime/nsenter/plan.c.
	plan bool
}

// spawned is a started init, waiting for its initConfig.
type spawned struct {
	pid  int
	sock *os.File
	conn *syncConn
	// plan says init reads a plan record first (spawnOpts.plan).
	plan bool
}

var nsTypeName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

var nsCloneFlag = map[specs.LinuxNamespaceType]uint32{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// spawn starts stage 0 from the sealed binary, drives the namespace
// phase and returns init's pid with the sync connection to it.
func spawn(o spawnOpts) (sp *spawned, err error) {
	exe, err := sealedExe()
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create sync socket: %w", err)
	}
	parentSock := os.NewFile(uintptr(fds[0]), "sync-parent")
	childSock := os.NewFile(uintptr(fds[1]), "sync-child")
	defer childSock.Close()
	defer func() {
		if err != nil {
			parentSock.Close()
		}
	}()

	extra := append([]*os.File{}, o.preserve...)
	syncFD := 3 + len(extra)
	extra = append(extra, childSock)
	// glibc's rseq registration fails in threads of a process made with a
	// raw clone (nsenter's CLONE_PARENT child): Go never needs rseq.
	env := []string{"_SHOAL_NSENTER=" + strconv.Itoa(syncFD), "GLIBC_TUNABLES=glibc.pthread.rseq=0"}
	if o.plan {
		env = append(env, "_SHOAL_PLAN=1")
	}
	if o.fifo != nil {
		env = append(env, "_SHOAL_FIFO="+strconv.Itoa(3+len(extra)))
		extra = append(extra, o.fifo)
	}
	if o.console != nil {
		env = append(env, "_SHOAL_CONSOLE="+strconv.Itoa(3+len(extra)))
		extra = append(extra, o.console)
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/" + strconv.Itoa(int(exe.Fd())),
		Args:       []string{"shoal", InitArg},
		Env:        env,
		Stdin:      o.stdin,
		Stdout:     o.stdout,
		Stderr:     o.stderr,
		ExtraFiles: extra,
	}
	// The common case, only new namespaces and no user namespace: the
	// kernel makes them in the fork itself, and init is exec'd directly,
	// with no stage 0 (nsenter is needed to join namespaces or to map a
	// user namespace before Go starts). With a plan, the C part runs as
	// init itself (_SHOAL_DIRECT: no namespace phase).
	if len(o.nsPaths) == 0 && o.cloneFlags&unix.CLONE_NEWUSER == 0 {
		if o.plan {
			cmd.Env = append(cmd.Env, "_SHOAL_DIRECT=1")
		} else {
			env[0] = initFDEnv + "=" + strconv.Itoa(syncFD)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(o.cloneFlags &^ unix.CLONE_NEWCGROUP)}
		if err := startCmd(cmd); err != nil {
			return nil, fmt.Errorf("start container init: %w", err)
		}
		pid := cmd.Process.Pid
		if err := setupInit(pid, o); err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			_, _ = unix.Wait4(pid, nil, 0, nil)
			return nil, err
		}
		return &spawned{pid: pid, sock: parentSock, conn: newSyncConn(parentSock), plan: o.plan}, nil
	}
	if err := startCmd(cmd); err != nil {
		return nil, fmt.Errorf("start container init: %w", err)
	}
	stage0 := cmd.Process.Pid
	reaped := false
	defer func() {
		if !reaped {
			if err != nil {
				_ = cmd.Process.Kill()
			}
			_ = cmd.Wait()
		}
	}()
	if err := setOOMScoreAdj(stage0, o.oomScoreAdj); err != nil {
		return nil, err
	}
	// The cgroup namespace is made by init itself, after the parent has
	// moved it into its cgroup: the parent does that while init's Go
	// runtime starts, instead of before stage 0 may go on.
	var flags [4]byte
	binary.NativeEndian.PutUint32(flags[:], o.cloneFlags&^unix.CLONE_NEWCGROUP)
	if err := writeRecord(parentSock, nsCloneFlags, flags[:]); err != nil {
		return nil, fmt.Errorf("send namespaces: %w", err)
	}
	for _, p := range o.nsPaths {
		if err := writeRecord(parentSock, nsPath, []byte(p)); err != nil {
			return nil, fmt.Errorf("send namespaces: %w", err)
		}
	}
	if err := writeRecord(parentSock, nsEnd, nil); err != nil {
		return nil, fmt.Errorf("send namespaces: %w", err)
	}
	var initPid int
	for initPid == 0 {
		typ, data, err := readRecord(parentSock)
		if err != nil {
			return nil, fmt.Errorf("container init failed before entering its namespaces: %w", err)
		}
		switch typ {
		case nsMapRequest:
			if err := writeIDMaps(stage0, o.uidMappings, o.gidMappings); err != nil {
				return nil, err
			}
			if err := writeRecord(parentSock, nsMapAck, nil); err != nil {
				return nil, err
			}
		case nsChildPid:
			initPid = int(binary.NativeEndian.Uint32(data))
		case nsError:
			return nil, errors.New(string(data))
		default:
			return nil, fmt.Errorf("unexpected record %d from container init", typ)
		}
	}
	if o.joinCgroup != nil {
		if err := o.joinCgroup(initPid); err != nil {
			_ = unix.Kill(initPid, unix.SIGKILL)
			return nil, err
		}
	}
	reaped = true
	if err := cmd.Wait(); err != nil {
		_ = unix.Kill(initPid, unix.SIGKILL)
		return nil, fmt.Errorf("container init stage 0: %w", err)
	}
	return &spawned{pid: initPid, sock: parentSock, conn: newSyncConn(parentSock), plan: o.plan}, nil
}

// setupInit does for a directly started init what stage 0's parent does
// around the nsenter phase: oom_score_adj, then the cgroup.
func setupInit(pid int, o spawnOpts) error {
	if err := setOOMScoreAdj(pid, o.oomScoreAdj); err != nil {
		return err
	}
	if o.joinCgroup != nil {
		return o.joinCgroup(pid)
	}
	return nil
}

func setOOMScoreAdj(pid int, adj *int) error {
	if adj == nil {
		return nil
	}
	if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte(strconv.Itoa(*adj)), 0); err != nil {
		return fmt.Errorf("set oom_score_adj %d: %w", *adj, err)
	}
	return nil
}

func writeIDMaps(pid int, uids, gids []specs.LinuxIDMapping) error {
	format := func(m []specs.LinuxIDMapping) []byte {
		var b strings.Builder
		for _, e := range m {
			fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
		}
		return []byte(b.String())
	}
	base := "/proc/" + strconv.Itoa(pid) + "/"
	if err := os.WriteFile(base+"uid_map", format(uids), 0); err != nil {
		return fmt.Errorf("write uid_map: %w", err)
	}
	if err := os.WriteFile(base+"gid_map", format(gids), 0); err != nil {
		return fmt.Errorf("write gid_map: %w", err)
	}
	return nil
}

// startCmd starts cmd, trying again when execve of the sealed binary
// fails with EACCES. Under heavy load (50 concurrent creates on two CPUs)
// about one exec in a thousand through /proc/self/fd of the sealed
// overlay file has failed so, and a later attempt has almost always
// worked; the cause is not understood yet (see docs/architecture.md).
// After a few attempts with growing pauses it execs a sealed memfd copy
// of the binary instead, which is as safe and only slower to make.
func startCmd(cmd *exec.Cmd) error {
	tmpl := *cmd
	var err error
	for attempt := 0; attempt < 6; attempt++ {
		if attempt > 0 {
			c := tmpl
			*cmd = c
			time.Sleep(time.Duration(5<<attempt) * time.Millisecond)
			if attempt == 5 {
				mf, merr := memfdSealedExe()
				if merr != nil {
					return errors.Join(err, merr)
				}
				cmd.Path = "/proc/self/fd/" + strconv.Itoa(int(mf.Fd()))
			}
		}
		if err = cmd.Start(); err == nil || !errors.Is(err, unix.EACCES) {
			return err
		}
	}
	return err
}
