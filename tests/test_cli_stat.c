/*
 * shmq stat: one field per line or one JSON object, for segments, objects
 * marked for removal, semaphore sets, queues and POSIX semaphores.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

/* ---- stat -------------------------------------------------------------- */

TEST(cli_stat_text_shows_one_field_per_line)
{
	struct t_run r;
	char s[64], p[96], v[256], want[64];
	long page = sysconf(_SC_PAGESIZE);

	create(t_sysv_loc(s, sizeof(s), 1), "100", "0640");
	SHMQ(&r, "stat", s);
	check_ok(&r);
	CHECK_STREQ(field(r.out, "family", v, sizeof(v)), "sysv");
	CHECK_STREQ(field(r.out, "locator", v, sizeof(v)), s);
	snprintf(want, sizeof(want), "0x%08x", (unsigned)t_key(1));
	CHECK_STREQ(field(r.out, "key", v, sizeof(v)), want);
	CHECK_EQ(atoi(field(r.out, "id", v, sizeof(v))), shmget(t_key(1), 0, 0));
	CHECK_EQ(atoll(field(r.out, "size", v, sizeof(v))), 100);
	CHECK_EQ(atoll(field(r.out, "mapped_size", v, sizeof(v))), page);
	CHECK_STREQ(field(r.out, "mode", v, sizeof(v)), "0640");
	CHECK_EQ(atoi(field(r.out, "uid", v, sizeof(v))), (int)geteuid());
	CHECK_STREQ(field(r.out, "nattch", v, sizeof(v)), "0");
	CHECK_HAS(field(r.out, "cpid", v, sizeof(v)), "(dead)");
	CHECK_STREQ(field(r.out, "removed", v, sizeof(v)), "no");
	CHECK_HAS(field(r.out, "orphan", v, sizeof(v)), "yes");
	CHECK_STREQ(field(r.out, "kind", v, sizeof(v)), "raw");

	create(t_posix_loc(p, sizeof(p), "st"), "5000", NULL);
	SHMQ(&r, "stat", p);
	check_ok(&r);
	CHECK_STREQ(field(r.out, "family", v, sizeof(v)), "posix");
	CHECK_STREQ(field(r.out, "name", v, sizeof(v)), bare(p));
	CHECK_EQ(atoll(field(r.out, "size", v, sizeof(v))), 5000);
	CHECK_EQ(atoll(field(r.out, "mapped_size", v, sizeof(v))),
	         (5000 + page - 1) / page * page);
	CHECK_STREQ(field(r.out, "mode", v, sizeof(v)), "0600");
}

TEST(cli_stat_json_is_one_object_with_every_field)
{
	struct t_run r, py;
	char s[64], p[96], want[256];

	create(t_sysv_loc(s, sizeof(s), 1), "100", "0640");
	create(t_posix_loc(p, sizeof(p), "sj"), "300", "0604");
	SHMQ(&r, "stat", s, "--json");
	check_ok(&r);
	CHECK(r.out[0] == '{');
	snprintf(want, sizeof(want), "\"key\": \"0x%08x\"", (unsigned)t_key(1));
	CHECK_HAS(r.out, want);
	CHECK_HAS(r.out, "\"mode\": \"0640\"");
	CHECK_HAS(r.out, "\"size\": 100,");
	CHECK_HAS(r.out, "\"nattch\": 0,");
	CHECK_HAS(r.out, "\"kind\": \"raw\"");
	int python = t_have_program("python3");
	if (python) {
		t_python(&py, r.out, json_fields_py, s, (char *)NULL);
		snprintf(want, sizeof(want), "sysv 100 0640 0 raw 0x%08x None\n",
		         (unsigned)t_key(1));
		CHECK_STREQ(py.out, want);
	}
	SHMQ(&r, "stat", "--json", p);
	check_ok(&r);
	CHECK_HAS(r.out, "\"family\": \"posix\"");
	CHECK_HAS(r.out, "\"key\": null");
	if (!python)
		t_skip_dep("python3", "the JSON was checked by substring only");
	t_python(&py, r.out, json_fields_py, p, (char *)NULL);
	CHECK_HAS(py.out, "posix 300 0604 ");
}

/* Runs stat, stat --json and ls --json on the System V segment s; checks
 * that huge is text (stat), json (both). */
static void check_huge(const char *s, const char *text, const char *json)
{
	struct t_run r;
	char v[256], line[4096];

	SHMQ(&r, "stat", s);
	check_ok(&r);
	CHECK_HAS(field(r.out, "huge", v, sizeof(v)), text);
	SHMQ(&r, "stat", s, "--json");
	check_ok(&r);
	CHECK_HAS(r.out, json);
	SHMQ(&r, "ls", "--json");
	check_ok(&r);
	if (!line_with(r.out, s, line, sizeof(line))[0])
		t_fail(__FILE__, __LINE__, "ls --json", "no %s in:\n%s", s,
		       r.out);
	CHECK_HAS(line, json);
}

