/*
 * shmq mutex: N processes race to add 1 to a plain counter in shared memory,
 * each increment inside a critical section of the chosen lock. An exact
 * count shows mutual exclusion held; the time gives the cost per
 * lock/unlock pair.
 *
 * Cleanup: the parent blocks SIGCHLD and the termination signals before it
 * makes anything, and waits for them with sigwaitinfo, so an interrupt
 * cannot slip between a check and a wait. On a failed child or a signal it
 * kills and reaps every child before it removes what it made (a System V
 * semaphore set outlives us otherwise), then dies of that signal. Children
 * die with the parent (PR_SET_PDEATHSIG): a SIGKILLed parent leaves no
 * spinner behind, only a sysv-sem set to remove with shmq rm.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int run_mutex(const struct cli_cmd *cmd, int argc, char **argv);

#define MAX_PROCS 1024                 /* for the locks that do not spin */
#define MAX_ITERS 1000000000000ull     /* 10^12: N*K stays below 2^63 */

const struct cli_cmd cli_mutex = {
	"mutex",
	"mutex --algo ALGO --procs N --iters K [--json]",
	"Forks N processes that each add 1 to a plain (non-atomic) counter in\n"
	"shared memory K times, every increment inside a critical section of\n"
	"ALGO, all starting together. Prints the expected count (N*K), the\n"
	"actual one, the time from the start to the last exit, and the\n"
	"nanoseconds per lock/unlock pair (elapsed / (N*K)). Exit status 0\n"
	"when the count is exact, 1 when updates were lost or a process\n"
	"failed (which one is named).\n\n"
	"  --algo ALGO  dekker, peterson     classic, exactly 2 processes\n"
	"               filter, szymanski, bakery\n"
	"                                    classic, 1..64 processes\n"
	"               mutex      shmq_mutex (robust, sleeps)\n"
	"               sem        shmq_sem as a lock (value 1)\n"
	"               sysv-sem   a System V semaphore (SEM_UNDO), private\n"
	"                          to the run and removed at its end\n"
	"               pthread    process-shared robust pthread_mutex_t, the\n"
	"                          reference\n"
	"               none       no lock: a control that loses updates\n"
	"  --procs N    processes; 1..1024 for mutex, sem, sysv-sem, pthread\n"
	"               and none\n"
	"  --iters K    increments per process, 1..10^12\n"
	"  --json       one JSON object: algo, procs, iters, cpus, expected,\n"
	"               actual, lost, elapsed_ns, ns_per_op, ok\n\n"
	"Process i runs on the i-th CPU this process may use, round robin (see\n"
	"taskset(1)), so that N processes on N CPUs really contend. --procs 1\n"
	"gives the uncontended cost of a lock/unlock pair. The classic\n"
	"algorithms spin: with more processes than CPUs they crawl, as each\n"
	"waits for a holder that is not running.\n",
	run_mutex,
};

/* ---- The locks ---------------------------------------------------------- */

enum lock_kind { LK_ALGO, LK_MUTEX, LK_SEM, LK_SYSV_SEM, LK_PTHREAD, LK_NONE };

struct lock_desc {
	const char *name;
	enum lock_kind kind;
	unsigned min_procs, max_procs;
};

static const struct lock_desc locks[] = {
	{ "dekker", LK_ALGO, 2, 2 },
	{ "peterson", LK_ALGO, 2, 2 },
	{ "filter", LK_ALGO, 1, SHMQ_ALGO_MAX_PROCS },
	{ "szymanski", LK_ALGO, 1, SHMQ_ALGO_MAX_PROCS },
	{ "bakery", LK_ALGO, 1, SHMQ_ALGO_MAX_PROCS },
	{ "mutex", LK_MUTEX, 1, MAX_PROCS },
	{ "sem", LK_SEM, 1, MAX_PROCS },
	{ "sysv-sem", LK_SYSV_SEM, 1, MAX_PROCS },
	{ "pthread", LK_PTHREAD, 1, MAX_PROCS },
	{ "none", LK_NONE, 1, MAX_PROCS },
};
#define NLOCKS (sizeof(locks) / sizeof(locks[0]))

static const struct lock_desc *find_lock(const char *name)
{
	size_t i;

	for (i = 0; i < NLOCKS; i++)
		if (!strcmp(locks[i].name, name))
			return &locks[i];
	return NULL;
}

