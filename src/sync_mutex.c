/*
 * A robust mutex in shared memory.
 *
 * The lock word holds the owner's tid (as the kernel's robust futexes do)
 * and a waiters bit, so the uncontended path is one CAS to lock and one
 * exchange to unlock, with no system call. We cannot use the kernel's robust
 * list: glibc owns each thread's single list head. Instead a waiter checks
 * the owner's liveness itself: before it first sleeps, and every
 * SHMQ_LIVENESS_POLL_MS while it sleeps. The owner is dead when /proc has
 * no such task, the task is a zombie, or its start time differs from the
 * one seen when this waiter first met it (a reused tid). The first waiter to
 * see the death takes the lock over with a CAS and gets -EOWNERDEAD.
 */
#include "internal.h"
#include "layout.h"

#include <errno.h>
#include <string.h>

#define SHMQ_LIVENESS_POLL_MS 20
#define SPINS 128

static struct shmq_mutex_shm *shm(shmq_mutex *m)
{
	return (struct shmq_mutex_shm *)m;
}

static int valid(struct shmq_mutex_shm *x)
{
	/* acquire: pairs with the release store of magic in init, so the
	 * initial word and state are visible. */
	return shmq_load(&x->magic, SHMQ_ACQUIRE) == SHMQ_MUTEX_MAGIC;
}

SHMQ_API int shmq_mutex_init(shmq_mutex *m)
{
	if (!m || ((uintptr_t)m & 7))
		return -EINVAL;
	struct shmq_mutex_shm *x = shm(m);
	shmq_store(&x->word, 0, SHMQ_RELAXED);
	shmq_store(&x->state, SHMQ_MUTEX_CONSISTENT, SHMQ_RELAXED);
	x->reserved = 0;
	/* release: publishes word and state; pairs with valid()'s acquire */
	shmq_store(&x->magic, SHMQ_MUTEX_MAGIC, SHMQ_RELEASE);
	return 0;
}

/* What a waiter remembers of the owner it waits for. */
struct owner_seen {
	uint32_t tid;
	uint64_t start;
};

/* Whether the owner in word is dead; remembers its start time. */
static int owner_dead(uint32_t owner, struct owner_seen *seen)
{
	uint64_t start;
	int rc = shmq__pid_start((pid_t)owner, &start);
	if (rc == -ENOENT || rc == -ESRCH)
		return 1;
	if (rc < 0)
		return 0; /* cannot tell: keep waiting */
	if (seen->tid != owner) {
		seen->tid = owner;
		seen->start = start;
		return 0;
	}
	return start != seen->start; /* the tid now names another task */
}

/* Takes the lock from a dead owner: the caller now owns it, inconsistent. */
static int take_over(struct shmq_mutex_shm *x, uint32_t seen, uint32_t tid)
{
	/* acquire: pairs with the dead owner's last release, if it made one */
	if (!shmq_cas(&x->word, &seen, tid | (seen & SHMQ_MUTEX_WAITERS),
	              SHMQ_ACQUIRE))
		return -EAGAIN; /* someone else moved first: look again */
	shmq_store(&x->state, SHMQ_MUTEX_INCONSISTENT, SHMQ_RELAXED);
	SHMQ_CRASH_POINT("mutex.takeover"); /* recovering, not consistent */
	return -EOWNERDEAD;
}

/* One look at the word: 0 when we got it, a final error, or -EAGAIN to
 * wait. `flags` for a fresh lock: WAITERS once we have slept, since others
 * may still sleep behind us. */
static int try_once(struct shmq_mutex_shm *x, uint32_t tid, uint32_t flags,
                    uint32_t *v)
{
	*v = shmq_load(&x->word, SHMQ_RELAXED);
	if (*v == 0) {
		uint32_t zero = 0;
		/* acquire: pairs with the release exchange in unlock */
		return shmq_cas(&x->word, &zero, tid | flags, SHMQ_ACQUIRE)
		               ? 0 : -EAGAIN;
	}
	uint32_t owner = *v & SHMQ_MUTEX_TID_MASK;
	if (owner == SHMQ_MUTEX_NOTREC)
		return -ENOTRECOVERABLE;
	if (owner == tid)
		return -EDEADLK;
	return -EBUSY;
}

