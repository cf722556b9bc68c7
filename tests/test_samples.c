/*
 * Sample channels: a writer loans samples of a pool in a separate data
 * segment, readers get read-only pointers to the same bytes. Real
 * processes on both ends; pipes say when a reader has joined.
 */
#include "layout.h"
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SAMPLE (64u << 10)

static shmq_chan *make_samples(const char *loc, size_t n, size_t size,
                               uint32_t hold, uint32_t history, int policy,
                               int role)
{
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SAMPLES, .capacity = n,
	                           .msg_size = size, .policy = policy,
	                           .spin_ns = -1, .hold = hold,
	                           .history = history};
	shmq_chan *ch = NULL;
	int rc = shmq_chan_create(&ch, loc, role, &o);
	if (rc < 0)
		t_fail(__FILE__, __LINE__, "create", "%s", shmq_strerror(rc));
	return ch;
}

/* A pipe for readers to say they joined, a name, and a BLOCK writer. */
static shmq_chan *start_writer(char *loc, size_t loclen, const char *tag,
                               int fds[2], size_t n, size_t size,
                               uint32_t hold)
{
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, loclen, tag);
	return make_samples(loc, n, size, hold, 0, SHMQ_POLICY_BLOCK,
	                    SHMQ_WRITER);
}

/* Sample i's bytes: its number, then bytes that depend on it. */
static size_t fill(unsigned char *p, size_t max, uint64_t i)
{
	size_t len = 8 + (i * 7919) % (max - 8 + 1);
	memcpy(p, &i, 8);
	for (size_t k = 8; k < len; k++)
		p[k] = (unsigned char)(i * 31 + k);
	return len;
}

static int sample_ok(const unsigned char *p, size_t len, uint64_t *num)
{
	uint64_t i;
	if (len < 8)
		return 0;
	memcpy(&i, p, 8);
	for (size_t k = 8; k < len; k++)
		if (p[k] != (unsigned char)(i * 31 + k))
			return 0;
	*num = i;
	return 1;
}

/* The System V id of ch's data segment, from its header. */
static int data_id(const char *loc)
{
	char path[256];
	struct shmq_chan_hdr h;
	int fd = open(t_shm_path(path, sizeof(path), loc), O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &h, sizeof(h), 0), sizeof(h));
	close(fd);
	return (int)h.data_id;
}

static int seg_exists(int id)
{
	struct shmid_ds ds;
	return shmctl(id, IPC_STAT, &ds) == 0;
}

/* A reader that joins, says so on `ready`, then takes n samples holding
 * up to `hold` at once and giving them back out of order: with 3 held it
 * releases the middle one (release_at), then the oldest (release). */
static void holding_reader(const char *loc, int ready, uint64_t n,
                           uint32_t hold)
{
	const void *held[8];
	uint64_t nums[8];
	unsigned nheld = 0;
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(write(ready, "r", 1), 1);
	for (uint64_t want = 0; want < n; want++) {
		const void *p;
		ssize_t len = shmq_chan_peek(r, &p);
		if (len < 0)
			t_fail(__FILE__, __LINE__, "peek", "sample %llu: %s",
			       (unsigned long long)want, shmq_strerror((int)len));
		uint64_t num;
		CHECK(sample_ok(p, (size_t)len, &num));
		CHECK_EQ(num, want);
		unsigned char tmp[SAMPLE];
		CHECK_EQ(len, fill(tmp, SAMPLE, num));
		held[nheld] = p;
		nums[nheld++] = num;
		if (nheld < hold)
			continue;
		/* full: a peek now is refused */
		CHECK_EQ(shmq_chan_try_peek(r, &p), -EBUSY);
		/* every held sample is still whole: nothing reused it */
		for (unsigned k = 0; k < nheld; k++) {
			CHECK(sample_ok(held[k], 8, &num));
			CHECK_EQ(num, nums[k]);
		}
		unsigned k = nheld > 2 ? 1 : 0;
		CHECK_EQ(shmq_chan_release_at(r, (const char *)held[k] + 5), 0);
		CHECK_EQ(shmq_chan_release_at(r, held[k]), -EINVAL);
		memmove(&held[k], &held[k + 1], (nheld - k - 1) * sizeof(held[0]));
		memmove(&nums[k], &nums[k + 1], (nheld - k - 1) * sizeof(nums[0]));
		nheld--;
		if (nheld > 1) { /* and the oldest */
			CHECK_EQ(shmq_chan_release(r), 0);
			memmove(&held[0], &held[1], (nheld - 1) * sizeof(held[0]));
			memmove(&nums[0], &nums[1], (nheld - 1) * sizeof(nums[0]));
			nheld--;
		}
	}
	while (nheld--)
		CHECK_EQ(shmq_chan_release(r), 0);
	CHECK_EQ(shmq_chan_release(r), -EINVAL); /* nothing held */
	const void *p;
	CHECK_EQ(shmq_chan_peek(r, &p), -EPIPE); /* the writer closed */
	CHECK_EQ(shmq_chan_lost(r), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

static pid_t fork_reader(const char *loc, int fds[2], uint64_t n,
                         uint32_t hold)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		holding_reader(loc, fds[1], n, hold);
		_exit(0);
	}
	return pid;
}

