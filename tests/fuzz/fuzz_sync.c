/*
 * libFuzzer target: a mutex, a semaphore and an event (src/sync_mutex.c,
 * src/sync_sem.c) whose words a peer scribbled on.
 *
 * Each input sets the three 16-byte objects, then runs a list of calls on
 * them: only those that cannot wait for ever on an honest object (try_,
 * _timed with a deadline that has passed, post, signal, unlock,
 * consistent, value, seq). Whatever the words: each call returns 0 or an
 * error it documents (or -EINVAL for a bad magic), a value in range;
 * never a crash, a sanitizer report or a hang (-timeout).
 *
 * Input: bytes 0-47 the mutex, the semaphore and the event (zeros where
 *        the input ends); byte 48, bit i set: object i gets its magic
 *        back; then one call per byte (see run()).
 *
 *   make fuzz      build build/fuzz/fuzz_sync (clang) and run it on
 *                  tests/fuzz/corpus/sync for FUZZ_TIME seconds
 */
#include "internal.h"
#include "layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OBJS 48
#define MAX_CALLS 64

static struct {
	shmq_mutex m;
	shmq_sem s;
	shmq_event e;
} sync_objs;

static const struct timespec past = {0, 0};

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_sync: %s: %d\n", what, rc);
	abort();
}

static void expect(const char *call, int rc, int ok)
{
	if (!ok && rc != -EINVAL)
		die(call, rc);
}

static void run(uint8_t op)
{
	int rc;
	switch (op % 12) {
	case 0:
		rc = shmq_mutex_try_lock(&sync_objs.m);
		expect("mutex_try_lock", rc, rc == 0 || rc == -EBUSY ||
		       rc == -EOWNERDEAD || rc == -ENOTRECOVERABLE ||
		       rc == -EDEADLK);
		break;
	case 1:
		rc = shmq_mutex_lock_timed(&sync_objs.m, &past);
		expect("mutex_lock_timed", rc, rc == 0 || rc == -ETIMEDOUT ||
		       rc == -EOWNERDEAD || rc == -ENOTRECOVERABLE ||
		       rc == -EDEADLK);
		break;
	case 2:
		rc = shmq_mutex_unlock(&sync_objs.m);
		expect("mutex_unlock", rc, rc == 0 || rc == -EPERM);
		break;
	case 3:
		rc = shmq_mutex_consistent(&sync_objs.m);
		expect("mutex_consistent", rc, rc == 0 || rc == -EPERM);
		break;
	case 4:
		rc = shmq_sem_try_wait(&sync_objs.s);
		expect("sem_try_wait", rc, rc == 0 || rc == -EAGAIN);
		break;
	case 5:
		rc = shmq_sem_wait_timed(&sync_objs.s, &past);
		expect("sem_wait_timed", rc, rc == 0 || rc == -ETIMEDOUT);
		break;
	case 6:
		rc = shmq_sem_post(&sync_objs.s);
		expect("sem_post", rc, rc == 0 || rc == -EOVERFLOW);
		break;
	case 7:
		rc = shmq_sem_value(&sync_objs.s);
		expect("sem_value", rc, rc >= 0);
		break;
	case 8:
		rc = shmq_event_signal(&sync_objs.e);
		expect("event_signal", rc, rc == 0);
		break;
	case 9:
		rc = shmq_event_wait_timed(&sync_objs.e,
		                           shmq_event_seq(&sync_objs.e), &past);
		expect("event_wait_timed", rc, rc == 0 || rc == -ETIMEDOUT);
		break;
	case 10:
		rc = shmq_event_wait_timed(&sync_objs.e,
		                           shmq_event_seq(&sync_objs.e) + 1,
		                           &past);
		expect("event_wait_timed on a changed seq", rc, rc == 0);
		break;
	default:
		rc = shmq_event_wait(&sync_objs.e,
		                     shmq_event_seq(&sync_objs.e) - 1);
		expect("event_wait on a changed seq", rc, rc == 0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t magic[3] = {SHMQ_MUTEX_MAGIC, SHMQ_SEM_MAGIC,
	                                  SHMQ_EVENT_MAGIC};
	unsigned char *objs = (unsigned char *)&sync_objs;
	_Static_assert(sizeof(sync_objs) == OBJS, "three 16-byte objects");
	memset(objs, 0, OBJS);
	memcpy(objs, data, size < OBJS ? size : OBJS);
	if (size <= OBJS)
		return 0;
	for (int i = 0; i < 3; i++)
		if (data[OBJS] & 1u << i)
			memcpy(objs + 16 * i + 8, &magic[i], sizeof(magic[i]));
	for (size_t i = OBJS + 1; i < size && i < OBJS + 1 + MAX_CALLS; i++)
		run(data[i]);
	return 0;
}
