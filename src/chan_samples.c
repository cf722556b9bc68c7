/*
 * samples: one writer, many readers, zero copy both ways (docs/design.md
 * 10.8). The writer loans a sample of a pool of N, fills it in place and
 * publishes it to every reader attached; each reader gets a read-only
 * pointer to the same bytes and holds it until it releases it.
 *
 * The bytes live in a System V segment apart from the channel object: the
 * writer attaches it read-write, readers SHM_RDONLY, so no reader can
 * change what the others read. The control part (in the object's ring
 * area) is untrusted as everything shared: every index is copied out and
 * bounded before use.
 *
 * A reference is a bit: bit r of a sample's mask says reader line r has it
 * (queued or held). Whoever takes a queue entry (CAS of the queue's head:
 * the reader receiving, the writer dropping under OVERWRITE, a settler)
 * owns the bit the entry carries; releasing is clearing the bit. Clearing
 * a bit twice is harmless, so the settling of a dead reader (clear bit r in
 * every mask) can run again after a settler dies half way, and never takes
 * a reference twice. A sample is free when its mask is 0, it is not in the
 * history ring, and it is not the writer's loan.
 */
#include "chan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SAMPLES 16u
#define DEFAULT_MSG 4096u
#define HUGE_2M (UINT64_C(2) << 20)
#define SMALL_UNIT 128u /* two lines: the adjacent-line prefetch of one
                           sample never takes its neighbour's */
#define NO_SAMPLE UINT32_MAX

/* The handle's own state: never in shared memory. */
struct shmq__samples {
	shmq_seg *data;           /* our attachment of the data segment */
	unsigned char *base;      /* sample 0 */
	uint32_t gen;             /* reader: our line's generation */
	uint32_t next;            /* reader: taken from the queue, not yet
	                             handed out (NO_SAMPLE: none) */
	uint32_t loan;            /* writer: the open loan, or NO_SAMPLE */
	uint32_t hint;            /* writer: where the next search starts */
	uint32_t nheld;           /* reader: held[0..nheld), oldest first */
	uint32_t joins;           /* writer: ctl.joins when `to` was made */
	int stale;                /* writer: `to` must be made again */
	uint64_t to;              /* writer: lines of the active readers */
	uint32_t word[SHMQ_CHAN_MAX_PEERS]; /* writer: their state words */
	uint32_t closes[SHMQ_CHAN_MAX_PEERS]; /* writer: their rline.closes */
	uint64_t head[SHMQ_CHAN_MAX_PEERS]; /* writer: each line's head as
	                             last read (never ahead of it) */
	uint64_t tail[SHMQ_CHAN_MAX_PEERS]; /* writer: each listed line's
	                             tail (we are its only pusher) */
	unsigned char *lines;     /* reader area 0 */
	uint64_t line_sz;         /* bytes from one reader area to the next */
	uint32_t held[];
};

/* ---- The control part ---------------------------------------------------- */

static uint64_t hist_bytes(uint64_t k)
{
	return shmq__round_up(8 * k, 64);
}

static uint64_t line_bytes(uint64_t n)
{
	return sizeof(struct shmq_samples_rline) + shmq__round_up(8 * n, 64);
}

static uint64_t control_bytes(uint64_t n, uint64_t k)
{
	return sizeof(struct shmq_samples_ctl) +
	       n * sizeof(struct shmq_sample_desc) + hist_bytes(k) +
	       SHMQ_CHAN_MAX_PEERS * line_bytes(n);
}

static struct shmq_samples_ctl *ctl(struct shmq_chan *ch)
{
	return (struct shmq_samples_ctl *)ch->ring;
}

static struct shmq_sample_desc *desc(struct shmq_chan *ch, uint32_t i)
{
	return (struct shmq_sample_desc *)(ch->ring +
	                                   sizeof(struct shmq_samples_ctl)) + i;
}

static shmq_atomic64 *hist(struct shmq_chan *ch)
{
	return (shmq_atomic64 *)(ch->ring + sizeof(struct shmq_samples_ctl) +
	                         ch->capacity * sizeof(struct shmq_sample_desc));
}

static unsigned char *lines(struct shmq_chan *ch)
{
	return (unsigned char *)hist(ch) + hist_bytes(ch->history);
}

/* A look without an attachment (shmq_chan_stat) computes where line r is.
 * Apart, so that rline() stays a few instructions inline. */
__attribute__((noinline))
static struct shmq_samples_rline *rline_computed(struct shmq_chan *ch,
                                                 unsigned r)
{
	return (struct shmq_samples_rline *)(lines(ch) +
	                                     r * line_bytes(ch->capacity));
}

/* From the handle's copy once attached (the hot paths: several a
 * message). */
static inline struct shmq_samples_rline *rline(struct shmq_chan *ch,
                                               unsigned r)
{
	const struct shmq__samples *s = ch->smp;
	if (__builtin_expect(s && s->lines, 1))
		return (struct shmq_samples_rline *)(s->lines + r * s->line_sz);
	return rline_computed(ch, r);
}

static shmq_atomic64 *queue(struct shmq_chan *ch, unsigned r)
{
	return (shmq_atomic64 *)(rline(ch, r) + 1);
}

static uint64_t bit(unsigned r)
{
	return UINT64_C(1) << r;
}

/* The generation of a peer state word (24 bits). */
static uint32_t gen_of(uint32_t w)
{
	return (w & SHMQ_PEER_GEN_MASK) >> 8;
}

/* History entries carry generation 1 so that 0 means empty. */
static uint64_t hist_entry(uint32_t idx, uint64_t seq)
{
	return shmq__sample_entry(idx, seq, 1);
}

/* Whether entry e names sample idx as its publish `seq` made it. */
static int entry_is(uint64_t e, uint32_t idx, uint64_t seq)
{
	return shmq__entry_idx(e) == idx &&
	       shmq__entry_seq(e) == (seq & 0xffffffu);
}

/* ---- Geometry ------------------------------------------------------------ */

static uint64_t unit_of(uint32_t hdr_flags)
{
	long page = sysconf(_SC_PAGESIZE);
	if (hdr_flags & SHMQ__CHAN_HDR_HUGE_2M)
		return HUGE_2M;
	return page > 0 ? (uint64_t)page : 4096;
}

