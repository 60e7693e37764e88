// The plan executor: a container's init without the Go runtime (see
// plan.c and docs/design/0001-init-without-go.md).
#ifndef SHOAL_PLAN_H
#define SHOAL_PLAN_H

#include <stddef.h>

// shoal_plan_run reads the plan from syncfd and executes it, ending in
// execve of the container's program; it never returns then. It returns
// only when the parent sent PLAN_GO instead: init goes on in Go.
void shoal_plan_run(int syncfd);

// shoal_readfull reads exactly n bytes from fd (retrying on EINTR); -1 on
// an error or an early end. Defined in nsenter.c.
int shoal_readfull(int fd, void *p, size_t n);

#endif
