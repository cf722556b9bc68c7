/*
 * No SIGBUS: a peer that shrinks a channel's object (ftruncate) gives its
 * honest peers SHMQ_ETRUNCATED, never a signal; the application's own
 * SIGBUS handling is untouched; memfd channels refuse the shrink; shmq dump
 * survives it.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What the peers report, in memory shared with the parent. */
struct report {
	int64_t cut_ns;    /* when the object was shrunk */
	int64_t err_ns[2]; /* when each peer's call returned the error */
	long rc[2];        /* that error */
	long later[2];     /* what the next call on the broken handle gave */
	int64_t later_ns[2];
};

static struct report *new_report(void)
{
	struct report *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
	                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(r != MAP_FAILED);
	memset(r, 0, sizeof(*r));
	return r;
}

/* Makes a channel that outlives its creator. The creator is a reader: a
 * writer that came and went would end the stream for later readers. */
static void persist(const char *loc, int kind, size_t cap)
{
	struct shmq_chan_opts o = {.kind = kind, .capacity = cap,
	                           .msg_size = 256, .spin_ns = -1,
	                           .flags = SHMQ_CHAN_PERSIST};
	shmq_chan *c;
	CHECK_EQ(shmq_chan_create(&c, loc, SHMQ_READER, &o), 0);
	CHECK_EQ(shmq_chan_close(c), 0);
}

/* A broken handle answers at once, and closes. Exits 0 if the error was
 * SHMQ_ETRUNCATED. */
static void finish(shmq_chan *ch, int i, long rc, struct report *r)
{
	char buf[256] = {0};
	struct shmq_chan_info in;
	r->err_ns[i] = t_now_ns();
	r->rc[i] = rc;
	if (rc != SHMQ_ETRUNCATED)
		fprintf(stderr, "peer %d: %s\n", i, shmq_err_name((int)rc));
	r->later[i] = i == 0 ? shmq_chan_send(ch, buf, 8)
	                     : shmq_chan_recv(ch, buf, sizeof(buf));
	CHECK_EQ(shmq_chan_info(ch, &in), SHMQ_ETRUNCATED);
	r->later_ns[i] = t_now_ns();
	CHECK_EQ(shmq_chan_close(ch), 0);
	_exit(rc == SHMQ_ETRUNCATED ? 0 : 1);
}

/* Peer 0 sends until an error; peer 1 receives until one, telling the
 * parent (ready) once messages flow. */
static pid_t peer(const char *loc, int i, int ready, struct report *r,
                  int64_t spin_ns)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid != 0)
		return pid;
	struct shmq_chan_opts o = {.spin_ns = spin_ns};
	shmq_chan *ch;
	char buf[256];
	long rc;
	CHECK_EQ(shmq_chan_open(&ch, loc, i ? SHMQ_READER : SHMQ_WRITER, &o), 0);
	memset(buf, 'm', sizeof(buf));
	for (uint64_t n = 0;; n++) {
		rc = i == 0 ? shmq_chan_send(ch, buf, 8 + n % 200)
		            : shmq_chan_recv(ch, buf, sizeof(buf));
		if (rc < 0 && rc != SHMQ_ELOST)
			break;
		if (i == 1 && n == 1000)
			CHECK_EQ(write(ready, "g", 1), 1);
	}
	finish(ch, i, rc, r);
	return 0;
}

/* Both peers of a running channel get SHMQ_ETRUNCATED (a normal exit 0,
 * never a signal) within 1 s of the shrink, and every later call on their
 * handle returns it at once. */
static void truncate_while_running(int kind, size_t cap, int half)
{
	char loc[128], c;
	int ready[2];
	struct report *r = new_report();
	t_posix_loc(loc, sizeof(loc), "run");
	persist(loc, kind, cap);
	struct shmq_stat st;
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK_EQ(pipe(ready), 0);
	pid_t rd = peer(loc, 1, ready[1], r, -1);
	pid_t wr = peer(loc, 0, ready[1], r, -1);
	CHECK_EQ(read(ready[0], &c, 1), 1); /* a thousand messages went */
	t_cut(loc, half ? (off_t)st.size / 2 : 0, &r->cut_ns);
	CHECK_EQ(t_wait(wr), 0);
	CHECK_EQ(t_wait(rd), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(r->rc[i], SHMQ_ETRUNCATED);
		CHECK(r->err_ns[i] - r->cut_ns < 1000000000);
		CHECK_EQ(r->later[i], SHMQ_ETRUNCATED);
		CHECK(r->later_ns[i] - r->err_ns[i] < 500000000);
	}
	CHECK_EQ(shmq_unlink(loc), 0); /* shrunk: maybe no channel now */
	close(ready[0]);
	close(ready[1]);
	munmap(r, sizeof(*r));
}

