/*
 * A hostile peer: a process with write access scribbles on live shared
 * state (channel headers, the peer table, ring records and slots; a
 * board's header and entries; mutex, semaphore and event words) while
 * honest peers keep working. The promise:
 * honest peers get data or the errors each call documents, never a signal,
 * an overflow (the children run under ASan and UBSan) or a call that
 * outlasts its deadline by a second; and they keep working. What garbage
 * can do is deny service for a while and forge payloads (the threat model
 * says so); it must not do more.
 *
 * Each case asserts, per honest peer:
 *  - every result is one of the codes its call may give under a hostile
 *    peer (EXPECT names the call and the code otherwise);
 *  - a stated number of successful operations (a send or a receive that
 *    returned data, a lock/unlock section, a semaphore or event wait that
 *    returned 0), not calls: a failed open is no progress.
 * The scribbler works in bursts; after each one it waits until every
 * honest peer has made progress again (counters in a private shared page,
 * not a sleep), so progress is always possible. Damage that stays (an
 * identity line that no longer opens, a lock word naming a live process, a
 * ring that no longer validates) is repaired as a real system would: a
 * peer that keeps failing, or makes no progress for WEDGE_NS, re-creates
 * the channel (unlink + create) or initialises the object again, and the
 * others follow. So that repairs cannot hide a bug, each case ends calm:
 * the scribbler gone, the object made anew once, every peer must make
 * plan.calm more successes with no error but a timeout and no repair.
 *
 * Fixed tests plant a record with a valid tag and a wild length in each
 * ring kind: recv and peek give exactly -EBADMSG and touch nothing.
 *
 * SHMQ_LONG=1 (make check-long) scribbles 10 s per case at least; else a
 * case ends once the minimums of plan() are met (about a second).
 */
#include "layout.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CALL_NS 60000000LL    /* each honest call's deadline: 60 ms, past
                                 one 50 ms poll tick of a channel wait */
#define SLACK_NS 1000000000LL /* no call may outlast it by a second */
#define WEDGE_NS 150000000LL  /* no progress this long: repair */
#define HONEST 3
#define BURST 16    /* scribbles in a burst, at most */
#define PAUSE_OPS 4 /* successes each peer makes between two bursts */
#define TIMEOUT 120 /* s, a case's: two phases, each failing at cap_ns */

/* How long a case runs: until the scribbler made `bursts` bursts and
 * every peer `min_ok` successes, and min_ns passed; then calm until every
 * peer made `calm` more. Each phase fails at cap_ns (TIMEOUT: both). */
struct plan {
	int64_t min_ns, cap_ns;
	uint64_t bursts, min_ok, calm;
};

static struct plan plan(void)
{
	if (t_long())
		return (struct plan){10000000000LL, 40000000000LL, 2000, 3000,
		                     3000};
	return (struct plan){0, 20000000000LL, 150, 300, 1000};
}

/* ---- The private page: progress counters and the statistics ------------ */

#define NCODES 12
struct peer_stats {
	/* successes (sync: the least of the three kinds); the scribbler's
	 * pause and the judge read them */
	_Atomic uint64_t ok, calm_ok;
	uint64_t kind_ok[3], kind_calm[3]; /* sync: sections, sem, event */
	uint64_t calls, reopens, repairs;
	/* the call under way and when it began: the judge fails a call that
	 * outlasts its deadline by SLACK_NS even if it never returns */
	const char *_Atomic in_call;
	_Atomic int64_t call_t0;
	int64_t max_ns;   /* the longest call */
	int code[NCODES]; /* the errors seen, and how often */
	uint64_t times[NCODES];
};

struct board {
	_Atomic int stop, quiet; /* everyone ends; the scribbler ends */
	/* channels: the generation asked for, the one under the name, the
	 * first one made after the scribbler ended (0: not yet) */
	_Atomic uint32_t epoch, ready, calm;
	_Atomic int park;         /* peers: let go of the channel and wait */
	_Atomic uint32_t parked;  /* how many did */
	_Atomic uint32_t idle;    /* peers that stopped calling */
	_Atomic uint64_t bursts, flips, gated_flips;
	/* sync: peers between lock and unlock, and who keeps them out */
	_Atomic uint32_t inside;
	_Atomic int gate, reinit;
	_Atomic int repairing; /* one initialiser at a time, none once calm */
	_Atomic uint32_t obj_epoch[3];
	struct peer_stats st[HONEST];
	/* samples: every data segment made (id, nonce), removed at the end
	 * (one whose channel header was scribbled is not removed with it) */
	_Atomic uint32_t ndata;
	struct {
		int32_t id;
		uint64_t nonce;
	} data[2048];
};

static int64_t mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static struct timespec after(int64_t ns)
{
	int64_t t = mono() + ns;
	return (struct timespec){t / 1000000000LL, t % 1000000000LL};
}

static int stopping(struct board *b)
{
	return atomic_load(&b->stop);
}

static struct board *board_new(void)
{
	struct board *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(b != MAP_FAILED);
	memset(b, 0, sizeof(*b));
	return b;
}

static void count_code(struct peer_stats *s, int rc)
{
	for (int i = 0; i < NCODES; i++)
		if (!s->times[i] || s->code[i] == rc) {
			s->code[i] = rc;
			s->times[i]++;
			return;
		}
}

/* rc must be one of the codes the call may give. */
static void expect_in(const char *file, int line, const char *call, long rc,
                      const long *set, size_t n, int calm)
{
	for (size_t i = 0; i < n; i++)
		if (rc == set[i])
			return;
	t_fail(file, line, call, "gave %ld (%s), which it may not give %s",
	       rc, shmq_err_name((int)rc), calm ? "once the hostile peer is "
	       "gone and the object made anew" : "under a hostile peer");
}

#define EXPECT_(calm, call, rc, ...)                                         \
	expect_in(__FILE__, __LINE__, call, rc, (const long[]){__VA_ARGS__}, \
	          sizeof((const long[]){__VA_ARGS__}) / sizeof(long), calm)
#define EXPECT(call, rc, ...) EXPECT_(0, call, rc, __VA_ARGS__)
/* Calm (no scribbler, a fresh object): data, or a timeout. */
#define CALM(call, rc, ...) EXPECT_(1, call, rc, __VA_ARGS__)

/* A call begins: returns the time. */
static int64_t begin(struct peer_stats *s, const char *call)
{
	int64_t t0 = mono();
	atomic_store(&s->call_t0, t0);
	atomic_store(&s->in_call, call);
	return t0;
}

/* A call that began at t0 has ended: it kept its deadline (plus slack). */
static void timed(struct peer_stats *s, const char *call, int64_t t0, long rc)
{
	int64_t ns = mono() - t0;
	atomic_store(&s->in_call, NULL);
	s->calls++;
	s->max_ns = ns > s->max_ns ? ns : s->max_ns;
	if (ns > CALL_NS + SLACK_NS)
		t_fail(__FILE__, __LINE__, call, "took %lld ms",
		       (long long)(ns / 1000000));
	if (rc < 0)
		count_code(s, (int)rc);
}

