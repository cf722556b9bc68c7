/*
 * A pollable fd per channel end (shmq_chan_fd), and the machinery behind it
 * for any object that wakes its waiters through an event (boards too:
 * board_wait.c): a context and its callbacks (struct shmq__fdw_ops).
 *
 * The fd is an eventfd of this process. A waiter thread of this process,
 * started with the fd, makes it readable; nothing else can: the peers reach
 * the thread only through the futex word they already wake (the event in
 * the channel header), so a process without access to the channel cannot
 * wake it, nothing is named in any filesystem or namespace, and a peer
 * never learns or holds our fd. The handshake is the blocking path's
 * (chan_wait.c, sleep_on) cut in two: the application's try_ call that
 * finds nothing announces a waiter and re-checks (arm), and the thread
 * sleeps on the event from there (watch), then writes the eventfd.
 *
 * States of the end (w->state, this process only):
 *   FIRED  the eventfd is readable (or about to be: the thread writes it
 *          before it stores FIRED); the next try_ call that finds nothing
 *          arms again. An end starts FIRED: its first look is the
 *          application's.
 *   ARMED  a try_ call found nothing, announced itself (ev->waiters and
 *          ev->armed) and saw ev->seq == seen after the re-check; the
 *          thread watches for seq to move (the notifier that takes the
 *          arm moves it, and no later notifier before a new arm).
 *   FIRING the thread is writing the eventfd: an arm waits for FIRED (so
 *          it drains that write), flagging WAITED for a futex wake.
 *   UNSURE a cheap arm's watch ended without seq moving: the thread made
 *          the membarrier the arm skipped and fired, keeping the announce;
 *          the next arm checks again and re-arms without a fence.
 *   STOPPING (or'ed in) close: the thread leaves; a sleep on state that
 *          raced close's wake returns at once.
 * See docs/design.md, "Channel fds", for the ordering argument.
 */
#include "chan.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { FIRED = 0, ARMED = 1, FIRING = 2, WAITED = 4, UNSURE = 8,
       STOPPING = 16 /* or'ed in by close: a sleep on state ends */ };
/* What ended a watch. */
enum { MOVED, TICKED, STOPPED, UNCONFIRMED };

#define POLL_MS 50 /* as chan_wait.c: liveness and header re-check */

struct shmq__fdw {
	void *ctx;                 /* the object's handle: ops' argument */
	const struct shmq__fdw_ops *ops;
	struct shmq_event_shm *ev; /* the event the object's peers notify */
	struct shmq__guard *guard; /* the handle's SIGBUS guard */
	int64_t spin_ns;           /* the spin before sleeping */
	int asym;                  /* the object's waits use the asymmetric
	                              fences (atomic.h) */
	int efd;
	pid_t pid;                 /* the process the thread runs in */
	pthread_t thread;
	shmq_atomic32 state;    /* FIRED/ARMED; the thread sleeps on it */
	shmq_atomic32 stop;     /* close: the thread leaves */
	shmq_atomic32 tick_due; /* the thread found a dead peer or a bad
	                           header: the next arm ticks */
	shmq_atomic32 seen;     /* ev->seq at arm */
	shmq_atomic32 idle;     /* the thread sleeps on state: an arm wakes it */
	shmq_atomic32 cheap;    /* the arm made no membarrier: the thread
	                           owes one (the arm's release publishes) */
	shmq_atomic64 late;     /* wakes only a tick found (seq had moved):
	                           lost wakeups, or a wake that raced the
	                           timeout (tests) */
};

static int watch(struct shmq__fdw *w)
{
	/* relaxed: stored before the release of ARMED that the thread
	 * acquired */
	uint32_t seen = shmq_load(&w->seen, SHMQ_RELAXED);
	int64_t now = shmq__now_ns(), until = now + w->spin_ns;
	/* Spin first, as a blocking call does: the peer is often about to
	 * act, and the application sleeps in its loop meanwhile. */
	while (now < until) {
		/* acquire: pairs with the notifier's release increment
		 * (shmq__event_notify) */
		if (shmq_load(&w->ev->seq, SHMQ_ACQUIRE) != seen)
			return MOVED;
		/* acquire: pairs with close's release of stop */
		if (shmq_load(&w->stop, SHMQ_ACQUIRE))
			return STOPPED;
		shmq_cpu_relax();
		now = shmq__now_ns();
	}
	/* relaxed: published with seen */
	if (shmq_load(&w->cheap, SHMQ_RELAXED)) {
		/* The heavy half of the arm's Dekker pair, late: after it, a
		 * notifier that missed the announce has its message visible
		 * to the application's next check, which UNSURE asks for. */
		shmq_fence_heavy(1);
		/* acquire: as in the spin */
		return shmq_load(&w->ev->seq, SHMQ_ACQUIRE) != seen
		       ? MOVED : UNCONFIRMED;
	}
	for (;;) {
		struct timespec dl;
		shmq__poll_deadline(&dl, POLL_MS, NULL);
		int rc = shmq_futex_wait(&w->ev->seq, seen, &dl);
		if (shmq_load(&w->stop, SHMQ_ACQUIRE))
			return STOPPED;
		/* acquire: as in the spin */
		if (shmq_load(&w->ev->seq, SHMQ_ACQUIRE) != seen) {
			if (rc == -ETIMEDOUT) /* relaxed: a report */
				shmq_add(&w->late, 1, SHMQ_RELAXED);
			return MOVED;
		}
		if (rc == -ETIMEDOUT && w->ops->tick_finds(w->ctx))
			return TICKED;
		if (shmq_load(&w->guard->hit, SHMQ_RELAXED))
			return TICKED; /* zeros now: the application learns */
	}
}

