/*
 * System V semaphore sets and message queues through shmq_semset_* and
 * shmq_msgq_*, and POSIX named semaphores in the listing: real processes,
 * checked against the kernel's own view (semctl, msgctl, /dev/shm).
 * Objects carry t_key/t_name names so the runner removes them even when a
 * test fails; private ones are removed by the test itself.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* semctl(2)'s argument, which the caller defines. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static const char *sem_loc(char *buf, size_t len, int n)
{
	snprintf(buf, len, "sysv-sem:key=0x%08x", (unsigned)t_key(n));
	return buf;
}

static const char *msg_loc(char *buf, size_t len, int n)
{
	snprintf(buf, len, "sysv-msg:key=0x%08x", (unsigned)t_key(n));
	return buf;
}

/* rc must be want; else the failure names both codes. */
#define CHECK_RC(rc, want)                                                   \
	do {                                                                 \
		long long r_ = (long long)(rc), w_ = (long long)(want);      \
		if (r_ != w_)                                                \
			t_fail(__FILE__, __LINE__, #rc " == " #want,         \
			       "%lld (%s) != %lld (%s)", r_,                 \
			       shmq_err_name((int)r_), w_,                   \
			       shmq_err_name((int)w_));                      \
	} while (0)

static struct timespec mono_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static int64_t ns_between(struct timespec a, struct timespec b)
{
	return (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 +
	       (b.tv_nsec - a.tv_nsec);
}

/* The call returned at or after its deadline and less than 1 s after. */
static void check_deadline_kept(struct timespec deadline)
{
	int64_t late = ns_between(deadline, mono_now());
	if (late < 0 || late >= 1000000000)
		t_fail(__FILE__, __LINE__, "0 <= late < 1 s",
		       "returned %lld ns after the deadline", (long long)late);
}

static uint64_t kernel_limit(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long long v = 0;
	CHECK(f != NULL);
	CHECK_EQ(fscanf(f, "%llu", &v), 1);
	fclose(f);
	return v;
}

/* A byte on a pipe: the only synchronisation between test processes. */
static void say(int fd)
{
	CHECK_EQ(write(fd, "x", 1), 1);
}

static void hear(int fd)
{
	char c;
	CHECK_EQ(read(fd, &c, 1), 1);
}

/* A new set of one semaphore, value 0, at t_key(1); its locator in loc. */
static shmq_semset *one_sem(char *loc, size_t len)
{
	shmq_semset *s;
	CHECK_RC(shmq_semset_create(&s, sem_loc(loc, len, 1), T_SEM(1, 0, 0)),
	         0);
	return s;
}

/* A new empty queue at t_key(1); its locator in loc. */
static shmq_msgq *new_queue(char *loc, size_t len)
{
	shmq_msgq *q;
	CHECK_RC(shmq_msgq_create(&q, msg_loc(loc, len, 1), NULL), 0);
	return q;
}

/* ---- Semaphore sets ---------------------------------------------------- */

TEST(ipc_semset_create_open_close_unlink)
{
	char loc[64], byid[64];
	struct semid_ds ds;
	shmq_semset *a, *b;

	CHECK_RC(shmq_semset_create(&a, sem_loc(loc, sizeof(loc), 1),
	                            T_SEM(3, 0640, 0)), 0);
	CHECK(!strcmp(shmq_semset_locator(a), loc));
	CHECK_EQ(shmq_semset_count(a), 3);
	int id = semget(t_key(1), 0, 0);
	CHECK_EQ(shmq_semset_id(a), id);
	CHECK_EQ(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}), 0);
	CHECK_EQ(ds.sem_perm.mode & 0777, 0640);
	CHECK_EQ(ds.sem_nsems, 3);
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(shmq_semset_getval(a, i), 0);

	/* Exclusive unless asked; open-ok opens the same set. */
	CHECK_RC(shmq_semset_create(&b, loc, T_SEM(3, 0, 0)), -EEXIST);
	CHECK(b == NULL);
	CHECK_RC(shmq_semset_create(&b, loc, T_SEM(2, 0, SHMQ_OPEN_OK)), 0);
	CHECK_EQ(shmq_semset_count(b), 3);
	CHECK_EQ(shmq_semset_setval(b, 2, 7), 0);
	CHECK_EQ(shmq_semset_getval(a, 2), 7);
	CHECK_EQ(shmq_semset_close(b), 0);
	CHECK_RC(shmq_semset_create(&b, loc, T_SEM(4, 0, SHMQ_OPEN_OK)),
	         SHMQ_ESMALL);

	/* Open by key and by id. */
	snprintf(byid, sizeof(byid), "sysv-sem:id=%d", id);
	CHECK_RC(shmq_semset_open(&b, byid, NULL), 0);
	CHECK(!strcmp(shmq_semset_locator(b), byid));
	CHECK_EQ(shmq_semset_getval(b, 2), 7);
	CHECK_EQ(shmq_semset_close(b), 0);
	CHECK_RC(shmq_semset_open(&b, loc, NULL), 0);
	CHECK_EQ(shmq_semset_id(b), id);

	CHECK_RC(shmq_semset_unlink(loc), 0);
	CHECK(semget(t_key(1), 0, 0) < 0 && errno == ENOENT);
	CHECK_RC(shmq_semset_unlink(loc), -ENOENT);
	CHECK_EQ(shmq_semset_close(a), 0);
	CHECK_RC(shmq_semset_open(&a, byid, NULL), -ENOENT);
	CHECK(a == NULL);
	/* Handles on the removed set say so. */
	CHECK_RC(shmq_semset_getval(b, 0), -EIDRM);
	CHECK_RC(shmq_semset_setval(b, 0, 1), -EIDRM);
	CHECK_RC(shmq_semset_count(b), -EIDRM);
	CHECK_RC(shmq_semset_op(b, 0, 1), -EIDRM);
	CHECK_EQ(shmq_semset_close(b), 0);
}