static void wait_ready(int fd, int n)
{
	char c;
	for (int i = 0; i < n; i++)
		CHECK_EQ(read(fd, &c, 1), 1);
}

/* 1 writer, 3 readers each holding up to 3 samples and releasing them out
 * of order: every reader gets every sample, byte-exact, in order, from a
 * pool of 16 (so samples are reused many times over). */
TEST(samples_three_readers_get_every_sample_byte_exact_holding_three)
{
	char loc[128];
	int fds[2];
	const uint64_t n = 3000;
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), "s");
	shmq_chan *w = make_samples(loc, 16, SAMPLE, 3, 0, SHMQ_POLICY_BLOCK,
	                            SHMQ_WRITER);
	CHECK_EQ(shmq_chan_max_msg(w), SAMPLE);
	pid_t pids[3];
	for (int i = 0; i < 3; i++)
		pids[i] = fork_reader(loc, fds, n, 3);
	close(fds[1]);
	wait_ready(fds[0], 3);
	close(fds[0]);
	for (uint64_t i = 0; i < n; i++) {
		void *p;
		CHECK_EQ(shmq_chan_reserve(w, SAMPLE, &p), 0);
		CHECK_EQ(shmq_chan_commit(w, fill(p, SAMPLE, i)), 0);
	}
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(w, &in), 0);
	CHECK_EQ(in.kind, SHMQ_CHAN_SAMPLES);
	CHECK_EQ(in.sent, n);
	CHECK_EQ(shmq_chan_close(w), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(t_wait(pids[i]), 0);
}

/* send and recv copy in and out; recv gives the sample back at once. */
TEST(samples_send_and_recv_copy_and_release_at_once)
{
	char loc[128], buf[100];
	t_posix_loc(loc, sizeof(loc), "c");
	shmq_chan *w = make_samples(loc, 4, 64, 1, 0, SHMQ_POLICY_BLOCK,
	                            SHMQ_WRITER);
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	for (int i = 0; i < 20; i++) {
		snprintf(buf, sizeof(buf), "sample %d", i);
		CHECK_EQ(shmq_chan_send(w, buf, strlen(buf) + 1), 0);
		char got[64];
		CHECK_EQ(shmq_chan_recv(r, got, sizeof(got)), strlen(buf) + 1);
		CHECK(strcmp(got, buf) == 0);
	}
	CHECK_EQ(shmq_chan_send(w, buf, 65), -EMSGSIZE);
	CHECK_EQ(shmq_chan_send(w, "0123456789", 11), 0);
	char small[4];
	CHECK_EQ(shmq_chan_recv(r, small, sizeof(small)), -EMSGSIZE);
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 11); /* it stayed */
	CHECK_EQ(shmq_chan_try_recv(r, buf, sizeof(buf)), -EAGAIN);
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(w, &in), 0);
	CHECK_EQ(in.pool_free, 4);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* The reader's pointer is the writer's bytes, not a copy: a byte the
 * writer changes after commit (never done in real code) shows through the
 * reader's held pointer. And a held sample is never loaned again: the
 * writer fills the rest of the pool, then waits. */
