/*
 * shmq rm: named objects, --dry-run, --orphans, --stale, another user's
 * objects, and the other kinds of System V and POSIX objects.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

TEST(cli_rm_of_another_users_object_fails_and_keeps_it)
{
	struct t_run r;
	char s[64], p[96];

	t_need_root("running the tool as another user");
	create_both(s, sizeof(s), p, sizeof(p), "theirs", "100", "0666");
	shmq_as_nobody(&r, "rm", s, (char *)NULL);
	check_runtime_error(&r, s);
	CHECK_HAS(r.err, "owner");
	shmq_as_nobody(&r, "rm", p, (char *)NULL);
	check_runtime_error(&r, p);
	check_both(p, 1);
}

/* ---- rm ---------------------------------------------------------------- */

TEST(cli_rm_removes_every_named_object)
{
	struct t_run r;
	char s[64], p[96], want[256];

	create_both(s, sizeof(s), p, sizeof(p), "rm", "10", NULL);
	SHMQ(&r, "rm", s, p);
	check_ok(&r);
	snprintf(want, sizeof(want), "removed %s\nremoved %s\n", s, p);
	CHECK_STREQ(r.out, want);
	check_both(p, 0);
}

TEST(cli_rm_goes_on_after_a_missing_object)
{
	struct t_run r;
	char s[64], p[96], missing[96];

	create_both(s, sizeof(s), p, sizeof(p), "rm2", "10", NULL);
	t_posix_loc(missing, sizeof(missing), "missing");
	SHMQ(&r, "rm", p, missing, s);
	check_error_line(&r, missing);
	CHECK_HAS(r.out, p);
	CHECK_HAS(r.out, s);
	check_both(p, 0);
}

TEST(cli_rm_dry_run_names_what_it_would_remove)
{
	struct t_run r;
	char s[64], p[96], want[256];

	create_both(s, sizeof(s), p, sizeof(p), "dry", "10", NULL);
	SHMQ(&r, "rm", "--dry-run", s, p);
	check_ok(&r);
	snprintf(want, sizeof(want), "would remove %s\nwould remove %s\n", s, p);
	CHECK_STREQ(r.out, want);
	check_both(p, 1);
}

/* Whether the tool's stat calls loc an orphan. */
static int tool_says_orphan(const char *loc)
{
	struct t_run r;

	SHMQ(&r, "stat", "--json", loc);
	check_ok(&r);
	return strstr(r.out, "\"orphan\": true") != NULL;
}

TEST(cli_rm_orphans_removes_only_orphans)
{
	struct t_run r;
	struct t_holder hs, hp;
	struct shmq_seg_opts o = { .size = 100 };
	shmq_seg *seg;
	char dead[64], held[64], alive[64], mapped[96], unmapped[96], want[256];
	int unmapped_orphan;

	/* A sweep must see only this test's objects. */
	private_namespaces(CLONE_NEWIPC | CLONE_NEWNS, "size=16m,mode=1777");
	create(t_sysv_loc(dead, sizeof(dead), 1), "100", NULL);
	create(t_sysv_loc(held, sizeof(held), 2), "100", NULL);
	t_hold(&hs, held, 0);
	/* This test process creates it, detaches, and lives on. */
	CHECK_EQ(shmq_seg_create(&seg, t_sysv_loc(alive, sizeof(alive), 3), &o),
	         0);
	CHECK_EQ(shmq_seg_close(seg), 0);
	create(t_posix_loc(mapped, sizeof(mapped), "mapped"), "100", NULL);
	t_hold(&hp, mapped, 0);
	create(t_posix_loc(unmapped, sizeof(unmapped), "unmapped"), "100", NULL);

	CHECK(tool_says_orphan(dead));
	CHECK(!tool_says_orphan(held));
	CHECK(!tool_says_orphan(alive));
	CHECK(!tool_says_orphan(mapped));
	unmapped_orphan = tool_says_orphan(unmapped);

	SHMQ(&r, "rm", "--orphans", "--dry-run");
	check_ok(&r);
	snprintf(want, sizeof(want), "would remove %s (orphan: creator pid ",
	         dead);
	CHECK_HAS(r.out, want);
	CHECK(!strstr(r.out, held) && !strstr(r.out, alive) &&
	      !strstr(r.out, mapped));
	CHECK(sysv_exists(t_key(1)) && posix_exists(bare(unmapped)));

	SHMQ(&r, "rm", "--orphans");
	check_ok(&r);
	snprintf(want, sizeof(want), "removed %s (orphan: creator pid ", dead);
	CHECK_HAS(r.out, want);
	CHECK_HAS(r.out, " dead, no attacher)");
	CHECK(!strstr(r.out, held) && !strstr(r.out, alive) &&
	      !strstr(r.out, mapped));
	CHECK(!sysv_exists(t_key(1)));
	CHECK(sysv_exists(t_key(2)) && sysv_exists(t_key(3)));
	CHECK(posix_exists(bare(mapped)));
	CHECK_EQ(posix_exists(bare(unmapped)), !unmapped_orphan);

	/* Once its attacher is gone, the held one is an orphan too. */
	t_release(&hs);
	t_release(&hp);
	SHMQ(&r, "rm", "--orphans");
	check_ok(&r);
	CHECK_HAS(r.out, held);
	CHECK(!sysv_exists(t_key(2)));
	CHECK(sysv_exists(t_key(3)));
	SHMQ(&r, "rm", "--orphans");
	check_ok(&r);
	CHECK_HAS(r.out, "nothing to remove");
}

