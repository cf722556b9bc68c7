/*
 * Channels through the library: real processes on both ends, checked
 * message by message. Names come from t_posix_loc so the runner removes
 * whatever a failing test leaves.
 */
#include "layout.h"
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Message i: its number, then bytes that depend on it, length varying. */
static size_t make_msg(char *buf, size_t max, uint64_t i)
{
	size_t len = 8 + (i * 7919) % (max - 8 + 1);
	memcpy(buf, &i, 8);
	for (size_t k = 8; k < len; k++)
		buf[k] = (char)(i + k);
	return len;
}

static int msg_ok(const char *buf, size_t len, uint64_t *num)
{
	uint64_t i;
	if (len < 8)
		return 0;
	memcpy(&i, buf, 8);
	for (size_t k = 8; k < len; k++)
		if (buf[k] != (char)(i + k))
			return 0;
	*num = i;
	return 1;
}

static shmq_chan *make(const char *loc, int kind, size_t cap, size_t msg,
                       int policy, int role)
{
	struct shmq_chan_opts o = {.kind = kind, .capacity = cap,
	                           .msg_size = msg, .policy = policy,
	                           .spin_ns = -1};
	shmq_chan *ch = NULL;
	CHECK_EQ(shmq_chan_create(&ch, loc, role, &o), 0);
	return ch;
}

static shmq_chan *batch_writer(const char *loc, uint32_t batch)
{
	struct shmq_chan_opts o = {.spin_ns = -1, .batch = batch};
	shmq_chan *w = NULL;
	CHECK_EQ(shmq_chan_open(&w, loc, SHMQ_WRITER, &o), 0);
	return w;
}

/* A child that writes messages from..to-1 (batch: opts.batch) and closes. */
static pid_t batch_child(const char *loc, uint64_t from, uint64_t to,
                         size_t max, uint32_t batch)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char buf[70000];
		shmq_chan *w = batch_writer(loc, batch);
		for (uint64_t i = from; i < to; i++)
			CHECK_EQ(shmq_chan_send(w, buf, make_msg(buf, max, i)), 0);
		CHECK_EQ(shmq_chan_close(w), 0);
		_exit(0);
	}
	return pid;
}

static pid_t writer(const char *loc, uint64_t from, uint64_t to, size_t max)
{
	return batch_child(loc, from, to, max, 0);
}

/* Receives until the end of the stream, each message whole and numbered
 * one more than the last: how many came. */
static uint64_t recv_in_order(shmq_chan *r)
{
	static char buf[70000];
	uint64_t want = 0, num;
	ssize_t n;
	while ((n = shmq_chan_recv(r, buf, sizeof(buf))) >= 0) {
		CHECK(msg_ok(buf, (size_t)n, &num));
		CHECK_EQ(num, want);
		want++;
	}
	CHECK_EQ(n, -EPIPE); /* the writer closed: end of stream */
	return want;
}

TEST(spsc_delivers_every_message_whole_and_in_order_across_wraps)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "c");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0, SHMQ_READER);
	pid_t pid = writer(loc, 0, 50000, 600);
	CHECK_EQ(recv_in_order(r), 50000);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	struct shmq_stat st;
	CHECK_EQ(shmq_stat(loc, &st), -ENOENT); /* the last close removed it */
}

TEST(spsc_takes_a_message_as_large_as_the_ring_and_refuses_larger)
{
	char loc[128];
	static char big[65536], back[65536];
	t_posix_loc(loc, sizeof(loc), "big");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 65536, 0, 0, SHMQ_READER);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	size_t max = shmq_chan_max_msg(w);
	CHECK_EQ(max, 65536 - 16); /* a record header and the terminator */
	memset(big, 'x', sizeof(big));
	CHECK_EQ(shmq_chan_send(w, big, max + 1), -EMSGSIZE);
	CHECK_EQ(shmq_chan_send(w, big, 100), 0); /* off the ring's start */
	CHECK_EQ(shmq_chan_recv(r, back, sizeof(back)), 100);
	/* A whole-ring message must wait for the reader to pass the PAD
	 * that fills the end: the writer runs in a child. */
	pid_t pid = fork();
	if (pid == 0) {
		CHECK_EQ(shmq_chan_send(w, big, max), 0);
		_exit(0);
	}
	CHECK_EQ(shmq_chan_recv(r, back, 10), -EMSGSIZE); /* stays queued */
	CHECK_EQ(shmq_chan_recv(r, back, sizeof(back)), (ssize_t)max);
	CHECK(memcmp(back, big, max) == 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_chan_try_recv(r, back, sizeof(back)), -EAGAIN);
	CHECK_EQ(shmq_chan_recv(w, back, 1), -EPERM); /* a writer's handle */
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

TEST(zero_copy_reserve_commit_peek_release)
{
	char loc[128];
	void *p;
	const void *q;
	t_posix_loc(loc, sizeof(loc), "zc");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0, SHMQ_READER);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	CHECK_EQ(shmq_chan_reserve(w, 100, &p), 0);
	CHECK_EQ(shmq_chan_send(w, "x", 1), -EBUSY); /* one open reserve */
	memcpy(p, "hello", 5);
	CHECK_EQ(shmq_chan_try_recv(r, (char[8]){0}, 8), -EAGAIN); /* not yet */
	CHECK_EQ(shmq_chan_commit(w, 200), -EINVAL); /* more than reserved */
	CHECK_EQ(shmq_chan_commit(w, 5), 0);
	CHECK_EQ(shmq_chan_peek(r, &q), 5);
	CHECK(memcmp(q, "hello", 5) == 0);
	CHECK_EQ(shmq_chan_release(r), 0);
	CHECK_EQ(shmq_chan_release(r), -EINVAL);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* The waiting convention of reserve and peek, as of send and recv: try_
 * never waits (-EAGAIN on a full or empty ring, not -ETIMEDOUT), _timed
 * waits until its deadline (the peer is alive, just silent), then
 * -ETIMEDOUT; once there is room or a message, each takes it at once. */