TEST(samples_reader_sees_the_writers_bytes_and_its_held_sample_is_not_reused)
{
	char loc[128];
	int up[2], down[2];
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	t_posix_loc(loc, sizeof(loc), "z");
	shmq_chan *w = make_samples(loc, 4, 4096, 1, 0, SHMQ_POLICY_BLOCK,
	                            SHMQ_WRITER);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
		const unsigned char *p;
		char c;
		CHECK_EQ(write(up[1], "j", 1), 1);
		CHECK_EQ(shmq_chan_peek(r, (const void **)&p), 100);
		CHECK_EQ(p[0], 'A');
		CHECK_EQ(write(up[1], "p", 1), 1);
		CHECK_EQ(read(down[0], &c, 1), 1); /* the writer changed it */
		CHECK_EQ(p[0], 'B');
		CHECK_EQ(p[99], 'Z');
		CHECK_EQ(read(down[0], &c, 1), 1); /* the pool is full */
		CHECK_EQ(p[0], 'B');
		CHECK_EQ(shmq_chan_release(r), 0);
		CHECK_EQ(shmq_chan_close(r), 0);
		_exit(0);
	}
	char c;
	CHECK_EQ(read(up[0], &c, 1), 1);
	unsigned char *first;
	CHECK_EQ(shmq_chan_reserve(w, 100, (void **)&first), 0);
	memset(first, 'A', 100);
	first[99] = 'Z';
	CHECK_EQ(shmq_chan_commit(w, 100), 0);
	CHECK_EQ(read(up[0], &c, 1), 1); /* the reader holds it */
	first[0] = 'B';
	CHECK_EQ(write(down[1], "b", 1), 1);
	/* 4 samples, 1 held: 3 more loans, none of them the held one (the
	 * reader queues them), then the pool is empty */
	for (int i = 0; i < 3; i++) {
		unsigned char *p;
		CHECK_EQ(shmq_chan_try_reserve(w, 100, (void **)&p), 0);
		CHECK(p != first);
		memset(p, 'C', 100);
		CHECK_EQ(shmq_chan_commit(w, 100), 0);
	}
	void *p;
	CHECK_EQ(shmq_chan_try_reserve(w, 100, &p), -EAGAIN);
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(w, &in), 0);
	CHECK_EQ(in.pool_free, 0);
	CHECK_EQ(write(down[1], "f", 1), 1);
	CHECK_EQ(t_wait(pid), 0);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	/* the reader closed: what it held and had queued came back */
	CHECK_EQ(shmq_chan_info(w, &in), 0);
	CHECK_EQ(in.pool_free, 4);
	CHECK_EQ(shmq_chan_try_reserve(w, 100, &p), 0);
	CHECK_EQ(shmq_chan_abandon(w), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* A reader's mapping is read-only: a store faults (SIGSEGV), and it
 * cannot be made writable. */
TEST(samples_reader_cannot_write_the_bytes_other_readers_see)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "ro");
	shmq_chan *w = make_samples(loc, 4, 8192, 1, 0, SHMQ_POLICY_BLOCK,
	                            SHMQ_WRITER);
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(shmq_chan_send(w, "hello", 6), 0);
	const void *p;
	CHECK_EQ(shmq_chan_peek(r, &p), 6);
	CHECK(mprotect((void *)p, 4096, PROT_READ | PROT_WRITE) < 0);
	CHECK_EQ(errno, EACCES);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL); /* not the sanitizer's report */
		*(volatile char *)p = 'X';
		_exit(0);
	}
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	CHECK(memcmp(p, "hello", 6) == 0);
	CHECK_EQ(shmq_chan_release(r), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* Samples lie `stride` apart: the message rounded to 128 B while that is
 * under a page (a pool of small samples spans few pages), else to the
 * page. The writer loans them N/2 + 1 apart (3 of 4), not in address
 * order, and every sample comes in turn. */
TEST(samples_small_samples_are_packed_on_128_bytes_big_ones_on_pages)
{
	static const size_t size[] = {1, 64, 129, 3000, 4000, 4097};
	static const size_t want[] = {128, 128, 256, 3072, 4096, 8192};
	for (size_t k = 0; k < sizeof(size) / sizeof(size[0]); k++) {
		char loc[128], *first = NULL;
		unsigned seen = 0, at = 0;
		t_posix_loc(loc, sizeof(loc), "pk");
		shmq_chan *w = make_samples(loc, 4, size[k], 1, 0,
		                            SHMQ_POLICY_BLOCK, SHMQ_WRITER);
		for (int n = 0; n < 4; n++) {
			void *p;
			CHECK_EQ(shmq_chan_reserve(w, size[k], &p), 0);
			CHECK_EQ((uintptr_t)p % (want[k] < 4096 ? 128 : 4096), 0);
			if (!first)
				first = p;
			size_t off = (size_t)((char *)p - first);
			CHECK_EQ(off % want[k], 0);
			unsigned i = (unsigned)(off / want[k]);
			CHECK(i < 4);
			CHECK_EQ(i, at); /* 0, 3, 2, 1: steps of 3 mod 4 */
			at = (at + 3) % 4;
			seen |= 1u << i;
			memset(p, 0xa5, size[k]);
			CHECK_EQ(shmq_chan_commit(w, size[k]), 0);
		}
		CHECK_EQ(seen, 0xfu);
		CHECK_EQ(shmq_chan_close(w), 0);
	}
}

/* Geometries that cannot make progress are refused, with SHMQ_EPOOL when
 * the pool is too small for the readers, their holds and the history. */
TEST(samples_refuse_geometries_that_cannot_make_progress)
{
	char loc[128];
	shmq_chan *ch;
	t_posix_loc(loc, sizeof(loc), "g");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SAMPLES, .capacity = 4,
	                           .msg_size = 64, .spin_ns = -1, .hold = 3};
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), SHMQ_EPOOL);
	o.hold = 1;
	o.history = 2;
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), SHMQ_EPOOL);
	o.history = 0;
	o.capacity = 8192; /* above SHMQ_SAMPLES_MAX */
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), -EINVAL);
	struct shmq_chan_opts b = {.kind = SHMQ_CHAN_BROADCAST, .hold = 2,
	                           .spin_ns = -1};
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &b), -EINVAL);
	b.hold = 0;
	b.flags = SHMQ_CHAN_HUGE_2M;
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &b), -EINVAL);
	CHECK(strstr(shmq_strerror(SHMQ_EPOOL), "readers * hold") != NULL);
	/* 8 samples, hold 2, history 1: (8 - 1 - 2) / 2 = 2 readers */
	shmq_chan *w = make_samples(loc, 8, 64, 2, 1, SHMQ_POLICY_BLOCK,
	                            SHMQ_WRITER);
	shmq_chan *r1 = t_chan_attach(loc, SHMQ_READER);
	shmq_chan *r2 = t_chan_attach(loc, SHMQ_READER);
	shmq_chan *r3;
	CHECK_EQ(shmq_chan_open(&r3, loc, SHMQ_READER, NULL), SHMQ_EPOOL);
	CHECK_EQ(shmq_chan_close(r2), 0);
	CHECK_EQ(shmq_chan_open(&r3, loc, SHMQ_READER, NULL), 0);
	shmq_chan *w2;
	CHECK_EQ(shmq_chan_open(&w2, loc, SHMQ_WRITER, NULL), -EBUSY);
	CHECK_EQ(shmq_chan_close(r3), 0);
	CHECK_EQ(shmq_chan_close(r1), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* The data segment is gone with the last process attached, even when it
 * was killed: nothing is left behind. */
TEST(samples_data_segment_goes_with_the_last_process_even_killed)
{
	char loc[128];
	int fds[2];
	shmq_chan *w = start_writer(loc, sizeof(loc), "d", fds, 4, 4096,
	                            1);
	int id = data_id(loc);
	CHECK(seg_exists(id));
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK(!seg_exists(id));
	CHECK_EQ(shmq_chan_open(&w, loc, SHMQ_WRITER, NULL), -ENOENT);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *c = make_samples(loc, 4, 4096, 1, 0,
		                            SHMQ_POLICY_BLOCK, SHMQ_WRITER);
		(void)c;
		CHECK_EQ(write(fds[1], "x", 1), 1);
		pause();
	}
	char c;
	CHECK_EQ(read(fds[0], &c, 1), 1);
	id = data_id(loc);
	CHECK(seg_exists(id));
	kill(pid, SIGKILL);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	CHECK(!seg_exists(id));
	shmq_chan_unlink(loc);
	close(fds[0]);
	close(fds[1]);
}

