/*
 * Named crash points (SHMQ_CRASH_POINT, src/internal.h): for every point
 * compiled into the test build, a victim process is killed there (SIGKILL,
 * SHMQ_CRASH_AT) and the survivors must see a clean outcome: no hang (every
 * wait has a deadline), the death reported (SHMQ_EPEERDEAD, -EOWNERDEAD,
 * the dead/recovered counters), no half-made object, and a new peer that
 * attaches and moves messages. The runner checks that nothing is left in
 * /dev/shm or ipcs. One test checks that every registered point has a
 * scenario here, so a new point without a test fails.
 */
#include "layout.h"
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

size_t shmq__crash_points(const char *const **names); /* src/util_crash.c */

#define KILLED (128 + SIGKILL)
#define WAIT_MS 5000 /* every survivor's wait: a hang fails, not blocks */

/* ---- Victims ------------------------------------------------------------ */

/* Forks a process that runs fn(arg) with SHMQ_CRASH_AT=at. */
static pid_t spawn(const char *at, void (*fn)(const char *loc), const char *loc)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (at)
			setenv("SHMQ_CRASH_AT", at, 1);
		fn(loc);
		_exit(0);
	}
	return pid;
}

/* The victim was killed by its crash point (it would exit 0 past it). */
static void died_at(pid_t pid)
{
	CHECK_EQ(t_wait(pid), KILLED);
}

static struct timespec dl(void)
{
	return shmq_deadline(WAIT_MS);
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- Channel helpers ---------------------------------------------------- */

static struct shmq_chan_opts opts(int kind, size_t cap, size_t msg)
{
	struct shmq_chan_opts o = {.kind = kind, .capacity = cap,
	                           .msg_size = msg, .spin_ns = 0};
	return o;
}

static shmq_chan *make(const char *loc, int kind, size_t cap, int role)
{
	struct shmq_chan_opts o = opts(kind, cap, 64);
	shmq_chan *ch = NULL;
	CHECK_EQ(shmq_chan_create(&ch, loc, role, &o), 0);
	return ch;
}

/* Message i: 8 bytes of its number, then `len - 8` bytes that depend on it. */
static void send_num(shmq_chan *w, uint64_t i, size_t len)
{
	char buf[1024];
	struct timespec d = dl();
	memcpy(buf, &i, 8);
	for (size_t k = 8; k < len; k++)
		buf[k] = (char)(i + k);
	CHECK_EQ(shmq_chan_send_timed(w, buf, len, &d), 0);
}

/* The next message, whole; returns its number, or the error. */
static int64_t recv_num(shmq_chan *r)
{
	char buf[1024];
	struct timespec d = dl();
	ssize_t n = shmq_chan_recv_timed(r, buf, sizeof(buf), &d);
	if (n < 0)
		return n;
	uint64_t i;
	CHECK(n >= 8);
	memcpy(&i, buf, 8);
	for (ssize_t k = 8; k < n; k++)
		CHECK_EQ(buf[k], (char)(i + (uint64_t)k));
	return (int64_t)i;
}

static struct shmq_chan_info info_of(shmq_chan *ch)
{
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(ch, &in), 0);
	return in;
}

/* A new writer attaches (its role's count was given back), and message
 * `num` goes through to r. */
static void flows(const char *loc, shmq_chan *r, uint64_t num)
{
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	send_num(w, num, 40);
	CHECK_EQ(recv_num(r), (int64_t)num);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* The last close removed the name: every attach count was given back. */
static void close_last(shmq_chan *ch, const char *loc)
{
	struct shmq_stat st;
	CHECK_EQ(shmq_chan_close(ch), 0);
	CHECK_EQ(shmq_stat(loc, &st), -ENOENT);
}

/* ---- Creation ----------------------------------------------------------- */

static void v_create(const char *loc)
{
	shmq_chan *r;
	struct shmq_chan_opts o = opts(SHMQ_CHAN_SPSC, 4096, 0);
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
}

/* The creator died somewhere in create: nobody ever sees a half object
 * (an open fails cleanly or finds it whole, `shmq ls` agrees), and the
 * channel can be made and used afterwards. */
static void s_create(const char *at)
{
	char loc[128];
	static struct t_run run;
	struct shmq_chan_info in;
	t_posix_loc(loc, sizeof(loc), "cr");
	died_at(spawn(at, v_create, loc));
	shmq_chan *r = NULL;
	int rc = shmq_chan_open(&r, loc, SHMQ_READER, NULL);
	int named = !strcmp(at, "seg.posix.linked");
	CHECK_EQ(rc, named ? 0 : -ENOENT);
	CHECK_EQ(shmq_chan_stat(loc, &in), named ? 0 : -ENOENT);
	CHECK_EQ(t_shmq(&run, NULL, "ls", NULL), 0);
	CHECK_EQ(strstr(run.out, loc + 6) != NULL, named);
	if (!r) {
		struct shmq_chan_opts o = opts(SHMQ_CHAN_SPSC, 4096, 0);
		o.flags = SHMQ_OPEN_OK;
		CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	}
	CHECK_EQ(info_of(r).kind, SHMQ_CHAN_SPSC);
	flows(loc, r, 7);
	close_last(r, loc);
}

static void v_sysv(const char *loc)
{
	shmq_seg *s;
	struct shmq_seg_opts o = {.size = 4096};
	CHECK_EQ(shmq_seg_create(&s, loc, &o), 0);
}

/* System V has no init step: the segment the dead creator leaves is whole
 * (zero filled), opens at its size, and is removed by name. */
static void s_sysv(const char *at)
{
	char loc[128];
	t_sysv_loc(loc, sizeof(loc), 1);
	died_at(spawn(at, v_sysv, loc));
	shmq_seg *s;
	CHECK_EQ(shmq_seg_open(&s, loc, NULL), 0);
	CHECK_EQ(shmq_seg_size(s), 4096);
	CHECK_EQ(((char *)shmq_seg_addr(s))[4095], 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

/* ---- Joining, closing, settling ----------------------------------------- */

static void v_writer_open(const char *loc)
{
	t_chan_attach(loc, SHMQ_WRITER);
}

/* A writer died while it joined: whatever it had counted is given back
 * (spsc takes one writer: the next one gets in), a death is counted only
 * for a line it had made ACTIVE, and the last close removes the name. */
static void s_join(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "jn");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_READER);
	pid_t pid = spawn(at, v_writer_open, loc);
	died_at(pid);
	flows(loc, r, 1);
	struct shmq_chan_info in = info_of(r);
	int active = strcmp(at, "chan.join.start") &&
	             strcmp(at, "chan.join.locked");
	CHECK_EQ(in.dead_writers, active);
	CHECK_EQ(in.last_dead_pid, active ? pid : 0);
	CHECK_EQ(in.writers, 0);
	close_last(r, loc);
}

static void v_send3_close(const char *loc)
{
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	for (uint64_t i = 0; i < 3; i++)
		send_num(w, i, 100);
	shmq_chan_close(w);
}

/* A writer died in its close: the reader gets what was sent, then the end
 * (-EPIPE once its role was given back, SHMQ_EPEERDEAD before), never a
 * hang; a new writer gets in and the name still goes at the last close. */
static void s_close(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "cl");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_READER);
	died_at(spawn(at, v_send3_close, loc));
	for (int64_t i = 0; i < 3; i++)
		CHECK_EQ(recv_num(r), i);
	int64_t end = recv_num(r);
	if (!strcmp(at, "chan.close.folded"))
		CHECK_EQ(end, SHMQ_EPEERDEAD);
	else
		CHECK(end == -EPIPE || end == SHMQ_EPEERDEAD);
	flows(loc, r, 3);
	CHECK_EQ(info_of(r).writers, 0);
	close_last(r, loc);
}

