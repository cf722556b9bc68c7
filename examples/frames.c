/*
 * Video frames to two viewers without a copy per viewer, on a sample
 * channel: a producer publishes 1920x1080 RGBA frames (8 MiB each) at a
 * fixed rate; each viewer gets a read-only pointer to the same frame in
 * shared memory and checks it in place. Like a display, a viewer keeps
 * the frame it shows until the next one is checked (it holds 2 at most),
 * then gives the old one back (shmq_chan_release_at).
 *
 * The producer writes each frame in place (reserve), stamped with its
 * number and a pattern derived from it, and publishes it (commit). Each
 * viewer checks that frames come in order, every pixel is the pattern of
 * its frame's number, and adds the pixels into a checksum; the producer
 * adds what it wrote the same way, so the three checksums must agree.
 * The parent starts the viewers, waits for both to join (a pipe), then
 * produces; the viewers stop at the end of the stream.
 *
 *   build/examples/frames NAME [FRAMES [FPS]]
 *
 * Defaults: 120 frames at 60 frames a second (2 s). The pool: 8 frames
 * (2 viewers x 2 held + the frame being written + 2 of slack), 64 MiB.
 */
#include <shmq.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WIDTH 1920
#define HEIGHT 1080
#define PIXELS ((size_t)WIDTH * HEIGHT)
#define FRAME_BYTES (PIXELS * 4) /* RGBA */
#define VIEWERS 2
#define HOLD 2
#define POOL 8

/* What a viewer found; in memory the processes share. */
struct tally {
	uint64_t frames, bad, sum;
	char why[160]; /* the first problem, or "" */
};

static int fail(int err, const char *name)
{
	char msg[512];
	fprintf(stderr, "frames: %s\n",
	        shmq_explain(err, name, 0, msg, sizeof(msg)));
	return 1;
}

/* Pixel i of frame f. Pixels 0 and 1 hold the frame number. */
static uint32_t pattern(uint64_t f, size_t i)
{
	return (uint32_t)(f * 0x9e3779b1u) ^ (uint32_t)(i * 2654435761u);
}

/* Writes frame f into p: its number, then its pattern. The sum of its
 * pixels from 2 on. */
static uint64_t draw(uint32_t *p, uint64_t f)
{
	uint64_t sum = 0;
	memcpy(p, &f, sizeof(f));
	for (size_t i = 2; i < PIXELS; i++) {
		p[i] = pattern(f, i);
		sum += p[i];
	}
	return sum;
}

/* Checks frame `want` in place: 0, or why not. Adds its pixels to *sum. */
static const char *check(const uint32_t *p, size_t len, uint64_t want,
                         uint64_t *sum)
{
	static char why[160];
	uint64_t f, s = 0, bad = 0;
	if (len != FRAME_BYTES)
		return "a frame of the wrong size";
	memcpy(&f, p, sizeof(f));
	if (f != want) {
		snprintf(why, sizeof(why), "frame %" PRIu64 " came where %"
		         PRIu64 " was due", f, want);
		return why;
	}
	for (size_t i = 2; i < PIXELS; i++) {
		s += p[i];
		bad += p[i] != pattern(f, i);
	}
	*sum += s;
	if (!bad)
		return NULL;
	snprintf(why, sizeof(why), "frame %" PRIu64 ": %" PRIu64 " pixels "
	         "differ from what was sent", f, bad);
	return why;
}

/* A viewer: joins, says so, then checks every frame until the end. */
static int view(const char *name, int joined, struct tally *t)
{
	shmq_chan *ch;
	const void *shown = NULL, *next;
	const char *why;
	int rc = shmq_chan_open(&ch, name, SHMQ_READER, NULL);
	if (rc < 0)
		return fail(rc, name);
	if (write(joined, "j", 1) != 1)
		return 1;
	close(joined);
	ssize_t n;
	while ((n = shmq_chan_peek(ch, &next)) >= 0) {
		if ((why = check(next, (size_t)n, t->frames, &t->sum))) {
			if (!t->bad++)
				snprintf(t->why, sizeof(t->why), "%s", why);
		}
		t->frames++;
		/* The new frame is checked: the one shown goes back. */
		if (shown && (rc = shmq_chan_release_at(ch, shown)) < 0)
			break;
		shown = next;
	}
	if (shown)
		shmq_chan_release_at(ch, shown);
	shmq_chan_close(ch);
	if (n == SHMQ_EPEERDEAD)
		snprintf(t->why, sizeof(t->why), "the producer died");
	else if (n != -EPIPE) /* -EPIPE: the end of the stream */
		return fail(n < 0 ? (int)n : rc, name);
	return n == -EPIPE ? 0 : 1;
}

