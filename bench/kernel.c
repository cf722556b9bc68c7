/*
 * The kernel's IPC, each as a user would set it up with its defaults:
 * pipe, AF_UNIX stream and datagram sockets, TCP over loopback (with
 * TCP_NODELAY: Nagle would batch small messages), System V and POSIX
 * message queues, eventfd (a counter: round trips of 8 bytes only).
 *
 * The parent makes the objects before the fork; l->fd[d] holds, per
 * direction, the end that receives [0] and the end that sends [1] (a socket
 * pair serves both directions; System V queues keep their msqid there).
 * Names are removed at once (POSIX queues) or at teardown (System V).
 */
#include "bench.h"

#include "shmq.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int dirs(const struct bench_link *l)
{
	return l->metric == BENCH_RTT ? 2 : 1;
}

/* What setup reports: -errno, with what failed in l->why. */
static int setup_fail(struct bench_link *l, const char *what)
{
	int err = errno;
	snprintf(l->why, sizeof(l->why), "%s: %s", what, strerror(err));
	return -err;
}

/* Direction 0 from a[0] to a[1], direction 1 back. */
static void as_pair(struct bench_link *l, const int a[2])
{
	l->fd[0][1] = l->fd[1][0] = a[0];
	l->fd[0][0] = l->fd[1][1] = a[1];
}

static void close_fds(struct bench_link *l)
{
	int *f = &l->fd[0][0];
	for (int i = 0; i < 4; i++) {
		if (f[i] < 0)
			continue;
		for (int j = i + 1; j < 4; j++)
			if (f[j] == f[i])
				f[j] = -1; /* one socket, two roles */
		close(f[i]);
		f[i] = -1;
	}
}

static int fd_open(struct bench_end *e)
{
	e->out = e->tx >= 0 ? e->l->fd[e->tx][1] : -1;
	e->in = e->rx >= 0 ? e->l->fd[e->rx][0] : -1;
	return 0;
}

/* What a receive call gave: the length, or -errno; the bytes in e->buf. */
static ssize_t got(struct bench_end *e, const void **msg, ssize_t n)
{
	*msg = e->buf;
	return n < 0 ? -errno : n;
}

static int fd_close(struct bench_end *e)
{
	(void)e;
	return 0; /* the process exits; teardown closes the parent's */
}

/* ---- Streams: pipe, unix-stream, tcp ------------------------------------- */

static int stream_send(struct bench_end *e, const void *msg)
{
	const char *p = msg;
	size_t left = e->size;
	while (left) {
		ssize_t n = write(e->out, p, left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0) {
			p += n;
			left -= (size_t)n;
		}
	}
	return 0;
}

static ssize_t stream_recv(struct bench_end *e, const void **msg)
{
	size_t got = 0;
	while (got < e->size) {
		ssize_t n = read(e->in, e->buf + got, e->size - got);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0)
			return got ? -EPROTO : 0; /* ended mid-message */
		if (n > 0)
			got += (size_t)n;
	}
	*msg = e->buf;
	return (ssize_t)got;
}

static int pipe_setup(struct bench_link *l)
{
	for (int d = 0; d < dirs(l); d++)
		if (pipe(l->fd[d]) < 0)
			return setup_fail(l, "pipe");
	return 0;
}

static int unix_stream_setup(struct bench_link *l)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return setup_fail(l, "socketpair");
	as_pair(l, sv);
	return 0;
}

static int nodelay(int fd)
{
	int one = 1;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A connected pair over 127.0.0.1, made before the fork. */
static int tcp_setup(struct bench_link *l)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), sv[2];
	if (ls < 0)
		return setup_fail(l, "tcp socket");
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
		int rc = setup_fail(l, "tcp listen on 127.0.0.1");
		close(ls);
		return rc;
	}
	sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sv[1] = -1;
	if (sv[0] >= 0 && connect(sv[0], (struct sockaddr *)&a, sizeof(a)) == 0)
		sv[1] = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	int rc = sv[1] < 0 ? setup_fail(l, "tcp connect to 127.0.0.1") : 0;
	close(ls);
	as_pair(l, sv); /* teardown closes them, even half made */
	if (rc == 0 && (nodelay(sv[0]) < 0 || nodelay(sv[1]) < 0))
		rc = setup_fail(l, "TCP_NODELAY");
	return rc;
}

