#include "internal.h"

SHMQ_API const char *shmq_version(void)
{
	return SHMQ_VERSION_STRING;
}
