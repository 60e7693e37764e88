//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// The differential tests run the same docker CLI commands against Docker
// (dockerd, see dockerd_harness_test.go) and against Shoal, mask what
// legitimately varies (ids, digests, dates, durations, sizes) and require
// the two outcomes, exit codes included, to be equal.
//
// The reference is moby v28.2.2, the daemon of the API (1.50) that the
// docker CLI v28 speaks. The dockerd on hand is Debian's 20.10 (API 1.41);
// where its text differs from v28's, dockerdIsV28 and the cases' v28
// fields rewrite dockerd's output into v28's words, each citing the moby
// source that says so.
//
// Cases run several at a time, each with container and volume names of
// its own (the tokens ctr, ctr2, v1 and v2 in its commands become
// ctr-007 and so on, and back again in the outputs; ps cases filter on
// them); the cases marked global list every container or volume, so they
// run one by one at the end, on engines without other containers. Cases
// that only look at a container share one of a few fixtures.
//
// Left out on purpose (the engines differ for reasons outside Shoal):
//   - docker version / docker info: server versions, API versions, drivers
//     and host facts differ by nature between a 20.10 and an API 1.50
//     daemon.
//   - inspect .Driver and .GraphDriver: overlay2 (dockerd) vs Shoal's
//     overlay snapshotter, on purpose.
//   - pause of a paused container: v28 says "Container <id> is already
//     paused", moby master lowercased it (daemon/pause.go); Shoal follows
//     master.
//   - cp of a file into a directory that does not exist: the CLI's own tar
//     goroutine logs "Can't add file ..." or not, at random, on either
//     engine.
//   - --cpu-shares 1: runc refuses it on cgroup v1 with its own text, the
//     kernel would clamp it to 2.
//   - exec -w /nonexistent: the error is runc's text ("chdir to cwd ... set
//     in config.json failed"); exec-missing-command covers how the error
//     reaches the CLI.
//   - the order of stdout and stderr lines in logs and logs --tail: each
//     engine stamps the two streams in separate goroutines, so lines
//     written within microseconds of each other may swap on either one.
//   - volume create -d nosuchdriver: the texts agree, but dockerd retries
//     the plugin lookup for 15 s.
//   - full volume inspect JSON: Mountpoint is under each engine's data root
//     and 20.10 shows null Labels/Options; the -f cases compare the fields.

// diffWorkers is how many cases run at once.
const diffWorkers = 8

// diffCase is one command run on both engines.
type diffCase struct {
	name string
	// setup runs before args, in order; its exit codes are part of the
	// compared outcome. A setup step that fails on dockerd fails the
	// case (a broken case would otherwise pass by failing alike on both
	// engines) unless setupMayFail.
	setup        [][]string
	setupMayFail bool
	args         []string
	stdin        string
	// norms mask, after the default ones, what legitimately varies.
	norms []normaliser
	// v28 rewrites dockerd 20.10's output into what moby v28 says
	// (applied to dockerd's output only, before any normaliser).
	v28 []rewrite
	// cleanup runs after the case (its containers are always removed).
	cleanup [][]string
	// on names a shared container the case uses as ctr instead of one of
	// its own; the case must leave it as it is.
	on fixture
	// global cases list every container or volume: they run alone.
	global bool
	// knownDiff says why Shoal is known to differ (a Shoal bug, owned by
	// the engine): the case still fails while the outputs differ.
	knownDiff string
}

type normaliser func(string) string

type rewrite struct {
	re *regexp.Regexp
	to string
}

func rw(re, to string) rewrite { return rewrite{regexp.MustCompile(re), to} }

// dockerdIsV28 rewrites dockerd 20.10 messages that moby v28.2.2 words
// differently (Shoal follows v28).
var dockerdIsV28 = []rewrite{
	// daemon/errors.go errNotRunning
	rw(`Container ([0-9a-f]{64}) is not running`, `container $1 is not running`),
	// api/server/router/container/container_routes.go postContainersKill
	rw(`Cannot kill container: `, `cannot kill container: `),
	// daemon/daemon_unix.go verifyPlatformContainerResources
	rw(`Range of CPUs is from`, `range of CPUs is from`),
	// api/types/container/hostconfig.go ValidateRestartPolicy
	rw(`(daemon: )maximum retry count cannot be negative`, `${1}invalid restart policy: maximum retry count cannot be negative`),
	rw(`maximum retry count cannot be used with restart policy '[^']*'`, `invalid restart policy: maximum retry count can only be used with 'on-failure'`),
	rw(`invalid restart policy '([^']*)'`, `invalid restart policy: unknown policy '$1'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`),
}

// The v28 text of dockerd 20.10's "You cannot remove a running container"
// (daemon/delete.go: the name as given, not the canonical "/ctr").
var rmRunningV28 = rw(`You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove`,
	`cannot remove container "ctr": container is running: stop the container before removing or force remove`)

