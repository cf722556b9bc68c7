/*
 * The seed's producer/consumer (a buffer in shared memory, POSIX semaphores
 * around it) redone on one mpmc channel: a bounded queue of 64 slots that
 * several producer processes fill and several consumer processes drain.
 * Each item goes to exactly one consumer; producers sleep while the queue
 * is full, consumers while it is empty, and the consumers stop once every
 * producer has closed and the queue is drained. Each consumer ticks every
 * item it gets in a table the processes share; the parent then checks that
 * every item was taken exactly once.
 *
 *   build/examples/prodcons NAME [PRODUCERS CONSUMERS ITEMS]
 *
 * Defaults: 3 producers, 2 consumers, 100000 items per producer.
 */
#include <shmq.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct tally {
	uint64_t items, twice; /* taken; taken that another had taken */
};

/* seen[v - 1] is 1 once item v (1..n) was taken: shared by every process. */
static atomic_uchar *seen;
static uint64_t n_items;

static int fail(int err, const char *name)
{
	char msg[512];
	fprintf(stderr, "prodcons: %s\n",
	        shmq_explain(err, name, 0, msg, sizeof(msg)));
	return 1;
}

static int produce(shmq_chan *ch, uint64_t first, uint64_t n)
{
	int rc = 0;
	for (uint64_t v = first; rc == 0 && v < first + n; v++)
		rc = shmq_chan_send(ch, &v, sizeof(v));
	return rc;
}

/* Until the end of the stream; the tally goes to the parent by pipe. */
static int consume(shmq_chan *ch, int results)
{
	struct tally t = {0, 0};
	uint64_t v;
	ssize_t n;
	while ((n = shmq_chan_recv(ch, &v, sizeof(v))) == sizeof(v)) {
		if (v < 1 || v > n_items)
			return -EBADMSG; /* no producer sent that */
		t.items++;
		t.twice += atomic_exchange(&seen[v - 1], 1) != 0;
	}
	if (n != -EPIPE)
		return n < 0 ? (int)n : -EBADMSG;
	return write(results, &t, sizeof(t)) == sizeof(t) ? 0 : -errno;
}

/* A child joins by name, as an unrelated process would, says so by
 * closing its end of `joined`, then does its part. */
static void child(const char *name, int role, int joined, int results,
                  uint64_t first, uint64_t n)
{
	shmq_chan *ch;
	int rc = shmq_chan_open(&ch, name, role, NULL);
	close(joined);
	if (rc == 0)
		rc = role == SHMQ_WRITER ? produce(ch, first, n)
		                         : consume(ch, results);
	shmq_chan_close(ch);
	_exit(rc < 0 ? fail(rc, name) : 0);
}

static unsigned long arg(int argc, char **argv, int i, unsigned long def)
{
	char *end;
	unsigned long v = i < argc ? strtoul(argv[i], &end, 10) : def;
	return i < argc && (*end || !v || v > 1000000) ? 0 : v;
}

int main(int argc, char **argv)
{
	unsigned long np = arg(argc, argv, 2, 3), nc = arg(argc, argv, 3, 2);
	uint64_t items = arg(argc, argv, 4, 100000), n = np * items, missing = 0;
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_MPMC, .capacity = 64,
	                           .msg_size = sizeof(uint64_t), .spin_ns = -1};
	int joined[2], results[2], status, ok;
	struct tally t, all = {0, 0};
	shmq_chan *ch;
	char c;
	if (argc < 2 || argc > 5 || !np || !nc || !items || np + nc > 60) {
		fprintf(stderr, "usage: prodcons NAME [PRODUCERS CONSUMERS ITEMS]\n");
		return 2;
	}
	if (pipe(joined) < 0 || pipe(results) < 0)
		return fail(-errno, "pipe");
	seen = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	            -1, 0);
	if (seen == MAP_FAILED)
		return fail(-errno, "mmap");
	n_items = n;
	/* The parent is a writer that sends nothing: it keeps the stream
	 * open until every producer has joined. */
	int rc = shmq_chan_create(&ch, argv[1], SHMQ_WRITER, &o);
	if (rc < 0)
		return fail(rc, argv[1]);
	fflush(stdout);
	for (unsigned long i = 0; i < np + nc; i++)
		if (fork() == 0)
			child(argv[1], i < np ? SHMQ_WRITER : SHMQ_READER,
			      joined[1], results[1], i * items + 1, items);
	close(joined[1]);
	close(results[1]);
	ok = read(joined[0], &c, 1) == 0; /* EOF: every child has joined */
	shmq_chan_close(ch);
	while (wait(&status) > 0)
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	printf("consumers took");
	while (read(results[0], &t, sizeof(t)) == sizeof(t)) {
		printf(" %llu", (unsigned long long)t.items);
		all.items += t.items;
		all.twice += t.twice;
	}
	for (uint64_t i = 0; i < n; i++)
		missing += atomic_load(&seen[i]) == 0;
	ok &= all.items == n && !all.twice && !missing;
	printf(" items\ntotal %llu of %llu items, %llu taken twice, %llu never: "
	       "%s\n", (unsigned long long)all.items, (unsigned long long)n,
	       (unsigned long long)all.twice, (unsigned long long)missing,
	       ok ? "ok" : "WRONG");
	return !ok;
}
