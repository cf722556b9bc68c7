/* Sizes: rounding, and the page size a segment's flags ask for. */
#include "internal.h"

#include <unistd.h>

size_t shmq__huge_size(unsigned flags)
{
	if (flags & SHMQ_SEG_HUGE_1G)
		return (size_t)1 << 30;
	if (flags & SHMQ_SEG_HUGE_2M)
		return (size_t)2 << 20;
	return (size_t)sysconf(_SC_PAGESIZE);
}

size_t shmq__round_up(size_t n, size_t unit)
{
	return (n + unit - 1) / unit * unit;
}

int shmq__zeroed(const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i])
			return 0;
	return 1;
}