static void v_create_close(const char *loc)
{
	shmq_chan *w = make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_WRITER);
	shmq_chan_close(w);
}

/* The last peer died between closing the channel to newcomers and removing
 * its name: the next open removes the name for it and says -ENOENT; a
 * create makes a new channel. */
static void s_close_last(const char *at)
{
	char loc[128];
	struct shmq_stat st;
	t_posix_loc(loc, sizeof(loc), "cz");
	died_at(spawn(at, v_create_close, loc));
	CHECK_EQ(shmq_stat(loc, &st), 0); /* the name is still there */
	shmq_chan *r = NULL;
	CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, NULL), -ENOENT);
	CHECK_EQ(shmq_stat(loc, &st), -ENOENT); /* helped away */
	r = make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_READER);
	flows(loc, r, 0);
	close_last(r, loc);
}

static void v_settler(const char *loc)
{
	t_chan_attach(loc, SHMQ_WRITER); /* its join settles the dead writer */
}

/* The recoverer itself died while it settled a dead writer: the next one
 * finishes the settling, the death is counted once, and a writer gets in
 * (spsc: one writer, so a count not given back would keep it out). */
static void s_settle(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "st");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_READER);
	pid_t dead = spawn("chan.join.counted", v_writer_open, loc);
	died_at(dead);
	died_at(spawn(at, v_settler, loc));
	flows(loc, r, 0);
	struct shmq_chan_info in = info_of(r);
	CHECK_EQ(in.dead_writers, 1);
	CHECK_EQ(in.last_dead_pid, dead);
	CHECK_EQ(in.writers, 0);
	close_last(r, loc);
}

/* ---- spsc ----------------------------------------------------------------- */

static void v_spsc_writer(const char *loc)
{
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	for (uint64_t i = 0; i < 100; i++)
		send_num(w, i, 1000);
}

/* A writer (victim) died in a send: the reader gets every message
 * published before the death, whole and in order, then SHMQ_EPEERDEAD; a
 * new writer joins after the last record published (even one tail does
 * not count yet). */
static void s_spsc_victim(const char *at, int64_t delivered,
                          void (*victim)(const char *loc))
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "sw");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_READER);
	pid_t pid = spawn(at, victim, loc);
	int64_t n = 0, got;
	while ((got = recv_num(r)) >= 0)
		CHECK_EQ(got, n++);
	CHECK_EQ(got, SHMQ_EPEERDEAD);
	CHECK_EQ(n, delivered);
	died_at(pid);
	flows(loc, r, (uint64_t)n);
	CHECK_EQ(info_of(r).dead_writers, 1);
	close_last(r, loc);
}

static void s_spsc_writer(const char *at, int64_t delivered)
{
	s_spsc_victim(at, delivered, v_spsc_writer);
}

/* Batches of 3: flush 1 publishes 0..2, flush 2 publishes 3..5. */
static void v_spsc_batch_writer(const char *loc)
{
	struct shmq_chan_opts o = {.spin_ns = -1, .batch = 3};
	shmq_chan *w = NULL;
	CHECK_EQ(shmq_chan_open(&w, loc, SHMQ_WRITER, &o), 0);
	for (uint64_t i = 0; i < 100; i++)
		send_num(w, i, 100);
}

/* A batching writer died: what it published comes through, what it held
 * never does (not even the held records whose headers it wrote), and a
 * new writer starts where the published records end. */
static void s_spsc_batch_writer(const char *at, int64_t delivered)
{
	s_spsc_victim(at, delivered, v_spsc_batch_writer);
}

static void v_spsc_reader(const char *loc)
{
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	for (int64_t i = 0; i < 5; i++)
		CHECK_EQ(recv_num(r), i);
}

/* A reader died between its copy and moving head: a new reader gets in and
 * starts with that message again (at least once), then the rest. */
