/* Status of one object and the listing of all of them, every family. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHM_DIR "/dev/shm/"

/* A message queue's pids: the last sender acted at or before the last
 * msgsnd, the last receiver at or before the last msgrcv; lpid is the later
 * of the two (atime). */
static void msg_finish(struct shmq_stat *st)
{
	st->lspid_alive = shmq__pid_alive_since(st->lspid, st->atime);
	st->lrpid_alive = shmq__pid_alive_since(st->lrpid, st->atime);
	st->lpid_alive = st->lpid == st->lspid ? st->lspid_alive
	                                       : st->lrpid_alive;
	st->qbytes = shmq__msgq_qbytes(st->id);
}

/* Derived fields of a System V row: locator, liveness, orphan. */
static void sysv_finish(struct shmq_stat *st)
{
	struct shmq_locator loc = {.family = st->family};
	/* IPC_RMID turns a segment's key private: only the id names it. */
	loc.by = st->key ? SHMQ_BY_KEY : SHMQ_BY_ID;
	loc.key = st->key;
	loc.id = st->id;
	shmq_locator_format(&loc, st->locator, sizeof(st->locator));
	snprintf(st->kind, sizeof(st->kind), "raw");
	st->cpid_alive = st->lpid_alive = SHMQ_PID_UNKNOWN;
	st->lspid_alive = st->lrpid_alive = SHMQ_PID_UNKNOWN;
	/* Nothing attaches a semaphore set or a queue, so nothing says that
	 * one is abandoned: never orphan. */
	if (st->family == SHMQ_FAMILY_SYSV_MSG)
		msg_finish(st);
	if (st->family != SHMQ_FAMILY_SYSV)
		return;
	st->mapped_size = shmq__round_up(st->size, shmq__huge_size(0));
	/* The creator made it at or before ctime (IPC_SET moves ctime later,
	 * which only makes the test more lenient); lpid acted at atime or
	 * dtime. A process started after that holds a reused pid. */
	st->cpid_alive = shmq__pid_alive_since(st->cpid, st->ctime);
	int64_t last = st->atime > st->dtime ? st->atime : st->dtime;
	st->lpid_alive = shmq__pid_alive_since(st->lpid, last);
	st->orphan = !st->removed && st->nattch == 0 &&
	             st->cpid_alive == SHMQ_PID_DEAD;
	/* Only a process that maps it shows its page size (the last to
	 * attach, else the creator): the kernel's tables do not say. */
	st->huge = st->nattch > 0 ? shmq__sysv_huge_seen(st->id, st->lpid)
	                          : -1;
	if (st->huge < 0 && st->nattch > 0)
		st->huge = shmq__sysv_huge_seen(st->id, st->cpid);
	if (st->key == 0 && !st->removed && st->nattch == 0 &&
	    shmq__samples_data_of(st->id)) {
		snprintf(st->kind, sizeof(st->kind), "samples-data");
		st->orphan = 0; /* its channel persists: it is no orphan */
	}
}

