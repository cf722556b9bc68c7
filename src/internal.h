/* Internal declarations shared by the library's source files. */
#ifndef SHMQ_INTERNAL_H
#define SHMQ_INTERNAL_H

#include "shmq.h"

#include <stdint.h>
#include <sys/ipc.h>
#include <sys/stat.h>
#include <sys/types.h>

#define SHMQ_API __attribute__((visibility("default")))

/* Declarations by layer, bottom first (src/layers.txt): a file calls only
 * into its own layer and the ones before it here. */

/* ==== util: errno, time, sizes, version, crash points ==== */

/* util_error.c */
int shmq__neg_errno(void);

/* util_time.c: the CLOCK_MONOTONIC time in nanoseconds. */
int64_t shmq__now_ns(void);
/* -EINVAL unless deadline is NULL or a valid timespec. */
int shmq__deadline_check(const struct timespec *deadline);
/* The sooner of the user's deadline (NULL: none) and ms from now:
 * a sleeper that must look again now and then (a peer may die). */
void shmq__poll_deadline(struct timespec *out, int64_t ms,
                         const struct timespec *user);
/* Time from now to the absolute CLOCK_MONOTONIC deadline in *left; returns
 * 0 (and *left zero) once it has passed. */
int shmq__time_left(const struct timespec *deadline, struct timespec *left);

/* util_size.c */
size_t shmq__huge_size(unsigned flags); /* page size for these flags */
size_t shmq__round_up(size_t n, size_t unit);
/* 1 if the n bytes at p are all zero: the reserved words of an opts
 * struct, which must be (-EINVAL otherwise) so that fields can come. */
int shmq__all_zero(const void *p, size_t n);

/* util_crash.c: named crash points, for the crash tests only. Built with
 * SHMQ_TEST_HOOKS (the sanitized test build), SHMQ_CRASH_POINT("area.step")
 * kills the process with SIGKILL when SHMQ_CRASH_AT names that point
 * ("name", or "name:N" for its Nth hit), and records the name in the
 * shmq_crash_points section so a test can list every point compiled in.
 * Otherwise it is nothing: the product has no hook. */
#ifdef SHMQ_TEST_HOOKS
void shmq__crash_hit(const char *name);
/* Every point compiled in; returns how many, *names the first. */
size_t shmq__crash_points(const char *const **names);
#define SHMQ_CRASH_POINT(name)                                               \
	do {                                                                 \
		static const char *const shmq__cp_                           \
			__attribute__((used, section("shmq_crash_points"),   \
			               aligned(sizeof(void *)))) = name;     \
		shmq__crash_hit(shmq__cp_);                                  \
	} while (0)
#else
#define SHMQ_CRASH_POINT(name) ((void)0)
#endif

/* ==== os: processes, limits, the SIGBUS guard (os_guard.h), membarrier,
 * owners ==== */

/* os_liveness.c */
/* Start time of a process or thread in clock ticks since boot; -ENOENT
 * when /proc has no such entry, -ESRCH when it has exited (a zombie). */
int shmq__pid_start(pid_t pid, uint64_t *ticks);
/* This thread's kernel tid, cached per thread (and reset in a fork child). */
pid_t shmq__tid(void);
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

/* os_limits.c */
int shmq__read_u64(const char *path, uint64_t *v);
/* The first n numbers of the file, separated by blanks. */
int shmq__read_u64s(const char *path, uint64_t *v, int n);

/* os_membarrier.c: registers this process for the asymmetric fences if
 * the kernel can; whether it uses them. Call before notifying (channel
 * open). */
int shmq__asym_setup(void);
int shmq__asym(void);

/* os_owner.c: 0 if an object owned by uid may be attached (ours or root's,
 * or SHMQ_ANY_OWNER in flags), else SHMQ_EOWNER: another user may have
 * taken the name first. */
int shmq__owner_check(unsigned flags, uid_t uid);
/* The same for a System V object: its owner and its creator (who can give
 * it to us with IPC_SET and keep control of it) must both pass. */
int shmq__owner_check_sysv(unsigned flags, const struct ipc_perm *perm);

/* os_pass.c: an fd handed over a Unix socket with the frame that says
 * what it is (what the fd is, seg_pass.c and chan_pass.c check). */
