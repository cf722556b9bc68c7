/* Channels: what the kinds (chan_spsc.c, chan_mpmc.c, chan_bcast.c) share
 * with the common code (chan_open.c, chan_check.c, chan_peer.c,
 * chan_wait.c). Never included outside src/. */
#ifndef SHMQ_CHAN_H
#define SHMQ_CHAN_H

#include "os_guard.h"
#include "internal.h"
#include "layout.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>

/* The largest ring, in bytes, of every kind. */
#define SHMQ__CHAN_MAX_RING (UINT64_C(1) << 40)

/* The header's flags word (layout.h): a bit of the format, which keeps its
 * value whatever the API's SHMQ_CHAN_PERSIST is. */
#define SHMQ__CHAN_HDR_PERSIST (1u << 1)
#define SHMQ__CHAN_HDR_HUGE_2M (1u << 2) /* samples: data on huge pages */
#define SHMQ__CHAN_HDR_PLAIN (1u << 3) /* plain fences (SHMQ_CHAN_PLAIN_FENCES) */
#define SHMQ__CHAN_HDR_KNOWN (SHMQ__CHAN_HDR_PERSIST | SHMQ__CHAN_HDR_HUGE_2M | \
                              SHMQ__CHAN_HDR_PLAIN)

/* The create flags (SHMQ_CHAN_*) to the header's bits (to_hdr 1), or the
 * header's bits back to them (0, for shmq_chan_info): one table both ways. */
static inline uint64_t shmq__chan_flags_map(uint64_t in, int to_hdr)
{
	static const uint32_t pair[][2] = {
		{SHMQ_CHAN_PERSIST, SHMQ__CHAN_HDR_PERSIST},
		{SHMQ_CHAN_HUGE_2M, SHMQ__CHAN_HDR_HUGE_2M},
		{SHMQ_CHAN_PLAIN_FENCES, SHMQ__CHAN_HDR_PLAIN},
	};
	uint64_t out = 0;
	for (unsigned i = 0; i < sizeof(pair) / sizeof(pair[0]); i++)
		if (in & pair[i][!to_hdr])
			out |= pair[i][to_hdr];
	return out;
}

struct shmq_chan;

/* What the creator asks of the object: the identity line's fields. */
struct shmq__chan_geometry {
	uint32_t kind, policy, msg_size, slot_size, flags;
	uint64_t capacity, ring_bytes;
	int64_t spin_ns;
	/* samples: the data segment (prepare makes it, with `mode`) */
	uint32_t hold, history, data_off, data_id, mode;
	uint64_t stride, data_size, data_nonce;
	shmq_seg *data; /* the creator's read-write attachment */
};

/* What a kind does: the one place the common code learns it (ops_of). The
 * ring calls: `try_` never waits; otherwise wait until deadline (NULL:
 * forever). peek refuses (-EMSGSIZE) a message longer than max without
 * taking it. A hook a kind does not need is NULL. */
