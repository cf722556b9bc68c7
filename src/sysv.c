/* System V segments: shmget/shmat/shmdt/shmctl behind the segment API. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#ifndef SHM_HUGE_SHIFT
#define SHM_HUGE_SHIFT 26
#endif
#ifndef SHM_HUGE_2MB
#define SHM_HUGE_2MB (21 << SHM_HUGE_SHIFT)
#endif
#ifndef SHM_HUGE_1GB
#define SHM_HUGE_1GB (30 << SHM_HUGE_SHIFT)
#endif

size_t shmq__huge_size(unsigned flags)
{
	if (flags & SHMQ_SEG_HUGE_1G)
		return (size_t)1 << 30;
	if (flags & SHMQ_SEG_HUGE_2M)
		return (size_t)2 << 20;
	return (size_t)sysconf(_SC_PAGESIZE);
}

size_t shmq__round_up(size_t n, size_t unit)
{
	return (n + unit - 1) / unit * unit;
}

/* Checks size against kernel.shmmax and kernel.shmall before the kernel
 * answers a bare EINVAL/ENOSPC. */
static int check_size(size_t size)
{
	struct shmq_limits l;
	if (shmq_limits_get(&l) < 0)
		return 0; /* no /proc: let the kernel decide */
	if (size < l.shmmin)
		return SHMQ_ESIZEMIN;
	if (size > l.shmmax ||
	    shmq__round_up(size, l.page_size) / l.page_size > l.shmall)
		return SHMQ_ESIZEMAX;
	return 0;
}

/* The page size backing addr in this process (smaps KernelPageSize): a
 * segment opened by key does not say whether it is on huge pages. */
