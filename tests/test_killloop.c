/*
 * Kill loops: writers, readers and mutex holders die by SIGKILL at random
 * points, over and over, while the others go on. Every message carries its
 * sequence number and a CRC32; every child logs, in shared memory, the
 * message it is about to send or each one it got (events go through a
 * pipe), so the parent can account for every message at the end:
 *   - none torn (CRC, length), none delivered twice, none that was never
 *     sent;
 *   - every message whose send returned is delivered, except at most one
 *     per reader death: the message that reader took and died with, before
 *     its log entry was written (or before its release, mpmc), "in
 *     flight at death" (docs/design.md, "Deaths in flight");
 *   - the message a writer was sending when it died (the last it logged) may
 *     or may not be delivered, but never torn.
 * 200 kills per loop in `make test`, 10,000 with SHMQ_LONG=1; in the mpmc
 * loop one in 50 is aimed at a crash point inside a slot claim, so slots
 * surely need taking back (`recovered`). The samples loop fills and checks
 * samples in place, readers holding some, and its kills are aimed at
 * loan, publish, receive and release; at its end the whole pool is free.
 * Each loop prints one line of figures on stdout.
 *
 * The epoll loops run the mpmc and broadcast loops again with readers that
 * wait in an epoll loop on shmq_chan_fd (drain with try_recv to -EAGAIN,
 * then epoll_wait) and writers that send with a deadline: a reader killed
 * while its fd is armed (some kills must find it asleep in epoll_wait)
 * never stalls a writer past its deadline, and every message is accounted
 * for as above.
 *
 * The board loop kills writers of one entry, mostly mid-set: a reader
 * getting it all along never sees a torn value or the seq go back, and
 * the entry takes a set after the last kill (the dead writer's lock taken
 * over, counted in `recovered`).
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- Messages: seq, length, flags, payload, CRC32 -------------------- */

#define HDR 16u   /* seq (8), payload length (4), flags (4) */
#define MAXPAY 96u
#define F_END 1u  /* the last message: a reader that gets it leaves */

static uint32_t crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1u));
	}
	return ~c;
}

static size_t msg_make(unsigned char *buf, uint64_t seq, uint32_t flags)
{
	uint32_t len = (uint32_t)((seq * 2654435761u) >> 7) % (MAXPAY + 1);
	memcpy(buf, &seq, 8);
	memcpy(buf + 8, &len, 4);
	memcpy(buf + 12, &flags, 4);
	for (uint32_t i = 0; i < len; i++)
		buf[HDR + i] = (unsigned char)(seq * 31 + i * 7);
	uint32_t c = crc32(buf, HDR + len);
	memcpy(buf + HDR + len, &c, 4);
	return HDR + len + 4;
}

/* 1 when buf[0..n) is a whole message; its seq and flags out. */
static int msg_check(const unsigned char *buf, size_t n, uint64_t *seq,
                     uint32_t *flags)
{
	uint32_t len, c;
	if (n < HDR + 4)
		return 0;
	memcpy(&len, buf + 8, 4);
	if (len > MAXPAY || n != HDR + len + 4)
		return 0;
	memcpy(&c, buf + HDR + len, 4);
	if (c != crc32(buf, HDR + len))
		return 0;
	memcpy(seq, buf, 8);
	memcpy(flags, buf + 12, 4);
	return 1;
}

/* ---- Reports: one pipe, 16-byte records (atomic writes) --------------- */

enum { R_READY = 1, R_TORN, R_ERROR, R_DONE };

struct report {
	uint32_t who;  /* child id */
	uint32_t what; /* R_* */
	uint64_t val;  /* seq, or the error code */
};

static int report_fd = -1;

static void report(uint32_t who, uint32_t what, uint64_t val)
{
	struct report r = {who, what, val};
	if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(9);
}

/* Per message, a child logs the seq it is about to send (writer) or got
 * (reader) into its lane of shared memory, not the pipe: a system call per
 * message would put most kills inside write(2) instead of inside the
 * library. The parent drains the lanes; what a dead child logged is
 * complete up to `count`. */
#define LANE 4096u

struct lane {
	uint64_t count;    /* child: entries logged (release) */
	uint64_t consumed; /* parent: entries taken (release) */
	uint64_t pad[6];
	uint64_t ent[LANE];
};

static struct lane *my_lane;

static void log_seq(uint64_t seq)
{
	struct lane *l = my_lane;
	uint64_t c = l->count;
	/* acquire: pairs with the parent's release of consumed, so it is
	 * done with the entry we reuse */
	while (c - __atomic_load_n(&l->consumed, __ATOMIC_ACQUIRE) >= LANE)
		sched_yield();
	l->ent[c % LANE] = seq;
	/* release: the entry before the count; pairs with the parent's
	 * acquire load in drain() */
	__atomic_store_n(&l->count, c + 1, __ATOMIC_RELEASE);
}

static void pause_briefly(void)
{
	/* A peer is down and its successor not in yet: poll again soon.
	 * Only a back-off: nothing relies on its length. */
	struct timespec d = {0, 100000};
	nanosleep(&d, NULL);
}

/* Readers wait in epoll on their fd, writers send with a deadline (the
 * epoll loops); set before the children are forked. */
static int by_fd;
/* A writer that waits this long for room is stalled: a dead reader is
 * settled within a poll tick (50 ms). */
#define SEND_DEADLINE_MS 5000

/* Samples: the writer fills each sample in place (reserve, commit), and
 * readers check each one in place and hold up to this many at once (0:
 * the other kinds, copies). Set before the children are forked. */
static unsigned hold_n;

static int send_msg(shmq_chan *w, const void *buf, size_t len)
{
	if (hold_n) {
		void *at;
		int rc = shmq_chan_reserve(w, len, &at);
		if (rc < 0)
			return rc;
		memcpy(at, buf, len); /* a kill lands between the two */
		return shmq_chan_commit(w, len);
	}
	if (!by_fd)
		return shmq_chan_send(w, buf, len);
	struct timespec dl = shmq_deadline(SEND_DEADLINE_MS);
	return shmq_chan_send_timed(w, buf, len, &dl);
}

/* Drains to -EAGAIN, then waits in epoll for the fd: the next message or
 * error. A fd that does not wake in 10 s is -ETIMEDOUT. */
static ssize_t recv_by_fd(shmq_chan *r, int ep, void *buf, size_t len)
{
	ssize_t n;
	struct epoll_event ev;
	while ((n = shmq_chan_try_recv(r, buf, len)) == -EAGAIN) {
		int k = epoll_wait(ep, &ev, 1, 10000);
		if (k != 1 || ev.data.ptr != r)
			return k < 0 ? -errno : -ETIMEDOUT;
	}
	return n;
}

static int iterations(void)
{
	return t_long() ? 10000 : 200;
}

/* Each reader of an epoll loop starts a thread: fewer kills by default. */
static int fd_iterations(void)
{
	return t_long() ? 10000 : 100;
}

/* Busy-waits a random while: lands a kill anywhere in a loop body. */
static void random_spin(unsigned *seed, unsigned max)
{
	unsigned n = max ? (unsigned)rand_r(seed) % max : 0;
	for (volatile unsigned i = 0; i < n; i++)
		;
}

/* ---- Channel children ----------------------------------------------- */