static void zero_copy_waits(int kind)
{
	char loc[128];
	void *p;
	const void *q;
	int rc, n = 0;
	t_posix_loc(loc, sizeof(loc), "zw");
	shmq_chan *r = make(loc, kind, kind == SHMQ_CHAN_SPSC ? 64 : 2, 8, 0,
	                    SHMQ_READER);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	CHECK_EQ(shmq_chan_try_peek(r, &q), -EAGAIN);
	struct timespec dl = shmq_deadline(50);
	int64_t t0 = now_ms();
	CHECK_EQ(shmq_chan_peek_timed(r, &q, &dl), -ETIMEDOUT);
	CHECK(now_ms() - t0 >= 49 && now_ms() - t0 < 1000);

	while ((rc = shmq_chan_try_reserve(w, 8, &p)) == 0 && n < 100) {
		memset(p, n++, 8);
		CHECK_EQ(shmq_chan_commit(w, 8), 0);
	}
	CHECK_EQ(rc, -EAGAIN); /* full */
	CHECK(n > 0);
	dl = shmq_deadline(50);
	t0 = now_ms();
	CHECK_EQ(shmq_chan_reserve_timed(w, 8, &p, &dl), -ETIMEDOUT);
	CHECK(now_ms() - t0 >= 49 && now_ms() - t0 < 1000);

	CHECK_EQ(shmq_chan_try_peek(r, &q), 8);
	CHECK_EQ(((const char *)q)[7], 0);
	CHECK_EQ(shmq_chan_release(r), 0);
	dl = shmq_deadline(10000);
	CHECK_EQ(shmq_chan_peek_timed(r, &q, &dl), 8);
	CHECK_EQ(((const char *)q)[7], n > 1 ? 1 : 0);
	CHECK_EQ(shmq_chan_release(r), 0);
	CHECK_EQ(shmq_chan_try_reserve(w, 8, &p), 0); /* room again */
	CHECK_EQ(shmq_chan_commit(w, 8), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

TEST(zero_copy_try_says_eagain_and_timed_keeps_its_deadline_spsc)
{
	zero_copy_waits(SHMQ_CHAN_SPSC);
}

TEST(zero_copy_try_says_eagain_and_timed_keeps_its_deadline_mpmc)
{
	zero_copy_waits(SHMQ_CHAN_MPMC);
}

TEST(zero_copy_try_says_eagain_and_timed_keeps_its_deadline_broadcast)
{
	zero_copy_waits(SHMQ_CHAN_BROADCAST);
}

/* Readers that record which messages they got, in shared memory. */
static void mpmc_reader(const char *loc, unsigned char *seen, uint64_t n)
{
	char buf[512];
	uint64_t num;
	ssize_t got;
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	while ((got = shmq_chan_recv(r, buf, sizeof(buf))) >= 0) {
		CHECK(msg_ok(buf, (size_t)got, &num));
		CHECK(num < n);
		CHECK_EQ(__atomic_fetch_add(&seen[num], 1, __ATOMIC_RELAXED), 0);
	}
	CHECK_EQ(got, -EPIPE);
	CHECK_EQ(shmq_chan_close(r), 0);
}

TEST(mpmc_two_writers_two_readers_deliver_each_message_exactly_once)
{
	enum { N = 40000 };
	char loc[128];
	unsigned char *seen = mmap(NULL, N, PROT_READ | PROT_WRITE,
	                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(seen != MAP_FAILED);
	t_posix_loc(loc, sizeof(loc), "m");
	/* The creator holds a writer handle until the others are in, so the
	 * stream cannot end before they start. */
	shmq_chan *hold = make(loc, SHMQ_CHAN_MPMC, 64, 256, 0, SHMQ_WRITER);
	pid_t pids[4];
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			mpmc_reader(loc, seen, N);
			_exit(0);
		}
	}
	pids[2] = writer(loc, 0, N / 2, 256);
	pids[3] = writer(loc, N / 2, N, 256);
	CHECK_EQ(t_wait(pids[2]), 0);
	CHECK_EQ(t_wait(pids[3]), 0);
	CHECK_EQ(shmq_chan_close(hold), 0);
	CHECK_EQ(t_wait(pids[0]), 0);
	CHECK_EQ(t_wait(pids[1]), 0);
	for (int i = 0; i < N; i++)
		CHECK_EQ(seen[i], 1);
}

/* A broadcast reader. BLOCK (lost_out NULL): it gets messages 0..n-1, each
 * exactly as sent, in order, and never SHMQ_ELOST: the writer waited for
 * it. OVERWRITE: it may miss messages, but counts every one it missed (got
 * plus lost is n), and each it gets is whole, exactly as sent, in order.
 * `slow` makes it slower than the writer, so a writer that does not wait
 * for it laps it. */
static void bcast_reader(const char *loc, int ready_fd, uint64_t n, int slow,
                         uint64_t *lost_out)
{
	char buf[512], sent[512];
	uint64_t num, want = 0, got_n = 0, lost_seen = 0;
	ssize_t got;
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK(write(ready_fd, "r", 1) == 1);
	while ((got = shmq_chan_recv(r, buf, sizeof(buf))) != -EPIPE) {
		if (got == SHMQ_ELOST && lost_out) {
			uint64_t l = shmq_chan_lost(r);
			CHECK(l > lost_seen);
			lost_seen = l;
			continue;
		}
		if (got < 0)
			t_fail(__FILE__, __LINE__, "recv", "message %llu of %llu: "
			       "%s", (unsigned long long)want,
			       (unsigned long long)n, shmq_strerror((int)got));
		CHECK(msg_ok(buf, (size_t)got, &num));
		if (lost_out ? num < want : num != want)
			t_fail(__FILE__, __LINE__, "order", "got message %llu, "
			       "want %llu", (unsigned long long)num,
			       (unsigned long long)want);
		CHECK(num < n);
		size_t len = make_msg(sent, 256, num);
		CHECK_EQ(got, len);
		CHECK(memcmp(buf, sent, len) == 0);
		want = num + 1;
		got_n++;
		if (slow)
			for (volatile int k = 0; k < 3000; k++)
				;
	}
	CHECK_EQ(want, n); /* the last one is never lost: nothing laps it */
	CHECK_EQ(got_n + shmq_chan_lost(r), n);
	if (lost_out)
		*lost_out = shmq_chan_lost(r);
	else
		CHECK_EQ(shmq_chan_lost(r), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* Two readers in before the first message, 16 slots, n messages; reader 1
 * is slow (both, with OVERWRITE). */
static void broadcast_run(int policy, uint64_t n, uint64_t *lost)
{
	char loc[128], c;
	int fds[2];
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_chan *w = make(loc, SHMQ_CHAN_BROADCAST, 16, 256, policy,
	                    SHMQ_WRITER);
	pid_t pids[2];
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(fds[0]);
			bcast_reader(loc, fds[1], n, lost || i == 1,
			             lost ? &lost[i] : NULL);
			_exit(0);
		}
	}
	close(fds[1]);
	for (int i = 0; i < 2; i++) /* both readers joined: they see all */
		CHECK_EQ(read(fds[0], &c, 1), 1);
	close(fds[0]);
	char buf[512];
	for (uint64_t i = 0; i < n; i++)
		CHECK_EQ(shmq_chan_send(w, buf, make_msg(buf, 256, i)), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(t_wait(pids[i]), 0);
}

/* A slow reader holds the writer back: a writer that did not wait would
 * lap it within a few messages (SHMQ_ELOST, a gap). */
TEST(broadcast_block_gives_every_reader_every_message_in_order)
{
	broadcast_run(SHMQ_POLICY_BLOCK, 5000, NULL);
}

/* A writer that starts once it sees a reader counted (shmq send
 * --readers N) must not send before the reader's start: the reader gets
 * the message (a join that counted first and picked its start later
 * missed it without counting it lost). */
TEST(broadcast_reader_gets_what_is_sent_once_it_is_counted)
{
	char loc[128], buf[64];
	t_posix_loc(loc, sizeof(loc), "bj");
	shmq_chan *w = make(loc, SHMQ_CHAN_BROADCAST, 64, 64,
	                    SHMQ_POLICY_OVERWRITE, SHMQ_WRITER);
	struct shmq_chan_info in;
	for (unsigned k = 1; k <= 100; k++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
			struct timespec dl = shmq_deadline(2000);
			ssize_t n = shmq_chan_recv_timed(r, buf, sizeof(buf),
			                                 &dl);
			_exit(n == 8 ? 0 : n == -ETIMEDOUT ? 2 : 3);
		}
		do
			CHECK_EQ(shmq_chan_info(w, &in), 0);
		while (in.readers_ever < k);
		uint64_t v = k;
		CHECK_EQ(shmq_chan_send(w, &v, sizeof(v)), 0);
		CHECK_EQ(t_wait(pid), 0); /* 2: it never saw the message */
	}
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* Broadcast message p is in slot shmq__bcast_slot(p): a lap of any ring
 * takes every slot once; in slots of two lines at most, consecutive
 * messages are (n/2 + 1) | 1 slots apart (a reader's prefetch ahead of its
 * slot is not the writer's next), in bigger ones side by side. */
TEST(broadcast_slots_every_one_once_a_lap_small_ones_half_a_ring_apart)
{
	static unsigned char seen[4096];
	static const uint32_t size[] = {64, 128, 192, 4096};
	for (size_t k = 0; k < sizeof(size) / sizeof(size[0]); k++) {
		for (uint64_t n = 1; n <= 4096; n *= 2) {
			uint64_t step = size[k] <= 128 ? (n / 2 + 1) | 1 : 1;
			uint64_t lap = 5 * n;
			memset(seen, 0, sizeof(seen));
			for (uint64_t p = lap; p < lap + n; p++) {
				uint64_t i = shmq__bcast_slot(p, n, size[k]);
				CHECK(i < n);
				CHECK_EQ(seen[i], 0);
				seen[i] = 1;
				CHECK_EQ(shmq__bcast_slot(p + 1, n, size[k]),
				         (i + step) % n);
				CHECK_EQ(shmq__bcast_slot(p + n, n, size[k]), i);
			}
		}
	}
	/* a 64-byte message's slot is one of those spread */
	char loc[64];
	t_posix_loc(loc, sizeof(loc), "bspread");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_BROADCAST, .msg_size = 64,
	                           .capacity = 8};
	shmq_chan *w;
	CHECK_EQ(shmq_chan_create(&w, loc, SHMQ_WRITER, &o), 0);
	char path[256];
	uint32_t ss = 0;
	int fd = open(t_shm_path(path, sizeof(path), loc), O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &ss, sizeof(ss),
	               offsetof(struct shmq_chan_hdr, slot_size)),
	         (ssize_t)sizeof(ss));
	close(fd);
	CHECK(ss > 64 && ss <= SHMQ_BCAST_SPREAD_MAX);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* BLOCK: a reader that joins after the writer looked at the peer lines
 * holds the writer at a lap (the writer's partial looks go over the
 * readers it knew; a join makes it look at every line again). */
TEST(broadcast_block_holds_the_writer_for_a_reader_that_joined_later)
{
	char loc[128], c;
	int go[2], ready[2];
	uint64_t v;
	t_posix_loc(loc, sizeof(loc), "bl");
	shmq_chan *w = make(loc, SHMQ_CHAN_BROADCAST, 8, 64,
	                    SHMQ_POLICY_BLOCK, SHMQ_WRITER);
	CHECK_EQ(pipe(go), 0);
	CHECK_EQ(pipe(ready), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(4);
		for (uint64_t k = 1; k <= 8; k++) {
			struct timespec dl = shmq_deadline(2000);
			if (shmq_chan_recv_timed(r, &v, sizeof(v), &dl) != 8 ||
			    v != k)
				_exit(3);
		}
		_exit(shmq_chan_lost(r) == 0 ? 0 : 5);
	}
	/* joined (not through shmq_chan_info(w): its depth looks at every
	 * line, which would hide a writer that misses the join) */
	CHECK_EQ(read(ready[0], &c, 1), 1);
	for (v = 1; v <= 8; v++)
		CHECK_EQ(shmq_chan_try_send(w, &v, sizeof(v)), 0);
	/* a lap ahead of a reader that has read nothing */
	CHECK_EQ(shmq_chan_try_send(w, &v, sizeof(v)), -EAGAIN);
	CHECK_EQ(write(go[1], "g", 1), 1);
	CHECK_EQ(t_wait(pid), 0);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
	CHECK_EQ(shmq_chan_close(w), 0);
}

TEST(broadcast_overwrite_never_waits_and_counts_what_readers_missed)
{
	uint64_t *lost = mmap(NULL, 16, PROT_READ | PROT_WRITE,
	                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(lost != MAP_FAILED);
	/* 16 slots, 30000 messages, readers that are not faster than the
	 * writer: the writer laps them; they must count every message they
	 * missed, never hand out a torn one (bcast_reader checks every
	 * byte). */
	broadcast_run(SHMQ_POLICY_OVERWRITE, 30000, lost);
	CHECK(lost[0] > 0);
	CHECK(lost[1] > 0);
}

/* A writer that sends numbered messages until killed; `ready` after the
 * first one. */
static pid_t endless_writer(const char *loc, int ready_fd)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char buf[512];
		shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
		for (uint64_t i = 0;; i++) {
			CHECK_EQ(shmq_chan_send(w, buf, make_msg(buf, 200, i)), 0);
			if (i == 1000)
				CHECK(write(ready_fd, "w", 1) == 1);
		}
	}
	return pid;
}

TEST(reader_learns_of_a_killed_writer_within_100ms_with_a_gap_free_prefix)
{
	char loc[128], buf[512], c;
	int fds[2];
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), "k");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 1 << 16, 0, 0, SHMQ_READER);
	pid_t pid = endless_writer(loc, fds[1]);
	close(fds[1]);
	uint64_t want = 0, num;
	ssize_t n;
	/* Read until the writer has sent 1000, then kill it mid-stream. */
	while (want < 1000) {
		n = shmq_chan_recv(r, buf, sizeof(buf));
		CHECK(n > 0 && msg_ok(buf, (size_t)n, &num) && num == want);
		want++;
	}
	CHECK_EQ(read(fds[0], &c, 1), 1);
	close(fds[0]);
	CHECK(kill(pid, SIGKILL) == 0);
	int64_t t0 = now_ms();
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	while ((n = shmq_chan_recv(r, buf, sizeof(buf))) > 0) {
		CHECK(msg_ok(buf, (size_t)n, &num));
		CHECK_EQ(num, want); /* a prefix: nothing skipped */
		want++;
	}
	CHECK_EQ(n, SHMQ_EPEERDEAD);
	CHECK(now_ms() - t0 < 100);
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(r, &in), 0);
	CHECK_EQ(in.writers, 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

TEST(writer_blocked_on_a_killed_reader_gets_peerdead_within_100ms)
{
	char loc[128], c;
	int fds[2];
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), "kr");
	shmq_chan *w = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0, SHMQ_WRITER);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
		(void)r;
		CHECK(write(fds[1], "r", 1) == 1);
		for (;;)
			pause();
	}
	close(fds[1]);
	CHECK_EQ(read(fds[0], &c, 1), 1);
	close(fds[0]);
	char buf[100] = {0};
	while (shmq_chan_try_send(w, buf, sizeof(buf)) == 0)
		; /* fill the ring */
	CHECK(kill(pid, SIGKILL) == 0);
	int64_t t0 = now_ms();
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	CHECK_EQ(shmq_chan_send(w, buf, sizeof(buf)), SHMQ_EPEERDEAD);
	CHECK(now_ms() - t0 < 100);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* A busy-wait budget (an hour of spinning) still notices a dead peer at
 * the poll tick and still ends at the caller's deadline. */
