/* Named crash points (internal.h): compiled only into the test build. */
#include "internal.h"

#ifdef SHMQ_TEST_HOOKS
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const char *const __start_shmq_crash_points[];
extern const char *const __stop_shmq_crash_points[];

/* SHMQ_CRASH_AT, read once per process (a fork child reads it again: the
 * victims of the crash tests set it after fork). */
static struct {
	int read;
	char name[128];
	long nth, hits;
} at;

static void forget(void)
{
	at.read = 0;
}

static void read_env(void)
{
	const char *e = getenv("SHMQ_CRASH_AT");
	at.name[0] = '\0';
	at.nth = 1;
	at.hits = 0;
	if (e) {
		size_t n = strcspn(e, ":");
		if (n < sizeof(at.name)) {
			memcpy(at.name, e, n);
			at.name[n] = '\0';
		}
		if (e[n] == ':')
			at.nth = atol(e + n + 1);
	}
	at.read = 1;
}

void shmq__crash_hit(const char *name)
{
	static int registered;
	if (!registered) {
		registered = 1;
		pthread_atfork(NULL, NULL, forget);
	}
	if (!at.read)
		read_env();
	if (at.name[0] && !strcmp(name, at.name) && ++at.hits == at.nth)
		kill(getpid(), SIGKILL);
}

size_t shmq__crash_points(const char *const **names)
{
	*names = __start_shmq_crash_points;
	return (size_t)(__stop_shmq_crash_points - __start_shmq_crash_points);
}
#endif
