/*
 * shmq: fast, safe inter-process communication through shared memory.
 *
 * This header is the whole public API. Every function returns 0 (or a count)
 * on success and a negative errno, or one of the SHMQ_E* codes below, on
 * failure. shmq_strerror() explains a code; shmq_strerror_r() explains it for
 * one object, with the live facts (limits, owner, mode) and the fix.
 *
 * Objects are named by locators, one scheme for every family:
 *   sysv:key=0x7b  sysv:0x7b  sysv:123      System V segment by key
 *   sysv:id=32769                           System V segment by shmid
 *   sysv:ftok=/path:proj                    key from ftok(3), proj 1..255 or a char
 *   sysv:private                            IPC_PRIVATE (create only)
 *   posix:NAME  NAME  /NAME                 POSIX object /dev/shm/NAME
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

#ifdef __cplusplus
extern "C" {
#endif

#define SHMQ_VERSION_MAJOR 0
#define SHMQ_VERSION_MINOR 1
#define SHMQ_VERSION_PATCH 0
#define SHMQ_VERSION_STRING "0.1.0"

/* The library's version string, e.g. "0.1.0". */
const char *shmq_version(void);

/* ---- Errors ------------------------------------------------------------ */

/* Our own codes, below every errno value. */
#define SHMQ_EBASE 4096
#define SHMQ_ELOCATOR (-(SHMQ_EBASE + 1))  /* malformed locator */
#define SHMQ_ESIZEMAX (-(SHMQ_EBASE + 2))  /* size above SHMMAX/SHMALL */
#define SHMQ_ESIZEMIN (-(SHMQ_EBASE + 3))  /* size zero or below SHMMIN */
#define SHMQ_ENOHUGE (-(SHMQ_EBASE + 4))   /* huge pages not available */
#define SHMQ_ESMALL (-(SHMQ_EBASE + 5))    /* object smaller than asked */
#define SHMQ_EFAMILY (-(SHMQ_EBASE + 6))   /* not possible for this family */
#define SHMQ_ELAST SHMQ_EFAMILY

/* A static explanation of err (negative errno or SHMQ_E*). Never NULL. */
const char *shmq_strerror(int err);

/* The symbolic name of err: "ENOENT", "SHMQ_ELOCATOR". Never NULL. */
const char *shmq_err_name(int err);

/*
 * Writes one line that names the object, says what is wrong and what to do:
 *   "posix:cam0: permission denied (mode 0600, owner uid 1000); run as that
 *    user or recreate with --mode"
 * It reads live facts (limits from /proc/sys/kernel/shm*, free space of
 * /dev/shm, huge page reserve, the object's owner and mode). object may be
 * NULL. size is the size that was asked for, or 0. Returns buf.
 */
char *shmq_strerror_r(int err, const char *object, size_t size, char *buf,
                      size_t len);

/* ---- Locators ---------------------------------------------------------- */

enum {
	SHMQ_FAMILY_SYSV = 1,
	SHMQ_FAMILY_POSIX = 2,
	SHMQ_FAMILY_MEMFD = 3,
};

