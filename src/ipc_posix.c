/* fd-backed segments: POSIX objects in /dev/shm and anonymous memfds. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define SHM_DIR "/dev/shm/"

void shmq__shm_file(const struct shmq_locator *loc, const char *dir,
                    char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", dir,
	         loc->family == SHMQ_FAMILY_POSIX_SEM ? "sem." : "", loc->name);
}

/* The name shm_open(3) and shm_unlink(3) take: "/NAME" ("/sem.NAME"). */
static void shm_path(const struct shmq_locator *loc, char *buf, size_t len)
{
	shmq__shm_file(loc, "/", buf, len);
}

/* Maps the handle's fd. A requested address is honoured exactly or not at
 * all, like shmat: MAP_FIXED_NOREPLACE never clobbers an existing mapping. */
static int map(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	int prot = PROT_READ | (o->flags & SHMQ_SEG_RDONLY ? 0 : PROT_WRITE);
	int fl = MAP_SHARED;
	uintptr_t want = (uintptr_t)o->addr;
	if (want) {
		if (o->flags & SHMQ_SEG_RND)
			want -= want % (uintptr_t)sysconf(_SC_PAGESIZE);
		fl |= MAP_FIXED_NOREPLACE;
	}
	void *p = mmap((void *)want, s->mapped_size, prot, fl, s->fd, 0);
	if (p == MAP_FAILED)
		return shmq__neg_errno();
	if (want && (uintptr_t)p != want) { /* kernels before 4.17: a hint */
		munmap(p, s->mapped_size);
		return -EEXIST;
	}
	s->addr = p;
	return 0;
}

/* Gives the new object its size and backs every page now, so a full tmpfs
 * fails here (ENOSPC) instead of raising SIGBUS at first touch. */
static int size_and_back(int fd, size_t len, unsigned flags)
{
	if (ftruncate(fd, (off_t)len) < 0)
		return shmq__neg_errno();
	int err = posix_fallocate(fd, 0, (off_t)len);
	if (err == 0)
		return 0;
	if (flags & (SHMQ_SEG_HUGE_2M | SHMQ_SEG_HUGE_1G))
		return SHMQ_ENOHUGE;
	return err == ENOMEM ? -ENOSPC : -err;
}

/*
 * Made nameless (O_TMPFILE), sized, backed, given its mode and mapped, then
 * linked in under its name: nobody ever opens it half made, a creator that
 * dies before the link leaves nothing behind, and linkat's EEXIST makes the
 * exclusive create atomic.
 */
static int posix_create_new(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	char path[sizeof(SHM_DIR) + SHMQ_NAME_MAX], link[64];
	snprintf(path, sizeof(path), SHM_DIR "%s", s->loc.name);
	int fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return shmq__neg_errno();
	s->fd = fd;
	s->size = o->size;
	s->mapped_size = shmq__round_up(o->size, shmq__huge_size(0));
	SHMQ_CRASH_POINT("seg.posix.tmpfile");
	int rc = size_and_back(fd, o->size, 0);
	SHMQ_CRASH_POINT("seg.posix.sized");
	/* fchmod, unlike the open mode, is not narrowed by the umask. */
	if (rc == 0 && fchmod(fd, o->mode) < 0)
		rc = shmq__neg_errno();
	if (rc == 0)
		rc = map(s, o);
	if (rc == 0 && s->init)
		rc = s->init(s->addr, s->size, s->init_arg);
	SHMQ_CRASH_POINT("seg.posix.inited"); /* just before the link */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (rc == 0 && linkat(AT_FDCWD, link, AT_FDCWD, path,
	                      AT_SYMLINK_FOLLOW) < 0) {
		rc = shmq__neg_errno();
		munmap(s->addr, s->mapped_size);
		s->addr = NULL;
	}
	if (rc < 0) {
		close(fd);
		s->fd = -1;
	}
	SHMQ_CRASH_POINT("seg.posix.linked");
	return rc;
}

/* Size of the object behind fd, and its page size (huge on hugetlbfs). */
int shmq__fd_geometry(int fd, size_t *size, size_t *unit)
{
	struct stat sb;
	struct statfs fs;
	if (fstat(fd, &sb) < 0 || fstatfs(fd, &fs) < 0)
		return shmq__neg_errno();
	if (!S_ISREG(sb.st_mode))
		return -EINVAL;
	*size = (size_t)sb.st_size;
	*unit = fs.f_type == HUGETLBFS_MAGIC ? (size_t)fs.f_bsize
	                                     : shmq__huge_size(0);
	return 0;
}

