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

/* Slots (mpmc, broadcast) or ring bytes (spsc): a few dozen messages. */
static size_t small_ring(int kind)
{
	return kind == SHMQ_CHAN_SPSC ? 512 : 8;
}

static shmq_chan *make(const char *loc, int kind, int role, int64_t spin)
{
	return t_chan_make(loc, kind, small_ring(kind), role, spin);
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

/* Arms ch's fd as `role`'s end: a reader finds nothing,
 * a writer fills the ring. */
static void arm(shmq_chan *ch, int role)
{
	uint64_t v = 0;
	int rc;
	if (role == SHMQ_READER) {
		CHECK_EQ(shmq_chan_try_recv(ch, &v, sizeof(v)), -EAGAIN);
	} else {
		while ((rc = shmq_chan_try_send(ch, &v, sizeof(v))) == 0)
			v++;
		CHECK_EQ(rc, -EAGAIN);
	}
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
		int ep = t_epoll_on(rd), fd = shmq_chan_fd(rd);
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
			CHECK(!killed || t_now_ns() - killed < BOUND_NS);
			uint64_t v;
			while ((n = shmq_chan_try_recv(rd, &v, sizeof(v))) == 8)
				CHECK_EQ(v, next++);
			if (n != -EAGAIN)
				break;
			if (!killed && next >= target) { /* armed now */
				spin_a_while(&seed);
				CHECK_EQ(kill(pid, SIGKILL), 0);
				CHECK_EQ(t_wait(pid), 128 + SIGKILL);
				killed = t_now_ns();
			}
		}
		CHECK_EQ(n, SHMQ_EPEERDEAD);
		CHECK(killed); /* never before the writer died */
		int64_t took = t_now_ns() - killed;
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
		CHECK(t_readable(fd, 0)); /* level: the error stands */
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
		int ep = t_epoll_on(w);
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
			CHECK(!killed || t_now_ns() - killed < BOUND_NS);
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
				killed = t_now_ns();
			}
		}
		CHECK(killed);
		int64_t took = t_now_ns() - killed;
		CHECK(took < BOUND_NS);
		worst = took > worst ? took : worst;
		if (kind == SHMQ_CHAN_BROADCAST) {
			CHECK_EQ(rc, 0);
		} else {
			CHECK_EQ(rc, SHMQ_EPEERDEAD);
			CHECK_EQ(shmq_chan_try_send(w, &v, sizeof(v)),
			         SHMQ_EPEERDEAD);
			CHECK(t_readable(shmq_chan_fd(w), 0));
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

/* ---- The fd limit --------------------------------------------------- */

/* Lowers RLIMIT_NOFILE to the lowest free fd: no fd can be made. */
static void no_fd_left(struct rlimit *was)
{
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, was), 0);
	int lowest = dup(0);
	CHECK(lowest >= 0);
	CHECK_EQ(close(lowest), 0);
	struct rlimit lim = {(rlim_t)lowest, was->rlim_max};
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
	CHECK_EQ(dup(0), -1);
	CHECK_EQ(errno, EMFILE);
}

static int threads(void)
{
	struct stat st;
	CHECK_EQ(stat("/proc/self/task", &st), 0);
	return (int)st.st_nlink - 2;
}

/* In a child of the test (the limit stays there); its peer is another
 * process, which asks for its fd at the limit too. */