static void fd_fill(struct shmq_stat *st, const struct stat *sb,
                    const struct shmq_locator *loc,
                    const struct shmq__users *u)
{
	int partial;
	int64_t users = shmq__users_count(u, sb, &partial);
	memset(st, 0, sizeof(*st));
	st->family = loc->family;
	shmq_locator_format(loc, st->locator, sizeof(st->locator));
	if (loc->by == SHMQ_BY_NAME)
		snprintf(st->name, sizeof(st->name), "%s", loc->name);
	st->id = -1;
	st->size = (uint64_t)sb->st_size;
	st->mapped_size = shmq__round_up((size_t)sb->st_size,
	                                 (size_t)sb->st_blksize);
	/* hugetlbfs (a memfd on huge pages) gives its page as the block. */
	st->huge = (size_t)sb->st_blksize > shmq__huge_size(0);
	st->mode = sb->st_mode & 0777;
	st->uid = st->cuid = sb->st_uid;
	st->gid = st->cgid = sb->st_gid;
	/* Unknown rather than 0 when an unreadable process might use it. */
	st->nattch = users == 0 && partial ? -1 : users;
	st->nattch_partial = partial;
	st->cpid_alive = st->lpid_alive = SHMQ_PID_UNKNOWN;
	st->atime = sb->st_atime;
	st->ctime = sb->st_ctime;
	/* No creator is recorded for these: nobody using it is the test. */
	st->orphan = users == 0 && !partial;
	/* posix:sem.NAME names a semaphore's file as a plain object. */
	snprintf(st->kind, sizeof(st->kind), "%s",
	         loc->family == SHMQ_FAMILY_POSIX && !strncmp(loc->name, "sem.", 4)
	         ? "posix-sem" : "raw");
	char path[sizeof(SHM_DIR) + SHMQ_NAME_MAX];
	if (loc->family == SHMQ_FAMILY_POSIX && loc->by == SHMQ_BY_NAME) {
		snprintf(path, sizeof(path), SHM_DIR "%s", loc->name);
		if (shmq__chan_probe(AT_FDCWD, path, &st->stale))
			snprintf(st->kind, sizeof(st->kind), "channel");
		else if (shmq__board_probe(AT_FDCWD, path))
			snprintf(st->kind, sizeof(st->kind), "board");
	}
}

/* Status of a /dev/shm object (by path, no open needed) or a memfd. */
static int fd_stat(const struct shmq_locator *loc, int fd,
                   struct shmq_stat *st)
{
	struct stat sb;
	struct shmq__users u;
	char path[sizeof(SHM_DIR) + SHMQ_NAME_MAX];
	int rc = 0;
	if (fd >= 0) {
		rc = fstat(fd, &sb) < 0 ? shmq__neg_errno() : 0;
	} else if (loc->family == SHMQ_FAMILY_MEMFD) {
		if (loc->by != SHMQ_BY_FD)
			return SHMQ_EFAMILY; /* memfd:NAME names nothing yet */
		int mfd = shmq__memfd_get(loc, O_PATH);
		if (mfd < 0)
			return mfd;
		rc = fstat(mfd, &sb) < 0 ? shmq__neg_errno() : 0;
		close(mfd);
	} else {
		shmq__shm_file(loc, SHM_DIR, path, sizeof(path));
		rc = lstat(path, &sb) < 0 ? shmq__neg_errno() : 0;
	}
	if (rc < 0)
		return rc;
	if (!S_ISREG(sb.st_mode))
		return -EINVAL;
	rc = shmq__users_scan(&u);
	if (rc < 0)
		return rc;
	fd_fill(st, &sb, loc, &u);
	shmq__users_free(&u);
	return 0;
}

static int sysv_stat(int family, int id, struct shmq_stat *st)
{
	int rc = shmq__sysv_stat_id(family, id, st);
	if (rc == 0)
		sysv_finish(st);
	return rc;
}

SHMQ_API int shmq_stat(const char *locator, struct shmq_stat *st)
{
	struct shmq_locator loc;
	int id, rc = shmq_locator_parse(locator, &loc);
	if (rc < 0)
		return rc;
	if (!shmq__is_sysv(loc.family))
		return fd_stat(&loc, -1, st);
	rc = shmq__sysv_resolve(&loc, &id);
	return rc < 0 ? rc : sysv_stat(loc.family, id, st);
}

SHMQ_API int shmq_seg_stat(const shmq_seg *seg, struct shmq_stat *st)
{
	int rc;
	if (!seg || !st)
		return -EINVAL;
	if (seg->id >= 0)
		rc = sysv_stat(SHMQ_FAMILY_SYSV, seg->id, st);
	else
		rc = fd_stat(&seg->loc, seg->fd, st);
	if (rc < 0)
		return rc;
	/* What this handle knows better than the kernel's tables. */
	snprintf(st->locator, sizeof(st->locator), "%s", seg->locator);
	st->mapped_size = seg->mapped_size;
	if (seg->id >= 0) /* this process maps it: its smaps says */
		st->huge = shmq__sysv_huge_seen(seg->id, getpid());
	if (seg->flags & (SHMQ_SEG_HUGE_2M | SHMQ_SEG_HUGE_1G))
		st->huge = 1;
	return 0;
}

