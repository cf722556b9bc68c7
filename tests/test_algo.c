/* The classic mutual-exclusion algorithms: processes counting under each
 * lock keep an exact count, a lock without its fence does not, and bad
 * input or a corrupted header is an error, never a crash or a hang. */
#include "algo_broken.h"
#include "layout.h"
#include "shmq.h"
#include "test.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef int (*t_lock_fn)(void *mem, unsigned me);

struct lockset {
	t_lock_fn lock, unlock;
};

static const struct lockset real = {shmq_algo_lock, shmq_algo_unlock};
static const struct lockset broken = {t_broken_peterson_lock,
                                      t_broken_peterson_unlock};

/* A memfd segment: the algorithm's state, then the counter it protects (a
 * plain int on a line of its own), then what each worker reports. Forked
 * children inherit the mapping. */
struct tally {
	int counter;
	int pad[SHMQ_CACHE_LINE / sizeof(int) - 1];
	long done[SHMQ_ALGO_MAX_PROCS]; /* increments of worker i, its own */
};

struct arena {
	shmq_seg *seg;
	struct shmq_algo_shm *s;
	struct tally *t;
};

static void arena_open(struct arena *a, int algo, unsigned nprocs)
{
	struct shmq_seg_opts o = {.size = shmq_algo_size() + sizeof(*a->t)};

	CHECK_EQ(shmq_seg_create(&a->seg, "memfd:algo", &o), 0);
	a->s = shmq_seg_addr(a->seg);
	a->t = (struct tally *)((char *)a->s + shmq_algo_size());
	CHECK_EQ(shmq_algo_init(a->s, shmq_seg_size(a->seg), algo, nprocs), 0);
}

static void arena_close(struct arena *a)
{
	CHECK_EQ(shmq_seg_close(a->seg), 0);
}

/* The CPUs we may run on; worker i is pinned to cpu[i % n], so two workers
 * really run at once (left alone, the scheduler may keep both of a pair on
 * one CPU for a whole run, and a missing fence then never shows). */
struct cpus {
	int cpu[CPU_SETSIZE];
	int n;
};

static void cpus_get(struct cpus *c)
{
	cpu_set_t set;

	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
	c->n = 0;
	for (size_t i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			c->cpu[c->n++] = (int)i;
	CHECK(c->n > 0);
}

static void pin(const struct cpus *c, unsigned i)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((size_t)c->cpu[i % (unsigned)c->n], &set);
	CHECK(sched_setaffinity(0, sizeof(set), &set) == 0);
}

/*
 * How much counting. Two workers on two CPUs run side by side the whole
 * time: 200000 increments each take 0.05-0.5 s and lose counts within the
 * first round when the fence is missing (algo_counting_catches_...). With
 * more workers than CPUs the time per lock is bimodal, measured on 2 vCPUs:
 * about 2 us while the workers that hold tickets or levels are running, and
 * 3-5 ms (a time slice) once one is preempted mid-protocol and every other
 * one spins until it runs again. So every run also has a time budget: a
 * worker stops early when it is spent, and the check stays exact, on the
 * increments the workers report.
 */
#define K2 200000L
#define K4 20000L
#define K8 5000L
#define BUDGET_MS 750

/* One counting run: nprocs workers, up to iters increments each. */
struct run {
	const struct lockset *l;
	long iters;
	struct timespec deadline; /* CLOCK_MONOTONIC: the budget */
};

/* What a run left: the counter, and the increments the workers made. */
struct result {
	long counter, made;
};

static struct timespec deadline_in(long ms)
{
	struct timespec t;

	CHECK(clock_gettime(CLOCK_MONOTONIC, &t) == 0);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static void worker(const struct arena *a, const struct run *r, unsigned me,
                   int go)
{
	char c;
	long i;

	while (read(go, &c, 1) < 0 && errno == EINTR)
		; /* EOF: every worker exists, start */
	for (i = 0; i < r->iters; i++) {
		if (i % 16 == 0 && shmq_deadline_passed(&r->deadline))
			break;
		CHECK_EQ(r->l->lock(a->s, me), 0);
		++a->t->counter; /* plain load, add, store: no atomicity */
		CHECK_EQ(r->l->unlock(a->s, me), 0);
	}
	a->t->done[me] = i;
	_exit(0);
}

/* Forks the workers, pinned round-robin on our CPUs, starts them together
 * and waits for them; each must exit 0 having got in at least once. */
static struct result count(const struct arena *a, const struct lockset *l,
                           unsigned nprocs, long iters)
{
	struct run r = {l, iters, deadline_in(BUDGET_MS)};
	struct result res = {0, 0};
	struct cpus cpus;
	pid_t pid[SHMQ_ALGO_MAX_PROCS];
	int go[2];

	cpus_get(&cpus);
	memset(a->t, 0, sizeof(*a->t));
	CHECK(pipe(go) == 0);
	for (unsigned i = 0; i < nprocs; i++) {
		pid[i] = fork();
		CHECK(pid[i] >= 0);
		if (pid[i] == 0) {
			close(go[1]);
			pin(&cpus, i);
			worker(a, &r, i, go[0]);
		}
	}
	close(go[0]);
	close(go[1]);
	for (unsigned i = 0; i < nprocs; i++)
		CHECK_EQ(t_wait(pid[i]), 0);
	for (unsigned i = 0; i < nprocs; i++) {
		CHECK(a->t->done[i] > 0);
		res.made += a->t->done[i];
	}
	res.counter = a->t->counter;
	return res;
}

static void exact_count(int algo, unsigned nprocs, long iters)
{
	struct arena a;
	struct result res;

	arena_open(&a, algo, nprocs);
	res = count(&a, &real, nprocs, iters);
	CHECK_EQ(res.counter, res.made);
	arena_close(&a);
}

TEST(algo_dekker_two_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_DEKKER, 2, K2);
}