/* A persistent channel keeps its data segment with no process attached;
 * shmq_chan_unlink removes both. */
TEST(samples_persist_keeps_the_data_segment_until_unlink)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "p");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SAMPLES, .capacity = 4,
	                           .msg_size = 64, .spin_ns = -1,
	                           .flags = SHMQ_CHAN_PERSIST, .history = 1};
	shmq_chan *w, *r;
	CHECK_EQ(shmq_chan_create(&w, loc, SHMQ_WRITER, &o), 0);
	int id = data_id(loc);
	CHECK_EQ(shmq_chan_send(w, "kept", 5), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK(seg_exists(id));
	/* a reader joining later gets the history, from the same bytes */
	CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, NULL), 0);
	char buf[16];
	CHECK_EQ(shmq_chan_try_recv(r, buf, sizeof(buf)), 5);
	CHECK(strcmp(buf, "kept") == 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_unlink(loc), 0);
	CHECK(!seg_exists(id));
}

/* Writes v at offset off of the channel object's header. */
static void poke(const char *loc, size_t off, const void *v, size_t len)
{
	char path[256];
	int fd = open(t_shm_path(path, sizeof(path), loc), O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, v, len, (off_t)off), len);
	close(fd);
}

/* The identity line names the data segment; a name that does not lead to
 * it (another segment, a recycled id, a removed one) is refused, never
 * attached; another format version is SHMQ_EVERSION. */
TEST(samples_open_refuses_a_data_segment_that_is_not_the_channels)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "v");
	shmq_chan *w = make_samples(loc, 4, 4096, 1, 0, SHMQ_POLICY_BLOCK,
	                            SHMQ_WRITER);
	uint32_t id = (uint32_t)data_id(loc), other;
	shmq_chan *r;
	/* a segment of ours, large enough, with no header: -EBADMSG */
	int foreign = shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
	CHECK(foreign >= 0);
	other = (uint32_t)foreign;
	poke(loc, offsetof(struct shmq_chan_hdr, data_id), &other, 4);
	CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, NULL), -EBADMSG);
	/* too small a segment: -EBADMSG */
	shmctl(foreign, IPC_RMID, NULL);
	foreign = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	CHECK(foreign >= 0);
	other = (uint32_t)foreign;
	poke(loc, offsetof(struct shmq_chan_hdr, data_id), &other, 4);
	CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, NULL), -EBADMSG);
	shmctl(foreign, IPC_RMID, NULL);
	/* gone: -EIDRM */
	poke(loc, offsetof(struct shmq_chan_hdr, data_id), &other, 4);
	CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, NULL), -EIDRM);
	/* the right id but another nonce: -EBADMSG */
	poke(loc, offsetof(struct shmq_chan_hdr, data_id), &id, 4);
	uint64_t nonce;
	char path[256];
	int fd = open(t_shm_path(path, sizeof(path), loc), O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &nonce, 8, offsetof(struct shmq_chan_hdr,
	                                       data_nonce)), 8);
	close(fd);
	uint64_t bad = nonce ^ 1;
	poke(loc, offsetof(struct shmq_chan_hdr, data_nonce), &bad, 8);
	CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, NULL), -EBADMSG);
	poke(loc, offsetof(struct shmq_chan_hdr, data_nonce), &nonce, 8);
	/* a geometry that does not add up: -EBADMSG */
	uint64_t stride = 4095;
	poke(loc, offsetof(struct shmq_chan_hdr, stride), &stride, 8);
	CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, NULL), -EBADMSG);
	stride = 4096;
	poke(loc, offsetof(struct shmq_chan_hdr, stride), &stride, 8);
	uint32_t v = 4;
	poke(loc, offsetof(struct shmq_chan_hdr, version), &v, 4);
	CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, NULL), SHMQ_EVERSION);
	v = SHMQ_CHAN_VERSION;
	poke(loc, offsetof(struct shmq_chan_hdr, version), &v, 4);
	CHECK_EQ(shmq_chan_open(&r, loc, SHMQ_READER, NULL), 0);
	CHECK_EQ(shmq_chan_send(w, "ok", 3), 0);
	char buf[8];
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 3);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
}

