/*
 * Boards: create, open, close, unlink, and what we trust of the header.
 * The identity line is copied out and checked once, at open; a sleeper's
 * tick re-checks the size and the identity (revalidate). Entries are
 * board_entry.c's, waits board_wait.c's.
 */
#include "board.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Layout identity ---------------------------------------------------- */

/* FNV-1a over every size and offset the format depends on (as channels):
 * a build whose structs differ refuses the object instead of misreading. */
uint32_t shmq__board_layout_hash(void)
{
	const uint64_t v[] = {
		sizeof(struct shmq_board_hdr), sizeof(struct shmq_board_entry),
		offsetof(struct shmq_board_hdr, lock),
		offsetof(struct shmq_board_hdr, any),
		offsetof(struct shmq_board_hdr, updates),
		offsetof(struct shmq_board_entry, len),
		offsetof(struct shmq_board_entry, ev),
		offsetof(struct shmq_board_entry, lock),
		offsetof(struct shmq_board_entry, name),
		sizeof(struct shmq_mutex_shm), sizeof(struct shmq_event_shm),
	};
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (int k = 0; k < 8; k++) {
			h ^= (uint8_t)(v[i] >> (8 * k));
			h *= 16777619u;
		}
	return h;
}

/* Bytes of a board of k entries of v bytes (k, v in range: < 2^42). */
static uint64_t board_size(uint32_t k, uint32_t v)
{
	return SHMQ_BOARD_HDR_SIZE + (uint64_t)k * shmq__board_entry_size(v);
}

int shmq__board_check(const struct shmq_board_hdr *h, uint64_t size)
{
	if (h->magic != SHMQ_BOARD_MAGIC)
		return SHMQ_ENOTBOARD;
	if (h->version != SHMQ_BOARD_VERSION ||
	    h->layout_hash != shmq__board_layout_hash())
		return SHMQ_EVERSION;
	if (h->entries == 0 || h->entries > SHMQ_BOARD_MAX_ENTRIES ||
	    h->value_size == 0 || h->value_size > SHMQ_BOARD_MAX_VALUE ||
	    h->entry_size != shmq__board_entry_size(h->value_size) ||
	    h->entries_off != SHMQ_BOARD_HDR_SIZE || h->object_size != size ||
	    size != board_size(h->entries, h->value_size))
		return -EBADMSG;
	return 0;
}

/* ---- Validation --------------------------------------------------------- */

/* The object's size against the one it had at open: 0 the same,
 * SHMQ_ETRUNCATED smaller, -EBADMSG otherwise. */
static int size_check(const shmq_board *b)
{
	struct stat sb;
	if (fstat(b->fd, &sb) < 0)
		return -EBADMSG;
	if ((uint64_t)sb.st_size < b->object_size)
		return SHMQ_ETRUNCATED;
	return (uint64_t)sb.st_size == b->object_size ? 0 : -EBADMSG;
}

int shmq__board_revalidate(shmq_board *b)
{
	const struct shmq_board_hdr *h = b->hdr;
	int rc = size_check(b);
	if (rc < 0)
		return rc;
	if (h->magic != SHMQ_BOARD_MAGIC || h->entries != b->entries ||
	    h->value_size != b->value_size || h->object_size != b->object_size)
		return -EBADMSG;
	return 0;
}

int shmq__board_leave(shmq_board *b, int rc)
{
	int hit = shmq__guard_disarm(&b->guard);
	if (__builtin_expect(rc >= 0 && !hit, 1))
		return rc;
	/* A shrink need not fault: the rest of the last page reads zeros,
	 * which the entry code finds malformed. */
	if (hit || (rc == -EBADMSG && size_check(b) == SHMQ_ETRUNCATED)) {
		b->broken = SHMQ_ETRUNCATED;
		shmq__fdw_broken(b->fdw); /* every later call fails at once */
		return SHMQ_ETRUNCATED;
	}
	return rc;
}

/* Copies the identity out and checks it; sets our copy and pointers. */
static int adopt(shmq_board *b)
{
	struct shmq_board_hdr h;
	size_t size, unit;
	int rc = shmq__fd_geometry(b->fd, &size, &unit);
	if (rc < 0)
		return rc;
	if (size < sizeof(h))
		return SHMQ_ENOTBOARD;
	memcpy(&h, shmq_seg_addr(b->seg), offsetof(struct shmq_board_hdr, lock));
	if ((rc = shmq__board_check(&h, size)) < 0)
		return rc;
	b->entries = h.entries;
	b->value_size = h.value_size;
	b->entry_size = h.entry_size;
	b->object_size = h.object_size;
	b->base = shmq_seg_addr(b->seg);
	b->hdr = (struct shmq_board_hdr *)b->base;
	return 0;
}