TEST(algo_peterson_two_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_PETERSON, 2, K2);
}

TEST(algo_filter_two_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_FILTER, 2, K2);
}

TEST(algo_filter_four_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_FILTER, 4, K4);
}

TEST(algo_filter_eight_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_FILTER, 8, K8);
}

TEST(algo_szymanski_two_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_SZYMANSKI, 2, K2);
}

TEST(algo_szymanski_four_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_SZYMANSKI, 4, K4);
}

TEST(algo_szymanski_eight_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_SZYMANSKI, 8, K8);
}

TEST(algo_bakery_two_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_BAKERY, 2, K2);
}

TEST(algo_bakery_four_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_BAKERY, 4, K4);
}

TEST(algo_bakery_eight_processes_count_exactly)
{
	exact_count(SHMQ_ALGO_BAKERY, 8, K8);
}

/* The counting test is only worth something if it fails a lock without
 * the fence: the textbook Peterson, counted the way the real one is, must
 * lose counts within a bounded number of rounds. */
#define BROKEN_ROUNDS 20

TEST(algo_counting_catches_peterson_without_its_fence)
{
	struct cpus cpus;
	struct arena a;
	struct result res = {0, 0};

	cpus_get(&cpus);
	if (cpus.n < 2)
		t_skip("needs 2 CPUs: one CPU never reorders against itself");
	arena_open(&a, SHMQ_ALGO_PETERSON, 2);
	for (int r = 0; r < BROKEN_ROUNDS && res.counter == res.made; r++)
		res = count(&a, &broken, 2, K2);
	arena_close(&a);
	CHECK(res.counter < res.made);
}

/* Dekker reads turn masked: garbage still names one of the two, so both
 * never back off at once to wait for a turn nobody will give. */
TEST(algo_dekker_garbage_turn_cannot_deadlock)
{
	struct arena a;
	struct result res;

	arena_open(&a, SHMQ_ALGO_DEKKER, 2);
	shmq_store(&a.s->turn, 0xfffffff6u, SHMQ_RELAXED);
	res = count(&a, &real, 2, K2 / 4);
	CHECK_EQ(res.counter, res.made);
	arena_close(&a);
}

/* ---- Bakery tickets never wrap ------------------------------------------ */

TEST(algo_bakery_ticket_at_bound_is_eoverflow_and_leaves_slot_idle)
{
	struct arena a;
	struct shmq_algo_slot *peer, *mine;

	arena_open(&a, SHMQ_ALGO_BAKERY, 2);
	peer = &a.s->slot[1];
	mine = &a.s->slot[0];

	/* One below the bound: a child in slot 0 takes the bound itself and
	 * waits behind the peer's smaller ticket until the peer leaves. */
	shmq_store(&peer->ticket, SHMQ_ALGO_TICKET_MAX - 1, SHMQ_RELAXED);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK_EQ(shmq_algo_lock(a.s, 0), 0);
		CHECK_EQ(shmq_algo_unlock(a.s, 0), 0);
		_exit(0);
	}
	while (shmq_load(&mine->ticket, SHMQ_ACQUIRE) == 0)
		CHECK_EQ(waitpid(pid, NULL, WNOHANG), 0); /* still waiting */
	CHECK(shmq_load(&mine->ticket, SHMQ_ACQUIRE) == SHMQ_ALGO_TICKET_MAX);
	shmq_store(&peer->ticket, 0, SHMQ_RELEASE); /* the peer leaves */
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_load(&mine->ticket, SHMQ_RELAXED), 0);

	/* At the bound, and at a value that would wrap: an error, and our
	 * slot stays idle so nobody waits for us. */
	shmq_store(&peer->ticket, SHMQ_ALGO_TICKET_MAX, SHMQ_RELAXED);
	CHECK_EQ(shmq_algo_lock(a.s, 0), -EOVERFLOW);
	CHECK_EQ(shmq_load(&mine->choosing, SHMQ_RELAXED), 0);
	CHECK_EQ(shmq_load(&mine->ticket, SHMQ_RELAXED), 0);
	shmq_store(&peer->ticket, UINT64_MAX, SHMQ_RELAXED);
	CHECK_EQ(shmq_algo_lock(a.s, 0), -EOVERFLOW);
	CHECK_EQ(shmq_load(&mine->ticket, SHMQ_RELAXED), 0);

	shmq_store(&peer->ticket, 0, SHMQ_RELAXED); /* the peer leaves */
	CHECK_EQ(shmq_algo_lock(a.s, 0), 0);
	CHECK_EQ(shmq_load(&mine->ticket, SHMQ_RELAXED), 1);
	CHECK_EQ(shmq_algo_unlock(a.s, 0), 0);
	arena_close(&a);
}

