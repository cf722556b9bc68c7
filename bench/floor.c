/*
 * The floors: the same job done with nothing in the way, the yardsticks of
 * every other row.
 *
 * Round trip: one box per direction in shared memory, a count word on its
 * own cache line and the message after it. The sender copies the message
 * in and bumps the count; the receiver reads the message where it lies.
 * The answer itself says the box is free again, so nothing else moves.
 * Messages up to 1 KiB always use the same slot (hot lines: a cache-line
 * ping-pong); bigger ones go round a 1 MiB ring, as in a queue, because
 * rewriting lines the other core still holds costs more than lines it has
 * let go (measured: 4 KiB round trips 25% faster).
 *   floor-spin        the receiver spins on the count (busy-wait's floor)
 *   floor-futex       it sleeps in futex(2) at once; every send wakes
 *   floor-spin-futex  it spins 50 us (the channels' default budget), then
 *                     sleeps; a send wakes only a sleeper (blocking floor)
 * Throughput: memcpy, one process copying each message into one buffer.
 */
#include "bench.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define SPIN_NS 50000 /* as DEFAULT_SPIN_NS in src/chan_open.c */

struct box {
	shmq_atomic32 seq;     /* messages put in; the sender writes it */
	shmq_atomic32 waiters; /* floor-spin-futex: receivers going to sleep */
	unsigned char pad[56];
	/* the message follows, on the next cache line */
};

#define ONE_SLOT 1024    /* messages up to this stay in one slot */
#define RING (1u << 20)  /* bigger ones go round this many bytes */

static size_t slot_size(size_t size)
{
	return (size + 63) & ~(size_t)63;
}

static size_t slots(size_t size)
{
	size_t n = RING / slot_size(size);
	return size <= ONE_SLOT || !n ? 1 : n;
}

/* Slot of message n (counted from 0) in box b. */
static char *slot(struct box *b, uint64_t n, size_t size)
{
	return (char *)(b + 1) + (n % slots(size)) * slot_size(size);
}

static size_t stride(size_t size)
{
	return sizeof(struct box) + slots(size) * slot_size(size);
}

static struct box *box_at(const struct bench_link *l, int dir)
{
	return (struct box *)((char *)l->shm + (size_t)dir * stride(l->size));
}

static int box_setup(struct bench_link *l)
{
	l->shm_len = 2 * stride(l->size);
	l->shm = mmap(NULL, l->shm_len, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l->shm != MAP_FAILED)
		return 0;
	l->shm = NULL;
	return -errno;
}

static void box_teardown(struct bench_link *l)
{
	if (l->shm)
		munmap(l->shm, l->shm_len);
}

static int box_open(struct bench_end *e)
{
	e->txh = e->tx >= 0 ? box_at(e->l, e->tx) : NULL;
	e->rxh = e->rx >= 0 ? box_at(e->l, e->rx) : NULL;
	return 0;
}

static int nothing_to_close(struct bench_end *e)
{
	(void)e;
	return 0;
}

static struct box *put(struct bench_end *e, const void *msg)
{
	struct box *b = e->txh;
	memcpy(slot(b, e->txn, e->size), msg, e->size);
	/* release: the message before the count; pairs with the acquire
	 * load in arrived() */
	shmq_store(&b->seq, (uint32_t)++e->txn, SHMQ_RELEASE);
	return b;
}

static int arrived(struct bench_end *e)
{
	struct box *b = e->rxh;
	/* acquire: pairs with the release in put(); the message is in */
	return shmq_load(&b->seq, SHMQ_ACQUIRE) != (uint32_t)e->rxn;
}

static ssize_t take(struct bench_end *e, const void **msg)
{
	*msg = slot(e->rxh, e->rxn++, e->size);
	return (ssize_t)e->size;
}

static int spin_send(struct bench_end *e, const void *msg)
{
	put(e, msg);
	return 0;
}

static ssize_t spin_recv(struct bench_end *e, const void **msg)
{
	while (!arrived(e))
		shmq_cpu_relax();
	return take(e, msg);
}

static int futex_send(struct bench_end *e, const void *msg)
{
	shmq_futex_wake(&put(e, msg)->seq, 1);
	return 0;
}

static ssize_t futex_recv(struct bench_end *e, const void **msg)
{
	struct box *b = e->rxh;
	while (!arrived(e))
		shmq_futex_wait(&b->seq, (uint32_t)e->rxn, NULL);
	return take(e, msg);
}

static int spin_futex_send(struct bench_end *e, const void *msg)
{
	struct box *b = put(e, msg);
	/* seq_cst: the count before the look at waiters; the Dekker pair
	 * with the fence in doze(), so a sleeper is never missed */
	shmq_fence_seq_cst();
	if (shmq_load(&b->waiters, SHMQ_RELAXED))
		shmq_futex_wake(&b->seq, 1);
	return 0;
}

static void doze(struct bench_end *e)
{
	struct box *b = e->rxh;
	while (!arrived(e)) {
		shmq_add(&b->waiters, 1, SHMQ_RELAXED);
		/* seq_cst: our count before our look at seq; pairs with the
		 * fence in spin_futex_send() */
		shmq_fence_seq_cst();
		if (!arrived(e))
			shmq_futex_wait(&b->seq, (uint32_t)e->rxn, NULL);
		shmq_sub(&b->waiters, 1, SHMQ_RELAXED);
	}
}

static ssize_t spin_futex_recv(struct bench_end *e, const void **msg)
{
	int64_t until = bench_now_ns() + SPIN_NS;
	for (unsigned i = 1; !arrived(e); i++) {
		shmq_cpu_relax();
		if (!(i & 63) && bench_now_ns() >= until) {
			doze(e);
			break;
		}
	}
	return take(e, msg);
}

static int memcpy_setup(struct bench_link *l)
{
	(void)l;
	return 0;
}

static void memcpy_teardown(struct bench_link *l)
{
	(void)l;
}

static int memcpy_open(struct bench_end *e)
{
	(void)e;
	return 0;
}

/* Copies into the receive buffer; close() checks the last copy. */
static int memcpy_send(struct bench_end *e, const void *msg)
{
	memcpy(e->buf, msg, e->size);
	e->last = msg;
	return 0;
}

static int memcpy_close(struct bench_end *e)
{
	return e->last && memcmp(e->buf, e->last, e->size) ? -EBADMSG : 0;
}

#define BOXES(send_fn, recv_fn)                                              \
	.cls = "floor", .setup = box_setup, .open = box_open,                \
	.send = send_fn, .recv = recv_fn, .close = nothing_to_close,         \
	.teardown = box_teardown

const struct bench_transport bench_floor_spin = {
	.name = "floor-spin", .flags = BT_BUSY | BT_NO_TPUT,
	BOXES(spin_send, spin_recv),
};

const struct bench_transport bench_floor_futex = {
	.name = "floor-futex", .flags = BT_NO_TPUT,
	BOXES(futex_send, futex_recv),
};

const struct bench_transport bench_floor_spin_futex = {
	.name = "floor-spin-futex", .flags = BT_NO_TPUT,
	BOXES(spin_futex_send, spin_futex_recv),
};

const struct bench_transport bench_memcpy = {
	.name = "memcpy", .cls = "floor", .flags = BT_NO_RTT | BT_SOLO,
	.note = {NULL, "1 process"},
	.setup = memcpy_setup, .open = memcpy_open, .send = memcpy_send,
	.close = memcpy_close, .teardown = memcpy_teardown,
};
