/* shmq bridge between two hosts: two network namespaces joined by a veth
 * pair, each process in its own mount namespace with its own /dev/shm, so
 * the channels on A and B are truly separate (docs/bridge.md). No DDS
 * participant runs in the root namespace. */
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINES 100000

/* Up to three hosts: namespaces A, B (and C) with one interface each;
 * two are joined by a veth pair, three by veths to a Linux bridge device
 * in a fourth namespace (the switch). */
#define MAX_HOSTS 3
enum { HOST_A, HOST_B, HOST_C };
static char ns[MAX_HOSTS + 1][32], ifn[MAX_HOSTS][16], ip[MAX_HOSTS][32];
static int nhosts;
static char bridge_bin[4096];

static int sh(struct t_run *r, const char *script)
{
	char *argv[] = { "sh", "-c", (char *)script, NULL };

	return t_exec(r, NULL, argv);
}

static void drop_hosts(void)
{
	char cmd[256];
	struct t_run r;

	for (int i = 0; i <= MAX_HOSTS; i++) {
		snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ns[i]);
		if (ns[i][0])
			sh(&r, cmd);
	}
}

/* The shell lines that make host i (and its port on the switch). */
static int host_script(char *cmd, size_t len, int i)
{
	if (nhosts == 2 && i == 1)
		return snprintf(cmd, len,
		         "ip -n %1$s link add %2$s type veth peer name %3$s netns %4$s; "
		         "ip -n %1$s addr add %5$s/24 dev %2$s; "
		         "ip -n %4$s addr add %6$s/24 dev %3$s; "
		         "ip -n %1$s link set %2$s up; ip -n %4$s link set %3$s up; ",
		         ns[0], ifn[0], ifn[1], ns[1], ip[0], ip[1]);
	if (nhosts == 2)
		return 0;
	return snprintf(cmd, len,
	         "ip -n %1$s link add %2$s type veth peer name %2$sp netns %3$s; "
	         "ip -n %3$s link set %2$sp master br0 up; "
	         "ip -n %1$s addr add %4$s/24 dev %2$s; "
	         "ip -n %1$s link set %2$s up; ",
	         ns[i], ifn[i], ns[MAX_HOSTS], ip[i]);
}

/* n hosts (2 or 3), or a skip naming why there can be none. */
static void make_hosts_n(int n)
{
	static struct t_run r;
	char cmd[4096];
	const char *slash;
	unsigned id = (unsigned)getpid();
	size_t off;

	slash = strrchr(t_shmq_bin(), '/');
	snprintf(bridge_bin, sizeof(bridge_bin), "%.*s/shmq-bridge",
	         slash ? (int)(slash - t_shmq_bin()) : 1,
	         slash ? t_shmq_bin() : ".");
	if (access(bridge_bin, X_OK))
		t_skip_dep("cyclonedds-dev cyclonedds-tools",
		           "shmq-bridge was not built (no Cyclone DDS)");
	if (!t_have_program("ip"))
		t_skip_dep("iproute2", "no ip command: no network namespaces");
	t_need_root("network namespaces");
	nhosts = n;
	for (int i = 0; i <= MAX_HOSTS; i++)
		snprintf(ns[i], sizeof(ns[i]), "shmqt-%u-%c", id,
		         i == MAX_HOSTS ? 's' : 'a' + i);
	for (int i = 0; i < n; i++) {
		snprintf(ifn[i], sizeof(ifn[i]), "sq%u%c", id % 1000000, 'a' + i);
		snprintf(ip[i], sizeof(ip[i]), "10.%u.%u.%d", 200 + id % 50,
		         (id / 50) % 250, i + 1);
	}
	/* A failed or timed-out test leaves its hosts (t_fail does not run
	 * atexit): remove those of processes that are gone. */
	sh(&r, "for n in $(ip netns list | sed -n 's/^\\(shmqt-[0-9]*-[abcs]\\).*/\\1/p'); "
	       "do p=${n#shmqt-}; kill -0 ${p%-*} 2>/dev/null || ip netns del $n; done");
	off = (size_t)snprintf(cmd, sizeof(cmd), "set -e; ");
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
		                        "ip netns add %s; ip -n %s link set lo up; ",
		                        ns[i], ns[i]);
	if (n == MAX_HOSTS)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
		         "ip netns add %1$s; ip -n %1$s link add br0 type bridge; "
		         "ip -n %1$s link set br0 up; ", ns[MAX_HOSTS]);
	else
		ns[MAX_HOSTS][0] = '\0';
	for (int i = 0; i < n; i++)
		off += (size_t)host_script(cmd + off, sizeof(cmd) - off, i);
	CHECK(off < sizeof(cmd));
	if (sh(&r, cmd)) {
		drop_hosts();
		t_skip("cannot create network namespaces and veth pairs");
	}
	atexit(drop_hosts);
}