/* ---- Bad input and corrupted state -------------------------------------- */

TEST(algo_init_refuses_bad_arguments)
{
	struct shmq_algo_shm st;
	size_t len = sizeof(st);

	CHECK_EQ(shmq_algo_size(), sizeof(st));
	CHECK_EQ(shmq_algo_init(&st, len, SHMQ_ALGO_FILTER, 0), -EINVAL);
	CHECK_EQ(shmq_algo_init(&st, len, SHMQ_ALGO_FILTER, 65), -EINVAL);
	CHECK_EQ(shmq_algo_init(&st, len, SHMQ_ALGO_BAKERY, 64), 0);
	CHECK_EQ(shmq_algo_init(&st, len, SHMQ_ALGO_DEKKER, 3), -EINVAL);
	CHECK_EQ(shmq_algo_init(&st, len, SHMQ_ALGO_DEKKER, 1), -EINVAL);
	CHECK_EQ(shmq_algo_init(&st, len, SHMQ_ALGO_PETERSON, 3), -EINVAL);
	CHECK_EQ(shmq_algo_init(&st, len, SHMQ_ALGO_PETERSON, 2), 0);
	CHECK_EQ(shmq_algo_init(&st, len, 0, 2), -EINVAL);
	CHECK_EQ(shmq_algo_init(&st, len, SHMQ_ALGO_BAKERY + 1, 2), -EINVAL);
	CHECK_EQ(shmq_algo_init(&st, len, -1, 2), -EINVAL);
	CHECK_EQ(shmq_algo_init(&st, len - 1, SHMQ_ALGO_BAKERY, 2), -EINVAL);
	CHECK_EQ(shmq_algo_init(NULL, len, SHMQ_ALGO_BAKERY, 2), -EINVAL);
	CHECK_EQ(shmq_algo_init((char *)&st + 4, len, SHMQ_ALGO_BAKERY, 2),
	         -EINVAL); /* misaligned for the 64-bit tickets */
}

TEST(algo_lock_refuses_a_slot_beyond_nprocs)
{
	struct shmq_algo_shm st;

	CHECK_EQ(shmq_algo_init(&st, sizeof(st), SHMQ_ALGO_BAKERY, 4), 0);
	CHECK_EQ(shmq_algo_lock(&st, 4), -EINVAL);
	CHECK_EQ(shmq_algo_unlock(&st, 4), -EINVAL);
	CHECK_EQ(shmq_algo_lock(&st, UINT32_MAX), -EINVAL);
	CHECK_EQ(shmq_algo_lock(&st, 3), 0);
	CHECK_EQ(shmq_algo_unlock(&st, 3), 0);
	CHECK_EQ(shmq_algo_init(&st, sizeof(st), SHMQ_ALGO_DEKKER, 2), 0);
	CHECK_EQ(shmq_algo_lock(&st, 2), -EINVAL);
	CHECK_EQ(shmq_algo_lock(NULL, 0), -EINVAL);
}

/* Each corruption of the header, applied to a fresh state: lock and unlock
 * give -EINVAL at once (a hang would end the test by timeout). */
static void corrupt_and_check(int algo, unsigned nprocs, size_t off,
                              uint32_t v)
{
	struct shmq_algo_shm st;

	CHECK_EQ(shmq_algo_init(&st, sizeof(st), algo, nprocs), 0);
	memcpy((char *)&st + off, &v, sizeof(v));
	CHECK_EQ(shmq_algo_lock(&st, 0), -EINVAL);
	CHECK_EQ(shmq_algo_unlock(&st, 0), -EINVAL);
}

