package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mounttypes "github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestParseBind(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want MountPoint
		err  string
	}{
		{in: "/src:/dst", want: MountPoint{Type: "bind", Source: "/src", Destination: "/dst", RW: true, Propagation: "rprivate"}},
		{in: "/src/../x:/dst:ro", want: MountPoint{Type: "bind", Source: "/x", Destination: "/dst", Mode: "ro", Propagation: "rprivate"}},
		{in: "data:/d:ro,nocopy", want: MountPoint{Type: "volume", Name: "data", Destination: "/d", Mode: "ro,nocopy", Options: []string{"nocopy"}}},
		{in: "/s:/d:rshared", want: MountPoint{Type: "bind", Source: "/s", Destination: "/d", RW: true, Mode: "rshared", Propagation: "rshared"}},
		{in: "/only", err: "invalid volume specification"},
		{in: "a:b:c:d", err: "invalid volume specification"},
		{in: "/s:/d:bogus", err: "invalid mode: bogus"},
		{in: "/s:/d:Z", err: "SELinux"},
		{in: "vol:/d:shared", err: "propagation only applies to bind mounts"},
	} {
		got, err := parseBind(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errdefs.IsInvalidArgument(err) {
				t.Errorf("parseBind(%q) = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.Type != tc.want.Type || got.Source != tc.want.Source || got.Destination != tc.want.Destination ||
			got.RW != tc.want.RW || got.Propagation != tc.want.Propagation || got.Name != tc.want.Name ||
			strings.Join(got.Options, ",") != strings.Join(tc.want.Options, ",") {
			t.Errorf("parseBind(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestFromMount(t *testing.T) {
	mp, err := fromMount(mounttypes.Mount{Type: mounttypes.TypeTmpfs, Target: "/t", TmpfsOptions: &mounttypes.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1777}})
	if err != nil || mp.Type != "tmpfs" || strings.Join(mp.Options, ",") != "size=1048576,mode=1777" {
		t.Errorf("tmpfs mount = %+v, %v", mp, err)
	}
	if _, err := fromMount(mounttypes.Mount{Type: mounttypes.TypeBind, Source: "/no/such/dir", Target: "/x"}); err == nil || !strings.Contains(err.Error(), "bind source path does not exist") {
		t.Errorf("missing bind source = %v", err)
	}
	if _, err := fromMount(mounttypes.Mount{Type: mounttypes.TypeBind, Source: "rel", Target: "/x"}); err == nil || !strings.Contains(err.Error(), "must be absolute") {
		t.Errorf("relative bind source = %v", err)
	}
	if _, err := fromMount(mounttypes.Mount{Type: "npipe", Target: "/x"}); err == nil {
		t.Error("npipe mount accepted")
	}
}

func TestRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		p    container.RestartPolicy
		rm   bool
		err  string
		name container.RestartPolicyMode
	}{
		{p: container.RestartPolicy{}, name: container.RestartPolicyDisabled},
		{p: container.RestartPolicy{Name: "always"}, name: "always"},
		{p: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, name: "on-failure"},
		{p: container.RestartPolicy{Name: "always", MaximumRetryCount: 3}, err: "maximum retry count can only be used with 'on-failure'"},
		{p: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: -1}, err: "cannot be negative"},
		{p: container.RestartPolicy{Name: "sometimes"}, err: "unknown policy 'sometimes'"},
		{p: container.RestartPolicy{Name: "always"}, rm: true, err: "AutoRemove"},
	} {
		hc := &container.HostConfig{RestartPolicy: tc.p, AutoRemove: tc.rm}
		err := checkRestartPolicy(hc)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v rm=%v: %v, want %q", tc.p, tc.rm, err, tc.err)
			}
			continue
		}
		if err != nil || hc.RestartPolicy.Name != tc.name {
			t.Errorf("%+v: %v, name %q", tc.p, err, hc.RestartPolicy.Name)
		}
	}
}

func TestShouldRestart(t *testing.T) {
	e := &Engine{}
	rec := func(name container.RestartPolicyMode, max, count, code int, manual bool) *record {
		return &record{HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: name, MaximumRetryCount: max}},
			RestartCount: count, ManuallyStopped: manual, State: State{ExitCode: code}}
	}
	for _, tc := range []struct {
		r     *record
		ran   time.Duration
		want  bool
		delay time.Duration
	}{
		{rec("no", 0, 0, 1, false), 0, false, 0},
		{rec("always", 0, 0, 0, false), 0, true, 100 * time.Millisecond},
		{rec("always", 0, 3, 0, false), 0, true, 800 * time.Millisecond},
		{rec("always", 0, 30, 0, false), 0, true, time.Minute},
		{rec("always", 0, 30, 0, false), 11 * time.Second, true, 100 * time.Millisecond},
		{rec("always", 0, 0, 0, true), 0, false, 0},
		{rec("unless-stopped", 0, 0, 0, true), 0, false, 0},
		{rec("on-failure", 0, 5, 0, false), 0, false, 0},
		{rec("on-failure", 2, 1, 1, false), 0, true, 200 * time.Millisecond},
		{rec("on-failure", 2, 2, 1, false), 0, false, 0},
	} {
		got, d := e.shouldRestart(tc.r, tc.ran)
		if got != tc.want || d != tc.delay {
			t.Errorf("%+v ran %v: %v %v, want %v %v", tc.r.HostConfig.RestartPolicy, tc.ran, got, d, tc.want, tc.delay)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"SIGTERM": unix.SIGTERM, "term": unix.SIGTERM, "9": unix.SIGKILL, "SIGRTMIN+3": 37, "USR1": unix.SIGUSR1} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "65", "SIGNOPE", "RTMIN+99"} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) accepted", bad)
		}
	}
}

func TestCommandAndStatusStrings(t *testing.T) {
	r := &record{Path: "sh", Args: []string{"-c", "sleep 1000 & wait"}}
	if got := commandString(r); got != "sh -c 'sleep 1000 & wait'" {
		t.Errorf("commandString = %q", got)
	}
	r.State = State{Status: StatusExited, ExitCode: 3, FinishedAt: time.Now().Add(-3 * time.Second)}
	if got := statusString(r); got != "Exited (3) 3 seconds ago" {
		t.Errorf("statusString = %q", got)
	}
	r.State = State{Status: StatusRunning, StartedAt: time.Now().Add(-2 * time.Minute), Health: &container.Health{Status: container.Healthy}}
	if got := statusString(r); got != "Up 2 minutes (healthy)" {
		t.Errorf("statusString = %q", got)
	}
}

func TestParsePS(t *testing.T) {
	out := []byte("UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 10:00 ? 00:00:00 sleep 1000\nroot 11 1 0 10:00 ? 00:00:00 other thing\n")
	top, err := parsePS(out, []int{10})
	if err != nil || len(top.Processes) != 1 || top.Processes[0][7] != "sleep 1000" {
		t.Errorf("parsePS = %+v, %v", top, err)
	}
	if _, err := parsePS([]byte("USER COMMAND\nroot x\n"), []int{1}); err == nil {
		t.Error("ps output without PID accepted")
	}
}

func TestResolvConf(t *testing.T) {
	got, err := resolvConf(false, []string{"10.0.0.1"}, []string{"example.org"}, []string{"ndots:2"})
	if err != nil || string(got) != "search example.org\nnameserver 10.0.0.1\noptions ndots:2\n" {
		t.Errorf("resolvConf = %q, %v", got, err)
	}
}