TEST(ipc_semset_private_is_named_by_id)
{
	shmq_semset *s;
	char want[64];

	CHECK_RC(shmq_semset_create(&s, "sysv-sem:private", T_SEM(1, 0, 0)), 0);
	int id = shmq_semset_id(s);
	snprintf(want, sizeof(want), "sysv-sem:id=%d", id);
	CHECK(!strcmp(shmq_semset_locator(s), want));
	CHECK_EQ(semctl(id, 0, GETVAL), 0);
	shmq_semset *none;
	CHECK_RC(shmq_semset_open(&none, "sysv-sem:private", NULL),
	         SHMQ_EFAMILY);
	CHECK(none == NULL);
	CHECK_RC(shmq_unlink(want), 0);
	CHECK(semctl(id, 0, GETVAL) < 0);
	CHECK_EQ(shmq_semset_close(s), 0);
}

TEST(ipc_semset_refuses_bad_arguments)
{
	char loc[64], too_many[16];
	shmq_semset *s;
	uint64_t msl = kernel_limit("/proc/sys/kernel/sem");

	sem_loc(loc, sizeof(loc), 1);
	CHECK_RC(shmq_semset_create(&s, loc, T_SEM(0, 0, 0)), -EINVAL);
	CHECK_RC(shmq_semset_create(&s, loc, T_SEM((unsigned)msl + 1, 0, 0)),
	         SHMQ_ESIZEMAX);
	CHECK_RC(shmq_semset_create(&s, loc, T_SEM(1, 01000, 0)), -EINVAL);
	CHECK_RC(shmq_semset_create(&s, loc, T_SEM(1, 0, 1u << 9)), -EINVAL);
	/* Reserved words must be zero, to mean something later. */
	struct shmq_semset_opts so = {.nsems = 1, .reserved[3] = 1};
	CHECK_RC(shmq_semset_create(&s, loc, &so), -EINVAL);
	CHECK_RC(shmq_semset_open(&s, loc, &so), -EINVAL);
	CHECK_RC(shmq_semset_create(&s, loc, NULL), -EINVAL);
	CHECK_RC(shmq_semset_create(&s, "sysv-sem:id=1", T_SEM(1, 0, 0)),
	         SHMQ_EFAMILY);
	CHECK_RC(shmq_semset_create(&s, "sysv:key=0x7b", T_SEM(1, 0, 0)),
	         SHMQ_EFAMILY);
	CHECK_RC(shmq_semset_create(&s, "sysv-sem:key=zz", T_SEM(1, 0, 0)),
	         SHMQ_ELOCATOR);
	CHECK_RC(shmq_semset_unlink("sysv-msg:key=0x7b"), SHMQ_EFAMILY);
	CHECK(semget(t_key(1), 0, 0) < 0); /* nothing made by any of it */

	CHECK_RC(shmq_semset_create(&s, loc, T_SEM(2, 0, 0)), 0);
	CHECK_RC(shmq_semset_getval(s, 2), -EINVAL);
	CHECK_RC(shmq_semset_setval(s, 2, 1), -EINVAL);
	CHECK_RC(shmq_semset_op(s, 2, 1), -EINVAL);
	CHECK_RC(shmq_semset_setval(s, 0, -1), -ERANGE);
	CHECK_RC(shmq_semset_setval(s, 0, 32768), -ERANGE);
	CHECK_RC(shmq_semset_op(s, 0, 40000), -ERANGE);
	CHECK_RC(shmq_semset_op_timed(s, 0, -1,
	                              &(struct timespec){0, 1000000000L}),
	         -EINVAL);
	/* The value would pass SEMVMX. */
	CHECK_EQ(shmq_semset_setval(s, 1, 32767), 0);
	CHECK_RC(shmq_semset_op(s, 1, 1), -ERANGE);
	CHECK_EQ(shmq_semset_getval(s, 1), 32767);
	CHECK_EQ(shmq_semset_close(s), 0);

	char line[256];
	snprintf(too_many, sizeof(too_many), "%llu", (unsigned long long)msl);
	shmq_explain(SHMQ_ESIZEMAX, loc, msl + 1, line, sizeof(line));
	CHECK_HAS(line, "SEMMSL");
	CHECK_HAS(line, too_many);
}

