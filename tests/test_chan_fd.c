/*
 * Channel fds (shmq_chan_fd) and waitsets: real processes on both ends,
 * each in an epoll loop, checked message by message.
 */
#include "chan.h"
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static shmq_chan *make(const char *loc, int kind, int role, int64_t spin)
{
	return t_chan_make(loc, kind, 4096, role, spin);
}

static shmq_chan *attach(const char *loc, int role, int64_t spin)
{
	struct shmq_chan_opts o = {.spin_ns = spin};
	shmq_chan *ch = NULL;
	CHECK_EQ(shmq_chan_open(&ch, loc, role, &o), 0);
	return ch;
}

/* Waits in epoll on ch's fd, then drains it: the messages taken (each an
 * 8-byte number, checked against *next), or the error that ended it. */
static ssize_t drain(int ep, shmq_chan *ch, uint64_t *next)
{
	struct epoll_event got;
	int n = epoll_wait(ep, &got, 1, 10000);
	CHECK_EQ(n, 1); /* no message may wait 10 s for its wake */
	ssize_t len, taken = 0;
	uint64_t v;
	while ((len = shmq_chan_try_recv(ch, &v, sizeof v)) >= 0) {
		CHECK_EQ(len, 8);
		CHECK_EQ(v, *next);
		(*next)++;
		taken++;
	}
	return len == -EAGAIN ? taken : len;
}

TEST(chan_fd_polls_readable_exactly_when_a_try_would_not_block)
{
	char loc[128];
	uint64_t v = 7;
	t_posix_loc(loc, sizeof(loc), "fd");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, SHMQ_READER, 0);
	shmq_chan *w = attach(loc, SHMQ_WRITER, 0);
	int fd = shmq_chan_fd(r);
	CHECK(fd >= 0);
	CHECK_EQ(shmq_chan_fd(r), fd); /* the handle's one fd */
	CHECK(t_readable(fd, 0));      /* it starts readable: look first */
	CHECK_EQ(shmq_chan_try_recv(r, &v, sizeof v), -EAGAIN);
	CHECK(!t_readable(fd, 0)); /* armed: nothing changed */
	CHECK_EQ(shmq_chan_try_recv(r, &v, sizeof v), -EAGAIN);
	CHECK(!t_readable(fd, 100));
	CHECK_EQ(shmq_chan_send(w, &v, sizeof v), 0);
	CHECK(t_readable(fd, 5000));
	CHECK(t_readable(fd, 0)); /* level: stays readable until drained */
	v = 0;
	CHECK_EQ(shmq_chan_try_recv(r, &v, sizeof v), 8);
	CHECK_EQ(v, 7);
	CHECK_EQ(shmq_chan_try_recv(r, &v, sizeof v), -EAGAIN);
	CHECK(!t_readable(fd, 0));

	/* A writer's fd: readable while there is room. */
	int wfd = shmq_chan_fd(w);
	CHECK(wfd >= 0 && wfd != fd);
	char big[1000] = {0};
	int sent = 0;
	while (shmq_chan_try_send(w, big, sizeof big) == 0)
		sent++;
	CHECK(sent >= 3);
	CHECK(!t_readable(wfd, 0)); /* full: armed by the -EAGAIN */
	CHECK(t_readable(fd, 5000));
	CHECK_EQ(shmq_chan_try_recv(r, big, sizeof big), 1000);
	CHECK(t_readable(wfd, 5000)); /* room again */
	CHECK_EQ(shmq_chan_try_send(w, big, sizeof big), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	/* The writer closed: the reader's fd wakes for the end of stream. */
	for (int i = 0; i < sent; i++)
		CHECK_EQ(shmq_chan_try_recv(r, big, sizeof big), 1000);
	CHECK(t_readable(fd, 5000));
	CHECK_EQ(shmq_chan_try_recv(r, big, sizeof big), -EPIPE);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* Ping-pong through two channels, the parent in an epoll loop with a
 * spin budget of 0: every wake of its fd is a futex wake, and none may be
 * left to the 50 ms tick. The child answers at once (a spinning blocking
 * recv), so answers land while the parent is still arming: in its
 * try_recv that finds nothing. With `by_fd` the child waits in an epoll
 * loop too, draining to -EAGAIN. */
static void echo(const char *ping, const char *pong, int trips, int by_fd,
                 int64_t spin)
{
	shmq_chan *in = attach(ping, SHMQ_READER, by_fd ? spin : 1000000000);
	shmq_chan *out = attach(pong, SHMQ_WRITER, 0);
	int ep = by_fd ? t_epoll_on(in) : -1;
	uint64_t next = 0, v;
	while (next < (uint64_t)trips) {
		uint64_t from = next;
		if (by_fd) {
			CHECK(drain(ep, in, &next) >= 0);
		} else {
			CHECK_EQ(shmq_chan_recv(in, &v, sizeof v), 8);
			CHECK_EQ(v, next++);
		}
		for (v = from; v < next; v++)
			CHECK_EQ(shmq_chan_send(out, &v, sizeof v), 0);
	}
	CHECK_EQ(shmq__fdw_late(in->fdw), 0);
	if (ep >= 0)
		close(ep);
	CHECK_EQ(shmq_chan_close(in), 0);
	CHECK_EQ(shmq_chan_close(out), 0);
}

static void round_trips(int by_fd, int64_t spin)
{
	char ping[128], pong[128];
	int trips = t_long() ? 20000 : 2000;
	t_posix_loc(ping, sizeof(ping), "ping");
	t_posix_loc(pong, sizeof(pong), "pong");
	shmq_chan *out = make(ping, SHMQ_CHAN_SPSC, SHMQ_WRITER, 0);
	shmq_chan *in = make(pong, SHMQ_CHAN_SPSC, SHMQ_READER, spin);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		echo(ping, pong, trips, by_fd, spin);
		_exit(0);
	}
	int ep = t_epoll_on(in);
	struct epoll_event got;
	uint64_t v, back;
	for (v = 0; v < (uint64_t)trips; v++) {
		CHECK_EQ(shmq_chan_send(out, &v, sizeof v), 0);
		/* One message a wake, not drained to -EAGAIN: each trip's
		 * first try_recv arms the fd anew, racing the answer. */
		ssize_t n;
		while ((n = shmq_chan_try_recv(in, &back, sizeof back)) ==
		       -EAGAIN)
			CHECK_EQ(epoll_wait(ep, &got, 1, 10000), 1);
		CHECK_EQ(n, 8);
		CHECK_EQ(back, v);
	}
	CHECK_EQ(shmq__fdw_late(in->fdw), 0);
	CHECK_EQ(t_wait(pid), 0);
	close(ep);
	CHECK_EQ(shmq_chan_close(out), 0);
	CHECK_EQ(shmq_chan_close(in), 0);
}