/*
 * The memory the processes share, in a memfd that fork hands down. Only this
 * process tree ever maps it, and no other program reads it: not a shared
 * format, so not in src/layout.h. The counter and the lock get a cache line
 * each. After it: the algorithm's state (LK_ALGO), then one report per child.
 */
struct race {
	shmq_sem arrived; /* each child posts once, at the start line */
	shmq_event go;    /* the parent signals once: start */
	_Alignas(64) volatile uint64_t counter; /* what the lock protects */
	_Alignas(64) union {
		shmq_mutex mutex;
		shmq_sem sem;
		pthread_mutex_t pthread;
	} lock;
};

/* What a failing child leaves for the parent: read after it is reaped. */
enum { STEP_START = 1, STEP_LOCK, STEP_UNLOCK };
struct child_report {
	int32_t err;   /* negative errno or SHMQ_E*; 0: no failure */
	uint32_t step; /* STEP_* */
};

struct bench {
	const struct lock_desc *lock;
	unsigned procs;
	uint64_t iters;
	int json;

	shmq_seg *seg;
	struct race *race;
	void *algo;      /* the algorithm's state, in the segment */
	struct child_report *reports;
	shmq_semset *set;
	int pthread_ready;
	sigset_t watch, oldmask;
	cpu_set_t cpus;  /* the CPUs we may use: children go round them */

	pid_t *pids;     /* 0 once reaped */
	unsigned running;
	int64_t elapsed_ns;
	uint64_t actual;
};

static size_t round64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static size_t algo_off(void)
{
	return round64(sizeof(struct race));
}

static size_t reports_off(void)
{
	return algo_off() + round64(shmq_algo_size());
}

/* Lock and unlock, one signature for all, so that race() inlines them. */
typedef int (*lock_fn)(void *lock, unsigned me);

#define LOCK_FN(name, call)                                                  \
	static int name(void *l, unsigned me)                                \
	{                                                                    \
		(void)l;                                                     \
		(void)me;                                                    \
		return call;                                                 \
	}
LOCK_FN(algo_lock, shmq_algo_lock(l, me))
LOCK_FN(algo_unlock, shmq_algo_unlock(l, me))
LOCK_FN(mutex_lock, shmq_mutex_lock(l))
LOCK_FN(mutex_unlock, shmq_mutex_unlock(l))
LOCK_FN(sem_lock, shmq_sem_wait(l))
LOCK_FN(sem_unlock, shmq_sem_post(l))
LOCK_FN(sysv_lock, shmq_semset_op(l, 0, -1))
LOCK_FN(sysv_unlock, shmq_semset_op(l, 0, 1))
/* A robust mutex's EOWNERDEAD is an error here too: it means a child died
 * holding it, and the count can no longer be exact. */
LOCK_FN(pthread_lock, -pthread_mutex_lock(l))
LOCK_FN(pthread_unlock, -pthread_mutex_unlock(l))
LOCK_FN(no_lock, 0)

static int child_fail(struct child_report *rep, uint32_t step, int err)
{
	rep->err = err;
	rep->step = step;
	return err;
}

/* The measured loop. Inlined into each call site of run_loop() with its
 * lock functions, so the loop makes direct calls. */
static inline __attribute__((always_inline)) int
race(struct bench *b, unsigned me, void *l, lock_fn lock, lock_fn unlock)
{
	volatile uint64_t *counter = &b->race->counter;
	struct child_report *rep = &b->reports[me];
	uint64_t k;
	int err;

	for (k = 0; k < b->iters; k++) {
		if ((err = lock(l, me)) != 0)
			return child_fail(rep, STEP_LOCK, err);
		*counter = *counter + 1; /* load, add, store: not atomic */
		if ((err = unlock(l, me)) != 0)
			return child_fail(rep, STEP_UNLOCK, err);
	}
	return 0;
}

