/* System V message queues: checked msgget/msgsnd/msgrcv/msgctl wrappers. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

/*
 * The kernel has no timed msgsnd or msgrcv, and a library must not take a
 * signal number for a timer. So a call with a deadline polls with
 * IPC_NOWAIT, sleeping NAP_MIN doubling up to NAP_MAX between tries: it
 * sees space or a message at most NAP_MAX late, and a long wait costs 500
 * wake-ups a second. Without a deadline the kernel blocks and wakes us at
 * once.
 */
#define NAP_MIN_NS 50000L   /* 50 us */
#define NAP_MAX_NS 2000000L /* 2 ms */

/* One process's handle on a queue; nothing of it is shared. */
struct shmq_msgq {
	struct shmq__ipc h; /* first: id, canonical locator */
};

/* What msgsnd and msgrcv read and write: the type, then the bytes. */
struct msg {
	long type;
	char text[];
};

/* One transfer, tried until it is done or fails for good. */
struct xfer {
	int id;
	long type;
	struct msg *m;
	size_t len;
	int checked; /* send: the queue's capacity was checked */
};

uint64_t shmq__msgq_qbytes(int id)
{
	struct msqid_ds ds;
	return msgctl(id, IPC_STAT, &ds) < 0 ? 0 : (uint64_t)ds.msg_qbytes;
}

/* A queue whose id vanished gives EINVAL (EIDRM only to a caller asleep
 * in msgsnd or msgrcv when it goes). */
static ssize_t op_errno(void)
{
	return errno == EINVAL ? -EIDRM : shmq__neg_errno();
}

/* >= 0: done; -EAGAIN: not now; -EINTR: again; anything else is final. */
static ssize_t try_send(struct xfer *x, int nowait)
{
	uint64_t max;
	if (msgsnd(x->id, x->m, x->len, nowait ? IPC_NOWAIT : 0) == 0)
		return 0;
	int err = errno;
	/* EINVAL is also the kernel's answer to len > kernel.msgmax. */
	if (err == EINVAL &&
	    shmq__read_u64("/proc/sys/kernel/msgmax", &max) == 0 &&
	    x->len > max)
		return -EMSGSIZE;
	if (err != EAGAIN)
		return err == EINVAL ? -EIDRM : -err;
	/* Full. A message above the queue's capacity would never fit, and
	 * the kernel would wait for it forever. */
	if (!x->checked) {
		x->checked = 1;
		max = shmq__msgq_qbytes(x->id);
		if (max && x->len > max)
			return -EMSGSIZE;
	}
	return -EAGAIN;
}

static ssize_t try_recv(struct xfer *x, int nowait)
{
	ssize_t n = msgrcv(x->id, x->m, x->len, x->type,
	                   nowait ? IPC_NOWAIT : 0);
	if (n >= 0)
		return n;
	/* No MSG_NOERROR: a longer message gives E2BIG and stays queued. */
	if (errno == ENOMSG)
		return -EAGAIN;
	return op_errno();
}

/* Sleeps the nap or until the deadline, whichever is sooner, and doubles
 * the nap. Returns 0 once the deadline has passed. */
static int nap(const struct timespec *deadline, long *ns)
{
	struct timespec left;
	if (!shmq__time_left(deadline, &left))
		return 0;
	if (left.tv_sec > 0 || left.tv_nsec > *ns)
		left = (struct timespec){0, *ns};
	nanosleep(&left, NULL); /* EINTR: the caller tries again, fine */
	*ns = *ns * 2 > NAP_MAX_NS ? NAP_MAX_NS : *ns * 2;
	return 1;
}

/* The first try never blocks, so a message the queue can never hold gives
 * -EMSGSIZE rather than an endless wait. nowait: that try only. */
static ssize_t run(struct xfer *x, ssize_t (*attempt)(struct xfer *, int),
                   const struct timespec *deadline, int nowait)
{
	long ns = NAP_MIN_NS;
	for (int first = 1;; first = 0) {
		ssize_t rc = attempt(x, first || nowait || deadline);
		if (rc == -EINTR)
			continue;
		if (rc != -EAGAIN || nowait)
			return rc;
		if (deadline && !nap(deadline, &ns))
			return -ETIMEDOUT;
	}
}

static int check_call(const shmq_msgq *q, const void *buf, size_t len,
                      const struct timespec *deadline)
{
	if (!q || (!buf && len))
		return -EINVAL;
	return shmq__deadline_check(deadline);
}

static int send_as(shmq_msgq *q, long type, const void *buf, size_t len,
                   const struct timespec *deadline, int nowait)
{
	int rc = check_call(q, buf, len, deadline);
	if (rc < 0 || type <= 0)
		return rc < 0 ? rc : -EINVAL;
	if (len > INT_MAX) /* kernel.msgmax is an int */
		return -EMSGSIZE;
	struct xfer x = {q->h.id, type, malloc(sizeof(struct msg) + len), len,
	                 0};
	if (!x.m)
		return -ENOMEM;
	x.m->type = type;
	if (len)
		memcpy(x.m->text, buf, len);
	rc = (int)run(&x, try_send, deadline, nowait);
	free(x.m);
	return rc;
}

SHMQ_API int shmq_msgq_send(shmq_msgq *q, long type, const void *buf,
                            size_t len)
{
	return send_as(q, type, buf, len, NULL, 0);
}

SHMQ_API int shmq_msgq_try_send(shmq_msgq *q, long type, const void *buf,
                                size_t len)
{
	return send_as(q, type, buf, len, NULL, 1);
}

