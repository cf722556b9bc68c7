/*
 * Channels: create/open/close, the peer table and its liveness, and the one
 * waiting path every kind uses (chan_spsc.c, chan_mpmc.c, chan_bcast.c do
 * the rings).
 *
 * Liveness is a kernel-held token, as LMDB does it: peer i holds an OFD
 * write lock on byte i of the object. The kernel drops it when the process
 * dies, so a free byte proves death whatever became of the pid. A fork child
 * inherits the open file description (and with it the lock), so a held byte
 * is alive only if the recorded pid still runs with its recorded start time.
 */
#include "chan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sched.h>
#include <unistd.h>

#define POLL_MS 50             /* liveness and header re-check while asleep */
#define DEFAULT_SPIN_NS 50000  /* ~ one cross-CPU futex wake on this class of VM */
#define DEFAULT_SPSC_BYTES (1u << 20)
#define DEFAULT_SLOTS 1024u
#define DEFAULT_MSG 4096u
#define MAX_RING (UINT64_C(1) << 40)

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
	};
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (int b = 0; b < 8; b++) {
			h ^= (uint8_t)(v[i] >> (8 * b));
			h *= 16777619u;
		}
	return h;
}

static int is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static uint64_t round_pow2(uint64_t x)
{
	uint64_t p = 1;
	while (p < x && p < MAX_RING)
		p <<= 1;
	return p;
}

/* ---- Creation ------------------------------------------------------------ */

struct geometry {
	uint32_t kind, policy, msg_size, slot_size, flags;
	uint64_t capacity, ring_bytes;
	int64_t spin_ns;
};

static int plan(const struct shmq_chan_opts *o, struct geometry *g)
{
	memset(g, 0, sizeof(*g));
	g->kind = o->kind ? (uint32_t)o->kind : SHMQ_CHAN_SPSC;
	g->policy = (uint32_t)o->policy;
	g->flags = o->flags & SHMQ_CHAN_PERSIST;
	g->spin_ns = o->spin_ns >= 0 ? o->spin_ns : DEFAULT_SPIN_NS;
	if (g->kind < SHMQ_CHAN_SPSC || g->kind > SHMQ_CHAN_BROADCAST ||
	    g->policy > SHMQ_POLICY_OVERWRITE || o->msg_size > (1u << 30) ||
	    o->capacity > MAX_RING)
		return -EINVAL;
	if (g->kind == SHMQ_CHAN_SPSC) {
		g->capacity = round_pow2(o->capacity ? o->capacity
		                                     : DEFAULT_SPSC_BYTES);
		if (g->capacity < 64)
			g->capacity = 64;
		g->ring_bytes = g->capacity;
		/* a record header, and the terminator after the record */
		g->msg_size = (uint32_t)(g->capacity - 2 * sizeof(struct shmq_chan_rec));
		return 0;
	}
	g->capacity = round_pow2(o->capacity ? o->capacity : DEFAULT_SLOTS);
	g->msg_size = o->msg_size ? (uint32_t)o->msg_size : DEFAULT_MSG;
	g->slot_size = (uint32_t)shmq__round_up(sizeof(struct shmq_chan_slot) +
	                                        g->msg_size, 64);
	if (g->capacity < 2 || g->capacity * g->slot_size > MAX_RING)
		return -EINVAL;
	g->ring_bytes = g->capacity * g->slot_size;
	return 0;
}

/* Runs on the new object before it has a name: everyone who can ever open
 * it sees it whole. */
