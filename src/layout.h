/*
 * Every structure that lives in shared memory, in one place.
 *
 * Rules: fixed-width types only (no pointers, bool or enum); atomics are
 * shmq_atomic32/64 from atomic.h; a _Static_assert pins every size and
 * offset that docs/design.md states; each field says who writes it and who
 * reads it. Any process that maps the memory can write garbage into it, so
 * every reader copies a field out once, checks it, then uses the copy.
 */
#ifndef SHMQ_LAYOUT_H
#define SHMQ_LAYOUT_H

#include "atomic.h"
#include "shmq.h"

#include <stddef.h>
#include <stdint.h>

/* ---- Synchronization primitives (src/sync_mutex.c, src/sync_sem.c) ------
 * Each is 16 bytes, the size of its public opaque type, and carries a magic
 * that names the type and the format version: a call on anything else (an
 * uninitialised or overwritten object, another version) gives -EINVAL. */

#define SHMQ_MUTEX_MAGIC 0x4d580001u /* "MX", format 1 */
#define SHMQ_SEM_MAGIC 0x53450001u   /* "SE", format 1 */
#define SHMQ_EVENT_MAGIC 0x45560001u /* "EV", format 1 */

/* Mutex lock word: the owner's kernel thread id, as robust futexes keep it,
 * plus a waiters bit. The tid space ends below SHMQ_MUTEX_NOTREC. */
#define SHMQ_MUTEX_TID_MASK 0x3fffffffu
#define SHMQ_MUTEX_WAITERS 0x80000000u
#define SHMQ_MUTEX_NOTREC 0x3fffffffu /* not recoverable, for good */

/* Mutex state, beside the word. */
#define SHMQ_MUTEX_CONSISTENT 0u
#define SHMQ_MUTEX_INCONSISTENT 1u /* taken from a dead owner, not repaired */

struct shmq_mutex_shm {
	shmq_atomic32 word;  /* lockers (CAS), owner (unlock xchg) */
	shmq_atomic32 state; /* written by the owner only; read by the owner */
	shmq_atomic32 magic; /* written once by init (release); read by all */
	uint32_t reserved;   /* zero */
};

struct shmq_sem_shm {
	shmq_atomic32 value;   /* posters (CAS +1), waiters (CAS -1) */
	shmq_atomic32 waiters; /* waiters +1 before sleeping, -1 after */
	shmq_atomic32 magic;   /* written once by init (release); read by all */
	uint32_t reserved;     /* zero */
};

struct shmq_event_shm {
	shmq_atomic32 seq;     /* signalers (+1); read by waiters */
	shmq_atomic32 waiters; /* waiters +1 before sleeping, -1 after */
	shmq_atomic32 magic;   /* written once by init (release); read by all */
	shmq_atomic32 armed;   /* channels and boards: a sleeper stores 1 after
	                          its load of seq; the notifier that exchanges
	                          it for 0 wakes. 0 in a public event */
};

_Static_assert(sizeof(struct shmq_mutex_shm) == sizeof(shmq_mutex),
               "mutex layout is its public size");
_Static_assert(sizeof(struct shmq_sem_shm) == sizeof(shmq_sem),
               "semaphore layout is its public size");
_Static_assert(sizeof(struct shmq_event_shm) == sizeof(shmq_event),
               "event layout is its public size");
_Static_assert(offsetof(struct shmq_mutex_shm, word) == 0 &&
               offsetof(struct shmq_mutex_shm, state) == 4 &&
               offsetof(struct shmq_mutex_shm, magic) == 8 &&
               offsetof(struct shmq_mutex_shm, reserved) == 12,
               "mutex field offsets (docs/design.md)");
_Static_assert(offsetof(struct shmq_sem_shm, value) == 0 &&
               offsetof(struct shmq_sem_shm, waiters) == 4 &&
               offsetof(struct shmq_sem_shm, magic) == 8 &&
               offsetof(struct shmq_sem_shm, reserved) == 12,
               "semaphore field offsets (docs/design.md)");
_Static_assert(offsetof(struct shmq_event_shm, seq) == 0 &&
               offsetof(struct shmq_event_shm, waiters) == 4 &&
               offsetof(struct shmq_event_shm, magic) == 8 &&
               offsetof(struct shmq_event_shm, armed) == 12,
               "event field offsets (docs/design.md)");
_Static_assert(SHMQ_MUTEX_TID_MASK == 0x3fffffffu &&
               SHMQ_MUTEX_WAITERS == 0x80000000u &&
               SHMQ_MUTEX_NOTREC == SHMQ_MUTEX_TID_MASK,
               "mutex word: tid in bits 0..29, WAITERS bit 31");
_Static_assert(sizeof(shmq_atomic32) == 4 && sizeof(shmq_atomic64) == 8 &&
               _Alignof(shmq_atomic32) == 4 && _Alignof(shmq_atomic64) == 8,
               "atomics are plain, naturally aligned words");