/* Bytes from a sample to the next. Samples under a page are packed on
 * SMALL_UNIT: a pool of 1024 64-byte samples then spans 32 pages, not 1024
 * (a TLB miss at every message of a round trip); bigger ones start on a
 * page, or on a huge page when the pool is on them. */
static uint64_t stride_of(uint64_t msg_size, uint64_t unit)
{
	uint64_t small = shmq__round_up(msg_size, SMALL_UNIT);
	return small < unit && unit < HUGE_2M ? small
	                                      : shmq__round_up(msg_size, unit);
}

/* Whether the pool can serve `readers` readers: each may hold `hold`,
 * the history keeps `history`, the writer loans one and needs one more
 * to make progress. */
static int pool_ok(uint64_t n, uint64_t readers, uint64_t hold,
                   uint64_t history)
{
	return n >= readers * hold + history + 2;
}

static int samples_plan(const struct shmq_chan_opts *o,
                        struct shmq__chan_geometry *g)
{
	uint64_t n = g->capacity, unit = unit_of(g->flags);
	g->msg_size = o->msg_size ? (uint32_t)o->msg_size : DEFAULT_MSG;
	g->hold = g->hold ? g->hold : 1;
	if (n < 2 || n > SHMQ_SAMPLES_MAX || g->hold > n || g->history > n)
		return -EINVAL;
	if (!pool_ok(n, 1, g->hold, g->history))
		return SHMQ_EPOOL;
	g->stride = stride_of(g->msg_size, unit);
	g->data_off = (uint32_t)unit;
	g->data_size = g->data_off + n * g->stride;
	g->ring_bytes = control_bytes(n, g->history);
	return 0;
}

static int samples_check(const struct shmq_chan_hdr *h, uint64_t size,
                         uint64_t *ring)
{
	uint64_t n = h->capacity;
	(void)size;
	if (n < 2 || n > SHMQ_SAMPLES_MAX || h->hold == 0 || h->hold > n ||
	    h->history > n || !pool_ok(n, 1, h->hold, h->history) ||
	    !h->msg_size || h->stride < h->msg_size || h->stride % SMALL_UNIT ||
	    h->stride > (UINT64_C(1) << 31) || h->data_off % 4096 ||
	    h->data_off < sizeof(struct shmq_samples_data) ||
	    h->data_size != h->data_off + n * h->stride)
		return -EBADMSG;
	*ring = control_bytes(n, h->history);
	return 0;
}

/* ---- The data segment ---------------------------------------------------- */

static uint64_t new_nonce(void)
{
	uint64_t v;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^
	       (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_sec;
}

static void remove_id(int id)
{
	shmctl(id, IPC_RMID, NULL);
}

/* Makes the data segment and writes its header. Unless the channel
 * persists, the segment is marked removed at once: Linux lets a process
 * attach a removed segment while it has attachments, and frees it with the
 * last detach, even a killed process's, so nothing is left behind. */
static int samples_prepare(struct shmq__chan_geometry *g)
{
	struct shmq_seg_opts so = {
		.size = g->data_size, .mode = g->mode,
		.flags = g->flags & SHMQ__CHAN_HDR_HUGE_2M ? SHMQ_SEG_HUGE_2M : 0,
	};
	shmq_seg *seg;
	int rc = shmq_seg_create(&seg, "sysv:private", &so);
	if (rc < 0)
		return rc;
	g->data_nonce = new_nonce();
	g->data_id = (uint32_t)shmq_seg_id(seg);
	struct shmq_samples_data *d = shmq_seg_addr(seg);
	d->magic = SHMQ_SAMPLES_DATA_MAGIC;
	d->nonce = g->data_nonce;
	d->size = g->data_size;
	d->stride = g->stride;
	d->capacity = (uint32_t)g->capacity;
	d->data_off = g->data_off;
	if (!(g->flags & SHMQ__CHAN_HDR_PERSIST))
		remove_id(shmq_seg_id(seg));
	g->data = seg;
	return 0;
}

static void samples_unprepare(struct shmq__chan_geometry *g)
{
	if (g->flags & SHMQ__CHAN_HDR_PERSIST)
		remove_id(shmq_seg_id(g->data));
	shmq_seg_close(g->data);
	g->data = NULL;
}

/* Whether segment id is the one identity line h names, owned by the
 * owner of the channel object (fd): its size, owner, then its header's
 * magic and nonce. 0, -EIDRM (gone), -EBADMSG (another segment). */
static int data_stat(uint32_t id, uint64_t size, int fd)
{
	struct shmid_ds ds;
	struct stat sb;
	if (id > INT32_MAX || shmctl((int)id, IPC_STAT, &ds) < 0)
		return errno == EACCES ? -EACCES
		       : errno == EINVAL || errno == EIDRM ? -EIDRM : -EBADMSG;
	if (fstat(fd, &sb) < 0 || ds.shm_perm.uid != sb.st_uid ||
	    ds.shm_segsz < size)
		return -EBADMSG;
	return 0;
}

static int data_header_ok(const void *addr, uint64_t nonce, uint64_t size,
                          uint64_t stride, uint64_t n, uint32_t off)
{
	const struct shmq_samples_data *d = addr;
	return d->magic == SHMQ_SAMPLES_DATA_MAGIC && d->nonce == nonce &&
	       d->size == size && d->stride == stride && d->capacity == n &&
	       d->data_off == off;
}

/* Attaches the data segment the identity names (the creator's writer
 * keeps the attachment it made). Never trusts the id: see data_stat. */
static int attach_data(struct shmq_chan *ch, shmq_seg **out)
{
	char loc[64];
	int rc;
	if (ch->data_created && ch->role == SHMQ_WRITER) {
		*out = ch->data_created;
		ch->data_created = NULL;
		return 0;
	}
	if ((rc = data_stat(ch->data_id, ch->data_size, ch->fd)) < 0)
		return rc;
	struct shmq_seg_opts so = {
		.size = ch->data_size,
		.flags = SHMQ_ANY_OWNER |
		         (ch->role == SHMQ_READER ? SHMQ_SEG_RDONLY : 0),
	};
	snprintf(loc, sizeof(loc), "sysv:id=%u", ch->data_id);
	rc = shmq_seg_open(out, loc, &so);
	if (rc < 0)
		return rc == -ENOENT ? -EIDRM : rc == SHMQ_ESMALL ? -EBADMSG : rc;
	if (!data_header_ok(shmq_seg_addr(*out), ch->data_nonce, ch->data_size,
	                    ch->stride, ch->capacity, ch->data_off)) {
		shmq_seg_close(*out);
		*out = NULL;
		return -EBADMSG;
	}
	return 0;
}

static int samples_attach(struct shmq_chan *ch)
{
	struct shmq__samples *s = calloc(1, sizeof(*s) +
	                                   ch->hold * sizeof(uint32_t));
	if (!s)
		return -ENOMEM;
	ch->smp = s;
	s->next = s->loan = NO_SAMPLE;
	s->stale = 1;
	s->lines = lines(ch);
	s->line_sz = line_bytes(ch->capacity);
	int rc = attach_data(ch, &s->data);
	if (rc < 0)
		return rc;
	/* A creator that reads attaches read-only above, then lets go of
	 * its read-write attachment: after it, so the segment, removed
	 * already, keeps an attachment throughout. */
	if (ch->data_created) {
		shmq_seg_close(ch->data_created);
		ch->data_created = NULL;
	}
	s->base = (unsigned char *)shmq_seg_addr(s->data) + ch->data_off;
	return 0;
}

void shmq__samples_free(struct shmq_chan *ch)
{
	if (ch->data_created)
		shmq_seg_close(ch->data_created);
	ch->data_created = NULL;
	if (ch->smp && ch->smp->data)
		shmq_seg_close(ch->smp->data);
	free(ch->smp);
	ch->smp = NULL;
}

int shmq__samples_unlink_data(const struct shmq_chan_hdr *h, int fd)
{
	if (h->kind != SHMQ_CHAN_SAMPLES || !(h->flags & SHMQ__CHAN_HDR_PERSIST))
		return 0;
	int rc = data_stat(h->data_id, h->data_size, fd);
	if (rc < 0)
		return rc == -EIDRM ? 0 : rc; /* gone already */
	void *p = shmat((int)h->data_id, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return -errno;
	int ok = data_header_ok(p, h->data_nonce, h->data_size, h->stride,
	                        h->capacity, h->data_off);
	shmdt(p);
	if (!ok)
		return -EBADMSG; /* not ours: never remove it */
	remove_id((int)h->data_id);
	return 0;
}

/* Whether /dev/shm entry name is a persistent samples channel of our
 * format whose data segment is id (checked as attach does: data_stat). */
static int names_data(int dirfd, const char *name, int id)
{
	struct shmq_chan_hdr h;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	                              O_CLOEXEC);
	if (fd < 0)
		return 0;
	int yes = pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	          h.magic == SHMQ_CHAN_MAGIC && h.version == SHMQ_CHAN_VERSION &&
	          h.kind == SHMQ_CHAN_SAMPLES &&
	          (h.flags & SHMQ__CHAN_HDR_PERSIST) && h.data_id == (uint32_t)id &&
	          data_stat(h.data_id, h.data_size, fd) == 0;
	close(fd);
	return yes;
}

/* A persistent channel's data segment has no attachment while nobody uses
 * the channel and its creator may be gone: listed alone it would look
 * like an orphan, and `shmq rm --orphans` would take a live channel's
 * data. Reads headers only; never attaches the segment. */
int shmq__samples_data_of(int id)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	int found = 0;
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		found = names_data(dirfd(d), de->d_name, id);
	}
	closedir(d);
	return found;
}

