/*
 * A hostile peer: a process with write access scribbles on live shared
 * state (channel headers, the peer table, ring records and slots; mutex,
 * semaphore and event words) in a loop while honest peers keep working.
 * The promise: honest peers get data or errors, never a signal, an overflow
 * (the children run under ASan and UBSan) or a call that outlasts its
 * deadline by a second. What garbage can do is deny service (a ring that
 * looks full, a lock word naming a live owner) and forge payloads: the
 * threat model says so; it must not do more.
 *
 * SHMQ_LONG=1 (make check-long) scribbles for 10 s per case, else 300 ms.
 */
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CALL_NS 100000000LL /* each honest call's deadline: 100 ms */
#define SLACK_NS 1000000000LL /* no call may outlast it by a second */
#define HONEST 3

struct stats {
	uint64_t calls, ok, errors, reopens;
	int64_t max_ns; /* the longest call */
	int bad;        /* a result outside what the API may return */
	int first_error;
	char what[96];
};

struct board {
	_Atomic int stop;
	uint64_t flips;
	struct stats st[HONEST];
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

static int64_t scribble_ns(void)
{
	const char *l = getenv("SHMQ_LONG");
	return l && *l && *l != '0' ? 10000000000LL : 300000000LL;
}

static struct board *board_new(void)
{
	struct board *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(b != MAP_FAILED);
	memset(b, 0, sizeof(*b));
	return b;
}

/* Every error the API may give: a negative errno or one of our codes. */
static int is_error(long rc)
{
	return rc < 0 && rc >= SHMQ_ELAST - 16;
}

static void note(struct stats *s, long rc, int64_t t0, size_t max_len)
{
	int64_t ns = mono() - t0;
	s->calls++;
	s->max_ns = ns > s->max_ns ? ns : s->max_ns;
	if (rc >= 0 && (size_t)rc <= max_len)
		s->ok++;
	else if (is_error(rc)) {
		s->errors++;
		if (!s->first_error)
			s->first_error = (int)rc;
	}
	else if (!s->bad) {
		s->bad = 1;
		snprintf(s->what, sizeof(s->what), "result %ld", rc);
	}
}

/* Where the hostile peer writes: [from, to) with a weight. */
struct region {
	size_t from, to;
	unsigned weight;
};

/* The hostile peer: random bytes and plausible words (0, ~0, powers of
 * two, small counts) into the regions, at a random pace so that honest
 * peers also get through whole operations between two scribbles. */
static void hostile(struct board *b, const char *path,
                    const struct region *reg, unsigned nreg)
{
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	struct stat sb;
	CHECK(fstat(fd, &sb) == 0);
	size_t len = (size_t)sb.st_size;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
	                        fd, 0);
	CHECK(p != MAP_FAILED);
	unsigned seed = (unsigned)getpid(), total = 0;
	for (unsigned i = 0; i < nreg; i++)
		total += reg[i].weight;
	static const uint64_t words[] = {0, 1, ~0ull, 0x8000000000000000ull,
	                                 4096, 1ull << 32, 0x7fffffff};
	while (!b->stop) {
		unsigned r = (unsigned)rand_r(&seed), pick = r % total, i = 0;
		while (pick >= reg[i].weight)
			pick -= reg[i++].weight;
		size_t to = reg[i].to < len ? reg[i].to : len;
		if (to < reg[i].from + 8)
			continue;
		size_t off = (reg[i].from + (size_t)rand_r(&seed) %
		              (to - reg[i].from - 7)) & ~(size_t)7;
		uint64_t w = r % 3 ? words[(size_t)rand_r(&seed) % 7]
		                   : (uint64_t)rand_r(&seed) << 33 ^
		                     (uint64_t)rand_r(&seed);
		if (r % 5 == 0)
			p[off + (r >> 8) % 8] = (unsigned char)(r >> 16);
		else
			memcpy(p + off, &w, 8);
		b->flips++;
		for (unsigned k = (unsigned)rand_r(&seed) % 20000; k; k--)
			__asm__ __volatile__("" ::: "memory");
	}
	_exit(0);
}