static int init_object(void *addr, size_t size, void *arg)
{
	const struct geometry *g = arg;
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
	shmq_event_init((shmq_event *)&h->data_ev);
	shmq_event_init((shmq_event *)&h->space_ev);
	if (g->kind == SHMQ_CHAN_MPMC) /* slot i waits for the writer of i */
		for (uint64_t i = 0; i < g->capacity; i++) {
			struct shmq_chan_slot *s = (void *)((char *)addr +
			        SHMQ_CHAN_RING_OFF + i * g->slot_size);
			shmq_store(&s->word, i << 8, SHMQ_RELAXED);
		}
	return 0;
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
	if (h.version != SHMQ_CHAN_VERSION ||
	    h.layout_hash != shmq__chan_layout_hash())
		return SHMQ_EVERSION;
	if (shmq__fd_geometry(shmq_seg_fd(ch->seg), &size, &unit) < 0 ||
	    h.object_size != size || h.ring_off != SHMQ_CHAN_RING_OFF ||
	    h.max_peers != SHMQ_CHAN_MAX_PEERS || !is_pow2(h.capacity) ||
	    h.capacity > MAX_RING || h.kind < SHMQ_CHAN_SPSC ||
	    h.kind > SHMQ_CHAN_BROADCAST || h.policy > SHMQ_POLICY_OVERWRITE)
		return -EBADMSG;
	uint64_t ring = h.capacity;
	if (h.kind == SHMQ_CHAN_SPSC) {
		if (h.capacity < 64 || h.msg_size != h.capacity - 16)
			return -EBADMSG;
	} else {
		if (h.slot_size % 64 || h.slot_size < sizeof(struct shmq_chan_slot)
		    + (uint64_t)h.msg_size || h.capacity < 2 ||
		    h.capacity > (size - SHMQ_CHAN_RING_OFF) / h.slot_size)
			return -EBADMSG; /* the product would wrap */
		ring = h.capacity * h.slot_size;
	}
	if (ring > size - SHMQ_CHAN_RING_OFF)
		return -EBADMSG;
	ch->kind = (int)h.kind;
	ch->policy = (int)h.policy;
	ch->capacity = h.capacity;
	ch->mask = h.capacity - 1;
	ch->object_size = h.object_size;
	ch->msg_size = h.msg_size;
	ch->slot_size = h.slot_size;
	ch->chan_flags = h.flags;
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
	if (hit || rc == SHMQ_ETRUNCATED)
		rc = ch->broken = SHMQ_ETRUNCATED;
	return rc;
}

/* The object still has its size, and the shared identity matches our
 * copy. The size first: a shrunk object's header may be gone. */
static int revalidate(struct shmq_chan *ch)
{
	const struct shmq_chan_hdr *h = ch->hdr;
	int rc = size_check(ch);
	if (rc < 0)
		return rc;
	if (h->magic != SHMQ_CHAN_MAGIC || h->version != SHMQ_CHAN_VERSION ||
	    h->kind != (uint32_t)ch->kind || h->capacity != ch->capacity ||
	    h->msg_size != ch->msg_size || h->object_size != ch->object_size)
		return -EBADMSG;
	return 0;
}

/* ---- Peers ----------------------------------------------------------------- */

static int lock_byte(int fd, unsigned i, short type, int cmd)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET,
	                   .l_start = (off_t)i, .l_len = 1};
	if (fcntl(fd, cmd, &fl) < 0)
		return -errno;
	return cmd == F_OFD_GETLK ? fl.l_type != F_UNLCK : 0;
}

static void fold_counts(struct shmq_chan *ch, struct shmq_chan_peer *p,
                        uint32_t role)
{
	struct shmq_chan_hdr *h = ch->hdr;
	uint64_t n = shmq_load(&p->msgs, SHMQ_RELAXED);
	shmq_add(role == SHMQ_WRITER ? &h->sent : &h->received, n,
	         SHMQ_RELAXED);
	shmq_add(&h->lost, shmq_load(&p->lost, SHMQ_RELAXED), SHMQ_RELAXED);
	shmq_store(&p->msgs, 0, SHMQ_RELAXED);
	shmq_store(&p->lost, 0, SHMQ_RELAXED);
}

/* Takes one off a count (release: pairs with the acquire of whoever reads
 * it). Never below zero, and never into the CLOSING bit: a count someone
 * scribbled on must not wrap and lock everybody out. */
static void count_down(shmq_atomic32 *n)
{
	uint32_t v = shmq_load(n, SHMQ_RELAXED);
	do {
		if ((v & ~SHMQ_CHAN_CLOSING) == 0)
			return;
	} while (!shmq_cas(n, &v, v - 1, SHMQ_RELEASE));
}

/* Clears HOLDS_ bit of line p if it is set and the line is in state st:
 * 1 if this call cleared it. By CAS, so exactly one of the owner and the
 * settlers gets it, and never on a line reused meanwhile. */
static int drop_hold(struct shmq_chan_peer *p, uint32_t st, uint32_t bit)
{
	uint32_t v = shmq_load(&p->state, SHMQ_RELAXED);
	do {
		if (SHMQ_PEER_STATE(v) != st || !(v & bit))
			return 0;
	} while (!shmq_cas(&p->state, &v, v & ~bit, SHMQ_ACQ_REL));
	return 1;
}

/* Gives back count n that line p holds (bit): the bit first, so a death
 * between the two leaks the count rather than take someone else's. */
