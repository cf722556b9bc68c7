/* The asymmetric fences (atomic.h): this process's membarrier(2)
 * registration, asked once. */
#include "internal.h"
#include "atomic.h"

#include <stdatomic.h>

/* Whether this process uses the asymmetric fences (atomic.h): 1 yes, -1
 * no, 0 not asked. A cache of a kernel registration, which fork keeps and
 * exec drops, as it does this variable. */
static _Atomic int asym_state;

int shmq__asym_setup(void)
{
	/* relaxed: a cache; a race registers twice, which is harmless */
	int s = atomic_load_explicit(&asym_state, memory_order_relaxed);
	if (s == 0) {
		s = shmq_membarrier_register() == 0 ? 1 : -1;
		atomic_store_explicit(&asym_state, s, memory_order_relaxed);
	}
	return s > 0;
}

int shmq__asym(void)
{
	/* relaxed: set once by shmq__asym_setup() in this process, at open */
	return atomic_load_explicit(&asym_state, memory_order_relaxed) > 0;
}
