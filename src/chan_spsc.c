/*
 * spsc: one writer, one reader, variable-size messages in a byte ring.
 *
 * Positions are free-running 64-bit byte counts, masked on use. A record is
 * an 8-byte header word then the payload, padded to 8; a message that would
 * not fit before the ring's end is preceded by a PAD record that fills it,
 * so every message is contiguous (zero copy).
 *
 * The header word is the publication: the reader polls the header at its
 * position, not a shared tail, so a small message costs the reader one
 * cache line, where the message is. Before it publishes a record the writer
 * zeroes the header word that follows it (the terminator), so the word at
 * the reader's position is always either 0 (nothing yet) or a header
 * written for exactly that position (it also carries the position's low
 * bits, a check against scribbles). The writer reads `head` only when its
 * cached copy says the ring is full. `tail` is still published, for
 * `shmq ls` and for a writer that joins later.
 */
#include "chan.h"

#include <errno.h>
#include <string.h>

#define REC sizeof(struct shmq_chan_rec)
#define TERM REC /* the zeroed header after each record */

static uint64_t rec_bytes(uint64_t len)
{
	return REC + ((len + 7) & ~(uint64_t)7);
}

/* The record at position pos (the header word's encoding: layout.h). */
static struct shmq_chan_rec *rec_at(struct shmq_chan *ch, uint64_t pos)
{
	return (struct shmq_chan_rec *)(ch->ring + (pos & ch->mask));
}

/* Writer: room for `want` bytes at our position? */
static int room(struct shmq_chan *ch, void *arg)
{
	uint64_t want = *(uint64_t *)arg;
	if (ch->capacity - (ch->pos - ch->other) >= want)
		return 0;
	/* acquire: pairs with the reader's release of head, so its copy out
	 * of the bytes we are about to reuse is done */
	uint64_t head = shmq_load(&ch->hdr->head, SHMQ_ACQUIRE);
	if (ch->pos - head > ch->capacity || head % 8)
		return -EBADMSG; /* head is not where any reader could be */
	ch->other = head;
	if (ch->capacity - (ch->pos - head) >= want)
		return 0;
	/* acquire: pairs with the reader's release decrement (count_down())
	 * and the settler's release of dead_readers before it (settle()) */
	if (shmq_load(&ch->hdr->readers, SHMQ_ACQUIRE) == 0 &&
	    shmq_load(&ch->hdr->dead_readers, SHMQ_ACQUIRE) > 0)
		return SHMQ_EPEERDEAD; /* nobody will ever make room */
	return -EAGAIN;
}

/* tail and the reader's wake, once records are published up to pos. */
static void publish_tail(struct shmq_chan *ch)
{
	/* release: pairs with the acquire load of tail in start_mapped()
	 * of a writer that joins later */
	shmq_store(&ch->hdr->tail, ch->pos, SHMQ_RELEASE);
	shmq__chan_notify(ch, &ch->hdr->data_ev);
}

/* Reader: wakes a writer waiting for room (the wake a batch owed). */
static void wake_room(struct shmq_chan *ch)
{
	ch->held = 0;
	shmq__chan_notify(ch, &ch->hdr->space_ev);
}

/* Batching: publishes the held records at once, by the first one's header
 * (release: every held record, payloads and headers, before it; pairs
 * with the reader's acquire load of the header in data()). A reader's
 * flush is the wake it owes a writer waiting for room. */
static void spsc_flush(struct shmq_chan *ch)
{
	if (!ch->held)
		return;
	if (ch->role == SHMQ_READER) {
		wake_room(ch);
		return;
	}
	shmq_store(&rec_at(ch, ch->held_pos)->word, ch->held_word,
	           SHMQ_RELEASE);
	SHMQ_CRASH_POINT("spsc.flush.header"); /* before tail */
	ch->held = 0;
	publish_tail(ch);
}

/* Before the writer waits for room (or try_ finds none): a reader that
 * is to make room must see what we hold. */
static int wait_room(struct shmq_chan *ch, uint64_t want,
                     const struct timespec *deadline, int try_)
{
	if (ch->capacity - (ch->pos - ch->other) >= want)
		return 0; /* room by our cached head: no call, no shared load */
	if (ch->held) {
		int rc = room(ch, &want);
		if (rc != -EAGAIN)
			return rc;
		spsc_flush(ch);
	}
	return shmq__chan_wait(ch, &ch->hdr->space_ev, room, &want, deadline,
	                       try_);
}

/* Batching: the record at our position joins the held ones. Its header
 * is stored at once unless it is the first (relaxed: no reader passes the
 * first one's header before spsc_flush() releases it). */
