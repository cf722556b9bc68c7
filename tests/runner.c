/*
 * The test runner behind test.h.
 *
 * shmq-tests [PATTERN]   runs, one after another, the tests whose name
 *                        contains PATTERN (all of them without one);
 *                        those SHMQ_BESIDE names run in a second runner
 *                        beside them (t_side_start), SHMQ_PARTS_CMD
 *                        beside both (t_bg_start).
 * shmq-tests --list      prints the test names.
 *
 * Each test runs in a forked child that leads its own process group, so a
 * timeout or the end of the test kills every helper it started. After each
 * test the runner removes what the test's names point to (t_name, t_key;
 * POSIX semaphores sem.<t_name>). A test whose process ends with an fd open
 * that it did not have at its start fails, naming the fd (its
 * /proc/self/fd link). At the end the runner compares /dev/shm and
 * the System V segments, semaphore sets and message queues with a snapshot
 * taken before the run: anything new is a failure.
 */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T_SKIP_CODE 77
#define T_FAIL_CODE 1
#define T_KEY_BASE 0x5e000000u
#define T_MSG_MAX 4096
#define T_DEP_MAX 128

struct t_test {
	const char *name;
	t_fn fn;
	const char *file;
	int timeout_s;
};

static struct t_test *t_tests;
static size_t t_ntests, t_cap;

/* Pid of the test process; descendants inherit it so their names are the
 * test's names, which the runner knows how to clean up. */
static pid_t t_self;

/*
 * The first failure or skip reason of a test, in a shared page so that a
 * helper process forked by the test can report too. First writer wins:
 * a helper's failure is usually the root cause of the test's.
 */
struct t_report {
	atomic_int taken;
	atomic_int failed; /* some process of the test failed: a skip after
	                      that is a failure, whoever reported first */
	char msg[T_MSG_MAX];
	char dep[T_DEP_MAX]; /* t_skip_dep: the missing packages */
};
static struct t_report *t_rep;

void t_register(const char *name, t_fn fn, const char *file, int timeout_s)
{
	if (t_ntests == t_cap) {
		size_t cap = t_cap ? 2 * t_cap : 64;
		struct t_test *n = realloc(t_tests, cap * sizeof(*n));
		if (!n) {
			perror("shmq-tests: realloc");
			exit(2);
		}
		t_tests = n;
		t_cap = cap;
	}
	t_tests[t_ntests++] = (struct t_test){name, fn, file, timeout_s};
}

static void t_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void t_report(const char *fmt, ...)
{
	va_list ap;
	int expected = 0;

	if (!t_rep || !atomic_compare_exchange_strong_explicit(
			      &t_rep->taken, &expected, 1,
			      memory_order_acq_rel, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vsnprintf(t_rep->msg, sizeof(t_rep->msg), fmt, ap);
	va_end(ap);
	/* release: pairs with the runner's acquire load after the child is
	 * reaped; msg is complete before taken reads 2. */
	atomic_store_explicit(&t_rep->taken, 2, memory_order_release);
}

void t_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	char detail[T_MSG_MAX / 2] = "";

	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	/* release: pairs with the runner's acquire load after the reap */
	if (t_rep)
		atomic_store_explicit(&t_rep->failed, 1, memory_order_release);
	if (!t_rep) /* outside the runner (a re-exec'd helper): say it here */
		fprintf(stderr, "%s:%d: %s%s%s%s\n", file, line, expr,
			*detail ? " (" : "", detail, *detail ? ")" : "");
	if (getpid() != t_self)
		t_report("%s:%d: %s (in helper pid %d)%s%s%s", file, line, expr,
			 (int)getpid(), *detail ? " (" : "", detail,
			 *detail ? ")" : "");
	else
		t_report("%s:%d: %s%s%s%s", file, line, expr,
			 *detail ? " (" : "", detail, *detail ? ")" : "");
	/* _exit: a failed test leaks by design; no leak report, no atexit. */
	_exit(T_FAIL_CODE);
}

void t_skip(const char *why)
{
	t_report("%s", why);
	_exit(T_SKIP_CODE);
}

void t_skip_dep(const char *pkgs, const char *why)
{
	/* before the report: the runner reads dep after taken == 2 */
	if (t_rep && !atomic_load_explicit(&t_rep->taken, memory_order_relaxed))
		snprintf(t_rep->dep, sizeof(t_rep->dep), "%s", pkgs);
	t_report("%s (needs %s)", why, pkgs);
	_exit(T_SKIP_CODE);
}

static pid_t t_test_pid(void)
{
	return t_self ? t_self : getpid();
}

const char *t_name(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "shmqt-%d-%s", (int)t_test_pid(), tag);
	return buf;
}

