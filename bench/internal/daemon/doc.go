// Package daemon starts, drives and stops the container engines a
// benchmark compares: `shoal daemon`, dockerd (with its own containerd)
// and any other daemon that speaks Docker's API, each on a private
// directory and socket of the run, driven by the same docker CLI through
// DOCKER_HOST.
//
// # Engines
//
// An Engine has a directory of its own below the run's temp dir
// (engine-NAME): its data and exec roots, socket, daemon log and a
// private DOCKER_CONFIG. Every host-side process of the engine names that
// directory (or a path below it) in its argv: the daemon, Shoal's
// monitor, dockerd's containerd and shims. The benchmark's cleanup finds
// them by it.
//
// # Commands
//
// Every client command runs in a process group of its own (a Ctrl-C on
// the terminal reaches the harness, which stops between runs, not a
// command in the middle of one), with stdout and stderr to buffers, and is
// killed with its group when its context ends. Timed measures the wall
// time from fork to exit. ClientEnv is the environment of every client
// command: the harness's, without DOCKER_* and CONTAINERS_* settings that
// would point a CLI elsewhere, nor the harness's stage variables.
package daemon
