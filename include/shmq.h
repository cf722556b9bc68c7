/*
 * shmq: fast, safe inter-process communication through shared memory.
 *
 * This header is the whole public API. Every function returns 0 (or a count)
 * on success and a negative errno, or one of the SHMQ_E* codes below, on
 * failure. shmq_strerror() explains a code; shmq_explain() explains it for
 * one object, with the live facts (limits, owner, mode) and the fix.
 *
 * Objects are named by locators, one scheme for every family:
 *   sysv:key=0x7b  sysv:0x7b  sysv:123      System V segment by key
 *   sysv:id=32769                           System V segment by shmid
 *   sysv:ftok=/path:proj                    key from ftok(3), proj 1..255 or a char
 *   sysv:private                            IPC_PRIVATE (create only)
 *   sysv-sem:...  sysv-msg:...              System V semaphore set, message
 *                                           queue: the same forms as sysv:
 *   posix:NAME  NAME  /NAME                 POSIX object /dev/shm/NAME
 *   posix-sem:NAME                          POSIX named semaphore (sem_open
 *                                           "/NAME"), /dev/shm/sem.NAME
 *   memfd:NAME                              anonymous memfd (create only)
 *   memfd:fd=5                              a memfd inherited by fork/exec
 *   memfd:pid=1234,fd=5                     another process's memfd, reached
 *                                           through /proc/1234/fd/5
 */
#ifndef SHMQ_H
#define SHMQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version this header belongs to. */
#define SHMQ_VERSION_MAJOR 0
#define SHMQ_VERSION_MINOR 2
#define SHMQ_VERSION_PATCH 0
#define SHMQ_VERSION_STRING "0.2.0"
#define SHMQ_VERSION_NUMBER                                                   \
	((SHMQ_VERSION_MAJOR << 16) | (SHMQ_VERSION_MINOR << 8) |             \
	 SHMQ_VERSION_PATCH)

/* The version of the library loaded at run time: "0.2.0", and as
 * SHMQ_VERSION_NUMBER makes it (0x000200). */
const char *shmq_version(void);
unsigned shmq_version_number(void);

/* 0 when the library loaded at run time serves a program built against
 * major.minor: the same major and, while the major is 0, the same minor;
 * from 1.0 on, a minor at least as new. Else SHMQ_EVERSION. A program
 * calls SHMQ_VERSION_CHECK() once at start. */
int shmq_version_check(unsigned major, unsigned minor);
#define SHMQ_VERSION_CHECK()                                                  \
	shmq_version_check(SHMQ_VERSION_MAJOR, SHMQ_VERSION_MINOR)

/* ---- Errors ------------------------------------------------------------ */

/*
 * Our own codes, below every errno value: XX(NAME, N, sentence) gives
 * SHMQ_NAME = -(SHMQ_EBASE + N). The one list of them: shmq_strerror() and
 * shmq_err_name() are generated from it (as libuv's UV_ERRNO_MAP).
 */
#define SHMQ_EBASE 4096
#define SHMQ_ERRNO_MAP(XX)                                                    \
	XX(ELOCATOR, 1, "malformed locator (sysv:key=0x7b, sysv:id=N, "       \
	   "sysv:ftok=PATH:PROJ, sysv:private, sysv-sem:..., sysv-msg:..., "  \
	   "posix:NAME, posix-sem:NAME, memfd:NAME, memfd:fd=N)")             \
	XX(ESIZEMAX, 2, "size above the system limit (kernel.shmmax or "     \
	   "kernel.shmall; SEMMSL in kernel.sem for a semaphore set)")        \
	XX(ESIZEMIN, 3, "size is zero or below the system minimum (SHMMIN)")  \
	XX(ENOHUGE, 4, "huge pages are not available; reserve them with "     \
	   "sysctl vm.nr_hugepages")                                          \
	XX(ESMALL, 5, "the existing object is smaller than the size asked")   \
	XX(EFAMILY, 6, "operation not possible for this family of object")    \
	XX(EPEERDEAD, 7, "a peer died without closing the channel")           \
	XX(ELOST, 8, "messages were overwritten before this reader got them " \
	   "(lost)")                                                          \
	XX(EVERSION, 9, "another version of shmq: the object's format, or "   \
	   "the library a program was built against")                         \
	XX(ENOTCHAN, 10, "the object is not a shmq channel")                  \
	XX(EPEERS, 11, "every peer slot of the channel is taken (64 at "      \
	   "most)")                                                           \
	XX(EOWNER, 12, "the object belongs to another user (it may have "     \
	   "taken the name first); not attached")                             \
	XX(ETRUNCATED, 13, "the object was truncated by another process")   \
	XX(ENOTBOARD, 14, "the object is not a shmq board")                  \
	XX(EPOOL, 15, "the sample pool is too small: a samples channel "      \
	   "needs capacity >= readers * hold + history + 2")

enum {
#define SHMQ_XX_(name, n, text) SHMQ_##name = -(SHMQ_EBASE + (n)),
	SHMQ_ERRNO_MAP(SHMQ_XX_)
#undef SHMQ_XX_
#define SHMQ_XX_(name, n, text) +1
	/* The lowest code: the rows are numbered 1.. without a gap. */
	SHMQ_ELAST = -(SHMQ_EBASE + (0 SHMQ_ERRNO_MAP(SHMQ_XX_)))
#undef SHMQ_XX_
};

/* A static sentence for err (negative errno or SHMQ_E*); "unknown error"
 * for a code that is neither. Never NULL. */
const char *shmq_strerror(int err);

/* The symbolic name of err: "ENOENT", "SHMQ_ELOCATOR"; "OK" for 0,
 * "EUNKNOWN" for an unknown code. Never NULL. */
const char *shmq_err_name(int err);

/* The sentence of shmq_strerror() copied into buf, truncated to len bytes
 * (NUL included); "unknown error N" for an unknown code. Pure: no I/O, no
 * shared state. Returns buf. */
char *shmq_strerror_r(int err, char *buf, size_t len);

/*
 * Writes one line that names the object, says what is wrong and what to do:
 *   "posix:cam0: permission denied (mode 0600, owner uid 1000); run as that
 *    user (or root), or have the owner recreate it with a wider mode"
 * Unlike shmq_strerror_r() it does I/O to quote live facts: the object's
 * owner and mode (it stats object), limits from /proc/sys/kernel, the free
 * space of /dev/shm, the huge page reserve. The fix is said in terms of this
 * API (a flag, a call), not of any tool. object may be NULL; size is the
 * size that was asked for (a message's length for -EMSGSIZE), or 0.
 * Truncated to len bytes, NUL included. Returns buf.
 */
char *shmq_explain(int err, const char *object, size_t size, char *buf,
                   size_t len);

/* ---- Locators ---------------------------------------------------------- */

/* What a locator names (its prefix: shmq_family_name()). */
enum {
	SHMQ_FAMILY_SYSV = 1,      /* System V segment */
	SHMQ_FAMILY_POSIX = 2,     /* POSIX object, /dev/shm/NAME */
	SHMQ_FAMILY_MEMFD = 3,     /* memfd */
	SHMQ_FAMILY_SYSV_SEM = 4,  /* System V semaphore set */
	SHMQ_FAMILY_SYSV_MSG = 5,  /* System V message queue */
	SHMQ_FAMILY_POSIX_SEM = 6, /* POSIX named semaphore, /dev/shm/sem.NAME */
};

/* How a locator names its object. */
enum {
	SHMQ_BY_KEY = 1,     /* sysv*:key=, sysv*:NUMBER, sysv*:ftok= */
	SHMQ_BY_ID = 2,      /* sysv*:id= */
	SHMQ_BY_PRIVATE = 3, /* sysv*:private */
	SHMQ_BY_NAME = 4,    /* posix:NAME, posix-sem:NAME, memfd:NAME */
	SHMQ_BY_FD = 5,      /* memfd:fd= */
};

#define SHMQ_NAME_MAX 255