TEST(ipc_semset_nowait_gives_eagain_instead_of_waiting)
{
	char loc[64];
	shmq_semset *s;

	s = one_sem(loc, sizeof(loc));
	CHECK_RC(shmq_semset_try_op(s, 0, -1), -EAGAIN);
	CHECK_EQ(shmq_semset_op(s, 0, 2), 0);
	CHECK_EQ(shmq_semset_try_op(s, 0, -2), 0);
	CHECK_EQ(shmq_semset_getval(s, 0), 0);
	/* 0 waits for zero: satisfied now. */
	CHECK_EQ(shmq_semset_try_op(s, 0, 0), 0);
	CHECK_EQ(shmq_semset_close(s), 0);
}

TEST(ipc_semset_undo_gives_back_the_units_of_a_killed_holder)
{
	char loc[64];
	shmq_semset *s;
	int took[2];

	s = one_sem(loc, sizeof(loc));
	CHECK_EQ(shmq_semset_setval(s, 0, 1), 0); /* a lock, free */
	CHECK(pipe(took) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_semset *c;
		close(took[0]);
		CHECK_RC(shmq_semset_open(&c, loc, NULL), 0);
		CHECK_RC(shmq_semset_op(c, 0, -1), 0);
		say(took[1]);
		pause(); /* holds the unit until killed */
		_exit(1);
	}
	close(took[1]);
	hear(took[0]);
	close(took[0]);
	CHECK_EQ(shmq_semset_getval(s, 0), 0);
	CHECK_RC(shmq_semset_try_op(s, 0, -1), -EAGAIN);
	CHECK_EQ(kill(pid, SIGKILL), 0);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	/* The kernel undid the dead holder's -1 as it exited. */
	struct timespec dl = shmq_deadline(5000);
	CHECK_RC(shmq_semset_op_timed(s, 0, -1, &dl), 0);
	CHECK_EQ(shmq_semset_getval(s, 0), 0);
	CHECK_EQ(shmq_semset_close(s), 0);
}

TEST(ipc_semset_units_a_process_added_go_when_it_exits)
{
	char loc[64];
	shmq_semset *s;

	s = one_sem(loc, sizeof(loc));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK_RC(shmq_semset_op(s, 0, 3), 0);
		CHECK_EQ(shmq_semset_getval(s, 0), 3);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	/* SEM_UNDO: not a signal to another process (shmq.h says so). */
	CHECK_EQ(shmq_semset_getval(s, 0), 0);
	CHECK_EQ(shmq_semset_close(s), 0);
}

TEST(ipc_semset_waiter_wakes_when_another_process_adds)
{
	char loc[64];
	shmq_semset *s;
	int done[2];

	s = one_sem(loc, sizeof(loc));
	CHECK(pipe(done) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(done[1]);
		/* Add only once the parent sleeps in semop (GETNCNT). */
		while (semctl(shmq_semset_id(s), 0, GETNCNT) == 0)
			sched_yield();
		CHECK_RC(shmq_semset_op(s, 0, 1), 0);
		hear(done[0]); /* stay, so exit's undo comes after the take */
		_exit(0);
	}
	close(done[0]);
	struct timespec dl = shmq_deadline(10000);
	CHECK_RC(shmq_semset_op_timed(s, 0, -1, &dl), 0);
	say(done[1]);
	close(done[1]);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_semset_close(s), 0);
}

