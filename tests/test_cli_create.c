/*
 * shmq create, run as a user would run it: both families, every spelling,
 * sizes, modes, an existing object, and the system limits it meets.
 * Objects carry t_name/t_key names so the runner removes them even when a
 * test fails; a private segment is removed right after the command that
 * made it.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- create ------------------------------------------------------------ */

TEST(cli_create_sysv_prints_locator_and_id)
{
	struct t_run r;
	struct shmid_ds ds;
	char loc[64], want[128];

	t_sysv_loc(loc, sizeof(loc), 1);
	SHMQ(&r, "create", loc, "--size", "100");
	check_ok(&r);
	snprintf(want, sizeof(want), "%s id=%d\n", loc, shmget(t_key(1), 0, 0));
	CHECK_STREQ(r.out, want);
	ds = sysv_ds(t_key(1));
	CHECK_EQ(ds.shm_segsz, 100);
	CHECK_EQ(ds.shm_perm.mode & 0777, 0600); /* the secure default */
	CHECK_EQ(ds.shm_nattch, 0);              /* create detached on exit */
}

TEST(cli_create_sysv_accepts_every_key_spelling)
{
	struct t_run r;
	char in[64], want[128];

	snprintf(in, sizeof(in), "sysv:0x%x", (unsigned)t_key(2));
	SHMQ(&r, "create", in, "--size", "10");
	check_ok(&r);
	snprintf(want, sizeof(want), "sysv:key=0x%08x id=%d\n",
	         (unsigned)t_key(2), shmget(t_key(2), 0, 0));
	CHECK_STREQ(r.out, want);

	snprintf(in, sizeof(in), "sysv:%u", (unsigned)t_key(3));
	SHMQ(&r, "create", in, "--size", "10");
	check_ok(&r);
	snprintf(want, sizeof(want), "sysv:key=0x%08x id=%d\n",
	         (unsigned)t_key(3), shmget(t_key(3), 0, 0));
	CHECK_STREQ(r.out, want);
}

TEST(cli_create_private_prints_its_id)
{
	struct t_run r, rm;
	struct shmid_ds ds;
	char loc[64], want[64];
	int id = -1;

	SHMQ(&r, "create", "sysv:private", "--size", "64");
	/* No key names it: remove it before any check can end the test. */
	if (sscanf(r.out, "sysv:id=%d", &id) == 1) {
		int st = shmctl(id, IPC_STAT, &ds);
		snprintf(loc, sizeof(loc), "sysv:id=%d", id);
		SHMQ(&rm, "rm", loc);
		if (rm.status != 0)
			shmctl(id, IPC_RMID, NULL);
		check_ok(&rm);
		CHECK_EQ(st, 0);
		CHECK_EQ(ds.shm_perm.__key, IPC_PRIVATE);
		CHECK_EQ(ds.shm_segsz, 64);
	}
	check_ok(&r);
	snprintf(want, sizeof(want), "sysv:id=%d\n", id);
	CHECK_STREQ(r.out, want);
	CHECK(shmctl(id, IPC_STAT, &ds) < 0);
}

TEST(cli_create_posix_in_every_spelling_applies_size_and_mode)
{
	struct t_run r;
	char name[64], in[80], want[96];
	const char *const prefix[] = { "posix:", "", "/" };
	struct stat sb;
	size_t i;

	for (i = 0; i < NELEM(prefix); i++) {
		t_name(name, sizeof(name), i == 0 ? "p0" : i == 1 ? "p1" : "p2");
		snprintf(in, sizeof(in), "%s%s", prefix[i], name);
		SHMQ(&r, "create", in, "--size", "1000", "--mode", "0640");
		check_ok(&r);
		snprintf(want, sizeof(want), "posix:%s\n", name);
		CHECK_STREQ(r.out, want);
		sb = posix_st(name);
		CHECK_EQ(sb.st_size, 1000);
		CHECK_EQ(sb.st_mode & 07777, 0640);
	}
	t_name(name, sizeof(name), "dflt");
	create(name, "1", NULL);
	CHECK_EQ(posix_st(name).st_mode & 07777, 0600);
}

TEST(cli_create_applies_the_mode_whatever_the_umask)
{
	char s1[64], s2[64], p1[96], p2[96];
	mode_t old = umask(077);

	create(t_sysv_loc(s1, sizeof(s1), 1), "10", "0666");
	create(t_posix_loc(p1, sizeof(p1), "u077"), "10", "0666");
	umask(0);
	create(t_sysv_loc(s2, sizeof(s2), 2), "10", "0600");
	create(t_posix_loc(p2, sizeof(p2), "u000"), "10", "0600");
	umask(old);
	CHECK_EQ(sysv_ds(t_key(1)).shm_perm.mode & 0777, 0666);
	CHECK_EQ(posix_st(bare(p1)).st_mode & 07777, 0666);
	CHECK_EQ(sysv_ds(t_key(2)).shm_perm.mode & 0777, 0600);
	CHECK_EQ(posix_st(bare(p2)).st_mode & 07777, 0600);
}