static int lock_slow(struct shmq_mutex_shm *x, uint32_t tid,
                     const struct timespec *deadline)
{
	struct owner_seen seen = {0, 0};
	uint32_t flags = 0, v;
	int checked = 0;
	for (int i = 0;; i++) {
		int rc = try_once(x, tid, flags, &v);
		if (rc != -EBUSY) {
			if (rc == -EAGAIN)
				continue;
			if (rc == 0)
				SHMQ_CRASH_POINT("mutex.lock.slow"); /* after waiting */
			return rc;
		}
		if (i < SPINS) { /* the owner may be about to let go */
			shmq_cpu_relax();
			continue;
		}
		uint32_t owner = v & SHMQ_MUTEX_TID_MASK;
		/* Liveness: before the first sleep, then after each poll. */
		if (!checked && owner_dead(owner, &seen) &&
		    (rc = take_over(x, v, tid)) != -EAGAIN)
			return rc;
		checked = 1;
		if (!(v & SHMQ_MUTEX_WAITERS)) {
			uint32_t w = v | SHMQ_MUTEX_WAITERS;
			/* relaxed: read-modify-writes of one word are totally
			 * ordered, so unlock's exchange either sees this bit
			 * (and wakes) or makes this CAS fail. */
			if (!shmq_cas(&x->word, &v, w, SHMQ_RELAXED))
				continue;
			v = w;
		}
		struct timespec dl;
		shmq__poll_deadline(&dl, SHMQ_LIVENESS_POLL_MS, deadline);
		rc = shmq_futex_wait(&x->word, v, &dl);
		flags = SHMQ_MUTEX_WAITERS;
		if (rc == -ETIMEDOUT) {
			if (shmq_deadline_passed(deadline))
				return -ETIMEDOUT;
			checked = 0; /* a poll tick: look at the owner again */
		}
	}
}

SHMQ_API int shmq_mutex_lock_timed(shmq_mutex *m,
                                   const struct timespec *deadline)
{
	struct shmq_mutex_shm *x = shm(m);
	if (!m || !valid(x))
		return -EINVAL;
	uint32_t tid = (uint32_t)shmq__tid(), zero = 0;
	/* acquire: pairs with the release exchange in unlock */
	if (shmq_cas(&x->word, &zero, tid, SHMQ_ACQUIRE)) {
		SHMQ_CRASH_POINT("mutex.lock.acquired");
		return 0;
	}
	return lock_slow(x, tid, deadline);
}

SHMQ_API int shmq_mutex_lock(shmq_mutex *m)
{
	return shmq_mutex_lock_timed(m, NULL);
}

SHMQ_API int shmq_mutex_try_lock(shmq_mutex *m)
{
	struct shmq_mutex_shm *x = shm(m);
	struct owner_seen seen = {0, 0};
	uint32_t v, tid;
	if (!m || !valid(x))
		return -EINVAL;
	tid = (uint32_t)shmq__tid();
	for (;;) {
		int rc = try_once(x, tid, 0, &v);
		if (rc == -EAGAIN)
			continue;
		if (rc != -EBUSY)
			return rc;
		/* A dead owner's lock is free for the taking, as with
		 * pthread_mutex_trylock on a robust mutex. */
		if (!owner_dead(v & SHMQ_MUTEX_TID_MASK, &seen))
			return -EBUSY;
		if ((rc = take_over(x, v, tid)) != -EAGAIN)
			return rc;
	}
}

SHMQ_API int shmq_mutex_unlock(shmq_mutex *m)
{
	struct shmq_mutex_shm *x = shm(m);
	if (!m || !valid(x))
		return -EINVAL;
	uint32_t tid = (uint32_t)shmq__tid();
	uint32_t v = shmq_load(&x->word, SHMQ_RELAXED);
	if ((v & SHMQ_MUTEX_TID_MASK) != tid)
		return -EPERM;
	uint32_t next = 0;
	if (shmq_load(&x->state, SHMQ_RELAXED) == SHMQ_MUTEX_INCONSISTENT)
		next = SHMQ_MUTEX_NOTREC; /* not repaired: unusable for good */
	/* release: publishes the critical section; pairs with the acquire
	 * CAS of the next locker */
	uint32_t old = shmq_xchg(&x->word, next, SHMQ_RELEASE);
	SHMQ_CRASH_POINT("mutex.unlock.released"); /* before the wake */
	if (next == SHMQ_MUTEX_NOTREC)
		shmq_futex_wake(&x->word, INT_MAX); /* all get the news */
	else if (old & SHMQ_MUTEX_WAITERS)
		shmq_futex_wake(&x->word, 1);
	return 0;
}

SHMQ_API int shmq_mutex_consistent(shmq_mutex *m)
{
	struct shmq_mutex_shm *x = shm(m);
	if (!m || !valid(x))
		return -EINVAL;
	uint32_t v = shmq_load(&x->word, SHMQ_RELAXED);
	if ((v & SHMQ_MUTEX_TID_MASK) != (uint32_t)shmq__tid() ||
	    shmq_load(&x->state, SHMQ_RELAXED) != SHMQ_MUTEX_INCONSISTENT)
		return -EINVAL;
	shmq_store(&x->state, SHMQ_MUTEX_CONSISTENT, SHMQ_RELAXED);
	return 0;
}