struct shmq_locator {
	int family;                   /* SHMQ_FAMILY_* */
	int by;                       /* SHMQ_BY_* */
	int32_t key;                  /* SHMQ_BY_KEY (ftok already applied) */
	int id;                       /* SHMQ_BY_ID */
	int fd;                       /* SHMQ_BY_FD */
	pid_t pid;                    /* SHMQ_BY_FD: holder; 0 = this process */
	char name[SHMQ_NAME_MAX + 1]; /* SHMQ_BY_NAME, without a leading '/' */
};

/*
 * Parses a locator. Returns 0, SHMQ_ELOCATOR for a malformed one, or the
 * errno of ftok(3) (-ENOENT when the ftok path does not exist).
 */
int shmq_locator_parse(const char *text, struct shmq_locator *loc);

/* Canonical text: "sysv:key=0x0000007b", "sysv:id=5", "posix:cam0",
 * "memfd:fd=5". Returns the length, -ENAMETOOLONG if len is too small, or
 * SHMQ_ELOCATOR for a family and form that make no locator. */
int shmq_locator_format(const struct shmq_locator *loc, char *buf, size_t len);

/* The ftok(3) key of path and proj (1..255). */
int shmq_ftok(const char *path, int proj, int32_t *key);

/* A family's locator prefix, without the ':' ("sysv", "sysv-sem",
 * "posix-sem", ...); NULL for an unknown family. */
const char *shmq_family_name(int family);

/* ---- Create and open: one rule for every object ------------------------
 *
 * Segments, channels, semaphore sets and message queues alike:
 *   shmq_X_create(&h, locator, [role,] &opts)  a new object, exclusively
 *                 (-EEXIST if the name is taken), unless opts.flags has
 *                 SHMQ_OPEN_OK: then an existing object is opened instead
 *                 (race free open-or-create);
 *   shmq_X_open(&h, locator, [role,] opts)     an existing object, never
 *                 creates (-ENOENT); opts may be NULL.
 * An object that another user owns is SHMQ_EOWNER on open (and on create
 * with SHMQ_OPEN_OK that finds one) unless SHMQ_ANY_OWNER: someone else
 * may have taken the name first (see shmq_seg_open). Every opts struct
 * ends with reserved fields that must be zero (else -EINVAL): zero the
 * whole struct ({0} or a designated initializer). Flags from bit 8 belong
 * to one kind of object (SHMQ_SEG_*, SHMQ_CHAN_*).
 */
#define SHMQ_OPEN_OK (1u << 0)   /* create: open the object if it exists */
#define SHMQ_ANY_OWNER (1u << 1) /* accept an object another user owns */

/* ---- Segments ---------------------------------------------------------- */

typedef struct shmq_seg shmq_seg; /* opaque: one attachment of a segment */

/* Flags of struct shmq_seg_opts, with SHMQ_OPEN_OK and SHMQ_ANY_OWNER. */
#define SHMQ_SEG_RDONLY (1u << 8)   /* attach read-only (SHM_RDONLY, mmap) */
#define SHMQ_SEG_HUGE_2M (1u << 9)  /* 2 MiB huge pages (sysv, memfd) */
#define SHMQ_SEG_HUGE_1G (1u << 10) /* 1 GiB huge pages (sysv, memfd) */
#define SHMQ_SEG_RND (1u << 11)     /* sysv: round addr down to SHMLBA */
#define SHMQ_SEG_NOSEAL (1u << 12)  /* memfd: leave the size unsealed */

struct shmq_seg_opts {
	size_t size;   /* create: bytes (>0). open: 0, or the least size needed */
	unsigned mode; /* create: permission bits; 0 means 0600 */
	unsigned flags;/* SHMQ_SEG_* */
	void *addr;    /* attach address, exactly (or rounded with
	                  SHMQ_SEG_RND); NULL lets the kernel choose */
	uint64_t reserved[4]; /* must be zero (else -EINVAL): initialise the
	                         struct with = {...} and fields can be added */
};

/*
 * Creates a new object and attaches it. Creation is exclusive unless
 * SHMQ_OPEN_OK is set (IPC_CREAT without IPC_EXCL, O_CREAT without
 * O_EXCL). The mode is applied exactly, whatever the umask. POSIX objects are
 * backed with posix_fallocate, so a full /dev/shm fails here with -ENOSPC
 * and never raises SIGBUS later. A failed create leaves nothing behind.
 */
int shmq_seg_create(shmq_seg **seg, const char *locator,
                    const struct shmq_seg_opts *opts);

/* Attaches an existing object. opts may be NULL (read-write, whole object).
 *
 * Owner check: open, and create with SHMQ_OPEN_OK when the object
 * exists, refuse a POSIX object or System V segment that belongs to another
 * user with SHMQ_EOWNER, after the kernel's own permission check (-EACCES
 * comes first). It belongs to us if its owner (and, for System V, also its
 * creator: the creator can give a segment away with IPC_SET and keep
 * control of it) is our effective uid or root. Root's objects are trusted
 * because root can read and write ours anyway; root itself gets no
 * exemption, since a privileged process is the one a squatter targets.
 * SHMQ_ANY_OWNER skips the check, for an object you know another user
 * made (a group-shared 0660 segment). Memfds have no name to squat and are
 * not checked. */
int shmq_seg_open(shmq_seg **seg, const char *locator,
                  const struct shmq_seg_opts *opts);

/* Detaches (unmaps) and frees the handle; the object stays. NULL is a no-op. */
int shmq_seg_close(shmq_seg *seg);

/*
 * Removes the object's name: shm_unlink for POSIX, IPC_RMID for System V
 * (the segment is "marked for removal" and goes when the last process
 * detaches). Memfd objects have no name, and the other families are not
 * segments: SHMQ_EFAMILY (shmq_unlink removes any of them).
 */
int shmq_seg_unlink(const char *locator);

/* Removes any named object by locator, whatever its family: segments as
 * shmq_seg_unlink, semaphore sets and message queues (IPC_RMID: gone at
 * once, waiters get -EIDRM), POSIX named semaphores (the name goes; who has
 * it open keeps it). Memfds: SHMQ_EFAMILY. */
int shmq_unlink(const char *locator);

void *shmq_seg_addr(const shmq_seg *seg);
size_t shmq_seg_size(const shmq_seg *seg);        /* bytes asked or found */
size_t shmq_seg_mapped_size(const shmq_seg *seg); /* rounded to the page */
int shmq_seg_fd(const shmq_seg *seg);             /* POSIX/memfd; -1: sysv */
int shmq_seg_id(const shmq_seg *seg);             /* sysv shmid; -1 others */
const char *shmq_seg_locator(const shmq_seg *seg);/* canonical locator */

/* Changes owner and mode (IPC_SET; fchown/fchmod). uid/gid -1: unchanged;
 * mode -1: unchanged. */
int shmq_seg_setperm(const char *locator, uid_t uid, gid_t gid, int mode);

/* ---- Status and listing ------------------------------------------------ */

#define SHMQ_LOCATOR_MAX 320

/* Liveness of a pid: */
enum {
	SHMQ_PID_UNKNOWN = -1, /* no pid, or /proc cannot tell */
	SHMQ_PID_DEAD = 0,     /* gone, or reused by a newer process */
	SHMQ_PID_ALIVE = 1,
};

