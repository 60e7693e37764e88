package engine

import (
	"context"
	"fmt"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/monitor"
)

// AttachOptions are the streams an attach asks for.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
}

// Attachment is an attached client's connection to a container's
// streams, with what the API needs to present them.
type Attachment struct {
	*monitor.Stream
	Tty       bool
	StdinOnce bool
}

type attachResult struct {
	stream *monitor.Stream
	err    error
}

type pendingAttach struct {
	req  monitor.AttachRequest
	done chan attachResult
}

// Attach joins the container's streams. A container that is not running
// is joined when it next starts (docker run and docker start -a attach
// before they start); ready is called once the attach is registered.
func (e *Engine) Attach(ctx context.Context, ref string, o AttachOptions, ready func()) (*Attachment, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	req := monitor.AttachRequest{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr}
	c.mu.Lock()
	rec := *c.rec
	if rec.Config.Tty {
		req.Stderr = false // a terminal has one stream
	}
	if !rec.Config.OpenStdin {
		req.Stdin = false
	}
	att := &Attachment{Tty: rec.Config.Tty, StdinOnce: rec.Config.StdinOnce}
	if rec.State.Status == StatusPaused {
		c.mu.Unlock()
		return nil, fmt.Errorf("container %s is paused, unpause the container before attach: %w", rec.ID, errdefs.ErrConflict)
	}
	if rec.State.Status == StatusRunning {
		c.mu.Unlock()
		if ready != nil {
			ready()
		}
		s, err := e.cfg.Monitor.Attach(ctx, rec.ID, req)
		if err != nil {
			return nil, err
		}
		att.Stream = s
		return att, nil
	}
	pa := &pendingAttach{req: req, done: make(chan attachResult, 1)}
	c.pending = append(c.pending, pa)
	c.mu.Unlock()
	if ready != nil {
		ready()
	}
	select {
	case r := <-pa.done:
		if r.err != nil {
			return nil, r.err
		}
		att.Stream = r.stream
		return att, nil
	case <-ctx.Done():
		c.mu.Lock()
		for i, p := range c.pending {
			if p == pa {
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
		select {
		case r := <-pa.done:
			if r.stream != nil {
				r.stream.Close()
			}
		default:
		}
		return nil, ctx.Err()
	}
}

// Resize sets the container's terminal size.
func (e *Engine) Resize(ctx context.Context, ref string, width, height uint16) error {
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	rec := c.snapshot()
	if rec.State.Status != StatusRunning {
		return fmt.Errorf("container %s is not running: %w", rec.ID, errdefs.ErrConflict)
	}
	if !rec.Config.Tty {
		return nil
	}
	return e.cfg.Monitor.Resize(ctx, rec.ID, "", width, height)
}
