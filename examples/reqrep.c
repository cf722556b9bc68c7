/*
 * The seed's server/client (one page and a "written_by_you" flag that the
 * server polls and the client overwrites, read or not) redone on two shmq
 * channels: the client sends requests on NAME-req, the server answers each
 * on NAME-rep. Every request gets its own reply, each side sleeps while the
 * other works, and the server ends once the client has closed.
 *
 *   build/examples/reqrep server calc &
 *   build/examples/reqrep client calc 1000
 *
 * A request carries a number, the reply its square; the client checks every
 * reply and prints how many came back and the mean round trip.
 */
#include <shmq.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MS 10000 /* a client waits this long for each reply */

struct msg {
	uint64_t id;
	uint64_t value;
};

static int fail(int err, const char *name)
{
	char msg[512];
	fprintf(stderr, "reqrep: %s\n",
	        shmq_explain(err, name, 0, msg, sizeof(msg)));
	return 1;
}

/* Until the client closes its end: -EPIPE is the normal goodbye. */
static int serve(shmq_chan *req, shmq_chan *rep)
{
	struct msg m;
	ssize_t n;
	uint64_t served = 0;
	while ((n = shmq_chan_recv(req, &m, sizeof(m))) == sizeof(m)) {
		m.value *= m.value;
		int rc = shmq_chan_send(rep, &m, sizeof(m));
		if (rc < 0)
			return rc;
		served++;
	}
	printf("server: answered %llu requests\n", (unsigned long long)served);
	return n == -EPIPE ? 0 : n < 0 ? (int)n : -EBADMSG;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* 0, a negative error, or 1 when it has said what went wrong. */
static int ask(shmq_chan *req, shmq_chan *rep, uint64_t count)
{
	double start = now_us();
	for (uint64_t i = 1; i <= count; i++) {
		struct msg m = {i, i};
		struct timespec dl = shmq_deadline(REPLY_MS);
		ssize_t n = shmq_chan_send_timed(req, &m, sizeof(m), &dl);
		if (n == 0)
			n = shmq_chan_recv_timed(rep, &m, sizeof(m), &dl);
		if (n == -ETIMEDOUT) {
			fprintf(stderr, "reqrep: no reply within %d ms; is "
			        "`reqrep server` running?\n", REPLY_MS);
			return 1;
		}
		if (n < 0)
			return (int)n;
		if (n != sizeof(m) || m.id != i || m.value != i * i) {
			fprintf(stderr, "reqrep: request %llu got a wrong reply\n",
			        (unsigned long long)i);
			return 1;
		}
	}
	printf("client: %llu replies ok, %.2f us per round trip\n",
	       (unsigned long long)count,
	       count ? (now_us() - start) / (double)count : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SPSC, .capacity = 4096,
	                           .flags = SHMQ_OPEN_OK, .spin_ns = -1};
	char req_name[SHMQ_NAME_MAX], rep_name[SHMQ_NAME_MAX];
	shmq_chan *req, *rep;
	int server = argc == 3 && !strcmp(argv[1], "server");
	int client = argc == 4 && !strcmp(argv[1], "client");
	char *end = NULL;
	uint64_t count = client ? strtoull(argv[3], &end, 10) : 0;
	if (!server && !(client && *argv[3] && !*end)) {
		fprintf(stderr, "usage: reqrep server NAME | client NAME COUNT\n");
		return 2;
	}
	snprintf(req_name, sizeof(req_name), "%s-req", argv[2]);
	snprintf(rep_name, sizeof(rep_name), "%s-rep", argv[2]);
	/* Whoever comes first creates both; the last to close removes them. */
	int rc = shmq_chan_create(&req, req_name,
	                          server ? SHMQ_READER : SHMQ_WRITER, &o);
	if (rc < 0)
		return fail(rc, req_name);
	if ((rc = shmq_chan_create(&rep, rep_name,
	                           server ? SHMQ_WRITER : SHMQ_READER, &o)) < 0) {
		shmq_chan_close(req);
		return fail(rc, rep_name);
	}
	rc = server ? serve(req, rep) : ask(req, rep, count);
	shmq_chan_close(req); /* the client's close ends the server's loop */
	shmq_chan_close(rep);
	return rc < 0 ? fail(rc, argv[2]) : rc;
}
