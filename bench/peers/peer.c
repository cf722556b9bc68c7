/* Driver shared by the peer programs: options, the two processes, warm-up
 * and measured phases, histogram, checksum, rusage, output. */
#include "peer.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZES   16
#define MIN_SIZE    8               /* a message carries its 8-byte sequence */
#define MAX_SIZE    (64u << 20)
#define END_SEQ     UINT64_MAX      /* last message of a phase */
#define OPEN_TIMEOUT_S 10.0
#define CLOCK_EVERY 16              /* one-way sender reads the clock this often */
#define PEER_SKIP   77              /* exit status: cannot run here (shmq bench) */

struct opts {
	bool json, pin;
	int cpu[2];
	double duration, warmup;
	size_t sizes[MAX_SIZES];
	int nsizes;
};

/* What each side reports to the parent after the measured phase. */
struct side_result {
	uint64_t msgs;           /* round trips (role 0, rtt) or messages */
	uint64_t t0, t1;         /* measured phase, CLOCK_MONOTONIC ns */
	uint64_t cpu_ns;         /* getrusage of the whole process over it */
	uint64_t sent_sum, recv_sum;
	uint64_t p50, p99, p999; /* role 0, rtt */
};

struct record {
	enum peer_metric metric;
	size_t size;
	uint64_t p50, p99, p999;
	double msgs_per_s, gbytes_per_s, cpu_ns_per_msg;
};

/* The parent's view, for the exit paths and the signal handler. */
static const struct peer_transport *g_t;
static const struct peer_end *g_cur;    /* measurement being prepared */
static pid_t g_parent, g_kids[2];
static volatile sig_atomic_t g_cleaned;

void peer_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", g_t ? g_t->prog : "peer");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t peer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned peer_depth(size_t size)
{
	size_t d = (16u << 20) / size;

	return d > 64 ? 64 : d < 4 ? 4 : (unsigned)d;
}

/* Sum of the little-endian 64-bit words, the tail zero-padded. Linear, so
 * the sender knows a message's sum without reading it back. */
static uint64_t checksum(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t s = 0, w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		s += w;
	}
	if (i < n) {
		w = 0;
		memcpy(&w, b + i, n - i);
		s += w;
	}
	return s;
}

/* Offset of the last whole word, which carries ~sequence; 0: none. */
static size_t tail_at(size_t size)
{
	return size >= 16 ? (size / 8 - 1) * 8 : 0;
}

int peer_consume(struct peer_end *e, const void *msg, size_t len)
{
	size_t tail = tail_at(len);
	uint64_t t;

	if (len != e->size) {
		peer_err("received %zu bytes, expected %zu", len, e->size);
		return -1;
	}
	memcpy(&e->last_seq, msg, 8);
	if (tail) {
		memcpy(&t, (const unsigned char *)msg + tail, 8);
		if (t != ~e->last_seq) {
			peer_err("torn message: head of %llu, tail of %llu",
			         (unsigned long long)e->last_seq,
			         (unsigned long long)~t);
			return -1;
		}
	}
	e->recv_sum += checksum(msg, len);
	return 0;
}

/* ---- histogram: 64 linear sub-buckets per power of two (< 1.6% error) */

#define HIST_BUCKETS ((64 - 6) * 64 + 64)

struct hist {
	uint64_t n, count[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
	unsigned sh;

	if (v < 128)
		return (unsigned)v;
	sh = 63 - (unsigned)__builtin_clzll(v) - 6;
	return (sh + 1) * 64 + (unsigned)(v >> sh) - 64;
}

/* Midpoint of the values that land in bucket i. */
static uint64_t hist_value(unsigned i)
{
	unsigned sh;

	if (i < 128)
		return i;
	sh = i / 64 - 1;
	return ((uint64_t)(i % 64 + 64) << sh) + ((1ull << sh) >> 1);
}

static uint64_t hist_quantile(const struct hist *h, double q)
{
	double exact = q * (double)h->n;
	uint64_t want = (uint64_t)exact, seen = 0;
	unsigned i;

	if ((double)want < exact || want == 0)
		want++;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want)
			return hist_value(i);
	}
	return 0;
}

