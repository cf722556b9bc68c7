/*
 * shmq board: make a board, set and get an entry's value, watch entries
 * change. KEY is an entry number, or a name the board maps to an entry
 * (set gives a new name the first free entry).
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int run_board(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_board = {
	"board",
	"board create NAME --entries K --size V [--mode OCTAL] | set NAME KEY "
	"VALUE | get NAME KEY | watch NAME [KEY]",
	"A board holds the latest value of each of K entries of up to V bytes;\n"
	"readers never see a torn value, writers may be many (shmq_board(3)).\n\n"
	"  create NAME --entries K --size V [--mode OCTAL]\n"
	"                     make a board (mode default 0600); SIZE takes K, M\n"
	"  set NAME KEY VALUE  make VALUE (its bytes, no newline) entry KEY's\n"
	"                     value; a KEY that is not a number names an\n"
	"                     entry: a new name takes the first entry that has\n"
	"                     neither a name nor a value\n"
	"  get NAME KEY       print entry KEY's value and a newline\n"
	"  watch NAME [KEY]   print \"KEY SEQ VALUE\" for each entry that has a\n"
	"                     value (KEY: that one only), then a line per change\n"
	"                     (a reader that is slower than the writer sees the\n"
	"                     newest value, not every one) until interrupted;\n"
	"                     fails if the board is removed\n\n"
	"Remove a board with shmq rm NAME. Values are printed as they are:\n"
	"control characters become '?'.\n",
	run_board,
};

static int board_fail(int err, const char *name)
{
	return cli_fail(err, name, 0);
}

/* ---- create ------------------------------------------------------------- */

static int parse_u32(const struct cli_cmd *cmd, const char *opt,
                     const char *text, uint32_t max, uint32_t *v)
{
	size_t n;
	const char *why = cli_parse_nonzero(text, "it must be at least 1", &n);
	if (!why && n > max)
		why = "it is too large";
	if (why)
		return cli_usage_error(cmd, "invalid --%s '%s': %s (1..%" PRIu32
		                       ")", opt, text, why, max);
	*v = (uint32_t)n;
	return CLI_OK;
}

static int do_create(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "entries", required_argument, NULL, 'e' },
		{ "size", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct shmq_board_opts o = { 0 };
	const char *why;
	int opt, rc = CLI_OK;

	while (rc == CLI_OK && (opt = cli_getopt(cmd, argc, argv, opts)) >= 0) {
		if (opt == 'e')
			rc = parse_u32(cmd, "entries", optarg,
			               SHMQ_BOARD_MAX_ENTRIES, &o.entries);
		else if (opt == 's')
			rc = parse_u32(cmd, "size", optarg, SHMQ_BOARD_MAX_VALUE,
			               &o.value_size);
		else if ((why = cli_parse_mode(optarg, &o.mode)))
			rc = cli_usage_error(cmd, "invalid --mode '%s': %s",
			                     optarg, why);
	}
	if (rc != CLI_OK)
		return rc;
	if (opt != CLI_OPT_END)
		return cli_opt_exit(opt);
	if (cli_operands(cmd, argc, argv, 1, "NAME"))
		return CLI_USAGE;
	if (!o.entries || !o.value_size)
		return cli_usage_error(cmd, "missing %s", !o.entries
		                       ? "--entries K" : "--size V");
	shmq_board *b;
	int err = shmq_board_create(&b, argv[optind], &o);
	if (err < 0)
		return board_fail(err, argv[optind]);
	shmq_board_close(b);
	return CLI_OK;
}

/* ---- set, get, watch ------------------------------------------------------ */