/* Writer `id`: messages id<<32 | 0, 1, ... each announced before it is
 * sent. `count` 0: until killed; else that many, then `ends` END
 * messages, then a normal close. */
static void writer_main(const char *loc, uint32_t id, uint64_t count,
                        unsigned ends)
{
	unsigned char buf[HDR + MAXPAY + 4];
	shmq_chan *w = NULL;
	int rc = shmq_chan_open(&w, loc, SHMQ_WRITER, NULL);
	if (rc < 0) {
		report(id, R_ERROR, (uint64_t)(int64_t)rc);
		_exit(2);
	}
	report(id, R_READY, 0);
	for (uint64_t n = 0; !count || n < count + ends; n++) {
		uint64_t seq = (uint64_t)id << 32 | n;
		size_t len = msg_make(buf, seq, count && n >= count ? F_END : 0);
		log_seq(seq);
		while ((rc = send_msg(w, buf, len)) == SHMQ_EPEERDEAD)
			pause_briefly(); /* the readers are being replaced */
		if (rc < 0) {
			report(id, R_ERROR, (uint64_t)(int64_t)rc);
			_exit(2);
		}
	}
	shmq_chan_close(w);
	report(id, R_DONE, 0);
	_exit(0);
}

/* Samples held in place: what each was when it was received. */
struct held {
	const unsigned char *at;
	size_t len;
	uint64_t seq;
};

/* Gives back the oldest held sample, checked again first: whole and the
 * same (the writer never reuses a sample while a reader holds it). */
static void release_oldest(uint32_t id, shmq_chan *r, struct held *h,
                           unsigned *n)
{
	uint64_t seq;
	uint32_t flags;
	if (!msg_check(h[0].at, h[0].len, &seq, &flags) || seq != h[0].seq) {
		report(id, R_TORN, h[0].seq);
		_exit(3);
	}
	int rc = shmq_chan_release(r);
	if (rc < 0) {
		report(id, R_ERROR, (uint64_t)(int64_t)rc);
		_exit(2);
	}
	memmove(h, h + 1, (*n - 1) * sizeof(*h));
	(*n)--;
}

/* Samples: the next one, in place (room made for it first). */
static ssize_t peek_held(uint32_t id, shmq_chan *r, struct held *h,
                         unsigned *n, const void **at)
{
	if (*n == hold_n)
		release_oldest(id, r, h, n);
	return shmq_chan_peek(r, at);
}

/* Reader `id`: reports every message it gets, until an END. */
static void reader_main(const char *loc, uint32_t id)
{
	unsigned char buf[HDR + MAXPAY + 4 + 64];
	struct held held[8];
	unsigned nheld = 0;
	shmq_chan *r = NULL;
	uint64_t seq, got = 0;
	uint32_t flags;
	int ep = -1, rc = shmq_chan_open(&r, loc, SHMQ_READER, NULL);
	if (rc >= 0 && by_fd) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
		if ((rc = shmq_chan_fd(r)) >= 0 &&
		    ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
		     epoll_ctl(ep, EPOLL_CTL_ADD, rc, &ev) < 0))
			rc = -errno;
	}
	if (rc < 0) {
		report(id, R_ERROR, (uint64_t)(int64_t)rc);
		_exit(2);
	}
	report(id, R_READY, 0);
	for (;;) {
		const void *at = NULL;
		ssize_t n = hold_n ? peek_held(id, r, held, &nheld, &at)
		            : by_fd ? recv_by_fd(r, ep, buf, sizeof(buf))
		                    : shmq_chan_recv(r, buf, sizeof(buf));
		if (n == SHMQ_EPEERDEAD) { /* the writers are being replaced */
			pause_briefly();
			continue;
		}
		/* Broadcast: messages sent while this reader was joining (the
		 * writer had not seen it counted yet) may be gone before it
		 * reads them. After its first message, never (BLOCK). */
		if (n == SHMQ_ELOST && !got)
			continue;
		if (n < 0) {
			report(id, R_ERROR, (uint64_t)(int64_t)n);
			_exit(2);
		}
		const unsigned char *m = at ? at : buf;
		if (!msg_check(m, (size_t)n, &seq, &flags)) {
			uint64_t field = 0;
			memcpy(&field, m, n >= 8 ? 8 : 0);
			report(id, R_TORN, field);
			_exit(3);
		}
		if (at)
			held[nheld++] = (struct held){m, (size_t)n, seq};
		log_seq(seq);
		got++;
		if (flags & F_END)
			break;
	}
	shmq_chan_close(r);
	report(id, R_DONE, 0);
	_exit(0);
}

/* ---- The parent's books ------------------------------------------------- */

struct wbook { /* per writer incarnation */
	uint64_t intents; /* messages announced: 0..intents-1 */
	int killed;       /* its last announced message may be missing */
	uint8_t *got;     /* deliveries per message (saturating) */
	uint64_t cap;
};

struct rbook { /* per reader incarnation */
	uint64_t first, last, count;
	int killed;
	int honest; /* never killed: must see everything from its start */
};

struct child {
	pid_t pid;
	uint32_t id;
	int role;
	uint64_t reports; /* messages logged: to send (writer), got (reader) */
	int ready;
};

struct aim {
	int role;          /* of the kid armed */
	const char *point; /* SHMQ_CRASH_POINT name */
};

struct loop {
	const char *name, *loc;
	int kind;
	unsigned nw, nr;  /* killable writers and readers alive at once */
	int honest;       /* broadcast: one reader that is never killed */
	int kill_writers, kill_readers;
	int by_fd;        /* readers in epoll loops, writers with deadlines */
	unsigned hold;    /* samples: each reader holds up to this many */
	/* Crash points that every AIM_EVERY-th kill is aimed at, in turn, so
	 * that some kills surely land there (naim 0: none). */
	const struct aim *aim;
	unsigned naim;
	int aim_every;         /* one kill in this many is aimed (AIM_EVERY) */
	uint64_t armed, aimed; /* kids armed; kids that died at their point */
	struct wbook *w;
	struct rbook *r;
	uint32_t nids, maxids;
	struct child kids[8];
	unsigned nkids;
	int fd; /* read end of the reports */
	struct lane *lanes; /* one per kid slot, shared */
	uint64_t progress, idle_ms;
	/* figures */
	uint64_t wkills, rkills, msgs, ended;
	uint64_t in_epoll; /* reader kills that found it in epoll_wait */
	uint64_t last_global; /* spsc: deliveries in one increasing stream */
	int have_global;
	unsigned seed;
};

/* Every reader gets every message (broadcast, samples), or each message
 * goes to one reader (spsc, mpmc). */
static int fanout(const struct loop *L)
{
	return L->kind == SHMQ_CHAN_BROADCAST || L->kind == SHMQ_CHAN_SAMPLES;
}

static struct wbook *wb(struct loop *L, uint32_t id)
{
	CHECK(id < L->maxids);
	return &L->w[id];
}

