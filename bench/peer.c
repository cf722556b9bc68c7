/*
 * The peer libraries' rows. `make bench-peers` builds one program per
 * library (bench/peers/) into build/bench/peer-*; each is run as
 *   PEER --json --sizes LIST --duration SEC [--cpus A,B]
 * with the sizes, time and CPUs of this run, and prints the records
 * `shmq bench --json` prints, which join ours. A peer that is not built,
 * that says it cannot run here (exit 77), or that prints no row for its
 * transport is listed as skipped, never as zero; one that fails, or prints
 * anything but well-formed records, is a failed row.
 *
 * Where the programs are: $SHMQ_BENCH_PEERS, else bench/ next to the shmq
 * executable, else ../bench (the sanitizer build in build/tests).
 */
#include "bench.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIP_STATUS 77     /* a peer that cannot run here */
#define PEER_SLACK_S 60.0  /* start-up (iox-roudi) and teardown */

/* The peers the issue names, with their programs. */
const char *const bench_peer_names[] = {"boost-mq", "zmq-ipc", "iceoryx",
                                        NULL};
static const char *const peer_progs[] = {"peer-boost", "peer-zmq",
                                         "peer-iceoryx"};
static const char *const peer_debs[] = {
	"libboost-dev", "libzmq3-dev",
	"iceoryx and libiceoryx-binding-c-dev"};

/* ---- Reading the records --------------------------------------------------
 * A JSON array of flat objects with the nine fields, nothing else. */

struct jp {
	const char *p, *start;
	char err[120];
};

static int jfail(struct jp *j, const char *what)
{
	if (!j->err[0])
		snprintf(j->err, sizeof(j->err), "%s at byte %td", what,
		         j->p - j->start);
	return -1;
}

static int jlit(struct jp *j, char c)
{
	j->p += strspn(j->p, " \t\r\n");
	if (*j->p != c)
		return 0;
	j->p++;
	return 1;
}

/* A string of printable ASCII without escapes (names and metrics). */
static int jstr(struct jp *j, char *out, size_t len)
{
	size_t n = 0;
	if (!jlit(j, '"'))
		return jfail(j, "expected a string");
	while (*j->p != '"') {
		if (!isprint((unsigned char)*j->p) || *j->p == '\\' ||
		    n + 1 >= len)
			return jfail(j, "unexpected string");
		out[n++] = *j->p++;
	}
	out[n] = '\0';
	j->p++;
	return 0;
}

/* A number (*null 0) or null (*null 1). */
static int jnum(struct jp *j, double *v, int *null)
{
	char *end;
	j->p += strspn(j->p, " \t\r\n");
	*null = !strncmp(j->p, "null", 4);
	if (*null) {
		j->p += 4;
		return 0;
	}
	if (*j->p != '-' && !isdigit((unsigned char)*j->p))
		return jfail(j, "expected a number or null");
	*v = strtod(j->p, &end);
	j->p = end;
	return 0;
}

static const char *const fields[] = {
	"transport", "metric", "msg_size", "p50_ns", "p99_ns", "p999_ns",
	"msgs_per_s", "gbytes_per_s", "cpu_ns_per_msg"};
#define NFIELDS 9

/* Whether the object's numbers suit its metric: positive where measured,
 * null where not. */
static const char *check_rec(const struct bench_rec *r, const double *v,
                             const int *null)
{
	int rtt = r->metric == BENCH_RTT;
	if (strspn(r->transport, "abcdefghijklmnopqrstuvwxyz0123456789.+_-") !=
	    strlen(r->transport) || !r->transport[0])
		return "a transport name of other than a-z 0-9 . + _ -";
	if (null[2] || v[2] < 1 || v[2] > 1e15 || v[2] != (double)(size_t)v[2])
		return "msg_size is not a positive integer";
	for (int i = 3; i < NFIELDS; i++) {
		int want = i == 8 || (i < 6 ? rtt : !rtt);
		if (null[i] == want)
			return want ? "a measured field is null"
			            : "a field of the other metric is not null";
		if (want && !(v[i] > 0 && v[i] < 1e300))
			return "a measured number is not positive";
	}
	return NULL;
}