static uint64_t least(const uint64_t *v, unsigned n)
{
	uint64_t m = v[0];
	for (unsigned i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

/* A success of kind k (of nkinds): progress is the least of the kinds,
 * so each must go on. */
static void progress(struct peer_stats *s, unsigned k, unsigned nkinds,
                     int calm)
{
	s->kind_ok[k]++;
	atomic_store(&s->ok, least(s->kind_ok, nkinds));
	if (calm) {
		s->kind_calm[k]++;
		atomic_store(&s->calm_ok, least(s->kind_calm, nkinds));
	}
}

/* ---- The hostile peer ---------------------------------------------------- */

/* Where it writes: [from, to) with a weight. A gated region is written only
 * while no honest peer is between lock and unlock (see sync_enter()). */
struct region {
	size_t from, to;
	unsigned weight;
	int gated;
};

/* Maps the object under path, read-write: 0, or -1 (no object now). */
static int map_object(const char *path, unsigned char **p, size_t *len)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	struct stat sb;
	CHECK(fstat(fd, &sb) == 0);
	*len = (size_t)sb.st_size;
	*p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(*p != MAP_FAILED);
	close(fd);
	return 0;
}

static int ending(struct board *b)
{
	return stopping(b) || atomic_load(&b->quiet);
}

/* Every peer made PAUSE_OPS successes since `base`. */
static int advanced(struct board *b, const uint64_t *base, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (atomic_load(&b->st[i].ok) < base[i] + PAUSE_OPS)
			return 0;
	return 1;
}

/* Keeps the honest peers out of their lock sections: 0 once none is in. */
static int gate_close(struct board *b)
{
	atomic_store(&b->gate, 1); /* seq_cst: Dekker with sync_enter() */
	while (atomic_load(&b->inside))
		if (ending(b)) {
			atomic_store(&b->gate, 0);
			return -1;
		} else {
			sched_yield();
		}
	return 0;
}

/* One scribble: random bytes and plausible words (0, ~0, powers of two,
 * small counts) at a random 8-byte aligned place of a region. */
static void scribble(struct board *b, unsigned char *p, size_t len,
                     const struct region *reg, unsigned total, unsigned *seed)
{
	static const uint64_t words[] = {0, 1, ~0ull, 0x8000000000000000ull,
	                                 4096, 1ull << 32, 0x7fffffff};
	unsigned r = (unsigned)rand_r(seed), pick = r % total, i = 0;
	while (pick >= reg[i].weight)
		pick -= reg[i++].weight;
	size_t to = reg[i].to < len ? reg[i].to : len;
	if (to < reg[i].from + 8)
		return;
	size_t off = (reg[i].from + (size_t)rand_r(seed) %
	              (to - reg[i].from - 7)) & ~(size_t)7;
	uint64_t w = r % 3 ? words[(size_t)rand_r(seed) % 7]
	                   : (uint64_t)rand_r(seed) << 33 ^
	                     (uint64_t)rand_r(seed);
	if (reg[i].gated && gate_close(b) < 0)
		return;
	if (r % 5 == 0)
		p[off + (r >> 8) % 8] = (unsigned char)(r >> 16);
	else
		memcpy(p + off, &w, 8);
	if (reg[i].gated) {
		atomic_fetch_add(&b->gated_flips, 1);
		atomic_store(&b->gate, 0);
	}
	atomic_fetch_add(&b->flips, 1);
}

/* Bursts of up to BURST scribbles at a random pace, each followed by a
 * pause until every honest peer has made PAUSE_OPS more successes. The
 * object under path is mapped again when the honest peers re-create it. */
static void hostile(struct board *b, const char *path,
                    const struct region *reg, unsigned nreg, unsigned npeers)
{
	unsigned char *p = NULL;
	size_t len = 0;
	uint32_t mapped = 0;
	unsigned seed = (unsigned)getpid(), total = 0;
	for (unsigned i = 0; i < nreg; i++)
		total += reg[i].weight;
	while (!ending(b)) {
		uint32_t e = atomic_load(&b->ready);
		if (!p || e != mapped) {
			if (p)
				munmap(p, len);
			p = NULL;
			if (e != atomic_load(&b->epoch) ||
			    map_object(path, &p, &len) < 0) {
				sched_yield(); /* being re-created */
				continue;
			}
			mapped = e;
		}
		for (unsigned n = 1 + (unsigned)rand_r(&seed) % BURST; n; n--) {
			scribble(b, p, len, reg, total, &seed);
			for (unsigned k = (unsigned)rand_r(&seed) % 20000; k; k--)
				__asm__ __volatile__("" ::: "memory");
		}
		atomic_fetch_add(&b->bursts, 1);
		uint64_t base[HONEST];
		for (unsigned i = 0; i < npeers; i++)
			base[i] = atomic_load(&b->st[i].ok);
		while (!ending(b) && !advanced(b, base, npeers))
			sched_yield();
	}
	_exit(0);
}

static pid_t spawn(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	return pid;
}

static void print_stats(struct board *b, unsigned n, const char *const *who)
{
	printf("  hostile: %llu scribbles in %llu bursts",
	       (unsigned long long)atomic_load(&b->flips),
	       (unsigned long long)atomic_load(&b->bursts));
	for (unsigned i = 0; i < n; i++) {
		struct peer_stats *s = &b->st[i];
		printf("; %s: %llu calls, %llu ok (%llu calm), %llu reopens, "
		       "%llu repairs, longest %lld ms, errors:", who[i],
		       (unsigned long long)s->calls,
		       (unsigned long long)atomic_load(&s->ok),
		       (unsigned long long)atomic_load(&s->calm_ok),
		       (unsigned long long)s->reopens,
		       (unsigned long long)s->repairs,
		       (long long)(s->max_ns / 1000000));
		for (int k = 0; k < NCODES && s->times[k]; k++)
			printf(" %s %llu", shmq_err_name(s->code[k]),
			       (unsigned long long)s->times[k]);
	}
	printf("\n");
}

/* Waits, every child alive and no call overdue, until each peer's count
 * (ok, or calm_ok) reaches need, the scribbler made `bursts` bursts and
 * min_ns passed; fails at cap_ns. SIGCHLD is blocked before the children
 * are forked: a child that ends early (a helper that failed a check)
 * wakes us at once. */
static void await(struct board *b, unsigned n, const char *const *who,
                  int calm, uint64_t need, uint64_t bursts, int64_t min_ns)
{
	struct plan pl = plan();
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int64_t t0 = mono();
	for (;;) {
		int st, done = mono() - t0 >= min_ns &&
		               atomic_load(&b->bursts) >= bursts;
		pid_t gone = waitpid(-1, &st, WNOHANG);
		if (gone)
			t_fail(__FILE__, __LINE__, "a peer ended early",
			       "pid %d, status %d", (int)gone, st);
		for (unsigned i = 0; i < n; i++) {
			struct peer_stats *s = &b->st[i];
			const char *call = atomic_load(&s->in_call);
			int64_t late = mono() - atomic_load(&s->call_t0);
			if (call && late > CALL_NS + SLACK_NS)
				t_fail(__FILE__, __LINE__, call, "%s: no return "
				       "after %lld ms", who[i],
				       (long long)(late / 1000000));
			done &= atomic_load(calm ? &s->calm_ok : &s->ok) >= need;
		}
		if (done)
			return;
		if (mono() - t0 > pl.cap_ns) {
			uint64_t got[HONEST];
			for (unsigned i = 0; i < n; i++)
				got[i] = atomic_load(calm ? &b->st[i].calm_ok
				                          : &b->st[i].ok);
			print_stats(b, n, who);
			t_fail(__FILE__, __LINE__, "progress", "in %lld s%s: "
			       "%llu bursts (%llu asked); the slowest peer made "
			       "%llu successful operations (%llu asked)",
			       (long long)(pl.cap_ns / 1000000000),
			       calm ? " once calm" : "",
			       (unsigned long long)atomic_load(&b->bursts),
			       (unsigned long long)bursts,
			       (unsigned long long)least(got, n),
			       (unsigned long long)need);
		}
		struct timespec poll = {0, 10000000};
		sigtimedwait(&chld, NULL, &poll);
	}
}

/* The hostile phase, the scribbler's end, calm_start() (the object made
 * anew), the calm phase; then every child must end normally. */
static void judge(struct board *b, const pid_t *pid, unsigned n, pid_t bad,
                  const char *const *who,
                  void (*calm_start)(struct board *b, void *arg), void *arg)
{
	struct plan pl = plan();
	await(b, n, who, 0, pl.min_ok, pl.bursts, pl.min_ns);
	atomic_store(&b->quiet, 1);
	CHECK_EQ(t_wait(bad), 0);
	calm_start(b, arg);
	await(b, n, who, 1, pl.calm, 0, 0);
	atomic_store(&b->stop, 1);
	int64_t t1 = mono();
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(t_wait(pid[i]), 0); /* a normal exit: no signal */
	CHECK(mono() - t1 < CALL_NS + SLACK_NS); /* they all stopped */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	print_stats(b, n, who);
	for (unsigned i = 0; i < n; i++)
		CHECK(b->st[i].max_ns < CALL_NS + SLACK_NS);
}

static void block_sigchld(void)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	CHECK(sigprocmask(SIG_BLOCK, &chld, NULL) == 0);
}