static void book_got(struct loop *L, struct child *c, uint64_t seq)
{
	uint32_t wid = (uint32_t)(seq >> 32);
	uint64_t n = seq & 0xffffffffu;
	struct wbook *b = wb(L, wid);
	struct rbook *r = &L->r[c->id];
	if (n >= b->cap) {
		uint64_t cap = b->cap ? b->cap : 256;
		while (cap <= n)
			cap *= 2;
		b->got = realloc(b->got, cap);
		CHECK(b->got != NULL);
		memset(b->got + b->cap, 0, cap - b->cap);
		b->cap = cap;
	}
	if (b->got[n] < 255)
		b->got[n]++;
	/* Each reader sees messages in increasing order (mpmc: not across
	 * writers, which interleave). */
	if (L->kind != SHMQ_CHAN_MPMC && r->count)
		if (seq <= r->last)
			t_fail(__FILE__, __LINE__, "seq > last", "%s: reader %u got "
			       "%#llx after %#llx", L->name, c->id,
			       (unsigned long long)seq,
			       (unsigned long long)r->last);
	if (L->kind == SHMQ_CHAN_SPSC) {
		if (L->have_global && seq <= L->last_global)
			t_fail(__FILE__, __LINE__, "seq > last_global",
			       "%s: %#llx after %#llx", L->name,
			       (unsigned long long)seq,
			       (unsigned long long)L->last_global);
		L->last_global = seq;
		L->have_global = 1;
	}
	if (!r->count)
		r->first = seq;
	r->last = seq;
	r->count++;
	L->msgs++;
}

static struct child *kid_of(struct loop *L, uint32_t id)
{
	for (unsigned i = 0; i < L->nkids; i++)
		if (L->kids[i].id == id && L->kids[i].pid > 0)
			return &L->kids[i];
	return NULL;
}

/* Takes what kid slot i logged: intents, or messages got. */
static void drain(struct loop *L, unsigned i)
{
	struct child *c = &L->kids[i];
	struct lane *l = &L->lanes[i];
	/* acquire: pairs with the child's release of count */
	uint64_t n = __atomic_load_n(&l->count, __ATOMIC_ACQUIRE);
	for (uint64_t k = l->consumed; k < n; k++) {
		uint64_t seq = l->ent[k % LANE];
		if (c->role == SHMQ_WRITER) {
			CHECK_EQ(seq >> 32, c->id);
			CHECK_EQ(seq & 0xffffffffu, wb(L, c->id)->intents);
			wb(L, c->id)->intents++;
		} else {
			book_got(L, c, seq);
		}
		c->reports++;
		L->progress++;
	}
	/* release: we are done with the entries; pairs with the child's
	 * acquire load in log_seq() */
	__atomic_store_n(&l->consumed, n, __ATOMIC_RELEASE);
}

/* What a stuck loop looks like: the channel's counts and peers, and where
 * each child is. */
static void dump_state(struct loop *L)
{
	struct shmq_chan_info in;
	if (shmq_chan_stat(L->loc, &in) < 0)
		return;
	fprintf(stderr, "%s: writers %u readers %u ever %u/%u dead %u/%u "
	        "depth %llu sent %llu received %llu recovered %llu\n", L->name,
	        in.writers, in.readers, in.writers_ever, in.readers_ever,
	        in.dead_writers, in.dead_readers,
	        (unsigned long long)in.depth_msgs,
	        (unsigned long long)in.sent, (unsigned long long)in.received,
	        (unsigned long long)in.recovered);
	for (unsigned i = 0; i < in.npeers; i++)
		fprintf(stderr, "  peer %u: role %d pid %d alive %d msgs %llu\n",
		        i, in.peers[i].role, (int)in.peers[i].pid,
		        in.peers[i].alive, (unsigned long long)in.peers[i].msgs);
	for (unsigned i = 0; i < L->nkids; i++)
		fprintf(stderr, "  kid %u: id %u role %d pid %d logged %llu\n",
		        i, L->kids[i].id, L->kids[i].role, (int)L->kids[i].pid,
		        (unsigned long long)L->kids[i].reports);
}

/* Takes the lanes, then one event from the pipe if one comes within a
 * millisecond. Nothing for 10 s fails, with the figures that show where. */
static void pump(struct loop *L)
{
	struct report rep;
	struct pollfd p = {L->fd, POLLIN, 0};
	uint64_t before = L->progress;
	for (unsigned i = 0; i < L->nkids; i++)
		drain(L, i);
	int rc = poll(&p, 1, 1);
	CHECK(rc >= 0);
	if (L->progress != before || rc == 1)
		L->idle_ms = 0;
	else if (++L->idle_ms > 10000) {
		dump_state(L);
		t_fail(__FILE__, __LINE__, "progress", "%s: nothing for 10 s "
		       "(kills w %llu r %llu, msgs %llu)", L->name,
		       (unsigned long long)L->wkills,
		       (unsigned long long)L->rkills,
		       (unsigned long long)L->msgs);
	}
	if (rc == 0)
		return;
	CHECK_EQ(read(L->fd, &rep, sizeof(rep)), (ssize_t)sizeof(rep));
	CHECK(rep.who < L->nids);
	struct child *c = kid_of(L, rep.who);
	switch (rep.what) {
	case R_READY:
		if (c)
			c->ready = 1;
		break;
	case R_TORN:
		t_fail(__FILE__, __LINE__, "torn", "%s: reader %u got a torn "
		       "message (seq field %#llx)", L->name, rep.who,
		       (unsigned long long)rep.val);
	case R_ERROR:
		t_fail(__FILE__, __LINE__, "error", "%s: child %u: %s", L->name,
		       rep.who, shmq_strerror((int)(int64_t)rep.val));
	case R_DONE:
		L->ended++;
		break;
	default:
		CHECK(0);
	}
}

/* `at`: the child kills itself at that crash point (SHMQ_CRASH_AT). */
static void spawn(struct loop *L, struct child *c, int role, uint64_t count,
                  unsigned ends, const char *at)
{
	CHECK(L->nids < L->maxids);
	c->id = L->nids++;
	c->role = role;
	c->reports = 0;
	c->ready = 0;
	struct lane *l = &L->lanes[c - L->kids];
	l->count = l->consumed = 0; /* drained: its last writer is dead */
	L->r[c->id].honest = 0;
	fflush(stdout);
	c->pid = fork();
	CHECK(c->pid >= 0);
	if (c->pid == 0) {
		close(L->fd);
		my_lane = l;
		if (at)
			CHECK_EQ(setenv("SHMQ_CRASH_AT", at, 1), 0);
		if (role == SHMQ_WRITER)
			writer_main(L->loc, c->id, count, ends);
		reader_main(L->loc, c->id);
	}
}

/* Books the death of kid c, reaped with status st (t_wait's). */
static void buried(struct loop *L, struct child *c, int st)
{
	/* Only killed: a child that failed reported it and exited 2 or 3. */
	CHECK_EQ(st, 128 + SIGKILL);
	c->pid = 0;
	drain(L, (unsigned)(c - L->kids)); /* all it logged before it died */
	if (c->role == SHMQ_WRITER) {
		wb(L, c->id)->killed = 1;
		L->wkills++;
	} else {
		L->r[c->id].killed = 1;
		L->rkills++;
	}
}

static void kill_kid(struct loop *L, struct child *c)
{
	if (L->by_fd && c->role == SHMQ_READER) {
		long nr = t_blocked_in(c->pid);
		L->in_epoll += nr == SYS_epoll_wait || nr == SYS_epoll_pwait;
	}
	CHECK(kill(c->pid, SIGKILL) == 0);
	buried(L, c, t_wait(c->pid));
}

/* An armed kid kills itself at its crash point: wait for that, taking
 * the reports meanwhile (a kid that never gets there stops the loop's
 * progress, which fails it). */