struct shmq_chan_ops {
	int (*reserve)(struct shmq_chan *ch, size_t len, void **ptr,
	               const struct timespec *deadline, int try_);
	int (*commit)(struct shmq_chan *ch, size_t len);
	ssize_t (*peek)(struct shmq_chan *ch, const void **ptr, size_t max,
	                const struct timespec *deadline, int try_);
	int (*release)(struct shmq_chan *ch);
	/* Gives back an open reserve: readers never see it (NULL: nothing
	 * shared to undo, the kind publishes only at commit). */
	void (*abandon)(struct shmq_chan *ch);
	/* Publishes what a batching writer holds (NULL: the kind publishes
	 * every message at commit). */
	void (*flush)(struct shmq_chan *ch);
	/* Messages and bytes queued, into info whose counters are filled. */
	void (*depth)(struct shmq_chan *ch, struct shmq_chan_info *info);
	/* Create: capacity asked (0: this default), rounded to a power of
	 * two by the caller; plan fills the rest of g (-EINVAL: too big);
	 * init lays out the new object's ring (zeros otherwise). */
	uint64_t default_capacity;
	int (*plan)(const struct shmq_chan_opts *o,
	            struct shmq__chan_geometry *g);
	void (*init)(void *addr, const struct shmq__chan_geometry *g);
	/* Open: whether the identity line h is consistent for this kind in
	 * an object of `size` bytes; *ring is the ring's bytes. */
	int (*check)(const struct shmq_chan_hdr *h, uint64_t size,
	             uint64_t *ring);
	/* Open, before joining: checks (and may move) the indices this side
	 * starts from, read once: -EBADMSG if no peer could have left them. */
	int (*start)(struct shmq_chan *ch, uint64_t *head, uint64_t *tail);
	/* Joining, with peer line i ours (its lock byte held): takes back
	 * what the line's last owner still holds in the ring (reclaim), and
	 * sets what the line shows once ACTIVE (join: ch->pos, its cursor). */
	void (*reclaim)(struct shmq_chan *ch, unsigned i);
	void (*join)(struct shmq_chan *ch, int role);
	/* Once joined (line and counts taken). */
	void (*joined)(struct shmq_chan *ch);
	/* How many writers and readers may be attached at once. */
	uint32_t max_writers, max_readers;
	/* Create, after plan: makes what lives outside the object (into g);
	 * unprepare undoes it if the object is not made. */
	int (*prepare)(struct shmq__chan_geometry *g);
	void (*unprepare)(struct shmq__chan_geometry *g);
	/* Open, after the identity is adopted, before joining: attaches what
	 * lives outside the object (its errors end the open). */
	int (*attach)(struct shmq_chan *ch);
	/* A dead peer's line i is settled (may run again if a settler died
	 * half way: must be idempotent). */
	void (*settle)(struct shmq_chan *ch, unsigned i, uint32_t role);
	/* Close, before the counts go: gives back what this handle holds. */
	void (*quit)(struct shmq_chan *ch);
	/* Report: what reader line i holds, has queued (its lag) and missed. */
	void (*peer_depth)(struct shmq_chan *ch, unsigned i,
	                   struct shmq_chan_peer_info *pi);
	/* release_at: releases what the handle holds at ptr (NULL: the
	 * kind holds one message at a time, release_at is release). */
	int (*release_at)(struct shmq_chan *ch, const void *ptr);
	/* send/recv: the copying calls as one function of the kind, made with
	 * shmq__chan_send_via/recv_via (NULL: made of the ops above) */
	int (*send)(struct shmq_chan *ch, const void *buf, size_t len,
	            const struct timespec *deadline, int try_);
	ssize_t (*recv)(struct shmq_chan *ch, void *buf, size_t len,
	                const struct timespec *deadline, int try_);
	/* Whether the handle may hold more after a peek (NULL: no). */
	int (*can_hold)(const struct shmq_chan *ch);
};

/* The ops of a kind, or NULL if kind is none (chan_check.c). */
const struct shmq_chan_ops *shmq__chan_ops_of(uint32_t kind);
extern const struct shmq_chan_ops shmq__spsc_ops, shmq__mpmc_ops,
	shmq__bcast_ops, shmq__samples_ops;
/* chan_samples.c: frees the samples state of a handle (any kind, any
 * stage of open or close). */
void shmq__samples_free(struct shmq_chan *ch);
/* Removes a persistent samples channel's data segment, named by the
 * identity line h (checked against the segment first). */
int shmq__samples_unlink_data(const struct shmq_chan_hdr *h, int fd);
/* What the two slot kinds (mpmc, broadcast) share (chan_slots.c). */
#define SHMQ__SLOTS_DEFAULT 1024u /* slots when none asked */
int shmq__slots_plan(const struct shmq_chan_opts *o,
                     struct shmq__chan_geometry *g);
int shmq__slots_check(const struct shmq_chan_hdr *h, uint64_t size,
                      uint64_t *ring);