/* ---- Generations of an object that peers remake (channels, boards) ------ */

/* A peer asked to park (see park_all()) has let go of its handle: it
 * says so and waits until the calm object exists. */
static void parked_wait(struct board *b)
{
	atomic_fetch_add(&b->parked, 1);
	while (atomic_load(&b->park) && !stopping(b))
		sched_yield();
}

/* The generation under the name, or 0 while another peer remakes it. */
static int ready_epoch(struct board *b, uint32_t *e)
{
	*e = atomic_load(&b->ready);
	if (*e == atomic_load(&b->epoch))
		return 1;
	sched_yield();
	return 0;
}

/* A peer that is done waits for the others before it lets go. */
static void idle_wait(struct board *b, unsigned npeers)
{
	atomic_fetch_add(&b->idle, 1);
	while (atomic_load(&b->idle) < npeers)
		sched_yield();
}

/* The scribbler is gone: every one of the n peers parks (none holds a
 * handle or is opening one); the generation they left. */
static uint32_t park_all(struct board *b, unsigned n)
{
	int64_t t0 = mono();
	atomic_store(&b->park, 1);
	while (atomic_load(&b->parked) < n) {
		CHECK(mono() - t0 < CALL_NS + SLACK_NS);
		sched_yield();
	}
	uint32_t e = atomic_load(&b->ready);
	CHECK(e == atomic_load(&b->epoch));
	return e;
}

/* Generation e + 1, made after the scribbler ended, is calm: the peers
 * join it. */
static void unpark_calm(struct board *b, uint32_t e)
{
	atomic_store(&b->calm, e + 1);
	atomic_store(&b->ready, e + 1);
	atomic_store(&b->park, 0);
}

/* ---- Channels ------------------------------------------------------------ */

struct chan_peer {
	struct board *b;
	struct peer_stats *s;
	const char *loc;
	const struct shmq_chan_opts *opts;
	int role, kind;
	unsigned npeers;
	shmq_chan *ch;
	uint32_t epoch; /* the generation ch belongs to */
	int calm;       /* ch was made after the scribbler ended */
	int policy;     /* ch's broadcast policy: from the header at open */
	char *buf;      /* the largest message ch takes */
	size_t max;
	int64_t since;  /* the last success, or the last (re)join */
};

static void peer_close(struct chan_peer *p)
{
	if (!p->ch)
		return;
	int64_t t0 = begin(p->s, "shmq_chan_close");
	int rc = shmq_chan_close(p->ch);
	timed(p->s, "shmq_chan_close", t0, rc);
	EXPECT("shmq_chan_close", rc, 0);
	p->ch = NULL;
	free(p->buf);
	p->buf = NULL;
}

static void peer_attached(struct chan_peer *p, uint32_t e)
{
	struct shmq_chan_info in;
	int rc = shmq_chan_info(p->ch, &in);
	EXPECT("shmq_chan_info", rc, 0);
	uint32_t calm = atomic_load(&p->b->calm);
	p->calm = calm && e >= calm;
	p->policy = in.policy;
	p->epoch = e;
	p->max = shmq_chan_max_msg(p->ch);
	CHECK(p->max > 0);
	p->buf = malloc(p->max);
	CHECK(p->buf != NULL);
	memset(p->buf, 0x5a, p->max);
	p->since = mono();
}

/* A samples channel was made at loc: its data segment is noted, to be
 * removed at the end whatever becomes of the header. */
static void note_data(struct board *b, const char *loc,
                      const struct shmq_chan_opts *o)
{
	char path[256];
	struct shmq_chan_hdr h;
	if (o->kind != SHMQ_CHAN_SAMPLES)
		return;
	int fd = open(t_shm_path(path, sizeof(path), loc), O_RDONLY);
	CHECK(fd >= 0);
	CHECK(pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h));
	close(fd);
	uint32_t k = atomic_fetch_add(&b->ndata, 1);
	CHECK(k < sizeof(b->data) / sizeof(b->data[0]));
	b->data[k].id = (int32_t)h.data_id;
	b->data[k].nonce = h.data_nonce;
}

/* Removes the noted data segments that are still there and still ours
 * (magic and nonce: an id may have been reused by now). */
static void sweep_data(struct board *b)
{
	for (uint32_t k = 0; k < atomic_load(&b->ndata); k++) {
		struct shmq_samples_data *d = shmat(b->data[k].id, NULL,
		                                    SHM_RDONLY);
		if (d == (void *)-1)
			continue; /* gone with its channel's unlink */
		int ours = d->magic == SHMQ_SAMPLES_DATA_MAGIC &&
		           d->nonce == b->data[k].nonce;
		shmdt(d);
		if (ours)
			shmctl(b->data[k].id, IPC_RMID, NULL);
	}
}

/* Removes the channel at loc: with its data segment (samples) when its
 * header still says it is a channel, else the name alone. */
static int unlink_chan(const char *loc)
{
	int rc = shmq_chan_unlink(loc);
	return rc == 0 || rc == -ENOENT ? rc : shmq_unlink(loc);
}

/* Generation e of the channel is broken for good: the caller whose CAS
 * moves the generation removes the name and creates the channel anew (and
 * returns 1); the others follow the generation. A reader makes it, so
 * that no writer seems to have come and gone (-EPIPE). */
static int make_anew(struct board *b, struct peer_stats *s, const char *loc,
                     const struct shmq_chan_opts *o, uint32_t e,
                     shmq_chan **ch, int role)
{
	if (!atomic_compare_exchange_strong(&b->epoch, &e, e + 1))
		return 0; /* someone else is at it */
	int64_t t0 = begin(s, "shmq_unlink");
	int rc = unlink_chan(loc);
	timed(s, "shmq_unlink", t0, rc);
	EXPECT("shmq_unlink", rc, 0, -ENOENT);
	t0 = begin(s, "shmq_chan_create");
	rc = shmq_chan_create(ch, loc, role, o);
	timed(s, "shmq_chan_create", t0, rc);
	EXPECT("shmq_chan_create", rc, 0);
	note_data(b, loc, o);
	return 1;
}

/* What the scribbler left cannot be worked through: re-create. */
static void remake(struct chan_peer *p)
{
	peer_close(p);
	p->since = mono();
	if (!make_anew(p->b, p->s, p->loc, p->opts, p->epoch, &p->ch, p->role))
		return;
	p->s->repairs++;
	peer_attached(p, p->epoch + 1);
	atomic_store(&p->b->ready, p->epoch);
}

/* One send (or reserve + commit, every other call): 1 on success, 0
 * none, -1 an error after which the handle is closed. */
