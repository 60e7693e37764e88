//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's master and slave.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 132})
	return m, s
}

// TestDaemonInteractive runs docker run -it and docker exec -it through
// a pseudo-terminal, and docker run -i with piped stdin.
func TestDaemonInteractive(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")

	runPTY := func(input string, args ...string) (string, int) {
		t.Helper()
		m, s := openPTY(t)
		defer m.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "docker", args...)
		cmd.Env = d.env()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		var out bytes.Buffer
		done := make(chan struct{})
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := m.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					close(done)
					return
				}
			}
		}()
		// Let the shell start before typing; a NUL in input is a pause.
		for _, part := range strings.Split(input, "\x00") {
			time.Sleep(700 * time.Millisecond)
			_, _ = m.Write([]byte(part))
		}
		err := cmd.Wait()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), code
	}

	out, code := runPTY("tty; stty size; echo inside-$((6*7)); exit 7\r", "run", "-it", "--rm", "--network", "none", "bb", "sh")
	if code != 7 || !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "40 132") || !strings.Contains(out, "inside-42") {
		t.Errorf("run -it: exit %d, output:\n%s", code, out)
	}

	// ctrl-p ctrl-q detaches: the CLI exits, the container runs on.
	out, code = runPTY("echo before-detach\r\x00\x10\x11", "run", "-it", "--name", "detachme", "--network", "none", "bb", "sh")
	if code != 0 || !strings.Contains(out, "before-detach") {
		t.Errorf("run -it then detach: exit %d, output:\n%s", code, out)
	}
	if st := d.must("inspect", "-f", "{{.State.Status}}", "detachme"); st != "running\n" {
		t.Errorf("after detach the container is %q, want running", st)
	}
	d.must("rm", "-f", "detachme")

	d.must("run", "-d", "--name", "box", "--network", "none", "bb", "sleep", "1000")
	out, code = runPTY("echo in-exec; tty; exit 3\r", "exec", "-it", "box", "sh")
	if code != 3 || !strings.Contains(out, "in-exec") || !strings.Contains(out, "/dev/pts/") {
		t.Errorf("exec -it: exit %d, output:\n%s", code, out)
	}
	// exec options.
	if out := d.must("exec", "-u", "1000", "-w", "/tmp", "-e", "X=y", "box", "sh", "-c", "id -u; pwd; echo $X"); out != "1000\n/tmp\ny\n" {
		t.Errorf("exec -u -w -e = %q", out)
	}
	d.must("exec", "-d", "box", "sh", "-c", "echo detached > /tmp/d")
	waitFor(t, "detached exec", 5*time.Second, func() bool {
		out, _ := d.docker("exec", "box", "cat", "/tmp/d")
		return out == "detached\n"
	})

	// run -i: stdin piped through; the container sees EOF.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	got, err := d.dockerCtx(ctx, []byte("line one\nline two\n"), "run", "-i", "--rm", "--network", "none", "bb", "sh", "-c", "wc -l; cat /dev/null")
	if err != nil || strings.TrimSpace(got) != "2" {
		t.Errorf("run -i = %q, %v", got, err)
	}
	// docker attach to a running container sees its output.
	d.must("run", "-d", "--name", "ticker", "--network", "none", "bb", "sh", "-c", "for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.3; done")
	got, _ = d.dockerCtx(ctx, nil, "attach", "ticker")
	if !strings.Contains(got, "tick6") {
		t.Errorf("attach = %q", got)
	}
	// docker start -a replays a stopped container's run.
	got, _ = d.dockerCtx(ctx, nil, "start", "-a", "ticker")
	if !strings.Contains(got, "tick1") || !strings.Contains(got, "tick6") {
		t.Errorf("start -a = %q", got)
	}
}

