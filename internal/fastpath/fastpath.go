// Package fastpath runs the shoal binary's hot entry points (a
// container's init, the --init reaper, `shoal runtime`) from an init
// function, before the packages they do not need are initialised.
//
// Go initialises every package of a binary before main, in an order the
// language specifies (Go 1.21+): packages sorted by import path, and in
// each step the first one whose imports are all initialised goes next. A
// package with few imports is therefore reached early, long before
// compose-go's JSON-schema compiler, the API or the network code. On this
// VM (every page fault is a trap to the hypervisor) the binary's
// initialisers cost ~30 ms; a container's init and the runtime's CLI
// exist for a few milliseconds each and need none of that work. This
// package's init takes over the process for them and never returns; for
// every other verb it does nothing and main runs as usual.
//
// cmd/shoal imports it for its side effect. TestFastPathSkipsHeavyInit in
// cmd/shoal checks that the heavy initialisers do not run on these paths.
package fastpath

import (
	"os"
	"path/filepath"

	"github.com/shoal-dev/shoal/internal/initproc"
	"github.com/shoal-dev/shoal/internal/runtime"
	"github.com/shoal-dev/shoal/internal/runtimecli"
)

func init() {
	switch {
	case runtime.IsInit():
		runtime.Init() // never returns
	case filepath.Base(os.Args[0]) == initproc.Name:
		os.Exit(initproc.Main(os.Args[1:]))
	case len(os.Args) > 1 && os.Args[1] == "runtime":
		os.Exit(runtimecli.Main(os.Args[1:]))
	}
}
