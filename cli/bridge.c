/* shmq bridge: runs shmq-bridge (bridge/bridge.c), which links Cyclone DDS,
 * so that the tool itself and libshmq do not. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run_bridge(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_bridge = {
	"bridge",
	"bridge {out NAME | in NAME} --topic T {--interface IF | --peer ADDR...} "
	"[--create ...]",
	"Carries a channel to other hosts over Cyclone DDS (docs/bridge.md).\n"
	"  bridge out NAME --topic T ...  publishes NAME's messages on topic T\n"
	"  bridge in NAME --topic T ...   writes topic T's messages into NAME\n"
	"                                 (--create and the geometry options of\n"
	"                                 shmq recv make it)\n"
	"  --interface IF    Cyclone uses only the network interface IF\n"
	"  --peer ADDR       discovery by unicast to ADDR (repeatable), no\n"
	"                    multicast\n"
	"One of --interface or --peer is required: the bridge never puts shared\n"
	"memory data onto a network it was not told to use. The bridge is a\n"
	"separate program, shmq-bridge, installed beside shmq when Cyclone DDS\n"
	"(Debian: cyclonedds-dev) was present at build time.\n",
	run_bridge,
};

/* shmq-bridge in the directory of this executable. */
static int bridge_path(char *path, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return snprintf(path, len, "%s/shmq-bridge", self) >= (int)len ? -1 : 0;
}

static int run_bridge(const struct cli_cmd *cmd, int argc, char **argv)
{
	char path[PATH_MAX];

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cli_print_help(cmd, stdout);
		return CLI_OK;
	}
	if (argc > 1 && argv[1][0] == '-')
		return cli_usage_error(cmd, "unknown option '%s': say out or in "
		                       "first", argv[1]);
	if (argc < 2 || (strcmp(argv[1], "out") && strcmp(argv[1], "in")))
		return cli_usage_error(cmd, "say out or in");
	if (bridge_path(path, sizeof(path)) || access(path, X_OK))
		return cli_failf("bridge: shmq-bridge is not installed beside "
		                 "shmq: Cyclone DDS was missing at build time "
		                 "(apt-get install cyclonedds-dev, then make)");
	execv(path, argv);
	return cli_failf("bridge: cannot run %s: %s", path, strerror(errno));
}