/* ---- Classic mutual-exclusion algorithms (src/sync_algo.c) --------------
 * One struct serves all five algorithms: a header line, a line of shared
 * words, then one cache line per process so that a process spinning on its
 * own view never shares a line with another process's writes to its slot.
 * shmq_algo_init writes everything, the magic last; afterwards a slot is
 * written only by the process that owns its number. */

#define SHMQ_ALGO_MAGIC 0x414c0001u /* "AL", format 1 */
#define SHMQ_CACHE_LINE 64
/* Bakery tickets are 1..SHMQ_ALGO_TICKET_MAX; 0 means "not trying". */
#define SHMQ_ALGO_TICKET_MAX (UINT64_C(1) << 62)

/* Szymanski's states (flag of a slot). */
#define SHMQ_SZY_IDLE 0u    /* outside */
#define SHMQ_SZY_WAIT 1u    /* wants in, waits for the door to open */
#define SHMQ_SZY_ROOM 2u    /* in the waiting room, waits for the door */
#define SHMQ_SZY_DOOR 3u    /* in the doorway */
#define SHMQ_SZY_CLOSED 4u  /* door closed behind it: entering or inside */

struct shmq_algo_slot {
	/* Written by the slot's owner only; read by every other process.
	 * Dekker, Peterson: 1 = wants in. Filter: level 0..n-1 (0 = not
	 * trying). Szymanski: SHMQ_SZY_*. */
	shmq_atomic32 flag;
	/* Bakery: 1 while the owner picks its ticket. Owner writes; all read. */
	shmq_atomic32 choosing;
	/* Bakery: owner's ticket, 0 when not trying. Owner writes; all read. */
	shmq_atomic64 ticket;
	uint8_t pad[SHMQ_CACHE_LINE - 16]; /* the slot owns its line */
};

struct shmq_algo_shm {
	/* Header line: written once by init; read by every lock/unlock. */
	shmq_atomic32 magic;  /* init, last (release); lock/unlock (acquire) */
	shmq_atomic32 size;   /* init: sizeof(struct shmq_algo_shm), the
	                         layout check; lock/unlock compare it */
	shmq_atomic32 algo;   /* init: SHMQ_ALGO_*; lock/unlock */
	shmq_atomic32 nprocs; /* init: 1..SHMQ_ALGO_MAX_PROCS; lock/unlock */
	uint8_t hdr_pad[SHMQ_CACHE_LINE - 16];
	/* Dekker: whose turn it is to insist; the exiting process writes the
	 * other's number, a waiting process reads it. Peterson: the victim;
	 * each entrant writes its own number, both read it. */
	shmq_atomic32 turn;
	uint8_t turn_pad[SHMQ_CACHE_LINE - 4];
	/* Filter: victim[L] for level L = 1..n-1 (victim[0] unused); each
	 * process entering level L writes its number, those at L read it.
	 * Only ever compared, never used as an index. */
	shmq_atomic32 victim[SHMQ_ALGO_MAX_PROCS];
	struct shmq_algo_slot slot[SHMQ_ALGO_MAX_PROCS];
};

_Static_assert(sizeof(struct shmq_algo_slot) == SHMQ_CACHE_LINE,
               "an algorithm slot is one cache line");
_Static_assert(offsetof(struct shmq_algo_slot, flag) == 0 &&
               offsetof(struct shmq_algo_slot, choosing) == 4 &&
               offsetof(struct shmq_algo_slot, ticket) == 8,
               "algorithm slot offsets (docs/design.md)");
_Static_assert(offsetof(struct shmq_algo_shm, magic) == 0 &&
               offsetof(struct shmq_algo_shm, size) == 4 &&
               offsetof(struct shmq_algo_shm, algo) == 8 &&
               offsetof(struct shmq_algo_shm, nprocs) == 12 &&
               offsetof(struct shmq_algo_shm, turn) == 64 &&
               offsetof(struct shmq_algo_shm, victim) == 128 &&
               offsetof(struct shmq_algo_shm, slot) == 384,
               "algorithm state offsets (docs/design.md)");
_Static_assert(sizeof(struct shmq_algo_shm) == 384 + 64 * SHMQ_CACHE_LINE,
               "algorithm state is 4480 bytes (docs/design.md)");

/* ---- Channels (src/chan*.c) ----------------------------------------------
 * One object: the header (one page), the peer table (SHMQ_CHAN_MAX_PEERS
 * lines), then the ring at a page boundary. The creator writes everything
 * before the object gets its name (O_TMPFILE + linkat), so nobody ever sees
 * a half-made channel. Afterwards the identity line is read-only: every
 * process copies it once at open, checks it, and uses its copy; it
 * re-checks the shared one while it waits. */