/* ---- Datagrams: unix-dgram, eventfd --------------------------------------- */

/* A datagram must fit the sender's buffer: grow it for big messages, as a
 * user must, up to what net.core.wmem_max allows. */
static int dgram_fit(struct bench_link *l, int fd)
{
	int have = 0, want = (int)l->size + 65536;
	socklen_t sl = sizeof(have);
	getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &sl);
	if ((size_t)have >= l->size + 4096)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &sl);
	if ((size_t)have >= l->size + 4096)
		return 0;
	snprintf(l->why, sizeof(l->why), "a %zu-byte datagram does not fit "
	         "the socket buffer (%d bytes: net.core.wmem_max)", l->size,
	         have);
	return BENCH_SKIP;
}

static int unix_dgram_setup(struct bench_link *l)
{
	int sv[2], rc;
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
		return setup_fail(l, "socketpair");
	as_pair(l, sv);
	if ((rc = dgram_fit(l, sv[0])) != 0 || (rc = dgram_fit(l, sv[1])) != 0)
		return rc;
	return 0;
}

static int dgram_send(struct bench_end *e, const void *msg)
{
	ssize_t n;
	while ((n = send(e->out, msg, e->size, 0)) < 0 && errno == EINTR)
		;
	return n < 0 ? -errno : (size_t)n == e->size ? 0 : -EMSGSIZE;
}

static ssize_t dgram_recv(struct bench_end *e, const void **msg)
{
	ssize_t n;
	/* MSG_TRUNC: the real length, so a longer datagram shows */
	while ((n = recv(e->in, e->buf, e->size, MSG_TRUNC)) < 0 &&
	       errno == EINTR)
		;
	return got(e, msg, n);
}

static int eventfd_setup(struct bench_link *l)
{
	for (int d = 0; d < dirs(l); d++) {
		int fd = eventfd(0, EFD_CLOEXEC);
		if (fd < 0)
			return setup_fail(l, "eventfd");
		l->fd[d][0] = l->fd[d][1] = fd;
	}
	return 0;
}

/* The 8-byte message is the counter's value (never 0: it has a sequence
 * number); with one write pending, read returns it unchanged. */
static int eventfd_send(struct bench_end *e, const void *msg)
{
	ssize_t n;
	while ((n = write(e->out, msg, 8)) < 0 && errno == EINTR)
		;
	return n < 0 ? -errno : 0;
}

static ssize_t eventfd_recv(struct bench_end *e, const void **msg)
{
	ssize_t n;
	while ((n = read(e->in, e->buf, 8)) < 0 && errno == EINTR)
		;
	return got(e, msg, n);
}

/* ---- Message queues: System V, POSIX -------------------------------------- */

static int sysv_setup(struct bench_link *l)
{
	struct shmq_limits lim;
	if (shmq_limits_get(&lim) == 0 && (l->size > lim.msgmax ||
	                                   l->size > lim.msgmnb)) {
		snprintf(l->why, sizeof(l->why), "a %zu-byte message is above "
		         "kernel.%s (%llu bytes)", l->size,
		         l->size > lim.msgmax ? "msgmax" : "msgmnb",
		         (unsigned long long)(l->size > lim.msgmax ? lim.msgmax
		                                                   : lim.msgmnb));
		return BENCH_SKIP;
	}
	for (int d = 0; d < dirs(l); d++) {
		int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
		if (id < 0)
			return setup_fail(l, "msgget");
		l->fd[d][0] = l->fd[d][1] = id;
	}
	return 0;
}