TEST(spsc_peers_get_etruncated_not_sigbus_when_a_third_process_shrinks_it)
{
	truncate_while_running(SHMQ_CHAN_SPSC, 65536, 0);
	truncate_while_running(SHMQ_CHAN_SPSC, 65536, 1);
}

TEST(mpmc_peers_get_etruncated_not_sigbus_when_a_third_process_shrinks_it)
{
	truncate_while_running(SHMQ_CHAN_MPMC, 64, 0);
	truncate_while_running(SHMQ_CHAN_MPMC, 64, 1);
}

TEST(broadcast_peers_get_etruncated_not_sigbus_when_a_third_process_shrinks_it)
{
	truncate_while_running(SHMQ_CHAN_BROADCAST, 64, 0);
	truncate_while_running(SHMQ_CHAN_BROADCAST, 64, 1);
}


/* Waits until pid sleeps in futex; fails if it exits first. */
static void wait_asleep(pid_t pid)
{
	siginfo_t si;
	while (t_blocked_in(pid) != SYS_futex) {
		si.si_pid = 0;
		CHECK_EQ(waitid(P_PID, (id_t)pid, &si,
		                WEXITED | WNOHANG | WNOWAIT), 0);
		CHECK_EQ(si.si_pid, 0); /* it ended instead: its CHECK says why */
		sched_yield();
	}
}

/* A peer asleep in futex (no spin) when the object shrinks: nothing of
 * ours faults while it sleeps, so its poll tick's fstat must see the new
 * size. It returns SHMQ_ETRUNCATED within 1 s. */
static void truncate_while_asleep(int kind, int role, off_t to)
{
	char loc[128];
	struct report *r = new_report();
	t_posix_loc(loc, sizeof(loc), "sleep");
	persist(loc, kind, kind == SHMQ_CHAN_SPSC ? 4096 : 4);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct shmq_chan_opts o = {.spin_ns = 0};
		shmq_chan *ch;
		char buf[256] = {0};
		long rc;
		CHECK_EQ(shmq_chan_open(&ch, loc, role, &o), 0);
		/* A writer fills the ring (no reader), then sleeps for room;
		 * a reader sleeps on the empty ring. */
		do
			rc = role == SHMQ_WRITER ? shmq_chan_send(ch, buf, 200)
			                         : shmq_chan_recv(ch, buf, 256);
		while (rc >= 0);
		finish(ch, role == SHMQ_WRITER ? 0 : 1, rc, r);
	}
	wait_asleep(pid);
	t_cut(loc, to, &r->cut_ns);
	CHECK_EQ(t_wait(pid), 0);
	int i = role == SHMQ_WRITER ? 0 : 1;
	CHECK_EQ(r->rc[i], SHMQ_ETRUNCATED);
	CHECK(r->err_ns[i] - r->cut_ns < 1000000000);
	CHECK_EQ(shmq_unlink(loc), 0); /* shrunk: maybe no channel now */
	munmap(r, sizeof(*r));
}

TEST(a_peer_asleep_in_futex_gets_etruncated_from_its_poll_tick)
{
	for (int kind = SHMQ_CHAN_SPSC; kind <= SHMQ_CHAN_BROADCAST; kind++) {
		truncate_while_asleep(kind, SHMQ_READER, 0);
		truncate_while_asleep(kind, SHMQ_READER, 8192);
	}
	/* Broadcast writers never wait without readers. */
	truncate_while_asleep(SHMQ_CHAN_SPSC, SHMQ_WRITER, 0);
	truncate_while_asleep(SHMQ_CHAN_MPMC, SHMQ_WRITER, 8192);
}

/* ---- The application's own SIGBUS ---------------------------------------- */

static sigjmp_buf app_env;
static void *volatile app_addr;
static volatile int app_calls;

static void app_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	app_addr = si->si_addr;
	app_calls++;
	siglongjmp(app_env, 1);
}

/* A POSIX segment of the application's own, shrunk to 0 under its
 * mapping: touching it faults. */