static int chan_write(struct chan_peer *p)
{
	struct peer_stats *s = p->s;
	size_t len = 1 + s->calls % 200;
	struct timespec dl = after(CALL_NS);
	const char *call = s->calls % 2 ? "shmq_chan_send_timed"
	                                : "shmq_chan_reserve_timed";
	int64_t t0 = begin(s, call);
	void *at = NULL;
	int rc = s->calls % 2
	         ? shmq_chan_send_timed(p->ch, p->buf, len, &dl)
	         : shmq_chan_reserve_timed(p->ch, len, &at, &dl);
	timed(s, call, t0, rc);
	if (rc == -EMSGSIZE && !p->calm) { /* the header it opened says so */
		CHECK(len > p->max);
		return 0;
	}
	if (p->calm)
		CALM(call, rc, 0, -ETIMEDOUT);
	else if (p->kind != SHMQ_CHAN_BROADCAST) /* readers gone, some dead */
		EXPECT(call, rc, 0, -ETIMEDOUT, -EBADMSG, SHMQ_EPEERDEAD);
	else if (p->policy == SHMQ_POLICY_BLOCK)
		EXPECT(call, rc, 0, -ETIMEDOUT, -EBADMSG);
	else /* overwrite: never waits, reads nothing shared */
		EXPECT(call, rc, 0);
	if (rc == 0 && at) {
		memcpy(at, p->buf, len);
		rc = shmq_chan_commit(p->ch, len);
		EXPECT("shmq_chan_commit", rc, 0);
	}
	if (rc < 0 && rc != -ETIMEDOUT) {
		peer_close(p); /* reopen: a new start may get past it */
		return -1;
	}
	return rc == 0;
}

/* One receive (or peek + release, every other call): as chan_write. */
static int chan_read(struct chan_peer *p)
{
	struct peer_stats *s = p->s;
	struct timespec dl = after(CALL_NS);
	const char *call = s->calls % 2 ? "shmq_chan_recv_timed"
	                                : "shmq_chan_peek_timed";
	int64_t t0 = begin(s, call);
	const void *at = NULL;
	ssize_t n = s->calls % 2
	            ? shmq_chan_recv_timed(p->ch, p->buf, p->max, &dl)
	            : shmq_chan_peek_timed(p->ch, &at, &dl);
	timed(s, call, t0, (long)n);
	/* broadcast overwrite: a writer that laps a reader, a torn copy */
	int lossy = p->kind == SHMQ_CHAN_BROADCAST &&
	            (!p->calm || p->policy == SHMQ_POLICY_OVERWRITE);
	if (n >= 0) {
		CHECK((size_t)n <= p->max);
		if (at) {
			memcpy(p->buf, at, (size_t)n);
			int rc = shmq_chan_release(p->ch);
			if (lossy)
				EXPECT("shmq_chan_release", rc, 0, SHMQ_ELOST);
			else
				EXPECT_(p->calm, "shmq_chan_release", rc, 0);
			n = rc < 0 ? rc : n;
		}
		return n >= 0;
	}
	if (p->calm && lossy)
		CALM(call, n, -ETIMEDOUT, SHMQ_ELOST);
	else if (p->calm)
		CALM(call, n, -ETIMEDOUT);
	else if (lossy)
		EXPECT(call, n, -ETIMEDOUT, -EBADMSG, SHMQ_EPEERDEAD, -EPIPE,
		       SHMQ_ELOST);
	else /* -EPIPE, SHMQ_EPEERDEAD: the writers' counts scribbled */
		EXPECT(call, n, -ETIMEDOUT, -EBADMSG, SHMQ_EPEERDEAD, -EPIPE);
	if (n != -ETIMEDOUT && n != SHMQ_ELOST) {
		peer_close(p);
		return -1;
	}
	return 0;
}

/* A failed open, or a second error in a row on fresh handles: the damage
 * stays, re-create at once. Silence (timeouts) is given WEDGE_NS. Calm,
 * nothing is repaired. */
static void chan_peer(struct chan_peer *p)
{
	int strikes = 0;
	p->since = mono();
	while (!stopping(p->b)) {
		if (atomic_load(&p->b->park)) { /* see chan_calm() */
			peer_close(p);
			parked_wait(p->b);
		}
		uint32_t e;
		if (!ready_epoch(p->b, &e))
			continue; /* another peer re-creates it */
		if (p->ch && e != p->epoch)
			peer_close(p);
		int rc = 0;
		if (!p->ch) {
			int64_t t0 = begin(p->s, "shmq_chan_open");
			rc = shmq_chan_open(&p->ch, p->loc, p->role, NULL);
			timed(p->s, "shmq_chan_open", t0, rc);
			uint32_t calm = atomic_load(&p->b->calm);
			if (calm && e >= calm)
				CALM("shmq_chan_open", rc, 0);
			/* the name gone (CLOSING scribbled), the identity,
			 * the indices, a role count scribbled full; samples:
			 * the data segment's id (another's, or none), the
			 * readers' count past what the pool serves */
			if (p->kind == SHMQ_CHAN_SAMPLES)
				EXPECT("shmq_chan_open", rc, 0, -ENOENT,
				       SHMQ_ENOTCHAN, SHMQ_EVERSION, -EBADMSG,
				       -EBUSY, -EIDRM, -EACCES, SHMQ_EPOOL);
			else
				EXPECT("shmq_chan_open", rc, 0, -ENOENT,
				       SHMQ_ENOTCHAN, SHMQ_EVERSION, -EBADMSG,
				       -EBUSY);
			p->s->reopens++;
			if (rc == 0)
				peer_attached(p, e);
			else
				p->ch = NULL;
		} else if ((rc = p->role == SHMQ_WRITER ? chan_write(p)
		                                        : chan_read(p)) > 0) {
			progress(p->s, 0, 1, p->calm);
			p->since = mono();
			strikes = 0;
		}
		if (!p->calm && ((rc < 0 && ++strikes > 1) ||
		                 mono() - p->since > WEDGE_NS)) {
			p->epoch = e;
			remake(p);
			strikes = 0;
		}
	}
	/* No close while a peer still calls: a reader would see the end of
	 * the stream (-EPIPE) from a writer that is only leaving. */
	idle_wait(p->b, p->npeers);
	peer_close(p);
	_exit(0);
}

struct chan_setup {
	const char *loc;
	const struct shmq_chan_opts *opts;
	unsigned n; /* peers */
};

/* The scribbler is gone: with every peer parked (none holds a handle or
 * is opening one, so no writer can come and go on the new channel), the
 * channel is made anew once more; the peers then join it calm. */
static void chan_calm(struct board *b, void *arg)
{
	const struct chan_setup *c = arg;
	struct peer_stats mine = {0};
	shmq_chan *ch = NULL;
	uint32_t e = park_all(b, c->n);
	CHECK(make_anew(b, &mine, c->loc, c->opts, e, &ch, SHMQ_READER));
	CHECK_EQ(shmq_chan_close(ch), 0);
	unpark_calm(b, e);
}

static void chan_case(int kind, int policy)
{
	char loc[128], path[160];
	struct board *b = board_new();
	t_posix_loc(loc, sizeof(loc), "hs");
	snprintf(path, sizeof(path), "/dev/shm/%s", loc + 6);
	/* made to persist: it outlives its peers, which reopen it (samples:
	 * its data segment too); samples keep a history of 2 */
	struct shmq_chan_opts o = {.kind = kind, .capacity = kind ==
	                           SHMQ_CHAN_SPSC ? 8192 : 16, .msg_size = 256,
	                           .policy = policy, .spin_ns = -1,
	                           .flags = SHMQ_CHAN_PERSIST,
	                           .history = kind == SHMQ_CHAN_SAMPLES ? 2 : 0};
	shmq_chan *ch = NULL;
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_READER, &o), 0);
	note_data(b, loc, &o);
	CHECK_EQ(shmq_chan_close(ch), 0);
	/* spsc: a writer and a reader; mpmc: two writers; broadcast and
	 * samples: two readers */
	int roles[HONEST] = {SHMQ_WRITER, SHMQ_READER,
	                     kind == SHMQ_CHAN_MPMC ? SHMQ_WRITER : SHMQ_READER};
	const char *who[HONEST] = {"writer", "reader",
	                           kind == SHMQ_CHAN_MPMC ? "writer 2"
	                                                  : "reader 2"};
	unsigned n = kind == SHMQ_CHAN_SPSC ? 2 : HONEST;
	pid_t pid[HONEST];
	block_sigchld();
	for (unsigned i = 0; i < n; i++)
		if ((pid[i] = spawn()) == 0) {
			struct chan_peer p = {.b = b, .s = &b->st[i],
			                      .loc = loc, .opts = &o,
			                      .role = roles[i], .kind = kind,
			                      .npeers = n};
			chan_peer(&p);
		}
	/* The identity line rarely (it ends everything at once), the
	 * counters and indices, the peer table, the records and slots. */
	static const struct region reg[] = {
		{0, 128, 1, 0}, {128, 320, 10, 0}, {4096, 8192, 10, 0},
		{8192, 8192 + 4096, 30, 0}, {8192, ~(size_t)0 >> 1, 10, 0},
	};
	pid_t bad = spawn();
	if (bad == 0)
		hostile(b, path, reg, sizeof(reg) / sizeof(reg[0]), n);
	struct chan_setup c = {loc, &o, n};
	judge(b, pid, n, bad, who, chan_calm, &c);
	CHECK_EQ(shmq_chan_unlink(loc), 0);
	sweep_data(b);
	munmap(b, sizeof(*b));
}

