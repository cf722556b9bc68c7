/*
 * Channels: create, open, close, unlink: the object's geometry and first
 * bytes, the handle, joining the peer table (chan_peer.c) and leaving it.
 */
#include "chan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SPIN_NS 50000  /* ~ one cross-CPU futex wake on this class of VM */
static uint64_t round_pow2(uint64_t x)
{
	uint64_t p = 1;
	while (p < x && p < SHMQ__CHAN_MAX_RING)
		p <<= 1;
	return p;
}

/* ---- Creation ------------------------------------------------------------ */

static int plan(const struct shmq_chan_opts *o,
                struct shmq__chan_geometry *g)
{
	memset(g, 0, sizeof(*g));
	g->kind = o->kind ? (uint32_t)o->kind : SHMQ_CHAN_SPSC;
	g->policy = (uint32_t)o->policy;
	g->flags = (uint32_t)shmq__chan_flags_map(o->flags, 1);
	g->hold = o->hold;
	g->history = o->history;
	g->mode = o->mode ? o->mode : 0600;
	g->spin_ns = o->spin_ns >= 0 ? o->spin_ns : DEFAULT_SPIN_NS;
	const struct shmq_chan_ops *k = shmq__chan_ops_of(g->kind);
	if (!k || g->policy > SHMQ_POLICY_OVERWRITE ||
	    o->msg_size > (1u << 30) || o->capacity > SHMQ__CHAN_MAX_RING ||
	    (!k->prepare && (o->hold || o->history ||
	                     (o->flags & SHMQ_CHAN_HUGE_2M))))
		return -EINVAL; /* hold, history, huge: samples only */
	g->capacity = round_pow2(o->capacity ? o->capacity
	                                     : k->default_capacity);
	return k->plan(o, g);
}

/* Runs on the new object before it has a name: everyone who can ever open
 * it sees it whole. */
static int init_object(void *addr, size_t size, void *arg)
{
	const struct shmq__chan_geometry *g = arg;
	const struct shmq_chan_ops *k = shmq__chan_ops_of(g->kind);
	struct shmq_chan_hdr *h = addr;
	memset(addr, 0, SHMQ_CHAN_RING_OFF); /* header and peers; ring is 0 */
	SHMQ_CRASH_POINT("chan.init.header");
	h->magic = SHMQ_CHAN_MAGIC;
	h->version = SHMQ_CHAN_VERSION;
	h->layout_hash = shmq__chan_layout_hash();
	h->kind = g->kind;
	h->policy = g->policy;
	h->object_size = size;
	h->capacity = g->capacity;
	h->msg_size = g->msg_size;
	h->slot_size = g->slot_size;
	h->ring_off = SHMQ_CHAN_RING_OFF;
	h->max_peers = SHMQ_CHAN_MAX_PEERS;
	h->flags = g->flags;
	h->spin_ns = g->spin_ns;
	h->data_id = g->data_id;
	h->hold = g->hold;
	h->data_size = g->data_size;
	h->data_nonce = g->data_nonce;
	h->stride = g->stride;
	h->history = g->history;
	h->data_off = g->data_off;
	shmq_event_init((shmq_event *)&h->data_ev);
	shmq_event_init((shmq_event *)&h->space_ev);
	if (k->init)
		k->init((char *)addr + SHMQ_CHAN_RING_OFF, g);
	return 0;
}

/* ---- Handles ------------------------------------------------------------- */

/* Everything of start_handle that touches the mapping. */
static int start_mapped(struct shmq_chan *ch, int role)
{
	int rc = shmq__chan_adopt(ch);
	if (rc < 0)
		return rc;
	if (ch->chan_flags & SHMQ__CHAN_HDR_PLAIN)
		ch->asym = 0; /* before our first notify (join) */
	ch->role = role;
	if (ch->ops->attach && (rc = ch->ops->attach(ch)) < 0)
		return rc;
	snprintf(ch->locator, sizeof(ch->locator), "%s",
	         shmq_seg_locator(ch->seg));
	ch->named = !strncmp(ch->locator, "posix:", 6);
	/* Where this side starts: spsc/mpmc readers follow head, writers
	 * tail. The index is ours from now on (nobody else moves it), so it
	 * is read once, here, and must be one a peer could have left (the
	 * kind's start hook says). */
	struct shmq_chan_hdr *h = ch->hdr;
	/* acquire: pairs with the release of head (publish_head(), as
	 * readers leave it) and of tail (publish(), bcast_commit()) by the
	 * side we replace */
	uint64_t head = shmq_load(&h->head, SHMQ_ACQUIRE);
	uint64_t tail = shmq_load(&h->tail, SHMQ_ACQUIRE);
	if (ch->ops->start && (rc = ch->ops->start(ch, &head, &tail)) < 0)
		return rc;
	ch->pos = role == SHMQ_WRITER ? tail : head;
	ch->other = role == SHMQ_WRITER ? head : tail;
	/* A broadcast reader's start is read as it takes its line (join). */
	if ((rc = shmq__chan_join(ch, role)) < 0)
		return rc;
	if (ch->ops->joined)
		ch->ops->joined(ch);
	return 0;
}

