// The plan executor: the part of a container's init that runs after the
// namespace phase, in C, so that no Go runtime starts in the container
// (docs/design/0001-init-without-go.md). The Go parent (internal/runtime,
// plan_linux.go) decides everything: this file only carries out a list of
// steps, in the order they come, and reports the first failure.
//
// Protocol on the sync socket, records [u32 type][u32 len][len bytes] in
// host byte order, strings NUL-terminated inside the payload:
//
//   parent -> init  PLAN_GO        go on into Go (the Go init reads its
//                                  JSON config next); nothing else follows
//   parent -> init  OP_* / P_*     the plan: OP_ records are steps executed
//                                  in order, P_ records describe the
//                                  process (read before anything runs)
//   parent -> init  P_RUN          end of the plan
//
// Then the same JSON messages the Go init sends, one per line:
// {"type":"hooks"} (OP_HOOKS; the parent answers {"type":"ack"}),
// {"type":"ready"} before waiting on the exec fifo, and
// {"type":"error","error":"..."} naming the step that failed.
//
// The process phase follows the Go init step for step: console, raising
// rlimits, io priority, cwd and the CVE-2024-21626 getcwd check, seccomp
// (when no_new_privs is not asked), bounding set, keepcaps, setgroups,
// setresgid, setresuid, capabilities, ambient set, umask, program lookup
// (exec.LookPath's error texts), no_new_privs and seccomp, close-on-exec
// of every descriptor above stdio and the preserved ones, ready, exec
// fifo, the remaining rlimits, execve.
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "plan.h"

enum {
	PLAN_GO = 32,
	OP_UNSHARE_CGROUP = 33,
	OP_SETSID = 34,
	OP_SLAVE_ROOT = 35,
	OP_ROOTFS = 36,
	OP_MOUNT = 37,
	OP_REMOUNT = 38,
	OP_DEVICE = 39,
	OP_SYMLINK = 40,
	OP_PTMX = 41,
	OP_HOOKS = 42,
	OP_PIVOT = 43,
	OP_ROOTPROP = 44,
	OP_SYSCTL = 45,
	OP_MASK = 46,
	OP_READONLY = 47,
	OP_ROOT_RO = 48,
	OP_HOSTNAME = 49,
	OP_DOMAINNAME = 50,
	P_ARG = 60,
	P_ENV = 61,
	P_CWD = 62,
	P_RLIMIT = 63,
	P_IOPRIO = 64,
	P_SECCOMP = 65,
	P_USER = 66,
	P_CAPS = 67,
	P_PROC = 68,
	P_RUN = 69,
};

/* Limits on what the parent may send: the plan is trusted, but a bug
 * there must not make init allocate without bound. */
#define MAX_RECORD (1u << 20)
#define MAX_PLAN (16u << 20)
#define MAX_RECORDS 65536
#define MAX_RLIMITS 16
#define MAX_GROUPS 65536

#define PROC_EXEC 1u
#define PROC_NNP 2u
#define PROC_TERMINAL 4u
#define PROC_CONSOLE_SIZE 8u

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#define SHOAL_MOUNT_ATTR__ATIME 0x00000070

struct shoal_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

struct rec {
	uint32_t type;
	uint32_t len;
	char *data;
};

/* Fixed parts of the records; strings follow. */
struct mount_hdr {
	uint64_t flags;
	uint64_t recset;
	uint64_t recclr;
	uint32_t bind;
	uint32_t rec;
	uint32_t nprop;
	uint32_t pad;
	uint64_t prop[4];
};

struct device_hdr {
	uint32_t mode;
	uint32_t major;
	uint32_t minor;
	uint32_t uid;
	uint32_t gid;
	uint32_t userns;
};

struct rlimit_hdr {
	uint32_t resource;
	uint32_t pad;
	uint64_t soft;
	uint64_t hard;
};

struct user_hdr {
	uint32_t uid;
	uint32_t gid;
	uint32_t has_umask;
	uint32_t umask;
	uint32_t ngroups;
};

struct caps_hdr {
	uint64_t sets[5]; /* bounding, effective, permitted, inheritable, ambient */
	uint32_t last;
	uint32_t pad;
};

struct proc_hdr {
	uint32_t flags;
	uint32_t fifo_fd;
	uint32_t console_fd;
	uint32_t preserve_fds;
	uint32_t rows;
	uint32_t cols;
};

static int sfd = -1;
static char ebuf[8192];
static int rootfd = -1;
static const char *rootfs;

/* errstr is strerror as Go spells errno values: lower-case first letter. */
static const char *errstr(int e) {
	static char b[256];
	snprintf(b, sizeof(b), "%s", strerror(e));
	if (b[0] != '\0' && !isupper((unsigned char)b[1]))
		b[0] = tolower((unsigned char)b[0]);
	return b;
}

/* eset formats the detail of a failure, followed by errno's text; it
 * returns -1 for the caller to return. */
