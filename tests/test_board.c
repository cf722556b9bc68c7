/*
 * Boards: set/get, names, untorn reads under a writer at full speed, waits
 * and the fd, and bad input (wrong names, sizes, scribbled boards). Crash
 * points are in test_crash.c.
 */
#include "board.h" /* the object's bytes, to scribble on */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static shmq_board *make(const char *loc, uint32_t k, uint32_t v)
{
	struct shmq_board_opts o = {.entries = k, .value_size = v};
	shmq_board *b = NULL;
	CHECK_EQ(shmq_board_create(&b, loc, &o), 0);
	return b;
}

static shmq_board *attach(const char *loc)
{
	shmq_board *b = NULL;
	CHECK_EQ(shmq_board_open(&b, loc, NULL), 0);
	return b;
}

TEST(board_set_get_roundtrip)
{
	char loc[96], buf[64];
	uint64_t seq = 99;
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_board *b = make(loc, 4, 16);
	CHECK_EQ(shmq_board_get(b, 2, buf, sizeof(buf), &seq), 0);
	CHECK_EQ(seq, 0); /* never set */
	CHECK_EQ(shmq_board_set(b, 2, "hello", 5), 0);
	CHECK_EQ(shmq_board_set(b, 2, "world!", 6), 0);
	shmq_board *r = attach(loc); /* another handle sees it */
	CHECK_EQ(shmq_board_get(r, 2, buf, sizeof(buf), &seq), 6);
	CHECK(!memcmp(buf, "world!", 6));
	CHECK_EQ(seq, 2);
	CHECK_EQ(shmq_board_seq(r, 2, &seq), 0);
	CHECK_EQ(seq, 2);
	CHECK_EQ(shmq_board_seq(r, SHMQ_BOARD_ANY, &seq), 0);
	CHECK_EQ(seq, 2);
	CHECK_EQ(shmq_board_set(b, 1, "", 0), 0); /* an empty value is one */
	CHECK_EQ(shmq_board_get(r, 1, buf, sizeof(buf), &seq), 0);
	CHECK_EQ(seq, 1);
	struct shmq_board_info in;
	CHECK_EQ(shmq_board_info(r, &in), 0);
	CHECK_EQ(in.entries, 4);
	CHECK_EQ(in.value_size, 16);
	CHECK_EQ(in.updates, 3);
	CHECK_EQ(in.recovered, 0);
	CHECK_EQ(shmq_board_stat(loc, &in), 0);
	CHECK_EQ(in.updates, 3);
	struct stat sb;
	char path[128];
	CHECK_EQ(stat(t_shm_path(path, sizeof(path), loc), &sb), 0);
	CHECK_EQ(sb.st_mode & 0777, 0600);
	CHECK_EQ(shmq_board_close(r), 0);
	CHECK_EQ(shmq_board_close(b), 0);
	CHECK_EQ(shmq_board_unlink(loc), 0);
	CHECK_EQ(shmq_board_open(&r, loc, NULL), -ENOENT);
}