TEST(ipc_semset_deadline_times_out_within_a_bound)
{
	char loc[64];
	shmq_semset *s;

	s = one_sem(loc, sizeof(loc));
	struct timespec dl = shmq_deadline(200);
	CHECK_RC(shmq_semset_op_timed(s, 0, -1, &dl), -ETIMEDOUT);
	check_deadline_kept(dl);
	/* A deadline already past still tries once. */
	dl = shmq_deadline(-10);
	CHECK_RC(shmq_semset_op_timed(s, 0, -1, &dl), -ETIMEDOUT);
	CHECK_EQ(shmq_semset_setval(s, 0, 1), 0);
	CHECK_RC(shmq_semset_op_timed(s, 0, -1, &dl), 0);
	CHECK_EQ(shmq_semset_close(s), 0);
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST(ipc_semset_signals_do_not_stretch_or_cut_the_deadline)
{
	char loc[64];
	shmq_semset *s;
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	struct itimerval every = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};

	s = one_sem(loc, sizeof(loc));
	CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	CHECK_EQ(setitimer(ITIMER_REAL, &every, NULL), 0); /* EINTR often */
	struct timespec dl = shmq_deadline(300);
	int rc = shmq_semset_op_timed(s, 0, -1, &dl);
	CHECK_EQ(setitimer(ITIMER_REAL, &off, NULL), 0);
	CHECK_RC(rc, -ETIMEDOUT);
	check_deadline_kept(dl);
	CHECK_EQ(shmq_semset_close(s), 0);
}

/* ---- Message queues ---------------------------------------------------- */

TEST(ipc_msgq_create_open_close_unlink)
{
	char loc[64], byid[64];
	struct msqid_ds ds;
	shmq_msgq *a, *b;
	char buf[8];

	CHECK_RC(shmq_msgq_create(&a, msg_loc(loc, sizeof(loc), 1), NULL), 0);
	CHECK(!strcmp(shmq_msgq_locator(a), loc));
	int id = msgget(t_key(1), 0);
	CHECK_EQ(shmq_msgq_id(a), id);
	CHECK_EQ(msgctl(id, IPC_STAT, &ds), 0);
	CHECK_EQ(ds.msg_perm.mode & 0777, 0600); /* the default */
	CHECK_RC(shmq_msgq_create(&b, loc, NULL), -EEXIST);
	CHECK_RC(shmq_msgq_create(&b, loc, T_MSGQ(0644, SHMQ_OPEN_OK)), 0);
	CHECK_EQ(shmq_msgq_id(b), id);
	CHECK_EQ(shmq_msgq_close(b), 0);
	snprintf(byid, sizeof(byid), "sysv-msg:id=%d", id);
	CHECK_RC(shmq_msgq_open(&b, byid, NULL), 0);
	CHECK(!strcmp(shmq_msgq_locator(b), byid));
	CHECK_EQ(shmq_msgq_send(a, 5, "abc", 3), 0);
	long type = 0;
	CHECK_EQ(shmq_msgq_recv(b, 0, buf, sizeof(buf), &type), 3);
	CHECK(!memcmp(buf, "abc", 3));
	CHECK_EQ(type, 5);
	CHECK_EQ(shmq_msgq_close(b), 0);

	CHECK_RC(shmq_msgq_unlink(byid), 0);
	CHECK(msgget(t_key(1), 0) < 0 && errno == ENOENT);
	CHECK_RC(shmq_msgq_open(&b, loc, NULL), -ENOENT);
	CHECK_RC(shmq_msgq_send(a, 1, "x", 1), -EIDRM);
	CHECK_RC(shmq_msgq_recv(a, 0, buf, sizeof(buf), NULL),
	         -EIDRM);
	CHECK_EQ(shmq_msgq_close(a), 0);
	CHECK_RC(shmq_msgq_create(&a, "sysv-msg:id=1", NULL), SHMQ_EFAMILY);
	CHECK_RC(shmq_msgq_create(&a, "posix:q", NULL), SHMQ_EFAMILY);
	CHECK_RC(shmq_msgq_create(&a, loc, T_MSGQ(0, 1u << 4)), -EINVAL);
	struct shmq_msgq_opts mo = {.reserved[0] = 1};
	CHECK_RC(shmq_msgq_create(&a, loc, &mo), -EINVAL);
	CHECK_RC(shmq_msgq_open(&a, loc, &mo), -EINVAL);
	CHECK(msgget(t_key(1), 0) < 0); /* nothing made by any of it */
}

TEST(ipc_msgq_private_is_named_by_id_and_removed_by_shmq_unlink)
{
	shmq_msgq *q;
	char want[64];

	CHECK_RC(shmq_msgq_create(&q, "sysv-msg:private", NULL), 0);
	snprintf(want, sizeof(want), "sysv-msg:id=%d", shmq_msgq_id(q));
	CHECK(!strcmp(shmq_msgq_locator(q), want));
	CHECK_RC(shmq_unlink(want), 0);
	CHECK_RC(shmq_msgq_try_send(q, 1, "x", 1), -EIDRM);
	CHECK_EQ(shmq_msgq_close(q), 0);
}