TEST(busy_spinning_peers_learn_of_a_kill_and_keep_their_deadline)
{
	char loc[128], buf[512], c;
	int fds[2];
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), "bs");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SPSC, .capacity = 1 << 18,
	                           .spin_ns = 3600 * 1000000000LL};
	shmq_chan *r = NULL;
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	struct timespec dl = shmq_deadline(30);
	int64_t t0 = now_ms();
	CHECK_EQ(shmq_chan_recv_timed(r, buf, sizeof(buf), &dl), -ETIMEDOUT);
	CHECK(now_ms() - t0 < 500);
	pid_t pid = endless_writer(loc, fds[1]);
	close(fds[1]);
	CHECK(shmq_chan_recv(r, buf, sizeof(buf)) > 0);
	CHECK_EQ(read(fds[0], &c, 1), 1);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	t0 = now_ms();
	ssize_t n;
	while ((n = shmq_chan_recv(r, buf, sizeof(buf))) > 0)
		;
	CHECK_EQ(n, SHMQ_EPEERDEAD);
	CHECK(now_ms() - t0 < 200);
	CHECK_EQ(shmq_chan_close(r), 0);
	close(fds[0]);
}

/* A reader that loops on deadlines shorter than the 50 ms poll tick
 * (20 ms), asleep or spinning through them, still learns of a killed
 * writer: the tick schedule outlives each call. Without that, every call
 * timed out before its tick and the death was never seen. */