__attribute__((format(printf, 1, 2))) static int eset(const char *fmt, ...) {
	int saved = errno;
	char b[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (b[0] != '\0')
		snprintf(ebuf, sizeof(ebuf), "%s: %s", b, errstr(saved));
	else
		snprintf(ebuf, sizeof(ebuf), "%s", errstr(saved));
	errno = saved;
	return -1;
}

/* eplain sets the detail to errno's text alone. */
static int eplain(void) {
	int saved = errno;
	snprintf(ebuf, sizeof(ebuf), "%s", errstr(saved));
	errno = saved;
	return -1;
}

static int writeall(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* sendmsg_json sends {"type":type[,"error":err]} and a newline, as the
 * Go side's json.Encoder would. */
static int send_json(const char *type, const char *err) {
	static char b[sizeof(ebuf) * 6 + 64];
	size_t n = 0;
	n += snprintf(b, sizeof(b), "{\"type\":\"%s\"", type);
	if (err != NULL) {
		n += snprintf(b + n, sizeof(b) - n, ",\"error\":\"");
		for (const unsigned char *c = (const unsigned char *)err; *c && n < sizeof(b) - 16; c++) {
			if (*c == '"' || *c == '\\')
				n += snprintf(b + n, sizeof(b) - n, "\\%c", *c);
			else if (*c < 0x20 || *c == 0x7f)
				n += snprintf(b + n, sizeof(b) - n, "\\u%04x", *c);
			else
				b[n++] = *c;
		}
		b[n++] = '"';
	}
	b[n++] = '}';
	b[n++] = '\n';
	return writeall(sfd, b, n);
}

/* die reports msg as the reason init failed and exits. */
static void die(const char *msg) {
	if (send_json("error", msg) < 0) {
		/* The runtime has gone (create returned): the container's
		 * stderr is the only place left to say why it did not start. */
		char b[sizeof(ebuf) + 32];
		int n = snprintf(b, sizeof(b), "shoal init: %s\n", msg);
		if (n > (int)sizeof(b) - 1)
			n = sizeof(b) - 1;
		(void)!write(2, b, n);
	}
	_exit(1);
}

/* failctx dies with "context: detail", the detail being ebuf. */
__attribute__((format(printf, 1, 2))) static void failctx(const char *fmt, ...) {
	char b[sizeof(ebuf) + 4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, 4096, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > 4095)
		n = 4095;
	if (n > 0)
		snprintf(b + n, sizeof(b) - n, ": %s", ebuf);
	else
		snprintf(b, sizeof(b), "%s", ebuf);
	die(b);
}

/* failerr dies with "context: errno text". */
__attribute__((format(printf, 1, 2))) static void failerr(const char *fmt, ...) {
	int saved = errno;
	char b[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	snprintf(ebuf, sizeof(ebuf), "%s", errstr(saved));
	failctx("%s", b);
}

/* The strings of a record: next_str returns the string at *off and moves
 * past it, or dies when the record ends first. */
static const char *next_str(const struct rec *r, size_t *off) {
	if (*off >= r->len) {
		snprintf(ebuf, sizeof(ebuf), "record %u too short", r->type);
		failctx("read plan");
	}
	const char *s = r->data + *off;
	size_t n = strnlen(s, r->len - *off);
	if (*off + n >= r->len) {
		snprintf(ebuf, sizeof(ebuf), "record %u: unterminated string", r->type);
		failctx("read plan");
	}
	*off += n + 1;
	return s;
}

static void need(const struct rec *r, size_t n) {
	if (r->len < n) {
		snprintf(ebuf, sizeof(ebuf), "record %u too short", r->type);
		failctx("read plan");
	}
}

static char *fdpath(int fd) {
	static char b[64];
	snprintf(b, sizeof(b), "/proc/self/fd/%d", fd);
	return b;
}

/* open_in_root opens p as an O_PATH handle, every component (symlinks and
 * "..") resolved inside the root by the kernel. */
static int open_in_root(const char *p, uint64_t flags) {
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | flags,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	for (;;) {
		int fd = syscall(SYS_openat2, rootfd, p, &how, sizeof(how));
		if (fd < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (fd < 0)
			return eset("openat2 %s", p);
		return fd;
	}
}

/* split p (absolute, clean) into a parent, into dir, and the last name. */
static const char *split(const char *p, char *dir, size_t n) {
	const char *slash = strrchr(p, '/');
	size_t dl = slash - p;
	if (dl == 0)
		dl = 1;
	if (dl >= n)
		dl = n - 1;
	memcpy(dir, p, dl);
	dir[dl] = '\0';
	return slash + 1;
}

/* mkdir_all_in_root creates directory p and its parents inside the root
 * and returns a handle of it. A dangling symlink is an error. */
static int mkdir_all_in_root(const char *p, int depth) {
	int fd = open_in_root(p, O_DIRECTORY);
	if (fd >= 0 || errno != ENOENT || strcmp(p, "/") == 0 || depth > 256)
		return fd;
	char dir[PATH_MAX];
	const char *base = split(p, dir, sizeof(dir));
	int parent = mkdir_all_in_root(dir, depth + 1);
	if (parent < 0)
		return -1;
	if (mkdirat(parent, base, 0755) < 0 && errno != EEXIST) {
		eset("mkdir %s", p);
		close(parent);
		return -1;
	}
	close(parent);
	return open_in_root(p, O_DIRECTORY);
}

/* target resolves dst inside the root, creating a directory there, or for
 * a file (dir == 0) an empty file. */
static int target(const char *dst, int dir) {
	if (dir)
		return mkdir_all_in_root(dst, 0);
	int fd = open_in_root(dst, 0);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	char d[PATH_MAX];
	const char *base = split(dst, d, sizeof(d));
	int parent = mkdir_all_in_root(d, 0);
	if (parent < 0)
		return -1;
	int f = openat(parent, base, O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_WRONLY, 0644);
	if (f < 0 && errno != EEXIST) {
		eset("open %s", dst);
		close(parent);
		return -1;
	}
	if (f >= 0)
		close(f);
	close(parent);
	return open_in_root(dst, 0);
}

/* resolved is where the handle fd points, as a path in this namespace. */
static int resolved(int fd, char *out, size_t n) {
	ssize_t l = readlink(fdpath(fd), out, n - 1);
	if (l < 0)
		return eset("readlink %s", fdpath(fd));
	out[l] = '\0';
	return 0;
}

/* remount_bind applies flags to a bind mount, keeping those the kernel
 * locked on it (a user namespace cannot clear them). */
static int remount_bind(const char *path, unsigned long flags) {
	struct statfs st;
	if (statfs(path, &st) < 0)
		return eset("statfs %s", path);
	unsigned long locked = st.f_flags & (MS_NODEV | MS_NOSUID | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
	if (mount("", path, "", MS_REMOUNT | MS_BIND | flags | locked, "") < 0)
		return eset("remount %s", path);
	return 0;
}

static int finish_mount(const char *dst, const struct mount_hdr *h) {
	for (uint32_t i = 0; i < h->nprop && i < 4; i++)
		if (mount("", dst, "", h->prop[i], "") < 0)
			return eset("set propagation");
	if (h->recset != 0 || h->recclr != 0) {
		struct shoal_mount_attr a = {.attr_set = h->recset, .attr_clr = h->recclr};
		if ((h->recset | h->recclr) & SHOAL_MOUNT_ATTR__ATIME)
			a.attr_clr |= SHOAL_MOUNT_ATTR__ATIME;
		if (syscall(SYS_mount_setattr, AT_FDCWD, dst, AT_RECURSIVE, &a, sizeof(a)) < 0)
			return eset("set recursive mount attributes");
	}
	return 0;
}

static int do_mount(const struct mount_hdr *h, const char *src, const char *dst, const char *fstype, const char *data) {
	char path[PATH_MAX];
	if (h->bind) {
		struct stat st;
		if (stat(src, &st) < 0)
			return eset("stat %s", src);
		int t = target(dst, S_ISDIR(st.st_mode));
		if (t < 0)
			return -1;
		int rc = resolved(t, path, sizeof(path));
		if (rc == 0 && mount(src, fdpath(t), "", MS_BIND | (h->rec ? MS_REC : 0), NULL) < 0)
			rc = eplain();
		close(t);
		if (rc < 0)
			return -1;
		/* A bind mount ignores the flags at first: remount. */
		if ((h->flags & ~(uint64_t)MS_REMOUNT) != 0 && remount_bind(path, h->flags & ~(uint64_t)MS_REMOUNT) < 0)
			return -1;
		return finish_mount(path, h);
	}
	int t = target(dst, 1);
	if (t < 0)
		return -1;
	if (resolved(t, path, sizeof(path)) < 0) {
		close(t);
		return -1;
	}
	int rc = mount(src, fdpath(t), fstype, h->flags, *data ? data : NULL);
	if (rc < 0 && !strcmp(fstype, "sysfs") && (errno == EPERM || errno == EBUSY)) {
		/* sysfs cannot be mounted in a user namespace that does not
		 * own the network namespace: bind the host's, read-only. */
		rc = mount("/sys", fdpath(t), "", MS_BIND | MS_REC, NULL);
		if (rc == 0 && remount_bind(path, h->flags | MS_RDONLY) < 0) {
			close(t);
			return -1;
		}
	} else if (rc < 0 && !strcmp(fstype, "mqueue") && errno == EPERM) {
		rc = mount("/dev/mqueue", fdpath(t), "", MS_BIND, NULL);
		if (rc == 0 && remount_bind(path, h->flags) < 0) {
			close(t);
			return -1;
		}
	}
	if (rc < 0) {
		eplain();
		close(t);
		return -1;
	}
	close(t);
	return finish_mount(path, h);
}

static void op_mount(const struct rec *r) {
	need(r, sizeof(struct mount_hdr));
	struct mount_hdr h;
	memcpy(&h, r->data, sizeof(h));
	size_t off = sizeof(h);
	const char *src = next_str(r, &off);
	const char *dst = next_str(r, &off);
	const char *fstype = next_str(r, &off);
	const char *data = next_str(r, &off);
	const char *label = next_str(r, &off);
	if (do_mount(&h, src, dst, fstype, data) < 0)
		failctx("%s", label);
}

static void op_remount(const struct rec *r) {
	need(r, 8);
	uint64_t flags;
	memcpy(&flags, r->data, 8);
	size_t off = 8;
	const char *dst = next_str(r, &off);
	const char *label = next_str(r, &off);
	char path[PATH_MAX];
	int t = target(dst, 1);
	if (t < 0)
		failctx("%s", label);
	if (resolved(t, path, sizeof(path)) < 0 || remount_bind(path, flags) < 0)
		failctx("%s", label);
	close(t);
}

static void op_device(const struct rec *r) {
	need(r, sizeof(struct device_hdr));
	struct device_hdr h;
	memcpy(&h, r->data, sizeof(h));
	size_t off = sizeof(h);
	const char *p = next_str(r, &off);
	char dir[PATH_MAX];
	const char *base = split(p, dir, sizeof(dir));
	int parent = mkdir_all_in_root(dir, 0);
	if (parent < 0)
		failctx("create device %s", p);
	unlinkat(parent, base, 0);
	mode_t perm = h.mode & 07777;
	if (!h.userns) {
		if (mknodat(parent, base, h.mode, makedev(h.major, h.minor)) < 0)
			failerr("create device %s", p);
		/* mknod's mode is filtered by the umask; set it exactly. */
		if (fchmodat(parent, base, perm, 0) < 0)
			failerr("create device %s", p);
		if (fchownat(parent, base, h.uid, h.gid, AT_SYMLINK_NOFOLLOW) < 0)
			failerr("create device %s", p);
		close(parent);
		return;
	}
	/* In a user namespace mknod is refused: bind the host's node. */
	int f = openat(parent, base, O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_WRONLY, 0644);
	if (f < 0)
		failerr("create device %s", p);
	close(f);
	close(parent);
	int t = open_in_root(p, 0);
	if (t < 0)
		failctx("create device %s", p);
	if (mount(p, fdpath(t), "", MS_BIND, NULL) < 0)
		failerr("create device %s", p);
	close(t);
}

static void op_symlink(const struct rec *r) {
	need(r, 4);
	uint32_t ignore;
	memcpy(&ignore, r->data, 4);
	size_t off = 4;
	const char *dir = next_str(r, &off);
	const char *name = next_str(r, &off);
	const char *tgt = next_str(r, &off);
	const char *label = next_str(r, &off);
	int d = open_in_root(dir, O_DIRECTORY);
	if (d < 0) {
		if (ignore)
			return;
		failctx("%s", label);
	}
	if (symlinkat(tgt, d, name) < 0 && errno != EEXIST && !ignore)
		failerr("%s", label);
	close(d);
}

/* op_ptmx points /dev/ptmx into the container's own devpts instance. */
static void op_ptmx(void) {
	int d = open_in_root("/dev", O_DIRECTORY);
	if (d < 0)
		failctx("open /dev");
	struct stat st;
	int pts = openat(d, "pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pts >= 0 && fstatat(pts, "ptmx", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		unlinkat(d, "ptmx", 0);
		if (symlinkat("pts/ptmx", d, "ptmx") < 0)
			failerr("symlink /dev/ptmx");
	}
	if (pts >= 0)
		close(pts);
	close(d);
}

static void wait_ack(void) {
	char b[512];
	size_t n = 0;
	for (;;) {
		if (n == sizeof(b) - 1) {
			errno = EINVAL;
			failerr("read ack from the runtime");
		}
		ssize_t r = read(sfd, b + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			failerr("read ack from the runtime");
		}
		if (b[n] == '\n')
			break;
		n++;
	}
	b[n] = '\0';
	if (strstr(b, "\"ack\"") == NULL) {
		snprintf(ebuf, sizeof(ebuf), "runtime sent %s, want ack", b);
		failctx("%s", "");
	}
}

static void op_pivot(void) {
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		failerr("open /");
	int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0)
		failerr("open %s", rootfs);
	if (fchdir(newroot) < 0)
		failerr("chdir %s", rootfs);
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		if (errno != EINVAL)
			failerr("pivot_root %s", rootfs);
		/* pivot_root cannot work from an initramfs root: move the
		 * rootfs over / and chroot into it. */
		if (mount(rootfs, "/", "", MS_MOVE, NULL) < 0)
			failerr("move rootfs to /");
		if (chroot(".") < 0)
			failerr("chroot");
	} else {
		if (fchdir(oldroot) < 0)
			failerr("chdir to old root");
		/* Don't let the unmount reach the host through shared
		 * propagation. */
		if (mount("", ".", "", MS_SLAVE | MS_REC, NULL) < 0)
			failerr("make old root slave");
		if (umount2(".", MNT_DETACH) < 0)
			failerr("unmount old root");
	}
	if (chdir("/") < 0)
		failerr("chdir /");
	close(oldroot);
	close(newroot);
}

static void op_sysctl(const struct rec *r) {
	size_t off = 0;
	const char *key = next_str(r, &off);
	const char *val = next_str(r, &off);
	char p[PATH_MAX];
	int n = snprintf(p, sizeof(p), "/proc/sys/%s", key);
	if (n < 0 || n >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		failerr("sysctl %s=%s", key, val);
	}
	for (char *c = p + 10; *c; c++)
		if (*c == '.')
			*c = '/';
	int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		failerr("sysctl %s=%s: open %s", key, val, p);
	if (writeall(fd, val, strlen(val)) < 0)
		failerr("sysctl %s=%s: write %s", key, val, p);
	close(fd);
}

static void op_mask(const char *p) {
	struct stat st;
	if (lstat(p, &st) < 0) {
		if (errno == ENOENT)
			return;
		failerr("mask %s: lstat %s", p, p);
	}
	int rc;
	if (S_ISDIR(st.st_mode))
		rc = mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k");
	else
		rc = mount("/dev/null", p, "", MS_BIND, NULL);
	if (rc < 0 && errno != ENOENT)
		failerr("mask %s", p);
}

static void op_readonly(const char *p) {
	if (mount(p, p, "", MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT)
			return;
		failerr("readonly %s", p);
	}
	if (remount_bind(p, MS_RDONLY) < 0)
		failctx("readonly %s", p);
}

/* The process part of the plan. */
static struct {
	char **argv, **envp;
	size_t argc, envc;
	const char *cwd;
	struct rlimit_hdr rl[MAX_RLIMITS];
	const char *rlname[MAX_RLIMITS];
	int nrl;
	int has_ioprio;
	uint32_t ioprio;
	struct sock_fprog seccomp;
	uint32_t seccomp_flags;
	int has_seccomp;
	struct user_hdr user;
	gid_t *groups;
	struct caps_hdr caps;
	struct proc_hdr proc;
	int has_user, has_caps, has_proc;
} P;

static void setup_console(void) {
	int sock = P.proc.console_fd;
	if (sock <= 0) {
		errno = EINVAL;
		failerr("process.terminal is set but no console socket was given");
	}
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		failerr("open /dev/ptmx");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		failerr("unlock pty");
	int ptn;
	if (ioctl(master, TIOCGPTN, &ptn) < 0)
		failerr("get pty number");
	char slavepath[64];
	snprintf(slavepath, sizeof(slavepath), "/dev/pts/%d", ptn);
	int slave = open(slavepath, O_RDWR | O_NOCTTY);
	if (slave < 0)
		failerr("open %s", slavepath);
	if (P.proc.flags & PROC_CONSOLE_SIZE) {
		struct winsize ws = {.ws_row = P.proc.rows, .ws_col = P.proc.cols};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			failerr("set terminal size");
	}
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = {.iov_base = slavepath, .iov_len = strlen(slavepath)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sock, &msg, 0) < 0)
		failerr("send pty master");
	close(sock);
	close(master);
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			failerr("dup pty");
	if (slave > 2)
		close(slave);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		failerr("set controlling terminal");
}

static int install_seccomp(void) {
	unsigned int flags = P.seccomp_flags | SECCOMP_FILTER_FLAG_TSYNC;
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &P.seccomp);
	if (r < 0 && errno == ENOSYS && (P.seccomp_flags & ~SECCOMP_FILTER_FLAG_TSYNC) == 0) {
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &P.seccomp, 0, 0) < 0)
			return eset("install seccomp filter: load seccomp filter with prctl");
		return 0;
	}
	if (r < 0)
		return eset("install seccomp filter: load seccomp filter");
	if (r > 0) {
		snprintf(ebuf, sizeof(ebuf), "install seccomp filter: load seccomp filter: thread %ld could not be synchronized", r);
		return -1;
	}
	return 0;
}