enum { SHMQ__PASS_SEG = 1, SHMQ__PASS_CHAN = 2 };
struct shmq__pass {
	uint32_t kind;  /* SHMQ__PASS_* */
	uint32_t flags; /* SHMQ_PASS_* */
	uint64_t size;  /* segment: the bytes the sender uses; channel: 0 */
};
/* Sends fd beside p's frame: 0 or a negative errno (-EPIPE: nobody at
 * the other end; never SIGPIPE). */
int shmq__pass_send(int sock, int fd, const struct shmq__pass *p);
/* Refuses a sender whose uid fails shmq__owner_check(flags) (SHMQ_EOWNER,
 * nothing read; *peer, if not NULL, is who it is), then receives one frame
 * and its one fd (*fd, the caller's to close): 0, -EPIPE (closed before a
 * frame), -EAGAIN, -EBADMSG (the frame or its fds are wrong: every fd
 * received is closed), SHMQ_EVERSION. */
int shmq__pass_recv(int sock, unsigned flags, struct ucred *peer, int *fd,
                    struct shmq__pass *p);

/* ==== ipc: locators and the kernel's objects (POSIX, memfd, System V)
 * ==== */

/* One attachment of a segment, in this process only: what seg.c hands
 * to the backend of its family (ipc_posix.c, ipc_sysv.c) to fill. */
struct shmq_seg {
	struct shmq_locator loc;
	char locator[SHMQ_LOCATOR_MAX]; /* canonical, after create/open */
	void *addr;
	size_t size;        /* bytes asked (create) or found (open) */
	size_t mapped_size; /* rounded to the (huge) page */
	int fd;             /* POSIX/memfd; -1 for sysv */
	int id;             /* sysv shmid; -1 otherwise */
	unsigned flags;     /* SHMQ_SEG_* in force */
	/* create: fills the new object before anyone else can open it */
	int (*init)(void *addr, size_t size, void *arg);
	void *init_arg;
};

/* ipc_locator.c: like shmq_locator_parse, and says why text is malformed. */
int shmq__locator_parse(const char *text, struct shmq_locator *loc,
                        const char **why);
/* Whether family is one of the System V ones (sysv, sysv-sem, sysv-msg). */
int shmq__is_sysv(int family);
/* The canonical locator of the object loc named, made or opened with id;
 * a private System V object is named by its id from now on (loc is changed
 * to say so). */
void shmq__locator_final(struct shmq_locator *loc, int id, char *buf,
                         size_t len);

/* ipc_posix.c: POSIX objects and memfds, both fd-backed */
int shmq__fd_create(struct shmq_seg *s, const struct shmq_seg_opts *o);
int shmq__fd_open(struct shmq_seg *s, const struct shmq_seg_opts *o);
int shmq__fd_close(struct shmq_seg *s);
int shmq__posix_unlink(const struct shmq_locator *loc); /* also posix-sem */
/* The file of a POSIX object or named semaphore below dir: "/" gives the
 * name shm_open takes, "/dev/shm/" its path. sem_open(3) keeps NAME as
 * sem.NAME. */
void shmq__shm_file(const struct shmq_locator *loc, const char *dir,
                    char *buf, size_t len);
int shmq__fd_set(const struct shmq_locator *loc, uid_t uid, gid_t gid,
                 int mode);
int shmq__fd_geometry(int fd, size_t *size, size_t *unit);
int shmq__memfd_get(const struct shmq_locator *loc, int acc);

/* ipc_sysv.c */
int shmq__sysv_create(struct shmq_seg *s, const struct shmq_seg_opts *o);
int shmq__sysv_open(struct shmq_seg *s, const struct shmq_seg_opts *o);
int shmq__sysv_close(struct shmq_seg *s);
/* Whether pid maps System V segment id on huge pages (its smaps): 1, 0,
 * or -1 when it cannot be told (pid does not map it, or its smaps is not
 * readable). The kernel tells nobody else: an unattached segment's is
 * unknown. */
int shmq__sysv_huge_seen(int id, pid_t pid);
int shmq__sysv_set(const struct shmq_locator *loc, uid_t uid, gid_t gid,
                   int mode);