/* ---- Creation ------------------------------------------------------------ */

/* Runs on the new object before it has a name: every entry at seq 0. */
static int init_object(void *addr, size_t size, void *arg)
{
	const struct shmq_board_opts *o = arg;
	struct shmq_board_hdr *h = addr;
	uint64_t esize = shmq__board_entry_size(o->value_size);
	memset(addr, 0, SHMQ_BOARD_HDR_SIZE); /* the rest is zeros already */
	h->magic = SHMQ_BOARD_MAGIC;
	h->version = SHMQ_BOARD_VERSION;
	h->layout_hash = shmq__board_layout_hash();
	h->object_size = size;
	h->entries = o->entries;
	h->value_size = o->value_size;
	h->entry_size = esize;
	h->entries_off = SHMQ_BOARD_HDR_SIZE;
	shmq_mutex_init((shmq_mutex *)&h->lock);
	shmq_event_init((shmq_event *)&h->any);
	for (uint32_t i = 0; i < o->entries; i++) {
		struct shmq_board_entry *e = (struct shmq_board_entry *)
			((char *)addr + SHMQ_BOARD_HDR_SIZE + i * esize);
		shmq_event_init((shmq_event *)&e->ev);
		shmq_mutex_init((shmq_mutex *)&e->lock);
	}
	return 0;
}

static int create_object(shmq_board *b, const char *locator,
                         const struct shmq_board_opts *o)
{
	struct shmq_locator loc;
	int rc = shmq_locator_parse(locator, &loc);
	if (rc < 0)
		return rc;
	if (loc.family != SHMQ_FAMILY_POSIX && loc.family != SHMQ_FAMILY_MEMFD)
		return SHMQ_EFAMILY; /* made whole before it is named */
	if (!o->entries || o->entries > SHMQ_BOARD_MAX_ENTRIES ||
	    !o->value_size || o->value_size > SHMQ_BOARD_MAX_VALUE)
		return -EINVAL;
	struct shmq_seg_opts so = {.size = board_size(o->entries, o->value_size),
	                           .mode = o->mode};
	return shmq__seg_create_init(&b->seg, locator, &so, init_object,
	                             (void *)o);
}

/* ---- Handles ------------------------------------------------------------- */

static int guard_setup(shmq_board *b)
{
	memset(&b->guard, 0, sizeof(b->guard));
	if (!shmq__guard_needed(b->fd))
		return 0;
	int rc = shmq__guard_install();
	if (rc == 0) {
		b->guard.lo = (uintptr_t)b->seg->addr;
		b->guard.hi = b->guard.lo + b->seg->mapped_size;
	}
	return rc;
}

/* b->seg is open: checks it and makes the handle usable. */
static int start_handle(shmq_board *b)
{
	shmq__asym_setup(); /* before our first notify, never inside one */
	b->fd = shmq_seg_fd(b->seg);
	int rc = guard_setup(b);
	if (rc < 0)
		return rc;
	shmq__guard_arm(&b->guard);
	return shmq__board_leave(b, adopt(b));
}

static int open_existing(shmq_board *b, const char *locator, unsigned flags)
{
	struct shmq_seg_opts so = {.flags = flags & SHMQ_ANY_OWNER};
	int rc = shmq_seg_open(&b->seg, locator, &so);
	if (rc == SHMQ_ESMALL)
		return SHMQ_ENOTBOARD; /* empty: no board either */
	return rc < 0 ? rc : start_handle(b);
}

static int attach(shmq_board **out, const char *locator,
                  const struct shmq_board_opts *opts, int create)
{
	static const struct shmq_board_opts none;
	const struct shmq_board_opts *o = opts ? opts : &none;
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!locator || !shmq__all_zero(o->reserved, sizeof(o->reserved)) ||
	    (o->flags & ~(SHMQ_OPEN_OK | SHMQ_ANY_OWNER)))
		return -EINVAL;
	shmq_board *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	int rc = create ? create_object(b, locator, o) : -ENOENT;
	if (rc == 0 && (rc = start_handle(b)) < 0)
		shmq_seg_unlink(shmq_seg_locator(b->seg)); /* ours: undo */
	else if (!create || (rc == -EEXIST && (o->flags & SHMQ_OPEN_OK)))
		rc = open_existing(b, locator, o->flags);
	if (rc < 0) {
		if (b->seg)
			shmq_seg_close(b->seg);
		free(b);
		return rc;
	}
	*out = b;
	return 0;
}