static uint32_t t_key_prefix(pid_t pid)
{
	return T_KEY_BASE | (((uint32_t)pid & 0xffffu) << 8);
}

int32_t t_key(int n)
{
	return (int32_t)(t_key_prefix(t_test_pid()) | ((uint32_t)n & 0xffu));
}

const char *t_shmq_bin(void)
{
	const char *s = getenv("SHMQ_BIN");
	return s && *s ? s : "build/tests/shmq";
}

const char *t_build_dir(void)
{
	const char *s = getenv("SHMQ_BUILD");
	return s && *s ? s : "build";
}

int t_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/* ---- t_exec ------------------------------------------------------------ */

static void t_exec_child(int in[2], int out[2], int err[2], char *const argv[])
{
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	dprintf(2, "t_exec: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Appends what fd has to buf (kept NUL-terminated, extra bytes dropped).
 * Returns 0 at end of file. */
static int t_drain(int fd, char *buf, size_t cap, size_t *used)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n > 0 && *used + 1 < cap) {
		size_t k = (size_t)n;
		if (k > cap - 1 - *used)
			k = cap - 1 - *used;
		memcpy(buf + *used, tmp, k);
		*used += k;
		buf[*used] = '\0';
	}
	return n > 0;
}

int t_exec(struct t_run *r, const char *stdin_data, char *const argv[])
{
	int in[2], out[2], err[2];
	size_t nin = stdin_data ? strlen(stdin_data) : 0, off = 0;
	size_t nout = 0, nerr = 0;
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	pid_t pid;

	r->out[0] = r->err[0] = '\0';
	r->status = -1;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) ||
	    pipe2(err, O_CLOEXEC))
		t_fail(__FILE__, __LINE__, "pipe2", "%s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		t_fail(__FILE__, __LINE__, "fork", "%s", strerror(errno));
	if (pid == 0)
		t_exec_child(in, out, err, argv);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (nin == 0) {
		close(in[1]);
		in[1] = -1;
	} else {
		/* Non-blocking: a blocking write of more than the pipe holds
		 * would wait for a child that waits for us to read. */
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	/* A child that exits without reading its stdin must not kill us. */
	sigaction(SIGPIPE, &ign, &old);
	/* poll all three so a child blocked writing stderr cannot deadlock
	 * against us blocked writing its stdin. */
	while (out[0] >= 0 || err[0] >= 0) {
		struct pollfd p[3] = {{in[1], POLLOUT, 0},
				      {out[0], POLLIN, 0},
				      {err[0], POLLIN, 0}};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t n = write(in[1], stdin_data + off, nin - off);
			if (n > 0)
				off += (size_t)n;
			if ((n < 0 && errno != EINTR && errno != EAGAIN) ||
			    off == nin) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (p[1].revents && !t_drain(out[0], r->out, sizeof(r->out), &nout)) {
			close(out[0]);
			out[0] = -1;
		}
		if (p[2].revents && !t_drain(err[0], r->err, sizeof(r->err), &nerr)) {
			close(err[0]);
			err[0] = -1;
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	sigaction(SIGPIPE, &old, NULL);
	r->status = t_wait(pid);
	return r->status;
}

int t_shmq(struct t_run *r, const char *stdin_data, ...)
{
	char *argv[64];
	size_t n = 0;
	va_list ap;
	char *a;

	argv[n++] = (char *)t_shmq_bin();
	va_start(ap, stdin_data);
	while ((a = va_arg(ap, char *)) && n < 63)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return t_exec(r, stdin_data, argv);
}

/* ---- Objects: snapshot and cleanup ------------------------------------- */

/* The System V tables, in /proc/sysvipc/NAME. */
enum { T_SHM, T_SEM, T_MSG };
static const char *const t_sysv_names[] = {"shm", "sem", "msg"};

struct t_sysv {
	int kind; /* T_SHM, T_SEM, T_MSG */
	int32_t key;
	int id;
	pid_t pid[2]; /* shm: creator; msg: last sender, last receiver;
	                 sem: none in the table (semctl GETPID) */
};

struct t_objs {
	struct t_sysv *sysv;
	size_t nsysv;
	char **posix;
	size_t nposix;
};

static void *t_xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("shmq-tests: realloc");
		exit(2);
	}
	return p;
}

/* Every row of one /proc/sysvipc table: key id perms n, then for shm
 * cpid, for msg qnum lspid lrpid. */
static void t_sysv_read(struct t_objs *o, int kind)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sysvipc/%s", t_sysv_names[kind]);
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(line, sizeof(line), f)) /* header */
		line[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		long long key;
		int id, v[3] = {0, 0, 0};
		unsigned perms;
		unsigned long long n;
		int got = sscanf(line, "%lld %d %o %llu %d %d %d", &key, &id,
				 &perms, &n, &v[0], &v[1], &v[2]);
		if (got < 4 || (kind != T_SEM && got != 7))
			continue;
		o->sysv = t_xrealloc(o->sysv, (o->nsysv + 1) * sizeof(*o->sysv));
		struct t_sysv *s = &o->sysv[o->nsysv++];
		*s = (struct t_sysv){kind, (int32_t)key, id, {0, 0}};
		if (kind == T_SHM)
			s->pid[0] = (pid_t)v[0];
		if (kind == T_MSG) {
			s->pid[0] = (pid_t)v[1];
			s->pid[1] = (pid_t)v[2];
		}
	}
	fclose(f);
}