int shmq__chan_guard_setup(struct shmq_chan *ch)
{
	memset(&ch->guard, 0, sizeof(ch->guard));
	if (!shmq__guard_needed(shmq_seg_fd(ch->seg)))
		return 0;
	int rc = shmq__guard_install();
	if (rc == 0) {
		ch->guard.lo = (uintptr_t)ch->seg->addr;
		ch->guard.hi = ch->guard.lo + ch->seg->mapped_size;
	}
	return rc;
}

static int start_handle(struct shmq_chan *ch, int role)
{
	/* registered before our first notify, never inside one; a channel
	 * with plain fences turns it off once its header is adopted */
	ch->asym = shmq__asym_setup();
	int rc = shmq__chan_guard_setup(ch);
	if (rc < 0)
		return rc;
	shmq__chan_enter(ch);
	return (int)shmq__chan_leave(ch, start_mapped(ch, role));
}

static int check_role(int role)
{
	return role == SHMQ_WRITER || role == SHMQ_READER ? 0 : -EINVAL;
}

/* The checks every opts gets, create or open (NULL: the defaults). */
static int check_opts(const struct shmq_chan_opts *o)
{
	return shmq__all_zero(o->reserved, sizeof(o->reserved)) &&
	       !o->reserved0 ? 0 : -EINVAL;
}

static struct shmq_chan *chan_new(const struct shmq_chan_opts *o)
{
	struct shmq_chan *ch = calloc(1, sizeof(*ch));
	if (ch) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		ch->me = -1;
		ch->spin_ns = o->spin_ns >= 0 ? o->spin_ns : -1;
		ch->ncpu = n > 0 ? (uint32_t)n : 1;
	}
	return ch;
}

static int chan_fail(struct shmq_chan *ch, int rc)
{
	shmq__samples_free(ch);
	if (ch->seg)
		shmq_seg_close(ch->seg);
	free(ch);
	return rc;
}

static int create_object(struct shmq_chan *ch, const char *locator,
                         const struct shmq_chan_opts *o)
{
	struct shmq__chan_geometry g;
	struct shmq_locator loc;
	int rc = shmq_locator_parse(locator, &loc);
	if (rc < 0)
		return rc;
	if (loc.family != SHMQ_FAMILY_POSIX && loc.family != SHMQ_FAMILY_MEMFD)
		return SHMQ_EFAMILY; /* the peer locks need an fd */
	if ((rc = plan(o, &g)) < 0)
		return rc;
	const struct shmq_chan_ops *k = shmq__chan_ops_of(g.kind);
	if (k->prepare && (rc = k->prepare(&g)) < 0)
		return rc;
	struct shmq_seg_opts so = {.size = SHMQ_CHAN_RING_OFF + g.ring_bytes,
	                           .mode = o->mode};
	rc = shmq__seg_create_init(&ch->seg, locator, &so, init_object, &g);
	if (rc < 0 && k->unprepare)
		k->unprepare(&g);
	else if (g.data) /* ours to attach from (start_handle) */
		ch->data_created = g.data;
	return rc;
}

/* Makes the object and joins it; on failure nothing of ours is left. */
static int create_new(struct shmq_chan *ch, const char *locator, int role,
                      const struct shmq_chan_opts *o)
{
	int rc = create_object(ch, locator, o);
	if (rc == 0 && (rc = start_handle(ch, role)) < 0)
		shmq_seg_unlink(shmq_seg_locator(ch->seg)); /* ours: undo */
	if (rc < 0 && ch->seg) {
		shmq_seg_close(ch->seg);
		ch->seg = NULL;
	}
	return rc;
}

static int open_existing(struct shmq_chan *ch, const char *locator, int role,
                         const struct shmq_chan_opts *o)
{
	struct shmq_seg_opts so = {.flags = o->flags & SHMQ_ANY_OWNER};
	int rc = shmq_seg_open(&ch->seg, locator, &so);
	if (rc < 0)
		return rc;
	if ((rc = start_handle(ch, role)) < 0) {
		shmq_seg_close(ch->seg);
		ch->seg = NULL;
	}
	return rc;
}