static void s_spsc_reader(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "sr");
	shmq_chan *w = make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_WRITER);
	for (uint64_t i = 0; i < 5; i++)
		send_num(w, i, 100);
	died_at(spawn(at, v_spsc_reader, loc));
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	for (int64_t i = 2; i < 5; i++)
		CHECK_EQ(recv_num(r), i);
	CHECK_EQ(info_of(w).dead_readers, 1);
	send_num(w, 5, 100);
	CHECK_EQ(recv_num(r), 5);
	CHECK_EQ(shmq_chan_close(w), 0);
	close_last(r, loc);
}

/* ---- mpmc ----------------------------------------------------------------- */

static void v_mpmc_writer(const char *loc)
{
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	for (uint64_t i = 0; i < 4; i++)
		send_num(w, i, 64);
}

/* A writer died holding a slot it claimed: the reader skips that slot
 * (counted in `recovered`), gets SHMQ_EPEERDEAD, and a new writer's
 * messages come through. */
static void s_mpmc_writer(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "mw");
	shmq_chan *r = make(loc, SHMQ_CHAN_MPMC, 8, SHMQ_READER);
	died_at(spawn(at, v_mpmc_writer, loc));
	CHECK_EQ(recv_num(r), 0);
	CHECK_EQ(recv_num(r), 1);
	CHECK_EQ(recv_num(r), SHMQ_EPEERDEAD);
	struct shmq_chan_info in = info_of(r);
	CHECK_EQ(in.recovered, 1);
	CHECK_EQ(in.dead_writers, 1);
	flows(loc, r, 9);
	close_last(r, loc);
}

static void v_mpmc_reader(const char *loc)
{
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	for (int64_t i = 0; i < 3; i++)
		CHECK_EQ(recv_num(r), i);
}

/* A reader died holding the slot it claimed: the message it took is gone
 * with it, the next reader gets the rest, and the writer takes the slot
 * back when it comes round (`recovered`), never blocking on it. */
static void s_mpmc_reader(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "mr");
	shmq_chan *w = make(loc, SHMQ_CHAN_MPMC, 8, SHMQ_WRITER);
	for (uint64_t i = 0; i < 3; i++)
		send_num(w, i, 64);
	died_at(spawn(at, v_mpmc_reader, loc));
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(recv_num(r), 2);
	for (uint64_t i = 3; i < 20; i++) { /* round the ring twice */
		send_num(w, i, 64);
		CHECK_EQ(recv_num(r), (int64_t)i);
	}
	struct shmq_chan_info in = info_of(w);
	CHECK_EQ(in.recovered, 1);
	CHECK_EQ(in.dead_readers, 1);
	CHECK_EQ(shmq_chan_close(w), 0);
	close_last(r, loc);
}

static void v_mpmc_recoverer(const char *loc)
{
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	recv_num(r); /* recovers the dead writer's slot, and dies there */
}

/* The recoverer died in the middle of taking a dead writer's slot back (a
 * reader that joins sweeps the slots of the line it reuses): the next
 * reader takes it back, once. */
static void s_mpmc_recover(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "mc");
	shmq_chan *r = make(loc, SHMQ_CHAN_MPMC, 8, SHMQ_READER);
	died_at(spawn("mpmc.claim.write", v_mpmc_writer, loc));
	died_at(spawn(at, v_mpmc_recoverer, loc));
	CHECK_EQ(recv_num(r), SHMQ_EPEERDEAD);
	struct shmq_chan_info in = info_of(r);
	CHECK_EQ(in.recovered, 1);
	CHECK_EQ(in.dead_writers, 1);
	CHECK_EQ(in.dead_readers, 0); /* it died before its line was ACTIVE */
	flows(loc, r, 4);
	close_last(r, loc);
}

/* ---- broadcast ------------------------------------------------------------ */

static void v_bcast_writer(const char *loc)
{
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	for (uint64_t i = 0; i < 4; i++)
		send_num(w, i, 64);
}

/* The writer died inside the seqlock write: the reader never gets the torn
 * slot (SHMQ_EPEERDEAD after the whole ones), and a new writer rewrites it. */
static void s_bcast_writer(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "bw");
	shmq_chan *r = make(loc, SHMQ_CHAN_BROADCAST, 8, SHMQ_READER);
	died_at(spawn(at, v_bcast_writer, loc));
	CHECK_EQ(recv_num(r), 0);
	CHECK_EQ(recv_num(r), 1);
	CHECK_EQ(recv_num(r), SHMQ_EPEERDEAD);
	flows(loc, r, 2);
	CHECK_EQ(shmq_chan_lost(r), 0);
	CHECK_EQ(info_of(r).dead_writers, 1);
	close_last(r, loc);
}

static int ready[2], go[2];

static void v_bcast_reader(const char *loc)
{
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(write(ready[1], "r", 1), 1);
	for (int64_t i = 0; i < 2; i++)
		CHECK_EQ(recv_num(r), i);
}

/* A reader died before moving its cursor: a blocking writer is held back
 * only until the death is found, then goes on; a new reader gets the
 * messages from its join on. */
static void s_bcast_reader(const char *at)
{
	char loc[128], c;
	t_posix_loc(loc, sizeof(loc), "br");
	shmq_chan *w = make(loc, SHMQ_CHAN_BROADCAST, 4, SHMQ_WRITER);
	CHECK_EQ(pipe(ready), 0);
	pid_t pid = spawn(at, v_bcast_reader, loc);
	close(ready[1]);
	CHECK_EQ(read(ready[0], &c, 1), 1);
	close(ready[0]);
	send_num(w, 0, 64);
	send_num(w, 1, 64);
	died_at(pid);
	for (uint64_t i = 2; i < 12; i++) /* past the dead reader's cursor */
		send_num(w, i, 64);
	CHECK_EQ(info_of(w).dead_readers, 1);
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	send_num(w, 12, 64);
	CHECK_EQ(recv_num(r), 12);
	CHECK_EQ(shmq_chan_close(w), 0);
	close_last(r, loc);
}

