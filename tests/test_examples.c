/*
 * The examples (examples/, built into $SHMQ_BUILD/examples) run as real
 * processes, the way their top comments say, and keep their promises: chat
 * delivers every line once and in order, also to a receiver that comes
 * late, and reports a sender that died; reqrep gets every reply; prodcons's
 * consumers get every item once; posix_prodcons's two checksums agree. Each
 * run leaves nothing in /dev/shm.
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
		       "byte %zu of %zu (got %zu bytes)", i, strlen(want),
		       strlen(got));
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

TEST(example_chat_receiver_reports_a_sender_that_died)
{
	struct pair chat;
	char *text = numbered_lines(10), got[4096];
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
	CHECK(strncmp(got, text, len) == 0);
	CHECK_HAS(got + len, "died"); /* its error line, after every line */
	close(in[1]);
	close(out[0]);
	check_gone(chat.name);
	free(text);
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
		CHECK_EQ(c->status, 0);
		CHECK_EQ(s->status, 0);
		CHECK_HAS(c->out, "client: 2000 replies ok");
		CHECK_HAS(s->out, "server: answered 2000 requests");
		check_gone(strcat(strcpy(req, rr.name), "-req"));
		check_gone(strcat(strcpy(rep, rr.name), "-rep"));
	}
}

TEST(example_prodcons_consumers_get_every_item_once)
{
	char bin[256], name[64], want[128];
	char *argv[] = {example(bin, sizeof(bin), "prodcons"),
	                (char *)t_name(name, sizeof(name), "pc"), "4", "3",
	                "25000", NULL};
	unsigned long long n = 4 * 25000, taken = 0;
	struct t_run r;
	CHECK_EQ(t_exec(&r, NULL, argv), 0);
	snprintf(want, sizeof(want), "total %llu items, sum %llu: ok", n,
	         n * (n + 1) / 2);
	CHECK_HAS(r.out, want);
	/* "consumers took A B C items": three consumers, n in all */
	CHECK_HAS(r.out, "consumers took ");
	char *p = strstr(r.out, "took ") + 5, *end;
	int consumers = 0;
	for (unsigned long long v; v = strtoull(p, &end, 10), end != p; p = end) {
		taken += v;
		consumers++;
	}
	CHECK(strncmp(p, " items\n", 7) == 0);
	CHECK_EQ(consumers, 3);
	CHECK_EQ(taken, n);
	check_gone(name);
}

/* "produced N bytes, checksum X" and "consumed N bytes, checksum X". */
static void check_checksums(const struct t_run *p, const struct t_run *c,
                            unsigned long long bytes)
{
	unsigned long long pn, pc, cn, cc;
	CHECK_EQ(p->status, 0);
	CHECK_EQ(c->status, 0);
	CHECK_EQ(sscanf(p->out, "produced %llu bytes, checksum %llx", &pn,
	                &pc), 2);
	CHECK_EQ(sscanf(c->out, "consumed %llu bytes, checksum %llx", &cn,
	                &cc), 2);
	CHECK_EQ(pn, bytes);
	CHECK_EQ(cn, bytes);
	CHECK(pc == cc);
}

TEST(example_posix_prodcons_checksums_match)
{
	struct pair pp;
	struct t_run p;
	pid_t pid;
	pair_init(&pp, "posix_prodcons", "pp", "produce", "8388608", "consume",
	          NULL);
	struct t_run *c = exec_bg(&pid, pp.b);
	t_exec(&p, NULL, pp.a);
	CHECK_EQ(t_wait(pid), 0);
	check_checksums(&p, c, 8388608);
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