/* ---- Channels ------------------------------------------------------------ */

static void chan_peer(struct board *b, struct stats *s, const char *loc,
                      int role)
{
	char buf[512];
	memset(buf, 0x5a, sizeof(buf));
	shmq_chan *ch = NULL;
	while (!b->stop) {
		int64_t t0 = mono();
		long rc;
		if (!ch) {
			rc = shmq_chan_open(&ch, loc, role, NULL);
			note(s, rc, t0, 0);
			s->reopens++;
			if (rc < 0)
				ch = NULL;
			continue;
		}
		struct timespec dl = after(CALL_NS);
		rc = role == SHMQ_WRITER
		     ? shmq_chan_send_timed(ch, buf, 1 + s->calls % 200, &dl)
		     : shmq_chan_recv_timed(ch, buf, sizeof(buf), &dl);
		note(s, rc, t0, sizeof(buf));
		if (rc < 0 && rc != -ETIMEDOUT && rc != -EAGAIN &&
		    rc != SHMQ_ELOST && rc != -EMSGSIZE) {
			shmq_chan_close(ch); /* whatever state it is in */
			ch = NULL;
		}
	}
	if (ch)
		shmq_chan_close(ch);
	_exit(0);
}

static pid_t spawn(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	return pid;
}

/* Runs the honest children and the hostile one; checks what they saw. */
static void judge(struct board *b, const pid_t *pid, unsigned n, pid_t bad)
{
	int64_t until = mono() + scribble_ns();
	while (mono() < until)
		CHECK(waitpid(-1, NULL, WNOHANG) == 0); /* nobody died early */
	b->stop = 1;
	int64_t t0 = mono();
	CHECK_EQ(t_wait(bad), 0);
	for (unsigned i = 0; i < n; i++) {
		CHECK_EQ(t_wait(pid[i]), 0); /* a normal exit: no signal */
		struct stats *s = &b->st[i];
		if (s->bad)
			fprintf(stderr, "peer %u: %s\n", i, s->what);
		CHECK(!s->bad);
		CHECK(s->max_ns < CALL_NS + SLACK_NS);
		CHECK(s->calls > 0);
	}
	CHECK(mono() - t0 < CALL_NS + SLACK_NS); /* they all stopped */
	CHECK(b->flips > 100);
	printf("  hostile: %llu scribbles; honest calls",
	       (unsigned long long)b->flips);
	for (unsigned i = 0; i < n; i++)
		printf(" %llu (ok %llu, errors %llu [%s], reopens %llu, longest "
		       "%lld ms)", (unsigned long long)b->st[i].calls,
		       (unsigned long long)b->st[i].ok,
		       (unsigned long long)b->st[i].errors,
		       b->st[i].first_error ? shmq_strerror(b->st[i].first_error)
		                            : "none",
		       (unsigned long long)b->st[i].reopens,
		       (long long)(b->st[i].max_ns / 1000000));
	printf("\n");
}