static void give_back(struct shmq_chan_peer *p, uint32_t st, uint32_t bit,
                      shmq_atomic32 *n)
{
	if (drop_hold(p, st, bit))
		count_down(n);
}

static shmq_atomic32 *role_count(struct shmq_chan *ch, uint32_t role)
{
	return role == SHMQ_WRITER ? &ch->hdr->writers : &ch->hdr->readers;
}

/* Gives back what a DEAD line still holds: a settler may have died half
 * way, and the next one finishes. */
static void settle_rest(struct shmq_chan *ch, struct shmq_chan_peer *p)
{
	give_back(p, SHMQ_PEER_DEAD, SHMQ_PEER_HOLDS_ROLE,
	          role_count(ch, p->role));
	SHMQ_CRASH_POINT("chan.settle.role");
	give_back(p, SHMQ_PEER_DEAD, SHMQ_PEER_HOLDS_ATTACH,
	          &ch->hdr->attached);
	/* Whoever waits on the dead one should look again. */
	shmq__event_notify(&ch->hdr->data_ev);
	shmq__event_notify(&ch->hdr->space_ev);
}

/* Settles a dead peer once: marks it DEAD and counts the death, then gives
 * back the counts its line holds. `seen` is the ACTIVE state word the
 * caller judged by: a line settled or taken again since then has another
 * word, and is left alone. */
static void settle(struct shmq_chan *ch, unsigned i, uint32_t seen,
                   uint32_t role, uint32_t pid)
{
	struct shmq_chan_hdr *h = ch->hdr;
	struct shmq_chan_peer *p = &ch->peers[i];
	uint32_t dead = (seen & ~SHMQ_PEER_STATE_MASK) | SHMQ_PEER_DEAD;
	if (SHMQ_PEER_STATE(seen) != SHMQ_PEER_ACTIVE ||
	    !shmq_cas(&p->state, &seen, dead, SHMQ_ACQ_REL))
		return; /* someone else settled it, or it has a new owner */
	/* release: before the role count goes down, so a reader that sees
	 * no writer left (acquire) sees the death, not a clean close */
	shmq_add(role == SHMQ_WRITER ? &h->dead_writers : &h->dead_readers, 1,
	         SHMQ_RELEASE);
	shmq_store(&h->last_dead_pid, pid, SHMQ_RELAXED);
	fold_counts(ch, p, role);
	SHMQ_CRASH_POINT("chan.settle.marked");
	settle_rest(ch, p);
}

/* Whether peer line p (a copy) is dead: its lock byte is free, or held by
 * a process that is not the one that took it (a fork child inherited the
 * lock). 0 when it is alive or we cannot tell. */
int shmq__chan_peer_dead(int fd, unsigned i, const struct shmq_chan_peer *p)
{
	uint64_t now;
	int held = lock_byte(fd, i, F_RDLCK, F_OFD_GETLK);
	if (held < 0)
		return 0; /* cannot tell: never declare a live peer dead */
	if (!held)
		return 1;
	int rc = shmq__pid_start((pid_t)p->pid, &now);
	if (rc == 0)
		return now != p->start;
	return rc == -ESRCH ||
	       shmq__pid_alive_since((pid_t)p->pid, 0) == SHMQ_PID_DEAD;
}

int shmq__chan_peer_alive(struct shmq_chan *ch, unsigned i)
{
	struct shmq_chan_peer *p = &ch->peers[i], copy;
	if ((int)i == ch->me)
		return 1;
	/* acquire: pairs with the owner's release of ACTIVE: role, pid and
	 * start are its */
	uint32_t seen = shmq_load(&p->state, SHMQ_ACQUIRE);
	if (SHMQ_PEER_STATE(seen) != SHMQ_PEER_ACTIVE)
		return 0;
	copy.role = p->role;
	copy.pid = p->pid;
	copy.start = p->start;
	if (!shmq__chan_peer_dead(ch->fd, i, &copy))
		return 1;
	settle(ch, i, seen, copy.role, copy.pid);
	return 0;
}

/* Checks every active peer of `role`, and finishes the settling of dead
 * ones; returns how many are alive. */