static void short_deadlines_see_a_death(int64_t spin_ns)
{
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SPSC, .capacity = 4096,
	                           .spin_ns = spin_ns};
	char loc[128], buf[64], c;
	int fds[2];
	shmq_chan *r;
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), spin_ns ? "spin" : "sleep");
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) { /* attached, silent, until killed */
		t_chan_attach(loc, SHMQ_WRITER);
		CHECK(write(fds[1], "w", 1) == 1);
		for (;;)
			pause();
	}
	CHECK(read(fds[0], &c, 1) == 1);
	CHECK_EQ(kill(pid, SIGKILL), 0);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	int64_t t0 = now_ms();
	ssize_t n;
	do {
		struct timespec dl = shmq_deadline(20);
		n = shmq_chan_recv_timed(r, buf, sizeof(buf), &dl);
	} while (n == -ETIMEDOUT && now_ms() - t0 < 2000);
	CHECK_EQ(n, SHMQ_EPEERDEAD);
	CHECK(now_ms() - t0 < 500); /* a tick is 50 ms; slack for a busy CI */
	CHECK_EQ(shmq_chan_close(r), 0);
	close(fds[0]);
	close(fds[1]);
}

TEST(reader_looping_on_deadlines_shorter_than_a_tick_learns_of_a_death)
{
	short_deadlines_see_a_death(0);          /* asleep on the futex */
	short_deadlines_see_a_death(100000000);  /* spinning through them */
}

/* Through many 50 ms poll ticks, none wakes it early or late: 2 s, and
 * 10 s with SHMQ_LONG=1 (make check-long). */
TEST_TIMEOUT(reader_blocked_under_timed_wakes_at_its_deadline, 40)
{
	int64_t ms = t_long() ? 10000 : 2000;
	char loc[128], buf[64];
	t_posix_loc(loc, sizeof(loc), "t");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0, SHMQ_READER);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER); /* alive, silent */
	struct timespec dl = shmq_deadline(ms);
	int64_t t0 = now_ms();
	CHECK_EQ(shmq_chan_recv_timed(r, buf, sizeof(buf), &dl), -ETIMEDOUT);
	int64_t took = now_ms() - t0;
	CHECK(took >= ms - 1);
	CHECK(took < ms + 1000);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* A peer with write access plants one header word at the reader's position
 * of a 4096-byte spsc ring (messages up to 4080 bytes). */
struct planted {
	const char *what;
	uint64_t at;     /* the reader's position, a multiple of 64 */
	int pad;         /* a PAD record (len: the bytes it skips) */
	uint64_t len;
	uint64_t tag_at; /* the position its tag names, after `at` */
};

static const struct planted planted[] = {
	{"a length past the largest message", 0, 0, 4081, 0},
	{"a wild length", 0, 0, 0xffffffff, 0},
	{"a record that runs past the ring's end", 4032, 0, 100, 0},
	{"the tag of the record a lap ahead", 64, 0, 8, 4096},
	{"a PAD at the ring's start", 0, 1, 4088, 0},
	{"a PAD that does not reach the ring's end", 4032, 1, 8, 0},
};

/* Each planted word is one a writer never makes: every read call refuses
 * it with -EBADMSG (not -EMSGSIZE, not a message), at once, and leaves the
 * reader where it was: a real record put there instead comes through. */