/* ---- samples -------------------------------------------------------------- */

static shmq_chan *make_samples(const char *loc, uint32_t hold,
                               uint32_t history, int policy, int role)
{
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SAMPLES, .capacity = 8,
	                           .msg_size = 64, .spin_ns = 0, .hold = hold,
	                           .history = history, .policy = policy};
	shmq_chan *ch = NULL;
	CHECK_EQ(shmq_chan_create(&ch, loc, role, &o), 0);
	return ch;
}

static void v_samples_writer(const char *loc)
{
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	for (uint64_t i = 0; i < 4; i++)
		send_num(w, i, 64);
}

/* The pool as a settled writer sees it: `free` samples free, and every
 * live reader's line empty (nothing queued or held), none lost. */
static void pool_whole(shmq_chan *w, uint64_t free)
{
	struct shmq_chan_info in = info_of(w);
	CHECK_EQ(in.pool_free, free);
	for (unsigned k = 0; k < in.npeers; k++)
		if (in.peers[k].role == SHMQ_READER &&
		    in.peers[k].alive == SHMQ_PID_ALIVE) {
			CHECK_EQ(in.peers[k].queued, 0);
			CHECK_EQ(in.peers[k].held, 0);
			CHECK_EQ(in.peers[k].lost, 0);
		}
}

/* Reader r gets samples 0 .. n-1, whole and in order, then the death. */
static void got_prefix(shmq_chan *r, int64_t n)
{
	int64_t k, want = 0;
	while ((k = recv_num(r)) >= 0)
		CHECK_EQ(k, want++);
	CHECK_EQ(k, SHMQ_EPEERDEAD);
	CHECK_EQ(want, n);
}

/* The writer died while it loaned or published sample 2 to two readers
 * (line 0, then line 1: each sample is two pushes): each reader gets
 * the samples pushed to it whole, exactly n0 and n1, then
 * SHMQ_EPEERDEAD; the next writer takes the loan back (references
 * pushed no further are given back) and the pool is whole, less the one
 * sample the history keeps. */
static void s_samples_writer(const char *at, int64_t n0, int64_t n1)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "sw");
	shmq_chan *r = make_samples(loc, 1, 1, SHMQ_POLICY_BLOCK, SHMQ_READER);
	shmq_chan *r1 = t_chan_attach(loc, SHMQ_READER);
	died_at(spawn(at, v_samples_writer, loc));
	got_prefix(r, n0);
	got_prefix(r1, n1);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	pool_whole(w, 7);
	CHECK_EQ(info_of(w).recovered, 1); /* the loan */
	send_num(w, 9, 40);
	CHECK_EQ(recv_num(r), 9);
	CHECK_EQ(recv_num(r1), 9);
	pool_whole(w, 7);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r1), 0);
	close_last(r, loc);
}

/* Its join empties its line (the first samples.reclaim.queue), its close
 * gives back what it holds (the second). */
static void v_samples_reader(const char *loc)
{
	const void *p;
	char c;
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(write(ready[1], "r", 1), 1);
	CHECK_EQ(read(go[0], &c, 1), 1);
	CHECK_EQ(recv_num(r), 0);
	CHECK(shmq_chan_peek(r, &p) > 0); /* holds 1, 2.. stay queued */
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* A reader died receiving, releasing, or giving back its samples at
 * close: once its death is found the pool is whole, what it still had is
 * counted `recovered` (those its close gave back before it died are not:
 * a close gives back, it recovers nothing), and the writer never waits
 * for it. */
static void s_samples_reader(const char *at, uint64_t recovered)
{
	char loc[128], c;
	t_posix_loc(loc, sizeof(loc), "sr");
	shmq_chan *w = make_samples(loc, 2, 0, SHMQ_POLICY_BLOCK, SHMQ_WRITER);
	CHECK_EQ(pipe(ready), 0);
	CHECK_EQ(pipe(go), 0);
	pid_t pid = spawn(at, v_samples_reader, loc);
	CHECK_EQ(read(ready[0], &c, 1), 1);
	for (uint64_t i = 0; i < 5; i++)
		send_num(w, i, 64);
	CHECK_EQ(write(go[1], "g", 1), 1);
	died_at(pid);
	info_of(w); /* settles the dead reader */
	struct shmq_chan_info in = info_of(w);
	CHECK_EQ(in.dead_readers, 1);
	CHECK_EQ(in.recovered, recovered);
	pool_whole(w, 8);
	for (uint64_t i = 5; i < 30; i++)
		send_num(w, i, 64);
	pool_whole(w, 8);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	close_last(w, loc);
}

static void v_samples_dropper(const char *loc)
{
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	for (uint64_t i = 0; i < 12; i++)
		send_num(w, i, 64);
}

/* The writer died dropping a slow reader's oldest sample (OVERWRITE),
 * after it took the entry and before it gave the reference back: that
 * reference stays the reader's until it leaves, then the pool is whole. */
static void s_samples_drop(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "sd");
	shmq_chan *r = make_samples(loc, 1, 0, SHMQ_POLICY_OVERWRITE,
	                            SHMQ_READER);
	died_at(spawn(at, v_samples_dropper, loc));
	int64_t n, last = -1;
	while ((n = recv_num(r)) >= 0) {
		CHECK(n > last);
		last = n;
	}
	CHECK_EQ(n, SHMQ_EPEERDEAD);
	CHECK(shmq_chan_lost(r) > 0);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(info_of(w).pool_free, 8);
	CHECK_EQ(shmq_chan_close(w), 0);
	shmq_chan_unlink(loc);
}

static void v_samples_loaner(const char *loc)
{
	void *p;
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	send_num(w, 0, 64);
	CHECK_EQ(shmq_chan_reserve(w, 64, &p), 0);
	kill(getpid(), SIGKILL);
}

