/*
 * Classic mutual-exclusion algorithms in shared memory: Dekker, Peterson,
 * Filter (generalised Peterson), Szymanski, Lamport's bakery.
 *
 * The textbook versions assume sequential consistency. x86 gives less: a
 * load may be satisfied before an earlier store to another address leaves
 * the store buffer. A process can then announce "I want in" and read the
 * other's flag before its own announcement is visible; both read "nobody
 * wants in" and both enter. Every algorithm here keeps three rules:
 *
 *   A. Announce, fence, look. A store that announces intent is followed by
 *      shmq_fence_seq_cst() before the next protocol access. Fences are
 *      totally ordered: of two processes that each announce, fence, then
 *      read the other's word, the one whose fence comes later sees the
 *      other's announcement. This is the fence the textbook omits; on x86
 *      it is the only instruction of the protocol that costs anything.
 *      Where two announcements follow each other (Peterson, Filter: flag,
 *      then victim) each gets its fence: whoever writes the victim word
 *      after us must also see our flag, which x86 would give for free
 *      (stores stay in order) but C11 and weaker machines do not.
 *   B. Every store to a protocol word is a release: whoever reads it also
 *      sees everything its writer did before, the last critical section
 *      included. The exit store is what publishes the critical section.
 *   C. Every read of another process's word is an acquire: the reads stay
 *      in program order (Bakery reads choosing[j] before ticket[j]) and the
 *      read that lets us in pairs with the release of the previous exit.
 *
 * With A, B and C every pair of protocol accesses keeps its program order
 * on x86 and ARMv8, so the algorithms run as their proofs assume.
 * docs/design.md gives the argument for each fence.
 *
 * Shared memory is not trusted: lock/unlock copy algo and nprocs out of the
 * header once and check them; loop bounds come from that copy, and values
 * read from slots (levels, victims, states, tickets) are only compared,
 * never used as an index or a shift.
 */
#include "internal.h"
#include "layout.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

/* What lock/unlock work with: the state and checked copies of the header. */
#define SPINS_BEFORE_YIELD 256

struct algo_ctx {
	struct shmq_algo_shm *s;
	unsigned n;  /* nprocs, 1..SHMQ_ALGO_MAX_PROCS */
	unsigned me; /* < n */
	unsigned *spins; /* this lock call's waiting so far */
};

/* One round of waiting. With more processes than CPUs the one we wait for
 * may not be running: after a while, give it the CPU instead of spinning
 * out our time slice (a 4-process run on 2 CPUs went from seconds per
 * handoff to microseconds). */
static void spin(const struct algo_ctx *c)
{
	if (++*c->spins % SPINS_BEFORE_YIELD == 0)
		sched_yield();
	else
		shmq_cpu_relax();
}

static shmq_atomic32 *flag_of(const struct algo_ctx *c, unsigned j)
{
	return &c->s->slot[j].flag;
}

static uint32_t peek(const struct algo_ctx *c, unsigned j)
{
	/* acquire (rule C): pairs with the release stores to slot j's flag */
	return shmq_load(flag_of(c, j), SHMQ_ACQUIRE);
}

/* Release store to our own flag (rule B; pairs with the acquire load in
 * peek()); nothing announced, no fence. */
static void set_flag(const struct algo_ctx *c, uint32_t v)
{
	shmq_store(flag_of(c, c->me), v, SHMQ_RELEASE);
}

/* Rule A: our flag becomes v, and is visible to every process before we
 * read any other word. The fence pairs with the fence after the
 * announcement of every process whose words we are about to read. */
static void announce(const struct algo_ctx *c, uint32_t v)
{
	set_flag(c, v);
	shmq_fence_seq_cst(); /* pairs with the same fence of the others */
}

/* ---- Dekker -------------------------------------------------------------
 * Safety rests on the flags alone: each enters only after announcing its
 * flag, fencing, and reading the other's flag as 0; with the fences, both
 * cannot read 0. turn only decides who backs off (liveness), so it is read
 * masked: a garbage value still names one of the two, and cannot make both
 * back off forever. */

static int dekker_lock(const struct algo_ctx *c)
{
	unsigned other = 1 - c->me;

	announce(c, 1);
	while (peek(c, other)) {
		/* relaxed: turn is a hint; safety comes from the flags */
		if ((shmq_load(&c->s->turn, SHMQ_RELAXED) & 1) == c->me) {
			spin(c);
			continue;
		}
		set_flag(c, 0); /* back off: the other's turn */
		/* acquire: pairs with the release store of turn in
		 * dekker_unlock() */
		while ((shmq_load(&c->s->turn, SHMQ_ACQUIRE) & 1) != c->me)
			spin(c);
		announce(c, 1);
	}
	return 0;
}

