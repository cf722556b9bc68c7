/*
 * The SIGBUS guard (os_guard.h): one process-wide handler, installed lazily by
 * the first handle that needs it, and a per-thread pointer to the armed
 * guard. The library keeps no other global state.
 */
#include "os_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

_Thread_local struct shmq__guard *shmq__guard_now
	__attribute__((tls_model("initial-exec")));

/* The disposition we replaced: every SIGBUS that is not ours goes there. */
static struct sigaction prev;
/* 0: not installed; 1: being installed; 2: installed (prev is set). */
static shmq_atomic32 state;

int shmq__guard_needed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	return seals < 0 || !(seals & F_SEAL_SHRINK);
}

/* Hands a SIGBUS that is not ours to what would have had it without us. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl;
	int sent = si->si_code <= 0; /* kill(2), sigqueue(3): not a fault */
	if (prev.sa_flags & SA_SIGINFO) {
		prev.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
		prev.sa_handler(sig);
		return;
	}
	if (prev.sa_handler == SIG_IGN && sent)
		return;
	/* The default action (a fault cannot be ignored): die of it. A
	 * fault's access runs again on return and faults for good. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGBUS, &dfl, NULL);
	if (sent)
		raise(SIGBUS);
}

/* The guarded mapping becomes private zeros, at the same address: the
 * faulting access (and every later one) succeeds. A raw system call: this
 * runs in a signal handler, and no wrapper (sanitizer, fuzzer) may stand
 * in between. */
static int zero_fill(const struct shmq__guard *g)
{
	long p = syscall(SYS_mmap, g->lo, g->hi - g->lo, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	return (uintptr_t)p == g->lo ? 0 : -1;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct shmq__guard *g = shmq__guard_now;
	uintptr_t at = (uintptr_t)si->si_addr;
	int saved = errno;
	/* BUS_ADRERR: an access past the end of the object behind a
	 * mapping, which is what a peer's ftruncate causes. */
	if (g && si->si_code == BUS_ADRERR && at >= g->lo && at < g->hi) {
		/* Before the zeros: a channel's fd thread shares the guard
		 * with the application's thread, which must not see the
		 * zeros and miss the hit. seq_cst: the store is before the
		 * mmap call that makes the zeros visible. */
		shmq_store(&g->hit, 1, SHMQ_SEQ_CST);
		if (zero_fill(g) == 0) {
			errno = saved;
			return;
		}
	}
	errno = saved;
	/* Not ours. If the application's handler jumps out of our call, our
	 * guard must not stay armed for a frame that is gone. */
	shmq__guard_now = NULL;
	chain(sig, si, uc);
	shmq__guard_now = g;
}

static int install(void)
{
	struct sigaction sa;
	if (sigaction(SIGBUS, NULL, &prev) < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* NODEFER: the application's handler, called from ours, may leave
	 * by siglongjmp without restoring the mask, and a fault while SIGBUS
	 * is blocked kills. ONSTACK as the previous handler asked. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | (prev.sa_flags & SA_ONSTACK);
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) < 0 ? -errno : 0;
}

int shmq__guard_install(void)
{
	uint32_t s = 0;
	/* acquire: pairs with the release below; prev is set once we see 2 */
	if (shmq_load(&state, SHMQ_ACQUIRE) == 2)
		return 0;
	/* acquire: pairs with the release of 0 by a failed install */
	if (shmq_cas(&state, &s, 1, SHMQ_ACQUIRE)) {
		int rc = install();
		/* release: prev before 2 (pairs with the acquire loads); a
		 * failure lets the next one retry */
		shmq_store(&state, rc < 0 ? 0 : 2, SHMQ_RELEASE);
		return rc;
	}
	/* Another thread installs it now: a few system calls' wait. */
	/* acquire: pairs with the installer's release of 2 */
	while ((s = shmq_load(&state, SHMQ_ACQUIRE)) == 1)
		shmq_cpu_relax();
	return s == 2 ? 0 : shmq__guard_install();
}