static void v_writer_joins(const char *loc)
{
	t_chan_attach(loc, SHMQ_WRITER);
}

/* The writer that took a dead writer's loan back died doing it: the next
 * one does it again, once. */
static void s_samples_reclaim(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "sl");
	shmq_chan *r = make_samples(loc, 1, 0, SHMQ_POLICY_BLOCK, SHMQ_READER);
	died_at(spawn(NULL, v_samples_loaner, loc));
	died_at(spawn(at, v_writer_joins, loc));
	CHECK_EQ(recv_num(r), 0);
	CHECK_EQ(recv_num(r), SHMQ_EPEERDEAD);
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	struct shmq_chan_info in = info_of(w);
	CHECK_EQ(in.pool_free, 8);
	CHECK(in.recovered >= 1 && in.recovered <= 2);
	send_num(w, 1, 40);
	CHECK_EQ(recv_num(r), 1);
	CHECK_EQ(shmq_chan_close(w), 0);
	close_last(r, loc);
}

/* ---- mutex, semaphore, event ---------------------------------------------- */

/* Shared between the test and its victims (fork keeps the mapping). */
struct shared {
	shmq_mutex m;
	shmq_sem s;
	shmq_event e;
};

static struct shared *sh;

static struct shared *map_shared(void)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	CHECK_EQ(shmq_mutex_init(&sh->m), 0);
	CHECK_EQ(shmq_sem_init(&sh->s, 0), 0);
	CHECK_EQ(shmq_event_init(&sh->e), 0);
	return sh;
}

static void v_lock(const char *unused)
{
	(void)unused;
	shmq_mutex_lock(&sh->m);
}

/* The owner died holding the lock, or the one that took it over died
 * before making it consistent: the next locker gets -EOWNERDEAD (again),
 * repairs it, and the lock works after. */
static void s_mutex_owner(const char *at)
{
	map_shared();
	if (!strcmp(at, "mutex.takeover"))
		died_at(spawn("mutex.lock.acquired", v_lock, NULL));
	died_at(spawn(at, v_lock, NULL));
	struct timespec d = dl();
	CHECK_EQ(shmq_mutex_lock_timed(&sh->m, &d), -EOWNERDEAD);
	CHECK_EQ(shmq_mutex_consistent(&sh->m), 0);
	CHECK_EQ(shmq_mutex_unlock(&sh->m), 0);
	CHECK_EQ(shmq_mutex_lock(&sh->m), 0);
	CHECK_EQ(shmq_mutex_unlock(&sh->m), 0);
}

/* Whether process pid sleeps (state S in /proc/pid/stat). */
static int asleep(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* Waits (bounded) until process pid sleeps with a waiter shown in `word`
 * under `bit`. */
static void until_asleep(pid_t pid, shmq_atomic32 *word, uint32_t bit)
{
	int64_t end = now_ms() + WAIT_MS;
	while (!((shmq_load(word, SHMQ_ACQUIRE) & bit) && asleep(pid)))
		CHECK(now_ms() < end);
}

/* The same for the test process, from a victim. */
static void until_waiting(shmq_atomic32 *word, uint32_t bit)
{
	until_asleep(getppid(), word, bit);
}

static void v_unlock(const char *unused)
{
	(void)unused;
	until_waiting(&((struct shmq_mutex_shm *)&sh->m)->word,
	              SHMQ_MUTEX_WAITERS);
	shmq_mutex_unlock(&sh->m);
}

static void v_post(const char *unused)
{
	(void)unused;
	until_waiting(&((struct shmq_sem_shm *)&sh->s)->waiters, ~0u);
	shmq_sem_post(&sh->s);
}

static void v_signal(const char *unused)
{
	(void)unused;
	until_waiting(&((struct shmq_event_shm *)&sh->e)->waiters, ~0u);
	shmq_event_signal(&sh->e);
}

/* The releaser died between its release and its wake: the sleeper still
 * gets the lock / the post / the signal, within a poll, not at its
 * deadline. */
static void s_wake(const char *at)
{
	map_shared();
	int64_t t0 = now_ms();
	struct timespec d = dl();
	pid_t pid;
	if (!strcmp(at, "sem.post.counted")) {
		pid = spawn(at, v_post, NULL);
		CHECK_EQ(shmq_sem_wait_timed(&sh->s, &d), 0);
	} else {
		uint32_t seen = shmq_event_seq(&sh->e);
		pid = spawn(at, v_signal, NULL);
		CHECK_EQ(shmq_event_wait_timed(&sh->e, seen, &d), 0);
	}
	CHECK(now_ms() - t0 < WAIT_MS / 2);
	died_at(pid);
}

/* A locker that slept behind us died right after it got the lock: the
 * next locker gets -EOWNERDEAD. */
static void s_mutex_waiter(const char *at)
{
	map_shared();
	CHECK_EQ(shmq_mutex_lock(&sh->m), 0);
	pid_t pid = spawn(at, v_lock, NULL);
	until_asleep(pid, &((struct shmq_mutex_shm *)&sh->m)->word,
	             SHMQ_MUTEX_WAITERS);
	CHECK_EQ(shmq_mutex_unlock(&sh->m), 0);
	died_at(pid);
	struct timespec d = dl();
	CHECK_EQ(shmq_mutex_lock_timed(&sh->m, &d), -EOWNERDEAD);
	CHECK_EQ(shmq_mutex_consistent(&sh->m), 0);
	CHECK_EQ(shmq_mutex_unlock(&sh->m), 0);
}

static int lock_pipe[2];

static void v_lock_unlock(const char *unused)
{
	(void)unused;
	CHECK_EQ(shmq_mutex_lock(&sh->m), 0);
	CHECK_EQ(write(lock_pipe[1], "l", 1), 1);
	v_unlock(NULL);
}

static void s_unlock(const char *at)
{
	char c;
	map_shared();
	CHECK_EQ(pipe(lock_pipe), 0);
	pid_t pid = spawn(at, v_lock_unlock, NULL);
	close(lock_pipe[1]);
	CHECK_EQ(read(lock_pipe[0], &c, 1), 1);
	close(lock_pipe[0]);
	int64_t t0 = now_ms();
	struct timespec d = dl();
	CHECK_EQ(shmq_mutex_lock_timed(&sh->m, &d), 0); /* released: clean */
	CHECK(now_ms() - t0 < WAIT_MS / 2);
	CHECK_EQ(shmq_mutex_unlock(&sh->m), 0);
	died_at(pid);
}

/* ---- samples: deaths beside a sleeper, a settler, a joiner --------------- */

static void v_samples_releaser(const char *loc)
{
	char path[256];
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	int fd = open(t_shm_path(path, sizeof(path), loc), O_RDONLY);
	CHECK(fd >= 0);
	struct shmq_chan_hdr *h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED,
	                               fd, 0);
	CHECK(h != MAP_FAILED);
	CHECK_EQ(write(ready[1], "r", 1), 1);
	until_waiting(&h->space_ev.waiters, ~0u); /* the pool is empty */
	recv_num(r); /* gives sample 0 back, and dies before the wake */
}