TEST(board_bad_arguments_are_refused)
{
	char loc[96], buf[8];
	uint64_t seq;
	shmq_board *b = NULL;
	t_posix_loc(loc, sizeof(loc), "b");
	struct shmq_board_opts o = {.entries = 2, .value_size = 8};
	struct shmq_board_opts zero_k = {.value_size = 8}, zero_v = {.entries = 2};
	struct shmq_board_opts big = {.entries = SHMQ_BOARD_MAX_ENTRIES + 1,
	                              .value_size = 8};
	struct shmq_board_opts res = {.entries = 2, .value_size = 8,
	                              .reserved = {0, 1}};
	CHECK_EQ(shmq_board_create(&b, loc, &zero_k), -EINVAL);
	CHECK_EQ(shmq_board_create(&b, loc, &zero_v), -EINVAL);
	CHECK_EQ(shmq_board_create(&b, loc, &big), -EINVAL);
	CHECK_EQ(shmq_board_create(&b, loc, &res), -EINVAL);
	CHECK_EQ(shmq_board_create(&b, "sysv:private", &o), SHMQ_EFAMILY);
	CHECK_EQ(shmq_board_create(&b, "no:such", &o), SHMQ_ELOCATOR);
	CHECK(b == NULL);
	b = make(loc, 2, 8);
	shmq_board *b2;
	CHECK_EQ(shmq_board_create(&b2, loc, &o), -EEXIST);
	o.flags = SHMQ_OPEN_OK;
	CHECK_EQ(shmq_board_create(&b2, loc, &o), 0); /* joins it */
	CHECK_EQ(shmq_board_close(b2), 0);
	CHECK_EQ(shmq_board_set(b, 2, "x", 1), -EINVAL);
	CHECK_EQ(shmq_board_set(b, 0, "123456789", 9), -EMSGSIZE);
	CHECK_EQ(shmq_board_set(b, 0, NULL, 1), -EINVAL);
	CHECK_EQ(shmq_board_set(b, 0, "12345678", 8), 0);
	CHECK_EQ(shmq_board_get(b, 0, buf, 4, &seq), -EMSGSIZE);
	CHECK_EQ(seq, 1);
	CHECK_EQ(shmq_board_get(b, 5, buf, sizeof(buf), &seq), -EINVAL);
	CHECK_EQ(shmq_board_seq(b, 5, &seq), -EINVAL);
	CHECK_EQ(shmq_board_wait_timed(b, 7, 0, NULL), -EINVAL);
	/* a segment is not a board, and stays */
	char sloc[96];
	shmq_seg *seg;
	struct shmq_seg_opts so = {.size = 4096};
	t_posix_loc(sloc, sizeof(sloc), "seg");
	CHECK_EQ(shmq_seg_create(&seg, sloc, &so), 0);
	CHECK_EQ(shmq_board_open(&b2, sloc, NULL), SHMQ_ENOTBOARD);
	CHECK_EQ(shmq_board_unlink(sloc), SHMQ_ENOTBOARD);
	CHECK_EQ(shmq_seg_close(seg), 0);
	CHECK_EQ(shmq_seg_unlink(sloc), 0);
	char why[256];
	shmq_explain(SHMQ_ENOTBOARD, sloc, 0, why, sizeof(why));
	CHECK_HAS(why, "not a shmq board");
	shmq_board_close(b);
	shmq_board_unlink(loc);
}

TEST(board_names_map_to_entries)
{
	char loc[96], name[SHMQ_BOARD_NAME_MAX + 1];
	char longname[SHMQ_BOARD_NAME_MAX + 2];
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_board *b = make(loc, 3, 8);
	CHECK_EQ(shmq_board_set(b, 0, "v", 1), 0); /* entry 0 has a value */
	CHECK_EQ(shmq_board_find(b, "price"), -ENOENT);
	CHECK_EQ(shmq_board_bind(b, "price"), 1); /* first free: 1 */
	CHECK_EQ(shmq_board_bind(b, "price"), 1); /* the same */
	CHECK_EQ(shmq_board_bind(b, "volume"), 2);
	CHECK_EQ(shmq_board_bind(b, "third"), -ENOSPC);
	shmq_board *r = attach(loc);
	CHECK_EQ(shmq_board_find(r, "volume"), 2);
	CHECK_EQ(shmq_board_name(r, 1, name, sizeof(name)), 5);
	CHECK(!strcmp(name, "price"));
	CHECK_EQ(shmq_board_name(r, 0, name, sizeof(name)), 0);
	CHECK_EQ(shmq_board_name(r, 1, name, 3), -ERANGE);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ(shmq_board_bind(b, longname), -EINVAL);
	CHECK_EQ(shmq_board_find(b, ""), -EINVAL);
	struct shmq_board_info in;
	CHECK_EQ(shmq_board_info(r, &in), 0);
	CHECK_EQ(in.named, 2);
	shmq_board_close(r);
	shmq_board_close(b);
	shmq_board_unlink(loc);
}

