/* Internal declarations shared by the library's source files. */
#ifndef SHMQ_INTERNAL_H
#define SHMQ_INTERNAL_H

#include "shmq.h"

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define SHMQ_API __attribute__((visibility("default")))

/* One attachment of a segment, in this process only. */
struct shmq_seg {
	struct shmq_locator loc;
	char locator[SHMQ_LOCATOR_MAX]; /* canonical, after create/open */
	void *addr;
	size_t size;        /* bytes asked (create) or found (open) */
	size_t mapped_size; /* rounded to the (huge) page */
	int fd;             /* POSIX/memfd; -1 for sysv */
	int id;             /* sysv shmid; -1 otherwise */
	unsigned flags;     /* SHMQ_SEG_* in force */
};

/* locator.c: like shmq_locator_parse, and says why text is malformed. */
int shmq__locator_parse(const char *text, struct shmq_locator *loc,
                        const char **why);

/* sysv.c */
int shmq__sysv_create(struct shmq_seg *s, const struct shmq_seg_opts *o);
int shmq__sysv_open(struct shmq_seg *s, const struct shmq_seg_opts *o);
int shmq__sysv_close(struct shmq_seg *s);
int shmq__sysv_unlink(const struct shmq_locator *loc);
int shmq__sysv_set(const struct shmq_locator *loc, uid_t uid, gid_t gid,
                   int mode);
int shmq__sysv_resolve(const struct shmq_locator *loc, int *id);
int shmq__sysv_stat_id(int id, struct shmq_stat *st);
int shmq__sysv_each(int (*fn)(struct shmq_stat *st, void *arg), void *arg);
size_t shmq__huge_size(unsigned flags); /* page size for these flags */
size_t shmq__round_up(size_t n, size_t unit);

/* posix.c: POSIX objects and memfds, both fd-backed */
int shmq__fd_create(struct shmq_seg *s, const struct shmq_seg_opts *o);
int shmq__fd_open(struct shmq_seg *s, const struct shmq_seg_opts *o);
int shmq__fd_close(struct shmq_seg *s);
int shmq__posix_unlink(const struct shmq_locator *loc);
int shmq__fd_set(const struct shmq_locator *loc, uid_t uid, gid_t gid,
                 int mode);
int shmq__fd_geometry(int fd, size_t *size, size_t *unit);
int shmq__memfd_get(const struct shmq_locator *loc, int acc);

/* liveness.c */
/* Start time of pid in clock ticks since boot. */
int shmq__pid_start(pid_t pid, uint64_t *ticks);
/* SHMQ_PID_ALIVE if pid exists and started no later than t (epoch seconds;
 * 0 = any time): a pid that started after t is a reused pid, so dead. */
int shmq__pid_alive_since(pid_t pid, int64_t t);

/* Who maps or holds open which /dev/shm file or memfd: one /proc walk. */
struct shmq__user {
	dev_t dev;
	ino_t ino;
	pid_t pid;
	int fd; /* memfds: an fd number holding it in pid; -1 otherwise */
};
struct shmq__users {
	struct shmq__user *v;
	size_t n, cap;
	uid_t blind[32]; /* owners of processes whose /proc we cannot read */
	size_t nblind;
	int blind_overflow;
};
int shmq__users_scan(struct shmq__users *u);
/* Distinct processes using the file; *partial is set when a process we could
 * not read might use it too (its uid could open the file). */
int64_t shmq__users_count(const struct shmq__users *u, const struct stat *sb,
                          int *partial);
void shmq__users_free(struct shmq__users *u);

/* limits.c */
int shmq__read_u64(const char *path, uint64_t *v);

/* error.c */
int shmq__neg_errno(void);

#endif