TEST(ipc_msgq_carries_messages_between_two_processes)
{
	char loc[64], buf[64];
	shmq_msgq *q;
	long type;

	q = new_queue(loc, sizeof(loc));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_msgq *c;
		char in[64];
		CHECK_RC(shmq_msgq_open(&c, loc, NULL), 0);
		/* Blocks in the kernel until the parent sends. */
		ssize_t n = shmq_msgq_recv(c, 1, in, sizeof(in), NULL);
		CHECK(n > 0);
		for (ssize_t i = 0; i < n; i++)
			in[i] = (char)(in[i] - 'a' + 'A');
		CHECK_RC(shmq_msgq_send(c, 2, in, (size_t)n), 0);
		CHECK_EQ(shmq_msgq_close(c), 0);
		_exit(0);
	}
	CHECK_RC(shmq_msgq_send(q, 1, "hello", 5), 0);
	struct timespec dl = shmq_deadline(10000);
	CHECK_EQ(shmq_msgq_recv_timed(q, 2, buf, sizeof(buf), &type, &dl), 5);
	CHECK(!memcmp(buf, "HELLO", 5));
	CHECK_EQ(type, 2);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_msgq_close(q), 0);
}

TEST(ipc_msgq_timed_recv_gets_a_message_sent_while_it_waits)
{
	char loc[64], buf[16];
	shmq_msgq *q;
	int go[2];

	q = new_queue(loc, sizeof(loc));
	CHECK(pipe(go) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		hear(go[0]);
		CHECK_RC(shmq_msgq_send(q, 9, "late", 4), 0);
		_exit(0);
	}
	close(go[0]);
	say(go[1]);
	close(go[1]);
	struct timespec dl = shmq_deadline(10000);
	CHECK_EQ(shmq_msgq_recv_timed(q, 9, buf, sizeof(buf), NULL, &dl), 4);
	CHECK(!memcmp(buf, "late", 4));
	CHECK(ns_between(mono_now(), dl) > 0); /* well before the deadline */
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_msgq_close(q), 0);
}

TEST(ipc_msgq_recv_selects_by_type)
{
	char loc[64], buf[8];
	shmq_msgq *q;
	long type;

	q = new_queue(loc, sizeof(loc));
	CHECK_RC(shmq_msgq_send(q, 3, "c", 1), 0);
	CHECK_RC(shmq_msgq_send(q, 1, "a", 1), 0);
	CHECK_RC(shmq_msgq_send(q, 2, "b", 1), 0);
	CHECK_RC(shmq_msgq_send(q, 4, "d", 1), 0);
	/* That type; the lowest type <= |type|; the oldest of any type. */
	CHECK_EQ(shmq_msgq_recv(q, 2, buf, sizeof(buf), &type), 1);
	CHECK(buf[0] == 'b' && type == 2);
	CHECK_EQ(shmq_msgq_recv(q, -3, buf, sizeof(buf), &type), 1);
	CHECK(buf[0] == 'a' && type == 1);
	CHECK_EQ(shmq_msgq_recv(q, 0, buf, sizeof(buf), &type), 1);
	CHECK(buf[0] == 'c' && type == 3);
	CHECK_RC(shmq_msgq_try_recv(q, 2, buf, sizeof(buf), NULL), -EAGAIN);
	CHECK_EQ(shmq_msgq_recv(q, 0, buf, sizeof(buf), &type), 1);
	CHECK(buf[0] == 'd' && type == 4);
	/* Types start at 1; an empty message is a message. */
	CHECK_RC(shmq_msgq_send(q, 0, "x", 1), -EINVAL);
	CHECK_RC(shmq_msgq_send(q, -1, "x", 1), -EINVAL);
	CHECK_RC(shmq_msgq_send(q, 7, NULL, 0), 0);
	CHECK_EQ(shmq_msgq_recv(q, 7, buf, sizeof(buf), &type), 0);
	CHECK_EQ(shmq_msgq_close(q), 0);
}