#define SHMQ_CHAN_MAGIC UINT64_C(0x4e414843514d4853) /* "SHMQCHAN" */
#define SHMQ_CHAN_VERSION 11u /* 2: spsc records publish themselves;
                                3: peer states carry a generation;
                                4: and which counts it holds;
                                5: sample channels (the identity line
                                   names their data segment);
                                6: a samples reader area is a line per
                                   side, ctl.joins;
                                7: a peer line counts its bytes;
                                8: a sample descriptor is a line, a
                                   samples reader area three;
                                9: sleepers arm their event (one wake
                                   a sleep, not one a message);
                                10: the plain-fences flag; a flag
                                   not known is SHMQ_EVERSION;
                                11: samples under a page are packed
                                   on 128 B, not a page each; a
                                   sample descriptor is a line pair;
                                   a broadcast message of up to 112
                                   bytes is half a ring from the
                                   last (shmq__bcast_slot()) */
#define SHMQ_CHAN_HDR_SIZE 4096u
#define SHMQ_CHAN_PEERS_OFF SHMQ_CHAN_HDR_SIZE
#define SHMQ_CHAN_RING_OFF (2u * 4096u) /* after 64 peer lines */

/* Peer state words: the state in the low bits, the counts the line holds
 * beside it (a peer that dies anywhere in open or close leaves exactly
 * these to give back), and above them a generation that each take of the
 * line bumps, so that a finder who copied a line and judged it dead cannot
 * settle the next owner of the line (its CAS expects the exact word it
 * saw). Bits 0..5 the state, 6 HOLDS_ATTACH, 7 HOLDS_ROLE, 8..31 the
 * generation (mod 2^24). */
#define SHMQ_PEER_FREE 0u
#define SHMQ_PEER_ACTIVE 1u
#define SHMQ_PEER_DEAD 2u /* found dead; settled once HOLDS_* are clear */
#define SHMQ_PEER_STATE_MASK 0x3fu
#define SHMQ_PEER_STATE(w) ((w) & SHMQ_PEER_STATE_MASK)
#define SHMQ_PEER_HOLDS_ATTACH 0x40u /* one of hdr.attached */
#define SHMQ_PEER_HOLDS_ROLE 0x80u   /* one of hdr.writers/readers */
#define SHMQ_PEER_HOLDS (SHMQ_PEER_HOLDS_ATTACH | SHMQ_PEER_HOLDS_ROLE)
#define SHMQ_PEER_GEN 0x100u
#define SHMQ_PEER_GEN_MASK (~(SHMQ_PEER_GEN - 1u))

/* Word w's generation in state st, holding nothing. */
static inline uint32_t shmq__peer_word(uint32_t w, uint32_t st)
{
	return (w & SHMQ_PEER_GEN_MASK) | st;
}

/* The word of a line taken after word w: the next generation, ACTIVE. */
static inline uint32_t shmq__peer_taken(uint32_t w)
{
	return shmq__peer_word(w + SHMQ_PEER_GEN, SHMQ_PEER_ACTIVE);
}

/* Word w marked DEAD: its generation and what it holds kept. */
static inline uint32_t shmq__peer_as_dead(uint32_t w)
{
	return (w & ~SHMQ_PEER_STATE_MASK) | SHMQ_PEER_DEAD;
}

/* Whether w and v are the same state of the same generation (whatever
 * HOLDS_* each has). */
static inline int shmq__peer_same(uint32_t w, uint32_t v)
{
	return (w & ~SHMQ_PEER_HOLDS) == (v & ~SHMQ_PEER_HOLDS);
}

/* attached: the high bit closes the channel to new peers while the last
 * one removes its name. */
#define SHMQ_CHAN_CLOSING 0x80000000u

struct shmq_chan_hdr {
	/* Line 0, identity: creator only, before the name exists. */
	uint64_t magic;       /* SHMQ_CHAN_MAGIC */
	uint32_t version;     /* SHMQ_CHAN_VERSION */
	uint32_t layout_hash; /* shmq__chan_layout_hash() */
	uint32_t kind;        /* SHMQ_CHAN_* */
	uint32_t policy;      /* broadcast: SHMQ_POLICY_* */
	uint64_t object_size; /* bytes of the whole object (= fstat size) */
	uint64_t capacity;    /* spsc: ring bytes; others: slots; power of 2 */
	uint32_t msg_size;    /* mpmc/broadcast: largest message */
	uint32_t slot_size;   /* mpmc/broadcast: bytes per slot */
	uint64_t ring_off;    /* SHMQ_CHAN_RING_OFF */
	uint32_t max_peers;   /* SHMQ_CHAN_MAX_PEERS */
	uint32_t flags;       /* persist, huge pages, plain fences (chan.h) */
	int64_t spin_ns;      /* default spin before sleeping */
	/* samples only (zero for the other kinds): */
	uint32_t data_id;     /* System V shmid of the data segment */
	uint32_t hold;        /* samples a reader may hold at once (H) */
	uint64_t data_size;   /* bytes of the data segment */
	uint64_t data_nonce;  /* random; also in the data segment's header */
	uint64_t stride;      /* bytes from one sample to the next */
	uint32_t history;     /* samples a joining reader gets first (K) */
	uint32_t data_off;    /* offset of sample 0 in the data segment */
	uint8_t pad0[16];     /* to line 2 */
	/* Line 2, counters: any peer adds; shmq ls reads. */
	shmq_atomic64 sent;      /* messages committed by writers */
	shmq_atomic64 received;  /* messages consumed by readers */
	shmq_atomic64 lost;      /* broadcast overwrite: missed by readers */
	shmq_atomic64 recovered; /* slots taken back from dead peers */
	shmq_atomic32 writers;   /* writers attached now */
	shmq_atomic32 readers;   /* readers attached now */
	shmq_atomic32 writers_ever; /* writers that ever attached */
	shmq_atomic32 readers_ever; /* readers that ever attached */
	shmq_atomic32 attached;  /* peers attached now | SHMQ_CHAN_CLOSING */
	shmq_atomic32 dead_writers; /* writers found dead (never closed) */
	shmq_atomic32 dead_readers; /* readers found dead */
	shmq_atomic32 last_dead_pid; /* pid of the last peer found dead */
	/* Line 3: writers write, readers read. */
	shmq_atomic64 tail;             /* next position to write */
	struct shmq_event_shm data_ev;  /* writers signal readers */
	uint8_t pad3[64 - 24];
	/* Line 4: readers write, writers read. */
	shmq_atomic64 head;             /* spsc/mpmc: next position to read */
	struct shmq_event_shm space_ev; /* readers signal writers */
	uint8_t pad4[64 - 24];
};

