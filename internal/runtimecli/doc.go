// Package runtimecli is `shoal runtime`: Shoal's OCI runtime behind runc's
// command line, so tools that drive runc can drive it.
//
// It is a package of its own, with a small dependency graph, so that
// internal/fastpath can run it from an init function before the rest of
// the binary's packages (compose, builds, networks, the API) initialise:
// on the VMs we measure, those initialisers cost as much as a whole
// container start.
package runtimecli