/* ---- References ---------------------------------------------------------- */

/* Clears reader line r's reference on sample i: 1 if it held one. */
static int unref(struct shmq_chan *ch, uint32_t i, unsigned r)
{
	/* release: our reads of the sample's bytes happen before the writer
	 * reuses it; pairs with the writer's seq_cst (acquire) load of the
	 * mask in is_free() */
	uint64_t old = shmq_and(&desc(ch, i)->mask, ~bit(r), SHMQ_RELEASE);
	return (old & bit(r)) != 0;
}

#define SPAN_TRIES 1024 /* the writer's drops racing our loads, in a row */

/* Reader line l's queue: [*h, *t), or -EBADMSG when it is no queue (more
 * than N entries: scribbled). Under OVERWRITE the writer moves head (a
 * drop) and tail (a push) between our two loads, which can look like more
 * than N: that is the race only if head moved meanwhile; then look again. */
static int span(struct shmq_chan *ch, struct shmq_samples_rline *l,
                uint64_t *h, uint64_t *t)
{
	/* bounded: a peer that keeps moving head gets an error, not a hang */
	for (int tries = 0; tries < SPAN_TRIES; tries++) {
		/* acquire: pairs with the pusher's release of tail (the
		 * entries before it are written) and a taker's CAS of head */
		*h = shmq_load(&l->head, SHMQ_ACQUIRE);
		*t = shmq_load(&l->tail, SHMQ_ACQUIRE);
		if (*t - *h <= ch->capacity)
			return 0;
		if (shmq_load(&l->head, SHMQ_ACQUIRE) == *h)
			return -EBADMSG;
	}
	return -EBADMSG;
}

/* Takes every entry of reader line r's queue (CAS of head: each is ours
 * only if we moved head past it) and gives back the references of those
 * pushed for generation gen (any: gen == UINT32_MAX). How many were given
 * back. */
static uint64_t drain(struct shmq_chan *ch, unsigned r, uint32_t gen)
{
	struct shmq_samples_rline *l = rline(ch, r);
	uint64_t n = 0;
	for (;;) {
		uint64_t h, t;
		if (span(ch, l, &h, &t) < 0 || h == t)
			return n; /* empty, or scribbled: leave it */
		/* relaxed: the entry is read before the CAS that makes it ours;
		 * no pusher rewrites it while it is in the queue */
		uint64_t e = shmq_load(&queue(ch, r)[h & ch->mask], SHMQ_RELAXED);
		/* acq_rel: one of the takers wins each entry */
		if (!shmq_cas(&l->head, &h, h + 1, SHMQ_ACQ_REL))
			continue;
		uint32_t i = shmq__entry_idx(e);
		if (i < ch->capacity &&
		    (gen == UINT32_MAX || shmq__entry_gen(e) == gen))
			n += (uint64_t)unref(ch, i, r);
	}
}