static void plant(const struct planted *c)
{
	char loc[128], buf[512] = {0};
	const void *q;
	t_posix_loc(loc, sizeof(loc), "h");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0, SHMQ_READER);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER); /* alive */
	for (uint64_t k = 0; k < c->at / 64; k++) { /* 64-byte records */
		CHECK_EQ(shmq_chan_send(w, buf, 56), 0);
		CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 56);
	}
	shmq_seg *s;
	CHECK_EQ(shmq_seg_open(&s, loc, NULL), 0);
	unsigned char *rec = (unsigned char *)shmq_seg_addr(s) +
	                     SHMQ_CHAN_RING_OFF + c->at;
	uint64_t tag = c->at + c->tag_at;
	__atomic_store_n((uint64_t *)(void *)rec,
	                 c->pad ? shmq__rec_pad_word(c->len, tag)
	                        : shmq__rec_word(c->len, tag),
	                 __ATOMIC_RELEASE);
	struct timespec dl = shmq_deadline(5000);
	ssize_t got = shmq_chan_try_recv(r, buf, sizeof(buf));
	if (got != -EBADMSG)
		t_fail(__FILE__, __LINE__, "try_recv", "%s: %s, not -EBADMSG",
		       c->what, got < 0 ? shmq_strerror((int)got) : "a message");
	CHECK_EQ(shmq_chan_recv_timed(r, buf, sizeof(buf), &dl), -EBADMSG);
	CHECK_EQ(shmq_chan_peek(r, &q), -EBADMSG);
	/* A real record in its place: the reader had not moved. */
	memcpy(rec + 8, "hello", 5);
	__atomic_store_n((uint64_t *)(void *)rec, shmq__rec_word(5, c->at),
	                 __ATOMIC_RELEASE);
	CHECK_EQ(shmq_chan_try_recv(r, buf, sizeof(buf)), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* The identity line is read-only after create: a reader waiting on a
 * channel whose capacity a peer changed finds it at its next poll tick
 * (50 ms): -EBADMSG, though its writer is alive. Put back, it works. */
static void scribble_identity(void)
{
	char loc[128], buf[64];
	t_posix_loc(loc, sizeof(loc), "hid");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0, SHMQ_READER);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	shmq_seg *s;
	CHECK_EQ(shmq_seg_open(&s, loc, NULL), 0);
	uint64_t *cap = (uint64_t *)((char *)shmq_seg_addr(s) + 32);
	*cap = 8192; /* another power of two: a ring past the object */
	struct timespec dl = shmq_deadline(2000);
	int64_t t0 = now_ms();
	CHECK_EQ(shmq_chan_recv_timed(r, buf, sizeof(buf), &dl), -EBADMSG);
	CHECK(now_ms() - t0 < 1000);
	*cap = 4096;
	CHECK_EQ(shmq_chan_send(w, "back", 4), 0);
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 4);
	CHECK(memcmp(buf, "back", 4) == 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* What a peer with write access can plant, each with the one outcome the
 * reader must give. */
TEST(spsc_reader_gets_ebadmsg_for_what_no_writer_could_have_written)
{
	for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++)
		plant(&planted[i]);
	scribble_identity();
}

TEST(last_close_removes_the_object_and_persist_keeps_it)
{
	char loc[128], path[160];
	t_posix_loc(loc, sizeof(loc), "l");
	snprintf(path, sizeof(path), "/dev/shm/%s", loc + 6);
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0, SHMQ_READER);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK(access(path, F_OK) == 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK(access(path, F_OK) < 0);
	struct shmq_chan_opts o = {.flags = SHMQ_CHAN_PERSIST, .spin_ns = -1};
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK(access(path, F_OK) == 0);
	struct shmq_stat st;
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK(strcmp(st.kind, "channel") == 0);
	CHECK_EQ(st.stale, 0); /* persisted on purpose, nobody died */
	CHECK_EQ(shmq_chan_unlink(loc), 0);
}

TEST(chan_unlink_refuses_an_object_that_is_not_a_channel)
{
	char loc[128], sysv[64];
	struct shmq_seg_opts so = {.size = 4096};
	struct shmq_stat st;
	shmq_seg *seg;
	t_posix_loc(loc, sizeof(loc), "plain");
	t_sysv_loc(sysv, sizeof(sysv), 1);
	/* A plain POSIX segment, and a System V one: both stay. */
	CHECK_EQ(shmq_seg_create(&seg, loc, &so), 0);
	memset(shmq_seg_addr(seg), 0x5a, 4096);
	CHECK_EQ(shmq_seg_close(seg), 0);
	CHECK_EQ(shmq_chan_unlink(loc), SHMQ_ENOTCHAN);
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.size, 4096);
	CHECK_EQ(shmq_seg_create(&seg, sysv, &so), 0);
	CHECK_EQ(shmq_chan_unlink(shmq_seg_locator(seg)), SHMQ_ENOTCHAN);
	CHECK_EQ(shmq_stat(shmq_seg_locator(seg), &st), 0);
	CHECK_EQ(st.removed, 0);
	CHECK_EQ(shmq_seg_unlink(shmq_seg_locator(seg)), 0);
	CHECK_EQ(shmq_seg_close(seg), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	/* An empty object (no header at all) stays too. */
	char path[160];
	snprintf(path, sizeof(path), "/dev/shm/%s", loc + 6);
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(shmq_chan_unlink(loc), SHMQ_ENOTCHAN);
	CHECK(access(path, F_OK) == 0);
	CHECK_EQ(unlink(path), 0);
	/* A channel's name goes; then there is nothing to remove. */
	struct shmq_chan_opts o = {.flags = SHMQ_CHAN_PERSIST, .spin_ns = -1};
	shmq_chan *r;
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_unlink(loc), 0);
	CHECK_EQ(shmq_stat(loc, &st), -ENOENT);
	CHECK_EQ(shmq_chan_unlink(loc), -ENOENT);
}

TEST(channel_whose_every_peer_was_killed_is_stale)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "s");
	pid_t pid = fork();
	if (pid == 0) {
		shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0,
		                    SHMQ_READER);
		(void)r;
		raise(SIGKILL);
	}
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	struct shmq_stat st;
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK(strcmp(st.kind, "channel") == 0);
	CHECK_EQ(st.stale, 1);
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_stat(loc, &in), 0);
	CHECK_EQ(in.npeers, 1);
	CHECK_EQ(in.peers[0].alive, SHMQ_PID_DEAD);
	CHECK_EQ(in.peers[0].pid, pid);
	/* A newcomer reclaims the dead one's line and the channel lives. */
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK(shmq_stat(loc, &st) == -ENOENT); /* last close: gone */
}