var (
	reDigest = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	reID64   = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	reID12   = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	reTime   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	reDur    = regexp.MustCompile(`\b(Less than a second|About a minute|About an hour|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?))\b`)
	reSize   = regexp.MustCompile(`\b\d+(\.\d+)?([kMG]i?B|B)\b`)
	reCols   = regexp.MustCompile(`\s{2,}`)
	reTarHdr = regexp.MustCompile(` mode=\S+ (uid=\S+ gid=\S+)`)
	reOCI    = regexp.MustCompile(`^(.*?)(?:failed to create|OCI runtime).*\bexec:? "?([^"\s:]+)"?: (.*?)(?:: unknown)?(\r?)$`)
)

// defaultNorms mask ids, digests, timestamps and human durations.
var defaultNorms = []normaliser{
	func(s string) string { return reDigest.ReplaceAllString(s, "<digest>") },
	func(s string) string { return reID64.ReplaceAllString(s, "<id>") },
	func(s string) string { return reID12.ReplaceAllString(s, "<id>") },
	func(s string) string { return reTime.ReplaceAllString(s, "<time>") },
	func(s string) string { return reDur.ReplaceAllString(s, "<dur>") },
}

// sizes masks sizes such as 1.98MB or 0B.
func sizes(s string) string { return reSize.ReplaceAllString(s, "<size>") }

// table joins the columns of tabwriter output with " | ", so masked
// values of other widths do not shift them.
func table(s string) string {
	return mapLines(s, func(l string) string {
		return strings.Join(reCols.Split(strings.TrimRight(l, " "), -1), " | ")
	})
}

// sortLines sorts the lines (for output whose order is unspecified).
func sortLines(s string) string {
	if s == "" {
		return s
	}
	ls := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(ls)
	return strings.Join(ls, "\n") + "\n"
}

// ociErr reduces a runtime's start/exec failure to the command and the
// reason (runc and Shoal's runtime word the rest differently).
func ociErr(s string) string {
	return mapLines(s, func(l string) string {
		return reOCI.ReplaceAllString(l, `$1<runtime error>: exec "$2": $3$4`)
	})
}

// topCols keeps top's header and, of each process, the columns that do
// not vary between runs (user, tty, command).
func topCols(s string) string {
	var keep []int
	return mapLines(s, func(l string) string {
		cols := reCols.Split(strings.TrimSpace(l), -1)
		if keep == nil {
			keep = []int{}
			for i, c := range cols {
				if c == "UID" || c == "USER" || c == "TTY" || c == "CMD" || c == "COMMAND" {
					keep = append(keep, i)
				}
			}
			return strings.Join(cols, " | ")
		}
		var out []string
		for _, i := range keep {
			if i < len(cols) {
				out = append(out, cols[i])
			}
		}
		return strings.Join(out, " | ")
	})
}

// tarList lists a tar stream: name, raw mode, owner, type, size and the
// content of regular files. Anything that is not a tar stays as it is.
func tarList(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	tr := tar.NewReader(strings.NewReader(s))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return b.String()
		}
		if err != nil {
			return s
		}
		data, _ := io.ReadAll(tr)
		// Owner names are left out: dockerd 20.10 looks them up on the
		// host; moby 23 and later (FileInfoHeaderNoLookups) write none,
		// as Shoal does.
		fmt.Fprintf(&b, "%s mode=%o uid=%d gid=%d type=%c size=%d %q\n",
			h.Name, h.Mode, h.Uid, h.Gid, h.Typeflag, h.Size, data)
	}
}

// tarContentOnly drops the mode and owner names from a tarList listing.
func tarContentOnly(s string) string { return reTarHdr.ReplaceAllString(s, " $1") }

func mapLines(s string, f func(string) string) string {
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		if i == len(ls)-1 && l == "" {
			break
		}
		ls[i] = f(l)
	}
	return strings.Join(ls, "\n")
}

// fixture is a container that cases share (read-only) as their ctr, so
// that fewer containers are started: on dockerd 20.10 each start and exit
// costs a second or more.
type fixture string

const (
	fxRunning fixture = "fx-running" // runSleep
	fxExited  fixture = "fx-exited"  // exited3
	fxCreated fixture = "fx-created" // createC
)

// fixtures are the commands that make them (ctr stands for the name).
var fixtures = map[fixture][][]string{
	fxRunning: {runSleep},
	fxExited:  exited3,
	fxCreated: {createC},
}

// Containers the cases start from.
var (
	runSleep   = []string{"run", "-d", "--name", "ctr", "--network", "none", "bb", "sleep", "1000"}
	runTrapped = []string{"run", "-d", "--name", "ctr", "--network", "none", "bb", "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"}
	createC    = []string{"create", "--name", "ctr", "--network", "none", "bb", "true"}
	exited3    = [][]string{
		{"run", "-d", "--name", "ctr", "--network", "none", "bb", "sh", "-c", "echo out; echo err >&2; exit 3"},
		{"wait", "ctr"},
	}
)