/* Gives back everything reader line r still holds: its queue, then bit r
 * of every sample (what it held). Idempotent. How many it gave back. */
static uint64_t clear_line(struct shmq_chan *ch, unsigned r)
{
	/* seq_cst: before the drain; the Dekker pair with the writer's
	 * push_all() (its references, then its seq_cst load of closes):
	 * either it sees this count move and takes its reference back, or
	 * the clearing below sees its bit */
	shmq_add(&rline(ch, r)->closes, 1, SHMQ_SEQ_CST);
	uint64_t n = drain(ch, r, UINT32_MAX);
	SHMQ_CRASH_POINT("samples.reclaim.queue");
	for (uint32_t i = 0; i < ch->capacity; i++)
		if (unref(ch, i, r)) {
			n++;
			SHMQ_CRASH_POINT("samples.reclaim.held");
		}
	return n;
}

static void count_recovered(struct shmq_chan *ch, uint64_t n)
{
	if (n) {
		shmq_add(&ch->hdr->recovered, n, SHMQ_RELAXED);
		shmq__chan_notify(ch, &ch->hdr->space_ev);
	}
}

/* A line taken again: whatever its last owner left. */
static void samples_reclaim(struct shmq_chan *ch, unsigned i)
{
	count_recovered(ch, clear_line(ch, i));
}

/* A dead reader's line: its samples go back to the pool. */
static void samples_settle(struct shmq_chan *ch, unsigned i, uint32_t role)
{
	if (role == SHMQ_READER)
		samples_reclaim(ch, i);
}

/* ---- Writer -------------------------------------------------------------- */

/* Whether sample i may be loaned. seq_cst loads: the mask pairs with the
 * readers' release clears (their reads of the bytes are done) and, with
 * the seq_cst store of in_hist in drop_hist(), makes the Dekker pair with
 * a joining reader's take_hist(): either we see its bit, or it sees the
 * sample left the history and gives its bit back. */
static int is_free(struct shmq_chan *ch, uint32_t i)
{
	struct shmq_sample_desc *d = desc(ch, i);
	return shmq_load(&d->mask, SHMQ_SEQ_CST) == 0 &&
	       shmq_load(&d->in_hist, SHMQ_SEQ_CST) == 0;
}

/* The writer loans samples in steps of about half the pool (odd, so every
 * sample comes in turn), not one after the other: a reader taking sample
 * i would otherwise make its CPU's prefetchers (the adjacent line, the
 * stream within the page) fetch the next ones' descriptor and first line,
 * the lines the writer fetched owned for its next loan (prefetch_next()),
 * and its stores there would wait for them to come back: on 2 Intel Xeon
 * vCPUs a commit's first fence took 200 cycles instead of 70. */
static uint32_t loan_step(const struct shmq_chan *ch)
{
	return (uint32_t)(ch->capacity / 2 + 1) | 1u;
}

static uint32_t find_free(struct shmq_chan *ch)
{
	struct shmq__samples *s = ch->smp;
	uint32_t step = loan_step(ch);
	for (uint32_t k = 0; k < ch->capacity; k++) {
		uint32_t i = (s->hint + k * step) & (uint32_t)ch->mask;
		if (i != s->loan && is_free(ch, i)) {
			s->hint = i + step;
			return i;
		}
	}
	return NO_SAMPLE;
}

/* The state word of peer line r if it is an active reader, else 0. */
static uint32_t active_reader(struct shmq_chan *ch, unsigned r)
{
	struct shmq_chan_peer *p = &ch->peers[r];
	/* acquire: pairs with the joiner's release of ACTIVE in take_slot():
	 * its role, and its queue as join left it, are in */
	uint32_t w = shmq_load(&p->state, SHMQ_ACQUIRE);
	if ((int)r == ch->me || SHMQ_PEER_STATE(w) != SHMQ_PEER_ACTIVE ||
	    shmq_load(&p->role, SHMQ_RELAXED) != SHMQ_READER)
		return 0;
	return w;
}

/* OVERWRITE: drops the oldest queued (never a held) sample of any reader:
 * 1 if one was dropped. */
static int drop_oldest(struct shmq_chan *ch)
{
	unsigned best = SHMQ_CHAN_MAX_PEERS;
	uint64_t best_seq = UINT64_MAX, best_h = 0;
	for (unsigned r = 0; r < SHMQ_CHAN_MAX_PEERS; r++) {
		if (!active_reader(ch, r))
			continue;
		struct shmq_samples_rline *l = rline(ch, r);
		/* acquire: as in drain() */
		uint64_t h = shmq_load(&l->head, SHMQ_ACQUIRE);
		uint64_t t = shmq_load(&l->tail, SHMQ_ACQUIRE);
		if (h == t || t - h > ch->capacity)
			continue;
		uint32_t i = shmq__entry_idx(shmq_load(&queue(ch, r)[h & ch->mask],
		                                       SHMQ_RELAXED));
		if (i >= ch->capacity)
			continue;
		uint64_t seq = shmq_load(&desc(ch, i)->seq, SHMQ_RELAXED);
		if (seq < best_seq) {
			best_seq = seq;
			best = r;
			best_h = h;
		}
	}
	if (best == SHMQ_CHAN_MAX_PEERS)
		return 0;
	struct shmq_samples_rline *l = rline(ch, best);
	uint64_t e = shmq_load(&queue(ch, best)[best_h & ch->mask],
	                       SHMQ_RELAXED);
	/* acq_rel: the reader may take it first (then we look again) */
	if (!shmq_cas(&l->head, &best_h, best_h + 1, SHMQ_ACQ_REL))
		return 1;
	SHMQ_CRASH_POINT("samples.drop.taken");
	if (shmq__entry_idx(e) < ch->capacity)
		unref(ch, shmq__entry_idx(e), best);
	/* relaxed: a count the reader reads when it next receives */
	shmq_add(&l->lost, 1, SHMQ_RELAXED);
	return 1;
}

/* Writer: is there a sample to loan? OVERWRITE drops queued samples of
 * slow readers until one is free. */