/* Makes the fd readable, ending in state `to` (FIRED, UNSURE). An arm
 * must never see ARMED once the eventfd is readable (it would leave it
 * readable, armed: a busy loop), so FIRING is stored before the write,
 * `to` after it. */
static void fire(struct shmq__fdw *w, uint32_t to)
{
	uint64_t one = 1;
	/* seq_cst: before the write that wakes the application's poll */
	shmq_store(&w->state, FIRING, SHMQ_SEQ_CST);
	/* cannot fail but for an overflow after 2^64 - 2 wakes */
	(void)!write(w->efd, &one, sizeof one);
	/* release, after the write: pairs with arm's acquire load, so an
	 * arm that sees FIRED drains this write */
	if (shmq_xchg(&w->state, to, SHMQ_RELEASE) & WAITED)
		shmq_futex_wake(&w->state, 1);
}

/* The state once no fire is under way. */
static uint32_t settled_state(struct shmq__fdw *w)
{
	/* acquire: pairs with fire's release of FIRED after its write */
	uint32_t s = shmq_load(&w->state, SHMQ_ACQUIRE);
	while (s & (FIRING | WAITED)) {
		/* relaxed: the acquire load after the wait orders */
		if (s & WAITED || shmq_cas(&w->state, &s, s | WAITED,
		                           SHMQ_RELAXED))
			shmq_futex_wait(&w->state, FIRING | WAITED, NULL);
		s = shmq_load(&w->state, SHMQ_ACQUIRE);
	}
	return s;
}

/* Until state leaves s (an arm, a close). The loop usually arms again
 * soon after a fire (its next try_ call finds nothing): yield the CPU to
 * it for the spin budget, then sleep. Waking a sleeping thread costs the
 * arm a system call and the thread a wakeup. */
static void wait_for_arm(struct shmq__fdw *w, uint32_t s)
{
	int64_t until = shmq__now_ns() + w->spin_ns;
	/* acquire: pairs with arm's release of ARMED, close's of stop */
	while (shmq_load(&w->state, SHMQ_ACQUIRE) == s &&
	       !shmq_load(&w->stop, SHMQ_ACQUIRE)) {
		if (shmq__now_ns() >= until) {
			/* seq_cst: the Dekker pair with rearm()'s store of
			 * ARMED and load of idle */
			shmq_store(&w->idle, 1, SHMQ_SEQ_CST);
			if (shmq_load(&w->state, SHMQ_SEQ_CST) == s)
				shmq_futex_wait(&w->state, s, NULL);
			shmq_store(&w->idle, 0, SHMQ_RELAXED);
			return;
		}
		sched_yield(); /* the loop may need this CPU */
	}
}

static void *waiter(void *arg)
{
	struct shmq__fdw *w = arg;
	/* The handle's own guard: a fault here marks it hit, so the
	 * application's next call returns SHMQ_ETRUNCATED even if that call
	 * only meets the zeros the handler left (a send would go into them). */
	shmq__guard_arm(w->guard);
	for (;;) {
		/* acquire: pairs with arm's release of ARMED (seen before) */
		uint32_t s = shmq_load(&w->state, SHMQ_ACQUIRE);
		if (shmq_load(&w->stop, SHMQ_ACQUIRE)) {
			/* closed armed before we watched: arm's announce is
			 * still ours to take back (s may predate the ARMED
			 * close saw; acquire: as above) */
			s = shmq_load(&w->state, SHMQ_ACQUIRE) & ~(uint32_t)STOPPING;
			if (s == ARMED || s == UNSURE)
				w->ops->unannounce(w->ctx, w->ev);
			break;
		}
		if (s != ARMED || shmq_load(&w->guard->hit, SHMQ_RELAXED)) {
			wait_for_arm(w, s);
			continue;
		}
		int why = watch(w);
		if (why == UNCONFIRMED) {
			fire(w, UNSURE); /* the announce stays */
			continue;
		}
		/* the announce arm made is ours to take back */
		w->ops->unannounce(w->ctx, w->ev);
		if (why == STOPPED)
			break;
		if (why == TICKED)
			/* release: the next arm's acquire exchange pairs */
			shmq_store(&w->tick_due, 1, SHMQ_RELEASE);
		fire(w, FIRED);
	}
	shmq__guard_disarm(w->guard);
	return NULL;
}