func differentialCases(hostFile string) []diffCase {
	none := []string{"--network", "none"}
	run := func(args ...string) []string { return append(append([]string{"run"}, none...), args...) }
	return []diffCase{
		// run
		{name: "run-echo", args: run("--rm", "bb", "echo", "hello")},
		{name: "run-stdout-stderr", args: run("--rm", "bb", "sh", "-c", "echo out; echo err >&2")},
		{name: "run-exit-code", args: run("bb", "sh", "-c", "exit 3")},
		{name: "run-stdin", args: run("-i", "--rm", "bb", "sh", "-c", "cat; echo done"), stdin: "piped\n"},
		{name: "run-missing-command-127", args: run("bb", "nosuchcmd"), norms: []normaliser{ociErr}},
		{name: "run-missing-command-state", setupMayFail: true, setup: [][]string{run("--name", "ctr", "bb", "nosuchcmd")},
			args: []string{"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ctr"}, norms: []normaliser{ociErr}},
		{name: "run-not-executable-126", args: run("bb", "/etc/passwd"), norms: []normaliser{ociErr}},
		{name: "run-not-executable-state", setupMayFail: true, setup: [][]string{run("--name", "ctr", "bb", "/etc/passwd")},
			args: []string{"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ctr"}, norms: []normaliser{ociErr}},
		{name: "run-rm-leaves-nothing", setup: [][]string{run("--rm", "--name", "ctr", "bb", "true")},
			args: []string{"ps", "-a", "--filter", "name=ctr", "--format", "{{.Names}}"}},
		{name: "run-user-workdir-env", args: run("--rm", "-u", "nobody", "-w", "/tmp", "-e", "A=1", "bb", "sh", "-c", "id; pwd; echo $A")},
		{name: "run-environment", args: run("--rm", "bb", "sh", "-c", "env | sort")},
		{name: "run-etc-files", args: run("--rm", "bb", "sh", "-c", "cat /etc/hostname /etc/hosts /etc/resolv.conf")},
		{name: "run-dev", args: run("--rm", "bb", "ls", "/dev")},
		{name: "run-unknown-user", args: run("--rm", "-u", "nosuchuser", "bb", "true")},
		{name: "run-relative-workdir", args: run("--rm", "-w", "relative", "bb", "true")},
		{name: "run-missing-network", args: []string{"run", "--rm", "--network", "nosuchnet", "bb", "true"}},
		{name: "run-missing-image", args: run("--pull", "never", "nosuch")},
		{name: "run-name-clash", setup: [][]string{createC}, args: run("--name", "ctr", "bb", "true")},

		// create
		{name: "create-name-clash", setup: [][]string{createC}, args: []string{"create", "--name", "ctr", "--network", "none", "bb"}},
		{name: "create-missing-image", args: []string{"create", "--pull", "never", "--network", "none", "nosuch"}},
		{name: "create-missing-image-repo", args: []string{"create", "--pull", "never", "--network", "none", "bogus/nosuch:tag"}},
		{name: "create-prints-id", args: []string{"create", "--network", "none", "bb"}},

		// invalid values the daemon checks
		{name: "invalid-memory", args: run("--rm", "--memory", "1k", "bb", "true")},
		{name: "invalid-memory-swap", args: run("--rm", "--memory", "2m", "--memory-swap", "1m", "bb", "true")},
		{name: "invalid-cpus", args: run("--rm", "--cpus", "99", "bb", "true")},
		{name: "invalid-cpuset", args: run("--rm", "--cpuset-cpus", "99", "bb", "true")},
		{name: "invalid-oom-score-adj", args: run("--rm", "--oom-score-adj", "2000", "bb", "true")},
		{name: "invalid-restart-policy", args: run("-d", "--restart", "bogus", "bb", "true")},
		{name: "invalid-restart-count", args: run("-d", "--restart", "on-failure:-1", "bb", "true")},
		{name: "invalid-restart-count-always", args: run("-d", "--restart", "always:3", "bb", "true")},

		// run -d and ps
		{name: "run-detached-prints-id", args: run("-d", "bb", "true")},
		{name: "ps-table", global: true, setup: [][]string{runSleep}, args: []string{"ps"}, norms: []normaliser{table}},
		{name: "ps-all-table", global: true, setup: [][]string{run("-d", "--name", "ctr", "bb", "false"), {"wait", "ctr"}, {"create", "--name", "ctr2", "--network", "none", "bb"}},
			args: []string{"ps", "-a"}, norms: []normaliser{table}},
		{name: "ps-format", setup: [][]string{runSleep},
			args: []string{"ps", "--filter", "name=ctr", "--format", "{{.Names}}|{{.Image}}|{{.Command}}|{{.Status}}|{{.State}}|{{.Ports}}|{{.Networks}}|{{.Mounts}}|{{.Labels}}|{{.RunningFor}}"}},
		{name: "ps-quiet", setup: [][]string{runSleep}, args: []string{"ps", "-q", "--filter", "name=ctr"}},
		{name: "ps-exited-and-created", setup: slices.Concat(exited3, [][]string{{"create", "--name", "ctr2", "--network", "none", "bb"}}),
			args: []string{"ps", "-a", "--filter", "name=ctr", "--filter", "name=ctr2", "--format", "{{.Names}} {{.Status}}"}},
		{name: "ps-filter-status", setup: slices.Concat(exited3, [][]string{{"run", "-d", "--name", "ctr2", "--network", "none", "bb", "sleep", "1000"}}),
			args: []string{"ps", "-a", "--filter", "status=exited", "--filter", "name=ctr", "--filter", "name=ctr2", "--format", "{{.Names}}"}},
		{name: "ps-command-quoting", setup: [][]string{runTrapped}, args: []string{"ps", "--no-trunc", "--filter", "name=ctr", "--format", "{{.Command}}"}},
		{name: "ps-size", setup: [][]string{runSleep}, args: []string{"ps", "--size", "--filter", "name=ctr", "--format", "{{.Size}}"}, norms: []normaliser{sizes}},
		{name: "images", args: []string{"images"}, norms: []normaliser{sizes, table}},

		// logs
		{name: "logs", on: fxExited, args: []string{"logs", "ctr"}},
		{name: "logs-tail", setup: [][]string{run("--name", "ctr", "bb", "sh", "-c", "for i in 1 2 3 4; do echo line$i; done")},
			args: []string{"logs", "--tail", "2", "ctr"}},
		{name: "logs-tail-0", on: fxExited, args: []string{"logs", "--tail", "0", "ctr"}},
		{name: "logs-timestamps", on: fxExited, args: []string{"logs", "-t", "ctr"}},
		{name: "logs-missing", args: []string{"logs", "nosuch"}},

		// exec
		{name: "exec-output-exit", on: fxRunning, args: []string{"exec", "ctr", "sh", "-c", "echo hi; echo err >&2; exit 5"}},
		{name: "exec-user", on: fxRunning, args: []string{"exec", "-u", "nobody", "ctr", "id"}},
		{name: "exec-uid-gid", on: fxRunning, args: []string{"exec", "-u", "1234:5678", "ctr", "id"}},
		{name: "exec-workdir", on: fxRunning, args: []string{"exec", "-w", "/tmp", "ctr", "pwd"}},
		{name: "exec-env", on: fxRunning, args: []string{"exec", "-e", "FOO=bar", "ctr", "sh", "-c", "echo $FOO"}},
		{name: "exec-stdin", on: fxRunning, args: []string{"exec", "-i", "ctr", "cat"}, stdin: "piped\n"},
		{name: "exec-missing-command", on: fxRunning, args: []string{"exec", "ctr", "nosuch"}, norms: []normaliser{ociErr}},
		{name: "exec-unknown-user", on: fxRunning, args: []string{"exec", "-u", "nosuchuser", "ctr", "true"}},
		{name: "exec-not-running", on: fxCreated, args: []string{"exec", "ctr", "true"}},
		{name: "exec-paused", setup: [][]string{runSleep, {"pause", "ctr"}}, args: []string{"exec", "ctr", "true"}},
		{name: "exec-missing-container", args: []string{"exec", "nosuch", "true"}},

		// inspect
		{name: "inspect-state-running", on: fxRunning,
			args: []string{"inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.Paused}} {{.State.Restarting}} {{.State.OOMKilled}} {{.State.Dead}} {{.State.ExitCode}} [{{.State.Error}}] {{.RestartCount}} {{.Name}} {{.Path}} {{.Args}} {{.Platform}}", "ctr"}},
		{name: "inspect-state-exited", on: fxExited,
			args: []string{"inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}} [{{.State.Error}}] {{.State.StartedAt}} {{.State.FinishedAt}}", "ctr"}},
		{name: "inspect-state-created", on: fxCreated,
			args: []string{"inspect", "-f", "{{.State.Status}} {{.State.Pid}} {{.State.StartedAt}} {{.State.FinishedAt}}", "ctr"}},
		{name: "inspect-config", setup: [][]string{run("-d", "--name", "ctr", "-e", "A=1", "-w", "/tmp", "-u", "nobody", "--label", "k=v", "bb", "sleep", "1000")},
			args: []string{"inspect", "-f", "{{.Config.User}} {{.Config.Env}} {{.Config.Cmd}} {{.Config.Entrypoint}} {{.Config.Image}} {{.Config.WorkingDir}} {{.Config.Tty}} {{.Config.OpenStdin}} {{.Config.AttachStdout}} {{.Config.Labels}} [{{.Config.StopSignal}}]", "ctr"}},
		{name: "inspect-config-hostname", on: fxRunning, args: []string{"inspect", "-f", "[{{.Config.Hostname}}] [{{.Config.Domainname}}]", "ctr"}},
		{name: "inspect-hostconfig", setup: [][]string{run("-d", "--name", "ctr", "--memory", "64m", "bb", "sleep", "1000")},
			args: []string{"inspect", "-f", "{{.HostConfig.NetworkMode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.AutoRemove}} {{.HostConfig.Memory}} {{.HostConfig.LogConfig.Type}} {{.HostConfig.Privileged}} {{.HostConfig.ReadonlyRootfs}}", "ctr"}},
		{name: "inspect-hostconfig-shmsize", on: fxRunning, args: []string{"inspect", "-f", "{{.HostConfig.ShmSize}}", "ctr"}},
		// inspect-image is left out: dockerd 20.10 answers the CLI's
		// inspect of an image name intermittently without "Os".
		{name: "inspect-missing", args: []string{"inspect", "nosuch"}},

		// stop, start, restart, kill
		{name: "stop", setup: [][]string{runTrapped}, args: []string{"stop", "ctr"}},
		{name: "stop-kills-after-timeout", setup: [][]string{runSleep, {"stop", "-t", "1", "ctr"}},
			args: []string{"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ctr"}},
		{name: "stop-stopped", on: fxCreated, args: []string{"stop", "ctr"}},
		{name: "stop-missing", args: []string{"stop", "nosuch"}},
		{name: "stop-some-missing", setup: [][]string{runTrapped}, args: []string{"stop", "ctr", "nosuch"}},
		{name: "start", setup: exited3, args: []string{"start", "ctr"}},
		{name: "start-running", on: fxRunning, args: []string{"start", "ctr"}},
		{name: "start-attach", setup: exited3, args: []string{"start", "-a", "ctr"}},
		{name: "start-missing", args: []string{"start", "nosuch"}},
		{name: "restart", setup: [][]string{runTrapped}, args: []string{"restart", "ctr"}},
		{name: "restart-state", setup: [][]string{runTrapped, {"restart", "ctr"}},
			args: []string{"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", "ctr"}},
		{name: "restart-missing", args: []string{"restart", "nosuch"}},
		{name: "kill", setup: [][]string{runSleep}, args: []string{"kill", "ctr"}},
		{name: "kill-state", setup: [][]string{runSleep, {"kill", "ctr"}}, args: []string{"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ctr"}},
		{name: "kill-signal", setup: [][]string{runTrapped, {"kill", "-s", "TERM", "ctr"}, {"wait", "ctr"}},
			args: []string{"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ctr"}},
		{name: "kill-not-running", on: fxCreated, args: []string{"kill", "ctr"}},
		{name: "kill-invalid-signal", on: fxRunning, args: []string{"kill", "-s", "BOGUS", "ctr"},
			v28: []rewrite{rw(`Invalid signal: BOGUS`, `cannot kill container: ctr: invalid signal: BOGUS`)}},
		{name: "kill-missing", args: []string{"kill", "nosuch"}},

		// rm
		{name: "rm-stopped", setup: exited3, args: []string{"rm", "ctr"}},
		{name: "rm-running", setup: [][]string{runSleep}, args: []string{"rm", "ctr"}, v28: []rewrite{rmRunningV28}},
		{name: "rm-force-running", setup: [][]string{runSleep}, args: []string{"rm", "-f", "ctr"}},
		{name: "rm-missing", args: []string{"rm", "nosuch"}},
		{name: "rm-force-missing", args: []string{"rm", "-f", "nosuch"}},

		// rename
		{name: "rename", setup: [][]string{createC, {"rename", "ctr", "ctr2"}}, args: []string{"inspect", "-f", "{{.Name}}", "ctr2"}},
		{name: "rename-old-name-gone", setup: [][]string{createC, {"rename", "ctr", "ctr2"}}, args: []string{"inspect", "-f", "{{.Name}}", "ctr"}},
		{name: "rename-clash", setup: [][]string{createC, {"create", "--name", "ctr2", "--network", "none", "bb"}}, args: []string{"rename", "ctr", "ctr2"}},
		{name: "rename-same", setup: [][]string{createC}, args: []string{"rename", "ctr", "ctr"}},
		{name: "rename-missing", args: []string{"rename", "nosuch", "x"}},

		// pause, unpause
		{name: "pause", setup: [][]string{runSleep}, args: []string{"pause", "ctr"}},
		{name: "pause-ps-status", setup: [][]string{runSleep, {"pause", "ctr"}}, args: []string{"ps", "--filter", "name=ctr", "--format", "{{.Names}} {{.Status}} {{.State}}"}},
		{name: "pause-inspect", setup: [][]string{runSleep, {"pause", "ctr"}}, args: []string{"inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.Paused}}", "ctr"}},
		{name: "unpause", setup: [][]string{runSleep, {"pause", "ctr"}, {"unpause", "ctr"}}, args: []string{"ps", "--filter", "name=ctr", "--format", "{{.Names}} {{.Status}} {{.State}}"}},
		{name: "pause-not-running", on: fxCreated, args: []string{"pause", "ctr"}},
		{name: "unpause-not-paused", on: fxRunning, args: []string{"unpause", "ctr"}},
		{name: "unpause-stopped", on: fxCreated, args: []string{"unpause", "ctr"}},
		{name: "stop-paused", setup: [][]string{runTrapped, {"pause", "ctr"}, {"stop", "ctr"}},
			args: []string{"inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "ctr"}},

		// wait
		{name: "wait", setup: [][]string{run("-d", "--name", "ctr", "bb", "sh", "-c", "sleep 0.3; exit 7")}, args: []string{"wait", "ctr"}},
		{name: "wait-exited", on: fxExited, args: []string{"wait", "ctr"}},
		{name: "wait-missing", args: []string{"wait", "nosuch"}},

		// top
		{name: "top", on: fxRunning, args: []string{"top", "ctr"}, norms: []normaliser{topCols}},
		{name: "top-ps-options", on: fxRunning, args: []string{"top", "ctr", "-o", "pid,comm"}, norms: []normaliser{topCols}},
		{name: "top-not-running", on: fxCreated, args: []string{"top", "ctr"}},
		{name: "top-missing", args: []string{"top", "nosuch"}},

		// diff
		{name: "diff", setup: [][]string{runSleep, {"exec", "ctr", "sh", "-c", "echo x > /tmp/new; rm /bin/vi; mkdir -p /etc/d; touch /root/f"}},
			args: []string{"diff", "ctr"}, norms: []normaliser{sortLines}},
		{name: "diff-unchanged", setup: [][]string{runSleep}, args: []string{"diff", "ctr"}},
		{name: "diff-missing", args: []string{"diff", "nosuch"}},

		// cp
		{name: "cp-into-running", setup: [][]string{runSleep, {"cp", hostFile, "ctr:/tmp/in.txt"}}, args: []string{"exec", "ctr", "cat", "/tmp/in.txt"}},
		{name: "cp-into-created", setup: [][]string{{"create", "--name", "ctr", "--network", "none", "bb", "cat", "/in.txt"}, {"cp", hostFile, "ctr:/in.txt"}},
			args: []string{"start", "-a", "ctr"}},
		{name: "cp-out-content", on: fxRunning, args: []string{"cp", "ctr:/etc/passwd", "-"},
			norms: []normaliser{tarList, tarContentOnly}},
		{name: "cp-out-tar-headers", on: fxRunning, args: []string{"cp", "ctr:/etc/passwd", "-"}, norms: []normaliser{tarList}},
		{name: "cp-out-missing-path", on: fxRunning, args: []string{"cp", "ctr:/nonexist", "-"}},
		{name: "cp-missing-container", args: []string{"cp", "nosuch:/x", "-"}},

		// port
		{name: "port-none", on: fxRunning, args: []string{"port", "ctr"}},
		{name: "port-unpublished", on: fxRunning, args: []string{"port", "ctr", "80"}},
		{name: "port-missing", args: []string{"port", "nosuch"}},

		// volumes
		{name: "volume-create", args: []string{"volume", "create", "v1"}, cleanup: [][]string{{"volume", "rm", "-f", "v1"}}},
		{name: "volume-create-existing", setup: [][]string{{"volume", "create", "v1"}}, args: []string{"volume", "create", "v1"},
			cleanup: [][]string{{"volume", "rm", "-f", "v1"}}},
		{name: "volume-ls", global: true, setup: [][]string{{"volume", "create", "v1"}, {"volume", "create", "v2"}}, args: []string{"volume", "ls"},
			norms: []normaliser{table}, cleanup: [][]string{{"volume", "rm", "-f", "v1", "v2"}}},
		{name: "volume-ls-quiet", setup: [][]string{{"volume", "create", "v1"}}, args: []string{"volume", "ls", "-q", "--filter", "name=v1"},
			cleanup: [][]string{{"volume", "rm", "-f", "v1"}}},
		{name: "volume-inspect", setup: [][]string{{"volume", "create", "--label", "a=b", "v1"}},
			args:    []string{"volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{.CreatedAt}}", "v1"},
			cleanup: [][]string{{"volume", "rm", "-f", "v1"}}},
		{name: "volume-inspect-missing", args: []string{"volume", "inspect", "nosuch"}},
		{name: "volume-rm", setup: [][]string{{"volume", "create", "v1"}}, args: []string{"volume", "rm", "v1"}},
		{name: "volume-rm-missing", args: []string{"volume", "rm", "nosuch"}},
		{name: "volume-rm-in-use", setup: [][]string{{"volume", "create", "v1"}, run("--name", "ctr", "-v", "v1:/data", "bb", "true")},
			args: []string{"volume", "rm", "v1"}, cleanup: [][]string{{"rm", "-f", "ctr"}, {"volume", "rm", "-f", "v1"}}},
		{name: "volume-create-bad-name", args: []string{"volume", "create", "bad name!"}},
		{name: "volume-data-survives", setup: [][]string{run("--rm", "-v", "v1:/data", "bb", "sh", "-c", "echo kept > /data/f")},
			args: run("--rm", "-v", "v1:/data", "bb", "cat", "/data/f"), cleanup: [][]string{{"volume", "rm", "-f", "v1"}}},
	}
}

// engine is one daemon driven with the docker CLI (and, to clean up
// cheaply, with its API).
type engine struct {
	name string
	env  []string
	sock string
}

// api sends one request to the engine's API socket.
func (e engine) api(ctx context.Context, method, path string) ([]byte, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", e.sock)
		},
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, "http://engine"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		err = fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, body)
	}
	return body, err
}