static int run_loop(struct bench *b, unsigned me)
{
	struct race *r = b->race;

	switch (b->lock->kind) {
	case LK_ALGO:
		return race(b, me, b->algo, algo_lock, algo_unlock);
	case LK_MUTEX:
		return race(b, me, &r->lock.mutex, mutex_lock, mutex_unlock);
	case LK_SEM:
		return race(b, me, &r->lock.sem, sem_lock, sem_unlock);
	case LK_SYSV_SEM:
		return race(b, me, b->set, sysv_lock, sysv_unlock);
	case LK_PTHREAD:
		return race(b, me, &r->lock.pthread, pthread_lock,
		            pthread_unlock);
	case LK_NONE:
		break;
	}
	return race(b, me, NULL, no_lock, no_lock);
}

/* ---- Setup and teardown ------------------------------------------------- */

static int init_pthread(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int err;

	if ((err = pthread_mutexattr_init(&a)) != 0)
		return -err;
	err = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!err)
		err = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!err)
		err = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -err;
}

/* A private set of one semaphore at 1. */
static int init_sysv(struct bench *b)
{
	struct shmq_semset_opts so = {.nsems = 1, .mode = 0600};
	int err;

	err = shmq_semset_create(&b->set, "sysv-sem:private", &so);
	if (err < 0)
		return cli_fail(err, "sysv-sem:private", 0);
	err = shmq_semset_setval(b->set, 0, 1);
	if (err < 0)
		return cli_fail(err, shmq_semset_locator(b->set), 0);
	return CLI_OK;
}

static int init_lock(struct bench *b)
{
	struct race *r = b->race;
	int err = 0;

	switch (b->lock->kind) {
	case LK_ALGO:
		err = shmq_algo_init(b->algo, shmq_algo_size(),
		                     shmq_algo_from_name(b->lock->name),
		                     b->procs);
		break;
	case LK_MUTEX:
		err = shmq_mutex_init(&r->lock.mutex);
		break;
	case LK_SEM:
		err = shmq_sem_init(&r->lock.sem, 1);
		break;
	case LK_SYSV_SEM:
		return init_sysv(b);
	case LK_PTHREAD:
		err = init_pthread(&r->lock.pthread);
		b->pthread_ready = err == 0;
		break;
	case LK_NONE:
		break;
	}
	if (err < 0)
		return cli_failf("mutex: cannot set up the %s lock: %s",
		                 b->lock->name, shmq_strerror(err));
	return CLI_OK;
}

static int setup(struct bench *b)
{
	struct shmq_seg_opts o = { 0 };
	char *base;
	int err;

	o.size = reports_off() + b->procs * sizeof(struct child_report);
	err = shmq_seg_create(&b->seg, "memfd:shmq-mutex", &o);
	if (err < 0)
		return cli_fail(err, "memfd:shmq-mutex", o.size);
	base = shmq_seg_addr(b->seg); /* zero-filled */
	b->race = (struct race *)base;
	b->algo = base + algo_off();
	b->reports = (struct child_report *)(base + reports_off());
	if ((err = shmq_sem_init(&b->race->arrived, 0)) < 0 ||
	    (err = shmq_event_init(&b->race->go)) < 0)
		return cli_failf("mutex: cannot set up the start line: %s",
		                 shmq_strerror(err));
	if (sched_getaffinity(0, sizeof(b->cpus), &b->cpus) != 0)
		return cli_failf("mutex: cannot read the CPUs this process may "
		                 "use: %s", strerror(errno));
	b->pids = calloc(b->procs, sizeof(*b->pids));
	if (!b->pids)
		return cli_fail(-ENOMEM, NULL, 0);
	return init_lock(b);
}

/* Removes what setup made, whatever got made. Every child is reaped. */
static int teardown(struct bench *b)
{
	int err, rc = CLI_OK;

	if (b->set) {
		char loc[SHMQ_LOCATOR_MAX];
		snprintf(loc, sizeof(loc), "%s", shmq_semset_locator(b->set));
		shmq_semset_close(b->set);
		err = shmq_semset_unlink(loc);
		if (err < 0)
			rc = cli_fail(err, loc, 0);
	}
	if (b->pthread_ready)
		pthread_mutex_destroy(&b->race->lock.pthread);
	shmq_seg_close(b->seg);
	free(b->pids);
	return rc;
}

/* ---- Children ----------------------------------------------------------- */

/*
 * Puts child me on the me-th CPU we may use (round robin). Left to itself,
 * the scheduler often starts two fresh children on one CPU and moves one
 * only after a few milliseconds: the "contended" run would then be two
 * uncontended runs in turn.
 */