/* Maps an open fd: the size asked (0: the whole object) within its size. */
static int map_existing(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	size_t have, unit;
	int rc = shmq__fd_geometry(s->fd, &have, &unit);
	if (rc < 0)
		return rc;
	if (have == 0 || have < o->size)
		return SHMQ_ESMALL;
	s->size = o->size ? o->size : have;
	s->mapped_size = shmq__round_up(s->size, unit);
	return map(s, o);
}

/* The handle takes fd and maps it, or closes it. */
static int adopt_fd(struct shmq_seg *s, int fd, const struct shmq_seg_opts *o)
{
	s->fd = fd;
	int rc = map_existing(s, o);
	if (rc < 0) {
		close(fd);
		s->fd = -1;
	}
	return rc;
}

static int posix_open(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	char path[SHMQ_NAME_MAX + 6]; /* "/sem." + NAME */
	shm_path(&s->loc, path, sizeof(path));
	int acc = o->flags & SHMQ_SEG_RDONLY ? O_RDONLY : O_RDWR;
	int fd = shm_open(path, acc | O_NOFOLLOW | O_CLOEXEC, 0);
	struct stat sb;
	if (fd < 0)
		return errno == ELOOP ? -EPERM : shmq__neg_errno();
	/* The owner of this very file, not of whatever the name holds now. */
	int rc = fstat(fd, &sb) < 0 ? shmq__neg_errno()
	                            : shmq__owner_check(o->flags, sb.st_uid);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return adopt_fd(s, fd, o);
}