static void await_crash(struct loop *L, struct child *c)
{
	int st;
	pid_t p;
	while ((p = waitpid(c->pid, &st, WNOHANG)) == 0)
		pump(L);
	CHECK_EQ(p, c->pid);
	buried(L, c, WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
	L->aimed++;
}

/* One kill in AIM_EVERY: each costs the survivors up to a poll tick
 * (50 ms) before they find the dead claimer. */
#define AIM_EVERY 50

/* What kill `it` aims at: the next point in turn, or NULL. The last
 * kill's replacement is never armed: it lives to the end. */
static const struct aim *aim_of(struct loop *L, int it, int iters)
{
	int every = L->aim_every ? L->aim_every : AIM_EVERY;
	if (!L->naim || it % every != every - 1 || it + 1 >= iters)
		return NULL;
	return &L->aim[L->armed % L->naim];
}

/* Checks the books: what each message's fate may be. */
static void audit(struct loop *L, uint64_t *inflight, uint64_t *maybe_got)
{
	uint64_t missing = 0, maybes = 0;
	for (uint32_t id = 0; id < L->nids; id++) {
		struct wbook *b = &L->w[id];
		for (uint64_t n = 0; n < b->cap; n++) {
			unsigned got = b->got[n];
			if (n >= b->intents && got)
				t_fail(__FILE__, __LINE__, "announced", "%s: "
				       "%u:%llu delivered, never sent", L->name,
				       id, (unsigned long long)n);
		}
		for (uint64_t n = 0; n < b->intents; n++) {
			unsigned got = n < b->cap ? b->got[n] : 0;
			int maybe = b->killed && n + 1 == b->intents;
			unsigned want = fanout(L) ? 0 : 1;
			if (!fanout(L) && got > 1)
				t_fail(__FILE__, __LINE__, "once", "%s: %u:%llu "
				       "delivered %u times", L->name, id,
				       (unsigned long long)n, got);
			if (maybe)
				maybes += got > 0;
			else if (got < want)
				missing++;
		}
	}
	/* At most one message in flight per reader death. */
	if (missing > L->rkills)
		t_fail(__FILE__, __LINE__, "missing <= rkills", "%s: %llu "
		       "messages lost, %llu reader deaths", L->name,
		       (unsigned long long)missing,
		       (unsigned long long)L->rkills);
	*inflight = missing;
	*maybe_got = maybes;
}

/* Messages (all, or only those sure to be delivered) before seq, for one
 * writer at a time (broadcast): seq order is the order they were sent. */
static uint64_t count_before(struct loop *L, uint64_t seq, int certain)
{
	uint32_t wid = (uint32_t)(seq >> 32);
	uint64_t n = seq & 0xffffffffu, c = 0;
	for (uint32_t i = 0; i < L->nids; i++) {
		struct wbook *b = &L->w[i];
		uint64_t tot = b->intents - (certain && b->killed && b->intents);
		if (i < wid)
			c += tot;
		else if (i == wid)
			c += n < tot ? n : tot;
	}
	return c;
}

/* Broadcast: a reader has every message from its first to its last, none
 * skipped (BLOCK policy: nothing is overwritten unread); the one never
 * killed has every message from the start. */
static void audit_bcast(struct loop *L)
{
	for (uint32_t id = 0; id < L->nids; id++) {
		struct rbook *r = &L->r[id];
		if (!r->count)
			continue;
		uint64_t first = r->honest ? 0 : r->first;
		uint64_t certain = count_before(L, r->last + 1, 1) -
		                   count_before(L, first, 1);
		uint64_t possible = count_before(L, r->last + 1, 0) -
		                    count_before(L, first, 0);
		if (r->count < certain || r->count > possible)
			t_fail(__FILE__, __LINE__, "contiguous", "%s: reader %u "
			       "got %llu of %llu..%llu messages in its range",
			       L->name, id, (unsigned long long)r->count,
			       (unsigned long long)certain,
			       (unsigned long long)possible);
	}
}

static void loop_setup(struct loop *L, int iters)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	L->fd = fds[0];
	report_fd = fds[1];
	L->maxids = (uint32_t)iters + 32;
	L->w = calloc(L->maxids, sizeof(*L->w));
	L->r = calloc(L->maxids, sizeof(*L->r));
	CHECK(L->w && L->r);
	L->seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	L->lanes = mmap(NULL, sizeof(struct lane) * 8, PROT_READ | PROT_WRITE,
	                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(L->lanes != MAP_FAILED);
}

/* A memfd channel that outlives its handle: the parent keeps an fd on it
 * (found in /proc/self/fd), the children inherit it and come and go. A
 * memfd, not a name in /dev/shm: no other run's `shmq rm --stale` on this
 * machine can judge it (a moment with every peer dead, an older tool that
 * cannot read this format) and remove it under the loop. The locator
 * "memfd:fd=N" goes into loc. */
static void create_chan_as(char *loc, size_t len, const char *tag,
                           const struct shmq_chan_opts *o)
{
	char name[64], want[96], link[64], target[128];
	shmq_chan *ch = NULL;
	snprintf(name, sizeof(name), "memfd:%s-%d", tag, (int)getpid());
	CHECK_EQ(shmq_chan_create(&ch, name, SHMQ_READER, o), 0);
	snprintf(want, sizeof(want), "/%s (deleted)", name);
	int keep = -1;
	for (int fd = 3; fd < 1024 && keep < 0; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = '\0', !strcmp(target, want)))
			keep = dup(fd);
	}
	CHECK(keep >= 0);
	CHECK_EQ(shmq_chan_close(ch), 0);
	snprintf(loc, len, "memfd:fd=%d", keep);
}

static void create_chan(char *loc, size_t len, const char *tag, int kind,
                        size_t cap, size_t msg)
{
	struct shmq_chan_opts o = {.kind = kind, .capacity = cap,
	                           .msg_size = msg,
	                           .policy = SHMQ_POLICY_BLOCK, .spin_ns = -1};
	create_chan_as(loc, len, tag, &o);
}

/* Kills, one at a time, a random killable child after it made a random
 * number of reports, and puts a new one in its place; then lets a last
 * writer end the stream and every reader drain it, and audits. */
