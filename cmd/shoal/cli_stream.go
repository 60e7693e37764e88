package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/detach"
)

// terminalFd is the descriptor of f if it is a terminal.
func terminalFd(f any) (int, bool) {
	file, ok := f.(*os.File)
	if !ok {
		return -1, false
	}
	fd := int(file.Fd())
	return fd, term.IsTerminal(fd)
}

// ttySize is the size of the terminal on w, or 0, 0.
func ttySize(w any) (height, width uint) {
	fd, ok := terminalFd(w)
	if !ok {
		return 0, 0
	}
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return uint(ws.Row), uint(ws.Col)
}

// errNotATTY is Docker's refusal of -t -i with a stdin that is not a
// terminal.
var errNotATTY = errors.New("the input device is not a TTY")

// checkTty refuses a terminal with attached stdin when stdin is not one.
func checkTty(in io.Reader, attachStdin, tty bool) error {
	if _, ok := terminalFd(in); attachStdin && tty && !ok {
		return errNotATTY
	}
	return nil
}

// parseDetachKeys reads --detach-keys, with the docker CLI's error.
func parseDetachKeys(s string) ([]byte, error) {
	keys, err := detach.ParseKeys(s)
	if err != nil {
		return nil, fmt.Errorf("invalid detach keys (%s): %w", s, err)
	}
	return keys, nil
}

// errDetached is the user typing the detach sequence.
var errDetached = detach.ErrDetached

// streamer copies between the local streams and an attach or exec
// connection, as the docker CLI's hijackedIOStreamer.
type streamer struct {
	conn    *client.Conn
	in      io.Reader // nil: stdin not attached
	out     io.Writer // nil: stdout not attached
	errw    io.Writer // nil: stderr not attached
	tty     bool
	keys    []byte // detach sequence, on a terminal
	restore func() // restores the local terminal
}

// setupInput puts the local terminal in raw mode when the container's
// terminal takes our input, and wraps the input to catch the detach
// sequence.
func (s *streamer) setupInput() error {
	s.restore = func() {}
	if s.in == nil || !s.tty {
		return nil
	}
	if fd, ok := terminalFd(s.in); ok {
		state, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("unable to set IO streams as raw terminal: %w", err)
		}
		s.restore = sync.OnceFunc(func() { _ = term.Restore(fd, state) })
	}
	s.in = detach.NewReader(s.in, s.keys)
	return nil
}

// run streams until the output ends, the input ends without output to
// wait for, the user detaches, or ctx ends.
func (s *streamer) run(ctx context.Context) error {
	if err := s.setupInput(); err != nil {
		return err
	}
	defer s.restore()
	var outputDone chan error
	if s.out != nil || s.errw != nil {
		outputDone = make(chan error, 1)
		go func() {
			var err error
			if s.tty {
				w := s.out
				if w == nil {
					w = io.Discard
				}
				_, err = io.Copy(w, s.conn)
				s.restore()
			} else {
				_, err = client.Demux(s.out, s.errw, s.conn)
			}
			outputDone <- err
		}()
	}
	inputDone := make(chan struct{})
	detached := make(chan error, 1)
	go func() {
		if s.in != nil {
			_, err := io.Copy(s.conn, s.in)
			s.restore()
			if errors.Is(err, errDetached) {
				detached <- err
				return
			}
		}
		_ = s.conn.CloseWrite()
		close(inputDone)
	}()
	select {
	case err := <-outputDone:
		return err
	case <-inputDone:
		if outputDone != nil {
			select {
			case err := <-outputDone:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	case err := <-detached:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// monitorTTYSize sends the local terminal's size now and on every
// SIGWINCH until ctx ends.
func monitorTTYSize(ctx context.Context, out any, resize func(ctx context.Context, h, w uint) error) {
	h, w := ttySize(out)
	if h == 0 && w == 0 {
		return
	}
	// The process may not have started its terminal yet: retry a little.
	go func() {
		for i := 0; i < 10; i++ {
			if err := resize(ctx, h, w); err == nil || ctx.Err() != nil {
				return
			}
			time.Sleep(time.Duration(i+1) * 10 * time.Millisecond)
		}
	}()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(sigc)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sigc:
				if h, w := ttySize(out); h != 0 || w != 0 {
					_ = resize(ctx, h, w)
				}
			}
		}
	}()
}

// forwardSignals sends the signals this process receives to the
// container (--sig-proxy), until the returned stop is called.
func forwardSignals(ctx context.Context, c *client.Client, id string) (stop func()) {
	sigc := make(chan os.Signal, 128)
	signal.Notify(sigc)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigc:
				sig, ok := s.(syscall.Signal)
				if !ok {
					continue
				}
				switch sig {
				case syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGURG, syscall.SIGWINCH:
					continue
				}
				name := unix.SignalName(sig)
				if name == "" {
					continue
				}
				_ = c.ContainerKill(ctx, id, name)
			}
		}
	}()
	return func() {
		signal.Stop(sigc)
		cancel()
	}
}
