/* The library's version, and whether it serves a program built against
 * another. */
#include "internal.h"

SHMQ_API const char *shmq_version(void)
{
	return SHMQ_VERSION_STRING;
}

SHMQ_API unsigned shmq_version_number(void)
{
	return SHMQ_VERSION_NUMBER;
}

/* Before 1.0 every minor may change the API; from 1.0 on a minor only
 * adds to it. */
SHMQ_API int shmq_version_check(unsigned major, unsigned minor)
{
	if (major != SHMQ_VERSION_MAJOR)
		return SHMQ_EVERSION;
	if (major == 0 ? minor != SHMQ_VERSION_MINOR
	               : minor > SHMQ_VERSION_MINOR)
		return SHMQ_EVERSION;
	return 0;
}
