package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// binary drives a runc-compatible runtime through its command line.
type binary struct {
	spec Spec
}

func (b *binary) Name() string { return b.spec.Name }

// command builds `PATH ARGS --root ROOT --log LOG --log-format json VERB…`.
func (b *binary) command(ctx context.Context, logFile string, args ...string) *exec.Cmd {
	full := append([]string{}, b.spec.Args...)
	full = append(full, "--root", b.spec.Root)
	if logFile != "" {
		full = append(full, "--log", logFile, "--log-format", "json")
	}
	full = append(full, args...)
	return exec.CommandContext(ctx, b.spec.Path, full...)
}

// run runs a verb with no stdio and returns its stdout.
func (b *binary) run(ctx context.Context, args ...string) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := b.command(ctx, "", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, b.failure(args[0], err, errb.String())
	}
	return out.Bytes(), nil
}

// failure turns a failed run into an error with the runtime's message,
// classified by what runc-compatible runtimes print.
func (b *binary) failure(verb string, err error, msg string) error {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		msg = err.Error()
	}
	low := strings.ToLower(msg)
	var class error
	switch {
	case strings.Contains(low, "does not exist") || strings.Contains(low, "not found"):
		class = errdefs.ErrNotFound
	case strings.Contains(low, "already exists"):
		class = errdefs.ErrAlreadyExists
	case strings.Contains(low, "not running") || strings.Contains(low, "is stopped") || strings.Contains(low, "cannot"):
		class = errdefs.ErrConflict
	}
	if class != nil {
		return fmt.Errorf("%s %s: %s: %w", b.spec.Name, verb, msg, class)
	}
	return fmt.Errorf("%s %s: %s", b.spec.Name, verb, msg)
}

// logMessage reads the last error a runtime wrote to its JSON log.
func logMessage(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var last string
	for _, line := range bytes.Split(data, []byte("\n")) {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(line, &rec) == nil && (rec.Level == "error" || rec.Level == "fatal") {
			last = rec.Msg
		}
	}
	return last
}

// spawn runs create or exec with the process's stdio, which the runtime
// hands on to the container's process.
func (b *binary) spawn(ctx context.Context, verb, id string, io IO, args ...string) (int, error) {
	tmp, err := os.MkdirTemp("", "shoal-"+verb+"-")
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", b.spec.Name, verb, err)
	}
	defer os.RemoveAll(tmp)
	pidFile := filepath.Join(tmp, "pid")
	logFile := filepath.Join(tmp, "log")
	full := []string{verb}
	if verb == "exec" {
		full = append(full, "--detach")
	}
	full = append(full, "--pid-file", pidFile)
	if io.ConsoleSocket != "" {
		full = append(full, "--console-socket", io.ConsoleSocket)
	}
	full = append(full, args...)
	full = append(full, id)
	cmd := b.command(ctx, logFile, full...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = io.Stdin, io.Stdout, io.Stderr
	if io.ConsoleSocket != "" {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	}
	if err := cmd.Run(); err != nil {
		return 0, b.failure(verb, err, logMessage(logFile))
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("%s %s: read pid file: %w", b.spec.Name, verb, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s %s: bad pid file %q", b.spec.Name, verb, data)
	}
	return pid, nil
}

func (b *binary) Create(ctx context.Context, id, bundle string, io IO) (int, error) {
	return b.spawn(ctx, "create", id, io, "--bundle", bundle)
}

func (b *binary) Start(ctx context.Context, id string) error {
	_, err := b.run(ctx, "start", id)
	return err
}

func (b *binary) Exec(ctx context.Context, id string, p *specs.Process, io IO) (int, error) {
	f, err := os.CreateTemp("", "shoal-process-*.json")
	if err != nil {
		return 0, fmt.Errorf("%s exec: %w", b.spec.Name, err)
	}
	defer os.Remove(f.Name())
	if err := json.NewEncoder(f).Encode(p); err != nil {
		f.Close()
		return 0, fmt.Errorf("%s exec: write process: %w", b.spec.Name, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("%s exec: write process: %w", b.spec.Name, err)
	}
	return b.spawn(ctx, "exec", id, io, "--process", f.Name())
}

func (b *binary) Kill(ctx context.Context, id string, sig unix.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := b.run(ctx, append(args, id, strconv.Itoa(int(sig)))...)
	return err
}

func (b *binary) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := b.run(ctx, append(args, id)...)
	return err
}

func (b *binary) Pause(ctx context.Context, id string) error {
	_, err := b.run(ctx, "pause", id)
	return err
}

func (b *binary) Resume(ctx context.Context, id string) error {
	_, err := b.run(ctx, "resume", id)
	return err
}

func (b *binary) Update(ctx context.Context, id string, r *specs.LinuxResources) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("%s update: %w", b.spec.Name, err)
	}
	var errb bytes.Buffer
	cmd := b.command(ctx, "", "update", "--resources", "-", id)
	cmd.Stdin, cmd.Stderr = bytes.NewReader(data), &errb
	if err := cmd.Run(); err != nil {
		return b.failure("update", err, errb.String())
	}
	return nil
}

func (b *binary) Pids(ctx context.Context, id string) ([]int, error) {
	out, err := b.run(ctx, "ps", "--format", "json", id)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("%s ps: %w", b.spec.Name, err)
	}
	return pids, nil
}

func (b *binary) State(ctx context.Context, id string) (specs.State, error) {
	out, err := b.run(ctx, "state", id)
	if err != nil {
		return specs.State{}, err
	}
	var st specs.State
	if err := json.Unmarshal(out, &st); err != nil {
		return specs.State{}, fmt.Errorf("%s state: %w", b.spec.Name, err)
	}
	return st, nil
}
