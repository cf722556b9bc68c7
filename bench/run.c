/*
 * How every row is measured, the same way for every transport.
 *
 * The parent makes what the processes share (the transport's setup, and a
 * control page), forks them, and waits; each process pins itself, opens its
 * end, waits at a start line for the others, runs the warm-up and then the
 * measured phase, and writes what it saw into the control page.
 *
 * Messages: each process sends three patterns in turn, stamped with a
 * sequence number and flags in the first word and its complement in the
 * last whole word. The receiver checks the stamps of every message (torn,
 * lost, reordered), sums every word of it (it touches every byte), and the
 * parent compares the sums of both sides at the end. A ring of 2^k slots
 * never holds the same pattern a lap later, so a stale slot is caught too.
 */
#include "bench.h"

#include "shmq.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 5 /* 1 writer -> 4 readers (shmq-samples-x4) */
#define NS 1000000000LL
#define F_LAST (UINT64_C(1) << 63)     /* the writer's last message */
#define F_MEASURED (UINT64_C(1) << 62) /* sent in the measured phase */
#define SEQ_MASK (F_MEASURED - 1)
#define SLACK_NS (20 * NS) /* a row this late past its plan is stuck */
/* The warm-up sends at least this many messages, whatever its time: 4
 * laps of an 8-slot ring or pool (the 8 MiB geometry), so that each page
 * of shared memory has been touched by every process before the clock
 * starts. A first touch is a page fault, ~30 us in a VM: 16384 of them
 * per process for a 64 MiB pool, more than a short warm-up lasts. */
#define WARM_MSGS 32

const struct bench_transport *const bench_transports[] = {
	&bench_floor_spin, &bench_floor_spin_ref, &bench_floor_futex, &bench_floor_spin_futex,
	&bench_memcpy, &bench_floor_checks, &bench_floor_ring,
	&bench_floor_ring_batch,
	&bench_shmq_spsc, &bench_shmq_spsc_batch, &bench_shmq_blocking,
	&bench_shmq_epoll,
	&bench_shmq_epoll_spin, &bench_shmq_zerocopy,
	&bench_shmq_mpmc, &bench_shmq_bcast, &bench_shmq_bcast_x1,
	&bench_shmq_bcast_x4, &bench_shmq_samples, &bench_shmq_samples_x1,
	&bench_shmq_samples_x4, &bench_shmq_board,
	&bench_board_mutex,
	&bench_pipe, &bench_unix_stream, &bench_unix_dgram, &bench_tcp,
	&bench_sysv_mq, &bench_posix_mq, &bench_eventfd,
	NULL,
};

int64_t bench_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * NS + t.tv_nsec;
}

static int64_t cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NS +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* ---- The control page ------------------------------------------------- */

/* What one process saw; it writes, the parent reads after it ended. */
struct proc_res {
	uint64_t sent, recvd;         /* messages, every phase */
	uint64_t sum_sent, sum_recvd; /* checksums of them */
	uint64_t measured;            /* messages of the measured phase */
	int64_t t0, t1;               /* that phase, CLOCK_MONOTONIC ns */
	int64_t cpu0, cpu;            /* CPU time at t0, and spent in it */
	uint64_t fresh, busy;         /* reads: new values among the measured
	                                 reads; gets that gave up */
	char what[200];               /* why it failed; "" */
};

struct ctl {
	shmq_atomic32 arrived; /* processes at the start line */
	shmq_event go;         /* the last to arrive signals it */
	struct proc_res res[MAX_PROCS];
	struct bench_hist hist; /* round trips, by process 0 */
};

/* ---- Messages ----------------------------------------------------------- */

static uint64_t word_at(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* The sum of the message's 64-bit words (the tail zero-filled): reads every
 * byte, at the speed of memory. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t a = 0, b = 0, c = 0, d = 0, t = 0;
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		a += word_at(p + i);
		b += word_at(p + i + 8);
		c += word_at(p + i + 16);
		d += word_at(p + i + 24);
	}
	for (; i + 8 <= n; i += 8)
		a += word_at(p + i);
	memcpy(&t, p + i, n - i);
	return a + b + c + d + t;
}

struct gen {
	unsigned char *src[3];
	uint64_t base[3];  /* checksum of each pattern with its stamps zeroed */
	size_t size, tail; /* offset of the last whole word; 0: none (< 16 B) */
	uint64_t seq, sum; /* messages made, checksum of them all */
};

struct rx {
	size_t size, tail;
	int ordered;       /* one writer: sequence numbers go up by one */
	uint64_t seq, n, sum;
};

/* size bytes, page aligned, with headroom bytes before (64-aligned). */
static unsigned char *msg_alloc(size_t size, size_t headroom)
{
	size_t pre = (headroom + 63) & ~(size_t)63;
	void *p;
	if (posix_memalign(&p, 4096, pre + size) != 0)
		return NULL;
	memset(p, 0, pre + size);
	return (unsigned char *)p + pre;
}

