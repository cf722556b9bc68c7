/*
 * Channels: the peer table: joining it, leaving it, and the liveness of
 * every line in it, with the settling of the dead.
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
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Takes one off a count. Never below zero, and never into the CLOSING
 * bit: a count someone scribbled on must not wrap and lock everybody out.
 * release: pairs with the acquires of the count (writers: the load in
 * shmq__chan_eof(); readers: the loads in the writers' room() and
 * claim_write(); any: the CAS of the next joiner in count_role() or
 * attach_count()): whoever sees us gone sees all we published and, for a
 * settler, the death it counted first. */
static void count_down(shmq_atomic32 *n)
{
	uint32_t v = shmq_load(n, SHMQ_RELAXED);
	do {
		if ((v & ~SHMQ_CHAN_CLOSING) == 0)
			return;
		/* release: see above */
	} while (!shmq_cas(n, &v, v - 1, SHMQ_RELEASE));
}

/* Clears HOLDS_ bit of line p if it is set and the line still has word
 * w's state and generation: 1 if this call cleared it. By CAS, so exactly
 * one of the owner and the settlers gets it, and never on a line taken
 * again since, even if that owner died too (another generation: the count
 * to give back may be another role's). */
static int drop_hold(struct shmq_chan_peer *p, uint32_t w, uint32_t bit)
{
	uint32_t v = shmq_load(&p->state, SHMQ_RELAXED);
	do {
		if (!shmq__peer_same(v, w) || !(v & bit))
			return 0;
		/* acq_rel: release pairs with the acquire load of state in
		 * take_slot(): a joiner that sees the bit cleared by us
		 * rewrites the line after our reads of it; acquire pairs with
		 * the owner's release of ACTIVE (HOLDS_ updates are RMWs, so
		 * they continue its release sequence) */
	} while (!shmq_cas(&p->state, &v, v & ~bit, SHMQ_ACQ_REL));
	return 1;
}

/* Gives back count n that line p (in word w) holds (bit): the bit first,
 * so a death between the two leaks the count rather than take someone
 * else's. */
static void give_back(struct shmq_chan_peer *p, uint32_t w, uint32_t bit,
                      shmq_atomic32 *n)
{
	if (drop_hold(p, w, bit))
		count_down(n);
}

/* Our own line's word: ACTIVE, in the generation we took it in. */
static uint32_t ours(struct shmq_chan *ch)
{
	/* relaxed: only a taker changes the generation, and we hold the
	 * line's lock byte */
	uint32_t v = shmq_load(&ch->peers[ch->me].state, SHMQ_RELAXED);
	return shmq__peer_word(v, SHMQ_PEER_ACTIVE);
}

static shmq_atomic32 *role_count(struct shmq_chan *ch, uint32_t role)
{
	return role == SHMQ_WRITER ? &ch->hdr->writers : &ch->hdr->readers;
}

/* Gives back what DEAD line p still holds: a settler may have died half
 * way, and the next one finishes. `dead` is the line's DEAD word, `role`
 * its owner's, read after it: nothing is given back unless the line is
 * still in dead's generation, so the role is the right one. */
static void settle_rest(struct shmq_chan *ch, struct shmq_chan_peer *p,
                        uint32_t dead, uint32_t role)
{
	/* What the kind lets the line hold, while HOLDS_ says the line is
	 * not settled: a settler that dies here leaves it to the next. */
	if (ch->ops->settle && ch->smp &&
	    shmq__peer_same(shmq_load(&p->state, SHMQ_ACQUIRE), dead))
		ch->ops->settle(ch, (unsigned)(p - ch->peers), role);
	give_back(p, dead, SHMQ_PEER_HOLDS_ROLE, role_count(ch, role));
	SHMQ_CRASH_POINT("chan.settle.role");
	give_back(p, dead, SHMQ_PEER_HOLDS_ATTACH, &ch->hdr->attached);
	/* Whoever waits on the dead one should look again. */
	shmq__chan_notify(ch, &ch->hdr->data_ev);
	shmq__chan_notify(ch, &ch->hdr->space_ev);
}

/* The unit of line p's `asleep` word for ev. */
static uint32_t asleep_unit(struct shmq_chan *ch, struct shmq_event_shm *ev)
{
	return ev == &ch->hdr->data_ev ? 1u : 1u << 16;
}

/* Announces go into our line too, after the event's count and out of it
 * before: a death between the two steps leaks one announce (as before
 * lines counted them), never gives one back twice. */
void shmq__chan_announce(struct shmq_chan *ch, struct shmq_event_shm *ev)
{
	shmq__event_announce(ev);
	/* relaxed: read by the settler after its CAS of our state */
	shmq_add(&ch->peers[ch->me].asleep, asleep_unit(ch, ev), SHMQ_RELAXED);
}