TEST(cli_rm_stale_removes_nothing_that_is_not_stale)
{
	struct t_run r;
	char s[64], p[96];

	private_namespaces(CLONE_NEWIPC | CLONE_NEWNS, "size=1m,mode=1777");
	create_both(s, sizeof(s), p, sizeof(p), "st", "100", NULL);
	SHMQ(&r, "rm", "--stale", "--dry-run");
	check_ok(&r);
	CHECK_STREQ(r.out, "nothing to remove: no stale object\n");
	SHMQ(&r, "rm", "--stale");
	check_ok(&r);
	CHECK_STREQ(r.out, "nothing to remove: no stale object\n");
	check_both(p, 1);
}

/* ---- Semaphore sets, message queues, POSIX named semaphores ------------ */

TEST(cli_rm_removes_semaphore_sets_queues_and_posix_semaphores)
{
	struct t_run r;
	char sl[96], ml[96], pl[96], byid[64], path[160], want[128];

	make_ipc(sl, ml, pl, sizeof(sl));
	snprintf(byid, sizeof(byid), "sysv-sem:id=%d", semget(t_key(1), 0, 0));
	SHMQ(&r, "rm", byid, ml, pl);
	check_ok(&r);
	snprintf(want, sizeof(want), "removed %s\n", sl); /* stat's name */
	CHECK_HAS(r.out, want);
	snprintf(want, sizeof(want), "removed %s\n", ml);
	CHECK_HAS(r.out, want);
	snprintf(want, sizeof(want), "removed %s\n", pl);
	CHECK_HAS(r.out, want);
	CHECK(semget(t_key(1), 0, 0) < 0 && errno == ENOENT);
	CHECK(msgget(t_key(2), 0) < 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "/dev/shm/sem.%s", pl + strlen("posix-sem:"));
	CHECK(access(path, F_OK) < 0);
	/* Gone: a second rm names each and fails. */
	SHMQ(&r, "rm", ml);
	check_runtime_error(&r, ml);
	CHECK_HAS(r.err, "no such object");
	SHMQ(&r, "rm", pl);
	check_runtime_error(&r, pl);
}

TEST(cli_malformed_or_misused_ipc_locators_give_clear_errors)
{
	static const struct {
		const char *cmd, *loc, *why;
	} cases[] = {
		{"stat", "sysv-sem:key=zz", "key must be a number"},
		{"rm", "posix-sem:a/b", "cannot contain '/'"},
		{"stat", "sysv-msg:0", "IPC_PRIVATE"},
		{"rm", "sysv-sem:id=x", "id must be a number"},
		{"ls", NULL, NULL},
	};
	struct t_run r;
	char sl[96], ml[96], pl[96];
	size_t i;

	for (i = 0; cases[i].loc; i++) {
		SHMQ(&r, cases[i].cmd, cases[i].loc);
		check_runtime_error(&r, cases[i].loc);
		CHECK_HAS(r.err, "malformed locator");
		CHECK_HAS(r.err, cases[i].why);
	}
	/* Not segments: no create, no dump, and nothing made. */
	snprintf(sl, sizeof(sl), "sysv-sem:key=0x%08x", (unsigned)t_key(1));
	SHMQ(&r, "create", sl, "--size", "10");
	check_runtime_error(&r, sl);
	CHECK_HAS(r.err, "semaphore set, not a segment");
	CHECK(semget(t_key(1), 0, 0) < 0);
	make_ipc(sl, ml, pl, sizeof(sl));
	SHMQ(&r, "dump", ml);
	check_runtime_error(&r, ml);
	CHECK_HAS(r.err, "message queue, not a segment");
	SHMQ(&r, "dump", pl);
	check_runtime_error(&r, pl);
	CHECK_HAS(r.err, "POSIX named semaphore");
}