static void run_chan_loop(struct loop *L, int iters)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	by_fd = L->by_fd;
	hold_n = L->hold;
	loop_setup(L, iters);
	unsigned nk = 0;
	if (L->honest) { /* in before any message */
		spawn(L, &L->kids[nk], SHMQ_READER, 0, 0, NULL);
		L->r[L->kids[nk].id].honest = 1;
		L->nkids = nk + 1;
		while (!L->kids[nk].ready)
			pump(L);
		nk++;
	}
	unsigned first_killable = nk;
	for (unsigned i = 0; i < L->nr; i++, nk++)
		spawn(L, &L->kids[nk], SHMQ_READER, 0, 0, NULL);
	for (unsigned i = 0; i < L->nw; i++, nk++)
		spawn(L, &L->kids[nk], SHMQ_WRITER, 0, 0, NULL);
	L->nkids = nk;
	struct child *armed = NULL;
	for (int it = 0; it < iters; it++) {
		struct child *v = armed;
		const struct aim *aim = aim_of(L, it, iters);
		char at[64];
		if (armed) {
			await_crash(L, v); /* the kill aimed at a point */
		} else {
			/* A kid of the role aimed at, if any. */
			do {
				v = &L->kids[first_killable +
				             (unsigned)rand_r(&L->seed) %
				             (nk - first_killable)];
			} while (aim ? v->role != aim->role
			             : v->role == SHMQ_WRITER ? !L->kill_writers
			                                      : !L->kill_readers);
			/* Random point: after 0..47 more messages of its own
			 * (0: it may still be joining), then a random spin. */
			uint64_t target = v->reports +
			                  (unsigned)rand_r(&L->seed) % 48;
			while (v->reports < target)
				pump(L);
			random_spin(&L->seed, 20000);
			kill_kid(L, v);
		}
		/* Its replacement dies at the point, at its 1st to 16th
		 * pass: the next kill. */
		if (aim)
			snprintf(at, sizeof(at), "%s:%u", aim->point,
			         1 + (unsigned)rand_r(&L->seed) % 16);
		L->armed += aim != NULL;
		spawn(L, v, v->role, 0, 0, aim ? at : NULL);
		armed = aim ? v : NULL;
	}
	/* The end: the writers go (killed: their last message may be
	 * missing, as any), one more sends 100 and one END per reader. */
	for (unsigned i = first_killable; i < nk; i++)
		if (L->kids[i].role == SHMQ_WRITER)
			kill_kid(L, &L->kids[i]);
	unsigned readers = nk - L->nw;
	/* Every reader in first: a broadcast reader that joined after the
	 * last messages would wait for more forever. */
	for (unsigned i = 0; i < nk; i++)
		while (L->kids[i].role == SHMQ_READER && !L->kids[i].ready)
			pump(L);
	for (unsigned i = first_killable; i < nk; i++)
		if (L->kids[i].role == SHMQ_WRITER) {
			spawn(L, &L->kids[i], SHMQ_WRITER, 100, readers, NULL);
			break;
		}
	/* Every reader and the last writer say DONE. */
	L->ended = 0;
	while (L->ended < readers + 1)
		pump(L);
	for (unsigned i = 0; i < nk; i++)
		if (L->kids[i].pid > 0) {
			CHECK_EQ(t_wait(L->kids[i].pid), 0);
			drain(L, i);
			L->kids[i].pid = 0;
		}
	uint64_t inflight, maybe_got;
	audit(L, &inflight, &maybe_got);
	if (fanout(L))
		audit_bcast(L);
	struct shmq_chan_info info;
	CHECK_EQ(shmq_chan_stat(L->loc, &info), 0);
	/* samples: recovered counts samples, a pool's worth per death at
	 * most; and once everyone has left, every sample is free again */
	if (L->kind == SHMQ_CHAN_SAMPLES) {
		CHECK(info.recovered <= (L->wkills + L->rkills) * info.capacity);
		CHECK_EQ(info.pool_free, info.capacity);
	} else {
		CHECK(info.recovered <= L->wkills + L->rkills);
	}
	/* Each kill aimed inside a claim left a slot claimed by the dead,
	 * which the others had to take back (once) to get past it. */
	CHECK_EQ(L->aimed, L->armed);
	if (L->naim) {
		CHECK(L->aimed >= L->naim); /* each point at least once */
		CHECK(info.recovered >= L->aimed);
	}
	if (L->kind != SHMQ_CHAN_BROADCAST)
		CHECK_EQ(info.lost, 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("killloop %s: %d iterations, kills %llu writers %llu readers "
	       "(%llu at a crash point), %llu msgs delivered, in flight at "
	       "death %llu, dying writers' last msg delivered %llu, "
	       "recovered slots %llu, lost while joining %llu, %.1f s\n",
	       L->name, iters, (unsigned long long)L->wkills,
	       (unsigned long long)L->rkills, (unsigned long long)L->aimed,
	       (unsigned long long)L->msgs,
	       (unsigned long long)inflight, (unsigned long long)maybe_got,
	       (unsigned long long)info.recovered,
	       (unsigned long long)info.lost,
	       (double)(b.tv_sec - a.tv_sec) +
	               (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	if (L->by_fd) {
		printf("killloop %s: %llu reader kills found it asleep in "
		       "epoll_wait\n", L->name,
		       (unsigned long long)L->in_epoll);
		CHECK(L->in_epoll > 0);
	}
	fflush(stdout);
	int keep;
	CHECK(sscanf(L->loc, "memfd:fd=%d", &keep) == 1);
	/* samples, made to persist: its data segment goes now; a memfd has
	 * no name to remove (it goes with the fd) */
	if (L->kind == SHMQ_CHAN_SAMPLES)
		CHECK_EQ(shmq_chan_unlink(L->loc), SHMQ_EFAMILY);
	close(keep);
	for (uint32_t id = 0; id < L->nids; id++)
		free(L->w[id].got);
	free(L->w);
	free(L->r);
	munmap(L->lanes, sizeof(struct lane) * 8);
	close(L->fd);
	close(report_fd);
}

TEST_TIMEOUT(killloop_spsc_writer_and_reader_killed_lose_only_in_flight, 900)
{
	char loc[128];
	/* A small ring: wraps, PAD records and a full ring all the time. */
	create_chan(loc, sizeof(loc), "kspsc", SHMQ_CHAN_SPSC, 1024, 0);
	struct loop L = {.name = "spsc", .loc = loc, .kind = SHMQ_CHAN_SPSC,
	                 .nw = 1, .nr = 1, .kill_writers = 1,
	                 .kill_readers = 1};
	run_chan_loop(&L, iterations());
}

TEST_TIMEOUT(killloop_mpmc_2_writers_2_readers_killed_exactly_once, 900)
{
	char loc[128];
	create_chan(loc, sizeof(loc), "kmpmc", SHMQ_CHAN_MPMC, 8,
	            HDR + MAXPAY + 4);
	/* Some kills inside a claim: a slot left WRITING or READING by the
	 * dead, which the others must take back to get past it. */
	static const struct aim in_claim[] = {
		{SHMQ_WRITER, "mpmc.claim.write"},
		{SHMQ_WRITER, "mpmc.commit.payload"},
		{SHMQ_READER, "mpmc.claim.read"},
	};
	struct loop L = {.name = "mpmc", .loc = loc, .kind = SHMQ_CHAN_MPMC,
	                 .nw = 2, .nr = 2, .kill_writers = 1,
	                 .kill_readers = 1, .aim = in_claim, .naim = 3};
	run_chan_loop(&L, iterations());
}

/* One reader never killed (in before the first message: it must get every
 * one), two killed and replaced, the writer killed and replaced. Each
 * reader gets a gapless run in order; a replacement may find messages sent
 * while it joined gone before its first one (SHMQ_ELOST, design 14), never
 * after. */
TEST_TIMEOUT(killloop_broadcast_block_readers_and_writer_killed, 900)
{
	char loc[128];
	create_chan(loc, sizeof(loc), "kbc", SHMQ_CHAN_BROADCAST, 8,
	            HDR + MAXPAY + 4);
	struct loop L = {.name = "broadcast", .loc = loc,
	                 .kind = SHMQ_CHAN_BROADCAST, .nw = 1, .nr = 2,
	                 .honest = 1, .kill_writers = 1, .kill_readers = 1};
	run_chan_loop(&L, iterations());
}

/* Samples, BLOCK: the writer fills each sample in place; readers check
 * each in place, hold up to 2 and check each again before they give it
 * back (a held sample is never reused under them). The writer and the
 * readers are killed anywhere, some inside a loan, a publish, a receive
 * or a release. One reader never killed gets every sample; each other
 * gets a gapless run in order; none lost; once all have left, the whole
 * pool is free. 80 kills in `make test` (one in 16 aimed, so that each
 * point is hit), 10,000 with SHMQ_LONG=1. */
TEST_TIMEOUT(killloop_samples_writer_and_readers_killed_pool_comes_back_whole,
             900)
{
	char loc[128];
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SAMPLES, .capacity = 16,
	                           .msg_size = HDR + MAXPAY + 4, .hold = 2,
	                           .policy = SHMQ_POLICY_BLOCK, .spin_ns = -1,
	                           .flags = SHMQ_CHAN_PERSIST};
	create_chan_as(loc, sizeof(loc), "ksmp", &o);
	static const struct aim in_step[] = {
		{SHMQ_WRITER, "samples.loan.taken"},
		{SHMQ_READER, "samples.receive.taken"},
		{SHMQ_WRITER, "samples.publish.pushed"},
		{SHMQ_READER, "samples.release.start"},
	};
	struct loop L = {.name = "samples", .loc = loc,
	                 .kind = SHMQ_CHAN_SAMPLES, .nw = 1, .nr = 2,
	                 .honest = 1, .kill_writers = 1, .kill_readers = 1,
	                 .hold = 2, .aim = in_step, .naim = 4,
	                 .aim_every = t_long() ? AIM_EVERY : 16};
	run_chan_loop(&L, t_long() ? 10000 : 80);
}

/* Readers in epoll loops on their fd, killed and replaced (some inside a
 * slot claim), two writers never killed that send with a deadline. */
TEST_TIMEOUT(killloop_mpmc_epoll_readers_killed_never_stall_the_writers, 900)
{
	char loc[128];
	create_chan(loc, sizeof(loc), "kfdm", SHMQ_CHAN_MPMC, 8,
	            HDR + MAXPAY + 4);
	static const struct aim in_claim[] = {
		{SHMQ_READER, "mpmc.claim.read"},
	};
	struct loop L = {.name = "mpmc epoll", .loc = loc,
	                 .kind = SHMQ_CHAN_MPMC, .nw = 2, .nr = 2,
	                 .kill_readers = 1, .by_fd = 1, .aim = in_claim,
	                 .naim = 1};
	run_chan_loop(&L, fd_iterations());
}

/* BLOCK: the writer waits for the slowest live reader, so a dead one must
 * be settled, not waited for, whether it died asleep in epoll_wait (its fd
 * armed) or anywhere else. One reader never killed sees every message. */
TEST_TIMEOUT(killloop_broadcast_epoll_readers_killed_never_stall_the_writer,
             900)
{
	char loc[128];
	create_chan(loc, sizeof(loc), "kfdb", SHMQ_CHAN_BROADCAST, 8,
	            HDR + MAXPAY + 4);
	struct loop L = {.name = "broadcast epoll", .loc = loc,
	                 .kind = SHMQ_CHAN_BROADCAST, .nw = 1, .nr = 2,
	                 .honest = 1, .kill_readers = 1, .by_fd = 1};
	run_chan_loop(&L, fd_iterations());
}

/* ---- A writer that died between its record and tail ------------------- */

/* The spsc writer publishes a record's header word, then stores tail. One
 * that dies between the two leaves a record the reader can see (and may
 * already have consumed) after tail. Staged here by putting tail back, as
 * the dead writer would have left it: its successor must start after that
 * record, neither refusing the channel nor writing over the record. */
TEST(spsc_writer_that_died_between_record_and_tail_is_followed_not_overwritten)
{
	char loc[128];
	unsigned char buf[HDR + MAXPAY + 4];
	uint64_t seq;
	uint32_t flags;
	t_posix_loc(loc, sizeof(loc), "ktail");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SPSC, .capacity = 1024,
	                           .spin_ns = -1};
	shmq_chan *r = NULL;
	shmq_seg *seg = NULL;
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	CHECK_EQ(shmq_seg_open(&seg, loc, NULL), 0);
	uint64_t *tail = (uint64_t *)((char *)shmq_seg_addr(seg) + 192);
	for (uint64_t round = 0; round < 2; round++) {
		uint64_t consumed = round == 1;
		int fds[2];
		uint64_t before = __atomic_load_n(tail, __ATOMIC_ACQUIRE);
		CHECK(pipe(fds) == 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			shmq_chan *w = NULL;
			CHECK_EQ(shmq_chan_open(&w, loc, SHMQ_WRITER, NULL), 0);
			CHECK_EQ(shmq_chan_send(w, buf, msg_make(buf, 10 * round,
			                                         0)), 0);
			CHECK(write(fds[1], "s", 1) == 1);
			pause(); /* killed */
		}
		char c;
		CHECK_EQ(read(fds[0], &c, 1), 1);
		close(fds[0]);
		close(fds[1]);
		CHECK(__atomic_load_n(tail, __ATOMIC_ACQUIRE) > before);
		__atomic_store_n(tail, before, __ATOMIC_RELEASE);
		ssize_t n;
		if (consumed) { /* the reader got the record before the death */
			n = shmq_chan_recv(r, buf, sizeof(buf));
			CHECK(n > 0 && msg_check(buf, (size_t)n, &seq, &flags));
			CHECK_EQ(seq, 10 * round);
		}
		CHECK(kill(pid, SIGKILL) == 0);
		CHECK_EQ(t_wait(pid), 128 + SIGKILL);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			shmq_chan *w = NULL;
			CHECK_EQ(shmq_chan_open(&w, loc, SHMQ_WRITER, NULL), 0);
			CHECK_EQ(shmq_chan_send(w, buf, msg_make(buf, 10 * round + 1,
			                                         0)), 0);
			CHECK_EQ(shmq_chan_close(w), 0);
			_exit(0);
		}
		CHECK_EQ(t_wait(pid), 0);
		for (uint64_t want = 10 * round + consumed; want <= 10 * round + 1;
		     want++) {
			n = shmq_chan_recv(r, buf, sizeof(buf));
			CHECK(n > 0 && msg_check(buf, (size_t)n, &seq, &flags));
			CHECK_EQ(seq, want);
		}
		CHECK(shmq_chan_try_recv(r, buf, sizeof(buf)) < 0);
	}
	CHECK_EQ(shmq_seg_close(seg), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* ---- Board writers ---------------------------------------------------------- */

/* Two writers set entry 0 of a board at full speed and die by SIGKILL,
 * most often mid-set (a value of up to 16 KiB takes a while to copy),
 * while a reader gets the entry all along. A value is one word repeated
 * (its writer and count) over a length the word gives: a get that mixed
 * two sets, or a length that is not its bytes', shows. */
#define KB_VALUE 16384u

struct kb_area {
	uint64_t count[3]; /* writers' sets, the reader's gets (release) */
	uint32_t stop;     /* parent: the reader may leave (release) */
};

static size_t kb_make(uint64_t *v, uint64_t w)
{
	size_t words = 1 + (size_t)(w % (KB_VALUE / 8));
	for (size_t i = 0; i < words; i++)
		v[i] = w;
	return words * 8;
}

/* 0 when v[0..n) is a value kb_make made, or none (never set). */
static int kb_check(const uint64_t *v, size_t n)
{
	if (n == 0)
		return 0;
	if (n != 8 * (1 + v[0] % (KB_VALUE / 8)))
		return -1;
	for (size_t i = 1; i < n / 8; i++)
		if (v[i] != v[0])
			return -1;
	return 0;
}

static void kb_writer(const char *loc, struct kb_area *a, unsigned k,
                      uint64_t id)
{
	static uint64_t v[KB_VALUE / 8];
	shmq_board *b;
	if (shmq_board_open(&b, loc, NULL) < 0)
		_exit(2);
	for (uint64_t n = 1;; n++) {
		if (shmq_board_set(b, 0, v, kb_make(v, id << 32 | n)) < 0)
			_exit(3);
		/* release: pairs with the parent's acquire load; a set done */
		__atomic_store_n(&a->count[k], n, __ATOMIC_RELEASE);
	}
}

/* Exits 0, or 4 (a torn value), 5 (the seq went back), 6 (an error). */
static void kb_reader(const char *loc, struct kb_area *a)
{
	static uint64_t v[KB_VALUE / 8];
	uint64_t seq, last = 0;
	shmq_board *b;
	if (shmq_board_open(&b, loc, NULL) < 0)
		_exit(2);
	/* acquire: pairs with the parent's release of stop */
	for (uint64_t n = 1; !__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE); n++) {
		ssize_t got = shmq_board_get(b, 0, v, sizeof(v), &seq);
		if (got == -EBUSY) /* rewritten under every copy: allowed */
			continue;
		if (got < 0)
			_exit(6);
		if (kb_check(v, (size_t)got) < 0)
			_exit(4);
		if (seq < last)
			_exit(5);
		last = seq;
		/* release: pairs with the parent's acquire load */
		__atomic_store_n(&a->count[2], n, __ATOMIC_RELEASE);
	}
	_exit(0);
}