static void make_hosts(void)
{
	make_hosts_n(2);
}

/* sh -c BODY on host h (0 = A) with a /dev/shm of its own; $S is the tool,
 * $NET the bridge's network options toward the other hosts. */
static void on_host(char *buf, size_t len, int h, const char *body)
{
	char net[256];
	size_t off;

	off = (size_t)snprintf(net, sizeof(net), "--interface %s", ifn[h]);
	for (int i = 0; i < nhosts; i++)
		if (i != h)
			off += (size_t)snprintf(net + off, sizeof(net) - off,
			                        " --peer %s", ip[i]);
	snprintf(buf, len,
	         "ip netns exec %s unshare -m sh -c 'mount -t tmpfs tmpfs /dev/shm"
	         " || exit 9; S=%s; NET=\"%s\"; %s'",
	         ns[h], t_shmq_bin(), net, body);
}

static pid_t start_host(struct t_run *r, int h, const char *body)
{
	char cmd[4096];
	pid_t pid;

	on_host(cmd, sizeof(cmd), h, body);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int rc = sh(r, cmd);

		fprintf(stderr, "%s", r->err);
		_exit(rc);
	}
	return pid;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	CHECK(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* count numbered lines into path, each padded to width bytes (with its
 * newline) when width is above its natural length. */
static void write_lines(const char *path, int count, int width)
{
	FILE *f = fopen(path, "w");

	CHECK(f);
	for (int i = 1; i <= count; i++) {
		int n = fprintf(f, "line %d of the bridged stream", i);

		fprintf(f, "%*s\n", width - 1 - n > 0 ? width - 1 - n : 0, "");
	}
	CHECK(fclose(f) == 0);
}

/* Files a and b hold the same bytes. */
static void check_same(const char *a, const char *b)
{
	size_t na, nb;
	char *x = read_file(a, &na), *y = read_file(b, &nb);

	CHECK_EQ(nb, na);
	CHECK(memcmp(x, y, na) == 0);
	free(x);
	free(y);
}

/* /tmp/shmqt-PID-what, for the files of a test. */
static void tmp_path(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "/tmp/shmqt-%d-%s", (int)getpid(), what);
}

/* On host h: a bridge in on topic writing into channel c (its report in
 * out.err) and a reader of c (recv with flags) writing to out; exits 10 *
 * recv's status + the bridge's. */
static pid_t start_receiver(struct t_run *r, int h, const char *topic,
                            const char *flags, const char *out)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "$S bridge in c --create --stats --topic %s $NET 2> %s.err & "
	         "$S recv c --create %s > %s; r=$?; wait $!; exit $((r * 10 + $?))",
	         topic, out, flags, out);
	return start_host(r, h, body);
}

/* The bridge in of start_receiver(out) saw no gap in the stream and
 * refused nothing (a message lost between the bridges is counted there,
 * even where the bytes still add up). */
static void check_no_loss(const char *out)
{
	char path[80];
	size_t n;
	char *err;

	snprintf(path, sizeof(path), "%s.err", out);
	err = read_file(path, &n);
	CHECK_HAS(err, " 0 refused, 0 lost");
	free(err);
	unlink(path);
}

/* On A: a bridge out (with out_flags) on topic and a writer sending the
 * file in (send with flags) into channel c; both exit 0. */
static void run_sender(struct t_run *r, const char *topic,
                       const char *out_flags, const char *flags,
                       const char *in)
{
	char body[1024], cmd[4096];

	snprintf(body, sizeof(body),
	         "$S bridge out c --create --topic %s %s $NET & "
	         "$S send c --create %s < %s; echo send=$?; wait $!; echo out=$?",
	         topic, out_flags, flags, in);
	on_host(cmd, sizeof(cmd), HOST_A, body);
	sh(r, cmd);
	CHECK_HAS(r->out, "send=0");
	CHECK_HAS(r->out, "out=0");
}