// remove force-removes containers (and their anonymous volumes); a
// missing one is no error.
func (e engine) remove(ctx context.Context, refs ...string) error {
	var errs []error
	for _, r := range refs {
		_, err := e.api(ctx, http.MethodDelete, "/containers/"+url.PathEscape(r)+"?force=1&v=1")
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeAll removes every container.
func (e engine) removeAll(ctx context.Context) error {
	body, err := e.api(ctx, http.MethodGet, "/containers/json?all=1")
	if err != nil {
		return err
	}
	var list []struct {
		ID string `json:"Id"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return e.remove(ctx, ids...)
}

type outcome struct {
	setup []int
	// setupErrs holds the output of failed setup steps.
	setupErrs      string
	stdout, stderr string
	code           int
	cleanupErr     error
	took           time.Duration
}

// docker runs the CLI with stdout and stderr apart (their interleaving
// is not deterministic).
func (e engine) docker(ctx context.Context, stdin string, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = e.env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = -1
		se.WriteString("run docker: " + err.Error() + "\n")
	}
	return so.String(), se.String(), code
}

// names maps a case's name tokens to the names it uses on the engines.
type names [][2]string

var nameTokens = []string{"ctr2", "ctr", "v1", "v2"} // longest first

func namesFor(i int, on fixture) names {
	var n names
	for _, tok := range nameTokens {
		name := fmt.Sprintf("%s-%03d", tok, i)
		if tok == "ctr" && on != "" {
			name = string(on)
		}
		n = append(n, [2]string{tok, name})
	}
	return n
}

// args replaces the tokens that stand alone, before a colon (ctr:/path,
// v1:/data) or in a name filter (name=ctr).
func (n names) args(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		for _, p := range n {
			switch {
			case a == p[0] || strings.HasPrefix(a, p[0]+":"):
				out[i] = p[1] + a[len(p[0]):]
			case a == "name="+p[0]:
				out[i] = "name=" + p[1]
			default:
				continue
			}
			break
		}
	}
	return out
}

// undo turns the names back into tokens in an output.
func (n names) undo(s string) string {
	for _, p := range n {
		s = strings.ReplaceAll(s, p[1], p[0])
	}
	return s
}

func (e engine) runCase(ctx context.Context, c diffCase, n names) (o outcome) {
	start := time.Now()
	defer func() { o.took = time.Since(start) }()
	for _, s := range c.setup {
		so, se, code := e.docker(ctx, "", n.args(s)...)
		o.setup = append(o.setup, code)
		if code != 0 {
			o.setupErrs += fmt.Sprintf("docker %s: %s%s", strings.Join(s, " "), n.undo(so), n.undo(se))
		}
	}
	o.stdout, o.stderr, o.code = e.docker(ctx, c.stdin, n.args(c.args)...)
	o.stdout, o.stderr = n.undo(o.stdout), n.undo(o.stderr)
	// Clean up: the case's containers (or, for a global case, all of
	// them), then its own clean-up commands.
	if c.global {
		o.cleanupErr = e.removeAll(ctx)
	} else if c.on != "" {
		o.cleanupErr = e.remove(ctx, n.args([]string{"ctr2"})...)
	} else {
		o.cleanupErr = e.remove(ctx, n.args([]string{"ctr", "ctr2"})...)
	}
	for _, s := range c.cleanup {
		e.docker(ctx, "", n.args(s)...)
	}
	return o
}

// render normalises an outcome into the text the engines must agree on.
func render(o outcome, rewrites []rewrite, norms []normaliser) string {
	stream := func(s string) string {
		for _, r := range rewrites {
			s = r.re.ReplaceAllString(s, r.to)
		}
		for _, n := range defaultNorms {
			s = n(s)
		}
		for _, n := range norms {
			s = n(s)
		}
		s = strings.ReplaceAll(s, "\r", `\r`)
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "[no newline at end]\n"
		}
		return s
	}
	var b strings.Builder
	if len(o.setup) > 0 {
		fmt.Fprintf(&b, "setup exit codes %v\n", o.setup)
		if o.setupErrs != "" {
			b.WriteString(stream(o.setupErrs))
		}
	}
	fmt.Fprintf(&b, "exit %d\n--- stdout\n%s--- stderr\n%s", o.code, stream(o.stdout), stream(o.stderr))
	return b.String()
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ")
}

// firstDiff quotes the first line where a and b differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("first difference, line %d: dockerd %q, shoal %q", i+1, x, y)
		}
	}
	return ""
}

// TestDifferential runs the daily docker verbs, and their errors, on
// dockerd and on Shoal and requires equal (normalised) outcomes.
func TestDifferential(t *testing.T) {
	testutil.RequiresRoot(t)
	ref := startDockerd(t)
	d := startDaemon(t)

	// The same busybox image on both: one tar, imported twice.
	tmp := t.TempDir()
	bbTar := filepath.Join(tmp, "bb.tar")
	if out, err := exec.Command("tar", "-C", testutil.BusyboxRootfs(t), "-cf", bbTar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar busybox: %v\n%s", err, out)
	}
	ref.must("import", "--change", `CMD ["sh"]`, bbTar, "bb")
	d.must("import", "--change", `CMD ["sh"]`, bbTar, "bb")
	hostFile := filepath.Join(tmp, "in.txt")
	if err := os.WriteFile(hostFile, []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	engines := [2]engine{{"dockerd", ref.env(), ref.sock}, {"shoal", d.env(), d.sock}}
	ctx := t.Context()
	cases := differentialCases(hostFile)
	results := make([][2]outcome, len(cases))
	onBoth := func(i int, n names) {
		var wg sync.WaitGroup
		for j, e := range engines {
			wg.Go(func() { results[i][j] = e.runCase(ctx, cases[i], n) })
		}
		wg.Wait()
	}
	start := time.Now()
	for fx, steps := range fixtures {
		n := names{{"ctr", string(fx)}}
		for _, e := range engines {
			for _, s := range steps {
				if out, errOut, code := e.docker(ctx, "", n.args(s)...); code != 0 {
					t.Fatalf("%s: fixture %s: docker %s: exit %d\n%s%s", e.name, fx, strings.Join(s, " "), code, out, errOut)
				}
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, diffWorkers)
	for i, c := range cases {
		if c.global {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			onBoth(i, namesFor(i, c.on))
		})
	}
	wg.Wait()
	for _, e := range engines {
		if err := e.removeAll(ctx); err != nil {
			t.Errorf("%s: remove the containers: %v", e.name, err)
		}
	}
	parallel := time.Since(start)
	for i, c := range cases {
		if c.global {
			onBoth(i, nil)
		}
	}
	slowest := make([]int, len(cases))
	for i := range slowest {
		slowest[i] = i
	}
	took := func(i int) time.Duration { return max(results[i][0].took, results[i][1].took) }
	slices.SortFunc(slowest, func(a, b int) int { return int(took(b) - took(a)) })
	var slow []string
	for _, i := range slowest[:10] {
		slow = append(slow, fmt.Sprintf("%s %v/%v", cases[i].name, results[i][0].took.Round(time.Millisecond), results[i][1].took.Round(time.Millisecond)))
	}
	t.Logf("%d cases in %v (%v before the global ones); slowest (dockerd/shoal): %s", len(cases), time.Since(start).Round(time.Millisecond), parallel.Round(time.Millisecond), strings.Join(slow, ", "))

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := render(results[i][0], slices.Concat(dockerdIsV28, c.v28), c.norms)
			got := render(results[i][1], nil, c.norms)
			cmd := "docker " + strings.Join(c.args, " ")
			for j, e := range engines {
				if err := results[i][j].cleanupErr; err != nil {
					t.Errorf("%s: clean up: %v", e.name, err)
				}
			}
			if !c.setupMayFail && slices.ContainsFunc(results[i][0].setup, func(code int) bool { return code != 0 }) {
				t.Errorf("%s: a setup step failed on dockerd (the case is broken):\n%s", cmd, indent(want))
				return
			}
			switch {
			case got != want && c.knownDiff != "":
				t.Errorf("%s: known difference: %s\ndockerd:\n%s\nshoal:\n%s\n%s", cmd, c.knownDiff, indent(want), indent(got), firstDiff(want, got))
			case got != want:
				t.Errorf("%s: outcomes differ\ndockerd:\n%s\nshoal:\n%s\n%s", cmd, indent(want), indent(got), firstDiff(want, got))
			case c.knownDiff != "":
				t.Logf("%s: marked as a known difference (%s) but the outcomes agree: drop the mark\n%s", cmd, c.knownDiff, indent(got))
			default:
				t.Logf("%s: both engines:\n%s", cmd, indent(got))
			}
		})
	}
}