SHMQ_API int shmq_msgq_send_timed(shmq_msgq *q, long type, const void *buf,
                                  size_t len, const struct timespec *deadline)
{
	return send_as(q, type, buf, len, deadline, 0);
}

static ssize_t recv_as(shmq_msgq *q, long type, void *buf, size_t len,
                       long *got_type, const struct timespec *deadline,
                       int nowait)
{
	int rc = check_call(q, buf, len, deadline);
	if (rc < 0 || type == LONG_MIN) /* no |type| */
		return rc < 0 ? rc : -EINVAL;
	if (len > INT_MAX) /* no message is longer than kernel.msgmax */
		len = INT_MAX;
	struct xfer x = {q->h.id, type, malloc(sizeof(struct msg) + len), len,
	                 0};
	if (!x.m)
		return -ENOMEM;
	ssize_t n = run(&x, try_recv, deadline, nowait);
	if (n >= 0) {
		if (n)
			memcpy(buf, x.m->text, (size_t)n);
		if (got_type)
			*got_type = x.m->type;
	}
	free(x.m);
	return n;
}

SHMQ_API ssize_t shmq_msgq_recv(shmq_msgq *q, long type, void *buf,
                                size_t len, long *got_type)
{
	return recv_as(q, type, buf, len, got_type, NULL, 0);
}

SHMQ_API ssize_t shmq_msgq_try_recv(shmq_msgq *q, long type, void *buf,
                                    size_t len, long *got_type)
{
	return recv_as(q, type, buf, len, got_type, NULL, 1);
}

SHMQ_API ssize_t shmq_msgq_recv_timed(shmq_msgq *q, long type, void *buf,
                                      size_t len, long *got_type,
                                      const struct timespec *deadline)
{
	return recv_as(q, type, buf, len, got_type, deadline, 0);
}

static int msg_get(void *arg, key_t key, int flags)
{
	(void)arg;
	int id = msgget(key, flags);
	return id < 0 ? shmq__neg_errno() : id;
}

struct msg_make {
	struct shmq__ipc *h;
	unsigned flags; /* SHMQ_ANY_OWNER */
};

/* A new queue is empty: nothing to set up. One that existed must be ours,
 * unless any owner will do (IPC_STAT, which needs read access, tells). */
static int msg_use(void *arg, int id, int created)
{
	const struct msg_make *m = arg;
	struct msqid_ds ds;
	if (!created && !(m->flags & SHMQ_ANY_OWNER)) {
		if (msgctl(id, IPC_STAT, &ds) < 0)
			return errno == EINVAL ? -ENOENT : shmq__neg_errno();
		int rc = shmq__owner_check_sysv(m->flags, &ds.msg_perm);
		if (rc < 0)
			return rc;
	}
	m->h->id = id;
	return 0;
}

static const struct shmq_msgq_opts no_opts; /* mode 0600, no flags */

/* A new handle for locator, if opts are ones we know. */
static int msgq_new(struct shmq__ipc **h, const char *locator,
                    const struct shmq_msgq_opts *o, struct shmq_locator *loc)
{
	*h = NULL;
	int rc = shmq__ipc_opts_check(o->mode, o->flags, o->reserved);
	return rc < 0 ? rc : shmq__ipc_new(h, sizeof(shmq_msgq), locator,
	                                   SHMQ_FAMILY_SYSV_MSG, loc);
}

SHMQ_API int shmq_msgq_create(shmq_msgq **q, const char *locator,
                              const struct shmq_msgq_opts *opts)
{
	const struct shmq_msgq_opts *o = opts ? opts : &no_opts;
	struct shmq_locator loc;
	struct shmq__ipc *h;
	if (!q)
		return -EINVAL;
	int rc = msgq_new(&h, locator, o, &loc);
	if (rc == 0) {
		struct msg_make arg = {h, o->flags};
		struct shmq__sysv_make m = {SHMQ_FAMILY_SYSV_MSG, msg_get,
		                            msg_use, &arg};
		rc = shmq__sysv_make(&m, &loc, o->mode,
		                     o->flags & SHMQ_OPEN_OK);
	}
	*q = shmq__ipc_done(h, &loc, rc);
	return rc;
}

SHMQ_API int shmq_msgq_open(shmq_msgq **q, const char *locator,
                            const struct shmq_msgq_opts *opts)
{
	const struct shmq_msgq_opts *o = opts ? opts : &no_opts;
	struct shmq_locator loc;
	struct shmq__ipc *h;
	int id;
	if (!q)
		return -EINVAL;
	int rc = msgq_new(&h, locator, o, &loc);
	if (rc == 0)
		rc = shmq__sysv_resolve(&loc, &id);
	if (rc == 0) {
		struct msg_make arg = {h, o->flags};
		rc = msg_use(&arg, id, 0);
	}
	*q = shmq__ipc_done(h, &loc, rc);
	return rc;
}

SHMQ_API int shmq_msgq_close(shmq_msgq *q)
{
	free(q);
	return 0;
}

SHMQ_API int shmq_msgq_unlink(const char *locator)
{
	return shmq__ipc_unlink(locator, SHMQ_FAMILY_SYSV_MSG);
}

SHMQ_API int shmq_msgq_id(const shmq_msgq *q)
{
	return q->h.id;
}

SHMQ_API const char *shmq_msgq_locator(const shmq_msgq *q)
{
	return q->h.locator;
}
