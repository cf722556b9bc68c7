/* The shmq tool: one file per command, shared helpers in util.c. */
#ifndef SHMQ_CLI_H
#define SHMQ_CLI_H

#include <getopt.h>
#include <sys/types.h>
#include <signal.h>
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
	cli_key, cli_mutex, cli_send, cli_recv, cli_bench, cli_board,
	cli_doctor, cli_bridge, cli_top;

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
/* shmq_explain()'s line for err about object, then this tool's options or
 * commands for the fix it names ("; with this tool: --any-owner"). The
 * library speaks of its API only: the tool's words are added here. */
char *cli_explain(int err, const char *object, size_t size, char *buf,
                  size_t len);
/* Prints "shmq: " and cli_explain()'s line; returns 1. */
int cli_fail(int err, const char *object, size_t size);
/* Prints "shmq: " and a message of our own; returns 1. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Adds to set the termination signals a user sends (SIGINT, SIGTERM,
 * SIGHUP) that are not ignored: nohup keeps SIGHUP off. */
void cli_stop_signals(sigset_t *set);
/* After a signal stopped a run and everything is removed: dies of it, so
 * that the shell sees why. Returns 128 + sig only if the signal does not
 * kill. */
int cli_die_of(int sig);

/* Parsers return NULL on success, else why the text is invalid. */
const char *cli_parse_size(const char *text, uint64_t *v); /* N[K|M|G] */
const char *cli_parse_mode(const char *text, unsigned *mode);
/* Seconds (2, 0.5) more than 0, into nanoseconds. */
const char *cli_parse_seconds(const char *text, int64_t *ns);
/* A size of at least 1 that fits a size_t; `zero` says why 0 is refused. */
const char *cli_parse_nonzero(const char *text, const char *zero, size_t *v);

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

/* ---- chan.c: what send and recv share, and the channel fields of ls and
 * stat ---- */

/* Geometry options given on the command line (struct cli_chan_args). */
enum {
	CLI_GIVEN_KIND = 1 << 0,
	CLI_GIVEN_CAPACITY = 1 << 1,
	CLI_GIVEN_MSG_SIZE = 1 << 2,
	CLI_GIVEN_POLICY = 1 << 3,
	CLI_GIVEN_MODE = 1 << 4,
	CLI_GIVEN_PERSIST = 1 << 5,
	CLI_GIVEN_HOLD = 1 << 6,
	CLI_GIVEN_HISTORY = 1 << 7,
	CLI_GIVEN_HUGE = 1 << 8,
	CLI_GIVEN_PLAIN_FENCES = 1 << 9,
};

/* How send or recv opens its channel, and how it reports. */
struct cli_chan_args {
	struct shmq_chan_opts o; /* geometry for --create */
	unsigned given;          /* CLI_GIVEN_* */
	int create, binary, stats;
	const char *socket;      /* send --serve, recv --from-socket: PATH,
	                            and no NAME */
};

/* The options send and recv share, for their getopt_long tables. */
#define CLI_CHAN_OPTIONS                                                     \
	{ "create", no_argument, NULL, 'c' },                                \
	{ "kind", required_argument, NULL, 'k' },                            \
	{ "capacity", required_argument, NULL, 'C' },                        \
	{ "msg-size", required_argument, NULL, 'M' },                        \
	{ "policy", required_argument, NULL, 'P' },                          \
	{ "mode", required_argument, NULL, 'm' },                            \
	{ "persist", no_argument, NULL, 'p' },                               \
	{ "hold", required_argument, NULL, 'H' },                            \
	{ "history", required_argument, NULL, 'y' },                         \
	{ "huge", required_argument, NULL, 'u' },                            \
	{ "plain-fences", no_argument, NULL, 'F' },                          \
	{ "binary", no_argument, NULL, 'b' },                                \
	{ "stats", no_argument, NULL, 's' },                                 \
	{ "any-owner", no_argument, NULL, 'A' },                             \
	{ "help", no_argument, NULL, 'h' }

