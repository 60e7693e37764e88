package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/shoal-dev/shoal/internal/monitor"
)

// Docker's health check defaults.
const (
	defaultHealthInterval      = 30 * time.Second
	defaultHealthTimeout       = 30 * time.Second
	defaultHealthStartInterval = 5 * time.Second
	defaultHealthRetries       = 3
	maxHealthLog               = 5
	maxHealthOutput            = 4096
)

func healthEnabled(cfg *container.Config) bool {
	h := cfg.Healthcheck
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

func healthStarting(cfg *container.Config) *container.Health {
	if !healthEnabled(cfg) {
		return nil
	}
	return &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}
}

// startHealth runs the container's health check until it stops.
func (e *Engine) startHealth(c *ctr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !healthEnabled(c.rec.Config) || c.healthStop != nil {
		return
	}
	stop := make(chan struct{})
	c.healthStop = stop
	h := *c.rec.Config.Healthcheck
	started := c.rec.State.StartedAt
	go e.healthLoop(c, h, started, stop)
}

func (e *Engine) stopHealth(c *ctr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.healthStop != nil {
		close(c.healthStop)
		c.healthStop = nil
	}
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (e *Engine) healthLoop(c *ctr, h container.HealthConfig, started time.Time, stop chan struct{}) {
	interval := orDur(h.Interval, defaultHealthInterval)
	startInterval := orDur(h.StartInterval, defaultHealthStartInterval)
	retries := h.Retries
	if retries <= 0 {
		retries = defaultHealthRetries
	}
	for {
		wait := interval
		inStart := h.StartPeriod > 0 && time.Since(started) < h.StartPeriod
		if inStart {
			wait = startInterval
		}
		select {
		case <-stop:
			return
		case <-time.After(wait):
		}
		res := e.probe(c, h)
		inStart = h.StartPeriod > 0 && res.Start.Sub(started) < h.StartPeriod
		c.mu.Lock()
		hs := c.rec.State.Health
		if hs == nil || c.healthStop != stop {
			c.mu.Unlock()
			return
		}
		hs.Log = append(hs.Log, res)
		if len(hs.Log) > maxHealthLog {
			hs.Log = hs.Log[len(hs.Log)-maxHealthLog:]
		}
		old := hs.Status
		if res.ExitCode == 0 {
			hs.Status, hs.FailingStreak = container.Healthy, 0
		} else if !inStart || hs.Status != container.Starting {
			hs.FailingStreak++
			if hs.FailingStreak >= retries {
				hs.Status = container.Unhealthy
			}
		}
		changed := old != hs.Status
		_ = e.save(context.Background(), c)
		rec := *c.rec
		c.mu.Unlock()
		if changed {
			e.emit(&rec, "health_status: "+string(hs.Status), nil)
		}
	}
}

// probe runs the check once through the monitor.
func (e *Engine) probe(c *ctr, h container.HealthConfig) *container.HealthcheckResult {
	res := &container.HealthcheckResult{Start: time.Now().UTC()}
	rec := c.snapshot()
	var cmd []string
	switch h.Test[0] {
	case "CMD":
		cmd = h.Test[1:]
	case "CMD-SHELL":
		cmd = []string{"/bin/sh", "-c", strings.Join(h.Test[1:], " ")}
	default:
		cmd = h.Test
	}
	timeout := orDur(h.Timeout, defaultHealthTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	fail := func(code int, msg string) *container.HealthcheckResult {
		res.End, res.ExitCode, res.Output = time.Now().UTC(), code, msg
		return res
	}
	p, err := e.execProcess(&rec, container.ExecCreateRequest{Cmd: cmd})
	if err != nil {
		return fail(-1, err.Error())
	}
	_, rspec, err := e.runtime(rec.Runtime)
	if err != nil {
		return fail(-1, err.Error())
	}
	s, pid, err := e.cfg.Monitor.Exec(ctx, rec.ID, "health-"+newID()[:16], monitor.ExecRequest{Runtime: rspec, Process: p, Stdout: true, Stderr: true})
	if err != nil {
		return fail(-1, err.Error())
	}
	defer s.Close()
	var out strings.Builder
	code := -1
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32*1024)
		for {
			stream, p, err := s.ReadFrame(buf)
			if err != nil {
				return
			}
			if stream == monitor.StreamExit {
				if st, err := monitor.DecodeExit(p); err == nil {
					code = st.Code
				}
				return
			}
			if out.Len() < maxHealthOutput {
				out.Write(p[:min(len(p), maxHealthOutput-out.Len())])
			}
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		if rt, _, err := e.runtime(rec.Runtime); err == nil && pid > 0 {
			_ = rt // the probe's process is killed by pid: it is ours
		}
		killPid(pid)
		return fail(-1, fmt.Sprintf("Health check exceeded timeout (%s)", timeout))
	}
	return fail(code, out.String())
}