TEST_TIMEOUT(hostile_peer_on_spsc_leaves_honest_peers_progress_and_errors_only,
             TIMEOUT)
{
	chan_case(SHMQ_CHAN_SPSC, 0);
}

TEST_TIMEOUT(hostile_peer_on_mpmc_leaves_honest_peers_progress_and_errors_only,
             TIMEOUT)
{
	chan_case(SHMQ_CHAN_MPMC, 0);
}

TEST_TIMEOUT(hostile_peer_on_broadcast_leaves_honest_peers_progress_and_errors_only,
             TIMEOUT)
{
	chan_case(SHMQ_CHAN_BROADCAST, SHMQ_POLICY_OVERWRITE);
}

/* The writer waits for the slowest reader: scribbled cursors and counts
 * must not hold it past its deadline, nor forever. */
TEST_TIMEOUT(hostile_peer_on_blocking_broadcast_leaves_honest_peers_progress_and_errors_only,
             TIMEOUT)
{
	chan_case(SHMQ_CHAN_BROADCAST, SHMQ_POLICY_BLOCK);
}

/* Samples: the scribbler writes the control part (the writer's line, the
 * descriptors' reference masks, seqs and lengths, the history, each
 * reader line's head, tail, counts and queue entries) and the peer
 * table's state words and generations. OVERWRITE: the writer drops from
 * queues the scribbler and the readers move too (this case found a reader
 * taking that race for a scribbled queue, -EBADMSG); BLOCK (SHMQ_LONG=1
 * only, to keep `make test` short): it waits for references a scribble
 * may have set for good (repaired by re-creating). */
TEST_TIMEOUT(hostile_peer_on_samples_leaves_honest_peers_progress_and_errors_only,
             2 * TIMEOUT)
{
	chan_case(SHMQ_CHAN_SAMPLES, SHMQ_POLICY_OVERWRITE);
	if (t_long())
		chan_case(SHMQ_CHAN_SAMPLES, SHMQ_POLICY_BLOCK);
}

/* ---- Boards ---------------------------------------------------------------- */

/* Each peer sets its entry (who % 2), gets the other one and waits for it
 * to change, in turn; its handle follows the generations of the board as
 * a channel peer's does (remade on lasting damage, anew once calm). Calm,
 * every value got must be one a peer set: a repeated byte over a length
 * the byte gives. */
#define BD_ENTRIES 2u
#define BD_VALUE 64u
#define BD_CALL_NS 5000000LL /* a set's or wait's deadline: a lock word
                                naming a live task, or a peer stalled
                                there, costs the others little */

struct bd_peer {
	struct board *b;
	struct peer_stats *s;
	const char *loc;
	unsigned who, npeers;
	shmq_board *bd;
	uint32_t epoch;
	int calm;
	uint64_t seen; /* the other entry's seq at the last get */
	int64_t since[3]; /* per kind of call: the last success, or (re)join */
	int strikes[3];   /* per kind: errors in a row */
};

/* A fresh start for every kind of call. */
static void bd_restart(struct bd_peer *p)
{
	for (unsigned k = 0; k < 3; k++) {
		p->since[k] = mono();
		p->strikes[k] = 0;
	}
}

/* Damage that stays: a kind failed twice in a row, or made no progress
 * for WEDGE_NS (each kind must go on: progress is the least of them). */
static int bd_wedged(const struct bd_peer *p)
{
	for (unsigned k = 0; k < 3; k++)
		if (p->strikes[k] > 1 || mono() - p->since[k] > WEDGE_NS)
			return 1;
	return 0;
}

static size_t bd_value(unsigned char *v, uint64_t n)
{
	size_t len = 1 + (size_t)(n % BD_VALUE);
	memset(v, (int)(len & 0xff), len);
	return len;
}

static int bd_value_ok(const unsigned char *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (v[i] != (unsigned char)len)
			return 0;
	return len >= 1;
}

static void bd_close(struct bd_peer *p)
{
	if (!p->bd)
		return;
	int64_t t0 = begin(p->s, "shmq_board_close");
	int rc = shmq_board_close(p->bd);
	timed(p->s, "shmq_board_close", t0, rc);
	EXPECT("shmq_board_close", rc, 0);
	p->bd = NULL;
}

/* Generation e is broken for good: the caller whose CAS moves it removes
 * the name and makes the board anew (1); the others follow (0). */
static int bd_make_anew(struct board *b, struct peer_stats *s, const char *loc,
                        uint32_t e, shmq_board **bd)
{
	struct shmq_board_opts o = {.entries = BD_ENTRIES,
	                            .value_size = BD_VALUE};
	if (!atomic_compare_exchange_strong(&b->epoch, &e, e + 1))
		return 0;
	int64_t t0 = begin(s, "shmq_unlink");
	int rc = shmq_unlink(loc);
	timed(s, "shmq_unlink", t0, rc);
	EXPECT("shmq_unlink", rc, 0, -ENOENT);
	t0 = begin(s, "shmq_board_create");
	rc = shmq_board_create(bd, loc, &o);
	timed(s, "shmq_board_create", t0, rc);
	EXPECT("shmq_board_create", rc, 0);
	return 1;
}

static void bd_attached(struct bd_peer *p, uint32_t e)
{
	uint32_t calm = atomic_load(&p->b->calm);
	p->calm = calm && e >= calm;
	p->epoch = e;
	p->seen = 0;
	bd_restart(p);
}

static void bd_remake(struct bd_peer *p)
{
	bd_close(p);
	bd_restart(p);
	if (!bd_make_anew(p->b, p->s, p->loc, p->epoch, &p->bd))
		return;
	p->s->repairs++;
	bd_attached(p, p->epoch + 1);
	atomic_store(&p->b->ready, p->epoch);
}

/* One call, by turn: set, get, wait. Its kind in *k; 1 a success, 0
 * none, -1 an error. */
static int bd_call(struct bd_peer *p, unsigned *k)
{
	struct peer_stats *s = p->s;
	unsigned char v[BD_VALUE];
	uint32_t mine = p->who % BD_ENTRIES, other = (p->who + 1) % BD_ENTRIES;
	struct timespec dl = after(BD_CALL_NS);
	uint64_t seq = 0;
	long rc;
	int64_t t0;
	*k = (unsigned)(s->calls % 3);
	if (*k == 0) {
		size_t len = bd_value(v, s->calls + p->who);
		t0 = begin(s, "shmq_board_set_timed");
		rc = shmq_board_set_timed(p->bd, mine, v, len, &dl);
		timed(s, "shmq_board_set_timed", t0, rc);
		if (p->calm) /* a peer preempted holding the entry's lock */
			CALM("shmq_board_set_timed", rc, 0, -ETIMEDOUT);
		/* a lock word naming a live task, us, none; a wrong one */
		EXPECT("shmq_board_set_timed", rc, 0, -ETIMEDOUT, -EDEADLK,
		       -ENOTRECOVERABLE, -EBADMSG);
	} else if (*k == 1) {
		t0 = begin(s, "shmq_board_get");
		rc = shmq_board_get(p->bd, other, v, sizeof(v), &seq);
		timed(s, "shmq_board_get", t0, rc);
		if (p->calm) {
			CALM("shmq_board_get", rc < 0 ? rc : 0, 0, -EBUSY);
			CHECK(rc <= 0 || bd_value_ok(v, (size_t)rc));
		}
		/* a length past V, a seq that went back, a storm of them */
		EXPECT("shmq_board_get", rc < 0 ? rc : 0, 0, -EBUSY, -EBADMSG);
		if (rc >= 0)
			p->seen = seq;
	} else {
		t0 = begin(s, "shmq_board_wait_timed");
		rc = shmq_board_wait_timed(p->bd, other, p->seen, &dl);
		timed(s, "shmq_board_wait_timed", t0, rc);
		if (p->calm)
			CALM("shmq_board_wait_timed", rc, 0, -ETIMEDOUT);
		EXPECT("shmq_board_wait_timed", rc, 0, -ETIMEDOUT, -EBADMSG);
	}
	return rc >= 0 ? 1 : rc == -ETIMEDOUT || rc == -EBUSY ? 0 : -1;
}

