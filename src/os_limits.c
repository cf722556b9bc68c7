/* System limits that decide whether a segment, a semaphore set or a message
 * can be made, read live. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

int shmq__read_u64s(const char *path, uint64_t *v, int n)
{
	char buf[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return shmq__neg_errno();
	ssize_t got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return -EIO;
	buf[got] = '\0';
	char *p = buf;
	for (int i = 0; i < n; i++) {
		char *end;
		errno = 0;
		unsigned long long x = strtoull(p, &end, 10);
		if (errno || end == p)
			return -EIO;
		v[i] = x;
		p = end;
	}
	return 0;
}

int shmq__read_u64(const char *path, uint64_t *v)
{
	return shmq__read_u64s(path, v, 1);
}

#define HUGE_DIR "/sys/kernel/mm/hugepages/hugepages-"

SHMQ_API int shmq_limits_get(struct shmq_limits *lim)
{
	struct statvfs vfs;
	memset(lim, 0, sizeof(*lim));
	lim->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	lim->shmmin = 1;
	int rc = shmq__read_u64("/proc/sys/kernel/shmmax", &lim->shmmax);
	if (rc == 0)
		rc = shmq__read_u64("/proc/sys/kernel/shmall", &lim->shmall);
	if (rc == 0)
		rc = shmq__read_u64("/proc/sys/kernel/shmmni", &lim->shmmni);
	uint64_t sem[4];
	if (rc == 0)
		rc = shmq__read_u64s("/proc/sys/kernel/sem", sem, 4);
	if (rc == 0) {
		lim->semmsl = sem[0];
		lim->semmns = sem[1];
		lim->semopm = sem[2];
		lim->semmni = sem[3];
		rc = shmq__read_u64("/proc/sys/kernel/msgmax", &lim->msgmax);
	}
	if (rc == 0)
		rc = shmq__read_u64("/proc/sys/kernel/msgmnb", &lim->msgmnb);
	if (rc == 0)
		rc = shmq__read_u64("/proc/sys/kernel/msgmni", &lim->msgmni);
	/* Missing huge page sizes simply have none free. */
	shmq__read_u64(HUGE_DIR "2048kB/free_hugepages", &lim->huge_2m_free);
	shmq__read_u64(HUGE_DIR "1048576kB/free_hugepages", &lim->huge_1g_free);
	if (statvfs("/dev/shm", &vfs) == 0)
		lim->shm_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return rc;
}
