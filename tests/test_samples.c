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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
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
	CHECK(pipe(fds) == 0);
	t_posix_loc(loc, sizeof(loc), "d");
	shmq_chan *w = make_samples(loc, 4, 4096, 1, 0, SHMQ_POLICY_BLOCK,
	                            SHMQ_WRITER);
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