struct shmq_stat {
	int family;                       /* SHMQ_FAMILY_* */
	char locator[SHMQ_LOCATOR_MAX];   /* canonical locator */
	char name[SHMQ_NAME_MAX + 1];     /* POSIX/memfd name, semaphore name
	                                     without "sem."; "" for sysv* */
	int32_t key;                      /* sysv* key; 0 = IPC_PRIVATE */
	int id;                           /* sysv* shmid, semid, msqid; -1
	                                     otherwise */
	uint64_t size;                    /* bytes as created; sysv-msg: bytes
	                                     queued; sysv-sem: 0 */
	uint64_t mapped_size;             /* size rounded to the (huge) page */
	unsigned mode;                    /* permission bits */
	uid_t uid, cuid;                  /* owner, creator (POSIX: owner) */
	gid_t gid, cgid;
	int64_t nattch;     /* attached/mapping processes; -1 unknown, and
	                       for sysv-sem/sysv-msg, which nobody attaches */
	int nattch_partial; /* POSIX: some processes could not be read, so
	                       nattch is a lower bound */
	pid_t cpid, lpid;   /* creator, last attach/detach; 0 unknown.
	                       sysv-msg: no creator; lpid is the later of
	                       lspid and lrpid */
	int cpid_alive;     /* SHMQ_PID_* (pid + start time, not pid alone) */
	int lpid_alive;
	int64_t atime, dtime, ctime; /* seconds since the epoch; 0 unknown.
	                       sysv-sem: atime is the last semop; sysv-msg:
	                       the last msgsnd or msgrcv */
	int removed;        /* sysv: marked for removal, still attached */
	int huge;           /* backed by huge pages: 1 yes, 0 no, -1 unknown
	                       (a System V segment that no process this
	                       one can read maps: the kernel does not say) */
	int orphan;         /* no live attacher/mapper, creator dead */
	int stale;          /* shmq object whose every participant is dead */
	char kind[16];      /* "channel" (a shmq channel), "board" (a shmq
	                       board), "samples-data" (the data segment of
	                       a persistent samples channel), "posix-sem",
	                       or "raw" for any other object */
	/* System V semaphore sets and message queues (0 for the others): */
	uint64_t nsems;     /* sysv-sem: semaphores in the set */
	uint64_t qnum;      /* sysv-msg: messages queued */
	uint64_t qbytes;    /* sysv-msg: the queue's capacity in bytes
	                       (msg_qbytes); 0 unknown (needs read access) */
	pid_t lspid, lrpid; /* sysv-msg: last msgsnd, last msgrcv; 0 none */
	int lspid_alive, lrpid_alive; /* SHMQ_PID_* */
	uint64_t reserved[8];         /* zeroed, for fields to come */
};

/* Status of the object a locator names. */
int shmq_stat(const char *locator, struct shmq_stat *st);

/* Status of an attached segment. */
int shmq_seg_stat(const shmq_seg *seg, struct shmq_stat *st);

/* Flags of shmq_list(). */
#define SHMQ_LIST_ALL (1u << 0) /* also memfds that processes hold */

/*
 * Calls fn once per object: every System V segment, semaphore set and
 * message queue (/proc/sysvipc/shm, sem, msg), every POSIX object and named
 * semaphore in /dev/shm, made by shmq or not (memfds only with
 * SHMQ_LIST_ALL). A non-zero return
 * from fn stops the walk and is returned. Returns the number of objects.
 */
int shmq_list(unsigned flags, int (*fn)(const struct shmq_stat *st, void *arg),
              void *arg);

/* ---- System limits ----------------------------------------------------- */

struct shmq_limits {
	uint64_t shmmax; /* largest System V segment, bytes */
	uint64_t shmall; /* all System V segments together, pages */
	uint64_t shmmni; /* number of System V segments */
	uint64_t shmmin; /* smallest System V segment, bytes (1 on Linux) */
	uint64_t shm_free;  /* free bytes in /dev/shm */
	uint64_t huge_2m_free, huge_1g_free; /* free huge pages per size */
	uint64_t page_size;
	/* kernel.sem: per set, in all, per semop, sets; kernel.msg*: */
	uint64_t semmsl, semmns, semopm, semmni;
	uint64_t msgmax; /* largest message, bytes */
	uint64_t msgmnb; /* default capacity of a new queue, bytes */
	uint64_t msgmni; /* number of queues */
	uint64_t reserved[8]; /* zeroed, for fields to come */
};

int shmq_limits_get(struct shmq_limits *lim);

/* ---- Synchronization that lives in shared memory ------------------------
 *
 * shmq_mutex, shmq_sem and shmq_event are plain structs that the caller
 * places in a shared segment (at an 8-byte aligned offset) and initialises
 * once, in one process, before any other process uses them. They work
 * across processes (shared futexes, never FUTEX_PRIVATE). Deadlines are
 * absolute CLOCK_MONOTONIC times (shmq_deadline() makes one), so a signal
 * never stretches a wait. Every call checks the object's magic: garbage
 * gives -EINVAL, never a crash or a hang.
 */

/* now + ms on CLOCK_MONOTONIC, for the _timed calls. */
struct timespec shmq_deadline(int64_t ms);

/* A mutex that survives a dead owner. When its owner dies holding it, the
 * next locker gets -EOWNERDEAD and owns it: it repairs the data and calls
 * shmq_mutex_consistent(); if it unlocks without doing so, the mutex becomes
 * not recoverable and every later lock gets -ENOTRECOVERABLE. An
 * uncontended lock/unlock pair makes no system call. */
typedef struct shmq_mutex {
	_Alignas(8) unsigned char opaque[16];
} shmq_mutex;

int shmq_mutex_init(shmq_mutex *m);
int shmq_mutex_lock(shmq_mutex *m);      /* 0, -EOWNERDEAD, -ENOTRECOVERABLE,
                                            -EDEADLK (we hold it) */
int shmq_mutex_try_lock(shmq_mutex *m);  /* also -EBUSY */
int shmq_mutex_lock_timed(shmq_mutex *m, const struct timespec *deadline);
                                         /* also -ETIMEDOUT */
int shmq_mutex_unlock(shmq_mutex *m);    /* -EPERM: not the owner */
int shmq_mutex_consistent(shmq_mutex *m);/* after -EOWNERDEAD, repaired */

/* A counting semaphore. */
typedef struct shmq_sem {
	_Alignas(8) unsigned char opaque[16];
} shmq_sem;

int shmq_sem_init(shmq_sem *s, uint32_t value); /* 0..INT32_MAX */
int shmq_sem_post(shmq_sem *s);          /* -EOVERFLOW: at INT32_MAX */
int shmq_sem_wait(shmq_sem *s);
int shmq_sem_try_wait(shmq_sem *s);      /* -EAGAIN when zero */
int shmq_sem_wait_timed(shmq_sem *s, const struct timespec *deadline);
int shmq_sem_value(const shmq_sem *s);   /* the count now, >= 0 */

/* An event: a sequence number that waiters wait to see change. A signal
 * with nobody waiting makes no system call. */
typedef struct shmq_event {
	_Alignas(8) unsigned char opaque[16];
} shmq_event;

int shmq_event_init(shmq_event *e);
uint32_t shmq_event_seq(const shmq_event *e); /* read it before checking
                                                  your condition */
int shmq_event_signal(shmq_event *e);    /* bumps the sequence, wakes all */
int shmq_event_wait(shmq_event *e, uint32_t seen);
int shmq_event_wait_timed(shmq_event *e, uint32_t seen,
                          const struct timespec *deadline);
                                         /* 0 once seq != seen */

/* ---- Classic mutual-exclusion algorithms --------------------------------
 *
 * Dekker, Peterson (2 processes), Filter, Szymanski and Lamport's bakery
 * (up to SHMQ_ALGO_MAX_PROCS), in shared memory, correct on real hardware
 * (the seq_cst fences the textbook versions leave out). They spin: for
 * teaching and comparison; shmq_mutex is the lock to use. Each process uses
 * its own slot number, 0..nprocs-1.
 */
enum {
	SHMQ_ALGO_DEKKER = 1,
	SHMQ_ALGO_PETERSON = 2,
	SHMQ_ALGO_FILTER = 3,
	SHMQ_ALGO_SZYMANSKI = 4,
	SHMQ_ALGO_BAKERY = 5,
};
#define SHMQ_ALGO_MAX_PROCS 64

/* Bytes of shared state the algorithm needs (the same for any nprocs). */
size_t shmq_algo_size(void);
/* Name ("dekker", ...) of an algorithm, NULL if unknown; and back. */
const char *shmq_algo_name(int algo);
int shmq_algo_from_name(const char *name); /* SHMQ_ALGO_* or -EINVAL */
/* Lays out the state in mem (8-byte aligned, 64 to keep slots on their own
 * cache lines; len >= shmq_algo_size()), once, before any process uses it.
 * -EINVAL: bad mem or len, unknown algo, nprocs not 1..SHMQ_ALGO_MAX_PROCS
 * (Dekker and Peterson: not 2). */
