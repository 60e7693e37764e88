package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/runtime"
	"github.com/shoal-dev/shoal/internal/runtime/driver"
)

// SocketName is the monitor's socket in its root directory.
const SocketName = "monitor.sock"

// drainTimeout bounds how long an exit waits for the process's output to
// be read: a descendant that keeps the stdio pipes open must not hold the
// exit back for ever.
const drainTimeout = 2 * time.Second

// Server is the monitor.
type Server struct {
	root string
	log  *slog.Logger
	rp   *reaper

	mu         sync.Mutex
	containers map[string]*ctr
	runtimes   map[string]driver.Runtime
	subs       map[*eventSub]struct{}
}

// NewServer returns a monitor keeping its socket and per-container files
// under root. It makes the process child subreaper.
func NewServer(root string, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("monitor root: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	return &Server{
		root: root, log: log, rp: newReaper(),
		containers: map[string]*ctr{}, runtimes: map[string]driver.Runtime{},
		subs: map[*eventSub]struct{}{},
	}, nil
}

// Count is the number of containers the monitor holds.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.containers)
}

// Serve accepts requests on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l *net.UnixListener) error {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		conn, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			s.log.Warn("monitor accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go s.handle(ctx, conn)
	}
}

func (s *Server) handle(ctx context.Context, conn *net.UnixConn) {
	br := bufio.NewReaderSize(conn, 4096)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		reply(conn, errorResponse(fmt.Errorf("bad monitor request: %w: %w", err, errdefs.ErrInvalidArgument)))
		conn.Close()
		return
	}
	// Streams keep the connection; the others answer and close it.
	switch req.Op {
	case opAttach:
		s.attach(conn, br, req)
		return
	case opExec:
		s.exec(ctx, conn, br, req)
		return
	case opEvents:
		s.events(conn)
		return
	}
	defer conn.Close()
	var resp response
	switch req.Op {
	case opPing:
	case opCreate:
		pid, err := s.create(ctx, req)
		if err != nil {
			resp = errorResponse(err)
		}
		resp.Pid = pid
	case opResize:
		if err := s.resize(req); err != nil {
			resp = errorResponse(err)
		}
	case opDelete:
		if err := s.delete(ctx, req.ID); err != nil {
			resp = errorResponse(err)
		}
	case opList:
		resp.States = s.list()
	default:
		resp = errorResponse(fmt.Errorf("unknown monitor op %q: %w", req.Op, errdefs.ErrInvalidArgument))
	}
	reply(conn, resp)
}

func reply(w io.Writer, resp response) {
	b, _ := json.Marshal(resp)
	_, _ = w.Write(append(b, '\n'))
}

// runtime returns the driver for spec, one per name and path.
func (s *Server) runtime(spec driver.Spec) (driver.Runtime, error) {
	key := spec.Name + "\x00" + spec.Path + "\x00" + spec.Root
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt, ok := s.runtimes[key]; ok {
		return rt, nil
	}
	rt, err := driver.New(spec)
	if err != nil {
		return nil, err
	}
	s.runtimes[key] = rt
	return rt, nil
}

func (s *Server) get(id string) (*ctr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s is not known to the monitor: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}

func (s *Server) list() []State {
	s.mu.Lock()
	cs := make([]*ctr, 0, len(s.containers))
	for _, c := range s.containers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	states := make([]State, 0, len(cs))
	for _, c := range cs {
		states = append(states, c.state())
	}
	return states
}

