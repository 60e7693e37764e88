// The nsenter constructor runs before the Go runtime starts, while the
// process is still single-threaded, which setns(2) into mount and user
// namespaces requires. It only acts when _SHOAL_NSENTER names a file
// descriptor; any other invocation of the binary returns at once.
//
// Protocol on that descriptor (a unix stream socket to the runtime parent),
// every record being [u32 type][u32 len][len bytes], host byte order:
//
//   parent -> child  NS_CLONE_FLAGS  u32: namespaces to create (CLONE_NEW*)
//   parent -> child  NS_PATH         "type:path", one per namespace to join
//   parent -> child  NS_END          no payload
//   child  -> parent NS_MAP_REQUEST  u32 pid: new user namespace made, write maps
//   parent -> child  NS_MAP_ACK      no payload
//   child  -> parent NS_CHILD_PID    u32 pid (host view) of the process that
//                                    goes on into Go; the first process exits.
//
// With _SHOAL_DIRECT set there is no namespace phase: the kernel made the
// namespaces in the fork and this process is init itself. With _SHOAL_PLAN
// set, init then reads a plan (plan.c: the container's whole setup, computed
// by the Go parent) and executes it without the Go runtime ever starting, or
// a PLAN_GO record that sends it on into Go as before.
//
// Order: join user namespace path, join the other paths, unshare a new user
// namespace (parent writes maps), unshare the other new namespaces, then
// clone(CLONE_PARENT) so that the child lands in a new or joined pid
// namespace and is a child of the runtime parent, not of this process.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "plan.h"

enum {
	NS_CLONE_FLAGS = 1,
	NS_PATH = 2,
	NS_END = 3,
	NS_MAP_REQUEST = 4,
	NS_MAP_ACK = 5,
	NS_CHILD_PID = 6,
	NS_ERROR = 7,
};

static int syncfd = -1;

static void fail(const char *what) {
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "nsenter: %s: %s", what, strerror(errno));
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(buf))
		n = sizeof(buf);
	if (syncfd >= 0) {
		uint32_t hdr[2] = {NS_ERROR, (uint32_t)n};
		if (write(syncfd, hdr, sizeof(hdr)) == sizeof(hdr))
			(void)!write(syncfd, buf, n);
	}
	(void)!write(2, buf, n);
	(void)!write(2, "\n", 1);
	_exit(1);
}

int shoal_readfull(int fd, void *p, size_t n) {
	char *c = p;
	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= r;
	}
	return 0;
}

static void sendrec(uint32_t type, const void *data, uint32_t len) {
	uint32_t hdr[2] = {type, len};
	if (write(syncfd, hdr, sizeof(hdr)) != sizeof(hdr))
		fail("write sync record");
	if (len > 0 && write(syncfd, data, len) != (ssize_t)len)
		fail("write sync record");
}

struct nspath {
	int type;
	char *path;
	int fd;
};

static int nstype(const char *name) {
	if (!strcmp(name, "user")) return CLONE_NEWUSER;
	if (!strcmp(name, "mnt")) return CLONE_NEWNS;
	if (!strcmp(name, "pid")) return CLONE_NEWPID;
	if (!strcmp(name, "net")) return CLONE_NEWNET;
	if (!strcmp(name, "uts")) return CLONE_NEWUTS;
	if (!strcmp(name, "ipc")) return CLONE_NEWIPC;
	if (!strcmp(name, "cgroup")) return CLONE_NEWCGROUP;
	if (!strcmp(name, "time")) return 0x00000080; /* CLONE_NEWTIME */
	return -1;
}

static void joinns(struct nspath *p) {
	if (setns(p->fd, p->type) < 0)
		fail(p->path);
	close(p->fd);
}

__attribute__((constructor)) static void shoal_nsenter(void) {
	const char *env = getenv("_SHOAL_NSENTER");
	if (env == NULL || *env == '\0')
		return;
	syncfd = atoi(env);
	if (syncfd <= 2)
		return;
	const char *penv = getenv("_SHOAL_PLAN");
	int plan = penv != NULL && *penv != '\0';
	const char *denv = getenv("_SHOAL_DIRECT");
	if (denv != NULL && *denv != '\0') {
		/* Do not let the container see this process through
		 * /proc/PID/exe or attach to it before its program runs. */
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (plan)
			shoal_plan_run(syncfd);
		return;
	}

	uint32_t cloneflags = 0;
	struct nspath paths[16];
	int npaths = 0;
	for (;;) {
		uint32_t hdr[2];
		if (shoal_readfull(syncfd, hdr, sizeof(hdr)) < 0)
			fail("read sync record");
		if (hdr[1] > 4096) {
			errno = EINVAL;
			fail("sync record too long");
		}
		char *data = calloc(1, hdr[1] + 1);
		if (data == NULL)
			fail("alloc");
		if (hdr[1] > 0 && shoal_readfull(syncfd, data, hdr[1]) < 0)
			fail("read sync record");
		if (hdr[0] == NS_END) {
			free(data);
			break;
		}
		switch (hdr[0]) {
		case NS_CLONE_FLAGS:
			memcpy(&cloneflags, data, sizeof(cloneflags));
			free(data);
			break;
		case NS_PATH: {
			char *colon = strchr(data, ':');
			if (colon == NULL || npaths == 16) {
				errno = EINVAL;
				fail("bad namespace path record");
			}
			*colon = '\0';
			int t = nstype(data);
			if (t < 0) {
				errno = EINVAL;
				fail("unknown namespace type");
			}
			paths[npaths].type = t;
			paths[npaths].path = colon + 1;
			npaths++;
			break;
		}
		default:
			errno = EINVAL;
			fail("unknown sync record");
		}
	}

	/* Open every path before joining any: once in the container's mount
	 * namespace, /proc is the container's and the paths mean something else. */
	for (int i = 0; i < npaths; i++) {
		paths[i].fd = open(paths[i].path, O_RDONLY | O_CLOEXEC);
		if (paths[i].fd < 0)
			fail(paths[i].path);
	}
	/* The user namespace first: it owns the others. */
	for (int i = 0; i < npaths; i++)
		if (paths[i].type == CLONE_NEWUSER)
			joinns(&paths[i]);
	for (int i = 0; i < npaths; i++)
		if (paths[i].type != CLONE_NEWUSER)
			joinns(&paths[i]);

	if (cloneflags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			fail("unshare user namespace");
		uint32_t pid = getpid();
		sendrec(NS_MAP_REQUEST, &pid, sizeof(pid));
		uint32_t hdr[2];
		if (shoal_readfull(syncfd, hdr, sizeof(hdr)) < 0 || hdr[0] != NS_MAP_ACK)
			fail("wait for id maps");
		if (setresgid(0, 0, 0) < 0)
			fail("setresgid in user namespace");
		if (setresuid(0, 0, 0) < 0)
			fail("setresuid in user namespace");
	}
	uint32_t rest = cloneflags & ~CLONE_NEWUSER;
	if (rest && unshare(rest) < 0)
		fail("unshare namespaces");

	/* The child goes on into Go; with CLONE_PARENT it is the runtime
	 * parent's child, so the parent can wait for it. */
	pid_t child = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (child < 0)
		fail("clone");
	if (child > 0) {
		uint32_t pid = child;
		sendrec(NS_CHILD_PID, &pid, sizeof(pid));
		_exit(0);
	}
	/* Do not let the container see this process through /proc/PID/exe
	 * or attach to it before it has exec'd the container's program. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (plan)
		shoal_plan_run(syncfd);
}
