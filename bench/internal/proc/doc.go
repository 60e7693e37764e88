// Package proc reads and ends the processes a benchmark leaves behind,
// from /proc: the process tree, argv, state, memory (smaps_rollup) and
// namespaces, killing a subtree or every process naming a path, and
// reaping zombies by pid.
//
// The benchmarks are child subreapers, so the daemonised helpers of the
// engines they start (monitors, shims, conmon) are reparented to them.
// ReapZombies reaps only zombies whose parent is the caller, one pid at a
// time, so a command an os/exec.Cmd still waits for is never robbed of
// its exit status.
package proc