void shmq__chan_unannounce(struct shmq_chan *ch, struct shmq_event_shm *ev)
{
	shmq_sub(&ch->peers[ch->me].asleep, asleep_unit(ch, ev), SHMQ_RELAXED);
	shmq__event_unannounce(ev);
}

/* A dead owner's announces, given back once (the settler that won the
 * CAS to DEAD). A handle announces at most twice on an event (a blocking
 * call and its fd's thread): more is a scribble, and is left alone. */
static void give_back_asleep(struct shmq_chan *ch, struct shmq_chan_peer *p)
{
	/* relaxed: the owner is dead; the CAS to DEAD ordered us after it */
	uint32_t a = shmq_xchg(&p->asleep, 0, SHMQ_RELAXED);
	uint32_t data = a & 0xffffu, space = a >> 16;
	if (data > 2 || space > 2)
		return;
	shmq_sub(&ch->hdr->data_ev.waiters, data, SHMQ_RELAXED);
	shmq_sub(&ch->hdr->space_ev.waiters, space, SHMQ_RELAXED);
}

/* Settles a dead peer once: marks it DEAD and counts the death, then gives
 * back the counts its line holds. `seen` is the ACTIVE state word the
 * caller judged by, `id` the identity it read after it: a line settled or
 * taken again since then has another word, and is left alone. */
static void settle(struct shmq_chan *ch, unsigned i, uint32_t seen,
                   const struct shmq__peer_id *id)
{
	struct shmq_chan_hdr *h = ch->hdr;
	struct shmq_chan_peer *p = &ch->peers[i];
	uint32_t dead = shmq__peer_as_dead(seen);
	/* acq_rel: release pairs with the acquire load of state in
	 * take_slot(): our copy of the line was read before anyone can
	 * rewrite it, so `id` is the owner of `seen`'s generation; acquire
	 * pairs with that owner's release of ACTIVE, for fold_counts() */
	if (SHMQ_PEER_STATE(seen) != SHMQ_PEER_ACTIVE ||
	    !shmq_cas(&p->state, &seen, dead, SHMQ_ACQ_REL))
		return; /* someone else settled it, or it has a new owner */
	/* release: pairs with the acquire loads of dead_writers/readers
	 * (shmq__chan_eof(), room(), claim_write()); the role count goes
	 * down after it, so a reader that sees no writer left sees the
	 * death, not a clean close */
	shmq_add(id->role == SHMQ_WRITER ? &h->dead_writers : &h->dead_readers,
	         1, SHMQ_RELEASE);
	shmq_store(&h->last_dead_pid, id->pid, SHMQ_RELAXED);
	fold_counts(ch, p, id->role);
	give_back_asleep(ch, p);
	SHMQ_CRASH_POINT("chan.settle.marked");
	settle_rest(ch, p, dead, id->role);
}

struct shmq__peer_id shmq__chan_peer_id(const struct shmq_chan_peer *p)
{
	/* relaxed: the caller loaded state first, with acquire (pairs with
	 * the owner's release of ACTIVE), so these are that owner's, or a
	 * later owner's if the line was taken again since; the caller acts
	 * on them only by a CAS that expects the state word it loaded,
	 * which then fails */
	struct shmq__peer_id id = {
		.role = shmq_load(&p->role, SHMQ_RELAXED),
		.pid = shmq_load(&p->pid, SHMQ_RELAXED),
		.start = shmq_load(&p->start, SHMQ_RELAXED),
	};
	return id;
}

/* Whether the owner `id` of peer line i is dead: the line's lock byte is
 * free, or held by a process that is not the one that took it (a fork
 * child inherited the lock). 0 when it is alive or we cannot tell. */
int shmq__chan_peer_dead(int fd, unsigned i, const struct shmq__peer_id *id)
{
	uint64_t now;
	int held = lock_byte(fd, i, F_RDLCK, F_OFD_GETLK);
	if (held < 0)
		return 0; /* cannot tell: never declare a live peer dead */
	if (!held)
		return 1;
	int rc = shmq__pid_start((pid_t)id->pid, &now);
	if (rc == 0)
		return now != id->start;
	return rc == -ESRCH ||
	       shmq__pid_alive_since((pid_t)id->pid, 0) == SHMQ_PID_DEAD;
}

int shmq__chan_peer_alive(struct shmq_chan *ch, unsigned i)
{
	struct shmq_chan_peer *p = &ch->peers[i];
	if ((int)i == ch->me)
		return 1;
	/* acquire: pairs with the owner's release of ACTIVE in take_slot():
	 * the identity read next is its (or a later owner's: see
	 * shmq__chan_peer_id()) */
	uint32_t seen = shmq_load(&p->state, SHMQ_ACQUIRE);
	if (SHMQ_PEER_STATE(seen) != SHMQ_PEER_ACTIVE)
		return 0;
	struct shmq__peer_id id = shmq__chan_peer_id(p);
	if (!shmq__chan_peer_dead(ch->fd, i, &id))
		return 1;
	settle(ch, i, seen, &id);
	return 0;
}

