/*
 * The examples (examples/, built into $SHMQ_BUILD/examples) run as real
 * processes, the way their top comments say, and keep their promises, each
 * checked on its exact output: chat delivers every line once and in order
 * (byte for byte), also to a receiver that comes late, and reports a sender
 * that died; reqrep gets every reply, each to its own request; prodcons's
 * consumers take every item exactly once; posix_prodcons's consumer gets
 * the producer's byte stream exactly (its checksum, recomputed here);
 * segments shows what the child wrote in both families; epoll_loop takes
 * both channels' streams to their end (count and sum of each) and reports
 * producers killed mid-stream; libuv_loop takes its stream to the end;
 * frames's two viewers get every frame in order, each pixel as sent (the
 * checksum recomputed here).
 * Each run leaves nothing behind.
 */
#include "shmq.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

static char *example(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/examples/%s", t_build_dir(), name);
	return buf;
}

/* Two commands of one example on one fresh name:
 * a = `EXAMPLE A NAME [A_ARG]`, b = `EXAMPLE B NAME [B_ARG]`. */
struct pair {
	char bin[256], name[64];
	char *a[5], *b[5];
};

static void pair_init(struct pair *p, const char *ex, const char *tag,
                      char *a, char *a_arg, char *b, char *b_arg)
{
	char *av[] = {example(p->bin, sizeof(p->bin), ex), a,
	              (char *)t_name(p->name, sizeof(p->name), tag), a_arg,
	              NULL};
	char *bv[] = {p->bin, b, p->name, b_arg, NULL};
	memcpy(p->a, av, sizeof(av));
	memcpy(p->b, bv, sizeof(bv));
}

/* t_exec in a forked helper, so the test can start the other side
 * meanwhile. The result is in the returned page once t_wait(*pid) is 0. */
static struct t_run *exec_bg(pid_t *pid, char *const argv[])
{
	struct t_run *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(r != MAP_FAILED);
	fflush(NULL);
	*pid = fork();
	CHECK(*pid >= 0);
	if (*pid == 0) {
		t_exec(r, NULL, argv);
		_exit(0);
	}
	return r;
}

static void check_gone(const char *name)
{
	char path[320];
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	if (access(path, F_OK) == 0 || errno != ENOENT)
		t_fail(__FILE__, __LINE__, "check_gone", "%s is left behind",
		       path);
}

static void check_same(const char *got, const char *want)
{
	size_t i = 0;
	while (got[i] && got[i] == want[i])
		i++;
	if (got[i] || want[i])
		t_fail(__FILE__, __LINE__, "check_same", "output differs at "
		       "byte %zu of %zu (got %zu bytes): \"%.60s\", want "
		       "\"%.60s\"", i, strlen(want), strlen(got), got + i,
		       want + i);
}

/* n numbered lines of varied lengths, so records land at every offset of
 * the ring and wrap it. */
static char *numbered_lines(int n)
{
	size_t len = (size_t)n * 32 + 1, at = 0;
	char *s = malloc(len);
	CHECK(s != NULL);
	for (int i = 0; i < n; i++)
		at += (size_t)snprintf(s + at, len - at, "line %05d %.*s\n", i,
		                       i % 13, "abcdefghijklm");
	return s;
}