/* role, pid and start are the owner's identity: written (relaxed) by the
 * owner before its release of ACTIVE, read (relaxed) by whoever judges the
 * line after an acquire load of state. A joiner may rewrite them while a
 * finder reads them: the finder acts on its copy only through a CAS that
 * expects the state word (generation included) it loaded first, so a copy
 * of another generation is never used. */
struct shmq_chan_peer {
	shmq_atomic32 state;  /* owner: ACTIVE after its lock byte is held,
	                         HOLDS_* as it counts, FREE at close;
	                         finders: ACTIVE -> DEAD, clear HOLDS_* */
	shmq_atomic32 role;   /* owner, before ACTIVE; all read */
	shmq_atomic32 pid;    /* owner, before ACTIVE; finders read */
	shmq_atomic32 asleep; /* owner: its announces in data_ev.waiters
	                         (bits 0..15) and space_ev.waiters (16..31);
	                         the settler of its death gives them back */
	shmq_atomic64 start;  /* owner's start time (ticks since boot) */
	shmq_atomic64 cursor; /* broadcast reader: next position it reads */
	shmq_atomic64 msgs;   /* owner: messages it sent or received so far */
	shmq_atomic64 lost;   /* owner (broadcast reader): messages it missed */
	shmq_atomic64 bytes;  /* owner: payload bytes it sent or received */
	uint8_t pad[64 - 56];
};

/* spsc ring record: an 8-byte header word, then the payload padded to 8
 * bytes. The word (written last, release) is: bits 32..63 the payload
 * length (PAD: the bytes skipped to the ring's end), bit 31 PAD, bits 1..30
 * the record's position / 8 (mod 2^30), bit 0 set (so never 0). 0 means
 * "not written yet": the writer zeroes the word after each record before
 * it publishes the record. */
struct shmq_chan_rec {
	shmq_atomic64 word; /* the writer (release); the reader (acquire) */
};

#define SHMQ_REC_PAD (UINT64_C(1) << 31)
#define SHMQ_REC_TAG_MASK UINT64_C(0x7fffffff) /* bits 0..30 */

/* The bits 0..30 of the header of the record at position pos. */
static inline uint64_t shmq__rec_tag(uint64_t pos)
{
	return (((pos >> 3) & 0x3fffffffu) << 1) | 1u;
}

/* Header of a message of len bytes at position pos. */
static inline uint64_t shmq__rec_word(uint64_t len, uint64_t pos)
{
	return len << 32 | shmq__rec_tag(pos);
}

/* Header of a PAD at position pos that skips `skip` bytes after itself. */
static inline uint64_t shmq__rec_pad_word(uint64_t skip, uint64_t pos)
{
	return skip << 32 | SHMQ_REC_PAD | shmq__rec_tag(pos);
}

static inline uint64_t shmq__rec_len(uint64_t w)
{
	return w >> 32;
}

static inline int shmq__rec_is_pad(uint64_t w)
{
	return (w & SHMQ_REC_PAD) != 0;
}

/* Whether header w was written for position pos. */
static inline int shmq__rec_at(uint64_t w, uint64_t pos)
{
	return (w & SHMQ_REC_TAG_MASK) == shmq__rec_tag(pos);
}

/* mpmc/broadcast slot header, then msg_size bytes, to slot_size. */
struct shmq_chan_slot {
	shmq_atomic64 word; /* mpmc: seq|state|peer; broadcast: seqlock */
	shmq_atomic32 len;  /* payload bytes, written before publication
	                       (atomic: a reader with a stale word may read
	                       it while the next round writes it) */
	uint32_t reserved;
};

/* mpmc slot word: bits 8..63 the position (mod 2^56), 6..7 the state,
 * 0..5 the peer that holds it. */
