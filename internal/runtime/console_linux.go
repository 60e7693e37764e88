package runtime

import (
	"fmt"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// setupConsole makes a pseudo-terminal inside the container, sends its
// master to whoever listens on the console socket, and makes the slave
// the process's stdio and controlling terminal.
func setupConsole(sockFD int, size *specs.Box) error {
	if sockFD <= 0 {
		return fmt.Errorf("process.terminal is set but no console socket was given")
	}
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("get pty number: %w", err)
	}
	slavePath := "/dev/pts/" + strconv.Itoa(n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set terminal size: %w", err)
		}
	}
	rights := unix.UnixRights(master)
	if err := unix.Sendmsg(sockFD, []byte(slavePath), rights, nil, 0); err != nil {
		return fmt.Errorf("send pty master: %w", err)
	}
	unix.Close(sockFD)
	for i := 0; i < 3; i++ {
		if err := unix.Dup2(slave, i); err != nil {
			return fmt.Errorf("dup pty: %w", err)
		}
	}
	if slave > 2 {
		unix.Close(slave)
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return nil
}

// ReceiveConsole reads a pty master sent by setupConsole on conn.
func ReceiveConsole(conn *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(conn.Fd()), buf, oob, 0)
	if err != nil {
		return nil, fmt.Errorf("receive console: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive console: no descriptor")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive console: no descriptor")
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// proxyConsole copies between a pty master and the caller's stdio, puts a
// terminal stdin in raw mode and follows its window size. The returned
// function restores the terminal.
func proxyConsole(master *os.File, stdio IO) func() {
	restore := func() {}
	if stdio.Stdin != nil && term.IsTerminal(int(stdio.Stdin.Fd())) {
		if st, err := term.MakeRaw(int(stdio.Stdin.Fd())); err == nil {
			restore = func() { _ = term.Restore(int(stdio.Stdin.Fd()), st) }
		}
		resize := func() {
			if ws, err := unix.IoctlGetWinsize(int(stdio.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
				_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range winch {
				resize()
			}
		}()
	}
	if stdio.Stdin != nil {
		go func() { _, _ = io.Copy(master, stdio.Stdin) }()
	}
	done := make(chan struct{})
	go func() {
		if stdio.Stdout != nil {
			_, _ = io.Copy(stdio.Stdout, master)
		}
		close(done)
	}()
	return func() {
		// Drain what the container wrote before it exited: the copy
		// ends when the last slave descriptor closes.
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		restore()
	}
}