static struct shmq_chan_info info_of(shmq_chan *ch)
{
	struct shmq_chan_info in;
	CHECK_EQ(shmq_chan_info(ch, &in), 0);
	return in;
}

/* The report's line of the only reader. */
static struct shmq_chan_peer_info reader_info(shmq_chan *ch)
{
	struct shmq_chan_info in = info_of(ch);
	for (unsigned k = 0; k < in.npeers; k++)
		if (in.peers[k].role == SHMQ_READER)
			return in.peers[k];
	t_fail(__FILE__, __LINE__, "reader", "no reader in the report");
}

/* OVERWRITE: the writer never waits for a reader that holds a sample and
 * reads nothing more; that reader's oldest queued samples are dropped and
 * counted lost, its held sample stays whole, and it then gets the newest
 * ones in order. */
TEST(samples_overwrite_drops_the_oldest_queued_never_a_held_one)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "o");
	shmq_chan *w = make_samples(loc, 8, 4096, 1, 0,
	                            SHMQ_POLICY_OVERWRITE, SHMQ_WRITER);
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	unsigned char buf[4096];
	CHECK_EQ(shmq_chan_send(w, buf, fill(buf, 4096, 0)), 0);
	const void *held;
	uint64_t num;
	ssize_t hlen = shmq_chan_peek(r, &held);
	CHECK(hlen > 0);
	for (uint64_t i = 1; i < 40; i++) {
		void *p;
		CHECK_EQ(shmq_chan_try_reserve(w, 4096, &p), 0);
		CHECK(p != held);
		CHECK_EQ(shmq_chan_commit(w, fill(p, 4096, i)), 0);
	}
	CHECK(sample_ok(held, (size_t)hlen, &num));
	CHECK_EQ(num, 0);
	struct shmq_chan_peer_info pi = reader_info(w);
	CHECK_EQ(pi.held, 1);
	/* 8 samples: 1 held, 1 the writer's next loan, the rest queued */
	CHECK(pi.queued >= 6 && pi.queued <= 7);
	CHECK_EQ(pi.lost + pi.queued, 39);
	CHECK_EQ(shmq_chan_release(r), 0);
	uint64_t want = 40 - pi.queued, got = 0;
	ssize_t len;
	while ((len = shmq_chan_try_recv(r, buf, sizeof(buf))) >= 0) {
		CHECK(sample_ok(buf, (size_t)len, &num));
		CHECK_EQ(num, want + got);
		got++;
	}
	CHECK_EQ(len, -EAGAIN);
	CHECK_EQ(got, pi.queued);
	CHECK_EQ(shmq_chan_lost(r), pi.lost);
	CHECK_EQ(info_of(w).pool_free, 8);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* OVERWRITE: the writer takes from the head of a reader's queue (a drop)
 * and adds at its tail (a push) between the reader's loads of the two, so
 * the reader can see more than N entries for a moment: that is the race,
 * not a scribbled queue. Readers polling as fast as a writer that never
 * waits get whole samples in increasing order, and never -EBADMSG. */
static void racing_reader(const char *loc, int ready)
{
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	unsigned char buf[64];
	uint64_t num, got = 0, last = 0;
	ssize_t n;
	CHECK_EQ(write(ready, "r", 1), 1);
	while ((n = shmq_chan_try_recv(r, buf, sizeof(buf))) != -EPIPE) {
		if (n == -EAGAIN)
			continue;
		if (n < 0)
			t_fail(__FILE__, __LINE__, "try_recv", "after %llu "
			       "samples: %s", (unsigned long long)got,
			       shmq_strerror((int)n));
		CHECK(sample_ok(buf, (size_t)n, &num));
		CHECK(got == 0 || num > last);
		last = num;
		got++;
	}
	CHECK(got > 0);
	CHECK_EQ(shmq_chan_close(r), 0);
}