TEST(ipc_msgq_short_buffer_gives_e2big_and_keeps_the_message)
{
	char loc[64], msg[100], buf[100], line[256];
	shmq_msgq *q;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)i;
	q = new_queue(loc, sizeof(loc));
	CHECK_RC(shmq_msgq_send(q, 1, msg, sizeof(msg)), 0);
	CHECK_RC(shmq_msgq_recv(q, 0, buf, 10, NULL), -E2BIG);
	CHECK_RC(shmq_msgq_try_recv(q, 0, buf, 99, NULL),
	         -E2BIG);
	CHECK_EQ(shmq_msgq_recv(q, 0, buf, sizeof(buf), NULL), 100);
	CHECK(!memcmp(buf, msg, sizeof(msg)));
	shmq_explain(-E2BIG, loc, 10, line, sizeof(line));
	CHECK_HAS(line, "10-byte buffer");
	CHECK_HAS(line, "stays queued");
	CHECK_EQ(shmq_msgq_close(q), 0);
}

TEST(ipc_msgq_message_above_msgmax_is_emsgsize)
{
	char loc[64], line[512], want[32];
	shmq_msgq *q;
	size_t max = (size_t)kernel_limit("/proc/sys/kernel/msgmax");
	size_t mnb = (size_t)kernel_limit("/proc/sys/kernel/msgmnb");
	char *big = calloc(1, max + 1), *back = malloc(max + 1);

	CHECK(big && back);
	q = new_queue(loc, sizeof(loc));
	CHECK_RC(shmq_msgq_send(q, 1, big, max + 1), -EMSGSIZE);
	CHECK_RC(shmq_msgq_try_send(q, 1, big, max + 1),
	         -EMSGSIZE);
	shmq_explain(-EMSGSIZE, loc, max + 1, line, sizeof(line));
	snprintf(want, sizeof(want), "(%zu bytes)", max);
	CHECK_HAS(line, "kernel.msgmax");
	CHECK_HAS(line, want);
	if (max <= mnb) { /* exactly msgmax fits an empty queue */
		big[max - 1] = 'z';
		CHECK_RC(shmq_msgq_send(q, 1, big, max), 0);
		CHECK_EQ(shmq_msgq_recv(q, 1, back, max + 1, NULL),
		         (long long)max);
		CHECK(back[max - 1] == 'z');
	}
	free(big);
	free(back);
	CHECK_EQ(shmq_msgq_close(q), 0);
}

TEST(ipc_msgq_message_above_queue_capacity_is_emsgsize_not_a_hang)
{
	char loc[64], big[200] = "", line[512];
	struct msqid_ds ds;
	shmq_msgq *q;

	q = new_queue(loc, sizeof(loc));
	CHECK_EQ(msgctl(shmq_msgq_id(q), IPC_STAT, &ds), 0);
	ds.msg_qbytes = 100; /* lowering needs no privilege */
	CHECK_EQ(msgctl(shmq_msgq_id(q), IPC_SET, &ds), 0);
	/* The kernel would wait forever for 200 bytes of space. */
	CHECK_RC(shmq_msgq_send(q, 1, big, sizeof(big)), -EMSGSIZE);
	CHECK_RC(shmq_msgq_send(q, 1, big, 100), 0);
	shmq_explain(-EMSGSIZE, loc, sizeof(big), line, sizeof(line));
	CHECK_HAS(line, "capacity");
	CHECK_EQ(shmq_msgq_close(q), 0);
}

/* Sends len-byte messages without waiting until the queue is full. */
static int fill(shmq_msgq *q, size_t len)
{
	static char m[1024];
	int n = 0, rc;
	while ((rc = shmq_msgq_try_send(q, 1, m, len)) == 0)
		n++;
	CHECK_RC(rc, -EAGAIN);
	return n;
}

TEST(ipc_msgq_nowait_on_full_and_empty_gives_eagain)
{
	char loc[64], buf[1024];
	struct msqid_ds ds;
	shmq_msgq *q;

	q = new_queue(loc, sizeof(loc));
	CHECK_RC(shmq_msgq_try_recv(q, 0, buf, sizeof(buf), NULL), -EAGAIN);
	int n = fill(q, 1024);
	CHECK_EQ(msgctl(shmq_msgq_id(q), IPC_STAT, &ds), 0);
	CHECK_EQ(n, ds.msg_qbytes / 1024);
	CHECK_EQ(ds.msg_qnum, n);
	CHECK_EQ(shmq_msgq_recv(q, 0, buf, sizeof(buf), NULL), 1024);
	CHECK_RC(shmq_msgq_try_send(q, 1, buf, 1024), 0);
	CHECK_RC(shmq_msgq_try_send(q, 1, buf, 1024),
	         -EAGAIN);
	CHECK_EQ(shmq_msgq_close(q), 0);
}