static void at_the_limit(void)
{
	char loc[128];
	struct rlimit was;
	shmq_waitset *ws;
	t_posix_loc(loc, sizeof(loc), "emfile");
	shmq_chan *rd = make(loc, SHMQ_CHAN_SPSC, SHMQ_READER, -1);
	CHECK_EQ(shmq_waitset_create(&ws), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *w = t_chan_attach(loc, SHMQ_WRITER);
		no_fd_left(&was);
		CHECK_EQ(shmq_chan_fd(w), -EMFILE);
		for (uint64_t v = 0; v < 1000; v++)
			CHECK_EQ(shmq_chan_send(w, &v, sizeof(v)), 0);
		CHECK_EQ(shmq_chan_close(w), 0);
		_exit(0);
	}
	int before = threads();
	no_fd_left(&was);
	CHECK_EQ(shmq_chan_fd(rd), -EMFILE);
	CHECK_EQ(shmq_waitset_add_chan(ws, rd, NULL), -EMFILE);
	shmq_waitset *none = NULL;
	CHECK_EQ(shmq_waitset_create(&none), -EMFILE);
	CHECK(none == NULL);
	CHECK_EQ(threads(), before); /* no waiter thread left behind */
	/* The channel works without its fd: blocking and try_ calls. */
	uint64_t v, next = 0;
	ssize_t n;
	while (next < 1000) {
		CHECK_EQ(shmq_chan_recv(rd, &v, sizeof(v)), 8);
		CHECK_EQ(v, next++);
	}
	while ((n = shmq_chan_try_recv(rd, &v, sizeof(v))) == -EAGAIN)
		; /* the writer's close is on its way */
	CHECK_EQ(n, -EPIPE);
	CHECK_EQ(t_wait(pid), 0);
	/* With the limit back, the same handle gets its fd. */
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &was), 0);
	int fd = shmq_chan_fd(rd);
	CHECK(fd >= 0);
	CHECK_EQ(shmq_waitset_add_chan(ws, rd, NULL), 0);
	CHECK(t_readable(fd, 0));
	CHECK_EQ(shmq_chan_try_recv(rd, &v, sizeof(v)), -EPIPE);
	CHECK_EQ(shmq_waitset_close(ws), 0);
	CHECK_EQ(shmq_chan_close(rd), 0);
}

TEST(chan_fd_at_the_fd_limit_is_emfile_and_the_channel_works_without_it)
{
	t_in_child(at_the_limit);
}

/* ---- A handle closed with its fd armed ------------------------------- */

/* The closer (a child) arms its fd, then closes the handle and polls the
 * fd number it kept (the application's bug): the fd is gone (POLLNVAL, and
 * out of its epoll set), and the closer took back its announce. Its peer,
 * the parent, goes on with a new peer in the closer's role, and then
 * sends or receives without a single system call: no wake is owed to
 * anybody (a leftover announce would cost a futex call per message). */
static void closed_while_armed(int kind, int closer)
{
	char loc[128], c;
	int go[2], done[2];
	int peer = closer == SHMQ_READER ? SHMQ_WRITER : SHMQ_READER;
	t_posix_loc(loc, sizeof(loc), "closed");
	shmq_chan *p = make(loc, kind, peer, 0);
	struct shmq_event_shm *ev = closer == SHMQ_READER ? &p->hdr->data_ev
	                                                  : &p->hdr->space_ev;
	CHECK_EQ(pipe(go), 0);
	CHECK_EQ(pipe(done), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *ch = t_chan_attach(loc, closer);
		int ep = t_epoll_on(ch), fd = shmq_chan_fd(ch);
		arm(ch, closer);
		CHECK_EQ(write(done[1], "a", 1), 1);
		CHECK_EQ(read(go[0], &c, 1), 1);
		CHECK_EQ(shmq_chan_close(ch), 0);
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		CHECK_EQ(poll(&pf, 1, 0), 1);
		CHECK_EQ(pf.revents, POLLNVAL);
		struct epoll_event got;
		CHECK_EQ(epoll_wait(ep, &got, 1, 0), 0);
		CHECK_EQ(close(ep), 0);
		_exit(0);
	}
	CHECK_EQ(read(done[0], &c, 1), 1);
	/* relaxed: a count; the closer's announce is in it (it is armed) */
	CHECK_EQ(shmq_load(&ev->waiters, SHMQ_RELAXED), 1);
	CHECK_EQ(write(go[1], "c", 1), 1);
	CHECK_EQ(t_wait(pid), 0);
	uint32_t owed = shmq_load(&ev->waiters, SHMQ_RELAXED);
	if (owed)
		t_fail(__FILE__, __LINE__, "waiters == 0", "kind %d, the %s "
		       "closed: %u announce(s) left", kind, closer == SHMQ_READER
		       ? "reader" : "writer", owed);
	/* A new peer in the closer's place: 100..199 go through (a new
	 * writer adds 200..203 for the last step). */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *ch = t_chan_attach(loc, closer);
		CHECK_EQ(write(done[1], "j", 1), 1);
		for (uint64_t v = 100, got; v < 204; v++) {
			if (closer == SHMQ_WRITER)
				CHECK_EQ(shmq_chan_send(ch, &v, sizeof(v)), 0);
			else if (v < 200)
				CHECK_EQ(shmq_chan_recv(ch, &got, sizeof(got)), 8);
			CHECK(closer == SHMQ_WRITER || v >= 200 || got == v);
		}
		CHECK_EQ(shmq_chan_close(ch), 0);
		_exit(0);
	}
	CHECK_EQ(read(done[0], &c, 1), 1); /* joined: broadcast sees all */
	uint64_t v = 100, got, left = 0;
	while (v < 200) {
		if (peer == SHMQ_WRITER) {
			CHECK_EQ(shmq_chan_send(p, &v, sizeof(v)), 0);
			v++;
		} else { /* what the closer left (0, 1...), then the new */
			CHECK_EQ(shmq_chan_recv(p, &got, sizeof(got)), 8);
			CHECK_EQ(got, got < 100 ? left++ : v++);
		}
	}
	CHECK_EQ(t_wait(pid), 0);
	/* The peer's calls make no system call (SIGSYS: status 159). The
	 * writer sends into a ring nobody reads; the reader takes 200..203.
	 * The child's cursor moves, not ours: p is only closed after. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		t_forbid_syscalls();
		for (v = 200; v < 204; v++)
			bad |= peer == SHMQ_WRITER
			               ? shmq_chan_try_send(p, &v, sizeof(v)) != 0
			               : shmq_chan_try_recv(p, &got, sizeof(got)) != 8 ||
			                         got != v;
		syscall(SYS_exit_group, bad);
	}
	CHECK_EQ(t_wait(pid), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(close(go[i]), 0);
		CHECK_EQ(close(done[i]), 0);
	}
	CHECK_EQ(shmq_chan_close(p), 0);
}

TEST(chan_fd_closed_with_its_fd_armed_costs_the_peer_nothing)
{
	for (int kind = SHMQ_CHAN_SPSC; kind <= SHMQ_CHAN_BROADCAST; kind++)
		closed_while_armed(kind, SHMQ_READER);
	closed_while_armed(SHMQ_CHAN_SPSC, SHMQ_WRITER);
	closed_while_armed(SHMQ_CHAN_MPMC, SHMQ_WRITER);
}

/* ---- The object shrunk under an armed fd ----------------------------- */

