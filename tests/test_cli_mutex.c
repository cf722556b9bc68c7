/*
 * shmq mutex: every lock keeps an exact count, the control without a lock
 * loses updates, bad input is a usage error, and a run leaves nothing
 * behind: not when it ends, not when a child dies, not when it is
 * interrupted. The System V checks run in a private IPC namespace when the
 * test may make one, so that no other program's sets can confuse them.
 */
#include "shmq.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHMQ(r, ...) t_shmq((r), NULL, __VA_ARGS__, (char *)NULL)

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The unsigned number after "key": in a JSON object; the test fails if the
 * field is missing. */
static uint64_t json_u64(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	if (!p)
		t_fail(__FILE__, __LINE__, "json field", "no %s in %s", key, json);
	return strtoull(p + strlen(pat), NULL, 10);
}

static void check_usage_error(const struct t_run *r)
{
	CHECK_EQ(r->status, 2);
	CHECK_HAS(r->err, "usage: shmq mutex --algo ALGO --procs N --iters K");
	CHECK_EQ(strlen(r->out), 0);
}

/* Runs one race with --json and checks the object against the arguments. */
static void check_exact(const char *algo, const char *procs, const char *iters)
{
	struct t_run r;
	char want[64];
	uint64_t expected = strtoull(procs, NULL, 10) * strtoull(iters, NULL, 10);

	SHMQ(&r, "mutex", "--algo", algo, "--procs", procs, "--iters", iters,
	     "--json");
	if (r.status != 0)
		t_fail(__FILE__, __LINE__, "status == 0", "%s --procs %s: "
		       "status %d, out: %s, err: %s", algo, procs, r.status,
		       r.out, r.err);
	snprintf(want, sizeof(want), "{\"algo\": \"%s\", ", algo);
	CHECK(strncmp(r.out, want, strlen(want)) == 0);
	CHECK_EQ(json_u64(r.out, "procs"), strtoull(procs, NULL, 10));
	CHECK_EQ(json_u64(r.out, "iters"), strtoull(iters, NULL, 10));
	CHECK_EQ(json_u64(r.out, "expected"), expected);
	CHECK_EQ(json_u64(r.out, "actual"), expected);
	CHECK_EQ(json_u64(r.out, "lost"), 0);
	CHECK(json_u64(r.out, "elapsed_ns") > 0);
	CHECK_HAS(r.out, "\"ns_per_op\": ");
	CHECK_HAS(r.out, "\"ok\": true}\n");
	CHECK_EQ(strlen(r.err), 0);
}

/* ---- System V semaphore sets: /proc/sysvipc/sem, what ipcs -s reads ----- */

/* Moves this test into a private IPC namespace if it may. */
static void own_ipc_namespace(void)
{
	if (unshare(CLONE_NEWIPC) != 0)
		fprintf(stderr, "note: unshare(CLONE_NEWIPC): %s; comparing "
		        "against the machine's sets instead\n", strerror(errno));
}

struct semids {
	int id[256];
	size_t n;
};

static void read_semids(struct semids *s)
{
	FILE *f = fopen("/proc/sysvipc/sem", "r");
	char line[512];
	long long key;
	int id;

	CHECK(f != NULL);
	s->n = 0;
	CHECK(fgets(line, sizeof(line), f) != NULL); /* header */
	while (fgets(line, sizeof(line), f) && s->n < NELEM(s->id))
		if (sscanf(line, "%lld %d", &key, &id) == 2)
			s->id[s->n++] = id;
	fclose(f);
}

/* How many sets exist now that did not in before. */
static size_t new_sets(const struct semids *before)
{
	struct semids now;
	size_t i, j, n = 0;

	read_semids(&now);
	for (i = 0; i < now.n; i++) {
		for (j = 0; j < before->n && before->id[j] != now.id[i]; j++)
			;
		n += j == before->n;
	}
	return n;
}

/* ---- The tool in the background ----------------------------------------- */

struct bg {
	pid_t pid;
	int err; /* read end of its stderr */
};

/* Starts the tool with args; in a process group of its own if asked, as a
 * shell starts a foreground job. */
