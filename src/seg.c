/* The segment API: one set of verbs over System V, POSIX and memfd. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HUGE_FLAGS (SHMQ_SEG_HUGE_2M | SHMQ_SEG_HUGE_1G)
#define ALL_FLAGS                                                            \
	(SHMQ_OPEN_OK | SHMQ_SEG_RDONLY | HUGE_FLAGS | SHMQ_SEG_RND |     \
	 SHMQ_SEG_NOSEAL | SHMQ_ANY_OWNER)

static int check_opts(const struct shmq_seg_opts *o)
{
	if (o->flags & ~ALL_FLAGS)
		return -EINVAL;
	if ((o->flags & HUGE_FLAGS) == HUGE_FLAGS)
		return -EINVAL; /* one huge page size */
	if (o->mode & ~0777u)
		return -EINVAL;
	if (!shmq__all_zero(o->reserved, sizeof(o->reserved)))
		return -EINVAL;
	return 0;
}

int shmq__seg_parse(const char *locator, struct shmq_locator *loc)
{
	int rc = shmq_locator_parse(locator, loc);
	if (rc < 0)
		return rc;
	/* Semaphores and queues are named alike but are not memory. */
	if (loc->family != SHMQ_FAMILY_SYSV &&
	    loc->family != SHMQ_FAMILY_POSIX && loc->family != SHMQ_FAMILY_MEMFD)
		return SHMQ_EFAMILY;
	return 0;
}

/* A new handle for locator, or a negative error. */
static int seg_new(struct shmq_seg **out, const char *locator,
                   const struct shmq_seg_opts *o)
{
	if (!out || !locator)
		return -EINVAL;
	*out = NULL;
	int rc = check_opts(o);
	if (rc < 0)
		return rc;
	struct shmq_seg *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->id = -1;
	s->flags = o->flags;
	rc = shmq__seg_parse(locator, &s->loc);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Keeps a successful handle, with its canonical locator, or frees it. */
static int seg_done(struct shmq_seg **out, struct shmq_seg *s, int rc)
{
	if (rc == 0)
		shmq__locator_final(&s->loc, s->id, s->locator, sizeof(s->locator));
	if (rc < 0) {
		free(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

int shmq__seg_create_init(shmq_seg **seg, const char *locator,
                          const struct shmq_seg_opts *opts,
                          int (*init)(void *addr, size_t size, void *arg),
                          void *arg)
{
	struct shmq_seg *s;
	if (!opts) {
		if (seg)
			*seg = NULL;
		return SHMQ_ESIZEMIN;
	}
	int rc = seg_new(&s, locator, opts);
	if (rc < 0)
		return rc;
	s->init = init;
	s->init_arg = arg;
	if (init && s->loc.family == SHMQ_FAMILY_SYSV)
		return seg_done(seg, s, SHMQ_EFAMILY);
	struct shmq_seg_opts o = *opts;
	if (o.mode == 0)
		o.mode = 0600;
	if (o.size == 0)
		rc = SHMQ_ESIZEMIN;
	else if (s->loc.by == SHMQ_BY_ID || s->loc.by == SHMQ_BY_FD)
		rc = SHMQ_EFAMILY; /* these name existing objects only */
	else if (s->loc.family == SHMQ_FAMILY_SYSV)
		rc = shmq__sysv_create(s, &o);
	else
		rc = shmq__fd_create(s, &o);
	return seg_done(seg, s, rc);
}

SHMQ_API int shmq_seg_create(shmq_seg **seg, const char *locator,
                             const struct shmq_seg_opts *opts)
{
	return shmq__seg_create_init(seg, locator, opts, NULL, NULL);
}

SHMQ_API int shmq_seg_open(shmq_seg **seg, const char *locator,
                           const struct shmq_seg_opts *opts)
{
	static const struct shmq_seg_opts none;
	struct shmq_seg *s;
	struct shmq_seg_opts o = opts ? *opts : none;
	int rc = seg_new(&s, locator, &o);
	if (rc < 0)
		return rc;
	if (o.flags & (HUGE_FLAGS | SHMQ_OPEN_OK | SHMQ_SEG_NOSEAL))
		rc = -EINVAL; /* creation flags */
	else if (s->loc.by == SHMQ_BY_PRIVATE || (s->loc.by == SHMQ_BY_NAME &&
	                                          s->loc.family == SHMQ_FAMILY_MEMFD))
		rc = SHMQ_EFAMILY; /* nothing to find by these */
	else if (s->loc.family == SHMQ_FAMILY_SYSV)
		rc = shmq__sysv_open(s, &o);
	else
		rc = shmq__fd_open(s, &o);
	return seg_done(seg, s, rc);
}

SHMQ_API int shmq_seg_close(shmq_seg *seg)
{
	if (!seg)
		return 0;
	int rc = seg->id >= 0 ? shmq__sysv_close(seg) : shmq__fd_close(seg);
	free(seg);
	return rc;
}

SHMQ_API int shmq_seg_unlink(const char *locator)
{
	struct shmq_locator loc;
	int rc = shmq__seg_parse(locator, &loc);
	return rc < 0 ? rc : shmq_unlink(locator);
}

SHMQ_API int shmq_seg_setperm(const char *locator, uid_t uid, gid_t gid,
                              int mode)
{
	struct shmq_locator loc;
	if (mode > 0777)
		return -EINVAL;
	int rc = shmq__seg_parse(locator, &loc);
	if (rc < 0)
		return rc;
	if (loc.family == SHMQ_FAMILY_SYSV)
		return shmq__sysv_set(&loc, uid, gid, mode);
	if (loc.by == SHMQ_BY_NAME && loc.family == SHMQ_FAMILY_MEMFD)
		return SHMQ_EFAMILY;
	return shmq__fd_set(&loc, uid, gid, mode);
}

SHMQ_API void *shmq_seg_addr(const shmq_seg *seg)
{
	return seg->addr;
}

SHMQ_API size_t shmq_seg_size(const shmq_seg *seg)
{
	return seg->size;
}

SHMQ_API size_t shmq_seg_mapped_size(const shmq_seg *seg)
{
	return seg->mapped_size;
}

SHMQ_API int shmq_seg_fd(const shmq_seg *seg)
{
	return seg->fd;
}

SHMQ_API int shmq_seg_id(const shmq_seg *seg)
{
	return seg->id;
}

SHMQ_API const char *shmq_seg_locator(const shmq_seg *seg)
{
	return seg->locator;
}