/* ---- one side of one measurement (child process) */

struct side {
	const struct peer_transport *t;
	struct peer_end *e;
	unsigned char *src;     /* this side's outgoing message */
	uint64_t base_sum;      /* checksum of src without the stamps */
	size_t tail;            /* tail_at(size) */
	uint64_t seq, sent_sum;
	struct hist *hist;
};

/* Stamps seq in the first word and ~seq in the last whole word. */
static int side_send(struct side *s, uint64_t seq)
{
	uint64_t inv = ~seq;

	memcpy(s->src, &seq, 8);
	s->sent_sum += s->base_sum + seq;
	if (s->tail) {
		memcpy(s->src + s->tail, &inv, 8);
		s->sent_sum += inv;
	}
	return s->t->send(s->e, s->src);
}

static int side_recv(struct side *s)
{
	return s->t->recv(s->e);
}

/* Role 0 of a round trip: ping, wait for the echo, for secs seconds. */
static int rtt_ping(struct side *s, double secs, struct side_result *r)
{
	uint64_t start = peer_now_ns(), a, b, n = 0;
	uint64_t stop = start + (uint64_t)(secs * 1e9);

	do {
		a = peer_now_ns();
		if (side_send(s, ++s->seq) < 0 || side_recv(s) < 0)
			return -1;
		b = peer_now_ns();
		if (s->e->last_seq != s->seq) {
			peer_err("echo carries sequence %llu, sent %llu",
			         (unsigned long long)s->e->last_seq,
			         (unsigned long long)s->seq);
			return -1;
		}
		if (r)
			s->hist->count[hist_index(b - a)]++;
		n++;
	} while (b < stop);
	if (r) {
		s->hist->n = n;
		r->msgs = n;
		r->t0 = start;
		r->t1 = b;
		r->p50 = hist_quantile(s->hist, 0.50);
		r->p99 = hist_quantile(s->hist, 0.99);
		r->p999 = hist_quantile(s->hist, 0.999);
	}
	return side_send(s, END_SEQ);
}

static int oneway_send(struct side *s, double secs, struct side_result *r)
{
	uint64_t start = peer_now_ns(), now = start, n = 0;
	uint64_t stop = start + (uint64_t)(secs * 1e9);

	while (now < stop) {
		if (side_send(s, ++s->seq) < 0)
			return -1;
		if (++n % CLOCK_EVERY == 0)
			now = peer_now_ns();
	}
	if (r) {
		r->msgs = n;
		r->t0 = start;
	}
	return side_send(s, END_SEQ);
}

/* Role 1: receives until the end, and answers each ping (round trip) or
 * checks the order (one way: a gap or a reordering is an error). */
static int serve(struct side *s, struct side_result *r)
{
	uint64_t n = 0, seq;

	for (;;) {
		if (side_recv(s) < 0)
			return -1;
		seq = s->e->last_seq;
		if (seq == END_SEQ)
			break;
		if (s->e->metric == PEER_RTT) {
			if (side_send(s, seq) < 0)
				return -1;
		} else if (seq != ++s->seq) {
			peer_err("message %llu arrived where %llu was due",
			         (unsigned long long)seq,
			         (unsigned long long)s->seq);
			return -1;
		}
		n++;
	}
	if (r) {
		r->msgs = n;
		r->t1 = peer_now_ns();
	}
	return 0;
}

static int run_phase(struct side *s, double secs, struct side_result *r)
{
	if (s->e->role == 1)
		return serve(s, r);
	return s->e->metric == PEER_RTT ? rtt_ping(s, secs, r)
	                                : oneway_send(s, secs, r);
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

/* Both sides meet here; the other side's death reads as end of file. */
static int barrier(int fd)
{
	char c = 'b';

	if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
		peer_err("the other side is gone");
		return -1;
	}
	return 0;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		peer_err("--cpus: cannot run on CPU %d: %s", cpu,
		         strerror(errno));
		return -1;
	}
	return 0;
}