/* Their help text. */
#define CLI_CHAN_HELP                                                        \
	"  --create          make the channel if it does not exist (race free:\n" \
	"                    every side may pass it); without it, it must exist\n" \
	"  --kind KIND       spsc (one writer, one reader; the default), mpmc\n" \
	"                    (many of each; each message to one reader),\n"    \
	"                    broadcast (one writer; every reader gets every\n"  \
	"                    message from when it joins) or samples (as\n"     \
	"                    broadcast, but each message is a sample of a pool\n" \
	"                    that every reader reads in place: no copy per\n"  \
	"                    reader, for large messages)\n"                     \
	"  --capacity SIZE   spsc: ring bytes; mpmc, broadcast: message slots;\n" \
	"                    samples: samples in the pool; rounded up to a\n"  \
	"                    power of two (spsc: at least 64), which a note on\n" \
	"                    stderr says (default 1M bytes, 1024 slots, 16\n"  \
	"                    samples)\n"                                        \
	"  --msg-size SIZE   mpmc, broadcast, samples: largest message (default\n" \
	"                    4K)\n"                                             \
	"  --policy POLICY   broadcast, samples: block (the writer waits for the\n" \
	"                    slowest reader; the default) or overwrite (it never\n" \
	"                    waits; a reader that falls behind loses messages)\n" \
	"  --hold N          samples: samples a reader may hold at once (default\n" \
	"                    1; recv holds one)\n"                              \
	"  --history N       samples: a reader that joins first gets the last N\n" \
	"                    messages sent (default 0)\n"                       \
	"  --huge 2M         samples: the pool on 2 MiB huge pages\n"           \
	"  --mode OCTAL      permission bits of a new channel (default 0600)\n" \
	"  --persist         the channel stays when the last process closes it\n" \
	"                    (remove it with shmq rm NAME)\n"                   \
	"  --plain-fences    its peers fence plainly instead of a membarrier()\n" \
	"                    at every sleep: for peers that sleep often on a VM\n" \
	"                    (shmq_chan(3), SHMQ_CHAN_PLAIN_FENCES)\n"          \
	"  --any-owner       join a channel that another user owns (refused\n" \
	"                    by default: someone may have taken the name)\n"    \
	"  --stats           at the end, print messages, bytes, rate and losses\n" \
	"                    on stderr (every second too, on a terminal)\n"     \
	"SIZE takes K, M, G (1024, 1024^2, 1024^3). --kind, --capacity,\n"     \
	"--msg-size, --policy, --hold, --history, --huge, --mode, --persist and\n" \
	"--plain-fences describe a new channel and need --create; an existing\n" \
	"channel must match the kind, policy, capacity and msg-size asked. A\n" \
	"samples pool needs capacity >= readers * hold + history + 2.\n"

/* A command's own options (not CLI_CHAN_OPTIONS): CLI_OK, or CLI_USAGE
 * after a usage error. */
typedef int (*cli_chan_own_fn)(const struct cli_cmd *cmd, int o,
                               const char *arg, void *ctx);
#define CLI_CHAN_PROCEED (-1)
/* Parses the command line of send or recv: the shared options into a (from
 * the library's defaults), the others through own; then checks them
 * together and that NAME is there. CLI_CHAN_PROCEED, or the exit code when
 * parsing ended the command. */
int cli_chan_parse(const struct cli_cmd *cmd, int argc, char **argv,
                   const struct option *opts, struct cli_chan_args *a,
                   cli_chan_own_fn own, void *ctx);
/* Opens (or with --create makes) channel name as role, and checks that an
 * existing one matches the geometry asked; from then on the stop signals
 * are caught (cli_chan_stopped). CLI_OK, or CLI_ERR after the error line. */
int cli_chan_open(const struct cli_chan_args *a, const char *name, int role,
                  shmq_chan **ch);
/* Attaches through attach(ctx, ch) as cli_chan_open does: the stop
 * signals are caught from the moment it succeeds (cli_chan_stopped). */
int cli_chan_attach(int (*attach)(void *ctx, shmq_chan **ch), void *ctx,
                    shmq_chan **ch);
/* One error line for err from a channel call on name; returns CLI_ERR. */
int cli_chan_fail(int err, const char *name);
/* The same mid-stream: the line also says "MSGS messages VERB" ("sent",
 * "received"). */
int cli_chan_fail_after(int err, const char *name, const char *verb,
                        uint64_t msgs);

/* "spsc", "mpmc", "broadcast", "samples"; "block", "overwrite". */
const char *cli_chan_kind(int kind);
const char *cli_chan_policy(int policy);
/* The SHMQ_CHAN_* create flags in flags, by their option names, into buf:
 * "persist plain-fences" (quote ""), or each quoted and comma-separated
 * (quote "\"", for JSON); "" when none. */
const char *cli_chan_flags(uint64_t flags, const char *quote, char *buf,
                           size_t len);