static unsigned scan_peers(struct shmq_chan *ch, uint32_t role)
{
	unsigned alive = 0;
	for (unsigned i = 0; i < SHMQ_CHAN_MAX_PEERS; i++) {
		struct shmq_chan_peer *p = &ch->peers[i];
		uint32_t v = shmq_load(&p->state, SHMQ_RELAXED);
		if (role && p->role != role)
			continue;
		if (SHMQ_PEER_STATE(v) == SHMQ_PEER_ACTIVE)
			alive += shmq__chan_peer_alive(ch, i) != 0;
		else if (SHMQ_PEER_STATE(v) == SHMQ_PEER_DEAD &&
		         (v & SHMQ_PEER_HOLDS))
			settle_rest(ch, p);
	}
	return alive;
}

/* Our line now holds a count: whoever settles it after our death gives
 * it back. */
static void hold(struct shmq_chan *ch, uint32_t bit)
{
	/* relaxed: only the count's owner and its settlers read the bit, by
	 * CAS on this same word */
	shmq_or(&ch->peers[ch->me].state, bit, SHMQ_RELAXED);
}

/* Takes a role count, bounded for single-writer/reader kinds. */
static int count_role(struct shmq_chan *ch, int role)
{
	shmq_atomic32 *n = role == SHMQ_WRITER ? &ch->hdr->writers
	                                       : &ch->hdr->readers;
	uint32_t max = SHMQ_CHAN_MAX_PEERS;
	if (ch->kind == SHMQ_CHAN_SPSC ||
	    (ch->kind == SHMQ_CHAN_BROADCAST && role == SHMQ_WRITER))
		max = 1;
	uint32_t v = shmq_load(n, SHMQ_RELAXED);
	do {
		if (v >= max)
			return -EBUSY;
	} while (!shmq_cas(n, &v, v + 1, SHMQ_ACQ_REL));
	hold(ch, SHMQ_PEER_HOLDS_ROLE);
	shmq_add(role == SHMQ_WRITER ? &ch->hdr->writers_ever
	                             : &ch->hdr->readers_ever, 1, SHMQ_RELEASE);
	return 0;
}

static void uncount_role(struct shmq_chan *ch, int role)
{
	/* release (count_down): a reader that sees the count drop (acquire)
	 * sees every message this writer published */
	give_back(&ch->peers[ch->me], SHMQ_PEER_ACTIVE, SHMQ_PEER_HOLDS_ROLE,
	          role_count(ch, (uint32_t)role));
}

/* Removes the channel's name if it still names our object (and not one a
 * newer creator linked there since). */
static void unlink_if_ours(struct shmq_chan *ch)
{
	struct shmq_locator loc;
	struct stat ours, named;
	char path[sizeof("/dev/shm/") + SHMQ_NAME_MAX];
	if (shmq_locator_parse(ch->locator, &loc) < 0 || fstat(ch->fd, &ours) < 0)
		return;
	snprintf(path, sizeof(path), "/dev/shm/%s", loc.name);
	if (lstat(path, &named) == 0 && named.st_ino == ours.st_ino &&
	    named.st_dev == ours.st_dev)
		shmq_seg_unlink(ch->locator);
}

/* One more attached peer, unless the last one is removing the name. */
static int attach_count(struct shmq_chan *ch)
{
	uint32_t v = shmq_load(&ch->hdr->attached, SHMQ_RELAXED);
	do {
		/* Going away: help remove the name (the closer may have died
		 * between CLOSING and its unlink) and open again. A memfd has
		 * no name, so the bit means nothing there. */
		if ((v & SHMQ_CHAN_CLOSING) && ch->named) {
			unlink_if_ours(ch);
			return -ENOENT;
		}
	} while (!shmq_cas(&ch->hdr->attached, &v, v + 1, SHMQ_ACQ_REL));
	hold(ch, SHMQ_PEER_HOLDS_ATTACH);
	return 0;
}

/* Claims a free peer line: its lock byte first (exclusive among live
 * processes), then the line. A line still ACTIVE under a free byte belonged
 * to a process that died: settle it, then reuse it. */