static int side_run(const struct opts *o, struct side *s, int bfd,
                    struct side_result *r)
{
	struct peer_end *e = s->e;
	size_t i;

	if (o->pin && pin(o->cpu[e->role]) < 0)
		return -1;
	if (posix_memalign((void **)&s->src, 64, e->size) != 0) {
		peer_err("out of memory for a %zu-byte message", e->size);
		return -1;
	}
	for (i = 0; i < e->size; i++)
		s->src[i] = (unsigned char)(i * 131 + 7 + (size_t)e->role * 17);
	s->tail = tail_at(e->size);
	memset(s->src, 0, 8);
	memset(s->src + s->tail, 0, 8);
	s->base_sum = checksum(s->src, e->size);
	if (e->role == 0 && e->metric == PEER_RTT) {
		s->hist = calloc(1, sizeof(*s->hist));
		if (!s->hist) {
			peer_err("out of memory for the histogram");
			return -1;
		}
	}
	if (s->t->open(e) < 0)
		return -1;
	if (barrier(bfd) < 0 || run_phase(s, o->warmup, NULL) < 0 ||
	    barrier(bfd) < 0)
		return -1;
	r->cpu_ns = cpu_ns();
	if (run_phase(s, o->duration, r) < 0)
		return -1;
	r->cpu_ns = cpu_ns() - r->cpu_ns;
	r->sent_sum = s->sent_sum;
	r->recv_sum = e->recv_sum;
	/* No side closes before the other has everything: a closing sender
	 * may drop queued messages (libzmq #4660, ipc with a RCVHWM). */
	return barrier(bfd);
}