static int gen_init(struct gen *g, size_t size, size_t headroom)
{
	memset(g, 0, sizeof(*g));
	g->size = size;
	g->tail = size >= 16 ? (size - 8) & ~(size_t)7 : 0;
	for (unsigned k = 0; k < 3; k++) {
		uint64_t x = (k + 1) * UINT64_C(0x9e3779b97f4a7c15);
		if (!(g->src[k] = msg_alloc(size, headroom)))
			return -ENOMEM;
		for (size_t i = 0; i < size; i++) { /* xorshift64 */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			g->src[k][i] = (unsigned char)x;
		}
		memset(g->src[k], 0, 8);
		if (g->tail)
			memset(g->src[k] + g->tail, 0, 8);
		g->base[k] = checksum(g->src[k], size);
	}
	return 0;
}

/* The next message, stamped. */
static const void *gen_next(struct gen *g, uint64_t flags)
{
	uint64_t h = (++g->seq & SEQ_MASK) | flags, t = ~h;
	unsigned k = (unsigned)(g->seq % 3);
	memcpy(g->src[k], &h, 8);
	if (g->tail)
		memcpy(g->src[k] + g->tail, &t, 8);
	g->sum += g->base[k] + h + (g->tail ? t : 0);
	return g->src[k];
}

/* Checks one message and adds it up: its flags, or NULL with why. */
static const char *rx_take(struct rx *x, const unsigned char *m, size_t n,
                           uint64_t *flags, char *why, size_t len)
{
	uint64_t h = word_at(m);
	if (n != x->size)
		snprintf(why, len, "message %llu has %zu bytes, not %zu",
		         (unsigned long long)x->n + 1, n, x->size);
	else if (x->tail && word_at(m + x->tail) != ~h)
		snprintf(why, len, "message %llu is torn: its last word does "
		         "not match its first", (unsigned long long)x->n + 1);
	else if (x->ordered && (h & SEQ_MASK) != ((x->seq + 1) & SEQ_MASK))
		snprintf(why, len, "message %llu came after %llu: lost, "
		         "repeated or out of order",
		         (unsigned long long)(h & SEQ_MASK),
		         (unsigned long long)x->seq);
	else {
		x->seq = h & SEQ_MASK;
		x->n++;
		x->sum += checksum(m, n);
		*flags = h & ~SEQ_MASK;
		return NULL;
	}
	return why;
}

/* ---- Values of a reads row ------------------------------------------------ */

/* A reads row's writer stamps each value also with the CLOCK_MONOTONIC
 * time just before its set, in the second word (messages of 24 bytes and
 * more), and folds it into the last word, which is ~(first ^ time): a
 * reader checks every value it gets (stamps and checksum) on its own. */
#define STAMP_AT 8

static int has_stamp(size_t tail)
{
	return tail >= 2 * STAMP_AT;
}

/* The next value of a reads row, stamped with the time now (*t). */
static const void *value_next(struct gen *g, uint64_t flags, int64_t *t)
{
	unsigned char *m = (unsigned char *)gen_next(g, flags);
	uint64_t ts = (uint64_t)(*t = bench_now_ns()), tail = ~word_at(m) ^ ts;
	if (has_stamp(g->tail)) {
		memcpy(m + STAMP_AT, &ts, 8);
		memcpy(m + g->tail, &tail, 8);
	}
	return m;
}

/* Checks one value that a reader got (mine: the reader's own copy of the
 * patterns, never sent): 0 with its first word and time stamp (0: none),
 * or -1 with why. Its bytes must be those of the value its first word
 * names, else it is torn. */
static int value_check(const struct gen *mine, const unsigned char *m,
                       size_t n, uint64_t *head, uint64_t *ts, char *why,
                       size_t len)
{
	uint64_t h = word_at(m), seq = h & SEQ_MASK;
	unsigned k = (unsigned)(seq % 3);
	uint64_t want = mine->base[k];
	*ts = 0;
	if (n != mine->size) {
		snprintf(why, len, "a value of %zu bytes, not %zu", n, mine->size);
		return -1;
	}
	if (has_stamp(mine->tail)) {
		*ts = word_at(m + STAMP_AT);
		want += *ts - word_at(mine->src[k] + STAMP_AT);
	}
	if (mine->tail) {
		uint64_t t = word_at(m + mine->tail);
		if (t != (~h ^ *ts)) {
			snprintf(why, len, "value %llu is torn: its last word "
			         "does not match its first",
			         (unsigned long long)seq);
			return -1;
		}
		want += t;
	}
	if (!seq || checksum(m, n) != want + h) {
		snprintf(why, len, "value %llu is torn: its bytes are not "
		         "those its writer set", (unsigned long long)seq);
		return -1;
	}
	*head = h;
	return 0;
}

/* ---- One process -------------------------------------------------------- */

struct side {
	const struct bench_transport *t;
	const struct bench_cfg *cfg;
	struct bench_end e;
	struct gen g;
	struct rx x;
	struct proc_res *pr;
	struct ctl *ctl;
};

static void __attribute__((noreturn, format(printf, 2, 3)))
die(struct side *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->pr->what, sizeof(s->pr->what), fmt, ap);
	va_end(ap);
	_exit(1);
}

