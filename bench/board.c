/*
 * Boards: round trips, and reads rows (a board keeps the newest value, so
 * a reader does not get every message, which throughput rows count; a
 * reads row has one process set entry 0 at full speed while the other gets
 * the newest value in a loop, through .latest):
 *   shmq-board          a ping-pong through two entries of one board: set
 *                       entry d, the other process waits for entry d to
 *                       change (50 us spin, then futex) and gets it; half
 *                       the round trip is the time a reader takes to see
 *                       an update
 *   board-mutex-struct  the same through a struct per direction in shared
 *                       memory under a shmq_mutex (a sequence word, the
 *                       length, the value): the writer locks, copies and
 *                       signals an event; the reader spins 50 us on the
 *                       sequence, then sleeps on the event, and copies
 *                       under the lock
 *                       (reads: the reader locks, copies, unlocks)
 * Values of up to 1 MiB (SHMQ_BOARD_MAX_VALUE); larger sizes skip.
 */
#include "bench.h"

#include "shmq.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define SPIN_NS 50000 /* the board's spin before it sleeps */

/* ---- shmq-board ------------------------------------------------------------ */

static int board_setup(struct bench_link *l)
{
	struct shmq_board_opts o = {.entries = 2,
	                            .value_size = (uint32_t)l->size};
	char loc[80];
	shmq_board *b;
	if (l->size > SHMQ_BOARD_MAX_VALUE) {
		snprintf(l->why, sizeof(l->why), "a board value is 1 MiB at most");
		return BENCH_SKIP;
	}
	snprintf(loc, sizeof(loc), "posix:%s", l->name[0]);
	int rc = shmq_board_create(&b, loc, &o);
	if (rc < 0) {
		snprintf(l->why, sizeof(l->why), "%s", shmq_strerror(rc));
		return rc;
	}
	shmq_board_close(b);
	return 0;
}

static void board_teardown(struct bench_link *l)
{
	char loc[80];
	snprintf(loc, sizeof(loc), "posix:%s", l->name[0]);
	shmq_board_unlink(loc);
}

static int board_open(struct bench_end *e)
{
	char loc[80];
	snprintf(loc, sizeof(loc), "posix:%s", e->l->name[0]);
	e->rxn = 0;
	return shmq_board_open((shmq_board **)&e->txh, loc, NULL);
}

static int board_send(struct bench_end *e, const void *msg)
{
	return shmq_board_set(e->txh, (uint32_t)e->tx, msg, e->size);
}

static ssize_t board_recv(struct bench_end *e, const void **msg)
{
	uint64_t seq;
	int rc = shmq_board_wait(e->txh, (uint32_t)e->rx, e->rxn);
	if (rc < 0)
		return rc;
	ssize_t n = shmq_board_get(e->txh, (uint32_t)e->rx, e->buf, e->size,
	                           &seq);
	e->rxn = seq;
	*msg = e->buf;
	return n;
}

static ssize_t board_latest(struct bench_end *e, const void **msg)
{
	*msg = e->buf;
	return shmq_board_get(e->txh, (uint32_t)e->rx, e->buf, e->size, NULL);
}

static int board_close(struct bench_end *e)
{
	return shmq_board_close(e->txh);
}

const struct bench_transport bench_shmq_board = {
	.name = "shmq-board", .cls = "shmq", .flags = BT_NO_TPUT,
	.note = {"spin, futex", ""},
	.setup = board_setup, .open = board_open, .send = board_send,
	.recv = board_recv, .latest = board_latest, .close = board_close,
	.teardown = board_teardown,
};

/* ---- board-mutex-struct ----------------------------------------------------- */

struct locked {
	shmq_mutex lock;
	shmq_event changed;
	shmq_atomic64 seq; /* written under the lock; spun on without it */
	uint64_t len;
	unsigned char value[]; /* l->size bytes */
};

static size_t locked_size(size_t size)
{
	return (sizeof(struct locked) + size + 63) & ~(size_t)63;
}

static struct locked *locked_at(const struct bench_link *l, int dir)
{
	return (struct locked *)((char *)l->shm +
	                         (size_t)dir * locked_size(l->size));
}

static int locked_setup(struct bench_link *l)
{
	if (l->size > SHMQ_BOARD_MAX_VALUE) {
		snprintf(l->why, sizeof(l->why), "as shmq-board: 1 MiB at most");
		return BENCH_SKIP;
	}
	l->shm_len = 2 * locked_size(l->size);
	l->shm = mmap(NULL, l->shm_len, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l->shm == MAP_FAILED) {
		l->shm = NULL;
		return -errno;
	}
	for (int d = 0; d < 2; d++) {
		shmq_mutex_init(&locked_at(l, d)->lock);
		shmq_event_init(&locked_at(l, d)->changed);
	}
	return 0;
}

static void locked_teardown(struct bench_link *l)
{
	if (l->shm)
		munmap(l->shm, l->shm_len);
}

static int locked_open(struct bench_end *e)
{
	e->rxn = 0;
	return 0;
}

static int locked_send(struct bench_end *e, const void *msg)
{
	struct locked *s = locked_at(e->l, e->tx);
	int rc = shmq_mutex_lock(&s->lock);
	if (rc < 0)
		return rc;
	memcpy(s->value, msg, e->size);
	s->len = e->size;
	/* relaxed: the unlock releases it with the value */
	shmq_store(&s->seq, shmq_load(&s->seq, SHMQ_RELAXED) + 1, SHMQ_RELAXED);
	shmq_mutex_unlock(&s->lock);
	return shmq_event_signal(&s->changed);
}

static ssize_t locked_recv(struct bench_end *e, const void **msg)
{
	struct locked *s = locked_at(e->l, e->rx);
	int64_t until = bench_now_ns() + SPIN_NS;
	/* relaxed: a hint; the copy is made under the lock */
	while (shmq_load(&s->seq, SHMQ_RELAXED) == e->rxn &&
	       bench_now_ns() < until)
		shmq_cpu_relax();
	for (;;) {
		uint32_t seen = shmq_event_seq(&s->changed);
		int rc = shmq_mutex_lock(&s->lock);
		if (rc < 0)
			return rc;
		uint64_t seq = shmq_load(&s->seq, SHMQ_RELAXED);
		if (seq != e->rxn) {
			memcpy(e->buf, s->value, s->len);
			e->rxn = seq;
			shmq_mutex_unlock(&s->lock);
			*msg = e->buf;
			return (ssize_t)e->size;
		}
		shmq_mutex_unlock(&s->lock);
		shmq_event_wait(&s->changed, seen);
	}
}

static ssize_t locked_latest(struct bench_end *e, const void **msg)
{
	struct locked *s = locked_at(e->l, e->rx);
	int rc = shmq_mutex_lock(&s->lock);
	if (rc < 0)
		return rc;
	uint64_t len = s->len;
	if (len <= e->size)
		memcpy(e->buf, s->value, len);
	shmq_mutex_unlock(&s->lock);
	*msg = e->buf;
	return len <= e->size ? (ssize_t)len : -EBADMSG;
}

static int locked_close(struct bench_end *e)
{
	(void)e;
	return 0;
}

const struct bench_transport bench_board_mutex = {
	.name = "board-mutex-struct", .cls = "shmq", .flags = BT_NO_TPUT,
	.note = {"spin, futex", ""},
	.setup = locked_setup, .open = locked_open, .send = locked_send,
	.recv = locked_recv, .latest = locked_latest, .close = locked_close,
	.teardown = locked_teardown,
};
