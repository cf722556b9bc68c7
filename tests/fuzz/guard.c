/* Guard pages around the library's shared mappings; an fd count (guard.h). */
#include "guard.h"

#include <dirent.h>
#include <stddef.h>
#include <sys/mman.h>

#define PAGE 4096
#define GUARDED_MAX 16

static struct {
	char *addr;
	size_t len;
} guarded[GUARDED_MAX];

/* A shared mapping of an fd, between two PROT_NONE pages. */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
	int slot = 0;
	while (slot < GUARDED_MAX && guarded[slot].addr)
		slot++;
	if (addr || fd < 0 || !(flags & MAP_SHARED) || slot == GUARDED_MAX)
		return __real_mmap(addr, len, prot, flags, fd, off);
	size_t span = (len + PAGE - 1) / PAGE * PAGE + 2 * PAGE;
	char *base = __real_mmap(NULL, span, PROT_NONE,
	                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return base;
	void *p = __real_mmap(base + PAGE, len, prot, flags | MAP_FIXED, fd,
	                      off);
	if (p == MAP_FAILED) {
		__real_munmap(base, span);
		return p;
	}
	guarded[slot].addr = p;
	guarded[slot].len = span;
	return p;
}

int __wrap_munmap(void *addr, size_t len)
{
	for (int i = 0; i < GUARDED_MAX; i++)
		if (guarded[i].addr == addr) {
			guarded[i].addr = NULL;
			return __real_munmap((char *)addr - PAGE, guarded[i].len);
		}
	return __real_munmap(addr, len);
}

int fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}
