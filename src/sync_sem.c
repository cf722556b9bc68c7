/*
 * Counting semaphore and event in shared memory.
 *
 * Both keep a waiter count beside their word so that a post or a signal
 * with nobody asleep makes no system call. The count and the word form a
 * Dekker pair: a waiter increments `waiters` then reads the word; a poster
 * changes the word then reads `waiters`, all seq_cst, so at least one of
 * them sees the other: either the poster wakes, or the waiter does not
 * sleep. FUTEX_WAIT re-checks the word in the kernel, closing the gap
 * between that read and the sleep.
 */
#include "internal.h"
#include "layout.h"

#include <errno.h>

#define SPINS 64
#define WAKE_POLL_MS 20 /* a lost wake costs at most this */

/* Sleep in slices: a poster or signaler that died between its change and
 * its wake is noticed within one (the change is there, the wake is not). */
static int sleep_slice(shmq_atomic32 *word, uint32_t seen,
                       const struct timespec *deadline)
{
	struct timespec t;
	shmq__poll_deadline(&t, WAKE_POLL_MS, deadline);
	int rc = shmq_futex_wait(word, seen, &t);
	return rc == -ETIMEDOUT && !shmq_deadline_passed(deadline) ? 0 : rc;
}

/* ---- Semaphore ---------------------------------------------------------- */

static struct shmq_sem_shm *sem_valid(const shmq_sem *s)
{
	struct shmq_sem_shm *x = (struct shmq_sem_shm *)s;
	/* acquire: pairs with the release store of magic in init */
	if (!s || shmq_load(&x->magic, SHMQ_ACQUIRE) != SHMQ_SEM_MAGIC)
		return NULL;
	return x;
}

SHMQ_API int shmq_sem_init(shmq_sem *s, uint32_t value)
{
	struct shmq_sem_shm *x = (struct shmq_sem_shm *)s;
	if (!s || ((uintptr_t)s & 7) || value > INT32_MAX)
		return -EINVAL;
	shmq_store(&x->value, value, SHMQ_RELAXED);
	shmq_store(&x->waiters, 0, SHMQ_RELAXED);
	x->reserved = 0;
	/* release: publishes value and waiters; pairs with sem_valid() */
	shmq_store(&x->magic, SHMQ_SEM_MAGIC, SHMQ_RELEASE);
	return 0;
}

SHMQ_API int shmq_sem_post(shmq_sem *s)
{
	struct shmq_sem_shm *x = sem_valid(s);
	if (!x)
		return -EINVAL;
	uint32_t v = shmq_load(&x->value, SHMQ_RELAXED);
	do {
		if (v >= INT32_MAX)
			return -EOVERFLOW;
		/* seq_cst: the Dekker pair with the waiter's increment of
		 * waiters; also a release of what the poster wrote, for the
		 * acquire CAS in try_wait. */
	} while (!shmq_cas(&x->value, &v, v + 1, SHMQ_SEQ_CST));
	SHMQ_CRASH_POINT("sem.post.counted"); /* before the wake */
	/* seq_cst: the other half of the Dekker pair with the waiter's
	 * increment of waiters in sem wait */
	if (shmq_load(&x->waiters, SHMQ_SEQ_CST) > 0)
		shmq_futex_wake(&x->value, 1);
	return 0;
}

SHMQ_API int shmq_sem_try_wait(shmq_sem *s)
{
	struct shmq_sem_shm *x = sem_valid(s);
	if (!x)
		return -EINVAL;
	uint32_t v = shmq_load(&x->value, SHMQ_RELAXED);
	while (v > 0 && v <= INT32_MAX)
		/* acquire: pairs with the poster's CAS */
		if (shmq_cas(&x->value, &v, v - 1, SHMQ_ACQUIRE))
			return 0;
	return v > INT32_MAX ? -EINVAL : -EAGAIN; /* above: scribbled on */
}

SHMQ_API int shmq_sem_wait_timed(shmq_sem *s, const struct timespec *deadline)
{
	struct shmq_sem_shm *x = sem_valid(s);
	int rc;
	if (!x)
		return -EINVAL;
	for (int i = 0; i < SPINS; i++) {
		if ((rc = shmq_sem_try_wait(s)) != -EAGAIN)
			return rc;
		shmq_cpu_relax();
	}
	/* seq_cst: the Dekker pair with the poster's value CAS */
	shmq_add(&x->waiters, 1, SHMQ_SEQ_CST);
	while ((rc = shmq_sem_try_wait(s)) == -EAGAIN) {
		rc = sleep_slice(&x->value, 0, deadline);
		if (rc == -ETIMEDOUT)
			break;
	}
	shmq_sub(&x->waiters, 1, SHMQ_RELAXED);
	return rc;
}

SHMQ_API int shmq_sem_wait(shmq_sem *s)
{
	return shmq_sem_wait_timed(s, NULL);
}

SHMQ_API int shmq_sem_value(const shmq_sem *s)
{
	struct shmq_sem_shm *x = sem_valid(s);
	if (!x)
		return -EINVAL;
	uint32_t v = shmq_load(&x->value, SHMQ_RELAXED);
	return v > INT32_MAX ? -EINVAL : (int)v;
}

/* ---- Event -------------------------------------------------------------- */

static struct shmq_event_shm *event_valid(const shmq_event *e)
{
	struct shmq_event_shm *x = (struct shmq_event_shm *)e;
	/* acquire: pairs with the release store of magic in init */
	if (!e || shmq_load(&x->magic, SHMQ_ACQUIRE) != SHMQ_EVENT_MAGIC)
		return NULL;
	return x;
}

