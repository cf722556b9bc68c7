/* shmq_explain: the per-object explanations, which carry the live facts
 * (stat, limits) and the fix, said in this API's terms (flags, calls): a
 * tool adds its own option names (the shmq tool: cli_fail). The top layer:
 * it may call any other. */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Appends to buf at *at, never past len. */
static void add(char *buf, size_t len, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	if (*at >= len)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at += (size_t)n;
}

/* EACCES: the mode keeps us out. EPERM: only the owner, the creator or root
 * may do it (remove, chmod, chown), whatever the mode. */
static void explain_access(char *buf, size_t len, size_t *at,
                           const char *object, int err)
{
	struct shmq_stat st;
	int known = object && shmq_stat(object, &st) == 0;
	if (err == -EACCES && known)
		add(buf, len, at, "permission denied (mode %04o, owner uid %u); "
		    "run as that user (or root), or have the owner recreate "
		    "it with a wider mode", st.mode, (unsigned)st.uid);
	else if (err == -EACCES)
		add(buf, len, at, "permission denied; run as the object's owner");
	else if (known)
		add(buf, len, at, "operation not permitted: only the owner "
		    "(uid %u), the creator (uid %u) or root may remove or "
		    "change it; run as one of them", (unsigned)st.uid,
		    (unsigned)st.cuid);
	else
		add(buf, len, at, "operation not permitted; run as the "
		                  "object's owner or root");
}

/* "owner uid U[, creator uid C], mode M" of a stat'ed object. */
static void add_owner(char *buf, size_t len, size_t *at,
                      const struct shmq_stat *st)
{
	add(buf, len, at, "owner uid %u", (unsigned)st->uid);
	if (st->cuid != st->uid)
		add(buf, len, at, ", creator uid %u", (unsigned)st->cuid);
	add(buf, len, at, ", mode %04o", st->mode);
}

/* SHMQ_EOWNER: whose it is, and the two ways out. */
static void explain_owner(char *buf, size_t len, size_t *at,
                          const char *object)
{
	struct shmq_stat st;
	add(buf, len, at, "belongs to another user");
	if (object && shmq_stat(object, &st) == 0) {
		add(buf, len, at, " (");
		add_owner(buf, len, at, &st);
		add(buf, len, at, ")");
	}
	add(buf, len, at, ", not to this user (uid %u) or root, so it was not "
	    "attached: someone may have taken the name first. Remove it if "
	    "it should not be there (shmq_unlink(), as its owner or root), "
	    "or, if you trust that user, open it with SHMQ_ANY_OWNER",
	    (unsigned)geteuid());
}

/* -EEXIST: and whose it is, when it is not ours: a squatted name. */
static void explain_exists(char *buf, size_t len, size_t *at,
                           const char *object)
{
	struct shmq_stat st;
	add(buf, len, at, "already exists; open it, pick another name, or "
	    "remove it first (shmq_unlink())");
	if (object && shmq_stat(object, &st) == 0 &&
	    (st.uid != geteuid() || st.cuid != geteuid())) {
		add(buf, len, at, " (it belongs to another user: ");
		add_owner(buf, len, at, &st);
		add(buf, len, at, ")");
	}
}

static void explain_locator(char *buf, size_t len, size_t *at,
                            const char *object)
{
	struct shmq_locator loc;
	const char *why = NULL;
	if (object)
		shmq__locator_parse(object, &loc, &why);
	add(buf, len, at, "malformed locator: %s", why ? why : "not understood");
	if (!why || !strncmp(why, "unknown", 7))
		add(buf, len, at, " (the forms: sysv:key=0x7b, sysv:id=N, "
		    "sysv:ftok=PATH:PROJ, sysv:private, the same after "
		    "sysv-sem: and sysv-msg:, posix:NAME, posix-sem:NAME, "
		    "memfd:NAME, memfd:fd=N, memfd:pid=P,fd=N)");
}

/* The family object names, or 0. */
static int family_of(const char *object)
{
	struct shmq_locator loc;
	return object && shmq_locator_parse(object, &loc) == 0 ? loc.family : 0;
}

/* What a family that is not memory is. */
static const char *what_not_memory(int family)
{
	switch (family) {
	case SHMQ_FAMILY_SYSV_SEM: return "a System V semaphore set";
	case SHMQ_FAMILY_SYSV_MSG: return "a System V message queue";
	case SHMQ_FAMILY_POSIX_SEM: return "a POSIX named semaphore";
	}
	return NULL;
}