static void send_one(struct side *s, uint64_t flags)
{
	int rc = s->t->send(&s->e, gen_next(&s->g, flags));
	if (rc < 0)
		die(s, "send: %s", shmq_strerror(rc));
}

/* Receives, checks and releases one message: its flags. At the end of the
 * stream: sets *eof, or fails when eof is NULL. */
static uint64_t recv_one(struct side *s, int *eof)
{
	const void *m;
	char why[160];
	uint64_t flags = 0;
	ssize_t n = s->t->recv(&s->e, &m);
	if (n == 0 && eof) {
		*eof = 1;
		return 0;
	}
	if (n < 0)
		die(s, "receive: %s", shmq_strerror((int)n));
	if (n == 0)
		die(s, "receive: the stream ended before the last message");
	if (rx_take(&s->x, m, (size_t)n, &flags, why, sizeof(why)))
		die(s, "%s", why);
	int rc = s->t->done ? s->t->done(&s->e) : 0;
	if (rc < 0)
		die(s, "release: %s", shmq_strerror(rc));
	return flags;
}

static void phase_start(struct proc_res *pr)
{
	pr->cpu0 = cpu_ns();
	pr->t0 = bench_now_ns();
}

static void phase_end(struct proc_res *pr)
{
	pr->t1 = bench_now_ns();
	pr->cpu = cpu_ns() - pr->cpu0;
}

static void round_trip(struct side *s, uint64_t flags)
{
	send_one(s, flags);
	recv_one(s, NULL);
}

/* Process 0 of a round trip: sends, waits for the answer, times it. */
static void ping(struct side *s)
{
	int64_t t = bench_now_ns(), until = t + (int64_t)(s->cfg->warmup_s * NS);
	while (t < until || s->g.seq < WARM_MSGS) {
		round_trip(s, 0);
		t = bench_now_ns();
	}
	phase_start(s->pr);
	t = s->pr->t0;
	until = t + (int64_t)(s->cfg->duration_s * NS);
	while (t < until) {
		round_trip(s, F_MEASURED);
		int64_t t1 = bench_now_ns();
		bench_hist_add(&s->ctl->hist, (uint64_t)(t1 - t));
		s->pr->measured++;
		t = t1;
	}
	phase_end(s->pr);
	round_trip(s, F_LAST);
}

/* Process 1: answers each message with one of its own, flags copied. */
static void pong(struct side *s)
{
	for (;;) {
		uint64_t f = recv_one(s, NULL);
		if ((f & F_MEASURED) && !s->pr->measured++)
			phase_start(s->pr);
		if (f & F_LAST)
			phase_end(s->pr);
		send_one(s, f);
		if (f & F_LAST)
			return;
	}
}

/* One message of a throughput row; floor-checks takes it back at once. */
static void send_tput(struct side *s, uint64_t flags)
{
	send_one(s, flags);
	if (s->t->flags & BT_LOOP)
		recv_one(s, NULL);
}

/* A writer: sends for the warm-up, then for the measured phase. The clock
 * is read once per 64 KiB, not per message. */
static void writer(struct side *s)
{
	size_t every = s->g.size >= 65536 ? 1 : 65536 / s->g.size;
	int64_t t = bench_now_ns(), until = t + (int64_t)(s->cfg->warmup_s * NS);
	while (t < until || s->g.seq < WARM_MSGS) {
		for (size_t i = 0; i < every; i++)
			send_tput(s, 0);
		t = bench_now_ns();
	}
	phase_start(s->pr);
	until = s->pr->t0 + (int64_t)(s->cfg->duration_s * NS);
	do {
		for (size_t i = 0; i < every; i++)
			send_tput(s, F_MEASURED);
		s->pr->measured += every;
	} while (bench_now_ns() < until);
	phase_end(s->pr);
	if (s->e.l->readers && !(s->t->flags & BT_EOF))
		send_one(s, F_LAST);
}

/* A reader: the phase runs from the first measured message to the last. */
static void reader(struct side *s)
{
	int eof = 0, *eofp = s->t->flags & BT_EOF ? &eof : NULL;
	for (;;) {
		uint64_t f = recv_one(s, eofp);
		if (eof)
			break;
		if ((f & F_MEASURED) && !s->pr->measured++)
			phase_start(s->pr);
		if (f & F_LAST)
			break;
	}
	phase_end(s->pr);
}

/* The writer of a reads row: sets the value at full speed, each stamped
 * with its time, for the warm-up, the measured phase, and once more with
 * F_LAST. */
static void setter(struct side *s)
{
	int64_t t = bench_now_ns(), until = t + (int64_t)(s->cfg->warmup_s * NS);
	while (t < until || s->g.seq < WARM_MSGS) {
		int rc = s->t->send(&s->e, value_next(&s->g, 0, &t));
		if (rc < 0)
			die(s, "set: %s", shmq_strerror(rc));
	}
	phase_start(s->pr);
	until = s->pr->t0 + (int64_t)(s->cfg->duration_s * NS);
	do {
		int rc = s->t->send(&s->e, value_next(&s->g, F_MEASURED, &t));
		if (rc < 0)
			die(s, "set: %s", shmq_strerror(rc));
		s->pr->measured++;
	} while (t < until);
	phase_end(s->pr);
	int rc = s->t->send(&s->e, value_next(&s->g, F_LAST, &t));
	if (rc < 0)
		die(s, "set: %s", shmq_strerror(rc));
}