/* Waits, up to 10 s, for child k's count to reach target. */
static void kb_await(struct kb_area *a, unsigned k, uint64_t target,
                     const pid_t *pids, unsigned n)
{
	int64_t until = t_now_ns() + 10 * 1000000000LL;
	/* acquire: pairs with the child's release store */
	while (__atomic_load_n(&a->count[k], __ATOMIC_ACQUIRE) < target) {
		int st;
		for (unsigned j = 0; j < n; j++)
			if (waitpid(pids[j], &st, WNOHANG) == pids[j])
				t_fail(__FILE__, __LINE__, "alive", "board: "
				       "child %u ended, status %#x (the reader, "
				       "2: exit 4 a torn value, 5 the seq went "
				       "back, 6 an error)", j, st);
		if (t_now_ns() > until)
			t_fail(__FILE__, __LINE__, "progress", "board: child "
			       "%u made no progress for 10 s", k);
		sched_yield();
	}
}

static pid_t kb_spawn(const char *loc, struct kb_area *a, unsigned k,
                      uint64_t id)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (k == 2)
			kb_reader(loc, a);
		kb_writer(loc, a, k, id);
	}
	return pid;
}

TEST_TIMEOUT(killloop_board_writers_killed_mid_set_never_tear_a_read, 900)
{
	char loc[96];
	uint64_t v[4], back[KB_VALUE / 8], seq, kills = 0;
	/* fewer than the channel loops: a fifth of the kills land in a set,
	 * and the channel loops already cover fork and kill at length */
	int iters = t_long() ? 10000 : 50;
	int64_t t0 = t_now_ns();
	struct shmq_board_opts o = {.entries = 1, .value_size = KB_VALUE};
	struct shmq_board_info in;
	shmq_board *b;
	t_posix_loc(loc, sizeof(loc), "kb");
	CHECK_EQ(shmq_board_create(&b, loc, &o), 0);
	struct kb_area *a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE,
	                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED);
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	pid_t pids[3];
	for (unsigned k = 0; k < 3; k++)
		pids[k] = kb_spawn(loc, a, k, k);
	for (int it = 0; it < iters + 2; it++) {
		/* the last two rounds kill both writers and start none */
		unsigned k = it < iters ? (unsigned)rand_r(&seed) % 2
		                        : (unsigned)(it - iters);
		kb_await(a, k, 1 + (unsigned)rand_r(&seed) % 4, pids, 3);
		random_spin(&seed, 20000); /* mostly inside a set */
		CHECK(kill(pids[k], SIGKILL) == 0);
		CHECK_EQ(t_wait(pids[k]), 128 + SIGKILL);
		kills++;
		a->count[k] = 0;
		if (it < iters)
			pids[k] = kb_spawn(loc, a, k, 2 + (uint64_t)it);
	}
	/* the reader goes on after the last kill, then leaves untroubled */
	kb_await(a, 2, a->count[2] + 100, pids + 2, 1);
	/* release: pairs with the reader's acquire load */
	__atomic_store_n(&a->stop, 1, __ATOMIC_RELEASE);
	CHECK_EQ(t_wait(pids[2]), 0);
	/* the entry recovers: a set takes over a dead writer's lock */
	size_t len = kb_make(v, 3); /* 32 bytes */
	CHECK_EQ(shmq_board_set(b, 0, v, len), 0);
	CHECK_EQ(shmq_board_get(b, 0, back, sizeof(back), &seq), (ssize_t)len);
	CHECK(!memcmp(back, v, len));
	CHECK_EQ(shmq_board_info(b, &in), 0);
	CHECK(in.recovered > 0); /* some kills did land inside a set */
	printf("killloop board: %d iterations, kills %llu, sets %llu, "
	       "recovered %u, reads %llu, %.1f s\n", iters,
	       (unsigned long long)kills, (unsigned long long)in.updates,
	       in.recovered, (unsigned long long)a->count[2],
	       (double)(t_now_ns() - t0) / 1e9);
	fflush(stdout);
	munmap(a, sizeof(*a));
	CHECK_EQ(shmq_board_close(b), 0);
	CHECK_EQ(shmq_board_unlink(loc), 0);
}

