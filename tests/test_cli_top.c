/*
 * shmq top: driven in a real terminal (tmux: send-keys, capture-pane,
 * resize-window) while a paced writer and a reader run, and through
 * --once --json field by field; a reader stopped with SIGSTOP shows as
 * stuck, a reader killed with SIGKILL as a dead peer not yet settled; no
 * terminal (TERM=dumb, a pipe) falls back to one sample. The counters top
 * needs (bytes per peer, a broadcast reader's lag) are checked through
 * shmq_chan_info too.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG 100          /* bytes a message */
#define RATE 200         /* messages a second of the paced writer */
#define WAIT_S 15        /* the bound of every poll for a condition */

/* ---- Peers -------------------------------------------------------------- */

/* Joins channel loc as role, making it with o if it is not there (both
 * sides may: whoever comes first makes it). */
static shmq_chan *join(const char *loc, int role,
                       const struct shmq_chan_opts *o)
{
	struct shmq_chan_opts j = *o;
	shmq_chan *ch = NULL;
	j.flags |= SHMQ_OPEN_OK;
	CHECK_EQ(shmq_chan_create(&ch, loc, role, &j), 0);
	return ch;
}

/* A child named comm that writes MSG-byte messages at RATE a second into
 * loc (made by the caller) until killed. Pacing, not synchronization: an
 * absolute schedule, so a late wakeup catches up. */
static pid_t paced_writer(const char *loc, const struct shmq_chan_opts *o,
                          const char *comm)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid)
		return pid;
	prctl(PR_SET_NAME, comm);
	shmq_chan *ch = join(loc, SHMQ_WRITER, o);
	char msg[MSG];
	struct timespec at;
	memset(msg, 'x', sizeof(msg));
	clock_gettime(CLOCK_MONOTONIC, &at);
	for (;;) {
		at.tv_nsec += 1000000000 / RATE;
		if (at.tv_nsec >= 1000000000) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
		if (shmq_chan_send(ch, msg, sizeof(msg)) < 0)
			_exit(1);
	}
}

/* A child named comm that reads loc until killed; returns once attached
 * (it writes a byte to a pipe). */
static pid_t reader(const char *loc, const struct shmq_chan_opts *o,
                    const char *comm)
{
	int fds[2];
	char c;
	CHECK_EQ(pipe(fds), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid) {
		close(fds[1]);
		CHECK_EQ(read(fds[0], &c, 1), 1);
		close(fds[0]);
		return pid;
	}
	prctl(PR_SET_NAME, comm);
	shmq_chan *ch = join(loc, SHMQ_READER, o);
	char buf[4096];
	CHECK_EQ(write(fds[1], "r", 1), 1);
	for (;;) {
		ssize_t n = shmq_chan_recv(ch, buf, sizeof(buf));
		if (n < 0 && n != SHMQ_ELOST)
			_exit(0); /* the writer is gone */
	}
}

/* a and b within 1% (numbers printed with 3 decimals each) */
static int near(double a, double b)
{
	double d = a > b ? a - b : b - a;
	return d <= 0.01 * (a > b ? a : b) + 0.01;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	t_wait(pid);
}

/* Waits (bounded) until the channel has counted n messages received. */
static void until_received(const char *loc, uint64_t n)
{
	struct shmq_chan_info in;
	int64_t end = t_now_ns() + WAIT_S * 1000000000LL;
	do {
		CHECK_EQ(shmq_chan_stat(loc, &in), 0);
		if (in.received >= n)
			return;
		nanosleep(&(struct timespec){0, 5000000}, NULL);
	} while (t_now_ns() < end);
	t_fail(__FILE__, __LINE__, "until_received", "%llu < %llu after %d s",
	       (unsigned long long)in.received, (unsigned long long)n, WAIT_S);
}

/* ---- tmux --------------------------------------------------------------- */

/* A tmux server of this test (not a daemon: in the test's process group,
 * killed with it), whose config starts one session running cmd. */
struct term {
	char sock[108];
	pid_t server;
};

static void tmux(struct t_run *r, const struct term *t, ...)
	__attribute__((sentinel));