int shmq_algo_init(void *mem, size_t len, int algo, unsigned nprocs);
/* Spins until process me (0..nprocs-1) is in. -EINVAL: me >= nprocs, or
 * the state is not one init made (magic, format, size, algo, nprocs are
 * checked on every call). Bakery: -EOVERFLOW, without the lock, when a
 * ticket would pass 2^62 (a corrupted slot; honest use needs 2^62 locks). */
int shmq_algo_lock(void *mem, unsigned me);
int shmq_algo_unlock(void *mem, unsigned me); /* -EINVAL as lock */

/* ---- System V semaphore sets and message queues -------------------------
 *
 * Checked wrappers over semget/semop/semctl and msgget/msgsnd/msgrcv/msgctl,
 * named with the same locators as segments but their own prefixes:
 * sysv-sem:key=0x7b, sysv-sem:id=N, sysv-sem:ftok=PATH:PROJ, sysv-sem:private
 * and sysv-msg:... . Both show in shmq_list (family SHMQ_FAMILY_SYSV_SEM,
 * SHMQ_FAMILY_SYSV_MSG), and shmq_stat and shmq_unlink take them. Create and
 * open follow the rule above (SHMQ_OPEN_OK; SHMQ_ANY_OWNER, else the owner
 * and the creator are checked as for a System V segment); a private object
 * is named sysv-sem:id=N / sysv-msg:id=N afterwards (see _locator). An
 * operation on an object removed meanwhile gives -EIDRM. Deadlines are
 * absolute CLOCK_MONOTONIC times, as for the other _timed calls.
 */
typedef struct shmq_semset shmq_semset; /* opaque */

struct shmq_semset_opts {
	unsigned nsems;  /* create: semaphores (>0). open: 0, or the least
	                    number needed (SHMQ_ESMALL) */
	unsigned mode;   /* create: permission bits; 0 means 0600 */
	unsigned flags;  /* SHMQ_OPEN_OK, SHMQ_ANY_OWNER */
	uint64_t reserved[4]; /* zero */
};

/* Creates opts->nsems semaphores, all 0. nsems 0: -EINVAL; above SEMMSL
 * (kernel.sem): SHMQ_ESIZEMAX. With SHMQ_OPEN_OK, an existing set with
 * fewer than nsems: SHMQ_ESMALL. */
int shmq_semset_create(shmq_semset **set, const char *locator,
                       const struct shmq_semset_opts *opts);
/* Opens an existing set (opts may be NULL). Needs read access (-EACCES). */
int shmq_semset_open(shmq_semset **set, const char *locator,
                     const struct shmq_semset_opts *opts);
int shmq_semset_close(shmq_semset *set);      /* the set stays */
int shmq_semset_unlink(const char *locator);  /* IPC_RMID */
int shmq_semset_count(const shmq_semset *set);/* number of semaphores */
int shmq_semset_getval(const shmq_semset *set, unsigned num); /* >= 0 */
/* SETVAL: 0..32767 (SEMVMX), else -ERANGE. It also clears every process's
 * undo record for that semaphore, as semctl(2) does. */
int shmq_semset_setval(shmq_semset *set, unsigned num, int value);
/* Adds delta (-32767..32767) to semaphore num (negative: waits until it
 * can; 0: waits until it is 0). SEM_UNDO is always on, so a process that
 * dies gives its units back, and units it added are taken away again when
 * it exits: use a set as a lock or a pool of resources that each process
 * takes and returns, not to signal another process. Returns 0, -EIDRM,
 * -EINVAL (num out of range), -ERANGE (the value would pass 32767);
 * try_op: -EAGAIN when it would wait; op_timed: -ETIMEDOUT (deadline NULL:
 * no limit). */
int shmq_semset_op(shmq_semset *set, unsigned num, int delta);
int shmq_semset_try_op(shmq_semset *set, unsigned num, int delta);
int shmq_semset_op_timed(shmq_semset *set, unsigned num, int delta,
                         const struct timespec *deadline);
int shmq_semset_id(const shmq_semset *set);              /* semid */
const char *shmq_semset_locator(const shmq_semset *set); /* canonical */

typedef struct shmq_msgq shmq_msgq; /* opaque */

struct shmq_msgq_opts {
	unsigned mode;   /* create: permission bits; 0 means 0600 */
	unsigned flags;  /* SHMQ_OPEN_OK, SHMQ_ANY_OWNER */
	uint64_t reserved[4]; /* zero */
};

/* Creates an empty queue (opts may be NULL: mode 0600). */
int shmq_msgq_create(shmq_msgq **q, const char *locator,
                     const struct shmq_msgq_opts *opts);
/* Opens an existing queue (opts may be NULL). The owner check reads the
 * queue's owner (IPC_STAT): without read access, -EACCES unless
 * SHMQ_ANY_OWNER (a queue others may only write to). */
int shmq_msgq_open(shmq_msgq **q, const char *locator,
                   const struct shmq_msgq_opts *opts);
int shmq_msgq_close(shmq_msgq *q);
int shmq_msgq_unlink(const char *locator);
/* type > 0. Returns 0, -EIDRM, -EMSGSIZE (len above kernel.msgmax, or
 * above the queue's capacity, so it could never fit); try_send: -EAGAIN
 * (full); send_timed: -ETIMEDOUT (deadline NULL: no limit). The kernel has
 * no timed send or receive: with a deadline the call polls with IPC_NOWAIT
 * and sleeps 50 us doubling up to 2 ms between tries, so it notices space
 * or a message up to 2 ms late; without one it blocks in the kernel and
 * wakes at once. */
int shmq_msgq_send(shmq_msgq *q, long type, const void *buf, size_t len);
int shmq_msgq_try_send(shmq_msgq *q, long type, const void *buf, size_t len);
int shmq_msgq_send_timed(shmq_msgq *q, long type, const void *buf,
                         size_t len, const struct timespec *deadline);
/* type as msgrcv(2): 0 any, > 0 that type, < 0 lowest <= |type|. Returns the
 * message length and its type in *got_type (may be NULL); -E2BIG when the
 * message is longer than len (it stays queued); -EIDRM; try_recv: -EAGAIN
 * (no such message); recv_timed: -ETIMEDOUT. */
ssize_t shmq_msgq_recv(shmq_msgq *q, long type, void *buf, size_t len,
                       long *got_type);
ssize_t shmq_msgq_try_recv(shmq_msgq *q, long type, void *buf, size_t len,
                           long *got_type);
ssize_t shmq_msgq_recv_timed(shmq_msgq *q, long type, void *buf, size_t len,
                             long *got_type,
                             const struct timespec *deadline);
int shmq_msgq_id(const shmq_msgq *q);                /* msqid */
const char *shmq_msgq_locator(const shmq_msgq *q);   /* canonical */

/* ---- Channels: message queues in shared memory ---------------------------
 *
 * A channel is one shared object (a POSIX object by default, or a memfd
 * passed by fork/exec) holding a header, a table of attached processes and
 * a ring. Kinds:
 *   SHMQ_CHAN_SPSC       one writer, one reader; variable-size messages in a
 *                        byte ring (capacity = ring bytes, a power of two)
 *   SHMQ_CHAN_MPMC       many writers and readers; each message goes to
 *                        exactly one reader (capacity = slots, msg_size =
 *                        largest message)
 *   SHMQ_CHAN_BROADCAST  one writer, many readers; every reader sees every
 *                        message from the moment it joins (policy BLOCK: the
 *                        writer waits for the slowest live reader; OVERWRITE:
 *                        it never waits, a reader that falls behind gets
 *                        SHMQ_ELOST and the count it missed)
 *   SHMQ_CHAN_SAMPLES    one writer, many readers, zero copy both ways: a
 *                        pool of `capacity` samples of up to msg_size bytes
 *                        each in a separate data segment that readers map
 *                        read-only; each reader gets a pointer to the same
 *                        bytes and holds up to `hold` samples at once (see
 *                        "Sample channels" below)
 * A dead peer never blocks the others: a blocked call notices within
 * ~50 ms. A reader whose writers all died gets SHMQ_EPEERDEAD once the ring
 * is drained; after all writers closed normally it gets -EPIPE (end of
 * stream). A header that no longer validates gives -EBADMSG.
 * A peer that shrinks the object (ftruncate) gives SHMQ_ETRUNCATED, never
 * SIGBUS: a POSIX channel's calls run under a SIGBUS guard (a process-wide
 * handler, installed when the first such channel opens, that passes every
 * SIGBUS not raised by our own access to the previous handler); a memfd
 * channel is sealed against it. After SHMQ_ETRUNCATED every call on the
 * handle returns it; close it. The pointers reserve and peek give are the
 * caller's to touch: a fault there is the caller's SIGBUS.
 */