TEST(bridge_refuses_to_start_without_interface_or_peer)
{
	struct t_run r;

	make_hosts();
	SHMQ(&r, "bridge", "out", "c", "--topic", "t");
	check_usage_error(&r, "bridge out");
	CHECK_HAS(r.err, "refusing to start without --interface");
	SHMQ(&r, "bridge", "in", "c", "--topic", "t", "--create");
	CHECK_HAS(r.err, "refusing to start without --interface");
	CHECK_EQ(r.status, 2);
	SHMQ(&r, "bridge", "in", "c", "--topic", "t", "--peer", "10.0.0.1",
	     "--readers", "2");
	CHECK_HAS(r.err, "--readers is an option of bridge out");
	CHECK_EQ(r.status, 2);
	SHMQ(&r, "bridge", "out", "c", "--topic", "t", "--peer", "10.0.0.1",
	     "--readers", "0");
	CHECK_HAS(r.err, "invalid --readers '0'");
	CHECK_EQ(r.status, 2);
}

/* Lines from a channel on A to a channel on B, byte for byte, and the end
 * of the stream with them: B's reader exits 0. 20,000 lines in `make
 * test` (suite time), 100,000 with SHMQ_LONG=1. */
/* On A: bridge out of channel c to topic, and shmq send into c from the
 * fifo, which *fd opens for writing. Exits 10 * send's status + bridge
 * out's. */
static pid_t start_fifo_sender(struct t_run *r, const char *topic,
                               const char *fifo, int *fd)
{
	char body[512];
	pid_t pid;

	snprintf(body, sizeof(body),
	         "$S bridge out c --create --topic %s $NET & b=$!; "
	         "$S send c --create < %s; s=$?; wait $b; exit $((s * 10 + $?))",
	         topic, fifo);
	pid = start_host(r, HOST_A, body);
	*fd = open(fifo, O_WRONLY);
	CHECK(*fd >= 0);
	return pid;
}

/* File in goes from A through topic to file out on B (mode: the tool's
 * "" or "--binary"), which must be the same, byte for byte. */
static void transfer_a_to_b(const char *topic, const char *mode,
                            const char *in, const char *out)
{
	static struct t_run ra, rb;
	pid_t pb = start_receiver(&rb, HOST_B, topic, mode, out);
	run_sender(&ra, topic, "", mode, in);
	CHECK_EQ(t_wait(pb), 0);
	check_same(in, out);
	check_no_loss(out);
	unlink(in);
	unlink(out);
}

TEST(bridge_carries_lines_byte_for_byte_and_the_end_of_stream)
{
	char in[64], out[64];

	make_hosts();
	tmp_path(in, sizeof(in), "in");
	tmp_path(out, sizeof(out), "out");
	write_lines(in, t_long() ? LINES : LINES / 5, 0);
	transfer_a_to_b("t1", "", in, out);
}

/* One writer on A, a bridge in and a reader on each of B and C (three
 * hosts on a Linux bridge device): both readers get every line, byte for
 * byte, and the end of the stream. bridge out --readers 2 takes the first
 * message only once both matched. */
TEST(bridge_broadcasts_one_writer_to_readers_on_two_hosts)
{
	static struct t_run ra, rb, rc;
	char in[64], out_b[64], out_c[64];
	pid_t pb, pc;

	make_hosts_n(3);
	tmp_path(in, sizeof(in), "in");
	tmp_path(out_b, sizeof(out_b), "out-b");
	tmp_path(out_c, sizeof(out_c), "out-c");
	write_lines(in, t_long() ? LINES : LINES / 20, 0);
	pb = start_receiver(&rb, HOST_B, "t5", "", out_b);
	pc = start_receiver(&rc, HOST_C, "t5", "", out_c);
	run_sender(&ra, "t5", "--readers 2", "", in);
	CHECK_EQ(t_wait(pb), 0);
	CHECK_EQ(t_wait(pc), 0);
	check_same(in, out_b);
	check_same(in, out_c);
	check_no_loss(out_b);
	check_no_loss(out_c);
	unlink(in);
	unlink(out_b);
	unlink(out_c);
}