/* KEY as an entry: a number, else a name (bind: made if new). */
static int key_entry(shmq_board *b, const char *name, const char *key,
                     int bind, uint32_t *i)
{
	char *end;
	int rc;
	errno = 0;
	unsigned long n = strtoul(key, &end, 10);
	if (key[0] >= '0' && key[0] <= '9' && !*end) {
		struct shmq_board_info in;
		if ((rc = shmq_board_info(b, &in)) < 0)
			return board_fail(rc, name);
		if (errno || n >= in.entries)
			return cli_failf("%s: no entry %s: the board has entries "
			                 "0..%" PRIu32, name, key, in.entries - 1);
		*i = (uint32_t)n;
		return CLI_OK;
	}
	rc = bind ? shmq_board_bind(b, key) : shmq_board_find(b, key);
	if (rc == -ENOENT)
		return cli_failf("%s: no entry is named '%s' (shmq board set "
		                 "names one)", name, key);
	if (rc == -ENOSPC)
		return cli_failf("%s: cannot name an entry '%s': every entry "
		                 "has a name or a value; make a larger board",
		                 name, key);
	if (rc == -EINVAL)
		return cli_failf("%s: invalid KEY '%s': a name is 1..%d bytes",
		                 name, key, SHMQ_BOARD_NAME_MAX);
	if (rc < 0)
		return board_fail(rc, name);
	*i = (uint32_t)rc;
	return CLI_OK;
}

static int open_board(const char *name, shmq_board **b)
{
	int err = shmq_board_open(b, name, NULL);
	return err < 0 ? board_fail(err, name) : CLI_OK;
}

static int do_set(shmq_board *b, char **args)
{
	uint32_t i;
	int rc = key_entry(b, args[0], args[1], 1, &i);
	if (rc != CLI_OK)
		return rc;
	size_t len = strlen(args[2]);
	rc = shmq_board_set(b, i, args[2], len);
	if (rc == -EMSGSIZE) {
		struct shmq_board_info in;
		shmq_board_info(b, &in);
		return cli_failf("%s: the value is %zu bytes, the board takes "
		                 "%" PRIu32 " at most", args[0], len,
		                 in.value_size);
	}
	return rc < 0 ? board_fail(rc, args[0]) : CLI_OK;
}

/* Entry i's value into buf (value_size + 1 bytes), NUL-terminated and
 * scrubbed: its length, or the error. */
static ssize_t value_of(shmq_board *b, uint32_t i, char *buf, size_t size,
                        uint64_t *seq)
{
	ssize_t n = shmq_board_get(b, i, buf, size - 1, seq);
	if (n >= 0) {
		/* a value may hold NULs: show them as '?' too */
		for (ssize_t k = 0; k < n; k++)
			if (!buf[k])
				buf[k] = '?';
		buf[n] = '\0';
		cli_scrub(buf);
	}
	return n;
}

static char *value_buf(shmq_board *b, size_t *size)
{
	struct shmq_board_info in;
	if (shmq_board_info(b, &in) < 0)
		return NULL;
	*size = (size_t)in.value_size + 1;
	return malloc(*size);
}

static int do_get(shmq_board *b, char **args)
{
	uint32_t i;
	uint64_t seq;
	size_t size;
	int rc = key_entry(b, args[0], args[1], 0, &i);
	if (rc != CLI_OK)
		return rc;
	char *buf = value_buf(b, &size);
	if (!buf)
		return board_fail(-ENOMEM, args[0]);
	ssize_t n = value_of(b, i, buf, size, &seq);
	if (n >= 0)
		printf("%s\n", buf);
	free(buf);
	return n < 0 ? board_fail((int)n, args[0]) : CLI_OK;
}

/* What watch follows. */
struct watch {
	shmq_board *b;
	const char *name;
	uint32_t first, last; /* the entries watched: [first, last] */
	uint64_t *seen;       /* the last seq printed of each */
	char *buf;
	size_t size;
};

/* Prints each watched entry whose seq moved. */
static int print_changes(struct watch *w)
{
	char key[SHMQ_BOARD_NAME_MAX + 16];
	for (uint32_t i = w->first; i <= w->last; i++) {
		uint64_t seq;
		ssize_t n = value_of(w->b, i, w->buf, w->size, &seq);
		if (n < 0)
			return board_fail((int)n, w->name);
		if (seq == w->seen[i - w->first])
			continue;
		w->seen[i - w->first] = seq;
		if (shmq_board_name(w->b, i, key, sizeof(key)) <= 0)
			snprintf(key, sizeof(key), "%" PRIu32, i);
		printf("%s %" PRIu64 " %s\n", cli_scrub(key), seq, w->buf);
	}
	fflush(stdout);
	return CLI_OK;
}