/* A thread that takes none of the application's signals but the ones a
 * fault raises on it (blocking those would kill the process). */
static int start_thread(struct shmq__fdw *w)
{
	sigset_t all, old;
	pthread_attr_t at;
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	if (pthread_attr_init(&at))
		return -ENOMEM;
	pthread_attr_setstacksize(&at, 64 * 1024);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&w->thread, &at, waiter, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	return -rc;
}

int shmq__fdw_open(struct shmq__fdw **out, void *ctx,
                   const struct shmq__fdw_ops *ops, struct shmq_event_shm *ev,
                   struct shmq__guard *guard, int64_t spin_ns, int asym)
{
	struct shmq__fdw *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->ctx = ctx;
	w->ops = ops;
	w->ev = ev;
	w->guard = guard;
	w->spin_ns = spin_ns;
	w->asym = asym;
	w->pid = getpid();
	/* readable from the start (FIRED): the first look is the caller's */
	w->efd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	int rc = w->efd < 0 ? -errno : start_thread(w);
	if (rc < 0) {
		if (w->efd >= 0)
			close(w->efd);
		free(w);
		return rc;
	}
	*out = w;
	return w->efd;
}

/* Drains the eventfd (the thread's last write) and hands the watch over. */
static int rearm(struct shmq__fdw *w)
{
	uint64_t n;
	(void)!read(w->efd, &n, sizeof n);
	/* seq_cst: releases seen to the thread, and the Dekker pair with
	 * wait_for_arm(): the thread sees ARMED or we see it idle */
	shmq_store(&w->state, ARMED, SHMQ_SEQ_CST);
	if (shmq_load(&w->idle, SHMQ_SEQ_CST))
		shmq_futex_wake(&w->state, 1);
	return -EAGAIN;
}

/* UNSURE: the thread made its membarrier after our announce (which it
 * still holds) and before UNSURE, which we acquired: a check now is the
 * other half of the Dekker pair. Nothing: watch on, with the same seen. */
static int confirm(struct shmq__fdw *w, shmq__fdw_check check, void *arg)
{
	int rc = check(w->ctx, arg);
	if (rc != -EAGAIN) {
		w->ops->unannounce(w->ctx, w->ev);
		/* relaxed: the thread only waits for ARMED */
		shmq_store(&w->state, FIRED, SHMQ_RELAXED);
		return rc; /* the eventfd stays readable, as FIRED says */
	}
	/* relaxed: published by the release of ARMED */
	shmq_store(&w->cheap, 0, SHMQ_RELAXED);
	return rearm(w);
}

int shmq__fdw_arm(struct shmq__fdw *w, shmq__fdw_check check, void *arg)
{
	int rc;
	/* acquire: pairs with the thread's release of tick_due */
	if (shmq_xchg(&w->tick_due, 0, SHMQ_ACQUIRE)) {
		if ((rc = w->ops->tick(w->ctx, w->ev)) < 0 ||
		    (rc = check(w->ctx, arg)) != -EAGAIN)
			return rc;
	}
	/* ARMED: nothing moved seq since, or the thread is about to fire
	 * (before its write): either way the fd is right as it is. */
	uint32_t st = settled_state(w);
	if (st == ARMED)
		return -EAGAIN;
	if (st == UNSURE)
		return confirm(w, check, arg);
	/* The announce of sleep_on (chan_wait.c): acquire pairs with the
	 * notifier's increment; the fence orders our count before our
	 * re-check (the Dekker pair with shmq__event_notify's light fence),
	 * so either the notifier sees us and moves seq, or we see what it
	 * published. With a spin budget and the asymmetric fences, the
	 * fence is a plain one and the membarrier the thread's, after its
	 * spin (watch, confirm): a membarrier costs tens of microseconds on
	 * a VM, and the answer usually moves seq while the thread spins. */
	int asym = w->asym, cheap = asym && w->spin_ns > 0;
	uint32_t seen = shmq_load(&w->ev->seq, SHMQ_ACQUIRE);
	w->ops->announce(w->ctx, w->ev);
	if (cheap)
		shmq_fence_seq_cst();
	else
		shmq_fence_heavy(asym);
	if ((rc = check(w->ctx, arg)) != -EAGAIN) {
		w->ops->unannounce(w->ctx, w->ev);
		return rc; /* the fd stays readable: it is FIRED */
	}
	/* relaxed: published by the release of ARMED in rearm() */
	shmq_store(&w->seen, seen, SHMQ_RELAXED);
	shmq_store(&w->cheap, (uint32_t)cheap, SHMQ_RELAXED);
	return rearm(w);
}