/* Polls (bounded) until file path holds needle. */
static int wait_for_text(const char *path, const char *needle)
{
	for (int i = 0; i < 2000; i++) {
		FILE *f = fopen(path, "r");
		char buf[256] = "";

		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			fclose(f);
			buf[n] = '\0';
			if (strstr(buf, needle))
				return 1;
		}
		usleep(10000); /* a poll of a condition, not a wait for time */
	}
	return 0;
}

/* Reads pid from path once it is there (bounded poll). */
static pid_t read_pid(const char *path)
{
	long pid = 0;

	CHECK(wait_for_text(path, "\n"));
	FILE *f = fopen(path, "r");
	CHECK(f && fscanf(f, "%ld", &pid) == 1);
	fclose(f);
	return (pid_t)pid;
}

/* The writer on A dies (kill -9): the bridge out leaves without an end of
 * stream, the bridge in on B sees the instance lost and leaves without
 * closing, and B's reader gets a dead writer (exit 1), not an end. */
TEST(bridge_writer_death_reaches_the_remote_reader_as_a_dead_writer)
{
	static struct t_run ra, rb;
	char fifo[64], out[64], pidf[64], body[1024];
	pid_t pa, pb;
	int fd;

	make_hosts();
	snprintf(fifo, sizeof(fifo), "/tmp/shmqt-%d-fifo", (int)getpid());
	snprintf(out, sizeof(out), "/tmp/shmqt-%d-out", (int)getpid());
	snprintf(pidf, sizeof(pidf), "/tmp/shmqt-%d-pid", (int)getpid());
	CHECK(mkfifo(fifo, 0600) == 0);
	snprintf(body, sizeof(body),
	         "$S bridge in c --create --topic t2 $NET & "
	         "$S recv c --create > %s; r=$?; wait $!; exit $((r * 10 + $?))",
	         out);
	pb = start_host(&rb, HOST_B, body);
	snprintf(body, sizeof(body),
	         "$S bridge out c --create --topic t2 $NET & b=$!; "
	         "$S send c --create < %s & echo $! > %s; wait $b", fifo, pidf);
	pa = start_host(&ra, HOST_A, body);
	fd = open(fifo, O_WRONLY);
	CHECK(fd >= 0);
	CHECK(write(fd, "first\n", 6) == 6);
	CHECK(wait_for_text(out, "first\n"));
	CHECK(kill(read_pid(pidf), SIGKILL) == 0);
	CHECK_EQ(t_wait(pa), 1);  /* bridge out: the local writer died */
	CHECK_EQ(t_wait(pb), 11); /* recv 1 (dead writer), bridge in 1 */
	close(fd);
	unlink(fifo);
	unlink(out);
	unlink(pidf);
}

/* A plain Cyclone publisher (tests/dds/forge.c) sends a sample whose size
 * field lies and one whose sequence number goes back between two good
 * ones: bridge in refuses both, counts them, and writes only the good. */
TEST(bridge_in_refuses_and_counts_forged_samples)
{
	static struct t_run ra, rb;
	char out[64], err[64], forge[1024], body[2048], cmd[4096];
	size_t n;
	char *got, *why;
	pid_t pb;

	make_hosts();
	snprintf(forge, sizeof(forge), "%s/tests/dds-forge", t_build_dir());
	CHECK(access(forge, X_OK) == 0);
	snprintf(out, sizeof(out), "/tmp/shmqt-%d-out", (int)getpid());
	snprintf(err, sizeof(err), "/tmp/shmqt-%d-err", (int)getpid());
	snprintf(body, sizeof(body),
	         "$S bridge in c --create --topic t3 $NET 2> %s & "
	         "$S recv c --create > %s; r=$?; wait $!; exit $((r * 10 + $?))",
	         err, out);
	pb = start_host(&rb, HOST_B, body);
	snprintf(body, sizeof(body), "%s t3 %s %s", forge, ifn[0], ip[1]);
	on_host(cmd, sizeof(cmd), HOST_A, body);
	CHECK_EQ(sh(&ra, cmd), 0);
	CHECK_EQ(t_wait(pb), 0);
	got = read_file(out, &n);
	CHECK_STREQ(got, "a\nb\n");
	why = read_file(err, &n);
	CHECK_HAS(why, "refused a malformed sample (seq 2, size 100, 7 bytes)");
	CHECK_HAS(why, "2 refused");
	free(got);
	free(why);
	unlink(out);
	unlink(err);
}