/* As chan_peer(): a failed open or a second error in a row of one kind
 * of call remakes the board, and so does WEDGE_NS without a success of
 * one kind; calm, nothing is. */
static void bd_peer_run(struct bd_peer *p)
{
	bd_restart(p);
	while (!stopping(p->b)) {
		if (atomic_load(&p->b->park)) { /* see bd_calm() */
			bd_close(p);
			parked_wait(p->b);
		}
		uint32_t e;
		if (!ready_epoch(p->b, &e))
			continue; /* another peer remakes it */
		if (p->bd && e != p->epoch)
			bd_close(p);
		int rc = 0;
		unsigned k = 0;
		if (!p->bd) {
			int64_t t0 = begin(p->s, "shmq_board_open");
			rc = shmq_board_open(&p->bd, p->loc, NULL);
			timed(p->s, "shmq_board_open", t0, rc);
			uint32_t calm = atomic_load(&p->b->calm);
			if (calm && e >= calm)
				CALM("shmq_board_open", rc, 0);
			/* the name gone (remade), the identity scribbled */
			EXPECT("shmq_board_open", rc, 0, -ENOENT,
			       SHMQ_ENOTBOARD, SHMQ_EVERSION, -EBADMSG);
			p->s->reopens++;
			if (rc == 0)
				bd_attached(p, e);
			else
				p->bd = NULL;
		} else if ((rc = bd_call(p, &k)) > 0) {
			progress(p->s, k, 3, p->calm);
			p->since[k] = mono();
			p->strikes[k] = 0;
		}
		if (rc < 0)
			p->strikes[k] += 2 - !!p->bd; /* a failed open: at once */
		if (!p->calm && bd_wedged(p)) {
			p->epoch = e;
			bd_remake(p);
		}
	}
	idle_wait(p->b, p->npeers);
	bd_close(p);
	_exit(0);
}

struct bd_setup {
	const char *loc;
	unsigned n;
};

/* The scribbler is gone: every peer parked, the board made anew once
 * more; the peers join it calm. */
static void bd_calm(struct board *b, void *arg)
{
	const struct bd_setup *c = arg;
	struct peer_stats mine = {0};
	shmq_board *bd = NULL;
	uint32_t e = park_all(b, c->n);
	CHECK(bd_make_anew(b, &mine, c->loc, e, &bd));
	CHECK_EQ(shmq_board_close(bd), 0);
	unpark_calm(b, e);
}

TEST_TIMEOUT(hostile_peer_on_board_leaves_honest_peers_progress_and_errors_only,
             TIMEOUT)
{
	char loc[128], path[160];
	struct board *b = board_new();
	struct shmq_board_opts o = {.entries = BD_ENTRIES,
	                            .value_size = BD_VALUE};
	shmq_board *bd = NULL;
	t_posix_loc(loc, sizeof(loc), "hb");
	snprintf(path, sizeof(path), "/dev/shm/%s", loc + 6);
	CHECK_EQ(shmq_board_create(&bd, loc, &o), 0);
	CHECK_EQ(shmq_board_close(bd), 0);
	static const char *const who[] = {"peer 0", "peer 1", "peer 2"};
	pid_t pid[HONEST];
	block_sigchld();
	for (unsigned i = 0; i < HONEST; i++)
		if ((pid[i] = spawn()) == 0) {
			struct bd_peer p = {.b = b, .s = &b->st[i], .loc = loc,
			                    .who = i, .npeers = HONEST};
			bd_peer_run(&p);
		}
	/* The identity line rarely; the header's lock, event and counters;
	 * the entries' words (seq, lengths, events, locks), names and
	 * values. */
	static const struct region reg[] = {
		{0, 64, 1, 0}, {64, 128, 10, 0}, {128, ~(size_t)0 >> 1, 40, 0},
	};
	pid_t bad = spawn();
	if (bad == 0)
		hostile(b, path, reg, sizeof(reg) / sizeof(reg[0]), HONEST);
	struct bd_setup c = {loc, HONEST};
	judge(b, pid, HONEST, bad, who, bd_calm, &c);
	CHECK_EQ(shmq_board_unlink(loc), 0);
	munmap(b, sizeof(*b));
}

/* ---- A planted record: a valid tag, a wild length ------------------------ */

#define CANARY 64

struct planted {
	char loc[128];
	shmq_chan *w, *r;
	unsigned char *base; /* our own mapping of the object */
	size_t size;
	struct shmq_chan_hdr *hdr;
	unsigned char *ring;
	unsigned char *buf; /* the reader's buffer, then CANARY bytes */
	size_t max;
};

/* A channel with one message through: the reader's position is past the
 * ring's start; the writer stays attached and sends nothing more. */
static void plant_setup(struct planted *t, int kind)
{
	char path[160];
	t_posix_loc(t->loc, sizeof(t->loc), "pl");
	struct shmq_chan_opts o = {.kind = kind, .capacity = kind ==
	                           SHMQ_CHAN_SPSC ? 4096 : 4, .msg_size = 64,
	                           .spin_ns = -1};
	CHECK_EQ(shmq_chan_create(&t->w, t->loc, SHMQ_WRITER, &o), 0);
	t->r = t_chan_attach(t->loc, SHMQ_READER);
	t->max = shmq_chan_max_msg(t->r);
	t->buf = malloc(t->max + CANARY);
	CHECK(t->buf != NULL);
	CHECK_EQ(shmq_chan_send(t->w, "first", 5), 0);
	CHECK_EQ(shmq_chan_recv(t->r, t->buf, t->max), 5);
	snprintf(path, sizeof(path), "/dev/shm/%s", t->loc + 6);
	CHECK_EQ(map_object(path, &t->base, &t->size), 0);
	t->hdr = (struct shmq_chan_hdr *)t->base;
	t->ring = t->base + SHMQ_CHAN_RING_OFF;
}

static void plant_done(struct planted *t)
{
	CHECK_EQ(shmq_chan_close(t->w), 0);
	CHECK_EQ(shmq_chan_close(t->r), 0);
	munmap(t->base, t->size);
	free(t->buf);
}

/* Every way to receive gives exactly -EBADMSG, and writes nothing: not
 * the buffer, not past it (the canary; ASan for the allocation). */
static void refused(struct planted *t, uint64_t len)
{
	const void *at = NULL;
	struct timespec dl = after(CALL_NS);
	memset(t->buf, 0x5a, t->max);
	memset(t->buf + t->max, 0xa5, CANARY);
	CHECK_EQ(shmq_chan_try_recv(t->r, t->buf, t->max), -EBADMSG);
	CHECK_EQ(shmq_chan_recv_timed(t->r, t->buf, t->max, &dl), -EBADMSG);
	CHECK_EQ(shmq_chan_try_peek(t->r, &at), -EBADMSG);
	CHECK_EQ(shmq_chan_peek_timed(t->r, &at, &dl), -EBADMSG);
	CHECK(at == NULL);
	for (size_t i = 0; i < t->max; i++)
		if (t->buf[i] != 0x5a)
			t_fail(__FILE__, __LINE__, "buffer untouched",
			       "byte %zu written; planted length %llu", i,
			       (unsigned long long)len);
	for (size_t i = 0; i < CANARY; i++)
		CHECK_EQ(t->buf[t->max + i], 0xa5);
}