static void bg_start(struct bg *b, char *const args[], int own_group)
{
	char *argv[16] = { (char *)t_shmq_bin() };
	size_t n = 1;
	int p[2];

	while (args[n - 1] && n < NELEM(argv) - 1) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	CHECK_EQ(pipe(p), 0);
	fflush(NULL);
	b->pid = fork();
	CHECK(b->pid >= 0);
	if (b->pid == 0) {
		if (own_group)
			setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	b->err = p[0];
}

/* Its exit (or 128 + signal) and its stderr, in err. */
static int bg_end(struct bg *b, char *err, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int status = t_wait(b->pid);

	while (got < len - 1 && (n = read(b->err, err + got, len - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(b->err);
	return status;
}

/* The children of pid, from /proc/N/stat (field 4 is the parent). */
static size_t children_of(pid_t pid, pid_t *kids, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	CHECK(d != NULL);
	while ((e = readdir(d)) && n < max) {
		char path[300], buf[512], *p;
		FILE *f;
		int ppid;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (!p || !(p = strrchr(buf, ')')))
			continue;
		if (sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == pid)
			kids[n++] = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	return n;
}

/* Polls (bounded, 10 s) until the tool has made nsets sets and forked
 * nkids children, whose pids go to kids. */
static void await_running(pid_t tool, const struct semids *before,
                          size_t nsets, pid_t *kids, size_t nkids)
{
	struct timespec ms = { 0, 1000000 };
	int i;

	for (i = 0; i < 10000; i++) {
		if (new_sets(before) == nsets &&
		    children_of(tool, kids, nkids) == nkids)
			return;
		nanosleep(&ms, NULL);
	}
	t_fail(__FILE__, __LINE__, "tool running", "not %zu sets and %zu "
	       "children after 10 s", nsets, nkids);
}

static int gone(pid_t pid)
{
	return kill(pid, 0) != 0 && errno == ESRCH;
}

/* ---- Tests -------------------------------------------------------------- */

/*
 * Iterations are small where a handoff is slow: the classic algorithms
 * spin, so with 4 processes on 2 CPUs a waiter may burn its whole time
 * slice before the holder runs again; a contended System V semaphore
 * sleeps in the kernel at each handoff.
 */
TEST(cli_mutex_every_lock_keeps_an_exact_count)
{
	static const struct {
		const char *algo, *iters2, *iters4; /* NULL: 2 processes only */
	} runs[] = {
		{ "dekker", "20000", NULL },   { "peterson", "20000", NULL },
		{ "filter", "20000", "500" },  { "szymanski", "20000", "500" },
		{ "bakery", "20000", "500" },  { "mutex", "20000", "5000" },
		{ "sem", "20000", "5000" },    { "sysv-sem", "2000", "1000" },
		{ "pthread", "20000", "5000" },
	};
	size_t i;

	for (i = 0; i < NELEM(runs); i++) {
		check_exact(runs[i].algo, "2", runs[i].iters2);
		if (runs[i].iters4)
			check_exact(runs[i].algo, "4", runs[i].iters4);
	}
}

TEST(cli_mutex_procs_1_times_the_uncontended_lock_of_every_algo)
{
	static const char *const algos[] = { "filter", "szymanski", "bakery",
	                                     "mutex", "sem", "sysv-sem",
	                                     "pthread", "none" };
	size_t i;

	for (i = 0; i < NELEM(algos); i++)
		check_exact(algos[i], "1", "10000");
}

TEST(cli_mutex_text_output_names_counts_time_and_cost)
{
	struct t_run r;

	SHMQ(&r, "mutex", "--algo", "mutex", "--procs", "2", "--iters", "1000");
	CHECK_EQ(r.status, 0);
	CHECK_HAS(r.out, "algo:       mutex\n");
	CHECK_HAS(r.out, "procs:      2 on ");
	CHECK_HAS(r.out, "iters:      1000 per process\n");
	CHECK_HAS(r.out, "expected:   2000\n");
	CHECK_HAS(r.out, "actual:     2000 (exact)\n");
	CHECK_HAS(r.out, "elapsed:    ");
	CHECK_HAS(r.out, "ns_per_op:  ");
	CHECK_HAS(r.out, " per lock/unlock pair\n");
	CHECK_EQ(strlen(r.err), 0);
}

/*
 * Without a lock, two processes that increment together lose updates. The
 * tool puts them on two CPUs; 10^7 increments each (some 20 ms under the
 * sanitizers) lost between 4.4 and 10 million in each of 30 runs here. A
 * run comes out exact only if the two never overlap (a vCPU the host
 * stopped for the whole run), so one of three tries must lose.
 */
static void lossy_run(struct t_run *r, const char *json)
{
	int tries;

	for (tries = 0; tries < 3; tries++)
		if (SHMQ(r, "mutex", "--algo", "none", "--procs", "2",
		         "--iters", "10000000", json) != 0)
			return;
}

TEST(cli_mutex_none_loses_updates_and_exits_1)
{
	struct t_run r;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		t_skip("one CPU: processes without a lock cannot overlap");
	lossy_run(&r, NULL);
	CHECK_EQ(r.status, 1);
	CHECK_HAS(r.out, "expected:   20000000\n");
	CHECK_HAS(r.out, " updates: no lock, as expected)\n");
	CHECK_HAS(r.out, "(lost ");
	CHECK_EQ(strlen(r.err), 0);
	lossy_run(&r, "--json");
	CHECK_EQ(r.status, 1);
	CHECK_HAS(r.out, "\"ok\": false}\n");
	CHECK(json_u64(r.out, "actual") < 20000000);
	CHECK_EQ(json_u64(r.out, "lost"), 20000000 - json_u64(r.out, "actual"));
}

TEST(cli_mutex_bad_input_is_a_usage_error)
{
	static const struct {
		const char *args[10];
		const char *says;
	} bad[] = {
		{ { "--algo", "mutex", "--procs", "0", "--iters", "10" },
		  "--procs '0'" },
		{ { "--algo", "mutex", "--procs", "100000", "--iters", "10" },
		  "--procs '100000': mutex takes 1..1024" },
		{ { "--algo", "bakery", "--procs", "65", "--iters", "10" },
		  "1..64" },
		{ { "--algo", "mutex", "--procs", "-1", "--iters", "10" },
		  "negative" },
		{ { "--algo", "mutex", "--procs", "two", "--iters", "10" },
		  "--procs 'two'" },
		{ { "--algo", "dekker", "--procs", "3", "--iters", "10" },
		  "exactly 2" },
		{ { "--algo", "peterson", "--procs", "1", "--iters", "10" },
		  "exactly 2" },
		{ { "--algo", "spinlock", "--procs", "2", "--iters", "10" },
		  "unknown --algo 'spinlock'" },
		{ { "--algo", "", "--procs", "2", "--iters", "10" },
		  "unknown --algo" },
		{ { "--algo", "mutex", "--procs", "2", "--iters", "-1" },
		  "--iters '-1': it is negative" },
		{ { "--algo", "mutex", "--procs", "2", "--iters", "0" },
		  "--iters '0'" },
		{ { "--algo", "mutex", "--procs", "2", "--iters",
		    "99999999999999999999" }, "too large" },
		{ { "--algo", "mutex", "--procs", "2", "--iters",
		    "1000000000001" }, "too large" },
		{ { "--algo", "mutex", "--procs", "2", "--iters", "1e6" },
		  "--iters '1e6'" },
		{ { "--procs", "2", "--iters", "10" }, "missing --algo" },
		{ { "--algo", "mutex", "--iters", "10" }, "missing --procs" },
		{ { "--algo", "mutex", "--procs", "2" }, "missing --iters" },
		{ { "--algo", "mutex", "--procs", "2", "--iters", "10",
		    "extra" }, "unexpected argument 'extra'" },
		{ { "--algo", "mutex", "--procs", "2", "--iters" },
		  "needs a value" },
	};
	char *argv[12];
	struct t_run r;
	size_t i, n;

	for (i = 0; i < NELEM(bad); i++) {
		argv[0] = (char *)t_shmq_bin();
		argv[1] = "mutex";
		for (n = 0; bad[i].args[n]; n++)
			argv[n + 2] = (char *)bad[i].args[n];
		argv[n + 2] = NULL;
		t_exec(&r, NULL, argv);
		check_usage_error(&r);
		CHECK_HAS(r.err, bad[i].says);
	}
}

TEST(cli_mutex_sysv_sem_removes_its_set)
{
	struct semids before;
	struct t_run r;

	own_ipc_namespace();
	read_semids(&before);
	check_exact("sysv-sem", "2", "1000");
	CHECK_EQ(new_sets(&before), 0);
	SHMQ(&r, "mutex", "--algo", "sysv-sem", "--procs", "3", "--iters",
	     "1000");
	CHECK_EQ(r.status, 0);
	CHECK_HAS(r.out, "actual:     3000 (exact)\n");
	CHECK_EQ(new_sets(&before), 0);
}

/* A child killed mid-run: the tool names it, stops the others (a spinning
 * algorithm would wait forever for a dead holder) and removes its set. */
TEST(cli_mutex_killed_child_is_named_and_nothing_is_left)
{
	static const char *const algos[] = { "sysv-sem", "bakery", "mutex" };
	struct semids before;
	char err[4096], pidtext[32];
	pid_t kids[2];
	size_t i;

	own_ipc_namespace();
	read_semids(&before);
	for (i = 0; i < NELEM(algos); i++) {
		char *args[] = { "mutex", "--algo", (char *)algos[i], "--procs",
		                 "2", "--iters", "1000000000000", NULL };
		struct bg b;

		bg_start(&b, args, 0);
		await_running(b.pid, &before, !strcmp(algos[i], "sysv-sem"),
		              kids, 2);
		CHECK_EQ(kill(kids[1], SIGKILL), 0);
		CHECK_EQ(bg_end(&b, err, sizeof(err)), 1);
		snprintf(pidtext, sizeof(pidtext), "(pid %d) was killed by "
		         "signal 9", (int)kids[1]);
		CHECK_HAS(err, pidtext);
		CHECK(strncmp(err, "shmq: mutex --algo ", 19) == 0);
		CHECK(strchr(err, '\n') == err + strlen(err) - 1);
		CHECK(gone(kids[0]));
		CHECK_EQ(new_sets(&before), 0);
	}
}

/* SIGINT or SIGTERM to the tool alone: its children stop, its set goes, and
 * it dies of the signal, as the shell expects. */
TEST(cli_mutex_interrupted_run_stops_children_and_removes_its_set)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	char *args[] = { "mutex", "--algo", "sysv-sem", "--procs", "2",
	                 "--iters", "1000000000000", NULL };
	struct semids before;
	char err[4096];
	pid_t kids[2];
	size_t i;

	own_ipc_namespace();
	read_semids(&before);
	for (i = 0; i < NELEM(sigs); i++) {
		struct bg b;

		bg_start(&b, args, 0);
		await_running(b.pid, &before, 1, kids, 2);
		CHECK_EQ(kill(b.pid, sigs[i]), 0);
		CHECK_EQ(bg_end(&b, err, sizeof(err)), 128 + sigs[i]);
		CHECK_HAS(err, sigs[i] == SIGINT ? "interrupted by SIGINT"
		                                 : "interrupted by SIGTERM");
		CHECK(gone(kids[0]) && gone(kids[1]));
		CHECK_EQ(new_sets(&before), 0);
	}
}

/*
 * Ctrl-C: the terminal sends SIGINT to the whole process group, so the
 * children die of it too, maybe before the tool sees its own. That is an
 * interrupt, not a failed child. The run is finite (10^6 handoffs of a
 * System V semaphore, seconds), so a tool that ignored the signal would
 * still end rather than outlive the test in its own group.
 */
TEST(cli_mutex_ctrl_c_to_the_group_is_an_interrupt)
{
	char *args[] = { "mutex", "--algo", "sysv-sem", "--procs", "2",
	                 "--iters", "1000000", NULL };
	struct semids before;
	char err[4096];
	pid_t kids[2];
	struct bg b;

	own_ipc_namespace();
	read_semids(&before);
	bg_start(&b, args, 1);
	await_running(b.pid, &before, 1, kids, 2);
	CHECK_EQ(killpg(b.pid, SIGINT), 0);
	CHECK_EQ(bg_end(&b, err, sizeof(err)), 128 + SIGINT);
	CHECK_HAS(err, "interrupted by SIGINT");
	CHECK(gone(kids[0]) && gone(kids[1]));
	CHECK_EQ(new_sets(&before), 0);
}
