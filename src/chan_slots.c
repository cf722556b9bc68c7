/* Channels: what the two slot kinds (chan_mpmc.c, chan_bcast.c) share:
 * a ring of equal slots, each a header and one message. */
#include "chan.h"

#include <errno.h>

#define DEFAULT_MSG 4096u

int shmq__slots_plan(const struct shmq_chan_opts *o,
                     struct shmq__chan_geometry *g)
{
	g->msg_size = o->msg_size ? (uint32_t)o->msg_size : DEFAULT_MSG;
	g->slot_size = (uint32_t)shmq__round_up(sizeof(struct shmq_chan_slot) +
	                                        g->msg_size, 64);
	if (g->capacity < 2 || g->capacity * g->slot_size > SHMQ__CHAN_MAX_RING)
		return -EINVAL;
	g->ring_bytes = g->capacity * g->slot_size;
	return 0;
}

int shmq__slots_check(const struct shmq_chan_hdr *h, uint64_t size,
                      uint64_t *ring)
{
	if (h->slot_size % 64 || h->slot_size < sizeof(struct shmq_chan_slot)
	    + (uint64_t)h->msg_size || h->capacity < 2 ||
	    h->capacity > (size - SHMQ_CHAN_RING_OFF) / h->slot_size)
		return -EBADMSG; /* the product would wrap */
	*ring = h->capacity * h->slot_size;
	return 0;
}