TEST(samples_overwrite_reader_racing_the_writers_drops_never_sees_ebadmsg)
{
	char loc[128];
	int fds[2];
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), "race");
	shmq_chan *w = make_samples(loc, 4, 64, 1, 0, SHMQ_POLICY_OVERWRITE,
	                            SHMQ_WRITER);
	pid_t pid[2];
	for (int k = 0; k < 2; k++) {
		pid[k] = fork();
		CHECK(pid[k] >= 0);
		if (pid[k] == 0) {
			close(fds[0]);
			racing_reader(loc, fds[1]);
			_exit(0);
		}
	}
	wait_ready(fds[0], 2);
	unsigned char buf[64];
	for (uint64_t i = 0; i < 300000; i++)
		CHECK_EQ(shmq_chan_send(w, buf, fill(buf, 64, i)), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	for (int k = 0; k < 2; k++)
		CHECK_EQ(t_wait(pid[k]), 0);
	close(fds[0]);
	close(fds[1]);
}

/* A reader that joins gets the last `history` samples first, oldest
 * first; the history holds them out of the pool. */
TEST(samples_history_gives_a_joining_reader_the_last_k_samples)
{
	char loc[128];
	unsigned char buf[512];
	t_posix_loc(loc, sizeof(loc), "h");
	shmq_chan *w = make_samples(loc, 8, 512, 1, 3, SHMQ_POLICY_BLOCK,
	                            SHMQ_WRITER);
	for (uint64_t i = 0; i < 5; i++)
		CHECK_EQ(shmq_chan_send(w, buf, fill(buf, 512, i)), 0);
	CHECK_EQ(info_of(w).pool_free, 5);
	for (int k = 0; k < 2; k++) { /* twice: the history stays */
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
			uint64_t num;
			for (uint64_t i = 2; i < 5; i++) {
				ssize_t len = shmq_chan_try_recv(r, buf, sizeof(buf));
				CHECK(len > 0);
				CHECK(sample_ok(buf, (size_t)len, &num));
				CHECK_EQ(num, i);
			}
			CHECK_EQ(shmq_chan_try_recv(r, buf, sizeof(buf)), -EAGAIN);
			CHECK_EQ(shmq_chan_close(r), 0);
			_exit(0);
		}
		CHECK_EQ(t_wait(pid), 0);
	}
	CHECK_EQ(info_of(w).pool_free, 5);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* A reader killed holding two samples with three more queued: once its
 * death is found they all go back to the pool, counted recovered, and
 * the writer goes on. */
TEST(samples_killed_reader_gives_back_held_and_queued_samples)
{
	char loc[128];
	int fds[2];
	shmq_chan *w = start_writer(loc, sizeof(loc), "k", fds, 8, 4096,
	                            2);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
		const void *p;
		CHECK_EQ(write(fds[1], "j", 1), 1);
		CHECK(shmq_chan_peek(r, &p) > 0);
		CHECK(shmq_chan_peek(r, &p) > 0);
		CHECK_EQ(write(fds[1], "h", 1), 1);
		pause();
	}
	wait_ready(fds[0], 1);
	unsigned char buf[64];
	for (uint64_t i = 0; i < 5; i++)
		CHECK_EQ(shmq_chan_send(w, buf, fill(buf, 64, i)), 0);
	wait_ready(fds[0], 1);
	struct shmq_chan_peer_info pi = reader_info(w);
	CHECK_EQ(pi.held, 2);
	CHECK_EQ(pi.queued, 3);
	CHECK_EQ(info_of(w).pool_free, 3);
	kill(pid, SIGKILL);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	info_of(w); /* settles the dead reader */
	struct shmq_chan_info in = info_of(w);
	CHECK_EQ(in.dead_readers, 1);
	CHECK_EQ(in.recovered, 5);
	CHECK_EQ(in.pool_free, 8);
	for (uint64_t i = 0; i < 20; i++) /* nobody holds the writer back */
		CHECK_EQ(shmq_chan_try_send(w, buf, fill(buf, 64, i)), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	close(fds[0]);
	close(fds[1]);
}

/* A writer killed with a sample loaned: readers drain what it published,
 * then get SHMQ_EPEERDEAD (not end of stream); the next writer takes the
 * loan back and the pool is whole again. */
TEST(samples_killed_writer_loan_is_reclaimed_and_readers_see_peerdead)
{
	char loc[128];
	int fds[2];
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), "kw");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SAMPLES, .capacity = 4,
	                           .msg_size = 64, .spin_ns = -1,
	                           .flags = SHMQ_CHAN_PERSIST};
	shmq_chan *r, *w;
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *c = t_chan_attach(loc, SHMQ_WRITER);
		void *p;
		CHECK_EQ(shmq_chan_send(c, "one", 4), 0);
		CHECK_EQ(shmq_chan_reserve(c, 64, &p), 0);
		memcpy(p, "never", 6);
		CHECK_EQ(write(fds[1], "l", 1), 1);
		pause();
	}
	wait_ready(fds[0], 1);
	CHECK_EQ(info_of(r).pool_free, 2); /* one queued, one loaned */
	kill(pid, SIGKILL);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	char buf[64];
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 4);
	CHECK(strcmp(buf, "one") == 0);
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), SHMQ_EPEERDEAD);
	CHECK_EQ(shmq_chan_open(&w, loc, SHMQ_WRITER, NULL), 0);
	struct shmq_chan_info in = info_of(w);
	CHECK_EQ(in.recovered, 1);
	CHECK_EQ(in.pool_free, 4);
	CHECK_EQ(shmq_chan_send(w, "two", 4), 0);
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 4);
	CHECK(strcmp(buf, "two") == 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_unlink(loc), 0);
	close(fds[0]);
	close(fds[1]);
}