static void t_objs_read(struct t_objs *o)
{
	DIR *d;
	struct dirent *e;

	memset(o, 0, sizeof(*o));
	for (int kind = T_SHM; kind <= T_MSG; kind++)
		t_sysv_read(o, kind);
	d = opendir("/dev/shm");
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		o->posix = t_xrealloc(o->posix,
				      (o->nposix + 1) * sizeof(*o->posix));
		o->posix[o->nposix] = strdup(e->d_name);
		if (!o->posix[o->nposix])
			exit(2);
		o->nposix++;
	}
	closedir(d);
}

static void t_objs_free(struct t_objs *o)
{
	for (size_t i = 0; i < o->nposix; i++)
		free(o->posix[i]);
	free(o->posix);
	free(o->sysv);
	memset(o, 0, sizeof(*o));
}

static void t_rmid(const struct t_sysv *s)
{
	if (s->kind == T_SHM)
		shmctl(s->id, IPC_RMID, NULL);
	else if (s->kind == T_SEM)
		semctl(s->id, 0, IPC_RMID);
	else
		msgctl(s->id, IPC_RMID, NULL);
}

/* The t_name of the /dev/shm entry name, past a POSIX semaphore's "sem.". */
static const char *t_bare(const char *name)
{
	return strncmp(name, "sem.", 4) ? name : name + 4;
}

/* Removes every object named after test process pid. Private semaphore
 * sets and queues record no creator: each test removes its own. */
static void t_cleanup(pid_t pid)
{
	struct t_objs o;
	char prefix[32];
	size_t plen;

	t_objs_read(&o);
	plen = (size_t)snprintf(prefix, sizeof(prefix), "shmqt-%d-", (int)pid);
	for (size_t i = 0; i < o.nposix; i++) {
		char path[300];
		if (strncmp(t_bare(o.posix[i]), prefix, plen))
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", o.posix[i]);
		unlink(path);
	}
	for (size_t i = 0; i < o.nsysv; i++) {
		const struct t_sysv *s = &o.sysv[i];
		int ours = ((uint32_t)s->key & 0xffffff00u) == t_key_prefix(pid) ||
			   (s->kind == T_SHM && s->key == 0 && s->pid[0] == pid);
		if (ours)
			t_rmid(s);
	}
	t_objs_free(&o);
}

/* ---- Running ----------------------------------------------------------- */

static pid_t *t_pids; /* every test process of this run */
static size_t t_npids;

static int t_pid_is_ours(long pid)
{
	for (size_t i = 0; i < t_npids; i++)
		if (t_pids[i] == pid)
			return 1;
	return 0;
}

static double t_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Fds a test leaves open -------------------------------------------- */

struct t_fds {
	int *fd;
	size_t n;
};

/* The fds this process holds (/proc/self/fd), the listing's own left out. */
static struct t_fds t_open_fds(void)
{
	struct t_fds s = {NULL, 0};
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d)
		return s;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end || fd == dirfd(d))
			continue;
		s.fd = t_xrealloc(s.fd, (s.n + 1) * sizeof(*s.fd));
		s.fd[s.n++] = (int)fd;
	}
	closedir(d);
	return s;
}

/* Fails the test, naming each fd open now that was not before it ran (and
 * what it points to): the test's leak, or the library's. */