struct walk {
	int (*fn)(const struct shmq_stat *st, void *arg);
	void *arg;
	int count;
};

static int sysv_visit(struct shmq_stat *st, void *arg)
{
	struct walk *w = arg;
	sysv_finish(st);
	w->count++;
	return w->fn(st, w->arg);
}

static int posix_walk(struct walk *w, const struct shmq__users *u)
{
	int rc = 0;
	DIR *d = opendir(SHM_DIR);
	if (!d)
		return shmq__neg_errno();
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		struct shmq_locator loc = {.family = SHMQ_FAMILY_POSIX,
		                           .by = SHMQ_BY_NAME};
		struct shmq_stat st;
		struct stat sb;
		const char *name = de->d_name;
		if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(sb.st_mode) || strlen(name) > SHMQ_NAME_MAX)
			continue;
		/* sem_open(3) keeps semaphore NAME as sem.NAME. */
		if (!strncmp(name, "sem.", 4) && name[4]) {
			loc.family = SHMQ_FAMILY_POSIX_SEM;
			name += 4;
		}
		strcpy(loc.name, name);
		fd_fill(&st, &sb, &loc, u);
		w->count++;
		rc = w->fn(&st, w->arg);
	}
	closedir(d);
	return rc;
}

/* One memfd from its first holder: name and status via /proc/PID/fd/N. */
static int memfd_visit(struct walk *w, const struct shmq__users *u,
                       const struct shmq__user *e)
{
	struct shmq_locator loc = {.family = SHMQ_FAMILY_MEMFD,
	                           .by = SHMQ_BY_FD, .fd = e->fd,
	                           .pid = e->pid};
	char link[64], target[SHMQ_NAME_MAX + 16];
	struct shmq_stat st;
	struct stat sb;
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)e->pid, e->fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 7 || stat(link, &sb) < 0 || !S_ISREG(sb.st_mode))
		return 0; /* closed meanwhile */
	target[n] = '\0';
	char *del = strstr(target, " (deleted)");
	if (del)
		*del = '\0';
	fd_fill(&st, &sb, &loc, u);
	snprintf(st.name, sizeof(st.name), "%.*s", SHMQ_NAME_MAX, target + 7);
	w->count++;
	return w->fn(&st, w->arg);
}

static int memfd_walk(struct walk *w, const struct shmq__users *u)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < u->n; i++) {
		const struct shmq__user *e = &u->v[i];
		size_t j = 0;
		while (j < i && (u->v[j].fd < 0 || u->v[j].dev != e->dev ||
		                 u->v[j].ino != e->ino))
			j++;
		if (e->fd >= 0 && j == i) /* the first holder of this memfd */
			rc = memfd_visit(w, u, e);
	}
	return rc;
}

SHMQ_API int shmq_list(unsigned flags,
                       int (*fn)(const struct shmq_stat *st, void *arg),
                       void *arg)
{
	struct walk w = {fn, arg, 0};
	if (!fn || (flags & ~SHMQ_LIST_ALL))
		return -EINVAL;
	static const int sysv[] = {SHMQ_FAMILY_SYSV, SHMQ_FAMILY_SYSV_SEM,
	                           SHMQ_FAMILY_SYSV_MSG};
	struct shmq__users u;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof(sysv) / sizeof(sysv[0]); i++)
		rc = shmq__sysv_each(sysv[i], sysv_visit, &w);
	if (rc != 0)
		return rc;
	if ((rc = shmq__users_scan(&u)) < 0)
		return rc;
	rc = posix_walk(&w, &u);
	if (rc == 0 && (flags & SHMQ_LIST_ALL))
		rc = memfd_walk(&w, &u);
	shmq__users_free(&u);
	return rc != 0 ? rc : w.count;
}
