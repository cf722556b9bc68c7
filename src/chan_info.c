/* Channels: what `shmq ls`/`stat` and shmq_chan_info report. */
#include "chan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether a dead peer's line still holds its share: ACTIVE (nobody marked
 * it DEAD yet) or HOLDS_* not all given back. */
static int unsettled(struct shmq_chan_peer *p)
{
	/* relaxed: a report; a settler changes the word as it goes */
	uint32_t w = shmq_load(&p->state, SHMQ_RELAXED);
	return SHMQ_PEER_STATE(w) == SHMQ_PEER_ACTIVE ||
	       (w & SHMQ_PEER_HOLDS) != 0;
}

/* One peer line for the report. `settle` (an attached, writable handle)
 * also settles a dead peer; a read-only look only reports it. */
static int peer_report(struct shmq_chan *ch, unsigned i, int settle,
                       struct shmq_chan_peer_info *out)
{
	struct shmq_chan_peer *p = &ch->peers[i];
	/* acquire: pairs with the owner's release of ACTIVE in take_slot() */
	uint32_t state = SHMQ_PEER_STATE(shmq_load(&p->state, SHMQ_ACQUIRE));
	if (state != SHMQ_PEER_DEAD && state != SHMQ_PEER_ACTIVE)
		return 0;
	/* A report: a line taken again meanwhile is misreported once. */
	struct shmq__peer_id id = shmq__chan_peer_id(p);
	out->role = (int)id.role;
	out->pid = (pid_t)id.pid;
	if (state == SHMQ_PEER_DEAD) { /* found dead, line not reused yet */
		out->msgs = 0; /* folded into the totals when settled */
		out->alive = SHMQ_PID_DEAD;
		out->unsettled = unsettled(p);
		return 1;
	}
	out->msgs = shmq_load(&p->msgs, SHMQ_RELAXED);
	out->bytes = shmq_load(&p->bytes, SHMQ_RELAXED);
	if (settle)
		out->alive = shmq__chan_peer_alive(ch, i) ? SHMQ_PID_ALIVE
		                                          : SHMQ_PID_DEAD;
	else if ((int)i == ch->me)
		out->alive = SHMQ_PID_ALIVE;
	else
		out->alive = shmq__chan_peer_dead(ch->fd, i, &id)
		                     ? SHMQ_PID_DEAD : SHMQ_PID_ALIVE;
	out->unsettled = out->alive == SHMQ_PID_DEAD && unsettled(p);
	return 1;
}

static void fill(struct shmq_chan *ch, int settle, struct shmq_chan_info *in)
{
	struct shmq_chan_hdr *h = ch->hdr;
	memset(in, 0, sizeof(*in));
	in->kind = ch->kind;
	in->policy = ch->policy;
	in->capacity = ch->capacity;
	in->msg_size = ch->msg_size;
	in->flags = shmq__chan_flags_map(ch->chan_flags, 0);
	in->sent = shmq_load(&h->sent, SHMQ_RELAXED);
	in->received = shmq_load(&h->received, SHMQ_RELAXED);
	in->lost = shmq_load(&h->lost, SHMQ_RELAXED);
	in->recovered = shmq_load(&h->recovered, SHMQ_RELAXED);
	for (unsigned i = 0; i < SHMQ_CHAN_MAX_PEERS; i++) {
		struct shmq_chan_peer_info *pi = &in->peers[in->npeers];
		if (!peer_report(ch, i, settle, pi))
			continue;
		in->npeers++;
		/* relaxed: a report */
		pi->lost = shmq_load(&ch->peers[i].lost, SHMQ_RELAXED);
		if (ch->ops->peer_depth)
			ch->ops->peer_depth(ch, i, pi);
		if (pi->role == SHMQ_WRITER) {
			in->sent += pi->msgs;
			in->writers += pi->alive == SHMQ_PID_ALIVE;
		} else {
			in->received += pi->msgs;
			in->lost += pi->lost;
			in->readers += pi->alive == SHMQ_PID_ALIVE;
		}
	}
	in->writers_ever = shmq_load(&h->writers_ever, SHMQ_RELAXED);
	in->readers_ever = shmq_load(&h->readers_ever, SHMQ_RELAXED);
	in->dead_writers = shmq_load(&h->dead_writers, SHMQ_RELAXED);
	in->dead_readers = shmq_load(&h->dead_readers, SHMQ_RELAXED);
	in->last_dead_pid = (pid_t)shmq_load(&h->last_dead_pid, SHMQ_RELAXED);
	ch->ops->depth(ch, in);
}