TEST(example_chat_delivers_every_line_in_order)
{
	struct pair chat;
	char *text = numbered_lines(2000); /* ~34 KiB: twice the ring */
	struct t_run s;
	pid_t pid;
	pair_init(&chat, "chat", "chat", "send", NULL, "recv", NULL);
	struct t_run *r = exec_bg(&pid, chat.b);
	CHECK_EQ(t_exec(&s, text, chat.a), 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(r->status, 0);
	check_same(r->out, text);
	check_same(r->err, "");
	check_same(s.out, "");
	check_same(s.err, "");
	check_gone(chat.name);
	free(text);
}

TEST(example_chat_keeps_lines_for_a_receiver_that_comes_later)
{
	struct pair chat;
	char *text = numbered_lines(100), path[320];
	struct t_run s, r;
	pair_init(&chat, "chat", "late", "send", NULL, "recv", NULL);
	CHECK_EQ(t_exec(&s, text, chat.a), 0); /* the sender has quit */
	snprintf(path, sizeof(path), "/dev/shm/%s", chat.name);
	CHECK_EQ(access(path, F_OK), 0);
	CHECK_EQ(t_exec(&r, NULL, chat.b), 0);
	check_same(r.out, text);
	check_same(r.err, "");
	check_gone(chat.name);
	free(text);
}

/* argv with stdin from `in` and stdout and stderr to `out` (-1: ours). */
static pid_t spawn(char *const argv[], int in, int out)
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if ((in >= 0 && dup2(in, 0) < 0) ||
		    (out >= 0 && (dup2(out, 1) < 0 || dup2(out, 2) < 0)))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Reads fd into buf (NUL-terminated) until it holds `want` bytes or EOF. */
static size_t read_until(int fd, char *buf, size_t len, size_t have,
                         size_t want)
{
	ssize_t n = 1;
	while (have < want && have + 1 < len && n > 0)
		if ((n = read(fd, buf + have, len - 1 - have)) > 0)
			have += (size_t)n;
	buf[have] = '\0';
	return have;
}

/* Every line, then exactly the error line of a dead peer. */
TEST(example_chat_receiver_reports_a_sender_that_died)
{
	struct pair chat;
	char *text = numbered_lines(10), got[4096], want[4096], why[512];
	size_t len = strlen(text);
	int in[2], out[2];
	pair_init(&chat, "chat", "dead", "send", NULL, "recv", NULL);
	CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	pid_t rx = spawn(chat.b, -1, out[1]);
	pid_t tx = spawn(chat.a, in[0], -1);
	close(out[1]);
	close(in[0]);
	CHECK_EQ(write(in[1], text, len), len); /* stdin stays open */
	CHECK_EQ(read_until(out[0], got, sizeof(got), 0, len), len);
	CHECK_EQ(kill(tx, SIGKILL), 0);
	CHECK_EQ(t_wait(tx), 128 + SIGKILL);
	read_until(out[0], got, sizeof(got), len, sizeof(got));
	CHECK_EQ(t_wait(rx), 1);
	snprintf(want, sizeof(want), "%schat: %s\n", text,
	         shmq_explain(SHMQ_EPEERDEAD, chat.name, 0, why, sizeof(why)));
	check_same(got, want);
	CHECK_HAS(got + len, "died");
	close(in[1]);
	close(out[0]);
	check_gone(chat.name);
	free(text);
}

/* out is exactly one line: head, a number, tail. */
static void check_line(const char *out, const char *head, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail), n = strlen(out);
	char *end;
	if (n < h + t || strncmp(out, head, h) || strcmp(out + n - t, tail))
		t_fail(__FILE__, __LINE__, "check_line", "\"%s\" is not "
		       "\"%s<number>%s\"", out, head, tail);
	strtod(out + h, &end);
	CHECK(end > out + h && end == out + n - t);
}

TEST(example_reqrep_answers_every_request)
{
	struct pair rr;
	char req[80], rep[80];
	pair_init(&rr, "reqrep", "rr", "server", NULL, "client", "2000");
	for (int client_first = 0; client_first < 2; client_first++) {
		struct t_run fg, *c, *s;
		pid_t pid;
		struct t_run *bg = exec_bg(&pid, client_first ? rr.b : rr.a);
		t_exec(&fg, NULL, client_first ? rr.a : rr.b);
		CHECK_EQ(t_wait(pid), 0);
		c = client_first ? bg : &fg;
		s = client_first ? &fg : bg;
		/* The client checks that reply i is request i's square. */
		CHECK_EQ(c->status, 0);
		CHECK_EQ(s->status, 0);
		check_same(s->out, "server: answered 2000 requests\n");
		check_line(c->out, "client: 2000 replies ok, ",
		           " us per round trip\n");
		check_same(c->err, "");
		check_same(s->err, "");
		check_gone(strcat(strcpy(req, rr.name), "-req"));
		check_gone(strcat(strcpy(rep, rr.name), "-rep"));
	}
}

/* Each item is ticked in a table by the consumer that took it: every one
 * exactly once (a duplicate and a loss cannot cancel out). */
TEST(example_prodcons_consumers_get_every_item_once)
{
	char bin[256], name[64];
	char *argv[] = {example(bin, sizeof(bin), "prodcons"),
	                (char *)t_name(name, sizeof(name), "pc"), "4", "3",
	                "25000", NULL};
	unsigned long long n = 4 * 25000, taken = 0;
	struct t_run r;
	t_exec(&r, NULL, argv);
	check_same(r.err, "");
	/* "consumers took A B C items": three consumers, n in all */
	CHECK(strncmp(r.out, "consumers took ", 15) == 0);
	char *p = r.out + 15, *end;
	int consumers = 0;
	for (unsigned long long v; v = strtoull(p, &end, 10), end != p; p = end) {
		taken += v;
		consumers++;
	}
	CHECK_EQ(consumers, 3);
	CHECK_EQ(taken, n);
	check_same(p, " items\ntotal 100000 of 100000 items, 0 taken twice, "
	              "0 never: ok\n");
	CHECK_EQ(r.status, 0);
	check_gone(name);
}