/* ---- Mutex holders -------------------------------------------------------- */

/* A counter and its check, kept consistent by the robust mutex and a
 * journal: a holder that dies mid-update leaves j_active set, and whoever
 * gets -EOWNERDEAD rolls the counter back to j_old. Clearing j_active is
 * the commit: a section is complete once it is cleared. */
struct marea {
	shmq_mutex m;
	volatile uint64_t counter, check, j_old, j_active;
	uint64_t owner_dead; /* -EOWNERDEAD seen, in total */
};

static uint64_t checksum(uint64_t c)
{
	return c * 0x9e3779b97f4a7c15u ^ 0x5555aaaa5555aaaau;
}

/* 0, or -1 when the data is inconsistent without a journal entry (the
 * mutex let two holders in, or a committed section was half done). */
static int repair(struct marea *a)
{
	if (a->j_active) { /* roll back the section that died */
		a->counter = a->j_old;
		a->check = checksum(a->j_old);
		a->j_active = 0;
	}
	return a->check == checksum(a->counter) ? 0 : -1;
}

static int lock_repaired(struct marea *a)
{
	int rc = shmq_mutex_lock(&a->m);
	if (rc == -EOWNERDEAD) {
		__atomic_add_fetch(&a->owner_dead, 1, __ATOMIC_RELAXED);
		if (repair(a) < 0)
			return -EBADMSG;
		rc = shmq_mutex_consistent(&a->m);
	} else if (rc == 0 && a->check != checksum(a->counter)) {
		return -EBADMSG; /* a section left half done, not journalled */
	}
	return rc;
}