func (s *Server) create(ctx context.Context, req request) (int, error) {
	cr := req.Create
	if cr == nil || req.ID == "" {
		return 0, fmt.Errorf("create: missing container: %w", errdefs.ErrInvalidArgument)
	}
	if err := runtime.ValidateID(req.ID); err != nil {
		return 0, fmt.Errorf("create: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	rt, err := s.runtime(cr.Runtime)
	if err != nil {
		return 0, err
	}
	c := &ctr{id: req.ID, rt: rt, stdinOnce: cr.StdinOnce, tty: cr.Terminal, subs: map[*subscriber]struct{}{}, drained: make(chan struct{})}
	s.mu.Lock()
	if _, ok := s.containers[req.ID]; ok {
		s.mu.Unlock()
		return 0, fmt.Errorf("container %s: %w", req.ID, errdefs.ErrAlreadyExists)
	}
	s.containers[req.ID] = c
	s.mu.Unlock()
	pid, err := c.create(ctx, s, cr)
	if err != nil {
		s.mu.Lock()
		delete(s.containers, req.ID)
		s.mu.Unlock()
		return 0, err
	}
	return pid, nil
}

func (s *Server) delete(ctx context.Context, id string) error {
	c, err := s.get(id)
	if err != nil {
		return err
	}
	if err := c.rt.Delete(ctx, id, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	s.mu.Lock()
	delete(s.containers, id)
	s.mu.Unlock()
	c.release()
	return nil
}

func (s *Server) resize(req request) error {
	c, err := s.get(req.ID)
	if err != nil {
		return err
	}
	var master *os.File
	c.mu.Lock()
	if req.ExecID == "" {
		master = c.master
	} else if e := c.execs[req.ExecID]; e != nil {
		master = e.master
	}
	c.mu.Unlock()
	if master == nil {
		return fmt.Errorf("resize %s: no terminal: %w", req.ID, errdefs.ErrConflict)
	}
	ws := &unix.Winsize{Row: req.Height, Col: req.Width}
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		return fmt.Errorf("resize %s: %w", req.ID, err)
	}
	return nil
}

// publish sends an event to every subscriber; one that cannot keep up
// is dropped (the daemon lists the states again when it reconnects).
func (s *Server) publish(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		select {
		case sub.ch <- ev:
		default:
			delete(s.subs, sub)
			close(sub.ch)
		}
	}
}

type eventSub struct{ ch chan Event }

func (s *Server) events(conn *net.UnixConn) {
	defer conn.Close()
	sub := &eventSub{ch: make(chan Event, 4096)}
	s.mu.Lock()
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	reply(conn, response{})
	gone := make(chan struct{})
	go func() {
		// The daemon never writes on this connection: a read ends when
		// it goes away.
		_, _ = io.Copy(io.Discard, conn)
		close(gone)
	}()
	enc := json.NewEncoder(conn)
	for {
		select {
		case ev, ok := <-sub.ch:
			if !ok {
				return
			}
			if err := enc.Encode(ev); err != nil {
				s.unsubscribe(sub)
				return
			}
		case <-gone:
			s.unsubscribe(sub)
			return
		}
	}
}

func (s *Server) unsubscribe(sub *eventSub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[sub]; ok {
		delete(s.subs, sub)
		close(sub.ch)
	}
}

// consoleSocket listens on a fresh unix socket for a runtime to send a
// pty master to. Its path is short (sun_path holds 108 bytes) and
// private; closing the listener removes it.
func consoleSocket() (*consoleListener, string, error) {
	dir, err := os.MkdirTemp("", "shoal-tty-")
	if err != nil {
		return nil, "", fmt.Errorf("console socket: %w", err)
	}
	path := filepath.Join(dir, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("console socket: %w", err)
	}
	return &consoleListener{UnixListener: l, dir: dir}, path, nil
}

type consoleListener struct {
	*net.UnixListener
	dir string
}

func (l *consoleListener) Close() error {
	err := l.UnixListener.Close()
	os.RemoveAll(l.dir)
	return err
}

// receiveMaster accepts the runtime's connection and reads the master.
func receiveMaster(l *consoleListener) (*os.File, error) {
	_ = l.SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := l.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("receive terminal: %w", err)
	}
	defer conn.Close()
	f, err := conn.File()
	if err != nil {
		return nil, fmt.Errorf("receive terminal: %w", err)
	}
	defer f.Close()
	m, err := runtime.ReceiveConsole(f)
	if err != nil {
		return nil, err
	}
	return pollable(m, "pty-master")
}

// pollable returns f as a non-blocking file read through Go's poller, so a
// blocked read holds a goroutine but no thread.
func pollable(f *os.File, name string) (*os.File, error) {
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup %s: %w", name, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}