TEST(racing_open_or_create_ends_on_one_channel)
{
	enum { P = 8 };
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "race");
	int go[2], done[2];
	CHECK(pipe(go) == 0 && pipe(done) == 0);
	pid_t pids[P];
	for (int i = 0; i < P; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char c;
			close(go[1]);
			CHECK_EQ(read(go[0], &c, 1), 0); /* all start at once */
			struct shmq_chan_opts o = {.kind = SHMQ_CHAN_MPMC,
			                           .flags = SHMQ_OPEN_OK,
			                           .spin_ns = -1};
			shmq_chan *w;
			CHECK_EQ(shmq_chan_create(&w, loc, SHMQ_WRITER, &o), 0);
			CHECK_EQ(shmq_chan_send(w, &i, sizeof(i)), 0);
			CHECK(write(done[1], "d", 1) == 1);
			/* stay until the parent has read all */
			CHECK_EQ(read(go[0], &c, 1), 0);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]); /* go */
	close(done[1]);
	char c;
	for (int i = 0; i < P; i++)
		CHECK_EQ(read(done[0], &c, 1), 1);
	close(done[0]);
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	int got = 0, v;
	while (shmq_chan_try_recv(r, &v, sizeof(v)) == sizeof(v))
		got++;
	CHECK_EQ(got, P); /* every racer wrote into the same channel */
	for (int i = 0; i < P; i++)
		CHECK_EQ(t_wait(pids[i]), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

TEST(open_refuses_objects_that_are_not_this_format)
{
	char loc[128], loc2[128];
	shmq_seg *s;
	shmq_chan *ch;
	struct shmq_seg_opts o = {.size = 65536};
	t_posix_loc(loc, sizeof(loc), "raw");
	t_posix_loc(loc2, sizeof(loc2), "wrap");
	CHECK_EQ(shmq_seg_create(&s, loc, &o), 0);
	CHECK_EQ(shmq_chan_open(&ch, loc, SHMQ_READER, NULL), SHMQ_ENOTCHAN);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	/* A channel whose version or geometry was changed. */
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0, SHMQ_READER);
	CHECK_EQ(shmq_seg_open(&s, loc, NULL), 0);
	uint32_t *ver = (uint32_t *)((char *)shmq_seg_addr(s) + 8);
	*ver += 1;
	CHECK_EQ(shmq_chan_open(&ch, loc, SHMQ_WRITER, NULL), SHMQ_EVERSION);
	*ver -= 1;
	/* A flag this version does not know (a newer format's). */
	uint32_t *flags = (uint32_t *)((char *)shmq_seg_addr(s) + 60);
	*flags |= 1u << 20;
	CHECK_EQ(shmq_chan_open(&ch, loc, SHMQ_WRITER, NULL), SHMQ_EVERSION);
	*flags &= ~(1u << 20);
	uint64_t *cap = (uint64_t *)((char *)shmq_seg_addr(s) + 32);
	*cap = 1u << 30;
	CHECK_EQ(shmq_chan_open(&ch, loc, SHMQ_WRITER, NULL), -EBADMSG);
	*cap = 4096;
	CHECK_EQ(shmq_seg_close(s), 0);
	/* Slots whose count times size wraps to a small ring (found by a
	 * fuzzer: the join's sweep then read slots past the object). */
	shmq_chan *m = make(loc2, SHMQ_CHAN_MPMC, 16, 64, 0, SHMQ_READER);
	CHECK_EQ(shmq_seg_open(&s, loc2, NULL), 0);
	char *h = shmq_seg_addr(s);
	uint64_t wrap_cap = UINT64_C(1) << 33, old_cap;
	uint32_t wrap_slot = UINT32_C(1) << 31, old_slot;
	memcpy(&old_cap, h + 32, 8);
	memcpy(&old_slot, h + 44, 4);
	memcpy(h + 32, &wrap_cap, 8);
	memcpy(h + 44, &wrap_slot, 4);
	CHECK_EQ(shmq_chan_open(&ch, loc2, SHMQ_WRITER, NULL), -EBADMSG);
	memcpy(h + 32, &old_cap, 8);
	memcpy(h + 44, &old_slot, 4);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_chan_close(m), 0);
	CHECK_EQ(shmq_chan_open(&ch, loc, SHMQ_WRITER, NULL), 0);
	shmq_chan *second;
	CHECK_EQ(shmq_chan_open(&second, loc, SHMQ_WRITER, NULL), -EBUSY);
	CHECK(second == NULL); /* spsc: one writer */
	CHECK_EQ(shmq_chan_close(ch), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_create(&ch, "sysv:private", SHMQ_READER, NULL),
	         SHMQ_EFAMILY);
}


TEST(send_and_recv_with_nobody_asleep_make_no_system_call)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "ns");
	for (int kind = SHMQ_CHAN_SPSC; kind <= SHMQ_CHAN_BROADCAST; kind++) {
		shmq_chan *r = make(loc, kind, 256, 64, 0, SHMQ_READER);
		shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
		pid_t pid = fork();
		if (pid == 0) {
			char buf[64] = {0};
			int bad = 0;
			t_forbid_syscalls();
			for (int i = 0; i < 10000; i++) {
				bad |= shmq_chan_send(w, buf, 40) != 0;
				bad |= shmq_chan_recv(r, buf, 64) != 40;
			}
			syscall(SYS_exit_group, bad);
		}
		CHECK_EQ(t_wait(pid), 0); /* 159: SIGSYS, a call was made */
		CHECK_EQ(shmq_chan_close(w), 0);
		CHECK_EQ(shmq_chan_close(r), 0);
	}
}

TEST(memfd_channel_reaches_a_forked_child_by_fd)
{
	shmq_chan *r;
	struct shmq_chan_opts o = {.spin_ns = -1};
	CHECK_EQ(shmq_chan_create(&r, "memfd:chan", SHMQ_READER, &o), 0);
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(r, &in), 0);
	/* The fd number travels: find it from the handle's locator. */
	char loc[64];
	int fd = -1;
	for (int i = 3; i < 64 && fd < 0; i++) {
		char link[64], t[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", i);
		ssize_t n = readlink(link, t, sizeof(t) - 1);
		if (n > 0 && !strncmp(t, "/memfd:chan", 11))
			fd = i;
	}
	CHECK(fd >= 0);
	snprintf(loc, sizeof(loc), "memfd:fd=%d", fd);
	pid_t pid = fork();
	if (pid == 0) {
		shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
		CHECK_EQ(shmq_chan_send(w, "over memfd", 10), 0);
		CHECK_EQ(shmq_chan_close(w), 0);
		_exit(0);
	}
	char buf[32];
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 10);
	CHECK(memcmp(buf, "over memfd", 10) == 0);
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), -EPIPE);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

TEST(mpmc_writer_killed_inside_a_reserve_blocks_nobody)
{
	char loc[128], buf[256], c;
	int fds[2];
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), "mk");
	shmq_chan *w = make(loc, SHMQ_CHAN_MPMC, 8, 64, 0, SHMQ_WRITER);
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(shmq_chan_send(w, "before", 6), 0);
	pid_t pid = fork();
	if (pid == 0) { /* claims the next slot, then dies holding it */
		void *p;
		shmq_chan *dying = t_chan_attach(loc, SHMQ_WRITER);
		CHECK_EQ(shmq_chan_reserve(dying, 10, &p), 0);
		CHECK(write(fds[1], "r", 1) == 1);
		for (;;)
			pause();
	}
	close(fds[1]);
	CHECK_EQ(read(fds[0], &c, 1), 1);
	close(fds[0]);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	/* The survivors go on past the dead writer's slot. */
	for (int i = 0; i < 20; i++) {
		snprintf(buf, sizeof(buf), "after %d", i);
		CHECK_EQ(shmq_chan_send(w, buf, strlen(buf)), 0);
		if (i == 0) {
			CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 6);
			CHECK(memcmp(buf, "before", 6) == 0);
		}
		ssize_t n = shmq_chan_recv(r, buf, sizeof(buf));
		CHECK(n > 0);
		buf[n] = '\0';
		char want[32];
		snprintf(want, sizeof(want), "after %d", i);
		CHECK(strcmp(buf, want) == 0); /* nothing lost, nothing twice */
	}
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(r, &in), 0);
	CHECK_EQ(in.recovered, 1);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* membarrier() calls of this process from now on, counted by a seccomp
 * filter that traps them (the call itself is then not made). */
static volatile sig_atomic_t membarriers;

static void on_sigsys(int sig)
{
	(void)sig;
	membarriers++;
}