/* ---- Untorn under a writer at full speed --------------------------------- */

#define VSIZE 8192

/* Value n: its length 8 + n % (VSIZE - 7) bytes, each 8-byte word n, the
 * tail n's low byte. A torn copy mixes two values: some word differs. */
static size_t fill_value(unsigned char *v, uint64_t n)
{
	size_t len = 8 + n % (VSIZE - 7);
	for (size_t at = 0; at < len; at++)
		v[at] = (unsigned char)(n >> (8 * (at % 8)));
	return len;
}

static void check_value(const unsigned char *v, ssize_t len, uint64_t seq)
{
	unsigned char want[VSIZE];
	CHECK_EQ(len, (ssize_t)fill_value(want, seq));
	CHECK(!memcmp(v, want, (size_t)len));
}

static void reader(const char *loc, uint64_t last, int ready)
{
	shmq_board *b = attach(loc);
	unsigned char v[VSIZE];
	uint64_t seq, prev = 0, reads = 0;
	CHECK_EQ(write(ready, "r", 1), 1);
	do {
		ssize_t len = shmq_board_get(b, 1, v, sizeof(v), &seq);
		CHECK(len >= 0 || len == -EBUSY);
		if (len < 0 || seq == 0)
			continue;
		CHECK(seq >= prev); /* never back in time */
		check_value(v, len, seq);
		prev = seq;
		reads++;
	} while (prev < last);
	CHECK(reads > 0);
	shmq_board_close(b);
	_exit(0);
}

TEST(board_readers_never_see_torn_values)
{
	char loc[96], c;
	int go[2];
	const uint64_t last = t_long() ? 1000000 : 100000;
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_board *b = make(loc, 4, VSIZE);
	CHECK_EQ(pipe(go), 0);
	pid_t r[2];
	for (int k = 0; k < 2; k++) {
		r[k] = fork();
		CHECK(r[k] >= 0);
		if (r[k] == 0)
			reader(loc, last, go[1]);
	}
	for (int k = 0; k < 2; k++)
		CHECK_EQ(read(go[0], &c, 1), 1);
	unsigned char v[VSIZE];
	for (uint64_t n = 1; n <= last; n++) {
		size_t len = fill_value(v, n);
		CHECK_EQ(shmq_board_set(b, 1, v, len), 0);
	}
	for (int k = 0; k < 2; k++)
		CHECK_EQ(t_wait(r[k]), 0);
	close(go[0]);
	close(go[1]);
	shmq_board_close(b);
	shmq_board_unlink(loc);
}

/* ---- Waits ------------------------------------------------------------------ */

/* Ping-pong through two entries: every wait must end with the value its
 * peer just set (a lost wakeup would hang until the test's timeout). */
TEST(board_wait_sees_every_change)
{
	char loc[96];
	const uint64_t rounds = 2000;
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_board *b = make(loc, 2, 8);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_board *c = attach(loc);
		for (uint64_t n = 1; n <= rounds; n++) {
			uint64_t v = 0, seq;
			CHECK_EQ(shmq_board_wait(c, 0, n - 1), 0);
			CHECK_EQ(shmq_board_get(c, 0, &v, sizeof(v), &seq), 8);
			CHECK_EQ(v, n);
			CHECK_EQ(seq, n);
			CHECK_EQ(shmq_board_set(c, 1, &v, sizeof(v)), 0);
		}
		shmq_board_close(c);
		_exit(0);
	}
	for (uint64_t n = 1; n <= rounds; n++) {
		uint64_t v = n, seq;
		struct timespec dl = shmq_deadline(10000);
		CHECK_EQ(shmq_board_set(b, 0, &v, sizeof(v)), 0);
		CHECK_EQ(shmq_board_wait_timed(b, 1, n - 1, &dl), 0);
		CHECK_EQ(shmq_board_get(b, 1, &v, sizeof(v), &seq), 8);
		CHECK_EQ(v, n);
	}
	CHECK_EQ(t_wait(pid), 0);
	shmq_board_close(b);
	shmq_board_unlink(loc);
}