/* The end `role` (this process) arms its fd (nothing to read, or the ring
 * full); its peer, another process, waits. The object is shrunk: the fd
 * wakes within a second (its thread reads the mapping under its own SIGBUS
 * guard: no signal), the next try_ call and every later one say
 * SHMQ_ETRUNCATED, the fd stays readable and the same. The peer's handle,
 * broken before it asked for an fd, gets the error from shmq_chan_fd. */
static void shrunk_under_fd(int kind, int role, int half)
{
	char loc[128], c;
	int go[2], done[2];
	t_posix_loc(loc, sizeof(loc), "shrunk");
	shmq_chan *ch = make(loc, kind, role, -1);
	struct shmq_stat st;
	CHECK_EQ(shmq_stat(loc, &st), 0);
	int peer = role == SHMQ_READER ? SHMQ_WRITER : SHMQ_READER;
	CHECK_EQ(pipe(go), 0);
	CHECK_EQ(pipe(done), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *p = t_chan_attach(loc, peer);
		uint64_t v = 0;
		CHECK_EQ(write(done[1], "j", 1), 1);
		CHECK_EQ(read(go[0], &c, 1), 1); /* after the cut */
		if (half) /* may not fault: the header check finds it */
			CHECK_EQ(shmq_chan_recv(p, &v, sizeof(v)) < 0, 1);
		else if (peer == SHMQ_WRITER)
			CHECK_EQ(shmq_chan_try_send(p, &v, sizeof(v)),
			         SHMQ_ETRUNCATED);
		else
			CHECK_EQ(shmq_chan_try_recv(p, &v, sizeof(v)),
			         SHMQ_ETRUNCATED);
		if (!half)
			CHECK_EQ(shmq_chan_fd(p), SHMQ_ETRUNCATED);
		CHECK_EQ(shmq_chan_close(p), 0);
		_exit(0);
	}
	CHECK_EQ(read(done[0], &c, 1), 1);
	int ep = t_epoll_on(ch), fd = shmq_chan_fd(ch), rc;
	uint64_t v = 0;
	arm(ch, role);
	t_cut(loc, half ? (off_t)st.size / 2 : 0, NULL);
	int64_t t0 = t_now_ns();
	/* A wake may be spurious (the waiter thread's confirmation of a
	 * cheap arm): its try_ call says -EAGAIN and re-arms. */
	do {
		CHECK(woke(ep, ch, 1000));
		rc = role == SHMQ_READER
		             ? (int)shmq_chan_try_recv(ch, &v, sizeof(v))
		             : shmq_chan_try_send(ch, &v, sizeof(v));
	} while (rc == -EAGAIN && t_now_ns() - t0 < 1000000000);
	for (int again = 0; again < 2; again++) {
		if (again)
			rc = role == SHMQ_READER
			     ? (int)shmq_chan_try_recv(ch, &v, sizeof(v))
			     : shmq_chan_try_send(ch, &v, sizeof(v));
		if (rc != SHMQ_ETRUNCATED)
			t_fail(__FILE__, __LINE__, "rc == SHMQ_ETRUNCATED",
			       "kind %d, %s, cut to %s: call %d gave %d", kind,
			       role == SHMQ_READER ? "reader" : "writer",
			       half ? "half" : "0", again + 1, rc);
	}
	CHECK(t_now_ns() - t0 < 1000000000);
	CHECK(t_readable(fd, 0));
	CHECK_EQ(shmq_chan_fd(ch), fd);
	CHECK_EQ(write(go[1], "g", 1), 1);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(close(ep), 0);
	CHECK_EQ(shmq_chan_close(ch), 0);
	int un = shmq_unlink(loc); /* shrunk: maybe no channel any more */
	CHECK(un == 0 || un == -ENOENT);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(close(go[i]), 0);
		CHECK_EQ(close(done[i]), 0);
	}
}