SHMQ_API int shmq_event_init(shmq_event *e)
{
	struct shmq_event_shm *x = (struct shmq_event_shm *)e;
	if (!e || ((uintptr_t)e & 7))
		return -EINVAL;
	shmq_store(&x->seq, 0, SHMQ_RELAXED);
	shmq_store(&x->waiters, 0, SHMQ_RELAXED);
	shmq_store(&x->armed, 0, SHMQ_RELAXED);
	/* release: publishes seq and waiters; pairs with event_valid() */
	shmq_store(&x->magic, SHMQ_EVENT_MAGIC, SHMQ_RELEASE);
	return 0;
}

SHMQ_API uint32_t shmq_event_seq(const shmq_event *e)
{
	struct shmq_event_shm *x = event_valid(e);
	/* acquire: pairs with the signaler's seq_cst increment, so what was
	 * written before the signal is visible once the new seq is seen */
	return x ? shmq_load(&x->seq, SHMQ_ACQUIRE) : 0;
}

SHMQ_API int shmq_event_signal(shmq_event *e)
{
	struct shmq_event_shm *x = event_valid(e);
	if (!x)
		return -EINVAL;
	/* seq_cst: release of the signaler's writes, and the Dekker pair
	 * with the waiter's increment of waiters */
	shmq_add(&x->seq, 1, SHMQ_SEQ_CST);
	SHMQ_CRASH_POINT("event.signal.counted"); /* before the wake */
	/* seq_cst: the other half of the Dekker pair with the waiter's
	 * increment of waiters in shmq_event_wait() */
	if (shmq_load(&x->waiters, SHMQ_SEQ_CST) == 0)
		return 0;
	int n = shmq_futex_wake(&x->seq, INT_MAX);
	return n < 0 ? n : 0;
}

SHMQ_API int shmq_event_wait_timed(shmq_event *e, uint32_t seen,
                                   const struct timespec *deadline)
{
	struct shmq_event_shm *x = event_valid(e);
	int rc = 0;
	if (!x)
		return -EINVAL;
	for (int i = 0; i < SPINS; i++) {
		/* acquire: pairs with the signaler's increment */
		if (shmq_load(&x->seq, SHMQ_ACQUIRE) != seen)
			return 0;
		shmq_cpu_relax();
	}
	/* seq_cst: the Dekker pair with the signaler's seq increment */
	shmq_add(&x->waiters, 1, SHMQ_SEQ_CST);
	/* seq_cst: the waiter's half of the Dekker pair; pairs with the
	 * signaler's seq_cst increment of seq */
	while (shmq_load(&x->seq, SHMQ_SEQ_CST) == seen) {
		rc = sleep_slice(&x->seq, seen, deadline);
		if (rc == -ETIMEDOUT)
			break;
		rc = 0;
	}
	shmq_sub(&x->waiters, 1, SHMQ_RELAXED);
	return rc;
}

SHMQ_API int shmq_event_wait(shmq_event *e, uint32_t seen)
{
	return shmq_event_wait_timed(e, seen, NULL);
}

/* For channels and boards: a sleeper on ev, after its load of seq and
 * before its heavy fence and last look, counts itself and arms the event. */
void shmq__event_announce(struct shmq_event_shm *ev)
{
	/* relaxed: a count, for stat and a dead sleeper's give-back */
	shmq_add(&ev->waiters, 1, SHMQ_RELAXED);
	/* release: pairs with the notifier's acquire exchange, so the seq
	 * we loaded before is older than the increment that notifier makes
	 * after it took the arm: our futex wait cannot miss it */
	shmq_store(&ev->armed, 1, SHMQ_RELEASE);
}

void shmq__event_unannounce(struct shmq_event_shm *ev)
{
	/* relaxed: a count. The arm stays: at worst one wake for nobody */
	shmq_sub(&ev->waiters, 1, SHMQ_RELAXED);
}

/* For channels and boards, once shmq_armed() (atomic.h; inline, as it runs
 * on every message) saw a sleeper's arm on ev: wakes the sleepers. The
 * light fence in shmq_armed() is the Dekker pair with the sleeper's heavy
 * fence between its arm and its re-check (chan_wait.c, sleep_on), so
 * either the notifier sees the arm or the sleeper sees what it published;
 * with nobody armed a notify is that fence and a load, no system call
 * (asym 0, a channel made with SHMQ_CHAN_PLAIN_FENCES: a plain fence, and
 * its sleepers make no membarrier). Only the notifier that takes the arm
 * wakes: a sleeper woken but not yet running (it may need this very CPU)
 * costs the next notifies nothing, where a count of sleepers would make
 * each of them a system call. */
void shmq__event_wake_armed(struct shmq_event_shm *ev)
{
	/* acquire: pairs with the sleeper's release store of armed */
	if (shmq_xchg(&ev->armed, 0, SHMQ_ACQUIRE) == 0)
		return; /* another notifier took it, and wakes */
	/* release: pairs with the sleeper's acquire load of seq in
	 * sleep_on() */
	shmq_add(&ev->seq, 1, SHMQ_RELEASE);
	shmq_futex_wake(&ev->seq, INT_MAX);
}

/* Boards: the process's fences. */
void shmq__event_notify(struct shmq_event_shm *ev)
{
	/* pairs with the heavy fence in sleep_on() */
	if (shmq_armed(&ev->armed, shmq__asym()))
		shmq__event_wake_armed(ev);
}