/* One read of the newest value, checked: its first word, 0 if there is
 * none yet, or F_BUSY when the get gave up. A new value's age goes into
 * the histogram in the measured phase. */
#define F_BUSY UINT64_MAX
static uint64_t read_one(struct side *s, uint64_t *last)
{
	const void *m;
	char why[160];
	uint64_t h, ts;
	ssize_t n = s->t->latest(&s->e, &m);
	if (n == -EBUSY)
		return F_BUSY;
	if (n < 0)
		die(s, "get: %s", shmq_strerror((int)n));
	if (n == 0 && !*last)
		return 0; /* not set yet */
	if (value_check(&s->g, m, (size_t)n, &h, &ts, why, sizeof(why)) < 0)
		die(s, "%s", why);
	if ((h & SEQ_MASK) < *last)
		die(s, "value %llu after %llu: went back",
		    (unsigned long long)(h & SEQ_MASK), (unsigned long long)*last);
	if ((h & SEQ_MASK) != *last && (h & F_MEASURED) && s->pr->measured) {
		s->pr->fresh++;
		if (ts)
			bench_hist_add(&s->ctl->hist,
			               (uint64_t)(bench_now_ns() - (int64_t)ts));
	}
	*last = h & SEQ_MASK;
	return h;
}

/* The reader of a reads row: gets the newest value in a loop, from the
 * first value of the measured phase to the writer's last. */
static void poller(struct side *s)
{
	uint64_t last = 0;
	for (;;) {
		uint64_t h = read_one(s, &last);
		if (h == F_BUSY) {
			s->pr->busy += !!s->pr->measured;
			continue;
		}
		if (h & F_LAST)
			break;
		if ((h & F_MEASURED) && !s->pr->measured++)
			phase_start(s->pr);
	}
	phase_end(s->pr);
}

