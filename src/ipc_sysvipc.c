/* What the three System V families (segments, semaphore sets, message
 * queues) share: the exclusive-first create, finding an id, IPC_RMID, the
 * /proc/sysvipc tables, and relative timeouts from our absolute deadlines. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

/* IPC_STAT of id in its family: 0 if it exists. EACCES proves it exists
 * too (IPC_STAT needs read access); EINVAL means no such id. */
static int ipc_exists(int family, int id)
{
	struct shmid_ds shm;
	struct semid_ds sem;
	struct msqid_ds msq;
	int rc;
	if (family == SHMQ_FAMILY_SYSV)
		rc = shmctl(id, IPC_STAT, &shm);
	else if (family == SHMQ_FAMILY_SYSV_SEM)
		rc = semctl(id, 0, IPC_STAT, (union shmq__semun){.buf = &sem});
	else
		rc = msgctl(id, IPC_STAT, &msq);
	if (rc >= 0 || errno == EACCES)
		return 0;
	return errno == EINVAL ? -ENOENT : shmq__neg_errno();
}

static int ipc_rmid(int family, int id)
{
	int rc;
	if (family == SHMQ_FAMILY_SYSV)
		rc = shmctl(id, IPC_RMID, NULL);
	else if (family == SHMQ_FAMILY_SYSV_SEM)
		rc = semctl(id, 0, IPC_RMID);
	else
		rc = msgctl(id, IPC_RMID, NULL);
	if (rc < 0)
		return errno == EINVAL ? -ENOENT : shmq__neg_errno();
	return 0;
}

int shmq__sysv_make(const struct shmq__sysv_make *m,
                    const struct shmq_locator *loc, unsigned mode,
                    int open_ok)
{
	if (loc->by == SHMQ_BY_ID)
		return SHMQ_EFAMILY; /* names an existing object only */
	key_t key = loc->by == SHMQ_BY_PRIVATE ? IPC_PRIVATE : loc->key;
	int fl = IPC_CREAT | IPC_EXCL | (int)(mode ? mode : 0600);
	/* Exclusive first, so we know whether the object is ours to remove
	 * on failure; then, if asked, open what is there. */
	for (int tries = 0; tries < 8; tries++) {
		int id = m->get(m->arg, key, fl);
		if (id >= 0) {
			SHMQ_CRASH_POINT("sysv.created"); /* before use */
			int rc = m->use(m->arg, id, 1);
			if (rc < 0)
				ipc_rmid(m->family, id);
			return rc;
		}
		if (id != -EEXIST || !open_ok)
			return id;
		id = m->get(m->arg, key, 0);
		int rc = id < 0 ? id : m->use(m->arg, id, 0);
		if (rc != -ENOENT)
			return rc; /* else removed meanwhile: create again */
	}
	return -EAGAIN;
}

int shmq__ipc_opts_check(unsigned mode, unsigned flags,
                         const uint64_t reserved[4])
{
	if ((flags & ~(SHMQ_OPEN_OK | SHMQ_ANY_OWNER)) || (mode & ~0777u) ||
	    !shmq__all_zero(reserved, 4 * sizeof(*reserved)))
		return -EINVAL;
	return 0;
}

int shmq__ipc_new(struct shmq__ipc **h, size_t size, const char *locator,
                  int family, struct shmq_locator *loc)
{
	*h = NULL;
	int rc = shmq__sysv_parse(locator, family, loc);
	if (rc < 0)
		return rc;
	*h = calloc(1, size);
	return *h ? 0 : -ENOMEM;
}

void *shmq__ipc_done(struct shmq__ipc *h, struct shmq_locator *loc, int rc)
{
	if (rc < 0) {
		free(h);
		return NULL;
	}
	shmq__locator_final(loc, h->id, h->locator, sizeof(h->locator));
	return h;
}

int shmq__sysv_parse(const char *locator, int family,
                     struct shmq_locator *loc)
{
	if (!locator)
		return -EINVAL;
	int rc = shmq_locator_parse(locator, loc);
	if (rc < 0)
		return rc;
	return loc->family == family ? 0 : SHMQ_EFAMILY;
}

int shmq__sysv_resolve(const struct shmq_locator *loc, int *id)
{
	if (loc->by == SHMQ_BY_ID) {
		int rc = ipc_exists(loc->family, loc->id);
		if (rc < 0)
			return rc;
		*id = loc->id;
		return 0;
	}
	if (loc->by != SHMQ_BY_KEY)
		return SHMQ_EFAMILY;
	/* A lookup by key needs no permission. */
	if (loc->family == SHMQ_FAMILY_SYSV)
		*id = shmget(loc->key, 0, 0);
	else if (loc->family == SHMQ_FAMILY_SYSV_SEM)
		*id = semget(loc->key, 0, 0);
	else
		*id = msgget(loc->key, 0);
	return *id < 0 ? shmq__neg_errno() : 0;
}

