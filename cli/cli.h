/* The shmq tool: one file per command, shared helpers in util.c. */
#ifndef SHMQ_CLI_H
#define SHMQ_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "shmq.h"

/* Exit codes: success, runtime error, usage error. */
enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

#define CLI_MAIN_USAGE "[--help|--version] COMMAND [ARG...]"

struct cli_cmd {
	const char *name;
	const char *usage; /* after "usage: shmq " */
	const char *help;  /* what it does and its options */
	int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
};

extern const struct cli_cmd cli_ls, cli_stat, cli_dump, cli_create, cli_rm,
	cli_key, cli_mutex;

/* ---- util.c ---- */

/* cli_getopt() results besides an option's val. */
enum { CLI_OPT_END = -1, CLI_OPT_HELP = -2, CLI_OPT_BAD = -3 };

/*
 * getopt_long over a command's argv (argv[0] is the command name). --help
 * prints the command's help and gives CLI_OPT_HELP; an unknown option or a
 * missing argument prints a usage error and gives CLI_OPT_BAD.
 */
int cli_getopt(const struct cli_cmd *cmd, int argc, char **argv,
               const struct option *opts);
/* The exit code for a cli_getopt() result that ended the parse early. */
int cli_opt_exit(int opt);

/* 0 if exactly n operands follow the options (what names them, e.g.
 * "LOCATOR"), else a usage error and 2. */
int cli_operands(const struct cli_cmd *cmd, int argc, char **argv, int n,
                 const char *what);

void cli_print_help(const struct cli_cmd *cmd, FILE *f);
/* Prints "shmq CMD: message" and the usage line on stderr; returns 2.
 * cmd NULL: the usage of shmq itself. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints "shmq: " and the library's line for err about object; returns 1. */
int cli_fail(int err, const char *object, size_t size);
/* Prints "shmq: " and a message of our own; returns 1. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parsers return NULL on success, else why the text is invalid. */
const char *cli_parse_size(const char *text, uint64_t *v); /* N[K|M|G] */
const char *cli_parse_mode(const char *text, unsigned *mode);

/* "sysv", "sysv-sem", "sysv-msg", "posix", "posix-sem" or "memfd". */
const char *cli_family(int family);
/* Whether family is named by key and id (sysv, sysv-sem, sysv-msg). */
int cli_is_sysv(int family);

/* Owner name of uid, or its number. */
const char *cli_user(uid_t uid, char *buf, size_t len);

/* Writes text as a JSON string literal, quotes included. */
void cli_json_str(FILE *f, const char *text);
/* Writes st as one JSON object (no trailing newline). */
void cli_json_stat(FILE *f, const struct shmq_stat *st);
/* Replaces control characters with '?' in place: names are untrusted and
 * must not drive the terminal. Returns text. */
char *cli_scrub(char *text);

#endif