/* The reader gave a sample back to a writer asleep on an empty pool and
 * died before waking it: the writer still gets the sample within a poll
 * tick, not at its deadline; the reader's queue is recovered and the
 * pool is whole. */
static void s_samples_release(const char *at)
{
	char loc[128], c;
	t_posix_loc(loc, sizeof(loc), "sc");
	shmq_chan *w = make_samples(loc, 1, 0, SHMQ_POLICY_BLOCK, SHMQ_WRITER);
	CHECK_EQ(pipe(ready), 0);
	pid_t pid = spawn(at, v_samples_releaser, loc);
	CHECK_EQ(read(ready[0], &c, 1), 1);
	for (uint64_t i = 0; i < 8; i++) /* every sample queued to it */
		send_num(w, i, 64);
	CHECK_EQ(info_of(w).pool_free, 0);
	int64_t t0 = now_ms();
	send_num(w, 8, 64);
	CHECK(now_ms() - t0 < WAIT_MS / 2);
	died_at(pid);
	info_of(w); /* settles the dead reader */
	struct shmq_chan_info in = info_of(w);
	CHECK_EQ(in.dead_readers, 1);
	/* 1..7 queued, and 8 if it was pushed before the death was found */
	CHECK(in.recovered == 7 || in.recovered == 8);
	pool_whole(w, 8);
	close(ready[0]);
	close(ready[1]);
	close_last(w, loc);
}

static void v_samples_holder(const char *loc)
{
	const void *p;
	char c;
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(write(ready[1], "r", 1), 1);
	CHECK_EQ(read(go[0], &c, 1), 1);
	CHECK(shmq_chan_peek(r, &p) > 0);
	CHECK(shmq_chan_peek(r, &p) > 0);
	CHECK_EQ(write(ready[1], "h", 1), 1);
	pause(); /* killed, holding 0 and 1, 2..4 queued */
}

/* Joins as a reader: a join settles the dead first. */
static void v_reader_joins(const char *loc)
{
	t_chan_attach(loc, SHMQ_READER);
}

/* A reader died holding samples; the peer that settled it died half way
 * (its queue given back and one held sample, not the other): the next
 * settler (here a joiner; a writer on an empty pool at its poll tick)
 * gives back the rest, once, and the pool is whole. What the dead
 * settler gave back it had not counted yet: `recovered` counts the rest. */
static void s_samples_settler(const char *at)
{
	char loc[128], c;
	t_posix_loc(loc, sizeof(loc), "ss");
	shmq_chan *w = make_samples(loc, 2, 0, SHMQ_POLICY_BLOCK, SHMQ_WRITER);
	CHECK_EQ(pipe(ready), 0);
	CHECK_EQ(pipe(go), 0);
	pid_t pid = spawn(NULL, v_samples_holder, loc);
	CHECK_EQ(read(ready[0], &c, 1), 1);
	for (uint64_t i = 0; i < 5; i++)
		send_num(w, i, 64);
	CHECK_EQ(write(go[1], "g", 1), 1);
	CHECK_EQ(read(ready[0], &c, 1), 1);
	CHECK_EQ(kill(pid, SIGKILL), 0);
	died_at(pid);
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_stat(loc, &in), 0); /* a look: settles nothing */
	CHECK_EQ(in.pool_free, 3);
	died_at(spawn(at, v_reader_joins, loc));
	CHECK_EQ(shmq_chan_stat(loc, &in), 0);
	CHECK_EQ(in.pool_free, 7); /* all but held sample 1 */
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER); /* settles the rest */
	in = info_of(w);
	CHECK_EQ(in.dead_readers, 1);
	CHECK_EQ(in.recovered, 1);
	pool_whole(w, 8);
	send_num(w, 5, 64);
	CHECK_EQ(recv_num(r), 5);
	pool_whole(w, 8);
	CHECK_EQ(shmq_chan_close(r), 0);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	close_last(w, loc);
}

/* A reader died joining, with a reference on the history's samples taken
 * and not yet queued (its line not ACTIVE: no writer pushes to it): the
 * writer goes on, and the next reader that takes the line gives those
 * references back, gets the history whole and in order, and the pool
 * is whole. */
static void s_samples_joiner(const char *at)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "sj");
	shmq_chan *w = make_samples(loc, 1, 2, SHMQ_POLICY_BLOCK, SHMQ_WRITER);
	for (uint64_t i = 0; i < 3; i++)
		send_num(w, i, 64);
	died_at(spawn(at, v_reader_joins, loc));
	CHECK_EQ(info_of(w).pool_free, 6); /* 1 and 2: the history */
	for (uint64_t i = 3; i < 20; i++)
		send_num(w, i, 64);
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(recv_num(r), 18);
	CHECK_EQ(recv_num(r), 19);
	CHECK_EQ(info_of(w).recovered, 2);
	pool_whole(w, 6);
	send_num(w, 20, 64);
	CHECK_EQ(recv_num(r), 20);
	pool_whole(w, 6);
	CHECK_EQ(shmq_chan_close(r), 0);
	close_last(w, loc);
}