static void dekker_unlock(const struct algo_ctx *c)
{
	/* release: pairs with the acquire load of turn in dekker_lock() */
	shmq_store(&c->s->turn, 1 - c->me, SHMQ_RELEASE);
	set_flag(c, 0); /* publishes the critical section */
}

/* ---- Peterson and Filter ------------------------------------------------
 * Filter is Peterson's entry repeated at levels 1..n-1: at each level the
 * last process to arrive (the victim) waits while anyone else is at that
 * level or above. Peterson is the one level of two processes, with turn as
 * its victim word. */

static int others_at_or_above(const struct algo_ctx *c, uint32_t level)
{
	for (unsigned j = 0; j < c->n; j++)
		if (j != c->me && peek(c, j) >= level)
			return 1;
	return 0;
}

static void peterson_level(const struct algo_ctx *c, uint32_t level,
                           shmq_atomic32 *victim)
{
	/* First fence: our level is visible before our victim write, so the
	 * process that writes the victim word after us, and then waits on
	 * our level, sees it (pairs with its second fence). */
	announce(c, level);
	/* release (rule B); the second fence: our victim write is visible
	 * before we read the levels, pairs with the first fence of a process
	 * whose level we read. */
	shmq_store(victim, c->me, SHMQ_RELEASE);
	shmq_fence_seq_cst(); /* pairs with the fences in announce() */
	/* acquire: pairs with the release victim store of a later entrant */
	while (others_at_or_above(c, level) &&
	       shmq_load(victim, SHMQ_ACQUIRE) == c->me)
		spin(c);
}

static int peterson_lock(const struct algo_ctx *c)
{
	peterson_level(c, 1, &c->s->turn);
	return 0;
}

static int filter_lock(const struct algo_ctx *c)
{
	/* level < n <= SHMQ_ALGO_MAX_PROCS: a bound of our own, not a value
	 * read from shared memory */
	for (uint32_t level = 1; level < c->n; level++)
		peterson_level(c, level, &c->s->victim[level]);
	return 0;
}

/* Dekker's flag, Peterson's flag, Filter's level: 0 publishes the exit. */
static void flag_unlock(const struct algo_ctx *c)
{
	set_flag(c, 0);
}

/* ---- Szymanski ----------------------------------------------------------
 * A waiting room with a door. A process announces itself (WAIT), waits for
 * the door to be open, steps into the doorway (DOOR); if others are still
 * arriving it waits in the room (ROOM) until one of them closes the door
 * (CLOSED); then it closes the door behind it and enters in slot order.
 * Every state change that is followed by reads of the others is announced
 * (rule A). The sets of states are bit masks; a garbage state outside 0..4
 * is in no set (never a shift count). */

#define SZY(s) (1u << (s))

static int szy_in(uint32_t state, uint32_t set)
{
	return state <= SHMQ_SZY_CLOSED && (set & SZY(state));
}

/* Whether every other slot in [from, to) is in set. */
static int szy_all(const struct algo_ctx *c, unsigned from, unsigned to,
                   uint32_t set)
{
	for (unsigned j = from; j < to; j++)
		if (j != c->me && !szy_in(peek(c, j), set))
			return 0;
	return 1;
}

static int szy_any(const struct algo_ctx *c, uint32_t state)
{
	for (unsigned j = 0; j < c->n; j++)
		if (j != c->me && peek(c, j) == state)
			return 1;
	return 0;
}

static void szy_await_all(const struct algo_ctx *c, unsigned from,
                          unsigned to, uint32_t set)
{
	while (!szy_all(c, from, to, set))
		spin(c);
}

static int szymanski_lock(const struct algo_ctx *c)
{
	const uint32_t open = SZY(SHMQ_SZY_IDLE) | SZY(SHMQ_SZY_WAIT) |
	                      SZY(SHMQ_SZY_ROOM);

	announce(c, SHMQ_SZY_WAIT);
	szy_await_all(c, 0, c->n, open); /* the door is open */
	announce(c, SHMQ_SZY_DOOR);
	if (szy_any(c, SHMQ_SZY_WAIT)) { /* others are still arriving */
		announce(c, SHMQ_SZY_ROOM);
		while (!szy_any(c, SHMQ_SZY_CLOSED))
			spin(c);
	}
	announce(c, SHMQ_SZY_CLOSED);
	/* lower slots that are inside leave first */
	szy_await_all(c, 0, c->me, SZY(SHMQ_SZY_IDLE) | SZY(SHMQ_SZY_WAIT));
	return 0;
}