static void tmux(struct t_run *r, const struct term *t, ...)
{
	char *argv[16] = { "tmux", "-S", (char *)t->sock };
	int n = 3;
	va_list ap;
	va_start(ap, t);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	t_exec(r, NULL, argv);
}

static void term_start(struct term *t, int cols, const char *cmd)
{
	char conf[128], name[64], text[1024];
	static struct t_run r;

	if (!t_have_program("tmux"))
		t_skip_dep("tmux", "shmq top is driven in a tmux terminal");
	t_sock_path(t->sock, sizeof(t->sock), "tmux");
	snprintf(conf, sizeof(conf), "/tmp/%s.conf",
	         t_name(name, sizeof(name), "tmux"));
	snprintf(text, sizeof(text),
	         "set -g default-terminal screen\n"
	         "set -g remain-on-exit on\n"
	         "new-session -d -s top -x %d -y 40 \"%s\"\n", cols, cmd);
	int fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	t->server = fork();
	CHECK(t->server >= 0);
	if (!t->server) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0), dup2(null, 1), dup2(null, 2);
		execlp("tmux", "tmux", "-D", "-S", t->sock, "-f", conf,
		       (char *)NULL);
		_exit(127);
	}
	/* Up once it answers for the session its config made. */
	int64_t end = t_now_ns() + WAIT_S * 1000000000LL;
	do {
		tmux(&r, t, "has-session", "-t", "top", (char *)NULL);
		if (r.status == 0) {
			unlink(conf);
			return;
		}
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	} while (t_now_ns() < end);
	t_fail(__FILE__, __LINE__, "tmux", "no session after %d s: %s",
	       WAIT_S, r.err);
}

static void term_stop(struct term *t)
{
	static struct t_run r;
	tmux(&r, t, "kill-server", (char *)NULL);
	t_wait(t->server);
	unlink(t->sock);
}

/* The screen as the terminal shows it. */
static const char *screen(const struct term *t)
{
	static struct t_run r;
	tmux(&r, t, "capture-pane", "-p", "-t", "top", (char *)NULL);
	CHECK_EQ(r.status, 0);
	return r.out;
}

/* Waits (bounded) until the screen shows what `ok` looks for; returns it. */
static const char *until_screen(const struct term *t,
                                int (*ok)(const char *s, const void *arg),
                                const void *arg, const char *what)
{
	int64_t end = t_now_ns() + WAIT_S * 1000000000LL;
	const char *s;
	do {
		if (ok(s = screen(t), arg))
			return s;
		nanosleep(&(struct timespec){0, 20000000}, NULL);
	} while (t_now_ns() < end);
	t_fail(__FILE__, __LINE__, "until_screen", "no %s after %d s:\n%s",
	       what, WAIT_S, s);
}

static int has(const char *s, const void *needle)
{
	return strstr(s, needle) != NULL;
}

static int lacks(const char *s, const void *needle)
{
	return strstr(s, needle) == NULL;
}

/* Whether top in the pane has exited. */
static int pane_dead(const struct term *t)
{
	static struct t_run r;
	tmux(&r, t, "display-message", "-p", "-t", "top", "#{pane_dead}",
	     (char *)NULL);
	return r.status == 0 && r.out[0] == '1';
}

static void until_pane_dead(const struct term *t)
{
	int64_t end = t_now_ns() + WAIT_S * 1000000000LL;
	while (!pane_dead(t)) {
		if (t_now_ns() > end)
			t_fail(__FILE__, __LINE__, "pane_dead",
			       "top still runs after %d s:\n%s", WAIT_S,
			       screen(t));
		nanosleep(&(struct timespec){0, 20000000}, NULL);
	}
}

/* The command line of top in the pane. */
static const char *top_cmd(char *buf, size_t len, const char *env,
                           const char *args)
{
	snprintf(buf, len, "%s exec %s top %s", env, t_shmq_bin(), args);
	return buf;
}