enum {
	SHMQ_CHAN_SPSC = 1,
	SHMQ_CHAN_MPMC = 2,
	SHMQ_CHAN_BROADCAST = 3,
	SHMQ_CHAN_SAMPLES = 4,
};
enum {
	SHMQ_POLICY_BLOCK = 0,
	SHMQ_POLICY_OVERWRITE = 1,
};
enum {
	SHMQ_WRITER = 1,
	SHMQ_READER = 2,
};


/* Flags of struct shmq_chan_opts, with SHMQ_OPEN_OK and SHMQ_ANY_OWNER. */
#define SHMQ_CHAN_PERSIST (1u << 8) /* the last close does not unlink */
#define SHMQ_CHAN_HUGE_2M (1u << 9) /* samples: data on 2 MiB huge pages */
/* create: the channel's waiters and notifiers use plain fences, not the
 * asymmetric pair: no membarrier() each time a waiter goes to sleep, a full
 * fence at every send and receive instead. For channels whose peers sleep
 * often (a bridge, a paced stream) on machines where membarrier() is slow
 * (VMs: 10-30 us). Every process that opens the channel obeys it. */
#define SHMQ_CHAN_PLAIN_FENCES (1u << 10)

#define SHMQ_CHAN_MAX_PEERS 64

struct shmq_chan_opts {
	int kind;          /* create: SHMQ_CHAN_* (0: spsc) */
	size_t capacity;   /* create: spsc ring bytes, or slots (0: default) */
	size_t msg_size;   /* create: mpmc/broadcast largest message (0: 4096) */
	int policy;        /* create: broadcast SHMQ_POLICY_* */
	unsigned mode;     /* create: permission bits (0: 0600) */
	unsigned flags;    /* SHMQ_OPEN_OK, SHMQ_ANY_OWNER, SHMQ_CHAN_* */
	int64_t spin_ns;   /* spin before sleeping; -1: the channel's default
	                      (50 us); 0: sleep at once. To busy-wait, give a
	                      long budget (e.g. an hour) rather than looping
	                      on try_: the library paces its polls of a full
	                      ring, still notices a dead peer within 50 ms and
	                      still keeps a _timed deadline. */
	uint32_t history;  /* create, samples: the last `history` published
	                      samples a joining reader gets first (0) */
	uint32_t hold;     /* create, samples: samples a reader may hold at
	                      once (0: 1) */
	uint32_t batch;    /* spsc (0, 1: none): a writer publishes every
	                      `batch` messages, a reader wakes a writer
	                      waiting for room every `batch`; see
	                      shmq_chan_flush */
	uint32_t reserved0;   /* must be zero (else -EINVAL) */
	uint64_t reserved[2]; /* must be zero (else -EINVAL), as in
	                         struct shmq_seg_opts */
};

typedef struct shmq_chan shmq_chan; /* opaque: one process's attachment */

/* Creates a channel (exclusively: -EEXIST) and attaches as role (opts may
 * be NULL). The object appears under its name only once initialised. With
 * SHMQ_OPEN_OK an existing channel is joined instead: two processes
 * starting together end up on one channel, whatever the order (the
 * geometry of the one that exists wins). -ENOSPC, -ENOMEM: as
 * shmq_seg_create. */
int shmq_chan_create(shmq_chan **ch, const char *locator, int role,
                     const struct shmq_chan_opts *opts);
/* Attaches to an existing channel as role (opts may be NULL; only flags,
 * spin_ns and batch count); never creates (-ENOENT). Every peer, reader or
 * writer, writes its line of the peer table, so both need read and write
 * access (-EACCES otherwise). A channel another user owns is SHMQ_EOWNER
 * unless SHMQ_ANY_OWNER (the rule of shmq_seg_open). SHMQ_EPEERS: all
 * SHMQ_CHAN_MAX_PEERS lines are taken by live peers. */
int shmq_chan_open(shmq_chan **ch, const char *locator, int role,
                   const struct shmq_chan_opts *opts);
/* Detaches. The last process to close removes the object unless it was
 * created with SHMQ_CHAN_PERSIST. */
int shmq_chan_close(shmq_chan *ch);
/* Removes a channel's name (peers attached keep it until they close).
 * An object that is not a shmq channel is left in place: SHMQ_ENOTCHAN. */
int shmq_chan_unlink(const char *locator);

/* Copies a message in. 0, -EMSGSIZE (larger than the channel takes),
 * -EAGAIN (try_: full), -ETIMEDOUT, SHMQ_EPEERDEAD (the ring is full and
 * its readers died), -EBADMSG, SHMQ_ETRUNCATED. A full ring whose readers
 * closed normally waits for a new reader (a channel outlives its peers).
 * Limits: a ring of at most 2^40 bytes, a message of at most 1 GiB. */
int shmq_chan_send(shmq_chan *ch, const void *buf, size_t len);
int shmq_chan_try_send(shmq_chan *ch, const void *buf, size_t len);
int shmq_chan_send_timed(shmq_chan *ch, const void *buf, size_t len,
                         const struct timespec *deadline);

/* Batching (opts.batch = N > 1, spsc only; -EINVAL for another kind), a
 * throughput mode. A writer publishes its messages N at a time, which
 * spares the reader a cache line bounce per message. A message is held
 * until the N-th after it is sent, the writer would wait for room (or try_
 * finds none), shmq_chan_flush, or close: a writer that may pause calls
 * shmq_chan_flush when its input runs dry. Held messages are lost if the
 * writer dies (never torn, as an unpublished send). A reader frees each
 * message's room at once (one that dies never gives a message twice) but
 * wakes a writer waiting for room once per N messages, or when it would
 * wait itself (or try_ finds nothing), flush, or close: a writer on a full
 * ring runs once per N messages instead of once per message. A reader
 * that stops reading for a while without waiting calls shmq_chan_flush
 * first (else the writer sees the room at its next poll, within 50 ms).
 * flush: 0, -EPERM on a reader that does not batch, the codes of send.
 * A writer without batching has nothing to flush (0). */
int shmq_chan_flush(shmq_chan *ch);

/* Copies the next message out: its length, or -EMSGSIZE (buf too small:
 * the message stays), -EAGAIN (try_: empty), -ETIMEDOUT, -EPIPE (end of
 * stream), SHMQ_EPEERDEAD, SHMQ_ELOST (broadcast: see shmq_chan_lost),
 * -EBADMSG, SHMQ_ETRUNCATED. */
ssize_t shmq_chan_recv(shmq_chan *ch, void *buf, size_t len);
ssize_t shmq_chan_try_recv(shmq_chan *ch, void *buf, size_t len);
ssize_t shmq_chan_recv_timed(shmq_chan *ch, void *buf, size_t len,
                             const struct timespec *deadline);

/* Zero copy. reserve gives room for len bytes in the ring (errors as
 * send); commit publishes the first `len` of them (<= reserved). peek gives
 * the next message in place and returns its length (errors as recv);
 * release frees it. As send and recv: the plain call waits forever, try_
 * never waits (-EAGAIN: full, empty), _timed waits until the deadline
 * (-ETIMEDOUT; NULL: forever). */