static void szymanski_unlock(const struct algo_ctx *c)
{
	/* Higher slots in the room or the doorway must see the door closed
	 * (someone at CLOSED) before we may reopen it. */
	szy_await_all(c, c->me + 1, c->n,
	              SZY(SHMQ_SZY_IDLE) | SZY(SHMQ_SZY_WAIT) |
	                      SZY(SHMQ_SZY_CLOSED));
	set_flag(c, SHMQ_SZY_IDLE); /* publishes the critical section */
}

/* ---- Lamport's bakery ---------------------------------------------------
 * Take a ticket one above the largest in sight; enter when every process
 * with a smaller (ticket, slot) pair has left. Tickets are 64-bit and grow
 * only while the lock stays contended (they restart at 1 once every slot is
 * idle). Rule: a ticket is 1..SHMQ_ALGO_TICKET_MAX (2^62); when the
 * largest ticket in sight is already at that bound, lock returns
 * -EOVERFLOW with our slot left idle. Honest contention needs 2^62 locks
 * (146 years at 1 ns each) to get there; a corrupted slot gets there at
 * once, and the error says so instead of wrapping. */

static uint64_t bakery_max(const struct algo_ctx *c)
{
	uint64_t max = 0;
	for (unsigned j = 0; j < c->n; j++) {
		if (j == c->me)
			continue; /* ours is 0, or garbage we overwrite */
		/* acquire (rule C): pairs with the release ticket store */
		uint64_t t = shmq_load(&c->s->slot[j].ticket, SHMQ_ACQUIRE);
		max = t > max ? t : max;
	}
	return max;
}

/* Waits until slot j is not ahead of us: not choosing, and no ticket or a
 * larger (ticket, slot) pair than ours. */
static void bakery_wait(const struct algo_ctx *c, unsigned j, uint64_t mine)
{
	const struct shmq_algo_slot *o = &c->s->slot[j];
	uint64_t t;

	/* acquire: pairs with the release store of choosing = 0 in
	 * bakery_lock(); the ticket read below sees the ticket it took */
	while (shmq_load(&o->choosing, SHMQ_ACQUIRE))
		spin(c);
	/* acquire: pairs with the release ticket store (0 in unlock) */
	while ((t = shmq_load(&o->ticket, SHMQ_ACQUIRE)) != 0 &&
	       (t < mine || (t == mine && j < c->me)))
		spin(c);
}

static int bakery_lock(const struct algo_ctx *c)
{
	struct shmq_algo_slot *my = &c->s->slot[c->me];
	uint64_t max;

	/* release (rule B), then the fence of rule A: a process that reads
	 * our choosing as 0 after its own ticket fence had its ticket seen by
	 * bakery_max() below (pairs with the ticket fence) */
	shmq_store(&my->choosing, 1, SHMQ_RELEASE);
	shmq_fence_seq_cst(); /* pairs with the others' ticket fence */
	max = bakery_max(c);
	if (max >= SHMQ_ALGO_TICKET_MAX) {
		/* release: pairs with the acquire load in bakery_wait() */
		shmq_store(&my->choosing, 0, SHMQ_RELEASE);
		return -EOVERFLOW;
	}
	/* release: pairs with the acquire ticket loads in bakery_max() and
	 * bakery_wait() */
	shmq_store(&my->ticket, max + 1, SHMQ_RELEASE);
	/* release: pairs with the acquire load of choosing in bakery_wait():
	 * whoever sees us done choosing sees our ticket */
	shmq_store(&my->choosing, 0, SHMQ_RELEASE);
	/* The ticket fence (rule A): our ticket is visible before we read
	 * anyone's; pairs with the same fence of another process (two fresh
	 * tickets cannot both read the other as 0) and with its choosing
	 * fence above. */
	shmq_fence_seq_cst();
	for (unsigned j = 0; j < c->n; j++)
		if (j != c->me)
			bakery_wait(c, j, max + 1);
	return 0;
}

static void bakery_unlock(const struct algo_ctx *c)
{
	/* release: publishes the critical section; pairs with the acquire
	 * ticket load in bakery_wait() */
	shmq_store(&c->s->slot[c->me].ticket, 0, SHMQ_RELEASE);
}

