/*
 * shmq's channels, used the way the API documents them:
 *   shmq-spsc           busy-wait: send/recv with a spin budget of an hour,
 *                       never sleeps
 *   shmq-spsc-blocking  send/recv with the default spin budget, then futex
 *   shmq-spsc-epoll     as blocking, but the reader is an epoll loop on the
 *                       channel's fd (shmq_chan_fd): try_recv until -EAGAIN
 *                       (which arms the fd), then epoll_wait
 *   shmq-spsc-epoll-spin  a latency-bound loop: first polls the channel
 *                       for its spin budget (recv_timed, a deadline 50 us
 *                       ahead: it spins, never sleeps), then as
 *                       shmq-spsc-epoll
 *   shmq-spsc-batch     as shmq-spsc, the writer publishing every 32
 *                       messages (opts.batch; throughput only)
 *   shmq-spsc-zerocopy  reserve/commit and peek/release, busy (a spin budget
 *                       of an hour); the writer still writes every byte
 *                       into the ring, the reader reads them where they lie
 *   shmq-mpmc           2 writers x 2 readers (round trip: 1x1), blocking
 *   shmq-broadcast      1 writer -> 2 readers, policy block (round trip:
 *                       1x1), blocking; -x1, -x4: 1 -> 1 and 1 -> 4
 *   shmq-samples        1 writer -> 2 readers, policy block, zero copy on
 *                       both sides: the writer loans a sample (reserve),
 *                       writes every byte into it and commits; each
 *                       reader reads the bytes where they lie (peek) and
 *                       releases; -x1, -x4: 1 -> 1 and 1 -> 4. Throughput
 *                       with the default spin budget (the readers share 2
 *                       CPUs with the writer); round trip (1x1) busy, as
 *                       shmq-spsc-zerocopy, which it is compared with
 * Geometry: the library's defaults, grown so that a ring holds 4 messages
 * (spsc), or fewer slots for big messages (mpmc, broadcast: up to 8 MiB of
 * slots; samples: the same bytes, at least 8 samples: 64 MiB at 8 MiB).
 * Both sides create each channel with SHMQ_OPEN_OK; the last close
 * removes it, and teardown removes what a dead process left.
 */
#include "bench.h"

#include "shmq.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define BUSY_SPIN_NS (3600 * 1000000000LL)
#define SLOT_BUDGET (8u << 20) /* mpmc/broadcast ring bytes, at most */
#define SPSC_DEFAULT (1u << 20) /* the library's default ring */
#define SPIN_FIRST_NS 50000 /* epoll-spin: the library's default budget */
#define POOL_MIN 8u /* samples: 4 readers x hold 1 + the loan + slack */
#define PAGE 4096u

/* The memory of a broadcast ring of the same size (SLOT_BUDGET, or 8
 * slots), so that both pay the same first-touch page faults (costly in a
 * VM: a pool 8 times larger than the ring was still faulting its first
 * lap after a 0.25 s warm-up): up to 1024 samples of a page at least, at
 * least POOL_MIN (>= 4 readers * hold 1 + 2): 64 MiB at 8 MiB. */
static size_t pool_samples(size_t size)
{
	size_t stride = (size + PAGE - 1) / PAGE * PAGE, n = 1024;
	while (n > POOL_MIN && n * stride > SLOT_BUDGET)
		n >>= 1;
	return n;
}

static void chan_opts(const struct bench_link *l, int kind, int64_t spin,
                      struct shmq_chan_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->flags = SHMQ_OPEN_OK;
	o->spin_ns = spin;
	o->policy = SHMQ_POLICY_BLOCK;
	if (kind == SHMQ_CHAN_SPSC) {
		size_t ring = 1;
		while (ring < 4 * (l->size + 8))
			ring <<= 1;
		o->capacity = ring > SPSC_DEFAULT ? ring : 0;
		return;
	}
	o->msg_size = l->size;
	if (kind == SHMQ_CHAN_SAMPLES) {
		o->capacity = pool_samples(l->size);
		return;
	}
	size_t slots = 1024;
	while (slots > 8 && slots * l->size > SLOT_BUDGET)
		slots >>= 1;
	o->capacity = slots;
}

static int open_dir(struct bench_end *e, int dir, int role,
                    const struct shmq_chan_opts *o, void **h)
{
	char loc[80];
	shmq_chan *ch = NULL;
	snprintf(loc, sizeof(loc), "posix:%s", e->l->name[dir]);
	int rc = shmq_chan_create(&ch, loc, role, o);
	*h = ch;
	return rc;
}