/* The line for SHMQ_EPEERDEAD: "NAME: writer pid P died or was
 * interrupted before ending the stream; MSGS messages VERB" ("reader pid P
 * died; ..."), the pid left out when it cannot be told. Returns CLI_ERR. */
int cli_chan_peer_died(shmq_chan *ch, const char *name, int role,
                       const char *verb, uint64_t msgs);

/*
 * A termination signal (cli_stop_signals) stops send and recv, but first
 * they let go of the channel: once cli_chan_open() holds it, those signals
 * set a flag instead of killing, and interrupt a blocked read or write
 * (no SA_RESTART). The library's waits go on after EINTR, so the commands
 * wait in slices (cli_chan_until) and look at the flag after each.
 */
#define CLI_STOP 3 /* a caught signal stopped the command; nothing printed */
#define CLI_STOP_POLL_MS 100 /* a caught signal is acted on within this */
/* The signal caught, or 0. */
int cli_chan_stopped(void);
/* Catches the stop signals from now on, as cli_chan_open() does (for a
 * command that holds something else: shmq board watch). */
void cli_catch_stop_signals(void);
/* The earlier of two deadlines (NULL: none). */
const struct timespec *cli_earliest(const struct timespec *a,
                                    const struct timespec *b);
/* The deadline of one wait: dl (NULL: none), but at most
 * CLI_STOP_POLL_MS from now (in *ts), so that a caught signal is acted on. */
const struct timespec *cli_chan_until(const struct timespec *dl,
                                      struct timespec *ts);
/* After CLI_STOP, with the channel let go of: "NAME: interrupted by
 * SIGINT; MSGS messages VERB" on stderr, then dies of the signal.
 * Returns 128 + sig only if the signal does not kill. */
int cli_chan_stop(const char *name, const char *verb, uint64_t msgs);

/* ---- pass.c: send --serve and recv --from-socket ---- */

/* A listening Unix socket that hands a channel to whoever connects. */
struct cli_serve {
	const char *path;
	int fd;        /* listening, non-blocking; -1: not serving */
	dev_t dev;     /* the socket file we made: removed at the end only */
	ino_t ino;     /* if the path still names it */
};
/* Makes channel a->o as writer (a memfd: nothing in /dev/shm) and the
 * socket at a->socket, mode a->o.mode (0: 0600). An existing socket that
 * nobody listens at is replaced, anything else is refused. CLI_OK, or
 * CLI_ERR after the error line (nothing left). */
int cli_serve_open(const struct cli_chan_args *a, struct cli_serve *s,
                   shmq_chan **ch);
/* Hands ch to every caller waiting at the socket; never blocks. */
void cli_serve_pending(struct cli_serve *s, shmq_chan *ch);
/* Closes the socket and removes its file. */
void cli_serve_close(struct cli_serve *s);
/* Connects to a->socket and receives its channel as a reader. CLI_OK or
 * CLI_ERR after the error line. */
int cli_from_socket(const struct cli_chan_args *a, shmq_chan **ch);

/* Messages, bytes and time, for --stats. */
struct cli_rate {
	uint64_t msgs, bytes, lost;
	int64_t t0;   /* first message, CLOCK_MONOTONIC ns; 0 before it */
	int64_t next; /* next progress line; 0: none (stderr no terminal) */
	int progress; /* a progress line is on the terminal */
};
void cli_rate_init(struct cli_rate *r, int stats);
/* One more message of n bytes. */
void cli_rate_add(struct cli_rate *r, const char *name, const char *verb,
                  size_t n);
/* When the next progress line is due, in *ts; NULL when none is. */
const struct timespec *cli_rate_deadline(const struct cli_rate *r,
                                         struct timespec *ts);
/* Prints the progress line if it is due. */
void cli_rate_tick(struct cli_rate *r, const char *name, const char *verb);
/* "shmq: NAME: VERB 12 messages, 34 bytes in 0.5 s (...)" on stderr. */
void cli_rate_print(struct cli_rate *r, const char *name, const char *verb);
/* CLOCK_MONOTONIC in nanoseconds. */
int64_t cli_now_ns(void);
/* A CLOCK_MONOTONIC time in ns as a timespec (a deadline). */
struct timespec cli_ts_of(int64_t ns);

/* Writes ', "channel": {...}' for a channel (what shmq_chan_stat tells:
 * type, geometry, depth, writers and readers, counters), else
 * ', "channel": null'. */
void cli_json_chan(FILE *f, const struct shmq_stat *st);

#endif
