/* Status: what shmq_stat and shmq_seg_stat report, for each family, as
 * processes attach, detach, die and remove. */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#define SZ 10000

static shmq_seg *create_ok(const char *loc, size_t size)
{
	struct shmq_seg_opts o = {.size = size};
	shmq_seg *s = NULL;
	int rc = shmq_seg_create(&s, loc, &o);
	if (rc != 0)
		t_fail(__FILE__, __LINE__, "shmq_seg_create(loc) == 0",
		       "%s gave %d (%s)", loc, rc, shmq_err_name(rc));
	return s;
}

static struct shmq_stat stat_ok(const char *loc)
{
	struct shmq_stat st;
	int rc = shmq_stat(loc, &st);
	if (rc != 0)
		t_fail(__FILE__, __LINE__, "shmq_stat(loc) == 0",
		       "%s gave %d (%s)", loc, rc, shmq_err_name(rc));
	return st;
}

static uint64_t page_round(uint64_t n)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	return (n + pg - 1) / pg * pg;
}

/* A child creates loc, detaches and exits: the creator is dead. */
static void create_in_dead_child(const char *loc, pid_t *child)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_seg *s = create_ok(loc, SZ);
		CHECK_EQ(shmq_seg_close(s), 0);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	*child = pid;
}

TEST(stat_reports_size_asked_and_page_rounded_mapped_size)
{
	char sysv[64], posix[128];
	const char *locs[] = {t_sysv_loc(sysv, sizeof(sysv), 1),
			      t_posix_loc(posix, sizeof(posix), "sz"),
			      "memfd:sz"};
	for (size_t i = 0; i < 3; i++) {
		shmq_seg *s = create_ok(locs[i], SZ);
		struct shmq_stat st;
		CHECK_EQ(shmq_seg_size(s), SZ);
		CHECK_EQ(shmq_seg_mapped_size(s), page_round(SZ));
		CHECK_EQ(shmq_seg_stat(s, &st), 0);
		CHECK_EQ(st.size, SZ);
		CHECK_EQ(st.mapped_size, page_round(SZ));
		CHECK_EQ(st.huge, 0);
		/* By name too, from the kernel's tables alone. */
		st = stat_ok(shmq_seg_locator(s));
		CHECK_EQ(st.size, SZ);
		CHECK_EQ(st.mapped_size, page_round(SZ));
		CHECK_EQ(shmq_seg_close(s), 0);
		if (i < 2)
			CHECK_EQ(shmq_seg_unlink(locs[i]), 0);
	}
}