/* The line of the screen that starts with name (a channel's row). */
static const char *row(const char *s, const char *name, char *buf, size_t len)
{
	char needle[96];
	snprintf(needle, sizeof(needle), "\n%s ", name);
	const char *p = strstr(s, needle);
	buf[0] = '\0';
	if (p)
		snprintf(buf, len, "%.*s", (int)strcspn(p + 1, "\n"), p + 1);
	return buf;
}

/* The channel's row shows an IN/s (third column) that is a number. */
static int rate_shown(const char *s, const void *name)
{
	char line[512], n1[64], kind[32], in[32];
	row(s, name, line, sizeof(line));
	return sscanf(line, "%63s %31s %31s", n1, kind, in) == 3 &&
	       strcmp(in, "?") != 0;
}

/* ---- JSON --------------------------------------------------------------- */

/* The value after "key": in text (from its start), as a number; fails the
 * test if missing or null. */
static double jnum(const char *text, const char *key)
{
	char needle[64];
	snprintf(needle, sizeof(needle), "\"%s\": ", key);
	const char *p = strstr(text, needle);
	if (!p || !strncmp(p + strlen(needle), "null", 4))
		t_fail(__FILE__, __LINE__, "jnum", "no number %s in %s", key,
		       text);
	return strtod(p + strlen(needle), NULL);
}

/* The JSON line of channel loc (top --once --json puts one a line). */
static const char *jchan(const char *out, const char *loc, char *buf,
                         size_t len)
{
	char needle[128];
	snprintf(needle, sizeof(needle), "{\"locator\": \"posix:%s\"", loc);
	line_with(out, needle, buf, len);
	if (!buf[0])
		t_fail(__FILE__, __LINE__, "jchan", "no %s in:\n%s", loc, out);
	return buf;
}

/* The part of a channel's JSON line from its readers on. */
static const char *jreaders(const char *line)
{
	const char *p = strstr(line, "\"readers\": [");
	CHECK(p != NULL);
	return p;
}

/* ---- Tests -------------------------------------------------------------- */

TEST(chan_info_counts_bytes_and_reader_lag_per_peer)
{
	static const int kinds[] = { SHMQ_CHAN_SPSC, SHMQ_CHAN_MPMC,
	                             SHMQ_CHAN_BROADCAST, SHMQ_CHAN_SAMPLES };
	char loc[64], buf[64];
	for (size_t k = 0; k < NELEM(kinds); k++) {
		t_name(loc, sizeof(loc), "bytes");
		shmq_chan *w = t_chan_make(loc, kinds[k], 256, SHMQ_WRITER, 0);
		shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
		for (size_t n = 1; n <= 5; n++)
			CHECK_EQ(shmq_chan_send(w, "0123456789", n), 0);
		CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 1);
		const void *p;
		CHECK_EQ(shmq_chan_peek(r, &p), 2);
		CHECK_EQ(shmq_chan_release(r), 0);
		struct shmq_chan_info in;
		CHECK_EQ(shmq_chan_stat(loc, &in), 0);
		CHECK_EQ(in.npeers, 2);
		for (unsigned i = 0; i < in.npeers; i++) {
			const struct shmq_chan_peer_info *pi = &in.peers[i];
			int wr = pi->role == SHMQ_WRITER;
			CHECK_EQ(pi->bytes, wr ? 1 + 2 + 3 + 4 + 5 : 1 + 2);
			CHECK_EQ(pi->msgs, wr ? 5 : 2);
			CHECK_EQ(pi->unsettled, 0);
			/* 3 messages wait for the reader (mpmc: no lag of its own) */
			CHECK_EQ(pi->queued, wr || kinds[k] == SHMQ_CHAN_MPMC ? 0 : 3);
		}
		CHECK_EQ(shmq_chan_close(r), 0);
		CHECK_EQ(shmq_chan_close(w), 0);
	}
}