static int take_slot(struct shmq_chan *ch, int role)
{
	uint64_t start = 0;
	shmq__pid_start(getpid(), &start);
	for (unsigned i = 0; i < SHMQ_CHAN_MAX_PEERS; i++) {
		struct shmq_chan_peer *p = &ch->peers[i];
		if (SHMQ_PEER_STATE(shmq_load(&p->state, SHMQ_ACQUIRE)) ==
		            SHMQ_PEER_ACTIVE &&
		    shmq__chan_peer_alive(ch, i))
			continue;
		if (lock_byte(ch->fd, i, F_WRLCK, F_OFD_SETLK) < 0)
			continue; /* held: alive, or inherited by a fork child */
		SHMQ_CRASH_POINT("chan.join.locked");
		/* The byte is ours: nobody else takes the line now. */
		uint32_t s = shmq_load(&p->state, SHMQ_ACQUIRE);
		settle(ch, i, s, p->role, p->pid);
		if (SHMQ_PEER_STATE(shmq_load(&p->state, SHMQ_RELAXED)) ==
		    SHMQ_PEER_DEAD)
			settle_rest(ch, p);
		s = shmq_load(&p->state, SHMQ_ACQUIRE);
		if (ch->kind == SHMQ_CHAN_MPMC)
			shmq__mpmc_sweep(ch, i);
		p->role = (uint32_t)role;
		p->pid = (uint32_t)getpid();
		p->start = start;
		shmq_store(&p->msgs, 0, SHMQ_RELAXED);
		shmq_store(&p->lost, 0, SHMQ_RELAXED);
		/* broadcast: where we start, not the last owner's cursor; a
		 * reader starts at the tail of now, just before its line
		 * shows it, so the writer can lap it only in this window */
		if (ch->kind == SHMQ_CHAN_BROADCAST && role == SHMQ_READER)
			ch->pos = ch->other = shmq_load(&ch->hdr->tail,
			                                SHMQ_ACQUIRE);
		shmq_store(&p->cursor, ch->pos, SHMQ_RELAXED);
		/* release: role, pid, start, cursor before ACTIVE */
		shmq_store(&p->state, ((s & ~0xffu) + SHMQ_PEER_GEN) |
		                      SHMQ_PEER_ACTIVE, SHMQ_RELEASE);
		ch->me = (int)i;
		SHMQ_CRASH_POINT("chan.join.slot");
		return 0;
	}
	return SHMQ_EPEERS;
}

/* Lets go of our line: nothing of it is held any more. */
static void free_slot(struct shmq_chan *ch)
{
	struct shmq_chan_peer *p = &ch->peers[ch->me];
	uint32_t s = shmq_load(&p->state, SHMQ_RELAXED);
	/* release: our last writes to the line before it can be reused */
	shmq_store(&p->state, (s & ~0xffu) | SHMQ_PEER_FREE, SHMQ_RELEASE);
	lock_byte(ch->fd, (unsigned)ch->me, F_UNLCK, F_OFD_SETLK);
}

/* The line first, then each count with its HOLDS_ bit: a peer that dies at
 * any step leaves a line that says what to give back. */
static int join(struct shmq_chan *ch, int role)
{
	int rc;
	scan_peers(ch, 0); /* settle the dead first: their counts free up */
	SHMQ_CRASH_POINT("chan.join.start"); /* before the OFD lock */
	if ((rc = take_slot(ch, role)) < 0)
		return rc;
	if ((rc = attach_count(ch)) < 0)
		goto unslot;
	SHMQ_CRASH_POINT("chan.join.attached");
	if ((rc = count_role(ch, role)) < 0)
		goto uncount;
	SHMQ_CRASH_POINT("chan.join.counted");
	return 0;
uncount:
	give_back(&ch->peers[ch->me], SHMQ_PEER_ACTIVE,
	          SHMQ_PEER_HOLDS_ATTACH, &ch->hdr->attached);
unslot:
	free_slot(ch);
	ch->me = -1;
	return rc;
}

/* ---- Handles ------------------------------------------------------------- */

/* Everything of start_handle that touches the mapping. */
static int start_mapped(struct shmq_chan *ch, int role)
{
	static const struct shmq_chan_ops *const ops[] = {
		NULL, &shmq__spsc_ops, &shmq__mpmc_ops, &shmq__bcast_ops};
	int rc = shmq__chan_adopt(ch);
	if (rc < 0)
		return rc;
	ch->ops = ops[ch->kind];
	ch->role = role;
	snprintf(ch->locator, sizeof(ch->locator), "%s",
	         shmq_seg_locator(ch->seg));
	ch->named = !strncmp(ch->locator, "posix:", 6);
	/* Where this side starts: spsc/mpmc readers follow head, writers
	 * tail. The index is ours from now on (nobody else moves it), so it
	 * is read once, here, and must be one a peer could have left: 8-byte
	 * records, at most a ring apart. */
	struct shmq_chan_hdr *h = ch->hdr;
	uint64_t head = shmq_load(&h->head, SHMQ_ACQUIRE);
	uint64_t tail = shmq_load(&h->tail, SHMQ_ACQUIRE);
	if (ch->kind == SHMQ_CHAN_SPSC && (head | tail) % 8)
		return -EBADMSG;
	if (ch->kind == SHMQ_CHAN_SPSC)
		tail = shmq__spsc_resume(ch, tail);
	if (ch->kind == SHMQ_CHAN_SPSC && tail - head > ch->capacity)
		return -EBADMSG;
	ch->pos = role == SHMQ_WRITER ? tail : head;
	ch->other = role == SHMQ_WRITER ? head : tail;
	/* A broadcast reader's start is read in take_slot(). */
	if ((rc = join(ch, role)) < 0)
		return rc;
	if (ch->kind == SHMQ_CHAN_BROADCAST)
		shmq__bcast_join(ch);
	return 0;
}