#define SHMQ_SLOT_EMPTY 0u   /* free for the writer of `position` */
#define SHMQ_SLOT_WRITING 1u /* a writer (peer) fills it */
#define SHMQ_SLOT_FULL 2u    /* ready for the reader of `position` */
#define SHMQ_SLOT_READING 3u /* a reader (peer) copies it out */
#define SHMQ_SLOT_SEQ_MASK ((UINT64_C(1) << 56) - 1)

static inline uint64_t shmq__slot_word(uint64_t seq, uint32_t st,
                                       uint32_t peer)
{
	return (seq & SHMQ_SLOT_SEQ_MASK) << 8 | (uint64_t)(st & 3u) << 6 |
	       (peer & 63u);
}

static inline uint64_t shmq__slot_seq(uint64_t w)
{
	return w >> 8;
}

static inline uint32_t shmq__slot_state(uint64_t w)
{
	return (uint32_t)(w >> 6) & 3u;
}

static inline uint32_t shmq__slot_peer(uint64_t w)
{
	return (uint32_t)w & 63u;
}

/* broadcast: the slot of message p in a ring of n (a power of two) slots
 * of `size` bytes. Slots of two lines at most (messages up to 112 bytes)
 * take consecutive messages about half the ring apart (an odd step, so
 * each lap takes every slot once): a reader's CPU prefetches the lines
 * after the slot it reads, and side by side those were the slots the
 * writer fills next. Bigger slots stay in order, where that prefetch
 * serves the copies (docs/performance.md). */
#define SHMQ_BCAST_SPREAD_MAX 128u
static inline uint64_t shmq__bcast_slot(uint64_t p, uint64_t n, uint32_t size)
{
	uint64_t step = size <= SHMQ_BCAST_SPREAD_MAX ? (n / 2 + 1) | 1 : 1;
	return (p * step) & (n - 1);
}

/* broadcast slot word, a seqlock: odd while the writer fills the slot with
 * message p, even once p is whole in it. */
static inline uint64_t shmq__bcast_filling(uint64_t p)
{
	return 2 * p + 1;
}

static inline uint64_t shmq__bcast_filled(uint64_t p)
{
	return 2 * p + 2;
}

/* ---- Sample channels (src/chan_samples.c, docs/design.md 10.8) -----------
 * The channel object's ring area holds the control part, in this order:
 * the writer's line (struct shmq_samples_ctl), N sample descriptors, the
 * history ring (K words, to a line), then one reader area per peer line
 * (struct shmq_samples_rline, then its queue of N words, to a line). The
 * sample bytes are in a separate System V segment (data_id): a header page
 * (struct shmq_samples_data), then sample i at data_off + i * stride. */

#define SHMQ_SAMPLES_DATA_MAGIC UINT64_C(0x4154414453514d53) /* "SMQSDATA" */
#define SHMQ_SAMPLES_MAX 4096u   /* samples in a pool, at most */
/* loan word: 0, or the loaned sample + 1, with PUBLISHING while commit
 * pushes it to the readers. */
#define SHMQ_LOAN_PUBLISHING 0x80000000u
#define SHMQ_LOAN_IDX_MASK 0xffffu

struct shmq_samples_ctl {
	shmq_atomic32 loan;     /* the writer; the next writer's reclaim */
	uint32_t reserved;
	shmq_atomic64 seq;      /* the writer: seq of the next publish */
	shmq_atomic64 hist_pos; /* the writer: publishes into the history */
	shmq_atomic32 joins;    /* each reader, once its line is ACTIVE: the
	                           writer scans the peer lines again when it
	                           changed, not at every commit */
	uint32_t reserved1;
	uint8_t pad[128 - 32]; /* a line pair, as each descriptor's */
};

/* One sample. mask bit r: peer line r (a reader) has it queued or holds
 * it; set by the writer at commit (or a joining reader taking it from the
 * history), cleared (release) by whoever claims that reference: the reader
 * releasing it, the writer dropping it (overwrite), a settler of the dead
 * reader. in_hist: the sample is in the history ring (the writer sets and
 * clears it). Free: mask == 0, in_hist == 0 and not the loan. */
struct shmq_sample_desc {
	shmq_atomic64 mask;   /* see above */
	shmq_atomic64 seq;    /* the writer, before the pushes (release) */
	shmq_atomic64 len;    /* the writer, before the pushes */
	shmq_atomic32 in_hist;/* the writer */
	uint32_t reserved;
	/* A line pair per sample: the writer fetches the next loan's line
	 * while the readers still read and release the last one's, and a
	 * reader's adjacent-line prefetch (a pair at a time) does not take
	 * it from the writer */
	uint8_t pad[128 - 32];
};

/* A reader's area, per peer line: two cache lines, one per side, so that a
 * message moves no line the other side writes besides the entry and the
 * sample (docs/design.md 10.8), then its queue: head..tail (mod N) of queue
 * entries. The writer (and a joining reader, before its line is ACTIVE)
 * pushes at tail; anyone who takes an entry CASes head forward and owns the
 * reference it carries (the reader receiving, the writer dropping, a
 * settler). The writer reads head only when its own copy says the queue is
 * full (head only goes forward, so an old copy is never too far on). */