int shmq_chan_reserve(shmq_chan *ch, size_t len, void **ptr);
int shmq_chan_try_reserve(shmq_chan *ch, size_t len, void **ptr);
int shmq_chan_reserve_timed(shmq_chan *ch, size_t len, void **ptr,
                            const struct timespec *deadline);
int shmq_chan_commit(shmq_chan *ch, size_t len);
/* Gives back an open reserve instead of committing it: no reader ever sees
 * it (an error path, an exception). -EINVAL: no reserve is open. */
int shmq_chan_abandon(shmq_chan *ch);
ssize_t shmq_chan_peek(shmq_chan *ch, const void **ptr);
ssize_t shmq_chan_try_peek(shmq_chan *ch, const void **ptr);
ssize_t shmq_chan_peek_timed(shmq_chan *ch, const void **ptr,
                             const struct timespec *deadline);
int shmq_chan_release(shmq_chan *ch);
/* Releases the held sample that ptr points into (samples: in any order;
 * other kinds: as shmq_chan_release when ptr is the open peek's pointer).
 * -EINVAL: this handle holds nothing there. */
int shmq_chan_release_at(shmq_chan *ch, const void *ptr);

/*
 * Sample channels (SHMQ_CHAN_SAMPLES). The writer loans a sample with
 * reserve (len <= msg_size; one loan open at a time), fills it in place and
 * publishes it with commit to every reader attached, or gives it back with
 * abandon. Each peek gives a reader the NEXT sample, a read-only pointer
 * into the data segment, and the reader keeps holding it until it releases
 * it: release gives back the oldest sample held, release_at the one ptr
 * points into. A reader holds at most `hold` samples (opts.hold): a peek
 * with `hold` held is -EBUSY. send copies into a loan and commits; recv
 * copies out and releases at once. A sample returns to the pool once every
 * reader it went to released it (and it left the history).
 * Policy BLOCK: reserve waits for a free sample. OVERWRITE: reserve never
 * waits for a slow reader: that reader's oldest queued, not yet received
 * sample is dropped and counted lost for it (shmq_chan_lost); a held sample
 * is never taken back. History: a reader that joins gets the last
 * opts.history published samples first. The pool must serve everybody:
 * capacity >= readers * hold + history + 2, else create and a reader's
 * open fail with SHMQ_EPOOL. The sample bytes live in a System V segment
 * (removed with the last process attached, even one that was killed,
 * unless SHMQ_CHAN_PERSIST; then shmq_chan_unlink removes it); readers
 * attach it SHM_RDONLY. SHMQ_CHAN_HUGE_2M puts it on 2 MiB huge pages
 * (SHMQ_ENOHUGE if none are free). A reader or writer that dies gives its
 * samples back when its death is found (counted in `recovered`).
 */

/* Messages this reader missed (broadcast, overwrite policy; samples,
 * overwrite policy: samples dropped before it got them), in total. */
uint64_t shmq_chan_lost(const shmq_chan *ch);
/* Largest message the channel takes. */
size_t shmq_chan_max_msg(const shmq_chan *ch);

/* Peers attached now, and the dead ones whose line is not reused yet. */
struct shmq_chan_peer_info {
	int role;       /* SHMQ_WRITER / SHMQ_READER */
	pid_t pid;
	int alive;      /* SHMQ_PID_* (from a kernel-held lock, not the pid) */
	unsigned held;  /* samples reader: samples it holds now */
	uint64_t msgs;  /* messages sent or received by it */
	uint64_t queued;/* spsc, broadcast, samples reader: messages there
	                   for it, not yet received (its lag); mpmc: 0 (the
	                   readers share one queue: see depth_msgs) */
	uint64_t lost;  /* broadcast/samples reader: messages it missed */
	uint64_t bytes; /* payload bytes of its msgs */
	int unsettled;  /* dead, and what it held (its place in the counts,
	                   its samples) not given back yet: the next blocked
	                   call or shmq_chan_info of a live peer does that */
};

struct shmq_chan_info {
	int kind, policy;
	uint64_t capacity;       /* spsc: bytes; others: slots */
	uint64_t msg_size;       /* largest message */
	uint64_t depth_bytes;    /* spsc: bytes queued */
	uint64_t depth_msgs;     /* messages queued (broadcast: for the
	                            slowest reader) */
	uint64_t sent, received, lost, recovered;
	unsigned writers, readers;            /* attached now */
	unsigned writers_ever, readers_ever;  /* attached over its life */
	unsigned dead_writers, dead_readers;  /* found dead, never closed */
	pid_t last_dead_pid;                  /* the last peer found dead */
	unsigned npeers;
	struct shmq_chan_peer_info peers[SHMQ_CHAN_MAX_PEERS];
	uint64_t pool_free;                   /* samples: free in the pool */
	uint64_t flags;                       /* made with: SHMQ_CHAN_PERSIST,
	                                         SHMQ_CHAN_HUGE_2M,
	                                         SHMQ_CHAN_PLAIN_FENCES */
	uint64_t reserved[6];                 /* zeroed, for fields to come */
};

/* The channel's counters and peers, through an attached handle. Not a pure
 * read: a peer it finds dead is settled as a blocked call would settle it
 * (its role count given back, its line marked dead, dead_writers or
 * dead_readers counted), and the report shows the state after that. */
int shmq_chan_info(shmq_chan *ch, struct shmq_chan_info *info);
/* The same for a channel by locator, without attaching: read-only, it
 * reports a dead peer as dead but settles nothing. */
int shmq_chan_stat(const char *locator, struct shmq_chan_info *info);

/* ---- Channels in an event loop ----------------------------------------- */

/*
 * A file descriptor for one channel end, for poll, epoll, select, libuv,
 * asyncio...: it polls readable (POLLIN) when the end's next try_ call may
 * not block. Reader: a message is there, the stream ended, or a writer died
 * (the next shmq_chan_try_recv/try_peek returns the message or the error).
 * Writer: there is room, or the readers died. The fd is the handle's: the
 * same fd on every call, closed by shmq_chan_close (never close it
 * yourself).
 *
 * Level-triggered as seen by the application: after a try_ call on this
 * end returned -EAGAIN, the fd is not readable until the channel changes,
 * and it becomes readable when it does (a message published between the
 * -EAGAIN and the poll included: no lost wakeup). Drain until -EAGAIN, then
 * poll: you never sleep with a message waiting. The fd may read readable
 * with nothing to take (a spurious wakeup: the try_ call says -EAGAIN and
 * re-arms); it starts readable. Read nothing from it: the try_ calls do.
 *
 * How: the fd is an eventfd of this process, made readable by a thread the
 * first call starts (64 KiB of stack, all signals blocked but the faults),
 * woken by the futex the peers already wake. It spins for the channel's
 * budget (spin_ns) before it sleeps, so a reply often finds the loop
 * awake; it ticks every 50 ms while armed, so a dead peer wakes the loop.
 * Peers pay nothing while no fd is armed, and at most one wake per
 * empty-to-non-empty (full-to-non-full) change while one is. Nothing is
 * named anywhere; only processes that can map the channel can wake it.
 * Errors: -EMFILE (RLIMIT_NOFILE reached), -EAGAIN (no thread could be
 * started: RLIMIT_NPROC), -ENOMEM; the handle works as before without it.
 * A fork child does not inherit the thread: use the fd in the process
 * that asked for it.
 *
 *   int fd = shmq_chan_fd(ch), ep = epoll_create1(EPOLL_CLOEXEC);
 *   struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ch};
 *   epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
 *   for (;;) {
 *       struct epoll_event got[16];
 *       int n = epoll_wait(ep, got, 16, -1);
 *       for (int i = 0; i < n; i++) {
 *           shmq_chan *c = got[i].data.ptr;
 *           char buf[4096];
 *           ssize_t len;
 *           while ((len = shmq_chan_try_recv(c, buf, sizeof buf)) >= 0)
 *               handle(buf, (size_t)len);
 *           if (len != -EAGAIN)
 *               return len; // -EPIPE: ended; SHMQ_EPEERDEAD...
 *       }
 *   }
 */
