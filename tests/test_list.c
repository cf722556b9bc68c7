/* Listing: shmq_list finds every object of both families, whoever made it
 * (shmq, a raw System V program in the style of the seed article, a raw
 * shm_open, Python), and shmq can open what others made. */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define NWANT 5

struct want {
	const char *locator;
	int family;
	uint64_t size;
	unsigned mode;
	int64_t nattch;
	int seen;
};

static int check_one(const struct shmq_stat *st, void *arg)
{
	struct want *w = arg;
	for (int i = 0; i < NWANT; i++) {
		if (!w[i].locator || strcmp(st->locator, w[i].locator))
			continue;
		w[i].seen++;
		if (st->family != w[i].family || st->size != w[i].size ||
		    st->mode != w[i].mode || st->nattch != w[i].nattch ||
		    strcmp(st->kind, "raw"))
			t_fail(__FILE__, __LINE__, "listed facts match",
			       "%s: family %d size %llu mode %04o nattch %lld "
			       "kind %s; want family %d size %llu mode %04o "
			       "nattch %lld kind raw",
			       st->locator, st->family,
			       (unsigned long long)st->size, st->mode,
			       (long long)st->nattch, st->kind, w[i].family,
			       (unsigned long long)w[i].size, w[i].mode,
			       (long long)w[i].nattch);
	}
	return 0;
}

/* The seed article's writer: shmget, shmat, strcpy, shmdt. */
static void seed_style_writer(key_t key)
{
	int id = shmget(key, 4096, 0666 | IPC_CREAT);
	CHECK(id >= 0);
	char *p = shmat(id, NULL, 0);
	CHECK(p != (char *)-1);
	strcpy(p, "hello from the seed writer");
	CHECK(shmdt(p) == 0);
}

/* Python's multiprocessing.shared_memory; its resource tracker would
 * unlink the object when Python exits, so it is told not to. */
static const char py_maker[] =
	"import sys\n"
	"from multiprocessing import shared_memory, resource_tracker\n"
	"m = shared_memory.SharedMemory(name=sys.argv[1], create=True, "
	"size=12345)\n"
	"m.buf[:17] = b'hello from python'\n"
	"resource_tracker.unregister(m._name, 'shared_memory')\n"
	"m.close()\n";

static int python_make(const char *name)
{
	static struct t_run r;
	char *argv[] = {"python3", "-c", (char *)py_maker, (char *)name, NULL};
	int st = t_exec(&r, NULL, argv);
	if (st == 127)
		return -1;
	if (st != 0)
		t_fail(__FILE__, __LINE__, "python3 made the object",
		       "status %d: %s", st, r.err);
	return 0;
}

static void read_back(const char *loc, const char *text)
{
	shmq_seg *s;
	int rc = shmq_seg_open(&s, loc, &(struct shmq_seg_opts){
					       .flags = SHMQ_SEG_RDONLY});
	if (rc)
		t_fail(__FILE__, __LINE__, "shmq_seg_open(loc) == 0",
		       "%s: %d (%s)", loc, rc, shmq_err_name(rc));
	CHECK(!strncmp(shmq_seg_addr(s), text, strlen(text)));
	CHECK_EQ(shmq_seg_close(s), 0);
}

TEST(list_finds_objects_of_both_families_whoever_made_them)
{
	char l_sysv[64], l_seed[64], l_posix[128], l_raw[128], name[64];
	char slash[80];
	struct shmq_seg_opts o = {.size = 10000, .mode = 0640};
	shmq_seg *a, *b;

	CHECK_EQ(shmq_seg_create(&a, t_sysv_loc(l_sysv, sizeof(l_sysv), 1), &o),
		 0);
	seed_style_writer(t_key(2));
	t_sysv_loc(l_seed, sizeof(l_seed), 2);
	CHECK_EQ(shmq_seg_create(&b, t_posix_loc(l_posix, sizeof(l_posix), "p"),
				 &o),
		 0);
	snprintf(slash, sizeof(slash), "/%s", t_name(name, sizeof(name), "raw"));
	int fd = shm_open(slash, O_CREAT | O_EXCL | O_RDWR, 0644);
	CHECK(fd >= 0);
	CHECK(fchmod(fd, 0644) == 0);
	CHECK(ftruncate(fd, 5000) == 0);
	CHECK_EQ(pwrite(fd, "raw posix", 9, 0), 9);
	close(fd);
	snprintf(l_raw, sizeof(l_raw), "posix:%s", name);

	struct want w[NWANT] = {
		{l_sysv, SHMQ_FAMILY_SYSV, 10000, 0640, 1, 0},
		{l_seed, SHMQ_FAMILY_SYSV, 4096, 0666, 0, 0},
		{l_posix, SHMQ_FAMILY_POSIX, 10000, 0640, 1, 0},
		{l_raw, SHMQ_FAMILY_POSIX, 5000, 0644, t_posix_unused_nattch(), 0},
	};
	CHECK(shmq_list(0, check_one, w) >= 4);
	for (int i = 0; i < 4; i++)
		if (w[i].seen != 1)
			t_fail(__FILE__, __LINE__, "listed exactly once",
			       "%s seen %d times", w[i].locator, w[i].seen);

	read_back(l_seed, "hello from the seed writer");
	read_back(l_raw, "raw posix");
	CHECK_EQ(shmq_seg_close(a), 0);
	CHECK_EQ(shmq_seg_close(b), 0);
	const char *all[] = {l_sysv, l_seed, l_posix, l_raw};
	for (int i = 0; i < 4; i++)
		CHECK_EQ(shmq_seg_unlink(all[i]), 0);
}