static size_t mapping_page(void *addr)
{
	char line[256];
	size_t kb = 0;
	int here = 0;
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return shmq__huge_size(0);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			here = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (here && sscanf(line, "KernelPageSize: %zu kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb ? kb * 1024 : shmq__huge_size(0);
}

/* Attaches id at the requested address; fills the handle. */
static int attach(struct shmq_seg *s, int id, const struct shmq_seg_opts *o)
{
	int fl = (o->flags & SHMQ_SEG_RDONLY ? SHM_RDONLY : 0) |
	         (o->flags & SHMQ_SEG_RND ? SHM_RND : 0);
	void *p = shmat(id, o->addr, fl);
	if (p == (void *)-1)
		return errno == EINVAL && !o->addr ? -ENOENT : shmq__neg_errno();
	s->addr = p;
	s->id = id;
	s->mapped_size = shmq__round_up(s->size, mapping_page(p));
	return 0;
}

/* shmget with the flags asked; maps the kernel's huge page errors. */
static int sysv_get(key_t key, size_t size, int fl, unsigned flags)
{
	if (flags & SHMQ_SEG_HUGE_1G)
		fl |= SHM_HUGETLB | SHM_HUGE_1GB;
	else if (flags & SHMQ_SEG_HUGE_2M)
		fl |= SHM_HUGETLB | SHM_HUGE_2MB;
	int id = shmget(key, size, fl);
	if (id >= 0)
		return id;
	int err = shmq__neg_errno();
	/* No reserve (ENOMEM), no such page size (EINVAL), or not in
	 * vm.hugetlb_shm_group (EPERM). */
	if ((fl & SHM_HUGETLB) &&
	    (err == -ENOMEM || err == -EINVAL || err == -EPERM))
		return SHMQ_ENOHUGE;
	return err;
}

/* The existing segment's size, or a negative errno. */
static int64_t segsz(int id)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return errno == EINVAL ? -ENOENT : shmq__neg_errno();
	return (int64_t)ds.shm_segsz;
}

static int open_existing(struct shmq_seg *s, key_t key,
                         const struct shmq_seg_opts *o)
{
	int id = shmget(key, 0, 0);
	if (id < 0)
		return shmq__neg_errno();
	int64_t sz = segsz(id);
	if (sz < 0)
		return (int)sz;
	if ((uint64_t)sz < o->size)
		return SHMQ_ESMALL;
	s->size = (size_t)sz;
	return attach(s, id, o);
}

int shmq__sysv_create(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	key_t key = s->loc.by == SHMQ_BY_PRIVATE ? IPC_PRIVATE : s->loc.key;
	int rc = check_size(o->size);
	if (rc < 0)
		return rc;
	/* Exclusive first, so we know whether the segment is ours to remove
	 * on failure; then, if asked, open what is there. */
	for (int tries = 0; tries < 8; tries++) {
		int id = sysv_get(key, o->size,
		                  IPC_CREAT | IPC_EXCL | (int)o->mode, o->flags);
		if (id >= 0) {
			s->size = o->size;
			rc = attach(s, id, o);
			if (rc < 0)
				shmctl(id, IPC_RMID, NULL);
			return rc;
		}
		if (id != -EEXIST || !(o->flags & SHMQ_SEG_OPEN_OK))
			return id;
		rc = open_existing(s, key, o);
		if (rc != -ENOENT)
			return rc; /* else removed meanwhile: create again */
	}
	return -EAGAIN;
}

int shmq__sysv_resolve(const struct shmq_locator *loc, int *id)
{
	if (loc->by == SHMQ_BY_ID) {
		int64_t sz = segsz(loc->id);
		/* IPC_STAT needs read access: EACCES still proves it exists. */
		if (sz < 0 && sz != -EACCES)
			return (int)sz;
		*id = loc->id;
		return 0;
	}
	if (loc->by != SHMQ_BY_KEY)
		return SHMQ_EFAMILY;
	*id = shmget(loc->key, 0, 0);
	return *id < 0 ? shmq__neg_errno() : 0;
}

int shmq__sysv_open(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	int id, rc = shmq__sysv_resolve(&s->loc, &id);
	if (rc < 0)
		return rc;
	int64_t sz = segsz(id);
	if (sz < 0)
		return (int)sz;
	if ((uint64_t)sz < o->size)
		return SHMQ_ESMALL;
	s->size = o->size ? o->size : (size_t)sz;
	return attach(s, id, o);
}

int shmq__sysv_close(struct shmq_seg *s)
{
	return shmdt(s->addr) < 0 ? shmq__neg_errno() : 0;
}

int shmq__sysv_unlink(const struct shmq_locator *loc)
{
	int id, rc = shmq__sysv_resolve(loc, &id);
	if (rc < 0)
		return rc;
	if (shmctl(id, IPC_RMID, NULL) < 0)
		return errno == EINVAL ? -ENOENT : shmq__neg_errno();
	return 0;
}

int shmq__sysv_set(const struct shmq_locator *loc, uid_t uid, gid_t gid,
                   int mode)
{
	struct shmid_ds ds;
	int id, rc = shmq__sysv_resolve(loc, &id);
	if (rc < 0)
		return rc;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return shmq__neg_errno();
	if (uid != (uid_t)-1)
		ds.shm_perm.uid = uid;
	if (gid != (gid_t)-1)
		ds.shm_perm.gid = gid;
	if (mode >= 0)
		ds.shm_perm.mode = (unsigned short)mode;
	return shmctl(id, IPC_SET, &ds) < 0 ? shmq__neg_errno() : 0;
}

/*
 * One line of /proc/sysvipc/shm. It shows every segment to every user,
 * which IPC_STAT does not (it needs read permission).
 *   key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime
 */
static int parse_row(const char *line, struct shmq_stat *st)
{
	long long key, id, perms, size, cpid, lpid, nattch, uid, gid, cuid,
		cgid, at, dt, ct;
	int n = sscanf(line,
	               "%lld %lld %llo %lld %lld %lld %lld %lld %lld %lld %lld "
	               "%lld %lld %lld",
	               &key, &id, &perms, &size, &cpid, &lpid, &nattch, &uid,
	               &gid, &cuid, &cgid, &at, &dt, &ct);
	if (n != 14)
		return -1;
	memset(st, 0, sizeof(*st));
	st->family = SHMQ_FAMILY_SYSV;
	st->key = (int32_t)key;
	st->id = (int)id;
	st->mode = (unsigned)perms & 0777;
	st->removed = (perms & SHM_DEST) != 0;
	st->size = (uint64_t)size;
	st->cpid = (pid_t)cpid;
	st->lpid = (pid_t)lpid;
	st->nattch = nattch;
	st->uid = (uid_t)uid;
	st->gid = (gid_t)gid;
	st->cuid = (uid_t)cuid;
	st->cgid = (gid_t)cgid;
	st->atime = at;
	st->dtime = dt;
	st->ctime = ct;
	return 0;
}

/* Calls fn for each System V segment; stops at fn's first non-zero. */
int shmq__sysv_each(int (*fn)(struct shmq_stat *st, void *arg), void *arg)
{
	char line[512];
	struct shmq_stat st;
	FILE *f = fopen("/proc/sysvipc/shm", "re");
	if (!f)
		return shmq__neg_errno();
	int rc = 0;
	if (!fgets(line, sizeof(line), f)) /* the header line */
		rc = -EIO;
	while (rc == 0 && fgets(line, sizeof(line), f))
		if (parse_row(line, &st) == 0)
			rc = fn(&st, arg);
	fclose(f);
	return rc;
}

struct find_id {
	int id;
	struct shmq_stat *out;
};

static int match_id(struct shmq_stat *st, void *arg)
{
	struct find_id *f = arg;
	if (st->id != f->id)
		return 0;
	*f->out = *st;
	return 1;
}

int shmq__sysv_stat_id(int id, struct shmq_stat *st)
{
	struct find_id f = {id, st};
	int rc = shmq__sysv_each(match_id, &f);
	return rc == 1 ? 0 : rc < 0 ? rc : -ENOENT;
}
