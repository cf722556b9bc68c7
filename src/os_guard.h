/*
 * A scoped SIGBUS guard. While a guard is armed on a thread, a SIGBUS
 * raised by that thread's access to the guard's mapping (a peer shrank the
 * object behind it: ftruncate) does not kill the process: the handler
 * replaces the whole mapping with private zero pages, marks the guard hit
 * and returns, so the access runs again and reads zeros. The code that runs
 * on goes on as it would on any scribbled channel (every shared value is
 * checked before use, every wait ticks), and the caller, disarming, sees
 * the hit and returns an error. Every other SIGBUS goes to whatever
 * handled it before us.
 *
 * No sigsetjmp: arming and disarming are a few plain loads and stores (no
 * system call, ~1 ns), where sigsetjmp costs ~2 ns a call, 8% of a 64-byte
 * message's time on the spsc hot path.
 */
#ifndef SHMQ_GUARD_H
#define SHMQ_GUARD_H

#include "atomic.h"

#include <stddef.h>
#include <stdint.h>

struct shmq__guard {
	uintptr_t lo, hi;  /* the guarded mapping: [lo, hi); empty: none */
	shmq_atomic32 hit; /* a fault was caught: the mapping is zeros now */
};

/* This thread's armed guard, or NULL. initial-exec: one thread-pointer
 * relative access, no __tls_get_addr call from the shared library. */
extern _Thread_local struct shmq__guard *shmq__guard_now
	__attribute__((tls_model("initial-exec")));

/* Whether a peer can shrink the object behind fd under our mapping: it is
 * not sealed against shrinking (POSIX objects, unsealed memfds). */
int shmq__guard_needed(int fd);
/* Installs the process's SIGBUS handler once; 0 or a negative errno. */
int shmq__guard_install(void);

/* Arms g on this thread. Not nested: channel calls are not made from
 * signal handlers, and a call that an application's handler jumped out of
 * leaves nothing armed past the thread's next call. */
static inline void shmq__guard_arm(struct shmq__guard *g)
{
	shmq__guard_now = g;
	shmq_fence_signal(); /* armed before our first access */
}

/* Disarms; whether g was ever hit. */
static inline int shmq__guard_disarm(struct shmq__guard *g)
{
	shmq_fence_signal(); /* our last access before disarming */
	shmq__guard_now = NULL;
	/* relaxed: set by the handler on this thread; the signal fence
	 * orders it */
	return shmq_load(&g->hit, SHMQ_RELAXED) != 0;
}

#endif