TEST(chan_fd_armed_when_the_object_shrinks_wakes_with_etruncated)
{
	for (int half = 0; half < 2; half++) {
		for (int kind = SHMQ_CHAN_SPSC; kind <= SHMQ_CHAN_BROADCAST;
		     kind++)
			shrunk_under_fd(kind, SHMQ_READER, half);
		shrunk_under_fd(SHMQ_CHAN_SPSC, SHMQ_WRITER, half);
		shrunk_under_fd(SHMQ_CHAN_MPMC, SHMQ_WRITER, half);
	}
}

/* Closing a handle whose fd is armed right after the shrink (its thread
 * may be in the middle of a look at the mapping) neither crashes nor
 * hangs. */
TEST(chan_fd_closed_right_after_the_object_shrinks_neither_crashes_nor_hangs)
{
	for (int r = 0; r < rounds(); r++) {
		char loc[128];
		uint64_t v;
		t_posix_loc(loc, sizeof(loc), "shrunkc");
		shmq_chan *ch = make(loc, r % 3 + 1, SHMQ_READER, r % 2 ? 0 : -1);
		CHECK(shmq_chan_fd(ch) >= 0);
		CHECK_EQ(shmq_chan_try_recv(ch, &v, sizeof(v)), -EAGAIN);
		t_cut(loc, r % 2 ? 0 : 4096, NULL);
		int64_t t0 = t_now_ns();
		CHECK_EQ(shmq_chan_close(ch), 0);
		CHECK(t_now_ns() - t0 < 1000000000);
		int un = shmq_unlink(loc);
		CHECK(un == 0 || un == -ENOENT);
	}
}

/* ---- Waitsets -------------------------------------------------------- */

