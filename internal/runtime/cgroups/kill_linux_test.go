package cgroups

import (
	"errors"
	"io/fs"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// TestKillGoneCgroup kills through managers whose directories do not
// exist (the container's processes exited and its cgroup was removed):
// there is nothing to kill, which is not an error.
func TestKillGoneCgroup(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	managers := map[string]map[string]string{
		"legacy":  {"freezer": filepath.Join(root, "freezer/gone"), "pids": filepath.Join(root, "pids/gone")},
		"hybrid":  {"freezer": filepath.Join(root, "freezer/gone"), "": filepath.Join(root, "unified/gone")},
		"unified": {"": filepath.Join(root, "gone")},
	}
	modes := map[string]Mode{"legacy": Legacy, "hybrid": Hybrid, "unified": Unified}
	for name, paths := range managers {
		m, err := NewFromPaths(modes[name], paths)
		if err != nil {
			t.Fatal(err)
		}
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
			if err := m.Kill(sig); err != nil {
				t.Errorf("%s: Kill(%v) of a removed cgroup = %v, want nil", name, sig, err)
			}
		}
	}
}

// stubFreezer is a freezer whose steps fail as told.
type stubFreezer struct {
	state              FreezerState
	stateErr, pidsErr  error
	freezeErr, thawErr error
	thawed             bool
}

func (s *stubFreezer) State() (FreezerState, error) { return s.state, s.stateErr }
func (s *stubFreezer) Pids() ([]int, error)         { return nil, s.pidsErr }
func (s *stubFreezer) setFrozen(on bool, _ time.Duration) error {
	if on {
		return s.freezeErr
	}
	s.thawed = true
	return s.thawErr
}

// TestKillAllRace covers a cgroup removed at each step of killAll, as
// when the container exits while it is being killed: a missing file
// (ENOENT) or a file of a removed cgroup (ENODEV) ends the kill quietly;
// other errors are still reported.
func TestKillAllRace(t *testing.T) {
	t.Parallel()
	enoent := &fs.PathError{Op: "open", Path: "/sys/fs/cgroup/freezer/x/freezer.state", Err: syscall.ENOENT}
	enodev := &fs.PathError{Op: "read", Path: "/sys/fs/cgroup/freezer/x/freezer.state", Err: syscall.ENODEV}
	eacces := &fs.PathError{Op: "open", Path: "/sys/fs/cgroup/freezer/x/freezer.state", Err: syscall.EACCES}
	cases := []struct {
		name     string
		f        stubFreezer
		wantErr  error
		wantThaw bool
	}{
		{"gone before state", stubFreezer{stateErr: enoent}, nil, false},
		{"gone before freeze", stubFreezer{freezeErr: enoent, pidsErr: enoent}, nil, false},
		{"gone before pids", stubFreezer{pidsErr: enoent, thawErr: enoent}, nil, true},
		{"gone before thaw", stubFreezer{thawErr: enoent}, nil, true},
		{"removed while thawing", stubFreezer{thawErr: enodev}, nil, true},
		{"paused, gone before thaw", stubFreezer{state: Frozen, thawErr: enoent}, nil, true},
		{"thaw refused", stubFreezer{thawErr: eacces}, syscall.EACCES, true},
		{"state refused", stubFreezer{stateErr: eacces}, syscall.EACCES, false},
		{"pids refused", stubFreezer{pidsErr: eacces}, syscall.EACCES, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			if f.state == FreezerUndefined {
				f.state = Thawed
			}
			err := killAll(&f, syscall.SIGKILL)
			if tc.wantErr == nil && err != nil {
				t.Errorf("killAll() = %v, want nil", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("killAll() = %v, want %v", err, tc.wantErr)
			}
			if f.thawed != tc.wantThaw {
				t.Errorf("thawed = %v, want %v", f.thawed, tc.wantThaw)
			}
		})
	}
}

// TestKernelKillWhileRemoved kills a cgroup over and over while its
// process dies and the cgroup is removed, as `kill --all` racing with a
// container's exit and delete: no Kill may fail.
func TestKernelKillWhileRemoved(t *testing.T) {
	testutil.RequiresRoot(t)
	for i := range 20 {
		m, err := New(Config{Path: uniquePath(t), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		cleanupCgroup(t, m)
		cmd := exec.Command("sleep", "300")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatal(err)
		}
		stop := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				if err := m.Kill(syscall.SIGKILL); err != nil {
					done <- err
					return
				}
			}
		}()
		_ = cmd.Wait()
		if err := m.Destroy(); err != nil {
			t.Errorf("round %d: Destroy() = %v", i, err)
		}
		time.Sleep(2 * time.Millisecond) // a few more kills of the removed cgroup
		close(stop)
		if err := <-done; err != nil {
			t.Fatalf("round %d: Kill(SIGKILL) while the cgroup is removed = %v", i, err)
		}
	}
}
