package driver

import (
	"context"
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/runtime"
)

// builtin is Shoal's own runtime, called in-process.
type builtin struct {
	name string
	rt   *runtime.Runtime
}

func newBuiltin(name, root string) (*builtin, error) {
	rt, err := runtime.New(root)
	if err != nil {
		return nil, err
	}
	return &builtin{name: name, rt: rt}, nil
}

func (b *builtin) Name() string { return b.name }

func (b *builtin) Create(ctx context.Context, id, bundle string, io IO) (int, error) {
	c, err := b.rt.Create(ctx, id, runtime.CreateOpts{
		Bundle:        bundle,
		ConsoleSocket: io.ConsoleSocket,
		IO:            runtime.IO{Stdin: io.Stdin, Stdout: io.Stdout, Stderr: io.Stderr},
	})
	if err != nil {
		return 0, classify(err)
	}
	return c.Pid, nil
}

func (b *builtin) Start(ctx context.Context, id string) error {
	return classify(b.rt.Start(ctx, id))
}

func (b *builtin) Exec(ctx context.Context, id string, p *specs.Process, io IO) (int, error) {
	var pid int
	_, err := b.rt.Exec(ctx, id, p, runtime.ExecOpts{
		IO:            runtime.IO{Stdin: io.Stdin, Stdout: io.Stdout, Stderr: io.Stderr},
		ConsoleSocket: io.ConsoleSocket,
		Detach:        true,
		Started:       func(p int) { pid = p },
	})
	if err != nil {
		return 0, classify(err)
	}
	return pid, nil
}

func (b *builtin) Kill(ctx context.Context, id string, sig unix.Signal, all bool) error {
	return classify(b.rt.Kill(ctx, id, sig, all))
}

func (b *builtin) Delete(ctx context.Context, id string, force bool) error {
	return classify(b.rt.Delete(ctx, id, force))
}

func (b *builtin) Pause(ctx context.Context, id string) error {
	return classify(b.rt.Pause(ctx, id))
}

func (b *builtin) Resume(ctx context.Context, id string) error {
	return classify(b.rt.Resume(ctx, id))
}

func (b *builtin) Update(ctx context.Context, id string, r *specs.LinuxResources) error {
	return classify(b.rt.Update(ctx, id, r))
}

func (b *builtin) Pids(ctx context.Context, id string) ([]int, error) {
	pids, err := b.rt.Pids(ctx, id)
	return pids, classify(err)
}

func (b *builtin) State(ctx context.Context, id string) (specs.State, error) {
	c, err := b.rt.Load(id)
	if err != nil {
		return specs.State{}, classify(err)
	}
	return c.State(), nil
}

// classify adds the errdefs class to the runtime's errors.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, runtime.ErrNotExist):
		return fmt.Errorf("%w: %w", errdefs.ErrNotFound, err)
	case errors.Is(err, runtime.ErrExist):
		return fmt.Errorf("%w: %w", errdefs.ErrAlreadyExists, err)
	case errors.Is(err, runtime.ErrState):
		return fmt.Errorf("%w: %w", errdefs.ErrConflict, err)
	case errors.Is(err, runtime.ErrInvalidConfig):
		return fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	return err
}