/* ipc_sysvipc.c: what the System V families share. */
/* How one family makes an object: get is shmget/semget/msgget with flags
 * (IPC_CREAT | IPC_EXCL | mode to create, 0 to look up an existing one),
 * returning the id or a negative errno; use attaches, initialises or checks
 * the object (created: 1 if this call made it, which is then removed if use
 * fails; -ENOENT from use means it vanished meanwhile). */
struct shmq__sysv_make {
	int family;
	int (*get)(void *arg, key_t key, int flags);
	int (*use)(void *arg, int id, int created);
	void *arg;
};
/* semctl(2)'s fourth argument, which the caller must define. */
union shmq__semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};
/* -EINVAL unless the mode, flags (SHMQ_OPEN_OK, SHMQ_ANY_OWNER) and
 * reserved words of a semaphore set's or queue's opts are ones we know. */
int shmq__ipc_opts_check(unsigned mode, unsigned flags,
                         const uint64_t reserved[4]);
/* Parses locator, which must be of family (else SHMQ_EFAMILY). */
int shmq__sysv_parse(const char *locator, int family,
                     struct shmq_locator *loc);
/* Makes the object loc names (a key, or private; an id names an existing
 * one: SHMQ_EFAMILY), mode 0 meaning 0600. Exclusive create first; with
 * open_ok, an existing object is opened, and one removed meanwhile is
 * created again (at most 8 times, then -EAGAIN). */
int shmq__sysv_make(const struct shmq__sysv_make *m,
                    const struct shmq_locator *loc, unsigned mode,
                    int open_ok);
/* What the handles of a semaphore set and of a message queue start with. */
struct shmq__ipc {
	int id;
	char locator[SHMQ_LOCATOR_MAX]; /* canonical */
};
/* Parses locator, which must be of family, into a new zeroed handle of
 * size bytes that starts with a struct shmq__ipc (*h NULL on failure). */
int shmq__ipc_new(struct shmq__ipc **h, size_t size, const char *locator,
                  int family, struct shmq_locator *loc);
/* Ends a create or open: rc 0 names the handle by its canonical locator
 * and returns it; otherwise frees it and returns NULL. */
void *shmq__ipc_done(struct shmq__ipc *h, struct shmq_locator *loc, int rc);
/* The id a sysv* locator names: by key (no permission needed) or by id
 * (checked to exist). -ENOENT if none; private: SHMQ_EFAMILY. */
int shmq__sysv_resolve(const struct shmq_locator *loc, int *id);
int shmq__sysv_unlink(const struct shmq_locator *loc); /* IPC_RMID */
/* The same for a locator that must be of family (else SHMQ_EFAMILY). */
int shmq__ipc_unlink(const char *locator, int family);
/* Calls fn for each row of the family's /proc/sysvipc table (raw facts:
 * no locator, no liveness); stops at fn's first non-zero. */
int shmq__sysv_each(int family, int (*fn)(struct shmq_stat *st, void *arg),
                    void *arg);
int shmq__sysv_stat_id(int family, int id, struct shmq_stat *st);

/* ==== seg: the segment API (seg.c) ==== */

/* seg.c: shmq_seg_create, with init run on the mapped object before it
 * gets its name (POSIX) or is returned (memfd). System V has no such moment:
 * SHMQ_EFAMILY. */
int shmq__seg_create_init(shmq_seg **seg, const char *locator,
                          const struct shmq_seg_opts *opts,
                          int (*init)(void *addr, size_t size, void *arg),
                          void *arg);

/* seg.c: parses a locator that must name a segment (sysv, posix,
 * memfd), else SHMQ_EFAMILY. */
int shmq__seg_parse(const char *locator, struct shmq_locator *loc);

/* seg_pass.c: a new open file description (close it) of the memfd that
 * fd holds, with access acc (O_RDONLY, O_RDWR) and never more: the
 * receiver of a handover locks on its own. -EBADF: not a memfd. */
int shmq__memfd_reopen(int fd, int acc);
/* seg_pass.c: 0 if fd holds a memfd, else -EBADMSG (a handover that is
 * none). */