static int jrecord(struct jp *j, struct bench_rec *r)
{
	char key[32], metric[16] = "";
	double v[NFIELDS] = {0};
	int null[NFIELDS] = {0}, seen = 0, i;
	if (!jlit(j, '{'))
		return jfail(j, "expected '{'");
	do {
		if (jstr(j, key, sizeof(key)) < 0 || !jlit(j, ':'))
			return jfail(j, "expected \"field\":");
		for (i = 0; i < NFIELDS && strcmp(key, fields[i]); i++)
			;
		if (i == NFIELDS || (seen & (1 << i)))
			return jfail(j, "unknown or repeated field");
		seen |= 1 << i;
		if (i == 0 ? jstr(j, r->transport, sizeof(r->transport))
		    : i == 1 ? jstr(j, metric, sizeof(metric))
		             : jnum(j, &v[i], &null[i]))
			return -1;
	} while (jlit(j, ','));
	if (!jlit(j, '}') || seen != (1 << NFIELDS) - 1)
		return jfail(j, "expected all nine fields and '}'");
	if (strcmp(metric, "rtt") && strcmp(metric, "throughput"))
		return jfail(j, "metric is neither rtt nor throughput");
	r->metric = strcmp(metric, "rtt") ? BENCH_TPUT : BENCH_RTT;
	const char *bad = check_rec(r, v, null);
	if (bad)
		return jfail(j, bad);
	r->msg_size = r->group = (size_t)v[2];
	r->p50 = v[3];
	r->p99 = v[4];
	r->p999 = v[5];
	r->msgs_per_s = v[6];
	r->gbytes_per_s = v[7];
	r->cpu_ns_per_msg = v[8];
	return 0;
}

/* Parses text into a[] (at most max): the count, or -1 with j->err. */
static int jarray(struct jp *j, struct bench_rec *a, int max)
{
	int n = 0;
	if (!jlit(j, '['))
		return jfail(j, "expected '['");
	if (jlit(j, ']'))
		return 0;
	do {
		if (n == max)
			return jfail(j, "too many records");
		memset(&a[n], 0, sizeof(a[n]));
		if (jrecord(j, &a[n++]) < 0)
			return -1;
	} while (jlit(j, ','));
	if (!jlit(j, ']'))
		return jfail(j, "expected ']'");
	j->p += strspn(j->p, " \t\r\n");
	return *j->p ? jfail(j, "text after the array") : n;
}

/* ---- Running a peer ------------------------------------------------------ */