static void sysv_teardown(struct bench_link *l)
{
	for (int d = 0; d < 2; d++)
		if (l->fd[d][0] >= 0)
			msgctl(l->fd[d][0], IPC_RMID, NULL);
}

/* The mtype goes in the headroom before the message, where a user would
 * have built it: no extra copy. */
static int sysv_send(struct bench_end *e, const void *msg)
{
	long type = 1;
	char *m = (char *)msg - sizeof(long);
	memcpy(m, &type, sizeof(type));
	while (msgsnd(e->out, m, e->size, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static ssize_t sysv_recv(struct bench_end *e, const void **msg)
{
	ssize_t n;
	while ((n = msgrcv(e->in, e->buf - sizeof(long), e->size, 0, 0)) < 0 &&
	       errno == EINTR)
		;
	return got(e, msg, n);
}

/* Queues of 10 messages (the kernel's default), the name removed at once:
 * the descriptors that fork hands down keep them. */
static int posix_setup(struct bench_link *l)
{
	struct mq_attr a = {.mq_maxmsg = 10, .mq_msgsize = (long)l->size};
	char name[80];
	for (int d = 0; d < dirs(l); d++) {
		snprintf(name, sizeof(name), "/%s", l->name[d]);
		mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		                  0600, &a);
		if (q == (mqd_t)-1) {
			struct rlimit rl = {0, 0};
			int err = errno;
			getrlimit(RLIMIT_MSGQUEUE, &rl);
			snprintf(l->why, sizeof(l->why), "mq_open of 10 messages "
			         "of %zu bytes: %s (fs.mqueue.msgsize_max, "
			         "RLIMIT_MSGQUEUE %llu bytes)", l->size,
			         strerror(err), (unsigned long long)rl.rlim_cur);
			return err == EINVAL || err == EMFILE || err == ENOMEM
			       ? BENCH_SKIP : -err;
		}
		mq_unlink(name);
		l->fd[d][0] = l->fd[d][1] = q;
	}
	return 0;
}

static int posix_send(struct bench_end *e, const void *msg)
{
	while (mq_send(e->out, msg, e->size, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static ssize_t posix_recv(struct bench_end *e, const void **msg)
{
	ssize_t n;
	while ((n = mq_receive(e->in, (char *)e->buf, e->size, NULL)) < 0 &&
	       errno == EINTR)
		;
	return got(e, msg, n);
}

#define FDS(setup_fn, send_fn, recv_fn)                                      \
	.cls = "kernel", .setup = setup_fn, .open = fd_open,                 \
	.send = send_fn, .recv = recv_fn, .close = fd_close,                 \
	.teardown = close_fds

const struct bench_transport bench_pipe = {
	.name = "pipe", FDS(pipe_setup, stream_send, stream_recv),
};

const struct bench_transport bench_unix_stream = {
	.name = "unix-stream", FDS(unix_stream_setup, stream_send, stream_recv),
};

const struct bench_transport bench_unix_dgram = {
	.name = "unix-dgram", FDS(unix_dgram_setup, dgram_send, dgram_recv),
};

const struct bench_transport bench_tcp = {
	.name = "tcp", .note = {"loopback", "loopback"},
	FDS(tcp_setup, stream_send, stream_recv),
};

const struct bench_transport bench_sysv_mq = {
	.name = "sysv-mq", .cls = "kernel", .headroom = sizeof(long),
	.setup = sysv_setup, .open = fd_open, .send = sysv_send,
	.recv = sysv_recv, .close = fd_close, .teardown = sysv_teardown,
};

const struct bench_transport bench_posix_mq = {
	.name = "posix-mq", .note = {"10 msgs", "10 msgs"},
	FDS(posix_setup, posix_send, posix_recv),
};

const struct bench_transport bench_eventfd = {
	.name = "eventfd", .flags = BT_NO_TPUT, .only_size = 8,
	.note = {"8 B counter", NULL},
	FDS(eventfd_setup, eventfd_send, eventfd_recv),
};