void shmq__fdw_broken(struct shmq__fdw *w)
{
	uint64_t one = 1;
	if (w) /* never armed again: readable for good */
		(void)!write(w->efd, &one, sizeof one);
}

uint64_t shmq__fdw_late(const struct shmq__fdw *w)
{
	/* relaxed: a report */
	return w ? shmq_load(&w->late, SHMQ_RELAXED) : 0;
}

void shmq__fdw_close(struct shmq__fdw *w, int broken)
{
	if (!w)
		return;
	if (w->pid != getpid()) { /* a fork child: the thread is the parent's */
		close(w->efd);
		free(w);
		return;
	}
	/* release: pairs with the thread's acquire loads of stop */
	shmq_store(&w->stop, 1, SHMQ_RELEASE);
	/* An armed thread may sleep on the shared word: move it (others
	 * sleeping there wake, look and sleep again). */
	if (shmq_load(&w->state, SHMQ_ACQUIRE) == ARMED && !broken) {
		shmq_add(&w->ev->seq, 1, SHMQ_RELEASE);
		shmq_futex_wake(&w->ev->seq, INT_MAX);
	}
	/* A thread that saw no stop and is about to sleep on state
	 * (wait_for_arm) would sleep through a wake made before its sleep:
	 * a changed state makes that sleep return at once. release: with
	 * stop; the thread's acquire loads of state pair */
	shmq_or(&w->state, STOPPING, SHMQ_RELEASE);
	shmq_futex_wake(&w->state, 1);
	pthread_join(w->thread, NULL);
	close(w->efd);
	free(w);
}

/* ---- Channel ends ---------------------------------------------------------- */

/* Whether the thread must wake the application: a peer it waits for died,
 * or the header no longer validates. Never writes shared memory: the
 * application's tick settles (chan_wait.c), on its thread. */
static int chan_tick_finds(void *ctx)
{
	struct shmq_chan *ch = ctx;
	return shmq__chan_revalidate(ch) < 0 ||
	       shmq__chan_any_dead(ch, ch->role == SHMQ_READER ? SHMQ_WRITER
	                                                       : SHMQ_READER);
}

static void chan_announce(void *ctx, struct shmq_event_shm *ev)
{
	shmq__chan_announce(ctx, ev);
}

static void chan_unannounce(void *ctx, struct shmq_event_shm *ev)
{
	shmq__chan_unannounce(ctx, ev);
}

static int chan_tick(void *ctx, struct shmq_event_shm *ev)
{
	return shmq__chan_tick(ctx, ev);
}

static const struct shmq__fdw_ops chan_ops = {
	.tick_finds = chan_tick_finds,
	.announce = chan_announce,
	.unannounce = chan_unannounce,
	.tick = chan_tick,
};

SHMQ_API int shmq_chan_fd(shmq_chan *ch)
{
	if (!ch)
		return -EINVAL;
	if (ch->fdw)
		return shmq__fdw_efd(ch->fdw);
	if (ch->broken)
		return ch->broken;
	return shmq__fdw_open(&ch->fdw, ch, &chan_ops,
	                      ch->role == SHMQ_READER ? &ch->hdr->data_ev
	                                              : &ch->hdr->space_ev,
	                      &ch->guard, ch->spin_ns, ch->asym);
}

int shmq__fdw_efd(const struct shmq__fdw *w)
{
	return w->efd;
}

/* A channel's check and its argument, as the generic check sees them. */
struct chan_check {
	int (*check)(struct shmq_chan *ch, void *arg);
	void *arg;
};

static int chan_check(void *ctx, void *arg)
{
	struct chan_check *c = arg;
	return c->check(ctx, c->arg);
}

int shmq__chan_fd_arm(struct shmq_chan *ch,
                      int (*check)(struct shmq_chan *ch, void *arg), void *arg)
{
	struct chan_check c = {check, arg};
	return shmq__fdw_arm(ch->fdw, chan_check, &c);
}

void shmq__chan_fd_close(struct shmq_chan *ch)
{
	struct shmq__fdw *w = ch->fdw;
	ch->fdw = NULL;
	shmq__fdw_close(w, ch->broken);
}