struct shmq_samples_rline {
	/* The writer's line: the reader reads it at each receive (which
	 * takes it from the writer's cache), so the writer only stores here
	 * while pushing: it keeps its own copy of tail. */
	shmq_atomic64 tail;   /* the writer (release); joiner before ACTIVE */
	shmq_atomic64 lost;   /* the writer (overwrite drops); reports read */
	uint8_t pad0[64 - 16];
	/* The reader's line: the writer reads it when full or dropping. */
	shmq_atomic64 head;   /* the reader (store under BLOCK, else CAS), the
	                         writer dropping, settlers (CAS) */
	shmq_atomic32 held;   /* the reader: samples it holds (a report) */
	uint32_t reserved;
	uint8_t pad1[64 - 16];
	/* A quiet line: written only when the line's use ends, read by the
	 * writer at each push (so it stays in the writer's cache). */
	shmq_atomic32 closes; /* whoever empties the line for good (its
	                         reader leaving, a settler, a reclaim), first:
	                         the writer's re-check before each push */
	uint32_t reserved2;
	uint8_t pad2[64 - 8];
};

/* A queue or history entry: bits 0..15 the sample, 16..39 its seq (mod
 * 2^24), 40..63 the generation of the reader line it was pushed for. */
static inline uint64_t shmq__sample_entry(uint32_t idx, uint64_t seq,
                                          uint32_t gen)
{
	return (uint64_t)(idx & 0xffffu) | (seq & 0xffffffu) << 16 |
	       (uint64_t)(gen & 0xffffffu) << 40;
}
static inline uint32_t shmq__entry_idx(uint64_t e)
{
	return (uint32_t)(e & 0xffffu);
}
static inline uint64_t shmq__entry_seq(uint64_t e)
{
	return (e >> 16) & 0xffffffu;
}
static inline uint32_t shmq__entry_gen(uint64_t e)
{
	return (uint32_t)(e >> 40);
}

/* The data segment's first page: the creator writes it once. */
struct shmq_samples_data {
	uint64_t magic;       /* SHMQ_SAMPLES_DATA_MAGIC */
	uint64_t nonce;       /* = the channel header's data_nonce */
	uint64_t size;        /* = data_size */
	uint64_t stride;
	uint32_t capacity;
	uint32_t data_off;
	uint8_t pad[64 - 40];
};

_Static_assert(sizeof(struct shmq_samples_ctl) == 128 &&
               offsetof(struct shmq_samples_ctl, loan) == 0 &&
               offsetof(struct shmq_samples_ctl, seq) == 8 &&
               offsetof(struct shmq_samples_ctl, hist_pos) == 16 &&
               offsetof(struct shmq_samples_ctl, joins) == 24,
               "samples writer line (docs/design.md)");
_Static_assert(sizeof(struct shmq_sample_desc) == 128 &&
               offsetof(struct shmq_sample_desc, mask) == 0 &&
               offsetof(struct shmq_sample_desc, seq) == 8 &&
               offsetof(struct shmq_sample_desc, len) == 16 &&
               offsetof(struct shmq_sample_desc, in_hist) == 24,
               "sample descriptor (docs/design.md)");
_Static_assert(sizeof(struct shmq_samples_rline) == 192 &&
               offsetof(struct shmq_samples_rline, tail) == 0 &&
               offsetof(struct shmq_samples_rline, lost) == 8 &&
               offsetof(struct shmq_samples_rline, head) == 64 &&
               offsetof(struct shmq_samples_rline, held) == 72 &&
               offsetof(struct shmq_samples_rline, closes) == 128,
               "samples reader area (docs/design.md)");
_Static_assert(sizeof(struct shmq_samples_data) == 64 &&
               offsetof(struct shmq_samples_data, nonce) == 8 &&
               offsetof(struct shmq_samples_data, capacity) == 32,
               "samples data header (docs/design.md)");
_Static_assert(SHMQ_SAMPLES_MAX <= SHMQ_LOAN_IDX_MASK + 1u &&
               SHMQ_CHAN_MAX_PEERS == 64,
               "a sample index fits 16 bits; a mask bit per peer line");

/* The whole object (docs/design.md section 10). */
_Static_assert(SHMQ_CHAN_HDR_SIZE == 4096 && SHMQ_CHAN_PEERS_OFF == 4096 &&
               SHMQ_CHAN_RING_OFF == 8192 && SHMQ_CHAN_MAX_PEERS == 64,
               "channel object: header page, 64 peer lines, ring at 8192");
_Static_assert(sizeof(struct shmq_chan_hdr) == 320 &&
               sizeof(struct shmq_chan_hdr) <= SHMQ_CHAN_HDR_SIZE,
               "channel header is 320 bytes, in its page");