static int pin(const struct bench *b, unsigned me)
{
	cpu_set_t one;
	unsigned n = me % (unsigned)CPU_COUNT(&b->cpus);
	size_t cpu;

	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &b->cpus) && n-- == 0)
			break;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof(one), &one) == 0 ? 0 : -errno;
}

/* Runs in child me; never returns. */
static void child_main(struct bench *b, unsigned me, pid_t parent)
{
	struct race *r = b->race;
	uint32_t seen;
	int err;

	sigprocmask(SIG_SETMASK, &b->oldmask, NULL);
	/* A parent SIGKILLed mid-run must not leave us spinning forever. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(CLI_ERR);
	/* Read before we arrive: the parent signals only after all have. */
	seen = shmq_event_seq(&r->go);
	if ((err = pin(b, me)) < 0 || (err = shmq_sem_post(&r->arrived)) < 0) {
		child_fail(&b->reports[me], STEP_START, err);
		_exit(CLI_ERR);
	}
	/* Spin, do not sleep: a wakeup takes long enough (up to a
	 * millisecond on a VM) for the first to finish before the last
	 * starts. Yielding leaves the CPU to those still on their way. */
	while (shmq_event_seq(&r->go) == seen)
		sched_yield();
	_exit(run_loop(b, me) ? CLI_ERR : CLI_OK);
}

static int start_children(struct bench *b)
{
	pid_t parent = getpid(), pid;
	unsigned i;

	fflush(NULL);
	for (i = 0; i < b->procs; i++) {
		pid = fork();
		if (pid < 0)
			return cli_failf("mutex: cannot start process %u of %u: "
			                 "%s", i + 1, b->procs, strerror(errno));
		if (pid == 0)
			child_main(b, i, parent);
		b->pids[i] = pid;
		b->running++;
	}
	return CLI_OK;
}

/* How a child ended, in words, after it is reaped. */
static int report_child(struct bench *b, unsigned i, pid_t pid, int status)
{
	static const char *const steps[] = { "", "getting to the start line",
	                                     "lock", "unlock" };
	const struct child_report *rep = &b->reports[i];
	char who[96];

	snprintf(who, sizeof(who), "mutex --algo %s: process %u of %u (pid %d)",
	         b->lock->name, i + 1, b->procs, (int)pid);
	if (WIFSIGNALED(status))
		return cli_failf("%s was killed by signal %d (%s); stopped the "
		                 "others, the count is incomplete", who,
		                 WTERMSIG(status), strsignal(WTERMSIG(status)));
	if (rep->err && rep->step >= STEP_START && rep->step <= STEP_UNLOCK)
		return cli_failf("%s: %s failed: %s (%s); stopped the others",
		                 who, steps[rep->step], shmq_strerror(rep->err),
		                 shmq_err_name(rep->err));
	return cli_failf("%s exited with status %d; stopped the others", who,
	                 WEXITSTATUS(status));
}

static unsigned child_index(const struct bench *b, pid_t pid)
{
	unsigned i;

	for (i = 0; i < b->procs; i++)
		if (b->pids[i] == pid)
			return i;
	return b->procs;
}

/* SIGKILLs the children still running and reaps them. */
static void stop_children(struct bench *b)
{
	unsigned i;

	for (i = 0; i < b->procs; i++)
		if (b->pids[i] > 0)
			kill(b->pids[i], SIGKILL);
	for (i = 0; i < b->procs; i++)
		if (b->pids[i] > 0) {
			while (waitpid(b->pids[i], NULL, 0) < 0 && errno == EINTR)
				;
			b->pids[i] = 0;
		}
	b->running = 0;
}

/* Whether a child's death by signal is our interrupt too: Ctrl-C signals
 * the whole process group, and our copy may still be pending. */
static int shared_interrupt(const struct bench *b, int status)
{
	sigset_t pending;

	return WIFSIGNALED(status) &&
	       sigismember(&b->watch, WTERMSIG(status)) &&
	       sigpending(&pending) == 0 &&
	       sigismember(&pending, WTERMSIG(status));
}

/*
 * Reaps the children that have ended. A child that did not exit 0 stops the
 * run (the others are killed: a lock holder that died may block them
 * forever) and is reported. Returns CLI_OK, CLI_ERR, or the negated number
 * of a termination signal that killed a child and is pending for us too.
 */
