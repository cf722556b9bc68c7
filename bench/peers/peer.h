/* Peer-library rows of `shmq bench`: one program per library
 * (build/bench/peer-boost, peer-zmq, peer-iceoryx), all driven by peer.c.
 *
 * The driver forks two processes per measurement (pinned to --cpus A,B),
 * runs a warm-up phase and then the measured phase, and prints the records
 * `shmq bench --json` prints. A transport only moves one message:
 *   send  the message of e->size bytes at src (the library copies it, or the
 *         transport writes it into a loaned buffer);
 *   recv  one message, handed to peer_consume() where it lies (it reads every
 *         byte for the checksum), then released.
 * Role 0 sends on direction 0 and receives on direction 1 (pinger, or the
 * one-way sender); role 1 the opposite (ponger, or the receiver).
 */
#ifndef SHMQ_BENCH_PEER_H
#define SHMQ_BENCH_PEER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum peer_metric { PEER_RTT, PEER_THROUGHPUT };

/* One side of one measurement (lives in a child process). */
struct peer_end {
	int role;              /* 0 or 1, see above */
	enum peer_metric metric;
	size_t size;           /* bytes per message, both directions */
	unsigned depth;        /* queue depth, peer_depth(size) */
	char name[64];         /* unique stem for this measurement's objects */
	double timeout_s;      /* bound for connecting to the other side */
	void *impl;            /* the transport's state */
	/* Filled by peer_consume(). */
	uint64_t last_seq;
	uint64_t recv_sum;
};

struct peer_transport {
	const char *name;      /* the JSON "transport" */
	const char *prog;      /* for messages: "peer-zmq" */
	/* Parent, once, before any measurement: returns 0, or 1 with a reason
	 * in why (the peer is skipped), or -1 after printing an error. */
	int (*setup)(const size_t *sizes, int nsizes, char *why, size_t whylen);
	void (*teardown)(void);   /* parent; also called from exit paths */
	/* Parent, around each measurement (may be NULL). */
	int (*prepare)(const struct peer_end *e);
	void (*unprepare)(const struct peer_end *e);
	/* Child. Each returns 0 or -1 after printing an error. open returns
	 * once the other side can receive (or after e->timeout_s, failing). */
	int (*open)(struct peer_end *e);
	int (*send)(struct peer_end *e, const void *src);
	int (*recv)(struct peer_end *e);
	void (*close)(struct peer_end *e);
};

/* Checks one received message and adds its checksum; -1 on a bad length. */
int peer_consume(struct peer_end *e, const void *msg, size_t len);
/* Queue depth used by every peer: 64, less for big messages (16 MiB cap). */
unsigned peer_depth(size_t size);
uint64_t peer_now_ns(void);
/* Prints "prog: message" on stderr. */
void peer_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses the options, runs every measurement, prints the results. */
int peer_main(const struct peer_transport *t, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