/* ---- Dispatch and checks ------------------------------------------------ */

static const struct algo_ops {
	const char *name;
	int (*lock)(const struct algo_ctx *c);
	void (*unlock)(const struct algo_ctx *c);
	unsigned two; /* exactly two processes */
} ops[] = {
	[SHMQ_ALGO_DEKKER] = {"dekker", dekker_lock, dekker_unlock, 1},
	[SHMQ_ALGO_PETERSON] = {"peterson", peterson_lock, flag_unlock, 1},
	[SHMQ_ALGO_FILTER] = {"filter", filter_lock, flag_unlock, 0},
	[SHMQ_ALGO_SZYMANSKI] = {"szymanski", szymanski_lock, szymanski_unlock,
	                         0},
	[SHMQ_ALGO_BAKERY] = {"bakery", bakery_lock, bakery_unlock, 0},
};

#define NOPS (sizeof(ops) / sizeof(ops[0]))

static const struct algo_ops *algo_ops(uint32_t algo, uint32_t nprocs)
{
	if (algo == 0 || algo >= NOPS || nprocs == 0 ||
	    nprocs > SHMQ_ALGO_MAX_PROCS || (ops[algo].two && nprocs != 2))
		return NULL;
	return &ops[algo];
}

static int aligned(const void *mem)
{
	return mem && (uintptr_t)mem % _Alignof(struct shmq_algo_shm) == 0;
}

/* Checks the header once and fills c from local copies. */
static const struct algo_ops *algo_attach(void *mem, unsigned me,
                                          struct algo_ctx *c)
{
	struct shmq_algo_shm *s = mem;
	const struct algo_ops *o;

	/* acquire: pairs with the release store of magic in shmq_algo_init();
	 * the fields read after it are the ones init wrote */
	if (!aligned(mem) ||
	    shmq_load(&s->magic, SHMQ_ACQUIRE) != SHMQ_ALGO_MAGIC ||
	    shmq_load(&s->size, SHMQ_RELAXED) != sizeof(*s))
		return NULL;
	uint32_t algo = shmq_load(&s->algo, SHMQ_RELAXED);
	uint32_t n = shmq_load(&s->nprocs, SHMQ_RELAXED);
	o = algo_ops(algo, n);
	if (!o || me >= n)
		return NULL;
	*c = (struct algo_ctx){s, n, me, c->spins};
	return o;
}

SHMQ_API size_t shmq_algo_size(void)
{
	return sizeof(struct shmq_algo_shm);
}

SHMQ_API const char *shmq_algo_name(int algo)
{
	return algo > 0 && (size_t)algo < NOPS ? ops[algo].name : NULL;
}

SHMQ_API int shmq_algo_from_name(const char *name)
{
	for (size_t i = 1; name && i < NOPS; i++)
		if (!strcmp(name, ops[i].name))
			return (int)i;
	return -EINVAL;
}

SHMQ_API int shmq_algo_init(void *mem, size_t len, int algo, unsigned nprocs)
{
	struct shmq_algo_shm *s = mem;

	if (!aligned(mem) || len < sizeof(*s) ||
	    !algo_ops((uint32_t)algo, nprocs))
		return -EINVAL;
	/* Nobody may use the state yet: plain zeroing is enough. */
	memset(s, 0, sizeof(*s));
	shmq_store(&s->size, sizeof(*s), SHMQ_RELAXED);
	shmq_store(&s->algo, (uint32_t)algo, SHMQ_RELAXED);
	shmq_store(&s->nprocs, nprocs, SHMQ_RELAXED);
	/* release: pairs with the acquire load in algo_attach(); everything
	 * above is visible to whoever sees the magic */
	shmq_store(&s->magic, SHMQ_ALGO_MAGIC, SHMQ_RELEASE);
	return 0;
}

SHMQ_API int shmq_algo_lock(void *mem, unsigned me)
{
	unsigned spins = 0;
	struct algo_ctx c = {.spins = &spins};
	const struct algo_ops *o = algo_attach(mem, me, &c);
	return o ? o->lock(&c) : -EINVAL;
}

SHMQ_API int shmq_algo_unlock(void *mem, unsigned me)
{
	unsigned spins = 0;
	struct algo_ctx c = {.spins = &spins};
	const struct algo_ops *o = algo_attach(mem, me, &c);
	if (!o)
		return -EINVAL;
	o->unlock(&c);
	return 0;
}
