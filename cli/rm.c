/* shmq rm: remove named objects, or sweep the orphan and stale ones. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int run_rm(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_rm = {
	"rm",
	"rm [--dry-run] {LOCATOR... | --orphans | --stale}",
	"Removes each object: shm_unlink for POSIX objects and named\n"
	"semaphores, IPC_RMID for System V (a segment still attached is marked\n"
	"for removal and goes with the last detach; a semaphore set or a\n"
	"message queue goes at once, and processes waiting on it get EIDRM).\n"
	"Processes that map an object keep their mapping.\n\n"
	"  --orphans  remove every object with no live attacher or mapper\n"
	"             whose creator is dead (liveness is pid + start time)\n"
	"  --stale    remove every shmq object whose participants are all dead\n"
	"  --dry-run  say what would be removed, remove nothing\n",
	run_rm,
};

enum { WANT_ORPHAN = 1, WANT_STALE = 2 };

/* Prints "VERB LOCATOR (why)" with the locator scrubbed: it may come
 * from a name someone else chose. */
static void say(const char *verb, const char *locator, const char *why)
{
	char safe[SHMQ_LOCATOR_MAX];

	snprintf(safe, sizeof(safe), "%s", locator);
	printf("%s %s%s%s%s\n", verb, cli_scrub(safe), why[0] ? " (" : "", why,
	       why[0] ? ")" : "");
}

/* A channel goes with what it owns (a persistent samples channel's data
 * segment): shmq_chan_unlink; any other object by shmq_unlink. */
static int unlink_object(const char *loc, const struct shmq_stat *st)
{
	return st && !strcmp(st->kind, "channel") ? shmq_chan_unlink(loc)
	                                           : shmq_unlink(loc);
}

static int rm_named(const char *loc, int dry)
{
	struct shmq_stat st;
	char why[128] = "";
	int known, err;

	/* A failed stat is no verdict: an owner may remove what it cannot
	 * read. The unlink decides. */
	err = shmq_stat(loc, &st);
	known = err == 0;
	if (dry && !known)
		return cli_fail(err, loc, 0);
	if (known && st.nattch > 0)
		snprintf(why, sizeof(why), "%s%" PRId64 " process%s attached; "
		         "the memory goes when the last detaches",
		         st.family == SHMQ_FAMILY_SYSV && !dry
		         ? "marked for removal, " : "",
		         st.nattch, st.nattch == 1 ? "" : "es");
	if (!dry) {
		err = unlink_object(loc, known ? &st : NULL);
		if (err < 0)
			return cli_fail(err, loc, 0);
	}
	say(dry ? "would remove" : "removed", known ? st.locator : loc, why);
	return CLI_OK;
}

struct sweep {
	char (*loc)[SHMQ_LOCATOR_MAX];
	size_t n, cap;
	int want; /* WANT_* */
};

static int wanted(const struct shmq_stat *st, int want)
{
	return ((want & WANT_ORPHAN) && st->orphan) ||
	       ((want & WANT_STALE) && st->stale);
}

/* A System V object is swept by id: its key may be reused meanwhile. */
static void target(const struct shmq_stat *st, char *buf, size_t len)
{
	if (cli_is_sysv(st->family))
		snprintf(buf, len, "%s:id=%d", cli_family(st->family), st->id);
	else
		snprintf(buf, len, "%s", st->locator);
}

static int pick(const struct shmq_stat *st, void *arg)
{
	struct sweep *s = arg;
	void *v;

	if (!wanted(st, s->want))
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		v = realloc(s->loc, s->cap * sizeof(*s->loc));
		if (!v)
			return -ENOMEM;
		s->loc = v;
	}
	target(st, s->loc[s->n++], SHMQ_LOCATOR_MAX);
	return 0;
}

static void reason(const struct shmq_stat *st, char *buf, size_t len)
{
	if (st->stale)
		snprintf(buf, len, "stale: every participant dead");
	else if (st->cpid)
		snprintf(buf, len, "orphan: creator pid %d dead, no attacher",
		         (int)st->cpid);
	else /* POSIX objects record no creator */
		snprintf(buf, len, "orphan: no process maps it, creator not "
		         "recorded");
}

/* Re-checks one picked object just before removing it: a process may have
 * attached since the walk. Returns 1 if removed (or would be), 0 if kept. */
static int sweep_one(const char *loc, int want, int dry, int *rc)
{
	struct shmq_stat st;
	char why[128];
	int err;

	err = shmq_stat(loc, &st);
	if (err == -ENOENT)
		return 0; /* gone meanwhile */
	if (err < 0 || !wanted(&st, want)) {
		if (err < 0)
			*rc = cli_fail(err, loc, 0);
		return 0;
	}
	reason(&st, why, sizeof(why));
	if (!dry) {
		err = unlink_object(loc, &st);
		if (err < 0) {
			*rc = cli_fail(err, st.locator, 0);
			return 0;
		}
	}
	say(dry ? "would remove" : "removed", st.locator, why);
	return 1;
}

static int rm_sweep(int want, int dry)
{
	struct sweep s = { NULL, 0, 0, want };
	int rc = CLI_OK, err;
	size_t i, done = 0;

	err = shmq_list(0, pick, &s);
	if (err < 0) {
		free(s.loc);
		return cli_fail(err, NULL, 0);
	}
	for (i = 0; i < s.n; i++)
		done += (size_t)sweep_one(s.loc[i], want, dry, &rc);
	if (!done && rc == CLI_OK)
		printf("nothing to remove: no %s object\n",
		       want == WANT_ORPHAN ? "orphan"
		       : want == WANT_STALE ? "stale" : "orphan or stale");
	free(s.loc);
	return rc;
}

static int run_rm(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "orphans", no_argument, NULL, 'o' },
		{ "stale", no_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int want = 0, dry = 0, rc = CLI_OK, o, i;

	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0) {
		if (o == 'n')
			dry = 1;
		else
			want |= o == 'o' ? WANT_ORPHAN : WANT_STALE;
	}
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (want && optind < argc)
		return cli_usage_error(cmd, "--stale and --orphans take no "
		                       "LOCATOR");
	if (want)
		return rm_sweep(want, dry);
	if (optind == argc)
		return cli_usage_error(cmd, "missing LOCATOR");
	/* Go on after a failure: one bad name must not spare the others. */
	for (i = optind; i < argc; i++)
		if (rm_named(argv[i], dry) != CLI_OK)
			rc = CLI_ERR;
	return rc;
}