int bench_child_start(const struct bench_sig *sig, pid_t parent, int cpu)
{
	cpu_set_t one;
	sigprocmask(SIG_SETMASK, &sig->old, NULL);
	/* A parent SIGKILLed mid-row must not leave us spinning. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		return -ESRCH;
	if (cpu < 0)
		return 0;
	CPU_ZERO(&one);
	CPU_SET((size_t)cpu, &one);
	return sched_setaffinity(0, sizeof(one), &one) == 0 ? 0 : -errno;
}

/* All processes at the start line: the last one lets everyone go. */
static void start_line(struct ctl *ctl, unsigned n)
{
	uint32_t seen = shmq_event_seq(&ctl->go);
	/* acq_rel: pairs with the other arrivals; the last sees all opened */
	if (shmq_add(&ctl->arrived, 1, SHMQ_ACQ_REL) + 1 == n) {
		shmq_event_signal(&ctl->go);
		return;
	}
	while (shmq_event_seq(&ctl->go) == seen)
		shmq_event_wait(&ctl->go, seen);
}

/* Process who of a row; never returns. */
static void child(struct side *s, const struct bench_sig *sig, pid_t parent,
                  unsigned nprocs)
{
	struct bench_end *e = &s->e;
	int rc, cpu = s->cfg->cpus[e->who % 2];
	if ((rc = bench_child_start(sig, parent, cpu)) == -ESRCH)
		_exit(1);
	if (rc < 0)
		die(s, "cannot run on CPU %d: %s", cpu, strerror(-rc));
	if (gen_init(&s->g, e->size, s->t->headroom) < 0 ||
	    !(e->buf = msg_alloc(e->size, s->t->headroom)))
		die(s, "out of memory for %zu-byte messages", e->size);
	if ((rc = s->t->open(e)) < 0)
		die(s, "open: %s", shmq_strerror(rc));
	start_line(s->ctl, nprocs);
	if (e->l->metric == BENCH_RTT)
		(e->who == 0 ? ping : pong)(s);
	else if (e->l->metric == BENCH_READS)
		(e->tx >= 0 ? setter : poller)(s);
	else
		(e->tx >= 0 ? writer : reader)(s);
	s->pr->sent = s->g.seq;
	s->pr->sum_sent = s->g.sum;
	s->pr->recvd = s->x.n;
	s->pr->sum_recvd = s->x.sum;
	if ((rc = s->t->close(e)) < 0)
		die(s, "close: %s", shmq_strerror(rc));
	_exit(0);
}

/* ---- The parent --------------------------------------------------------- */

void bench_sig_block(struct bench_sig *s)
{
	static const int stop[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;
	sigemptyset(&s->watch);
	sigaddset(&s->watch, SIGCHLD);
	for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
		if (sigaction(stop[i], NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_IGN)
			sigaddset(&s->watch, stop[i]);
	signal(SIGCHLD, SIG_DFL); /* an inherited SIG_IGN would reap ours */
	sigprocmask(SIG_BLOCK, &s->watch, &s->old);
}

static void kill_all(const pid_t *pid, int *status, unsigned n, int *done)
{
	for (unsigned i = 0; i < n; i++)
		if (!done[i])
			kill(pid[i], SIGKILL);
	for (unsigned i = 0; i < n; i++)
		if (!done[i]) {
			while (waitpid(pid[i], &status[i], 0) < 0 &&
			       errno == EINTR)
				;
			done[i] = 1;
		}
}

int bench_wait(const struct bench_sig *s, const pid_t *pid, int *status,
               unsigned n, int64_t deadline, unsigned *first)
{
	int done[MAX_PROCS + 1] = {0}, bad = 0;
	unsigned left = n;
	while (left) {
		for (unsigned i = 0; i < n; i++) {
			if (done[i] || waitpid(pid[i], &status[i], WNOHANG) <= 0)
				continue;
			done[i] = 1;
			left--;
			if (!bad && !(WIFEXITED(status[i]) &&
			              WEXITSTATUS(status[i]) == 0)) {
				bad = 1;
				*first = i;
				kill_all(pid, status, n, done);
				left = 0;
			}
		}
		if (!left)
			break;
		int64_t wait = deadline - bench_now_ns();
		if (wait <= 0) {
			kill_all(pid, status, n, done);
			return -ETIMEDOUT;
		}
		struct timespec ts = {wait / NS, wait % NS};
		int sig = sigtimedwait(&s->watch, NULL, &ts);
		if (sig > 0 && sig != SIGCHLD) {
			kill_all(pid, status, n, done);
			return -sig;
		}
	}
	return bad;
}

/* Why process i ended badly, in words. */
static void proc_failed(const struct ctl *ctl, unsigned i, int status,
                        const struct bench_link *l, char *why, size_t len)
{
	const char *role = l->metric == BENCH_RTT ? (i ? "answering" : "timing")
	                   : i < l->writers ? "writer" : "reader";
	if (ctl->res[i].what[0])
		snprintf(why, len, "%s process: %s", role, ctl->res[i].what);
	else if (WIFSIGNALED(status))
		snprintf(why, len, "%s process killed by signal %d (%s)", role,
		         WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(why, len, "%s process exited with status %d", role,
		         WEXITSTATUS(status));
}

/* What every sender sent, every receiver got (times fanout). */
static const char *sums_differ(const struct ctl *ctl, const struct bench_link *l,
                               unsigned fanout)
{
	const struct proc_res *r = ctl->res;
	if (l->metric == BENCH_RTT)
		return r[0].sent != r[1].recvd || r[1].sent != r[0].recvd
		       ? "messages lost or repeated"
		       : r[0].sum_sent != r[1].sum_recvd ||
		                 r[1].sum_sent != r[0].sum_recvd
		       ? "checksum mismatch: a message arrived changed" : NULL;
	uint64_t n = 0, sum = 0, rn = 0, rsum = 0;
	for (unsigned i = 0; i < l->writers; i++) {
		n += r[i].sent;
		sum += r[i].sum_sent;
	}
	for (unsigned i = 0; i < l->writers + l->readers; i++) {
		rn += r[i].recvd;
		rsum += r[i].sum_recvd;
	}
	if (!l->readers) /* memcpy: close compared the copy */
		return r[0].recvd && (r[0].recvd != n || rsum != sum)
		       ? "floor-checks: a message came back changed" : NULL;
	return rn != n * fanout ? "messages lost or repeated"
	       : rsum != sum * fanout
	       ? "checksum mismatch: a message arrived changed" : NULL;
}

/* The writers' own CPU time per message they sent in the measured phase:
 * does the writer's cost grow with the readers? (cpu/msg sums every
 * process.) */
static void writer_cpu(const struct proc_res *r, const struct bench_link *l,
                       struct bench_rec *rec)
{
	int64_t cpu = 0;
	uint64_t sent = 0;
	for (unsigned i = 0; l->readers && i < l->writers; i++) {
		cpu += r[i].cpu;
		sent += r[i].measured;
	}
	if (sent)
		rec->writer_cpu_ns_per_msg = (double)cpu / (double)sent;
}

/* The percentiles of the histogram (round trips, or ages of values). */
static void percentiles(const struct bench_hist *h, struct bench_rec *rec)
{
	rec->p50 = bench_hist_at(h, 0.50);
	rec->p99 = bench_hist_at(h, 0.99);
	rec->p999 = bench_hist_at(h, 0.999);
	rec->max = (double)h->max;
}

/* A reads row: the reader checked every value as it got it (no sums). */
static int summarize_reads(const struct ctl *ctl, struct bench_rec *rec)
{
	const struct proc_res *w = &ctl->res[0], *r = &ctl->res[1];
	if (!r->measured || r->t1 <= r->t0 || !w->measured || w->t1 <= w->t0) {
		snprintf(rec->why, sizeof(rec->why), "no read in the measured "
		         "phase");
		return -1;
	}
	rec->reads_per_s = (double)r->measured * NS / (double)(r->t1 - r->t0);
	rec->sets_per_s = (double)w->measured * NS / (double)(w->t1 - w->t0);
	rec->new_per_read = (double)r->fresh / (double)r->measured;
	rec->busy_per_read = (double)r->busy /
	                     (double)(r->measured + r->busy);
	rec->cpu_ns_per_msg = (double)r->cpu / (double)r->measured;
	if (ctl->hist.count)
		percentiles(&ctl->hist, rec);
	return 0;
}

/* The numbers of a row whose processes all ended well. */
static int summarize(const struct ctl *ctl, const struct bench_link *l,
                     unsigned fanout, struct bench_rec *rec)
{
	const struct proc_res *r = ctl->res;
	unsigned n = l->writers + l->readers, from = l->readers ? l->writers : 0;
	int64_t t0 = INT64_MAX, t1 = 0, cpu = 0;
	uint64_t msgs = 0;
	if (l->metric == BENCH_READS)
		return summarize_reads(ctl, rec);
	const char *bad = sums_differ(ctl, l, fanout);
	if (bad) {
		snprintf(rec->why, sizeof(rec->why), "%s", bad);
		return -1;
	}
	for (unsigned i = 0; i < n; i++)
		cpu += r[i].cpu;
	if (l->metric == BENCH_RTT) {
		if (!r[0].measured) {
			snprintf(rec->why, sizeof(rec->why), "no round trip "
			         "in the measured phase");
			return -1;
		}
		percentiles(&ctl->hist, rec);
		rec->cpu_ns_per_msg = (double)cpu / (2.0 * (double)r[0].measured);
		return 0;
	}
	for (unsigned i = from; i < n; i++) {
		msgs += r[i].measured;
		if (r[i].measured && r[i].t0 < t0)
			t0 = r[i].t0;
		if (r[i].measured && r[i].t1 > t1)
			t1 = r[i].t1;
	}
	msgs /= fanout;
	if (!msgs || t1 <= t0) {
		snprintf(rec->why, sizeof(rec->why), "no message of the "
		         "measured phase arrived");
		return -1;
	}
	rec->msgs_per_s = (double)msgs * NS / (double)(t1 - t0);
	rec->gbytes_per_s = rec->msgs_per_s * (double)l->size / 1e9;
	rec->cpu_ns_per_msg = (double)cpu / (double)msgs;
	writer_cpu(r, l, rec);
	return 0;
}

struct runner {
	const struct bench_cfg *cfg;
	struct bench_sig sig;
	struct ctl *ctl;
	unsigned row, rows, serial;
	double place_ns; /* the run's placement (bench_placement), 0: none */
};

static void link_init(struct bench_link *l, const struct bench_transport *t,
                      int metric, size_t size, unsigned serial)
{
	memset(l, 0, sizeof(*l));
	l->metric = metric;
	l->size = size;
	l->writers = metric == BENCH_RTT ? 1 : t->writers ? t->writers : 1;
	l->readers = metric == BENCH_RTT ? 1 : t->flags & (BT_SOLO | BT_LOOP) ? 0
	             : t->readers ? t->readers : 1;
	for (int d = 0; d < 2; d++) {
		l->fd[d][0] = l->fd[d][1] = -1;
		snprintf(l->name[d], sizeof(l->name[d]), "shmq-bench-%d-%u-%d",
		         (int)getpid(), serial, d);
	}
}

/* Forks the processes of a row; returns how many started. */
static unsigned start(struct runner *r, const struct bench_transport *t,
                      struct bench_link *l, pid_t *pid)
{
	unsigned n = l->writers + l->readers, i;
	pid_t parent = getpid();
	fflush(NULL);
	for (i = 0; i < n; i++) {
		if ((pid[i] = fork()) < 0)
			break;
		if (pid[i] == 0) {
			struct side s = {.t = t, .cfg = r->cfg, .ctl = r->ctl,
			                 .pr = &r->ctl->res[i]};
			s.e.l = l;
			s.e.who = i;
			s.e.size = l->size;
			s.e.out = s.e.in = -1;
			s.e.tx = l->metric == BENCH_RTT ? (int)i
			         : i < l->writers ? 0 : -1;
			s.e.rx = l->metric == BENCH_RTT ? (int)!i
			         : i < l->writers ? -1 : 0;
			s.x.size = l->size;
			s.x.tail = l->size >= 16 ? (l->size - 8) & ~(size_t)7 : 0;
			s.x.ordered = l->writers == 1;
			child(&s, &r->sig, parent, n);
		}
	}
	return i;
}

/* Runs one row into rec: 0, or -signal. */
static int measure(struct runner *r, const struct bench_transport *t,
                   int metric, size_t size, struct bench_rec *rec)
{
	struct bench_link l;
	pid_t pid[MAX_PROCS];
	int status[MAX_PROCS], rc;
	unsigned first = 0, fanout = t->fanout ? t->fanout : 1;
	link_init(&l, t, metric, size, r->serial++);
	memset(r->ctl, 0, sizeof(*r->ctl));
	shmq_event_init(&r->ctl->go);
	rc = t->setup(&l);
	if (rc != 0) {
		t->teardown(&l); /* what it made before it stopped */
		rec->status = rc == BENCH_SKIP ? BENCH_SKIPPED : BENCH_FAILED;
		snprintf(rec->why, sizeof(rec->why), "%s", l.why[0] ? l.why
		         : shmq_strerror(rc));
		return 0;
	}
	int64_t plan = (int64_t)((r->cfg->warmup_s + r->cfg->duration_s) * NS);
	int64_t deadline = bench_now_ns() + 2 * plan + SLACK_NS;
	unsigned n = start(r, t, &l, pid);
	if (n < l.writers + l.readers) {
		rec->status = BENCH_FAILED;
		snprintf(rec->why, sizeof(rec->why), "fork: %s", strerror(errno));
		deadline = 0; /* those started would wait for the others */
	}
	rc = bench_wait(&r->sig, pid, status, n, deadline, &first);
	t->teardown(&l);
	if (rc < 0 && rc != -ETIMEDOUT)
		return rc; /* a termination signal */
	if (rec->status == BENCH_FAILED)
		return 0;
	rec->status = BENCH_FAILED;
	if (rc == -ETIMEDOUT)
		snprintf(rec->why, sizeof(rec->why), "stuck: stopped after "
		         "%.0f s", (double)(2 * plan + SLACK_NS) / NS);
	else if (rc == 1)
		proc_failed(r->ctl, first, status[first], &l, rec->why,
		            sizeof(rec->why));
	else if (summarize(r->ctl, &l, fanout, rec) == 0)
		rec->status = BENCH_OK;
	return 0;
}

/* A row in the run's placement: probed before and after, and measured
 * again (up to BENCH_PLACE_RETRIES times) while either probe disagrees
 * with the run's; the last try stands, its probes in the record. */
static int measure_placed(struct runner *r, const struct bench_transport *t,
                          int metric, size_t size, struct bench_rec *rec)
{
	const struct bench_rec blank = *rec;
	for (unsigned k = 0;; k++) {
		double before, after;
		int rc = bench_placement(r->cfg, &r->sig, &before);
		if (rc == 0)
			rc = measure(r, t, metric, size, rec);
		if (rc == 0)
			rc = bench_placement(r->cfg, &r->sig, &after);
		if (rc < 0)
			return rc;
		rec->place_ns[0] = before;
		rec->place_ns[1] = after;
		rec->tries = k + 1;
		if (rec->status != BENCH_OK || k == BENCH_PLACE_RETRIES ||
		    (bench_same_place(before, r->place_ns) &&
		     bench_same_place(after, r->place_ns)))
			return 0;
		*rec = blank;
	}
}

/* ---- Every row ---------------------------------------------------------- */

int bench_selected(const struct bench_cfg *cfg, const char *name,
                   const char *cls)
{
	char item[64];
	const char *p = cfg->only;
	if (!p)
		return 1;
	while (*p) {
		size_t n = strcspn(p, ",");
		snprintf(item, sizeof(item), "%.*s", (int)n, p);
		if (item[0] && (!strcmp(item, cls) || strstr(name, item) ||
		                fnmatch(item, name, 0) == 0))
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

int bench_pattern_known(const char *item)
{
	struct bench_cfg c = {.only = item};
	for (unsigned i = 0; bench_transports[i]; i++)
		if (bench_selected(&c, bench_transports[i]->name,
		                   bench_transports[i]->cls))
			return 1;
	for (unsigned i = 0; bench_peer_names[i]; i++)
		if (bench_selected(&c, bench_peer_names[i], "peer"))
			return 1;
	return 0;
}

/* Whether t has a row for metric at the size-th size, and at what size. */
static int has_row(const struct bench_cfg *cfg,
                   const struct bench_transport *t, int metric, unsigned size,
                   size_t *bytes)
{
	if (!bench_selected(cfg, t->name, t->cls) ||
	    (metric == BENCH_READS ? !t->latest
	     : t->flags & (metric == BENCH_RTT ? BT_NO_RTT : BT_NO_TPUT)))
		return 0;
	if (t->only_size) { /* one row, shown with the smallest size */
		*bytes = t->only_size;
		return size == 0;
	}
	*bytes = cfg->sizes[size];
	return 1;
}

static void progress(struct runner *r, const char *name, int metric,
                     size_t size)
{
	char s[32];
	if (r->cfg->progress)
		fprintf(stderr, "\rshmq bench: [%u/%u] %s %s %s\033[K", ++r->row,
		        r->rows, bench_metric_name(metric),
		        bench_size_str(size, s, sizeof(s)), name);
}

/* A row's figure that rounds are ranked by (larger is better). */
static double key(const struct bench_rec *rec)
{
	return rec->metric == BENCH_RTT ? -rec->p50
	       : rec->metric == BENCH_TPUT ? rec->msgs_per_s : rec->reads_per_s;
}

static int by_key(const void *a, const void *b)
{
	double x = key(a), y = key(b);
	return (x > y) - (x < y);
}

/* The row of a transport from its rounds: the median of those that ran
 * (the lower middle of an even count: a measured record, not a mean), with
 * the rounds' spread; a row that failed or was skipped in any round is that
 * round's record. */
static void pick(struct bench_rec *rounds, unsigned n, struct bench_rec *out)
{
	for (unsigned k = 0; k < n; k++)
		if (rounds[k].status != BENCH_OK) {
			*out = rounds[k];
			return;
		}
	qsort(rounds, n, sizeof(*rounds), by_key);
	*out = rounds[(n - 1) / 2];
	double lo = fabs(key(&rounds[0])), hi = fabs(key(&rounds[n - 1]));
	double mid = fabs(key(out));
	if (n > 1 && mid > 0)
		out->spread = fabs(hi - lo) / mid;
	out->rounds = n;
}

/* One group (a metric at a size): every selected transport once per
 * round, in turn, so that each sees the same changes of the host; each
 * row is then the median of its rounds. */
static int run_group(struct runner *r, struct bench_results *res, int m,
                     unsigned z, int count)
{
	const struct bench_cfg *cfg = r->cfg;
	unsigned nr = cfg->rounds ? cfg->rounds : 1, nt = 0;
	const struct bench_transport *t[64];
	size_t bytes[64];
	for (unsigned i = 0; bench_transports[i] && nt < 64; i++)
		if (has_row(cfg, bench_transports[i], m, z, &bytes[nt]))
			t[nt++] = bench_transports[i];
	if (count || !nt) {
		r->rows += nt * nr;
		return 0;
	}
	struct bench_rec *c = calloc((size_t)nt * nr, sizeof(*c));
	int rc = c ? 0 : -ENOMEM;
	for (unsigned k = 0; rc == 0 && k < nr; k++)
		for (unsigned i = 0; rc == 0 && i < nt; i++) {
			struct bench_rec *rec = &c[i * nr + k];
			if (k && c[i * nr].status != BENCH_OK) {
				*rec = c[i * nr]; /* skipped or failed: once */
				continue;
			}
			snprintf(rec->transport, sizeof(rec->transport), "%s",
			         t[i]->name);
			rec->metric = m;
			rec->msg_size = bytes[i];
			rec->group = cfg->sizes[z];
			rec->busy = !!(t[i]->flags & BT_BUSY);
			if (t[i]->note[m])
				snprintf(rec->note, sizeof(rec->note), "%s",
				         t[i]->note[m]);
			progress(r, t[i]->name, m, bytes[i]);
			rc = measure_placed(r, t[i], m, bytes[i], rec);
		}
	for (unsigned i = 0; rc == 0 && i < nt; i++) {
		struct bench_rec *rec = bench_add(res);
		if (!rec)
			rc = -ENOMEM;
		else
			pick(&c[i * nr], nr, rec);
	}
	free(c);
	return rc;
}

static int run_rows(struct runner *r, struct bench_results *res, int count)
{
	int rc = 0;
	for (int m = BENCH_RTT; rc == 0 && m <= BENCH_READS; m++)
		for (unsigned z = 0; rc == 0 && z < r->cfg->nsizes; z++)
			rc = run_group(r, res, m, z, count);
	return rc;
}

/* The parent's side of a run: the control page, signals blocked. */
static int runner_start(struct runner *r, const struct bench_cfg *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->ctl = mmap(NULL, sizeof(*r->ctl), PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r->ctl == MAP_FAILED)
		return -errno;
	bench_sig_block(&r->sig);
	return 0;
}

static void runner_end(struct runner *r)
{
	if (r->cfg->progress)
		fputs("\r\033[K", stderr);
	sigprocmask(SIG_SETMASK, &r->sig.old, NULL);
	munmap(r->ctl, sizeof(*r->ctl));
}

int bench_run_all(const struct bench_cfg *cfg, struct bench_results *res)
{
	struct runner r;
	int rc = runner_start(&r, cfg);
	if (rc < 0)
		return rc;
	run_rows(&r, res, 1);
	rc = bench_placement(cfg, &r.sig, &r.place_ns);
	res->place_ns = r.place_ns;
	if (rc == 0)
		rc = run_rows(&r, res, 0);
	if (rc == 0)
		rc = bench_peers(cfg, &r.sig, res);
	runner_end(&r);
	return rc;
}

int bench_run_one(const struct bench_transport *t, int metric, size_t size,
                  const struct bench_cfg *cfg, struct bench_rec *rec)
{
	struct runner r;
	int rc = runner_start(&r, cfg);
	if (rc < 0)
		return rc;
	memset(rec, 0, sizeof(*rec));
	rc = measure(&r, t, metric, size, rec);
	runner_end(&r);
	return rc;
}

struct bench_rec *bench_add(struct bench_results *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct bench_rec *p = realloc(r->rec, cap * sizeof(*p));
		if (!p)
			return NULL;
		r->rec = p;
		r->cap = cap;
	}
	memset(&r->rec[r->n], 0, sizeof(r->rec[0]));
	return &r->rec[r->n++];
}