static int pool_room(struct shmq_chan *ch, void *arg)
{
	(void)arg;
	struct shmq__samples *s = ch->smp;
	uint32_t i;
	while ((i = find_free(ch)) == NO_SAMPLE) {
		if (ch->policy != SHMQ_POLICY_OVERWRITE || !drop_oldest(ch))
			return -EAGAIN;
	}
	s->loan = i;
	return 0;
}

static void *sample_ptr(struct shmq_chan *ch, uint32_t i)
{
	return ch->smp->base + (uint64_t)i * ch->stride;
}

static int samples_reserve(struct shmq_chan *ch, size_t len, void **ptr,
                           const struct timespec *deadline, int try_)
{
	if (len > ch->msg_size)
		return -EMSGSIZE;
	int rc = shmq__chan_wait(ch, &ch->hdr->space_ev, pool_room, NULL,
	                         deadline, try_);
	if (rc < 0) {
		ch->smp->loan = NO_SAMPLE;
		return rc;
	}
	/* relaxed: read by the next writer after our death (reclaim_loan) */
	shmq_store(&ctl(ch)->loan, ch->smp->loan + 1, SHMQ_RELAXED);
	SHMQ_CRASH_POINT("samples.loan.taken");
	*ptr = sample_ptr(ch, ch->smp->loan);
	return 0;
}

static void end_loan(struct shmq_chan *ch)
{
	/* release: the pushes before it; pairs with the next writer's
	 * acquire in reclaim_loan() */
	shmq_store(&ctl(ch)->loan, 0, SHMQ_RELEASE);
	ch->smp->loan = NO_SAMPLE;
}

static void samples_abandon(struct shmq_chan *ch)
{
	end_loan(ch);
}

/* Pushes sample i to the queue of reader line r (state word w), whose
 * reference commit set already: the entry, then tail. A queue still full
 * once we looked at its head is scribbled (a sample is queued once): the
 * reference goes back. */
static void push(struct shmq_chan *ch, unsigned r, uint32_t w, uint32_t i,
                 uint64_t seq)
{
	struct shmq__samples *s = ch->smp;
	struct shmq_samples_rline *l = rline(ch, r);
	/* our copy: we are the line's only pusher while it is ACTIVE, and
	 * the reader's loads take the line from our cache at each receive */
	uint64_t t = s->tail[r];
	if (t - s->head[r] >= ch->capacity) {
		/* acquire: pairs with a taker's release of head: the slot is
		 * free. Only when our copy says full: the reader's line
		 * stays its. */
		s->head[r] = shmq_load(&l->head, SHMQ_ACQUIRE);
		if (t - s->head[r] >= ch->capacity) {
			unref(ch, i, r);
			return;
		}
	}
	/* relaxed: published by the release of tail */
	shmq_store(&queue(ch, r)[t & ch->mask],
	           shmq__sample_entry(i, seq, gen_of(w)), SHMQ_RELAXED);
	/* release: the entry, the sample's len, seq and bytes before the
	 * tail; pairs with the reader's acquire load of tail */
	shmq_store(&l->tail, t + 1, SHMQ_RELEASE);
	s->tail[r] = t + 1;
	SHMQ_CRASH_POINT("samples.publish.pushed");
}

/* Publishes sample i to every reader of our list: their references in one
 * read-modify-write (seq_cst), then for each line a look at its closes
 * and, if it did not move, the entry. A line that changed since we made
 * the list (its reader died or left, maybe another took it) gets no entry
 * and its reference back. The Dekker pair with clear_line(), which adds
 * to closes (seq_cst) before it drains and clears bit r everywhere:
 * either our load sees the count move, or our or comes before that add
 * and its clearing sees our bit (an entry we push after it names the old
 * generation, which no new owner takes). One locked instruction per
 * sample, no fence, whatever the readers' number. */
static void push_all(struct shmq_chan *ch, uint32_t i, uint64_t seq)
{
	struct shmq__samples *s = ch->smp;
	if (!s->to)
		return;
	/* seq_cst: the references before the loads of closes below */
	shmq_or(&desc(ch, i)->mask, s->to, SHMQ_SEQ_CST);
	for (uint64_t m = s->to; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		SHMQ_CRASH_POINT("samples.publish.ref");
		/* seq_cst: after the or (see above). A line of its own that
		 * only the end of the line's use writes (not the peer's state
		 * word, beside the count the reader writes at every receive,
		 * nor the tail line, which the reader's loads take from us):
		 * every end of a reader's line moves closes first */
		if (shmq_load(&rline(ch, r)->closes, SHMQ_SEQ_CST) ==
		    s->closes[r]) {
			push(ch, r, s->word[r], i, seq);
			continue;
		}
		unref(ch, i, r);
		s->stale = 1; /* make the list again next time */
	}
}

/* The writer's list of active readers, made again when a reader joined
 * (ctl.joins moved) or a push found a line changed. A reader's open
 * returns after its line is ACTIVE and it added to joins, so every commit
 * that starts after it pushes to it. */
static void scan_readers(struct shmq_chan *ch)
{
	struct shmq__samples *s = ch->smp;
	/* acquire: pairs with the joiner's release add in samples_joined():
	 * its line's ACTIVE is seen by the scan below */
	uint32_t j = shmq_load(&ctl(ch)->joins, SHMQ_ACQUIRE);
	if (j == s->joins && !s->stale)
		return;
	s->joins = j;
	s->stale = 0;
	s->to = 0;
	for (unsigned r = 0; r < SHMQ_CHAN_MAX_PEERS; r++) {
		/* acquire, before the state: a line that ends after this load
		 * moves closes past what we keep, so an end we miss here is
		 * seen by the first push; pairs with the seq_cst add in
		 * clear_line() */
		s->closes[r] = shmq_load(&rline(ch, r)->closes, SHMQ_ACQUIRE);
		if (!(s->word[r] = active_reader(ch, r)))
			continue;
		s->to |= bit(r);
		/* relaxed: ordered by the acquire of the state in
		 * active_reader(): tail as the joiner's history left it */
		s->tail[r] = shmq_load(&rline(ch, r)->tail, SHMQ_RELAXED);
	}
}

/* Puts sample i into the history ring; the sample it pushes out leaves
 * the history (its reference goes). */