static int start_handle(struct shmq_chan *ch, int role)
{
	shmq__asym_setup(); /* before our first notify, never inside one */
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

static struct shmq_chan *chan_new(const struct shmq_chan_opts *o)
{
	struct shmq_chan *ch = calloc(1, sizeof(*ch));
	if (ch) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		ch->me = -1;
		ch->spin_ns = o && o->spin_ns >= 0 ? o->spin_ns : -1;
		ch->ncpu = n > 0 ? (uint32_t)n : 1;
	}
	return ch;
}

static int chan_fail(struct shmq_chan *ch, int rc)
{
	if (ch->seg)
		shmq_seg_close(ch->seg);
	free(ch);
	return rc;
}

static int create_object(struct shmq_chan *ch, const char *locator,
                         const struct shmq_chan_opts *o)
{
	struct geometry g;
	struct shmq_locator loc;
	int rc = shmq_locator_parse(locator, &loc);
	if (rc < 0)
		return rc;
	if (loc.family != SHMQ_FAMILY_POSIX && loc.family != SHMQ_FAMILY_MEMFD)
		return SHMQ_EFAMILY; /* the peer locks need an fd */
	if ((rc = plan(o, &g)) < 0)
		return rc;
	struct shmq_seg_opts so = {.size = SHMQ_CHAN_RING_OFF + g.ring_bytes,
	                           .mode = o->mode};
	return shmq__seg_create_init(&ch->seg, locator, &so, init_object, &g);
}

SHMQ_API int shmq_chan_create(shmq_chan **out, const char *locator, int role,
                              const struct shmq_chan_opts *opts)
{
	static const struct shmq_chan_opts none = {.spin_ns = -1};
	const struct shmq_chan_opts *o = opts ? opts : &none;
	if (!out || !locator || check_role(role) < 0)
		return -EINVAL;
	*out = NULL;
	struct shmq_chan *ch = chan_new(o);
	if (!ch)
		return -ENOMEM;
	int rc = create_object(ch, locator, o);
	if (rc == 0 && (rc = start_handle(ch, role)) < 0)
		shmq_seg_unlink(shmq_seg_locator(ch->seg)); /* ours: undo */
	if (rc < 0)
		return chan_fail(ch, rc);
	*out = ch;
	return 0;
}

static int open_existing(struct shmq_chan *ch, const char *locator, int role,
                         const struct shmq_chan_opts *o)
{
	struct shmq_seg_opts so = {0};
	if (o && (o->flags & SHMQ_CHAN_ANY_OWNER))
		so.flags = SHMQ_SEG_ANY_OWNER;
	int rc = shmq_seg_open(&ch->seg, locator, &so);
	if (rc < 0)
		return rc;
	if ((rc = start_handle(ch, role)) < 0) {
		shmq_seg_close(ch->seg);
		ch->seg = NULL;
	}
	return rc;
}

SHMQ_API int shmq_chan_open(shmq_chan **out, const char *locator, int role,
                            const struct shmq_chan_opts *opts)
{
	int rc = -ENOENT;
	if (!out || !locator || check_role(role) < 0)
		return -EINVAL;
	*out = NULL;
	struct shmq_chan *ch = chan_new(opts);
	if (!ch)
		return -ENOMEM;
	/* Open, else create: linkat makes one creator win, the loser opens
	 * what the winner made; a channel that is being removed is retried. */
	for (int tries = 0; tries < 16 && rc == -ENOENT; tries++) {
		rc = open_existing(ch, locator, role, opts);
		if (rc == -ENOENT && opts && (opts->flags & SHMQ_CHAN_CREATE)) {
			rc = create_object(ch, locator, opts);
			if (rc == 0 && (rc = start_handle(ch, role)) < 0)
				shmq_seg_unlink(locator);
			if (rc == -EEXIST)
				rc = -ENOENT; /* lost the race: open it */
			else if (rc < 0 && ch->seg) {
				shmq_seg_close(ch->seg);
				ch->seg = NULL;
			}
		}
	}
	if (rc < 0)
		return chan_fail(ch, rc);
	*out = ch;
	return 0;
}