/* kill -9 of bridge in on B mid-stream, then a new one: what reaches B's
 * channel is in order with no duplicate; the messages lost in between are
 * reported by the new bridge ("stream joined at message N"). The stream
 * runs until the new bridge has it. */
TEST(bridge_in_killed_and_restarted_gives_no_duplicate_and_no_reorder)
{
	static struct t_run ra, rb;
	char fifo[64], out[64], err[64], mark[64], body[2048], line[32];
	size_t n;
	char *got, *why, *p;
	long prev = 0, cur, lines = 0, sent = 0;
	int fd;
	pid_t pa, pb;

	make_hosts();
	snprintf(fifo, sizeof(fifo), "/tmp/shmqt-%d-fifo", (int)getpid());
	snprintf(out, sizeof(out), "/tmp/shmqt-%d-out", (int)getpid());
	snprintf(err, sizeof(err), "/tmp/shmqt-%d-err", (int)getpid());
	snprintf(mark, sizeof(mark), "/tmp/shmqt-%d-mark", (int)getpid());
	CHECK(mkfifo(fifo, 0600) == 0);
	/* The first bridge in is killed once messages reached the channel,
	 * the second one says when it gets the stream (its "stream joined"
	 * line: it cannot have message 1), and only then does the stream
	 * end: its end must come through the new bridge (a stream that ended
	 * while the dead reader's lease still ran would reach nobody). The
	 * polls are bounded by the test's timeout. */
	snprintf(body, sizeof(body),
	         "$S bridge in c --create --persist --capacity 4M --topic t4 $NET & "
	         "b=$!; until $S stat c 2>/dev/null | grep -q \"^sent: *[1-9]\"; "
	         "do sleep 0.01; done; kill -9 $b; wait $b; "
	         "$S bridge in c --topic t4 $NET 2> %s & b=$!; "
	         "until grep -q \"stream joined\" %s; do sleep 0.01; done; "
	         "touch %s; wait $b || exit 1; "
	         "$S recv c > %s; $S rm c; exit 0", err, err, mark, out);
	pb = start_host(&rb, HOST_B, body);
	pa = start_fifo_sender(&ra, "t4", fifo, &fd);
	while (sent % 64 || access(mark, F_OK)) {
		int len = snprintf(line, sizeof(line), "%ld\n", ++sent);

		CHECK(write(fd, line, (size_t)len) == len);
	}
	close(fd);
	CHECK_EQ(t_wait(pa), 0);
	CHECK_EQ(t_wait(pb), 0);
	got = read_file(out, &n);
	for (p = got; *p; p = strchr(p, '\n') + 1) {
		cur = strtol(p, NULL, 10);
		CHECK(cur > prev); /* no duplicate, no reorder */
		prev = cur;
		lines++;
	}
	CHECK_EQ(prev, sent); /* the end came through the new bridge */
	why = read_file(err, &n);
	if (lines < sent)
		CHECK_HAS(why, "stream joined at message");
	free(got);
	free(why);
	unlink(fifo);
	unlink(out);
	unlink(err);
	unlink(mark);
}

/* Backpressure (block: RELIABLE KEEP_ALL): B's reader is stopped
 * (SIGSTOP), so B's channel, bridge in's bounded DDS cache, the writer's
 * history on A and A's channel fill, and the writer on A stalls part way;
 * SIGCONT, and every line arrives, byte for byte. */