static void child(const struct opts *o, struct peer_end *e, int bfd, int rfd)
{
	struct side s = { .t = g_t, .e = e };
	struct side_result r = { 0 };
	int rc;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* A side may spin forever waiting for a message: die with the parent
	 * even when it is killed outright. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != g_parent)
		exit(1);
	rc = side_run(o, &s, bfd, &r);
	if (rc == 0 && write(rfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		rc = -1;
	/* After the result: a lingering close must not count. */
	if (e->impl)
		g_t->close(e);
	exit(rc == 0 ? 0 : 1);
}

/* ---- the parent */

static void kill_kids(void)
{
	int i;

	for (i = 0; i < 2; i++)
		if (g_kids[i] > 0) {
			kill(g_kids[i], SIGKILL);
			waitpid(g_kids[i], NULL, 0);
			g_kids[i] = 0;
		}
}

static void cleanup(void)
{
	if (getpid() != g_parent || g_cleaned)
		return;
	g_cleaned = 1;
	kill_kids();
	if (g_cur && g_t->unprepare)
		g_t->unprepare(g_cur);
	g_cur = NULL;
	if (g_t->teardown)
		g_t->teardown();
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads both sides' results; fails as soon as one side dies without one,
 * or at deadline (ns). */
static int read_results(const int fd[2], struct side_result r[2],
                        uint64_t deadline)
{
	struct pollfd p[2] = { { .fd = fd[0], .events = POLLIN },
	                       { .fd = fd[1], .events = POLLIN } };
	uint64_t now;
	int i, left = 2;

	while (left) {
		now = peer_now_ns();
		if (now >= deadline) {
			peer_err("a measurement did not finish in time; "
			         "stopped it");
			return -1;
		}
		if (poll(p, 2, (int)((deadline - now) / 1000000u) + 1) < 0 &&
		    errno != EINTR)
			return -1;
		for (i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (read(fd[i], &r[i], sizeof(r[i])) != sizeof(r[i])) {
				peer_err("side %d (pid %d) ended without a "
				         "result", i, (int)g_kids[i]);
				return -1;
			}
			p[i].fd = -1;
			left--;
		}
	}
	return 0;
}

/* A side exits after closing its transport; fails at deadline (ns). */
static int wait_kid(int i, uint64_t deadline)
{
	struct timespec nap = { 0, 1000000 };
	pid_t pid;
	int st;

	while ((pid = waitpid(g_kids[i], &st, WNOHANG)) == 0) {
		if (peer_now_ns() >= deadline) {
			peer_err("side %d (pid %d) does not exit; stopped it",
			         i, (int)g_kids[i]);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	if (pid < 0)
		return -1;
	g_kids[i] = 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int combine(struct peer_end *e, const struct side_result r[2],
                   struct record *rec)
{
	uint64_t cpu = r[0].cpu_ns + r[1].cpu_ns;
	double secs;

	if (r[0].sent_sum != r[1].recv_sum || r[1].sent_sum != r[0].recv_sum) {
		peer_err("checksum mismatch at %zu bytes: the data received "
		         "is not the data sent", e->size);
		return -1;
	}
	rec->metric = e->metric;
	rec->size = e->size;
	if (e->metric == PEER_RTT) {
		if (r[0].msgs == 0 || r[1].msgs != r[0].msgs)
			goto lost;
		rec->p50 = r[0].p50;
		rec->p99 = r[0].p99;
		rec->p999 = r[0].p999;
		/* A round trip is two messages. */
		rec->cpu_ns_per_msg = (double)cpu / (2.0 * (double)r[0].msgs);
		return 0;
	}
	if (r[1].msgs == 0 || r[1].msgs != r[0].msgs || r[1].t1 <= r[0].t0)
		goto lost;
	secs = (double)(r[1].t1 - r[0].t0) / 1e9;
	rec->msgs_per_s = (double)r[1].msgs / secs;
	rec->gbytes_per_s = rec->msgs_per_s * (double)e->size / 1e9;
	rec->cpu_ns_per_msg = (double)cpu / (double)r[1].msgs;
	return 0;
lost:
	peer_err("message counts disagree at %zu bytes: sent %llu, "
	         "received %llu", e->size, (unsigned long long)r[0].msgs,
	         (unsigned long long)r[1].msgs);
	return -1;
}

static int measure(const struct opts *o, enum peer_metric m, size_t size,
                   unsigned id, struct record *rec)
{
	static struct peer_end e;
	struct side_result r[2];
	uint64_t deadline;
	int sv[2], res[2][2], i, rc = -1;

	memset(&e, 0, sizeof(e));
	e.metric = m;
	e.size = size;
	e.depth = peer_depth(size);
	e.timeout_s = OPEN_TIMEOUT_S;
	snprintf(e.name, sizeof(e.name), "shmq-peer-%d-%u", (int)getpid(), id);
	if (g_t->prepare && g_t->prepare(&e) < 0)
		return -1;
	g_cur = &e;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || pipe(res[0]) < 0 ||
	    pipe(res[1]) < 0) {
		peer_err("socketpair/pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	for (i = 0; i < 2; i++) {
		g_kids[i] = fork();
		if (g_kids[i] < 0) {
			peer_err("fork: %s", strerror(errno));
			goto out;
		}
		if (g_kids[i] == 0) {
			close(sv[1 - i]);
			close(res[i][0]);
			close(res[1 - i][0]);
			close(res[1 - i][1]);
			e.role = i;
			child(o, &e, sv[i], res[i][1]);
		}
	}
	close(sv[0]);
	close(sv[1]);
	close(res[0][1]);
	close(res[1][1]);
	deadline = peer_now_ns() + (uint64_t)((o->warmup + o->duration +
	                                       2 * OPEN_TIMEOUT_S + 30) * 1e9);
	if (read_results((int[2]){ res[0][0], res[1][0] }, r, deadline) < 0)
		goto out;
	deadline = peer_now_ns() + (uint64_t)(2 * OPEN_TIMEOUT_S * 1e9);
	if (wait_kid(0, deadline) < 0 || wait_kid(1, deadline) < 0)
		goto out;
	rc = combine(&e, r, rec);
out:
	if (rc < 0)
		kill_kids();
	close(res[0][0]);
	close(res[1][0]);
	if (g_t->unprepare)
		g_t->unprepare(&e);
	g_cur = NULL;
	return rc;
}

/* ---- options and output */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [--json] [--sizes LIST] [--duration SEC] [--warmup SEC]\n"
	        "       %*s [--quick] [--cpus A,B]\n"
	        "Round trip (ping-pong) and one-way throughput of %s between two\n"
	        "processes, per message size; the rows `shmq bench` shows for it.\n"
	        "  --sizes LIST    message sizes in bytes, K/M suffixes "
	        "(default 64,4096,65536,1048576)\n"
	        "  --duration SEC  measured time per row (default 1; --quick 0.2)\n"
	        "  --warmup SEC    warm-up before each row (default duration/4)\n"
	        "  --quick         sizes 64,65536 and short durations\n"
	        "  --cpus A,B      pin the two processes to CPUs A and B\n"
	        "  --json          print a JSON array of records\n"
	        "exit status: 0 done, 1 a measurement failed, 2 usage error,\n"
	        "77 skipped (the reason on stderr; --json prints [])\n",
	        g_t->prog, (int)strlen(g_t->prog), "", g_t->name);
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", g_t->prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "; see %s --help\n", g_t->prog);
	return 2;
}

static int parse_secs(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 3600)
		return -1;
	*out = v;
	return 0;
}

static int parse_sizes(const char *s, struct opts *o)
{
	char *end;
	unsigned long long v;

	o->nsizes = 0;
	for (;;) {
		if (o->nsizes == MAX_SIZES || *s < '0' || *s > '9')
			return -1;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno)
			return -1;
		if (*end == 'k' || *end == 'K')
			v <<= 10, end++;
		else if (*end == 'm' || *end == 'M')
			v <<= 20, end++;
		if (v < MIN_SIZE || v > MAX_SIZE || (*end && *end != ','))
			return -1;
		o->sizes[o->nsizes++] = (size_t)v;
		if (!*end)
			return 0;
		s = end + 1;
	}
}

/* Two CPUs this process may run on. */
static int parse_cpus(const char *s, struct opts *o)
{
	cpu_set_t ok;
	int n = 0, i;

	if (sscanf(s, "%d,%d%n", &o->cpu[0], &o->cpu[1], &n) != 2 || s[n] ||
	    sched_getaffinity(0, sizeof(ok), &ok) < 0)
		return -1;
	for (i = 0; i < 2; i++)
		if (o->cpu[i] < 0 || o->cpu[i] >= CPU_SETSIZE ||
		    !CPU_ISSET(o->cpu[i], &ok))
			return -1;
	o->pin = true;
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const size_t dflt[] = { 64, 4096, 65536, 1048576 };
	bool quick = false, sizes = false, dur = false, warm = false;
	const char *a, *v;
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "--json")) {
			o->json = true;
			continue;
		}
		if (!strcmp(a, "--quick")) {
			quick = true;
			continue;
		}
		if (strcmp(a, "--sizes") && strcmp(a, "--duration") &&
		    strcmp(a, "--warmup") && strcmp(a, "--cpus"))
			return bad("unknown option '%s'", a);
		if (i + 1 == argc)
			return bad("%s needs a value", a);
		v = argv[++i];
		if (!strcmp(a, "--sizes")) {
			if (parse_sizes(v, o) < 0)
				return bad("--sizes '%s': want a comma-separated "
				           "list of 8 B..64M sizes, e.g. 64,4K,1M", v);
			sizes = true;
		} else if (!strcmp(a, "--duration")) {
			if (parse_secs(v, &o->duration) < 0)
				return bad("--duration '%s': want seconds, "
				           "0 < SEC <= 3600", v);
			dur = true;
		} else if (!strcmp(a, "--warmup")) {
			if (parse_secs(v, &o->warmup) < 0)
				return bad("--warmup '%s': want seconds, "
				           "0 < SEC <= 3600", v);
			warm = true;
		} else if (parse_cpus(v, o) < 0) {
			return bad("--cpus '%s': want two CPUs this process "
			           "may run on (taskset -cp $$), e.g. 0,1", v);
		}
	}
	if (!sizes) {
		o->nsizes = quick ? 2 : 4;
		for (i = 0; i < o->nsizes; i++)
			o->sizes[i] = dflt[quick ? 2 * i : i];
	}
	if (!dur)
		o->duration = quick ? 0.2 : 1.0;
	if (!warm)
		o->warmup = o->duration / 4;   /* as shmq bench */
	return 0;
}

