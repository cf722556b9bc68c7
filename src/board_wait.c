/*
 * Boards: waiting for an entry (or any entry) to change.
 *
 * The handshake of channels (chan_wait.c, sleep_on): a waiter reads the
 * event's seq, announces itself (counts itself and arms the event), makes
 * the heavy fence and looks at the entry again; a writer publishes, makes
 * the light fence and wakes the event only if it takes an arm
 * (shmq__event_notify). So
 * either the writer sees the waiter, or the waiter sees the new value. A
 * sleeper re-validates the board every POLL_MS (a writer that died between
 * its publish and its wake is noticed then).
 */
#include "board.h"

#include <errno.h>

#define POLL_MS 50
#define SPIN_NS 50000 /* as channels: ~ one cross-CPU futex wake on a VM */

static struct shmq_event_shm *event_of(shmq_board *b, uint32_t i)
{
	return i == SHMQ_BOARD_ANY ? &b->hdr->any
	                           : &shmq__board_entry(b, i)->ev;
}

/* 0 when entry i's seq is not seen any more, else -EAGAIN. */
static int changed(shmq_board *b, uint32_t i, uint64_t seen)
{
	uint64_t s;
	int rc = shmq__board_seq_of(b, i, &s);
	return rc < 0 ? rc : s != seen ? 0 : -EAGAIN;
}

static int spin(shmq_board *b, uint32_t i, uint64_t seen,
                const struct timespec *deadline)
{
	int64_t until = shmq__now_ns() + SPIN_NS;
	if (deadline) {
		int64_t dl = (int64_t)deadline->tv_sec * 1000000000 +
		             deadline->tv_nsec;
		until = dl < until ? dl : until;
	}
	int rc;
	while ((rc = changed(b, i, seen)) == -EAGAIN &&
	       shmq__now_ns() < until)
		shmq_cpu_relax();
	return rc;
}

/* One sleep on ev, to the next tick or the deadline. */
static int sleep_once(shmq_board *b, uint32_t i, uint64_t seen,
                      const struct timespec *deadline)
{
	struct shmq_event_shm *ev = event_of(b, i);
	/* acquire: pairs with the notifier's release increment */
	uint32_t ev_seen = shmq_load(&ev->seq, SHMQ_ACQUIRE);
	shmq__event_announce(ev);
	/* heavy fence: our count before our look at seq; the Dekker pair
	 * with the light fence in shmq__event_notify() */
	shmq_fence_heavy(shmq__asym_setup());
	int rc = changed(b, i, seen);
	if (rc == -EAGAIN) {
		int64_t now = shmq__now_ns();
		int bad = 0;
		if (!b->next_tick_ns || now >= b->next_tick_ns) {
			b->next_tick_ns = now + POLL_MS * 1000000LL;
			bad = shmq__board_revalidate(b);
		}
		if (bad < 0) {
			rc = bad;
		} else {
			struct timespec dl;
			shmq__poll_deadline(&dl, (b->next_tick_ns - now + 999999)
			                         / 1000000, deadline);
			shmq_futex_wait(&ev->seq, ev_seen, &dl);
		}
	}
	shmq__event_unannounce(ev);
	return rc;
}

/* ---- The fd: chan_fd.c's machinery on the board's `any` event ---------- */

static int fd_tick_finds(void *ctx)
{
	return shmq__board_revalidate(ctx) < 0;
}

static void fd_announce(void *ctx, struct shmq_event_shm *ev)
{
	(void)ctx;
	shmq__event_announce(ev);
}

static void fd_unannounce(void *ctx, struct shmq_event_shm *ev)
{
	(void)ctx;
	shmq__event_unannounce(ev);
}

static int fd_tick(void *ctx, struct shmq_event_shm *ev)
{
	(void)ev;
	return shmq__board_revalidate(ctx);
}

static const struct shmq__fdw_ops fd_ops = {
	.tick_finds = fd_tick_finds,
	.announce = fd_announce,
	.unannounce = fd_unannounce,
	.tick = fd_tick,
};

/* The fd's check: the entry and seq of the try_wait that armed it. */
static int fd_check(void *ctx, void *arg)
{
	shmq_board *b = ctx;
	(void)arg;
	return changed(b, b->arm_i, b->arm_seen);
}

SHMQ_API int shmq_board_fd(shmq_board *b)
{
	if (!b)
		return -EINVAL;
	if (b->fdw)
		return shmq__fdw_efd(b->fdw);
	if (b->broken)
		return b->broken;
	/* every set notifies `any`: one event serves whatever entry the
	 * next try_wait names */
	return shmq__fdw_open(&b->fdw, b, &fd_ops, &b->hdr->any, &b->guard,
	                      SPIN_NS, shmq__asym_setup());
}

void shmq__board_fd_close(shmq_board *b)
{
	struct shmq__fdw *w = b->fdw;
	b->fdw = NULL;
	shmq__fdw_close(w, b->broken);
}

/* ---- Waits ----------------------------------------------------------------- */

static int wait_on(shmq_board *b, uint32_t i, uint64_t seen,
                   const struct timespec *deadline, int try_)
{
	int rc = changed(b, i, seen);
	if (rc != -EAGAIN)
		return rc;
	if (try_) {
		b->arm_i = i;
		b->arm_seen = seen;
		return b->fdw ? shmq__fdw_arm(b->fdw, fd_check, NULL) : -EAGAIN;
	}
	if ((rc = spin(b, i, seen, deadline)) != -EAGAIN)
		return rc;
	while ((rc = sleep_once(b, i, seen, deadline)) == -EAGAIN)
		if (shmq_deadline_passed(deadline))
			return changed(b, i, seen) == 0 ? 0 : -ETIMEDOUT;
	return rc;
}

static int board_wait(shmq_board *b, uint32_t i, uint64_t seen,
                      const struct timespec *deadline, int try_)
{
	if (!b || (i >= b->entries && i != SHMQ_BOARD_ANY) ||
	    shmq__deadline_check(deadline) < 0)
		return -EINVAL;
	int rc = shmq__board_enter(b);
	if (rc < 0)
		return rc;
	return shmq__board_leave(b, wait_on(b, i, seen, deadline, try_));
}

SHMQ_API int shmq_board_wait(shmq_board *b, uint32_t i, uint64_t seen)
{
	return board_wait(b, i, seen, NULL, 0);
}

SHMQ_API int shmq_board_try_wait(shmq_board *b, uint32_t i, uint64_t seen)
{
	return board_wait(b, i, seen, NULL, 1);
}

SHMQ_API int shmq_board_wait_timed(shmq_board *b, uint32_t i, uint64_t seen,
                                   const struct timespec *deadline)
{
	return board_wait(b, i, seen, deadline, 0);
}