static void t_check_fds(const struct t_fds *before)
{
	struct t_fds after = t_open_fds();
	char list[T_MSG_MAX / 2] = "";
	size_t len = 0;
	int leaked = 0;
	for (size_t i = 0; i < after.n; i++) {
		char link[64], target[256] = "?";
		size_t k;
		for (k = 0; k < before->n && before->fd[k] != after.fd[i]; k++)
			;
		if (k < before->n)
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", after.fd[i]);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 1] = '\0';
		if (len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len,
						"%s%d -> %s", leaked ? ", " : "",
						after.fd[i], target);
		leaked++;
	}
	free(after.fd);
	if (leaked)
		t_fail(__FILE__, __LINE__, "no fd left open", "%d fd%s the "
		       "test opened: %s", leaked, leaked > 1 ? "s" : "", list);
}

static void t_child(const struct t_test *t)
{
	sigset_t none;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL); /* the runner's t_catch_stops() is not ours */
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	t_self = getpid();
	struct t_fds before = t_open_fds();
	t->fn();
	t_check_fds(&before);
	free(before.fd);
	exit(0); /* exit, not _exit: the leak check runs here */
}

/* A termination signal (Ctrl-C, kill, the side runner's parent gone): the
 * test running now is stopped and its objects removed, then the runner dies
 * of the signal as it would have. Without this an interrupted run left the
 * running test's segments behind. */
static volatile sig_atomic_t t_stop;

static void t_on_stop(int sig)
{
	t_stop = sig;
}

/* No SA_RESTART: the runner's wait (poll) returns, and sees t_stop. A
 * signal inherited as ignored (nohup) stays ignored. */
static void t_catch_stops(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = t_on_stop}, old;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
}

static void t_die_of_stop(void)
{
	int sig = t_stop;
	fflush(NULL);
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}

/* Waits until pid ends or timeout_s passes; 1 when it ended. pid stays
 * unreaped (a zombie) so its group can still be killed. A stop ends the
 * wait (0). */
static int t_await(pid_t pid, int timeout_s)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	double end = t_now() + timeout_s;

	for (;;) {
		double left = end - t_now();
		siginfo_t si = {0};
		if (left <= 0 || t_stop)
			break;
		if (pfd >= 0) {
			struct pollfd p = {pfd, POLLIN, 0};
			int ms = (int)(left * 1000) + 1;
			if (poll(&p, 1, ms) > 0) {
				close(pfd);
				return 1;
			}
			continue;
		}
		/* No pidfd (old kernel, seccomp): poll the state instead. */
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == pid)
			return 1;
		nanosleep(&(struct timespec){0, 2000000}, NULL);
	}
	if (pfd >= 0)
		close(pfd);
	return 0;
}

/* Kills what is left of the test's group and reaps it (the runner is a
 * subreaper, so orphaned helpers come back to it). */
static void t_reap_group(pid_t pgid)
{
	double end = t_now() + 5;

	kill(-pgid, SIGKILL);
	while (t_now() < end) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (kill(-pgid, 0) < 0 && errno == ESRCH)
			return;
		kill(-pgid, SIGKILL);
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	fprintf(stderr, "shmq-tests: process group %d does not die\n",
		(int)pgid);
}

enum { T_PASS, T_FAIL, T_SKIPPED };

/* Reads a small /proc file into buf (NUL-terminated); its length or -1. */
static ssize_t t_slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* What each process of a timed-out test was doing: state, wait channel and
 * system call from /proc, so a hang in CI says where it hung. */
