// Package harness is how every benchmark program in bench/ runs: as root,
// in two stages, leaving nothing behind.
//
// # Stages
//
// The outer stage (the process the user started) checks the
// prerequisites, makes the run's temp dir and re-executes the program
// (Reexec) in a mount namespace of its own (Go remounts / MS_REC|
// MS_PRIVATE in the child when Unshareflags has CLONE_NEWNS), so that
// nothing the benchmark mounts is seen outside. The inner stage (Inner)
// knows it is one by EnvStage and finds the temp dir in EnvTmpDir; it is
// a child subreaper, runs the benchmark (a Job) and then the Job's
// cleanup, also after a failure, a panic or Ctrl-C. For benchmarks that
// start engines, Outer.Run is the whole outer stage: after the inner
// stage it is the safety net (it is a subreaper too, and kills, removes
// and checks what an inner stage that died left behind).
//
// # Names
//
// The temp dir is Prefix plus a random token (/tmp/shoal-bench-123456);
// the token names the run. Every cgroup a run makes is named by
// CgroupParent(token, what), /shoal-bench-TOKEN-WHAT in every hierarchy,
// so that Leftovers and the cleanup find them all by CgroupPattern.
//
// # Helpers
//
// Logf writes the progress log ("# 15:04:05 ...") to stderr; the report
// goes to stdout. Must and WriteFile panic, for setup steps inside a
// Job's Run, whose panics Inner turns into errors. Ensure and AptInstall
// check for (and install, when asked) the Debian packages a benchmark
// needs.
package harness
