/*
 * The end points of `make bench-bridge` (scripts/bench-bridge.sh): a
 * source, sink, ping and echo on shmq channels (carried between two
 * network namespaces by shmq bridge), and the same over TCP, the
 * baseline beside the bridge and ddsperf. One line of results on stdout.
 *
 *   bench-bridge-peer source CHAN SIZE COUNT   COUNT messages of SIZE
 *   bench-bridge-peer sink CHAN                rate from first to last
 *   bench-bridge-peer ping OUT IN SIZE COUNT   round trips: p50, p99
 *   bench-bridge-peer echo IN OUT              sends back what it gets
 *   bench-bridge-peer tcp-serve PORT           one client: sink or echo
 *   bench-bridge-peer tcp-tput ADDR PORT SIZE COUNT
 *   bench-bridge-peer tcp-rtt ADDR PORT SIZE COUNT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shmq.h"

#define CAPACITY (4u << 20) /* the bridge's --capacity 4M */
#define WARMUP 100

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Whoever comes first makes the channel: the peer asks for what the
 * bridge's --plain-fences asks for when BENCH_PLAIN_FENCES is set. */
static shmq_chan *chan(const char *name, int role)
{
	struct shmq_chan_opts o = { .capacity = CAPACITY,
	                            .flags = SHMQ_OPEN_OK };
	if (getenv("BENCH_PLAIN_FENCES"))
		o.flags |= SHMQ_CHAN_PLAIN_FENCES;
	shmq_chan *ch;
	int rc = shmq_chan_create(&ch, name, role, &o);

	if (rc < 0) {
		fprintf(stderr, "bench-bridge-peer: %s: %s\n", name,
		        shmq_strerror(rc));
		exit(1);
	}
	return ch;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_rtt(double *rtt, long n, long size)
{
	qsort(rtt, (size_t)n, sizeof(*rtt), cmp_double);
	printf("rtt size %ld count %ld p50_us %.1f p99_us %.1f\n", size, n,
	       rtt[n / 2] * 1e6, rtt[n * 99 / 100] * 1e6);
}

static void print_rate(long size, long n, double secs)
{
	printf("tput size %ld count %ld msgs_per_s %.0f MB_per_s %.1f\n", size,
	       n, (double)n / secs, (double)n * (double)size / secs / 1e6);
}

static int source(const char *name, long size, long count)
{
	shmq_chan *ch = chan(name, SHMQ_WRITER);
	char *buf = calloc(1, (size_t)size);

	for (long i = 0; i < count; i++) {
		memcpy(buf, &i, sizeof(i) < (size_t)size ? sizeof(i) : (size_t)size);
		if (shmq_chan_send(ch, buf, (size_t)size) < 0)
			return 1;
	}
	shmq_chan_close(ch);
	free(buf);
	return 0;
}

static int sink(const char *name)
{
	shmq_chan *ch = chan(name, SHMQ_READER);
	size_t max = shmq_chan_max_msg(ch);
	char *buf = malloc(max);
	double t0 = 0;
	long n = 0, size = 0;
	ssize_t len;

	while ((len = shmq_chan_recv(ch, buf, max)) >= 0) {
		if (!n++)
			t0 = now_s();
		size = len;
	}
	if (len != -EPIPE || n < 2)
		return 1;
	print_rate(size, n - 1, now_s() - t0); /* from the first message */
	shmq_chan_close(ch);
	free(buf);
	return 0;
}

static int ping(const char *out, const char *in, long size, long count)
{
	shmq_chan *o = chan(out, SHMQ_WRITER), *i = chan(in, SHMQ_READER);
	char *buf = calloc(1, (size_t)size > 8 ? (size_t)size : 8);
	double *rtt = malloc(sizeof(double) * (size_t)count);

	for (long k = -WARMUP; k < count; k++) {
		double t = now_s();

		if (shmq_chan_send(o, buf, (size_t)size) < 0 ||
		    shmq_chan_recv(i, buf, (size_t)size) < 0)
			return 1;
		if (k >= 0)
			rtt[k] = now_s() - t;
	}
	print_rtt(rtt, count, size);
	shmq_chan_close(o);
	shmq_chan_close(i);
	return 0;
}

static int echo(const char *in, const char *out)
{
	shmq_chan *i = chan(in, SHMQ_READER), *o = chan(out, SHMQ_WRITER);
	size_t max = shmq_chan_max_msg(i);
	char *buf = malloc(max);
	ssize_t len;

	while ((len = shmq_chan_recv(i, buf, max)) >= 0)
		if (shmq_chan_send(o, buf, (size_t)len) < 0)
			return 1;
	shmq_chan_close(o);
	shmq_chan_close(i);
	return len == -EPIPE ? 0 : 1;
}

static int full(int fd, void *buf, size_t len, int out)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = out ? write(fd, (char *)buf + done, len - done)
		                : read(fd, (char *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* The client's header: mode (0 sink, 1 echo), size, count. */
static int tcp_serve(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port) };
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0), c;
	int64_t h[3];
	char *buf;

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1) ||
	    (c = accept(s, NULL, NULL)) < 0 || full(c, h, sizeof(h), 0))
		return 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	buf = malloc((size_t)h[1]);
	for (int64_t k = 0; k < h[2] + (h[0] ? WARMUP : 0); k++)
		if (full(c, buf, (size_t)h[1], 0) ||
		    (h[0] && full(c, buf, (size_t)h[1], 1)))
			return 1;
	if (!h[0] && full(c, buf, 1, 1))
		return 1;
	close(c);
	close(s);
	return 0;
}