int shmq_chan_fd(shmq_chan *ch);

/*
 * A waitset: many channel ends, and other fds, waited on at once with a
 * deadline, for C programs without an event loop of their own (a thin layer
 * over epoll). Each member carries a pointer of yours (data). Not for use by
 * two threads at once.
 */
typedef struct shmq_waitset shmq_waitset;

struct shmq_ready {
	shmq_chan *ch;   /* the ready channel end, or NULL for an fd */
	int fd;          /* that fd (the channel's: shmq_chan_fd) */
	uint32_t events; /* epoll events (EPOLLIN for a channel) */
	void *data;      /* as added */
};

int shmq_waitset_create(shmq_waitset **ws);
/* Closes the waitset; its channels and fds stay open. NULL is a no-op. */
int shmq_waitset_close(shmq_waitset *ws);
/* Adds a channel end (its fd is made with shmq_chan_fd: its errors), or an
 * fd with the epoll events to wait for (EPOLLIN, EPOLLOUT...). -EEXIST: it
 * is in already. */
int shmq_waitset_add_chan(shmq_waitset *ws, shmq_chan *ch, void *data);
int shmq_waitset_add_fd(shmq_waitset *ws, int fd, uint32_t events,
                        void *data);
/* Removes a member (before you close it). -ENOENT: not a member. */
int shmq_waitset_remove_chan(shmq_waitset *ws, shmq_chan *ch);
int shmq_waitset_remove_fd(shmq_waitset *ws, int fd);
/* Waits until a member is ready or the absolute CLOCK_MONOTONIC deadline
 * (NULL: forever) and fills up to max entries: their count (> 0),
 * -ETIMEDOUT, -EINTR (a signal). A ready channel end's next try_ call may
 * not block; as with the fd, it may still say -EAGAIN (then it re-arms). */
int shmq_waitset_wait(shmq_waitset *ws, struct shmq_ready *ready, int max,
                      const struct timespec *deadline);

/* ---- Boards: the latest value of each of K entries -------------------------
 *
 * A board is one shared object (a POSIX object, or a memfd) holding K
 * entries of up to V bytes each; a reader wants the newest value of an
 * entry, not a queue (the last price of a symbol, the last pose of a
 * robot). Any number of processes set and get. An entry is a seqlock over
 * two value buffers: a set writes the buffer readers are not reading and
 * then publishes it, so a get never sees a torn value and retries only when
 * two sets land during one copy. Every entry has a sequence number (0:
 * never set; +1 each set): a reader knows whether it changed, and can wait
 * for it to change (futex; or poll an fd).
 *
 * Writers take the entry's robust mutex for the length of one set: any
 * number of processes may set any entry. A writer killed mid-set leaves
 * the entry at its previous value (the half-written buffer was never
 * published); the next writer takes the lock over and counts it in
 * `recovered`. Entries may carry a name (up to SHMQ_BOARD_NAME_MAX bytes):
 * shmq_board_bind gives a name the first free entry, for good.
 *
 * The board's memory is untrusted like a channel's: a header that does
 * not validate gives SHMQ_ENOTBOARD, SHMQ_EVERSION or -EBADMSG at open, a
 * scribbled entry -EBADMSG (or -EBUSY, below), never a crash or a hang; a
 * POSIX board shrunk under us gives SHMQ_ETRUNCATED (the SIGBUS guard of
 * channels). A board stays until shmq_board_unlink (shmq rm).
 */
#define SHMQ_BOARD_NAME_MAX 63          /* bytes of an entry's name */
#define SHMQ_BOARD_MAX_ENTRIES (1u << 20)
#define SHMQ_BOARD_MAX_VALUE (1u << 20) /* bytes of one value */
#define SHMQ_BOARD_ANY UINT32_MAX       /* shmq_board_wait: any entry */

struct shmq_board_opts {
	uint32_t entries;    /* create: K, 1..SHMQ_BOARD_MAX_ENTRIES */
	uint32_t value_size; /* create: V, 1..SHMQ_BOARD_MAX_VALUE */
	unsigned mode;       /* create: permission bits (0: 0600) */
	unsigned flags;      /* SHMQ_OPEN_OK, SHMQ_ANY_OWNER */
	uint64_t reserved[4]; /* must be zero (else -EINVAL) */
};

typedef struct shmq_board shmq_board; /* opaque: one process's attachment */

/* Creates a board (exclusively: -EEXIST; with SHMQ_OPEN_OK an existing
 * one is opened instead, whatever its geometry: check shmq_board_info),
 * every entry unset. Locators: posix:NAME, memfd:NAME. -EINVAL: entries or
 * value_size 0 or above the maximum. */
int shmq_board_create(shmq_board **b, const char *locator,
                      const struct shmq_board_opts *opts);
/* Attaches to an existing board (opts may be NULL; only flags count).
 * Readers need read and write access too (the futex waiter counts).
 * SHMQ_ENOTBOARD: not a board; SHMQ_EOWNER: another user's, unless
 * SHMQ_ANY_OWNER. */
int shmq_board_open(shmq_board **b, const char *locator,
                    const struct shmq_board_opts *opts);
int shmq_board_close(shmq_board *b); /* the board stays */
/* Removes a board's name (attached processes keep it). Anything else
 * given by mistake stays: SHMQ_ENOTBOARD. */
int shmq_board_unlink(const char *locator);

/* Publishes len bytes (0..V) as entry i's value. 0; -EINVAL (i out of
 * range), -EMSGSIZE (len > V), -ENOTRECOVERABLE (the entry's lock was
 * abandoned for good), -EBADMSG, SHMQ_ETRUNCATED. */
int shmq_board_set(shmq_board *b, uint32_t i, const void *buf, size_t len);
/* The same, waiting for the entry's lock only until the absolute
 * CLOCK_MONOTONIC deadline (-ETIMEDOUT): a writer stopped while holding
 * it, or a scribbled lock that names a live task, cannot hold the caller
 * longer. */
int shmq_board_set_timed(shmq_board *b, uint32_t i, const void *buf,
                         size_t len, const struct timespec *deadline);
/* Copies entry i's newest value into buf: its length (0 for an entry never
 * set), and its sequence number in *seq (may be NULL). Never blocks:
 * -EBUSY if the entry was rewritten under every one of many copies (or its
 * sequence is scribbled so it seems to be); -EMSGSIZE (buf shorter than
 * the value; *seq is set), -EINVAL, -EBADMSG, SHMQ_ETRUNCATED. */
ssize_t shmq_board_get(shmq_board *b, uint32_t i, void *buf, size_t len,
                       uint64_t *seq);
/* Entry i's sequence number (SHMQ_BOARD_ANY: the board's count of sets)
 * into *seq: 0, -EINVAL, -EBADMSG, SHMQ_ETRUNCATED. */
int shmq_board_seq(shmq_board *b, uint32_t i, uint64_t *seq);

/* Waits until entry i's sequence number (SHMQ_BOARD_ANY: the board's count
 * of sets) is not `seen`: 0, -ETIMEDOUT (the absolute CLOCK_MONOTONIC
 * deadline passed; NULL: none), -EINVAL, -EBADMSG, SHMQ_ETRUNCATED. A
 * sleeper re-validates the board every 50 ms. try_: never blocks (-EAGAIN:
 * unchanged), and re-arms the board's fd. */
int shmq_board_wait(shmq_board *b, uint32_t i, uint64_t seen);
int shmq_board_try_wait(shmq_board *b, uint32_t i, uint64_t seen);
int shmq_board_wait_timed(shmq_board *b, uint32_t i, uint64_t seen,
                          const struct timespec *deadline);
/* A pollable fd for this handle, as shmq_chan_fd: readable (POLLIN) when
 * the entry of the last shmq_board_try_wait that returned -EAGAIN may have
 * changed (any set wakes it: check with try_wait, which re-arms on
 * -EAGAIN). Starts readable; closed by shmq_board_close. Errors as
 * shmq_chan_fd. */
