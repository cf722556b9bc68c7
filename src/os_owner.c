/* Whose objects we attach: ours or root's, unless the caller takes any
 * owner (segments, channels, semaphore sets and message queues alike). */
#include "internal.h"

#include <unistd.h>

int shmq__owner_check(unsigned flags, uid_t uid)
{
	if ((flags & SHMQ_ANY_OWNER) || uid == 0 || uid == geteuid())
		return 0;
	return SHMQ_EOWNER;
}

int shmq__owner_check_sysv(unsigned flags, const struct ipc_perm *perm)
{
	int rc = shmq__owner_check(flags, perm->uid);
	return rc < 0 ? rc : shmq__owner_check(flags, perm->cuid);
}
