/* Locators: one text scheme naming System V, POSIX and memfd objects. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/stat.h>

#define MEMFD_NAME_MAX 249 /* memfd_create(2): 249 bytes */

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

static int parse_sysv(const char *s, struct shmq_locator *loc,
                      const char **why)
{
	unsigned long long v;
	loc->family = SHMQ_FAMILY_SYSV;
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
		return bad(why, "key 0 is IPC_PRIVATE: write sysv:private");
	loc->by = SHMQ_BY_KEY;
	loc->key = (int32_t)(uint32_t)v;
	return 0;
}

static int valid_or_why(const char *s, size_t max, const char **why)
{
	if (!*s)
		return bad(why, "the name is empty");
	if (strlen(s) > max)
		return bad(why, max == SHMQ_NAME_MAX ? "the name is longer "
		           "than NAME_MAX (255 bytes)" : "a memfd name is at "
		           "most 249 bytes");
	if (!valid_name(s, max))
		return bad(why, "a name cannot contain '/' or be . or ..");
	return 0;
}

static int parse_memfd(const char *s, struct shmq_locator *loc,
                       const char **why)
{
	unsigned long long v;
	loc->family = SHMQ_FAMILY_MEMFD;
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
	int rc = valid_or_why(s, MEMFD_NAME_MAX, why);
	if (rc < 0)
		return rc;
	loc->by = SHMQ_BY_NAME;
	strcpy(loc->name, s);
	return 0;
}

static int parse_posix(const char *s, struct shmq_locator *loc,
                       const char **why)
{
	loc->family = SHMQ_FAMILY_POSIX;
	if (!strncmp(s, "/dev/shm/", 9))
		s += 9;
	else if (*s == '/')
		s++;
	int rc = valid_or_why(s, SHMQ_NAME_MAX, why);
	if (rc < 0)
		return rc;
	loc->by = SHMQ_BY_NAME;
	strcpy(loc->name, s);
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
	if (!strncmp(text, "sysv:", 5))
		rc = parse_sysv(text + 5, &tmp, why);
	else if (!strncmp(text, "posix:", 6))
		rc = parse_posix(text + 6, &tmp, why);
	else if (!strncmp(text, "memfd:", 6))
		rc = parse_memfd(text + 6, &tmp, why);
	else if (strchr(text, ':'))
		rc = bad(why, "unknown family: use sysv:, posix: or memfd:");
	else
		rc = parse_posix(text, &tmp, why);
	if (rc == 0)
		*loc = tmp;
	return rc;
}

SHMQ_API int shmq_locator_parse(const char *text, struct shmq_locator *loc)
{
	const char *why;
	return shmq__locator_parse(text, loc, &why);
}

SHMQ_API int shmq_locator_format(const struct shmq_locator *loc, char *buf,
                                 size_t len)
{
	int n;
	switch (loc->family * 16 + loc->by) {
	case SHMQ_FAMILY_SYSV * 16 + SHMQ_BY_KEY:
		n = snprintf(buf, len, "sysv:key=0x%08x", (uint32_t)loc->key);
		break;
	case SHMQ_FAMILY_SYSV * 16 + SHMQ_BY_ID:
		n = snprintf(buf, len, "sysv:id=%d", loc->id);
		break;
	case SHMQ_FAMILY_SYSV * 16 + SHMQ_BY_PRIVATE:
		n = snprintf(buf, len, "sysv:private");
		break;
	case SHMQ_FAMILY_POSIX * 16 + SHMQ_BY_NAME:
		n = snprintf(buf, len, "posix:%s", loc->name);
		break;
	case SHMQ_FAMILY_MEMFD * 16 + SHMQ_BY_NAME:
		n = snprintf(buf, len, "memfd:%s", loc->name);
		break;
	case SHMQ_FAMILY_MEMFD * 16 + SHMQ_BY_FD:
		if (loc->pid)
			n = snprintf(buf, len, "memfd:pid=%d,fd=%d",
			             (int)loc->pid, loc->fd);
		else
			n = snprintf(buf, len, "memfd:fd=%d", loc->fd);
		break;
	default:
		return SHMQ_ELOCATOR;
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}