static void hold(struct shmq_chan *ch, uint64_t bytes, uint64_t w)
{
	if (ch->held++)
		shmq_store(&rec_at(ch, ch->pos)->word, w, SHMQ_RELAXED);
	else {
		ch->held_pos = ch->pos;
		ch->held_word = w;
	}
	ch->pos += bytes;
	if (ch->held >= ch->batch)
		spsc_flush(ch);
}

/* Publishes the record of `bytes` at our position with header word w. */
static void publish(struct shmq_chan *ch, uint64_t bytes, uint64_t w)
{
	/* relaxed: ordered before the header by the release below */
	shmq_store(&rec_at(ch, ch->pos + bytes)->word, 0, SHMQ_RELAXED);
	if (ch->batch > 1) {
		hold(ch, bytes, w);
		return;
	}
	/* release: payload and terminator before the header; pairs with the
	 * reader's acquire load of the header in data() */
	shmq_store(&rec_at(ch, ch->pos)->word, w, SHMQ_RELEASE);
	SHMQ_CRASH_POINT("spsc.publish.header"); /* before tail */
	ch->pos += bytes;
	publish_tail(ch);
}

/* The calls of every message are flattened: each one function, its
 * helpers inlined (measured: a fifth of the instructions of a send and a
 * receive were calls and their register saves). */
__attribute__((flatten))
static int spsc_reserve(struct shmq_chan *ch, size_t len, void **ptr,
                        const struct timespec *deadline, int try_)
{
	uint64_t need = rec_bytes(len);
	uint64_t to_end = ch->capacity - (ch->pos & ch->mask);
	int rc;
	if (len > ch->msg_size)
		return -EMSGSIZE;
	if (to_end < need) { /* fill the end with a PAD, go round */
		if ((rc = wait_room(ch, to_end + TERM, deadline, try_)) < 0)
			return rc;
		publish(ch, to_end, shmq__rec_pad_word(to_end - REC, ch->pos));
		SHMQ_CRASH_POINT("spsc.reserve.pad");
	}
	if ((rc = wait_room(ch, need + TERM, deadline, try_)) < 0)
		return rc;
	*ptr = rec_at(ch, ch->pos) + 1;
	ch->op_len = len;
	return 0;
}

__attribute__((flatten))
static int spsc_commit(struct shmq_chan *ch, size_t len)
{
	SHMQ_CRASH_POINT("spsc.commit.payload"); /* written, not published */
	publish(ch, rec_bytes(len), shmq__rec_word(len, ch->pos));
	shmq__chan_count(ch, len);
	return 0;
}

/* The header word at our position, checked against the ring: 0 when
 * nothing is published there yet. A word a peer scribbled is an error. */
static int header(struct shmq_chan *ch, uint64_t *w)
{
	uint64_t off = ch->pos & ch->mask;
	/* acquire: pairs with the writer's release of the header in
	 * publish(): the payload is complete */
	*w = shmq_load(&rec_at(ch, ch->pos)->word, SHMQ_ACQUIRE);
	if (*w == 0)
		return 0;
	uint64_t len = shmq__rec_len(*w);
	if (!shmq__rec_at(*w, ch->pos))
		return -EBADMSG;
	/* A PAD fills the ring's end, so never starts at offset 0: a peer
	 * that put one there could keep a peek skipping PADs forever. */
	if (shmq__rec_is_pad(*w))
		return off && len == ch->capacity - off - REC ? 1 : -EBADMSG;
	if (len > ch->msg_size || off + rec_bytes(len) > ch->capacity)
		return -EBADMSG;
	return 1;
}

/* Where the records end, from tail on: a writer that died between
 * publishing a record and moving tail left records past it. */
static uint64_t resume(struct shmq_chan *ch, uint64_t tail)
{
	uint64_t saved = ch->pos, w, end;
	ch->pos = tail;
	/* Bounded: a ring's worth of records at most. */
	while (ch->pos - tail < ch->capacity && header(ch, &w) == 1)
		ch->pos += shmq__rec_is_pad(w) ? REC + shmq__rec_len(w)
		                               : rec_bytes(shmq__rec_len(w));
	end = ch->pos;
	ch->pos = saved;
	return end;
}

/* Reader: a record at our position? */
static int data(struct shmq_chan *ch, void *arg)
{
	uint64_t *w = arg;
	int rc = header(ch, w);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if ((rc = shmq__chan_eof(ch)) == -EAGAIN)
		return rc;
	/* The writers are gone; what they published before going is in. */
	int again = header(ch, w);
	return again != 0 ? (again < 0 ? again : 0) : rc;
}

