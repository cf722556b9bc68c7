/*
 * mpmc: many writers, many readers, fixed-size slots; each message goes to
 * exactly one reader.
 *
 * A bounded queue after Vyukov's, with one change: a slot is claimed by a
 * CAS on its own word, which names the claimer, instead of by the CAS on
 * tail/head. So a slot that stays WRITING or READING says who holds it, and
 * if that peer is dead the slot is taken back (a WRITING one is skipped, a
 * READING one freed; both counted in `recovered`). tail and head only say
 * where to look; anyone who sees a slot claimed for the position they point
 * at moves them on (helping), so a claimer that dies between its claim and
 * that move stops nobody.
 *
 * Word (layout.h): bits 8..63 the position (mod 2^56), 6..7 the state, 0..5
 * the peer.
 * Slot p%N goes EMPTY(p) -> WRITING(p) -> FULL(p) -> READING(p) ->
 * EMPTY(p+N).
 */
#include "chan.h"

#include <errno.h>
#include <time.h>

#define HOLDER_LOOK_NS 1000000 /* between liveness looks at a slot's holder */
#define STUCK_MAX 100 /* the same index and word, again and again: a word
                         that is no round of this slot (scribbled on) */

/* Counts looks that saw nothing move. */
struct progress {
	uint64_t pos, w;
	int stuck;
};

static int stuck(struct progress *g, uint64_t pos, uint64_t w)
{
	if (pos == g->pos && w == g->w)
		return ++g->stuck > STUCK_MAX;
	g->pos = pos;
	g->w = w;
	g->stuck = 0;
	return 0;
}

/* seq is a later round than p (the index pointing at p is stale). */
static int ahead(uint64_t seq, uint64_t p)
{
	uint64_t d = (seq - p) & SHMQ_SLOT_SEQ_MASK;
	return d != 0 && d < (SHMQ_SLOT_SEQ_MASK >> 1);
}

static void advance(shmq_atomic64 *idx, uint64_t from)
{
	/* relaxed: the index only hints where to look; slot words carry
	 * all the ordering */
	shmq_cas(idx, &from, from + 1, SHMQ_RELAXED);
}

/* The slot is a later round than the index says: the index is stale.
 * Within a lap, help it on. Further than that, the index may just have
 * moved a lot while we looked; if it did not move at all, someone wrote a
 * position no peer could have left there. */
static int help_on(struct shmq_chan *ch, shmq_atomic64 *idx, uint64_t pos,
                   uint64_t seq)
{
	if (((seq - pos) & SHMQ_SLOT_SEQ_MASK) <= ch->capacity) {
		advance(idx, pos);
		return 0;
	}
	return shmq_load(idx, SHMQ_RELAXED) == pos ? -EBADMSG : 0;
}

/* Frees a claimed slot (word w) for position p + N: 1 done, 0 it moved. */
static int free_slot(struct shmq_chan *ch, struct shmq_chan_slot *s,
                     uint64_t w)
{
	uint64_t next = shmq__slot_word(shmq__slot_seq(w) + ch->capacity,
	                                SHMQ_SLOT_EMPTY, 0);
	/* acq_rel: as the CAS it undoes (a claim, acquire) and the store
	 * it stands in for (commit/release, release): pairs with the next
	 * claimer's acquire load of the word */
	if (!shmq_cas(&s->word, &w, next, SHMQ_ACQ_REL))
		return 0;
	shmq__chan_notify(ch, &ch->hdr->space_ev);
	return 1;
}

/* Takes back a slot whose holder died. WRITING: the message never came,
 * skip it. READING: the reader took it and died, free it for the next
 * round. Either way the slot ends EMPTY for position p + N. */
static void recover(struct shmq_chan *ch, struct shmq_chan_slot *s,
                    uint64_t w)
{
	SHMQ_CRASH_POINT("mpmc.recover"); /* the recoverer dies */
	if (free_slot(ch, s, w))
		shmq_add(&ch->hdr->recovered, 1, SHMQ_RELAXED);
}

