//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestDaemonLiveRestore kills the daemon with SIGKILL while containers
// run: they keep running, their logs keep being written, an exit during
// the outage is recorded, and the restarted daemon manages them.
func TestDaemonLiveRestore(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	d.must("run", "-d", "--name", "ticker", "--network", "none", "bb", "sh", "-c", "trap 'exit 0' TERM; while true; do echo tick; sleep 0.1; done")
	d.must("run", "-d", "--name", "short", "--network", "none", "bb", "sh", "-c", "sleep 2; exit 42")
	pid := strings.TrimSpace(d.must("inspect", "-f", "{{.State.Pid}}", "ticker"))
	monBefore := d.monitorPid()

	d.kill9()
	time.Sleep(5 * time.Second)
	if _, err := os.Stat("/proc/" + pid); err != nil {
		t.Fatalf("container init %s died with the daemon: %v", pid, err)
	}
	d.start()

	if got := d.monitorPid(); got != monBefore {
		t.Errorf("monitor pid %d, was %d: the daemon must reuse the running monitor", got, monBefore)
	}
	if out := d.must("inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "ticker"); out != "running "+pid+"\n" {
		t.Errorf("ticker after restart = %q, want running %s", out, pid)
	}
	waitFor(t, "short's exit", 10*time.Second, func() bool {
		return d.must("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "short") == "exited 42\n"
	})
	// The log has no gap: a line every 100 ms through the outage.
	logs := d.must("logs", "-t", "ticker")
	var prev time.Time
	var worst time.Duration
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		stamp, _, _ := strings.Cut(line, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Fatalf("logs -t line %q: %v", line, err)
		}
		if !prev.IsZero() && ts.Sub(prev) > worst {
			worst = ts.Sub(prev)
		}
		prev = ts
		n++
	}
	// ~7 s at one line per 100 ms: at least 30 lines even on a loaded
	// machine; what matters is that no second went unlogged.
	if n < 30 || worst > time.Second {
		t.Errorf("ticker log: %d lines, largest gap %v (want >= 30 lines, gap < 1s)", n, worst)
	}
	d.must("stop", "ticker")
	if out := d.must("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ticker"); out != "exited 0\n" {
		t.Errorf("ticker after stop = %q", out)
	}

	// Host-side processes stay flat as containers are added: the
	// monitor's only children are the containers' own inits.
	for i := 0; i < 10; i++ {
		d.must("run", "-d", "--network", "none", "bb", "sleep", "1000")
	}
	kids := childrenOf(d.monitorPid())
	if len(kids) != 10 {
		t.Errorf("monitor has %d children, want the 10 container inits", len(kids))
	}
	for _, k := range kids {
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", k))
		if !strings.Contains(string(cg), d.cgroupParent) {
			t.Errorf("monitor child %d is not in a container cgroup: %s", k, cg)
		}
	}
}

// childrenOf lists the pids whose parent is ppid.
func childrenOf(ppid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+2:]
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

// TestDaemonLoad runs 50 concurrent clients creating, starting,
// stopping and removing containers, then checks nothing leaked.
func TestDaemonLoad(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	dur := time.Minute
	if testing.Short() {
		dur = 10 * time.Second
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.sock)
		},
		MaxIdleConnsPerHost: 64,
	}}
	call := func(method, path string, body any) (int, []byte, error) {
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, err := http.NewRequest(method, "http://shoal/v1.50"+path, rd)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes(), nil
	}
	var cycles atomic.Int64
	var mu sync.Mutex
	var errs []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < 50; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				code, body, err := call("POST", fmt.Sprintf("/containers/create?name=load-%d-%d", w, i), map[string]any{
					"Image": "bb", "Cmd": []string{"sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"},
					"HostConfig": map[string]any{"NetworkMode": "none"},
				})
				if err != nil || code != 201 {
					fail("create: %d %s %v", code, body, err)
					return
				}
				var cr struct{ Id string }
				_ = json.Unmarshal(body, &cr)
				for _, step := range []struct{ method, path string }{
					{"POST", "/containers/" + cr.Id + "/start"},
					{"POST", "/containers/" + cr.Id + "/stop?t=5"},
					{"DELETE", "/containers/" + cr.Id},
				} {
					code, body, err := call(step.method, step.path, nil)
					if err != nil || code != 204 {
						fail("%s %s: %d %s %v", step.method, step.path, code, body, err)
						return
					}
				}
				cycles.Add(1)
			}
		}(w)
	}
	wg.Wait()
	t.Logf("%d create/start/stop/remove cycles by 50 clients in %v", cycles.Load(), dur)
	for _, e := range errs {
		t.Error(e)
	}
	if cycles.Load() < 50 {
		t.Errorf("only %d cycles", cycles.Load())
	}
	// Nothing leaked.
	if out := d.must("ps", "-aq"); out != "" {
		t.Errorf("containers left: %q", out)
	}
	if kids := childrenOf(d.monitorPid()); len(kids) != 0 {
		t.Errorf("monitor still has children %v", kids)
	}
	for _, dir := range []string{filepath.Join(d.data, "containers"), filepath.Join(d.run, "containers"), filepath.Join(d.run, "runtime", "shoal")} {
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%s not empty: %d entries", dir, len(ents))
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, filepath.Join(d.data, "containers")) {
			t.Errorf("mount left: %s", l)
		}
	}
	for _, dir := range cgroupDirs(d.cgroupParent) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.IsDir() {
				t.Errorf("cgroup left: %s/%s", dir, e.Name())
			}
		}
	}
}

// TestDaemonRestartAfterReboot simulates a reboot: daemon, monitor and
// container processes all die. The restarted daemon brings back the
// --restart always and unless-stopped containers, and leaves the others
// exited.
func TestDaemonRestartAfterReboot(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	d.must("run", "-d", "--name", "always", "--restart", "always", "--network", "none", "bb", "sleep", "1000")
	d.must("run", "-d", "--name", "unless", "--restart", "unless-stopped", "--network", "none", "bb", "sleep", "1000")
	d.must("run", "-d", "--name", "plain", "--network", "none", "bb", "sleep", "1000")
	d.must("run", "-d", "--name", "stopped", "--restart", "always", "--network", "none", "bb", "sleep", "1000")
	d.must("stop", "-t", "0", "stopped")
	old := strings.TrimSpace(d.must("inspect", "-f", "{{.State.Pid}}", "always"))

	d.kill9()
	_ = syscall.Kill(d.monitorPid(), syscall.SIGKILL)
	for _, dir := range cgroupDirs(d.cgroupParent) {
		killCgroup(dir)
	}
	waitFor(t, "container processes gone", 10*time.Second, func() bool {
		_, err := os.Stat("/proc/" + old)
		return err != nil
	})
	d.start()
	waitFor(t, "always and unless-stopped back", 15*time.Second, func() bool {
		return d.must("ps", "--format", "{{.Names}}", "--filter", "status=running") == "unless\nalways\n" ||
			d.must("ps", "--format", "{{.Names}}", "--filter", "status=running") == "always\nunless\n"
	})
	if pid := strings.TrimSpace(d.must("inspect", "-f", "{{.State.Pid}}", "always")); pid == old || pid == "0" {
		t.Errorf("always has pid %s (was %s): not restarted", pid, old)
	}
	for _, name := range []string{"plain", "stopped"} {
		if st := d.must("inspect", "-f", "{{.State.Status}}", name); st != "exited\n" {
			t.Errorf("%s after the reboot is %q, want exited", name, st)
		}
	}
}