static void next_tick(struct timespec *t, long period_ns)
{
	t->tv_nsec += period_ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

/* The producer: a frame every period, in place. The checksum in *sum. */
static int produce(shmq_chan *ch, const char *name, uint64_t frames,
                   long period_ns, uint64_t *sum)
{
	struct timespec tick;
	clock_gettime(CLOCK_MONOTONIC, &tick);
	for (uint64_t f = 0; f < frames; f++) {
		void *p;
		int rc = shmq_chan_reserve(ch, FRAME_BYTES, &p);
		if (rc == 0) {
			*sum += draw(p, f);
			rc = shmq_chan_commit(ch, FRAME_BYTES);
		}
		if (rc < 0)
			return fail(rc, name);
		next_tick(&tick, period_ns);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick,
		                       NULL) == EINTR)
			;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: frames NAME [FRAMES [FPS]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct shmq_chan_opts o = {
		.kind = SHMQ_CHAN_SAMPLES, .capacity = POOL,
		.msg_size = FRAME_BYTES, .hold = HOLD, .spin_ns = -1,
	};
	uint64_t frames = 120, sum = 0;
	long fps = 60;
	int joined[2], rc, bad = 0;
	pid_t pid[VIEWERS];
	shmq_chan *ch;

	if (argc < 2 || argc > 4)
		return usage();
	if (argc > 2 && (frames = strtoull(argv[2], NULL, 10)) == 0)
		return usage();
	if (argc > 3 && ((fps = strtol(argv[3], NULL, 10)) <= 0 ||
	                 fps > 1000000))
		return usage();
	struct tally *t = mmap(NULL, VIEWERS * sizeof(*t),
	                       PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED || pipe(joined) < 0)
		return fail(-errno, "mmap, pipe");
	if ((rc = shmq_chan_create(&ch, argv[1], SHMQ_WRITER, &o)) < 0)
		return fail(rc, argv[1]);
	fflush(NULL);
	for (int v = 0; v < VIEWERS; v++) {
		if ((pid[v] = fork()) < 0)
			return fail(-errno, argv[1]);
		if (pid[v] == 0) {
			/* A viewer joins by name, as an unrelated process
			 * would; the writer's handle is the parent's. */
			close(joined[0]);
			_exit(view(argv[1], joined[1], &t[v]));
		}
	}
	close(joined[1]);
	char c;
	for (int v = 0; v < VIEWERS; v++)
		if (read(joined[0], &c, 1) != 1)
			break; /* a viewer failed: it said why */
	rc = produce(ch, argv[1], frames, 1000000000L / fps, &sum);
	shmq_chan_close(ch); /* the end of the stream */
	printf("producer: %" PRIu64 " frames of %dx%d RGBA (%zu bytes) at "
	       "%ld fps, checksum %016" PRIx64 "\n", frames, WIDTH, HEIGHT,
	       FRAME_BYTES, fps, sum);
	for (int v = 0; v < VIEWERS; v++) {
		int st;
		waitpid(pid[v], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) || t[v].bad ||
		       t[v].frames != frames || t[v].sum != sum;
		printf("viewer %d: %" PRIu64 " frames in order, %" PRIu64
		       " bad, checksum %016" PRIx64 "%s%s\n", v + 1,
		       t[v].frames, t[v].bad, t[v].sum, t[v].why[0] ? ": " : "",
		       t[v].why);
	}
	printf("%s\n", rc || bad ? "FAILED" : "ok");
	return rc || bad;
}
