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

/* Whether a mapping's first line in smaps ("lo-hi perms off dev inode
 * path") is the one wanted. */
typedef int (*smaps_pick)(const char *head, const void *arg);

/* KernelPageSize of the first mapping of /proc/PID/smaps that pick
 * accepts; 0 if none does or smaps cannot be read. */
static size_t smaps_page(pid_t pid, smaps_pick pick, const void *arg)
{
	char path[64], line[512];
	size_t kb = 0;
	int here = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			here = pick(line, arg);
		else if (here && sscanf(line, "KernelPageSize: %zu kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb * 1024;
}

static int covers(const char *head, const void *arg)
{
	uintptr_t addr = *(const uintptr_t *)arg;
	unsigned long lo, hi;
	return sscanf(head, "%lx-%lx ", &lo, &hi) == 2 && addr >= lo &&
	       addr < hi;
}

/* A System V segment's mapping: its inode is the shmid, its name
 * "/SYSV<key>" (the kernel's). */
static int is_shmid(const char *head, const void *arg)
{
	unsigned long ino;
	int at = 0;
	return sscanf(head, "%*s %*s %*s %*s %lu %n", &ino, &at) == 1 &&
	       at > 0 && ino == (unsigned long)*(const int *)arg &&
	       !strncmp(head + at, "/SYSV", 5);
}

/* The page size backing addr in this process: a segment opened by key
 * does not say whether it is on huge pages. */
static size_t mapping_page(void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	size_t page = smaps_page(getpid(), covers, &a);
	return page ? page : shmq__huge_size(0);
}

int shmq__sysv_huge_seen(int id, pid_t pid)
{
	size_t page = pid > 0 ? smaps_page(pid, is_shmid, &id) : 0;
	return page == 0 ? -1 : page > shmq__huge_size(0);
}

/* Attaches id at the requested address; fills the handle. */
/* Attaches id, a segment of `whole` bytes (shmat maps all of it). */
static int attach(struct shmq_seg *s, int id, size_t whole,
                  const struct shmq_seg_opts *o)
{
	int fl = (o->flags & SHMQ_SEG_RDONLY ? SHM_RDONLY : 0) |
	         (o->flags & SHMQ_SEG_RND ? SHM_RND : 0);
	void *p = shmat(id, o->addr, fl);
	if (p == (void *)-1)
		return errno == EINVAL && !o->addr ? -ENOENT : shmq__neg_errno();
	s->addr = p;
	s->id = id;
	s->mapped_size = shmq__round_up(whole, mapping_page(p));
	SHMQ_CRASH_POINT("seg.sysv.attached");
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

/* The existing segment's size, or a negative errno: SHMQ_EOWNER when
 * another user owns or created it (the creator can hand a segment to us
 * with IPC_SET and still control it), unless flags say any owner will do. */
static int64_t segsz(int id, unsigned flags)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return errno == EINVAL ? -ENOENT : shmq__neg_errno();
	int rc = shmq__owner_check_sysv(flags, &ds.shm_perm);
	return rc < 0 ? rc : (int64_t)ds.shm_segsz;
}

struct shm_make {
	struct shmq_seg *s;
	const struct shmq_seg_opts *o;
};

static int shm_get(void *arg, key_t key, int flags)
{
	const struct shm_make *m = arg;
	if (flags & IPC_CREAT)
		return sysv_get(key, m->o->size, flags, m->o->flags);
	int id = shmget(key, 0, 0);
	return id < 0 ? shmq__neg_errno() : id;
}

/* Attaches the segment; one that existed must be large enough. */
static int shm_use(void *arg, int id, int created)
{
	const struct shm_make *m = arg;
	m->s->size = m->o->size;
	if (!created) {
		int64_t sz = segsz(id, m->o->flags);
		if (sz < 0)
			return (int)sz;
		if ((uint64_t)sz < m->o->size)
			return SHMQ_ESMALL;
		m->s->size = (size_t)sz;
	}
	return attach(m->s, id, m->s->size, m->o);
}

int shmq__sysv_create(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	struct shm_make arg = {s, o};
	struct shmq__sysv_make m = {SHMQ_FAMILY_SYSV, shm_get, shm_use, &arg};
	int rc = check_size(o->size);
	if (rc < 0)
		return rc;
	return shmq__sysv_make(&m, &s->loc, o->mode,
	                       o->flags & SHMQ_OPEN_OK);
}

int shmq__sysv_open(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	int id, rc = shmq__sysv_resolve(&s->loc, &id);
	if (rc < 0)
		return rc;
	int64_t sz = segsz(id, o->flags);
	if (sz < 0)
		return (int)sz;
	if ((uint64_t)sz < o->size)
		return SHMQ_ESMALL;
	s->size = o->size ? o->size : (size_t)sz;
	return attach(s, id, (size_t)sz, o);
}

int shmq__sysv_close(struct shmq_seg *s)
{
	return shmdt(s->addr) < 0 ? shmq__neg_errno() : 0;
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
