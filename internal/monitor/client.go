package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Client talks to a monitor.
type Client struct {
	sock string
}

// NewClient returns a client of the monitor whose root is root.
func NewClient(root string) *Client {
	return &Client{sock: filepath.Join(root, SocketName)}
}

// call sends req and reads the answer; the connection is returned open
// for the ops that stream.
func (c *Client) call(ctx context.Context, req request) (response, *net.UnixConn, *bufio.Reader, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", c.sock)
	if err != nil {
		return response{}, nil, nil, fmt.Errorf("monitor: %w: %w", err, errdefs.ErrUnavailable)
	}
	conn := nc.(*net.UnixConn)
	b, err := json.Marshal(req)
	if err != nil {
		conn.Close()
		return response{}, nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return response{}, nil, nil, fmt.Errorf("monitor %s: %w", req.Op, err)
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return response{}, nil, nil, fmt.Errorf("monitor %s: %w", req.Op, err)
	}
	_ = conn.SetDeadline(time.Time{})
	var resp response
	if err := json.Unmarshal(line, &resp); err != nil {
		conn.Close()
		return response{}, nil, nil, fmt.Errorf("monitor %s: bad answer: %w", req.Op, err)
	}
	if err := resp.err(); err != nil {
		conn.Close()
		return resp, nil, nil, err
	}
	return resp, conn, br, nil
}

func (c *Client) simple(ctx context.Context, req request) (response, error) {
	resp, conn, _, err := c.call(ctx, req)
	if conn != nil {
		conn.Close()
	}
	return resp, err
}

// Ping checks the monitor answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.simple(ctx, request{Op: opPing})
	return err
}

// Create makes a container and returns its init's pid.
func (c *Client) Create(ctx context.Context, id string, cr CreateRequest) (int, error) {
	resp, err := c.simple(ctx, request{Op: opCreate, ID: id, Create: &cr})
	return resp.Pid, err
}

// Delete deletes the container in its runtime (killing it if need be)
// and forgets it.
func (c *Client) Delete(ctx context.Context, id string) error {
	_, err := c.simple(ctx, request{Op: opDelete, ID: id})
	return err
}

// Resize sets the terminal size of a container (execID "") or an exec.
func (c *Client) Resize(ctx context.Context, id, execID string, width, height uint16) error {
	_, err := c.simple(ctx, request{Op: opResize, ID: id, ExecID: execID, Width: width, Height: height})
	return err
}

// List returns the state of every container the monitor holds.
func (c *Client) List(ctx context.Context) ([]State, error) {
	resp, err := c.simple(ctx, request{Op: opList})
	return resp.States, err
}

// Stream is an attached or exec connection: Read returns frames' bytes
// through ReadFrame, Write feeds stdin, CloseWrite ends stdin.
type Stream struct {
	conn *net.UnixConn
	r    *bufio.Reader
}

// ReadFrame reads the next output frame.
func (s *Stream) ReadFrame(buf []byte) (byte, []byte, error) { return ReadFrame(s.r, buf) }

func (s *Stream) Write(p []byte) (int, error) { return s.conn.Write(p) }

// CloseWrite ends the process's stdin (for StdinOnce containers and execs).
func (s *Stream) CloseWrite() error { return s.conn.CloseWrite() }

// Close drops the stream.
func (s *Stream) Close() error { return s.conn.Close() }

// Attach joins a container's streams. Output frames come until the
// container exits.
func (c *Client) Attach(ctx context.Context, id string, a AttachRequest) (*Stream, error) {
	_, conn, br, err := c.call(ctx, request{Op: opAttach, ID: id, Attach: &a})
	if err != nil {
		return nil, err
	}
	return &Stream{conn: conn, r: br}, nil
}

// Exec starts a process in a container. Without er.Detach the returned
// stream carries its output and then a StreamExit frame.
func (c *Client) Exec(ctx context.Context, id, execID string, er ExecRequest) (*Stream, int, error) {
	resp, conn, br, err := c.call(ctx, request{Op: opExec, ID: id, ExecID: execID, Exec: &er})
	if err != nil {
		return nil, 0, err
	}
	if er.Detach {
		conn.Close()
		return nil, resp.Pid, nil
	}
	return &Stream{conn: conn, r: br}, resp.Pid, nil
}

// Events streams exit events until ctx ends or the monitor goes away;
// the channel is closed then.
func (c *Client) Events(ctx context.Context) (<-chan Event, error) {
	_, conn, br, err := c.call(ctx, request{Op: opEvents})
	if err != nil {
		return nil, err
	}
	ch := make(chan Event, 64)
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	go func() {
		defer close(ch)
		defer conn.Close()
		dec := json.NewDecoder(br)
		for {
			var ev Event
			if err := dec.Decode(&ev); err != nil {
				if err != io.EOF && ctx.Err() == nil {
					_ = err
				}
				return
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}
