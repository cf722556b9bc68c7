/* shmq recv: a channel's messages to stdout. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int run_recv(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_recv = {
	"recv",
	"recv {NAME|--from-socket PATH} [--create] [--kind spsc|mpmc|broadcast|samples] "
	"[--capacity SIZE] [--msg-size SIZE] [--policy block|overwrite] "
	"[--hold N] [--history N] [--huge 2M] [--mode OCTAL] [--persist] [--any-owner] [--binary] [--count N] "
	"[--timeout SEC] [--writers N] [--stats]",
	"Writes the messages of channel NAME (a locator; a bare name is a\n"
	"POSIX object in /dev/shm) to stdout: one line per message (a message\n"
	"without a final newline gets one), or with --binary the bytes\n"
	"exactly. With --kind mpmc each message goes to one of the readers;\n"
	"with broadcast every reader gets every message sent after it joined.\n\n"
	"Exit status 0 at the end of the stream (every writer closed, the\n"
	"channel drained, and at least --writers writers attached over its\n"
	"life) or after --count messages. Exit 1, with one line on stderr,\n"
	"when a writer left without closing (\"writer pid P died or was\n"
	"interrupted before ending the stream; N messages received\": what came\n"
	"before is all there), on --timeout, or when the channel is\n"
	"corrupted. A broadcast reader that the writer lapped (--policy\n"
	"overwrite) goes on and says at the end how many messages it lost.\n"
	"SIGINT, SIGTERM or SIGHUP stops recv: it closes the channel (the\n"
	"last process to close it removes it) and dies of the signal (exit\n"
	"status 128 + its number).\n"
	"With --from-socket PATH there is no NAME: recv connects to the Unix\n"
	"socket PATH (shmq send --serve PATH), receives the channel over it\n"
	"and reads it as above. A server running as another user is refused\n"
	"unless --any-owner; the geometry options do not apply.\n\n"
	"  --from-socket PATH  take the channel handed over the socket PATH\n"
	"  --binary          write the messages' bytes exactly\n"
	"  --count N         stop after N messages\n"
	"  --timeout SEC     give up (exit 1) when no message came for SEC\n"
	"                    seconds (idle time, not the whole run; 0.5 works)\n"
	"  --writers N       the end of the stream counts only once N writers\n"
	"                    attached (default 1): start readers before writers\n"
	CLI_CHAN_HELP,
	run_recv,
};

#define SECOND 1000000000
#define WRITERS_POLL_NS 2000000 /* --writers: look again every 2 ms */

struct rx {
	shmq_chan *ch;
	const char *name;
	char *buf;
	size_t max;          /* the channel's largest message */
	int binary;
	uint64_t count;      /* stop after this many; 0: no limit */
	int64_t timeout_ns;  /* idle limit; 0: none */
	unsigned writers;    /* writers that must have attached */
	struct cli_rate rate;
};

static int output_fail(void)
{
	if (cli_chan_stopped())
		return CLI_STOP; /* the signal interrupted the write */
	return cli_failf("cannot write the output: %s", strerror(errno));
}

/* The stream ended: is it the end we wait for (--writers)? */
static int enough_writers(const struct rx *r)
{
	struct shmq_chan_info in;

	return shmq_chan_info(r->ch, &in) < 0 || in.writers_ever >= r->writers;
}

/* Waits for the next message: the idle timeout counts from here, the
 * progress line ticks, and an end of stream with too few writers is
 * waited out (a writer may still come). -EINTR: a signal stops us. */
static ssize_t rx_wait(struct rx *r)
{
	const struct timespec poll = { 0, WRITERS_POLL_NS };
	int64_t idle = r->timeout_ns ? cli_now_ns() + r->timeout_ns : 0;
	struct timespec ts_idle, ts_tick, ts_stop;
	const struct timespec *dl;
	ssize_t n;

	ts_idle.tv_sec = (time_t)(idle / SECOND);
	ts_idle.tv_nsec = (long)(idle % SECOND);
	for (;;) {
		dl = cli_earliest(idle ? &ts_idle : NULL,
		                  cli_rate_deadline(&r->rate, &ts_tick));
		n = shmq_chan_recv_timed(r->ch, r->buf, r->max,
		                         cli_chan_until(dl, &ts_stop));
		if (n == -EPIPE && !enough_writers(r))
			nanosleep(&poll, NULL);
		else if (n != -ETIMEDOUT)
			return n;
		if (cli_chan_stopped())
			return -EINTR;
		if (idle && cli_now_ns() >= idle)
			return -ETIMEDOUT;
		cli_rate_tick(&r->rate, r->name, "received");
	}
}

