/*
 * libFuzzer target: the shmq tool's command line (cli/), run on fuzzed argv.
 *
 * The input is byte 0, byte 1, then argv[1..] separated by NULs (argv[0]
 * is "shmq"), up to an empty argument; then an object's name. It goes through the tool's own dispatch (cli/main.c, included
 * below) into every command's option parsing, checks and error lines. The
 * calls through which a command would touch the system answer an error
 * instead (linked with -Wl,--wrap, see FUZZ_CLI_WRAP in the Makefile):
 * create, open, stat, list and remove of segments, channels and semaphore
 * sets, the bench run, fopen for writing (bench --plot/--json-out), and
 * clock_nanosleep (top --once's interval passes at once).
 * Byte 0 picks the error they give, so the error lines for each are
 * formatted with the fuzzed object names. Byte 1, when not 0, makes stat
 * and list find one object instead, with that name (names in /dev/shm
 * are anyone's bytes), so that ls, stat and rm print it (text and
 * JSON) and rm removes it (which fails). Nothing is created or removed,
 * no process is started, no file is written; the tool's output goes to
 * /dev/null. Whatever the argv: an exit code of 0, 1 or 2, no crash, no
 * sanitizer report, no hang (-timeout), no leak, no signal left blocked.
 *
 *   make fuzz      build build/fuzz/fuzz_cli (clang) and run it on
 *                  tests/fuzz/corpus/cli for FUZZ_TIME seconds
 */
#define main shmq_cli_main
int shmq_cli_main(int argc, char **argv);
#include "../../cli/main.c"
#undef main

#include "../../bench/bench.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __wrap_shmq_seg_create(shmq_seg **seg, const char *locator,
                           const struct shmq_seg_opts *opts);
int __wrap_shmq_seg_open(shmq_seg **seg, const char *locator,
                         const struct shmq_seg_opts *opts);
int __wrap_shmq_chan_create(shmq_chan **ch, const char *locator, int role,
                            const struct shmq_chan_opts *opts);
int __wrap_shmq_chan_open(shmq_chan **ch, const char *locator, int role,
                          const struct shmq_chan_opts *opts);
int __wrap_shmq_chan_stat(const char *locator, struct shmq_chan_info *info);
int __wrap_shmq_board_create(shmq_board **b, const char *locator,
                             const struct shmq_board_opts *opts);
int __wrap_shmq_board_open(shmq_board **b, const char *locator,
                           const struct shmq_board_opts *opts);
int __wrap_shmq_stat(const char *locator, struct shmq_stat *st);
int __wrap_shmq_list(unsigned flags,
                     int (*fn)(const struct shmq_stat *st, void *arg),
                     void *arg);
int __wrap_shmq_unlink(const char *locator);
int __wrap_shmq_chan_unlink(const char *locator);
int __wrap_shmq_semset_create(shmq_semset **set, const char *locator,
                              const struct shmq_semset_opts *opts);
int __wrap_bench_run_all(const struct bench_cfg *cfg,
                         struct bench_results *res);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
int __wrap_clock_nanosleep(clockid_t clock, int flags,
                           const struct timespec *t, struct timespec *left);

/* What the system "says" this run: errors a real call could give. */
static const int errors[] = {
	-EACCES, -ENOENT, -EEXIST, -EPERM, -ENOSPC, -EINVAL, -EBADF,
	-ENOMEM, -EBADMSG, SHMQ_ELOCATOR, SHMQ_EFAMILY, SHMQ_ENOTCHAN,
	SHMQ_EVERSION, SHMQ_EPEERS, SHMQ_EPEERDEAD,
};
static int answer = -EACCES;
/* Byte 1: 0, or stat and list find one object (its fields from the byte,
 * its name what follows argv: names in /dev/shm are anyone's bytes). */
static unsigned object;
static const char *object_name;

int __wrap_shmq_seg_create(shmq_seg **seg, const char *locator,
                           const struct shmq_seg_opts *opts)
{
	(void)seg, (void)locator, (void)opts;
	return answer;
}

int __wrap_shmq_seg_open(shmq_seg **seg, const char *locator,
                         const struct shmq_seg_opts *opts)
{
	(void)seg, (void)locator, (void)opts;
	return answer;
}

int __wrap_shmq_chan_create(shmq_chan **ch, const char *locator, int role,
                            const struct shmq_chan_opts *opts)
{
	(void)ch, (void)locator, (void)role, (void)opts;
	return answer;
}

int __wrap_shmq_chan_open(shmq_chan **ch, const char *locator, int role,
                          const struct shmq_chan_opts *opts)
{
	(void)ch, (void)locator, (void)role, (void)opts;
	return answer;
}

int __wrap_shmq_board_create(shmq_board **b, const char *locator,
                             const struct shmq_board_opts *opts)
{
	(void)b, (void)locator, (void)opts;
	return answer;
}

