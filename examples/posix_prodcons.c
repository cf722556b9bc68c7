/*
 * The seed's POSIX producer/consumer (shm_open, ftruncate, mmap, memcpy into
 * the mapping, sem_post/sem_wait, munmap, shm_unlink) redone on a shmq
 * channel over the POSIX object /dev/shm/NAME. The producer writes straight
 * into the shared ring (reserve, fill, commit: no copy on the way), the
 * consumer reads in place (peek, use, release); each sleeps while it has to
 * wait, and the consumer removes the object at the end, as the seed's
 * shm_unlink did. Both print the byte count and a checksum of the stream.
 *
 *   build/examples/posix_prodcons produce NAME [BYTES] &
 *   build/examples/posix_prodcons consume NAME
 *
 * Either may start first; BYTES defaults to 16 MiB of pseudo-random data,
 * sent in messages of 1 to 4096 bytes.
 */
#include <shmq.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096

static int fail(int err, const char *name)
{
	char msg[512];
	fprintf(stderr, "posix_prodcons: %s\n",
	        shmq_explain(err, name, 0, msg, sizeof(msg)));
	return 1;
}

/* FNV-1a, 64 bits: the checksum both sides print. */
static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	while (n--)
		h = (h ^ *p++) * UINT64_C(0x100000001b3);
	return h;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	return *s ^= *s << 17;
}

static int produce(shmq_chan *ch, uint64_t total, uint64_t *sum)
{
	uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);
	for (uint64_t sent = 0; sent < total;) {
		size_t len = 1 + xorshift(&rng) % CHUNK;
		unsigned char *p;
		if (len > total - sent)
			len = (size_t)(total - sent);
		int rc = shmq_chan_reserve(ch, len, (void **)&p);
		if (rc < 0)
			return rc;
		for (size_t i = 0; i < len; i++)
			p[i] = (unsigned char)xorshift(&rng);
		*sum = fnv1a(*sum, p, len);
		if ((rc = shmq_chan_commit(ch, len)) < 0)
			return rc;
		sent += len;
	}
	return 0;
}

/* Until the producer has closed and all is read: -EPIPE. */
static int consume(shmq_chan *ch, uint64_t *bytes, uint64_t *sum)
{
	const void *p;
	ssize_t n;
	while ((n = shmq_chan_peek(ch, &p)) >= 0) {
		*sum = fnv1a(*sum, p, (size_t)n);
		*bytes += (uint64_t)n;
		int rc = shmq_chan_release(ch);
		if (rc < 0)
			return rc;
	}
	return n == -EPIPE ? 0 : (int)n;
}

int main(int argc, char **argv)
{
	struct shmq_chan_opts o = {
		.kind = SHMQ_CHAN_SPSC, .capacity = 65536, .spin_ns = -1,
		.flags = SHMQ_OPEN_OK | SHMQ_CHAN_PERSIST,
	};
	int producing = argc >= 3 && argc <= 4 && !strcmp(argv[1], "produce");
	char *end = "";
	uint64_t bytes = !producing ? 0 : argc == 4 ? strtoull(argv[3], &end, 0)
	                                            : 16u << 20;
	uint64_t sum = UINT64_C(0xcbf29ce484222325);
	char loc[SHMQ_NAME_MAX + 8];
	shmq_chan *ch;
	if (*end || (!producing && (argc != 3 || strcmp(argv[1], "consume")))) {
		fprintf(stderr, "usage: posix_prodcons produce NAME [BYTES] | "
		        "consume NAME\n");
		return 2;
	}
	snprintf(loc, sizeof(loc), "posix:%s", argv[2]);
	int rc = shmq_chan_create(&ch, loc,
	                          producing ? SHMQ_WRITER : SHMQ_READER, &o);
	if (rc < 0)
		return fail(rc, loc);
	if (producing)
		rc = produce(ch, bytes, &sum);
	else
		rc = consume(ch, &bytes, &sum);
	/* Done with it for good: the consumer at the end, or either side
	 * when the other died. */
	if (!producing || rc < 0)
		shmq_chan_unlink(loc);
	shmq_chan_close(ch);
	if (rc < 0)
		return fail(rc, loc);
	printf("%s %llu bytes, checksum %016llx\n",
	       producing ? "produced" : "consumed", (unsigned long long)bytes,
	       (unsigned long long)sum);
	return 0;
}
