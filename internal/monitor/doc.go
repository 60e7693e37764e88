// Package monitor is the parent of every container process on a host.
//
// One monitor process per exec root (`shoal monitor`, started by the
// daemon, in a session of its own) is child subreaper of the containers:
// it creates them through a runtime driver, holds their stdio, writes
// their json-file logs, fans their output out to attached clients, reaps
// them and records their exit codes. It outlives the daemon: a daemon
// killed with SIGKILL and started again finds its containers still
// running, their logs written meanwhile and the exit codes of those that
// ended.
//
// The daemon talks to it over a unix socket: one JSON request line per
// connection, one JSON response line, and for attach and exec the
// connection then carries the streams: output from the monitor as
// frames (Docker's 8-byte stdcopy header: stream, 0, 0, 0, big-endian
// length), input to the monitor as raw bytes, half-closed for EOF.
//
// Per container the monitor keeps a few goroutines and buffers, not a
// process: Docker's containerd-shim and podman's conmon are a process
// each.
package monitor