/* The planted record is delivered: the plant is where the reader looks. */
static void delivered(struct planted *t, size_t len, const char *payload)
{
	CHECK_EQ(shmq_chan_try_recv(t->r, t->buf, t->max), (long)len);
	CHECK(memcmp(t->buf, payload, len) == 0);
}

/* spsc: a record header is its length and its position's tag (layout.h);
 * a wild length with the right tag must still be refused: above the
 * largest message, or past the ring's end, or a PAD that does not end
 * exactly at the ring's end. */
TEST(hostile_spsc_record_with_a_wild_length_gives_ebadmsg)
{
	struct planted t;
	plant_setup(&t, SHMQ_CHAN_SPSC);
	uint64_t cap = t.hdr->capacity, pos = 16; /* after "first" */
	shmq_atomic64 *word = (shmq_atomic64 *)(t.ring + pos);
	memcpy(t.ring + pos + 8, "plant", 5);
	shmq_store(word, shmq__rec_word(5, pos), SHMQ_RELEASE);
	delivered(&t, 5, "plant");
	pos += 16;
	word = (shmq_atomic64 *)(t.ring + pos);
	const uint64_t wild[] = {
		t.max,                /* fits the largest, not before the end */
		cap - pos - 8 + 1,    /* one byte past the ring's end */
		t.max + 1, cap, 0xffffffffu,
	};
	for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
		shmq_store(word, shmq__rec_word(wild[i], pos), SHMQ_RELEASE);
		refused(&t, wild[i]);
	}
	const uint64_t pads[] = {cap - pos - 8 + 8, cap - pos - 8 - 8, cap,
	                         0xffffffffu};
	for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
		shmq_store(word, shmq__rec_pad_word(pads[i], pos), SHMQ_RELEASE);
		refused(&t, pads[i]);
	}
	/* The refusals moved nothing: the record, repaired, comes next. */
	memcpy(t.ring + pos + 8, "again", 5);
	shmq_store(word, shmq__rec_word(5, pos), SHMQ_RELEASE);
	delivered(&t, 5, "again");
	plant_done(&t);
}

/* mpmc and broadcast: slot s, published for the reader's position, gets
 * wild lengths, each refused; then, repaired, it is delivered. */
static void wild_slot_lengths(struct planted *t, struct shmq_chan_slot *s)
{
	uint32_t slot = t->hdr->slot_size;
	const uint32_t wild[] = {(uint32_t)t->max + 1, slot, slot + 1,
	                         0x80000000u, 0xffffffffu};
	for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
		shmq_store(&s->len, wild[i], SHMQ_RELEASE);
		refused(t, wild[i]);
	}
	memcpy(s + 1, "again", 5);
	shmq_store(&s->len, 5, SHMQ_RELEASE);
	delivered(t, 5, "again");
	plant_done(t);
}

/* mpmc: a FULL slot word for the reader's position, with a wild length. */
TEST(hostile_mpmc_slot_with_a_wild_length_gives_ebadmsg)
{
	struct planted t;
	plant_setup(&t, SHMQ_CHAN_MPMC);
	uint32_t slot = t.hdr->slot_size;
	struct shmq_chan_slot *s = (struct shmq_chan_slot *)(t.ring + slot);
	memcpy(s + 1, "plant", 5);
	shmq_store(&s->len, 5, SHMQ_RELAXED);
	shmq_store(&s->word, shmq__slot_word(1, SHMQ_SLOT_FULL, 0),
	           SHMQ_RELEASE);
	delivered(&t, 5, "plant");
	s = (struct shmq_chan_slot *)(t.ring + 2 * slot);
	shmq_store(&s->word, shmq__slot_word(2, SHMQ_SLOT_FULL, 0),
	           SHMQ_RELEASE);
	wild_slot_lengths(&t, s);
}

/* broadcast: a slot the seqlock says is whole, tail past it, a wild
 * length. */
TEST(hostile_broadcast_slot_with_a_wild_length_gives_ebadmsg)
{
	struct planted t;
	plant_setup(&t, SHMQ_CHAN_BROADCAST);
	uint32_t slot = t.hdr->slot_size;
	uint64_t n = t.hdr->capacity;
	struct shmq_chan_slot *s = (struct shmq_chan_slot *)(
		t.ring + shmq__bcast_slot(1, n, slot) * slot);
	memcpy(s + 1, "plant", 5);
	shmq_store(&s->len, 5, SHMQ_RELAXED);
	shmq_store(&s->word, shmq__bcast_filled(1), SHMQ_RELEASE);
	shmq_store(&t.hdr->tail, 2, SHMQ_RELEASE);
	delivered(&t, 5, "plant");
	s = (struct shmq_chan_slot *)(t.ring +
	                              shmq__bcast_slot(2, n, slot) * slot);
	shmq_store(&s->word, shmq__bcast_filled(2), SHMQ_RELEASE);
	shmq_store(&t.hdr->tail, 3, SHMQ_RELEASE);
	wild_slot_lengths(&t, s);
}

/* ---- Mutex, semaphore, event --------------------------------------------- */

enum { MX, SEM, EV, NOBJ };

struct sync_area {
	shmq_mutex m;
	shmq_sem s;
	shmq_event e;
	uint64_t data; /* the mutex's: +1 per section; never scribbled */
};

/*
 * A scribble that frees a held lock word lets a second peer in: exclusion
 * is gone and nothing could count sections. So the mutex's bytes are
 * scribbled only while no honest peer is between its lock call and its
 * unlock (a Dekker pair on the private page: inside, gate); the next lock
 * call meets whatever was written. The semaphore and the event are
 * scribbled at any time. A section that locked must then unlock with 0,
 * and data must equal the sections exactly.
 */
static int sync_enter(struct board *b)
{
	while (!stopping(b)) {
		atomic_fetch_add(&b->inside, 1); /* seq_cst: see gate_close */
		if (!atomic_load(&b->gate) && !atomic_load(&b->reinit))
			return 1;
		atomic_fetch_sub(&b->inside, 1);
		sched_yield();
	}
	return 0;
}

/* The object says it can no longer be used (a wrong magic, a mutex not
 * recoverable or naming us): initialise it again at once. */
static int unusable(int rc)
{
	return rc == -EINVAL || rc == -ENOTRECOVERABLE || rc == -EDEADLK;
}

/* Lock, read, yield, write, unlock: without exclusion, two sections
 * interleave at the yield and an increment is lost. 1: a section. */
static int section(struct board *b, struct peer_stats *s, struct sync_area *a,
                   int calm)
{
	if (!sync_enter(b))
		return 0;
	struct timespec dl = after(CALL_NS);
	int64_t t0 = begin(s, "shmq_mutex_lock_timed");
	int rc = shmq_mutex_lock_timed(&a->m, &dl);
	timed(s, "shmq_mutex_lock_timed", t0, rc);
	if (calm)
		CALM("shmq_mutex_lock_timed", rc, 0, -ETIMEDOUT);
	/* a word naming a task that does not exist (EOWNERDEAD), a live one
	 * (ETIMEDOUT), us (EDEADLK), NOTREC, or a wrong magic */
	EXPECT("shmq_mutex_lock_timed", rc, 0, -EOWNERDEAD, -ETIMEDOUT,
	       -EDEADLK, -ENOTRECOVERABLE, -EINVAL);
	if (rc == -EOWNERDEAD) { /* nothing to repair: no section died */
		rc = shmq_mutex_consistent(&a->m);
		EXPECT("shmq_mutex_consistent", rc, 0);
	}
	if (rc == 0) {
		volatile uint64_t *d = &a->data;
		uint64_t v = *d;
		sched_yield();
		*d = v + 1;
		t0 = begin(s, "shmq_mutex_unlock");
		rc = shmq_mutex_unlock(&a->m);
		timed(s, "shmq_mutex_unlock", t0, rc);
		EXPECT("shmq_mutex_unlock", rc, 0); /* nobody wrote it since */
	}
	atomic_fetch_sub(&b->inside, 1);
	return unusable(rc) ? -1 : rc == 0;
}