TEST(list_finds_python_shared_memory_object)
{
	char loc[128], name[64];
	if (python_make(t_name(name, sizeof(name), "py")) < 0)
		t_skip_dep("python3", "cannot make a multiprocessing."
		       "shared_memory object");
	snprintf(loc, sizeof(loc), "posix:%s", name);
	struct want w[NWANT] = {
		{loc, SHMQ_FAMILY_POSIX, 12345, 0600, t_posix_unused_nattch(), 0},
	};
	CHECK(shmq_list(0, check_one, w) >= 1);
	CHECK_EQ(w[0].seen, 1);
	read_back(loc, "hello from python");
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

static int stop_at_first(const struct shmq_stat *st, void *arg)
{
	(void)st;
	++*(int *)arg;
	return 42;
}

TEST(list_stops_when_callback_returns_nonzero)
{
	char loc[64];
	int calls = 0;
	shmq_seg *s;
	/* At least one object, so the callback runs. */
	CHECK_EQ(shmq_seg_create(&s, t_sysv_loc(loc, sizeof(loc), 1),
				 &(struct shmq_seg_opts){.size = 4096}),
		 0);
	CHECK_EQ(shmq_list(0, stop_at_first, &calls), 42);
	CHECK_EQ(calls, 1);
	CHECK_EQ(shmq_list(1u << 7, stop_at_first, &calls), -EINVAL);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

static int count_ours(const struct shmq_stat *st, void *arg)
{
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "shmqt-%d-", (int)getpid());
	if (!strncmp(st->name, prefix, strlen(prefix)) ||
	    ((uint32_t)st->key & 0xffffff00u) == ((uint32_t)t_key(0)))
		++*(int *)arg;
	return 0;
}

TEST(list_count_follows_create_and_unlink)
{
	char l1[64], l2[128];
	int ours = 0;
	shmq_seg *a, *b;
	struct shmq_seg_opts o = {.size = 4096};
	CHECK(shmq_list(0, count_ours, &ours) >= 0);
	CHECK_EQ(ours, 0);
	CHECK_EQ(shmq_seg_create(&a, t_sysv_loc(l1, sizeof(l1), 1), &o), 0);
	CHECK_EQ(shmq_seg_create(&b, t_posix_loc(l2, sizeof(l2), "c"), &o), 0);
	CHECK(shmq_list(0, count_ours, &ours) >= 2);
	CHECK_EQ(ours, 2);
	CHECK_EQ(shmq_seg_close(a), 0);
	CHECK_EQ(shmq_seg_close(b), 0);
	CHECK_EQ(shmq_seg_unlink(l1), 0);
	CHECK_EQ(shmq_seg_unlink(l2), 0);
	ours = 0;
	CHECK(shmq_list(0, count_ours, &ours) >= 0);
	CHECK_EQ(ours, 0);
}

struct memfd_count {
	uint64_t size;
	int n;
};

static int count_memfd(const struct shmq_stat *st, void *arg)
{
	struct memfd_count *c = arg;
	if (st->family == SHMQ_FAMILY_MEMFD && st->size == c->size)
		c->n++;
	return 0;
}

TEST(list_all_includes_memfds_held_by_processes)
{
	struct shmq_seg_opts o = {.size = 12347}; /* a size to recognise */
	struct memfd_count c = {12347, 0};
	shmq_seg *s;
	CHECK_EQ(shmq_seg_create(&s, "memfd:listme", &o), 0);
	CHECK(shmq_list(0, count_memfd, &c) >= 0);
	CHECK_EQ(c.n, 0); /* not without the flag */
	CHECK(shmq_list(SHMQ_LIST_ALL, count_memfd, &c) >= 0);
	CHECK_EQ(c.n, 1);
	CHECK_EQ(shmq_seg_close(s), 0);
}