struct shmq_chan {
	shmq_seg *seg;
	struct shmq_chan_hdr *hdr;    /* shared: only counters and indices */
	struct shmq_chan_peer *peers; /* shared */
	unsigned char *ring;          /* shared */
	const struct shmq_chan_ops *ops;
	/* Our copy of the identity line, checked once at open. */
	int kind, policy, role;
	uint64_t capacity, mask, object_size;
	uint32_t msg_size, slot_size, chan_flags;
	int asym; /* this channel's waits use the asymmetric fences */
	int64_t spin_ns;
	uint32_t ncpu; /* CPUs online at open: more peers spin-yield */
	int me;       /* our peer slot */
	int named;    /* a POSIX object: the last close removes its name */
	int fd;       /* the object's fd: our peer lock lives on it */
	struct shmq__guard guard; /* our mapping, if a peer can shrink the
	                             object (else empty) */
	int broken;   /* 0, or the error every later call returns: the object
	                 was truncated under us (SHMQ_ETRUNCATED) */
	/* Local cursors: never trusted from shared memory once we own them. */
	uint64_t pos;   /* spsc/bcast writer: tail; readers: head/cursor */
	uint64_t other; /* spsc: cached index of the other side; bcast
	                   writer: cached slowest reader cursor; bcast
	                   reader: tail as last loaded */
	uint64_t lost;  /* bcast reader: messages missed, in total */
	/* spsc batching (opts.batch). A writer: records written, not
	 * published yet (their first header held back), the first one's
	 * position and header word. A reader: releases since it last woke a
	 * writer waiting for room (held_pos, held_word unused). */
	uint32_t batch, held;
	uint64_t held_pos, held_word;
	/* Zero copy in progress. */
	int busy;        /* a reserve or a peek is open */
	uint64_t op_pos; /* its position */
	size_t op_len;   /* reserved bytes / peeked length */
	uint64_t op_seq; /* bcast peek: the slot's seqlock value */
	uint64_t msgs;   /* our messages, mirrored into our peer line */
	uint64_t bytes;  /* their payload bytes, mirrored likewise */
	int64_t next_look_ns; /* mpmc: when a slot's holder may be asked again */
	int64_t next_tick_ns; /* when a wait on this handle ticks next (0:
	                         not yet set), kept across calls */
	struct shmq__fdw *fdw; /* shmq_chan_fd's, or NULL (chan_fd.c) */
	uint32_t readers_seen; /* bcast writer: readers_ever when `other` was
	                          last computed */
	uint64_t reader_lines; /* bcast writer: the peer lines that were
	                          active readers at the last full look */
	/* samples: the identity line's fields, and the handle's state */
	uint32_t hold, history, data_off, data_id;
	uint64_t stride, data_size, data_nonce;
	struct shmq__samples *smp;
	shmq_seg *data_created; /* samples creator: its data attachment */
	const void *op_ptr; /* the open peek's pointer (release_at) */
	char locator[SHMQ_LOCATOR_MAX];
};

/* chan_open.c: decides whether ch (its seg open) needs the SIGBUS guard: if
 * so, installs the handler and guards the mapping. */
int shmq__chan_guard_setup(struct shmq_chan *ch);

/* chan_check.c */
/* Copies the identity line out of ch->seg, checks it, sets the handle's
 * geometry and pointers. */
int shmq__chan_adopt(struct shmq_chan *ch);
/* The error a guarded call ends with (rc < 0, or hit: its guard caught a
 * fault). An -EBADMSG may be a shrink that did not fault. */
ssize_t shmq__chan_failed(struct shmq_chan *ch, ssize_t rc, int hit);
/* The object still has its size, and the shared identity matches our
 * copy: 0, SHMQ_ETRUNCATED or -EBADMSG. */
int shmq__chan_revalidate(struct shmq_chan *ch);
uint32_t shmq__chan_layout_hash(void);

/* A call's accesses to the mapping run between enter and leave. A SIGBUS
 * there (a peer shrank the object) makes the call return SHMQ_ETRUNCATED,
 * as do a poll tick and a malformed ring when the object is smaller than at
 * open; either breaks the handle, and a broken handle's calls return that
 * at once. */
static inline void shmq__chan_enter(struct shmq_chan *ch)
{
	shmq__guard_arm(&ch->guard);
}

static inline ssize_t shmq__chan_leave(struct shmq_chan *ch, ssize_t rc)
{
	int hit = shmq__guard_disarm(&ch->guard);
	if (__builtin_expect(rc < 0 || hit, 0))
		return shmq__chan_failed(ch, rc, hit);
	return rc;
}