static int memfd_create_new(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	unsigned fl = MFD_ALLOW_SEALING; /* no CLOEXEC: it is passed on */
	size_t unit = shmq__huge_size(o->flags);
	if (o->flags & SHMQ_SEG_HUGE_1G)
		fl |= MFD_HUGETLB | (30u << MFD_HUGE_SHIFT);
	else if (o->flags & SHMQ_SEG_HUGE_2M)
		fl |= MFD_HUGETLB | (21u << MFD_HUGE_SHIFT);
	int fd = memfd_create(s->loc.name, fl);
	if (fd < 0)
		return (fl & MFD_HUGETLB) && errno == EINVAL ? SHMQ_ENOHUGE
		                                             : shmq__neg_errno();
	s->fd = fd;
	s->size = o->size;
	s->mapped_size = shmq__round_up(o->size, unit);
	/* hugetlbfs sizes are whole huge pages; tmpfs keeps the size asked. */
	int huge = (o->flags & (SHMQ_SEG_HUGE_2M | SHMQ_SEG_HUGE_1G)) != 0;
	int rc = size_and_back(fd, huge ? s->mapped_size : o->size, o->flags);
	if (rc == 0 && fchmod(fd, o->mode) < 0)
		rc = shmq__neg_errno();
	/* Sealed size: a peer can neither shrink it (SIGBUS) nor grow it. */
	if (rc == 0 && !(o->flags & SHMQ_SEG_NOSEAL) &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		rc = shmq__neg_errno();
	if (rc == 0)
		rc = map(s, o);
	if (rc == 0 && s->init && (rc = s->init(s->addr, s->size,
	                                        s->init_arg)) < 0)
		munmap(s->addr, s->mapped_size);
	if (rc < 0) {
		close(fd);
		s->fd = -1;
		return rc;
	}
	s->loc.by = SHMQ_BY_FD;
	s->loc.fd = fd;
	return 0;
}

/*
 * A new fd (close it) on the memfd a locator names: our own fd N, or fd N of
 * process P reopened through /proc/P/fd/N with access acc. It must be a
 * memfd: never map or chmod a random file that happens to have that number.
 */
int shmq__memfd_get(const struct shmq_locator *loc, int acc)
{
	char link[64], target[SHMQ_NAME_MAX + 16];
	snprintf(link, sizeof(link), "/proc/%d/fd/%d",
	         loc->pid ? (int)loc->pid : (int)getpid(), loc->fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? -EBADF : shmq__neg_errno();
	target[n] = '\0';
	if (strncmp(target, "/memfd:", 7))
		return -EBADF;
	/* Reopen rather than dup: the handle gets an open file description
	 * of its own, so a lock it takes (a channel's peer lock) is its own.
	 * An fd we could use but not reopen (another owner's memfd, passed
	 * to us) is duplicated instead. */
	int fd = open(link, acc | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && !loc->pid)
		fd = fcntl(loc->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return shmq__neg_errno();
	if (!loc->pid)
		return fd;
	/* P may swap its fd N between our check and the reopen: check what
	 * we actually opened, through our own fd. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 7 || strncmp(target, "/memfd:", 7)) {
		close(fd);
		return -EBADF;
	}
	return fd;
}

/* An inherited memfd: the handle works on its own duplicate. */
static int memfd_open(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	int fd = shmq__memfd_get(&s->loc, o->flags & SHMQ_SEG_RDONLY ? O_RDONLY
	                                                              : O_RDWR);
	return fd < 0 ? fd : adopt_fd(s, fd, o);
}

int shmq__fd_create(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	if (s->loc.family == SHMQ_FAMILY_MEMFD)
		return memfd_create_new(s, o);
	if (o->flags & (SHMQ_SEG_HUGE_2M | SHMQ_SEG_HUGE_1G))
		return SHMQ_EFAMILY; /* /dev/shm is tmpfs: sysv or memfd */
	/* Open-or-create: retry while the object comes and goes under us. */
	for (int tries = 0; tries < 8; tries++) {
		int rc = posix_create_new(s, o);
		if (rc != -EEXIST || !(o->flags & SHMQ_OPEN_OK))
			return rc;
		rc = posix_open(s, o);
		if (rc != -ENOENT)
			return rc;
	}
	return -EAGAIN;
}

int shmq__fd_open(struct shmq_seg *s, const struct shmq_seg_opts *o)
{
	if (s->loc.family == SHMQ_FAMILY_MEMFD)
		return memfd_open(s, o);
	return posix_open(s, o);
}

int shmq__fd_close(struct shmq_seg *s)
{
	int rc = 0;
	if (s->addr && munmap(s->addr, s->mapped_size) < 0)
		rc = shmq__neg_errno();
	if (s->fd >= 0 && close(s->fd) < 0 && rc == 0)
		rc = shmq__neg_errno();
	return rc;
}

int shmq__posix_unlink(const struct shmq_locator *loc)
{
	char full[sizeof(SHM_DIR) + SHMQ_NAME_MAX + 4]; /* "sem." + NAME */
	/* unlink(2), not shm_unlink(3): glibc turns the kernel's EPERM (a
	 * sticky /dev/shm, someone else's object) into EACCES, which would
	 * suggest a mode change that cannot help. */
	shmq__shm_file(loc, SHM_DIR, full, sizeof(full));
	return unlink(full) < 0 ? shmq__neg_errno() : 0;
}

/* Owner and mode on an fd that may be O_PATH: fchmod refuses O_PATH, the
 * /proc/self/fd link does not, and it never follows a planted symlink. */
static int fd_chown_chmod(int fd, uid_t uid, gid_t gid, int mode)
{
	char link[64];
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
		return shmq__neg_errno();
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (mode >= 0 && chmod(link, (mode_t)mode) < 0)
		return shmq__neg_errno();
	return 0;
}

int shmq__fd_set(const struct shmq_locator *loc, uid_t uid, gid_t gid,
                 int mode)
{
	char path[sizeof(SHM_DIR) + SHMQ_NAME_MAX];
	struct stat sb;
	int fd;
	if (loc->family == SHMQ_FAMILY_MEMFD) {
		fd = shmq__memfd_get(loc, O_PATH);
		if (fd < 0)
			return fd;
	} else {
		snprintf(path, sizeof(path), SHM_DIR "%s", loc->name);
		/* O_PATH needs no read access; O_NOFOLLOW pins the file. */
		fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return shmq__neg_errno();
	int rc = fstat(fd, &sb) < 0 ? shmq__neg_errno()
	         : !S_ISREG(sb.st_mode) ? -EPERM
	                                : fd_chown_chmod(fd, uid, gid, mode);
	close(fd);
	return rc;
}
