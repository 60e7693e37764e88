//go:build !linux

package cgroups

import "fmt"

func newManager(Config, struct{}) (Manager, error) {
	return nil, fmt.Errorf("cgroups: %w on this operating system", ErrNotSupported)
}

func newFromPaths(Mode, map[string]string) (Manager, error) {
	return nil, fmt.Errorf("cgroups: %w on this operating system", ErrNotSupported)
}

var hostSystem struct{}

// DetectMode fails outside Linux.
func DetectMode() (Mode, error) {
	return 0, fmt.Errorf("cgroups: %w on this operating system", ErrNotSupported)
}
