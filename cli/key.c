/* shmq key: the System V key ftok(3) gives for a path and a project id. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

static int run_key(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_key = {
	"key",
	"key PATH PROJ",
	"Prints the ftok(3) key of PATH and PROJ as 0x%08x, the key that\n"
	"sysv:ftok=PATH:PROJ names. PROJ takes the forms it takes there:\n"
	"1..255 in decimal, 0x hex or 0 octal, or a single character other\n"
	"than ':' (a single digit is a number).\n\n"
	"ftok keys can collide: a key keeps only 8 bits of PROJ, 16 bits of\n"
	"the inode and 8 bits of the device of PATH.\n",
	run_key,
};

static void warn_collision(int32_t key)
{
	char loc[32];
	struct shmq_stat st;

	fputs("shmq: warning: ftok keys can collide (8 bits of PROJ, 16 of "
	      "the inode, 8 of the device); choose an explicit sysv:key= when "
	      "unrelated programs share the machine\n", stderr);
	snprintf(loc, sizeof(loc), "sysv:key=0x%08" PRIx32, (uint32_t)key);
	if (shmq_stat(loc, &st) == 0)
		fprintf(stderr, "shmq: note: key 0x%08" PRIx32 " is in use by "
		        "sysv:id=%d (owner uid %u)\n", (uint32_t)key, st.id,
		        (unsigned)st.uid);
}

static int run_key(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char text[PATH_MAX + 64], line[PATH_MAX + 256];
	struct shmq_locator loc;
	const char *path, *proj;
	int o, err;

	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0)
		;
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 2, "PATH and PROJ"))
		return CLI_USAGE;
	path = argv[optind];
	proj = argv[optind + 1];
	/* The key is the one of the locator: one parser, one set of rules
	 * for PROJ. It splits at the last ':', so PROJ cannot hold one. */
	if (strchr(proj, ':'))
		return cli_usage_error(cmd, "invalid PROJ '%s': it cannot hold "
		                       "':' (sysv:ftok=PATH:PROJ)", proj);
	if ((size_t)snprintf(text, sizeof(text), "sysv:ftok=%s:%s", path,
	                     proj) >= sizeof(text))
		return cli_fail(-ENAMETOOLONG, path, 0);
	err = shmq_locator_parse(text, &loc);
	if (err == SHMQ_ELOCATOR) /* the reason names PATH or PROJ */
		return cli_usage_error(cmd, "%s", shmq_explain(err, text, 0,
		                       line, sizeof(line)));
	if (err < 0)
		return cli_fail(err, text, 0);
	printf("0x%08" PRIx32 "\n", (uint32_t)loc.key);
	warn_collision(loc.key);
	return CLI_OK;
}
