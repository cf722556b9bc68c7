/*
 * broadcast: one writer, many readers; every reader sees every message from
 * the moment it joins.
 *
 * Slot shmq__bcast_slot(p) (layout.h: in order, or half a ring from the
 * last for small slots) holds message p under a seqlock: the writer makes
 * the word odd (2p+1) before it writes and even (2p+2) after, so a reader
 * that copied a slot and finds the word unchanged knows the copy is whole;
 * otherwise the writer lapped it and the message is counted lost, never
 * handed out torn.
 * Each reader's position lives in its own peer line. With the BLOCK policy
 * the writer waits until the slowest live reader has read the message it
 * would overwrite; with OVERWRITE it never waits.
 */
#include "chan.h"

#include <errno.h>

static void *payload(struct shmq_chan_slot *s)
{
	return s + 1;
}

/* The slot of message p. */
static struct shmq_chan_slot *slot_of(struct shmq_chan *ch, uint64_t p)
{
	return (struct shmq_chan_slot *)(ch->ring +
	                                 shmq__bcast_slot(p, ch->capacity,
	                                                  ch->slot_size) *
	                                         ch->slot_size);
}

/* Peer line i's cursor if it is an active reader's: 1, else 0. */
static int reader_cursor(struct shmq_chan *ch, unsigned i, uint64_t *c)
{
	struct shmq_chan_peer *p = &ch->peers[i];
	/* acquire: pairs with the joiner's release of ACTIVE in take_slot():
	 * its role and first cursor are in */
	if (SHMQ_PEER_STATE(shmq_load(&p->state, SHMQ_ACQUIRE)) !=
	            SHMQ_PEER_ACTIVE ||
	    shmq_load(&p->role, SHMQ_RELAXED) != SHMQ_READER)
		return 0;
	/* acquire: pairs with the reader's release of its cursor in
	 * publish_cursor(): it is done with the slots before it */
	*c = shmq_load(&p->cursor, SHMQ_ACQUIRE);
	return 1;
}

/* Slowest live reader's position; `pos` when there is none. Dead readers
 * were settled by the wait's poll tick and are not ACTIVE. `all`: every
 * peer line (a reader joined since the last look), which makes the list
 * of the readers' lines; else only the lines of that list (a writer that
 * waits for room looks at every message: 64 lines each time cost more
 * than the message). A line that is no longer a reader's leaves the list;
 * one taken again joins it at the next full look (readers_ever moves). */
static uint64_t slowest(struct shmq_chan *ch, int all)
{
	uint64_t min = ch->pos, c;
	uint64_t m = all ? ~UINT64_C(0) >> (64 - SHMQ_CHAN_MAX_PEERS)
	                 : ch->reader_lines;
	ch->reader_lines = 0;
	for (; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);
		if (!reader_cursor(ch, i, &c))
			continue;
		ch->reader_lines |= UINT64_C(1) << i;
		/* A cursor ahead of us is scribbled: it cannot hold the
		 * writer back. One more than a lap behind is a reader that
		 * joined while we ran ahead: it holds us at a lap until it
		 * moves on (to the oldest slot still there). */
		if (c > ch->pos)
			continue;
		if (ch->pos - c > ch->capacity)
			c = ch->pos - ch->capacity;
		if (c < min)
			min = c;
	}
	return min;
}

/* Writer (BLOCK): may we overwrite the slot of our position? */
static int room(struct shmq_chan *ch, void *arg)
{
	(void)arg;
	/* acquire: pairs with the joiner's release increment in
	 * count_role(), after its line and cursor went ACTIVE. A reader
	 * that joined since we last looked may be behind our cached
	 * minimum: look again before overwriting anything. */
	uint32_t joined = shmq_load(&ch->hdr->readers_ever, SHMQ_ACQUIRE);
	int moved = joined != ch->readers_seen;
	if (ch->pos - ch->other < ch->capacity && !moved)
		return 0;
	ch->readers_seen = joined;
	ch->other = slowest(ch, moved);
	return ch->pos - ch->other < ch->capacity ? 0 : -EAGAIN;
}