int __wrap_shmq_board_open(shmq_board **b, const char *locator,
                           const struct shmq_board_opts *opts)
{
	(void)b, (void)locator, (void)opts;
	return answer;
}

int __wrap_shmq_chan_stat(const char *locator, struct shmq_chan_info *info)
{
	(void)locator, (void)info;
	return answer;
}

/* The object stat and list find when the input asks for one. */
static int found(struct shmq_stat *st)
{
	if (!object)
		return answer;
	memset(st, 0, sizeof(*st));
	st->family = (int)(object % 6 + 1);
	snprintf(st->name, sizeof(st->name), "%s", object_name);
	snprintf(st->locator, sizeof(st->locator), "%s:%s",
	         shmq_family_name(st->family), object_name);
	st->key = (int32_t)(object * 0x9e3779b9u);
	st->id = object & 1 ? -1 : (int)object;
	st->size = st->mapped_size = (uint64_t)object << 12;
	st->mode = object & 0777;
	st->nattch = object & 2 ? -1 : (int)(object & 3);
	st->nattch_partial = object & 4;
	st->cpid = st->lpid = object & 8 ? 1 : 0;
	st->cpid_alive = (int)(object >> 4 & 3) - 1;
	st->orphan = object & 16;
	st->stale = object & 32;
	snprintf(st->kind, sizeof(st->kind), object & 64 ? "channel" : "raw");
	return 0;
}

int __wrap_shmq_stat(const char *locator, struct shmq_stat *st)
{
	(void)locator;
	return found(st);
}

int __wrap_shmq_list(unsigned flags,
                     int (*fn)(const struct shmq_stat *st, void *arg),
                     void *arg)
{
	struct shmq_stat st;
	(void)flags;
	int rc = found(&st);
	if (rc < 0)
		return rc;
	rc = fn(&st, arg);
	return rc ? rc : 1;
}

int __wrap_shmq_unlink(const char *locator)
{
	(void)locator;
	return answer;
}

int __wrap_shmq_chan_unlink(const char *locator)
{
	(void)locator;
	return answer;
}

int __wrap_shmq_semset_create(shmq_semset **set, const char *locator,
                              const struct shmq_semset_opts *opts)
{
	(void)set, (void)locator, (void)opts;
	return answer;
}

int __wrap_bench_run_all(const struct bench_cfg *cfg,
                         struct bench_results *res)
{
	(void)cfg, (void)res;
	return -ENOMEM; /* the one error run_bench reports as such */
}

/* Reading is harmless; writing a fuzzed path is not. */
FILE *__wrap_fopen(const char *path, const char *mode)
{
	if (mode[0] == 'r' && !strchr(mode, '+'))
		return __real_fopen(path, mode);
	errno = EACCES;
	return NULL;
}

/* top --once sleeps its --interval (any length): not here. */
int __wrap_clock_nanosleep(clockid_t clock, int flags,
                           const struct timespec *t, struct timespec *left)
{
	(void)clock, (void)flags, (void)t, (void)left;
	return 0;
}

#define MAX_ARGS 64

static void die(const char *what, int rc)
{
	dprintf(2, "fuzz_cli: %s: %d\n", what, rc); /* stderr is /dev/null */
	abort();
}

/* Only the bits of the signals count: the rest of a sigset_t is not set. */
static int same_mask(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig < SIGRTMAX; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	char *argv[MAX_ARGS + 1], *copy;
	sigset_t before = {0}, after = {0};
	int argc = 1;
	if (!devnull) {
		/* libFuzzer and the sanitizers keep fd 2; the tool's lines
		 * (through stdout and stderr) go nowhere */
		devnull = __real_fopen("/dev/null", "w");
		if (!devnull)
			die("/dev/null", -errno);
		stdout = stderr = devnull;
	}
	if (size < 2)
		return 0;
	answer = errors[data[0] % (sizeof(errors) / sizeof(errors[0]))];
	object = data[1];
	copy = malloc(size); /* argv strings, each NUL-terminated */
	if (!copy)
		return 0;
	memcpy(copy, data + 2, size - 2);
	copy[size - 2] = copy[size - 1] = '\0';
	/* argv ends at an empty argument; the object's name follows it */
	char *end = memmem(copy, size - 1, "\0\0", 2);
	object_name = end ? end + 2 : copy + size - 2;
	end = end ? end : copy + size - 2;
	argv[0] = "shmq";
	for (char *p = copy; p < end && argc < MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	optind = 0; /* a fresh getopt for each run */
	sigprocmask(SIG_SETMASK, NULL, &before);
	int rc = shmq_cli_main(argc, argv);
	sigprocmask(SIG_SETMASK, NULL, &after);
	if (rc < CLI_OK || rc > CLI_USAGE)
		die("exit code", rc);
	if (!same_mask(&before, &after))
		die("a signal was left blocked", rc);
	free(copy);
	return 0;
}