static int reap(struct bench *b)
{
	unsigned i;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		i = child_index(b, pid);
		if (i == b->procs)
			continue; /* not one of ours */
		b->pids[i] = 0;
		b->running--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		stop_children(b);
		if (shared_interrupt(b, status))
			return -WTERMSIG(status);
		return report_child(b, i, pid, status);
	}
	return CLI_OK;
}

/* ---- The parent's waits ------------------------------------------------- */

/* The signals the parent waits for, blocked while it runs: SIGCHLD, and
 * the termination signals (cli_stop_signals). */
static void block_signals(struct bench *b)
{
	sigemptyset(&b->watch);
	sigaddset(&b->watch, SIGCHLD);
	cli_stop_signals(&b->watch);
	/* An inherited SIG_IGN would reap our children for us. */
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_BLOCK, &b->watch, &b->oldmask);
}

/* The next watched signal, or 0 when timeout (NULL: none) passes first. */
static int next_signal(struct bench *b, const struct timespec *timeout)
{
	int sig;

	do
		sig = timeout ? sigtimedwait(&b->watch, NULL, timeout)
		              : sigwaitinfo(&b->watch, NULL);
	while (sig < 0 && errno == EINTR);
	return sig < 0 ? 0 : sig;
}

/*
 * Handles a signal: SIGCHLD reaps, a termination signal stops the run.
 * Returns CLI_OK to go on, CLI_ERR when a child failed, or the negated
 * number of the signal that ended the run.
 */
static int on_signal(struct bench *b, int sig)
{
	if (sig == 0 || sig == SIGCHLD)
		return reap(b);
	stop_children(b);
	return -sig;
}

/* Waits until every child is at the start line, then lets them go. */
static int start_race(struct bench *b, struct timespec *t0)
{
	static const struct timespec now = { 0, 0 };
	struct timespec dl;
	unsigned n = 0;
	int rc;

	while (n < b->procs) {
		dl = shmq_deadline(10);
		rc = shmq_sem_wait_timed(&b->race->arrived, &dl);
		if (rc == 0) {
			n++;
			continue;
		}
		if (rc != -ETIMEDOUT)
			return cli_failf("mutex: waiting for the start line: %s",
			                 shmq_strerror(rc));
		/* Slow to arrive: did one die, or did a signal come? */
		if ((rc = on_signal(b, next_signal(b, &now))) != CLI_OK)
			return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, t0);
	rc = shmq_event_signal(&b->race->go);
	if (rc < 0)
		return cli_failf("mutex: cannot start the race: %s",
		                 shmq_strerror(rc));
	return CLI_OK;
}

static int64_t ns_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000000 +
	       (t1.tv_nsec - t0->tv_nsec);
}

/* Starts the children, times them from the start to the last exit. */
static int race_all(struct bench *b)
{
	struct timespec t0;
	int rc;

	rc = start_children(b);
	if (rc == CLI_OK)
		rc = start_race(b, &t0);
	while (rc == CLI_OK && (rc = reap(b)) == CLI_OK && b->running)
		rc = on_signal(b, next_signal(b, NULL));
	if (rc == CLI_OK) {
		b->elapsed_ns = ns_since(&t0);
		b->actual = b->race->counter; /* every child is reaped */
	}
	stop_children(b);
	return rc;
}

/* ---- Results ------------------------------------------------------------ */

static void print_result(const struct bench *b)
{
	uint64_t expected = b->procs * b->iters, actual = b->actual;
	double ns = (double)b->elapsed_ns / (double)expected;
	int cpus = CPU_COUNT(&b->cpus);

	if (b->json) {
		printf("{\"algo\": \"%s\", \"procs\": %u, \"iters\": %" PRIu64
		       ", \"cpus\": %d, \"expected\": %" PRIu64 ", \"actual\": %"
		       PRIu64 ", \"lost\": %" PRId64 ", \"elapsed_ns\": %" PRId64
		       ", \"ns_per_op\": %.2f, \"ok\": %s}\n", b->lock->name,
		       b->procs, b->iters, cpus, expected, actual,
		       (int64_t)(expected - actual), b->elapsed_ns, ns,
		       actual == expected ? "true" : "false");
		return;
	}
	printf("algo:       %s\nprocs:      %u on %d CPUs\n"
	       "iters:      %" PRIu64 " per process\nexpected:   %" PRIu64 "\n"
	       "actual:     %" PRIu64, b->lock->name, b->procs, cpus, b->iters,
	       expected, actual);
	if (actual == expected)
		puts(" (exact)");
	else if (actual < expected)
		printf(" (lost %" PRIu64 " updates%s)\n", expected - actual,
		       b->lock->kind == LK_NONE ? ": no lock, as expected"
		                                : ": mutual exclusion FAILED");
	else
		printf(" (%" PRIu64 " more than expected: the counter was "
		       "overwritten)\n", actual - expected);
	printf("elapsed:    %.6f s\nns_per_op:  %.2f per lock/unlock pair\n",
	       (double)b->elapsed_ns / 1e9, ns);
}

