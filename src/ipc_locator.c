/* Locators: one text scheme naming System V segments, semaphore sets and
 * message queues, POSIX objects and named semaphores, and memfds. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/stat.h>

#define MEMFD_NAME_MAX 249 /* memfd_create(2): 249 bytes */
#define SEM_NAME_MAX (SHMQ_NAME_MAX - 4) /* sem_open(3): "sem." + NAME */

/* The prefix of each family, without its ':'. */
static const char *const prefixes[] = {
	[SHMQ_FAMILY_SYSV] = "sysv",
	[SHMQ_FAMILY_POSIX] = "posix",
	[SHMQ_FAMILY_MEMFD] = "memfd",
	[SHMQ_FAMILY_SYSV_SEM] = "sysv-sem",
	[SHMQ_FAMILY_SYSV_MSG] = "sysv-msg",
	[SHMQ_FAMILY_POSIX_SEM] = "posix-sem",
};

#define NFAMILIES (sizeof(prefixes) / sizeof(prefixes[0]))

SHMQ_API const char *shmq_family_name(int family)
{
	if (family <= 0 || (size_t)family >= NFAMILIES)
		return NULL;
	return prefixes[family];
}

int shmq__is_sysv(int family)
{
	return family == SHMQ_FAMILY_SYSV || family == SHMQ_FAMILY_SYSV_SEM ||
	       family == SHMQ_FAMILY_SYSV_MSG;
}

/* A whole-string unsigned number (decimal, 0x hex, 0 octal) up to max. */
static int parse_num(const char *s, unsigned long long max,
                     unsigned long long *v)
{
	char *end;
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 0);
	if (errno || *end || n > max)
		return -1;
	*v = n;
	return 0;
}

static int valid_name(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n > 0 && n <= max && !strchr(s, '/') && strcmp(s, ".") &&
	       strcmp(s, "..");
}

SHMQ_API int shmq_ftok(const char *path, int proj, int32_t *key)
{
	struct stat sb;
	if (proj < 1 || proj > 255)
		return SHMQ_ELOCATOR;
	/* ftok(3) gives -1 without saying why; stat says it. */
	if (stat(path, &sb) < 0)
		return shmq__neg_errno();
	key_t k = ftok(path, proj);
	if (k == -1)
		return shmq__neg_errno();
	*key = (int32_t)k;
	return 0;
}

/* Sets the reason a locator is malformed; returns SHMQ_ELOCATOR. */
static int bad(const char **why, const char *reason)
{
	*why = reason;
	return SHMQ_ELOCATOR;
}

/* "/path:proj", split at the last ':' because paths may hold ':'. */
static int parse_ftok(const char *s, struct shmq_locator *loc,
                      const char **why)
{
	const char *colon = strrchr(s, ':');
	unsigned long long proj;
	char path[PATH_MAX];
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(path))
		return bad(why, "ftok wants PATH:PROJ, e.g. sysv:ftok=/etc/hosts:1");
	memcpy(path, s, (size_t)(colon - s));
	path[colon - s] = '\0';
	const char *p = colon + 1;
	if (p[0] && !p[1] && (p[0] < '0' || p[0] > '9'))
		proj = (unsigned char)p[0]; /* a character, as ftok users do */
	else if (parse_num(p, 255, &proj) < 0 || proj == 0)
		return bad(why, "PROJ must be 1..255 or a single character");
	loc->by = SHMQ_BY_KEY;
	return shmq_ftok(path, (int)proj, &loc->key);
}

/* The forms every System V family shares; loc->family is already set. */
static int parse_sysv(const char *s, struct shmq_locator *loc,
                      const char **why)
{
	unsigned long long v;
	if (!strcmp(s, "private")) {
		loc->by = SHMQ_BY_PRIVATE;
		return 0;
	}
	if (!strncmp(s, "ftok=", 5))
		return parse_ftok(s + 5, loc, why);
	if (!strncmp(s, "id=", 3)) {
		if (parse_num(s + 3, INT_MAX, &v) < 0)
			return bad(why, "id must be a number 0..2147483647");
		loc->by = SHMQ_BY_ID;
		loc->id = (int)v;
		return 0;
	}
	if (!strncmp(s, "key=", 4))
		s += 4;
	/* Key 0 is IPC_PRIVATE: it must be asked for by that name. */
	if (parse_num(s, UINT32_MAX, &v) < 0)
		return bad(why, "key must be a number 1..0xffffffff (decimal, "
		                "0x hex or 0 octal)");
	if (v == 0)
		return bad(why, "key 0 is IPC_PRIVATE: write private, e.g. "
		                "sysv:private");
	loc->by = SHMQ_BY_KEY;
	loc->key = (int32_t)(uint32_t)v;
	return 0;
}

/* Takes s as the locator's name; toolong: the reason when it is longer
 * than max. */
static int take_name(const char *s, size_t max, const char *toolong,
                     struct shmq_locator *loc, const char **why)
{
	if (!*s)
		return bad(why, "the name is empty");
	if (strlen(s) > max)
		return bad(why, toolong);
	if (!valid_name(s, max))
		return bad(why, "a name cannot contain '/' or be . or ..");
	loc->by = SHMQ_BY_NAME;
	strcpy(loc->name, s);
	return 0;
}