/* Open, else create: linkat makes one creator win, the loser opens what
 * the winner made; a channel that is being removed is retried. */
static int open_or_create(struct shmq_chan *ch, const char *locator,
                          int role, const struct shmq_chan_opts *o)
{
	int rc = -ENOENT;
	for (int tries = 0; tries < 16 && rc == -ENOENT; tries++) {
		rc = open_existing(ch, locator, role, o);
		if (rc == -ENOENT &&
		    (rc = create_new(ch, locator, role, o)) == -EEXIST)
			rc = -ENOENT; /* lost the race: open it */
	}
	return rc;
}

/* create and open: the one rule (SHMQ_OPEN_OK, SHMQ_ANY_OWNER). */
static int attach(shmq_chan **out, const char *locator, int role,
                  const struct shmq_chan_opts *opts, int create)
{
	static const struct shmq_chan_opts none = {.spin_ns = -1};
	const struct shmq_chan_opts *o = opts ? opts : &none;
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!locator || check_role(role) < 0 || check_opts(o) < 0 ||
	    (o->flags & ~(SHMQ_OPEN_OK | SHMQ_ANY_OWNER | SHMQ_CHAN_PERSIST |
	                  SHMQ_CHAN_HUGE_2M | SHMQ_CHAN_PLAIN_FENCES)))
		return -EINVAL;
	struct shmq_chan *ch = chan_new(o);
	if (!ch)
		return -ENOMEM;
	int rc;
	if (!create)
		rc = open_existing(ch, locator, role, o);
	else if (o->flags & SHMQ_OPEN_OK)
		rc = open_or_create(ch, locator, role, o);
	else
		rc = create_new(ch, locator, role, o);
	if (rc < 0)
		return chan_fail(ch, rc);
	if (o->batch > 1 && ch->kind != SHMQ_CHAN_SPSC) {
		shmq_chan_close(ch); /* only spsc publishes per record */
		return -EINVAL;
	}
	ch->batch = o->batch;
	*out = ch;
	return 0;
}

SHMQ_API int shmq_chan_create(shmq_chan **out, const char *locator, int role,
                              const struct shmq_chan_opts *opts)
{
	return attach(out, locator, role, opts, 1);
}

SHMQ_API int shmq_chan_open(shmq_chan **out, const char *locator, int role,
                            const struct shmq_chan_opts *opts)
{
	return attach(out, locator, role, opts, 0);
}

SHMQ_API int shmq_chan_close(shmq_chan *ch)
{
	if (!ch)
		return 0;
	/* A broken handle leaves the shared state alone: the object is not
	 * what it was. Our lock byte goes with the fd. Leaving also clears
	 * this thread's guard, should a jump out of a call have left it. */
	shmq__chan_enter(ch);
	shmq__chan_fd_close(ch); /* its thread reads the mapping */
	shmq__chan_leave(ch, ch->broken ? 0 : shmq__chan_quit(ch));
	shmq__samples_free(ch);
	int rc = shmq_seg_close(ch->seg);
	free(ch);
	return rc;
}

/* A persistent samples channel's data segment goes with its name (the
 * others' went when their creator attached it). */
static int unlink_data(const char *locator)
{
	struct shmq_seg_opts ro = {.flags = SHMQ_SEG_RDONLY | SHMQ_ANY_OWNER};
	struct shmq_chan_hdr h;
	shmq_seg *seg;
	int rc = shmq_seg_open(&seg, locator, &ro);
	if (rc < 0)
		return rc;
	if (pread(shmq_seg_fd(seg), &h, sizeof(h), 0) == (ssize_t)sizeof(h))
		rc = shmq__samples_unlink_data(&h, shmq_seg_fd(seg));
	shmq_seg_close(seg);
	return rc;
}

/* Only a channel's name goes: another object given here by mistake (a
 * segment, a channel's name reused) stays. Between the check and the
 * unlink another process could swap the object: the check catches
 * mistakes, it is no lock. */
SHMQ_API int shmq_chan_unlink(const char *locator)
{
	uint32_t theirs[2], ours[2];
	int rc = shmq__chan_format(locator, theirs, ours);
	if (rc < 0)
		return rc;
	if (theirs[0] == ours[0] && theirs[1] == ours[1] &&
	    (rc = unlink_data(locator)) < 0)
		return rc;
	return shmq_seg_unlink(locator);
}