static int rx_out(struct rx *r, size_t n)
{
	int nl = !r->binary && (n == 0 || r->buf[n - 1] != '\n');

	if (fwrite(r->buf, 1, n, stdout) != n || (nl && putchar('\n') == EOF))
		return output_fail();
	cli_rate_add(&r->rate, r->name, "received", n);
	return CLI_OK;
}

static int rx_fail(struct rx *r, ssize_t err)
{
	if (err == SHMQ_EPEERDEAD)
		return cli_chan_peer_died(r->ch, r->name, SHMQ_WRITER,
		                          "received", r->rate.msgs);
	if (err == -ETIMEDOUT)
		return cli_failf("%s: timeout: no message for %.3g s; %llu "
		                 "messages received", r->name,
		                 (double)r->timeout_ns / 1e9,
		                 (unsigned long long)r->rate.msgs);
	return cli_chan_fail_after((int)err, r->name, "received",
	                           r->rate.msgs);
}

static int rx_loop(struct rx *r)
{
	ssize_t n;
	int rc;

	for (;;) {
		if (cli_chan_stopped())
			return CLI_STOP;
		n = shmq_chan_try_recv(r->ch, r->buf, r->max);
		if (n == -EAGAIN || (n == -EPIPE && !enough_writers(r))) {
			/* Nothing now: what we wrote goes out before we wait. */
			if (fflush(stdout) == EOF)
				return output_fail();
			n = rx_wait(r);
		}
		if (n >= 0) {
			if ((rc = rx_out(r, (size_t)n)) != CLI_OK)
				return rc;
			if (r->count && r->rate.msgs == r->count)
				return CLI_OK;
		} else if (n == -EPIPE) {
			return CLI_OK;
		} else if (n == -EINTR) {
			return CLI_STOP;
		} else if (n != SHMQ_ELOST) { /* lost: counted, go on */
			return rx_fail(r, n);
		}
	}
}

static int finish(struct rx *r, int rc, int stats)
{
	int err;

	if (fflush(stdout) == EOF && rc == CLI_OK)
		rc = output_fail();
	r->rate.lost = shmq_chan_lost(r->ch);
	if ((err = shmq_chan_close(r->ch)) < 0 && rc == CLI_OK)
		rc = cli_chan_fail(err, r->name);
	if (r->rate.lost)
		fprintf(stderr, "shmq: %s: lost %llu messages (the writer "
		        "overwrote them before this reader got them)\n", r->name,
		        (unsigned long long)r->rate.lost);
	if (stats)
		cli_rate_print(&r->rate, r->name, "received");
	if (rc == CLI_STOP)
		return cli_chan_stop(r->name, "received", r->rate.msgs);
	return rc;
}

/* A count of 1..max. */
static const char *parse_count(const char *text, uint64_t max, uint64_t *v)
{
	size_t n;
	const char *why = cli_parse_nonzero(text, "it must be at least 1", &n);

	if (!why && n > max)
		why = "it is too large";
	if (!why)
		*v = n;
	return why;
}

/* --count, --timeout, --writers */
static int own_option(const struct cli_cmd *cmd, int o, const char *arg,
                      void *rx)
{
	struct rx *r = rx;
	const char *why, *name = o == 'n' ? "count" : o == 't' ? "timeout"
	                                            : "writers";
	uint64_t n;

	if (o == 't')
		why = cli_parse_seconds(arg, &r->timeout_ns);
	else if (o == 'n')
		why = parse_count(arg, UINT64_MAX, &r->count);
	else if (!(why = parse_count(arg, UINT32_MAX, &n)))
		r->writers = (unsigned)n;
	if (why)
		return cli_usage_error(cmd, "invalid --%s '%s': %s", name, arg,
		                       why);
	return CLI_OK;
}

static int run_recv(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_CHAN_OPTIONS,
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "writers", required_argument, NULL, 'w' },
		{ "from-socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_chan_args a;
	struct rx r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.writers = 1;
	rc = cli_chan_parse(cmd, argc, argv, opts, &a, own_option, &r);
	if (rc != CLI_CHAN_PROCEED)
		return rc;
	r.name = a.socket ? a.socket : argv[optind];
	r.binary = a.binary;
	if (a.socket)
		rc = cli_from_socket(&a, &r.ch);
	else
		rc = cli_chan_open(&a, r.name, SHMQ_READER, &r.ch);
	if (rc != CLI_OK)
		return rc;
	r.max = shmq_chan_max_msg(r.ch);
	/* +1: an empty message still has a byte to point at */
	if (!(r.buf = malloc(r.max + 1))) {
		shmq_chan_close(r.ch);
		return cli_failf("out of memory for a %zu-byte message", r.max);
	}
	cli_rate_init(&r.rate, a.stats);
	/* Lines batch into big writes; a terminal stays line by line. */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, 64 * 1024);
	rc = finish(&r, rx_loop(&r), a.stats);
	free(r.buf);
	return rc;
}