int shmq__sysv_unlink(const struct shmq_locator *loc)
{
	int id, rc = shmq__sysv_resolve(loc, &id);
	return rc < 0 ? rc : ipc_rmid(loc->family, id);
}

int shmq__ipc_unlink(const char *locator, int family)
{
	struct shmq_locator loc;
	int rc = shmq__sysv_parse(locator, family, &loc);
	return rc < 0 ? rc : shmq__sysv_unlink(&loc);
}

/*
 * The /proc/sysvipc tables show every object to every user, which IPC_STAT
 * does not (it needs read permission). Each row is numbers, perms in octal:
 *   shm: key shmid perms size cpid lpid nattch uid gid cuid cgid atime
 *        dtime ctime [rss swap]
 *   sem: key semid perms nsems uid gid cuid cgid otime ctime
 *   msg: key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid stime
 *        rtime ctime
 */
#define MAXCOLS 14

static void fill_shm(const long long *v, struct shmq_stat *st)
{
	st->removed = (v[2] & SHM_DEST) != 0;
	st->size = (uint64_t)v[3];
	st->cpid = (pid_t)v[4];
	st->lpid = (pid_t)v[5];
	st->nattch = v[6];
	st->atime = v[11];
	st->dtime = v[12];
	st->ctime = v[13];
}

static void fill_sem(const long long *v, struct shmq_stat *st)
{
	st->nsems = (uint64_t)v[3];
	st->nattch = -1; /* nobody attaches a semaphore set */
	st->atime = v[8];
	st->ctime = v[9];
}

static void fill_msg(const long long *v, struct shmq_stat *st)
{
	st->size = (uint64_t)v[3];
	st->qnum = (uint64_t)v[4];
	st->lspid = (pid_t)v[5];
	st->lrpid = (pid_t)v[6];
	st->nattch = -1;
	/* The kernel records no creator; the last to act is the later of the
	 * last sender (at stime) and the last receiver (at rtime). */
	st->lpid = v[11] >= v[12] ? st->lspid : st->lrpid;
	st->atime = v[11] >= v[12] ? v[11] : v[12];
	st->ctime = v[13];
}

static const struct table {
	int family;
	const char *path;
	int ncols;
	int uid; /* column of uid; gid, cuid and cgid follow it */
	void (*fill)(const long long *v, struct shmq_stat *st);
} tables[] = {
	{SHMQ_FAMILY_SYSV, "/proc/sysvipc/shm", 14, 7, fill_shm},
	{SHMQ_FAMILY_SYSV_SEM, "/proc/sysvipc/sem", 10, 4, fill_sem},
	{SHMQ_FAMILY_SYSV_MSG, "/proc/sysvipc/msg", 14, 7, fill_msg},
};

static const struct table *table_of(int family)
{
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (tables[i].family == family)
			return &tables[i];
	return NULL;
}

static int parse_row(const struct table *t, const char *line,
                     struct shmq_stat *st)
{
	long long v[MAXCOLS];
	for (int i = 0; i < t->ncols; i++) {
		char *end;
		errno = 0;
		v[i] = strtoll(line, &end, i == 2 ? 8 : 10);
		if (end == line || errno)
			return -1;
		line = end;
	}
	memset(st, 0, sizeof(*st));
	st->family = t->family;
	st->key = (int32_t)v[0];
	st->id = (int)v[1];
	st->mode = (unsigned)v[2] & 0777;
	st->uid = (uid_t)v[t->uid];
	st->gid = (gid_t)v[t->uid + 1];
	st->cuid = (uid_t)v[t->uid + 2];
	st->cgid = (gid_t)v[t->uid + 3];
	t->fill(v, st);
	return 0;
}

int shmq__sysv_each(int family, int (*fn)(struct shmq_stat *st, void *arg),
                    void *arg)
{
	const struct table *t = table_of(family);
	char line[512];
	struct shmq_stat st;
	if (!t)
		return SHMQ_EFAMILY;
	FILE *f = fopen(t->path, "re");
	if (!f)
		return shmq__neg_errno();
	int rc = 0;
	if (!fgets(line, sizeof(line), f)) /* the header line */
		rc = -EIO;
	while (rc == 0 && fgets(line, sizeof(line), f))
		if (parse_row(t, line, &st) == 0)
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

int shmq__sysv_stat_id(int family, int id, struct shmq_stat *st)
{
	struct find_id f = {id, st};
	int rc = shmq__sysv_each(family, match_id, &f);
	return rc == 1 ? 0 : rc < 0 ? rc : -ENOENT;
}
