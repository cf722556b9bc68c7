/* shmq send: stdin into a channel, a message per line or in chunks. */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int run_send(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_send = {
	"send",
	"send {NAME|--serve PATH} [--create] [--kind spsc|mpmc|broadcast|samples] "
	"[--capacity SIZE] [--msg-size SIZE] [--policy block|overwrite] "
	"[--hold N] [--history N] [--huge 2M] [--mode OCTAL] [--persist] [--any-owner] [--binary] [--readers N] "
	"[--stats]",
	"Sends stdin into channel NAME (a locator; a bare name is a POSIX\n"
	"object in /dev/shm): one message per line, its newline kept, or with\n"
	"--binary the bytes exactly, in chunks of up to 64K (or the channel's\n"
	"largest message). A line longer than the channel's largest message is\n"
	"an error. It waits while the channel is full, and closes it at the\n"
	"end of stdin: readers then see the end of the stream. The last\n"
	"process to close a channel removes it, unless --persist.\n"
	"Like a named pipe's writer, send never drops data silently: it waits\n"
	"for its first reader before the first message (--readers; given, also\n"
	"before it closes an empty input), and when\n"
	"no reader is attached any more while the channel is full, or at the\n"
	"end with messages unread that its close would remove (no reader, no\n"
	"other writer attached, no --persist), it exits 1 saying how many\n"
	"messages were not read.\n"
	"If send fails part way (a line too long, a read error) or a signal\n"
	"stops it (SIGINT, SIGTERM, SIGHUP) while readers are attached, it\n"
	"exits without closing, so that they see the writer die (recv exits\n"
	"1) and never take a cut stream for a whole one. Stopped by such a\n"
	"signal, it dies of it (exit status 128 + its number); with no reader\n"
	"attached it closes the channel first, so that one it made and nobody\n"
	"else holds is removed.\n"
	"With --serve PATH there is no NAME: send makes an unnamed channel (a\n"
	"memfd: nothing in /dev/shm, no name to squat or leave behind) with\n"
	"the geometry options (no --create needed), listens at the Unix socket\n"
	"PATH (mode 0600, or --mode), says so on stderr, and hands the\n"
	"channel to each process that connects (shmq recv --from-socket\n"
	"PATH). A socket left at PATH by a server that was killed is replaced;\n"
	"any other file there is refused. PATH is removed at the end, also\n"
	"when a signal stops send.\n\n"
	"  --serve PATH      hand an unnamed channel over the socket PATH\n"
	"  --binary          send the bytes of stdin as they come, not lines\n"
	"  --readers N       wait until N readers are attached before the\n"
	"                    first message (default 1; 0: do not wait;\n"
	"                    broadcast readers see messages from when they\n"
	"                    join)\n"
	CLI_CHAN_HELP,
	run_send,
};

#define CHUNK (64u * 1024)
#define READERS_POLL_NS 2000000 /* --readers: look again every 2 ms */

struct tx {
	shmq_chan *ch;
	struct cli_serve serve; /* --serve: fd -1 otherwise */
	const char *name;
	size_t max;       /* the channel's largest message */
	unsigned readers; /* to wait for before the first message */
	int readers_set;  /* --readers given: an empty input waits too */
	int started;      /* they came: the first message may go */
	struct cli_rate rate;
};

/* A send that fails with readers attached exits without closing (see the
 * help); the handle stays reachable here, so no leak checker calls it a
 * leak. volatile: the store must not be optimised away. */
static shmq_chan *volatile abandoned;

/* Waits until t->readers readers are attached: 0, -EINTR when a signal
 * stops us, or a channel error. */
static int wait_readers(struct tx *t)
{
	const struct timespec poll = { 0, READERS_POLL_NS };
	struct shmq_chan_info in;
	int err;

	for (;;) {
		cli_serve_pending(&t->serve, t->ch);
		if ((err = shmq_chan_info(t->ch, &in)) < 0)
			return err;
		/* Readers that came and already went count too: waiting for
		 * them cannot help, and the sends will say what became of
		 * them (a dead reader, a full ring). */
		if (in.readers >= t->readers || in.readers_ever >= t->readers)
			return 0;
		if (cli_chan_stopped())
			return -EINTR;
		nanosleep(&poll, NULL);
	}
}

/* The channel is full: -EPIPE when no reader is attached any more, as a
 * pipe's writer gets EPIPE, else 0 (someone may still read). */
static int readers_gone(struct tx *t)
{
	struct shmq_chan_info in;

	return shmq_chan_info(t->ch, &in) == 0 && in.readers_ever &&
	       !in.readers ? -EPIPE : 0;
}

/* One message; the first waits for the readers. While the channel is full
 * it waits, with the progress line (if any) ticking. -EINTR: a signal
 * stops us. */
static int tx_send(struct tx *t, const void *p, size_t n)
{
	struct timespec ts, ts_stop;
	int rc;

	if (!t->started && (rc = wait_readers(t)) < 0)
		return rc;
	t->started = 1;
	rc = shmq_chan_try_send(t->ch, p, n);
	while (rc == -EAGAIN) {
		rc = shmq_chan_send_timed(t->ch, p, n, cli_chan_until(
		        cli_rate_deadline(&t->rate, &ts), &ts_stop));
		if (rc == -ETIMEDOUT) {
			if (cli_chan_stopped())
				return -EINTR;
			cli_serve_pending(&t->serve, t->ch);
			if ((rc = readers_gone(t)) < 0)
				return rc;
			cli_rate_tick(&t->rate, t->name, "sent");
			rc = -EAGAIN;
		}
	}
	if (rc == 0)
		cli_rate_add(&t->rate, t->name, "sent", n);
	return rc;
}

/* No reader is attached and msgs messages are unread: exit 1, not 0. */
static int unread_fail(struct tx *t, uint64_t msgs)
{
	return cli_failf("%s: no reader is attached and %llu messages were not "
	                 "read (start a reader first, or keep them with "
	                 "--persist); %llu messages sent", t->name,
	                 (unsigned long long)msgs,
	                 (unsigned long long)t->rate.msgs);
}

static int send_fail(struct tx *t, int err)
{
	struct shmq_chan_info in;

	if (err == -EINTR)
		return CLI_STOP;
	if (err == -EPIPE && shmq_chan_info(t->ch, &in) == 0)
		return unread_fail(t, in.depth_msgs);
	if (err == SHMQ_EPEERDEAD)
		return cli_chan_peer_died(t->ch, t->name, SHMQ_READER, "sent",
		                          t->rate.msgs);
	return cli_chan_fail_after(err, t->name, "sent", t->rate.msgs);
}

static int read_fail(void)
{
	if (errno == EINTR)
		return CLI_STOP;
	return cli_failf("cannot read stdin: %s", strerror(errno));
}

/* read(2) of stdin; -1 with errno EINTR once a signal stops us. It waits
 * in poll(2) slices first: a signal caught just before a read would not
 * interrupt it. Callers at the --serve socket are served meanwhile. */
static ssize_t read_in(struct tx *t, void *buf, size_t len)
{
	struct pollfd in[2] = { { STDIN_FILENO, POLLIN, 0 },
		                { t->serve.fd, POLLIN, 0 } };
	ssize_t n;
	int ready;

	for (;;) {
		if (cli_chan_stopped()) {
			errno = EINTR;
			return -1;
		}
		ready = poll(in, t->serve.fd >= 0 ? 2 : 1, CLI_STOP_POLL_MS);
		if (ready > 0 && in[1].revents) {
			cli_serve_pending(&t->serve, t->ch);
			continue;
		}
		if (ready == 0 || (ready < 0 && errno == EINTR))
			continue;
		if ((n = read(STDIN_FILENO, buf, len)) >= 0 || errno != EINTR)
			return n;
	}
}

/* A line too long for the channel, of which n bytes are read (all of it if
 * whole): the rest is read and counted, so the error names both sizes. */
static int too_long(struct tx *t, size_t n, int whole)
{
	char tmp[4096], *nl;
	ssize_t got;

	while (!whole && (got = read_in(t, tmp, sizeof(tmp))) > 0) {
		nl = memchr(tmp, '\n', (size_t)got);
		n += nl ? (size_t)(nl - tmp) + 1 : (size_t)got;
		whole = nl != NULL;
	}
	return cli_failf("%s: line %llu is longer than the channel's largest "
	                 "message (%zu bytes); use --binary, or a channel "
	                 "made with a larger --capacity (spsc) or --msg-size "
	                 "(the line has %zu bytes)", t->name,
	                 (unsigned long long)t->rate.msgs + 1, t->max, n);
}

/* Sends every complete line in buf[0..len); moves the rest to the front
 * and returns its length in *len. */
static int send_complete(struct tx *t, char *buf, size_t *len, size_t *scan)
{
	size_t start = 0;
	char *nl;
	int err;

	while ((nl = memchr(buf + *scan, '\n', *len - *scan))) {
		size_t n = (size_t)(nl - (buf + start)) + 1;
		if (n > t->max)
			return too_long(t, n, 1);
		if ((err = tx_send(t, buf + start, n)) < 0)
			return send_fail(t, err);
		start += n;
		*scan = start;
	}
	memmove(buf, buf + start, *len - start);
	*len -= start;
	*scan = *len; /* what is left holds no newline */
	return *len > t->max ? too_long(t, *len, 0) : CLI_OK;
}

/* A message per line. The buffer grows to the largest message + 1, so a
 * line that still has no newline past that is too long. */
static int send_lines(struct tx *t)
{
	size_t cap = t->max < CHUNK ? t->max + 1 : CHUNK, len = 0, scan = 0;
	char *buf = malloc(cap), *bigger;
	int rc = CLI_OK, err;
	ssize_t n;

	if (!buf)
		return cli_failf("out of memory");
	while (rc == CLI_OK) {
		if (len == cap) {
			cap = cap * 2 > t->max + 1 ? t->max + 1 : cap * 2;
			if (!(bigger = realloc(buf, cap))) {
				rc = cli_failf("out of memory");
				break;
			}
			buf = bigger;
		}
		n = read_in(t, buf + len, cap - len);
		if (n < 0) {
			rc = read_fail();
		} else if (n == 0) { /* the last line may lack its newline */
			if (len && (err = tx_send(t, buf, len)) < 0)
				rc = send_fail(t, err);
			break;
		} else {
			len += (size_t)n;
			rc = send_complete(t, buf, &len, &scan);
		}
	}
	free(buf);
	return rc;
}

/* The bytes as read(2) gives them, each read one message. */
static int send_chunks(struct tx *t)
{
	size_t chunk = t->max < CHUNK ? t->max : CHUNK;
	char *buf = malloc(chunk);
	int rc = CLI_OK, err;
	ssize_t n;

	if (!buf)
		return cli_failf("out of memory");
	while ((n = read_in(t, buf, chunk)) > 0)
		if ((err = tx_send(t, buf, (size_t)n)) < 0) {
			rc = send_fail(t, err);
			break;
		}
	if (n < 0 && rc == CLI_OK)
		rc = read_fail();
	free(buf);
	return rc;
}

/* At the end: would our close remove messages nobody read? It would with
 * no reader and no other writer attached, unless the channel persists. A
 * broadcast channel keeps no depth without readers: what was sent after
 * the last one left went to none; nor does a samples channel (its history
 * is for readers to come, not a queue). */
static int check_unread(struct tx *t, int persist)
{
	struct shmq_chan_info in;

	if (persist || shmq_chan_info(t->ch, &in) < 0 || in.readers ||
	    in.writers > 1 || !t->rate.msgs)
		return CLI_OK;
	if (in.kind == SHMQ_CHAN_BROADCAST || in.kind == SHMQ_CHAN_SAMPLES)
		return cli_failf("%s: no reader is attached: what was sent after "
		                 "the last one closed was read by none; %llu "
		                 "messages sent", t->name,
		                 (unsigned long long)t->rate.msgs);
	return in.depth_msgs ? unread_fail(t, in.depth_msgs) : CLI_OK;
}

/* Closes the channel, or after a failure with readers attached leaves it
 * for them to see the writer die. */
static int finish(struct tx *t, int rc, const struct cli_chan_args *a)
{
	struct shmq_chan_info in;
	int err;

	/* With --readers an empty stream is a stream: its readers see it
	 * end, not a channel our close removed before they came. */
	if (rc == CLI_OK && !t->started && t->readers_set &&
	    (err = wait_readers(t)) < 0)
		rc = err == -EINTR ? CLI_STOP : cli_chan_fail(err, t->name);
	cli_serve_close(&t->serve); /* nobody new from here on */
	if (rc == CLI_OK)
		rc = check_unread(t, a->o.flags & SHMQ_CHAN_PERSIST);
	if (rc != CLI_OK && shmq_chan_info(t->ch, &in) == 0 && in.readers) {
		abandoned = t->ch;
	} else if ((err = shmq_chan_close(t->ch)) < 0 && rc == CLI_OK) {
		rc = cli_chan_fail(err, t->name);
	}
	if (a->stats)
		cli_rate_print(&t->rate, t->name, "sent");
	if (rc == CLI_STOP)
		return cli_chan_stop(t->name, "sent", t->rate.msgs);
	return rc;
}

/* A spsc channel takes one reader: waiting for more would never end. */
static int check_readers(const struct tx *t)
{
	struct shmq_chan_info in;
	int err;

	if ((err = shmq_chan_info(t->ch, &in)) < 0)
		return cli_chan_fail(err, t->name);
	if (in.kind == SHMQ_CHAN_SPSC && t->readers > 1)
		return cli_failf("%s: a spsc channel takes one reader; --readers "
		                 "%u would wait forever", t->name, t->readers);
	return CLI_OK;
}

/* --readers N */
static int own_option(const struct cli_cmd *cmd, int o, const char *arg,
                      void *tx)
{
	struct tx *t = tx;
	const char *why;
	uint64_t n;

	(void)o; /* 'r', the only one */
	why = cli_parse_size(arg, &n);
	if (!why && n >= SHMQ_CHAN_MAX_PEERS)
		why = "a channel has room for 63 readers at most";
	if (why)
		return cli_usage_error(cmd, "invalid --readers '%s': %s", arg,
		                       why);
	t->readers = (unsigned)n;
	t->readers_set = 1;
	return CLI_OK;
}

static int run_send(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_CHAN_OPTIONS,
		{ "readers", required_argument, NULL, 'r' },
		{ "serve", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_chan_args a;
	struct tx t;
	int rc;

	memset(&t, 0, sizeof(t));
	t.readers = 1;
	t.serve.fd = -1;
	rc = cli_chan_parse(cmd, argc, argv, opts, &a, own_option, &t);
	if (rc != CLI_CHAN_PROCEED)
		return rc;
	t.name = a.socket ? a.socket : argv[optind];
	if (a.socket)
		rc = cli_serve_open(&a, &t.serve, &t.ch);
	else
		rc = cli_chan_open(&a, t.name, SHMQ_WRITER, &t.ch);
	if (rc != CLI_OK)
		return rc;
	t.max = shmq_chan_max_msg(t.ch);
	cli_rate_init(&t.rate, a.stats);
	rc = check_readers(&t);
	if (rc == CLI_OK)
		rc = a.binary ? send_chunks(&t) : send_lines(&t);
	return finish(&t, rc, &a);
}
