/* System V semaphore sets: checked wrappers over semget/semop/semctl. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#define SEMVMX 32767 /* the largest value of a semaphore (Linux, sem.h) */

/* One process's handle on a set; nothing of it is shared. */
struct shmq_semset {
	struct shmq__ipc h; /* first: id, canonical locator */
	unsigned nsems;     /* fixed for the life of a set */
};

/* An errno from an operation on a set we had: a vanished id is EINVAL from
 * the kernel (EIDRM only for a caller asleep in semop when it goes). */
static int op_errno(void)
{
	return errno == EINVAL ? -EIDRM : shmq__neg_errno();
}

/* The number of semaphores in set id, or a negative errno: SHMQ_EOWNER
 * when another user owns or created it, unless flags take any owner. */
static int nsems_of(int id, unsigned flags)
{
	struct semid_ds ds;
	if (semctl(id, 0, IPC_STAT, (union shmq__semun){.buf = &ds}) < 0)
		return errno == EINVAL ? -ENOENT : shmq__neg_errno();
	int rc = shmq__owner_check_sysv(flags, &ds.sem_perm);
	return rc < 0 ? rc : (int)ds.sem_nsems;
}

struct sem_make {
	struct shmq_semset *set;
	unsigned nsems; /* at least this many */
	unsigned flags; /* SHMQ_ANY_OWNER */
};

static int sem_get(void *arg, key_t key, int flags)
{
	const struct sem_make *m = arg;
	int id = semget(key, flags & IPC_CREAT ? (int)m->nsems : 0, flags);
	return id < 0 ? shmq__neg_errno() : id;
}

/* A new set gets every value 0 explicitly (SETALL); one that existed must
 * have at least the semaphores asked. */
static int sem_use(void *arg, int id, int created)
{
	struct sem_make *m = arg;
	int n = created ? (int)m->nsems : nsems_of(id, m->flags);
	if (n < 0)
		return n;
	if ((unsigned)n < m->nsems)
		return SHMQ_ESMALL;
	if (created) {
		unsigned short *zero = calloc((size_t)n, sizeof(*zero));
		if (!zero)
			return -ENOMEM;
		int rc = semctl(id, 0, SETALL, (union shmq__semun){.array = zero});
		free(zero);
		if (rc < 0)
			return shmq__neg_errno();
	}
	m->set->h.id = id;
	m->set->nsems = (unsigned)n;
	return 0;
}

static int semmsl(void)
{
	struct shmq_limits l;
	if (shmq_limits_get(&l) < 0 || l.semmsl == 0 || l.semmsl > INT32_MAX)
		return INT32_MAX; /* no /proc: let the kernel decide */
	return (int)l.semmsl;
}

/* A new handle for locator, if opts are ones we know. */
static int sem_new(struct shmq__ipc **h, const char *locator,
                   const struct shmq_semset_opts *o, struct shmq_locator *loc)
{
	*h = NULL;
	int rc = shmq__ipc_opts_check(o->mode, o->flags, o->reserved);
	return rc < 0 ? rc : shmq__ipc_new(h, sizeof(shmq_semset), locator,
	                                   SHMQ_FAMILY_SYSV_SEM, loc);
}

SHMQ_API int shmq_semset_create(shmq_semset **set, const char *locator,
                                const struct shmq_semset_opts *opts)
{
	struct shmq_locator loc;
	struct shmq__ipc *h = NULL;
	if (!set || !opts || !opts->nsems)
		return -EINVAL;
	int rc = sem_new(&h, locator, opts, &loc);
	if (rc == 0 && opts->nsems > (unsigned)semmsl()) {
		rc = SHMQ_ESIZEMAX;
	} else if (rc == 0) {
		struct sem_make arg = {(shmq_semset *)h, opts->nsems,
		                       opts->flags};
		struct shmq__sysv_make m = {SHMQ_FAMILY_SYSV_SEM, sem_get,
		                            sem_use, &arg};
		rc = shmq__sysv_make(&m, &loc, opts->mode,
		                     opts->flags & SHMQ_OPEN_OK);
	}
	*set = shmq__ipc_done(h, &loc, rc);
	return rc;
}