static int tcp_client(const char *addr, int port, long size, long count,
                      int echo_mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port) };
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	int64_t h[3] = { echo_mode, size, count };
	char *buf = calloc(1, (size_t)size);
	double *rtt = malloc(sizeof(double) * (size_t)count), t0;

	inet_pton(AF_INET, addr, &a.sin_addr);
	for (int i = 0; connect(s, (struct sockaddr *)&a, sizeof(a)); i++) {
		if (i == 500)
			return 1; /* 5 s for the server to listen */
		usleep(10000);
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (full(s, h, sizeof(h), 1))
		return 1;
	if (!echo_mode) {
		t0 = now_s();
		for (long k = 0; k < count; k++)
			if (full(s, buf, (size_t)size, 1))
				return 1;
		if (full(s, buf, 1, 0))
			return 1;
		print_rate(size, count, now_s() - t0);
		return 0;
	}
	for (long k = -WARMUP; k < count; k++) {
		double t = now_s();

		if (full(s, buf, (size_t)size, 1) || full(s, buf, (size_t)size, 0))
			return 1;
		if (k >= 0)
			rtt[k] = now_s() - t;
	}
	print_rtt(rtt, count, size);
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	if (!strcmp(m, "source") && argc == 5)
		return source(argv[2], atol(argv[3]), atol(argv[4]));
	if (!strcmp(m, "sink") && argc == 3)
		return sink(argv[2]);
	if (!strcmp(m, "ping") && argc == 6)
		return ping(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
	if (!strcmp(m, "echo") && argc == 4)
		return echo(argv[2], argv[3]);
	if (!strcmp(m, "tcp-serve") && argc == 3)
		return tcp_serve(atoi(argv[2]));
	if (!strcmp(m, "tcp-tput") && argc == 6)
		return tcp_client(argv[2], atoi(argv[3]), atol(argv[4]),
		                  atol(argv[5]), 0);
	if (!strcmp(m, "tcp-rtt") && argc == 6)
		return tcp_client(argv[2], atoi(argv[3]), atol(argv[4]),
		                  atol(argv[5]), 1);
	fprintf(stderr, "usage: see bridge/bench_peer.c\n");
	return 2;
}