/* ---- Options ------------------------------------------------------------ */

/* A decimal count in 1..max; NULL, or why it is not one. */
static const char *parse_count(const char *text, uint64_t max, uint64_t *v)
{
	unsigned long long n;
	char *end;

	if (text[0] == '-')
		return "it is negative";
	if (text[0] < '0' || text[0] > '9')
		return "expected a number";
	errno = 0;
	n = strtoull(text, &end, 10);
	if (*end)
		return "expected a number";
	if (errno == ERANGE || n > max)
		return "it is too large";
	if (n == 0)
		return "it must be at least 1";
	*v = n;
	return NULL;
}

/* PROCEED, or the exit code when parsing ended the command. */
#define PROCEED (-1)

static int parse_args(const struct cli_cmd *cmd, int argc, char **argv,
                      struct bench *b)
{
	static const struct option opts[] = {
		{ "algo", required_argument, NULL, 'a' },
		{ "procs", required_argument, NULL, 'p' },
		{ "iters", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *algo = NULL, *why = NULL;
	uint64_t procs = 0;
	int o;

	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0) {
		if (o == 'a')
			algo = optarg;
		else if (o == 'p')
			why = parse_count(optarg, UINT32_MAX, &procs);
		else if (o == 'i')
			why = parse_count(optarg, MAX_ITERS, &b->iters);
		else
			b->json = 1;
		if (why)
			return cli_usage_error(cmd, "invalid --%s '%s': %s",
			                       o == 'p' ? "procs" : "iters",
			                       optarg, why);
	}
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 0, "nothing"))
		return CLI_USAGE;
	if (!algo || !procs || !b->iters)
		return cli_usage_error(cmd, "missing %s", !algo ? "--algo ALGO"
		                       : !procs ? "--procs N" : "--iters K");
	b->lock = find_lock(algo);
	if (!b->lock)
		return cli_usage_error(cmd, "unknown --algo '%s': expected "
		                       "dekker, peterson, filter, szymanski, "
		                       "bakery, mutex, sem, sysv-sem, pthread or "
		                       "none", algo);
	if (procs < b->lock->min_procs || procs > b->lock->max_procs) {
		if (b->lock->min_procs == b->lock->max_procs)
			return cli_usage_error(cmd, "invalid --procs '%" PRIu64
			                       "': %s takes exactly %u processes",
			                       procs, algo, b->lock->max_procs);
		return cli_usage_error(cmd, "invalid --procs '%" PRIu64 "': %s "
		                       "takes 1..%u processes", procs, algo,
		                       b->lock->max_procs);
	}
	b->procs = (unsigned)procs;
	return PROCEED;
}

static int run_mutex(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct bench b;
	int rc, rc2;

	memset(&b, 0, sizeof(b));
	rc = parse_args(cmd, argc, argv, &b);
	if (rc != PROCEED)
		return rc;
	block_signals(&b);
	rc = setup(&b);
	if (rc == CLI_OK)
		rc = race_all(&b);
	rc2 = teardown(&b);
	if (rc < 0) {
		cli_failf("mutex: interrupted by SIG%s; stopped every process "
		          "and removed what the run made", sigabbrev_np(-rc));
		return cli_die_of(-rc);
	}
	sigprocmask(SIG_SETMASK, &b.oldmask, NULL);
	if (rc != CLI_OK || rc2 != CLI_OK)
		return CLI_ERR;
	print_result(&b);
	return b.actual == b.procs * b.iters ? CLI_OK : CLI_ERR;
}