/* SHMQ_EFAMILY: what this kind of locator can and cannot do. */
static void explain_family(char *buf, size_t len, size_t *at,
                           const char *object)
{
	struct shmq_locator loc;
	if (!object || shmq_locator_parse(object, &loc) < 0)
		add(buf, len, at, "%s", shmq_strerror(SHMQ_EFAMILY));
	else if (what_not_memory(loc.family))
		add(buf, len, at, "this names %s, not a segment: it cannot be "
		    "mapped; shmq_list(), shmq_stat() and shmq_unlink() work "
		    "on it%s",
		    what_not_memory(loc.family), loc.by == SHMQ_BY_ID ?
		    ", and an id names an existing one: open it, do not "
		    "create it" : "");
	else if (loc.family == SHMQ_FAMILY_POSIX)
		add(buf, len, at, "not possible for a POSIX object: /dev/shm "
		    "is tmpfs, so huge pages need sysv: or memfd:");
	else if (loc.by == SHMQ_BY_FD)
		add(buf, len, at, "this locator names an existing memfd: it "
		    "can be opened or stat'ed; it is not created by fd, and has "
		    "no name to remove (it goes with its last fd and mapping)");
	else if (loc.by == SHMQ_BY_ID)
		add(buf, len, at, "this locator names an existing object: it "
		    "can be opened, stat'ed or removed, not created");
	else
		add(buf, len, at, "this locator names a new object: create it, "
		    "then use the locator create returns (sysv:id=N, "
		    "memfd:fd=N)");
}

/* Whether object is an ftok locator whose path does not exist. */
static int ftok_path_missing(const char *object)
{
	char path[4096];
	const char *p = strstr(object, ":ftok=");
	const char *colon = p ? strrchr(p + 6, ':') : NULL;
	struct stat sb;
	if (!colon || (size_t)(colon - (p + 6)) >= sizeof(path))
		return 0;
	memcpy(path, p + 6, (size_t)(colon - (p + 6)));
	path[colon - (p + 6)] = '\0';
	return stat(path, &sb) < 0 && errno == ENOENT;
}

static void explain_sizemax(char *buf, size_t len, size_t *at,
                            const char *object, size_t size)
{
	struct shmq_limits l;
	shmq_limits_get(&l);
	if (family_of(object) == SHMQ_FAMILY_SYSV_SEM) {
		add(buf, len, at, "%zu semaphores is above the limit of a set "
		    "(SEMMSL = %llu, the first number of kernel.sem); ask for "
		    "fewer, or raise it: sysctl kernel.sem", size,
		    (unsigned long long)l.semmsl);
		return;
	}
	add(buf, len, at, "size %zu bytes is above the System V limit "
	    "(kernel.shmmax = %llu bytes, kernel.shmall = %llu pages of %llu)",
	    size, (unsigned long long)l.shmmax, (unsigned long long)l.shmall,
	    (unsigned long long)l.page_size);
	add(buf, len, at, "; ask for less, or raise it: sysctl "
	                  "kernel.shmmax=BYTES");
}

