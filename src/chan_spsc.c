/*
 * spsc: one writer, one reader, variable-size messages in a byte ring.
 *
 * Positions are free-running 64-bit byte counts, masked on use. A record is
 * an 8-byte header then the payload, padded to 8; a message that would not
 * fit before the ring's end is preceded by a PAD record that fills it, so
 * every message is contiguous (zero copy). Each side keeps its own index
 * privately and publishes it with a release store; it reads the other's
 * only when its cached copy says full (writer) or empty (reader).
 */
#include "chan.h"

#include <errno.h>
#include <string.h>

#define REC sizeof(struct shmq_chan_rec)

static uint64_t rec_bytes(uint64_t len)
{
	return REC + ((len + 7) & ~(uint64_t)7);
}

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
	if (shmq_load(&ch->hdr->readers, SHMQ_ACQUIRE) == 0 &&
	    shmq_load(&ch->hdr->dead_readers, SHMQ_ACQUIRE) > 0)
		return SHMQ_EPEERDEAD; /* nobody will ever make room */
	return -EAGAIN;
}

static int wait_room(struct shmq_chan *ch, uint64_t want,
                     const struct timespec *deadline, int try_)
{
	return shmq__chan_wait(ch, &ch->hdr->space_ev, room, &want, deadline,
	                       try_);
}

static void publish_tail(struct shmq_chan *ch)
{
	/* release: the record is written; pairs with the reader's acquire
	 * load of tail in data() */
	shmq_store(&ch->hdr->tail, ch->pos, SHMQ_RELEASE);
	shmq__chan_notify(&ch->hdr->data_ev);
}

static int spsc_reserve(struct shmq_chan *ch, size_t len, void **ptr,
                        const struct timespec *deadline, int try_)
{
	uint64_t need = rec_bytes(len);
	uint64_t to_end = ch->capacity - (ch->pos & ch->mask);
	int rc;
	if (len > ch->msg_size)
		return -EMSGSIZE;
	if (to_end < need) { /* fill the end with a PAD, go round */
		if ((rc = wait_room(ch, to_end, deadline, try_)) < 0)
			return rc;
		struct shmq_chan_rec *pad = rec_at(ch, ch->pos);
		pad->len = (uint32_t)(to_end - REC);
		pad->flags = SHMQ_REC_PAD;
		ch->pos += to_end;
		publish_tail(ch);
	}
	if ((rc = wait_room(ch, need, deadline, try_)) < 0)
		return rc;
	*ptr = (char *)rec_at(ch, ch->pos) + REC;
	ch->op_len = len;
	return 0;
}

static int spsc_commit(struct shmq_chan *ch, size_t len)
{
	struct shmq_chan_rec *r = rec_at(ch, ch->pos);
	r->len = (uint32_t)len;
	r->flags = 0;
	ch->pos += rec_bytes(len);
	publish_tail(ch);
	shmq__chan_count(ch);
	return 0;
}

/* Reader: anything past our position? */
static int data(struct shmq_chan *ch, void *arg)
{
	(void)arg;
	if (ch->other != ch->pos)
		return 0;
	/* acquire: pairs with the writer's release of tail; the records
	 * before it are complete */
	uint64_t tail = shmq_load(&ch->hdr->tail, SHMQ_ACQUIRE);
	if (tail - ch->pos > ch->capacity || tail % 8)
		return -EBADMSG;
	ch->other = tail;
	if (tail != ch->pos)
		return 0;
	int rc = shmq__chan_eof(ch);
	if (rc == -EAGAIN)
		return rc;
	/* The writers are gone; what they published before going is in. */
	tail = shmq_load(&ch->hdr->tail, SHMQ_ACQUIRE);
	if (tail - ch->pos > ch->capacity || tail % 8)
		return -EBADMSG;
	ch->other = tail;
	return tail != ch->pos ? 0 : rc;
}

/* The record at our position, checked against the ring and what the
 * writer published: a header a peer scribbled on is an error. */
static int next_record(struct shmq_chan *ch, struct shmq_chan_rec *out)
{
	uint64_t off = ch->pos & ch->mask, avail = ch->other - ch->pos;
	if (avail < REC || off + REC > ch->capacity)
		return -EBADMSG;
	memcpy(out, rec_at(ch, ch->pos), REC); /* one read: a local copy */
	if (out->flags == SHMQ_REC_PAD)
		return out->len == ch->capacity - off - REC &&
		               avail >= ch->capacity - off ? 0 : -EBADMSG;
	if (out->flags != 0 || out->len > ch->msg_size ||
	    off + rec_bytes(out->len) > ch->capacity ||
	    rec_bytes(out->len) > avail)
		return -EBADMSG;
	return 0;
}

static void publish_head(struct shmq_chan *ch)
{
	/* release: we are done with the bytes; pairs with the writer's
	 * acquire load of head in room() */
	shmq_store(&ch->hdr->head, ch->pos, SHMQ_RELEASE);
	shmq__chan_notify(&ch->hdr->space_ev);
}

static ssize_t spsc_peek(struct shmq_chan *ch, const void **ptr, size_t max,
                         const struct timespec *deadline, int try_)
{
	struct shmq_chan_rec r;
	for (;;) {
		int rc = shmq__chan_wait(ch, &ch->hdr->data_ev, data, NULL,
		                         deadline, try_);
		if (rc < 0)
			return rc;
		if ((rc = next_record(ch, &r)) < 0)
			return rc;
		if (r.flags != SHMQ_REC_PAD)
			break;
		ch->pos += REC + r.len; /* skip to the ring's start */
		publish_head(ch);
	}
	if (r.len > max)
		return -EMSGSIZE;
	*ptr = (char *)rec_at(ch, ch->pos) + REC;
	ch->op_len = rec_bytes(r.len);
	return r.len;
}

static int spsc_release(struct shmq_chan *ch)
{
	ch->pos += ch->op_len;
	publish_head(ch);
	shmq__chan_count(ch);
	return 0;
}

static void spsc_depth(struct shmq_chan *ch, uint64_t *msgs, uint64_t *bytes)
{
	(void)msgs;
	uint64_t t = shmq_load(&ch->hdr->tail, SHMQ_ACQUIRE);
	uint64_t h = shmq_load(&ch->hdr->head, SHMQ_ACQUIRE);
	*bytes = t - h <= ch->capacity ? t - h : 0;
}

const struct shmq_chan_ops shmq__spsc_ops = {
	spsc_reserve, spsc_commit, spsc_peek, spsc_release, spsc_depth,
};