/* The reader's fd says readable once a sample is published, and a
 * writer blocked on a full pool wakes when the reader releases. */
TEST(samples_fd_and_blocking_reserve_wake_up)
{
	char loc[128];
	int fds[2];
	shmq_chan *w = start_writer(loc, sizeof(loc), "f", fds, 4, 64,
	                            2);
	pid_t parent = getpid(), pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
		int fd = shmq_chan_fd(r);
		const void *p;
		CHECK(fd >= 0);
		CHECK_EQ(shmq_chan_try_peek(r, &p), -EAGAIN);
		CHECK(!t_readable(fd, 0));
		CHECK_EQ(write(fds[1], "j", 1), 1);
		ssize_t got; /* readable may be a poll tick's: look again */
		while ((got = shmq_chan_try_peek(r, &p)) == -EAGAIN)
			CHECK(t_readable(fd, 5000));
		CHECK_EQ(got, 2);
		CHECK_EQ(write(fds[1], "h", 1), 1);
		/* the writer waits in futex (not still in the read of "h") */
		while (t_blocked_in(parent) != SYS_futex)
			sched_yield();
		CHECK_EQ(shmq_chan_release(r), 0);
		CHECK_EQ(shmq_chan_close(r), 0);
		_exit(0);
	}
	wait_ready(fds[0], 1);
	CHECK_EQ(shmq_chan_send(w, "a", 2), 0);
	wait_ready(fds[0], 1);
	for (int i = 0; i < 3; i++) /* 4 samples: 1 held, 3 queued */
		CHECK_EQ(shmq_chan_try_send(w, "b", 2), 0);
	CHECK_EQ(shmq_chan_try_send(w, "c", 2), -EAGAIN);
	CHECK_EQ(shmq_chan_send(w, "d", 2), 0); /* waits for the release */
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	close(fds[0]);
	close(fds[1]);
}

/* Huge pages: none free is SHMQ_ENOHUGE; with pages reserved (root) each
 * sample starts on a 2 MiB page. The old reserve is put back. */
TEST(samples_huge_pages_or_enohuge)
{
	char loc[128];
	shmq_chan *ch;
	t_posix_loc(loc, sizeof(loc), "hp");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_SAMPLES, .capacity = 4,
	                           .msg_size = 1 << 20, .spin_ns = -1,
	                           .flags = SHMQ_CHAN_HUGE_2M};
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	long old = -1;
	if (f) {
		if (fscanf(f, "%ld", &old) != 1)
			old = -1;
		fclose(f);
	}
	if (old == 0)
		CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o),
		         SHMQ_ENOHUGE);
	if (getuid() != 0 || old < 0)
		t_skip("reserving huge pages needs root");
	f = fopen("/proc/sys/vm/nr_hugepages", "w");
	CHECK(f != NULL);
	fprintf(f, "%ld\n", old + 5); /* header + 4 samples */
	fclose(f);
	int rc = shmq_chan_create(&ch, loc, SHMQ_WRITER, &o);
	if (rc == 0) {
		void *p;
		CHECK_EQ(shmq_chan_reserve(ch, 100, &p), 0);
		CHECK_EQ((uintptr_t)p % (2u << 20), 0);
		CHECK_EQ(shmq_chan_commit(ch, 100), 0);
		CHECK_EQ(shmq_chan_close(ch), 0);
	}
	f = fopen("/proc/sys/vm/nr_hugepages", "w");
	CHECK(f != NULL);
	fprintf(f, "%ld\n", old);
	fclose(f);
	CHECK_EQ(rc, 0);
}

/* A peer that scribbles the control part (descriptors, queues, history,
 * the writer's line) at random: every call returns a result or an error
 * it may give, never a crash or a hang (timed calls keep their deadline);
 * a reader opened afterwards on a clean channel works. */
