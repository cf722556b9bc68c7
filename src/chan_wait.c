/*
 * Channels: the one waiting path every kind uses: spin for the channel's
 * budget, then sleep on the event, with a poll tick that re-checks the
 * header and the peers waited for.
 */
#include "chan.h"

#include <errno.h>
#include <sched.h>

#define POLL_MS 50             /* liveness and header re-check while asleep */

/* How often a writer that found the ring full looks again while it spins. */
#define SPACE_POLL_NS 2000
/* With more peers attached than CPUs, a spinner gives its CPU away this
 * often: the peer it waits for may need that CPU to act. */
#define YIELD_NS 5000

int shmq__chan_eof(struct shmq_chan *ch)
{
	struct shmq_chan_hdr *h = ch->hdr;
	/* writers_ever first: a joiner adds to writers, then to writers_ever
	 * (release; this acquire pairs with it), so a writer counted in the
	 * `ever` we read is in the `writers` we read next unless it left.
	 * The other order could read writers before a join and ever after
	 * it, and end the stream under a live writer. */
	uint32_t ever = shmq_load(&h->writers_ever, SHMQ_ACQUIRE);
	/* acquire: pairs with a closing writer's release decrement, so the
	 * caller's next look at the ring sees all it published */
	if (shmq_load(&h->writers, SHMQ_ACQUIRE) > 0)
		return -EAGAIN;
	/* acquire: pairs with the settler's release of dead_writers in
	 * settle(), made before it gave the writers' count back */
	if (shmq_load(&h->dead_writers, SHMQ_ACQUIRE) > 0)
		return SHMQ_EPEERDEAD;
	return ever > 0 ? -EPIPE : -EAGAIN;
}

/* A poll tick: the header is still ours, and the peers we wait for live. */
int shmq__chan_tick(struct shmq_chan *ch, struct shmq_event_shm *ev)
{
	int rc = shmq__chan_revalidate(ch);
	if (rc < 0)
		return rc;
	shmq__chan_scan_peers(ch, ev == &ch->hdr->data_ev ? SHMQ_WRITER
	                                                 : SHMQ_READER);
	return 0;
}

/* A tick when one is due on this handle: 1 ticked, 0 not due, or the
 * tick's error. The schedule outlives a call, so a caller that loops on
 * deadlines shorter than POLL_MS is ticked too. */
static int tick_if_due(struct shmq_chan *ch, struct shmq_event_shm *ev,
                       int64_t now)
{
	int due = ch->next_tick_ns && now >= ch->next_tick_ns, rc;
	if (!ch->next_tick_ns || due)
		ch->next_tick_ns = now + POLL_MS * 1000000LL;
	if (!due)
		return 0;
	return (rc = shmq__chan_tick(ch, ev)) < 0 ? rc : 1;
}

/* After a futex wait: a tick if due, then, at the deadline, one last look
 * (the tick may have settled the peer we wait for). */
static int after_sleep(struct shmq_chan *ch, struct shmq_event_shm *ev,
                       int (*check)(struct shmq_chan *ch, void *arg),
                       void *arg, const struct timespec *deadline, int rc)
{
	if (rc == -ETIMEDOUT && (rc = tick_if_due(ch, ev, shmq__now_ns())) < 0)
		return rc;
	if (!shmq_deadline_passed(deadline))
		return -EAGAIN;
	rc = check(ch, arg);
	return rc == -EAGAIN ? -ETIMEDOUT : rc;
}

static int sleep_on(struct shmq_chan *ch, struct shmq_event_shm *ev,
                    int (*check)(struct shmq_chan *ch, void *arg), void *arg,
                    const struct timespec *deadline)
{
	for (;;) {
		/* acquire: pairs with the notifier's increment */
		uint32_t seen = shmq_load(&ev->seq, SHMQ_ACQUIRE);
		shmq__chan_announce(ch, ev);
		/* heavy fence: our count before our look at the index; the
		 * Dekker pair with the light fence in shmq__event_notify(), so
		 * either the notifier sees us or we see what it published */
		shmq_fence_heavy(ch->asym);
		int rc = check(ch, arg);
		if (rc == -EAGAIN &&
		    (rc = tick_if_due(ch, ev, shmq__now_ns())) == 0) {
			/* until the next tick (rounded up) or the deadline */
			struct timespec dl;
			shmq__poll_deadline(&dl, (ch->next_tick_ns -
			                          shmq__now_ns() + 999999) / 1000000,
			                    deadline);
			rc = shmq_futex_wait(&ev->seq, seen, &dl);
			/* woken: a plain look first. Only a sleep needs the
			 * announce and heavy fence above (a membarrier, tens of
			 * us on a loaded VM); a look never does */
			if (rc == -ETIMEDOUT || (rc = check(ch, arg)) == -EAGAIN)
				rc = after_sleep(ch, ev, check, arg, deadline,
				                 rc);
		} else if (rc == 1) {
			rc = -EAGAIN; /* ticked: look again before sleeping */
		}
		shmq__chan_unannounce(ch, ev);
		if (rc != -EAGAIN)
			return rc;
	}
}

/* Spin first: a wake costs tens of microseconds on a VM, the other side is
 * often about to act. Each poll takes a line the other side writes away
 * from it, so polls are paced: a clock read apart (tens of ns), and a
 * writer waiting for room every SPACE_POLL_NS (the ring is full because
 * the reader is the slower side, and the reader stores its position after
 * every message). A long spin (a busy-wait budget) still ticks every
 * POLL_MS, so a dead peer is noticed as when asleep. */
static int spin(struct shmq_chan *ch, struct shmq_event_shm *ev,
                int (*check)(struct shmq_chan *ch, void *arg), void *arg,
                const struct timespec *deadline)
{
	int64_t now = shmq__now_ns(), until = now + ch->spin_ns, next = now;
	int64_t pace = ev == &ch->hdr->space_ev ? SPACE_POLL_NS : 0;
	/* relaxed: a hint (a scribbled count costs a yield, nothing more) */
	uint32_t peers = shmq_load(&ch->hdr->attached, SHMQ_RELAXED) &
	                 ~SHMQ_CHAN_CLOSING;
	int64_t yield_at = peers > ch->ncpu ? now + YIELD_NS : INT64_MAX;
	if (deadline) {
		int64_t dl = (int64_t)deadline->tv_sec * 1000000000 +
		             deadline->tv_nsec;
		until = dl < until ? dl : until;
	}
	while (now < until) {
		shmq_cpu_relax();
		if ((now = shmq__now_ns()) < next)
			continue;
		next = now + pace;
		int rc = check(ch, arg);
		if (rc == -EAGAIN && now >= yield_at) {
			yield_at = now + YIELD_NS;
			sched_yield();
		}
		if (rc == -EAGAIN && (rc = tick_if_due(ch, ev, now)) >= 0)
			rc = -EAGAIN;
		if (rc != -EAGAIN)
			return rc;
	}
	return -EAGAIN;
}

int shmq__chan_wait_more(struct shmq_chan *ch, struct shmq_event_shm *ev,
                         int (*check)(struct shmq_chan *ch, void *arg),
                         void *arg, const struct timespec *deadline, int try_)
{
	int rc;
	if (try_) /* with an fd, arm it: readable again once this changes */
		return ch->fdw ? shmq__chan_fd_arm(ch, check, arg) : -EAGAIN;
	if (ch->spin_ns > 0 &&
	    (rc = spin(ch, ev, check, arg, deadline)) != -EAGAIN)
		return rc;
	if (shmq_deadline_passed(deadline))
		return -ETIMEDOUT;
	return sleep_on(ch, ev, check, arg, deadline);
}
