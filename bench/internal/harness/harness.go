package harness

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/cgroup"
	"github.com/shoal-dev/shoal/bench/internal/mounts"
	"github.com/shoal-dev/shoal/bench/internal/proc"
	"github.com/shoal-dev/shoal/bench/internal/rootfs"
	"golang.org/x/sys/unix"
)

// Environment variables the outer stage passes to the inner one.
const (
	EnvStage  = "SHOAL_BENCH_STAGE"
	EnvTmpDir = "SHOAL_BENCH_TMPDIR"
)

// Prefix starts the name of a run's temp dir and of its cgroups.
const Prefix = "shoal-bench-"

// IsInner tells whether this process is the inner stage.
func IsInner() bool { return os.Getenv(EnvStage) == "inner" }

// TempDir makes a run's temp dir below base (default $TMPDIR or /tmp)
// and returns its absolute path.
func TempDir(base string) (string, error) {
	tmp, err := os.MkdirTemp(base, Prefix)
	if err != nil {
		return "", err
	}
	return filepath.Abs(tmp)
}

// Token is the run's token: the random part of its temp dir's name.
func Token(tmp string) string {
	return strings.TrimPrefix(filepath.Base(tmp), Prefix)
}

// CgroupParent is the cgroup (in every hierarchy) of a run's what, as
// "/shoal-bench-TOKEN-shoal" for the shoal daemon's containers.
func CgroupParent(token, what string) string {
	return "/" + Prefix + token + "-" + what
}

// CgroupPattern matches (see cgroup.Glob) every CgroupParent of a run.
func CgroupPattern(token string) string {
	return Prefix + token + "-*"
}

// Logf writes a line of the progress log to stderr, with the time.
func Logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "# %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

// Subset parses list, a comma-separated subset of allowed, for the flag
// name; empty items and repetitions are dropped.
func Subset(name, list string, allowed []string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" || slices.Contains(out, s) {
			continue
		}
		if !slices.Contains(allowed, s) {
			return nil, fmt.Errorf("%s: unknown %q (want a subset of %s)", name, s, strings.Join(allowed, ","))
		}
		out = append(out, s)
	}
	return out, nil
}

// Parse parses the command line (flag.CommandLine); arguments that are
// not flags are a usage error (see Fail).
func Parse(name string) {
	flag.Parse()
	if flag.NArg() != 0 {
		Fail(name, "unexpected arguments: %q", flag.Args())
	}
}

// Fail reports a usage error of the program name on stderr and exits
// with status 2.
func Fail(name, format string, a ...any) {
	fmt.Fprintf(os.Stderr, name+": "+format+"\n", a...)
	os.Exit(2)
}

// SubsetSet is Subset as a set.
func SubsetSet(name, list string, allowed []string) (map[string]bool, error) {
	l, err := Subset(name, list, allowed)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, s := range l {
		set[s] = true
	}
	return set, nil
}

// Must panics if err is not nil: for setup steps inside a Job's Run.
func Must(err error) {
	if err != nil {
		panic(err)
	}
}

// WriteFile writes s to p, making p's directories, and returns p; it
// panics on failure (see Must).
func WriteFile(p, s string) string {
	Must(os.MkdirAll(filepath.Dir(p), 0o755))
	Must(os.WriteFile(p, []byte(s), 0o644))
	return p
}

// Reexec runs this program again, with the same arguments, in a private
// mount namespace as the inner stage of the run in tmp, forwards SIGINT,
// SIGTERM and SIGHUP to it, and returns its exit status. Afterwards those
// signals are ignored, so that the caller's cleanup runs to its end.
func Reexec(name, tmp string) int {
	defer signal.Ignore(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), EnvStage+"=inner", EnvTmpDir+"="+tmp)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, name+": re-exec in a private mount namespace:", err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				// A terminal's Ctrl-C reaches the inner process
				// directly; forwarding covers kill(1) on this pid.
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	rc := cmd.ProcessState.ExitCode()
	if rc < 0 { // killed by a signal
		fmt.Fprintln(os.Stderr, name+": inner process:", err)
		rc = 1
	}
	return rc
}

