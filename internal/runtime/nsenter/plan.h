// The plan executor: a container's init without the Go runtime (see
// plan.c and docs/design/0001-init-without-go.md).
#ifndef SHOAL_PLAN_H
#define SHOAL_PLAN_H

// shoal_plan_run reads the plan from syncfd and executes it, ending in
// execve of the container's program; it never returns then. It returns
// only when the parent sent PLAN_GO instead: init goes on in Go.
void shoal_plan_run(int syncfd);

#endif