TEST(waitset_refuses_bad_arguments_double_adds_and_unknown_members)
{
	char loc[128];
	int p[2], tag;
	shmq_waitset *ws;
	t_posix_loc(loc, sizeof(loc), "wsbad");
	shmq_chan *a = make(loc, SHMQ_CHAN_MPMC, SHMQ_READER, 0);
	shmq_chan *b = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(shmq_chan_fd(NULL), -EINVAL);
	CHECK_EQ(shmq_waitset_create(NULL), -EINVAL);
	CHECK_EQ(shmq_waitset_close(NULL), 0);
	CHECK_EQ(shmq_waitset_create(&ws), 0);
	CHECK_EQ(shmq_waitset_add_chan(ws, NULL, NULL), -EINVAL);
	CHECK_EQ(shmq_waitset_add_fd(ws, -1, EPOLLIN, NULL), -EINVAL);
	CHECK_EQ(shmq_waitset_add_fd(ws, p[0], 0, NULL), -EINVAL);
	CHECK_EQ(shmq_waitset_add_chan(ws, a, &tag), 0);
	CHECK_EQ(shmq_waitset_add_chan(ws, a, &tag), -EEXIST);
	CHECK_EQ(shmq_waitset_add_fd(ws, p[0], EPOLLIN, &tag), 0);
	CHECK_EQ(shmq_waitset_add_fd(ws, p[0], EPOLLIN, &tag), -EEXIST);
	/* a's fd given as a plain fd: it is in already */
	CHECK_EQ(shmq_waitset_add_fd(ws, shmq_chan_fd(a), EPOLLIN, &tag),
	         -EEXIST);
	CHECK_EQ(shmq_waitset_remove_chan(ws, b), -ENOENT);
	CHECK_EQ(shmq_waitset_remove_fd(ws, p[1]), -ENOENT);
	CHECK_EQ(shmq_waitset_remove_fd(ws, shmq_chan_fd(a)), -ENOENT);
	CHECK_EQ(shmq_waitset_remove_chan(ws, a), 0);
	CHECK_EQ(shmq_waitset_remove_chan(ws, a), -ENOENT);
	CHECK_EQ(shmq_waitset_remove_fd(ws, p[0]), 0);
	CHECK_EQ(shmq_waitset_remove_fd(ws, p[0]), -ENOENT);
	CHECK_EQ(shmq_waitset_add_chan(ws, a, &tag), 0); /* back in */
	struct shmq_ready r[4];
	CHECK_EQ(shmq_waitset_wait(ws, r, 0, NULL), -EINVAL);
	CHECK_EQ(shmq_waitset_wait(ws, NULL, 4, NULL), -EINVAL);
	CHECK_EQ(shmq_waitset_close(ws), 0);
	CHECK_EQ(close(p[0]), 0);
	CHECK_EQ(close(p[1]), 0);
	CHECK_EQ(shmq_chan_close(b), 0);
	CHECK_EQ(shmq_chan_close(a), 0);
}

/* A reader end, a writer end and a pipe in one waitset. With nothing
 * ready it waits until its deadline and says -ETIMEDOUT; once a peer
 * process sends on the one channel, reads from the other (room) and
 * writes the pipe, one wait reports all three, each with its own data. */
TEST(waitset_waits_to_its_deadline_then_reports_channels_and_a_pipe)
{
	char la[128], lb[128], c;
	int p[2], go[2], ta, tb, tp;
	t_posix_loc(la, sizeof(la), "wsa");
	t_posix_loc(lb, sizeof(lb), "wsb");
	shmq_chan *a = make(la, SHMQ_CHAN_SPSC, SHMQ_READER, 0);
	shmq_chan *b = make(lb, SHMQ_CHAN_MPMC, SHMQ_WRITER, 0);
	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(pipe(go), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *wa = t_chan_attach(la, SHMQ_WRITER);
		shmq_chan *rb = t_chan_attach(lb, SHMQ_READER);
		uint64_t v = 7;
		CHECK_EQ(write(p[1], "j", 1), 1);
		CHECK_EQ(read(go[0], &c, 1), 1);
		CHECK_EQ(shmq_chan_send(wa, &v, sizeof(v)), 0);
		CHECK_EQ(shmq_chan_recv(rb, &v, sizeof(v)), 8);
		CHECK_EQ(write(p[1], "p", 1), 1);
		CHECK_EQ(read(go[0], &c, 1), 1);
		CHECK_EQ(shmq_chan_close(rb), 0);
		CHECK_EQ(shmq_chan_close(wa), 0);
		_exit(0);
	}
	CHECK_EQ(read(p[0], &c, 1), 1); /* both joined */
	shmq_waitset *ws;
	struct shmq_ready r[8];
	uint64_t v = 0;
	CHECK_EQ(shmq_waitset_create(&ws), 0);
	CHECK_EQ(shmq_waitset_add_chan(ws, a, &ta), 0);
	CHECK_EQ(shmq_waitset_add_chan(ws, b, &tb), 0);
	CHECK_EQ(shmq_waitset_add_fd(ws, p[0], EPOLLIN, &tp), 0);
	/* Nothing ready: a empty, b full, the pipe empty (both armed). */
	CHECK_EQ(shmq_chan_try_recv(a, &v, sizeof(v)), -EAGAIN);
	int rc;
	while ((rc = shmq_chan_try_send(b, &v, sizeof(v))) == 0)
		;
	CHECK_EQ(rc, -EAGAIN);
	struct timespec dl = shmq_deadline(200);
	int64_t t0 = t_now_ns();
	CHECK_EQ(shmq_waitset_wait(ws, r, 8, &dl), -ETIMEDOUT);
	int64_t dl_ns = (int64_t)dl.tv_sec * 1000000000 + dl.tv_nsec;
	CHECK(t_now_ns() >= dl_ns);              /* not before its deadline */
	CHECK(t_now_ns() - t0 < 2000000000LL);   /* and not much after */
	CHECK_EQ(shmq_waitset_wait(ws, r, 8, &dl), -ETIMEDOUT); /* passed */
	CHECK_EQ(write(go[1], "g", 1), 1);
	/* All three ready before the wait that reports them. */
	CHECK(t_readable(shmq_chan_fd(a), 5000));
	CHECK(t_readable(shmq_chan_fd(b), 5000));
	CHECK(t_readable(p[0], 5000));
	dl = shmq_deadline(5000);
	CHECK_EQ(shmq_waitset_wait(ws, r, 8, &dl), 3);
	int seen = 0;
	for (int i = 0; i < 3; i++) {
		CHECK(r[i].events & EPOLLIN);
		if (r[i].ch == a) {
			CHECK(r[i].data == &ta && r[i].fd == shmq_chan_fd(a));
			seen |= 1;
		} else if (r[i].ch == b) {
			CHECK(r[i].data == &tb && r[i].fd == shmq_chan_fd(b));
			seen |= 2;
		} else {
			CHECK(r[i].ch == NULL);
			CHECK(r[i].data == &tp && r[i].fd == p[0]);
			seen |= 4;
		}
	}
	CHECK_EQ(seen, 7);
	/* What each said is there. */
	CHECK_EQ(shmq_chan_try_recv(a, &v, sizeof(v)), 8);
	CHECK_EQ(v, 7);
	CHECK_EQ(shmq_chan_try_send(b, &v, sizeof(v)), 0);
	CHECK_EQ(read(p[0], &c, 1), 1);
	CHECK_EQ(c, 'p');
	CHECK_EQ(write(go[1], "e", 1), 1);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_waitset_close(ws), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(close(p[i]), 0);
		CHECK_EQ(close(go[i]), 0);
	}
	CHECK_EQ(shmq_chan_close(b), 0);
	CHECK_EQ(shmq_chan_close(a), 0);
}

