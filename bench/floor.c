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
 *   floor-spin-ref    as floor-spin, but the message lies apart, in a pool
 *                     of 16 slots (on 128 B, or a page from 4 KiB) gone
 *                     round in turn, and the count's line says which slot:
 *                     the receiver learns where the bytes are before it
 *                     can load them (the floor of passing by reference,
 *                     as a samples channel does)
 * Throughput:
 *   memcpy            one process copying each message into one buffer
 *   floor-checks      one process doing only the harness's work: it stamps
 *                     each message and checks and sums it where it lies
 *                     (what every row pays besides its transport)
 *   floor-ring        a plain ring: one producer, one consumer, 64-bit
 *                     free-running tail and head on their own lines, fixed
 *                     slots; memcpy in, memcpy out (as the copying channels);
 *                     the producer publishes every message, the consumer
 *                     hands space back every quarter ring or when it finds
 *                     the ring empty (the floor of every one-way row)
 *   floor-ring-batch  the same, publishing every 32 messages (or when the
 *                     ring is full): an upper bound that costs latency
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SPIN_NS 50000 /* as DEFAULT_SPIN_NS in src/chan_open.c */

struct box {
	shmq_atomic32 seq;     /* messages put in; the sender writes it */
	shmq_atomic32 waiters; /* floor-spin-futex: receivers going to sleep */
	shmq_atomic32 at;      /* floor-spin-ref: the slot of the last one */
	unsigned char pad[52];
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

/* len bytes of memory shared with the children, in l->shm. */
static int shm_map(struct bench_link *l, size_t len)
{
	l->shm_len = len;
	l->shm = mmap(NULL, len, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l->shm != MAP_FAILED)
		return 0;
	l->shm = NULL;
	return -errno;
}

static int box_setup(struct bench_link *l)
{
	return shm_map(l, 2 * stride(l->size));
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

/* floor-spin-ref: a box on a page of its own, then REF_SLOTS slots. */
#define REF_SLOTS 16u
#define PAGE 4096u

static size_t ref_slot_size(size_t size)
{
	size_t unit = size < PAGE ? 128 : PAGE;
	return (size + unit - 1) / unit * unit;
}

static size_t ref_stride(size_t size)
{
	return PAGE + REF_SLOTS * ref_slot_size(size);
}

static int ref_setup(struct bench_link *l)
{
	return shm_map(l, 2 * ref_stride(l->size));
}

static int ref_open(struct bench_end *e)
{
	char *base = e->l->shm;
	e->txh = e->tx >= 0 ? base + (size_t)e->tx * ref_stride(e->size) : NULL;
	e->rxh = e->rx >= 0 ? base + (size_t)e->rx * ref_stride(e->size) : NULL;
	return 0;
}

static char *ref_slot(struct box *b, uint32_t at, size_t size)
{
	return (char *)b + PAGE + (at % REF_SLOTS) * ref_slot_size(size);
}

static int ref_send(struct bench_end *e, const void *msg)
{
	struct box *b = e->txh;
	uint32_t at = (uint32_t)(e->txn % REF_SLOTS);
	memcpy(ref_slot(b, at, e->size), msg, e->size);
	/* relaxed: published by the release of seq */
	shmq_store(&b->at, at, SHMQ_RELAXED);
	/* release: the message and its slot before the count; pairs with
	 * the acquire load in arrived() */
	shmq_store(&b->seq, (uint32_t)++e->txn, SHMQ_RELEASE);
	return 0;
}

static ssize_t ref_recv(struct bench_end *e, const void **msg)
{
	struct box *b = e->rxh;
	while (!arrived(e))
		shmq_cpu_relax();
	e->rxn++;
	/* relaxed: ordered by the acquire of seq in arrived() */
	*msg = ref_slot(b, shmq_load(&b->at, SHMQ_RELAXED), e->size);
	return (ssize_t)e->size;
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

/* ---- The plain ring ------------------------------------------------------ */

#define RING_BATCH 32 /* floor-ring-batch publishes every this many */

struct ring {
	shmq_atomic64 tail;     /* messages put in: the producer writes it */
	unsigned char pad0[56];
	shmq_atomic64 head;     /* messages taken out: the consumer writes it */
	unsigned char pad1[56];
	/* the slots follow */
};

/* One end's view: never shared. */
struct ring_end {
	struct ring *r;
	unsigned char *slots;
	uint64_t nslots, n;  /* slots (a power of two), messages moved */
	uint64_t seen;       /* the other side's index, as last loaded */
	uint64_t published;  /* our index, as last stored */
	unsigned batch;      /* publish every this many (1: every message) */
};

/* Slots of at least 4 messages, about 1 MiB in all (as spsc's ring). */
static uint64_t ring_slots(size_t size)
{
	uint64_t n = 4;
	while (n * slot_size(size) < RING)
		n <<= 1;
	return n;
}

static int ring_setup(struct bench_link *l)
{
	return shm_map(l, sizeof(struct ring) +
	                      ring_slots(l->size) * slot_size(l->size));
}

static int ring_open_end(struct bench_end *e, unsigned batch)
{
	struct ring_end *re = calloc(1, sizeof(*re));
	if (!re)
		return -ENOMEM;
	re->r = e->l->shm;
	re->slots = (unsigned char *)(re->r + 1);
	re->nslots = ring_slots(e->size);
	re->batch = batch;
	if (e->tx >= 0)
		e->txh = re;
	else
		e->rxh = re;
	return 0;
}

static int ring_open(struct bench_end *e)
{
	return ring_open_end(e, 1);
}

static int ring_batch_open(struct bench_end *e)
{
	return ring_open_end(e, RING_BATCH);
}

static unsigned char *ring_slot(const struct ring_end *re, size_t size)
{
	return re->slots + (re->n & (re->nslots - 1)) * slot_size(size);
}

static void ring_publish_tail(struct ring_end *re)
{
	/* release: the messages before the tail; pairs with the acquire
	 * load in ring_recv() */
	shmq_store(&re->r->tail, re->n, SHMQ_RELEASE);
	re->published = re->n;
}

static void ring_publish_head(struct ring_end *re)
{
	/* release: our copies out before the slots are reused; pairs with
	 * the acquire load in ring_send() */
	shmq_store(&re->r->head, re->n, SHMQ_RELEASE);
	re->published = re->n;
}

static int ring_send(struct bench_end *e, const void *msg)
{
	struct ring_end *re = e->txh;
	if (re->n - re->seen == re->nslots) {
		if (re->published != re->n) /* the consumer may wait on it */
			ring_publish_tail(re);
		/* acquire: pairs with the release in ring_publish_head() */
		while (re->n - (re->seen = shmq_load(&re->r->head,
		                                     SHMQ_ACQUIRE)) ==
		       re->nslots)
			shmq_cpu_relax();
	}
	memcpy(ring_slot(re, e->size), msg, e->size);
	re->n++;
	if (re->n - re->published >= re->batch)
		ring_publish_tail(re);
	return 0;
}

static ssize_t ring_recv(struct bench_end *e, const void **msg)
{
	struct ring_end *re = e->rxh;
	while (re->n == re->seen) {
		if (re->published != re->n) /* empty: give all space back */
			ring_publish_head(re);
		/* acquire: pairs with the release in ring_publish_tail() */
		re->seen = shmq_load(&re->r->tail, SHMQ_ACQUIRE);
		if (re->n == re->seen)
			shmq_cpu_relax();
	}
	memcpy(e->buf, ring_slot(re, e->size), e->size);
	*msg = e->buf;
	if (++re->n - re->published >= re->nslots / 4)
		ring_publish_head(re);
	return (ssize_t)e->size;
}

static int ring_close(struct bench_end *e)
{
	struct ring_end *re = e->txh;
	if (re && re->published != re->n) /* the batch's last messages */
		ring_publish_tail(re);
	free(e->txh);
	free(e->rxh);
	return 0;
}

/* ---- The harness alone --------------------------------------------------- */

/* Hands the message back as it is: the receiver checks it in place. */
static int checks_send(struct bench_end *e, const void *msg)
{
	e->last = msg;
	return 0;
}

static ssize_t checks_recv(struct bench_end *e, const void **msg)
{
	*msg = e->last;
	return (ssize_t)e->size;
}

static int checks_close(struct bench_end *e)
{
	(void)e;
	return 0;
}

#define BOXES(send_fn, recv_fn)                                              \
	.cls = "floor", .setup = box_setup, .open = box_open,                \
	.send = send_fn, .recv = recv_fn, .close = nothing_to_close,         \
	.teardown = box_teardown

const struct bench_transport bench_floor_spin = {
	.name = "floor-spin", .flags = BT_BUSY | BT_NO_TPUT,
	BOXES(spin_send, spin_recv),
};

const struct bench_transport bench_floor_spin_ref = {
	.name = "floor-spin-ref", .flags = BT_BUSY | BT_NO_TPUT,
	.cls = "floor", .setup = ref_setup, .open = ref_open,
	.send = ref_send, .recv = ref_recv, .close = nothing_to_close,
	.teardown = box_teardown,
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

const struct bench_transport bench_floor_checks = {
	.name = "floor-checks", .cls = "floor", .flags = BT_NO_RTT | BT_LOOP,
	.note = {NULL, "harness only"},
	.setup = memcpy_setup, .open = memcpy_open, .send = checks_send,
	.recv = checks_recv, .close = checks_close,
	.teardown = memcpy_teardown,
};

#define RING_ROW(open_fn)                                                        \
	.cls = "floor", .flags = BT_NO_RTT, .setup = ring_setup,             \
	.open = open_fn, .send = ring_send, .recv = ring_recv,               \
	.close = ring_close, .teardown = box_teardown

const struct bench_transport bench_floor_ring = {
	.name = "floor-ring", .note = {NULL, "1x1"}, RING_ROW(ring_open),
};

const struct bench_transport bench_floor_ring_batch = {
	.name = "floor-ring-batch", .note = {NULL, "1x1, batch 32"},
	RING_ROW(ring_batch_open),
};