/* The FNV-1a checksum of the stream the producer makes (its generator,
 * in its messages of 1..4096 bytes). */
static uint64_t stream_checksum(uint64_t total)
{
	uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (uint64_t sent = 0; sent < total;) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		uint64_t len = 1 + rng % 4096;
		if (len > total - sent)
			len = total - sent;
		for (uint64_t i = 0; i < len; i++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			h = (h ^ (unsigned char)rng) * UINT64_C(0x100000001b3);
		}
		sent += len;
	}
	return h;
}

/* Both print the count and the checksum of exactly that stream. */
static void check_checksums(const struct t_run *p, const struct t_run *c,
                            unsigned long long bytes)
{
	char want[128];
	unsigned long long sum = stream_checksum(bytes);
	CHECK_EQ(p->status, 0);
	CHECK_EQ(c->status, 0);
	snprintf(want, sizeof(want), "produced %llu bytes, checksum %016llx\n",
	         bytes, sum);
	check_same(p->out, want);
	snprintf(want, sizeof(want), "consumed %llu bytes, checksum %016llx\n",
	         bytes, sum);
	check_same(c->out, want);
	check_same(p->err, "");
	check_same(c->err, "");
}

TEST(example_posix_prodcons_checksums_match)
{
	struct pair pp;
	struct t_run p;
	pid_t pid;
	pair_init(&pp, "posix_prodcons", "pp", "produce", "4194304", "consume",
	          NULL);
	struct t_run *c = exec_bg(&pid, pp.b);
	t_exec(&p, NULL, pp.a);
	CHECK_EQ(t_wait(pid), 0);
	check_checksums(&p, c, 4194304);
	check_gone(pp.name);
}

TEST(example_posix_prodcons_consumer_may_come_after_the_producer)
{
	struct pair pp;
	struct t_run p, c;
	pair_init(&pp, "posix_prodcons", "ppl", "produce", "40000", "consume",
	          NULL);
	CHECK_EQ(t_exec(&p, NULL, pp.a), 0); /* fits the ring: it quits */
	t_exec(&c, NULL, pp.b);
	check_checksums(&p, &c, 40000);
	check_gone(pp.name);
}

