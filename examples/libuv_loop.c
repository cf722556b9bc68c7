/*
 * A channel in a libuv loop: a uv_poll_t on the channel's fd
 * (shmq_chan_fd). A producer process sends the numbers 1..ITEMS; the
 * parent's loop is called back when the fd is readable, takes every
 * message until try_recv says -EAGAIN (which re-arms the fd), and at the
 * end of the stream stops polling and closes the handle: the loop then has
 * nothing left and uv_run returns. Built when libuv is installed (Debian:
 * libuv1-dev).
 *
 *   build/examples/libuv_loop NAME [ITEMS]
 *
 * Default: 100000 items.
 */
#include <shmq.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

struct source {
	const char *loc;
	shmq_chan *ch;
	uv_poll_t poll;
	uint64_t n, sum; /* messages taken, and their sum */
	int end;         /* 0 while the stream runs, then why it ended */
};

static int fail(int err, const char *what)
{
	char msg[512];
	fprintf(stderr, "libuv_loop: %s\n",
	        shmq_explain(err, what, 0, msg, sizeof(msg)));
	return 1;
}

/* The producer: joins by name, says so on `joined`, sends 1..n, closes. */
static void produce(const char *loc, uint64_t n, int joined)
{
	shmq_chan *ch;
	int rc = shmq_chan_open(&ch, loc, SHMQ_WRITER, NULL);
	if (rc < 0)
		_exit(fail(rc, loc)); /* `joined` closes with no byte */
	if (write(joined, "j", 1) != 1)
		_exit(fail(-errno, "pipe"));
	for (uint64_t v = 1; rc == 0 && v <= n; v++)
		rc = shmq_chan_send(ch, &v, sizeof(v));
	int rc2 = shmq_chan_close(ch);
	_exit(rc < 0 || rc2 < 0 ? fail(rc < 0 ? rc : rc2, loc) : 0);
}

/* libuv calls this while the fd is readable (level-triggered). */
static void on_readable(uv_poll_t *poll, int status, int events)
{
	struct source *s = poll->data;
	uint64_t v;
	ssize_t len;
	(void)events;
	if (status < 0) {
		fprintf(stderr, "libuv_loop: poll: %s\n", uv_strerror(status));
		s->end = -EIO;
		uv_close((uv_handle_t *)poll, NULL);
		return;
	}
	while ((len = shmq_chan_try_recv(s->ch, &v, sizeof(v))) == sizeof(v)) {
		s->n++;
		s->sum += v;
	}
	if (len == -EAGAIN)
		return; /* armed: called again once a message is there */
	s->end = len < 0 ? (int)len : -EBADMSG; /* -EPIPE: the end */
	uv_close((uv_handle_t *)poll, NULL); /* stops it; the loop ends */
}

/* The loop, until the stream ends: 0, or -1 with the error printed. */
static int run_loop(struct source *s)
{
	uv_loop_t loop;
	int fd = shmq_chan_fd(s->ch), rc;
	if (fd < 0)
		return -fail(fd, s->loc);
	if ((rc = uv_loop_init(&loop)) == 0) {
		s->poll.data = s;
		if ((rc = uv_poll_init(&loop, &s->poll, fd)) == 0 &&
		    (rc = uv_poll_start(&s->poll, UV_READABLE, on_readable)) < 0)
			uv_close((uv_handle_t *)&s->poll, NULL);
		int run = uv_run(&loop, UV_RUN_DEFAULT); /* until closed */
		int closed = uv_loop_close(&loop);
		rc = rc < 0 ? rc : run < 0 ? run : closed;
	}
	if (rc < 0)
		fprintf(stderr, "libuv_loop: the loop: %s\n", uv_strerror(rc));
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SPSC, .capacity = 4096,
	                           .spin_ns = -1};
	struct source s = {.loc = argc > 1 ? argv[1] : ""};
	char *end = "", c;
	unsigned long items = argc > 2 ? strtoul(argv[2], &end, 10) : 100000;
	int joined[2], status, rc;
	if (argc < 2 || argc > 3 || *end || !items || items > 100000000) {
		fprintf(stderr, "usage: libuv_loop NAME [ITEMS]\n");
		return 2;
	}
	if ((rc = shmq_chan_create(&s.ch, s.loc, SHMQ_READER, &o)) < 0)
		return fail(rc, s.loc);
	if (pipe(joined) < 0) {
		shmq_chan_close(s.ch);
		return fail(-errno, "pipe");
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		produce(s.loc, items, joined[1]);
	close(joined[1]);
	/* Until the producer has joined, the stream cannot end: a producer
	 * that never joins would leave the loop waiting. */
	if (pid < 0 || read(joined[0], &c, 1) != 1) {
		rc = pid < 0 ? fail(-errno, "fork") : 1;
	} else if ((rc = run_loop(&s)) == 0) {
		char msg[512];
		printf("%llu messages, sum %llu, %s\n", (unsigned long long)s.n,
		       (unsigned long long)s.sum, s.end == -EPIPE
		       ? "then the end of the stream (-EPIPE)"
		       : shmq_explain(s.end, s.loc, 0, msg, sizeof(msg)));
	}
	close(joined[0]);
	if (pid > 0 && rc < 0)
		kill(pid, SIGKILL); /* the loop failed: stop the producer */
	if (pid > 0 && waitpid(pid, &status, 0) == pid && rc == 0)
		rc = s.end != -EPIPE || !WIFEXITED(status) || WEXITSTATUS(status);
	shmq_chan_close(s.ch);
	return rc != 0;
}
