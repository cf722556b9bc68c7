// peer-boost: Boost.Interprocess message_queue (header-only: fixed-size
// slots and a priority-ordered index in POSIX shared memory, guarded by a
// process-shared mutex and condition variables; all our messages have
// priority 0). Direction d is the queue "<name>-d", created 0600 by the
// parent with max message size = the message size and the shared queue
// depth. send copies into the queue, receive copies out into this side's
// buffer, which the checksum then reads.
#include "peer.h"

#include <boost/interprocess/ipc/message_queue.hpp>

#include <cstdio>
#include <new>
#include <vector>

namespace bip = boost::interprocess;

namespace {

struct bpeer {
	bip::message_queue *tx = nullptr, *rx = nullptr;
	std::vector<unsigned char> buf;
	~bpeer()
	{
		delete tx;
		delete rx;
	}
};

void qname(const peer_end *e, int dir, char *buf, size_t len)
{
	std::snprintf(buf, len, "%s-%d", e->name, dir);
}

int ndirs(const peer_end *e)
{
	return e->metric == PEER_RTT ? 2 : 1;
}

void bq_unprepare(const peer_end *e)
{
	char n[96];

	for (int d = 0; d < 2; d++) {
		qname(e, d, n, sizeof(n));
		bip::message_queue::remove(n);
	}
}

int bq_prepare(const peer_end *e)
{
	char n[96];
	bip::permissions perm(0600);

	for (int d = 0; d < ndirs(e); d++) {
		qname(e, d, n, sizeof(n));
		try {
			bip::message_queue q(bip::create_only, n, e->depth,
			                     e->size, perm);
		} catch (const std::exception &x) {
			peer_err("message_queue %s (%u x %zu bytes): %s; "
			         "is /dev/shm full?", n, e->depth, e->size,
			         x.what());
			bq_unprepare(e);
			return -1;
		}
	}
	return 0;
}

int bq_open(peer_end *e)
{
	char n[96];
	bpeer *b = new (std::nothrow) bpeer;
	int txd = e->role, rxd = 1 - e->role;

	if (!b) {
		peer_err("out of memory");
		return -1;
	}
	e->impl = b;
	try {
		b->buf.resize(e->size);
		if (txd < ndirs(e)) {
			qname(e, txd, n, sizeof(n));
			b->tx = new bip::message_queue(bip::open_only, n);
		}
		if (rxd < ndirs(e)) {
			qname(e, rxd, n, sizeof(n));
			b->rx = new bip::message_queue(bip::open_only, n);
		}
	} catch (const std::exception &x) {
		peer_err("message_queue %s: %s", n, x.what());
		return -1;
	}
	return 0;
}

int bq_send(peer_end *e, const void *src)
{
	try {
		static_cast<bpeer *>(e->impl)->tx->send(src, e->size, 0);
	} catch (const std::exception &x) {
		peer_err("message_queue::send: %s", x.what());
		return -1;
	}
	return 0;
}

int bq_recv(peer_end *e)
{
	bpeer *b = static_cast<bpeer *>(e->impl);
	bip::message_queue::size_type got = 0;
	unsigned prio;

	try {
		b->rx->receive(b->buf.data(), b->buf.size(), got, prio);
	} catch (const std::exception &x) {
		peer_err("message_queue::receive: %s", x.what());
		return -1;
	}
	return peer_consume(e, b->buf.data(), got);
}

void bq_close(peer_end *e)
{
	delete static_cast<bpeer *>(e->impl);
	e->impl = nullptr;
}

peer_transport make_transport()
{
	peer_transport t = {};

	t.name = "boost-mq";
	t.prog = "peer-boost";
	t.prepare = bq_prepare;
	t.unprepare = bq_unprepare;
	t.open = bq_open;
	t.send = bq_send;
	t.recv = bq_recv;
	t.close = bq_close;
	return t;
}

} // namespace

int main(int argc, char **argv)
{
	static const peer_transport t = make_transport();

	return peer_main(&t, argc, argv);
}
