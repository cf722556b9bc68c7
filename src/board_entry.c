/*
 * Boards: an entry's value (set, get) and its name (find, bind, name).
 *
 * Each entry is a seqlock over two buffers (docs/design.md, "Boards").
 * Value n of an entry lives in buffer n % 2; the seq word is 2n while the
 * entry holds value n, 2n+1 while a writer fills buffer (n+1) % 2. A reader
 * copies buffer n % 2 out and accepts the copy if seq is still at most
 * 2n+2 afterwards: the next writer to touch that buffer (the one of value
 * n+2) first stores 2n+3. Writers hold the entry's robust mutex; binders
 * the board's.
 */
#include "board.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

/* A get gives up (-EBUSY) after this many copies that a writer overtook
 * twice each; it yields the CPU after SPIN_TRIES (a preempted writer). */
#define MAX_TRIES 4096
#define SPIN_TRIES 64
#define BIND_WAIT_MS 1000 /* bind: -ETIMEDOUT after this */

/* ---- The locks ----------------------------------------------------------- */

/* Takes m (an entry's lock, or the board's for a bind). A dead holder of
 * an entry's lock may have left its set unfinished (odd seq): the entry
 * goes back to its value, whose buffer that writer never touched. */
static int lock(shmq_board *b, struct shmq_mutex_shm *m,
                struct shmq_board_entry *e, const struct timespec *deadline)
{
	int rc = shmq_mutex_lock_timed((shmq_mutex *)m, deadline);
	if (rc == -EOWNERDEAD) {
		/* relaxed: only the lock holder writes seq, and we hold it */
		uint64_t s = e ? shmq_load(&e->seq, SHMQ_RELAXED) : 0;
		/* release: as publish()'s store of an even seq */
		if (s & 1)
			shmq_store(&e->seq, s - 1, SHMQ_RELEASE);
		/* relaxed: a count */
		shmq_add(&b->hdr->recovered, 1, SHMQ_RELAXED);
		SHMQ_CRASH_POINT("board.recover"); /* rolled back, inconsistent */
		rc = shmq_mutex_consistent((shmq_mutex *)m);
	}
	return rc == -EINVAL ? -EBADMSG : rc; /* a scribbled lock */
}

static void unlock(struct shmq_mutex_shm *m)
{
	shmq_mutex_unlock((shmq_mutex *)m);
}

/* ---- Values -------------------------------------------------------------- */

/* Under the lock: value n+1 of entry e into buffer (n+1) % 2. */
static void publish(shmq_board *b, struct shmq_board_entry *e,
                    const void *buf, size_t len)
{
	/* relaxed: only the entry's lock holder writes seq, and we do */
	uint64_t n = shmq_load(&e->seq, SHMQ_RELAXED) >> 1;
	unsigned char *dst = shmq__board_buf(b, e, n + 1);
	shmq_store(&e->seq, 2 * n + 1, SHMQ_RELAXED);
	/* release fence: the odd seq before our first write to the buffer;
	 * pairs with the reader's acquire fence in copy_out(), so a reader
	 * whose copy saw any byte we write sees this seq or a later one */
	shmq_fence_release();
	/* relaxed: published by the even seq below */
	shmq_store(&e->len[(n + 1) & 1], (uint32_t)len, SHMQ_RELAXED);
	memcpy(dst, buf, len / 2);
	SHMQ_CRASH_POINT("board.set.odd"); /* half written, unpublished */
	memcpy(dst + len / 2, (const char *)buf + len / 2, len - len / 2);
	/* release: pairs with the reader's acquire load of seq in
	 * copy_out(); publishes the buffer and its length */
	shmq_store(&e->seq, 2 * n + 2, SHMQ_RELEASE);
	/* release: pairs with the acquire load of a waiter on any entry */
	shmq_add(&b->hdr->updates, 1, SHMQ_RELEASE);
	SHMQ_CRASH_POINT("board.set.even"); /* published, nobody woken */
}

