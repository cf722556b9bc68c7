/* The robust mutex, the semaphore and the event, across real processes. */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/wait.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Shared by fork: the primitives and the data they protect. */
struct area {
	shmq_mutex m;
	shmq_sem sem;
	shmq_event ev;
	volatile uint64_t counter;
	volatile uint64_t data[8]; /* equal when consistent */
	volatile uint64_t committed; /* critical sections completed */
	volatile uint64_t consumed;
};

static struct area *area_new(void)
{
	void *p = mmap(NULL, sizeof(struct area), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	struct area *a = p;
	CHECK_EQ(shmq_mutex_init(&a->m), 0);
	CHECK_EQ(shmq_sem_init(&a->sem, 0), 0);
	CHECK_EQ(shmq_event_init(&a->ev), 0);
	return a;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A child that locks the mutex, says so on `ready`, then waits to die. */
static pid_t locked_child(struct area *a)
{
	int fds[2];
	char c;
	CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		CHECK_EQ(shmq_mutex_lock(&a->m), 0);
		CHECK(write(fds[1], "l", 1) == 1);
		for (;;)
			pause();
	}
	close(fds[1]);
	CHECK_EQ(read(fds[0], &c, 1), 1);
	close(fds[0]);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
}

static void count_with(struct area *a, int procs, int iters)
{
	pid_t pids[16];
	for (int p = 0; p < procs; p++) {
		pids[p] = fork();
		CHECK(pids[p] >= 0);
		if (pids[p] == 0) {
			for (int i = 0; i < iters; i++) {
				CHECK_EQ(shmq_mutex_lock(&a->m), 0);
				a->counter++;
				CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < procs; p++)
		CHECK_EQ(t_wait(pids[p]), 0);
	CHECK_EQ(a->counter, (uint64_t)procs * (uint64_t)iters);
}

TEST(mutex_keeps_an_exact_count_with_4_processes)
{
	count_with(area_new(), 4, 200000);
}

TEST(mutex_reports_busy_deadlock_and_foreign_unlock)
{
	struct area *a = area_new();
	CHECK_EQ(shmq_mutex_try_lock(&a->m), 0);
	CHECK_EQ(shmq_mutex_lock(&a->m), -EDEADLK);
	pid_t pid = fork();
	if (pid == 0) {
		CHECK_EQ(shmq_mutex_try_lock(&a->m), -EBUSY);
		CHECK_EQ(shmq_mutex_unlock(&a->m), -EPERM);
		CHECK_EQ(shmq_mutex_consistent(&a->m), -EINVAL);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
	CHECK_EQ(shmq_mutex_unlock(&a->m), -EPERM);
}

TEST(mutex_next_locker_after_a_killed_owner_gets_eownerdead)
{
	struct area *a = area_new();
	kill_and_reap(locked_child(a));
	CHECK_EQ(shmq_mutex_lock(&a->m), -EOWNERDEAD);
	CHECK_EQ(shmq_mutex_consistent(&a->m), 0);
	CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
	CHECK_EQ(shmq_mutex_lock(&a->m), 0); /* repaired: normal again */
	CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
}

TEST(mutex_try_lock_takes_over_from_a_dead_owner)
{
	struct area *a = area_new();
	kill_and_reap(locked_child(a));
	CHECK_EQ(shmq_mutex_try_lock(&a->m), -EOWNERDEAD);
	CHECK_EQ(shmq_mutex_consistent(&a->m), 0);
	CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
}

TEST(mutex_zombie_owner_counts_as_dead)
{
	struct area *a = area_new();
	pid_t pid = locked_child(a);
	CHECK(kill(pid, SIGKILL) == 0);
	/* Not reaped yet: a zombie holds no lock. */
	siginfo_t si;
	CHECK(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
	CHECK_EQ(shmq_mutex_lock(&a->m), -EOWNERDEAD);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	CHECK_EQ(shmq_mutex_consistent(&a->m), 0);
	CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
}

TEST(mutex_unrepaired_becomes_not_recoverable_for_everyone)
{
	struct area *a = area_new();
	kill_and_reap(locked_child(a));
	CHECK_EQ(shmq_mutex_lock(&a->m), -EOWNERDEAD);
	CHECK_EQ(shmq_mutex_unlock(&a->m), 0); /* without consistent() */
	CHECK_EQ(shmq_mutex_lock(&a->m), -ENOTRECOVERABLE);
	CHECK_EQ(shmq_mutex_try_lock(&a->m), -ENOTRECOVERABLE);
	pid_t pid = fork();
	if (pid == 0) {
		CHECK_EQ(shmq_mutex_lock(&a->m), -ENOTRECOVERABLE);
		struct timespec dl = shmq_deadline(50);
		CHECK_EQ(shmq_mutex_lock_timed(&a->m, &dl), -ENOTRECOVERABLE);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_mutex_init(&a->m), 0); /* only a new init revives it */
	CHECK_EQ(shmq_mutex_lock(&a->m), 0);
}

TEST(mutex_sleeping_waiter_learns_of_owner_death_within_100ms)
{
	struct area *a = area_new();
	pid_t owner = locked_child(a);
	int fds[2];
	char c;
	CHECK(pipe(fds) == 0);
	pid_t waiter = fork();
	if (waiter == 0) {
		close(fds[0]);
		CHECK(write(fds[1], "w", 1) == 1);
		int64_t t0 = now_ms();
		int rc = shmq_mutex_lock(&a->m);
		int64_t waited = now_ms() - t0;
		CHECK_EQ(rc, -EOWNERDEAD);
		CHECK_EQ(shmq_mutex_consistent(&a->m), 0);
		CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
		/* The owner died at some point after we started; what we
		 * check is the bound after its death, written by the parent. */
		CHECK(waited >= 0);
		_exit(0);
	}
	close(fds[1]);
	CHECK_EQ(read(fds[0], &c, 1), 1);
	close(fds[0]);
	/* Let the waiter get past its spin into the futex sleep: its state
	 * in /proc says when it sleeps (S), so no timing guess is needed. */
	char path[64], stat[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)waiter);
	for (int i = 0; i < 100000; i++) {
		FILE *f = fopen(path, "r");
		CHECK(f != NULL);
		size_t n = fread(stat, 1, sizeof(stat) - 1, f);
		fclose(f);
		stat[n] = '\0';
		char *p = strrchr(stat, ')');
		if (p && p[2] == 'S')
			break;
		sched_yield();
	}
	int64_t t0 = now_ms();
	kill_and_reap(owner);
	CHECK_EQ(t_wait(waiter), 0);
	CHECK(now_ms() - t0 < 100);
}

TEST(mutex_lock_timed_gives_etimedout_at_its_deadline)
{
	struct area *a = area_new();
	pid_t owner = locked_child(a);
	struct timespec dl = shmq_deadline(150);
	int64_t t0 = now_ms();
	CHECK_EQ(shmq_mutex_lock_timed(&a->m, &dl), -ETIMEDOUT);
	int64_t took = now_ms() - t0;
	CHECK(took >= 149);
	CHECK(took < 1000);
	kill_and_reap(owner);
}

/* Under the lock an owner adds 1 to data[0..7] in order, then to
 * committed. Whoever gets EOWNERDEAD finds a dead owner's section cut
 * anywhere: each data[i] is committed or committed + 1, never increasing
 * with i. It rolls the section back; so data[i] == committed whenever the
 * lock is free. */
static void mutex_check_cut(struct area *a)
{
	uint64_t c = a->committed;
	for (int i = 0; i < 8; i++) {
		CHECK(a->data[i] == c || a->data[i] == c + 1);
		CHECK(i == 0 || a->data[i] <= a->data[i - 1]);
	}
}

static void mutex_roll_back(struct area *a)
{
	for (int i = 0; i < 8; i++)
		a->data[i] = a->committed;
}

/* Random kill points: the owner's data is made consistent by whoever gets
 * EOWNERDEAD, so it never stays torn, and the lock never stays lost.
 * 300 kills in `make test`, 10,000 with SHMQ_LONG=1. */
TEST_TIMEOUT(mutex_survives_random_kills_with_consistent_data, 600)
{
	struct area *a = area_new();
	unsigned seed = (unsigned)getpid();
	int dead = 0;
	int rounds = t_long() ? 10000 : 300;
	for (int round = 0; round < rounds; round++) {
		uint64_t before = a->committed;
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			for (;;) {
				int rc = shmq_mutex_lock(&a->m);
				if (rc == -EOWNERDEAD) {
					mutex_roll_back(a);
					shmq_mutex_consistent(&a->m);
				} else if (rc != 0) {
					_exit(3);
				}
				for (int i = 0; i < 8; i++)
					a->data[i]++;
				a->committed++;
				shmq_mutex_unlock(&a->m);
			}
		}
		/* The kill point is random; the delay is not used to order
		 * anything, only to land the kill anywhere in the loop. */
		struct timespec d = {0, (long)(rand_r(&seed) % 200) * 1000L};
		nanosleep(&d, NULL);
		kill_and_reap(pid);
		int rc = shmq_mutex_lock(&a->m);
		CHECK(rc == 0 || rc == -EOWNERDEAD);
		if (rc == -EOWNERDEAD) {
			dead++;
			mutex_check_cut(a);
			mutex_roll_back(a);
			CHECK_EQ(shmq_mutex_consistent(&a->m), 0);
		}
		for (int i = 0; i < 8; i++)
			CHECK_EQ(a->data[i], a->committed);
		CHECK(a->committed >= before);
		CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
	}
	CHECK(dead > 0); /* some kills did land inside the lock */
	CHECK(a->committed > 0);
}


TEST(uncontended_lock_unlock_post_and_signal_make_no_system_call)
{
	struct area *a = area_new();
	pid_t pid = fork();
	if (pid == 0) {
		/* First use caches the tid (one gettid); then nothing. */
		CHECK_EQ(shmq_mutex_lock(&a->m), 0);
		CHECK_EQ(shmq_mutex_unlock(&a->m), 0);
		t_forbid_syscalls();
		int bad = 0;
		for (int i = 0; i < 100000; i++) {
			bad |= shmq_mutex_lock(&a->m) != 0;
			bad |= shmq_mutex_unlock(&a->m) != 0;
			bad |= shmq_sem_post(&a->sem) != 0;
			bad |= shmq_sem_try_wait(&a->sem) != 0;
			bad |= shmq_event_signal(&a->ev) != 0;
		}
		syscall(SYS_exit_group, bad);
	}
	CHECK_EQ(t_wait(pid), 0); /* SIGSYS (159) if a call was made */
}

TEST(semaphore_loses_no_wakeup_with_4_producers_and_4_consumers)
{
	struct area *a = area_new();
	enum { PER = 20000 };
	pid_t pids[8];
	for (int p = 0; p < 8; p++) {
		pids[p] = fork();
		CHECK(pids[p] >= 0);
		if (pids[p] == 0) {
			for (int i = 0; i < PER; i++) {
				if (p < 4) {
					CHECK_EQ(shmq_sem_post(&a->sem), 0);
				} else {
					CHECK_EQ(shmq_sem_wait(&a->sem), 0);
					__atomic_fetch_add(&a->consumed, 1,
					                   __ATOMIC_RELAXED);
				}
			}
			_exit(0);
		}
	}
	for (int p = 0; p < 8; p++)
		CHECK_EQ(t_wait(pids[p]), 0); /* a lost wakeup hangs: timeout */
	CHECK_EQ(a->consumed, 4 * PER);
	CHECK_EQ(shmq_sem_value(&a->sem), 0);
}

TEST(semaphore_wait_timed_times_out_within_its_deadline)
{
	struct area *a = area_new();
	struct timespec dl = shmq_deadline(100);
	int64_t t0 = now_ms();
	CHECK_EQ(shmq_sem_wait_timed(&a->sem, &dl), -ETIMEDOUT);
	int64_t took = now_ms() - t0;
	CHECK(took >= 99);
	CHECK(took < 1000);
	CHECK_EQ(shmq_sem_try_wait(&a->sem), -EAGAIN);
	CHECK_EQ(shmq_sem_post(&a->sem), 0);
	CHECK_EQ(shmq_sem_value(&a->sem), 1);
	CHECK_EQ(shmq_sem_wait_timed(&a->sem, &dl), 0); /* passed, but free */
}

TEST(event_wakes_a_sleeping_waiter_and_times_out_without_signal)
{
	struct area *a = area_new();
	uint32_t seen = shmq_event_seq(&a->ev);
	struct timespec dl = shmq_deadline(80);
	CHECK_EQ(shmq_event_wait_timed(&a->ev, seen, &dl), -ETIMEDOUT);
	pid_t pid = fork();
	if (pid == 0) {
		CHECK_EQ(shmq_event_wait(&a->ev, seen), 0);
		CHECK_EQ(a->counter, 42); /* written before the signal */
		_exit(0);
	}
	a->counter = 42;
	CHECK_EQ(shmq_event_signal(&a->ev), 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK(shmq_event_seq(&a->ev) != seen);
}

TEST(primitives_refuse_garbage_instead_of_hanging)
{
	struct area *a = area_new();
	memset(a, 0xa5, sizeof(*a));
	struct timespec dl = shmq_deadline(10);
	CHECK_EQ(shmq_mutex_lock(&a->m), -EINVAL);
	CHECK_EQ(shmq_mutex_unlock(&a->m), -EINVAL);
	CHECK_EQ(shmq_sem_wait(&a->sem), -EINVAL);
	CHECK_EQ(shmq_sem_post(&a->sem), -EINVAL);
	CHECK_EQ(shmq_event_wait_timed(&a->ev, 0, &dl), -EINVAL);
	CHECK_EQ(shmq_event_signal(&a->ev), -EINVAL);
	CHECK_EQ(shmq_mutex_init((shmq_mutex *)((char *)a + 1)), -EINVAL);
	/* A scribbled count above the range is an error, not a value. */
	CHECK_EQ(shmq_sem_init(&a->sem, 0), 0);
	memset(&a->sem, 0xff, 4);
	CHECK_EQ(shmq_sem_try_wait(&a->sem), -EINVAL);
	CHECK_EQ(shmq_sem_value(&a->sem), -EINVAL);
	CHECK_EQ(shmq_sem_init(&a->sem, 0x80000000u), -EINVAL);
}