static void push_hist(struct shmq_chan *ch, uint32_t i, uint64_t seq)
{
	struct shmq_samples_ctl *c = ctl(ch);
	/* relaxed: the writer's own counter */
	uint64_t pos = shmq_load(&c->hist_pos, SHMQ_RELAXED);
	uint64_t old = shmq_xchg(&hist(ch)[pos % ch->history],
	                         hist_entry(i, seq), SHMQ_ACQ_REL);
	/* release: the entry before the count; pairs with the joiner's
	 * acquire in take_hist() */
	shmq_store(&c->hist_pos, pos + 1, SHMQ_RELEASE);
	SHMQ_CRASH_POINT("samples.publish.history");
	uint32_t o = shmq__entry_idx(old);
	if (old && o < ch->capacity && o != i &&
	    entry_is(old, o, shmq_load(&desc(ch, o)->seq, SHMQ_RELAXED)))
		/* seq_cst: see is_free() */
		shmq_store(&desc(ch, o)->in_hist, 0, SHMQ_SEQ_CST);
}

/* The sample the next reserve looks at first: its descriptor and first
 * bytes, fetched for writing while the readers take this one (a round
 * trip's other half), not on the next reserve's path. Lines of their own,
 * away from those the readers take now (loan_step()). */
static void prefetch_next(struct shmq_chan *ch)
{
	uint32_t i = ch->smp->hint & (uint32_t)ch->mask;
	shmq_prefetch_write(desc(ch, i));
	shmq_prefetch_write(sample_ptr(ch, i));
}

static int samples_commit(struct shmq_chan *ch, size_t len)
{
	struct shmq__samples *s = ch->smp;
	uint32_t i = s->loan;
	struct shmq_sample_desc *d = desc(ch, i);
	uint64_t seq = ch->pos;
	/* relaxed: published with the entries (release of each tail) */
	shmq_store(&d->len, len, SHMQ_RELAXED);
	shmq_store(&d->seq, seq, SHMQ_RELAXED);
	shmq_store(&ctl(ch)->seq, seq + 1, SHMQ_RELAXED);
	shmq_store(&ctl(ch)->loan, (i + 1) | SHMQ_LOAN_PUBLISHING,
	           SHMQ_RELAXED);
	if (ch->history)
		shmq_store(&d->in_hist, 1, SHMQ_SEQ_CST);
	scan_readers(ch);
	push_all(ch, i, seq);
	if (ch->history)
		push_hist(ch, i, seq);
	end_loan(ch);
	ch->pos++;
	shmq__chan_notify(ch, &ch->hdr->data_ev);
	shmq__chan_count(ch, len);
	prefetch_next(ch);
	return 0;
}

/* Whether history entry e still names sample i (its seq). */
static int in_ring(struct shmq_chan *ch, uint32_t i, uint64_t seq)
{
	for (uint32_t k = 0; k < ch->history; k++)
		/* acquire: pairs with the writer's xchg */
		if (entry_is(shmq_load(&hist(ch)[k], SHMQ_ACQUIRE), i, seq))
			return 1;
	return 0;
}

/* A dead writer's commit, half done: each reader the sample went to keeps
 * it only if its queue's last entry is it (the writer died before it
 * pushed anything else); the others' references go. */
static uint64_t unpublish(struct shmq_chan *ch, uint32_t i)
{
	struct shmq_sample_desc *d = desc(ch, i);
	uint64_t seq = shmq_load(&d->seq, SHMQ_RELAXED), n = 0;
	uint64_t mask = shmq_load(&d->mask, SHMQ_ACQUIRE);
	for (unsigned r = 0; r < SHMQ_CHAN_MAX_PEERS; r++) {
		if (!(mask & bit(r)))
			continue;
		uint32_t w = active_reader(ch, r);
		struct shmq_samples_rline *l = rline(ch, r);
		uint64_t t = shmq_load(&l->tail, SHMQ_ACQUIRE);
		uint64_t e = shmq_load(&queue(ch, r)[(t - 1) & ch->mask],
		                       SHMQ_RELAXED);
		if (!w || !entry_is(e, i, seq) || shmq__entry_gen(e) != gen_of(w))
			n += (uint64_t)unref(ch, i, r);
	}
	return n;
}

/* A new writer: what a dead one left. The loan goes back; a commit half
 * done keeps what it pushed; history marks that the ring does not hold
 * (a writer that died between its steps) are cleared. */
static void reclaim_loan(struct shmq_chan *ch)
{
	struct shmq_samples_ctl *c = ctl(ch);
	/* acquire: pairs with the last writer's release in end_loan() */
	uint32_t l = shmq_load(&c->loan, SHMQ_ACQUIRE);
	ch->pos = shmq_load(&c->seq, SHMQ_RELAXED);
	for (uint32_t i = 0; ch->history && i < ch->capacity; i++)
		if (shmq_load(&desc(ch, i)->in_hist, SHMQ_RELAXED) &&
		    !in_ring(ch, i, shmq_load(&desc(ch, i)->seq, SHMQ_RELAXED)))
			shmq_store(&desc(ch, i)->in_hist, 0, SHMQ_SEQ_CST);
	if (!l)
		return;
	uint32_t i = (l & SHMQ_LOAN_IDX_MASK) - 1;
	if ((l & SHMQ_LOAN_PUBLISHING) && i < ch->capacity)
		unpublish(ch, i);
	SHMQ_CRASH_POINT("samples.reclaim.loan");
	shmq_store(&c->loan, 0, SHMQ_RELEASE);
	count_recovered(ch, 1);
}

/* ---- Reader -------------------------------------------------------------- */

/* Moves our queue's head past entry h, which makes it ours: 0, or -1 when
 * someone took it first. Under OVERWRITE the writer drops entries at the
 * head (drop_oldest()), so it is a CAS. Under BLOCK nobody else moves the
 * head of a live reader's line (settlers and reclaims only drain a line
 * whose reader is dead; a closing reader drains its own), so a store:
 * no locked instruction per message. */
static int take_head(struct shmq_chan *ch, struct shmq_samples_rline *l,
                     uint64_t h)
{
	if (ch->policy == SHMQ_POLICY_BLOCK) {
		/* release: our read of the entry before the slot is free
		 * again; pairs with the writer's acquire load of head in
		 * push() */
		shmq_store(&l->head, h + 1, SHMQ_RELEASE);
		return 0;
	}
	/* acq_rel: the writer may drop it first */
	return shmq_cas(&l->head, &h, h + 1, SHMQ_ACQ_REL) ? 0 : -1;
}