// Job is a benchmark's inner stage proper.
type Job interface {
	// Run runs the benchmark and prints its report.
	Run(ctx context.Context) error
	// Cleanup removes what Run started and made, also after Run failed,
	// panicked or was interrupted.
	Cleanup() error
}

// Inner is the inner stage: it makes the process a child subreaper (the
// engines' and runtimes' daemonised helpers, and a created container's
// init once `create` has exited, are reparented to it, not to pid 1,
// which on this kind of host does not reap), runs newJob(tmp) with a
// context that SIGINT, SIGTERM and SIGHUP cancel, then its Cleanup, and
// returns the exit status: 0, 1 on failure, 130 when interrupted, 2 when
// not started by Reexec.
func Inner(name string, newJob func(tmp string) Job) (rc int) {
	tmp := os.Getenv(EnvTmpDir)
	if tmp == "" {
		fmt.Fprintln(os.Stderr, name+": inner stage without "+EnvTmpDir)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, name+": PR_SET_CHILD_SUBREAPER:", err)
		return 1
	}
	j := newJob(tmp)
	defer func() {
		if err := j.Cleanup(); err != nil {
			fmt.Fprintln(os.Stderr, name+": cleanup:", err)
			if rc == 0 {
				rc = 1
			}
		}
	}()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return j.Run(ctx)
	}()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, name+": interrupted; cleaning up")
			return 130
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// Outer is the outer stage of a benchmark that starts container engines.
type Outer struct {
	// Name starts every message ("daemon-run").
	Name string
	// Why the benchmark must run as root, for the message when it is not
	// ("it starts container engines").
	Why string
	// Check, if set, checks (and may install) the prerequisites first;
	// its error ends the run with status 2.
	Check func() error
	// TmpBase is the parent of the temp dir ("": $TMPDIR or /tmp).
	TmpBase string
	// Keep keeps the temp dir.
	Keep bool
	// AfterCleanup, if set, runs after the safety net has killed what
	// is left and removed the run's cgroups, before the final check.
	AfterCleanup func(tmp string)
	// Leftovers, if set, adds to what the final check finds left.
	Leftovers func(tmp string) []string
	// Checked is what the final check looks for, for its message:
	// "process, cgroup or mount".
	Checked string
}

// Main runs the stage this process is: the inner one (see Inner) with
// newJob, or the outer one (see Run). It returns the exit status.
func (o *Outer) Main(newJob func(tmp string) Job) int {
	if IsInner() {
		return Inner(o.Name, newJob)
	}
	return o.Run()
}

// Run checks that it runs as root and the prerequisites (Check), makes
// the temp dir, runs the inner stage (see Reexec) and, as the safety net
// for an inner stage that died, kills every process left below it or
// naming the temp dir, removes the run's cgroups and the temp dir (unless
// Keep) and checks from the host's namespace that nothing of the run is
// left. It returns the exit status: the inner stage's, 2 if it could not
// start, or 1 if something was left.
func (o *Outer) Run() int {
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "%s: must run as root (%s)\n", o.Name, o.Why)
		return 2
	}
	if o.Check != nil {
		if err := o.Check(); err != nil {
			fmt.Fprintln(os.Stderr, o.Name+":", err)
			return 2
		}
	}
	// Whatever the inner process leaves behind if it dies (a daemon's
	// monitor, shims, conmon, containers) is reparented to us.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, o.Name+": PR_SET_CHILD_SUBREAPER:", err)
		return 1
	}
	tmp, err := TempDir(o.TmpBase)
	if err != nil {
		fmt.Fprintln(os.Stderr, o.Name+":", err)
		return 1
	}
	// Engines refuse or misbehave on a world-unreadable root; MkdirTemp
	// makes it 0700.
	_ = os.Chmod(tmp, 0o755)

	rc := Reexec(o.Name, tmp)

	// The safety net. After a normal run there is nothing to do.
	if n := proc.KillDescendants(os.Getpid(), nil); n > 0 {
		fmt.Fprintf(os.Stderr, "%s: killed %d process(es) the inner stage left behind\n", o.Name, n)
	}
	if n := proc.KillNaming(tmp); n > 0 {
		fmt.Fprintf(os.Stderr, "%s: killed %d process(es) naming %s\n", o.Name, n, tmp)
	}
	token := Token(tmp)
	if err := cgroup.RemoveAll(CgroupPattern(token)); err != nil {
		fmt.Fprintln(os.Stderr, o.Name+": cleanup:", err)
	}
	if o.AfterCleanup != nil {
		o.AfterCleanup(tmp)
	}
	left := Leftovers(tmp, token)
	if o.Leftovers != nil {
		left = append(left, o.Leftovers(tmp)...)
	}
	if o.Keep {
		fmt.Fprintf(os.Stderr, "%s: kept %s\n", o.Name, tmp)
	} else if err := mounts.RemoveTree(tmp, Logf); err != nil {
		fmt.Fprintln(os.Stderr, o.Name+": cleanup:", err)
		left = append(left, "temp dir: "+err.Error())
	}
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "%s: LEFT BEHIND:\n  %s\n", o.Name, strings.Join(left, "\n  "))
		if rc == 0 {
			rc = 1
		}
	} else {
		fmt.Fprintf(os.Stderr, "%s: cleanup check (host namespace): no %s of this run is left\n", o.Name, o.Checked)
	}
	return rc
}