static int setgroups_denied(void) {
	char b[16] = {0};
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, b, sizeof(b) - 1);
	close(fd);
	return n > 0 && strncmp(b, "deny", 4) == 0;
}

static void setup_user(void) {
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	uint64_t *s = P.caps.sets;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		failerr("drop bounding set");
	if (data[0].effective & (1u << CAP_SETPCAP)) {
		for (uint32_t i = 0; i <= P.caps.last && i < 64; i++) {
			if (s[0] & (1ull << i))
				continue;
			if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
				failerr("drop bounding set");
		}
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		failerr("keep capabilities");
	if (setgroups(P.user.ngroups, P.groups) < 0 && !(errno == EPERM && P.user.ngroups == 0 && setgroups_denied())) {
		char b[256];
		size_t n = snprintf(b, sizeof(b), "setgroups [");
		for (uint32_t i = 0; i < P.user.ngroups && n < sizeof(b) - 16; i++)
			n += snprintf(b + n, sizeof(b) - n, "%s%u", i ? " " : "", P.groups[i]);
		snprintf(b + n, sizeof(b) - n, "]");
		failerr("%s", b);
	}
	if (setresgid(P.user.gid, P.user.gid, P.user.gid) < 0)
		failerr("setgid %u", P.user.gid);
	if (setresuid(P.user.uid, P.user.uid, P.user.uid) < 0)
		failerr("setuid %u", P.user.uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		failerr("clear keepcaps");
	memset(data, 0, sizeof(data));
	data[0].effective = (uint32_t)s[1];
	data[1].effective = (uint32_t)(s[1] >> 32);
	data[0].permitted = (uint32_t)s[2];
	data[1].permitted = (uint32_t)(s[2] >> 32);
	data[0].inheritable = (uint32_t)s[3];
	data[1].inheritable = (uint32_t)(s[3] >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		failerr("set capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		failerr("set capabilities");
	for (uint32_t i = 0; i <= P.caps.last && i < 64; i++)
		if ((s[4] & (1ull << i)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0 && errno != EINVAL)
			failerr("set capabilities");
	if (P.user.has_umask)
		umask(P.user.umask);
}

/* quote writes s as Go's strconv.Quote would (for the error texts). */
static void quote(char *out, size_t n, const char *s) {
	size_t o = 0;
	out[o++] = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c && o < n - 8; c++) {
		switch (*c) {
		case '"': case '\\': out[o++] = '\\'; out[o++] = *c; break;
		case '\a': out[o++] = '\\'; out[o++] = 'a'; break;
		case '\b': out[o++] = '\\'; out[o++] = 'b'; break;
		case '\f': out[o++] = '\\'; out[o++] = 'f'; break;
		case '\n': out[o++] = '\\'; out[o++] = 'n'; break;
		case '\r': out[o++] = '\\'; out[o++] = 'r'; break;
		case '\t': out[o++] = '\\'; out[o++] = 't'; break;
		case '\v': out[o++] = '\\'; out[o++] = 'v'; break;
		default:
			if (*c < 0x20 || *c == 0x7f)
				o += snprintf(out + o, n - o, "\\x%02x", *c);
			else
				out[o++] = *c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* clean is Go's path.Clean, in place. */
static void clean(char *p) {
	size_t n = strlen(p);
	if (n == 0) {
		strcpy(p, ".");
		return;
	}
	int rooted = p[0] == '/';
	char out[PATH_MAX];
	size_t w = 0, r = 0, dotdot = 0;
	if (rooted) {
		out[w++] = '/';
		r = 1;
		dotdot = 1;
	}
	while (r < n && w < sizeof(out) - 2) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && p[r] != '/' && w < sizeof(out) - 1; r++)
				out[w++] = p[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	strcpy(p, out);
}

/* find_executable is os/exec's: 0, or -1 with the reason in ebuf. */
static int find_executable(const char *file) {
	struct stat st;
	if (stat(file, &st) < 0)
		return eset("stat %s", file);
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return eplain();
	}
	if (faccessat(AT_FDCWD, file, X_OK, AT_EACCESS) == 0)
		return 0;
	if (errno != ENOSYS && errno != EPERM)
		return eplain();
	if (st.st_mode & 0111)
		return 0;
	errno = EACCES;
	return eplain();
}

/* lookpath finds argv[0] as exec.LookPath does, against the last PATH of
 * the container's environment (none: no search), with its error texts. */
static void lookpath(char *out, size_t n) {
	const char *file = P.argv[0];
	char q[PATH_MAX * 4 + 8];
	quote(q, sizeof(q), file);
	if (strchr(file, '/') != NULL) {
		if (find_executable(file) < 0)
			failctx("exec: %s", q);
		snprintf(out, n, "%s", file);
		return;
	}
	const char *path = NULL;
	for (size_t i = 0; i < P.envc; i++)
		if (strncmp(P.envp[i], "PATH=", 5) == 0)
			path = P.envp[i] + 5;
	if (path != NULL && *path != '\0') {
		const char *p = path;
		for (;;) {
			const char *colon = strchr(p, ':');
			size_t dl = colon ? (size_t)(colon - p) : strlen(p);
			char cand[PATH_MAX];
			int l;
			if (dl == 0)
				l = snprintf(cand, sizeof(cand), "./%s", file);
			else
				l = snprintf(cand, sizeof(cand), "%.*s/%s", (int)dl, p, file);
			if (l > 0 && l < (int)sizeof(cand)) {
				clean(cand);
				if (find_executable(cand) == 0) {
					if (cand[0] != '/') {
						snprintf(ebuf, sizeof(ebuf), "cannot run executable found relative to current directory");
						failctx("exec: %s", q);
					}
					snprintf(out, n, "%s", cand);
					return;
				}
			}
			if (colon == NULL)
				break;
			p = colon + 1;
		}
	}
	snprintf(ebuf, sizeof(ebuf), "executable file not found in $PATH");
	failctx("exec: %s", q);
}

/* close_extra marks every descriptor from lowest on close-on-exec. */
static void close_extra(int lowest) {
	if (syscall(SYS_close_range, lowest, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		failerr("list descriptors");
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		int fd = atoi(e->d_name);
		if (fd >= lowest && fd != dfd) {
			int fl = fcntl(fd, F_GETFD);
			if (fl >= 0)
				fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
		}
	}
	closedir(d);
}

static void run_process(void) {
	if (P.argc == 0 || P.cwd == NULL || !P.has_user || !P.has_caps || !P.has_proc) {
		snprintf(ebuf, sizeof(ebuf), "incomplete plan");
		failctx("read plan");
	}
	if (P.proc.flags & PROC_TERMINAL)
		setup_console();
	/* Limits that raise a hard limit need CAP_SYS_RESOURCE, which the
	 * container may not keep: set them now, the others just before
	 * execve. */
	int late[MAX_RLIMITS], nlate = 0;
	for (int i = 0; i < P.nrl; i++) {
		struct rlimit cur;
		if (getrlimit(P.rl[i].resource, &cur) < 0)
			failerr("read rlimit %s", P.rlname[i]);
		if (P.rl[i].hard <= cur.rlim_max) {
			late[nlate++] = i;
			continue;
		}
		struct rlimit l = {.rlim_cur = P.rl[i].soft, .rlim_max = P.rl[i].hard};
		if (setrlimit(P.rl[i].resource, &l) < 0)
			failerr("set rlimit %s to %llu/%llu", P.rlname[i], (unsigned long long)P.rl[i].soft, (unsigned long long)P.rl[i].hard);
	}
	if (P.has_ioprio && syscall(SYS_ioprio_set, 1, 0, P.ioprio) < 0)
		failerr("set io priority");
	if (chdir(P.cwd) < 0) {
		char q[PATH_MAX * 4 + 8];
		quote(q, sizeof(q), P.cwd);
		failerr("chdir to cwd %s", q);
	}
	/* CVE-2024-21626: the working directory must lie inside the
	 * container (checked before seccomp, which may deny getcwd). */
	{
		char wd[PATH_MAX];
		long n = syscall(SYS_getcwd, wd, sizeof(wd));
		if (n <= 0 || wd[0] != '/') {
			char q[PATH_MAX * 4 + 8];
			quote(q, sizeof(q), P.cwd);
			snprintf(ebuf, sizeof(ebuf), "working directory %.4000s is outside the container", q);
			failctx("%s", "");
		}
	}
	int nnp = (P.proc.flags & PROC_NNP) != 0;
	if (P.has_seccomp && !nnp && install_seccomp() < 0)
		failctx("%s", "");
	setup_user();
	char path[PATH_MAX];
	lookpath(path, sizeof(path));
	if (nnp) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			failerr("set no_new_privs");
		if (P.has_seccomp && install_seccomp() < 0)
			failctx("%s", "");
	}
	/* Nothing of the host may reach the container's program. */
	close_extra(3 + P.proc.preserve_fds);
	if (send_json("ready", NULL) < 0)
		_exit(1);
	if (!(P.proc.flags & PROC_EXEC)) {
		int fifo = open(fdpath(P.proc.fifo_fd), O_WRONLY | O_CLOEXEC);
		if (fifo < 0)
			failerr("open exec fifo");
		char zero = 0;
		if (writeall(fifo, &zero, 1) < 0)
			failerr("write exec fifo");
		/* The fifo stays open (close-on-exec): start reads EOF exactly
		 * when the program has been exec'd. */
	}
	for (int i = 0; i < nlate; i++) {
		struct rlimit_hdr *h = &P.rl[late[i]];
		struct rlimit l = {.rlim_cur = h->soft, .rlim_max = h->hard};
		if (setrlimit(h->resource, &l) < 0)
			failerr("set rlimit %s to %llu/%llu", P.rlname[late[i]], (unsigned long long)h->soft, (unsigned long long)h->hard);
	}
	execve(path, P.argv, P.envp);
	failerr("exec %s", P.argv[0]);
}

/* collect appends s to a NULL-terminated array. */
static void collect(char ***arr, size_t *n, char *s) {
	char **a = realloc(*arr, (*n + 2) * sizeof(char *));
	if (a == NULL)
		failerr("read plan");
	a[(*n)++] = s;
	a[*n] = NULL;
	*arr = a;
}

static void describe(const struct rec *r) {
	switch (r->type) {
	case P_ARG:
		collect(&P.argv, &P.argc, r->data);
		break;
	case P_ENV:
		collect(&P.envp, &P.envc, r->data);
		break;
	case P_CWD:
		P.cwd = r->data;
		break;
	case P_RLIMIT: {
		need(r, sizeof(struct rlimit_hdr));
		if (P.nrl == MAX_RLIMITS) {
			snprintf(ebuf, sizeof(ebuf), "too many rlimits");
			failctx("read plan");
		}
		memcpy(&P.rl[P.nrl], r->data, sizeof(struct rlimit_hdr));
		size_t off = sizeof(struct rlimit_hdr);
		P.rlname[P.nrl++] = next_str(r, &off);
		break;
	}
	case P_IOPRIO:
		need(r, 4);
		memcpy(&P.ioprio, r->data, 4);
		P.has_ioprio = 1;
		break;
	case P_SECCOMP: {
		need(r, 8);
		size_t n = (r->len - 8) / sizeof(struct sock_filter);
		if (n == 0 || n > 65535 || (r->len - 8) % sizeof(struct sock_filter) != 0) {
			snprintf(ebuf, sizeof(ebuf), "bad seccomp program length %u", r->len);
			failctx("read plan");
		}
		memcpy(&P.seccomp_flags, r->data, 4);
		P.seccomp.len = n;
		P.seccomp.filter = (struct sock_filter *)(r->data + 8);
		P.has_seccomp = 1;
		break;
	}
	case P_USER:
		need(r, sizeof(struct user_hdr));
		memcpy(&P.user, r->data, sizeof(struct user_hdr));
		if (P.user.ngroups > MAX_GROUPS || r->len != sizeof(struct user_hdr) + P.user.ngroups * 4u) {
			snprintf(ebuf, sizeof(ebuf), "bad user record");
			failctx("read plan");
		}
		P.groups = (gid_t *)(r->data + sizeof(struct user_hdr));
		P.has_user = 1;
		break;
	case P_CAPS:
		need(r, sizeof(struct caps_hdr));
		memcpy(&P.caps, r->data, sizeof(struct caps_hdr));
		P.has_caps = 1;
		break;
	case P_PROC:
		need(r, sizeof(struct proc_hdr));
		memcpy(&P.proc, r->data, sizeof(struct proc_hdr));
		P.has_proc = 1;
		break;
	}
}

static void execute(const struct rec *r) {
	switch (r->type) {
	case OP_UNSHARE_CGROUP:
		if (unshare(CLONE_NEWCGROUP) < 0)
			failerr("unshare cgroup namespace");
		break;
	case OP_SETSID:
		if (setsid() < 0)
			failerr("setsid");
		break;
	case OP_SLAVE_ROOT:
		if (mount("", "/", "", MS_SLAVE | MS_REC, NULL) < 0)
			failerr("make / a slave mount");
		break;
	case OP_ROOTFS:
		rootfs = r->data;
		/* The rootfs must be a mount point for pivot_root. */
		if (mount(rootfs, rootfs, "", MS_BIND | MS_REC, NULL) < 0)
			failerr("bind mount rootfs %s", rootfs);
		rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			failerr("open rootfs");
		break;
	case OP_MOUNT:
		op_mount(r);
		break;
	case OP_REMOUNT:
		op_remount(r);
		break;
	case OP_DEVICE:
		op_device(r);
		break;
	case OP_SYMLINK:
		op_symlink(r);
		break;
	case OP_PTMX:
		op_ptmx();
		break;
	case OP_HOOKS:
		if (send_json("hooks", NULL) < 0)
			_exit(1);
		wait_ack();
		break;
	case OP_PIVOT:
		if (rootfs == NULL) {
			snprintf(ebuf, sizeof(ebuf), "pivot_root before the rootfs");
			failctx("read plan");
		}
		op_pivot();
		break;
	case OP_ROOTPROP: {
		need(r, 8);
		uint64_t f;
		memcpy(&f, r->data, 8);
		size_t off = 8;
		const char *name = next_str(r, &off);
		if (mount("", "/", "", f, NULL) < 0)
			failerr("set rootfsPropagation %s", name);
		break;
	}
	case OP_SYSCTL:
		op_sysctl(r);
		break;
	case OP_MASK:
		op_mask(r->data);
		break;
	case OP_READONLY:
		op_readonly(r->data);
		break;
	case OP_ROOT_RO:
		if (remount_bind("/", MS_RDONLY) < 0)
			failctx("make root read-only");
		break;
	case OP_HOSTNAME:
		if (sethostname(r->data, strlen(r->data)) < 0)
			failerr("set hostname");
		break;
	case OP_DOMAINNAME:
		if (setdomainname(r->data, strlen(r->data)) < 0)
			failerr("set domainname");
		break;
	case P_RUN:
		run_process();
		break;
	default:
		if (r->type < P_ARG || r->type > P_RUN) {
			snprintf(ebuf, sizeof(ebuf), "unknown record %u", r->type);
			failctx("read plan");
		}
	}
}

void shoal_plan_run(int syncfd) {
	sfd = syncfd;
	struct rec *recs = NULL;
	size_t nrecs = 0, total = 0;
	for (;;) {
		uint32_t hdr[2];
		if (shoal_readfull(sfd, hdr, sizeof(hdr)) < 0) {
			errno = errno ? errno : EPIPE;
			failerr("read plan");
		}
		if (hdr[0] == PLAN_GO && nrecs == 0)
			return;
		if (hdr[1] > MAX_RECORD || total + hdr[1] > MAX_PLAN || nrecs == MAX_RECORDS) {
			snprintf(ebuf, sizeof(ebuf), "plan too large");
			failctx("read plan");
		}
		total += hdr[1];
		char *data = calloc(1, hdr[1] + 1);
		if (data == NULL)
			failerr("read plan");
		if (hdr[1] > 0 && shoal_readfull(sfd, data, hdr[1]) < 0) {
			errno = EPIPE;
			failerr("read plan");
		}
		struct rec *n = realloc(recs, (nrecs + 1) * sizeof(*recs));
		if (n == NULL)
			failerr("read plan");
		recs = n;
		recs[nrecs++] = (struct rec){.type = hdr[0], .len = hdr[1], .data = data};
		if (hdr[0] == P_RUN)
			break;
	}
	/* Everything comes before anything runs: a failure is reported on a
	 * socket the parent is reading, not writing. */
	for (size_t i = 0; i < nrecs; i++)
		describe(&recs[i]);
	for (size_t i = 0; i < nrecs; i++)
		execute(&recs[i]);
	snprintf(ebuf, sizeof(ebuf), "plan without P_RUN");
	failctx("read plan");
}