/* A reserve given back: the slot is skipped, as a dead writer's is, but
 * nobody died and nothing is counted. */
static void mpmc_abandon(struct shmq_chan *ch)
{
	free_slot(ch, shmq__slot(ch, ch->op_pos),
	          shmq__slot_word(ch->op_pos, SHMQ_SLOT_WRITING,
	                          (uint32_t)ch->me));
}

/* A slot names its holder by peer line only: before a line is reused, its
 * next owner takes back every slot the line still holds (a dead or closed
 * owner's open reserve or peek), or they would pass for the new owner's. */
static void mpmc_reclaim(struct shmq_chan *ch, unsigned i)
{
	for (uint64_t k = 0; k < ch->capacity; k++) {
		struct shmq_chan_slot *s = shmq__slot(ch, k);
		/* acquire: pairs with the release that set the word */
		uint64_t w = shmq_load(&s->word, SHMQ_ACQUIRE);
		uint32_t st = shmq__slot_state(w);
		if (shmq__slot_peer(w) == i && (st == SHMQ_SLOT_WRITING ||
		                                st == SHMQ_SLOT_READING))
			recover(ch, s, w);
	}
}

/* Holder of a claimed slot is dead (or gone): take the slot back. Asking
 * costs system calls (a lock probe, /proc), and a slot is WRITING or
 * READING for a few hundred nanoseconds in normal life: look at most once
 * a millisecond. */
static int holder_dead(struct shmq_chan *ch, struct shmq_chan_slot *s,
                       uint64_t w)
{
	int64_t now = shmq__now_ns();
	if (now < ch->next_look_ns)
		return 0;
	ch->next_look_ns = now + HOLDER_LOOK_NS;
	if (shmq__chan_peer_alive(ch, shmq__slot_peer(w)))
		return 0;
	recover(ch, s, w);
	return 1;
}

/* Writer: claim the slot at tail. */
static int claim_write(struct shmq_chan *ch, void *arg)
{
	struct progress g = {0, 0, 0};
	(void)arg;
	for (;;) {
		uint64_t pos = shmq_load(&ch->hdr->tail, SHMQ_RELAXED);
		struct shmq_chan_slot *s = shmq__slot(ch, pos);
		/* acquire: pairs with the release that set the word, so the
		 * previous round's reader is done with the bytes */
		uint64_t w = shmq_load(&s->word, SHMQ_ACQUIRE);
		if (stuck(&g, pos, w))
			return -EBADMSG; /* a word that is no round here */
		uint64_t p = pos & SHMQ_SLOT_SEQ_MASK, seq = shmq__slot_seq(w);
		if (seq == p && shmq__slot_state(w) == SHMQ_SLOT_EMPTY) {
			/* acquire: pairs with the release that emptied the
			 * slot (mpmc_release(), recover()) */
			if (shmq_cas(&s->word, &w,
			             shmq__slot_word(p, SHMQ_SLOT_WRITING,
			                             (uint32_t)ch->me),
			             SHMQ_ACQUIRE)) {
				SHMQ_CRASH_POINT("mpmc.claim.write");
				advance(&ch->hdr->tail, pos);
				ch->op_pos = pos;
				return 0;
			}
		} else if (seq == p) {
			advance(&ch->hdr->tail, pos); /* claimed: help on */
		} else if (ahead(seq, p)) {
			if (help_on(ch, &ch->hdr->tail, pos, seq) < 0)
				return -EBADMSG;
		} else if (seq == ((p - ch->capacity) & SHMQ_SLOT_SEQ_MASK)) {
			/* Last round's message is still there: full. */
			if (shmq__slot_state(w) == SHMQ_SLOT_READING &&
			    holder_dead(ch, s, w))
				continue;
			/* acquire: pairs with the readers' release
			 * decrement (count_down()) and the settler's release
			 * of dead_readers made before it (settle()) */
			if (shmq_load(&ch->hdr->readers, SHMQ_ACQUIRE) == 0 &&
			    shmq_load(&ch->hdr->dead_readers, SHMQ_ACQUIRE))
				return SHMQ_EPEERDEAD;
			return -EAGAIN;
		}
	}
}