TEST(cli_create_size_takes_k_m_g_suffixes)
{
	char p1[96], p2[96], s1[64];

	create(t_posix_loc(p1, sizeof(p1), "k"), "3k", NULL);
	CHECK_EQ(posix_st(bare(p1)).st_size, 3 * 1024);
	create(t_posix_loc(p2, sizeof(p2), "m"), "2M", NULL);
	CHECK_EQ(posix_st(bare(p2)).st_size, 2 * 1024 * 1024);
	/* System V pages are allocated on first touch: 1 GiB costs nothing. */
	create(t_sysv_loc(s1, sizeof(s1), 1), "1G", NULL);
	CHECK_EQ(sysv_ds(t_key(1)).shm_segsz, 1024LL * 1024 * 1024);
}

TEST(cli_create_rejects_bad_sizes_and_creates_nothing)
{
	static const char *const bad[] = {
		"0", "-1", "99999999999999999999", "18446744073709551615K",
		"17179869184G", "12X", "", "1KK", "0x10", " 1", "1.5M", "K",
	};
	struct t_run r;
	char s[64], p[96];
	size_t i;

	t_sysv_loc(s, sizeof(s), 1);
	t_posix_loc(p, sizeof(p), "bad");
	for (i = 0; i < NELEM(bad); i++) {
		SHMQ(&r, "create", s, "--size", bad[i]);
		check_usage_error(&r, "create");
		CHECK_HAS(r.err, "--size");
		SHMQ(&r, "create", p, "--size", bad[i]);
		check_usage_error(&r, "create");
	}
	SHMQ(&r, "create", s);
	check_usage_error(&r, "create");
	CHECK_HAS(r.err, "--size");
	check_both(p, 0);
}

TEST(cli_create_rejects_bad_mode_huge_and_flag_mix)
{
	static const char *const modes[] = { "999", "abc", "01000", "0", "",
		                             "-1", "0o600" };
	static const char *const huge[] = { "4M", "2", "", "1T" };
	struct t_run r;
	char s[64];
	size_t i;

	t_sysv_loc(s, sizeof(s), 1);
	for (i = 0; i < NELEM(modes); i++) {
		SHMQ(&r, "create", s, "--size", "10", "--mode", modes[i]);
		check_usage_error(&r, "create");
		CHECK_HAS(r.err, "--mode");
	}
	for (i = 0; i < NELEM(huge); i++) {
		SHMQ(&r, "create", s, "--size", "2M", "--huge", huge[i]);
		check_usage_error(&r, "create");
		CHECK_HAS(r.err, "--huge");
	}
	SHMQ(&r, "create", s, "--size", "10", "--excl", "--or-open");
	check_usage_error(&r, "create");
	CHECK(!sysv_exists(t_key(1)));
}

TEST(cli_create_of_an_existing_object_says_already_exists_and_keeps_it)
{
	struct t_run r;
	char s[64], p[96];
	int id;

	create_both(s, sizeof(s), p, sizeof(p), "ex", "100", "0640");
	id = shmget(t_key(1), 0, 0);
	sysv_write(t_key(1), 0, "keep", 4);
	posix_write(bare(p), 0, "keep", 4);

	SHMQ(&r, "create", s, "--size", "200", "--mode", "0666");
	check_runtime_error(&r, "already exists");
	CHECK_HAS(r.err, s);
	SHMQ(&r, "create", s, "--size", "100", "--excl");
	check_runtime_error(&r, "already exists");
	SHMQ(&r, "create", p, "--size", "200", "--mode", "0666");
	check_runtime_error(&r, "already exists");
	CHECK_HAS(r.err, p);
	SHMQ(&r, "create", p, "--size", "100", "--excl");
	check_runtime_error(&r, "already exists");

	CHECK_EQ(shmget(t_key(1), 0, 0), id);
	CHECK_EQ(sysv_ds(t_key(1)).shm_segsz, 100);
	CHECK_EQ(sysv_ds(t_key(1)).shm_perm.mode & 0777, 0640);
	CHECK_EQ(posix_st(bare(p)).st_size, 100);
	CHECK_EQ(posix_st(bare(p)).st_mode & 07777, 0640);
	SHMQ(&r, "dump", s, "--length", "4");
	CHECK_HAS(r.out, "|keep|");
	SHMQ(&r, "dump", p, "--length", "4");
	CHECK_HAS(r.out, "|keep|");
}