/* Waits for the next change in 100 ms slices: a signal is acted on, and a
 * removed board noticed, within one. */
static int next_change(struct watch *w, uint32_t i, uint64_t seen)
{
	struct shmq_board_info in;
	struct timespec ts;
	for (;;) {
		int rc = shmq_board_wait_timed(w->b, i, seen,
		                               cli_chan_until(NULL, &ts));
		if (cli_chan_stopped())
			return CLI_STOP;
		if (rc == 0)
			return CLI_OK;
		if (rc != -ETIMEDOUT)
			return board_fail(rc, w->name);
		rc = shmq_board_stat(w->name, &in);
		if (rc == -ENOENT)
			return cli_failf("%s: the board was removed (shmq rm); "
			                 "stopped watching", w->name);
	}
}

static int watch_loop(struct watch *w)
{
	/* one entry: its own seq; all: the board's count of sets */
	uint32_t i = w->first == w->last ? w->first : SHMQ_BOARD_ANY;
	int rc = print_changes(w);
	while (rc == CLI_OK) {
		uint64_t seen;
		if ((rc = shmq_board_seq(w->b, i, &seen)) < 0)
			return board_fail(rc, w->name);
		if ((rc = print_changes(w)) == CLI_OK &&
		    (rc = next_change(w, i, seen)) == CLI_OK)
			rc = print_changes(w);
	}
	return rc;
}

static int do_watch(shmq_board *b, char **args, int nargs)
{
	struct shmq_board_info in;
	struct watch w = {.b = b, .name = args[0]};
	int rc = shmq_board_info(b, &in);
	if (rc < 0)
		return board_fail(rc, args[0]);
	w.last = in.entries - 1;
	if (nargs == 2 && (rc = key_entry(b, args[0], args[1], 0, &w.first))
	                  != CLI_OK)
		return rc;
	if (nargs == 2)
		w.last = w.first;
	w.seen = calloc((size_t)(w.last - w.first) + 1, sizeof(*w.seen));
	w.buf = value_buf(b, &w.size);
	cli_catch_stop_signals();
	rc = w.seen && w.buf ? watch_loop(&w) : board_fail(-ENOMEM, args[0]);
	free(w.seen);
	free(w.buf);
	return rc;
}

/* ---- Dispatch ---------------------------------------------------------------- */

static int run_board(const struct cli_cmd *cmd, int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cli_print_help(cmd, stdout);
		return CLI_OK;
	}
	if (argc < 2)
		return cli_usage_error(cmd, "no action: create, set, get or "
		                       "watch");
	const char *act = argv[1];
	if (!strcmp(act, "create"))
		return do_create(cmd, argc - 1, argv + 1);
	int want = !strcmp(act, "set") ? 3 : !strcmp(act, "get") ? 2
	         : !strcmp(act, "watch") ? 1 : 0;
	if (!want)
		return cli_usage_error(cmd, "unknown action '%s': create, set, "
		                       "get or watch", act);
	int n = argc - 2;
	if (n < want || n > (want == 1 ? 2 : want))
		return cli_usage_error(cmd, "%s takes %s", act, want == 3
		                       ? "NAME KEY VALUE" : want == 2
		                       ? "NAME KEY" : "NAME [KEY]");
	shmq_board *b;
	int rc = open_board(argv[2], &b);
	if (rc != CLI_OK)
		return rc;
	if (want == 3)
		rc = do_set(b, argv + 2);
	else if (want == 2)
		rc = do_get(b, argv + 2);
	else
		rc = do_watch(b, argv + 2, n);
	shmq_board_close(b);
	if (rc == CLI_STOP)
		return cli_die_of(cli_chan_stopped());
	return rc;
}