TEST(bridge_slow_remote_reader_blocks_the_local_writer_and_loses_nothing)
{
	static struct t_run ra, rb;
	char in[64], out[64], pidf[64], body[1024], cmd[4096];
	const char *p;
	int total = 12000; /* 100-byte lines: nearly twice what the path holds */
	long stalled;
	pid_t pb, recv_pid;

	make_hosts();
	tmp_path(in, sizeof(in), "in");
	tmp_path(out, sizeof(out), "out");
	tmp_path(pidf, sizeof(pidf), "pid");
	write_lines(in, total, 100);
	snprintf(body, sizeof(body),
	         "$S bridge in c --create --capacity 64K --topic t6 $NET & "
	         "$S recv c --create --capacity 64K > %s & echo $! > %s; "
	         "wait $!; r=$?; wait; exit $((r * 10 + $?))", out, pidf);
	pb = start_host(&rb, HOST_B, body);
	recv_pid = read_pid(pidf);
	CHECK(kill(recv_pid, SIGSTOP) == 0);
	/* On A: once more than the two channels hold (655 such lines each)
	 * was sent, and the count then stays put for 3 polls in a row, say
	 * where the writer stalled and that it still runs; then SIGCONT.
	 * (stat under ASan without its leak check: polls stay quick.) */
	snprintf(body, sizeof(body),
	         "$S bridge out c --create --capacity 64K --topic t6 $NET & b=$!; "
	         "$S send c --create --capacity 64K < %s & s=$!; "
	         "prev=x; same=0; until [ $same = 3 ]; do sleep 0.1; "
	         "cur=$(ASAN_OPTIONS=detect_leaks=0 $S stat c | "
	         "sed -n \"s/^sent: *//p\"); "
	         "if [ \"${cur:-0}\" -gt 1310 ] && [ \"$cur\" = \"$prev\" ]; "
	         "then same=$((same + 1)); else same=0; fi; prev=$cur; done; "
	         "echo stalled=$cur; kill -0 $s && echo send-running; "
	         "kill -CONT %d; wait $s; echo send=$?; wait $b; echo out=$?",
	         in, (int)recv_pid);
	on_host(cmd, sizeof(cmd), HOST_A, body);
	sh(&ra, cmd);
	p = strstr(ra.out, "stalled=");
	CHECK(p);
	stalled = strtol(p + 8, NULL, 10);
	CHECK(stalled > 1310 && stalled < total);
	CHECK_HAS(ra.out, "send-running");
	CHECK_HAS(ra.out, "send=0");
	CHECK_HAS(ra.out, "out=0");
	CHECK_EQ(t_wait(pb), 0);
	check_same(in, out);
	unlink(in);
	unlink(out);
	unlink(pidf);
}

/* Writes lines from..to (numbered as write_lines does) to fd. */
static void put_lines(int fd, int from, int to)
{
	char line[64];

	for (int i = from; i <= to; i++) {
		int n = snprintf(line, sizeof(line),
		                 "line %d of the bridged stream\n", i);

		CHECK(write(fd, line, (size_t)n) == n);
	}
}

/* The link cut for longer than the 1 s lease (run by the link cut test
 * with SHMQ_LONG=1 only: several seconds): B's bridge in sees the
 * writer's liveliness end and leaves as for a dead writer ("cut off"); the
 * link restored, a new bridge in on the same channel gets what is written
 * from then on; what B's channel holds is in order with no duplicate and
 * ends with the last line, and the lines published into the cut (dropped
 * by the writer once its reader's lease ran out) are reported lost
 * ("stream joined at message N"). */
static void link_cut_longer_than_the_lease(void)
{
	static struct t_run ra, rb, rl;
	char fifo[64], out[64], err1[64], err2[64], flow[64], up[64];
	char st1[64], body[2048], cmd[256];
	int half = 2000, fd;
	long prev = 0, cur, lines = 0;
	size_t n;
	char *got, *why, *p;
	pid_t pa, pb;
	FILE *f;

	tmp_path(fifo, sizeof(fifo), "fifo");
	tmp_path(out, sizeof(out), "out");
	tmp_path(err1, sizeof(err1), "err1");
	tmp_path(err2, sizeof(err2), "err2");
	tmp_path(flow, sizeof(flow), "flow");
	tmp_path(up, sizeof(up), "up");
	tmp_path(st1, sizeof(st1), "st1");
	CHECK(mkfifo(fifo, 0600) == 0);
	snprintf(body, sizeof(body),
	         "(until $S stat c 2>/dev/null | grep -q \"^sent: *[1-9]\"; do "
	         "sleep 0.02; done; echo > %s) & "
	         "$S bridge in c --create --persist --capacity 4M --topic t11 $NET "
	         "2> %s; echo in1=$? > %s; until [ -e %s ]; do sleep 0.05; done; "
	         "$S bridge in c --topic t11 $NET 2> %s || exit 1; "
	         "$S recv c > %s; $S rm c; exit 0",
	         flow, err1, st1, up, err2, out);
	pb = start_host(&rb, HOST_B, body);
	pa = start_fifo_sender(&ra, "t11", fifo, &fd);
	put_lines(fd, 1, half);
	CHECK(wait_for_text(flow, "\n"));
	snprintf(cmd, sizeof(cmd), "ip -n %s link set %s down", ns[HOST_B],
	         ifn[HOST_B]);
	CHECK_EQ(sh(&rl, cmd), 0);
	put_lines(fd, half + 1, 2 * half); /* into the cut */
	CHECK(wait_for_text(st1, "in1=1")); /* the lease ran out */
	snprintf(cmd, sizeof(cmd), "ip -n %s link set %s up", ns[HOST_B],
	         ifn[HOST_B]);
	CHECK_EQ(sh(&rl, cmd), 0);
	f = fopen(up, "w");
	CHECK(f && fclose(f) == 0);
	put_lines(fd, 2 * half + 1, 3 * half); /* after: all must arrive */
	close(fd);
	CHECK_EQ(t_wait(pa), 0);
	CHECK_EQ(t_wait(pb), 0);
	why = read_file(err1, &n);
	CHECK_HAS(why, "cut off before ending the stream");
	free(why);
	got = read_file(out, &n);
	for (p = got; *p; p = strchr(p, '\n') + 1) {
		CHECK(sscanf(p, "line %ld ", &cur) == 1);
		CHECK(cur > prev); /* no duplicate, no reorder */
		prev = cur;
		lines++;
	}
	CHECK_EQ(prev, 3 * half); /* the end came through the new bridge */
	why = read_file(err2, &n);
	if (lines < 3 * half) /* lines published into the cut were lost */
		CHECK_HAS(why, "stream joined at message");
	free(got);
	free(why);
	unlink(fifo);
	unlink(out);
	unlink(err1);
	unlink(err2);
	unlink(flow);
	unlink(up);
	unlink(st1);
}