static int bcast_reserve(struct shmq_chan *ch, size_t len, void **ptr,
                         const struct timespec *deadline, int try_)
{
	if (len > ch->msg_size)
		return -EMSGSIZE;
	if (ch->policy == SHMQ_POLICY_BLOCK) {
		int rc = shmq__chan_wait(ch, &ch->hdr->space_ev, room, NULL,
		                         deadline, try_);
		if (rc < 0)
			return rc;
	}
	struct shmq_chan_slot *s = slot_of(ch, ch->pos);
	shmq_store(&s->word, shmq__bcast_filling(ch->pos), SHMQ_RELAXED);
	/* release fence: the odd word is visible before any payload byte
	 * changes; pairs with the reader's acquire fence in bcast_release */
	shmq_fence_release();
	SHMQ_CRASH_POINT("bcast.reserve.odd"); /* inside the seqlock write */
	*ptr = payload(s);
	return 0;
}

static int bcast_commit(struct shmq_chan *ch, size_t len)
{
	struct shmq_chan_slot *s = slot_of(ch, ch->pos);
	/* relaxed: ordered by the release of the even word below */
	shmq_store(&s->len, (uint32_t)len, SHMQ_RELAXED);
	/* release: payload and len before the even word; pairs with the
	 * reader's acquire load of the word */
	shmq_store(&s->word, shmq__bcast_filled(ch->pos), SHMQ_RELEASE);
	ch->pos++;
	/* release: pairs with the reader's acquire load of tail */
	shmq_store(&ch->hdr->tail, ch->pos, SHMQ_RELEASE);
	shmq__chan_notify(ch, &ch->hdr->data_ev);
	shmq__chan_count(ch, len);
	return 0;
}

static void publish_cursor(struct shmq_chan *ch)
{
	/* release: we are done with the slot; pairs with the writer's
	 * acquire in slowest() */
	shmq_store(&ch->peers[ch->me].cursor, ch->pos, SHMQ_RELEASE);
}

static void bcast_joined(struct shmq_chan *ch)
{
	/* A reader's cursor went out with its line (bcast_join). A writer
	 * that replaces a dead one starts behind the readers that
	 * are still reading its predecessor's messages, not at tail.
	 * acquire: as in room(), pairs with the joiner's release increment
	 * of readers_ever in count_role() */
	ch->readers_seen = shmq_load(&ch->hdr->readers_ever, SHMQ_ACQUIRE);
	ch->other = ch->role == SHMQ_WRITER ? slowest(ch, 1) : ch->pos;
}

/* Moves a reader that fell a lap behind to the oldest message still there. */
static int lapped(struct shmq_chan *ch, uint64_t tail)
{
	uint64_t missed = tail - ch->capacity - ch->pos;
	ch->pos += missed;
	ch->lost += missed;
	shmq_store(&ch->peers[ch->me].lost, ch->lost, SHMQ_RELAXED);
	publish_cursor(ch);
	return SHMQ_ELOST;
}

/* Reader: a message at our position? A tail loaded before that is still
 * ahead of us says yes without a load: the writer stores tail at every
 * commit, so loading it at every message took its line from the writer
 * once a message and reader. The slot's word, checked in bcast_peek(),
 * still says whether the message there is ours. */
static int data(struct shmq_chan *ch, void *arg)
{
	(void)arg;
	if (ch->other - ch->pos - 1 < ch->capacity)
		return 0; /* pos < other <= pos + capacity */
	/* acquire: pairs with the writer's release of tail */
	uint64_t tail = shmq_load(&ch->hdr->tail, SHMQ_ACQUIRE);
	if (tail - ch->pos > ch->capacity) {
		if (tail - ch->pos > (UINT64_C(1) << 62))
			return -EBADMSG; /* behind us: scribbled */
		return lapped(ch, tail);
	}
	if (tail != ch->pos) {
		ch->other = tail;
		return 0;
	}
	int rc = shmq__chan_eof(ch);
	if (rc == -EAGAIN)
		return rc;
	/* acquire: pairs with the writer's release of tail in
	 * bcast_commit(), made before its release of the count */
	return shmq_load(&ch->hdr->tail, SHMQ_ACQUIRE) != ch->pos ? 0 : rc;
}