/* Header line 0, the identity (docs/design.md 10.1). */
_Static_assert(offsetof(struct shmq_chan_hdr, magic) == 0 &&
               offsetof(struct shmq_chan_hdr, version) == 8 &&
               offsetof(struct shmq_chan_hdr, layout_hash) == 12 &&
               offsetof(struct shmq_chan_hdr, kind) == 16 &&
               offsetof(struct shmq_chan_hdr, policy) == 20 &&
               offsetof(struct shmq_chan_hdr, object_size) == 24 &&
               offsetof(struct shmq_chan_hdr, capacity) == 32 &&
               offsetof(struct shmq_chan_hdr, msg_size) == 40 &&
               offsetof(struct shmq_chan_hdr, slot_size) == 44 &&
               offsetof(struct shmq_chan_hdr, ring_off) == 48 &&
               offsetof(struct shmq_chan_hdr, max_peers) == 56 &&
               offsetof(struct shmq_chan_hdr, flags) == 60 &&
               offsetof(struct shmq_chan_hdr, spin_ns) == 64 &&
               offsetof(struct shmq_chan_hdr, data_id) == 72 &&
               offsetof(struct shmq_chan_hdr, hold) == 76 &&
               offsetof(struct shmq_chan_hdr, data_size) == 80 &&
               offsetof(struct shmq_chan_hdr, data_nonce) == 88 &&
               offsetof(struct shmq_chan_hdr, stride) == 96 &&
               offsetof(struct shmq_chan_hdr, history) == 104 &&
               offsetof(struct shmq_chan_hdr, data_off) == 108,
               "channel identity offsets (docs/design.md)");
/* Header line 2, the counters. */
_Static_assert(offsetof(struct shmq_chan_hdr, sent) == 128 &&
               offsetof(struct shmq_chan_hdr, received) == 136 &&
               offsetof(struct shmq_chan_hdr, lost) == 144 &&
               offsetof(struct shmq_chan_hdr, recovered) == 152 &&
               offsetof(struct shmq_chan_hdr, writers) == 160 &&
               offsetof(struct shmq_chan_hdr, readers) == 164 &&
               offsetof(struct shmq_chan_hdr, writers_ever) == 168 &&
               offsetof(struct shmq_chan_hdr, readers_ever) == 172 &&
               offsetof(struct shmq_chan_hdr, attached) == 176 &&
               offsetof(struct shmq_chan_hdr, dead_writers) == 180 &&
               offsetof(struct shmq_chan_hdr, dead_readers) == 184 &&
               offsetof(struct shmq_chan_hdr, last_dead_pid) == 188,
               "channel counter offsets (docs/design.md)");
/* Header lines 3 and 4: the writers' and the readers' index apart. */
_Static_assert(offsetof(struct shmq_chan_hdr, tail) == 192 &&
               offsetof(struct shmq_chan_hdr, data_ev) == 200 &&
               offsetof(struct shmq_chan_hdr, head) == 256 &&
               offsetof(struct shmq_chan_hdr, space_ev) == 264,
               "channel index offsets (docs/design.md)");
/* A peer line (docs/design.md 10.2). */
_Static_assert(sizeof(struct shmq_chan_peer) == 64, "a peer is one line");
_Static_assert(offsetof(struct shmq_chan_peer, state) == 0 &&
               offsetof(struct shmq_chan_peer, role) == 4 &&
               offsetof(struct shmq_chan_peer, pid) == 8 &&
               offsetof(struct shmq_chan_peer, asleep) == 12 &&
               offsetof(struct shmq_chan_peer, start) == 16 &&
               offsetof(struct shmq_chan_peer, cursor) == 24 &&
               offsetof(struct shmq_chan_peer, msgs) == 32 &&
               offsetof(struct shmq_chan_peer, lost) == 40 &&
               offsetof(struct shmq_chan_peer, bytes) == 48,
               "peer line offsets (docs/design.md)");
_Static_assert(SHMQ_CHAN_PEERS_OFF + SHMQ_CHAN_MAX_PEERS *
               sizeof(struct shmq_chan_peer) <= SHMQ_CHAN_RING_OFF,
               "the peer table fits before the ring");
_Static_assert(SHMQ_PEER_STATE_MASK == 0x3f && SHMQ_PEER_HOLDS == 0xc0 &&
               SHMQ_PEER_GEN_MASK == 0xffffff00u,
               "peer state word: state 0..5, HOLDS_ 6..7, generation 8..31");
/* The ring (docs/design.md 10.4-10.6). */
_Static_assert(sizeof(struct shmq_chan_rec) == 8 &&
               offsetof(struct shmq_chan_rec, word) == 0, "record header");
_Static_assert(sizeof(struct shmq_chan_slot) == 16 &&
               offsetof(struct shmq_chan_slot, word) == 0 &&
               offsetof(struct shmq_chan_slot, len) == 8 &&
               offsetof(struct shmq_chan_slot, reserved) == 12,
               "slot header");
_Static_assert(SHMQ_CHAN_MAX_PEERS <= 64,
               "an mpmc slot word names its holder in 6 bits");