/* The link cut (ip link set down on B's side) for 0.4 s, less than the
 * 1 s lease, while lines are in flight, and restored: RELIABLE
 * retransmits, so B gets every line once, in order, and the end. With
 * SHMQ_LONG=1, then a cut longer than the lease (above). */
TEST_TIMEOUT(bridge_link_cut_and_restored_within_the_lease_loses_nothing, 60)
{
	static struct t_run ra, rb, rl;
	char fifo[64], in[64], out[64], cmd[256];
	int half = 2000, fd;
	pid_t pa, pb;

	make_hosts();
	tmp_path(fifo, sizeof(fifo), "fifo");
	tmp_path(in, sizeof(in), "in");
	tmp_path(out, sizeof(out), "out");
	CHECK(mkfifo(fifo, 0600) == 0);
	write_lines(in, 2 * half, 0);
	pb = start_receiver(&rb, HOST_B, "t7", "", out);
	pa = start_fifo_sender(&ra, "t7", fifo, &fd);
	put_lines(fd, 1, half);
	CHECK(wait_for_text(out, "line 1 of")); /* the stream flows */
	snprintf(cmd, sizeof(cmd), "ip -n %s link set %s down", ns[HOST_B],
	         ifn[HOST_B]);
	CHECK_EQ(sh(&rl, cmd), 0);
	put_lines(fd, half + 1, 2 * half); /* into the cut */
	usleep(400000); /* the length of the cut, not a wait for an event */
	snprintf(cmd, sizeof(cmd), "ip -n %s link set %s up", ns[HOST_B],
	         ifn[HOST_B]);
	CHECK_EQ(sh(&rl, cmd), 0);
	close(fd);
	CHECK_EQ(t_wait(pa), 0);
	CHECK_EQ(t_wait(pb), 0);
	check_same(in, out);
	check_no_loss(out);
	unlink(fifo);
	unlink(in);
	unlink(out);
	if (t_long())
		link_cut_longer_than_the_lease();
}

/* size pseudo-random bytes (xorshift64) into path. */
static void write_random(const char *path, size_t size)
{
	static uint64_t buf[8192];
	uint64_t x = 0x9e3779b97f4a7c15u;
	FILE *f = fopen(path, "wb");

	CHECK(f);
	for (size_t done = 0; done < size; done += sizeof(buf)) {
		size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);

		for (size_t i = 0; i < sizeof(buf) / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		CHECK(fwrite(buf, 1, n, f) == n);
	}
	CHECK(fclose(f) == 0);
}

/* A binary stream A -> B byte for byte (send/recv --binary: messages of
 * up to 64 KiB): 8 MiB in `make test`, 256 MiB with SHMQ_LONG=1 (make
 * check-long; about 20 s under the sanitizers here, 2.3 s without). */