/* A waiter asleep in the kernel is woken by a set of its entry, or of any
 * entry for SHMQ_BOARD_ANY; a wait with nothing set times out. */
TEST(board_sleeping_waiter_wakes)
{
	char loc[96];
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_board *b = make(loc, 3, 8);
	struct timespec soon = shmq_deadline(30);
	CHECK_EQ(shmq_board_wait_timed(b, 0, 0, &soon), -ETIMEDOUT);
	CHECK_EQ(shmq_board_try_wait(b, 0, 0), -EAGAIN);
	for (int any = 0; any < 2; any++) {
		uint32_t i = any ? SHMQ_BOARD_ANY : 2;
		uint64_t seen;
		CHECK_EQ(shmq_board_seq(b, i, &seen), 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			shmq_board *c = attach(loc);
			struct timespec dl = shmq_deadline(10000);
			_exit(shmq_board_wait_timed(c, i, seen, &dl) == 0 ? 0 : 1);
		}
		while (t_blocked_in(pid) != SYS_futex)
			sched_yield();
		CHECK_EQ(shmq_board_set(b, any ? 1 : 2, "x", 1), 0);
		CHECK_EQ(t_wait(pid), 0);
	}
	shmq_board_close(b);
	shmq_board_unlink(loc);
}

TEST(board_fd_is_readable_on_change)
{
	char loc[96];
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_board *b = make(loc, 2, 8);
	int fd = shmq_board_fd(b);
	CHECK(fd >= 0);
	CHECK_EQ(shmq_board_fd(b), fd);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN}, got;
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	for (uint64_t n = 0; n < 20; n++) {
		/* arm: nothing new; the fd is readable again after a set */
		CHECK_EQ(shmq_board_try_wait(b, 1, n), -EAGAIN);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			shmq_board *c = attach(loc);
			_exit(shmq_board_set(c, 1, &n, sizeof(n)) == 0 ? 0 : 1);
		}
		/* a wake may be spurious (the try_ call re-arms), never lost */
		do
			CHECK_EQ(epoll_wait(ep, &got, 1, 10000), 1);
		while (shmq_board_try_wait(b, 1, n) == -EAGAIN);
		CHECK_EQ(t_wait(pid), 0);
	}
	close(ep);
	shmq_board_close(b);
	shmq_board_unlink(loc);
}

/* ---- Scribbled boards ------------------------------------------------------ */

/* The board at loc mapped by us as a plain segment, to scribble on. */
static unsigned char *raw(const char *loc, shmq_seg **seg)
{
	CHECK_EQ(shmq_seg_open(seg, loc, NULL), 0);
	return shmq_seg_addr(*seg);
}

TEST(board_scribbled_header_is_refused)
{
	char loc[96];
	shmq_board *b;
	shmq_seg *seg;
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_board_close(make(loc, 2, 8));
	struct shmq_board_hdr *h = (struct shmq_board_hdr *)raw(loc, &seg);
	h->version = 77;
	CHECK_EQ(shmq_board_open(&b, loc, NULL), SHMQ_EVERSION);
	h->version = SHMQ_BOARD_VERSION;
	h->entries = 3; /* the size no longer matches */
	CHECK_EQ(shmq_board_open(&b, loc, NULL), -EBADMSG);
	h->entries = 0;
	CHECK_EQ(shmq_board_open(&b, loc, NULL), -EBADMSG);
	h->entries = 2;
	h->value_size = 1u << 30;
	CHECK_EQ(shmq_board_open(&b, loc, NULL), -EBADMSG);
	h->value_size = 8;
	h->magic = 0;
	CHECK_EQ(shmq_board_open(&b, loc, NULL), SHMQ_ENOTBOARD);
	h->magic = SHMQ_BOARD_MAGIC;
	CHECK_EQ(shmq_board_open(&b, loc, NULL), 0);
	shmq_board_close(b);
	shmq_seg_close(seg);
	shmq_board_unlink(loc);
}

