/*
 * Channel fds when things go wrong: the peer of an end in an epoll loop is
 * SIGKILLed (its fd wakes, the next try_ call says SHMQ_EPEERDEAD), the fd
 * limit is reached (-EMFILE, the channel works without an fd), a handle is
 * closed with its fd armed (the peer goes on, paying nothing), the object
 * is shrunk under an armed fd (it wakes, SHMQ_ETRUNCATED, no signal, no
 * hang), and a waitset is misused or waits past its deadline.
 */
#include "chan.h"
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A dead peer is found by a poll tick (50 ms): a wake later than this is a
 * missed one. */
#define WAKE_BOUND_MS 2000
#define BOUND_NS (WAKE_BOUND_MS * 1000000LL)

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Slots (mpmc, broadcast) or ring bytes (spsc): a few dozen messages. */
static size_t small_ring(int kind)
{
	return kind == SHMQ_CHAN_SPSC ? 512 : 8;
}

static shmq_chan *make(const char *loc, int kind, int role, int64_t spin)
{
	struct shmq_chan_opts o = {.kind = kind, .capacity = small_ring(kind),
	                           .msg_size = 64, .spin_ns = spin};
	shmq_chan *ch = NULL;
	CHECK_EQ(shmq_chan_create(&ch, loc, role, &o), 0);
	return ch;
}

/* An epoll set with ch's fd, ch as its data. */
static int epoll_on(shmq_chan *ch)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), fd = shmq_chan_fd(ch);
	CHECK(ep >= 0 && fd >= 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ch};
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	return ep;
}

/* Waits up to ms for ch's fd: 1 if epoll_wait returned it. */
static int woke(int ep, shmq_chan *ch, int ms)
{
	struct epoll_event got;
	int n = epoll_wait(ep, &got, 1, ms);
	CHECK(n >= 0);
	CHECK(n == 0 || got.data.ptr == ch);
	return n;
}

static int readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n = poll(&p, 1, ms);
	CHECK(n >= 0);
	return n == 1 && (p.revents & POLLIN);
}

static void *shared_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	memset(p, 0, 4096);
	return p;
}

static void spin_a_while(unsigned *seed)
{
	for (volatile unsigned i = (unsigned)rand_r(seed) % 50000; i; i--)
		;
}

static int rounds(void)
{
	return t_long() ? 300 : 20;
}

/* ---- A writer killed wakes the reader's fd ---------------------------- */

/* Sends 0, 1, 2... until killed; *sent: how many sends returned. */
static void send_until_killed(const char *loc, uint64_t *sent)
{
	shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
	for (uint64_t v = 0;; v++) {
		CHECK_EQ(shmq_chan_send(w, &v, sizeof(v)), 0);
		/* release: the count after the send; read after the kill */
		__atomic_store_n(sent, v + 1, __ATOMIC_RELEASE);
	}
}

/* The reader drains to -EAGAIN and waits in epoll; once it has a random
 * number of messages it kills the writer (anywhere: in a send, asleep on a
 * full ring) while its own fd is armed. The fd must wake (epoll_wait
 * returns it) and, after the rest is drained in order, try_recv say
 * SHMQ_EPEERDEAD within WAKE_BOUND_MS of the kill, and keep saying it
 * with the fd readable. Every message whose send returned arrived, and at
 * most the one in flight besides. */
static void writer_death_wakes_reader(int kind)
{
	uint64_t *sent = shared_page();
	unsigned seed = (unsigned)getpid();
	int64_t worst = 0;
	for (int r = 0; r < rounds(); r++) {
		char loc[128];
		t_posix_loc(loc, sizeof(loc), "wdead");
		/* half the rounds sleep at once, half spin first */
		shmq_chan *rd = make(loc, kind, SHMQ_READER, r % 2 ? 0 : -1);
		int ep = epoll_on(rd), fd = shmq_chan_fd(rd);
		*sent = 0;
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			send_until_killed(loc, sent);
		/* at least one message: the writer has joined */
		uint64_t next = 0, target = 1 + (unsigned)rand_r(&seed) % 60;
		int64_t killed = 0;
		ssize_t n;
		for (;;) {
			CHECK(woke(ep, rd, killed ? WAKE_BOUND_MS : 10000));
			CHECK(!killed || now_ns() - killed < BOUND_NS);
			uint64_t v;
			while ((n = shmq_chan_try_recv(rd, &v, sizeof(v))) == 8)
				CHECK_EQ(v, next++);
			if (n != -EAGAIN)
				break;
			if (!killed && next >= target) { /* armed now */
				spin_a_while(&seed);
				CHECK_EQ(kill(pid, SIGKILL), 0);
				CHECK_EQ(t_wait(pid), 128 + SIGKILL);
				killed = now_ns();
			}
		}
		CHECK_EQ(n, SHMQ_EPEERDEAD);
		CHECK(killed); /* never before the writer died */
		int64_t took = now_ns() - killed;
		CHECK(took < BOUND_NS);
		worst = took > worst ? took : worst;
		/* acquire: pairs with the writer's release */
		uint64_t s = __atomic_load_n(sent, __ATOMIC_ACQUIRE);
		if (next != s && next != s + 1)
			t_fail(__FILE__, __LINE__, "next == s || next == s + 1",
			       "kind %d: got %llu, %llu sends returned", kind,
			       (unsigned long long)next, (unsigned long long)s);
		CHECK_EQ(shmq_chan_try_recv(rd, &next, sizeof(next)),
		         SHMQ_EPEERDEAD);
		CHECK(readable(fd, 0)); /* level: the error stands */
		CHECK_EQ(close(ep), 0);
		CHECK_EQ(shmq_chan_close(rd), 0);
	}
	printf("kind %d: %d writers killed, SHMQ_EPEERDEAD at most %.0f ms "
	       "after the kill\n", kind, rounds(), (double)worst / 1e6);
	munmap(sent, 4096);
}

