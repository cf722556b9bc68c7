/*
 * shmq send and recv, run as a user runs them: real processes joined by a
 * channel, what goes in comes out (exactly once, in order, or counted as
 * lost), a writer killed mid-stream is reported fast with a gap-free prefix,
 * bad input is a clear error, and a normal run leaves nothing behind. Also
 * the channel fields of ls and stat, and rm --stale.
 *
 * Readers start first and writers wait for them (--readers), so that no
 * test depends on timing; the only sleeps pace the input of the --timeout
 * test, whose subject is time.
 */
#include "shmq.h"
#include "test.h"
#include "cli_util.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* argv of the tool under test, for proc_start. */
#define TOOL(...) ((char *[]){ (char *)t_shmq_bin(), __VA_ARGS__, NULL })

/* ---- Processes with pipes on stdin, stdout and stderr ------------------- */

struct buf {
	char *p;
	size_t n, cap;
};

struct proc {
	pid_t pid;
	int in, out, err;   /* our ends; -1 once closed */
	const char *data;   /* what goes to stdin */
	size_t len, off;
	int keep_open;      /* stdin stays open once data is written */
	struct buf o, e;    /* stdout, stderr (NUL-terminated) */
	int status;
};

static void buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		CHECK(b->p != NULL);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Starts argv with len bytes of data on its stdin. */
static void proc_start(struct proc *p, const char *data, size_t len,
                       int keep_open, char *const argv[])
{
	int in[2], out[2], err[2];

	memset(p, 0, sizeof(*p));
	buf_add(&p->o, "", 0);
	buf_add(&p->e, "", 0);
	signal(SIGPIPE, SIG_IGN); /* a reader that quits must not kill us */
	CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
	      pipe2(err, O_CLOEXEC) == 0);
	fflush(NULL);
	p->pid = fork();
	CHECK(p->pid >= 0);
	if (p->pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(err[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in = in[1];
	p->out = out[0];
	p->err = err[0];
	p->data = data;
	p->len = len;
	p->keep_open = keep_open;
	fcntl(p->in, F_SETFL, O_NONBLOCK);
}

static void proc_close_in(struct proc *p)
{
	if (p->in >= 0)
		close(p->in);
	p->in = -1;
}

static void drain(int *fd, struct buf *b)
{
	char tmp[65536];
	ssize_t n = read(*fd, tmp, sizeof(tmp));

	if (n > 0) {
		buf_add(b, tmp, (size_t)n);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

static void feed(struct proc *p)
{
	ssize_t n = write(p->in, p->data + p->off, p->len - p->off);

	if (n > 0)
		p->off += (size_t)n;
	if (n < 0 && errno != EINTR && errno != EAGAIN)
		proc_close_in(p); /* it quit reading */
	else if (p->off == p->len && !p->keep_open)
		proc_close_in(p);
}

/* One poll round over the pipes of n processes (up to ms milliseconds).
 * Returns how many stdout/stderr pipes are still open. */
static int proc_pump(struct proc *const *ps, size_t n, int ms)
{
	struct pollfd fds[24];
	int open_ = 0;

	CHECK(n * 3 <= NELEM(fds));
	for (size_t i = 0; i < n; i++) {
		struct proc *p = ps[i];
		if (p->in >= 0 && p->off == p->len && !p->keep_open)
			proc_close_in(p);
		fds[3 * i] = (struct pollfd){
			p->in >= 0 && p->off < p->len ? p->in : -1, POLLOUT, 0};
		fds[3 * i + 1] = (struct pollfd){p->out, POLLIN, 0};
		fds[3 * i + 2] = (struct pollfd){p->err, POLLIN, 0};
		open_ += (p->out >= 0) + (p->err >= 0);
	}
	if (!open_ || poll(fds, (nfds_t)(3 * n), ms) <= 0)
		return open_;
	for (size_t i = 0; i < n; i++) {
		struct proc *p = ps[i];
		if (fds[3 * i].revents)
			feed(p);
		if (fds[3 * i + 1].revents)
			drain(&p->out, &p->o);
		if (fds[3 * i + 2].revents)
			drain(&p->err, &p->e);
	}
	return open_;
}

/* Pumps the pipes of r and of a process s that outlives it, until r has
 * closed its stdout and stderr, then reaps r. */
static void proc_run_first(struct proc *r, struct proc *s)
{
	while (r->out >= 0 || r->err >= 0)
		proc_pump((struct proc *[]){ r, s }, 2, 1000);
	proc_close_in(r);
	r->status = t_wait(r->pid);
}

/* Pumps until every pipe of the n processes is closed, then reaps them. */
static void proc_run(struct proc *const *ps, size_t n)
{
	while (proc_pump(ps, n, 1000) > 0)
		;
	for (size_t i = 0; i < n; i++) {
		proc_close_in(ps[i]);
		ps[i]->status = t_wait(ps[i]->pid);
	}
}

static void proc_free(struct proc *p)
{
	proc_close_in(p);
	if (p->out >= 0)
		close(p->out);
	if (p->err >= 0)
		close(p->err);
	free(p->o.p);
	free(p->e.p);
}

static void check_status(const struct proc *p, int want)
{
	if (p->status != want)
		t_fail(__FILE__, __LINE__, "status", "pid %d: status %d, want "
		       "%d; stderr: %s", (int)p->pid, p->status, want, p->e.p);
}

/* ---- Data ------------------------------------------------------------- */

/* "<prefix><i>\n" for i in from..to, malloc'd; its length in *len. */
static char *lines(const char *prefix, unsigned from, unsigned to,
                   size_t *len)
{
	struct buf b = { NULL, 0, 0 };
	char line[64];

	buf_add(&b, "", 0);
	for (unsigned i = from; i <= to; i++) {
		int n = snprintf(line, sizeof(line), "%s%u\n", prefix, i);
		buf_add(&b, line, (size_t)n);
	}
	*len = b.n;
	return b.p;
}

/* Calls fn for each line of text (without its newline); the text must end
 * with a newline. Returns the number of lines. */
static unsigned each_line(const char *text, void (*fn)(const char *line,
                          size_t len, void *arg), void *arg)
{
	unsigned n = 0;
	const char *nl;

	while ((nl = strchr(text, '\n'))) {
		fn(text, (size_t)(nl - text), arg);
		text = nl + 1;
		n++;
	}
	CHECK_EQ(*text, '\0');
	return n;
}

struct seq {
	unsigned next; /* the number the next line must have */
};

static void in_sequence(const char *line, size_t len, void *arg)
{
	struct seq *s = arg;
	char want[32];

	snprintf(want, sizeof(want), "%u", s->next++);
	if (len != strlen(want) || memcmp(line, want, len))
		t_fail(__FILE__, __LINE__, "gap-free sequence", "line %u is "
		       "\"%.*s\"", s->next - 1, (int)len, line);
}

/* text is exactly "1\n2\n...count\n". */
static void check_sequence(const char *text, unsigned count)
{
	struct seq s = { 1 };

	CHECK_EQ(each_line(text, in_sequence, &s), count);
}

/* The number after `key` in text, or -1. */
static long long number_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void check_usage(const struct t_run *r, const char *cmd,
                        const char *what)
{
	char want[64];

	snprintf(want, sizeof(want), "usage: shmq %s {NAME|--%s PATH}", cmd,
	         strcmp(cmd, "send") ? "from-socket" : "serve");
	if (r->status != 2)
		t_fail(__FILE__, __LINE__, "status == 2", "status %d, stderr: %s",
		       r->status, r->err);
	CHECK_HAS(r->err, want);
	CHECK_HAS(r->err, what);
	CHECK_EQ(strlen(r->out), 0);
}

/* Exit 1 and exactly one line on stderr, "shmq: ...what...". */
static void check_one_line(int status, const char *err, const char *what)
{
	size_t n = strlen(err);

	if (status != 1)
		t_fail(__FILE__, __LINE__, "status == 1", "status %d, stderr: %s",
		       status, err);
	CHECK(strncmp(err, "shmq: ", 6) == 0);
	CHECK(n > 0 && strchr(err, '\n') == err + n - 1);
	CHECK_HAS(err, what);
}

/* Starts a reader of spsc channel name (ring of cap bytes; NULL: the
 * default), then a writer that waits for it and sends in[0..len). */
static void start_pair(struct proc *r, struct proc *s, const char *name,
                       const char *cap, const char *in, size_t len,
                       int keep_open)
{
	char *rx[8] = { (char *)t_shmq_bin(), "recv", (char *)name,
	                "--create" };
	char *tx[10] = { (char *)t_shmq_bin(), "send", (char *)name,
	                 "--create", "--readers", "1" };

	if (cap) {
		rx[4] = tx[6] = "--capacity";
		rx[5] = tx[7] = (char *)cap;
	}
	proc_start(r, NULL, 0, 0, rx);
	proc_start(s, in, len, keep_open, tx);
}

/* ---- Streams ------------------------------------------------------------ */

TEST(cli_chan_binary_256mib_arrives_with_the_same_sha256)
{
	static const char rx[] =
		"set -e -o pipefail; \"$1\" recv \"$2\" --create --binary "
		"--stats | sha256sum";
	static const char tx[] =
		"set -e -o pipefail; head -c 268435456 /dev/urandom | "
		"tee >(sha256sum >&2) | \"$1\" send \"$2\" --create --binary "
		"--readers 1";
	char name[64], hash[65];
	struct proc r, s;

	t_name(name, sizeof(name), "bin");
	proc_start(&r, NULL, 0, 0, (char *[]){ "bash", "-c", (char *)rx, "sh",
	           (char *)t_shmq_bin(), name, NULL });
	proc_start(&s, NULL, 0, 0, (char *[]){ "bash", "-c", (char *)tx, "sh",
	           (char *)t_shmq_bin(), name, NULL });
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_status(&r, 0);
	check_status(&s, 0);
	CHECK(strlen(r.o.p) >= 64);
	snprintf(hash, sizeof(hash), "%.64s", r.o.p);
	CHECK_HAS(s.e.p, hash); /* the sender's input, hashed by tee */
	CHECK_HAS(r.e.p, "received");
	CHECK_HAS(r.e.p, " 268435456 bytes");
	CHECK(!posix_exists(name));
	proc_free(&r);
	proc_free(&s);
}

TEST(cli_chan_spsc_lines_arrive_in_order_through_a_small_ring)
{
	char name[64];
	struct proc r, s;
	size_t len;
	char *in = lines("", 1, 50000, &len);

	t_name(name, sizeof(name), "spsc");
	/* 4K ring: the writer waits and the ring wraps thousands of times. */
	start_pair(&r, &s, name, "4K", in, len, 0);
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_status(&r, 0);
	check_status(&s, 0);
	check_sequence(r.o.p, 50000);
	CHECK_EQ(strlen(r.e.p), 0);
	CHECK_EQ(strlen(s.e.p), 0);
	CHECK(!posix_exists(name)); /* the last close removed it */
	free(in);
	proc_free(&r);
	proc_free(&s);
}

/* Runs one sender and one reader of text; returns the reader's output. */
static void round_trip(const char *name, const char *text, int binary,
                       struct t_run *out)
{
	struct proc r, s;

	proc_start(&r, NULL, 0, 0, binary
	           ? TOOL("recv", (char *)name, "--create", "--binary")
	           : TOOL("recv", (char *)name, "--create"));
	proc_start(&s, text, strlen(text), 0, binary
	           ? TOOL("send", (char *)name, "--create", "--binary",
	                  "--readers", "1")
	           : TOOL("send", (char *)name, "--create", "--readers", "1"));
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_status(&r, 0);
	check_status(&s, 0);
	snprintf(out->out, sizeof(out->out), "%s", r.o.p);
	snprintf(out->err, sizeof(out->err), "%s", r.e.p);
	proc_free(&r);
	proc_free(&s);
}

TEST(cli_chan_lines_end_in_a_newline_and_binary_is_exact)
{
	struct t_run r;
	char name[64];

	t_name(name, sizeof(name), "nl");
	round_trip(name, "a\n\nb", 0, &r);
	CHECK(!strcmp(r.out, "a\n\nb\n")); /* the last line gets its newline */
	round_trip(name, "a\n\nb", 1, &r);
	CHECK(!strcmp(r.out, "a\n\nb"));
	round_trip(name, "", 0, &r); /* empty input: a clean, empty stream */
	CHECK_EQ(strlen(r.out), 0);
	CHECK(!posix_exists(name));
}

/* With --readers an empty input waits for its reader before the close,
 * so a reader that comes later sees the stream end. Without the wait the
 * close removed the channel first: the reader (no --create) found none,
 * or one made by `recv --create` waited for ever. */
TEST(cli_chan_empty_send_waits_for_its_reader_then_ends_the_stream)
{
	struct proc r, s;
	char name[64];

	t_name(name, sizeof(name), "empty");
	proc_start(&s, "", 0, 0,
	           TOOL("send", name, "--create", "--readers", "1"));
	while (!posix_exists(name)) /* waits for the create, not for time */
		sched_yield();
	proc_start(&r, NULL, 0, 0, TOOL("recv", name));
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_status(&r, 0);
	check_status(&s, 0);
	CHECK_EQ(strlen(r.o.p), 0);
	CHECK(!posix_exists(name));
	proc_free(&r);
	proc_free(&s);
}

struct mpmc_check {
	unsigned char *seen[2]; /* per writer: line number seen */
	long last[2];           /* per writer: last number in this reader */
	unsigned per;           /* lines per writer */
};

static void mpmc_line(const char *line, size_t len, void *arg)
{
	struct mpmc_check *c = arg;
	int w = line[0] == 'a' ? 0 : line[0] == 'b' ? 1 : -1;
	char *end;
	long i = len > 1 ? strtol(line + 1, &end, 10) : 0;

	if (w < 0 || i < 1 || (unsigned long)i > c->per ||
	    end != line + len)
		t_fail(__FILE__, __LINE__, "line", "bad line \"%.*s\"", (int)len,
		       line);
	if (c->seen[w][i]++)
		t_fail(__FILE__, __LINE__, "once", "\"%.*s\" twice", (int)len,
		       line);
	/* One queue: a writer's lines reach any one reader in its order. */
	CHECK(i > c->last[w]);
	c->last[w] = i;
}

TEST(cli_chan_mpmc_two_writers_two_readers_get_each_line_once)
{
	const unsigned per = 20000;
	struct mpmc_check c = { { NULL, NULL }, { 0, 0 }, per };
	struct proc r1, r2, w1, w2;
	char name[64];
	size_t la, lb;
	char *a = lines("a", 1, per, &la), *b = lines("b", 1, per, &lb);

	t_name(name, sizeof(name), "mpmc");
#define MPMC "--create", "--kind", "mpmc", "--capacity", "16", "--msg-size", "64"
	proc_start(&r1, NULL, 0, 0, TOOL("recv", name, MPMC, "--writers", "2"));
	proc_start(&r2, NULL, 0, 0, TOOL("recv", name, MPMC, "--writers", "2"));
	proc_start(&w1, a, la, 0, TOOL("send", name, MPMC, "--readers", "2"));
	proc_start(&w2, b, lb, 0, TOOL("send", name, MPMC, "--readers", "2"));
#undef MPMC
	proc_run((struct proc *[]){ &r1, &r2, &w1, &w2 }, 4);
	check_status(&r1, 0);
	check_status(&r2, 0);
	check_status(&w1, 0);
	check_status(&w2, 0);
	c.seen[0] = calloc(per + 1, 1);
	c.seen[1] = calloc(per + 1, 1);
	unsigned n1 = each_line(r1.o.p, mpmc_line, &c);
	c.last[0] = c.last[1] = 0;
	unsigned n2 = each_line(r2.o.p, mpmc_line, &c);
	CHECK_EQ(n1 + n2, 2 * per); /* none twice, so every one once */
	CHECK(!posix_exists(name));
	free(c.seen[0]);
	free(c.seen[1]);
	free(a);
	free(b);
	proc_free(&r1);
	proc_free(&r2);
	proc_free(&w1);
	proc_free(&w2);
}

TEST(cli_chan_broadcast_readers_each_get_every_line_in_order)
{
	char name[64];
	struct proc r1, r2, s;
	size_t len;
	char *in = lines("", 1, 20000, &len);

	t_name(name, sizeof(name), "bc");
#define BC "--create", "--kind", "broadcast", "--capacity", "16"
	proc_start(&r1, NULL, 0, 0, TOOL("recv", name, BC));
	proc_start(&r2, NULL, 0, 0, TOOL("recv", name, BC));
	proc_start(&s, in, len, 0, TOOL("send", name, BC, "--readers", "2"));
#undef BC
	proc_run((struct proc *[]){ &r1, &r2, &s }, 3);
	check_status(&r1, 0);
	check_status(&r2, 0);
	check_status(&s, 0);
	check_sequence(r1.o.p, 20000);
	check_sequence(r2.o.p, 20000);
	CHECK(!posix_exists(name));
	free(in);
	proc_free(&r1);
	proc_free(&r2);
	proc_free(&s);
}

struct rising {
	long last;
	unsigned total;
};

static void rising_line(const char *line, size_t len, void *arg)
{
	struct rising *r = arg;
	char *end;
	long i = strtol(line, &end, 10);

	/* Whole lines of the input only, never torn or mixed, in order. */
	if (end != line + len || i <= r->last || i > (long)r->total)
		t_fail(__FILE__, __LINE__, "rising", "line \"%.*s\" after %ld",
		       (int)len, line, r->last);
	r->last = i;
}

TEST(cli_chan_broadcast_overwrite_counts_what_a_slow_reader_lost)
{
	const unsigned total = 200000;
	struct rising chk = { 0, total };
	char name[64];
	struct proc r, s;
	size_t len;
	char *in = lines("", 1, total, &len);

	t_name(name, sizeof(name), "ow");
#define OW "--create", "--kind", "broadcast", "--policy", "overwrite", \
	"--capacity", "16"
	proc_start(&r, NULL, 0, 0, TOOL("recv", name, OW, "--stats"));
	proc_start(&s, in, len, 0, TOOL("send", name, OW, "--readers", "1"));
#undef OW
	/* Nobody reads the reader's output until the writer is done: it
	 * stalls on a full pipe and the writer laps it. */
	proc_run((struct proc *[]){ &s }, 1);
	check_status(&s, 0);
	proc_run((struct proc *[]){ &r }, 1);
	check_status(&r, 0);
	unsigned got = each_line(r.o.p, rising_line, &chk);
	long long lost = number_after(r.e.p, "lost ");
	CHECK(lost > 0);
	CHECK_EQ(got + lost, total); /* each message delivered or counted */
	CHECK_HAS(r.e.p, "messages (the writer overwrote them");
	char want[64];
	snprintf(want, sizeof(want), "received %u messages", got);
	CHECK_HAS(r.e.p, want);
	CHECK(!posix_exists(name));
	free(in);
	proc_free(&r);
	proc_free(&s);
}

/* Counts the lines of p's output seen so far, from *at on. */
static unsigned count_new_lines(const struct proc *p, size_t *at)
{
	unsigned n = 0;

	for (; *at < p->o.n; (*at)++)
		n += p->o.p[*at] == '\n';
	return n;
}

TEST(cli_chan_writer_killed_mid_stream_reader_says_so_fast)
{
	char name[64], want[128];
	struct proc r, s;
	size_t len, at = 0;
	unsigned got = 0;
	char *in = lines("", 1, 2000000, &len);
	double killed = 0, told = 0;

	t_name(name, sizeof(name), "kill");
	/* A 4K ring keeps little in flight: what the reader still drains
	 * after the kill takes no time. */
	start_pair(&r, &s, name, "4K", in, len, 1);
	while (proc_pump((struct proc *[]){ &r, &s }, 2, 1000) > 0) {
		got += count_new_lines(&r, &at);
		if (!killed && got >= 20000) {
			CHECK_EQ(kill(s.pid, SIGKILL), 0);
			killed = now_s();
			proc_close_in(&s);
		}
		if (killed && !told && strchr(r.e.p, '\n'))
			told = now_s();
	}
	CHECK(killed > 0);
	r.status = t_wait(r.pid);
	s.status = t_wait(s.pid);
	CHECK_EQ(s.status, 128 + SIGKILL);
	CHECK(s.off < len); /* it died mid-stream */
	snprintf(want, sizeof(want), "writer pid %d died or was interrupted "
	         "before ending the stream; %u messages received", (int)s.pid,
	         got);
	check_one_line(r.status, r.e.p, want);
	check_sequence(r.o.p, got); /* a gap-free prefix */
	printf("  note: the reader reported the killed writer %.1f ms after "
	       "SIGKILL\n", (told - killed) * 1e3);
	CHECK(told - killed < 0.100);
	CHECK(!posix_exists(name)); /* the reader's close removed it */
	free(in);
	proc_free(&r);
	proc_free(&s);
}

TEST(cli_chan_reader_killed_writer_says_so)
{
	char name[64], want[64];
	struct proc r, s;
	size_t len;
	char *in = lines("", 1, 2000000, &len);

	t_name(name, sizeof(name), "rkill");
	start_pair(&r, &s, name, "4K", in, len, 1);
	while (!strchr(r.o.p, '\n')) /* both attached, data flowing */
		CHECK(proc_pump((struct proc *[]){ &r, &s }, 2, 1000) > 0);
	CHECK_EQ(kill(r.pid, SIGKILL), 0);
	/* The writer fills the ring, then finds nobody to make room. */
	while (proc_pump((struct proc *[]){ &s }, 1, 1000) > 0)
		;
	proc_close_in(&s);
	s.status = t_wait(s.pid);
	r.status = t_wait(r.pid);
	snprintf(want, sizeof(want), "reader pid %d died;", (int)r.pid);
	check_one_line(s.status, s.e.p, want);
	CHECK_HAS(s.e.p, " messages sent");
	CHECK(!posix_exists(name));
	free(in);
	proc_free(&r);
	proc_free(&s);
}

TEST(cli_chan_send_that_fails_mid_stream_is_seen_as_a_dead_writer)
{
	char name[64], want[128], line[256];
	struct proc r, s;

	memset(line, 'x', 200);
	snprintf(line + 200, sizeof(line) - 200, "\n");
	char *in = malloc(16 + strlen(line));
	snprintf(in, 16 + strlen(line), "first\n%s", line);
	t_name(name, sizeof(name), "cut");
	/* A 64-byte ring takes messages of up to 48 bytes. */
	start_pair(&r, &s, name, "64", in, strlen(in), 0);
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_one_line(s.status, s.e.p, "line 2 is longer than the channel's "
	               "largest message (48 bytes)");
	/* The reader must not take the cut stream for a whole one. */
	snprintf(want, sizeof(want), "writer pid %d died or was interrupted "
	         "before ending the stream; 1 messages received", (int)s.pid);
	check_one_line(r.status, r.e.p, want);
	CHECK(!strcmp(r.o.p, "first\n"));
	CHECK(!posix_exists(name));
	free(in);
	proc_free(&r);
	proc_free(&s);
}

/* ---- Signals -------------------------------------------------------------- */

/* Waits until n peers of role are attached to channel name and the tool
 * pid sleeps in a system call: it waits. (It catches its stop signals
 * from before it attaches.) */
static void await_waiting(pid_t pid, const char *name, int role, unsigned n)
{
	const struct timespec pause = { 0, 1000000 };
	struct shmq_chan_info in;

	while (shmq_chan_stat(name, &in) != 0 ||
	       (role == SHMQ_WRITER ? in.writers : in.readers) < n ||
	       t_blocked_in(pid) < 0)
		nanosleep(&pause, NULL);
}

/* p was stopped by sig: it said so, died of it, and left nothing. */
static void check_stopped(struct proc *p, int sig, const char *name,
                          const char *what)
{
	char want[160];

	proc_run((struct proc *[]){ p }, 1);
	check_status(p, 128 + sig);
	snprintf(want, sizeof(want), "shmq: %s: interrupted by SIG%s; %s\n",
	         name, sigabbrev_np(sig), what);
	CHECK(!strcmp(p->e.p, want));
	CHECK(!posix_exists(name));
	proc_free(p);
}

TEST(cli_chan_a_stopped_recv_removes_the_channel_it_made)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	char name[64];
	struct proc r;

	t_name(name, sizeof(name), "rsig");
	for (size_t i = 0; i < NELEM(sigs); i++) {
		proc_start(&r, NULL, 0, 0, TOOL("recv", name, "--create"));
		await_waiting(r.pid, name, SHMQ_READER, 1);
		CHECK_EQ(kill(r.pid, sigs[i]), 0);
		check_stopped(&r, sigs[i], name, "0 messages received");
	}
}

TEST(cli_chan_a_stopped_send_removes_the_channel_it_made)
{
	char name[64];
	struct proc s;

	t_name(name, sizeof(name), "ssig");
	/* Waiting for its reader. */
	proc_start(&s, "", 0, 1, TOOL("send", name, "--create", "--readers",
	           "1"));
	await_waiting(s.pid, name, SHMQ_WRITER, 1);
	CHECK_EQ(kill(s.pid, SIGINT), 0);
	check_stopped(&s, SIGINT, name, "0 messages sent");
	/* Waiting for input on stdin, which stays open. */
	proc_start(&s, "", 0, 1, TOOL("send", name, "--create", "--readers",
	           "0"));
	await_waiting(s.pid, name, SHMQ_WRITER, 1);
	CHECK_EQ(kill(s.pid, SIGTERM), 0);
	check_stopped(&s, SIGTERM, name, "0 messages sent");
}

TEST(cli_chan_a_stopped_writer_is_not_an_end_of_stream)
{
	char name[64], want[160];
	struct proc r, s;
	size_t len;
	char *in = lines("", 1, 2000000, &len);

	t_name(name, sizeof(name), "wsig");
	start_pair(&r, &s, name, "4K", in, len, 1);
	while (!strchr(r.o.p, '\n')) /* both attached, data flowing */
		CHECK(proc_pump((struct proc *[]){ &r, &s }, 2, 1000) > 0);
	CHECK_EQ(kill(s.pid, SIGINT), 0);
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_status(&s, 128 + SIGINT);
	CHECK_HAS(s.e.p, "interrupted by SIGINT; ");
	CHECK(s.off < len); /* stopped mid-stream */
	snprintf(want, sizeof(want), "writer pid %d died or was interrupted "
	         "before ending the stream; ", (int)s.pid);
	check_one_line(r.status, r.e.p, want);
	check_sequence(r.o.p, (unsigned)number_after(r.e.p, "stream; "));
	CHECK(!posix_exists(name)); /* the reader's close removed it */
	free(in);
	proc_free(&r);
	proc_free(&s);
}

TEST(cli_chan_recv_waits_for_the_writers_it_was_told_of)
{
	char name[64];
	struct proc r, a, b;

	t_name(name, sizeof(name), "wr");
	proc_start(&r, NULL, 0, 0, TOOL("recv", name, "--create", "--writers",
	           "2"));
	proc_start(&a, "a\n", 2, 0, TOOL("send", name, "--create", "--readers",
	           "1"));
	proc_run((struct proc *[]){ &a }, 1);
	check_status(&a, 0);
	while (!strchr(r.o.p, '\n'))
		CHECK(proc_pump((struct proc *[]){ &r }, 1, 1000) > 0);
	/* One writer came and went: the reader is still there, so the
	 * second writer finds it (else --readers 1 would wait forever). */
	proc_start(&b, "b\n", 2, 0, TOOL("send", name, "--readers", "1"));
	proc_run((struct proc *[]){ &r, &b }, 2);
	check_status(&b, 0);
	check_status(&r, 0);
	CHECK(!strcmp(r.o.p, "a\nb\n"));
	CHECK(!posix_exists(name));
	proc_free(&r);
	proc_free(&a);
	proc_free(&b);
}

TEST(cli_chan_recv_count_stops_after_n_messages)
{
	char name[64];
	struct proc r, s;
	size_t len;
	char *in = lines("", 1, 10, &len);

	t_name(name, sizeof(name), "count");
	proc_start(&r, NULL, 0, 0, TOOL("recv", name, "--create", "--count",
	           "3"));
	proc_start(&s, in, len, 1, TOOL("send", name, "--create", "--readers",
	           "1"));
	proc_run_first(&r, &s);
	check_status(&r, 0);
	CHECK(!strcmp(r.o.p, "1\n2\n3\n"));
	/* The writer ends after its reader: its close would drop 7 messages
	 * nobody read, which it says, as a pipe's writer gets EPIPE. */
	proc_close_in(&s);
	proc_run((struct proc *[]){ &s }, 1);
	check_one_line(s.status, s.e.p, "no reader is attached and 7 messages "
	               "were not read (start a reader first, or keep them with "
	               "--persist); 10 messages sent");
	CHECK(!posix_exists(name));
	free(in);
	proc_free(&r);
	proc_free(&s);
}

/* ---- A named pipe's writer: never drops data silently --------------------- */

/* --plain-fences: the flag reaches the header (every peer obeys it there),
 * and the channel carries the stream as any other. */
TEST(cli_chan_plain_fences_reaches_the_header_and_carries_data)
{
	char name[64];
	struct proc r, s;
	shmq_seg *seg;

	t_name(name, sizeof(name), "pf");
	proc_start(&s, "one\ntwo\n", 8, 0,
	           TOOL("send", name, "--create", "--plain-fences"));
	await_waiting(s.pid, name, SHMQ_WRITER, 1);
	CHECK_EQ(shmq_seg_open(&seg, name, NULL), 0);
	/* flags (offset 60): SHMQ__CHAN_HDR_PLAIN, nothing else */
	CHECK_EQ(*(uint32_t *)((char *)shmq_seg_addr(seg) + 60), 1u << 3);
	CHECK_EQ(shmq_seg_close(seg), 0);
	/* and reported so */
	struct shmq_chan_info in;
	struct t_run t;
	CHECK_EQ(shmq_chan_stat(name, &in), 0);
	CHECK_EQ(in.flags, SHMQ_CHAN_PLAIN_FENCES);
	SHMQ(&t, "stat", name);
	CHECK_HAS(t.out, "flags:       plain-fences\n");
	SHMQ(&t, "stat", "--json", name);
	CHECK_HAS(t.out, "\"flags\": [\"plain-fences\"]");
	proc_start(&r, NULL, 0, 0, TOOL("recv", name));
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_status(&r, 0);
	check_status(&s, 0);
	CHECK(!strcmp(r.o.p, "one\ntwo\n"));
	proc_free(&r);
	proc_free(&s);
}

TEST(cli_chan_send_waits_for_its_first_reader)
{
	char name[64];
	struct proc r, s;
	struct shmq_chan_info in;
	struct t_run t;

	t_name(name, sizeof(name), "pipe");
	proc_start(&s, "hi\n", 3, 0, TOOL("send", name, "--create"));
	await_waiting(s.pid, name, SHMQ_WRITER, 1);
	CHECK_EQ(waitpid(s.pid, NULL, WNOHANG), 0); /* still there */
	CHECK_EQ(shmq_chan_stat(name, &in), 0);
	CHECK_EQ(in.sent + in.depth_msgs, 0); /* nothing sent yet */
	proc_start(&r, NULL, 0, 0, TOOL("recv", name));
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_status(&r, 0);
	check_status(&s, 0);
	CHECK(!strcmp(r.o.p, "hi\n"));
	CHECK(!posix_exists(name));
	proc_free(&r);
	proc_free(&s);
	/* Told not to wait, with nobody to read: exit 1, never 0. */
	t_shmq(&t, "hi\n", "send", name, "--create", "--readers", "0",
	       (char *)NULL);
	check_one_line(t.status, t.err, "no reader is attached and 1 messages "
	               "were not read");
	CHECK(!posix_exists(name));
	/* No message, nothing to drop: no wait. */
	t_shmq(&t, "", "send", name, "--create", (char *)NULL);
	CHECK_EQ(t.status, 0);
	CHECK(!posix_exists(name));
	/* Kept with --persist: nothing dropped. */
	t_shmq(&t, "hi\n", "send", name, "--create", "--readers", "0",
	       "--persist", (char *)NULL);
	CHECK_EQ(t.status, 0);
	CHECK_EQ(shmq_chan_stat(name, &in), 0);
	CHECK_EQ(in.depth_msgs, 1);
	SHMQ(&t, "rm", name);
	CHECK_EQ(t.status, 0);
}

TEST(cli_chan_send_fails_once_every_reader_closed)
{
	char name[64];
	struct proc r, s;
	size_t len;
	char *in = lines("", 1, 2000000, &len);

	t_name(name, sizeof(name), "epipe");
	/* The reader leaves after 5 lines; the writer fills the 4K ring,
	 * then finds nobody to make room, as a pipe's writer gets EPIPE. */
	proc_start(&r, NULL, 0, 0, TOOL("recv", name, "--create", "--capacity",
	           "4K", "--count", "5"));
	proc_start(&s, in, len, 1, TOOL("send", name, "--create", "--capacity",
	           "4K"));
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_status(&r, 0);
	check_sequence(r.o.p, 5);
	check_one_line(s.status, s.e.p, "no reader is attached and ");
	CHECK_HAS(s.e.p, " messages were not read");
	CHECK(!posix_exists(name));
	proc_free(&r);
	proc_free(&s);
	/* broadcast keeps no depth without readers: the writer that
	 * outlives them says its last messages went to none. */
#define BC "--create", "--kind", "broadcast"
	proc_start(&r, NULL, 0, 0, TOOL("recv", name, BC, "--count", "1"));
	proc_start(&s, "1\n2\n", 4, 1, TOOL("send", name, BC));
#undef BC
	proc_run_first(&r, &s);
	check_status(&r, 0);
	proc_close_in(&s);
	proc_run((struct proc *[]){ &s }, 1);
	check_one_line(s.status, s.e.p, "no reader is attached: what was sent "
	               "after the last one closed was read by none; 2 messages "
	               "sent");
	CHECK(!posix_exists(name));
	free(in);
	proc_free(&r);
	proc_free(&s);
}

TEST(cli_chan_recv_timeout_counts_idle_time)
{
	char name[64];
	struct proc r, s;
	struct t_run t;
	double t0 = now_s();

	t_name(name, sizeof(name), "idle");
	/* Nobody writes: it gives up after the timeout, not before. */
	SHMQ(&t, "recv", name, "--create", "--timeout", "0.3");
	check_one_line(t.status, t.err, "timeout: no message for 0.3 s; 0 "
	               "messages received");
	CHECK(now_s() - t0 >= 0.3);
	CHECK(!posix_exists(name));
	/* 16 lines 50 ms apart span 0.8 s: a 0.4 s limit on the whole run
	 * would cut them; as idle time it waits for all, then gives up. */
	proc_start(&r, NULL, 0, 0, TOOL("recv", name, "--create", "--timeout",
	           "0.4"));
	proc_start(&s, "x\n", 2, 1, TOOL("send", name, "--create", "--readers",
	           "1"));
	for (int i = 0; i < 16; i++) {
		double until = now_s() + 0.05;
		s.off = 0; /* one more line */
		while (now_s() < until)
			proc_pump((struct proc *[]){ &r, &s }, 2, 10);
	}
	while (proc_pump((struct proc *[]){ &r }, 1, 1000) > 0)
		;
	r.status = t_wait(r.pid);
	check_one_line(r.status, r.e.p, "timeout: no message for 0.4 s");
	CHECK_EQ(number_after(r.e.p, "s; "), 16);
	CHECK_EQ(strlen(r.o.p), 32);
	proc_close_in(&s);
	proc_run((struct proc *[]){ &s }, 1);
	check_status(&s, 0);
	CHECK(!posix_exists(name));
	proc_free(&r);
	proc_free(&s);
}

TEST(cli_chan_stats_count_messages_and_bytes)
{
	char name[64];
	struct proc r, s;
	size_t len;
	char *in = lines("", 1, 1000, &len); /* 3893 bytes */

	t_name(name, sizeof(name), "stats");
	proc_start(&r, NULL, 0, 0, TOOL("recv", name, "--create", "--stats"));
	proc_start(&s, in, len, 0, TOOL("send", name, "--create", "--readers",
	           "1", "--stats"));
	proc_run((struct proc *[]){ &r, &s }, 2);
	check_status(&r, 0);
	check_status(&s, 0);
	CHECK_HAS(r.e.p, "received 1000 messages, 3893 bytes in ");
	CHECK_HAS(r.e.p, " MB/s, ");
	CHECK_HAS(r.e.p, " msgs/s, 0 lost\n");
	CHECK_HAS(s.e.p, "sent 1000 messages, 3893 bytes in ");
	free(in);
	proc_free(&r);
	proc_free(&s);
}

/* ---- Bad input ------------------------------------------------------------ */

TEST(cli_chan_bad_options_are_usage_errors)
{
	/* The command, its options after NAME, and what the message says. */
	static const struct {
		const char *args[6];
		const char *what;
	} cases[] = {
		{ { "send", "--create", "--kind", "fifo" },
		  "invalid --kind 'fifo': expected spsc, mpmc, broadcast or "
		  "samples" },
		{ { "recv", "--create", "--capacity", "0" },
		  "invalid --capacity '0': a channel needs at least 1" },
		{ { "send", "--create", "--msg-size", "-4" },
		  "invalid --msg-size '-4': it is negative" },
		{ { "send", "--create", "--kind", "broadcast", "--policy", "drop" },
		  "expected block or overwrite" },
		{ { "send", "--create", "--policy", "overwrite" },
		  "--policy applies to broadcast and samples channels, not spsc" },
		{ { "recv", "--create", "--kind", "spsc", "--msg-size", "1K" },
		  "--msg-size applies to mpmc, broadcast and samples" },
		{ { "send", "--kind", "mpmc" },
		  "--kind describes a new channel: add --create" },
		{ { "recv", "--persist" }, "--persist describes a new channel" },
		{ { "send", "--plain-fences" },
		  "--plain-fences describes a new channel" },
		{ { "send", "--create", "--mode", "0" }, "invalid --mode '0'" },
		{ { "recv", "--count", "0" },
		  "invalid --count '0': it must be at least 1" },
		{ { "recv", "--timeout", "soon" }, "invalid --timeout 'soon'" },
		{ { "recv", "--timeout", "-1" }, "invalid --timeout '-1'" },
		{ { "recv", "--writers", "0" }, "invalid --writers '0'" },
		{ { "send", "--readers", "64" }, "63 readers at most" },
		{ { "send", "--count", "1" }, "unknown option '--count'" },
		{ { "recv", "--readers", "1" }, "unknown option '--readers'" },
		{ { "recv", "other" }, "unexpected argument 'other'" },
		/* samples only: --hold, --history, --huge */
		{ { "send", "--create", "--hold", "2" },
		  "--hold applies to samples channels, not spsc: add --kind "
		  "samples" },
		{ { "recv", "--create", "--kind", "broadcast", "--history", "3" },
		  "--history applies to samples channels, not broadcast" },
		{ { "send", "--create", "--kind", "mpmc", "--huge", "2M" },
		  "--huge applies to samples channels, not mpmc" },
		{ { "send", "--create", "--kind", "samples", "--huge", "1G" },
		  "invalid --huge '1G': expected 2M" },
		{ { "send", "--create", "--kind", "samples", "--hold", "0" },
		  "invalid --hold '0': a reader holds at least 1 sample" },
		{ { "recv", "--create", "--kind", "samples", "--hold", "-1" },
		  "invalid --hold '-1': it is negative" },
		{ { "send", "--create", "--kind", "samples", "--history", "5K" },
		  "invalid --history '5K': a pool has 4096 samples at most" },
		{ { "send", "--create", "--kind", "samples", "--msg-size", "8X" },
		  "invalid --msg-size '8X'" },
		{ { "send", "--kind", "samples", "--hold", "2" },
		  "--kind describes a new channel: add --create" },
		{ { "recv", "--hold", "2" }, "--hold describes a new channel" },
		{ { "send", "--create", "--kind", "mpmc", "--policy",
		    "overwrite" },
		  "--policy applies to broadcast and samples channels, not mpmc" },
	};
	char name[64], *argv[10];
	struct t_run r;

	t_name(name, sizeof(name), "bad");
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t n = 0;
		argv[n++] = (char *)t_shmq_bin();
		argv[n++] = (char *)cases[i].args[0];
		argv[n++] = name;
		for (size_t j = 1; j < 6 && cases[i].args[j]; j++)
			argv[n++] = (char *)cases[i].args[j];
		argv[n] = NULL;
		t_exec(&r, NULL, argv);
		check_usage(&r, cases[i].args[0], cases[i].what);
	}
	SHMQ(&r, "send");
	check_usage(&r, "send", "missing NAME");
	CHECK(!posix_exists(name));
}

TEST(cli_chan_wrong_objects_get_clear_errors)
{
	struct t_run r;
	char name[64], raw[64], loc[96], want[160];

	t_name(name, sizeof(name), "none");
	SHMQ(&r, "recv", name);
	check_one_line(r.status, r.err, "no such channel; add --create");
	CHECK(!posix_exists(name));
	t_shmq(&r, "x\n", "send", name, (char *)NULL);
	check_one_line(r.status, r.err, "no such channel");
	/* A raw segment is not a channel, and stays as it was. */
	t_name(raw, sizeof(raw), "raw");
	snprintf(loc, sizeof(loc), "posix:%s", raw);
	SHMQ(&r, "create", loc, "--size", "64K");
	CHECK_EQ(r.status, 0);
	SHMQ(&r, "recv", loc);
	snprintf(want, sizeof(want), "%s: not a shmq channel", loc);
	check_one_line(r.status, r.err, want);
	t_shmq(&r, "x\n", "send", raw, "--create", (char *)NULL);
	check_one_line(r.status, r.err, "not a shmq channel");
	SHMQ(&r, "stat", loc);
	CHECK_HAS(r.out, "kind:        raw");
	SHMQ(&r, "rm", loc);
	CHECK_EQ(r.status, 0);
	/* A channel of another format version names both versions. */
	t_shmq(&r, "", "send", loc, "--create", "--persist", (char *)NULL);
	CHECK_EQ(r.status, 0);
	shmq_seg *seg;
	CHECK_EQ(shmq_seg_open(&seg, loc, NULL), 0);
	uint32_t *ver = (uint32_t *)((char *)shmq_seg_addr(seg) + 8), was = *ver;
	*ver = 99;
	SHMQ(&r, "recv", loc);
	snprintf(want, sizeof(want), "%s: made by channel format 99", loc);
	check_one_line(r.status, r.err, want);
	CHECK_HAS(r.err, "reads format ");
	CHECK_HAS(r.err, "shmq rm");
	*ver = was;
	CHECK_EQ(shmq_seg_close(seg), 0);
	SHMQ(&r, "rm", loc);
	CHECK_EQ(r.status, 0);
	/* System V cannot hold one; a malformed locator says why. */
	SHMQ(&r, "recv", "sysv:key=0x5eed", "--create");
	check_one_line(r.status, r.err, "a channel lives in a POSIX object "
	               "or a memfd");
	SHMQ(&r, "send", "sysv:0", "--create");
	check_one_line(r.status, r.err, "malformed locator");
}

/* A writer and a reader attached, three messages through, both waiting. */
static void live_pair(const char *name, struct proc *rx, struct proc *tx)
{
	start_pair(rx, tx, name, NULL, "1\n2\n3\n", 6, 1);
	while (strcmp(rx->o.p, "1\n2\n3\n"))
		CHECK(proc_pump((struct proc *[]){ rx, tx }, 2, 1000) > 0);
}

/* Lets the pair of live_pair() finish normally. */
static void end_pair(struct proc *rx, struct proc *tx)
{
	proc_close_in(tx);
	proc_run((struct proc *[]){ rx, tx }, 2);
	check_status(rx, 0);
	check_status(tx, 0);
	proc_free(rx);
	proc_free(tx);
}

TEST(cli_chan_an_existing_channel_must_match_what_create_asks)
{
	struct t_run r;
	struct proc rx, tx;
	char name[64], want[128];

	t_name(name, sizeof(name), "fit");
	t_shmq(&r, "", "send", name, "--create", "--kind", "mpmc",
	       "--capacity", "8", "--persist", (char *)NULL);
	CHECK_EQ(r.status, 0);
	SHMQ(&r, "recv", name, "--create", "--kind", "broadcast");
	check_one_line(r.status, r.err, "exists as a mpmc channel, not "
	               "broadcast; use --kind mpmc");
	SHMQ(&r, "recv", name, "--create", "--kind", "mpmc", "--capacity", "9");
	check_one_line(r.status, r.err, "exists with capacity 8, less than "
	               "the 9 asked");
	SHMQ(&r, "recv", name, "--create", "--kind", "mpmc", "--msg-size",
	     "8K");
	check_one_line(r.status, r.err, "exists with msg-size 4096, less "
	               "than the 8192 asked");
	SHMQ(&r, "rm", name);
	CHECK_EQ(r.status, 0);
	/* A spsc channel has one writer place. */
	live_pair(name, &rx, &tx);
	t_shmq(&r, "x\n", "send", name, (char *)NULL);
	snprintf(want, sizeof(want), "one writer is attached already (pid %d)",
	         (int)tx.pid);
	check_one_line(r.status, r.err, want);
	end_pair(&rx, &tx);
	CHECK(!posix_exists(name));
}

TEST(cli_chan_line_longer_than_the_largest_message_names_the_limit)
{
	struct t_run r;
	char name[64];

	t_name(name, sizeof(name), "long");
	t_shmq(&r, "ok\n0123456789abcdef0\n", "send", name, "--create",
	       "--kind", "mpmc", "--msg-size", "16", "--readers", "0",
	       (char *)NULL);
	check_one_line(r.status, r.err, "line 2 is longer than the channel's "
	               "largest message (16 bytes); use --binary");
	/* A line of exactly 16 bytes, newline included, fits. */
	t_shmq(&r, "0123456789abcde\n", "send", name, "--create", "--kind",
	       "mpmc", "--msg-size", "16", "--readers", "0", "--persist",
	       (char *)NULL);
	CHECK_EQ(r.status, 0);
	SHMQ(&r, "rm", name);
	CHECK_EQ(r.status, 0);
	CHECK(!posix_exists(name));
}

TEST(cli_chan_a_rounded_capacity_is_noted)
{
	struct t_run r;
	struct shmq_chan_info in;
	char name[64], want[192];

	t_name(name, sizeof(name), "round");
	/* No reader to wait for: no message. */
	t_shmq(&r, "", "send", name, "--create", "--capacity", "3", "--persist",
	       (char *)NULL);
	CHECK_EQ(r.status, 0);
	snprintf(want, sizeof(want), "shmq: note: %s: --capacity 3 asked, the "
	         "channel has 64 (ring bytes: a power of two, at least 64)\n",
	         name);
	CHECK(!strcmp(r.err, want));
	CHECK_EQ(shmq_chan_stat(name, &in), 0);
	CHECK_EQ(in.capacity, 64);
	SHMQ(&r, "rm", name);
	CHECK_EQ(r.status, 0);
	t_shmq(&r, "", "send", name, "--create", "--kind", "mpmc",
	       "--capacity", "5", "--msg-size", "17", (char *)NULL);
	CHECK_EQ(r.status, 0);
	snprintf(want, sizeof(want), "shmq: note: %s: --capacity 5 asked, the "
	         "channel has 8 (message slots: a power of two)\n", name);
	CHECK(!strcmp(r.err, want)); /* and nothing of --msg-size: kept */
	/* What is given exactly is not noted. */
	t_shmq(&r, "", "send", name, "--create", "--capacity", "64",
	       (char *)NULL);
	CHECK_EQ(r.status, 0);
	CHECK_EQ(strlen(r.err), 0);
	CHECK(!posix_exists(name));
}

/* ---- The object's life, ls, stat, rm ---------------------------------------- */

TEST(cli_chan_persist_keeps_the_channel_and_rm_removes_it)
{
	struct t_run r;
	struct proc rx, tx;
	char name[64];

	t_name(name, sizeof(name), "keep");
	proc_start(&rx, NULL, 0, 0, TOOL("recv", name, "--create",
	           "--persist"));
	proc_start(&tx, "one\n", 4, 0, TOOL("send", name, "--create",
	           "--persist", "--readers", "1"));
	proc_run((struct proc *[]){ &rx, &tx }, 2);
	check_status(&rx, 0);
	check_status(&tx, 0);
	CHECK(!strcmp(rx.o.p, "one\n"));
	CHECK(posix_exists(name));
	SHMQ(&r, "stat", name);
	CHECK_HAS(r.out, "kind:        channel");
	CHECK_HAS(r.out, "flags:       persist\n");
	CHECK_HAS(r.out, "sent:        1\n");
	CHECK_HAS(r.out, "received:    1\n");
	CHECK_HAS(r.out, "stale:       no");
	SHMQ(&r, "rm", "--stale", "--dry-run");
	CHECK(!strstr(r.out, name)); /* kept on purpose: not stale */
	SHMQ(&r, "rm", name);
	CHECK_EQ(r.status, 0);
	CHECK(!posix_exists(name));
	proc_free(&rx);
	proc_free(&tx);
}

/* The row of `shmq ls` that names name, in buf. */
static const char *ls_row(const char *out, const char *name, char *buf,
                          size_t len)
{
	char key[96];
	const char *hit, *start;

	snprintf(key, sizeof(key), " %s ", name);
	hit = strstr(out, key);
	CHECK(hit != NULL);
	for (start = hit; start > out && start[-1] != '\n'; start--)
		;
	snprintf(buf, len, "%.*s", (int)strcspn(start, "\n"), start);
	return buf;
}

TEST(cli_chan_ls_and_stat_show_the_channel)
{
	struct t_run r;
	struct proc rx, tx;
	char name[64], want[256], line[4096];

	t_name(name, sizeof(name), "show");
	live_pair(name, &rx, &tx);
	SHMQ(&r, "stat", name, "--json");
	CHECK_EQ(r.status, 0);
	CHECK_HAS(r.out, "\"kind\": \"channel\"");
	CHECK_HAS(r.out, "\"channel\": {\"type\": \"spsc\", \"capacity\": "
	          "1048576, \"msg_size\": 1048560, \"policy\": \"block\", "
	          "\"depth_bytes\": 0, \"depth_msgs\": 0");
	snprintf(want, sizeof(want), "\"writers\": [{\"pid\": %d, \"alive\": "
	         "true, \"msgs\": 3}], \"readers\": [{\"pid\": %d, \"alive\": "
	         "true, \"msgs\": 3}], \"sent\": 3, \"received\": 3, "
	         "\"lost\": 0, \"recovered\": 0}", (int)tx.pid, (int)rx.pid);
	CHECK_HAS(r.out, want);
	SHMQ(&r, "stat", name);
	CHECK_HAS(r.out, "type:        spsc\n");
	CHECK_HAS(r.out, "capacity:    1048576 (ring bytes)\n");
	snprintf(want, sizeof(want), "writers:     %d (alive, 3 messages)\n",
	         (int)tx.pid);
	CHECK_HAS(r.out, want);
	snprintf(want, sizeof(want), "readers:     %d (alive, 3 messages)\n",
	         (int)rx.pid);
	CHECK_HAS(r.out, want);
	SHMQ(&r, "ls");
	CHECK(strncmp(r.out, "FAMILY  KIND ", 13) == 0);
	ls_row(r.out, name, line, sizeof(line));
	CHECK(strncmp(line, "posix ", 6) == 0);
	CHECK_HAS(line, " channel ");
	SHMQ(&r, "ls", "--json");
	snprintf(want, sizeof(want), "\"name\": \"%s\"", name);
	CHECK(strstr(r.out, want) != NULL);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(strstr(r.out, want),
	         "\n"), strstr(r.out, want));
	CHECK_HAS(line, "\"channel\": {\"type\": \"spsc\"");
	end_pair(&rx, &tx);
	CHECK(!posix_exists(name));
}

TEST(cli_chan_recv_on_a_channel_scribbled_over_exits_1)
{
	static const char junk[64] = "not a channel header any more";
	struct proc rx, tx;
	char name[64], path[128], want[160];
	int fd;

	t_name(name, sizeof(name), "junk");
	live_pair(name, &rx, &tx);
	/* A peer with write access wrecks the header while the reader
	 * waits for the next message. */
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, junk, sizeof(junk), 0), (long long)sizeof(junk));
	close(fd);
	while (proc_pump((struct proc *[]){ &rx }, 1, 1000) > 0)
		;
	rx.status = t_wait(rx.pid);
	snprintf(want, sizeof(want), "%s: channel corrupted", name);
	check_one_line(rx.status, rx.e.p, want);
	CHECK_HAS(rx.e.p, "3 messages received");
	proc_close_in(&tx);
	proc_run((struct proc *[]){ &tx }, 1);
	unlink(path); /* wrecked: nobody can vouch for it */
	proc_free(&rx);
	proc_free(&tx);
}

TEST(cli_chan_rm_stale_removes_a_channel_whose_processes_died)
{
	struct t_run r;
	struct proc rx, tx;
	char name[64], want[160], line[512];

	t_name(name, sizeof(name), "stale");
	live_pair(name, &rx, &tx);
	CHECK_EQ(kill(tx.pid, SIGKILL), 0);
	CHECK_EQ(kill(rx.pid, SIGKILL), 0);
	proc_run((struct proc *[]){ &rx, &tx }, 2);
	CHECK(posix_exists(name)); /* nobody closed it */
	SHMQ(&r, "ls");
	CHECK_HAS(ls_row(r.out, name, line, sizeof(line)), " stale");
	SHMQ(&r, "rm", "--stale");
	CHECK_EQ(r.status, 0);
	snprintf(want, sizeof(want), "removed posix:%s (stale: every "
	         "participant dead)", name);
	CHECK_HAS(r.out, want);
	CHECK(!posix_exists(name));
	proc_free(&rx);
	proc_free(&tx);
}