/* ---- Boards --------------------------------------------------------------- */

static void v_board_set(const char *loc)
{
	shmq_board *b = NULL;
	CHECK_EQ(shmq_board_open(&b, loc, NULL), 0);
	CHECK_EQ(shmq_board_set(b, 0, "new value", 9), 0);
	shmq_board_close(b);
}

/* A writer killed mid-set (odd: the value half written) leaves the entry
 * at its previous value; killed after publishing (even), at the new one.
 * Either way it dies holding the lock: the next writer takes it over,
 * counts it, and sets. */
static void s_board_writer(const char *at)
{
	char loc[96], buf[16];
	uint64_t seq;
	struct shmq_board_opts o = {.entries = 2, .value_size = 16};
	shmq_board *b = NULL;
	t_posix_loc(loc, sizeof(loc), "board");
	CHECK_EQ(shmq_board_create(&b, loc, &o), 0);
	CHECK_EQ(shmq_board_set(b, 0, "old", 3), 0);
	pid_t pid = spawn(at, v_board_set, loc);
	died_at(pid);
	int odd = !strcmp(at, "board.set.odd");
	ssize_t len = shmq_board_get(b, 0, buf, sizeof(buf), &seq);
	CHECK_EQ(len, odd ? 3 : 9);
	CHECK(!memcmp(buf, odd ? "old" : "new value", (size_t)len));
	CHECK_EQ(seq, odd ? 1 : 2);
	int64_t t0 = now_ms();
	CHECK_EQ(shmq_board_set(b, 0, "next", 4), 0);
	CHECK(now_ms() - t0 < WAIT_MS / 2);
	CHECK_EQ(shmq_board_get(b, 0, buf, sizeof(buf), &seq), 4);
	CHECK_EQ(seq, odd ? 2 : 3);
	struct shmq_board_info in;
	CHECK_EQ(shmq_board_info(b, &in), 0);
	CHECK_EQ(in.recovered, 1);
	shmq_board_close(b);
	CHECK_EQ(shmq_board_unlink(loc), 0);
}

/* A writer that took an entry's lock over from a dead one died too, right
 * after rolling the unfinished set back: the next writer takes it over
 * again, and the entry still reads at its value before both. */
static void s_board_recover(const char *at)
{
	char loc[96], buf[16];
	uint64_t seq;
	struct shmq_board_opts o = {.entries = 1, .value_size = 16};
	shmq_board *b = NULL;
	t_posix_loc(loc, sizeof(loc), "board");
	CHECK_EQ(shmq_board_create(&b, loc, &o), 0);
	CHECK_EQ(shmq_board_set(b, 0, "old", 3), 0);
	died_at(spawn("board.set.odd", v_board_set, loc));
	died_at(spawn(at, v_board_set, loc));
	CHECK_EQ(shmq_board_get(b, 0, buf, sizeof(buf), &seq), 3);
	CHECK(!memcmp(buf, "old", 3));
	CHECK_EQ(seq, 1);
	CHECK_EQ(shmq_board_set(b, 0, "next", 4), 0);
	CHECK_EQ(shmq_board_get(b, 0, buf, sizeof(buf), &seq), 4);
	CHECK_EQ(seq, 2);
	struct shmq_board_info in;
	CHECK_EQ(shmq_board_info(b, &in), 0);
	CHECK_EQ(in.recovered, 2);
	shmq_board_close(b);
	CHECK_EQ(shmq_board_unlink(loc), 0);
}

/* ---- The table: one test per point ---------------------------------------- */

#define MAX_SCEN 64
static const char *covered[MAX_SCEN];
static size_t ncovered;

static void cover(const char *point)
{
	if (ncovered < MAX_SCEN)
		covered[ncovered++] = point;
}