/* ---- Boards (src/board*.c) -----------------------------------------------
 * One object: the header (two lines), then K entries of entry_size bytes.
 * The creator writes everything before the object gets its name, so the
 * identity line is read-only afterwards: each process copies it once at
 * open, checks it, and uses its copy. An entry: a line of words, a line
 * for its name, then its two value buffers (each V bytes rounded up to a
 * line). Value n of an entry (its n-th set) lives in buffer n % 2. */

#define SHMQ_BOARD_MAGIC UINT64_C(0x445242514d514853) /* "SHMQBRD" */
#define SHMQ_BOARD_VERSION 2u /* 2: sleepers arm their event */
#define SHMQ_BOARD_HDR_SIZE 128u
#define SHMQ_BOARD_ENTRY_HDR 128u /* the words line and the name line */

struct shmq_board_hdr {
	/* Line 0, identity: creator only, before the name exists. */
	uint64_t magic;       /* SHMQ_BOARD_MAGIC */
	uint32_t version;     /* SHMQ_BOARD_VERSION */
	uint32_t layout_hash; /* shmq__board_layout_hash() */
	uint64_t object_size; /* bytes of the whole object (= fstat size) */
	uint32_t entries;     /* K */
	uint32_t value_size;  /* V */
	uint64_t entry_size;  /* 128 + 2 * V rounded up to 64 */
	uint64_t entries_off; /* SHMQ_BOARD_HDR_SIZE */
	uint8_t pad0[16];
	/* Line 1: writers (counters: atomic adds), binders. */
	struct shmq_mutex_shm lock; /* every bind holds it */
	struct shmq_event_shm any;  /* every set notifies; waiters on any
	                               entry sleep on it */
	shmq_atomic64 updates;   /* sets published (release add); readers */
	shmq_atomic32 named;     /* entries given a name; readers */
	shmq_atomic32 recovered; /* sets a dead writer left half-done */
	uint8_t pad1[16];
};

/* An entry's seq word: bits 1..63 the count n of values published (0:
 * never set), bit 0 set while a writer fills buffer (n + 1) % 2. */
struct shmq_board_entry {
	/* Line 0: writers write under the entry's lock; readers read. */
	shmq_atomic64 seq;        /* writer: odd (relaxed, then a release
	                             fence), even n+1 (release); readers
	                             (acquire, and after an acquire fence) */
	shmq_atomic32 len[2];     /* writer, before the even seq: the
	                             length of the value in each buffer */
	struct shmq_event_shm ev; /* writer notifies after each set;
	                             waiters on this entry sleep on it */
	shmq_atomic32 has_name;   /* bind: 1 (release) after the name, once */
	uint32_t reserved;
	struct shmq_mutex_shm lock; /* every set of this entry holds it */
	uint8_t pad0[8];
	/* Line 1: written once by bind, before has_name; read by all. */
	char name[64];            /* NUL-terminated, 1..63 bytes */
	/* then buffer 0 and buffer 1, each entry_size/2 - 64 bytes */
};

static inline uint64_t shmq__board_entry_size(uint32_t value_size)
{
	return SHMQ_BOARD_ENTRY_HDR + 2 * (((uint64_t)value_size + 63) & ~UINT64_C(63));
}

_Static_assert(sizeof(struct shmq_board_hdr) == SHMQ_BOARD_HDR_SIZE,
               "board header is two lines (docs/design.md)");
_Static_assert(offsetof(struct shmq_board_hdr, magic) == 0 &&
               offsetof(struct shmq_board_hdr, version) == 8 &&
               offsetof(struct shmq_board_hdr, layout_hash) == 12 &&
               offsetof(struct shmq_board_hdr, object_size) == 16 &&
               offsetof(struct shmq_board_hdr, entries) == 24 &&
               offsetof(struct shmq_board_hdr, value_size) == 28 &&
               offsetof(struct shmq_board_hdr, entry_size) == 32 &&
               offsetof(struct shmq_board_hdr, entries_off) == 40 &&
               offsetof(struct shmq_board_hdr, lock) == 64 &&
               offsetof(struct shmq_board_hdr, any) == 80 &&
               offsetof(struct shmq_board_hdr, updates) == 96 &&
               offsetof(struct shmq_board_hdr, named) == 104 &&
               offsetof(struct shmq_board_hdr, recovered) == 108,
               "board header offsets (docs/design.md)");
_Static_assert(sizeof(struct shmq_board_entry) == SHMQ_BOARD_ENTRY_HDR &&
               offsetof(struct shmq_board_entry, seq) == 0 &&
               offsetof(struct shmq_board_entry, len) == 8 &&
               offsetof(struct shmq_board_entry, ev) == 16 &&
               offsetof(struct shmq_board_entry, has_name) == 32 &&
               offsetof(struct shmq_board_entry, lock) == 40 &&
               offsetof(struct shmq_board_entry, name) == 64,
               "board entry offsets (docs/design.md)");
_Static_assert(SHMQ_BOARD_NAME_MAX + 1 == 64, "a name and its NUL: a line");

#endif