/* Post, then wait: 1 when the wait took a unit. */
static int sem_pair(struct peer_stats *s, struct sync_area *a, int calm)
{
	struct timespec dl = after(CALL_NS);
	int64_t t0 = begin(s, "shmq_sem_post");
	int rc = shmq_sem_post(&a->s);
	timed(s, "shmq_sem_post", t0, rc);
	if (calm)
		CALM("shmq_sem_post", rc, 0);
	EXPECT("shmq_sem_post", rc, 0, -EINVAL, -EOVERFLOW);
	t0 = begin(s, "shmq_sem_wait_timed");
	rc = shmq_sem_wait_timed(&a->s, &dl);
	timed(s, "shmq_sem_wait_timed", t0, rc);
	if (calm) /* another peer's wait may take our unit */
		CALM("shmq_sem_wait_timed", rc, 0, -ETIMEDOUT);
	EXPECT("shmq_sem_wait_timed", rc, 0, -ETIMEDOUT, -EINVAL);
	return unusable(rc) ? -1 : rc == 0;
}

/* Signal, then wait past the sequence seen before: 1 when it returned. */
static int event_pair(struct peer_stats *s, struct sync_area *a, int calm)
{
	struct timespec dl = after(CALL_NS);
	uint32_t seen = shmq_event_seq(&a->e);
	int64_t t0 = begin(s, "shmq_event_signal");
	int rc = shmq_event_signal(&a->e);
	timed(s, "shmq_event_signal", t0, rc);
	if (calm)
		CALM("shmq_event_signal", rc, 0);
	EXPECT("shmq_event_signal", rc, 0, -EINVAL);
	t0 = begin(s, "shmq_event_wait_timed");
	rc = shmq_event_wait_timed(&a->e, seen, &dl);
	timed(s, "shmq_event_wait_timed", t0, rc);
	if (calm) /* our own signal moved it */
		CALM("shmq_event_wait_timed", rc, 0);
	/* ETIMEDOUT: seq scribbled back to `seen` */
	EXPECT("shmq_event_wait_timed", rc, 0, -ETIMEDOUT, -EINVAL);
	return unusable(rc) ? -1 : rc == 0;
}

static int repair_lock(struct board *b)
{
	int free_ = 0;
	return atomic_compare_exchange_strong(&b->repairing, &free_, 1);
}

/* Initialises object k again; the mutex only once no peer is between lock
 * and unlock, and none enters meanwhile. */
static void sync_init(struct board *b, struct sync_area *a, unsigned k)
{
	if (k == SEM) {
		CHECK_EQ(shmq_sem_init(&a->s, 0), 0);
	} else if (k == EV) {
		CHECK_EQ(shmq_event_init(&a->e), 0);
	} else {
		atomic_store(&b->reinit, 1); /* seq_cst: see sync_enter */
		while (atomic_load(&b->inside))
			sched_yield();
		CHECK_EQ(shmq_mutex_init(&a->m), 0);
		atomic_store(&b->reinit, 0);
	}
}

static void sync_peer(struct board *b, struct peer_stats *s,
                      struct sync_area *a, unsigned who)
{
	int64_t since[NOBJ];
	uint32_t seen[NOBJ];
	for (unsigned k = 0; k < NOBJ; k++) {
		since[k] = mono();
		seen[k] = atomic_load(&b->obj_epoch[k]);
	}
	for (uint64_t n = who; !stopping(b); n++) {
		unsigned k = (unsigned)(n % NOBJ);
		int calm = (int)atomic_load(&b->calm); /* before the call */
		int rc = k == MX ? section(b, s, a, calm)
		         : k == SEM ? sem_pair(s, a, calm)
		                    : event_pair(s, a, calm);
		uint32_t e = atomic_load(&b->obj_epoch[k]);
		if (rc > 0) {
			progress(s, k, NOBJ, calm);
			since[k] = mono();
		} else if (calm) {
			continue; /* nothing is repaired */
		} else if (e != seen[k]) { /* someone initialised it again */
			seen[k] = e;
			since[k] = mono();
		} else if (rc < 0 || mono() - since[k] > WEDGE_NS) {
			/* one peer: the one whose CAS moves its generation */
			if (repair_lock(b)) {
				if (!atomic_load(&b->calm) &&
				    atomic_compare_exchange_strong(
					    &b->obj_epoch[k], &e, e + 1)) {
					s->repairs++;
					sync_init(b, a, k);
				}
				atomic_store(&b->repairing, 0);
			}
			seen[k] = atomic_load(&b->obj_epoch[k]);
			since[k] = mono();
		}
	}
	_exit(0);
}

/* The scribbler is gone: all three made anew (no peer repairs meanwhile
 * or after), then calm. A peer's call that began before is not judged as
 * calm: it read calm before the call. */
static void sync_calm(struct board *b, void *arg)
{
	struct sync_area *a = arg;
	while (!repair_lock(b))
		sched_yield();
	for (unsigned k = 0; k < NOBJ; k++)
		sync_init(b, a, k);
	atomic_store(&b->calm, 1);
	atomic_store(&b->repairing, 0);
}

TEST_TIMEOUT(hostile_peer_on_mutex_sem_event_keeps_sections_exact, TIMEOUT)
{
	char loc[128], path[160];
	struct board *b = board_new();
	t_posix_loc(loc, sizeof(loc), "hy");
	snprintf(path, sizeof(path), "/dev/shm/%s", loc + 6);
	shmq_seg *seg = NULL;
	struct shmq_seg_opts so = {.size = 4096};
	CHECK_EQ(shmq_seg_create(&seg, loc, &so), 0);
	struct sync_area *a = shmq_seg_addr(seg);
	CHECK_EQ(shmq_mutex_init(&a->m), 0);
	CHECK_EQ(shmq_sem_init(&a->s, 0), 0);
	CHECK_EQ(shmq_event_init(&a->e), 0);
	pid_t pid[HONEST];
	static const char *const who[] = {"peer 0", "peer 1", "peer 2"};
	block_sigchld();
	for (unsigned i = 0; i < HONEST; i++)
		if ((pid[i] = spawn()) == 0)
			sync_peer(b, &b->st[i], a, i);
	const struct region reg[] = {
		{offsetof(struct sync_area, m), offsetof(struct sync_area, s),
		 1, 1},
		{offsetof(struct sync_area, s), offsetof(struct sync_area, data),
		 2, 0},
	};
	pid_t bad = spawn();
	if (bad == 0)
		hostile(b, path, reg, 2, HONEST);
	judge(b, pid, HONEST, bad, who, sync_calm, a);
	uint64_t sections = 0;
	for (unsigned i = 0; i < HONEST; i++) {
		printf("  %s: %llu sections, %llu semaphore and %llu event "
		       "waits\n", who[i],
		       (unsigned long long)b->st[i].kind_ok[MX],
		       (unsigned long long)b->st[i].kind_ok[SEM],
		       (unsigned long long)b->st[i].kind_ok[EV]);
		sections += b->st[i].kind_ok[MX];
	}
	printf("  mutex scribbled %llu times between sections; data %llu\n",
	       (unsigned long long)atomic_load(&b->gated_flips),
	       (unsigned long long)a->data);
	CHECK(atomic_load(&b->gated_flips) > 0);
	CHECK_EQ(a->data, sections); /* every section counted, exactly */
	CHECK_EQ(shmq_seg_close(seg), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	munmap(b, sizeof(*b));
}