TEST(ipc_msgq_deadlines_time_out_within_a_bound)
{
	char loc[64], buf[1024];
	shmq_msgq *q;

	q = new_queue(loc, sizeof(loc));
	struct timespec dl = shmq_deadline(200);
	CHECK_RC(shmq_msgq_recv_timed(q, 0, buf, sizeof(buf), NULL, &dl),
	         -ETIMEDOUT);
	check_deadline_kept(dl);
	fill(q, sizeof(buf));
	dl = shmq_deadline(200);
	CHECK_RC(shmq_msgq_send_timed(q, 1, buf, sizeof(buf), &dl), -ETIMEDOUT);
	check_deadline_kept(dl);
	/* Past deadlines try once: a message there is still received. */
	dl = shmq_deadline(-10);
	CHECK_EQ(shmq_msgq_recv_timed(q, 0, buf, sizeof(buf), NULL, &dl), 1024);
	CHECK_RC(shmq_msgq_send_timed(q, 1, buf, sizeof(buf), &dl), 0);
	CHECK_RC(shmq_msgq_send_timed(q, 1, buf, sizeof(buf), &dl), -ETIMEDOUT);
	CHECK_RC(shmq_msgq_send_timed(q, 1, buf, 1, &(struct timespec){0, -1}),
	         -EINVAL);
	CHECK_EQ(shmq_msgq_close(q), 0);
}


TEST(ipc_msgq_waiters_get_eidrm_when_the_queue_goes)
{
	char loc[64], buf[8];
	shmq_msgq *q;

	q = new_queue(loc, sizeof(loc));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* Asleep in msgrcv when the queue is removed. */
		CHECK_RC(shmq_msgq_recv(q, 0, buf, sizeof(buf), NULL),
		         -EIDRM);
		_exit(0);
	}
	/* Remove it once the child sleeps in msgrcv. */
	while (t_blocked_in(pid) != SYS_msgrcv)
		sched_yield();
	CHECK_RC(shmq_unlink(loc), 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_msgq_close(q), 0);
}

/* ---- Listing, stat and unlink of every family -------------------------- */

struct seen {
	const char *locator;
	struct shmq_stat st;
	int n;
};

static int find(const struct shmq_stat *st, void *arg)
{
	for (struct seen *s = arg; s->locator; s++)
		if (!strcmp(st->locator, s->locator)) {
			s->st = *st;
			s->n++;
		}
	return 0;
}