static void mutex_child(struct marea *a, struct lane *l, unsigned seed)
{
	for (;;) {
		int rc = lock_repaired(a);
		if (rc < 0)
			_exit(rc == -EBADMSG ? 4 : 3);
		a->j_old = a->counter;
		a->j_active = 1;
		a->counter = a->j_old + 1;
		random_spin(&seed, 400); /* a kill lands inside, often */
		a->check = checksum(a->counter);
		a->j_active = 0; /* committed */
		if (shmq_mutex_unlock(&a->m) < 0)
			_exit(5);
		/* release: pairs with the parent's acquire load; one more
		 * section done (a death before this is in flight) */
		__atomic_store_n(&l->count, l->count + 1, __ATOMIC_RELEASE);
	}
}

TEST_TIMEOUT(killloop_mutex_holders_killed_counter_matches_completed_sections,
             900)
{
	enum { KIDS = 2 };
	int iters = iterations();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct marea *a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct lane *lanes = mmap(NULL, sizeof(struct lane) * KIDS,
	                          PROT_READ | PROT_WRITE,
	                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED && lanes != MAP_FAILED);
	CHECK_EQ(shmq_mutex_init(&a->m), 0);
	a->check = checksum(0);
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	pid_t pids[KIDS];
	uint64_t done = 0, kills = 0; /* sections reported by dead children */
	for (int k = 0; k < KIDS; k++) {
		pids[k] = fork();
		CHECK(pids[k] >= 0);
		if (pids[k] == 0)
			mutex_child(a, &lanes[k], seed + (unsigned)k);
	}
	for (int it = 0; it < iters + KIDS; it++) {
		/* The last KIDS rounds kill every child, and start none. */
		int k = it < iters ? rand_r(&seed) % KIDS : it - iters;
		uint64_t target = __atomic_load_n(&lanes[k].count,
		                                  __ATOMIC_ACQUIRE) +
		                  (unsigned)rand_r(&seed) % 16;
		struct timespec w0, w;
		clock_gettime(CLOCK_MONOTONIC, &w0);
		/* A random kill point: not synchronisation, a child that
		 * made no progress for 10 s fails the test. */
		while (__atomic_load_n(&lanes[k].count, __ATOMIC_ACQUIRE) <
		       target) {
			sched_yield();
			clock_gettime(CLOCK_MONOTONIC, &w);
			int st;
			for (int j = 0; j < KIDS; j++)
				if (waitpid(pids[j], &st, WNOHANG) == pids[j])
					t_fail(__FILE__, __LINE__, "alive", "mutex: "
					       "child %d ended, status %#x", j, st);
			if (w.tv_sec - w0.tv_sec > 10)
				t_fail(__FILE__, __LINE__, "progress", "mutex: "
				       "child %d stuck after %llu kills (word "
				       "%#x, owners %d %d)", k,
				       (unsigned long long)kills,
				       *(volatile uint32_t *)(void *)&a->m,
				       (int)pids[0], (int)pids[1]);
		}
		random_spin(&seed, 2000);
		CHECK(kill(pids[k], SIGKILL) == 0);
		CHECK_EQ(t_wait(pids[k]), 128 + SIGKILL);
		kills++;
		done += __atomic_load_n(&lanes[k].count, __ATOMIC_ACQUIRE);
		lanes[k].count = 0;
		if (it >= iters)
			continue;
		pids[k] = fork();
		CHECK(pids[k] >= 0);
		if (pids[k] == 0)
			mutex_child(a, &lanes[k], seed + (unsigned)it);
	}
	/* Everybody is dead: the parent takes the lock and repairs last. */
	int rc = lock_repaired(a);
	CHECK(rc == 0);
	CHECK_EQ(a->check, checksum(a->counter));
	CHECK_EQ(a->j_active, 0);
	CHECK(a->counter >= done);
	uint64_t inflight = a->counter - done;
	CHECK(inflight <= kills); /* one completed, unreported, per death */
	CHECK(a->owner_dead > 0); /* some kills did land inside the lock */
	CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("killloop mutex: %d iterations, kills %llu, sections %llu, in "
	       "flight at death %llu, owner-dead recoveries %llu, %.1f s\n",
	       iters, (unsigned long long)kills,
	       (unsigned long long)a->counter, (unsigned long long)inflight,
	       (unsigned long long)a->owner_dead,
	       (double)(t1.tv_sec - t0.tv_sec) +
	               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	fflush(stdout);
	munmap(lanes, sizeof(struct lane) * KIDS);
	munmap(a, sizeof(*a));
}

/* ---- An mpmc slot claimed by a dead writer whose line is taken again ---- */

/* A writer dies with a slot reserved (WRITING, naming its peer line). The
 * next writer takes the same line: the slot must not look held by it (a
 * live peer) forever, but be taken back, and the stream go on. */
TEST(mpmc_slot_of_a_dead_writer_is_taken_back_when_its_line_is_reused)
{
	char loc[128], buf[64];
	int fds[2];
	t_posix_loc(loc, sizeof(loc), "kline");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_MPMC, .capacity = 4,
	                           .msg_size = 64, .spin_ns = -1};
	shmq_chan *r = NULL;
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	CHECK(pipe(fds) == 0);
	pid_t pids[2];
	for (int k = 0; k < 2; k++) {
		pids[k] = fork();
		CHECK(pids[k] >= 0);
		if (pids[k] == 0) {
			shmq_chan *w = NULL;
			void *p;
			CHECK_EQ(shmq_chan_open(&w, loc, SHMQ_WRITER, NULL), 0);
			if (k == 0) /* dies with the slot WRITING */
				CHECK_EQ(shmq_chan_reserve(w, 8, &p), 0);
			else
				CHECK_EQ(shmq_chan_send(w, "after", 5), 0);
			CHECK(write(fds[1], "s", 1) == 1);
			pause(); /* killed */
		}
		CHECK_EQ(read(fds[0], buf, 1), 1);
		if (k == 0) {
			CHECK(kill(pids[0], SIGKILL) == 0);
			CHECK_EQ(t_wait(pids[0]), 128 + SIGKILL);
		}
	}
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(r, &in), 0);
	CHECK_EQ(in.writers, 1);
	CHECK_EQ(in.dead_writers, 1);
	/* The live writer holds the dead one's line: the reader skips the
	 * slot it left instead of waiting for the line's new holder. */
	struct timespec dl = shmq_deadline(5000);
	CHECK_EQ(shmq_chan_recv_timed(r, buf, sizeof(buf), &dl), 5);
	CHECK(memcmp(buf, "after", 5) == 0);
	CHECK_EQ(shmq_chan_info(r, &in), 0);
	CHECK_EQ(in.recovered, 1);
	CHECK(kill(pids[1], SIGKILL) == 0);
	CHECK_EQ(t_wait(pids[1]), 128 + SIGKILL);
	close(fds[0]);
	close(fds[1]);
	CHECK_EQ(shmq_chan_close(r), 0);
}
