/* Whose objects we attach: ours or root's, unless the caller takes any
 * owner (System V and POSIX segments alike). */
#include "internal.h"

#include <unistd.h>

int shmq__owner_check(unsigned flags, uid_t uid)
{
	if ((flags & SHMQ_SEG_ANY_OWNER) || uid == 0 || uid == geteuid())
		return 0;
	return SHMQ_EOWNER;
}