TEST(cli_top_shows_a_paced_channel_live_in_tmux)
{
	char loc[64], cmd[512], line[512];
	struct term t;
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SPSC, .capacity = 65536};
	t_name(loc, sizeof(loc), "live");
	pid_t r = reader(loc, &o, "topreader");
	pid_t w = paced_writer(loc, &o, "topwriter");
	const char *name = loc;
	term_start(&t, 160, top_cmd(cmd, sizeof(cmd), "",
	                            "--interval 0.5 --sort depth"));
	const char *s = until_screen(&t, rate_shown, name, "rate");
	/* IN/s and OUT/s near the writer's pace (a loaded machine may
	 * deliver late, the schedule catches up) */
	char n1[64], kind[32];
	double in, out;
	CHECK_EQ(sscanf(row(s, name, line, sizeof(line)), "%63s %31s %lf %lf",
	                n1, kind, &in, &out), 4);
	CHECK_STREQ(kind, "spsc");
	if (in < RATE * 0.3 || in > RATE * 1.7 || out < RATE * 0.3 ||
	    out > RATE * 1.7)
		t_fail(__FILE__, __LINE__, "rate", "IN/s %g OUT/s %g, paced at "
		       "%d:\n%s", in, out, RATE, s);
	CHECK_HAS(s, "sort depth");
	char want[96];
	snprintf(want, sizeof(want), "writer %7d topwriter       alive", (int)w);
	CHECK_HAS(s, want);
	snprintf(want, sizeof(want), "reader %7d topreader       alive", (int)r);
	CHECK_HAS(s, want);
	/* keys: r sorts by rate, q quits */
	static struct t_run k;
	tmux(&k, &t, "send-keys", "-t", "top", "r", (char *)NULL);
	until_screen(&t, has, "sort rate", "sort rate after the key r");
	tmux(&k, &t, "send-keys", "-t", "top", "q", (char *)NULL);
	until_pane_dead(&t);
	term_stop(&t);
	stop(w);
	stop(r);
}

/* Every line of the screen at most cols wide. */
static void check_width(const char *s, size_t cols)
{
	for (const char *p = s; *p; p++) {
		size_t n = strcspn(p, "\n");
		if (n > cols)
			t_fail(__FILE__, __LINE__, "width", "a line wider than "
			       "%zu:\n%s", cols, s);
		p += n;
		if (!*p)
			break;
	}
}

TEST(cli_top_rerenders_at_the_new_width_when_the_terminal_resizes)
{
	char loc[64], cmd[512];
	struct term t;
	static struct t_run k;
	t_name(loc, sizeof(loc), "resize");
	shmq_chan *w = t_chan_make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_WRITER, 0);
	/* a long interval: only the resize can redraw in time */
	term_start(&t, 150, top_cmd(cmd, sizeof(cmd), "", "--interval 60"));
	until_screen(&t, has, "RECOV", "all columns at 150");
	tmux(&k, &t, "resize-window", "-t", "top", "-x", "60", (char *)NULL);
	CHECK_EQ(k.status, 0);
	const char *s = until_screen(&t, lacks, "IN B/s", "the narrow table");
	CHECK_HAS(s, "CHANNEL");
	CHECK_HAS(s, "IN/s");
	CHECK_HAS(s, loc);
	check_width(s, 60);
	tmux(&k, &t, "resize-window", "-t", "top", "-x", "150", (char *)NULL);
	until_screen(&t, has, "RECOV", "all columns again at 150");
	term_stop(&t);
	CHECK_EQ(shmq_chan_close(w), 0);
}