// TestDaemonInspectAndManage covers top, stats, pause, rename, update,
// logs options, cp, diff, export, port and wait.
func TestDaemonInspectAndManage(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	d.must("run", "-d", "--name", "mm", "--network", "none", "--memory", "64m", "bb", "sh", "-c", "echo one; echo two >&2; sleep 0.3; echo three; exec sleep 1000")

	top := d.must("top", "mm")
	if !strings.Contains(top, "PID") || !strings.Contains(top, "sleep 1000") {
		t.Errorf("top = %q", top)
	}
	stats := d.must("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "mm")
	if !strings.HasPrefix(stats, "mm ") || !strings.Contains(stats, "64MiB") {
		t.Errorf("stats = %q", stats)
	}
	d.must("pause", "mm")
	if out := d.must("ps", "--format", "{{.Status}}", "-f", "name=mm"); !strings.Contains(out, "(Paused)") {
		t.Errorf("ps after pause = %q", out)
	}
	if out, code := d.docker("exec", "mm", "true"); code == 0 || !strings.Contains(out, "paused") {
		t.Errorf("exec in paused = %d %q", code, out)
	}
	d.must("unpause", "mm")
	d.must("rename", "mm", "m2")
	if out := d.must("inspect", "-f", "{{.Name}}", "m2"); out != "/m2\n" {
		t.Errorf("after rename = %q", out)
	}
	d.must("update", "--memory", "128m", "--memory-swap", "256m", "m2")
	if out := d.must("exec", "m2", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"); out != "134217728\n" {
		t.Errorf("after update memory = %q", out)
	}
	if out := d.must("inspect", "-f", "{{.HostConfig.Memory}}", "m2"); out != "134217728\n" {
		t.Errorf("inspect after update = %q", out)
	}

	// logs: streams, tail, timestamps, since.
	if out := d.must("logs", "--tail", "1", "m2"); out != "three\n" {
		t.Errorf("logs --tail 1 = %q", out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "logs", "m2")
	cmd.Env = d.env()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil || so.String() != "one\nthree\n" || se.String() != "two\n" {
		t.Errorf("logs split = %q / %q, %v", so.String(), se.String(), err)
	}
	ts := d.must("logs", "-t", "m2")
	for _, line := range strings.Split(strings.TrimSpace(ts), "\n") {
		stamp, _, _ := strings.Cut(line, " ")
		if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil {
			t.Errorf("logs -t line %q: %v", line, err)
		}
	}
	if out := d.must("logs", "--since", "1h", "m2"); !strings.Contains(out, "one") {
		t.Errorf("logs --since 1h = %q", out)
	}
	if out := d.must("logs", "--until", "2000-01-01T00:00:00Z", "m2"); out != "" {
		t.Errorf("logs --until 2000 = %q", out)
	}

	// cp both ways, diff, export.
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in.txt"), []byte("copied in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.must("cp", filepath.Join(host, "in.txt"), "m2:/tmp/in.txt")
	if out := d.must("exec", "m2", "cat", "/tmp/in.txt"); out != "copied in\n" {
		t.Errorf("after cp in = %q", out)
	}
	d.must("exec", "m2", "sh", "-c", "echo out > /root/out.txt; rm /bin/ls")
	d.must("cp", "m2:/root/out.txt", filepath.Join(host, "out.txt"))
	if b, _ := os.ReadFile(filepath.Join(host, "out.txt")); string(b) != "out\n" {
		t.Errorf("cp out = %q", b)
	}
	diff := d.must("diff", "m2")
	for _, want := range []string{"A /tmp/in.txt", "C /root", "A /root/out.txt", "D /bin/ls"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	exp := filepath.Join(host, "export.tar")
	d.must("export", "-o", exp, "m2")
	list, err := exec.Command("tar", "-tf", exp).Output()
	if err != nil || !strings.Contains(string(list), "root/out.txt") || strings.Contains(string(list), "bin/ls\n") {
		t.Errorf("export: %v\n%s", err, list)
	}
	if out := d.must("port", "m2"); out != "" {
		t.Errorf("port = %q", out)
	}

	// wait returns the exit code.
	d.must("run", "-d", "--name", "ww", "--network", "none", "bb", "sh", "-c", "sleep 0.5; exit 4")
	if out := d.must("wait", "ww"); out != "4\n" {
		t.Errorf("wait = %q", out)
	}
	if out := d.must("container", "prune", "-f"); !strings.Contains(out, "Total reclaimed space") {
		t.Errorf("container prune = %q", out)
	}
	if out := d.must("ps", "-a", "--format", "{{.Names}}"); out != "m2\n" {
		t.Errorf("after prune = %q", out)
	}
}

// TestDaemonRestartAndHealth covers restart policies after crashes and
// health status transitions.
func TestDaemonRestartAndHealth(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	d.must("run", "-d", "--name", "crashy", "--network", "none", "--restart", "on-failure:2", "bb", "sh", "-c", "exit 9")
	waitFor(t, "on-failure retries", 15*time.Second, func() bool {
		out := d.must("inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", "crashy")
		return out == "exited 2 9\n"
	})
	d.must("run", "-d", "--name", "always", "--network", "none", "--restart", "always", "bb", "sh", "-c", "sleep 0.2; exit 1")
	waitFor(t, "always restarts", 15*time.Second, func() bool {
		var n int
		fmt.Sscan(d.must("inspect", "-f", "{{.RestartCount}}", "always"), &n)
		return n >= 2
	})
	d.must("stop", "-t", "1", "always")
	time.Sleep(time.Second)
	if out := d.must("inspect", "-f", "{{.State.Status}}", "always"); out != "exited\n" {
		t.Errorf("stopped always container = %q", out)
	}

	d.must("run", "-d", "--name", "hh", "--network", "none",
		"--health-cmd", "test -f /tmp/ok", "--health-interval", "300ms", "--health-retries", "2", "bb", "sleep", "1000")
	health := func() string { return strings.TrimSpace(d.must("inspect", "-f", "{{.State.Health.Status}}", "hh")) }
	if h := health(); h != "starting" && h != "unhealthy" {
		t.Errorf("initial health = %q", h)
	}
	waitFor(t, "unhealthy", 10*time.Second, func() bool { return health() == "unhealthy" })
	d.must("exec", "hh", "touch", "/tmp/ok")
	waitFor(t, "healthy", 10*time.Second, func() bool { return health() == "healthy" })
	if out := d.must("ps", "--format", "{{.Status}}", "-f", "name=hh"); !strings.Contains(out, "(healthy)") {
		t.Errorf("ps status = %q", out)
	}
	var logs []struct{ ExitCode int }
	if err := json.Unmarshal([]byte(d.must("inspect", "-f", "{{json .State.Health.Log}}", "hh")), &logs); err != nil || len(logs) == 0 {
		t.Errorf("health log: %v %v", logs, err)
	}
}

// TestDaemonVolumesAndEvents covers volumes that outlive containers and
// the event stream.
func TestDaemonVolumesAndEvents(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	since := time.Now().Add(-time.Second).Unix()
	d.must("volume", "create", "--label", "team=a", "data")
	d.must("run", "--rm", "--network", "none", "-v", "data:/data", "bb", "sh", "-c", "echo kept > /data/f")
	if out := d.must("run", "--rm", "--network", "none", "-v", "data:/d2", "bb", "cat", "/d2/f"); out != "kept\n" {
		t.Errorf("volume content = %q", out)
	}
	if out := d.must("volume", "ls", "-q", "-f", "label=team=a"); out != "data\n" {
		t.Errorf("volume ls = %q", out)
	}
	if out := d.must("volume", "inspect", "-f", "{{.Driver}} {{.Labels.team}}", "data"); out != "local a\n" {
		t.Errorf("volume inspect = %q", out)
	}
	d.must("run", "-d", "--name", "user", "--network", "none", "-v", "data:/data", "bb", "sleep", "1000")
	if out, code := d.docker("volume", "rm", "data"); code == 0 || !strings.Contains(out, "volume is in use") {
		t.Errorf("rm of an in-use volume = %d %q", code, out)
	}
	// An image VOLUME / -v /path makes an anonymous volume that rm -v removes.
	d.must("run", "--name", "anon", "--network", "none", "-v", "/scratch", "bb", "touch", "/scratch/x")
	anon := strings.TrimSpace(d.must("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon"))
	if len(anon) != 64 {
		t.Fatalf("anonymous volume name %q", anon)
	}
	d.must("rm", "-v", "anon")
	if out := d.must("volume", "ls", "-q"); strings.Contains(out, anon) {
		t.Errorf("anonymous volume left after rm -v: %q", out)
	}
	for _, bad := range []string{"../escape", "a/b", "x"} {
		if out, code := d.docker("volume", "create", bad); code == 0 {
			t.Errorf("volume create %q accepted: %s", bad, out)
		}
	}
	d.must("rm", "-f", "user")
	d.must("volume", "rm", "data")

	until := time.Now().Add(time.Second).Unix()
	out := d.must("events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}", "-f", "container=user")
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	want := []string{"container create user", "container start user", "container kill user", "container die user", "container destroy user"}
	j := 0
	for _, l := range lines {
		if j < len(want) && l == want[j] {
			j++
		}
	}
	if j != len(want) {
		t.Errorf("events for user:\n%s\nwant in order %q", out, want)
	}
	vout := d.must("events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "-f", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}")
	if !strings.Contains(vout, "create data") || !strings.Contains(vout, "destroy data") {
		t.Errorf("volume events = %q", vout)
	}
}