/* The last one out removes the name, unless the channel persists. CLOSING
 * stops new peers from joining the object whose name is going away. */
static void detach(struct shmq_chan *ch)
{
	struct shmq_chan_hdr *h = ch->hdr;
	if (!drop_hold(&ch->peers[ch->me], SHMQ_PEER_ACTIVE,
	               SHMQ_PEER_HOLDS_ATTACH))
		return; /* the bit first, as give_back() does */
	uint32_t v = shmq_load(&h->attached, SHMQ_RELAXED);
	for (;;) {
		if ((v & ~SHMQ_CHAN_CLOSING) == 0)
			return; /* scribbled to 0: nothing of ours to take off */
		int last = (v & ~SHMQ_CHAN_CLOSING) == 1 && ch->named &&
		           !(ch->chan_flags & SHMQ_CHAN_PERSIST);
		uint32_t next = last ? SHMQ_CHAN_CLOSING : v - 1;
		if (shmq_cas(&h->attached, &v, next, SHMQ_ACQ_REL)) {
			if (last) {
				SHMQ_CRASH_POINT("chan.close.last");
				unlink_if_ours(ch);
			}
			return;
		}
	}
}

/* Everything of close that touches the mapping. */
static int close_shared(struct shmq_chan *ch)
{
	struct shmq_chan_peer *p = &ch->peers[ch->me];
	fold_counts(ch, p, (uint32_t)ch->role);
	SHMQ_CRASH_POINT("chan.close.folded");
	/* The counts, then the line: a death half way leaves an ACTIVE line
	 * under a free lock byte that says what is still held. An open
	 * reserve or peek is left to the recovery of dead peers. */
	uncount_role(ch, ch->role);
	SHMQ_CRASH_POINT("chan.close.uncounted");
	detach(ch);
	SHMQ_CRASH_POINT("chan.close.detached");
	free_slot(ch);
	/* Readers see the end of the stream; writers see a reader gone. */
	shmq__event_notify(&ch->hdr->data_ev);
	shmq__event_notify(&ch->hdr->space_ev);
	return 0;
}

SHMQ_API int shmq_chan_close(shmq_chan *ch)
{
	if (!ch)
		return 0;
	/* A broken handle leaves the shared state alone: the object is not
	 * what it was. Our lock byte goes with the fd. Leaving also clears
	 * this thread's guard, should a jump out of a call have left it. */
	shmq__chan_enter(ch);
	shmq__chan_leave(ch, ch->broken ? 0 : close_shared(ch));
	int rc = shmq_seg_close(ch->seg);
	free(ch);
	return rc;
}

SHMQ_API int shmq_chan_unlink(const char *locator)
{
	return shmq_seg_unlink(locator);
}

/* ---- Waiting ------------------------------------------------------------- */

/* How often a writer that found the ring full looks again while it spins. */
#define SPACE_POLL_NS 2000
/* With more peers attached than CPUs, a spinner gives its CPU away this
 * often: the peer it waits for may need that CPU to act. */
#define YIELD_NS 5000

static int64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int shmq__chan_eof(struct shmq_chan *ch)
{
	struct shmq_chan_hdr *h = ch->hdr;
	/* writers_ever first: a joiner adds to writers, then to writers_ever
	 * (release; this acquire pairs with it), so a writer counted in the
	 * `ever` we read is in the `writers` we read next unless it left.
	 * The other order could read writers before a join and ever after
	 * it, and end the stream under a live writer. */
	uint32_t ever = shmq_load(&h->writers_ever, SHMQ_ACQUIRE);
	/* acquire: pairs with a closing writer's release decrement, so the
	 * caller's next look at the ring sees all it published */
	if (shmq_load(&h->writers, SHMQ_ACQUIRE) > 0)
		return -EAGAIN;
	if (shmq_load(&h->dead_writers, SHMQ_ACQUIRE) > 0)
		return SHMQ_EPEERDEAD;
	return ever > 0 ? -EPIPE : -EAGAIN;
}

/* A poll tick: the header is still ours, and the peers we wait for live. */
static int tick(struct shmq_chan *ch, struct shmq_event_shm *ev)
{
	int rc = revalidate(ch);
	if (rc < 0)
		return rc;
	scan_peers(ch, ev == &ch->hdr->data_ev ? SHMQ_WRITER : SHMQ_READER);
	return 0;
}