TEST(cli_top_once_json_gives_each_field)
{
	char loc[64], line[8192];
	static struct t_run r;
	t_name(loc, sizeof(loc), "json");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_BROADCAST, .capacity = 64,
	                           .msg_size = 128};
	pid_t rd = reader(loc, &o, "jsonreader");
	pid_t w = paced_writer(loc, &o, "jsonwriter");
	until_received(loc, 10); /* flowing */
	SHMQ(&r, "top", "--once", "--json", "--interval", "0.5", "--stuck", "60");
	check_ok(&r);
	CHECK_HAS(r.out, "{\"interval_s\": 0.500, \"stuck_after_s\": 60.000, "
	          "\"channels\": [");
	CHECK_HAS(r.out, "\"other\": [");
	jchan(r.out, loc, line, sizeof(line));
	CHECK_HAS(line, "\"error\": null, \"kind\": \"broadcast\", "
	          "\"policy\": \"block\", \"capacity\": 64, \"msg_size\": 128");
	CHECK_HAS(line, "\"stuck\": false, \"unsettled\": 0");
	double in = jnum(line, "in_msgs_per_s");
	CHECK(in > RATE * 0.3 && in < RATE * 1.7);
	CHECK(near(jnum(line, "in_bytes_per_s"), in * MSG)); /* one writer */
	CHECK(near(jnum(line, "out_msgs_per_s"), in) ||
	      jnum(line, "out_msgs_per_s") > RATE * 0.3);
	CHECK(jnum(line, "depth_msgs") <= 64);
	CHECK(jnum(line, "depth_bytes") == jnum(line, "depth_msgs") * 128);
	/* printed to 0.1: 1 message of 64 is 1.6 */
	double pct = jnum(line, "depth_pct") -
	             jnum(line, "depth_msgs") * 100 / 64;
	CHECK(pct >= -0.05 && pct <= 0.05);
	CHECK(jnum(line, "sent") >= jnum(line, "received"));
	CHECK_EQ(jnum(line, "lost"), 0);
	CHECK_EQ(jnum(line, "recovered"), 0);
	CHECK(jnum(line, "idle_s") < 0.5);
	CHECK(jnum(line, "watched_s") >= 0.5);
	CHECK(jnum(line, "max_lag") <= 64);
	char want[128];
	snprintf(want, sizeof(want), "\"writers\": [{\"pid\": %d, \"comm\": "
	         "\"jsonwriter\", \"alive\": true, \"unsettled\": false",
	         (int)w);
	CHECK_HAS(line, want);
	const char *wr = strstr(line, want);
	CHECK(jnum(wr, "bytes") == jnum(wr, "msgs") * MSG);
	CHECK(jnum(wr, "msgs_per_s") > 0);
	snprintf(want, sizeof(want), "{\"pid\": %d, \"comm\": \"jsonreader\", "
	         "\"alive\": true, \"unsettled\": false", (int)rd);
	const char *rr = strstr(jreaders(line), want);
	if (!rr)
		t_fail(__FILE__, __LINE__, "reader", "no %s in %s", want, line);
	CHECK(jnum(rr, "msgs_per_s") > RATE * 0.3);
	CHECK(near(jnum(rr, "bytes_per_s"), jnum(rr, "msgs_per_s") * MSG));
	CHECK(jnum(rr, "lag") < 64);
	CHECK_HAS(rr, "\"lost\": 0, \"still_s\": ");
	CHECK_HAS(rr, "\"stuck\": false");
	stop(w);
	stop(rd);
}

/* An spsc channel named after tag, its writer ours, its reader a child
 * named comm (in *rd). */
static shmq_chan *with_reader(char *loc, size_t len, const char *tag,
                              const char *comm, pid_t *rd)
{
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SPSC, .capacity = 4096};
	t_name(loc, len, tag);
	shmq_chan *mine = join(loc, SHMQ_WRITER, &o);
	*rd = reader(loc, &o, comm);
	return mine;
}

TEST(cli_top_shows_a_stopped_reader_as_stuck)
{
	char loc[64], line[8192], text[512];
	static struct t_run r;
	pid_t rd;
	shmq_chan *mine = with_reader(loc, sizeof(loc), "stuck", "stuckreader",
	                              &rd);
	CHECK_EQ(shmq_chan_send(mine, "a", 1), 0);
	until_received(loc, 1);
	CHECK_EQ(kill(rd, SIGSTOP), 0);
	CHECK_EQ(shmq_chan_send(mine, "b", 1), 0); /* queued for it */
	SHMQ(&r, "top", "--once", "--json", "--interval", "0.4", "--stuck",
	     "0.3");
	check_ok(&r);
	jchan(r.out, loc, line, sizeof(line));
	CHECK_HAS(line, "\"stuck\": true");
	CHECK_HAS(jreaders(line), "\"comm\": \"stuckreader\", \"alive\": true");
	CHECK_HAS(jreaders(line), "\"lag\": 1, \"lost\": 0");
	CHECK_HAS(jreaders(line), "\"stuck\": true");
	CHECK(jnum(jreaders(line), "still_s") >= 0.3);
	/* the text says it too, and no more once the reader goes on */
	SHMQ(&r, "top", "--once", "--interval", "0.4", "--stuck", "0.3");
	check_ok(&r);
	CHECK_HAS(row(r.out, loc, text, sizeof(text)), "STUCK");
	CHECK_EQ(kill(rd, SIGCONT), 0);
	until_received(loc, 2);
	SHMQ(&r, "top", "--once", "--interval", "0.4", "--stuck", "0.3");
	check_ok(&r);
	row(r.out, loc, text, sizeof(text));
	CHECK(text[0] && !strstr(text, "STUCK"));
	stop(rd);
	CHECK_EQ(shmq_chan_close(mine), 0);
}