/* Not const: an attached handle settles the dead peers it finds. */
SHMQ_API int shmq_chan_info(shmq_chan *ch, struct shmq_chan_info *info)
{
	if (!ch || !info)
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	shmq__chan_enter(ch);
	fill(ch, 1, info);
	return (int)shmq__chan_leave(ch, 0);
}

/* A read-only look: the identity, then the report. */
static int look(struct shmq_chan *ch, struct shmq_chan_info *info)
{
	int rc = shmq__chan_adopt(ch);
	if (rc < 0)
		return rc;
	fill(ch, 0, info);
	return 0;
}

int shmq__chan_format(const char *locator, uint32_t theirs[2],
                      uint32_t ours[2])
{
	/* Reading the header of another user's object is harmless: copied
	 * with pread, never trusted. */
	struct shmq_seg_opts ro = {.flags = SHMQ_SEG_RDONLY |
	                                    SHMQ_ANY_OWNER};
	struct shmq_chan_hdr h;
	shmq_seg *seg;
	int rc = shmq_seg_open(&seg, locator, &ro);
	if (rc < 0) /* an empty object (SHMQ_ESMALL) is no channel either */
		return rc == SHMQ_ESMALL ? SHMQ_ENOTCHAN : rc;
	if (shmq_seg_size(seg) < sizeof(h))
		rc = SHMQ_ENOTCHAN;
	else if (pread(shmq_seg_fd(seg), &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		rc = SHMQ_ENOTCHAN; /* shrunk since: read, never fault */
	shmq_seg_close(seg);
	if (rc == 0 && h.magic != SHMQ_CHAN_MAGIC)
		rc = SHMQ_ENOTCHAN;
	theirs[0] = rc == 0 ? h.version : 0;
	theirs[1] = rc == 0 ? h.layout_hash : 0;
	ours[0] = SHMQ_CHAN_VERSION;
	ours[1] = shmq__chan_layout_hash();
	return rc;
}

SHMQ_API int shmq_chan_stat(const char *locator, struct shmq_chan_info *info)
{
	/* A look that trusts nothing it reads: anyone's channel will do. */
	struct shmq_seg_opts ro = {.flags = SHMQ_SEG_RDONLY |
	                                    SHMQ_ANY_OWNER};
	struct shmq_chan ch;
	if (!locator || !info)
		return -EINVAL;
	memset(&ch, 0, sizeof(ch));
	ch.me = -1;
	ch.spin_ns = -1;
	int rc = shmq_seg_open(&ch.seg, locator, &ro);
	if (rc < 0)
		return rc;
	if ((rc = shmq__chan_guard_setup(&ch)) == 0) {
		shmq__chan_enter(&ch);
		rc = (int)shmq__chan_leave(&ch, look(&ch, info));
	}
	shmq_seg_close(ch.seg);
	return rc;
}

/* For shmq_list/shmq_stat: is the object at path a channel, and is it
 * stale (every participant dead)? Reads with pread: no mapping, no write.
 * Returns 1 for a channel, 0 for anything else. */
int shmq__chan_probe(int dirfd, const char *name, int *stale)
{
	struct shmq_chan_hdr h;
	struct shmq_chan_peer p;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int is_chan = pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	              h.magic == SHMQ_CHAN_MAGIC;
	/* Another format's peer lines cannot be read: never stale (a peer
	 * table we misread would get a live channel removed). */
	unsigned alive = 0, unknown = is_chan &&
	                              h.version != SHMQ_CHAN_VERSION;
	for (unsigned i = 0; is_chan && !unknown && i < SHMQ_CHAN_MAX_PEERS;
	     i++) {
		if (pread(fd, &p, sizeof(p), (off_t)(SHMQ_CHAN_PEERS_OFF + i * sizeof(p)))
		    != (ssize_t)sizeof(p)) {
			unknown++;
			break;
		}
		/* relaxed: p is our copy (pread), no other thread's */
		struct shmq__peer_id id = shmq__chan_peer_id(&p);
		if (SHMQ_PEER_STATE(shmq_load(&p.state, SHMQ_RELAXED)) ==
		    SHMQ_PEER_ACTIVE)
			alive += !shmq__chan_peer_dead(fd, i, &id);
	}
	close(fd);
	/* Stale: nobody left alive, and either it was not meant to persist,
	 * or someone died attached to it. */
	*stale = is_chan && !alive && !unknown &&
	         (!(h.flags & SHMQ__CHAN_HDR_PERSIST) ||
	          (shmq_load(&h.attached, SHMQ_RELAXED) & ~SHMQ_CHAN_CLOSING));
	return is_chan;
}