TEST(cli_create_or_open_opens_an_existing_object)
{
	struct t_run r;
	char s[64], p[96], want[128];
	int id;

	create(t_sysv_loc(s, sizeof(s), 1), "100", NULL);
	id = shmget(t_key(1), 0, 0);
	sysv_write(t_key(1), 0, "keep", 4);
	SHMQ(&r, "create", s, "--size", "100", "--or-open");
	check_ok(&r);
	snprintf(want, sizeof(want), "%s id=%d\n", s, id);
	CHECK_STREQ(r.out, want);
	/* Asking more than it has fails, and loses nothing. */
	SHMQ(&r, "create", s, "--size", "1M", "--or-open");
	check_runtime_error(&r, s);
	CHECK_EQ(shmget(t_key(1), 0, 0), id);
	CHECK_EQ(sysv_ds(t_key(1)).shm_segsz, 100);
	SHMQ(&r, "dump", s, "--length", "4");
	CHECK_HAS(r.out, "|keep|");

	t_posix_loc(p, sizeof(p), "oo");
	SHMQ(&r, "create", p, "--size", "100", "--or-open");
	check_ok(&r); /* absent: created */
	posix_write(bare(p), 0, "keep", 4);
	SHMQ(&r, "create", p, "--size", "100", "--or-open");
	check_ok(&r);
	snprintf(want, sizeof(want), "%s\n", p);
	CHECK_STREQ(r.out, want);
	CHECK_EQ(posix_st(bare(p)).st_size, 100);
	SHMQ(&r, "dump", p, "--length", "4");
	CHECK_HAS(r.out, "|keep|");
}

TEST(cli_create_refuses_a_memfd_that_would_vanish)
{
	struct t_run r;
	char loc[96], name[64];

	snprintf(loc, sizeof(loc), "memfd:%s", t_name(name, sizeof(name), "m"));
	SHMQ(&r, "create", loc, "--size", "10");
	check_runtime_error(&r, loc);
	CHECK_HAS(r.err, "memfd");
}

TEST(cli_ipcs_shows_the_segment_create_made)
{
	struct t_run r;
	char s[64], key[32], line[512], owner[64], perms[16];
	char *ipcs[] = { "ipcs", "-m", NULL };
	unsigned long long bytes;
	int id, got_id;

	if (!t_have_program("ipcs"))
		t_skip_dep("util-linux", "ipcs is not installed");
	create(t_sysv_loc(s, sizeof(s), 1), "12345", "0640");
	id = shmget(t_key(1), 0, 0);
	CHECK_EQ(t_exec(&r, NULL, ipcs), 0);
	snprintf(key, sizeof(key), "0x%08x ", (unsigned)t_key(1));
	line_with(r.out, key, line, sizeof(line));
	CHECK_EQ(sscanf(line, "%*s %d %63s %15s %llu", &got_id, owner, perms,
	                &bytes), 4);
	CHECK_EQ(got_id, id);
	CHECK_STREQ(perms, "640");
	CHECK_EQ(bytes, 12345);
}

/* ---- Limits ------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
}

static long long read_number(const char *path)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] ? atoll(buf) : -1;
}

TEST(cli_huge_pages_unavailable_says_how_to_reserve_them)
{
	struct t_run r;
	char s[64];

	if (read_number("/sys/kernel/mm/hugepages/hugepages-2048kB/"
	                "free_hugepages") > 0)
		t_skip("2 MiB huge pages are reserved here (vm.nr_hugepages)");
	t_sysv_loc(s, sizeof(s), 1);
	SHMQ(&r, "create", s, "--size", "2M", "--huge", "2M");
	check_runtime_error(&r, "vm.nr_hugepages");
	CHECK_HAS(r.err, s);
	CHECK(!sysv_exists(t_key(1)));
	if (read_number("/sys/kernel/mm/hugepages/hugepages-1048576kB/"
	                "free_hugepages") <= 0) {
		SHMQ(&r, "create", s, "--size", "1G", "--huge", "1G");
		check_runtime_error(&r, "huge");
		CHECK(!sysv_exists(t_key(1)));
	}
}

TEST(cli_size_above_shmmax_quotes_the_limit)
{
	struct t_run r;
	char s[64];

	private_namespaces(CLONE_NEWIPC, NULL);
	write_file("/proc/sys/kernel/shmmax", "65536");
	t_sysv_loc(s, sizeof(s), 1);
	SHMQ(&r, "create", s, "--size", "1M");
	check_runtime_error(&r, "65536");
	CHECK_HAS(r.err, s);
	CHECK(!sysv_exists(t_key(1)));
	SHMQ(&r, "create", s, "--size", "64K"); /* at the limit: fine */
	check_ok(&r);
}

TEST(cli_full_dev_shm_fails_at_create_and_leaves_nothing)
{
	struct t_run r;
	char p[96], q[96];
	struct stat sb;
	struct dirent *e;
	DIR *d;
	int n = 0;

	private_namespaces(CLONE_NEWNS, "size=1m,mode=1777");
	t_posix_loc(p, sizeof(p), "big");
	SHMQ(&r, "create", p, "--size", "4M");
	check_runtime_error(&r, p);
	CHECK_HAS(r.err, "/dev/shm");
	d = opendir("/dev/shm");
	CHECK(d != NULL);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	CHECK_EQ(n, 0);
	/* What fits is backed at create: its blocks are already there. */
	create(t_posix_loc(q, sizeof(q), "fits"), "512K", NULL);
	sb = posix_st(bare(q));
	CHECK(sb.st_blocks * 512LL >= 512 * 1024);
}