static int set(shmq_board *b, uint32_t i, const void *buf, size_t len,
               const struct timespec *deadline)
{
	if (!b || i >= b->entries || (len && !buf) ||
	    shmq__deadline_check(deadline) < 0)
		return -EINVAL;
	if (len > b->value_size)
		return -EMSGSIZE;
	int rc = shmq__board_enter(b);
	if (rc < 0)
		return rc;
	struct shmq_board_entry *e = shmq__board_entry(b, i);
	if ((rc = lock(b, &e->lock, e, deadline)) == 0) {
		publish(b, e, buf, len);
		unlock(&e->lock);
		/* the wakes after the unlock: a woken reader that sets
		 * finds the lock free */
		shmq__event_notify(&e->ev);
		shmq__event_notify(&b->hdr->any);
	}
	return shmq__board_leave(b, rc);
}

SHMQ_API int shmq_board_set(shmq_board *b, uint32_t i, const void *buf,
                            size_t len)
{
	return set(b, i, buf, len, NULL);
}

SHMQ_API int shmq_board_set_timed(shmq_board *b, uint32_t i, const void *buf,
                                  size_t len, const struct timespec *deadline)
{
	return set(b, i, buf, len, deadline);
}

/* One copy of entry e's value into buf (at most len bytes): the value's
 * length, -EAGAIN if a writer overtook it, -EBADMSG if seq went back. */
static ssize_t copy_once(shmq_board *b, struct shmq_board_entry *e,
                         void *buf, size_t len, uint64_t *seq)
{
	/* acquire: pairs with publish()'s release of the even seq */
	uint64_t s1 = shmq_load(&e->seq, SHMQ_ACQUIRE), base = s1 & ~UINT64_C(1);
	uint64_t n = s1 >> 1;
	/* relaxed: ordered by the acquire above and the fence below */
	uint32_t vlen = shmq_load(&e->len[n & 1], SHMQ_RELAXED);
	size_t take = vlen < len ? vlen : len;
	memcpy(buf, shmq__board_buf(b, e, n), take < b->value_size
	                                      ? take : b->value_size);
	/* acquire fence: our copy before the re-load of seq; pairs with
	 * publish()'s release fence after its odd seq */
	shmq_fence_acquire();
	uint64_t s2 = shmq_load(&e->seq, SHMQ_RELAXED);
	if (s2 < base)
		return -EBADMSG; /* seq went back: not a writer's doing */
	if (s2 - base > 2)
		return -EAGAIN; /* the writer of value n+2 may have been in */
	*seq = n;
	return vlen > b->value_size ? -EBADMSG : (ssize_t)vlen;
}

SHMQ_API ssize_t shmq_board_get(shmq_board *b, uint32_t i, void *buf,
                                size_t len, uint64_t *seq)
{
	uint64_t n = 0;
	ssize_t got = -EBUSY;
	if (!b || i >= b->entries || (len && !buf))
		return -EINVAL;
	int rc = shmq__board_enter(b);
	if (rc < 0)
		return rc;
	struct shmq_board_entry *e = shmq__board_entry(b, i);
	for (int t = 0; t < MAX_TRIES; t++) {
		if ((got = copy_once(b, e, buf, len, &n)) != -EAGAIN)
			break;
		got = -EBUSY;
		if (t >= SPIN_TRIES)
			sched_yield();
		else
			shmq_cpu_relax();
	}
	if (got >= 0 && (size_t)got > len)
		got = -EMSGSIZE;
	if (seq && (got >= 0 || got == -EMSGSIZE))
		*seq = n;
	return shmq__board_leave(b, (int)got);
}

int shmq__board_seq_of(shmq_board *b, uint32_t i, uint64_t *seq)
{
	if (i == SHMQ_BOARD_ANY) {
		/* acquire: pairs with publish()'s release increment */
		*seq = shmq_load(&b->hdr->updates, SHMQ_ACQUIRE);
		return 0;
	}
	if (i >= b->entries)
		return -EINVAL;
	/* acquire: pairs with publish()'s release of the even seq */
	*seq = shmq_load(&shmq__board_entry(b, i)->seq, SHMQ_ACQUIRE) >> 1;
	return 0;
}