TEST(cli_top_shows_a_killed_reader_as_a_dead_peer_not_settled)
{
	char loc[64], line[8192], text[512];
	static struct t_run r;
	pid_t rd;
	shmq_chan *mine = with_reader(loc, sizeof(loc), "dead", "deadreader",
	                              &rd);
	stop(rd); /* nobody waits: nobody settles it */
	SHMQ(&r, "top", "--once", "--json", "--interval", "0.2");
	check_ok(&r);
	jchan(r.out, loc, line, sizeof(line));
	CHECK_HAS(line, "\"unsettled\": 1");
	char want[128];
	snprintf(want, sizeof(want), "{\"pid\": %d, \"comm\": null, "
	         "\"alive\": false, \"unsettled\": true", (int)rd);
	CHECK_HAS(jreaders(line), want);
	SHMQ(&r, "top", "--once", "--interval", "0.2");
	check_ok(&r);
	CHECK_HAS(row(r.out, loc, text, sizeof(text)), "DEAD-PEER");
	snprintf(want, sizeof(want), "reader %7d ?               dead, unsettled",
	         (int)rd);
	CHECK_HAS(r.out, want);
	/* settled by a look of a peer: no longer flagged */
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(mine, &in), 0);
	SHMQ(&r, "top", "--once", "--interval", "0.2");
	check_ok(&r);
	CHECK(!strstr(row(r.out, loc, text, sizeof(text)), "DEAD-PEER"));
	CHECK_EQ(shmq_chan_close(mine), 0);
}

TEST(cli_top_without_a_terminal_prints_one_sample)
{
	char loc[64], cmd[512];
	static struct t_run r;
	struct term t;
	t_name(loc, sizeof(loc), "dumb");
	shmq_chan *w = t_chan_make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_WRITER, 0);
	/* stdout a pipe: one sample, no escapes, exit 0 */
	SHMQ(&r, "top", "--interval", "0.2");
	check_ok(&r);
	CHECK_HAS(r.out, "CHANNEL ");
	CHECK_HAS(r.out, loc);
	CHECK(!strchr(r.out, '\033'));
	CHECK(!strstr(r.out, "q quit"));
	/* TERM=dumb on a terminal: the same, and top ends by itself */
	term_start(&t, 120, top_cmd(cmd, sizeof(cmd), "TERM=dumb",
	                            "--interval 0.2"));
	until_pane_dead(&t);
	const char *s = screen(&t);
	CHECK_HAS(s, "CHANNEL ");
	CHECK_HAS(s, loc);
	CHECK(!strstr(s, "q quit"));
	term_stop(&t);
	CHECK_EQ(shmq_chan_close(w), 0);
}

TEST(cli_top_rejects_bad_options)
{
	static struct t_run r;
	SHMQ(&r, "top", "--json");
	check_usage_error(&r, "top");
	CHECK_HAS(r.err, "--json needs --once");
	SHMQ(&r, "top", "--once", "--interval", "0");
	check_usage_error(&r, "top");
	CHECK_HAS(r.err, "invalid --interval '0'");
	SHMQ(&r, "top", "--once", "--sort", "size");
	check_usage_error(&r, "top");
	CHECK_HAS(r.err, "expected rate, depth or lag");
	SHMQ(&r, "top", "extra");
	check_usage_error(&r, "top");
}