static void trap_membarrier(void)
{
	struct sigaction sa = {.sa_handler = on_sigsys};
	CHECK_EQ(sigaction(SIGSYS, &sa, NULL), 0);
	t_seccomp_one(SYS_membarrier, SECCOMP_RET_TRAP, SECCOMP_RET_ALLOW);
}

/* Makes channels a (we write) and b (we read) with o and forks an echo
 * that reads a and answers on b until a's writer closes; with trap, the
 * echo counts its membarrier() calls and exits with the count (at most
 * 100), else with 0. */
static pid_t start_echo(const struct shmq_chan_opts *o, int trap,
                        shmq_chan **aw, shmq_chan **br)
{
	char a[128], b[128];
	t_posix_loc(a, sizeof(a), "ea");
	t_posix_loc(b, sizeof(b), "eb");
	CHECK_EQ(shmq_chan_create(aw, a, SHMQ_WRITER, o), 0);
	CHECK_EQ(shmq_chan_create(br, b, SHMQ_READER, o), 0);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	shmq_chan *ar, *bw;
	uint64_t v;
	CHECK_EQ(shmq_chan_open(&ar, a, SHMQ_READER, o), 0);
	CHECK_EQ(shmq_chan_open(&bw, b, SHMQ_WRITER, o), 0);
	if (trap)
		trap_membarrier();
	while (shmq_chan_recv(ar, &v, sizeof(v)) == sizeof(v))
		CHECK_EQ(shmq_chan_send(bw, &v, sizeof(v)), 0);
	CHECK_EQ(shmq_chan_close(bw), 0);
	CHECK_EQ(shmq_chan_close(ar), 0);
	_exit(membarriers > 100 ? 100 : membarriers);
}

/* Both sides always sleep (spin budget 0): every message crosses the
 * notify/sleep Dekker pair. A lost wakeup would show as a round trip of a
 * whole poll tick (50 ms), which no round trip may take. */
static void sleeping_ping_pong(int kind, unsigned flags)
{
	struct shmq_chan_opts o = {.kind = kind, .spin_ns = 0, .flags = flags};
	shmq_chan *aw, *br;
	pid_t pid = start_echo(&o, 0, &aw, &br);
	int64_t worst = 0;
	for (uint64_t i = 0; i < 2000; i++) {
		uint64_t v = 0;
		int64_t t0 = now_ms();
		CHECK_EQ(shmq_chan_send(aw, &i, sizeof(i)), 0);
		CHECK_EQ(shmq_chan_recv(br, &v, sizeof(v)), sizeof(v));
		CHECK_EQ(v, i);
		int64_t took = now_ms() - t0;
		worst = took > worst ? took : worst;
	}
	CHECK_EQ(shmq_chan_close(aw), 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_chan_close(br), 0);
	CHECK(worst < 45);
}

TEST(sleeping_ping_pong_loses_no_wakeup)
{
	sleeping_ping_pong(SHMQ_CHAN_SPSC, 0);
}

/* Membarriers a sleeping echo makes over 100 round trips. */
static int echo_membarriers(unsigned flags)
{
	struct shmq_chan_opts o = {.spin_ns = 0, .flags = flags};
	shmq_chan *aw, *br;
	pid_t pid = start_echo(&o, 1, &aw, &br);
	for (uint64_t i = 0; i < 100; i++) {
		uint64_t v = 0;
		CHECK_EQ(shmq_chan_send(aw, &i, sizeof(i)), 0);
		CHECK_EQ(shmq_chan_recv(br, &v, sizeof(v)), sizeof(v));
		CHECK_EQ(v, i);
	}
	CHECK_EQ(shmq_chan_close(aw), 0);
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(shmq_chan_close(br), 0);
	return WEXITSTATUS(st);
}

/* A channel made with SHMQ_CHAN_PLAIN_FENCES: its sleepers make no
 * membarrier, where the same echo on a default channel does (when the
 * kernel has the call: else both fence plainly). */
TEST(plain_fences_channel_sleeps_without_membarrier)
{
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q > 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED))
		CHECK(echo_membarriers(0) > 0);
	CHECK_EQ(echo_membarriers(SHMQ_CHAN_PLAIN_FENCES), 0);
}

/* The same with plain fences on both sides (no membarrier), spsc and mpmc
 * (a broadcast reader that joins after the first send would miss it); the
 * flag is in the header every peer reads. */
TEST(sleeping_ping_pong_with_plain_fences_loses_no_wakeup)
{
	sleeping_ping_pong(SHMQ_CHAN_SPSC, SHMQ_CHAN_PLAIN_FENCES);
	sleeping_ping_pong(SHMQ_CHAN_MPMC, SHMQ_CHAN_PLAIN_FENCES);
	char loc[128];
	shmq_chan *ch;
	shmq_seg *s;
	struct shmq_chan_opts o = {.flags = SHMQ_CHAN_PLAIN_FENCES};
	t_posix_loc(loc, sizeof(loc), "pf");
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), 0);
	CHECK_EQ(shmq_seg_open(&s, loc, NULL), 0);
	uint32_t flags = *(uint32_t *)((char *)shmq_seg_addr(s) + 60);
	CHECK_EQ(flags, 1u << 3); /* SHMQ__CHAN_HDR_PLAIN, nothing else */
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_chan_close(ch), 0);
}

/* An abandoned reserve is never seen by a reader, in every kind; the
 * messages around it arrive whole and in order. */
TEST(abandoned_reserve_is_never_received_in_any_kind)
{
	static const int kinds[] = {SHMQ_CHAN_SPSC, SHMQ_CHAN_MPMC,
	                            SHMQ_CHAN_BROADCAST};
	for (int k = 0; k < 3; k++) {
		char loc[128];
		void *p;
		uint64_t v;
		t_posix_loc(loc, sizeof(loc), "ab");
		shmq_chan *r = make(loc, kinds[k], 8, 64, 0, SHMQ_READER);
		shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
		CHECK_EQ(shmq_chan_abandon(w), -EINVAL); /* none open */
		CHECK_EQ(shmq_chan_abandon(r), -EINVAL); /* a reader */
		/* More rounds than slots: abandoned slots come round again. */
		for (uint64_t i = 0; i < 40; i++) {
			CHECK_EQ(shmq_chan_reserve(w, 8, &p), 0);
			memcpy(p, "garbage!", 8);
			CHECK_EQ(shmq_chan_abandon(w), 0);
			CHECK_EQ(shmq_chan_commit(w, 8), -EINVAL);
			CHECK_EQ(shmq_chan_send(w, &i, sizeof i), 0);
			CHECK_EQ(shmq_chan_recv(r, &v, sizeof v), 8);
			CHECK_EQ(v, i);
			CHECK_EQ(shmq_chan_try_recv(r, &v, sizeof v), -EAGAIN);
		}
		struct shmq_chan_info in;
		CHECK_EQ(shmq_chan_info(w, &in), 0);
		CHECK_EQ(in.recovered, 0); /* nobody died */
		CHECK_EQ(in.sent, 40);
		CHECK_EQ(shmq_chan_close(w), 0);
		CHECK_EQ(shmq_chan_close(r), 0);
	}
}

