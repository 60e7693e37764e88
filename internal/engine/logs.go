package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/logfile"
)

// LogsOptions are docker logs' options.
type LogsOptions struct {
	Stdout, Stderr bool
	Since, Until   time.Time
	Tail           int // -1: all
	Follow         bool
}

// Logs sends the container's log records to out. With Follow it returns
// when the container stops, ctx ends or out fails. It also returns
// whether the container has a terminal (one stream, no framing).
func (e *Engine) Logs(ctx context.Context, ref string, o LogsOptions, out func(logfile.Message) error) error {
	c, err := e.lookup(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	rec := *c.rec
	exited := c.exited
	c.mu.Unlock()
	if rec.HostConfig.LogConfig.Type == "none" {
		return fmt.Errorf("configured logging driver does not support reading: %w", errdefs.ErrInvalidArgument)
	}
	done := make(chan struct{})
	if rec.running() {
		done = nil
		if o.Follow {
			d := make(chan struct{})
			go func() {
				select {
				case <-exited:
				case <-ctx.Done():
				}
				close(d)
			}()
			done = d
		}
	} else {
		close(done)
	}
	cfg := logfile.ReadConfig{Since: o.Since, Until: o.Until, Tail: o.Tail, Follow: o.Follow && done != nil, Done: done}
	return logfile.Read(ctx, e.logPath(rec.ID), cfg, func(m logfile.Message) error {
		if (m.Stream == "stdout" && !o.Stdout) || (m.Stream == "stderr" && !o.Stderr) {
			return nil
		}
		return out(m)
	})
}

// Tty reports whether the container has a terminal.
func (e *Engine) Tty(ref string) (bool, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return false, err
	}
	return c.snapshot().Config.Tty, nil
}