SHMQ_API int shmq_semset_open(shmq_semset **set, const char *locator,
                              const struct shmq_semset_opts *opts)
{
	static const struct shmq_semset_opts none;
	const struct shmq_semset_opts *o = opts ? opts : &none;
	struct shmq_locator loc;
	struct shmq__ipc *h;
	int id;
	if (!set)
		return -EINVAL;
	int rc = sem_new(&h, locator, o, &loc);
	if (rc == 0)
		rc = shmq__sysv_resolve(&loc, &id);
	if (rc == 0) {
		struct sem_make arg = {(shmq_semset *)h, o->nsems, o->flags};
		rc = sem_use(&arg, id, 0);
	}
	*set = shmq__ipc_done(h, &loc, rc);
	return rc;
}

SHMQ_API int shmq_semset_close(shmq_semset *set)
{
	free(set);
	return 0;
}

SHMQ_API int shmq_semset_unlink(const char *locator)
{
	return shmq__ipc_unlink(locator, SHMQ_FAMILY_SYSV_SEM);
}

SHMQ_API int shmq_semset_count(const shmq_semset *set)
{
	struct semid_ds ds;
	if (!set)
		return -EINVAL;
	union shmq__semun arg = {.buf = &ds};
	if (semctl(set->h.id, 0, IPC_STAT, arg) < 0)
		return op_errno();
	return (int)ds.sem_nsems;
}

SHMQ_API int shmq_semset_getval(const shmq_semset *set, unsigned num)
{
	if (!set || num >= set->nsems)
		return -EINVAL;
	int v = semctl(set->h.id, (int)num, GETVAL);
	return v < 0 ? op_errno() : v;
}

SHMQ_API int shmq_semset_setval(shmq_semset *set, unsigned num, int value)
{
	if (!set || num >= set->nsems)
		return -EINVAL;
	if (value < 0 || value > SEMVMX)
		return -ERANGE;
	union shmq__semun arg = {.val = value};
	if (semctl(set->h.id, (int)num, SETVAL, arg) < 0)
		return op_errno();
	return 0;
}

/*
 * One semop, SEM_UNDO always; nowait: IPC_NOWAIT. semtimedop takes a
 * relative timeout and the kernel measures it on CLOCK_MONOTONIC; after
 * EINTR it is recomputed from the absolute deadline, so a signal never
 * stretches the wait. A deadline already past still makes one attempt (a
 * zero timeout).
 */
static int semset_op(shmq_semset *set, unsigned num, int delta,
                     const struct timespec *deadline, int nowait)
{
	if (!set || num >= set->nsems || shmq__deadline_check(deadline) < 0)
		return -EINVAL;
	if (delta < -SEMVMX || delta > SEMVMX)
		return -ERANGE;
	struct sembuf op = {(unsigned short)num, (short)delta,
	                    SEM_UNDO | (nowait ? IPC_NOWAIT : 0)};
	for (;;) {
		struct timespec left, *timeout = NULL;
		if (deadline) {
			shmq__time_left(deadline, &left);
			timeout = &left;
		}
		if (semtimedop(set->h.id, &op, 1, timeout) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return nowait ? -EAGAIN : -ETIMEDOUT;
		return op_errno();
	}
}

SHMQ_API int shmq_semset_op(shmq_semset *set, unsigned num, int delta)
{
	return semset_op(set, num, delta, NULL, 0);
}

SHMQ_API int shmq_semset_try_op(shmq_semset *set, unsigned num, int delta)
{
	return semset_op(set, num, delta, NULL, 1);
}

SHMQ_API int shmq_semset_op_timed(shmq_semset *set, unsigned num, int delta,
                                  const struct timespec *deadline)
{
	return semset_op(set, num, delta, deadline, 0);
}

SHMQ_API int shmq_semset_id(const shmq_semset *set)
{
	return set->h.id;
}

SHMQ_API const char *shmq_semset_locator(const shmq_semset *set)
{
	return set->h.locator;
}
