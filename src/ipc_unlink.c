/* Removing any named object, whatever its family, by its locator. */
#include "internal.h"

SHMQ_API int shmq_unlink(const char *locator)
{
	struct shmq_locator loc;
	int rc = shmq_locator_parse(locator, &loc);
	if (rc < 0)
		return rc;
	if (shmq__is_sysv(loc.family))
		return shmq__sysv_unlink(&loc);
	if (loc.family == SHMQ_FAMILY_POSIX ||
	    loc.family == SHMQ_FAMILY_POSIX_SEM)
		return shmq__posix_unlink(&loc);
	return SHMQ_EFAMILY; /* a memfd goes with its last fd and mapping */
}