static int mpmc_reserve(struct shmq_chan *ch, size_t len, void **ptr,
                        const struct timespec *deadline, int try_)
{
	if (len > ch->msg_size)
		return -EMSGSIZE;
	int rc = shmq__chan_wait(ch, &ch->hdr->space_ev, claim_write, NULL,
	                         deadline, try_);
	if (rc < 0)
		return rc;
	*ptr = shmq__slot(ch, ch->op_pos) + 1;
	return 0;
}

static int mpmc_commit(struct shmq_chan *ch, size_t len)
{
	struct shmq_chan_slot *s = shmq__slot(ch, ch->op_pos);
	/* relaxed: ordered by the release of the word below */
	shmq_store(&s->len, (uint32_t)len, SHMQ_RELAXED);
	SHMQ_CRASH_POINT("mpmc.commit.payload"); /* before FULL */
	/* release: the payload and len; pairs with the reader's acquire
	 * load of the word in claim_read() */
	shmq_store(&s->word, shmq__slot_word(ch->op_pos, SHMQ_SLOT_FULL, 0),
	           SHMQ_RELEASE);
	shmq__chan_notify(ch, &ch->hdr->data_ev);
	shmq__chan_count(ch, len);
	return 0;
}

struct read_arg {
	size_t max;
	uint32_t len;
};

/* A FULL slot: check its length, then claim it. */
static int take_full(struct shmq_chan *ch, struct shmq_chan_slot *s,
                     uint64_t w, uint64_t pos, struct read_arg *a)
{
	/* relaxed: after the acquire load of the word; if the slot moved
	 * on since (the next round's writer may be storing it now), the CAS
	 * below fails and the value is dropped. One read, checked, used. */
	uint32_t len = shmq_load(&s->len, SHMQ_RELAXED);
	if (len > ch->msg_size)
		return -EBADMSG;
	if (len > a->max)
		return -EMSGSIZE; /* not taken: it stays for another reader */
	uint64_t mine = shmq__slot_word(pos, SHMQ_SLOT_READING,
	                                (uint32_t)ch->me);
	/* acquire: pairs with the writer's release of FULL in
	 * mpmc_commit(): the payload is complete */
	if (!shmq_cas(&s->word, &w, mine, SHMQ_ACQUIRE))
		return -EAGAIN;
	SHMQ_CRASH_POINT("mpmc.claim.read");
	advance(&ch->hdr->head, pos);
	ch->op_pos = pos;
	a->len = len;
	return 0;
}

/* Nothing at head: the end of the stream, or wait. */
static int empty_at(struct shmq_chan *ch, struct shmq_chan_slot *s,
                    uint64_t w)
{
	int rc = shmq__chan_eof(ch);
	if (rc == -EAGAIN)
		return rc;
	/* acquire: pairs with the writer's release of FULL; after the
	 * writers' release of their count (shmq__chan_eof()), a message they
	 * published shows in the word */
	return shmq_load(&s->word, SHMQ_ACQUIRE) == w ? rc : -EAGAIN;
}

