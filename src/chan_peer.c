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

unsigned shmq__chan_scan_peers(struct shmq_chan *ch, uint32_t role)
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
	give_back(&ch->peers[ch->me], SHMQ_PEER_ACTIVE,
	          SHMQ_PEER_HOLDS_ATTACH, &ch->hdr->attached);
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
	if (!drop_hold(&ch->peers[ch->me], SHMQ_PEER_ACTIVE,
	               SHMQ_PEER_HOLDS_ATTACH))
		return; /* the bit first, as give_back() does */
	uint32_t v = shmq_load(&h->attached, SHMQ_RELAXED);
	for (;;) {
		if ((v & ~SHMQ_CHAN_CLOSING) == 0)
			return; /* scribbled to 0: nothing of ours to take off */
		int last = (v & ~SHMQ_CHAN_CLOSING) == 1 && ch->named &&
		           !(ch->chan_flags & SHMQ__CHAN_HDR_PERSIST);
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

int shmq__chan_quit(struct shmq_chan *ch)
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

/* Counts stay in our own line while we are attached (no shared line
 * bounces per message); close, or the settling of a dead peer, folds them
 * into the channel's totals. */
void shmq__chan_count(struct shmq_chan *ch)
{
	shmq_store(&ch->peers[ch->me].msgs, ++ch->msgs, SHMQ_RELAXED);
}