static void t_dump_group(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[64], buf[512], wchan[64] = "", sys[128] = "";
		pid_t p = (pid_t)atoi(de->d_name);
		if (p <= 0 || getpgid(p) != pgid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
		if (t_slurp(path, buf, sizeof(buf)) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/wchan", (int)p);
		t_slurp(path, wchan, sizeof(wchan));
		snprintf(path, sizeof(path), "/proc/%d/syscall", (int)p);
		t_slurp(path, sys, sizeof(sys));
		sys[strcspn(sys, "\n")] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		printf("  hung: %.120s | wchan %s | syscall %s\n", buf, wchan, sys);
	}
	closedir(d);
}

/* What skipped for want of a package scripts/deps.sh installs: the
 * packages (a set), the tests and the parts that skipped, for the
 * closing verdict. */
static char t_dep_pkgs[512], t_dep_parts[256];
static int t_dep_tests;

/* Adds word w to the space-separated set unless it is there. */
static void t_set_add(char *set, size_t len, const char *w)
{
	size_t used = strlen(set), n = strlen(w);
	for (const char *p = set; (p = strstr(p, w)); p++)
		if ((p == set || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return;
	if (used + n + 2 < len)
		snprintf(set + used, len - used, "%s%s", used ? " " : "", w);
}

/* part: the name of a part that skipped, or NULL for a test. */
static void t_dep_note(const char *part, const char *pkgs)
{
	char words[T_DEP_MAX], *save = NULL;
	snprintf(words, sizeof(words), "%s", pkgs);
	for (char *w = strtok_r(words, " ", &save); w;
	     w = strtok_r(NULL, " ", &save))
		t_set_add(t_dep_pkgs, sizeof(t_dep_pkgs), w);
	if (part)
		t_set_add(t_dep_parts, sizeof(t_dep_parts), part);
	else
		t_dep_tests++;
}

static int t_run_one(const struct t_test *t)
{
	double t0 = t_now();
	int done, st = 0, res;
	pid_t pid;

	memset(t_rep, 0, sizeof(*t_rep));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		printf("FAIL %s: fork: %s\n", t->name, strerror(errno));
		return T_FAIL;
	}
	if (pid == 0)
		t_child(t);
	setpgid(pid, pid); /* also here: no window where kill(-pid) misses */
	t_pids = t_xrealloc(t_pids, (t_npids + 1) * sizeof(*t_pids));
	t_pids[t_npids++] = pid;

	done = t_await(pid, t->timeout_s);
	if (!done && !t_stop)
		t_dump_group(pid);
	kill(-pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	t_reap_group(pid);
	t_cleanup(pid);
	if (t_stop)
		t_die_of_stop();

	/* acquire: pairs with the release store in t_report(). */
	int have = atomic_load_explicit(&t_rep->taken, memory_order_acquire) == 2;
	const char *msg = have ? t_rep->msg : "";
	/* acquire: pairs with the release store in t_fail() */
	int failed = atomic_load_explicit(&t_rep->failed, memory_order_acquire);

	if (!done) {
		printf("FAIL %s: timeout after %ds%s%s\n", t->name, t->timeout_s,
		       have ? "; first failure: " : "", msg);
		res = T_FAIL;
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == T_SKIP_CODE && !failed) {
		printf("SKIP %s: %s\n", t->name, have ? msg : "(no reason given)");
		if (have && t_rep->dep[0])
			t_dep_note(NULL, t_rep->dep);
		res = T_SKIPPED;
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !have) {
		printf("ok %s (%.2fs)\n", t->name, t_now() - t0);
		res = T_PASS;
	} else if (have) {
		printf("FAIL %s: %s\n", t->name, msg);
		res = T_FAIL;
	} else if (WIFSIGNALED(st)) {
		printf("FAIL %s: killed by signal %d (%s)\n", t->name,
		       WTERMSIG(st), strsignal(WTERMSIG(st)));
		res = T_FAIL;
	} else {
		/* Sanitizers exit non-zero (e.g. 23 for a leak) after their
		 * report on stderr. */
		printf("FAIL %s: exited with status %d (a sanitizer report on stderr?)\n",
		       t->name, WEXITSTATUS(st));
		res = T_FAIL;
	}
	fflush(stdout);
	return res;
}

struct t_counts {
	int pass, fail, skip;
};

/* Runs, one at a time, the tests whose name contains pat (all: NULL) and,
 * side set, contains side (in) or does not (!in). */
static void t_run_set(const char *pat, const char *side, int in,
		      struct t_counts *c)
{
	for (size_t i = 0; i < t_ntests; i++) {
		const char *nm = t_tests[i].name;
		if ((pat && !strstr(nm, pat)) ||
		    (side && (strstr(nm, side) != NULL) != in))
			continue;
		switch (t_run_one(&t_tests[i])) {
		case T_PASS: c->pass++; break;
		case T_SKIPPED: c->skip++; break;
		default: c->fail++; break;
		}
	}
}

/*
 * Tests that make their own hosts (SHMQ_BESIDE, a name pattern: the
 * bridge's, each in its own network and mount namespaces) share no object
 * with the others and mostly wait on the network: a second runner process
 * runs them beside the rest, one at a time. It is a subreaper of its own,
 * so each runner reaps only its tests, and it reports through a pipe: its
 * counts, the packages its skips wanted, its test pids.
 */
struct t_side {
	pid_t pid;
	int fd;
	const char *pat;
};

static void t_side_child(int fd, const char *pat, const char *side)
{
	struct t_counts c = {0, 0, 0};
	FILE *f = fdopen(fd, "w");

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_PDEATHSIG, SIGTERM); /* t_stop: cleans up, then dies */
	t_rep = mmap(NULL, sizeof(*t_rep), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!f || t_rep == MAP_FAILED)
		_exit(2);
	t_run_set(pat, side, 1, &c);
	fprintf(f, "%d %d %d %d %s\n", c.pass, c.fail, c.skip, t_dep_tests,
		*t_dep_pkgs ? t_dep_pkgs : "-");
	for (size_t i = 0; i < t_npids; i++)
		fprintf(f, "%d\n", (int)t_pids[i]);
	fflush(stdout);
	_exit(fclose(f) == 0 ? 0 : 2);
}

static void t_side_start(struct t_side *s, const char *pat)
{
	int p[2];

	s->pid = -1;
	s->fd = -1;
	s->pat = getenv("SHMQ_BESIDE");
	if (!s->pat || !*s->pat || pipe2(p, O_CLOEXEC) < 0) {
		s->pat = NULL; /* run them in line with the others */
		return;
	}
	fflush(NULL);
	if ((s->pid = fork()) == 0) {
		close(p[0]);
		t_side_child(p[1], pat, s->pat);
	}
	close(p[1]);
	s->fd = p[0];
	if (s->pid < 0) {
		close(p[0]);
		s->pat = NULL;
	}
}

/* Waits for the side runner and adds its report to ours. */
static void t_side_finish(struct t_side *s, struct t_counts *c)
{
	struct t_counts side;
	int dep = 0, pid;
	char pkgs[T_DEP_MAX] = "";
	FILE *f;

	if (s->pid <= 0)
		return;
	f = fdopen(s->fd, "r");
	if (f && fscanf(f, "%d %d %d %d ", &side.pass, &side.fail, &side.skip,
			&dep) == 4 && fgets(pkgs, sizeof(pkgs), f)) {
		c->pass += side.pass;
		c->fail += side.fail;
		c->skip += side.skip;
		pkgs[strcspn(pkgs, "\n")] = '\0';
		while (fscanf(f, "%d", &pid) == 1) {
			t_pids = t_xrealloc(t_pids,
					    (t_npids + 1) * sizeof(*t_pids));
			t_pids[t_npids++] = pid;
		}
	} else {
		printf("FAIL the runner of the tests beside (%s) gave no "
		       "report\n", s->pat);
		c->fail++;
	}
	if (f)
		fclose(f);
	else
		close(s->fd);
	waitpid(s->pid, NULL, 0); /* unless t_reap_group reaped it */
	if (dep > 0 && strcmp(pkgs, "-")) {
		t_dep_tests += dep - 1; /* t_dep_note counts one */
		t_dep_note(NULL, pkgs);
	}
}

static int t_in_snapshot(const struct t_objs *snap, const struct t_sysv *s,
			 const char *name)
{
	for (size_t i = 0; s && i < snap->nsysv; i++)
		if (snap->sysv[i].kind == s->kind && snap->sysv[i].id == s->id)
			return 1;
	for (size_t i = 0; name && i < snap->nposix; i++)
		if (!strcmp(snap->posix[i], name))
			return 1;
	return 0;
}

/* Another run (another developer's `make test`) may share the machine:
 * its names carry its own pids, and its creators are still alive. All our
 * test processes are dead by now. */
static int t_foreign_name(const char *name)
{
	long pid;
	if (sscanf(t_bare(name), "shmqt-%ld-", &pid) == 1)
		return !t_pid_is_ours(pid);
	/* a bench running beside us (ours are dead by now) */
	return sscanf(name, "shmq-bench-%ld-", &pid) == 1 && pid > 0 &&
	       kill((pid_t)pid, 0) == 0;
}

static int t_live(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

/* semctl(2)'s argument, which the caller defines. */
union t_semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* A live process did the last semop on one of the set's semaphores, or
 * waits on one. */
static int t_sem_in_use(int id)
{
	struct semid_ds ds;

	if (semctl(id, 0, IPC_STAT, (union t_semun){.buf = &ds}) < 0)
		return 0;
	for (unsigned long i = 0; i < ds.sem_nsems; i++)
		if (t_live((pid_t)semctl(id, (int)i, GETPID)) ||
		    semctl(id, (int)i, GETNCNT) > 0 ||
		    semctl(id, (int)i, GETZCNT) > 0)
			return 1;
	return 0;
}

/* Every test process is dead by now: an object a live process uses
 * belongs to someone else. A private semaphore set or queue records no
 * creator, so one nobody uses is blamed on us. */
static int t_foreign_sysv(const struct t_sysv *s)
{
	if (t_live(s->pid[0]) || t_live(s->pid[1]))
		return 1;
	if (s->kind == T_SEM && t_sem_in_use(s->id))
		return 1;
	if (((uint32_t)s->key & 0xff000000u) == T_KEY_BASE && s->key != 0) {
		for (size_t i = 0; i < t_npids; i++)
			if (((uint32_t)s->key & 0xffffff00u) ==
			    t_key_prefix(t_pids[i]))
				return 0;
		return 1;
	}
	return 0;
}

/* Lists objects that appeared during the run; returns their count. */
static int t_leftovers(const struct t_objs *snap)
{
	struct t_objs now;
	char buf[2048] = "";
	size_t used = 0;
	int n = 0;

	t_objs_read(&now);
	for (size_t i = 0; i < now.nposix; i++) {
		const char *nm = now.posix[i];
		if (t_in_snapshot(snap, NULL, nm) || t_foreign_name(nm))
			continue;
		n++;
		if (used < sizeof(buf))
			used += (size_t)snprintf(buf + used, sizeof(buf) - used,
						 "%s/dev/shm/%s", n > 1 ? ", " : "", nm);
	}
	for (size_t i = 0; i < now.nsysv; i++) {
		const struct t_sysv *s = &now.sysv[i];
		if (t_in_snapshot(snap, s, NULL) || t_foreign_sysv(s))
			continue;
		n++;
		if (used < sizeof(buf))
			used += (size_t)snprintf(
				buf + used, sizeof(buf) - used,
				"%ssysv %s key 0x%08x id %d", n > 1 ? ", " : "",
				t_sysv_names[s->kind], (unsigned)s->key, s->id);
	}
	if (n)
		printf("FAIL leftover objects: %s\n", buf);
	t_objs_free(&now);
	return n;
}

/*
 * The parts of `make test` (the fuzz runs, TSan, the Spin models: the
 * Makefile's target parts) run beside the tests when SHMQ_PARTS_CMD names
 * them: mostly one busy CPU each, while the tests mostly wait on peers, so
 * the suite takes the longer of the two instead of their sum. Their output
 * goes to SHMQ_PARTS_LOG and is printed after the tests.
 */
struct t_bg {
	pid_t pid;
	int pfd;
	const char *log;
};

static void t_bg_start(struct t_bg *bg)
{
	const char *cmd = getenv("SHMQ_PARTS_CMD");

	bg->pid = -1;
	bg->pfd = -1;
	bg->log = getenv("SHMQ_PARTS_LOG");
	if (!cmd || !*cmd || !bg->log || !*bg->log)
		return;
	fflush(NULL);
	bg->pid = fork();
	if (bg->pid == 0) {
		int fd = open(bg->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0644);
		setpgid(0, 0); /* its own group: a test's kill never hits it */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (bg->pid < 0) {
		printf("FAIL parts: fork: %s\n", strerror(errno));
		return;
	}
	setpgid(bg->pid, bg->pid);
	/* Opened before anything can reap it: t_reap_group's waitpid(-1) may
	 * reap it later, the pidfd still says when it ended. */
	bg->pfd = (int)syscall(SYS_pidfd_open, bg->pid, 0);
}

/* Waits for the parts and prints their output. */
static void t_bg_finish(struct t_bg *bg)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (bg->pid <= 0)
		return;
	if (bg->pfd >= 0) {
		struct pollfd p = {bg->pfd, POLLIN, 0};
		while (poll(&p, 1, -1) < 0 && errno == EINTR)
			;
		close(bg->pfd);
		waitpid(bg->pid, NULL, WNOHANG);
	} else {
		while (waitpid(bg->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	printf("---- the parts (fuzz, TSan, models), run beside the tests: "
	       "%s ----\n", bg->log);
	fflush(stdout);
	if ((fd = open(bg->log, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(1, buf, (size_t)n) != n)
			break;
	close(fd);
}

/*
 * The parts of `make test` (the fuzz runs, TSan, the
 * Spin models: the Makefile's target parts, scripts/part.sh): each left
 * $SHMQ_PARTS/NAME, "pass", "fail REASON", "skip REASON" or
 * "skip-dep PKGS: REASON". They count in the closing line like tests.
 */
static void t_parts(int *npass, int *nfail, int *nskip)
{
	const char *dir = getenv("SHMQ_PARTS");
	struct dirent **ents;
	int n;

	if (!dir || !*dir)
		return;
	if ((n = scandir(dir, &ents, NULL, alphasort)) < 0) {
		printf("FAIL parts: %s: %s (make test's parts did not run)\n",
		       dir, strerror(errno));
		++*nfail;
		return;
	}
	for (int i = 0; i < n; i++) {
		char path[4096], line[T_MSG_MAX] = "", pkgs[T_DEP_MAX];
		const char *nm = ents[i]->d_name;
		snprintf(path, sizeof(path), "%s/%s", dir, nm);
		if (*nm != '.' && t_slurp(path, line, sizeof(line)) >= 0) {
			line[strcspn(line, "\n")] = '\0';
			if (!strcmp(line, "pass")) {
				printf("ok %s (part)\n", nm);
				++*npass;
			} else if (!strncmp(line, "skip-dep ", 9)) {
				const char *why = strstr(line, ": ");
				snprintf(pkgs, sizeof(pkgs), "%.*s",
				         why ? (int)(why - line - 9) : 0, line + 9);
				printf("SKIP %s: %s (needs %s)\n", nm,
				       why ? why + 2 : "", pkgs);
				t_dep_note(nm, pkgs);
				++*nskip;
			} else if (!strncmp(line, "skip ", 5)) {
				printf("SKIP %s: %s\n", nm, line + 5);
				++*nskip;
			} else {
				printf("FAIL %s: %s\n", nm, !strncmp(line, "fail ", 5)
				       ? line + 5 : "no result (see its output above)");
				++*nfail;
			}
		}
		free(ents[i]);
	}
	free(ents);
}

/* Something scripts/deps.sh could have installed did not run: a failure,
 * unless the developer said SHMQ_ALLOW_SKIP=1. */
static int t_dep_verdict(void)
{
	const char *allow = getenv("SHMQ_ALLOW_SKIP");
	int ok = allow && !strcmp(allow, "1");
	if (!t_dep_tests && !*t_dep_parts)
		return 0;
	printf("%s skipped for want of packages that scripts/deps.sh installs: "
	       "%d test%s%s%s\n"
	       "  install them: sudo apt-get install -y %s (make test does it "
	       "when run as root)\n"
	       "  or accept the skips: SHMQ_ALLOW_SKIP=1 make test\n",
	       ok ? "note:" : "FAIL", t_dep_tests, t_dep_tests == 1 ? "" : "s",
	       *t_dep_parts ? " and the parts " : "", t_dep_parts, t_dep_pkgs);
	return !ok;
}

static void t_usage(FILE *f)
{
	fprintf(f, "usage: shmq-tests [--list] [PATTERN]\n"
		   "runs the tests whose name contains PATTERN\n");
}

int main(int argc, char **argv)
{
	const char *pat = NULL;
	int list = 0;
	struct t_counts c = {0, 0, 0};
	struct t_objs snap;
	struct t_bg parts;
	struct t_side side;
	sigset_t chld;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list"))
			list = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			t_usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || pat) {
			t_usage(stderr);
			return 2;
		} else
			pat = argv[i];
	}
	if (pat && !*pat)
		pat = NULL;
	if (list) {
		for (size_t i = 0; i < t_ntests; i++)
			if (!pat || strstr(t_tests[i].name, pat))
				printf("%s\n", t_tests[i].name);
		free(t_tests);
		return 0;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* SIGCHLD default is ignore-but-reapable; block nothing, but make
	 * sure an inherited SIG_IGN does not auto-reap our children. */
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&chld);
	sigprocmask(SIG_SETMASK, &chld, NULL);
	t_catch_stops();
	t_rep = mmap(NULL, sizeof(*t_rep), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t_rep == MAP_FAILED) {
		perror("shmq-tests: mmap");
		return 2;
	}
	t_objs_read(&snap);
	t_bg_start(&parts);
	t_side_start(&side, pat);
	t_run_set(pat, side.pat, 0, &c);
	t_side_finish(&side, &c);
	if (pat && c.pass + c.fail + c.skip == 0) {
		printf("FAIL no test name contains \"%s\"\n", pat);
		c.fail++;
	}
	t_bg_finish(&parts);
	if (t_leftovers(&snap))
		c.fail++;
	t_parts(&c.pass, &c.fail, &c.skip);
	c.fail += t_dep_verdict();
	t_objs_free(&snap);
	munmap(t_rep, sizeof(*t_rep));
	free(t_tests);
	free(t_pids);
	printf("%d passed, %d failed, %d skipped\n", c.pass, c.fail, c.skip);
	return c.fail ? 1 : 0;
}