/* A reader's sample i: its bytes' first line, and its descriptor for
 * writing (our release clears our bit there: fetched once, owned, not
 * shared now and owned then). The loan order is not the address order
 * (loan_step()), so the CPU's stream prefetch does not do this for a
 * reader that is behind. i from a queue entry: bounded here. */
static void prefetch_sample(struct shmq_chan *ch, uint32_t i)
{
	if (i >= ch->capacity)
		return;
	__builtin_prefetch(sample_ptr(ch, i));
	shmq_prefetch_write(desc(ch, i));
}

/* Takes the next entry of our queue that is ours (pushed for our line's
 * generation, with our reference): 0 (into s->next), -EAGAIN, -EBADMSG. */
static int take_next(struct shmq_chan *ch)
{
	struct shmq__samples *s = ch->smp;
	struct shmq_samples_rline *l = rline(ch, (unsigned)ch->me);
	for (;;) {
		uint64_t h, t;
		if (span(ch, l, &h, &t) < 0)
			return -EBADMSG;
		/* relaxed: read before the head moves past it (which makes it
		 * ours); no pusher rewrites it while it is in the queue. Read
		 * before the test for an empty queue, so that its line is
		 * fetched with tail's, not after it (discarded when empty) */
		uint64_t e = shmq_load(&queue(ch, (unsigned)ch->me)[h & ch->mask],
		                       SHMQ_RELAXED);
		if (h == t)
			return -EAGAIN;
		if (take_head(ch, l, h) < 0)
			continue;
		SHMQ_CRASH_POINT("samples.receive.taken");
		uint32_t i = shmq__entry_idx(e);
		if (i >= ch->capacity)
			return -EBADMSG;
		prefetch_sample(ch, i);
		/* behind: the next one's lines too. relaxed: only an address
		 * to prefetch (published before tail, whose acquire we did) */
		if (t - h > 1)
			prefetch_sample(ch, shmq__entry_idx(shmq_load(
				&queue(ch, (unsigned)ch->me)[(h + 1) & ch->mask],
				SHMQ_RELAXED)));
		struct shmq_sample_desc *d = desc(ch, i);
		/* acquire: pairs with the writer's seq_cst or of our bit */
		if (shmq__entry_gen(e) != s->gen ||
		    !(shmq_load(&d->mask, SHMQ_ACQUIRE) & bit((unsigned)ch->me)))
			continue; /* not ours: pushed to an earlier owner */
		if (!entry_is(e, i, shmq_load(&d->seq, SHMQ_RELAXED))) {
			unref(ch, i, (unsigned)ch->me);
			return -EBADMSG;
		}
		s->next = i;
		return 0;
	}
}

static int data(struct shmq_chan *ch, void *arg)
{
	(void)arg;
	if (ch->smp->next != NO_SAMPLE)
		return 0;
	int rc = take_next(ch);
	if (rc != -EAGAIN)
		return rc;
	if ((rc = shmq__chan_eof(ch)) == -EAGAIN)
		return rc;
	/* The writer may have published, then left: drained first. */
	return take_next(ch) == 0 ? 0 : rc;
}

static void publish_held(struct shmq_chan *ch)
{
	/* relaxed: a report */
	shmq_store(&rline(ch, (unsigned)ch->me)->held, ch->smp->nheld,
	           SHMQ_RELAXED);
}

static ssize_t samples_peek(struct shmq_chan *ch, const void **ptr,
                            size_t max, const struct timespec *deadline,
                            int try_)
{
	struct shmq__samples *s = ch->smp;
	if (s->nheld >= ch->hold)
		return -EBUSY;
	int rc = shmq__chan_wait(ch, &ch->hdr->data_ev, data, NULL, deadline,
	                         try_);
	/* relaxed: counted by the writer, read for shmq_chan_lost */
	ch->lost = shmq_load(&rline(ch, (unsigned)ch->me)->lost, SHMQ_RELAXED);
	if (rc < 0)
		return rc;
	uint32_t i = s->next;
	/* relaxed: ordered by our acquire of the tail that published it */
	uint64_t len = shmq_load(&desc(ch, i)->len, SHMQ_RELAXED);
	if (len > ch->msg_size) {
		s->next = NO_SAMPLE;
		unref(ch, i, (unsigned)ch->me);
		return -EBADMSG;
	}
	if (len > max)
		return -EMSGSIZE; /* stays next */
	s->next = NO_SAMPLE;
	s->held[s->nheld++] = i;
	publish_held(ch);
	*ptr = sample_ptr(ch, i);
	shmq__chan_count(ch, len);
	return (ssize_t)len;
}

/* Gives back held sample number k (0: the oldest). */
static void release_held(struct shmq_chan *ch, uint32_t k)
{
	struct shmq__samples *s = ch->smp;
	SHMQ_CRASH_POINT("samples.release.start");
	unref(ch, s->held[k], (unsigned)ch->me);
	SHMQ_CRASH_POINT("samples.release.cleared");
	memmove(&s->held[k], &s->held[k + 1],
	        (s->nheld - k - 1) * sizeof(s->held[0]));
	s->nheld--;
	publish_held(ch);
	shmq__chan_notify(ch, &ch->hdr->space_ev);
}

static int samples_release(struct shmq_chan *ch)
{
	if (!ch->smp->nheld)
		return -EINVAL;
	release_held(ch, 0);
	return 0;
}

static int samples_release_at(struct shmq_chan *ch, const void *ptr)
{
	struct shmq__samples *s = ch->smp;
	const unsigned char *p = ptr;
	if (p < s->base || (uint64_t)(p - s->base) >= ch->capacity * ch->stride)
		return -EINVAL;
	uint32_t i = (uint32_t)((uint64_t)(p - s->base) / ch->stride);
	for (uint32_t k = 0; k < s->nheld; k++)
		if (s->held[k] == i) {
			release_held(ch, k);
			return 0;
		}
	return -EINVAL;
}

static int samples_can_hold(const struct shmq_chan *ch)
{
	return ch->smp->nheld < ch->hold;
}

/* A joining reader (its line not ACTIVE yet, so no writer pushes to it):
 * takes a reference on each sample of the history and queues it, oldest
 * first. A sample that leaves the history meanwhile is given back. */