static int parse_memfd(const char *s, struct shmq_locator *loc,
                       const char **why)
{
	unsigned long long v;
	if (!strncmp(s, "pid=", 4)) {
		/* "pid=P,fd=N": parse P up to the comma, then fall into fd=. */
		char num[16];
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s - 4) : 0;
		if (!comma || n == 0 || n >= sizeof(num))
			return bad(why, "write memfd:pid=PID,fd=N");
		memcpy(num, s + 4, n);
		num[n] = '\0';
		if (parse_num(num, INT_MAX, &v) < 0 || v == 0)
			return bad(why, "pid must be a positive number");
		loc->pid = (pid_t)v;
		s = comma + 1;
		if (strncmp(s, "fd=", 3))
			return bad(why, "write memfd:pid=PID,fd=N");
	}
	if (!strncmp(s, "fd=", 3)) {
		if (parse_num(s + 3, INT_MAX, &v) < 0)
			return bad(why, "fd must be a number");
		loc->by = SHMQ_BY_FD;
		loc->fd = (int)v;
		return 0;
	}
	return take_name(s, MEMFD_NAME_MAX, "a memfd name is at most 249 bytes",
	                 loc, why);
}

static int parse_posix(const char *s, struct shmq_locator *loc,
                       const char **why)
{
	if (!strncmp(s, "/dev/shm/", 9))
		s += 9;
	else if (*s == '/')
		s++;
	return take_name(s, SHMQ_NAME_MAX, "the name is longer than NAME_MAX "
	                 "(255 bytes)", loc, why);
}

/* NAME or /NAME, as sem_open(3) takes it; the file is /dev/shm/sem.NAME. */
static int parse_posix_sem(const char *s, struct shmq_locator *loc,
                           const char **why)
{
	if (*s == '/')
		s++;
	return take_name(s, SEM_NAME_MAX, "a semaphore name is at most 251 "
	                 "bytes (NAME_MAX less \"sem.\")", loc, why);
}

typedef int (*parse_fn)(const char *s, struct shmq_locator *loc,
                        const char **why);

static const parse_fn parsers[] = {
	[SHMQ_FAMILY_SYSV] = parse_sysv,
	[SHMQ_FAMILY_POSIX] = parse_posix,
	[SHMQ_FAMILY_MEMFD] = parse_memfd,
	[SHMQ_FAMILY_SYSV_SEM] = parse_sysv,
	[SHMQ_FAMILY_SYSV_MSG] = parse_sysv,
	[SHMQ_FAMILY_POSIX_SEM] = parse_posix_sem,
};

/* The family whose "PREFIX:" starts text, or 0; *rest is after the ':'. */
static int family_of(const char *text, const char **rest)
{
	for (size_t f = 1; f < NFAMILIES; f++) {
		size_t n = strlen(prefixes[f]);
		if (!strncmp(text, prefixes[f], n) && text[n] == ':') {
			*rest = text + n + 1;
			return (int)f;
		}
	}
	return 0;
}

int shmq__locator_parse(const char *text, struct shmq_locator *loc,
                        const char **why)
{
	struct shmq_locator tmp;
	int rc;
	*why = NULL;
	if (!text || !loc)
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	tmp.id = -1;
	tmp.fd = -1;
	const char *rest = NULL;
	tmp.family = family_of(text, &rest);
	if (tmp.family)
		rc = parsers[tmp.family](rest, &tmp, why);
	else if (strchr(text, ':'))
		rc = bad(why, "unknown family: use sysv:, sysv-sem:, sysv-msg:, "
		         "posix:, posix-sem: or memfd:");
	else {
		tmp.family = SHMQ_FAMILY_POSIX; /* a bare name */
		rc = parse_posix(text, &tmp, why);
	}
	if (rc == 0)
		*loc = tmp;
	return rc;
}

SHMQ_API int shmq_locator_parse(const char *text, struct shmq_locator *loc)
{
	const char *why;
	return shmq__locator_parse(text, loc, &why);
}

void shmq__locator_final(struct shmq_locator *loc, int id, char *buf,
                         size_t len)
{
	/* IPC_PRIVATE is no name: the id is, from now on. */
	if (loc->by == SHMQ_BY_PRIVATE) {
		loc->by = SHMQ_BY_ID;
		loc->id = id;
	}
	shmq_locator_format(loc, buf, len);
}

SHMQ_API int shmq_locator_format(const struct shmq_locator *loc, char *buf,
                                 size_t len)
{
	const char *pre = shmq_family_name(loc->family);
	int n, sysv = shmq__is_sysv(loc->family);
	if (!pre)
		return SHMQ_ELOCATOR;
	if (sysv && loc->by == SHMQ_BY_KEY)
		n = snprintf(buf, len, "%s:key=0x%08x", pre, (uint32_t)loc->key);
	else if (sysv && loc->by == SHMQ_BY_ID)
		n = snprintf(buf, len, "%s:id=%d", pre, loc->id);
	else if (sysv && loc->by == SHMQ_BY_PRIVATE)
		n = snprintf(buf, len, "%s:private", pre);
	else if (!sysv && loc->by == SHMQ_BY_NAME)
		n = snprintf(buf, len, "%s:%s", pre, loc->name);
	else if (loc->family == SHMQ_FAMILY_MEMFD && loc->by == SHMQ_BY_FD &&
	         loc->pid)
		n = snprintf(buf, len, "memfd:pid=%d,fd=%d", (int)loc->pid,
		             loc->fd);
	else if (loc->family == SHMQ_FAMILY_MEMFD && loc->by == SHMQ_BY_FD)
		n = snprintf(buf, len, "memfd:fd=%d", loc->fd);
	else
		return SHMQ_ELOCATOR;
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}