static void explain_nospc(char *buf, size_t len, size_t *at,
                          const char *object, size_t size)
{
	struct shmq_limits l;
	int family = family_of(object);
	shmq_limits_get(&l);
	if (family == SHMQ_FAMILY_SYSV_SEM) {
		add(buf, len, at, "no space for a semaphore set (kernel.sem: "
		    "SEMMNI = %llu sets, SEMMNS = %llu semaphores in all); "
		    "remove unused sets (shmq_list() finds them, "
		    "shmq_unlink() removes them) or raise kernel.sem",
		    (unsigned long long)l.semmni, (unsigned long long)l.semmns);
		return;
	}
	if (family == SHMQ_FAMILY_SYSV_MSG) {
		add(buf, len, at, "no space for a message queue (kernel.msgmni "
		    "= %llu queues); remove unused queues (shmq_list() finds "
		    "them, shmq_unlink() removes them) or raise kernel.msgmni",
		    (unsigned long long)l.msgmni);
		return;
	}
	if (family == SHMQ_FAMILY_SYSV) {
		add(buf, len, at, "no space for a System V segment "
		    "(kernel.shmall = %llu pages, kernel.shmmni = %llu "
		    "segments); remove unused segments (shmq_list() marks "
		    "orphans, shmq_unlink() removes them) or raise "
		    "kernel.shmall", (unsigned long long)l.shmall,
		    (unsigned long long)l.shmmni);
		return;
	}
	struct statvfs vfs;
	uint64_t total = statvfs("/dev/shm", &vfs) == 0
	                 ? (uint64_t)vfs.f_blocks * vfs.f_frsize : 0;
	add(buf, len, at, "no space left in /dev/shm (%llu bytes free of "
	    "%llu", (unsigned long long)l.shm_free,
	    (unsigned long long)total);
	if (size)
		add(buf, len, at, ", %zu asked", size);
	add(buf, len, at, "); remove unused objects (shmq_list() finds them, "
	    "shmq_unlink() removes them) or enlarge it: mount -o "
	    "remount,size=SIZE /dev/shm");
	if (total == (uint64_t)64 << 20)
		add(buf, len, at, " (64 MiB is Docker's default /dev/shm: "
		                  "start the container with --shm-size=SIZE)");
}

/* -ENOMEM: memory, or this process's address-space limit (ulimit -v). */
static void explain_nomem(char *buf, size_t len, size_t *at, size_t size)
{
	struct rlimit rl;
	add(buf, len, at, "not enough memory for %zu bytes (see MemAvailable "
	    "in /proc/meminfo and vm.overcommit_memory)", size);
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		add(buf, len, at, ", or this process's address space limit "
		    "(RLIMIT_AS, ulimit -v: %llu bytes) is too low to map it",
		    (unsigned long long)rl.rlim_cur);
	add(buf, len, at, "; ask for less");
}

/* -EMSGSIZE: size is the message's length. object is a message queue,
 * or a channel (any other family), whose largest message is read live. */
static void explain_msgsize(char *buf, size_t len, size_t *at,
                            const char *object, size_t size)
{
	struct shmq_limits l;
	struct shmq_chan_info in;
	if (family_of(object) != SHMQ_FAMILY_SYSV_MSG) {
		add(buf, len, at, "a message of %zu bytes is larger than the "
		    "channel takes", size);
		if (object && shmq_chan_stat(object, &in) == 0)
			add(buf, len, at, " (%llu bytes)",
			    (unsigned long long)in.msg_size);
		add(buf, len, at, "; send less, or recreate the channel with "
		    "a larger capacity (spsc) or msg_size (mpmc, broadcast) in "
		    "struct shmq_chan_opts");
		return;
	}
	shmq_limits_get(&l);
	if (size > l.msgmax)
		add(buf, len, at, "a message of %zu bytes is above kernel.msgmax "
		    "(%llu bytes); send less, or raise it: sysctl "
		    "kernel.msgmax=BYTES", size, (unsigned long long)l.msgmax);
	else
		add(buf, len, at, "a message of %zu bytes is above the queue's "
		    "capacity (msg_qbytes; kernel.msgmnb = %llu bytes for new "
		    "queues), so it could never fit; send less, or raise the "
		    "capacity with IPC_SET", size,
		    (unsigned long long)l.msgmnb);
}

/* SHMQ_EVERSION: both formats, and the way out. */
static void explain_version(char *buf, size_t len, size_t *at,
                           const char *object)
{
	uint32_t theirs[2], ours[2];
	if (!object || shmq__chan_format(object, theirs, ours) < 0) {
		add(buf, len, at, "%s", shmq_strerror(SHMQ_EVERSION));
		return;
	}
	add(buf, len, at, "made by channel format %u (layout %08x); this "
	    "shmq (%s) reads format %u (layout %08x): use the shmq that made "
	    "it, or remove it (shmq_unlink()) and create it again",
	    theirs[0], theirs[1], shmq_version(), ours[0], ours[1]);
}

static void explain_huge(char *buf, size_t len, size_t *at)
{
	struct shmq_limits l;
	shmq_limits_get(&l);
	add(buf, len, at, "huge pages are not available (free: %llu of 2 MiB, "
	    "%llu of 1 GiB); reserve them with: sysctl vm.nr_hugepages=N "
	    "(2 MiB pages), or boot with hugepagesz=1G hugepages=N; System V "
	    "huge pages also need CAP_IPC_LOCK or a group in "
	    "vm.hugetlb_shm_group",
	    (unsigned long long)l.huge_2m_free,
	    (unsigned long long)l.huge_1g_free);
}