int shmq__memfd_check(int fd);
/* seg_pass.c: attaches the memfd fd received with p as opts asks (a
 * shmq_seg_open of memfd:fd=N, never with more access than handed:
 * -EACCES), and closes fd. -EBADMSG: fd is not a memfd. */
int shmq__seg_adopt_fd(shmq_seg **seg, int fd, const struct shmq__pass *p,
                       const struct shmq_seg_opts *opts);

/* ==== sync: futex mutex, semaphore, event, the algorithms, System V
 * semaphore sets and message queues ==== */

/* sync_sem.c: wakes the sleepers of an event, if any (channels). */
struct shmq_event_shm;
void shmq__event_announce(struct shmq_event_shm *ev);
void shmq__event_unannounce(struct shmq_event_shm *ev);
void shmq__event_notify(struct shmq_event_shm *ev);
/* Its slow half, once shmq_armed() (atomic.h) saw a sleeper's arm. */
void shmq__event_wake_armed(struct shmq_event_shm *ev);

/* sync_msgq.c: a queue's capacity (msg_qbytes), 0 if IPC_STAT is refused. */
uint64_t shmq__msgq_qbytes(int id);

/* ==== chan: channels (chan.h); what the layers above use ==== */

/* chan_fd.c: a pollable fd for a handle whose peers wake an event (a
 * channel end, a board), made readable by a thread of this process. The
 * object says, through its ops (ctx: its handle): */
struct shmq__guard;
struct shmq__fdw;
struct shmq__fdw_ops {
	/* whether the thread must wake the application although nothing
	 * was notified (a peer died, the header no longer validates); from
	 * the thread: never writes shared memory */
	int (*tick_finds)(void *ctx);
	/* a waiter announces itself on ev (shmq__event_announce), and takes
	 * it back */
	void (*announce)(void *ctx, struct shmq_event_shm *ev);
	void (*unannounce)(void *ctx, struct shmq_event_shm *ev);
	/* the application's tick, when the thread found one due */
	int (*tick)(void *ctx, struct shmq_event_shm *ev);
};
/* The application's try_ call: 0 or its result, -EAGAIN if nothing. */
typedef int (*shmq__fdw_check)(void *ctx, void *arg);
/* Starts the thread and its eventfd (readable at first) for ev; *w is set
 * on success. asym: the object's waits use the asymmetric fences. The
 * eventfd, or a negative errno. */
int shmq__fdw_open(struct shmq__fdw **w, void *ctx,
                   const struct shmq__fdw_ops *ops, struct shmq_event_shm *ev,
                   struct shmq__guard *guard, int64_t spin_ns, int asym);
int shmq__fdw_efd(const struct shmq__fdw *w);
/* A try_ call found nothing (check gave -EAGAIN): arms the fd,
 * re-checking after the announce. check's result. */
int shmq__fdw_arm(struct shmq__fdw *w, shmq__fdw_check check, void *arg);
/* The handle broke: its fd (w may be NULL) polls readable for good. */
void shmq__fdw_broken(struct shmq__fdw *w);
/* How many wakes only a poll tick found (w may be NULL: 0). */
uint64_t shmq__fdw_late(const struct shmq__fdw *w);
/* Stops the thread and closes the fd (w may be NULL); broken: the
 * mapping is not to be touched. */
void shmq__fdw_close(struct shmq__fdw *w, int broken);

/* chan_info.c: 1 if the file is a shmq channel (and whether it is stale:
 * every participant dead), 0 otherwise. Reads only. */
int shmq__chan_probe(int dirfd, const char *path, int *stale);
/* chan_info.c: the format version and layout hash a channel's header
 * claims (read-only, whoever owns it), and ours: 0, or -errno /
 * SHMQ_ENOTCHAN (not a channel: no channel magic). */
int shmq__chan_format(const char *locator, uint32_t theirs[2],
                      uint32_t ours[2]);
/* chan_samples.c: 1 if System V segment id is the data segment of a
 * persistent samples channel in /dev/shm, else 0. */
int shmq__samples_data_of(int id);


/* ==== board: latest-value boards (board.h) ==== */

/* board.c: 1 if the file at path (below dirfd) is a shmq board. */
int shmq__board_probe(int dirfd, const char *path);

#endif
