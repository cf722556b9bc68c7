/* Time: CLOCK_MONOTONIC readings and the absolute deadlines every wait takes
 * (shmq_deadline_passed, the futex wait's companion, is in atomic.h). */
#include "internal.h"

#include <errno.h>
#include <time.h>

int64_t shmq__now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

SHMQ_API struct timespec shmq_deadline(int64_t ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (ms < 0)
		ms = 0;
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

void shmq__poll_deadline(struct timespec *out, int64_t ms,
                         const struct timespec *user)
{
	*out = shmq_deadline(ms);
	if (user && (user->tv_sec < out->tv_sec ||
	             (user->tv_sec == out->tv_sec &&
	              user->tv_nsec < out->tv_nsec)))
		*out = *user;
}

int shmq__deadline_check(const struct timespec *deadline)
{
	if (deadline && (deadline->tv_nsec < 0 ||
	                 deadline->tv_nsec >= 1000000000L))
		return -EINVAL;
	return 0;
}

int shmq__time_left(const struct timespec *deadline, struct timespec *left)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left->tv_sec = deadline->tv_sec - now.tv_sec;
	left->tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (left->tv_nsec < 0) {
		left->tv_nsec += 1000000000L;
		left->tv_sec--;
	}
	if (left->tv_sec < 0) {
		left->tv_sec = left->tv_nsec = 0;
		return 0;
	}
	return left->tv_sec > 0 || left->tv_nsec > 0;
}