/* ---- Batching (opts.batch) ------------------------------------------------ */

/* The child's steps, each told to the parent over a pipe: 3 sends (held),
 * the 4th (all 4 out), 2 more and a flush, 1 more and close. */
static void batch_steps(const char *loc, int to_parent, int from_parent)
{
	char buf[600], c = 0;
	shmq_chan *w = batch_writer(loc, 4);
	static const int sends[] = {3, 1, 2, 1};
	uint64_t i = 0;
	for (int step = 0; step < 4; step++) {
		CHECK_EQ(read(from_parent, &c, 1), 1);
		for (int k = 0; k < sends[step]; k++, i++)
			CHECK_EQ(shmq_chan_send(w, buf, make_msg(buf, 600, i)),
			         0);
		if (step == 2)
			CHECK_EQ(shmq_chan_flush(w), 0);
		if (step == 3)
			CHECK_EQ(shmq_chan_close(w), 0);
		CHECK_EQ(write(to_parent, &c, 1), 1);
	}
}

static void recv_upto(shmq_chan *r, uint64_t *want, uint64_t upto)
{
	char buf[600];
	uint64_t num;
	for (; *want < upto; (*want)++) {
		struct timespec d = shmq_deadline(5000);
		ssize_t n = shmq_chan_recv_timed(r, buf, sizeof(buf), &d);
		CHECK(n > 0 && msg_ok(buf, (size_t)n, &num));
		CHECK_EQ(num, *want);
	}
}

TEST(spsc_batch_holds_messages_until_the_nth_a_flush_or_close)
{
	char loc[128], buf[600], c = 0;
	int up[2], down[2];
	t_posix_loc(loc, sizeof(loc), "batch");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 65536, 0, 0, SHMQ_READER);
	CHECK_EQ(pipe(up), 0);
	CHECK_EQ(pipe(down), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		batch_steps(loc, up[1], down[0]);
		_exit(0);
	}
	uint64_t want = 0;
	static const uint64_t after[] = {0, 4, 6, 7};
	for (int step = 0; step < 4; step++) {
		CHECK_EQ(write(down[1], &c, 1), 1);
		CHECK_EQ(read(up[0], &c, 1), 1);
		recv_upto(r, &want, after[step]);
		/* and nothing more: held, or the end after close */
		CHECK_EQ(shmq_chan_try_recv(r, buf, sizeof(buf)),
		         step < 3 ? -EAGAIN : -EPIPE);
	}
	CHECK_EQ(t_wait(pid), 0);
	for (int k = 0; k < 2; k++) {
		close(up[k]);
		close(down[k]);
	}
	/* A reader that does not batch has nothing to flush; the other
	 * kinds refuse batching. */
	struct shmq_chan_opts o = {.spin_ns = -1, .batch = 2};
	shmq_chan *x = NULL;
	CHECK_EQ(shmq_chan_flush(r), -EPERM);
	char mloc[128];
	t_posix_loc(mloc, sizeof(mloc), "batchm");
	shmq_chan *m = make(mloc, SHMQ_CHAN_MPMC, 8, 64, 0, SHMQ_READER);
	CHECK_EQ(shmq_chan_open(&x, mloc, SHMQ_WRITER, &o), -EINVAL);
	CHECK(x == NULL);
	CHECK_EQ(shmq_chan_close(m), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* A batch larger than the ring holds: the writer publishes before it
 * waits for room, so nobody waits for good. */
TEST(spsc_batch_writer_publishes_before_it_waits_for_room)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "batchw");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, 0, 0, SHMQ_READER);
	pid_t pid = batch_child(loc, 0, 20000, 600, 1000);
	CHECK_EQ(recv_in_order(r), 20000);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* The channel's space_ev, read-only: who woke the writer, and when. */
static const struct shmq_event_shm *space_ev_of(const char *loc)
{
	char path[256];
	int fd = open(t_shm_path(path, sizeof(path), loc), O_RDONLY);
	CHECK(fd >= 0);
	const struct shmq_chan_hdr *h = mmap(NULL, sizeof(*h), PROT_READ,
	                                     MAP_SHARED, fd, 0);
	CHECK(h != MAP_FAILED);
	close(fd);
	return &h->space_ev;
}

/* Until the writer sleeps on the full ring (its arm stored). */
static void until_armed(const struct shmq_event_shm *ev)
{
	for (long i = 0; !atomic_load(&ev->armed); i++) {
		CHECK(i < 100000000L);
		sched_yield();
	}
}

/* A reader with batch 4, a writer asleep on a full ring of 7 messages: the
 * reader's first 3 releases wake nobody (only a notifier moves seq), the
 * 4th does; a reader with batch 64 that empties the ring wakes the writer
 * when it finds nothing more, not 64 releases later (nor at the writer's
 * poll tick); every message arrives once, in order. */
TEST(spsc_batch_reader_wakes_a_waiting_writer_once_per_batch_and_before_it_waits)
{
	static const uint32_t batches[] = {4, 64};
	for (int k = 0; k < 2; k++) {
		char loc[128];
		uint64_t v, want = 0;
		t_posix_loc(loc, sizeof(loc), "batchr");
		struct shmq_chan_opts o = {.capacity = 128, .spin_ns = 0,
		                           .batch = batches[k]};
		shmq_chan *r = NULL;
		CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
		const struct shmq_event_shm *ev = space_ev_of(loc);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
			for (uint64_t i = 0; i < 100; i++)
				CHECK_EQ(shmq_chan_send(w, &i, sizeof i), 0);
			CHECK_EQ(shmq_chan_close(w), 0);
			_exit(0);
		}
		until_armed(ev);
		uint32_t s0 = atomic_load(&ev->seq);
		for (; want < (k ? 7 : 3); want++) {
			CHECK_EQ(shmq_chan_recv(r, &v, sizeof v), 8);
			CHECK_EQ(v, want);
		}
		CHECK_EQ(atomic_load(&ev->seq), s0); /* nobody woken yet */
		ssize_t n = k ? shmq_chan_try_recv(r, &v, sizeof v)
		              : shmq_chan_recv(r, &v, sizeof v);
		if (k == 0 || n == -EAGAIN) /* not a message the writer's own
		                               poll tick sent meanwhile */
			CHECK_EQ(atomic_load(&ev->seq), s0 + 1);
		if (n == 8)
			CHECK_EQ(v, want++);
		for (; want < 100; want++) {
			CHECK_EQ(shmq_chan_recv(r, &v, sizeof v), 8);
			CHECK_EQ(v, want);
		}
		CHECK_EQ(shmq_chan_recv(r, &v, sizeof v), -EPIPE);
		CHECK_EQ(shmq_chan_flush(r), 0);
		CHECK_EQ(t_wait(pid), 0);
		munmap((void *)((const char *)ev -
		                offsetof(struct shmq_chan_hdr, space_ev)),
		       sizeof(struct shmq_chan_hdr));
		CHECK_EQ(shmq_chan_close(r), 0);
	}
}