static char *app_mapping(const char *tag, shmq_seg **seg)
{
	char loc[128];
	struct shmq_seg_opts so = {.size = 8192};
	t_posix_loc(loc, sizeof(loc), tag);
	CHECK_EQ(shmq_seg_create(seg, loc, &so), 0);
	CHECK_EQ(ftruncate(shmq_seg_fd(*seg), 0), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	return shmq_seg_addr(*seg);
}

/* Whether touching p raised SIGBUS into app_bus, at p. */
static int app_sees_fault(volatile char *p)
{
	int before = app_calls;
	if (sigsetjmp(app_env, 1) == 0)
		(void)*p;
	return app_calls == before + 1 && app_addr == (void *)p;
}

TEST(the_applications_sigbus_handler_still_gets_its_own_faults)
{
	char loc[128], buf[64] = {0};
	struct sigaction sa, now;
	shmq_seg *seg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = app_bus;
	sa.sa_flags = SA_SIGINFO;
	CHECK_EQ(sigaction(SIGBUS, &sa, NULL), 0);
	t_posix_loc(loc, sizeof(loc), "app");
	shmq_chan *r = NULL, *w = NULL;
	struct shmq_chan_opts o = {.spin_ns = -1};
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	CHECK_EQ(shmq_chan_open(&w, loc, SHMQ_WRITER, NULL), 0);
	CHECK_EQ(sigaction(SIGBUS, NULL, &now), 0);
	CHECK(now.sa_sigaction != app_bus); /* ours is in front now */
	char *mine = app_mapping("appseg", &seg);
	/* Outside our calls. */
	CHECK(app_sees_fault(mine + 100));
	/* Inside our call, but on the application's memory (the message it
	 * sends): the application's fault, not ours. Its handler jumps out
	 * of our call. */
	int before = app_calls;
	if (sigsetjmp(app_env, 1) == 0)
		shmq_chan_send(w, mine, 64);
	CHECK_EQ(app_calls, before + 1);
	CHECK((char *)app_addr >= mine && (char *)app_addr < mine + 8192);
	/* Our guard was not left armed by the jump: the next fault outside
	 * our calls is the application's again. */
	CHECK(app_sees_fault(mine + 4096));
	/* And ours still works: a shrunk channel is an error, not a fault
	 * the application's handler sees. */
	CHECK_EQ(shmq_chan_send(w, buf, 8), 0);
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 8);
	char path[256];
	t_shm_path(path, sizeof(path), loc);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 0), 0);
	before = app_calls;
	CHECK_EQ(shmq_chan_send(w, buf, 8), SHMQ_ETRUNCATED);
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), SHMQ_ETRUNCATED);
	CHECK_EQ(app_calls, before);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	close(fd);
	CHECK_EQ(shmq_unlink(loc), 0); /* shrunk: maybe no channel now */
	CHECK_EQ(shmq_seg_close(seg), 0);
}

TEST(without_a_handler_of_its_own_the_application_still_dies_of_its_sigbus)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "dfl");
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct sigaction dfl;
		shmq_seg *seg;
		shmq_chan *r;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		CHECK_EQ(sigaction(SIGBUS, &dfl, NULL), 0);
		CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, NULL), 0);
		CHECK_EQ(shmq_chan_unlink(loc), 0);
		volatile char *mine = app_mapping("dflseg", &seg);
		(void)*mine;
		_exit(0); /* not reached: the fault kills */
	}
	CHECK_EQ(t_wait(pid), 128 + SIGBUS);
}

/* ---- memfd channels ---------------------------------------------------------- */

/* The fd number of our memfd named name, or -1. */
static int memfd_number(const char *name)
{
	char want[64];
	snprintf(want, sizeof(want), "/memfd:%s", name);
	for (int i = 3; i < 256; i++) {
		char link[64], t[128];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", i);
		ssize_t n = readlink(link, t, sizeof(t) - 1);
		if (n > 0) {
			t[n] = '\0';
			if (!strncmp(t, want, strlen(want)))
				return i;
		}
	}
	return -1;
}