unsigned shmq__chan_scan_peers(struct shmq_chan *ch, uint32_t role)
{
	unsigned alive = 0;
	for (unsigned i = 0; i < SHMQ_CHAN_MAX_PEERS; i++) {
		struct shmq_chan_peer *p = &ch->peers[i];
		/* acquire: pairs with the owner's release of ACTIVE, as in
		 * shmq__chan_peer_alive(); settle_rest() gives back only
		 * while the line is in v's generation */
		uint32_t v = shmq_load(&p->state, SHMQ_ACQUIRE);
		struct shmq__peer_id id = shmq__chan_peer_id(p);
		if (role && id.role != role)
			continue;
		if (SHMQ_PEER_STATE(v) == SHMQ_PEER_ACTIVE)
			alive += shmq__chan_peer_alive(ch, i) != 0;
		else if (SHMQ_PEER_STATE(v) == SHMQ_PEER_DEAD &&
		         (v & SHMQ_PEER_HOLDS))
			settle_rest(ch, p, v, id.role);
	}
	return alive;
}

int shmq__chan_any_dead(struct shmq_chan *ch, uint32_t role)
{
	for (unsigned i = 0; i < SHMQ_CHAN_MAX_PEERS; i++) {
		struct shmq_chan_peer *p = &ch->peers[i];
		/* acquire: as in shmq__chan_scan_peers() */
		uint32_t v = shmq_load(&p->state, SHMQ_ACQUIRE);
		struct shmq__peer_id id = shmq__chan_peer_id(p);
		if ((int)i == ch->me || id.role != role)
			continue;
		if (SHMQ_PEER_STATE(v) == SHMQ_PEER_ACTIVE
		        ? shmq__chan_peer_dead(ch->fd, i, &id)
		        : SHMQ_PEER_STATE(v) == SHMQ_PEER_DEAD &&
		                  (v & SHMQ_PEER_HOLDS))
			return 1;
	}
	return 0;
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
	uint32_t max = role == SHMQ_WRITER ? ch->ops->max_writers
	                                   : ch->ops->max_readers;
	uint32_t pool = role == SHMQ_READER && ch->hold
	                ? (uint32_t)((ch->capacity - ch->history - 2) / ch->hold)
	                : UINT32_MAX; /* samples: readers the pool serves */
	uint32_t v = shmq_load(n, SHMQ_RELAXED);
	do {
		if (v >= max || v >= pool)
			return v >= pool && v < max ? SHMQ_EPOOL : -EBUSY;
		/* acq_rel: acquire pairs with the release decrement
		 * (count_down()) of the peer whose place we take; release
		 * with the acquire loads of the count (shmq__chan_eof(),
		 * room()): who sees us counted sees our line ACTIVE */
	} while (!shmq_cas(n, &v, v + 1, SHMQ_ACQ_REL));
	hold(ch, SHMQ_PEER_HOLDS_ROLE);
	/* release: after the count; pairs with the acquire load of
	 * writers_ever in shmq__chan_eof() (a writer in `ever` is in
	 * `writers` unless it left) and of readers_ever in the broadcast
	 * writer's room() (our line and cursor are ACTIVE) */
	shmq_add(role == SHMQ_WRITER ? &ch->hdr->writers_ever
	                             : &ch->hdr->readers_ever, 1, SHMQ_RELEASE);
	return 0;
}

