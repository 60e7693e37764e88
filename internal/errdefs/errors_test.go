package errdefs

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestClasses(t *testing.T) {
	t.Parallel()
	classes := []struct {
		name string
		err  error
		is   func(error) bool
	}{
		{"NotFound", ErrNotFound, IsNotFound},
		{"AlreadyExists", ErrAlreadyExists, IsAlreadyExists},
		{"Conflict", ErrConflict, IsConflict},
		{"InvalidArgument", ErrInvalidArgument, IsInvalidArgument},
		{"FailedPrecondition", ErrFailedPrecondition, IsFailedPrecondition},
		{"Unavailable", ErrUnavailable, IsUnavailable},
		{"NotImplemented", ErrNotImplemented, IsNotImplemented},
		{"PermissionDenied", ErrPermissionDenied, IsPermissionDenied},
	}
	for _, c := range classes {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			wrapped := fmt.Errorf("outer: %w", fmt.Errorf("inner %s: %w", "x", c.err))
			if !c.is(wrapped) {
				t.Errorf("Is%s(%v) = false, want true", c.name, wrapped)
			}
			if c.is(nil) {
				t.Errorf("Is%s(nil) = true, want false", c.name)
			}
			if c.is(context.Canceled) {
				t.Errorf("Is%s(context.Canceled) = true, want false", c.name)
			}
			for _, o := range classes {
				if o.name == c.name {
					continue
				}
				if o.is(wrapped) {
					t.Errorf("Is%s(%v) = true, want false", o.name, wrapped)
				}
			}
			joined := errors.Join(errors.New("other"), wrapped)
			if !c.is(joined) {
				t.Errorf("Is%s(%v) = false, want true", c.name, joined)
			}
		})
	}
}