static int sleep_on(struct shmq_chan *ch, struct shmq_event_shm *ev,
                    int (*check)(struct shmq_chan *ch, void *arg), void *arg,
                    const struct timespec *deadline)
{
	for (;;) {
		/* acquire: pairs with the notifier's increment */
		uint32_t seen = shmq_load(&ev->seq, SHMQ_ACQUIRE);
		shmq_add(&ev->waiters, 1, SHMQ_RELAXED);
		/* heavy fence: our count before our look at the index; the
		 * Dekker pair with the light fence in shmq__event_notify(), so
		 * either the notifier sees us or we see what it published */
		shmq_fence_heavy(shmq__asym_setup());
		int rc = check(ch, arg);
		if (rc == -EAGAIN) {
			struct timespec dl;
			shmq__poll_deadline(&dl, POLL_MS, deadline);
			rc = shmq_futex_wait(&ev->seq, seen, &dl);
			rc = rc == -ETIMEDOUT ? (shmq_deadline_passed(deadline)
			                         ? -ETIMEDOUT : tick(ch, ev))
			                      : 0;
			rc = rc == 0 ? -EAGAIN : rc;
		}
		shmq_sub(&ev->waiters, 1, SHMQ_RELAXED);
		if (rc != -EAGAIN)
			return rc;
	}
}

/* Spin first: a wake costs tens of microseconds on a VM, the other side is
 * often about to act. Each poll takes a line the other side writes away
 * from it, so polls are paced: a clock read apart (tens of ns), and a
 * writer waiting for room every SPACE_POLL_NS (the ring is full because
 * the reader is the slower side, and the reader stores its position after
 * every message). A long spin (a busy-wait budget) still ticks every
 * POLL_MS, so a dead peer is noticed as when asleep. */
static int spin(struct shmq_chan *ch, struct shmq_event_shm *ev,
                int (*check)(struct shmq_chan *ch, void *arg), void *arg,
                const struct timespec *deadline)
{
	int64_t now = mono_ns(), until = now + ch->spin_ns, next = now;
	int64_t pace = ev == &ch->hdr->space_ev ? SPACE_POLL_NS : 0;
	int64_t tick_at = now + POLL_MS * 1000000LL;
	/* relaxed: a hint (a scribbled count costs a yield, nothing more) */
	uint32_t peers = shmq_load(&ch->hdr->attached, SHMQ_RELAXED) &
	                 ~SHMQ_CHAN_CLOSING;
	int64_t yield_at = peers > ch->ncpu ? now + YIELD_NS : INT64_MAX;
	if (deadline) {
		int64_t dl = (int64_t)deadline->tv_sec * 1000000000 +
		             deadline->tv_nsec;
		until = dl < until ? dl : until;
	}
	while (now < until) {
		shmq_cpu_relax();
		if ((now = mono_ns()) < next)
			continue;
		next = now + pace;
		int rc = check(ch, arg);
		if (rc == -EAGAIN && now >= yield_at) {
			yield_at = now + YIELD_NS;
			sched_yield();
		}
		if (rc == -EAGAIN && now >= tick_at) {
			tick_at = now + POLL_MS * 1000000LL;
			rc = tick(ch, ev);
			rc = rc == 0 ? -EAGAIN : rc;
		}
		if (rc != -EAGAIN)
			return rc;
	}
	return -EAGAIN;
}

int shmq__chan_wait(struct shmq_chan *ch, struct shmq_event_shm *ev,
                    int (*check)(struct shmq_chan *ch, void *arg), void *arg,
                    const struct timespec *deadline, int try_)
{
	int rc = check(ch, arg);
	if (rc != -EAGAIN || try_)
		return rc;
	if (ch->spin_ns > 0 &&
	    (rc = spin(ch, ev, check, arg, deadline)) != -EAGAIN)
		return rc;
	if (shmq_deadline_passed(deadline))
		return -ETIMEDOUT;
	return sleep_on(ch, ev, check, arg, deadline);
}

/* Counts stay in our own line while we are attached (no shared line
 * bounces per message); close, or the settling of a dead peer, folds them
 * into the channel's totals. */
void shmq__chan_count(struct shmq_chan *ch)
{
	shmq_store(&ch->peers[ch->me].msgs, ++ch->msgs, SHMQ_RELAXED);
}