/* A reader SIGKILLed while it waits (asleep in a blocking recv, or with
 * its fd armed) leaves its announce in data_ev.waiters; the settling of
 * its death gives it back, so the writer's sends are system-call free
 * again instead of paying a futex wake per message for nobody. */
static void killed_waiter_gives_back(int by_fd)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "asleep");
	shmq_chan *w = make(loc, SHMQ_CHAN_SPSC, SHMQ_WRITER, 0);
	shmq_atomic32 *waiters = &w->hdr->data_ev.waiters;
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct shmq_chan_opts o = {.spin_ns = 0};
		shmq_chan *r = NULL;
		uint64_t v;
		CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, &o), 0);
		if (by_fd) {
			CHECK(shmq_chan_fd(r) >= 0);
			CHECK_EQ(shmq_chan_try_recv(r, &v, sizeof(v)), -EAGAIN);
			pause();
		}
		shmq_chan_recv(r, &v, sizeof(v)); /* asleep until killed */
		_exit(1);
	}
	/* relaxed: a count the child's announce moves to 1 */
	int64_t t0 = t_now_ns();
	while (shmq_load(waiters, SHMQ_RELAXED) != 1)
		CHECK(t_now_ns() - t0 < 5000000000);
	CHECK_EQ(kill(pid, SIGKILL), 0);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	CHECK_EQ(shmq_load(waiters, SHMQ_RELAXED), 1); /* left behind */
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(w, &in), 0); /* settles the dead reader */
	CHECK_EQ(in.dead_readers, 1);
	CHECK_EQ(shmq_load(waiters, SHMQ_RELAXED), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		t_forbid_syscalls();
		for (uint64_t v = 0; v < 4; v++)
			bad |= shmq_chan_try_send(w, &v, sizeof(v)) != 0;
		syscall(SYS_exit_group, bad);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
}

TEST(killed_sleeping_reader_gives_its_announce_back_when_settled)
{
	killed_waiter_gives_back(0);
}

TEST(killed_armed_fd_reader_gives_its_announce_back_when_settled)
{
	killed_waiter_gives_back(1);
}
