/* shmq create: a new System V segment or POSIX object, left in place. */
#include "cli.h"

#include <string.h>

static int run_create(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_create = {
	"create",
	"create LOCATOR --size N[K|M|G] [--mode OCTAL] [--excl] [--or-open] "
	"[--any-owner] [--huge 2M|1G]",
	"Creates a System V segment or a POSIX object and prints its locator\n"
	"(and id for System V). The object stays after shmq exits.\n\n"
	"  --size N     bytes; K, M, G multiply by 1024, 1024^2, 1024^3\n"
	"  --mode OCTAL permission bits (default 0600), applied exactly\n"
	"               whatever the umask\n"
	"  --excl       fail if the object exists (the default)\n"
	"  --or-open    open the object instead if it exists (if it is ours\n"
	"               or root's: another user's is refused)\n"
	"  --any-owner  with --or-open: accept another user's object too\n"
	"  --huge SIZE  back a System V segment with 2M or 1G huge pages\n",
	run_create,
};

struct create_args {
	struct shmq_seg_opts o;
	int have_size, excl;
};

static const char *parse_huge(const char *text, unsigned *flags)
{
	if (!strcmp(text, "2M") || !strcmp(text, "2m"))
		*flags |= SHMQ_SEG_HUGE_2M;
	else if (!strcmp(text, "1G") || !strcmp(text, "1g"))
		*flags |= SHMQ_SEG_HUGE_1G;
	else
		return "expected 2M or 1G";
	return NULL;
}

/* Applies one option; NULL, or why its value is invalid. */
static const char *apply(struct create_args *a, int o, const char *arg)
{
	switch (o) {
	case 's':
		a->have_size = 1;
		return cli_parse_nonzero(arg, "a segment needs at least 1 byte",
		                         &a->o.size);
	case 'm':
		return cli_parse_mode(arg, &a->o.mode);
	case 'H':
		return parse_huge(arg, &a->o.flags);
	case 'e':
		a->excl = 1;
		return NULL;
	case 'A':
		a->o.flags |= SHMQ_ANY_OWNER;
		return NULL;
	}
	a->o.flags |= SHMQ_OPEN_OK;
	return NULL;
}

/* PROCEED, or the exit code when parsing ended the command. */
#define PROCEED (-1)

static int parse_args(const struct cli_cmd *cmd, int argc, char **argv,
                      struct create_args *a)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "excl", no_argument, NULL, 'e' },
		{ "or-open", no_argument, NULL, 'O' },
		{ "any-owner", no_argument, NULL, 'A' },
		{ "huge", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why;
	int o;

	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0) {
		why = apply(a, o, optarg);
		if (why)
			return cli_usage_error(cmd, "invalid --%s '%s': %s",
			                       o == 's' ? "size" : o == 'm'
			                       ? "mode" : "huge", optarg, why);
	}
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 1, "LOCATOR"))
		return CLI_USAGE;
	if (!a->have_size)
		return cli_usage_error(cmd, "missing --size N");
	if (a->excl && (a->o.flags & SHMQ_OPEN_OK))
		return cli_usage_error(cmd, "--excl and --or-open contradict "
		                       "each other");
	if ((a->o.flags & SHMQ_ANY_OWNER) &&
	    !(a->o.flags & SHMQ_OPEN_OK))
		return cli_usage_error(cmd, "--any-owner applies to an existing "
		                       "object: add --or-open");
	return PROCEED;
}

/* The locator, and the id a System V segment got. */
static void print_created(const shmq_seg *seg, const struct shmq_locator *l)
{
	if (l->family != SHMQ_FAMILY_SYSV)
		printf("%s\n", shmq_seg_locator(seg));
	else if (l->by == SHMQ_BY_PRIVATE) /* no key: the id is its name */
		printf("sysv:id=%d\n", shmq_seg_id(seg));
	else
		printf("%s id=%d\n", shmq_seg_locator(seg), shmq_seg_id(seg));
}

static int create(const char *loc, const struct shmq_seg_opts *o)
{
	struct shmq_locator l;
	shmq_seg *seg;
	int err;

	err = shmq_locator_parse(loc, &l);
	if (err < 0)
		return cli_fail(err, loc, o->size);
	if (l.family == SHMQ_FAMILY_MEMFD)
		return cli_failf("%s: a memfd lives only while a process holds "
		                 "it and would vanish when shmq exits; create it "
		                 "with shmq_seg_create() in the process that "
		                 "uses it", loc);
	err = shmq_seg_create(&seg, loc, o);
	if (err < 0)
		return cli_fail(err, loc, o->size);
	print_created(seg, &l);
	err = shmq_seg_close(seg);
	if (err < 0)
		return cli_fail(err, loc, 0);
	return CLI_OK;
}

static int run_create(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct create_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	rc = parse_args(cmd, argc, argv, &a);
	if (rc != PROCEED)
		return rc;
	return create(argv[optind], &a.o);
}
