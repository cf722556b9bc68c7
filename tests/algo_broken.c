/*
 * Peterson's lock written the textbook way, with acquire/release accesses
 * and no seq_cst fence: the version src/sync_algo.c must not be. On x86 the
 * loads of the other's flag and of turn may be satisfied while our own flag
 * store still waits in the store buffer, so both processes can read "the
 * other does not want in" and both enter. Built only into the tests, to show
 * that the counting test in test_algo.c catches a missing fence.
 */
#include "algo_broken.h"
#include "layout.h"

int t_broken_peterson_lock(void *mem, unsigned me)
{
	struct shmq_algo_shm *s = mem;
	unsigned other = 1 - me;

	shmq_store(&s->slot[me].flag, 1, SHMQ_RELEASE);
	shmq_store(&s->turn, me, SHMQ_RELEASE);
	/* Missing here: shmq_fence_seq_cst(). Release orders the stores
	 * among themselves, not before the loads below. */
	while (shmq_load(&s->slot[other].flag, SHMQ_ACQUIRE) &&
	       shmq_load(&s->turn, SHMQ_ACQUIRE) == me)
		shmq_cpu_relax();
	return 0;
}

int t_broken_peterson_unlock(void *mem, unsigned me)
{
	struct shmq_algo_shm *s = mem;
	shmq_store(&s->slot[me].flag, 0, SHMQ_RELEASE);
	return 0;
}