/* Splits a copy of line at spaces into at most max fields. */
static int fields(const char *line, char *copy, size_t len, char **f, int max)
{
	int n = 0;
	char *save = NULL;
	snprintf(copy, len, "%s", line);
	for (char *t = strtok_r(copy, " ", &save); t && n < max;
	     t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	return n;
}

/* The `shmq ls` row of ours among the others (NULL-terminated lines from
 * the header on): the one whose field `col` is `key`, exactly once. */
static void ls_row(char **lines, int col, const char *key, char **f,
                   char *copy, size_t len)
{
	static char tmp[512];
	char *g[16];
	int found = 0;
	for (int i = 1; lines[i]; i++) {
		if (fields(lines[i], tmp, sizeof(tmp), g, 16) != 11 ||
		    strcmp(g[col], key))
			continue;
		if (found++ == 0)
			fields(lines[i], copy, len, f, 16);
	}
	if (found != 1)
		t_fail(__FILE__, __LINE__, "ls_row", "%d rows of %s in \"%s\"",
		       found, key, lines[0]);
}

/* The example's two objects are gone; if not, they are removed (nothing
 * is left behind even when the test fails) and the test fails. */
static void check_segments_gone(int id, const char *posix)
{
	struct shmid_ds ds;
	char path[320];
	snprintf(path, sizeof(path), "/dev/shm/%s", posix);
	int sysv_left = shmctl(id, IPC_STAT, &ds) == 0;
	int posix_left = access(path, F_OK) == 0;
	if (sysv_left)
		shmctl(id, IPC_RMID, NULL);
	if (posix_left)
		unlink(path);
	if (sysv_left || posix_left)
		t_fail(__FILE__, __LINE__, "gone", "left behind:%s%s",
		       sysv_left ? " the sysv segment" : "",
		       posix_left ? " the posix object" : "");
}

/* The parent creates a System V and a POSIX segment, its child writes a
 * line into each, the parent prints both back, `shmq ls` lists both (made
 * by the parent, mode 0600, 4096 bytes, attached once: the parent's), and
 * both are removed. */
TEST(example_segments_shares_both_families_and_removes_them)
{
	static struct t_run r;
	char bin[256], posix[64], want[512], copy[512], *f[16], *lines[256];
	int id, pid, cpid, at = 0, n = 0;
	char *argv[] = {example(bin, sizeof(bin), "segments"),
	                (char *)t_shmq_bin(), NULL};
	t_exec(&r, NULL, argv);
	if (sscanf(r.out, "created sysv:id=%d and posix:shmq-demo-%d\n%n", &id,
	           &pid, &at) != 2 || !at)
		t_fail(__FILE__, __LINE__, "created", "status %d, out \"%.200s\""
		       ", err \"%.200s\"", r.status, r.out, r.err);
	snprintf(posix, sizeof(posix), "shmq-demo-%d", pid);
	check_segments_gone(id, posix);
	CHECK_EQ(r.status, 0);
	check_same(r.err, "");
	/* What the child wrote, read back by the parent. */
	CHECK_EQ(sscanf(r.out + at, "read: hello from pid %d", &cpid), 1);
	CHECK(cpid > 0 && cpid != pid);
	snprintf(want, sizeof(want), "read: hello from pid %d via sysv:id=%d\n"
	         "read: hello from pid %d via posix:%s\n", cpid, id, cpid, posix);
	snprintf(copy, sizeof(copy), "%.*s", (int)strlen(want), r.out + at);
	check_same(copy, want);
	at += (int)strlen(want);
	/* Then the tool's table (its header, ours among any other rows),
	 * then the last line. */
	const char *last = "\nremoved both\n";
	CHECK(strlen(r.out + at) > strlen(last));
	check_same(r.out + strlen(r.out) - strlen(last), last);
	r.out[strlen(r.out) - strlen(last)] = '\0';
	char *save = NULL;
	for (char *l = strtok_r(r.out + at, "\n", &save); l && n < 255;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	lines[n] = NULL;
	CHECK(n >= 3);
	CHECK_EQ(fields(lines[0], copy, sizeof(copy), f, 16), 11);
	snprintf(want, sizeof(want), "%s %s %s %s %s %s %s %s %s %s %s", f[0],
	         f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10]);
	check_same(want, "FAMILY KIND KEY/NAME ID OWNER MODE SIZE ATTACHED "
	                 "CPID LPID FLAGS");
	struct passwd *pw = getpwuid(geteuid());
	CHECK(pw != NULL);
	char sid[32], spid[32];
	snprintf(sid, sizeof(sid), "%d", id);
	snprintf(spid, sizeof(spid), "%d", pid);
	ls_row(lines, 3, sid, f, copy, sizeof(copy));
	const char *sysv_row[] = {"sysv", "raw", "0x00000000", sid, pw->pw_name,
	                          "0600", "4096", "1", spid, NULL, "-"};
	for (int i = 0; i < 11; i++) /* LPID: the last to attach, the tool */
		if (sysv_row[i])
			check_same(f[i], sysv_row[i]);
	CHECK(atoi(f[9]) > 0);
	ls_row(lines, 2, posix, f, copy, sizeof(copy));
	const char *posix_row[] = {"posix", "raw", posix, "-", pw->pw_name,
	                           "0600", "4096", "1", "-", "-", "-"};
	for (int i = 0; i < 11; i++)
		check_same(f[i], posix_row[i]);
}

/* ---- Event loops -------------------------------------------------------- */

/* epoll_loop's line for channel i: count, sum, how it ended. */
static void check_source_line(const char *line, int i, unsigned long long n,
                              const char *how)
{
	char want[640];
	snprintf(want, sizeof(want), "channel %d: %llu messages, sum %llu, %s\n",
	         i, n, n * (n + 1) / 2, how);
	check_same(line, want);
}

/* Two producers, 20000 and 40000 numbers: each channel brings every one
 * (the count and the sum of 1..n), then its end, and the timer ticked. */
TEST(example_epoll_loop_takes_both_streams_to_their_end)
{
	char bin[256], name[64], want[512], loc[80];
	char *argv[] = {example(bin, sizeof(bin), "epoll_loop"),
	                (char *)t_name(name, sizeof(name), "ep"), "20000", NULL};
	struct t_run r;
	CHECK_EQ(t_exec(&r, NULL, argv), 0);
	snprintf(want, sizeof(want),
	         "channel 1: 20000 messages, sum 200010000, then the end of "
	         "the stream (-EPIPE)\n"
	         "channel 2: 40000 messages, sum 800020000, then the end of "
	         "the stream (-EPIPE)\n"
	         "timer: fired; both producers exited with 0\n");
	check_same(r.out, want);
	check_same(r.err, "");
	for (int i = 1; i <= 2; i++)
		check_gone((snprintf(loc, sizeof(loc), "%s-%d", name, i), loc));
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The writer of loc once it has joined and its reader has taken messages
 * (within 10 s). */
static pid_t running_writer(const char *loc)
{
	struct shmq_chan_info in;
	int64_t until = now_ns() + 10 * 1000000000LL;
	while (now_ns() < until) {
		if (shmq_chan_stat(loc, &in) == 0 && in.writers == 1 &&
		    in.received > 0)
			for (unsigned i = 0; i < in.npeers; i++)
				if (in.peers[i].role == SHMQ_WRITER)
					return in.peers[i].pid;
		usleep(1000); /* polls the state, orders nothing */
	}
	t_fail(__FILE__, __LINE__, "running_writer", "%s: no writer at work "
	       "within 10 s", loc);
}

/* Both producers killed mid-stream: the loop is woken for each (its 50 ms
 * tick finds the writer dead), reports what it took (every number up to
 * the last it got: count and sum agree) and the dead peer, and fails. */
TEST(example_epoll_loop_reports_producers_that_died)
{
	char bin[256], name[64], loc[2][80], how[512], *line[4];
	char *argv[] = {example(bin, sizeof(bin), "epoll_loop"),
	                (char *)t_name(name, sizeof(name), "epd"), "90000000",
	                NULL};
	unsigned long long n;
	pid_t pid, w[2];
	struct t_run *r = exec_bg(&pid, argv);
	for (int i = 0; i < 2; i++)
		snprintf(loc[i], sizeof(loc[i]), "%s-%d", name, i + 1);
	for (int i = 0; i < 2; i++)
		w[i] = running_writer(loc[i]);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(kill(w[i], SIGKILL), 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(r->status, 1);
	check_same(r->err, "");
	line[0] = r->out;
	for (int i = 1; i < 4; i++) {
		char *nl = strchr(line[i - 1], '\n');
		CHECK(nl != NULL);
		line[i] = nl + 1;
	}
	check_same(line[3], "");
	for (int i = 0; i < 2; i++) {
		char copy[640];
		snprintf(copy, sizeof(copy), "%.*s", (int)(line[i + 1] - line[i]),
		         line[i]);
		CHECK_EQ(sscanf(copy, "channel %*d: %llu messages", &n), 1);
		CHECK(n > 0 && n < 90000000ULL * (unsigned)(i + 1));
		check_source_line(copy, i + 1, n, shmq_explain(SHMQ_EPEERDEAD,
		                  loc[i], 0, how, sizeof(how)));
	}
	check_same(line[2], "timer: fired; both producers exited but not both "
	                    "well\n");
	for (int i = 0; i < 2; i++)
		check_gone(loc[i]);
}

TEST(example_libuv_loop_takes_the_stream_to_its_end)
{
	char bin[256], name[64];
	char *argv[] = {example(bin, sizeof(bin), "libuv_loop"),
	                (char *)t_name(name, sizeof(name), "uv"), "30000", NULL};
	struct t_run r;
	if (access(bin, X_OK) != 0)
		t_skip_dep("libuv1-dev", "examples/libuv_loop was not built "
		           "(no libuv)");
	CHECK_EQ(t_exec(&r, NULL, argv), 0);
	check_same(r.out, "30000 messages, sum 450015000, then the end of the "
	                  "stream (-EPIPE)\n");
	check_same(r.err, "");
	check_gone(name);
}

/* The checksum frames computes: pixels 2.. of frames 0..n-1, each its
 * frame's pattern (the example's formula, redone here). */
static uint64_t frames_sum(uint64_t n)
{
	uint64_t sum = 0;
	for (uint64_t f = 0; f < n; f++)
		for (size_t i = 2; i < (size_t)1920 * 1080; i++)
			sum += (uint32_t)(f * 0x9e3779b1u) ^
			       (uint32_t)(i * 2654435761u);
	return sum;
}

TEST(example_frames_viewers_check_every_frame_in_place)
{
	char bin[256], name[64], want[512];
	char *argv[] = {example(bin, sizeof(bin), "frames"),
	                (char *)t_name(name, sizeof(name), "fr"), "12", "240",
	                NULL};
	unsigned long long sum = (unsigned long long)frames_sum(12);
	struct t_run r;
	CHECK_EQ(t_exec(&r, NULL, argv), 0);
	snprintf(want, sizeof(want),
	         "producer: 12 frames of 1920x1080 RGBA (8294400 bytes) at "
	         "240 fps, checksum %016llx\n"
	         "viewer 1: 12 frames in order, 0 bad, checksum %016llx\n"
	         "viewer 2: 12 frames in order, 0 bad, checksum %016llx\n"
	         "ok\n", sum, sum, sum);
	check_same(r.out, want);
	check_same(r.err, "");
	check_gone(name);
}
