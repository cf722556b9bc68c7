/*
 * libFuzzer target: a peer scribbles on the control part of a sample
 * channel we are attached to (docs/design.md 10.8).
 *
 * Each input makes a samples channel on a memfd (a pool of 8 samples of
 * 64 bytes, readers hold 2, a history of 2), attaches the writer (the
 * creator) and a reader, passes 12 samples through (every sample of the
 * pool used, its address noted), leaves the reader holding one and two
 * queued, then writes the input's patches over the state peers share
 * after open: the header's counters, the peer table (state words,
 * generations), and the control part: the writer's line (loan, seq,
 * hist_pos), the descriptors (reference masks, seq, len, in_hist), the
 * history ring, each reader line (head, tail, lost, held) and its queue
 * entries. Then the reader peeks, releases (by pointer too) and drains,
 * the writer sends, reserves and commits, the reader drains again, both
 * report info, shmq_chan_stat reads the object, and both close. Whatever
 * the bytes, each call returns data or an error: no crash, no sanitizer
 * report, no hang (-timeout), no leak, a peeked sample is one of the
 * pool's (never a pointer elsewhere) no longer than the channel's
 * largest, and no more samples than the queue holds.
 *
 * Input: byte 0, bit 0 OVERWRITE, bit 1 the writer acts first; then
 *        patches: offset (2 bytes, little endian, modulo the shared
 *        state's size: header lines 2-4, the peer table, the control
 *        part), length (1 byte), that many bytes written there.
 *
 *   make fuzz      build build/fuzz/fuzz_chan_samples (clang) and run it
 *                  on tests/fuzz/corpus/chan_samples for FUZZ_TIME seconds
 */
#include "chan.h" /* the shared bytes: ch->seg, ch->fd */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POOL 8u

static const struct timespec past = {0, 0};
static const void *pool[POOL]; /* each sample's address, as peeked */

/* Notes (setup) or checks (after the scribbles) a peeked sample: one of
 * the pool's, its length at most the largest. */
static void sample_at(const void *p, ssize_t n, int note)
{
	char copy[64];
	if (n < 0 || (size_t)n > sizeof(copy))
		fuzz_die("peek gave more than the largest sample", (long)n);
	for (unsigned i = 0; i < POOL; i++) {
		if (note && !pool[i])
			pool[i] = p;
		if (pool[i] == p) {
			memcpy(copy, p, (size_t)n);
			return;
		}
	}
	fuzz_die("peek gave a pointer outside the pool", (long)n);
}

static ssize_t peek_checked(shmq_chan *r, const struct timespec *deadline,
                            int by_ptr)
{
	const void *p;
	ssize_t n = shmq_chan_peek_timed(r, &p, deadline);
	if (n < 0)
		return n;
	sample_at(p, n, 0);
	int rc = by_ptr ? shmq_chan_release_at(r, p) : shmq_chan_release(r);
	return rc < 0 ? rc : n;
}

/* With no sample sent meanwhile, a reader gets at most a queue's worth
 * (and the one it had taken). */
static void drain(shmq_chan *r)
{
	char buf[64];
	ssize_t n = shmq_chan_try_recv(r, buf, 8);
	if (n == -EMSGSIZE)
		n = shmq_chan_try_recv(r, buf, sizeof(buf));
	for (uint64_t i = 0; n >= 0; i++) {
		if (n > (ssize_t)shmq_chan_max_msg(r))
			fuzz_die("recv gave more than the largest sample", (long)n);
		if (i > POOL + 2)
			fuzz_die("a reader got more samples than its queue holds",
			    (long)i);
		n = i % 3 == 0   ? shmq_chan_try_recv(r, buf, sizeof(buf))
		    : i % 3 == 1 ? shmq_chan_recv_timed(r, buf, sizeof(buf),
		                                        &past)
		                 : peek_checked(r, &past, (int)(i & 4));
	}
}

static void write_some(shmq_chan *w)
{
	static const char msg[64] = "a sample from the writer";
	void *p;
	shmq_chan_try_send(w, msg, 5);
	shmq_chan_send_timed(w, msg, sizeof(msg), &past);
	if (shmq_chan_reserve_timed(w, 16, &p, &past) == 0) {
		memcpy(p, msg, 16);
		shmq_chan_commit(w, 9);
	}
	if (shmq_chan_try_reserve(w, 8, &p) == 0)
		shmq_chan_abandon(w);
}

static void reader_acts(shmq_chan *r)
{
	static const char junk[8];
	shmq_chan_release_at(r, junk); /* not a sample: -EINVAL */
	peek_checked(r, &past, 1);
	drain(r);
	while (shmq_chan_release(r) == 0)
		;
}

static void make_channel(int policy, shmq_chan **w, shmq_chan **r,
                         char *loc, size_t len)
{
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SAMPLES, .capacity = POOL,
	                           .msg_size = 64, .policy = policy,
	                           .spin_ns = 0, .hold = 2, .history = 2};
	const void *p;
	int rc;
	memset(pool, 0, sizeof(pool));
	if ((rc = shmq_chan_create(w, "memfd:fuzz-smp", SHMQ_WRITER, &o)) < 0)
		fuzz_die("create", rc);
	snprintf(loc, len, "memfd:fd=%d", (*w)->fd);
	if ((rc = shmq_chan_open(r, loc, SHMQ_READER, NULL)) < 0)
		fuzz_die("open", rc);
	for (int i = 0; i < 12; i++) { /* every sample of the pool, noted */
		ssize_t n;
		if ((rc = shmq_chan_send(*w, "sample", 7)) < 0)
			fuzz_die("send", rc);
		if ((n = shmq_chan_try_peek(*r, &p)) != 7)
			fuzz_die("peek", (long)n);
		sample_at(p, n, 1);
		if ((rc = shmq_chan_release(*r)) < 0)
			fuzz_die("release", rc);
	}
	for (unsigned i = 0; i < POOL; i++)
		if (!pool[i])
			fuzz_die("a sample of the pool never came", (long)i);
	if ((rc = shmq_chan_send(*w, "held", 5)) < 0 ||
	    shmq_chan_try_peek(*r, &p) != 5 ||
	    (rc = shmq_chan_send(*w, "queued", 7)) < 0 ||
	    (rc = shmq_chan_send(*w, "", 0)) < 0)
		fuzz_die("send", rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fuzz_peers peers = {write_some, reader_acts};
	char loc[32];
	shmq_chan *w, *r;
	if (size < 1)
		return 0;
	int fds = fuzz_count_fds();
	make_channel(data[0] & 1 ? SHMQ_POLICY_OVERWRITE : SHMQ_POLICY_BLOCK,
	             &w, &r, loc, sizeof(loc));
	fuzz_scribble_chan(w, data, size);
	fuzz_drive(&peers, w, r, loc, data[0] & 2, fds);
	return 0;
}