TEST(algo_corrupted_header_is_einval_never_a_hang)
{
	struct shmq_algo_shm st;
	const size_t magic = offsetof(struct shmq_algo_shm, magic);
	const size_t size = offsetof(struct shmq_algo_shm, size);
	const size_t algo = offsetof(struct shmq_algo_shm, algo);
	const size_t n = offsetof(struct shmq_algo_shm, nprocs);

	corrupt_and_check(SHMQ_ALGO_FILTER, 4, magic, 0);
	corrupt_and_check(SHMQ_ALGO_FILTER, 4, magic, SHMQ_ALGO_MAGIC + 1);
	corrupt_and_check(SHMQ_ALGO_FILTER, 4, size, sizeof(st) - 64);
	corrupt_and_check(SHMQ_ALGO_FILTER, 4, algo, 0);
	corrupt_and_check(SHMQ_ALGO_FILTER, 4, algo, 99);
	corrupt_and_check(SHMQ_ALGO_FILTER, 4, n, 0);
	corrupt_and_check(SHMQ_ALGO_FILTER, 4, n, 65);
	corrupt_and_check(SHMQ_ALGO_FILTER, 4, n, UINT32_MAX);
	corrupt_and_check(SHMQ_ALGO_DEKKER, 2, n, 3);
	corrupt_and_check(SHMQ_ALGO_PETERSON, 2, n, 1);

	memset(&st, 0, sizeof(st)); /* never initialised */
	CHECK_EQ(shmq_algo_lock(&st, 0), -EINVAL);
	memset(&st, 0xff, sizeof(st)); /* scribbled over */
	CHECK_EQ(shmq_algo_lock(&st, 0), -EINVAL);
	CHECK_EQ(shmq_algo_unlock(&st, 0), -EINVAL);
}

/* Values read from slots and shared words are compared, never used as an
 * index or a shift: garbage in every word a process does not wait on lets
 * each slot lock and unlock in turn (ASan would see a stray access), and
 * leaves the slot idle. */
TEST(algo_garbage_in_shared_words_is_never_an_index)
{
	for (int algo = SHMQ_ALGO_DEKKER; algo <= SHMQ_ALGO_BAKERY; algo++) {
		unsigned n = algo <= SHMQ_ALGO_PETERSON ? 2 : SHMQ_ALGO_MAX_PROCS;
		struct shmq_algo_shm st;

		CHECK_EQ(shmq_algo_init(&st, sizeof(st), algo, n), 0);
		for (unsigned me = 0; me < n; me++) {
			struct shmq_algo_slot *my = &st.slot[me];
			shmq_store(&st.turn, UINT32_MAX - me, SHMQ_RELAXED);
			for (unsigned l = 0; l < SHMQ_ALGO_MAX_PROCS; l++)
				shmq_store(&st.victim[l], UINT32_MAX - l,
				           SHMQ_RELAXED);
			shmq_store(&my->flag, UINT32_MAX, SHMQ_RELAXED);
			shmq_store(&my->choosing, UINT32_MAX, SHMQ_RELAXED);
			shmq_store(&my->ticket, UINT64_MAX, SHMQ_RELAXED);
			CHECK_EQ(shmq_algo_lock(&st, me), 0);
			CHECK_EQ(shmq_algo_unlock(&st, me), 0);
			CHECK_EQ(shmq_load(&my->flag, SHMQ_RELAXED),
			         algo == SHMQ_ALGO_BAKERY ? UINT32_MAX : 0);
			CHECK_EQ(shmq_load(&my->choosing, SHMQ_RELAXED),
			         algo == SHMQ_ALGO_BAKERY ? 0 : UINT32_MAX);
			if (algo == SHMQ_ALGO_BAKERY)
				CHECK_EQ(shmq_load(&my->ticket, SHMQ_RELAXED), 0);
			/* idle again for the next slot's turn */
			shmq_store(&my->flag, 0, SHMQ_RELAXED);
			shmq_store(&my->choosing, 0, SHMQ_RELAXED);
			shmq_store(&my->ticket, 0, SHMQ_RELAXED);
		}
	}
}

TEST(algo_names_round_trip)
{
	static const char *const names[] = {"dekker", "peterson", "filter",
	                                    "szymanski", "bakery"};

	for (int a = SHMQ_ALGO_DEKKER; a <= SHMQ_ALGO_BAKERY; a++) {
		CHECK(!strcmp(shmq_algo_name(a), names[a - 1]));
		CHECK_EQ(shmq_algo_from_name(names[a - 1]), a);
	}
	CHECK(shmq_algo_name(0) == NULL);
	CHECK(shmq_algo_name(SHMQ_ALGO_BAKERY + 1) == NULL);
	CHECK(shmq_algo_name(-1) == NULL);
	CHECK_EQ(shmq_algo_from_name("mutex"), -EINVAL);
	CHECK_EQ(shmq_algo_from_name("Bakery"), -EINVAL);
	CHECK_EQ(shmq_algo_from_name(""), -EINVAL);
	CHECK_EQ(shmq_algo_from_name(NULL), -EINVAL);
}