/* The slot of mpmc position pos. */
static inline struct shmq_chan_slot *shmq__slot(struct shmq_chan *ch,
                                                uint64_t pos)
{
	return (struct shmq_chan_slot *)(ch->ring +
	                                 (pos & ch->mask) * ch->slot_size);
}

/* chan_peer.c */
/* Takes a peer line and the attach and role counts for role (settling the
 * dead first); ch->me is our line. */
int shmq__chan_join(struct shmq_chan *ch, int role);
/* Leaves (close): folds our counts, gives back the role and the attach
 * count (the last one out removes the name, unless the channel persists),
 * frees our line and wakes both sides. */
int shmq__chan_quit(struct shmq_chan *ch);
/* Checks every active peer of `role` (0: all), and finishes the settling
 * of dead ones; returns how many are alive. */
unsigned shmq__chan_scan_peers(struct shmq_chan *ch, uint32_t role);
/* Whether peer i is alive: its lock byte is held and its pid is the
 * process that took it. Marks it DEAD and settles its counts if not. */
int shmq__chan_peer_alive(struct shmq_chan *ch, unsigned i);
/* A peer line's owner, as copied out of the line. */
struct shmq__peer_id {
	uint32_t role, pid;
	uint64_t start;
};
/* Copies the owner's identity out of line p, after the caller's acquire
 * load of its state (relaxed loads: see the comment in chan_peer.c). */
struct shmq__peer_id shmq__chan_peer_id(const struct shmq_chan_peer *p);
/* Whether peer i, whose owner was `id`, is dead; never writes. */
int shmq__chan_peer_dead(int fd, unsigned i, const struct shmq__peer_id *id);
/* Whether any peer of `role` is dead (found so, or not yet settled);
 * never writes, unlike shmq__chan_scan_peers. */
int shmq__chan_any_dead(struct shmq_chan *ch, uint32_t role);
/* A waiter on ev announces itself (shmq__event_announce, counted in our
 * peer line too, so that the settler of our death gives the count back),
 * and takes the announce back. */
void shmq__chan_announce(struct shmq_chan *ch, struct shmq_event_shm *ev);
void shmq__chan_unannounce(struct shmq_chan *ch, struct shmq_event_shm *ev);
/* Wakes ev's sleepers, with the channel's kind of fence. */
static inline void shmq__chan_notify(struct shmq_chan *ch,
                                     struct shmq_event_shm *ev)
{
	/* pairs with the heavy fence in sleep_on() */
	if (shmq_armed(&ev->armed, ch->asym))
		shmq__event_wake_armed(ev);
}

/* The copying calls, made of a reserve and a commit (a peek and a
 * release). Inline: a kind that passes its own functions gets its whole
 * path in one function, with no call through ops on it (chan_spsc.c). */
static inline int shmq__chan_send_via(
	struct shmq_chan *ch, const void *buf, size_t len,
	const struct timespec *deadline, int try_,
	int (*reserve)(struct shmq_chan *, size_t, void **,
	               const struct timespec *, int),
	int (*commit)(struct shmq_chan *, size_t))
{
	void *p;
	int rc = reserve(ch, len, &p, deadline, try_);
	if (rc == 0) {
		memcpy(p, buf, len);
		rc = commit(ch, len);
	}
	return rc;
}

static inline ssize_t shmq__chan_recv_via(
	struct shmq_chan *ch, void *buf, size_t len,
	const struct timespec *deadline, int try_,
	ssize_t (*peek)(struct shmq_chan *, const void **, size_t,
	                const struct timespec *, int),
	int (*release_at)(struct shmq_chan *, const void *))
{
	const void *p;
	ssize_t n = peek(ch, &p, len, deadline, try_);
	if (n >= 0) {
		memcpy(buf, p, (size_t)n);
		int rc = release_at(ch, p);
		n = rc < 0 ? rc : n; /* broadcast: a torn copy is SHMQ_ELOST */
	}
	return n;
}

/* A kind's copying calls (ops send/recv), made of its own reserve and
 * commit, peek and release, each flattened into one function (a fifth of
 * the instructions of a 64 B send and receive were calls between them).
 * For kinds whose handle holds one message at a time. */
