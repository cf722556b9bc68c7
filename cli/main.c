/* shmq: list, inspect, create and remove shared memory objects. */
#include "cli.h"

#include <errno.h>
#include <string.h>

static const struct cli_cmd *const commands[] = {
	&cli_ls, &cli_stat, &cli_dump, &cli_create, &cli_rm, &cli_key,
	&cli_mutex, &cli_send, &cli_recv, &cli_board, &cli_bench, &cli_doctor,
	&cli_bridge, &cli_top,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void print_main_help(FILE *f)
{
	size_t i;

	fprintf(f, "usage: shmq %s\n\n"
	        "Lists, inspects, creates and removes shared memory objects:\n"
	        "System V segments, POSIX objects in /dev/shm and memfds;\n"
	        "sends and receives messages through shmq channels.\n\n"
	        "commands:\n", CLI_MAIN_USAGE);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  shmq %s\n", commands[i]->usage);
	fputs("  shmq help COMMAND\n\n"
	      "locators:\n"
	      "  sysv:key=0x7b  sysv:0x7b  sysv:123   System V segment by key\n"
	      "  sysv:id=32769                        by shmid\n"
	      "  sysv:ftok=/path:proj                 key from ftok(3)\n"
	      "  sysv:private                         IPC_PRIVATE (create)\n"
	      "  posix:NAME  NAME  /NAME              /dev/shm/NAME\n"
	      "  memfd:fd=5                           a memfd inherited by fork/exec\n"
	      "  memfd:pid=1234,fd=5                  another process's memfd\n\n"
	      "exit status: 0 success, 1 runtime error, 2 usage error.\n"
	      "Run 'shmq help COMMAND' or 'shmq COMMAND --help' for options.\n",
	      f);
}

/* shmq help [COMMAND] */
static int run_help(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	if (argc == 1) {
		print_main_help(stdout);
		return CLI_OK;
	}
	if (argc > 2)
		return cli_usage_error(NULL, "help takes one COMMAND");
	cmd = find_command(argv[1]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	cli_print_help(cmd, stdout);
	return CLI_OK;
}

static int dispatch(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	if (argc < 2)
		return cli_usage_error(NULL, "no COMMAND given");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		print_main_help(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("shmq %s\n", shmq_version());
		return CLI_OK;
	}
	if (!strcmp(argv[1], "help"))
		return run_help(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return cli_usage_error(NULL, "unknown option '%s'", argv[1]);
	cmd = find_command(argv[1]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	return cmd->run(cmd, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	int rc = dispatch(argc, argv);

	/* A full disk or a closed pipe must not look like success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_failf("cannot write the output: %s", strerror(errno));
		return CLI_ERR;
	}
	return rc;
}
