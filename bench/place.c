/*
 * Placement: how far apart the two pinned CPUs are right now. A VM's vCPUs
 * are threads the host moves: the same two CPUs may share a cache one
 * minute (a line there and back in ~0.2 us on the AMD EPYC VM) and sit
 * far apart the next (~0.7 us), within one run. Every ratio between two
 * rows assumes both saw the same placement, so run.c probes it around
 * each row and measures a row again when it moved.
 *
 * The probe: two processes, one on each CPU, pass a count on one cache
 * line back and forth; the median of a few batches' mean round trip (a
 * batch preempted by something else does not count).
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WARM 256   /* round trips before the first batch */
#define BATCH 256  /* round trips per batch */
#define BATCHES 7  /* the median of these */
#define ROUNDS (WARM + BATCH * BATCHES)
#define PROBE_NS (2 * 1000000000LL) /* a probe this late is stuck */

struct probe {
	shmq_atomic32 turn; /* 2k+1: the pinger's k-th ping; 2k+2: the pong */
	unsigned char pad[60];
	double batch_ns[BATCHES]; /* the pinger's, per round trip */
};

static void spin_until(struct probe *p, uint32_t turn)
{
	/* acquire: pairs with the other side's release of turn (nothing else
	 * travels with it; the order keeps the count honest) */
	while (shmq_load(&p->turn, SHMQ_ACQUIRE) != turn)
		shmq_cpu_relax();
}

static void pass(struct probe *p, uint32_t turn)
{
	/* release: pairs with the acquire in spin_until() */
	shmq_store(&p->turn, turn, SHMQ_RELEASE);
}

static void ping(struct probe *p)
{
	int64_t t0 = 0;
	for (uint32_t k = 0; k < ROUNDS; k++) {
		if (k >= WARM && (k - WARM) % BATCH == 0)
			t0 = bench_now_ns();
		pass(p, 2 * k + 1);
		spin_until(p, 2 * k + 2);
		if (k >= WARM && (k - WARM) % BATCH == BATCH - 1)
			p->batch_ns[(k - WARM) / BATCH] =
				(double)(bench_now_ns() - t0) / BATCH;
	}
}

static void pong(struct probe *p)
{
	for (uint32_t k = 0; k < ROUNDS; k++) {
		spin_until(p, 2 * k + 1);
		pass(p, 2 * k + 2);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void prober(struct probe *p, int cpu, int pinger,
                   const struct bench_sig *sig, pid_t parent)
{
	if (bench_child_start(sig, parent, cpu) < 0)
		_exit(1);
	(pinger ? ping : pong)(p);
	_exit(0);
}

int bench_placement(const struct bench_cfg *cfg, const struct bench_sig *sig,
                    double *ns)
{
	pid_t pid[2], parent = getpid();
	int status[2], rc = 0;
	unsigned n, first;
	*ns = 0;
	if (cfg->cpus[0] < 0)
		return 0; /* not pinned: the scheduler places each process */
	struct probe *p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	fflush(NULL);
	for (n = 0; n < 2; n++) {
		if ((pid[n] = fork()) < 0)
			break;
		if (pid[n] == 0)
			prober(p, cfg->cpus[n], n == 0, sig, parent);
	}
	rc = bench_wait(sig, pid, status, n, n < 2 ? 0
	                : bench_now_ns() + PROBE_NS, &first);
	if (rc == 0 && n == 2) {
		qsort(p->batch_ns, BATCHES, sizeof(double), cmp_double);
		*ns = p->batch_ns[BATCHES / 2];
	}
	munmap(p, sizeof(*p));
	return rc < 0 && rc != -ETIMEDOUT ? rc : 0; /* a signal stops the run */
}

int bench_same_place(double a, double b)
{
	return a <= 0 || b <= 0 || (a < 1.5 * b && b < 1.5 * a);
}
