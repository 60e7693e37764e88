package monitor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/runtime/driver"
)

// execProc is a process started in a running container.
type execProc struct {
	pid    int
	master *os.File
}

// exec starts a process in a container. Unless detached, conn then
// carries its streams and, last, a StreamExit frame with its exit code.
func (s *Server) exec(ctx context.Context, conn *net.UnixConn, br *bufio.Reader, req request) {
	er := req.Exec
	c, err := s.get(req.ID)
	if err == nil && (er == nil || er.Process == nil || req.ExecID == "") {
		err = fmt.Errorf("exec: missing process: %w", errdefs.ErrInvalidArgument)
	}
	var rt driver.Runtime
	if err == nil {
		rt, err = s.runtime(er.Runtime)
	}
	if err != nil {
		reply(conn, errorResponse(err))
		conn.Close()
		return
	}
	e := &execProc{}
	var (
		io_      driver.IO
		closers  []io.Closer
		readers  []*os.File
		streams  []byte
		stdinW   *os.File
		consoleL *consoleListener
	)
	fail := func(err error) {
		for _, cl := range closers {
			cl.Close()
		}
		for _, r := range readers {
			r.Close()
		}
		if stdinW != nil {
			stdinW.Close()
		}
		reply(conn, errorResponse(err))
		conn.Close()
	}
	if er.Process.Terminal {
		l, path, err := consoleSocket()
		if err != nil {
			fail(err)
			return
		}
		defer l.Close()
		consoleL = l
		io_.ConsoleSocket = path
	} else {
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			fail(err)
			return
		}
		closers = append(closers, null)
		io_.Stdin, io_.Stdout, io_.Stderr = null, null, null
		if er.Stdin && !er.Detach {
			r, w, err := os.Pipe()
			if err != nil {
				fail(err)
				return
			}
			closers = append(closers, r)
			io_.Stdin, stdinW = r, w
		}
		for _, st := range []struct {
			want bool
			id   byte
		}{{er.Stdout, StreamStdout}, {er.Stderr, StreamStderr}} {
			if !st.want || er.Detach {
				continue
			}
			r, w, err := os.Pipe()
			if err != nil {
				fail(err)
				return
			}
			closers = append(closers, w)
			readers = append(readers, r)
			streams = append(streams, st.id)
			if st.id == StreamStdout {
				io_.Stdout = w
			} else {
				io_.Stderr = w
			}
		}
	}
	done := make(chan ExitStatus, 1)
	s.rp.spawnBegin()
	pid, err := rt.Exec(ctx, c.id, er.Process, io_)
	if err == nil {
		e.pid = pid
		s.rp.watch(pid, func(st ExitStatus) { done <- st })
	}
	s.rp.spawnEnd()
	for _, cl := range closers {
		cl.Close()
	}
	closers = nil
	if err != nil {
		fail(err)
		return
	}
	if consoleL != nil {
		m, err := receiveMaster(consoleL)
		if err != nil {
			fail(err)
			return
		}
		e.master = m
		readers, streams = []*os.File{m}, []byte{StreamStdout}
		if er.Stdin && !er.Detach {
			stdinW = m
		}
	}
	c.mu.Lock()
	if c.execs == nil {
		c.execs = map[string]*execProc{}
	}
	c.execs[req.ExecID] = e
	c.mu.Unlock()
	reply(conn, response{Pid: pid})

	sb := &subscriber{conn: conn, stdout: true, stderr: true}
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8192)
			for {
				n, err := r.Read(buf)
				if n > 0 {
					sb.send(streams[i], buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
	}
	if stdinW != nil {
		go func() {
			_, _ = io.Copy(stdinW, br)
			if stdinW != e.master {
				stdinW.Close()
			}
		}()
	}
	if er.Detach {
		conn.Close()
	}
	go func() {
		st := <-done
		drained := make(chan struct{})
		go func() { wg.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(drainTimeout):
		}
		for _, r := range readers {
			if r != e.master {
				r.Close()
			}
		}
		if !er.Detach {
			sb.send(StreamExit, encodeExit(st))
			sb.close()
			conn.Close()
		}
		c.mu.Lock()
		delete(c.execs, req.ExecID)
		c.mu.Unlock()
		if e.master != nil {
			e.master.Close()
		}
		if stdinW != nil && stdinW != e.master {
			stdinW.Close()
		}
		s.publish(Event{ID: c.id, ExecID: req.ExecID, Pid: pid, Exit: st})
	}()
}