/* With huge pages reserved: a segment made with --huge 2M. */
static void huge_segment_body(void)
{
	struct t_run r;
	struct t_holder h;
	char s[64], v[256], line[1024];

	t_sysv_loc(s, sizeof(s), 1);
	SHMQ(&r, "create", s, "--size", "2M", "--huge", "2M");
	check_ok(&r);
	/* The kernel has its pages reserved, but tells no one that does not
	 * map it: unknown, not "no". */
	check_huge(s, "? (only a process that maps it", "\"huge\": null");
	t_hold(&h, s, 0);
	check_huge(s, "yes", "\"huge\": true");
	SHMQ(&r, "stat", s);
	CHECK_STREQ(field(r.out, "mapped_size", v, sizeof(v)),
	            "2097152 (rounded up to the huge page)");
	SHMQ(&r, "ls");
	snprintf(v, sizeof(v), "0x%08x ", (unsigned)t_key(1));
	CHECK_HAS(line_with(r.out, v, line, sizeof(line)), "  huge");
	t_release(&h);
	check_huge(s, "?", "\"huge\": null");
	SHMQ(&r, "rm", s);
	check_ok(&r);
}

TEST(cli_stat_huge_is_known_only_from_a_process_that_maps_it)
{
	struct t_holder h;
	char s[64];

	/* ls --json shows only this test's segments. */
	private_namespaces(CLONE_NEWIPC, NULL);
	create(t_sysv_loc(s, sizeof(s), 2), "100", NULL);
	check_huge(s, "?", "\"huge\": null");
	t_hold(&h, s, 0);
	check_huge(s, "no", "\"huge\": false");
	t_release(&h);
	if (t_huge_2m_reserve() >= 4)
		huge_segment_body();
	else
		t_with_huge_pages(huge_segment_body);
}

TEST(cli_stat_and_rm_report_marked_for_removal)
{
	struct t_run r;
	struct t_holder h;
	struct shmid_ds ds;
	char s[64], byid[64], v[256];
	int id;

	create(t_sysv_loc(s, sizeof(s), 1), "100", NULL);
	id = shmget(t_key(1), 0, 0);
	snprintf(byid, sizeof(byid), "sysv:id=%d", id);
	t_hold(&h, s, 0);
	SHMQ(&r, "rm", s);
	check_ok(&r);
	CHECK_HAS(r.out, "removed ");
	CHECK_HAS(r.out, "marked for removal");
	CHECK(!sysv_exists(t_key(1))); /* the key is gone at once */
	SHMQ(&r, "stat", byid);
	check_ok(&r);
	CHECK_HAS(field(r.out, "removed", v, sizeof(v)), "marked for removal");
	CHECK_STREQ(field(r.out, "nattch", v, sizeof(v)), "1");
	CHECK_HAS(field(r.out, "lpid", v, sizeof(v)), "(alive)");
	SHMQ(&r, "stat", byid, "--json");
	check_ok(&r);
	CHECK_HAS(r.out, "\"removed\": true");
	CHECK_HAS(r.out, "\"orphan\": false");
	t_release(&h);
	CHECK(shmctl(id, IPC_STAT, &ds) < 0); /* gone with the last detach */
}

TEST(cli_stat_shows_semaphore_sets_queues_and_posix_semaphores)
{
	struct t_run r, py;
	char sl[96], ml[96], pl[96], v[256], want[32];

	make_ipc(sl, ml, pl, sizeof(sl));
	SHMQ(&r, "stat", sl);
	check_ok(&r);
	CHECK_STREQ(field(r.out, "family", v, sizeof(v)), "sysv-sem");
	CHECK_STREQ(field(r.out, "locator", v, sizeof(v)), sl);
	snprintf(want, sizeof(want), "0x%08x", (unsigned)t_key(1));
	CHECK_STREQ(field(r.out, "key", v, sizeof(v)), want);
	CHECK_EQ(atoi(field(r.out, "id", v, sizeof(v))), semget(t_key(1), 0, 0));
	CHECK_STREQ(field(r.out, "nsems", v, sizeof(v)), "3");
	CHECK_STREQ(field(r.out, "mode", v, sizeof(v)), "0640");
	CHECK_STREQ(field(r.out, "orphan", v, sizeof(v)), "no");
	SHMQ(&r, "stat", ml);
	check_ok(&r);
	CHECK_STREQ(field(r.out, "family", v, sizeof(v)), "sysv-msg");
	CHECK_HAS(field(r.out, "qnum", v, sizeof(v)), "1 ");
	CHECK_HAS(field(r.out, "size", v, sizeof(v)), "5 (bytes queued)");
	CHECK_HAS(field(r.out, "qbytes", v, sizeof(v)), "(capacity)");
	snprintf(want, sizeof(want), "%d (alive)", (int)getpid());
	CHECK_STREQ(field(r.out, "lspid", v, sizeof(v)), want);
	CHECK_HAS(field(r.out, "lrpid", v, sizeof(v)), "none");
	SHMQ(&r, "stat", pl, "--json");
	check_ok(&r);
	CHECK_HAS(r.out, "\"family\": \"posix-sem\"");
	t_python(&py, r.out, json_fields_py, pl, (char *)NULL);
	CHECK_HAS(py.out, "posix-sem ");
}