#define CRASH_TEST(id, point, body)                                          \
	__attribute__((constructor)) static void cover_##id(void)            \
	{                                                                    \
		cover(point);                                                \
	}                                                                    \
	TEST(crash_##id)                                                     \
	{                                                                    \
		const char *at = point;                                      \
		body;                                                        \
	}

CRASH_TEST(seg_posix_tmpfile, "seg.posix.tmpfile", s_create(at))
CRASH_TEST(seg_posix_sized, "seg.posix.sized", s_create(at))
CRASH_TEST(chan_init_header, "chan.init.header", s_create(at))
CRASH_TEST(seg_posix_inited, "seg.posix.inited", s_create(at))
CRASH_TEST(seg_posix_linked, "seg.posix.linked", s_create(at))
CRASH_TEST(sysv_created, "sysv.created", s_sysv(at))
CRASH_TEST(seg_sysv_attached, "seg.sysv.attached", s_sysv(at))
CRASH_TEST(chan_join_start, "chan.join.start", s_join(at))
CRASH_TEST(chan_join_locked, "chan.join.locked", s_join(at))
CRASH_TEST(chan_join_slot, "chan.join.slot", s_join(at))
CRASH_TEST(chan_join_attached, "chan.join.attached", s_join(at))
CRASH_TEST(chan_join_counted, "chan.join.counted", s_join(at))
CRASH_TEST(chan_close_folded, "chan.close.folded", s_close(at))
CRASH_TEST(chan_close_uncounted, "chan.close.uncounted", s_close(at))
CRASH_TEST(chan_close_detached, "chan.close.detached", s_close(at))
CRASH_TEST(chan_close_last, "chan.close.last", s_close_last(at))
CRASH_TEST(chan_settle_marked, "chan.settle.marked", s_settle(at))
CRASH_TEST(chan_settle_role, "chan.settle.role", s_settle(at))
/* 1000-byte messages take 1008 bytes: four fill 4032 of 4096, the fifth
 * goes round behind a PAD. */
CRASH_TEST(spsc_commit_payload, "spsc.commit.payload:3",
           s_spsc_writer(at, 2))
CRASH_TEST(spsc_publish_header, "spsc.publish.header:3",
           s_spsc_writer(at, 3))
CRASH_TEST(spsc_reserve_pad, "spsc.reserve.pad", s_spsc_writer(at, 4))
CRASH_TEST(spsc_flush_header, "spsc.flush.header:2",
           s_spsc_batch_writer(at, 6))
/* The 5th send dies with 3 held (its header written) and 4 written (a
 * second test of that point: not in the one-per-point table). */
TEST(crash_spsc_batch_held)
{
	s_spsc_batch_writer("spsc.commit.payload:5", 3);
}
CRASH_TEST(spsc_release_read, "spsc.release.read:3", s_spsc_reader(at))
CRASH_TEST(mpmc_claim_write, "mpmc.claim.write:3", s_mpmc_writer(at))
CRASH_TEST(mpmc_commit_payload, "mpmc.commit.payload:3", s_mpmc_writer(at))
CRASH_TEST(mpmc_claim_read, "mpmc.claim.read:2", s_mpmc_reader(at))
CRASH_TEST(mpmc_recover, "mpmc.recover", s_mpmc_recover(at))
CRASH_TEST(bcast_reserve_odd, "bcast.reserve.odd:3", s_bcast_writer(at))
CRASH_TEST(bcast_release_read, "bcast.release.read:2", s_bcast_reader(at))
CRASH_TEST(samples_loan_taken, "samples.loan.taken:3",
           s_samples_writer(at, 2, 2))
CRASH_TEST(samples_publish_ref, "samples.publish.ref:6",
           s_samples_writer(at, 3, 2))
CRASH_TEST(samples_publish_pushed, "samples.publish.pushed:5",
           s_samples_writer(at, 3, 2))
CRASH_TEST(samples_publish_history, "samples.publish.history:3",
           s_samples_writer(at, 3, 3))
/* receive: sample 1 taken, not yet held, 2..4 queued; release: 0 held,
 * 1..4 queued; reclaim: its close gave back 2..4, not the held 1. */
CRASH_TEST(samples_receive_taken, "samples.receive.taken:2",
           s_samples_reader(at, 4))
CRASH_TEST(samples_release_start, "samples.release.start",
           s_samples_reader(at, 5))
CRASH_TEST(samples_release_cleared, "samples.release.cleared",
           s_samples_release(at))
CRASH_TEST(samples_reclaim_queue, "samples.reclaim.queue:2",
           s_samples_reader(at, 1))
CRASH_TEST(samples_reclaim_held, "samples.reclaim.held",
           s_samples_settler(at))
CRASH_TEST(samples_join_history, "samples.join.history:2",
           s_samples_joiner(at))
CRASH_TEST(samples_drop_taken, "samples.drop.taken:2", s_samples_drop(at))
CRASH_TEST(samples_reclaim_loan, "samples.reclaim.loan",
           s_samples_reclaim(at))
CRASH_TEST(mutex_lock_acquired, "mutex.lock.acquired", s_mutex_owner(at))
CRASH_TEST(mutex_lock_slow, "mutex.lock.slow", s_mutex_waiter(at))
CRASH_TEST(mutex_takeover, "mutex.takeover", s_mutex_owner(at))
CRASH_TEST(mutex_unlock_released, "mutex.unlock.released", s_unlock(at))
CRASH_TEST(sem_post_counted, "sem.post.counted", s_wake(at))
CRASH_TEST(event_signal_counted, "event.signal.counted", s_wake(at))
CRASH_TEST(board_set_odd, "board.set.odd", s_board_writer(at))
CRASH_TEST(board_set_even, "board.set.even", s_board_writer(at))
CRASH_TEST(board_recover, "board.recover", s_board_recover(at))

/* The points with a scenario above are exactly the points compiled in. */
TEST(crash_every_point_has_a_test)
{
	const char *const *names;
	size_t n = shmq__crash_points(&names), found = 0;
	CHECK(n >= 20);
	for (size_t i = 0; i < n; i++) {
		int has = 0;
		for (size_t k = 0; k < ncovered; k++)
			has |= !strncmp(covered[k], names[i], strlen(names[i])) &&
			       (covered[k][strlen(names[i])] == '\0' ||
			        covered[k][strlen(names[i])] == ':');
		if (!has)
			t_fail(__FILE__, __LINE__, "has", "no test for %s",
			       names[i]);
		found++;
	}
	/* and no test names a point that does not exist */
	for (size_t k = 0; k < ncovered; k++) {
		size_t len = strcspn(covered[k], ":");
		int is = 0;
		for (size_t i = 0; i < n; i++)
			is |= strlen(names[i]) == len &&
			      !strncmp(covered[k], names[i], len);
		if (!is)
			t_fail(__FILE__, __LINE__, "is", "no point %s",
			       covered[k]);
	}
	CHECK_EQ(found, ncovered);
}

/* The product build (build/libshmq.a, .so) has no crash point. */
TEST(crash_points_are_not_in_the_product)
{
	static struct t_run r;
	char lib[512];
	snprintf(lib, sizeof(lib), "%s/libshmq.a", t_build_dir());
	char *const nm[] = {"nm", "-A", lib, NULL};
	CHECK_EQ(t_exec(&r, NULL, nm), 0);
	CHECK_HAS(r.out, "shmq_chan_open");
	CHECK(!strstr(r.out, "shmq__crash"));
	CHECK(!strstr(r.out, "shmq_crash_points"));
}