/* head at every release (a reader that dies never gives a message
 * twice); a batching reader wakes a writer waiting for room once per
 * `batch` releases, and before it waits itself (spsc_peek()), flushes or
 * closes: a writer on a full ring then runs once per batch, not once per
 * message. A wake owed while this reader does something else is made
 * good by the writer's own poll tick (chan_wait.c, POLL_MS). */
static void publish_head(struct shmq_chan *ch)
{
	/* release: we are done with the bytes; pairs with the writer's
	 * acquire load of head in room() */
	shmq_store(&ch->hdr->head, ch->pos, SHMQ_RELEASE);
	if (ch->batch > 1 && ++ch->held < ch->batch)
		return;
	wake_room(ch);
}

__attribute__((flatten))
static ssize_t spsc_peek(struct shmq_chan *ch, const void **ptr, size_t max,
                         const struct timespec *deadline, int try_)
{
	uint64_t w;
	for (;;) {
		/* A record there already (the common case): no wait. */
		int rc = header(ch, &w);
		if (rc == 0) {
			spsc_flush(ch); /* a batching reader's owed wake */
			rc = shmq__chan_wait(ch, &ch->hdr->data_ev, data, &w,
			                     deadline, try_);
		}
		if (rc < 0)
			return rc;
		if (!shmq__rec_is_pad(w))
			break;
		ch->pos += REC + shmq__rec_len(w); /* to the ring's start */
		publish_head(ch);
	}
	uint64_t len = shmq__rec_len(w);
	if (len > max)
		return -EMSGSIZE;
	*ptr = rec_at(ch, ch->pos) + 1;
	ch->op_len = len;
	return (ssize_t)len;
}

static int spsc_release(struct shmq_chan *ch)
{
	ch->pos += rec_bytes(ch->op_len);
	SHMQ_CRASH_POINT("spsc.release.read"); /* copied, head not moved */
	publish_head(ch);
	shmq__chan_count(ch, ch->op_len);
	return 0;
}

SHMQ__CHAN_COPY_CALLS(spsc)

/* The depth in messages comes from the counters: records have no count. */
static void spsc_depth(struct shmq_chan *ch, struct shmq_chan_info *in)
{
	/* relaxed: a report; nothing is read through them */
	uint64_t t = shmq_load(&ch->hdr->tail, SHMQ_RELAXED);
	uint64_t h = shmq_load(&ch->hdr->head, SHMQ_RELAXED);
	in->depth_bytes = t - h <= ch->capacity ? t - h : 0;
	in->depth_msgs = in->sent - in->received - in->lost;
	for (unsigned k = 0; k < in->npeers; k++) /* the one reader's lag */
		if (in->peers[k].role == SHMQ_READER)
			in->peers[k].queued = in->depth_msgs;
}

/* The ring is the capacity in bytes: a record header, and the terminator
 * after the record, leave the largest message 16 bytes less. */
static int spsc_plan(const struct shmq_chan_opts *o,
                     struct shmq__chan_geometry *g)
{
	(void)o;
	if (g->capacity < 64)
		g->capacity = 64;
	g->ring_bytes = g->capacity;
	g->msg_size = (uint32_t)(g->capacity - 2 * sizeof(struct shmq_chan_rec));
	return 0;
}

static int spsc_check(const struct shmq_chan_hdr *h, uint64_t size,
                      uint64_t *ring)
{
	(void)size;
	if (h->capacity < 64 || h->msg_size != h->capacity - 16)
		return -EBADMSG;
	*ring = h->capacity;
	return 0;
}

/* 8-byte records, at most a ring apart; tail past the records a dead
 * writer published. */
static int spsc_start(struct shmq_chan *ch, uint64_t *head, uint64_t *tail)
{
	if ((*head | *tail) % 8)
		return -EBADMSG;
	*tail = resume(ch, *tail);
	return *tail - *head > ch->capacity ? -EBADMSG : 0;
}

const struct shmq_chan_ops shmq__spsc_ops = {
	.reserve = spsc_reserve,
	.commit = spsc_commit,
	.peek = spsc_peek,
	.release = spsc_release,
	.send = spsc_send,
	.recv = spsc_recv,
	.depth = spsc_depth,
	.flush = spsc_flush,
	.quit = spsc_flush, /* a closing writer publishes what it holds, a
	                       closing reader wakes a waiting writer */
	.default_capacity = 1u << 20, /* bytes */
	.plan = spsc_plan,
	.check = spsc_check,
	.start = spsc_start,
	.max_writers = 1,
	.max_readers = 1,
};
