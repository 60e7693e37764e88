// Package initproc is the small pid 1 `docker run --init` puts in front
// of a container's program (Docker uses tini): it runs the program,
// passes on the signals it gets, reaps every zombie that is reparented to
// it, and exits with the program's status.
package initproc

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Name is the base name the binary is run by as an init.
const Name = "docker-init"

// Main runs args (after an optional "--") and returns the exit status to
// exit with.
func Main(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "docker-init: no program to run")
		return 127
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: %v\n", err)
		return 127
	}
	// The program gets a process group of its own in the foreground of
	// the terminal, if any, as tini does.
	attr := &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}, Env: os.Environ(),
		Sys: &syscall.SysProcAttr{Setpgid: true}}
	if isTerminal(0) {
		attr.Sys.Foreground, attr.Sys.Ctty = true, 0
	}
	p, err := os.StartProcess(path, args, attr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: %v\n", err)
		if os.IsPermission(err) {
			return 126
		}
		return 127
	}
	child := p.Pid
	for {
		sig := <-sigs
		if sig == unix.SIGCHLD {
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if err != nil || pid <= 0 {
					break
				}
				if pid == child {
					if ws.Signaled() {
						return 128 + int(ws.Signal())
					}
					return ws.ExitStatus()
				}
			}
			continue
		}
		if s, ok := sig.(syscall.Signal); ok && s != unix.SIGURG {
			_ = unix.Kill(child, s)
		}
	}
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
