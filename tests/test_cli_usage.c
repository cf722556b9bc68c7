/*
 * The shmq tool's command line itself: usage, --help and --version, unknown
 * commands and options, missing or extra operands, and the locators every
 * command refuses or cannot find.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <stdio.h>
#include <string.h>

static const char *const commands[] = { "ls", "stat", "dump", "create", "rm",
	                                "key", "mutex", "send", "recv", "board",
	                                "bench", "doctor", "bridge" };

/* ---- The command line itself ------------------------------------------ */

TEST(cli_without_command_prints_usage_and_exits_2)
{
	struct t_run r;

	t_shmq(&r, NULL, (char *)NULL);
	CHECK_EQ(r.status, 2);
	CHECK_HAS(r.err, "usage: shmq [--help|--version] COMMAND");
	CHECK_EQ(strlen(r.out), 0);
}

TEST(cli_help_and_version_go_to_stdout)
{
	struct t_run r;
	size_t i;

	SHMQ(&r, "--version");
	check_ok(&r);
	CHECK_STREQ(r.out, "shmq " SHMQ_VERSION_STRING "\n");
	SHMQ(&r, "--help");
	check_ok(&r);
	CHECK_HAS(r.out, "usage: shmq [--help|--version] COMMAND");
	for (i = 0; i < NELEM(commands); i++)
		CHECK_HAS(r.out, commands[i]);
	SHMQ(&r, "help");
	check_ok(&r);
	CHECK_HAS(r.out, "usage: shmq");
}

TEST(cli_unknown_command_or_option_is_a_usage_error)
{
	struct t_run r;

	SHMQ(&r, "frobnicate");
	check_usage_error(&r, "[--help|--version]");
	CHECK_HAS(r.err, "frobnicate");
	SHMQ(&r, "--frobnicate");
	check_usage_error(&r, "[--help|--version]");
	CHECK_HAS(r.err, "--frobnicate");
	SHMQ(&r, "help", "frobnicate");
	check_usage_error(&r, "[--help|--version]");
}

TEST(cli_every_command_has_help_on_stdout)
{
	struct t_run a, b;
	char want[64];
	size_t i;

	for (i = 0; i < NELEM(commands); i++) {
		snprintf(want, sizeof(want), "usage: shmq %s", commands[i]);
		SHMQ(&a, commands[i], "--help");
		check_ok(&a);
		CHECK_HAS(a.out, want);
		CHECK_EQ(strlen(a.err), 0);
		SHMQ(&b, "help", commands[i]);
		check_ok(&b);
		CHECK_STREQ(a.out, b.out);
	}
}

TEST(cli_unknown_option_of_every_command_is_a_usage_error)
{
	struct t_run r;
	size_t i;

	for (i = 0; i < NELEM(commands); i++) {
		SHMQ(&r, commands[i], "--bogus", "x", "y");
		check_usage_error(&r, commands[i]);
		CHECK_HAS(r.err, "--bogus");
	}
}

TEST(cli_missing_or_extra_arguments_are_usage_errors)
{
	struct t_run r;

	SHMQ(&r, "stat");
	check_usage_error(&r, "stat");
	SHMQ(&r, "stat", "a", "b");
	check_usage_error(&r, "stat");
	SHMQ(&r, "dump");
	check_usage_error(&r, "dump");
	SHMQ(&r, "dump", "x", "--offset");
	check_usage_error(&r, "dump");
	SHMQ(&r, "create", "--size", "1");
	check_usage_error(&r, "create");
	SHMQ(&r, "create", "a", "b", "--size", "1");
	check_usage_error(&r, "create");
	SHMQ(&r, "create", "a", "--size");
	check_usage_error(&r, "create");
	SHMQ(&r, "rm");
	check_usage_error(&r, "rm");
	SHMQ(&r, "rm", "--orphans", "posix:x");
	check_usage_error(&r, "rm");
	SHMQ(&r, "key", "/tmp");
	check_usage_error(&r, "key");
	SHMQ(&r, "key", "/tmp", "1", "2");
	check_usage_error(&r, "key");
	SHMQ(&r, "ls", "extra");
	check_usage_error(&r, "ls");
	SHMQ(&r, "help", "ls", "stat");
	CHECK_EQ(r.status, 2);
}

/* ---- Locators ---------------------------------------------------------- */

TEST(cli_malformed_locators_are_refused_by_every_command)
{
	static const char *const cmds[] = { "stat", "dump", "rm", "create" };
	char longname[300];
	const char *bad[] = { "sysv:key=zz", "posix:a/b", longname,
		              "sysv:ftok=/nonexistent:1", "sysv:key=",
		              "posix:", "sysv:ftok=/tmp:256" };
	struct t_run r;
	size_t i, c;

	snprintf(longname, sizeof(longname), "posix:%0256d", 7);
	for (c = 0; c < NELEM(cmds); c++)
		for (i = 0; i < NELEM(bad); i++) {
			if (c == 3)
				SHMQ(&r, cmds[c], bad[i], "--size", "10");
			else
				SHMQ(&r, cmds[c], bad[i]);
			check_runtime_error(&r, bad[i]);
		}
	SHMQ(&r, "rm", "memfd:fd=0");
	CHECK_EQ(r.status, 1);
	CHECK(!posix_exists("a"));
	CHECK(!posix_exists("a/b"));
}

TEST(cli_missing_object_is_named_in_the_error)
{
	static const char *const cmds[] = { "stat", "dump", "rm" };
	struct t_run r;
	char s[64], p[96];
	size_t c;

	t_sysv_loc(s, sizeof(s), 9);
	t_posix_loc(p, sizeof(p), "absent");
	for (c = 0; c < NELEM(cmds); c++) {
		SHMQ(&r, cmds[c], s);
		check_runtime_error(&r, s);
		SHMQ(&r, cmds[c], p);
		check_runtime_error(&r, p);
	}
	SHMQ(&r, "rm", "--dry-run", p);
	check_runtime_error(&r, p);
}