/* How a locator names its object. */
enum {
	SHMQ_BY_KEY = 1,     /* sysv:key=, sysv:NUMBER, sysv:ftok= */
	SHMQ_BY_ID = 2,      /* sysv:id= */
	SHMQ_BY_PRIVATE = 3, /* sysv:private */
	SHMQ_BY_NAME = 4,    /* posix:NAME, memfd:NAME */
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
 * "memfd:fd=5". Returns the length, or -ENAMETOOLONG if len is too small. */
int shmq_locator_format(const struct shmq_locator *loc, char *buf, size_t len);

/* The ftok(3) key of path and proj (1..255). */
int shmq_ftok(const char *path, int proj, int32_t *key);

/* ---- Segments ---------------------------------------------------------- */

typedef struct shmq_seg shmq_seg; /* opaque: one attachment of a segment */

/* Flags of struct shmq_seg_opts. */
#define SHMQ_SEG_OPEN_OK (1u << 0) /* create: open the object if it exists */
#define SHMQ_SEG_RDONLY (1u << 1)  /* attach read-only (SHM_RDONLY/PROT_READ) */
#define SHMQ_SEG_HUGE_2M (1u << 2) /* 2 MiB huge pages (sysv, memfd) */
#define SHMQ_SEG_HUGE_1G (1u << 3) /* 1 GiB huge pages (sysv, memfd) */
#define SHMQ_SEG_RND (1u << 4)     /* sysv: round addr down to SHMLBA */
#define SHMQ_SEG_NOSEAL (1u << 5)  /* memfd: leave the size unsealed */

struct shmq_seg_opts {
	size_t size;   /* create: bytes (>0). open: 0, or the least size needed */
	unsigned mode; /* create: permission bits; 0 means 0600 */
	unsigned flags;/* SHMQ_SEG_* */
	void *addr;    /* attach address, exactly (or rounded with
	                  SHMQ_SEG_RND); NULL lets the kernel choose */
};

/*
 * Creates a new object and attaches it. Creation is exclusive unless
 * SHMQ_SEG_OPEN_OK is set (IPC_CREAT without IPC_EXCL, O_CREAT without
 * O_EXCL). The mode is applied exactly, whatever the umask. POSIX objects are
 * backed with posix_fallocate, so a full /dev/shm fails here with -ENOSPC
 * and never raises SIGBUS later. A failed create leaves nothing behind.
 */
int shmq_seg_create(shmq_seg **seg, const char *locator,
                    const struct shmq_seg_opts *opts);

/* Attaches an existing object. opts may be NULL (read-write, whole object). */
int shmq_seg_open(shmq_seg **seg, const char *locator,
                  const struct shmq_seg_opts *opts);

/* Detaches (unmaps) and frees the handle; the object stays. NULL is a no-op. */
int shmq_seg_close(shmq_seg *seg);

/*
 * Removes the object's name: shm_unlink for POSIX, IPC_RMID for System V
 * (the segment is "marked for removal" and goes when the last process
 * detaches). Memfd objects have no name: -SHMQ_EFAMILY.
 */
int shmq_seg_unlink(const char *locator);

void *shmq_seg_addr(const shmq_seg *seg);
size_t shmq_seg_size(const shmq_seg *seg);        /* bytes asked or found */
size_t shmq_seg_mapped_size(const shmq_seg *seg); /* rounded to the page */
int shmq_seg_fd(const shmq_seg *seg);             /* POSIX/memfd; -1: sysv */
int shmq_seg_id(const shmq_seg *seg);             /* sysv shmid; -1 others */
const char *shmq_seg_locator(const shmq_seg *seg);/* canonical locator */

/* Changes owner and mode (IPC_SET; fchown/fchmod). uid/gid -1: unchanged;
 * mode -1: unchanged. */
int shmq_seg_set(const char *locator, uid_t uid, gid_t gid, int mode);

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
	char name[SHMQ_NAME_MAX + 1];     /* POSIX/memfd name; "" for sysv */
	int32_t key;                      /* sysv key; 0 = IPC_PRIVATE */
	int id;                           /* sysv shmid; -1 otherwise */
	uint64_t size;                    /* bytes as created */
	uint64_t mapped_size;             /* size rounded to the (huge) page */
	unsigned mode;                    /* permission bits */
	uid_t uid, cuid;                  /* owner, creator (POSIX: owner) */
	gid_t gid, cgid;
	int64_t nattch;     /* attached/mapping processes; -1 unknown */
	int nattch_partial; /* POSIX: some processes could not be read, so
	                       nattch is a lower bound */
	pid_t cpid, lpid;   /* creator, last attach/detach; 0 unknown */
	int cpid_alive;     /* SHMQ_PID_* (pid + start time, not pid alone) */
	int lpid_alive;
	int64_t atime, dtime, ctime; /* seconds since the epoch; 0 unknown */
	int removed;        /* sysv: marked for removal, still attached */
	int huge;           /* backed by huge pages */
	int orphan;         /* no live attacher/mapper, creator dead */
	int stale;          /* shmq object whose every participant is dead */
	char kind[16];      /* "raw"; later kinds name shmq objects */
};

/* Status of the object a locator names. */
int shmq_stat(const char *locator, struct shmq_stat *st);

/* Status of an attached segment. */
int shmq_seg_stat(const shmq_seg *seg, struct shmq_stat *st);

/* Flags of shmq_list(). */
#define SHMQ_LIST_ALL (1u << 0) /* also memfds that processes hold, and
                                   POSIX semaphores (sem.NAME) */

/*
 * Calls fn once per object: every System V segment (/proc/sysvipc/shm) and
 * every POSIX object in /dev/shm, made by shmq or not (POSIX semaphores and
 * memfds only with SHMQ_LIST_ALL). A non-zero return
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
};

int shmq_limits_get(struct shmq_limits *lim);

#ifdef __cplusplus
}
#endif
#endif /* SHMQ_H */