TEST(chan_fd_spsc_writer_killed_wakes_the_epoll_reader_with_epeerdead)
{
	writer_death_wakes_reader(SHMQ_CHAN_SPSC);
}

TEST(chan_fd_mpmc_writer_killed_wakes_the_epoll_reader_with_epeerdead)
{
	writer_death_wakes_reader(SHMQ_CHAN_MPMC);
}

TEST(chan_fd_broadcast_writer_killed_wakes_the_epoll_reader_with_epeerdead)
{
	writer_death_wakes_reader(SHMQ_CHAN_BROADCAST);
}

/* ---- A reader killed wakes the writer's fd ---------------------------- */

/* Receives 0, 1, 2... in order (a random while apart) until killed. */
static void recv_until_killed(const char *loc, int ready)
{
	shmq_chan *rd = t_chan_attach(loc, SHMQ_READER);
	unsigned seed = (unsigned)getpid();
	CHECK_EQ(write(ready, "r", 1), 1);
	for (uint64_t next = 0, v;; next++) {
		CHECK_EQ(shmq_chan_recv(rd, &v, sizeof(v)), 8);
		CHECK_EQ(v, next);
		spin_a_while(&seed);
	}
}

/* The writer sends to -EAGAIN and waits in epoll for room; once it has
 * sent a random number it kills the reader while its fd is armed (the
 * ring full). The fd must wake within WAKE_BOUND_MS, and then: spsc and
 * mpmc, try_send says SHMQ_EPEERDEAD (the ring is full and its readers
 * died); broadcast, the dead reader is dropped, so every send succeeds
 * (more than the ring holds: nobody holds it any more). */
static void reader_death_wakes_writer(int kind)
{
	unsigned seed = (unsigned)getpid();
	int64_t worst = 0;
	for (int r = 0; r < rounds(); r++) {
		char loc[128], c;
		int ready[2];
		t_posix_loc(loc, sizeof(loc), "rdead");
		shmq_chan *w = make(loc, kind, SHMQ_WRITER, r % 2 ? 0 : -1);
		int ep = epoll_on(w);
		CHECK_EQ(pipe(ready), 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			recv_until_killed(loc, ready[1]);
		CHECK_EQ(read(ready[0], &c, 1), 1); /* it joined */
		uint64_t v = 0, target = 1 + (unsigned)rand_r(&seed) % 60;
		uint64_t after = 0; /* sends that returned 0 after the kill */
		int64_t killed = 0;
		int rc;
		for (;;) {
			CHECK(woke(ep, w, killed ? WAKE_BOUND_MS : 10000));
			CHECK(!killed || now_ns() - killed < BOUND_NS);
			while ((rc = shmq_chan_try_send(w, &v, sizeof(v))) == 0) {
				v++;
				after += killed != 0;
				if (after > 4 * small_ring(kind))
					break;
			}
			if (rc != -EAGAIN)
				break;
			if (!killed && v >= target) { /* full and armed */
				CHECK_EQ(kill(pid, SIGKILL), 0);
				CHECK_EQ(t_wait(pid), 128 + SIGKILL);
				killed = now_ns();
			}
		}
		CHECK(killed);
		int64_t took = now_ns() - killed;
		CHECK(took < BOUND_NS);
		worst = took > worst ? took : worst;
		if (kind == SHMQ_CHAN_BROADCAST) {
			CHECK_EQ(rc, 0);
		} else {
			CHECK_EQ(rc, SHMQ_EPEERDEAD);
			CHECK_EQ(shmq_chan_try_send(w, &v, sizeof(v)),
			         SHMQ_EPEERDEAD);
			CHECK(readable(shmq_chan_fd(w), 0));
		}
		CHECK_EQ(close(ep), 0);
		CHECK_EQ(close(ready[0]), 0);
		CHECK_EQ(close(ready[1]), 0);
		CHECK_EQ(shmq_chan_close(w), 0);
	}
	printf("kind %d: %d readers killed, the writer's fd woke at most "
	       "%.0f ms after the kill\n", kind, rounds(), (double)worst / 1e6);
}

TEST(chan_fd_spsc_reader_killed_wakes_the_writer_waiting_for_room)
{
	reader_death_wakes_writer(SHMQ_CHAN_SPSC);
}

TEST(chan_fd_mpmc_reader_killed_wakes_the_writer_waiting_for_room)
{
	reader_death_wakes_writer(SHMQ_CHAN_MPMC);
}

TEST(chan_fd_broadcast_reader_killed_wakes_the_writer_waiting_for_room)
{
	reader_death_wakes_writer(SHMQ_CHAN_BROADCAST);
}
