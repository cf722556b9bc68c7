/* peer-zmq: ZeroMQ PAIR sockets over ipc:// (libzmq C API). One socket pair
 * carries both directions; role 1 binds, role 0 connects. Send copies the
 * message into a zmq message; receive reads it in zmq's buffer. High-water
 * marks are the shared queue depth. zmq's I/O thread runs in each process
 * and counts in cpu_ns_per_msg; it may write several queued messages in one
 * system call, which is how zmq works, not batching by the benchmark. */
#include "peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

struct zpeer {
	void *ctx, *sock;
};

static void ipc_path(const struct peer_end *e, char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/%s.ipc", e->name);
}

static void zp_unprepare(const struct peer_end *e)
{
	char path[128];

	ipc_path(e, path, sizeof(path));
	unlink(path);
}

static int zfail(const char *what)
{
	peer_err("%s: %s", what, zmq_strerror(errno));
	return -1;
}

static int setopt(void *s, int opt, int v, const char *what)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v)) < 0 ? zfail(what) : 0;
}

/* One byte each way, so both directions are connected before timing. */
static int handshake(struct zpeer *z, const struct peer_end *e)
{
	char c = 'h';
	int i;

	if (setopt(z->sock, ZMQ_RCVTIMEO, (int)(e->timeout_s * 1000),
	           "ZMQ_RCVTIMEO") < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (i == e->role) {
			if (zmq_send(z->sock, &c, 1, 0) != 1)
				return zfail("zmq_send (handshake)");
		} else if (zmq_recv(z->sock, &c, 1, 0) != 1) {
			return zfail("zmq_recv (handshake)");
		}
	}
	return setopt(z->sock, ZMQ_RCVTIMEO, -1, "ZMQ_RCVTIMEO");
}

static int zp_open(struct peer_end *e)
{
	struct zpeer *z = calloc(1, sizeof(*z));
	char path[128], ep[140];

	if (!z)
		return zfail("calloc");
	e->impl = z;
	ipc_path(e, path, sizeof(path));
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	z->ctx = zmq_ctx_new();
	if (!z->ctx)
		return zfail("zmq_ctx_new");
	z->sock = zmq_socket(z->ctx, ZMQ_PAIR);
	if (!z->sock)
		return zfail("zmq_socket(ZMQ_PAIR)");
	if (setopt(z->sock, ZMQ_SNDHWM, (int)e->depth, "ZMQ_SNDHWM") < 0 ||
	    setopt(z->sock, ZMQ_RCVHWM, (int)e->depth, "ZMQ_RCVHWM") < 0 ||
	    setopt(z->sock, ZMQ_LINGER, 5000, "ZMQ_LINGER") < 0)
		return -1;
	if (e->role == 1 ? zmq_bind(z->sock, ep) < 0 : zmq_connect(z->sock, ep) < 0)
		return zfail(ep);
	return handshake(z, e);
}

static int zp_send(struct peer_end *e, const void *src)
{
	struct zpeer *z = e->impl;

	while (zmq_send(z->sock, src, e->size, 0) < 0)
		if (errno != EINTR)
			return zfail("zmq_send");
	return 0;
}

static int zp_recv(struct peer_end *e)
{
	struct zpeer *z = e->impl;
	zmq_msg_t m;
	int rc;

	zmq_msg_init(&m);
	while (zmq_msg_recv(&m, z->sock, 0) < 0)
		if (errno != EINTR) {
			zmq_msg_close(&m);
			return zfail("zmq_msg_recv");
		}
	rc = peer_consume(e, zmq_msg_data(&m), zmq_msg_size(&m));
	zmq_msg_close(&m);
	return rc;
}

static void zp_close(struct peer_end *e)
{
	struct zpeer *z = e->impl;

	if (z->sock)
		zmq_close(z->sock);
	if (z->ctx)
		zmq_ctx_term(z->ctx);
	free(z);
	e->impl = NULL;
}

static const struct peer_transport zmq_transport = {
	.name = "zmq-ipc",
	.prog = "peer-zmq",
	.unprepare = zp_unprepare,
	.open = zp_open,
	.send = zp_send,
	.recv = zp_recv,
	.close = zp_close,
};

int main(int argc, char **argv)
{
	return peer_main(&zmq_transport, argc, argv);
}
