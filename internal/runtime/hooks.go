package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs each hook in order with the container's state on stdin;
// the first failure stops the rest.
func runHooks(hooks []specs.Hook, st specs.State, kind string) error {
	for i, h := range hooks {
		if err := runHook(h, st); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// runHooksWarn runs every hook, writing a warning to stderr for each that
// fails (poststart and poststop failures do not fail the operation).
func runHooksWarn(hooks []specs.Hook, st specs.State, kind string) {
	for i, h := range hooks {
		if err := runHook(h, st); err != nil {
			fmt.Fprintf(os.Stderr, "warning: %s hook #%d (%s): %v\n", kind, i, h.Path, err)
		}
	}
}

func runHook(h specs.Hook, st specs.State) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive, got %d", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(hookState(st))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("timed out after %ds", *h.Timeout)
		}
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