static int open_ends(struct bench_end *e, int kind, int64_t spin)
{
	struct shmq_chan_opts o;
	int rc = 0;
	chan_opts(e->l, kind, spin, &o);
	if (e->tx >= 0)
		rc = open_dir(e, e->tx, SHMQ_WRITER, &o, &e->txh);
	if (rc == 0 && e->rx >= 0)
		rc = open_dir(e, e->rx, SHMQ_READER, &o, &e->rxh);
	return rc;
}

static int spsc_busy_open(struct bench_end *e)
{
	return open_ends(e, SHMQ_CHAN_SPSC, BUSY_SPIN_NS);
}

/* The writer publishes every BATCH messages (opts.batch): as
 * floor-ring-batch, a throughput mode that costs latency. */
#define BATCH 32

static int spsc_batch_open(struct bench_end *e)
{
	struct shmq_chan_opts o;
	int rc = 0;
	chan_opts(e->l, SHMQ_CHAN_SPSC, BUSY_SPIN_NS, &o);
	if (e->rx >= 0)
		rc = open_dir(e, e->rx, SHMQ_READER, &o, &e->rxh);
	o.batch = BATCH;
	if (rc == 0 && e->tx >= 0)
		rc = open_dir(e, e->tx, SHMQ_WRITER, &o, &e->txh);
	return rc;
}

static int spsc_open(struct bench_end *e)
{
	return open_ends(e, SHMQ_CHAN_SPSC, -1);
}

static int zerocopy_open(struct bench_end *e)
{
	return open_ends(e, SHMQ_CHAN_SPSC, BUSY_SPIN_NS);
}

static int mpmc_open(struct bench_end *e)
{
	return open_ends(e, SHMQ_CHAN_MPMC, -1);
}

static int bcast_open(struct bench_end *e)
{
	return open_ends(e, SHMQ_CHAN_BROADCAST, -1);
}

/* Round trips busy (as zerocopy); throughput with the default budget. */
static int samples_open(struct bench_end *e)
{
	return open_ends(e, SHMQ_CHAN_SAMPLES,
	                 e->l->metric == BENCH_RTT ? BUSY_SPIN_NS : -1);
}

/* The end of the stream (all writers closed) is 0 for run.c. */
static ssize_t eof_is_0(ssize_t n)
{
	return n == -EPIPE ? 0 : n;
}

static int chan_send(struct bench_end *e, const void *msg)
{
	return shmq_chan_send(e->txh, msg, e->size);
}

static ssize_t chan_recv(struct bench_end *e, const void **msg)
{
	*msg = e->buf;
	return eof_is_0(shmq_chan_recv(e->rxh, e->buf, e->size));
}

static int zerocopy_send(struct bench_end *e, const void *msg)
{
	void *p;
	int rc = shmq_chan_reserve(e->txh, e->size, &p);
	if (rc < 0)
		return rc;
	memcpy(p, msg, e->size);
	return shmq_chan_commit(e->txh, e->size);
}

static ssize_t zerocopy_recv(struct bench_end *e, const void **msg)
{
	return eof_is_0(shmq_chan_peek(e->rxh, msg));
}

static int zerocopy_done(struct bench_end *e)
{
	return shmq_chan_release(e->rxh);
}

static int chan_close(struct bench_end *e)
{
	int a = e->txh ? shmq_chan_close(e->txh) : 0;
	int b = e->rxh ? shmq_chan_close(e->rxh) : 0;
	e->txh = e->rxh = NULL;
	return a < 0 ? a : b;
}

