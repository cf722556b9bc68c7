/*
 * shmq's test harness. Each TEST is a function; the runner (runner.c) forks
 * one child per test in its own process group, kills the group on timeout,
 * and removes what the test's names point to even when it fails.
 */
#ifndef SHMQ_TEST_H
#define SHMQ_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef void (*t_fn)(void);
void t_register(const char *name, t_fn fn, const char *file, int timeout_s);

/* TEST(name) { ... } registers a test with the default 30 s timeout. */
#define TEST(name) TEST_TIMEOUT(name, 30)
#define TEST_TIMEOUT(name, secs)                                             \
	static void name(void);                                              \
	__attribute__((constructor)) static void t_reg_##name(void)          \
	{                                                                    \
		t_register(#name, name, __FILE__, secs);                     \
	}                                                                    \
	static void name(void)

/* Failing checks print file:line and the expression, then end the test. */
void t_fail(const char *file, int line, const char *expr, const char *fmt,
            ...) __attribute__((noreturn, format(printf, 4, 5)));
#define CHECK(e)                                                             \
	do {                                                                 \
		if (!(e))                                                    \
			t_fail(__FILE__, __LINE__, #e, NULL);                \
	} while (0)
#define CHECK_EQ(a, b)                                                       \
	do {                                                                 \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);      \
		if (t_a_ != t_b_)                                            \
			t_fail(__FILE__, __LINE__, #a " == " #b,             \
			       "%lld != %lld", t_a_, t_b_);                  \
	} while (0)
/* Haystack contains needle (both strings). */
#define CHECK_HAS(hay, needle)                                               \
	do {                                                                 \
		const char *t_h_ = (hay), *t_n_ = (needle);                  \
		if (!t_h_ || !strstr(t_h_, t_n_))                            \
			t_fail(__FILE__, __LINE__, "strstr(" #hay ", " #needle \
			       ")", "\"%s\" not in \"%s\"", t_n_,             \
			       t_h_ ? t_h_ : "(null)");                       \
	} while (0)

/* Ends the test as skipped, with the reason printed: for what no package
 * can fix (not root, a kernel without a feature). */
void t_skip(const char *why) __attribute__((noreturn));
/* Ends the test as skipped because Debian packages pkgs (space-separated)
 * are missing, which scripts/deps.sh installs: the run then fails unless
 * SHMQ_ALLOW_SKIP=1. */
void t_skip_dep(const char *pkgs, const char *why) __attribute__((noreturn));

/* Unique names for this test process; the runner removes them afterwards.
 * t_name gives "shmqt-<pid>-<tag>" (a POSIX object or named semaphore), t_key
 * a System V key (segment, semaphore set or message queue). Private System V
 * objects are the test's to remove. */
const char *t_name(char *buf, size_t len, const char *tag);
int32_t t_key(int n);

/* Output of a child process. */
struct t_run {
	int status; /* exit code, or 128 + signal number */
	char out[65536];
	char err[65536];
};

/* Runs argv (argv[0] searched in PATH) with stdin_data (may be NULL) on its
 * stdin; collects stdout/stderr. Returns r->status. */
int t_exec(struct t_run *r, const char *stdin_data, char *const argv[]);

/* Runs the shmq tool under test ($SHMQ_BIN, default build/tests/shmq):
 * t_shmq(&r, NULL, "ls", "--json", NULL). */
int t_shmq(struct t_run *r, const char *stdin_data, ...)
	__attribute__((sentinel));

/* Path of the shmq tool under test, and of the build directory. */
const char *t_shmq_bin(void);
const char *t_build_dir(void);

/* waitpid for pid: exit code, or 128 + signal number. */
int t_wait(pid_t pid);

#endif