static void print_json(const struct record *r, int n)
{
	int i;

	printf("[");
	for (i = 0; i < n; i++, r++) {
		printf("%s\n  {\"transport\": \"%s\", \"metric\": \"%s\", "
		       "\"msg_size\": %zu, ", i ? "," : "", g_t->name,
		       r->metric == PEER_RTT ? "rtt" : "throughput", r->size);
		if (r->metric == PEER_RTT)
			printf("\"p50_ns\": %llu, \"p99_ns\": %llu, "
			       "\"p999_ns\": %llu, \"msgs_per_s\": null, "
			       "\"gbytes_per_s\": null, ",
			       (unsigned long long)r->p50,
			       (unsigned long long)r->p99,
			       (unsigned long long)r->p999);
		else
			printf("\"p50_ns\": null, \"p99_ns\": null, "
			       "\"p999_ns\": null, \"msgs_per_s\": %.1f, "
			       "\"gbytes_per_s\": %.4f, ",
			       r->msgs_per_s, r->gbytes_per_s);
		printf("\"cpu_ns_per_msg\": %.1f}", r->cpu_ns_per_msg);
	}
	printf("%s]\n", n ? "\n" : "");
}

static void print_table(const struct record *r, int n)
{
	int i;

	printf("%-10s %-10s %8s %9s %9s %9s %12s %8s %10s\n", "transport",
	       "metric", "size", "p50 ns", "p99 ns", "p99.9 ns", "msgs/s",
	       "GB/s", "cpu ns/msg");
	for (i = 0; i < n; i++, r++) {
		printf("%-10s %-10s %8zu ", g_t->name,
		       r->metric == PEER_RTT ? "rtt" : "throughput", r->size);
		if (r->metric == PEER_RTT)
			printf("%9llu %9llu %9llu %12s %8s",
			       (unsigned long long)r->p50,
			       (unsigned long long)r->p99,
			       (unsigned long long)r->p999, "-", "-");
		else
			printf("%9s %9s %9s %12.0f %8.3f", "-", "-", "-",
			       r->msgs_per_s, r->gbytes_per_s);
		printf(" %10.1f\n", r->cpu_ns_per_msg);
	}
	printf("queue depth %u (%u at 1 MiB: 16 MiB per queue at most); "
	       "cpu ns/msg: both processes, a round trip is two messages\n",
	       peer_depth(64), peer_depth(1u << 20));
}

int peer_main(const struct peer_transport *t, int argc, char **argv)
{
	struct record rec[2 * MAX_SIZES];
	struct opts o;
	char why[256] = "";
	int rc, i, n = 0;
	enum peer_metric m;

	g_t = t;
	g_parent = getpid();
	rc = parse(argc, argv, &o);
	if (rc)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	atexit(cleanup);
	rc = t->setup ? t->setup(o.sizes, o.nsizes, why, sizeof(why)) : 0;
	if (rc > 0) {
		fprintf(stderr, "%s: skipped: %s\n", t->prog, why);
		if (o.json)
			printf("[]\n");
		return PEER_SKIP;
	}
	if (rc < 0)
		return 1;
	for (m = PEER_RTT; m <= PEER_THROUGHPUT; m++)
		for (i = 0; i < o.nsizes; i++, n++)
			if (measure(&o, m, o.sizes[i], (unsigned)n, &rec[n]) < 0)
				return 1;
	cleanup();
	if (o.json)
		print_json(rec, n);
	else
		print_table(rec, n);
	return 0;
}