static void take_hist(struct shmq_chan *ch, unsigned me)
{
	struct shmq_samples_rline *l = rline(ch, me);
	/* acquire: pairs with the writer's release of hist_pos */
	uint64_t pos = shmq_load(&ctl(ch)->hist_pos, SHMQ_ACQUIRE);
	uint64_t from = pos > ch->history ? pos - ch->history : 0;
	uint64_t t = shmq_load(&l->tail, SHMQ_RELAXED), start = t;
	for (uint64_t p = from; p < pos; p++) {
		/* acquire: pairs with the writer's xchg of the entry */
		uint64_t e = shmq_load(&hist(ch)[p % ch->history], SHMQ_ACQUIRE);
		uint32_t i = shmq__entry_idx(e);
		if (!e || i >= ch->capacity)
			continue;
		struct shmq_sample_desc *d = desc(ch, i);
		/* seq_cst: the Dekker pair with is_free() (see there) */
		shmq_or(&d->mask, bit(me), SHMQ_SEQ_CST);
		SHMQ_CRASH_POINT("samples.join.history");
		if (!shmq_load(&d->in_hist, SHMQ_SEQ_CST) ||
		    !entry_is(e, i, shmq_load(&d->seq, SHMQ_RELAXED)) ||
		    t - start >= ch->capacity) {
			unref(ch, i, me);
			continue;
		}
		/* relaxed: published by the release of tail below */
		shmq_store(&queue(ch, me)[t & ch->mask],
		           shmq__sample_entry(i, shmq_load(&d->seq, SHMQ_RELAXED),
		                              ch->smp->gen),
		           SHMQ_RELAXED);
		t++;
	}
	/* release: our entries before the tail (we read it back later) */
	shmq_store(&l->tail, t, SHMQ_RELEASE);
}

/* Taking our line (take_slot(), after reclaim emptied it, before the
 * line is ACTIVE): our generation, an empty queue, the history. */
static void samples_join(struct shmq_chan *ch, int role)
{
	if (role != SHMQ_READER)
		return;
	unsigned me = (unsigned)ch->me;
	struct shmq_samples_rline *l = rline(ch, me);
	/* relaxed: we hold the line's lock byte; take_slot() loaded it with
	 * acquire */
	uint32_t w = shmq_load(&ch->peers[me].state, SHMQ_RELAXED);
	ch->smp->gen = gen_of(shmq__peer_taken(w));
	/* relaxed: nobody pushes to a line that is not ACTIVE (a writer
	 * that saw its last owner pushes the old generation: skipped) */
	shmq_store(&l->head, shmq_load(&l->tail, SHMQ_RELAXED), SHMQ_RELAXED);
	shmq_store(&l->lost, 0, SHMQ_RELAXED);
	shmq_store(&l->held, 0, SHMQ_RELAXED);
	if (ch->history)
		take_hist(ch, me);
}

static void samples_joined(struct shmq_chan *ch)
{
	if (ch->role == SHMQ_WRITER)
		reclaim_loan(ch);
	else
		/* release: pairs with the writer's acquire in scan_readers():
		 * our ACTIVE line before the count */
		shmq_add(&ctl(ch)->joins, 1, SHMQ_RELEASE);
}

static void samples_quit(struct shmq_chan *ch)
{
	struct shmq__samples *s = ch->smp;
	if (!s || ch->me < 0)
		return;
	if (ch->role == SHMQ_WRITER) {
		if (s->loan != NO_SAMPLE)
			end_loan(ch); /* an open reserve goes back */
		return;
	}
	clear_line(ch, (unsigned)ch->me);
	s->nheld = 0;
	s->next = NO_SAMPLE;
	publish_held(ch);
	shmq__chan_notify(ch, &ch->hdr->space_ev);
}

/* ---- Reports ------------------------------------------------------------- */

static void samples_depth(struct shmq_chan *ch, struct shmq_chan_info *in)
{
	uint64_t free = 0, queued = 0;
	/* relaxed: a report */
	uint32_t l = shmq_load(&ctl(ch)->loan, SHMQ_RELAXED);
	for (uint32_t i = 0; i < ch->capacity; i++)
		free += i + 1 != (l & SHMQ_LOAN_IDX_MASK) &&
		        shmq_load(&desc(ch, i)->mask, SHMQ_RELAXED) == 0 &&
		        shmq_load(&desc(ch, i)->in_hist, SHMQ_RELAXED) == 0;
	for (unsigned k = 0; k < in->npeers; k++)
		if (in->peers[k].queued > queued)
			queued = in->peers[k].queued;
	in->pool_free = free;
	in->depth_msgs = queued;
	in->depth_bytes = queued * ch->msg_size;
}

static void samples_peer_depth(struct shmq_chan *ch, unsigned i,
                               struct shmq_chan_peer_info *pi)
{
	struct shmq_samples_rline *l = rline(ch, i);
	/* relaxed: a report */
	uint64_t h = shmq_load(&l->head, SHMQ_RELAXED);
	uint64_t t = shmq_load(&l->tail, SHMQ_RELAXED);
	if (pi->role != SHMQ_READER)
		return;
	pi->queued = t - h <= ch->capacity ? t - h : 0;
	pi->held = shmq_load(&l->held, SHMQ_RELAXED);
	pi->lost = shmq_load(&l->lost, SHMQ_RELAXED);
}

const struct shmq_chan_ops shmq__samples_ops = {
	.reserve = samples_reserve,
	.commit = samples_commit,
	.peek = samples_peek,
	.release = samples_release,
	.abandon = samples_abandon,
	.depth = samples_depth,
	.default_capacity = DEFAULT_SAMPLES,
	.plan = samples_plan,
	.check = samples_check,
	.reclaim = samples_reclaim,
	.join = samples_join,
	.joined = samples_joined,
	.max_writers = 1,
	.max_readers = SHMQ_CHAN_MAX_PEERS - 1,
	.prepare = samples_prepare,
	.unprepare = samples_unprepare,
	.attach = samples_attach,
	.settle = samples_settle,
	.quit = samples_quit,
	.peer_depth = samples_peer_depth,
	.release_at = samples_release_at,
	.can_hold = samples_can_hold,
};
