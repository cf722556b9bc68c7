/*
 * Two channels and a timer in one epoll loop: how a program that already
 * runs an event loop (sockets, timers...) takes shmq messages too. Two
 * producer processes each send the numbers 1..n on a channel of their own
 * (n = ITEMS on NAME-1, 2 * ITEMS on NAME-2). The parent's loop waits on
 * both channels' fds (shmq_chan_fd) and a timerfd: a ready channel is
 * drained until try_recv says -EAGAIN (which re-arms its fd: it polls
 * readable again once a message is there); a channel whose stream ended
 * leaves the loop (its fd stays readable: level-triggered); each tick of
 * the timer reaps the producers that exited. The loop stops when both
 * streams ended and both producers are reaped, and prints what each
 * channel brought.
 *
 *   build/examples/epoll_loop NAME [ITEMS]
 *
 * Default: 100000 items.
 */
#include <shmq.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

struct source {
	char loc[96];
	shmq_chan *ch;
	pid_t pid;       /* its producer; 0 once reaped */
	int status;      /* the producer's wait status */
	uint64_t n, sum; /* messages taken, and their sum */
	int end;         /* 0 while the stream runs, then why it ended */
};

static int fail(int err, const char *what)
{
	char msg[512];
	fprintf(stderr, "epoll_loop: %s\n",
	        shmq_explain(err, what, 0, msg, sizeof(msg)));
	return 1;
}

/* A producer: joins the channel by name, sends 1..n, closes (the reader
 * then gets -EPIPE once it has taken everything). */
static void produce(const char *loc, uint64_t n)
{
	shmq_chan *ch;
	int rc = shmq_chan_open(&ch, loc, SHMQ_WRITER, NULL);
	if (rc < 0)
		_exit(fail(rc, loc));
	for (uint64_t v = 1; rc == 0 && v <= n; v++)
		rc = shmq_chan_send(ch, &v, sizeof(v));
	int rc2 = shmq_chan_close(ch);
	_exit(rc < 0 || rc2 < 0 ? fail(rc < 0 ? rc : rc2, loc) : 0);
}

/* Takes every message there is; at the end of the stream (or an error),
 * takes the channel out of the loop. */
static void drain(int ep, struct source *s)
{
	uint64_t v;
	ssize_t len;
	while ((len = shmq_chan_try_recv(s->ch, &v, sizeof(v))) == sizeof(v)) {
		s->n++;
		s->sum += v;
	}
	if (len == -EAGAIN)
		return; /* the fd is armed: back to epoll_wait */
	s->end = len < 0 ? (int)len : -EBADMSG; /* -EPIPE: the end */
	epoll_ctl(ep, EPOLL_CTL_DEL, shmq_chan_fd(s->ch), NULL);
}

/* The timer's job: reap the producers that exited. */
static void reap(struct source *src, int count)
{
	for (int i = 0; i < count; i++)
		if (src[i].pid && waitpid(src[i].pid, &src[i].status,
		                          WNOHANG) == src[i].pid)
			src[i].pid = 0;
}

/* Whether a producer is gone without ever joining its channel: nothing
 * would end that stream. One that joined and died is the channel's to
 * report (SHMQ_EPEERDEAD, within its 50 ms tick). */
static int never_joined(struct source *s)
{
	struct shmq_chan_info in;
	return !s->pid && !s->end && shmq_chan_info(s->ch, &in) == 0 &&
	       in.writers_ever == 0;
}

/* Whether the loop is done: both streams ended and both producers are
 * reaped, or one will never end. */
static int done(struct source *src, int count)
{
	int all = 1;
	for (int i = 0; i < count; i++) {
		if (never_joined(&src[i]))
			return 1;
		all &= !src[i].pid && src[i].end;
	}
	return all;
}

/* Adds fd to the loop with data (a source, or NULL for the timer). */
static int watch(int ep, int fd, void *data)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = data};
	return fd < 0 ? fd : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int run_loop(struct source *src, int count)
{
	struct itimerspec every_10ms = {{0, 10000000}, {0, 10000000}};
	int ep = epoll_create1(EPOLL_CLOEXEC), rc = 0;
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every_10ms, NULL) < 0)
		rc = -errno;
	if (rc == 0)
		rc = watch(ep, tfd, NULL);
	for (int i = 0; rc == 0 && i < count; i++)
		rc = watch(ep, shmq_chan_fd(src[i].ch), &src[i]);
	while (rc == 0 && !done(src, count)) {
		struct epoll_event got[8];
		int n = epoll_wait(ep, got, 8, -1);
		if (n < 0 && errno != EINTR)
			rc = -errno;
		for (int i = 0; i < n; i++) {
			uint64_t ticks;
			if (got[i].data.ptr)
				drain(ep, got[i].data.ptr);
			else if (read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks))
				reap(src, count);
		}
	}
	if (tfd >= 0)
		close(tfd);
	if (ep >= 0)
		close(ep);
	return rc;
}

/* What the loop got from s, in one line; whether it is all well. */
static int report(const struct source *s, int i)
{
	char msg[512];
	const char *how = "its producer exited before it joined";
	if (s->end == -EPIPE)
		how = "then the end of the stream (-EPIPE)";
	else if (s->end)
		how = shmq_explain(s->end, s->loc, 0, msg, sizeof(msg));
	printf("channel %d: %llu messages, sum %llu, %s\n", i + 1,
	       (unsigned long long)s->n, (unsigned long long)s->sum, how);
	return s->end == -EPIPE && WIFEXITED(s->status) &&
	       WEXITSTATUS(s->status) == 0;
}

int main(int argc, char **argv)
{
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SPSC, .capacity = 4096,
	                           .spin_ns = -1};
	struct source src[2] = {{.end = 0}};
	char *end = "";
	unsigned long items = argc > 2 ? strtoul(argv[2], &end, 10) : 100000;
	int rc = 0, ok = 1;
	if (argc < 2 || argc > 3 || *end || !items || items > 100000000) {
		fprintf(stderr, "usage: epoll_loop NAME [ITEMS]\n");
		return 2;
	}
	/* The reader ends exist before the producers: nothing is missed. */
	for (int i = 0; rc == 0 && i < 2; i++) {
		snprintf(src[i].loc, sizeof(src[i].loc), "%s-%d", argv[1], i + 1);
		if ((rc = shmq_chan_create(&src[i].ch, src[i].loc, SHMQ_READER,
		                           &o)) < 0)
			fail(rc, src[i].loc);
	}
	fflush(stdout);
	for (int i = 0; rc == 0 && i < 2; i++)
		if ((src[i].pid = fork()) == 0)
			produce(src[i].loc, items * (uint64_t)(i + 1));
		else if (src[i].pid < 0)
			fail(rc = -errno, "fork");
	/* The fds after the fork: a child would not have their threads. */
	if (rc == 0 && (rc = run_loop(src, 2)) < 0)
		fail(rc, "the loop");
	for (int i = 0; i < 2; i++) {
		if (src[i].pid > 0) { /* the loop failed: stop the producer */
			kill(src[i].pid, SIGKILL);
			waitpid(src[i].pid, NULL, 0);
		}
		if (rc == 0)
			ok &= report(&src[i], i);
		if (src[i].ch)
			shmq_chan_close(src[i].ch);
	}
	if (rc == 0)
		printf("timer: fired; both producers exited %s\n",
		       ok ? "with 0" : "but not both well");
	return rc == 0 && ok ? 0 : 1;
}
