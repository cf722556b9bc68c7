/*
 * libFuzzer target: a peer scribbles on the live state of a channel that
 * we are attached to.
 *
 * Each input makes a channel on a memfd (spsc, mpmc or broadcast), attaches
 * a writer (the creator) and a reader, passes messages through until both
 * are near the ring's end, sends three messages, then writes
 * the input's patches over the state peers share after open: the counter,
 * tail and head lines of the header, the peer table, the ring (records,
 * slot headers, payloads). The identity line stays: open has checked it,
 * and fuzz_chan_header.c scribbles on it. Then the reader peeks, releases
 * and drains (try_recv, recv whose deadline has passed, peek), the writer
 * try_sends, reserves and commits, the reader drains again, both report
 * info, shmq_chan_stat reads the object, and both close. Whatever the
 * bytes, each call returns data or an error: no crash, no sanitizer
 * report, no hang (-timeout), no leak, no access outside the object
 * (guard.c), a peeked message inside the ring (slots included) and no
 * longer than the channel's largest, and no more messages than the ring
 * holds.
 *
 * Input: byte 0, bits 0-1 the kind (0 spsc, 1 mpmc, 2 broadcast, 3 mpmc),
 *        bit 2 broadcast overwrite policy, bit 3 the writer acts first;
 *        then patches: offset (2 bytes, little endian, modulo the shared
 *        state's size: header lines 2-4, then the peer table, then the
 *        ring), length (1 byte), that many bytes written there.
 *
 *   make fuzz      build build/fuzz/fuzz_chan_ring (clang) and run it on
 *                  tests/fuzz/corpus/chan_ring for FUZZ_TIME seconds
 */
#include "chan.h" /* the shared bytes: ch->seg, ch->fd */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct timespec past = {0, 0};

/* Peeks; a message must lie inside the reader's ring (the object is
 * rounded up to a page, so the guard pages alone would miss an overrun
 * of a small ring). */
static ssize_t peek_checked(shmq_chan *r, const struct timespec *deadline)
{
	const void *p;
	char copy[1024];
	ssize_t n = shmq_chan_peek_timed(r, &p, deadline);
	if (n < 0)
		return n;
	const char *ring = (const char *)r->ring;
	const char *end = ring + (r->kind == SHMQ_CHAN_SPSC
	                                  ? r->capacity
	                                  : r->capacity * r->slot_size);
	if ((size_t)n > shmq_chan_max_msg(r) || (const char *)p < ring ||
	    (const char *)p + n > end)
		fuzz_die("peek gave a message outside the ring", (long)n);
	memcpy(copy, p, (size_t)n);
	int rc = shmq_chan_release(r);
	return rc < 0 ? rc : n;
}

/* With no message sent meanwhile, a reader gets at most what the ring
 * holds (spsc: a record takes 8 bytes at least). */
static void drain(shmq_chan *r)
{
	struct shmq_chan_info info;
	char buf[1024];
	if (shmq_chan_info(r, &info) < 0)
		fuzz_die("reader info", -EINVAL);
	uint64_t most = info.kind == SHMQ_CHAN_SPSC ? info.capacity / 8
	                                            : info.capacity;
	/* a short buffer first: a longer message stays for the next call */
	ssize_t n = shmq_chan_try_recv(r, buf, 8);
	if (n == -EMSGSIZE)
		n = shmq_chan_try_recv(r, buf, sizeof(buf));
	for (uint64_t i = 0; n >= 0 || n == SHMQ_ELOST; i++) {
		if (n > (ssize_t)shmq_chan_max_msg(r))
			fuzz_die("recv gave more than the largest message", (long)n);
		if (i > 2 * most + 2)
			fuzz_die("a reader got more messages than the ring holds",
			    (long)i);
		n = i % 3 == 0   ? shmq_chan_try_recv(r, buf, sizeof(buf))
		    : i % 3 == 1 ? shmq_chan_recv_timed(r, buf, sizeof(buf),
		                                        &past)
		                 : peek_checked(r, &past);
	}
}

static void write_some(shmq_chan *w)
{
	static const char msg[40] = "a message from the writer";
	void *p;
	shmq_chan_try_send(w, msg, 5);
	shmq_chan_send_timed(w, msg, sizeof(msg), &past);
	if (shmq_chan_reserve_timed(w, 16, &p, &past) == 0) {
		memcpy(p, msg, 16);
		shmq_chan_commit(w, 9);
	}
}

static void reader_acts(shmq_chan *r)
{
	peek_checked(r, &past);
	drain(r);
}

/* Both sides near the ring's end, so that what follows goes round it:
 * n messages of len bytes through. */
static void cycle(shmq_chan *w, shmq_chan *r, int n, size_t len)
{
	char buf[128] = "";
	for (int i = 0; i < n; i++) {
		int rc = shmq_chan_send(w, buf, len);
		ssize_t got = shmq_chan_try_recv(r, buf, sizeof(buf));
		if (rc < 0 || got != (ssize_t)len)
			fuzz_die("cycle", rc < 0 ? rc : (long)got);
	}
}

/* Rings of one page (4096 bytes: 64 slots of 64 for mpmc and broadcast),
 * which ends where the object does: a guard page follows. */
static void make_channel(int kind, int policy, shmq_chan **w, shmq_chan **r,
                         char *loc, size_t len)
{
	struct shmq_chan_opts o = {.kind = kind, .capacity = 64, .msg_size = 48,
	                           .policy = policy, .spin_ns = 0};
	static const char big[48] = "the largest message there is";
	int rc;
	if (kind == SHMQ_CHAN_SPSC)
		o.capacity = 4096;
	if ((rc = shmq_chan_create(w, "memfd:fuzz-ring", SHMQ_WRITER, &o)) < 0)
		fuzz_die("create", rc);
	snprintf(loc, len, "memfd:fd=%d", (*w)->fd);
	if ((rc = shmq_chan_open(r, loc, SHMQ_READER, &o)) < 0)
		fuzz_die("open", rc);
	if (kind == SHMQ_CHAN_SPSC)
		cycle(*w, *r, 38, 96); /* 38 records of 104 bytes: 3952 */
	else
		cycle(*w, *r, 60, 8);
	if ((rc = shmq_chan_send(*w, "hello", 5)) < 0 ||
	    (rc = shmq_chan_send(*w, big, sizeof(big))) < 0 ||
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
	int kind = (data[0] & 3) == 3 ? SHMQ_CHAN_MPMC : (data[0] & 3) + 1;
	int fds = fuzz_count_fds();
	make_channel(kind, data[0] & 4 ? SHMQ_POLICY_OVERWRITE
	                               : SHMQ_POLICY_BLOCK, &w, &r, loc,
	             sizeof(loc));
	fuzz_scribble_chan(w, data, size);
	fuzz_drive(&peers, w, r, loc, data[0] & 8, fds);
	return 0;
}