TEST(samples_scribbled_control_part_gives_errors_never_a_crash_or_hang)
{
	char loc[128], path[256];
	t_posix_loc(loc, sizeof(loc), "x");
	shmq_chan *w = make_samples(loc, 8, 256, 2, 2,
	                            SHMQ_POLICY_OVERWRITE, SHMQ_WRITER);
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER);
	int fd = open(t_shm_path(path, sizeof(path), loc), O_RDWR);
	CHECK(fd >= 0);
	off_t size = lseek(fd, 0, SEEK_END);
	unsigned char *m = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
	                        MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	uint64_t x = 88172645463325252u;
	unsigned char buf[256];
	for (int round = 0; round < 3000; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t off = SHMQ_CHAN_RING_OFF +
		             x % ((uint64_t)size - SHMQ_CHAN_RING_OFF - 8);
		uint64_t v = round % 3 ? x >> 3 : x & 0xff;
		memcpy(m + off, &v, round % 2 ? 8 : 1);
		struct timespec d = shmq_deadline(1);
		int rc = shmq_chan_send_timed(w, buf, 100, &d);
		CHECK(rc == 0 || rc == -ETIMEDOUT || rc == -EBADMSG);
		ssize_t n = shmq_chan_try_recv(r, buf, sizeof(buf));
		CHECK(n == 100 || n == -EAGAIN || n == -EBADMSG ||
		      n == -EMSGSIZE || n == -EBUSY);
		const void *p;
		n = shmq_chan_try_peek(r, &p);
		CHECK(n >= 0 || n == -EAGAIN || n == -EBADMSG || n == -EBUSY);
		if (n >= 0) {
			CHECK(n <= 256);
			volatile unsigned char sum = 0;
			for (ssize_t k = 0; k < n; k++)
				sum += ((const unsigned char *)p)[k];
			(void)sum;
			CHECK_EQ(shmq_chan_release_at(r, p), 0);
		}
		struct shmq_chan_info in;
		CHECK_EQ(shmq_chan_info(w, &in), 0);
		CHECK(in.pool_free <= 8);
	}
	munmap(m, (size_t)size);
	close(fd);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	shmq_chan_unlink(loc);
	/* a new channel of the name works */
	w = make_samples(loc, 8, 256, 1, 0, SHMQ_POLICY_BLOCK, SHMQ_WRITER);
	r = t_chan_attach(loc, SHMQ_READER);
	CHECK_EQ(shmq_chan_send(w, "ok", 3), 0);
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 3);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* The writer (read-write) scribbles the data segment's header: the
 * samples are still delivered to those attached, and a new open refuses
 * the segment (-EBADMSG) rather than trust it. */
TEST(samples_corrupted_data_segment_header_is_refused_at_open)
{
	char loc[128];
	t_posix_loc(loc, sizeof(loc), "ch");
	shmq_chan *w = make_samples(loc, 4, 4096, 1, 0, SHMQ_POLICY_BLOCK,
	                            SHMQ_WRITER);
	shmq_chan *r = t_chan_attach(loc, SHMQ_READER), *r2;
	void *p;
	CHECK_EQ(shmq_chan_reserve(w, 10, &p), 0);
	/* the header page is just before sample 0, whichever this is */
	struct shmq_samples_data *d = (struct shmq_samples_data *)
		((uintptr_t)p - (uintptr_t)p % 4096);
	while (d->magic != SHMQ_SAMPLES_DATA_MAGIC)
		d = (struct shmq_samples_data *)((char *)d - 4096);
	memcpy(p, "123456789", 10);
	CHECK_EQ(shmq_chan_commit(w, 10), 0);
	d->nonce ^= 1;
	CHECK_EQ(shmq_chan_open(&r2, loc, SHMQ_READER, NULL), -EBADMSG);
	char buf[16];
	CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 10);
	d->nonce ^= 1;
	CHECK_EQ(shmq_chan_open(&r2, loc, SHMQ_READER, NULL), 0);
	CHECK_EQ(shmq_chan_close(r2), 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
}

/* A memfd samples channel goes over a Unix socket: the receiver's reader
 * attaches the data segment by the id in the header (checked) and gets
 * the samples; a readers-only handover is refused, since a samples
 * reader writes its queue (its data is read-only already). */
TEST(samples_channel_handed_over_a_socket_reaches_its_reader)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	shmq_chan *w = make_samples("memfd:smp", 4, 64, 1, 0,
	                            SHMQ_POLICY_BLOCK, SHMQ_WRITER);
	CHECK_EQ(shmq_chan_send_fd(sv[0], w, SHMQ_PASS_RDONLY), -EOPNOTSUPP);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_chan *r;
		char buf[64];
		CHECK_EQ(shmq_chan_recv_fd(sv[1], &r, SHMQ_READER, NULL, NULL), 0);
		CHECK_EQ(write(sv[1], "j", 1), 1);
		CHECK_EQ(shmq_chan_recv(r, buf, sizeof(buf)), 6);
		CHECK(strcmp(buf, "hello") == 0);
		CHECK_EQ(shmq_chan_close(r), 0);
		_exit(0);
	}
	char c;
	CHECK_EQ(shmq_chan_send_fd(sv[0], w, 0), 0);
	CHECK_EQ(read(sv[0], &c, 1), 1);
	CHECK_EQ(shmq_chan_send(w, "hello", 6), 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_chan_close(w), 0);
	close(sv[0]);
	close(sv[1]);
}
