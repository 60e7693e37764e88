package monitor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/logfile"
	"github.com/shoal-dev/shoal/internal/runtime/driver"
)

// ctr is a container the monitor holds.
type ctr struct {
	id        string
	rt        driver.Runtime
	tty       bool
	stdinOnce bool

	mu     sync.Mutex
	pid    int
	stdin  *os.File // the container's stdin (pipe or pty master); nil when closed
	master *os.File
	log    *logfile.Writer
	exit   *ExitStatus
	subs   map[*subscriber]struct{}
	execs  map[string]*execProc
	// drained is closed when every output stream reached EOF.
	drained chan struct{}
	dir     string
}

// subscriber is an attached client's connection.
type subscriber struct {
	conn           *net.UnixConn
	stdout, stderr bool
	mu             sync.Mutex
	dead           bool
}

// send writes a frame; a client that cannot take it within a minute is
// dropped, so one stuck client never stops the container's output.
func (sb *subscriber) send(stream byte, p []byte) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.dead {
		return
	}
	_ = sb.conn.SetWriteDeadline(time.Now().Add(time.Minute))
	if err := WriteFrame(sb.conn, stream, p); err != nil {
		sb.dead = true
		sb.conn.Close()
	}
}

func (sb *subscriber) close() {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if !sb.dead {
		sb.dead = true
		_ = sb.conn.CloseWrite()
	}
}

// create makes the container with pipes (or a terminal) for its stdio
// and starts copying its output into the log.
func (c *ctr) create(ctx context.Context, s *Server, cr *CreateRequest) (pid int, err error) {
	c.dir = filepath.Join(s.root, c.id)
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return 0, fmt.Errorf("create %s: %w", c.id, err)
	}
	lw, err := logfile.Open(cr.LogPath, cr.LogOptions)
	if err != nil {
		return 0, fmt.Errorf("create %s: open log: %w", c.id, err)
	}
	c.log = lw
	var closers []io.Closer // the container's ends, closed once it has them
	defer func() {
		for _, cl := range closers {
			cl.Close()
		}
		if err != nil {
			c.release()
		}
	}()
	var io_ driver.IO
	var readers []*os.File
	var streams []string
	var consoleL *consoleListener
	if cr.Terminal {
		l, path, err := consoleSocket()
		if err != nil {
			return 0, err
		}
		defer l.Close()
		consoleL = l
		io_.ConsoleSocket = path
	} else {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return 0, err
		}
		closers = append(closers, null)
		io_.Stdin = null
		if cr.OpenStdin {
			r, w, err := os.Pipe()
			if err != nil {
				return 0, err
			}
			closers = append(closers, r)
			io_.Stdin, c.stdin = r, w
		}
		for _, name := range []string{"stdout", "stderr"} {
			r, w, err := os.Pipe()
			if err != nil {
				return 0, err
			}
			closers = append(closers, w)
			readers = append(readers, r)
			streams = append(streams, name)
			if name == "stdout" {
				io_.Stdout = w
			} else {
				io_.Stderr = w
			}
		}
	}
	s.rp.spawnBegin()
	pid, err = c.rt.Create(ctx, c.id, cr.Bundle, io_)
	if err == nil {
		c.mu.Lock()
		c.pid = pid
		c.mu.Unlock()
		s.rp.watch(pid, func(st ExitStatus) { c.exited(s, st) })
	}
	s.rp.spawnEnd()
	if err != nil {
		for _, r := range readers {
			r.Close()
		}
		return 0, err
	}
	if consoleL != nil {
		m, err := receiveMaster(consoleL)
		if err != nil {
			_ = c.rt.Delete(ctx, c.id, true)
			return 0, err
		}
		c.mu.Lock()
		c.master = m
		if cr.OpenStdin {
			c.stdin = m
		}
		c.mu.Unlock()
		readers, streams = []*os.File{m}, []string{"stdout"}
	}
	c.copyOutput(readers, streams)
	return pid, nil
}

// copyOutput reads each stream into the log and to attached clients.
func (c *ctr) copyOutput(readers []*os.File, streams []string) {
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Add(1)
		stream := StreamStdout
		if streams[i] == "stderr" {
			stream = StreamStderr
		}
		split := logfile.NewLineSplitter(c.log, streams[i], func() time.Time { return time.Now().UTC() })
		go func() {
			defer wg.Done()
			buf := make([]byte, 8192)
			for {
				n, err := r.Read(buf)
				if n > 0 {
					_, _ = split.Write(buf[:n])
					c.broadcast(stream, buf[:n])
				}
				if err != nil {
					break
				}
			}
			_ = split.Flush()
			if r != c.master {
				r.Close()
			}
		}()
	}
	go func() {
		wg.Wait()
		close(c.drained)
	}()
}

func (c *ctr) broadcast(stream byte, p []byte) {
	c.mu.Lock()
	subs := make([]*subscriber, 0, len(c.subs))
	for sb := range c.subs {
		if (stream == StreamStdout && sb.stdout) || (stream == StreamStderr && sb.stderr) {
			subs = append(subs, sb)
		}
	}
	c.mu.Unlock()
	for _, sb := range subs {
		sb.send(stream, p)
	}
}

// exited records the end of init once its output is drained, ends every
// attached stream and reports the exit.
func (c *ctr) exited(s *Server, st ExitStatus) {
	select {
	case <-c.drained:
	case <-time.After(drainTimeout):
		s.log.Warn("container output still open after exit", "id", c.id)
	}
	c.mu.Lock()
	c.exit = &st
	subs := c.subs
	c.subs = map[*subscriber]struct{}{}
	if c.stdin != nil && c.stdin != c.master {
		c.stdin.Close()
	}
	c.stdin = nil
	pid := c.pid
	c.mu.Unlock()
	for sb := range subs {
		sb.close()
	}
	s.publish(Event{ID: c.id, Pid: pid, Exit: st})
}

func (c *ctr) state() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := State{ID: c.id, Pid: c.pid}
	if c.exit != nil {
		e := *c.exit
		st.Exit = &e
	}
	return st
}

// release closes everything the monitor holds for the container.
func (c *ctr) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stdin != nil && c.stdin != c.master {
		c.stdin.Close()
	}
	c.stdin = nil
	if c.master != nil {
		c.master.Close()
		c.master = nil
	}
	for sb := range c.subs {
		sb.close()
	}
	c.subs = map[*subscriber]struct{}{}
	if c.log != nil {
		c.log.Close()
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// attach joins conn to the container's streams until it exits.
func (s *Server) attach(conn *net.UnixConn, br *bufio.Reader, req request) {
	c, err := s.get(req.ID)
	if err != nil {
		reply(conn, errorResponse(err))
		conn.Close()
		return
	}
	a := req.Attach
	if a == nil {
		a = &AttachRequest{}
	}
	sb := &subscriber{conn: conn, stdout: a.Stdout, stderr: a.Stderr}
	c.mu.Lock()
	done := c.exit != nil
	if !done {
		c.subs[sb] = struct{}{}
	}
	stdin := c.stdin
	c.mu.Unlock()
	reply(conn, response{})
	if done {
		sb.close()
		return
	}
	if !a.Stdin || stdin == nil {
		return
	}
	go func() {
		_, _ = io.Copy(stdin, br)
		// As dockerd: a client that goes away closes the container's
		// stdin (StdinOnce) only without a terminal; a terminal stays
		// open for the next attach.
		if c.stdinOnce {
			c.mu.Lock()
			if c.stdin == stdin && stdin != c.master {
				stdin.Close()
				c.stdin = nil
			}
			c.mu.Unlock()
		}
	}()
}
