package monitor

import (
	"os"
	"os/signal"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reaper collects the exit status of the processes the monitor waits for,
// and of the orphans it inherits as child subreaper. Runtime calls that
// start and wait for their own helpers (a runtime binary, stage 0) run
// between spawnBegin and spawnEnd: while any does, unknown children are
// left to whoever waits for them.
type reaper struct {
	mu       sync.Mutex
	waiting  map[int]func(ExitStatus)
	spawning int
	kick     chan struct{}
}

func newReaper() *reaper {
	r := &reaper{waiting: map[int]func(ExitStatus){}, kick: make(chan struct{}, 1)}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD)
	go func() {
		// A slow tick catches an exit whose SIGCHLD was coalesced while a
		// spawn held the sweep back.
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-sigs:
			case <-r.kick:
			case <-t.C:
			}
			r.reap()
		}
	}()
	return r
}

func (r *reaper) spawnBegin() {
	r.mu.Lock()
	r.spawning++
	r.mu.Unlock()
}

func (r *reaper) spawnEnd() {
	r.mu.Lock()
	r.spawning--
	r.mu.Unlock()
	r.poke()
}

func (r *reaper) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// watch calls done (on a goroutine of its own) when pid exits.
func (r *reaper) watch(pid int, done func(ExitStatus)) {
	r.mu.Lock()
	r.waiting[pid] = done
	r.mu.Unlock()
	r.poke()
}

func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, done := range r.waiting {
		var ws unix.WaitStatus
		n, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if n == pid {
			delete(r.waiting, pid)
			go done(exitOf(ws))
		} else if err == unix.ECHILD {
			// Not our child (any more): nothing will report it.
			delete(r.waiting, pid)
			go done(ExitStatus{Code: 255, ExitedAt: time.Now().UTC()})
		}
	}
	for r.spawning == 0 {
		pid := peekExited()
		if pid <= 0 {
			return
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err != nil {
			return
		}
		if done, ok := r.waiting[pid]; ok {
			delete(r.waiting, pid)
			go done(exitOf(ws))
		}
	}
}

// siginfo is the head of the kernel's siginfo_t for SIGCHLD on 64-bit and
// 32-bit Linux alike: the union starts at offset 12 (32-bit) or 16.
type siginfo struct {
	Signo int32
	Errno int32
	Code  int32
	_     [unsafe.Sizeof(uintptr(0)) - 4]byte
	Pid   int32
	Uid   uint32
	_     [112]byte
}

// peekExited returns the pid of an exited child without reaping it, or 0.
func peekExited() int {
	var info siginfo
	_, _, errno := unix.Syscall6(unix.SYS_WAITID, unix.P_ALL, 0, uintptr(unsafe.Pointer(&info)),
		unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(info.Pid)
}

// exitOf is Docker's exit code: the status, or 128+signal.
func exitOf(ws unix.WaitStatus) ExitStatus {
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	return ExitStatus{Code: code, ExitedAt: time.Now().UTC()}
}