/* The receiving end's fd in an epoll set of its own: e->in. */
static int epoll_open(struct bench_end *e)
{
	int rc = open_ends(e, SHMQ_CHAN_SPSC, -1);
	if (rc < 0 || !e->rxh)
		return rc;
	int fd = shmq_chan_fd(e->rxh);
	if (fd < 0)
		return fd;
	if ((e->in = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN};
	return epoll_ctl(e->in, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* What an event loop does: take what is there; at -EAGAIN (the fd is
 * armed) sleep in epoll_wait until it polls readable. */
static ssize_t epoll_recv(struct bench_end *e, const void **msg)
{
	struct epoll_event ev;
	ssize_t n;
	*msg = e->buf;
	while ((n = shmq_chan_try_recv(e->rxh, e->buf, e->size)) == -EAGAIN)
		if (epoll_wait(e->in, &ev, 1, -1) < 0 && errno != EINTR)
			return -errno;
	return eof_is_0(n);
}

/* A loop that polls the channel before it sleeps: an arm costs a
 * membarrier (the heavy fence of the waiter's announce), which a reply
 * that comes within the spin budget never pays. */
static ssize_t epoll_spin_recv(struct bench_end *e, const void **msg)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_nsec += SPIN_FIRST_NS;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	ssize_t n = shmq_chan_recv_timed(e->rxh, e->buf, e->size, &dl);
	if (n == -ETIMEDOUT)
		return epoll_recv(e, msg);
	*msg = e->buf;
	return eof_is_0(n);
}

static int epoll_close(struct bench_end *e)
{
	if (e->in >= 0)
		close(e->in);
	e->in = -1;
	return chan_close(e);
}

static int chan_setup(struct bench_link *l)
{
	(void)l; /* the processes create the channels: names in l->name */
	return 0;
}

/* A process that died left its channel: remove the name. */
static void chan_teardown(struct bench_link *l)
{
	char loc[80];
	for (int d = 0; d < 2; d++) {
		snprintf(loc, sizeof(loc), "posix:%s", l->name[d]);
		shmq_chan_unlink(loc);
	}
}

#define CHAN(open_fn, send_fn, recv_fn)                                      \
	.cls = "shmq", .setup = chan_setup, .open = open_fn,                 \
	.send = send_fn, .recv = recv_fn, .close = chan_close,               \
	.teardown = chan_teardown

const struct bench_transport bench_shmq_spsc = {
	.name = "shmq-spsc", .flags = BT_BUSY,
	.note = {"busy-wait", "busy-wait"},
	CHAN(spsc_busy_open, chan_send, chan_recv),
};

const struct bench_transport bench_shmq_spsc_batch = {
	.name = "shmq-spsc-batch", .flags = BT_BUSY | BT_NO_RTT,
	.note = {NULL, "busy-wait, batch 32"},
	CHAN(spsc_batch_open, chan_send, chan_recv),
};

const struct bench_transport bench_shmq_blocking = {
	.name = "shmq-spsc-blocking", .note = {"spin, futex", "spin, futex"},
	CHAN(spsc_open, chan_send, chan_recv),
};

const struct bench_transport bench_shmq_epoll = {
	.name = "shmq-spsc-epoll", .note = {"epoll reader", "epoll reader"},
	.cls = "shmq", .setup = chan_setup, .open = epoll_open,
	.send = chan_send, .recv = epoll_recv, .close = epoll_close,
	.teardown = chan_teardown,
};

const struct bench_transport bench_shmq_epoll_spin = {
	.name = "shmq-spsc-epoll-spin",
	.note = {"spin, epoll reader", "spin, epoll reader"},
	.cls = "shmq", .setup = chan_setup, .open = epoll_open,
	.send = chan_send, .recv = epoll_spin_recv, .close = epoll_close,
	.teardown = chan_teardown,
};

const struct bench_transport bench_shmq_zerocopy = {
	.name = "shmq-spsc-zerocopy", .flags = BT_BUSY,
	.note = {"busy-wait", "busy-wait"}, .done = zerocopy_done,
	CHAN(zerocopy_open, zerocopy_send, zerocopy_recv),
};

const struct bench_transport bench_shmq_mpmc = {
	.name = "shmq-mpmc", .flags = BT_EOF, .writers = 2, .readers = 2,
	.note = {"1x1", "2x2"},
	CHAN(mpmc_open, chan_send, chan_recv),
};

const struct bench_transport bench_shmq_bcast = {
	.name = "shmq-broadcast", .readers = 2, .fanout = 2,
	.note = {"1x1", "1->2"},
	CHAN(bcast_open, chan_send, chan_recv),
};

const struct bench_transport bench_shmq_bcast_x1 = {
	.name = "shmq-broadcast-x1", .flags = BT_NO_RTT, .readers = 1,
	.fanout = 1, .note = {NULL, "1->1"},
	CHAN(bcast_open, chan_send, chan_recv),
};

const struct bench_transport bench_shmq_bcast_x4 = {
	.name = "shmq-broadcast-x4", .flags = BT_NO_RTT, .readers = 4,
	.fanout = 4, .note = {NULL, "1->4"},
	CHAN(bcast_open, chan_send, chan_recv),
};

/* The same steps as zerocopy: reserve, write, commit; peek, release. */
#define SAMPLES .done = zerocopy_done,                                       \
	CHAN(samples_open, zerocopy_send, zerocopy_recv)

const struct bench_transport bench_shmq_samples = {
	.name = "shmq-samples", .flags = BT_BUSY, .readers = 2, .fanout = 2,
	.note = {"busy-wait", "1->2"}, SAMPLES,
};

const struct bench_transport bench_shmq_samples_x1 = {
	.name = "shmq-samples-x1", .flags = BT_NO_RTT, .readers = 1,
	.fanout = 1, .note = {NULL, "1->1"}, SAMPLES,
};

const struct bench_transport bench_shmq_samples_x4 = {
	.name = "shmq-samples-x4", .flags = BT_NO_RTT, .readers = 4,
	.fanout = 4, .note = {NULL, "1->4"}, SAMPLES,
};