static ssize_t bcast_peek(struct shmq_chan *ch, const void **ptr, size_t max,
                          const struct timespec *deadline, int try_)
{
	int rc = shmq__chan_wait(ch, &ch->hdr->data_ev, data, NULL, deadline,
	                         try_);
	if (rc < 0)
		return rc;
	struct shmq_chan_slot *s = slot_of(ch, ch->pos);
	/* acquire: pairs with the writer's release of the even word */
	uint64_t w = shmq_load(&s->word, SHMQ_ACQUIRE);
	/* relaxed: after the acquire of the word; a lapping writer may be
	 * storing it now, which the word's re-check below then tells */
	uint32_t len = shmq_load(&s->len, SHMQ_RELAXED);
	if (w != shmq__bcast_filled(ch->pos)) {
		if (w < shmq__bcast_filled(ch->pos))
			return -EBADMSG; /* older than tail says: scribbled */
		/* Overwritten since tail said it was in: the writer lapped
		 * us; go to the oldest message it left. */
		/* acquire: pairs with the writer's release of tail */
		uint64_t t = shmq_load(&ch->hdr->tail, SHMQ_ACQUIRE);
		return lapped(ch, t - ch->pos > ch->capacity
		                          ? t : ch->pos + ch->capacity + 1);
	}
	if (len > ch->msg_size)
		return -EBADMSG;
	if (len > max)
		return -EMSGSIZE;
	ch->op_seq = w;
	ch->op_len = len;
	*ptr = payload(s);
	return len;
}

/* The copy is whole only if the word did not move while it was made. */
static int bcast_release(struct shmq_chan *ch)
{
	struct shmq_chan_slot *s = slot_of(ch, ch->pos);
	/* acquire fence: our reads of the payload happen before this load;
	 * pairs with the writer's release fence after the odd word */
	shmq_fence_acquire();
	uint64_t w = shmq_load(&s->word, SHMQ_RELAXED);
	ch->pos++;
	SHMQ_CRASH_POINT("bcast.release.read"); /* copied, cursor not moved */
	publish_cursor(ch);
	if (ch->policy == SHMQ_POLICY_BLOCK)
		shmq__chan_notify(ch, &ch->hdr->space_ev);
	if (w != ch->op_seq) {
		ch->lost++;
		shmq_store(&ch->peers[ch->me].lost, ch->lost, SHMQ_RELAXED);
		return SHMQ_ELOST;
	}
	shmq__chan_count(ch, ch->op_len);
	return 0;
}

static void bcast_depth(struct shmq_chan *ch, struct shmq_chan_info *in)
{
	uint64_t saved = ch->pos;
	/* relaxed: a report; nothing is read through it */
	ch->pos = shmq_load(&ch->hdr->tail, SHMQ_RELAXED);
	uint64_t min = slowest(ch, 1);
	in->depth_msgs = ch->pos - min;
	in->depth_bytes = in->depth_msgs * ch->msg_size;
	ch->pos = saved;
}

/* A reader's lag: from its cursor to the tail, at most a lap (a cursor
 * ahead of the tail is scribbled: nothing queued). */
static void bcast_peer_depth(struct shmq_chan *ch, unsigned i,
                             struct shmq_chan_peer_info *pi)
{
	if (pi->role != SHMQ_READER)
		return;
	/* relaxed: a report; nothing is read through them */
	uint64_t t = shmq_load(&ch->hdr->tail, SHMQ_RELAXED);
	uint64_t c = shmq_load(&ch->peers[i].cursor, SHMQ_RELAXED);
	pi->queued = c > t ? 0 : t - c > ch->capacity ? ch->capacity : t - c;
}

/* Where a reader starts, not the last owner's cursor: the tail of now,
 * read just before its line shows it, so the writer can lap it only in
 * this window. */
static void bcast_join(struct shmq_chan *ch, int role)
{
	/* acquire: pairs with the writer's release of tail in
	 * bcast_commit(): the slots before it are whole */
	if (role == SHMQ_READER)
		ch->pos = ch->other = shmq_load(&ch->hdr->tail, SHMQ_ACQUIRE);
}

SHMQ__CHAN_COPY_CALLS(bcast)

const struct shmq_chan_ops shmq__bcast_ops = {
	.reserve = bcast_reserve,
	.commit = bcast_commit,
	.peek = bcast_peek,
	.release = bcast_release,
	.send = bcast_send,
	.recv = bcast_recv,
	.depth = bcast_depth,
	.peer_depth = bcast_peer_depth,
	.default_capacity = SHMQ__SLOTS_DEFAULT,
	.plan = shmq__slots_plan,
	.check = shmq__slots_check,
	.join = bcast_join,
	.joined = bcast_joined,
	.max_writers = 1,
	.max_readers = SHMQ_CHAN_MAX_PEERS,
};
