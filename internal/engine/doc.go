// Package engine runs containers on one host: the Docker containers API
// (create, start, stop, kill, wait, remove, attach, exec, logs, ...) on
// top of the image service, the monitor and an OCI runtime driver.
//
// Each container has a lock of its own; the engine's lock guards only
// the maps of ids and names, so no container waits on another's start or
// stop. Container records are kept in bbolt (containers.db under the data
// root) and reconciled with the monitor when the daemon starts: the
// monitor, not the daemon, is the parent of container processes, so a
// restarted daemon finds running containers where it left them.
package engine
