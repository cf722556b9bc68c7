/* shmq ls: every object of every family, as a table or JSON. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int run_ls(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_ls = {
	"ls",
	"ls [--json] [--all]",
	"Lists every System V segment, semaphore set and message queue, and\n"
	"every POSIX object and named semaphore in /dev/shm, made by shmq or\n"
	"not, like ipcs for every family (sysv, sysv-sem, sysv-msg, posix,\n"
	"posix-sem). KIND says what an object holds: raw (plain memory),\n"
	"posix-sem, channel (a shmq channel: send, recv) or board (a shmq\n"
	"board: shmq board). SIZE is bytes;\n"
	"for a semaphore set the number of semaphores, for a queue the\n"
	"messages and bytes queued.\n\n"
	"  --json   print a JSON array, one object per object; a channel's\n"
	"           has a \"channel\" object (type, capacity, msg_size,\n"
	"           policy, depth, writers and readers, counters)\n"
	"  --all    also list memfds held by processes (family memfd)\n\n"
	"FLAGS: removed (marked for removal, still attached), orphan (no live\n"
	"attacher, creator dead), stale (a shmq object whose every participant\n"
	"is dead), huge (huge pages).\n",
	run_ls,
};

struct ls_list {
	struct shmq_stat *v;
	size_t n, cap;
};

static int collect(const struct shmq_stat *st, void *arg)
{
	struct ls_list *l = arg;
	struct shmq_stat *v;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		v = realloc(l->v, l->cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
	}
	l->v[l->n++] = *st;
	return 0;
}

enum { C_FAMILY, C_KIND, C_NAME, C_ID, C_OWNER, C_MODE, C_SIZE, C_ATTACHED,
       C_CPID, C_LPID, C_FLAGS, NCOL };

static const char *const heads[NCOL] = {
	"FAMILY", "KIND", "KEY/NAME", "ID", "OWNER", "MODE", "SIZE",
	"ATTACHED", "CPID", "LPID", "FLAGS",
};

static void flags_cell(const struct shmq_stat *st, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", st->removed ? ",removed" : "",
	         st->orphan ? ",orphan" : "", st->stale ? ",stale" : "",
	         st->huge > 0 ? ",huge" : "");
	if (buf[0])
		memmove(buf, buf + 1, strlen(buf)); /* drop the first comma */
	else
		snprintf(buf, len, "-");
}

static void size_cell(const struct shmq_stat *st, char *buf, size_t len)
{
	if (st->family == SHMQ_FAMILY_SYSV_SEM)
		snprintf(buf, len, "%" PRIu64 " sem%s", st->nsems,
		         st->nsems == 1 ? "" : "s");
	else if (st->family == SHMQ_FAMILY_SYSV_MSG)
		snprintf(buf, len, "%" PRIu64 " msg%s (%" PRIu64 " B)", st->qnum,
		         st->qnum == 1 ? "" : "s", st->size);
	else
		snprintf(buf, len, "%" PRIu64, st->size);
}

/* Nobody attaches a semaphore set or a queue: "-", not unknown. */
static void attached_cell(const struct shmq_stat *st, char *buf, size_t len)
{
	if (st->family == SHMQ_FAMILY_SYSV_SEM ||
	    st->family == SHMQ_FAMILY_SYSV_MSG)
		snprintf(buf, len, "-");
	else if (st->nattch < 0)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%" PRId64, st->nattch);
}

static void pid_cell(pid_t pid, char *buf, size_t len)
{
	if (pid)
		snprintf(buf, len, "%d", (int)pid);
	else
		snprintf(buf, len, "-");
}

/* The text of one cell; names are scrubbed of control characters. */
static void cell(const struct shmq_stat *st, int col, char *buf, size_t len)
{
	int sysv = cli_is_sysv(st->family);

	switch (col) {
	case C_FAMILY: snprintf(buf, len, "%s", cli_family(st->family)); break;
	case C_KIND: snprintf(buf, len, "%s", st->kind); break;
	case C_NAME:
		if (sysv)
			snprintf(buf, len, "0x%08" PRIx32, (uint32_t)st->key);
		else
			snprintf(buf, len, "%s", st->name[0] ? st->name
			                                     : st->locator);
		cli_scrub(buf);
		break;
	case C_ID:
		if (sysv)
			snprintf(buf, len, "%d", st->id);
		else
			snprintf(buf, len, "-");
		break;
	case C_OWNER: cli_user(st->uid, buf, len); break;
	case C_MODE: snprintf(buf, len, "%04o", st->mode); break;
	case C_SIZE: size_cell(st, buf, len); break;
	case C_ATTACHED: attached_cell(st, buf, len); break;
	case C_CPID: pid_cell(st->cpid, buf, len); break;
	case C_LPID: pid_cell(st->lpid, buf, len); break;
	default: flags_cell(st, buf, len); break;
	}
}

static void print_row(const char *const cells[NCOL], const size_t width[NCOL])
{
	int c;

	for (c = 0; c < NCOL - 1; c++)
		printf("%-*s  ", (int)width[c], cells[c]);
	printf("%s\n", cells[NCOL - 1]);
}

static void print_table(const struct ls_list *l)
{
	char text[NCOL][SHMQ_LOCATOR_MAX];
	const char *cells[NCOL];
	size_t width[NCOL], i;
	int c;

	for (c = 0; c < NCOL; c++)
		width[c] = strlen(heads[c]);
	for (i = 0; i < l->n; i++)
		for (c = 0; c < NCOL; c++) {
			cell(&l->v[i], c, text[c], sizeof(text[c]));
			if (strlen(text[c]) > width[c])
				width[c] = strlen(text[c]);
		}
	print_row(heads, width);
	for (i = 0; i < l->n; i++) {
		for (c = 0; c < NCOL; c++) {
			cell(&l->v[i], c, text[c], sizeof(text[c]));
			cells[c] = text[c];
		}
		print_row(cells, width);
	}
}

static void print_json(const struct ls_list *l)
{
	size_t i;

	fputc('[', stdout);
	for (i = 0; i < l->n; i++) {
		fputs(i ? ",\n " : "\n ", stdout);
		cli_json_stat(stdout, &l->v[i]);
	}
	fputs(l->n ? "\n]\n" : "]\n", stdout);
}

static int run_ls(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ls_list l = { NULL, 0, 0 };
	unsigned flags = 0;
	int json = 0, o, n;

	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0) {
		if (o == 'j')
			json = 1;
		else
			flags |= SHMQ_LIST_ALL;
	}
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 0, ""))
		return CLI_USAGE;
	n = shmq_list(flags, collect, &l);
	if (n < 0) {
		free(l.v);
		return cli_fail(n, NULL, 0);
	}
	if (json)
		print_json(&l);
	else
		print_table(&l);
	free(l.v);
	return CLI_OK;
}