/* Reader: claim the slot at head. */
static int claim_read(struct shmq_chan *ch, void *arg)
{
	struct progress g = {0, 0, 0};
	for (;;) {
		uint64_t pos = shmq_load(&ch->hdr->head, SHMQ_RELAXED);
		struct shmq_chan_slot *s = shmq__slot(ch, pos);
		/* acquire: pairs with the writer's release of FULL */
		uint64_t w = shmq_load(&s->word, SHMQ_ACQUIRE);
		if (stuck(&g, pos, w))
			return -EBADMSG;
		uint64_t p = pos & SHMQ_SLOT_SEQ_MASK, seq = shmq__slot_seq(w);
		if (seq == ((p - ch->capacity) & SHMQ_SLOT_SEQ_MASK)) {
			/* Last round's reader is still copying: nothing for
			 * us yet, unless it died. */
			if (shmq__slot_state(w) == SHMQ_SLOT_READING &&
			    holder_dead(ch, s, w))
				continue;
			return empty_at(ch, s, w);
		}
		if (ahead(seq, p) && help_on(ch, &ch->hdr->head, pos, seq) < 0)
			return -EBADMSG; /* consumed: helped on, or scribbled */
		if (seq != p)
			continue;
		switch (shmq__slot_state(w)) {
		case SHMQ_SLOT_FULL: {
			int rc = take_full(ch, s, w, p, arg);
			if (rc != -EAGAIN)
				return rc;
			break;
		}
		case SHMQ_SLOT_READING:
			advance(&ch->hdr->head, pos); /* claimed: help on */
			break;
		case SHMQ_SLOT_WRITING:
			if (!holder_dead(ch, s, w))
				return -EAGAIN; /* being written */
			/* Look again, not past it: taken back (EMPTY for the
			 * next round: helped on above), or the writer
			 * committed and closed meanwhile (FULL: ours). */
			break;
		default:
			return empty_at(ch, s, w);
		}
	}
}

static ssize_t mpmc_peek(struct shmq_chan *ch, const void **ptr, size_t max,
                         const struct timespec *deadline, int try_)
{
	struct read_arg a = {max, 0};
	int rc = shmq__chan_wait(ch, &ch->hdr->data_ev, claim_read, &a,
	                         deadline, try_);
	if (rc < 0)
		return rc;
	*ptr = shmq__slot(ch, ch->op_pos) + 1;
	ch->op_len = (size_t)a.len;
	return a.len;
}

static int mpmc_release(struct shmq_chan *ch)
{
	struct shmq_chan_slot *s = shmq__slot(ch, ch->op_pos);
	uint64_t next = shmq__slot_word(ch->op_pos + ch->capacity,
	                                SHMQ_SLOT_EMPTY, 0);
	/* release: we are done with the bytes; pairs with the writer's
	 * acquire load in claim_write() */
	shmq_store(&s->word, next, SHMQ_RELEASE);
	shmq__chan_notify(ch, &ch->hdr->space_ev);
	shmq__chan_count(ch, ch->op_len);
	return 0;
}

static void mpmc_depth(struct shmq_chan *ch, struct shmq_chan_info *in)
{
	/* relaxed: a report; nothing is read through them */
	uint64_t t = shmq_load(&ch->hdr->tail, SHMQ_RELAXED);
	uint64_t h = shmq_load(&ch->hdr->head, SHMQ_RELAXED);
	in->depth_msgs = t - h <= ch->capacity ? t - h : 0;
	in->depth_bytes = in->depth_msgs * ch->msg_size;
}

/* Slot i waits for the writer of position i. */
static void mpmc_init(void *ring, const struct shmq__chan_geometry *g)
{
	for (uint64_t i = 0; i < g->capacity; i++) {
		struct shmq_chan_slot *s = (void *)((char *)ring +
		                                    i * g->slot_size);
		shmq_store(&s->word, shmq__slot_word(i, SHMQ_SLOT_EMPTY, 0),
		           SHMQ_RELAXED);
	}
}

SHMQ__CHAN_COPY_CALLS(mpmc)

const struct shmq_chan_ops shmq__mpmc_ops = {
	.reserve = mpmc_reserve,
	.commit = mpmc_commit,
	.abandon = mpmc_abandon,
	.peek = mpmc_peek,
	.release = mpmc_release,
	.send = mpmc_send,
	.recv = mpmc_recv,
	.depth = mpmc_depth,
	.default_capacity = SHMQ__SLOTS_DEFAULT,
	.plan = shmq__slots_plan,
	.init = mpmc_init,
	.check = shmq__slots_check,
	.reclaim = mpmc_reclaim,
	.max_writers = SHMQ_CHAN_MAX_PEERS,
	.max_readers = SHMQ_CHAN_MAX_PEERS,
};