TEST(chan_fd_round_trips_through_epoll_never_wait_for_the_tick)
{
	round_trips(0, 0);
}

TEST(chan_fd_round_trips_with_both_ends_in_epoll_loops)
{
	round_trips(1, 0);
}

/* With a spin budget the arm is cheap (no membarrier: the waiter thread
 * makes it after its spin, then wakes the loop to look again): the same
 * exchange, every answer on time. */
TEST(chan_fd_round_trips_with_a_spin_budget_arm_cheaply)
{
	round_trips(1, 20000);
}

/* A cheap arm that nothing answers: the thread's spin ends, it makes the
 * membarrier and wakes the loop once (spurious: -EAGAIN, the announce
 * kept), then sleeps; a message much later still wakes the loop, and the
 * announce is given back exactly once. */
TEST(chan_fd_unanswered_cheap_arm_confirms_then_sleeps)
{
	char loc[128];
	uint64_t v = 5;
	t_posix_loc(loc, sizeof(loc), "unsure");
	shmq_chan *r = make(loc, SHMQ_CHAN_SPSC, SHMQ_READER, 20000);
	shmq_chan *w = attach(loc, SHMQ_WRITER, 0);
	int fd = shmq_chan_fd(r);
	CHECK(t_readable(fd, 0)); /* it starts readable */
	CHECK_EQ(shmq_chan_try_recv(r, &v, sizeof v), -EAGAIN); /* cheap */
	/* relaxed: a count; ours is in it */
	CHECK_EQ(shmq_load(&r->hdr->data_ev.waiters, SHMQ_RELAXED), 1);
	CHECK(t_readable(fd, 5000)); /* after the 20 us spin: look again */
	CHECK_EQ(shmq_chan_try_recv(r, &v, sizeof v), -EAGAIN); /* confirm */
	CHECK_EQ(shmq_load(&r->hdr->data_ev.waiters, SHMQ_RELAXED), 1);
	CHECK(!t_readable(fd, 200)); /* confirmed: asleep, no more wakes */
	CHECK_EQ(shmq_chan_send(w, &v, sizeof v), 0);
	CHECK(t_readable(fd, 5000));
	CHECK_EQ(shmq_chan_try_recv(r, &v, sizeof v), 8);
	CHECK_EQ(shmq_load(&r->hdr->data_ev.waiters, SHMQ_RELAXED), 0);
	CHECK_EQ(shmq__fdw_late(r->fdw), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}