SHMQ_API int shmq_board_create(shmq_board **b, const char *locator,
                               const struct shmq_board_opts *opts)
{
	return attach(b, locator, opts, 1);
}

SHMQ_API int shmq_board_open(shmq_board **b, const char *locator,
                             const struct shmq_board_opts *opts)
{
	return attach(b, locator, opts, 0);
}

SHMQ_API int shmq_board_close(shmq_board *b)
{
	if (!b)
		return 0;
	shmq__board_fd_close(b); /* its thread reads the mapping */
	int rc = shmq_seg_close(b->seg);
	free(b);
	return rc;
}

/* ---- Read-only looks ----------------------------------------------------- */

/* The header of the board at locator, copied with pread (never mapped:
 * another user's object, or one shrunk meanwhile, is read, never faulted
 * on) and checked. */
static int read_header(const char *locator, struct shmq_board_hdr *h)
{
	struct shmq_seg_opts ro = {.flags = SHMQ_SEG_RDONLY | SHMQ_ANY_OWNER};
	shmq_seg *seg;
	size_t size, unit;
	if (!locator)
		return -EINVAL;
	int rc = shmq_seg_open(&seg, locator, &ro);
	if (rc < 0)
		return rc == SHMQ_ESMALL ? SHMQ_ENOTBOARD : rc;
	int fd = shmq_seg_fd(seg);
	if (fd < 0 || shmq__fd_geometry(fd, &size, &unit) < 0 ||
	    pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h))
		rc = SHMQ_ENOTBOARD;
	else
		rc = shmq__board_check(h, size);
	shmq_seg_close(seg);
	return rc;
}

/* Only a board's name goes: another object given by mistake stays. The
 * check catches mistakes; it is no lock. */
SHMQ_API int shmq_board_unlink(const char *locator)
{
	struct shmq_board_hdr h;
	int rc = read_header(locator, &h);
	return rc < 0 && rc != SHMQ_EVERSION && rc != -EBADMSG
	       ? rc : shmq_seg_unlink(locator);
}

/* The report from header h (counters loaded relaxed: a snapshot). */
static void fill(const struct shmq_board_hdr *h, struct shmq_board_info *in)
{
	memset(in, 0, sizeof(*in));
	in->entries = h->entries;
	in->value_size = h->value_size;
	in->object_size = h->object_size;
	/* relaxed: a report */
	in->updates = shmq_load(&h->updates, SHMQ_RELAXED);
	in->named = shmq_load(&h->named, SHMQ_RELAXED);
	in->recovered = shmq_load(&h->recovered, SHMQ_RELAXED);
}

SHMQ_API int shmq_board_stat(const char *locator, struct shmq_board_info *info)
{
	struct shmq_board_hdr h;
	if (!info)
		return -EINVAL;
	int rc = read_header(locator, &h);
	if (rc == 0)
		fill(&h, info);
	return rc;
}

SHMQ_API int shmq_board_info(shmq_board *b, struct shmq_board_info *info)
{
	struct shmq_board_hdr h;
	if (!b || !info)
		return -EINVAL;
	int rc = shmq__board_enter(b);
	if (rc < 0)
		return rc;
	memcpy(&h, b->hdr, sizeof(h));
	rc = shmq__board_leave(b, shmq__board_revalidate(b));
	if (rc == 0) {
		fill(&h, info);
		/* our checked copy, whatever the header says now */
		info->entries = b->entries;
		info->value_size = b->value_size;
		info->object_size = b->object_size;
	}
	return rc;
}

/* For shmq_list/shmq_stat: is the object at path a board? Reads the magic
 * with pread: no mapping, no write. */
int shmq__board_probe(int dirfd, const char *path)
{
	uint64_t magic = 0;
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int is = pread(fd, &magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	         magic == SHMQ_BOARD_MAGIC;
	close(fd);
	return is;
}
