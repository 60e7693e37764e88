package seccomp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// helperEnv makes TestHelperProcess act as the child of TestInstall:
// "filtered" installs DefaultProfile(nil) before probing, "control"
// probes without a filter.
const helperEnv = "SHOAL_SECCOMP_HELPER"

// missing is a path that does not exist, so that a mount or umount the
// filter lets through fails with ENOENT instead of changing anything.
const missing = "/nonexistent-shoal-seccomp-test"

// addrNoRandomize is the personality flag ADDR_NO_RANDOMIZE.
const addrNoRandomize = 0x0040000

// probes are the syscalls the child tries. Each returns the errno it got
// (0 on success); none changes the host when it is allowed.
var probes = []struct {
	name string
	fn   func() unix.Errno
}{
	{"getpid", func() unix.Errno { return rawErrno(unix.SYS_GETPID) }},
	{"mount", func() unix.Errno { return errnoOf(unix.Mount("none", missing, "tmpfs", 0, "")) }},
	{"umount2", func() unix.Errno { return errnoOf(unix.Unmount(missing, 0)) }},
	// A multithreaded process (any Go program) gets EINVAL here.
	{"unshare_user", func() unix.Errno { return errnoOf(unix.Unshare(unix.CLONE_NEWUSER)) }},
	{"keyctl", func() unix.Errno {
		_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		return errnoOf(err)
	}},
	{"add_key", func() unix.Errno {
		_, err := unix.AddKey("shoal-no-such-type", "x", nil, unix.KEY_SPEC_PROCESS_KEYRING)
		return errnoOf(err)
	}},
	{"request_key", func() unix.Errno {
		_, err := unix.RequestKey("shoal-no-such-type", "x", "", 0)
		return errnoOf(err)
	}},
	// An invalid request: EIO or ESRCH when ptrace is allowed.
	{"ptrace", func() unix.Errno { return rawErrno(unix.SYS_PTRACE, 0x7fff_fff0, 0) }},
	// clone3 with no arguments: EINVAL when allowed.
	{"clone3", func() unix.Errno { return rawErrno(unix.SYS_CLONE3, 0, 0) }},
	{"personality_query", func() unix.Errno { return rawErrno(unix.SYS_PERSONALITY, 0xffffffff) }},
	{"personality_addr_no_randomize", func() unix.Errno { return rawErrno(unix.SYS_PERSONALITY, addrNoRandomize) }},
	{"socket_vsock", func() unix.Errno {
		fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		return errnoOf(err)
	}},
	{"socket_unix", func() unix.Errno {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		return errnoOf(err)
	}},
	{"exec_true", func() unix.Errno {
		path, err := exec.LookPath("true")
		if err != nil {
			return unix.ENOENT
		}
		return errnoOf(exec.Command(path).Run())
	}},
	// Threads of this process without a filter: TSYNC must leave none.
	{"unfiltered_threads", func() unix.Errno { return unix.Errno(unfilteredThreads()) }},
}

func rawErrno(nr uintptr, args ...uintptr) unix.Errno {
	var a [3]uintptr
	copy(a[:], args)
	_, _, errno := unix.Syscall(nr, a[0], a[1], a[2])
	return errno
}

func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return unix.Errno(1000 + exit.ExitCode())
	}
	return unix.Errno(9999)
}

func unfilteredThreads() int {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		return 9999
	}
	n := 0
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread exited
		}
		if !bytes.Contains(b, []byte("\nSeccomp:\t2\n")) {
			n++
		}
	}
	return n
}

// TestHelperProcess is not a test: TestInstall runs the test binary
// again with helperEnv set, and this function then does the child's
// work and exits.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Printf("error set no_new_privs: %v\n", err)
		os.Exit(2)
	}
	if mode == "filtered" {
		if err := Install(DefaultProfile(nil)); err != nil {
			fmt.Printf("error install: %v\n", err)
			os.Exit(2)
		}
	}
	for _, p := range probes {
		fmt.Printf("%s %d\n", p.name, int(p.fn()))
	}
	os.Exit(0)
}

func runHelper(t *testing.T, mode string) map[string]unix.Errno {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s helper: %v\n%s", mode, err, out)
	}
	got := map[string]unix.Errno{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(val)
		if !ok || err != nil {
			t.Fatalf("%s helper printed %q", mode, sc.Text())
		}
		got[name] = unix.Errno(n)
	}
	if len(got) != len(probes) {
		t.Fatalf("%s helper printed %d results, want %d:\n%s", mode, len(got), len(probes), out)
	}
	return got
}

// TestInstall loads DefaultProfile(nil) in a child process and checks
// what the kernel then refuses, against a control child without filter.
func TestInstall(t *testing.T) {
	testutil.RequiresRoot(t)
	filtered := runHelper(t, "filtered")
	control := runHelper(t, "control")

	tests := []struct {
		probe string
		want  unix.Errno
	}{
		{"getpid", 0},
		{"mount", unix.EPERM},
		{"umount2", unix.EPERM},
		{"unshare_user", unix.EPERM},
		{"keyctl", unix.EPERM},
		{"add_key", unix.EPERM},
		{"request_key", unix.EPERM},
		{"clone3", unix.ENOSYS},
		{"personality_query", 0},
		{"personality_addr_no_randomize", unix.EPERM},
		{"socket_vsock", unix.EPERM},
		{"socket_unix", 0},
		{"exec_true", 0},
		{"unfiltered_threads", 0},
	}
	for _, tt := range tests {
		t.Run(tt.probe, func(t *testing.T) {
			got, ctl := filtered[tt.probe], control[tt.probe]
			if got != tt.want {
				t.Errorf("with filter: %s = %d (%v), want %d (%v)", tt.probe, int(got), got, int(tt.want), tt.want)
			}
			// A denial must come from the filter: without it the same
			// call fails differently (or succeeds).
			if tt.want != 0 && ctl == tt.want {
				t.Errorf("without filter: %s = %v too; the probe does not tell the filter apart", tt.probe, ctl)
			}
		})
	}
	if control["unfiltered_threads"] == 0 {
		t.Errorf("control child reports no unfiltered thread; the TSYNC probe is broken")
	}
}

// TestInstallNil checks that a nil profile installs nothing (this test
// process stays unfiltered) and that errors are reported before any
// syscall.
func TestInstallNil(t *testing.T) {
	if err := Install(nil); err != nil {
		t.Fatalf("Install(nil) = %v", err)
	}
	if err := load(nil, 0); err == nil {
		t.Errorf("load(nil) succeeded")
	}
	bad := &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}
	if err := Install(bad); !errors.Is(err, ErrNotifyUnsupported) {
		t.Errorf("Install(notify) = %v, want %v", err, ErrNotifyUnsupported)
	}
}
