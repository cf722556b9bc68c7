/*
 * Channels: what we trust of a channel's header and when we look again.
 * The identity line is copied out and checked once, at open (adopt), by
 * the common rules and its kind's (ops_of: the one map from a kind to its
 * ops); a wait's poll tick re-checks the size and the identity
 * (revalidate).
 */
#include "chan.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* ---- Layout identity ---------------------------------------------------- */

/* FNV-1a over every size and offset the format depends on: a build whose
 * structs differ refuses the object instead of misreading it. */
uint32_t shmq__chan_layout_hash(void)
{
	const uint64_t v[] = {
		sizeof(struct shmq_chan_hdr), sizeof(struct shmq_chan_peer),
		sizeof(struct shmq_chan_rec), sizeof(struct shmq_chan_slot),
		offsetof(struct shmq_chan_hdr, sent),
		offsetof(struct shmq_chan_hdr, attached),
		offsetof(struct shmq_chan_hdr, tail),
		offsetof(struct shmq_chan_hdr, head),
		offsetof(struct shmq_chan_peer, cursor),
		SHMQ_CHAN_PEERS_OFF, SHMQ_CHAN_RING_OFF, SHMQ_CHAN_MAX_PEERS,
		offsetof(struct shmq_chan_hdr, data_id),
		sizeof(struct shmq_samples_ctl), sizeof(struct shmq_sample_desc),
		sizeof(struct shmq_samples_rline),
		offsetof(struct shmq_samples_rline, head),
		offsetof(struct shmq_samples_rline, closes),
		offsetof(struct shmq_samples_ctl, joins),
		sizeof(struct shmq_samples_data),
	};
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (int b = 0; b < 8; b++) {
			h ^= (uint8_t)(v[i] >> (8 * b));
			h *= 16777619u;
		}
	return h;
}

const struct shmq_chan_ops *shmq__chan_ops_of(uint32_t kind)
{
	static const struct shmq_chan_ops *const ops[] = {
		[SHMQ_CHAN_SPSC] = &shmq__spsc_ops,
		[SHMQ_CHAN_MPMC] = &shmq__mpmc_ops,
		[SHMQ_CHAN_BROADCAST] = &shmq__bcast_ops,
		[SHMQ_CHAN_SAMPLES] = &shmq__samples_ops,
	};
	return kind < sizeof(ops) / sizeof(ops[0]) ? ops[kind] : NULL;
}

static int is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* ---- Validation ----------------------------------------------------------- */

/* Copies the identity line out and checks it against itself and the
 * object's real size. Nothing else in the header is ever trusted. */
int shmq__chan_adopt(struct shmq_chan *ch)
{
	struct shmq_chan_hdr h;
	size_t size = shmq_seg_size(ch->seg), unit;
	if (size < SHMQ_CHAN_RING_OFF)
		return SHMQ_ENOTCHAN;
	memcpy(&h, shmq_seg_addr(ch->seg), offsetof(struct shmq_chan_hdr, sent));
	if (h.magic != SHMQ_CHAN_MAGIC)
		return SHMQ_ENOTCHAN;
	/* A flag we do not know changes how peers must behave (the plain
	 * fences): a newer format, not a scribble. */
	if (h.version != SHMQ_CHAN_VERSION ||
	    h.layout_hash != shmq__chan_layout_hash() ||
	    (h.flags & ~SHMQ__CHAN_HDR_KNOWN))
		return SHMQ_EVERSION;
	const struct shmq_chan_ops *k = shmq__chan_ops_of(h.kind);
	uint64_t ring;
	if (shmq__fd_geometry(shmq_seg_fd(ch->seg), &size, &unit) < 0 ||
	    h.object_size != size || h.ring_off != SHMQ_CHAN_RING_OFF ||
	    h.max_peers != SHMQ_CHAN_MAX_PEERS || !is_pow2(h.capacity) ||
	    h.capacity > SHMQ__CHAN_MAX_RING || !k ||
	    h.policy > SHMQ_POLICY_OVERWRITE)
		return -EBADMSG;
	if (k->check(&h, size, &ring) < 0 || ring > size - SHMQ_CHAN_RING_OFF)
		return -EBADMSG;
	ch->kind = (int)h.kind;
	ch->ops = k;
	ch->policy = (int)h.policy;
	ch->capacity = h.capacity;
	ch->mask = h.capacity - 1;
	ch->object_size = h.object_size;
	ch->msg_size = h.msg_size;
	ch->slot_size = h.slot_size;
	ch->chan_flags = h.flags;
	if (k->attach) { /* samples: the rest is padding to the others */
		ch->hold = h.hold;
		ch->history = h.history;
		ch->data_off = h.data_off;
		ch->data_id = h.data_id;
		ch->stride = h.stride;
		ch->data_size = h.data_size;
		ch->data_nonce = h.data_nonce;
	}
	if (ch->spin_ns < 0)
		ch->spin_ns = h.spin_ns >= 0 && h.spin_ns < 1000000000 ? h.spin_ns
		                                                       : 0;
	ch->hdr = shmq_seg_addr(ch->seg);
	ch->peers = (struct shmq_chan_peer *)((char *)ch->hdr +
	                                      SHMQ_CHAN_PEERS_OFF);
	ch->ring = (unsigned char *)ch->hdr + SHMQ_CHAN_RING_OFF;
	ch->fd = shmq_seg_fd(ch->seg);
	return 0;
}

/* The object's size against the one it had at open: 0 the same,
 * SHMQ_ETRUNCATED smaller, -EBADMSG otherwise. */
static int size_check(const struct shmq_chan *ch)
{
	struct stat sb;
	if (!ch->object_size || fstat(ch->fd, &sb) < 0)
		return -EBADMSG; /* not adopted yet, or cannot tell */
	if ((uint64_t)sb.st_size < ch->object_size)
		return SHMQ_ETRUNCATED;
	return (uint64_t)sb.st_size == ch->object_size ? 0 : -EBADMSG;
}

ssize_t shmq__chan_failed(struct shmq_chan *ch, ssize_t rc, int hit)
{
	/* A shrink need not fault: the rest of the new last page stays
	 * mapped and reads zeros, which the ring code finds malformed. */
	if (rc == -EBADMSG && size_check(ch) == SHMQ_ETRUNCATED)
		rc = SHMQ_ETRUNCATED;
	if ((hit || rc == SHMQ_ETRUNCATED) && !ch->broken) {
		ch->broken = SHMQ_ETRUNCATED;
		shmq__fdw_broken(ch->fdw); /* every later call fails at once */
	}
	return hit ? SHMQ_ETRUNCATED : rc;
}

/* The size first: a shrunk object's header may be gone. */
int shmq__chan_revalidate(struct shmq_chan *ch)
{
	const struct shmq_chan_hdr *h = ch->hdr;
	int rc = size_check(ch);
	if (rc < 0)
		return rc;
	if (h->magic != SHMQ_CHAN_MAGIC || h->version != SHMQ_CHAN_VERSION ||
	    h->kind != (uint32_t)ch->kind || h->capacity != ch->capacity ||
	    h->msg_size != ch->msg_size || h->object_size != ch->object_size ||
	    (ch->ops->attach && (h->data_id != ch->data_id ||
	                         h->data_nonce != ch->data_nonce)))
		return -EBADMSG;
	return 0;
}