// Leftovers lists what of the run in tmp is still there, as seen from the
// caller's namespaces: processes (other than the caller) naming tmp in
// their argv, the run's cgroups and mounts at or below tmp.
func Leftovers(tmp, token string) []string {
	var left []string
	for _, p := range proc.List() {
		if p.PID != os.Getpid() && p.NamesPath(tmp) {
			left = append(left, fmt.Sprintf("process %d (%s): %s", p.PID, p.Comm, strings.Join(p.Argv, " ")))
		}
	}
	for _, d := range cgroup.Glob(CgroupPattern(token)) {
		left = append(left, "cgroup "+d)
	}
	for _, m := range mounts.Under(tmp) {
		left = append(left, "mount "+m)
	}
	return left
}

// Ensure checks that every binary of need (binary: the Debian package
// that has it) is on PATH and that rootfs.Busybox is static. With
// aptInstall it installs the packages of what is missing (see
// AptInstall); without, it returns an error naming them.
func Ensure(need map[string]string, aptInstall bool) error {
	var pkgs []string
	for bin, pkg := range need {
		if _, err := exec.LookPath(bin); err != nil && !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
	}
	if rootfs.IsStatic(rootfs.Busybox) != nil && !slices.Contains(pkgs, "busybox-static") {
		pkgs = append(pkgs, "busybox-static")
	}
	if len(pkgs) == 0 {
		return nil
	}
	sort.Strings(pkgs)
	if !aptInstall {
		return fmt.Errorf("missing: apt-get install -y %s (or pass -apt-install)", strings.Join(pkgs, " "))
	}
	if err := AptInstall(true, pkgs...); err != nil {
		return err
	}
	if err := rootfs.IsStatic(rootfs.Busybox); err != nil {
		return fmt.Errorf("%s: %w (Debian's busybox-static)", rootfs.Busybox, err)
	}
	return nil
}

// AptInstall runs `apt-get install -y -qq PKGS` (after `apt-get update
// -qq` with update), non-interactive, its output to stderr.
func AptInstall(update bool, pkgs ...string) error {
	var cmds [][]string
	if update {
		cmds = append(cmds, []string{"apt-get", "update", "-qq"})
	}
	cmds = append(cmds, append([]string{"apt-get", "install", "-y", "-qq"}, pkgs...))
	for _, argv := range cmds {
		c := exec.Command(argv[0], argv[1:]...)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if err := c.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
	}
	return nil
}

// Resolve replaces each binary name by its absolute path on PATH.
func Resolve(bins ...*string) error {
	var errs []error
	for _, p := range bins {
		abs, err := exec.LookPath(*p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*p, _ = filepath.Abs(abs)
	}
	return errors.Join(errs...)
}