SHMQ_API int shmq_board_seq(shmq_board *b, uint32_t i, uint64_t *seq)
{
	if (!b || !seq)
		return -EINVAL;
	int rc = shmq__board_enter(b);
	if (rc < 0)
		return rc;
	return shmq__board_leave(b, shmq__board_seq_of(b, i, seq));
}

/* ---- Names --------------------------------------------------------------- */

static int name_ok(const char *name)
{
	size_t n = name ? strnlen(name, SHMQ_BOARD_NAME_MAX + 1) : 0;
	return n >= 1 && n <= SHMQ_BOARD_NAME_MAX;
}

/* Entry e's name copied into out (64 bytes, NUL-terminated whatever the
 * shared bytes are): its length, 0 if it has none. */
static size_t name_of(struct shmq_board_entry *e, char out[64])
{
	/* acquire: pairs with bind's release of has_name; the name is
	 * written before it and never again */
	if (shmq_load(&e->has_name, SHMQ_ACQUIRE) != 1)
		return 0;
	memcpy(out, e->name, 64);
	out[63] = '\0';
	return strlen(out);
}

static int find(shmq_board *b, const char *name)
{
	char have[64];
	for (uint32_t i = 0; i < b->entries; i++)
		if (name_of(shmq__board_entry(b, i), have) &&
		    !strcmp(have, name))
			return (int)i;
	return -ENOENT;
}

SHMQ_API int shmq_board_find(shmq_board *b, const char *name)
{
	if (!b || !name_ok(name))
		return -EINVAL;
	int rc = shmq__board_enter(b);
	if (rc < 0)
		return rc;
	return shmq__board_leave(b, find(b, name));
}

/* Under the board's lock: names the first entry with neither a name nor a
 * value (a set of that entry meanwhile, by number, only gives it both). */
static int take_free(shmq_board *b, const char *name)
{
	for (uint32_t i = 0; i < b->entries; i++) {
		struct shmq_board_entry *e = shmq__board_entry(b, i);
		/* relaxed: has_name is written under the lock we hold; seq
		 * is a hint (see above) */
		if (shmq_load(&e->has_name, SHMQ_RELAXED) ||
		    shmq_load(&e->seq, SHMQ_RELAXED))
			continue;
		memset(e->name, 0, sizeof(e->name));
		memcpy(e->name, name, strlen(name));
		/* release: publishes the name; pairs with name_of() */
		shmq_store(&e->has_name, 1, SHMQ_RELEASE);
		/* relaxed: a count, under the board's lock */
		shmq_add(&b->hdr->named, 1, SHMQ_RELAXED);
		return (int)i;
	}
	return -ENOSPC;
}

SHMQ_API int shmq_board_bind(shmq_board *b, const char *name)
{
	if (!b || !name_ok(name))
		return -EINVAL;
	int rc = shmq__board_enter(b);
	if (rc < 0)
		return rc;
	/* a bounded wait: a bind is rare, and a lock held this long is a
	 * stopped binder or a scribbled word that names a live task */
	struct timespec dl = shmq_deadline(BIND_WAIT_MS);
	struct shmq_mutex_shm *m = &b->hdr->lock;
	if ((rc = find(b, name)) == -ENOENT &&
	    (rc = lock(b, m, NULL, &dl)) == 0) {
		/* again under the lock: another binder may have won */
		if ((rc = find(b, name)) == -ENOENT)
			rc = take_free(b, name);
		unlock(m);
	}
	return shmq__board_leave(b, rc);
}

SHMQ_API int shmq_board_name(shmq_board *b, uint32_t i, char *buf,
                             size_t len)
{
	char have[64];
	if (!b || i >= b->entries || !buf || !len)
		return -EINVAL;
	int rc = shmq__board_enter(b);
	if (rc < 0)
		return rc;
	size_t n = name_of(shmq__board_entry(b, i), have);
	if (n >= len)
		return shmq__board_leave(b, -ERANGE);
	memcpy(buf, have, n + 1);
	return shmq__board_leave(b, (int)n);
}