TEST(bridge_carries_a_binary_stream_byte_for_byte)
{
	char in[64], out[64];

	make_hosts();
	tmp_path(in, sizeof(in), "bin-in");
	tmp_path(out, sizeof(out), "bin-out");
	write_random(in, (size_t)(t_long() ? 256 : 8) << 20);
	transfer_a_to_b("t8", "--binary", in, out);
}

/* Durability (--history K: TRANSIENT_LOCAL, the writer keeping its last
 * K): 10 lines published on A with nobody listening; a bridge in that
 * joins later with --history 3 gets the last 3, says what it missed, and
 * then the end of the stream. */
TEST(bridge_history_gives_a_late_remote_reader_the_last_k)
{
	static struct t_run ra, rb;
	char in[64], end[64], out[64], err[64], pubf[64], body[1024];
	size_t n;
	char *got, *why;
	pid_t pa, pb;
	FILE *f;

	make_hosts();
	tmp_path(in, sizeof(in), "in");
	tmp_path(end, sizeof(end), "end");
	tmp_path(out, sizeof(out), "out");
	tmp_path(err, sizeof(err), "err");
	tmp_path(pubf, sizeof(pubf), "published");
	write_lines(in, 10, 0);
	/* A's writer sends the 10 lines and holds the stream open until the
	 * file end appears; A says when bridge out took all 10 (polls of
	 * files and of shmq stat). */
	snprintf(body, sizeof(body),
	         "$S bridge out c --create --kind samples --history 3 --topic t9 "
	         "$NET & b=$!; (cat %s; until [ -e %s ]; do sleep 0.05; done) | "
	         "$S send c --create --kind samples --history 3 & s=$!; "
	         "until ASAN_OPTIONS=detect_leaks=0 $S stat c | "
	         "grep -q \"^received: *10$\"; do sleep 0.05; done; echo > %s; "
	         "wait $s; s=$?; wait $b; exit $((s * 10 + $?))", in, end, pubf);
	pa = start_host(&ra, HOST_A, body);
	CHECK(wait_for_text(pubf, "\n"));
	snprintf(body, sizeof(body),
	         "$S bridge in c --create --kind samples --history 3 --topic t9 "
	         "$NET 2> %s & $S recv c --create --kind samples --history 3 "
	         "> %s; r=$?; wait $!; exit $((r * 10 + $?))", err, out);
	pb = start_host(&rb, HOST_B, body);
	CHECK(wait_for_text(out, "line 10 of")); /* the history came */
	f = fopen(end, "w"); /* the end of the stream */
	CHECK(f && fclose(f) == 0);
	CHECK_EQ(t_wait(pa), 0);
	CHECK_EQ(t_wait(pb), 0);
	got = read_file(out, &n);
	CHECK_STREQ(got, "line 8 of the bridged stream\nline 9 of the bridged "
	            "stream\nline 10 of the bridged stream\n");
	why = read_file(err, &n);
	CHECK_HAS(why, "stream joined at message 8: the 7 before it were not "
	          "received");
	free(got);
	free(why);
	unlink(in);
	unlink(end);
	unlink(out);
	unlink(err);
	unlink(pubf);
}

/* examples/dds_listener, a plain Cyclone subscriber with no shmq in it,
 * gets a bridged channel's lines on B byte for byte, counts them, and
 * ends at the end of the stream. */
TEST(bridge_topic_is_read_by_a_plain_dds_program)
{
	static struct t_run ra, rb;
	char in[64], out[64], err[64], listener[1024], body[2048];
	size_t n;
	char *why;
	pid_t pb;

	make_hosts();
	snprintf(listener, sizeof(listener), "%s/examples/dds_listener",
	         t_build_dir());
	CHECK(access(listener, X_OK) == 0);
	tmp_path(in, sizeof(in), "in");
	tmp_path(out, sizeof(out), "out");
	tmp_path(err, sizeof(err), "err");
	write_lines(in, 1000, 0);
	snprintf(body, sizeof(body), "%s t10 %s %s > %s 2> %s", listener,
	         ifn[HOST_B], ip[HOST_A], out, err);
	pb = start_host(&rb, HOST_B, body);
	run_sender(&ra, "t10", "", "", in);
	CHECK_EQ(t_wait(pb), 0);
	check_same(in, out);
	why = read_file(err, &n);
	CHECK_HAS(why, "dds_listener: 1000 messages, ");
	free(why);
	unlink(in);
	unlink(out);
	unlink(err);
}