static void chan_case(int kind, int policy)
{
	char loc[128], path[160];
	struct board *b = board_new();
	t_posix_loc(loc, sizeof(loc), "hs");
	snprintf(path, sizeof(path), "/dev/shm/%s", loc + 6);
	struct shmq_chan_opts o = {.kind = kind, .capacity = kind ==
	                           SHMQ_CHAN_SPSC ? 8192 : 16, .msg_size = 256,
	                           .policy = policy, .spin_ns = -1,
	                           .flags = SHMQ_CHAN_PERSIST};
	shmq_chan *ch = NULL; /* made to persist: it outlives its peers */
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), 0);
	CHECK_EQ(shmq_chan_close(ch), 0);
	pid_t pid[HONEST];
	int roles[HONEST] = {SHMQ_WRITER, SHMQ_READER,
	                     kind == SHMQ_CHAN_MPMC ? SHMQ_WRITER : SHMQ_READER};
	unsigned n = kind == SHMQ_CHAN_SPSC ? 2 : HONEST;
	for (unsigned i = 0; i < n; i++)
		if ((pid[i] = spawn()) == 0)
			chan_peer(b, &b->st[i], loc, roles[i]);
	/* The identity line rarely (it ends everything at once), the
	 * counters and indices, the peer table, the records and slots. */
	static const struct region reg[] = {
		{0, 128, 1}, {128, 320, 10}, {4096, 8192, 10},
		{8192, 8192 + 4096, 30}, {8192, ~(size_t)0 >> 1, 10},
	};
	pid_t bad = spawn();
	if (bad == 0)
		hostile(b, path, reg, sizeof(reg) / sizeof(reg[0]));
	judge(b, pid, n, bad);
	/* A scribbled CLOSING bit makes an honest open help remove the name:
	 * a peer that can write can have the channel removed. */
	int rc = shmq_chan_unlink(loc);
	if (rc == SHMQ_ENOTCHAN) /* its magic scribbled on: no channel now */
		rc = shmq_unlink(loc);
	CHECK(rc == 0 || rc == -ENOENT);
	munmap(b, sizeof(*b));
}

TEST_TIMEOUT(hostile_peer_on_spsc_gives_honest_peers_errors_only, 60)
{
	chan_case(SHMQ_CHAN_SPSC, 0);
}

TEST_TIMEOUT(hostile_peer_on_mpmc_gives_honest_peers_errors_only, 60)
{
	chan_case(SHMQ_CHAN_MPMC, 0);
}

TEST_TIMEOUT(hostile_peer_on_broadcast_gives_honest_peers_errors_only, 60)
{
	chan_case(SHMQ_CHAN_BROADCAST, SHMQ_POLICY_OVERWRITE);
}

/* ---- Mutex, semaphore, event --------------------------------------------- */

struct sync_area {
	shmq_mutex m;
	shmq_sem s;
	shmq_event e;
	uint64_t data[2]; /* the mutex keeps them equal (unless scribbled) */
};

static void sync_peer(struct board *b, struct stats *s, struct sync_area *a,
                      unsigned who)
{
	while (!b->stop) {
		int64_t t0 = mono();
		struct timespec dl = after(CALL_NS);
		long rc;
		switch ((s->calls + who) % 4) {
		case 0:
			rc = shmq_mutex_lock_timed(&a->m, &dl);
			if (rc == -EOWNERDEAD)
				rc = shmq_mutex_consistent(&a->m);
			if (rc == 0) {
				a->data[0]++;
				a->data[1] = a->data[0];
				rc = shmq_mutex_unlock(&a->m);
			}
			break;
		case 1:
			rc = shmq_sem_post(&a->s);
			break;
		case 2:
			rc = shmq_sem_wait_timed(&a->s, &dl);
			break;
		default:
			rc = (s->calls / 4) % 2
			     ? shmq_event_signal(&a->e)
			     : shmq_event_wait_timed(&a->e, shmq_event_seq(&a->e),
			                             &dl);
		}
		note(s, rc, t0, 0);
	}
	_exit(0);
}

TEST_TIMEOUT(hostile_peer_on_mutex_sem_event_gives_errors_or_timeouts, 60)
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
	for (unsigned i = 0; i < HONEST; i++)
		if ((pid[i] = spawn()) == 0)
			sync_peer(b, &b->st[i], a, i);
	const struct region reg[] = {{0, sizeof(*a) - sizeof(a->data), 1}};
	pid_t bad = spawn();
	if (bad == 0)
		hostile(b, path, reg, 1);
	judge(b, pid, HONEST, bad);
	CHECK_EQ(shmq_seg_close(seg), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	munmap(b, sizeof(*b));
}