static int peer_dir(char *dir, size_t len)
{
	const char *env = getenv("SHMQ_BENCH_PEERS");
	char exe[PATH_MAX];
	struct stat st;
	if (env) {
		snprintf(dir, len, "%s", env);
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	if (snprintf(dir, len, "%s/bench", exe) < (int)len && stat(dir, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		return 0;
	return snprintf(dir, len, "%s/../bench", exe) < (int)len ? 0 : -1;
}

/* The whole of f (NUL-terminated, malloc'd); NULL when out of memory. */
static char *slurp(FILE *f)
{
	long n;
	char *s;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || !(s = malloc((size_t)n + 1)))
		return NULL;
	s[fread(s, 1, (size_t)n, f)] = '\0';
	return s;
}

/* The last non-empty line of text, in buf. */
static void last_line(const char *text, char *buf, size_t len)
{
	const char *end = text + strlen(text), *p;
	while (end > text && isspace((unsigned char)end[-1]))
		end--;
	for (p = end; p > text && p[-1] != '\n'; p--)
		;
	snprintf(buf, len, "%.*s", (int)(end - p), p);
}

struct peer_run {
	int status;    /* as waitpid gives it; -1: stuck, killed */
	int sys_err;   /* errno: it could not be started */
	char *out, *err;
};

static void child_exec(const struct bench_cfg *cfg, const struct bench_sig *s,
                       const char *path, int out, int err)
{
	char sizes[256] = "", dur[32], cpus[32];
	char *argv[10] = {(char *)path, "--json", "--sizes", sizes,
	                  "--duration", dur};
	int n = 6;
	for (unsigned i = 0; i < cfg->nsizes; i++)
		snprintf(sizes + strlen(sizes), sizeof(sizes) - strlen(sizes),
		         "%s%zu", i ? "," : "", cfg->sizes[i]);
	snprintf(dur, sizeof(dur), "%g", cfg->duration_s);
	if (cfg->cpus[0] >= 0) {
		cpu_set_t two; /* its processes share our two CPUs */
		CPU_ZERO(&two);
		CPU_SET((size_t)cfg->cpus[0], &two);
		CPU_SET((size_t)cfg->cpus[1], &two);
		sched_setaffinity(0, sizeof(two), &two);
		snprintf(cpus, sizeof(cpus), "%d,%d", cfg->cpus[0], cfg->cpus[1]);
		argv[n++] = "--cpus";
		argv[n++] = cpus;
	}
	argv[n] = NULL;
	sigprocmask(SIG_SETMASK, &s->old, NULL);
	if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	execv(path, argv);
	fprintf(stderr, "cannot run %s: %s\n", path, strerror(errno));
	_exit(127);
}

/* Runs the peer at path, its output in pr: 0, or -signal. */
static int run_peer(const struct bench_cfg *cfg, const struct bench_sig *s,
                    const char *path, struct peer_run *pr)
{
	FILE *out = tmpfile(), *err = tmpfile();
	double plan = PEER_SLACK_S + 8.0 * cfg->nsizes *
	              (cfg->warmup_s + cfg->duration_s);
	unsigned first;
	int rc = 0;
	pid_t pid = -1;
	memset(pr, 0, sizeof(*pr));
	pr->status = -1;
	fflush(NULL);
	if (out && err && (pid = fork()) == 0)
		child_exec(cfg, s, path, fileno(out), fileno(err));
	if (pid < 0)
		pr->sys_err = errno;
	else
		rc = bench_wait(s, &pid, &pr->status, 1,
		                bench_now_ns() + (int64_t)(plan * 1e9), &first);
	if (rc == -ETIMEDOUT) {
		pr->status = -1;
		rc = 0;
	}
	pr->out = out ? slurp(out) : NULL;
	pr->err = err ? slurp(err) : NULL;
	if (out)
		fclose(out);
	if (err)
		fclose(err);
	return rc;
}

/* ---- Adding the rows ----------------------------------------------------- */

static int known_index(const char *name)
{
	for (int i = 0; bench_peer_names[i]; i++)
		if (!strcmp(bench_peer_names[i], name))
			return i;
	return -1;
}

__attribute__((format(printf, 4, 5))) static int
add_note(struct bench_results *res, const char *transport, int status,
         const char *fmt, ...)
{
	struct bench_rec *r = bench_add(res);
	va_list ap;
	int n;
	if (!r)
		return -ENOMEM;
	snprintf(r->transport, sizeof(r->transport), "%.39s", transport);
	r->status = status;
	va_start(ap, fmt);
	n = vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(r->why))
		memcpy(r->why + sizeof(r->why) - 4, "...", 4); /* cut short */
	return 0;
}

/* The rows of one peer's output that --only selects; *got marks the known
 * transports it measured. */
static int add_rows(const struct bench_cfg *cfg, struct bench_results *res,
                    const char *prog, const struct peer_run *pr, int *got)
{
	struct bench_rec a[256];
	struct jp j = {pr->out ? pr->out : "", pr->out ? pr->out : "", ""};
	char why[200];
	int n = jarray(&j, a, 256);
	if (n < 0) {
		snprintf(why, sizeof(why), "%s printed bad JSON: %s", prog,
		         j.err);
		return add_note(res, prog, BENCH_FAILED, "%s", why);
	}
	for (int i = 0; i < n; i++) {
		int k = known_index(a[i].transport);
		if (!bench_selected(cfg, a[i].transport, "peer"))
			continue;
		struct bench_rec *r = bench_add(res);
		if (!r)
			return -ENOMEM;
		*r = a[i];
		if (k >= 0)
			got[k] = 1;
	}
	return 0;
}

static int prog_index(const char *prog)
{
	for (int i = 0; bench_peer_names[i]; i++)
		if (!strcmp(prog, peer_progs[i]))
			return i;
	return -1;
}

/* One peer program: run it, add its rows or say why there are none. */
static int one_peer(const struct bench_cfg *cfg, const struct bench_sig *s,
                    struct bench_results *res, const char *dir,
                    const char *prog, int *got)
{
	char path[PATH_MAX], line[160];
	struct peer_run pr;
	int k = prog_index(prog), exited;
	const char *name = k >= 0 ? bench_peer_names[k] : prog;
	if (snprintf(path, sizeof(path), "%s/%s", dir, prog) >= (int)sizeof(path))
		return add_note(res, name, BENCH_FAILED, "%s/%s: path too long",
		                dir, prog);
	int rc = run_peer(cfg, s, path, &pr);
	exited = pr.status >= 0 && WIFEXITED(pr.status);
	last_line(pr.err ? pr.err : "", line, sizeof(line));
	if (rc < 0)
		; /* a termination signal: no row */
	else if (pr.sys_err)
		rc = add_note(res, name, BENCH_FAILED, "cannot run %s: %s",
		              path, strerror(pr.sys_err));
	else if (pr.status == -1)
		rc = add_note(res, name, BENCH_FAILED, "%s was stuck and was "
		              "stopped (%s)", prog, line);
	else if (exited && WEXITSTATUS(pr.status) == SKIP_STATUS)
		rc = add_note(res, name, BENCH_SKIPPED, "%s: %s", prog, line);
	else if (!exited || WEXITSTATUS(pr.status) != 0) {
		rc = add_note(res, name, BENCH_FAILED, "%s failed: %s", prog,
		              line[0] ? line : "no message");
		fputs(pr.err ? pr.err : "", stderr);
	} else if ((rc = add_rows(cfg, res, prog, &pr, got)) == 0 && k >= 0 &&
	           !got[k] && bench_selected(cfg, name, "peer"))
		rc = add_note(res, name, BENCH_SKIPPED, "%s printed no row "
		              "(%s)", prog, line);
	if (k >= 0)
		got[k] = 1; /* not "not built" */
	free(pr.out);
	free(pr.err);
	return rc;
}

/* Whether prog (peer-*) has a transport that --only selects. */
static int prog_selected(const struct bench_cfg *cfg, const char *prog)
{
	int k = prog_index(prog);
	return bench_selected(cfg, k >= 0 ? bench_peer_names[k] : prog + 5,
	                      "peer");
}

int bench_peers(const struct bench_cfg *cfg, const struct bench_sig *sig,
                struct bench_results *res)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	int got[3] = {0}, rc = 0;
	struct dirent *d;
	DIR *dp = peer_dir(dir, sizeof(dir)) == 0 ? opendir(dir) : NULL;
	while (rc == 0 && dp && (d = readdir(dp))) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (strncmp(d->d_name, "peer-", 5) || stat(path, &st) != 0 ||
		    !S_ISREG(st.st_mode) || access(path, X_OK) != 0 ||
		    !prog_selected(cfg, d->d_name))
			continue;
		rc = one_peer(cfg, sig, res, dir, d->d_name, got);
	}
	if (dp)
		closedir(dp);
	for (int i = 0; rc == 0 && bench_peer_names[i]; i++)
		if (!got[i] && bench_selected(cfg, bench_peer_names[i], "peer"))
			rc = add_note(res, bench_peer_names[i], BENCH_SKIPPED,
			              "not built: make bench-peers (needs %s) "
			              "makes %s", peer_debs[i], peer_progs[i]);
	return rc;
}