TEST(ipc_list_and_stat_show_sem_msg_and_posix_sem_families)
{
	char sl[64], ml[64], pl[128], name[64], sem_name[80], path[128];
	shmq_semset *s;
	shmq_msgq *q;
	struct shmq_stat st;

	CHECK_RC(shmq_semset_create(&s, sem_loc(sl, sizeof(sl), 1),
	                            T_SEM(4, 0640, 0)), 0);
	CHECK_RC(shmq_msgq_create(&q, msg_loc(ml, sizeof(ml), 2),
	                          T_MSGQ(0604, 0)), 0);
	CHECK_RC(shmq_msgq_send(q, 1, "twelve bytes", 12), 0);
	CHECK_RC(shmq_msgq_send(q, 1, "three", 5), 0);
	t_name(name, sizeof(name), "psem");
	snprintf(sem_name, sizeof(sem_name), "/%s", name);
	sem_t *ps = sem_open(sem_name, O_CREAT | O_EXCL, 0600, 1);
	CHECK(ps != SEM_FAILED);
	snprintf(pl, sizeof(pl), "posix-sem:%s", name);

	struct seen w[] = {{.locator = sl}, {.locator = ml}, {.locator = pl},
	                   {.locator = NULL}};
	CHECK(shmq_list(0, find, w) >= 3);
	for (int i = 0; i < 3; i++)
		if (w[i].n != 1)
			t_fail(__FILE__, __LINE__, "listed once, by default",
			       "%s seen %d times", w[i].locator, w[i].n);
	CHECK_EQ(w[0].st.family, SHMQ_FAMILY_SYSV_SEM);
	CHECK_EQ(w[0].st.key, t_key(1));
	CHECK_EQ(w[0].st.id, shmq_semset_id(s));
	CHECK_EQ(w[0].st.nsems, 4);
	CHECK_EQ(w[0].st.mode, 0640);
	CHECK_EQ(w[0].st.uid, geteuid());
	CHECK_EQ(w[0].st.nattch, -1);
	CHECK(!w[0].st.orphan);
	CHECK_EQ(w[1].st.family, SHMQ_FAMILY_SYSV_MSG);
	CHECK_EQ(w[1].st.id, shmq_msgq_id(q));
	CHECK_EQ(w[1].st.qnum, 2);
	CHECK_EQ(w[1].st.size, 17);
	CHECK_EQ(w[1].st.qbytes, kernel_limit("/proc/sys/kernel/msgmnb"));
	CHECK_EQ(w[1].st.mode, 0604);
	CHECK_EQ(w[1].st.lspid, getpid());
	CHECK_EQ(w[1].st.lspid_alive, SHMQ_PID_ALIVE);
	CHECK_EQ(w[1].st.lrpid, 0);
	CHECK_EQ(w[1].st.lpid, getpid());
	CHECK_EQ(w[2].st.family, SHMQ_FAMILY_POSIX_SEM);
	CHECK(!strcmp(w[2].st.name, name));
	CHECK_EQ(w[2].st.mode, 0600);
	CHECK(w[2].st.size > 0);
	CHECK(w[2].st.nattch != 0); /* we have it open: 1, or unknown */

	/* stat by each locator gives what the listing gave. */
	for (int i = 0; i < 3; i++) {
		CHECK_RC(shmq_stat(w[i].locator, &st), 0);
		CHECK_EQ(st.family, w[i].st.family);
		CHECK(!strcmp(st.locator, w[i].locator));
		CHECK_EQ(st.id, w[i].st.id);
		CHECK_EQ(st.mode, w[i].st.mode);
	}
	CHECK_EQ(shmq_family_name(SHMQ_FAMILY_SYSV_SEM)[5], 's');
	CHECK(!strcmp(shmq_family_name(SHMQ_FAMILY_POSIX_SEM), "posix-sem"));
	CHECK(shmq_family_name(0) == NULL);

	/* shmq_unlink removes each; the segment calls refuse them. */
	CHECK_RC(shmq_seg_unlink(sl), SHMQ_EFAMILY);
	CHECK_RC(shmq_seg_unlink(pl), SHMQ_EFAMILY);
	for (int i = 0; i < 3; i++)
		CHECK_RC(shmq_unlink(w[i].locator), 0);
	CHECK(semget(t_key(1), 0, 0) < 0 && errno == ENOENT);
	CHECK(msgget(t_key(2), 0) < 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "/dev/shm/sem.%s", name);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	CHECK_RC(shmq_stat(pl, &st), -ENOENT);
	/* Who had the semaphore open keeps it. */
	CHECK_EQ(sem_post(ps), 0);
	CHECK_EQ(sem_close(ps), 0);
	CHECK_EQ(shmq_semset_close(s), 0);
	CHECK_EQ(shmq_msgq_close(q), 0);
}

TEST(ipc_stat_tells_a_dead_sender_from_a_live_receiver)
{
	char loc[64], buf[8];
	shmq_msgq *q;
	struct shmq_stat st;

	q = new_queue(loc, sizeof(loc));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK_RC(shmq_msgq_send(q, 1, "bye", 3), 0);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK_RC(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.lspid, pid);
	CHECK_EQ(st.lspid_alive, SHMQ_PID_DEAD);
	CHECK_EQ(st.lpid, pid);
	CHECK_EQ(st.cpid, 0); /* the kernel records no creator */
	CHECK_EQ(shmq_msgq_recv(q, 0, buf, sizeof(buf), NULL), 3);
	CHECK_RC(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.lrpid, getpid());
	CHECK_EQ(st.lrpid_alive, SHMQ_PID_ALIVE);
	CHECK_EQ(st.qnum, 0);
	CHECK_EQ(shmq_msgq_close(q), 0);
}

TEST(ipc_segment_calls_refuse_semaphores_and_queues)
{
	char sl[64], pl[128], name[64];
	shmq_seg *seg;
	struct shmq_seg_opts o = {.size = 4096};

	sem_loc(sl, sizeof(sl), 1);
	CHECK_RC(shmq_seg_create(&seg, sl, &o), SHMQ_EFAMILY);
	CHECK_RC(shmq_seg_create(&seg, "sysv-msg:private", &o), SHMQ_EFAMILY);
	snprintf(pl, sizeof(pl), "posix-sem:%s", t_name(name, sizeof(name), "x"));
	CHECK_RC(shmq_seg_create(&seg, pl, &o), SHMQ_EFAMILY);
	CHECK_RC(shmq_seg_open(&seg, sl, NULL), SHMQ_EFAMILY);
	CHECK_RC(shmq_seg_setperm(sl, (uid_t)-1, (gid_t)-1, 0600), SHMQ_EFAMILY);
	CHECK(semget(t_key(1), 0, 0) < 0);
	char line[512];
	shmq_explain(SHMQ_EFAMILY, sl, 0, line, sizeof(line));
	CHECK_HAS(line, "semaphore set, not a segment");
}