SHMQ_API char *shmq_explain(int err, const char *object, size_t size,
                            char *buf, size_t len)
{
	size_t at = 0;
	if (!buf || !len)
		return buf;
	buf[0] = '\0';
	if (object && *object)
		add(buf, len, &at, "%s: ", object);
	switch (err) {
	case -EACCES:
	case -EPERM:
		explain_access(buf, len, &at, object, err);
		break;
	case -ENOENT:
		if (object && ftok_path_missing(object))
			add(buf, len, &at, "the ftok path does not exist; ftok "
			    "needs an existing file that both sides can see");
		else
			add(buf, len, &at, "no such object; check the name "
			                   "(shmq_list() lists them all)");
		break;
	case SHMQ_ELOCATOR:
		explain_locator(buf, len, &at, object);
		break;
	case SHMQ_EFAMILY:
		explain_family(buf, len, &at, object);
		break;
	case -EEXIST:
		explain_exists(buf, len, &at, object);
		break;
	case SHMQ_EOWNER:
		explain_owner(buf, len, &at, object);
		break;
	case SHMQ_EPEERS:
		add(buf, len, &at, "all %d peer places of the channel are "
		    "taken by live processes; close some (shmq_chan_stat() "
		    "lists them) or use another channel", SHMQ_CHAN_MAX_PEERS);
		break;
	case -ENOSPC:
		explain_nospc(buf, len, &at, object, size);
		break;
	case SHMQ_ESIZEMAX:
		explain_sizemax(buf, len, &at, object, size);
		break;
	case SHMQ_ESIZEMIN:
		add(buf, len, &at, "size must be at least 1 byte "
		                   "(SHMMIN is 1); give a size");
		break;
	case SHMQ_ENOHUGE:
		explain_huge(buf, len, &at);
		break;
	case SHMQ_EVERSION:
		explain_version(buf, len, &at, object);
		break;
	case SHMQ_ESMALL:
		if (size)
			add(buf, len, &at, "the existing object is smaller "
			    "than the %zu bytes asked; ask for less or recreate "
			    "it", size);
		else
			add(buf, len, &at, "the object is empty (size 0): its "
			    "creator has not sized it; recreate it");
		break;
	case -ENOMEM:
		explain_nomem(buf, len, &at, size);
		break;
	case -EIDRM:
		add(buf, len, &at, "the object was removed while in use "
		                   "(IPC_RMID); create a new one");
		break;
	case -EMSGSIZE:
		explain_msgsize(buf, len, &at, object, size);
		break;
	case SHMQ_ETRUNCATED:
		add(buf, len, &at, "the object was truncated by another process "
		    "(a peer with write access shrank it) while in use; close "
		    "it and remove it (shmq_unlink()), then create it again; "
		    "give write access only to trusted peers, or use a memfd "
		    "channel (sealed against shrinking)");
		break;
	case SHMQ_EPOOL:
		add(buf, len, &at, "the sample pool cannot serve every reader: "
		    "a samples channel needs capacity >= readers * hold + "
		    "history + 2 (every reader may hold `hold` samples, the "
		    "history keeps its own, the writer loans one); create it "
		    "with a larger capacity, or a smaller hold or history");
		break;
	case SHMQ_ENOTBOARD:
		add(buf, len, &at, "the object is not a shmq board (no board "
		    "header); check the name (shmq_list() gives each object's "
		    "kind) or create the board (shmq_board_create())");
		break;
	case -E2BIG:
		add(buf, len, &at, "the message is longer than the %zu-byte "
		    "buffer; it stays queued: receive it with a larger buffer",
		    size);
		break;
	case -ERANGE:
		if (family_of(object) == SHMQ_FAMILY_SYSV_SEM)
			add(buf, len, &at, "a System V semaphore holds 0..32767 "
			    "(SEMVMX), and one semop adds -32767..32767");
		else
			add(buf, len, &at, "%s", shmq_strerror(err));
		break;
	default:
		add(buf, len, &at, "%s", shmq_strerror(err));
		break;
	}
	return buf;
}