TEST(memfd_channels_refuse_a_shrink_and_install_no_handler)
{
	struct sigaction before, after;
	shmq_chan *r;
	char loc[128];
	CHECK_EQ(sigaction(SIGBUS, NULL, &before), 0);
	CHECK_EQ(shmq_chan_create(&r, "memfd:sigbus-seal", SHMQ_READER, NULL), 0);
	/* Sealed: no handler needed, none installed. */
	CHECK_EQ(sigaction(SIGBUS, NULL, &after), 0);
	CHECK(after.sa_sigaction == before.sa_sigaction);
	int fd = memfd_number("sigbus-seal");
	CHECK(fd >= 0);
	/* A peer holding the fd (here a forked child) cannot shrink it. */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char link[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		int mine = open(link, O_RDWR | O_CLOEXEC);
		CHECK(mine >= 0);
		CHECK_EQ(ftruncate(mine, 0), -1);
		CHECK_EQ(errno, EPERM);
		CHECK_EQ(ftruncate(mine, 4096), -1);
		CHECK_EQ(errno, EPERM);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	char buf[8];
	CHECK_EQ(shmq_chan_try_recv(r, buf, sizeof(buf)), -EAGAIN);
	CHECK_EQ(shmq_chan_close(r), 0);
	/* A POSIX channel does install it. */
	t_posix_loc(loc, sizeof(loc), "inst");
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, NULL), 0);
	CHECK_EQ(sigaction(SIGBUS, NULL, &after), 0);
	CHECK(after.sa_sigaction != before.sa_sigaction);
	CHECK(after.sa_flags & SA_SIGINFO);
	CHECK_EQ(shmq_chan_close(r), 0);
}

/* ---- The tool ------------------------------------------------------------------ */

/* Starts the tool with stdout and stderr on pipes. */
static pid_t tool(int *out, int *err, char *const argv[])
{
	int o[2], e[2];
	CHECK_EQ(pipe(o), 0);
	CHECK_EQ(pipe(e), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(e[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	*out = o[0];
	*err = e[0];
	return pid;
}

/* Everything left on fd (up to len - 1 bytes kept), then closes it. */
static void slurp(int fd, char *buf, size_t len)
{
	size_t at = 0;
	char junk[4096];
	ssize_t n;
	for (;;) {
		n = at + 1 < len ? read(fd, buf + at, len - 1 - at)
		                 : read(fd, junk, sizeof(junk));
		if (n <= 0)
			break;
		if (at + 1 < len)
			at += (size_t)n;
	}
	buf[at] = '\0';
	close(fd);
}

TEST(dump_of_an_object_shrunk_while_it_reads_fails_cleanly)
{
	char loc[128], line[128], err[4096], rest[256];
	shmq_seg *seg;
	struct shmq_seg_opts so = {.size = 1 << 20};
	t_posix_loc(loc, sizeof(loc), "dump");
	CHECK_EQ(shmq_seg_create(&seg, loc, &so), 0);
	/* No two lines alike: nothing collapses into '*'. */
	uint32_t *w = shmq_seg_addr(seg);
	for (size_t i = 0; i < (1u << 20) / 4; i++)
		w[i] = (uint32_t)i;
	int out, errfd;
	char *argv[] = {(char *)t_shmq_bin(), "dump", loc, NULL};
	pid_t pid = tool(&out, &errfd, argv);
	/* Its first line is out: it read its first block, and stalls on
	 * the full pipe long before the end. */
	FILE *f = fdopen(out, "r");
	CHECK(f && fgets(line, sizeof(line), f));
	CHECK_HAS(line, "00000000 ");
	CHECK_EQ(ftruncate(shmq_seg_fd(seg), 0), 0);
	while (fread(rest, 1, sizeof(rest), f) > 0)
		;
	fclose(f);
	slurp(errfd, err, sizeof(err));
	int st = t_wait(pid);
	CHECK(st > 0 && st < 128); /* an error exit, not a signal */
	CHECK_HAS(err, loc);
	CHECK_HAS(err, "shrank");
	CHECK_EQ(shmq_seg_close(seg), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(recv_in_the_tool_reports_a_shrunk_channel_in_one_line)
{
	char loc[128], err[4096], out_text[256];
	t_posix_loc(loc, sizeof(loc), "toolrx");
	persist(loc, SHMQ_CHAN_SPSC, 4096);
	int out, errfd;
	char *argv[] = {(char *)t_shmq_bin(), "recv", loc, NULL};
	pid_t pid = tool(&out, &errfd, argv);
	wait_asleep(pid);
	char path[256];
	t_shm_path(path, sizeof(path), loc);
	CHECK_EQ(truncate(path, 0), 0);
	slurp(out, out_text, sizeof(out_text));
	slurp(errfd, err, sizeof(err));
	int st = t_wait(pid);
	CHECK(st > 0 && st < 128);
	CHECK_HAS(err, loc);
	CHECK_HAS(err, "truncated by another process");
	/* Empty now, it is no channel: shmq_unlink removes it, as the line
	 * says. */
	CHECK_EQ(shmq_chan_unlink(loc), SHMQ_ENOTCHAN);
	CHECK_EQ(shmq_unlink(loc), 0);
}
