/*
 * The one place for memory orders, fences and futex calls.
 *
 * Every shared word is a C11 atomic; the helpers below name their order so
 * a reader sees at each call site what it pairs with. futex(2) is called
 * only from here, always shared (never FUTEX_PRIVATE: the words live in
 * memory that several processes map).
 */
#ifndef SHMQ_ATOMIC_H
#define SHMQ_ATOMIC_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef _Atomic uint32_t shmq_atomic32;
typedef _Atomic uint64_t shmq_atomic64;

/* Orders, spelled once. */
#define SHMQ_RELAXED memory_order_relaxed
#define SHMQ_ACQUIRE memory_order_acquire
#define SHMQ_RELEASE memory_order_release
#define SHMQ_ACQ_REL memory_order_acq_rel
#define SHMQ_SEQ_CST memory_order_seq_cst

#define shmq_load(p, mo) atomic_load_explicit((p), (mo))
#define shmq_store(p, v, mo) atomic_store_explicit((p), (v), (mo))
#define shmq_xchg(p, v, mo) atomic_exchange_explicit((p), (v), (mo))
#define shmq_add(p, v, mo) atomic_fetch_add_explicit((p), (v), (mo))
#define shmq_sub(p, v, mo) atomic_fetch_sub_explicit((p), (v), (mo))
#define shmq_or(p, v, mo) atomic_fetch_or_explicit((p), (v), (mo))
#define shmq_and(p, v, mo) atomic_fetch_and_explicit((p), (v), (mo))
/* Strong CAS; on failure *expected gets the value seen (relaxed). */
#define shmq_cas(p, expected, v, mo)                                          \
	atomic_compare_exchange_strong_explicit((p), (expected), (v), (mo),   \
	                                        memory_order_relaxed)

/* Full fence: orders an earlier store before a later load (the store-load
 * reordering that x86 allows and that breaks the textbook algorithms). */
#define shmq_fence_seq_cst() atomic_thread_fence(memory_order_seq_cst)
#define shmq_fence_acquire() atomic_thread_fence(memory_order_acquire)
#define shmq_fence_release() atomic_thread_fence(memory_order_release)
/* Compiler-only fence: orders our accesses against a signal handler that
 * runs on this same thread (the SIGBUS guard, os_guard.h); no instruction. */
#define shmq_fence_signal() atomic_signal_fence(memory_order_seq_cst)

/*
 * Asymmetric fences, for a Dekker pair whose one side runs on every message
 * (a publisher checking for sleepers) and whose other side runs rarely (a
 * sleeper announcing itself). With MEMBARRIER_CMD_GLOBAL_EXPEDITED the
 * light side is only a compiler barrier and the heavy side a membarrier()
 * call, which runs a full barrier on every CPU now running a process that
 * registered (Folly's asymmetric barriers; liburcu's membarrier flavour):
 * so either the light side's later load sees the heavy side's store, or
 * the heavy side's later load sees the light side's store. Registration is
 * per process, kept across fork, dropped by exec. `asym` 0: both sides are
 * plain seq_cst fences.
 */
static inline int shmq_membarrier_register(void)
{
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q < 0 || !(q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) ||
	    !(q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
		return -ENOSYS;
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0,
	            0) < 0)
		return -errno;
	return 0;
}

static inline void shmq_fence_light(int asym)
{
	if (asym)
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

/* A notifier's look at a sleeper's arm word, after its publication: the
 * light fence is the Dekker pair with the sleeper's heavy fence between
 * its arm and its re-check. Inline: it runs on every message, and nobody
 * is armed in a busy stream. */
static inline int shmq_armed(shmq_atomic32 *armed, int asym)
{
	shmq_fence_light(asym);
	/* relaxed: the fence above orders it; the exchange decides */
	return shmq_load(armed, SHMQ_RELAXED) != 0;
}

static inline void shmq_fence_heavy(int asym)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (asym)
		syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
}

/* Busy-wait hint: lets the sibling hyperthread run, saves power. */
static inline void shmq_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* Fetches the line at p for writing: owned, so the store or read-modify-
 * write that follows finds it without a second transfer. x86's PREFETCHW
 * is a NOP on CPUs without it; __builtin_prefetch(p, 1) would emit a read
 * prefetch (the line fetched shared) unless built with -mprfchw. */
static inline void shmq_prefetch_write(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

/*
 * Sleeps while *word == expected, until woken or the absolute
 * CLOCK_MONOTONIC deadline (NULL: none). FUTEX_WAIT_BITSET takes an absolute
 * time, so a retry after EINTR does not stretch the wait. Returns 0 (woken,
 * maybe spuriously), -EAGAIN (*word != expected already), -ETIMEDOUT,
 * -EINTR. The kernel reads *word with full ordering against the waker's
 * FUTEX_WAKE, so a store-then-wake is never missed.
 */
static inline int shmq_futex_wait(shmq_atomic32 *word, uint32_t expected,
                                  const struct timespec *deadline)
{
	long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET,
	                  expected, deadline, NULL, FUTEX_BITSET_MATCH_ANY);
	return rc < 0 ? -errno : 0;
}

/* Wakes up to n sleepers on word (INT_MAX: all). Returns how many woke. */
static inline int shmq_futex_wake(shmq_atomic32 *word, int n)
{
	long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL,
	                  NULL, 0);
	return rc < 0 ? -errno : (int)rc;
}

/* Whether the absolute CLOCK_MONOTONIC deadline has passed. */
static inline int shmq_deadline_passed(const struct timespec *deadline)
{
	struct timespec now;
	if (!deadline)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec &&
	        now.tv_nsec >= deadline->tv_nsec);
}

#endif