TEST(sysv_stat_reports_identity_owner_and_times)
{
	char loc[64];
	time_t t0 = time(NULL);
	shmq_seg *s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ);
	struct shmq_stat st = stat_ok(loc), byid;
	char idloc[64];

	CHECK_EQ(st.family, SHMQ_FAMILY_SYSV);
	CHECK(!strcmp(st.locator, loc));
	CHECK(!strcmp(st.name, ""));
	CHECK_EQ(st.key, t_key(1));
	CHECK_EQ(st.id, shmq_seg_id(s));
	CHECK_EQ(st.mode, 0600);
	CHECK_EQ(st.uid, getuid());
	CHECK_EQ(st.gid, getgid());
	CHECK_EQ(st.cuid, getuid());
	CHECK_EQ(st.cgid, getgid());
	CHECK_EQ(st.cpid, getpid());
	CHECK_EQ(st.cpid_alive, SHMQ_PID_ALIVE);
	CHECK_EQ(st.lpid, getpid());
	CHECK_EQ(st.lpid_alive, SHMQ_PID_ALIVE);
	CHECK(st.ctime >= t0 - 1 && st.ctime <= time(NULL) + 1);
	CHECK(st.atime >= t0 - 1 && st.atime <= time(NULL) + 1);
	CHECK_EQ(st.removed, 0);
	CHECK_EQ(st.orphan, 0);
	CHECK_EQ(st.stale, 0);
	CHECK(!strcmp(st.kind, "raw"));

	/* By id: the same segment, the same facts. */
	snprintf(idloc, sizeof(idloc), "sysv:id=%d", st.id);
	byid = stat_ok(idloc);
	CHECK_EQ(byid.key, st.key);
	CHECK_EQ(byid.size, st.size);
	CHECK_EQ(byid.cpid, st.cpid);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(posix_stat_reports_identity_and_owner)
{
	char loc[128], name[64];
	shmq_seg *s = create_ok(t_posix_loc(loc, sizeof(loc), "id"), SZ);
	struct shmq_stat st = stat_ok(loc);
	CHECK_EQ(st.family, SHMQ_FAMILY_POSIX);
	CHECK(!strcmp(st.locator, loc));
	CHECK(!strcmp(st.name, t_name(name, sizeof(name), "id")));
	CHECK_EQ(st.id, -1);
	CHECK_EQ(st.mode, 0600);
	CHECK_EQ(st.uid, getuid());
	CHECK_EQ(st.gid, getgid());
	CHECK_EQ(st.removed, 0);
	CHECK(!strcmp(st.kind, "raw"));
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(memfd_stat_by_fd_locator)
{
	shmq_seg *s = create_ok("memfd:st", SZ);
	struct shmq_stat st = stat_ok(shmq_seg_locator(s));
	CHECK_EQ(st.family, SHMQ_FAMILY_MEMFD);
	CHECK(!strcmp(st.locator, shmq_seg_locator(s)));
	CHECK_EQ(st.size, SZ);
	CHECK_EQ(st.mode, 0600);
	CHECK_EQ(st.id, -1);
	CHECK_EQ(st.nattch, 1); /* this process maps it */
	CHECK_EQ(shmq_seg_close(s), 0);
}

TEST(sysv_nattch_and_lpid_follow_attachers)
{
	char loc[64];
	struct t_holder h;
	shmq_seg *s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ);
	CHECK_EQ(stat_ok(loc).nattch, 1);
	/* Detached first: a forked holder would inherit our attachment. */
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(stat_ok(loc).nattch, 0);
	CHECK_EQ(stat_ok(loc).lpid, getpid());

	t_hold(&h, loc, 0);
	struct shmq_stat st = stat_ok(loc);
	CHECK_EQ(st.nattch, 1);
	CHECK_EQ(st.lpid, h.pid);
	CHECK_EQ(st.lpid_alive, SHMQ_PID_ALIVE);
	CHECK_EQ(shmq_seg_open(&s, loc, NULL), 0);
	CHECK_EQ(stat_ok(loc).nattch, 2);
	CHECK_EQ(stat_ok(loc).lpid, getpid());

	t_release(&h);
	st = stat_ok(loc);
	CHECK_EQ(st.nattch, 1);
	CHECK_EQ(st.lpid, h.pid); /* its detach was the last operation */
	CHECK_EQ(st.lpid_alive, SHMQ_PID_DEAD);
	CHECK(st.dtime > 0);

	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(stat_ok(loc).nattch, 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(posix_nattch_counts_processes_that_map_it)
{
	char loc[128];
	struct t_holder h;
	shmq_seg *s = create_ok(t_posix_loc(loc, sizeof(loc), "n"), SZ);
	CHECK_EQ(stat_ok(loc).nattch, 1);
	t_hold(&h, loc, 0);
	CHECK_EQ(stat_ok(loc).nattch, 2);
	t_release(&h);
	CHECK_EQ(stat_ok(loc).nattch, 1);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(stat_ok(loc).nattch, t_posix_unused_nattch());
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(sysv_unlink_while_attached_marks_for_removal)
{
	char loc[64], idloc[64];
	shmq_seg *s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ);
	struct shmq_stat st;
	snprintf(idloc, sizeof(idloc), "sysv:id=%d", shmq_seg_id(s));
	CHECK_EQ(shmq_seg_unlink(loc), 0);

	/* Still usable by who has it; the key is gone, the id remains. */
	strcpy(shmq_seg_addr(s), "still here");
	CHECK(!strcmp(shmq_seg_addr(s), "still here"));
	CHECK_EQ(shmq_seg_stat(s, &st), 0);
	CHECK_EQ(st.removed, 1);
	CHECK_EQ(st.nattch, 1);
	CHECK_EQ(st.orphan, 0);
	st = stat_ok(idloc);
	CHECK_EQ(st.removed, 1);
	CHECK_EQ(st.key, 0);
	CHECK(!strcmp(st.locator, idloc));
	CHECK_EQ(shmq_stat(loc, &st), -ENOENT);
	CHECK(shmget(t_key(1), 0, 0) < 0);

	/* The last detach frees it. */
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_stat(idloc, &st), -ENOENT);
}

TEST(posix_unlink_while_mapped_keeps_mapping_and_frees_name)
{
	char loc[128];
	shmq_seg *s = create_ok(t_posix_loc(loc, sizeof(loc), "gone"), SZ), *n;
	struct shmq_stat st;
	strcpy(shmq_seg_addr(s), "old");
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	CHECK_EQ(shmq_stat(loc, &st), -ENOENT);
	CHECK(!strcmp(shmq_seg_addr(s), "old"));
	CHECK_EQ(shmq_seg_stat(s, &st), 0); /* through its fd */
	CHECK_EQ(st.size, SZ);
	/* The name is free for a new, different object. */
	n = create_ok(loc, SZ);
	CHECK(strcmp(shmq_seg_addr(n), "old"));
	CHECK_EQ(shmq_seg_close(n), 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(sysv_orphan_when_creator_dead_and_nobody_attached)
{
	char loc[64];
	pid_t child;
	create_in_dead_child(t_sysv_loc(loc, sizeof(loc), 1), &child);
	struct shmq_stat st = stat_ok(loc);
	CHECK_EQ(st.cpid, child);
	CHECK_EQ(st.cpid_alive, SHMQ_PID_DEAD);
	CHECK_EQ(st.nattch, 0);
	CHECK_EQ(st.orphan, 1);

	/* An attacher, even one that is not its creator, adopts it. */
	shmq_seg *s;
	CHECK_EQ(shmq_seg_open(&s, loc, NULL), 0);
	st = stat_ok(loc);
	CHECK_EQ(st.orphan, 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(stat_ok(loc).orphan, 1);

	/* Likewise a live attacher in another process. */
	struct t_holder h;
	t_hold(&h, loc, SHMQ_SEG_RDONLY);
	CHECK_EQ(stat_ok(loc).orphan, 0);
	t_release(&h);
	CHECK_EQ(stat_ok(loc).orphan, 1);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(sysv_not_orphan_while_creator_lives)
{
	char loc[64];
	shmq_seg *s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ);
	CHECK_EQ(shmq_seg_close(s), 0);
	struct shmq_stat st = stat_ok(loc);
	CHECK_EQ(st.nattch, 0);
	CHECK_EQ(st.cpid_alive, SHMQ_PID_ALIVE);
	CHECK_EQ(st.orphan, 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(posix_not_orphan_while_mapped)
{
	char loc[128];
	pid_t child;
	struct t_holder h;
	create_in_dead_child(t_posix_loc(loc, sizeof(loc), "orph"), &child);
	t_hold(&h, loc, 0);
	struct shmq_stat st = stat_ok(loc);
	CHECK_EQ(st.nattch, 1);
	CHECK_EQ(st.orphan, 0);
	t_release(&h);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

/* Forks a child that blocks until *go is closed; it maps nothing. */
static pid_t fork_idle(int *go)
{
	int p[2];
	char c;
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

/* Makes the next fork get pid want; returns the child, or -1. */
static pid_t fork_idle_as(pid_t want, int *go)
{
	for (int tries = 0; tries < 50; tries++) {
		char buf[32];
		int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		int n = snprintf(buf, sizeof(buf), "%d", (int)want - 1);
		ssize_t w = write(fd, buf, (size_t)n);
		close(fd);
		if (w != n)
			return -1;
		pid_t pid = fork_idle(go);
		if (pid == want)
			return pid;
		close(*go); /* another process took it first: again */
		CHECK_EQ(t_wait(pid), 0);
	}
	return -1;
}

TEST(sysv_creator_pid_reused_by_a_newer_process_is_dead)
{
	char loc[64];
	pid_t creator;
	int go;
	t_need_root("choosing the next pid (kernel.ns_last_pid)");
	create_in_dead_child(t_sysv_loc(loc, sizeof(loc), 1), &creator);
	struct shmq_stat st = stat_ok(loc);

	/* Start times have whole-second resolution: let time pass so that
	 * the new process provably started after the segment was made. */
	struct timespec until = {.tv_sec = (time_t)st.ctime + 4};
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, NULL))
		;
	pid_t pid = fork_idle_as(creator, &go);
	if (pid < 0)
		t_skip("could not get the creator's pid back for a new process "
		       "(ns_last_pid not writable, or a busy machine)");
	CHECK(kill(creator, 0) == 0); /* a live process has the pid... */
	st = stat_ok(loc);
	CHECK_EQ(st.cpid, creator);
	CHECK_EQ(st.cpid_alive, SHMQ_PID_DEAD); /* ...but it is not the creator */
	CHECK_EQ(st.orphan, 1);
	close(go);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}