int shmq_board_fd(shmq_board *b);

/* The entry named name: its index, or -ENOENT, -EINVAL (no name, or one
 * longer than SHMQ_BOARD_NAME_MAX), -EBADMSG. */
int shmq_board_find(shmq_board *b, const char *name);
/* The entry named name, naming the first entry that has neither a name nor
 * a value if none is (under the board's lock): its index; -ENOSPC (every
 * entry is named or set), -ETIMEDOUT (the lock was held for 1 s), -EINVAL,
 * -EBADMSG, SHMQ_ETRUNCATED. */
int shmq_board_bind(shmq_board *b, const char *name);
/* Entry i's name copied into buf (len >= SHMQ_BOARD_NAME_MAX + 1 always
 * fits): its length, 0 for an unnamed entry; -EINVAL, -EBADMSG. */
int shmq_board_name(shmq_board *b, uint32_t i, char *buf, size_t len);

struct shmq_board_info {
	uint32_t entries, value_size;
	uint64_t object_size;
	uint64_t updates;   /* sets published, all entries */
	uint32_t named;     /* entries with a name */
	uint32_t recovered; /* sets a dead writer left half-done */
	uint64_t reserved[8]; /* zeroed, for fields to come */
};

/* The board's geometry and counters, through a handle. */
int shmq_board_info(shmq_board *b, struct shmq_board_info *info);
/* The same by locator, without attaching (read-only). */
int shmq_board_stat(const char *locator, struct shmq_board_info *info);

/* ---- Handing objects over a Unix socket -----------------------------------
 *
 * A name in /dev/shm can be squatted, guessed or left behind; a memfd handed
 * over a connected AF_UNIX socket (SCM_RIGHTS) can be none of these. The
 * sender writes one 32-byte frame (magic "SHMQPASS", format version, kind of
 * object, SHMQ_PASS_* flags, size) with exactly one fd beside it; the
 * receiver checks the frame, the fd (a memfd; for a channel, a header that
 * validates, checked through a read-only mapping before anything is mapped
 * writable) and who sent it, and attaches as shmq_seg_open or
 * shmq_chan_open would. Each send hands a new open file description of the
 * object, so the receiver's peer lock is its own: the liveness and recovery
 * of channels hold as for any other peer. Only memfd objects are handed
 * (SHMQ_EFAMILY otherwise: a named object is opened by its name).
 *
 * Who sent it: the kernel's SO_PEERCRED of sock, i.e. the process that made
 * the connection (connect(2), or listen(2) for the client's end) or the
 * socketpair(2), at that moment, whoever writes to the socket later. The
 * receiver refuses (SHMQ_EOWNER, before it reads anything from the socket)
 * a sender whose uid is neither its effective uid nor root, unless
 * SHMQ_ANY_OWNER: the rule of shmq_seg_open. For another rule (exactly uid
 * 998, a gid, a pid), read SO_PEERCRED with getsockopt(2) before the call
 * (it does not change while the connection lives) and pass SHMQ_ANY_OWNER.
 * peer, if not NULL, receives the sender's pid, uid and gid whenever the
 * socket could tell them, refused or not (struct ucred of <sys/socket.h>,
 * with _GNU_SOURCE).
 *
 * Read-only handover (SHMQ_PASS_RDONLY): a segment's receiver gets an fd
 * opened O_RDONLY and maps it PROT_READ; a write through the mapping dies
 * with SIGSEGV and mprotect(2) cannot make it writable (EACCES). A receiver
 * of the same uid could still reopen /proc/self/fd/N for writing (the
 * inode's mode lets it): SHMQ_PASS_SEAL closes that too, for every process
 * and for good (F_SEAL_FUTURE_WRITE, Linux 5.1: only mappings made before
 * the seal, the sender's, can write). A channel's readers write their peer
 * line and the read index, so a channel cannot be handed read-only: for a
 * spsc or broadcast channel SHMQ_PASS_RDONLY means readers only (a writer
 * is refused, -EACCES) and the ring mapped PROT_READ in the receiver, so a
 * bug that writes through a pointer from peek dies with SIGSEGV; it guards
 * against mistakes, not against a hostile receiver, which holds a writable
 * fd. mpmc readers mark the slots they take, samples readers take their
 * queue's entries (their data is read-only anyway): -EOPNOTSUPP.
 *
 * A blocking socket waits for the frame: bound the wait with SO_RCVTIMEO
 * (-EAGAIN); a non-blocking one gives -EAGAIN when nothing is there.
 * Every fd received in a failed call is closed.
 */
struct ucred;

/* Flags of shmq_seg_send_fd and shmq_chan_send_fd. */
#define SHMQ_PASS_RDONLY (1u << 0) /* the receiver may only read (above) */
#define SHMQ_PASS_SEAL (1u << 1)   /* segment: seal the memfd against every
                                      new write first (F_SEAL_FUTURE_WRITE;
                                      implies SHMQ_PASS_RDONLY) */

/* Hands seg (a memfd segment) to the process at the other end of the
 * connected Unix socket sock. 0; SHMQ_EFAMILY (not a memfd); -EINVAL (bad
 * flags); -EACCES (SHMQ_PASS_RDONLY, and this process cannot reopen the
 * memfd read-only: it holds another user's); -EOPNOTSUPP (SHMQ_PASS_SEAL
 * on a kernel before 5.1); -EPERM (the memfd does not take that seal); the
 * errno of sendmsg(2) (-EPIPE: the receiver is gone; no SIGPIPE). */
int shmq_seg_send_fd(int sock, const shmq_seg *seg, unsigned flags);

/* Receives a segment (or a channel's whole object) from sock and attaches
 * it as shmq_seg_open does (opts may be NULL; its flags SHMQ_SEG_RDONLY,
 * SHMQ_SEG_RND, SHMQ_ANY_OWNER: the sender's uid, above; size 0 maps what
 * the sender uses). A read-only handover needs SHMQ_SEG_RDONLY, else
 * -EACCES. Returns 0, SHMQ_EOWNER (sender refused: *peer says who), -EPIPE
 * (the sender closed the connection without handing anything), -EBADMSG
 * (not a shmq frame, a frame cut short, none or several fds, an fd that is
 * not a memfd), SHMQ_EVERSION (a frame of another format version), -EAGAIN
 * (SO_RCVTIMEO, or a non-blocking socket), or an error of shmq_seg_open. */
int shmq_seg_recv_fd(int sock, shmq_seg **seg,
                     const struct shmq_seg_opts *opts, struct ucred *peer);

/* Hands channel ch (made as memfd:NAME) to the process at the other end of
 * sock, which attaches with shmq_chan_recv_fd in the role it chooses; ch
 * stays ours. flags: SHMQ_PASS_RDONLY (spsc, broadcast: readers only, the
 * ring read-only). Errors as shmq_seg_send_fd, and -EINVAL for
 * SHMQ_PASS_SEAL, -EOPNOTSUPP for SHMQ_PASS_RDONLY on mpmc and samples. */
int shmq_chan_send_fd(int sock, const shmq_chan *ch, unsigned flags);

/* Receives a channel from sock and attaches it as role (opts may be NULL;
 * only flags, SHMQ_ANY_OWNER for the sender's uid, and spin_ns count, as
 * in shmq_chan_open). The header is checked through a read-only mapping
 * first: an fd that is not a memfd, or whose header does not validate,
 * gives -EBADMSG and is never mapped writable. Returns 0, the errors of
 * shmq_seg_recv_fd, SHMQ_ENOTCHAN (the sender handed a segment), -EACCES
 * (a writer of a channel handed to readers only, or a read-only fd),
 * -EBUSY, SHMQ_EPEERS (as shmq_chan_open). */
int shmq_chan_recv_fd(int sock, shmq_chan **ch, int role,
                      const struct shmq_chan_opts *opts, struct ucred *peer);

#ifdef __cplusplus
}
#endif
#endif /* SHMQ_H */
