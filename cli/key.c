/* shmq key: the System V key ftok(3) gives for a path and a project id. */
#include "cli.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int run_key(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_key = {
	"key",
	"key PATH PROJ",
	"Prints the ftok(3) key of PATH and PROJ as 0x%08x, the key that\n"
	"sysv:ftok=PATH:PROJ names. PROJ is 1..255 or a single character\n"
	"(digits are read as a number).\n\n"
	"ftok keys can collide: a key keeps only 8 bits of PROJ, 16 bits of\n"
	"the inode and 8 bits of the device of PATH.\n",
	run_key,
};

static const char *parse_proj(const char *text, int *proj)
{
	long n;
	char *end;

	if (text[0] && !text[1] && !isdigit((unsigned char)text[0])) {
		*proj = (unsigned char)text[0];
		return NULL;
	}
	if (!isdigit((unsigned char)text[0]))
		return "expected 1..255 or a single character";
	n = strtol(text, &end, 10);
	if (*end || n < 1 || n > 255)
		return "expected 1..255 or a single character";
	*proj = (int)n;
	return NULL;
}

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
	const char *why;
	int32_t key;
	int proj, o, err;

	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0)
		;
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 2, "PATH and PROJ"))
		return CLI_USAGE;
	why = parse_proj(argv[optind + 1], &proj);
	if (why)
		return cli_usage_error(cmd, "invalid PROJ '%s': %s",
		                       argv[optind + 1], why);
	err = shmq_ftok(argv[optind], proj, &key);
	if (err < 0) {
		char loc[PATH_MAX + 32];
		snprintf(loc, sizeof(loc), "sysv:ftok=%s:%d", argv[optind], proj);
		return cli_fail(err, loc, 0);
	}
	printf("0x%08" PRIx32 "\n", (uint32_t)key);
	warn_collision(key);
	return CLI_OK;
}