static void uncount_role(struct shmq_chan *ch, int role)
{
	/* release (count_down): a reader that sees the count drop (acquire)
	 * sees every message this writer published */
	give_back(&ch->peers[ch->me], ours(ch), SHMQ_PEER_HOLDS_ROLE,
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
		/* acq_rel: pairs with the CAS in detach(): RMWs of one word
		 * are in one order, so either the last one out sees us
		 * counted and keeps the name, or we see CLOSING and do not
		 * join an object whose name is going */
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
		/* relaxed: a first look; shmq__chan_peer_alive() loads the
		 * word again, with acquire */
		if (SHMQ_PEER_STATE(shmq_load(&p->state, SHMQ_RELAXED)) ==
		            SHMQ_PEER_ACTIVE &&
		    shmq__chan_peer_alive(ch, i))
			continue;
		if (lock_byte(ch->fd, i, F_WRLCK, F_OFD_SETLK) < 0)
			continue; /* held: alive, or inherited by a fork child */
		SHMQ_CRASH_POINT("chan.join.locked");
		/* The byte is ours: nobody else takes the line now, so its
		 * generation and identity stay as read here.
		 * acquire: pairs with the owner's release of ACTIVE (or of
		 * FREE) */
		uint32_t s = shmq_load(&p->state, SHMQ_ACQUIRE);
		struct shmq__peer_id id = shmq__chan_peer_id(p);
		settle(ch, i, s, &id);
		/* relaxed: under our lock byte; settle() or another settler
		 * made it DEAD in this generation */
		s = shmq_load(&p->state, SHMQ_RELAXED);
		if (SHMQ_PEER_STATE(s) == SHMQ_PEER_DEAD)
			settle_rest(ch, p, s, id.role);
		/* acquire: pairs with the release of the last change to the
		 * line: its owner's FREE (free_slot()), a settler's DEAD or
		 * HOLDS_ clear (settle(), drop_hold()): their reads and writes
		 * of the line are done before we rewrite it */
		s = shmq_load(&p->state, SHMQ_ACQUIRE);
		if (ch->ops->reclaim)
			ch->ops->reclaim(ch, i);
		/* relaxed: published by the release of ACTIVE below */
		shmq_store(&p->role, (uint32_t)role, SHMQ_RELAXED);
		shmq_store(&p->pid, (uint32_t)getpid(), SHMQ_RELAXED);
		shmq_store(&p->start, start, SHMQ_RELAXED);
		shmq_store(&p->msgs, 0, SHMQ_RELAXED);
		shmq_store(&p->bytes, 0, SHMQ_RELAXED);
		shmq_store(&p->lost, 0, SHMQ_RELAXED);
		/* the kind's start for a new line (broadcast reader: the
		 * tail of now, not the last owner's cursor) */
		ch->me = (int)i; /* the kind's join writes its area of line i */
		if (ch->ops->join)
			ch->ops->join(ch, role);
		shmq_store(&p->cursor, ch->pos, SHMQ_RELAXED);
		/* release: role, pid, start, cursor before ACTIVE; pairs with
		 * the acquire loads of state in shmq__chan_peer_alive(),
		 * slowest() and the info report */
		shmq_store(&p->state, shmq__peer_taken(s), SHMQ_RELEASE);
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
	/* release: pairs with the acquire load of state in take_slot(): our
	 * last writes to the line (fold_counts()) before it is reused */
	shmq_store(&p->state, shmq__peer_word(s, SHMQ_PEER_FREE),
	           SHMQ_RELEASE);
	lock_byte(ch->fd, (unsigned)ch->me, F_UNLCK, F_OFD_SETLK);
}

/* The line first, then each count with its HOLDS_ bit: a peer that dies at
 * any step leaves a line that says what to give back. */
int shmq__chan_join(struct shmq_chan *ch, int role)
{
	int rc;
	/* settle the dead first: their counts free up */
	shmq__chan_scan_peers(ch, 0);
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
	give_back(&ch->peers[ch->me], ours(ch), SHMQ_PEER_HOLDS_ATTACH,
	          &ch->hdr->attached);
unslot:
	free_slot(ch);
	ch->me = -1;
	return rc;
}

/* The last one out removes the name, unless the channel persists. CLOSING
 * stops new peers from joining the object whose name is going away. */
static void detach(struct shmq_chan *ch)
{
	struct shmq_chan_hdr *h = ch->hdr;
	if (!drop_hold(&ch->peers[ch->me], ours(ch), SHMQ_PEER_HOLDS_ATTACH))
		return; /* the bit first, as give_back() does */
	uint32_t v = shmq_load(&h->attached, SHMQ_RELAXED);
	for (;;) {
		if ((v & ~SHMQ_CHAN_CLOSING) == 0)
			return; /* scribbled to 0: nothing of ours to take off */
		int last = (v & ~SHMQ_CHAN_CLOSING) == 1 && ch->named &&
		           !(ch->chan_flags & SHMQ__CHAN_HDR_PERSIST);
		uint32_t next = last ? SHMQ_CHAN_CLOSING : v - 1;
		/* acq_rel: pairs with the CAS in attach_count() (see there);
		 * release, as count_down() */
		if (shmq_cas(&h->attached, &v, next, SHMQ_ACQ_REL)) {
			if (last) {
				SHMQ_CRASH_POINT("chan.close.last");
				unlink_if_ours(ch);
			}
			return;
		}
	}
}

int shmq__chan_quit(struct shmq_chan *ch)
{
	struct shmq_chan_peer *p = &ch->peers[ch->me];
	if (ch->ops->quit)
		ch->ops->quit(ch);
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
	shmq__chan_notify(ch, &ch->hdr->data_ev);
	shmq__chan_notify(ch, &ch->hdr->space_ev);
	return 0;
}