#define SHMQ__CHAN_COPY_CALLS(kind)                                            \
	__attribute__((flatten))                                               \
	static int kind##_send(struct shmq_chan *ch, const void *buf,          \
	                       size_t len, const struct timespec *deadline,    \
	                       int try_)                                       \
	{                                                                      \
		return shmq__chan_send_via(ch, buf, len, deadline, try_,       \
		                           kind##_reserve, kind##_commit);     \
	}                                                                      \
	__attribute__((flatten))                                               \
	static int kind##_release_copied(struct shmq_chan *ch, const void *p)  \
	{                                                                      \
		(void)p; /* the one message the handle holds */                \
		return kind##_release(ch);                                     \
	}                                                                      \
	__attribute__((flatten))                                               \
	static ssize_t kind##_recv(struct shmq_chan *ch, void *buf,            \
	                           size_t len,                                 \
	                           const struct timespec *deadline, int try_)  \
	{                                                                      \
		return shmq__chan_recv_via(ch, buf, len, deadline, try_,       \
		                           kind##_peek,                        \
		                           kind##_release_copied);             \
	}

/* One more message, of len payload bytes, sent or received by us. Counts
 * stay in our own line while we are attached (no shared line bounces per
 * message); close, or the settling of a dead peer, folds them into the
 * channel's totals. Inline: it runs on every message. */
static inline void shmq__chan_count(struct shmq_chan *ch, size_t len)
{
	struct shmq_chan_peer *p = &ch->peers[ch->me];
	/* relaxed: a report, read by the settler after its CAS of our state
	 * and by shmq ls/top (chan_info.c) */
	shmq_store(&p->msgs, ++ch->msgs, SHMQ_RELAXED);
	shmq_store(&p->bytes, ch->bytes += len, SHMQ_RELAXED);
}

/* chan_wait.c */
/* The wait below once check found nothing: try_ returns (or arms the fd),
 * else spin, then sleep. */
int shmq__chan_wait_more(struct shmq_chan *ch, struct shmq_event_shm *ev,
                         int (*check)(struct shmq_chan *ch, void *arg),
                         void *arg, const struct timespec *deadline, int try_);

/* Waits on ev until check(ch, arg) stops returning -EAGAIN, spinning for the
 * channel's budget first, sleeping after, re-validating the header and the
 * peers every poll tick. Returns check's result, -ETIMEDOUT, -EBADMSG, or
 * SHMQ_EPEERDEAD when `waits_for` (SHMQ_WRITER/SHMQ_READER) are all dead.
 * Inline: the first check (what a busy stream finds at once) costs the
 * kind's own code, no call. */
static inline int shmq__chan_wait(struct shmq_chan *ch,
                                  struct shmq_event_shm *ev,
                                  int (*check)(struct shmq_chan *ch, void *arg),
                                  void *arg, const struct timespec *deadline,
                                  int try_)
{
	int rc = check(ch, arg);
	if (rc != -EAGAIN)
		return rc;
	return shmq__chan_wait_more(ch, ev, check, arg, deadline, try_);
}
/* The poll tick of a wait on ev: re-validates the header and settles the
 * dead among the peers ev's waiter waits for. 0 or the error. */
int shmq__chan_tick(struct shmq_chan *ch, struct shmq_event_shm *ev);
/* For a reader that found nothing: -EPIPE (all writers closed), the
 * SHMQ_EPEERDEAD (all died or some died and the rest closed), or -EAGAIN. */
int shmq__chan_eof(struct shmq_chan *ch);

/* chan_fd.c */
/* A try_ call on an end with an fd found nothing (check gave -EAGAIN):
 * arms the fd, re-checking after the announce. check's result. */
int shmq__chan_fd_arm(struct shmq_chan *ch,
                      int (*check)(struct shmq_chan *ch, void *arg),
                      void *arg);
/* The handle broke (ch->broken): shmq__fdw_broken(ch->fdw). How many of
 * the end's wakes only a poll tick found: shmq__fdw_late(ch->fdw) (the
 * tests' lost wakeup count). */
/* Stops the end's waiter thread and closes its fd (close). */
void shmq__chan_fd_close(struct shmq_chan *ch);

#endif