TEST(board_scribbled_entry_gives_errors)
{
	char loc[96], buf[64];
	uint64_t seq;
	shmq_seg *seg;
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_board *b = make(loc, 2, 8);
	CHECK_EQ(shmq_board_set(b, 0, "abc", 3), 0);
	unsigned char *base = raw(loc, &seg);
	struct shmq_board_entry *e =
		(struct shmq_board_entry *)(base + SHMQ_BOARD_HDR_SIZE);
	/* a length beyond V */
	atomic_store(&e->len[1], 1000);
	CHECK_EQ(shmq_board_get(b, 0, buf, sizeof(buf), &seq), -EBADMSG);
	atomic_store(&e->len[1], 3);
	CHECK_EQ(shmq_board_get(b, 0, buf, sizeof(buf), &seq), 3);
	/* a name without its NUL: read as 63 bytes, never past the line */
	memset(e->name, 'z', sizeof(e->name));
	atomic_store(&e->has_name, 1);
	CHECK_EQ(shmq_board_name(b, 0, buf, sizeof(buf)), 63);
	/* a lock word that names a live task (us): a timed set from another
	 * process gives up at its deadline */
	atomic_store(&e->lock.word, (uint32_t)getpid());
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct timespec dl = shmq_deadline(50);
		_exit(shmq_board_set_timed(b, 0, "x", 1, &dl) == -ETIMEDOUT
		      ? 0 : 1);
	}
	CHECK_EQ(t_wait(pid), 0);
	/* a scribbled lock: the set (the entry's) or bind (the board's)
	 * says so */
	memset(&e->lock, 0xff, sizeof(e->lock));
	CHECK_EQ(shmq_board_set(b, 0, "x", 1), -EBADMSG);
	CHECK_EQ(shmq_board_set(b, 1, "x", 1), 0); /* another entry: fine */
	memset(base + offsetof(struct shmq_board_hdr, lock), 0xff, 16);
	CHECK_EQ(shmq_board_bind(b, "new"), -EBADMSG);
	/* shrunk under us: SHMQ_ETRUNCATED from then on, no SIGBUS */
	shmq_seg_close(seg);
	t_cut(loc, 0, NULL);
	CHECK_EQ(shmq_board_get(b, 1, buf, sizeof(buf), &seq), SHMQ_ETRUNCATED);
	CHECK_EQ(shmq_board_set(b, 1, "x", 1), SHMQ_ETRUNCATED);
	shmq_board_close(b);
	shmq_board_unlink(loc);
}

/* A seq that a hostile process keeps moving, forward and back, cannot
 * hold a reader: each get ends, with the value or an error. */
TEST(board_get_under_a_seq_storm_ends)
{
	char loc[96], buf[8];
	uint64_t seq;
	shmq_seg *seg;
	t_posix_loc(loc, sizeof(loc), "b");
	shmq_board *b = make(loc, 1, 8);
	struct shmq_board_entry *e = (struct shmq_board_entry *)(raw(loc, &seg) +
	                                                       SHMQ_BOARD_HDR_SIZE);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		for (uint64_t n = 0;; n++) /* killed below */
			atomic_store(&e->seq, n & 1 ? 2 : 1000002);
	for (int k = 0; k < 2000; k++) {
		ssize_t rc = shmq_board_get(b, 0, buf, sizeof(buf), &seq);
		CHECK(rc >= 0 || rc == -EBUSY || rc == -EBADMSG);
	}
	kill(pid, SIGKILL);
	t_wait(pid);
	shmq_seg_close(seg);
	shmq_board_close(b);
	shmq_board_unlink(loc);
}
