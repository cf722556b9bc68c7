/*
 * shmq ls: the table and the JSON, names other programs made, memfds held
 * by processes, and objects made by plain System V and Python writers.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

/* ---- ls ---------------------------------------------------------------- */

TEST(cli_ls_table_lists_both_families)
{
	struct t_run r;
	char s[64], p[96], key[32], line[1024], user[64] = "root";

	create(t_sysv_loc(s, sizeof(s), 1), "4321", "0640");
	create(t_posix_loc(p, sizeof(p), "ls"), "1234", "0604");
	if (geteuid() != 0)
		snprintf(user, sizeof(user), "%d", (int)geteuid());
	SHMQ(&r, "ls");
	check_ok(&r);
	CHECK(strncmp(r.out, "FAMILY", 6) == 0);
	CHECK_HAS(r.out, "KEY/NAME");
	CHECK_HAS(r.out, "ATTACHED");
	CHECK_HAS(r.out, "FLAGS");
	snprintf(key, sizeof(key), "0x%08x ", (unsigned)t_key(1));
	line_with(r.out, key, line, sizeof(line));
	CHECK(strncmp(line, "sysv ", 5) == 0);
	CHECK_HAS(line, " 0640 ");
	CHECK_HAS(line, " 4321 ");
	CHECK_HAS(line, "orphan");
	line_with(r.out, bare(p), line, sizeof(line));
	CHECK(strncmp(line, "posix ", 6) == 0);
	CHECK_HAS(line, " 0604 ");
	CHECK_HAS(line, " 1234 ");
	if (geteuid() == 0)
		CHECK_HAS(line, " root ");
	SHMQ(&r, "ls", "--all");
	check_ok(&r);
	CHECK_HAS(r.out, bare(p));
}

TEST(cli_ls_json_is_valid_with_the_required_fields)
{
	struct t_run r, py;
	char s[64], p[96], want[256];

	create(t_sysv_loc(s, sizeof(s), 1), "4321", "0640");
	create(t_posix_loc(p, sizeof(p), "lj"), "1234", "0604");
	SHMQ(&r, "ls", "--json");
	check_ok(&r);
	CHECK(r.out[0] == '[');
	CHECK_HAS(r.out, "]\n");
	snprintf(want, sizeof(want), "\"locator\": \"%s\"", s);
	CHECK_HAS(r.out, want);
	snprintf(want, sizeof(want), "\"locator\": \"%s\", \"name\": \"%s\"",
	         p, bare(p));
	CHECK_HAS(r.out, want);
	if (!t_have_program("python3"))
		t_skip_dep("python3", "JSON checked by substring only");
	t_python(&py, r.out, json_fields_py, s, p, (char *)NULL);
	snprintf(want, sizeof(want), "sysv 4321 0640 0 raw 0x%08x None\n",
	         (unsigned)t_key(1));
	CHECK(strncmp(py.out, want, strlen(want)) == 0);
	/* nattch of a POSIX object: 0, or null when some process's /proc
	 * entries are unreadable (even root's, in some containers). */
	snprintf(want, sizeof(want), "posix 1234 0604 0 raw None %s\n",
	         bare(p));
	if (!strstr(py.out, want)) {
		snprintf(want, sizeof(want), "posix 1234 0604 None raw None %s\n",
		         bare(p));
		CHECK_HAS(py.out, want);
	}
}

TEST(cli_ls_escapes_names_made_by_other_programs)
{
	static const char tag[] = "q\"b\\s\tc\x01\xc3\xa9\xff";
	static const char check_py[] =
		"import json, sys\n"
		"a = json.load(sys.stdin)\n"
		"want = sys.argv[1] + 'q\"b\\\\s\\tc\\x01\\u00e9\\u00ff'\n"
		"assert [o for o in a if o['name'] == want], want\n";
	struct t_run r, py;
	char name[128], prefix[64], path[160], line[1024];
	int fd;

	t_name(name, sizeof(name), tag);
	t_name(prefix, sizeof(prefix), "");
	snprintf(path, sizeof(path), "/%s", name);
	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 10), 0);
	close(fd);
	SHMQ(&r, "ls", "--json");
	check_ok(&r);
	CHECK_HAS(r.out, "q\\\"b\\\\s\\tc\\u0001\xc3\xa9\\u00ff\"");
	int python = t_have_program("python3");
	if (python)
		t_python(&py, r.out, check_py, prefix, (char *)NULL);
	SHMQ(&r, "ls");
	check_ok(&r);
	/* Control characters never reach the terminal. */
	line_with(r.out, prefix, line, sizeof(line));
	CHECK_HAS(line, "q\"b\\s?c?");
	CHECK(!strchr(line, '\t') && !strchr(line, '\x01'));
	shm_unlink(path);
	if (!python)
		t_skip_dep("python3", "the JSON was checked by substring only");
}

TEST(cli_ls_all_adds_memfds_held_by_processes)
{
	struct t_run r;
	char name[64], loc[96], c;
	int ready[2], go[2];
	pid_t pid;

	t_name(name, sizeof(name), "mfd");
	snprintf(loc, sizeof(loc), "memfd:%s", name);
	CHECK(pipe(ready) == 0 && pipe(go) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct shmq_seg_opts o = { .size = 4096 };
		shmq_seg *seg;
		close(ready[0]);
		close(go[1]);
		CHECK_EQ(shmq_seg_create(&seg, loc, &o), 0);
		CHECK(write(ready[1], "r", 1) == 1);
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		shmq_seg_close(seg);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	CHECK_EQ(read(ready[0], &c, 1), 1);
	SHMQ(&r, "ls", "--json");
	check_ok(&r);
	CHECK(!strstr(r.out, name));
	SHMQ(&r, "ls", "--all", "--json");
	check_ok(&r);
	CHECK_HAS(r.out, "\"family\": \"memfd\"");
	CHECK_HAS(r.out, name);
	close(ready[0]);
	close(go[1]);
	CHECK_EQ(t_wait(pid), 0);
}

/* ---- Interop: objects other programs made ------------------------------ */

TEST(cli_sees_and_dumps_a_segment_of_a_plain_sysv_writer)
{
	struct t_run r, py;
	char s[64], want[128];
	int id;
	char *p;

	/* The seed article's writer: shmget, shmat, write, stay attached. */
	id = shmget(t_key(5), 4096, IPC_CREAT | IPC_EXCL | 0644);
	CHECK(id >= 0);
	p = shmat(id, NULL, 0);
	CHECK(p != (void *)-1);
	strcpy(p, "seed writer");
	t_sysv_loc(s, sizeof(s), 5);
	SHMQ(&r, "ls", "--json");
	check_ok(&r);
	int python = t_have_program("python3");
	if (python) {
		t_python(&py, r.out, json_fields_py, s, (char *)NULL);
		snprintf(want, sizeof(want), "sysv 4096 0644 1 raw 0x%08x None\n",
		         (unsigned)t_key(5));
		CHECK_STREQ(py.out, want);
	} else {
		CHECK_HAS(r.out, "\"nattch\": 1,");
	}
	SHMQ(&r, "dump", s, "--length", "16");
	check_ok(&r);
	CHECK_HAS(r.out, "|seed writer.....|");
	CHECK_EQ(shmdt(p), 0);
	if (!python)
		t_skip_dep("python3", "the JSON was checked by substring only");
}

TEST(cli_sees_and_dumps_a_python_shared_memory_object)
{
	static const char script[] =
		"import json, subprocess, sys\n"
		"from multiprocessing import shared_memory\n"
		"tool, name = sys.argv[1], sys.argv[2]\n"
		"m = shared_memory.SharedMemory(name=name, create=True, size=1000)\n"
		"try:\n"
		"    m.buf[:11] = b'from python'\n"
		"    run = lambda *a: subprocess.run([tool] + list(a), check=True,\n"
		"                                    capture_output=True).stdout\n"
		"    o = [x for x in json.loads(run('ls', '--json'))\n"
		"         if x['name'] == name][0]\n"
		"    print(o['family'], o['size'], o['mode'], o['nattch'], o['kind'])\n"
		"    sys.stdout.write(run('dump', 'posix:' + name, '--length', '16')\n"
		"                     .decode())\n"
		"finally:\n"
		"    m.close()\n"
		"    m.unlink()\n";
	struct t_run r;
	char name[64];

	if (!t_have_program("python3"))
		t_skip_dep("python3", "no python to make the object");
	t_name(name, sizeof(name), "py");
	t_python(&r, NULL, script, t_shmq_bin(), name, (char *)NULL);
	CHECK_STREQ(r.out, "posix 1000 0600 1 raw\n"
	                   "00000000  66 72 6f 6d 20 70 79 74  68 6f 6e 00 00 "
	                   "00 00 00  |from python.....|\n"
	                   "00000010\n");
	CHECK(!posix_exists(name));
}

/* ---- Semaphore sets, message queues, POSIX named semaphores ------------ */

TEST(cli_ls_shows_semaphore_sets_queues_and_posix_semaphores)
{
	static const char check_py[] =
		"import json, sys\n"
		"a = {o['locator']: o for o in json.load(sys.stdin)}\n"
		"s, m, p = (a[l] for l in sys.argv[1:4])\n"
		"assert s['family'] == 'sysv-sem' and s['nsems'] == 3, s\n"
		"assert s['mode'] == '0640' and s['nattch'] is None, s\n"
		"assert m['family'] == 'sysv-msg' and m['qnum'] == 1, m\n"
		"assert m['size'] == 5 and m['lspid_alive'] is True, m\n"
		"assert p['family'] == 'posix-sem' and p['name'] == sys.argv[4], p\n"
		"assert p['key'] is None and p['nsems'] is None, p\n";
	struct t_run r, py;
	char sl[96], ml[96], pl[96], key[32], line[1024];

	make_ipc(sl, ml, pl, sizeof(sl));
	SHMQ(&r, "ls");
	check_ok(&r);
	snprintf(key, sizeof(key), "0x%08x ", (unsigned)t_key(1));
	line_with(r.out, key, line, sizeof(line));
	CHECK(strncmp(line, "sysv-sem ", 9) == 0);
	CHECK_HAS(line, " 3 sems ");
	CHECK_HAS(line, " 0640 ");
	snprintf(key, sizeof(key), "0x%08x ", (unsigned)t_key(2));
	line_with(r.out, key, line, sizeof(line));
	CHECK(strncmp(line, "sysv-msg ", 9) == 0);
	CHECK_HAS(line, " 1 msg (5 B) ");
	line_with(r.out, pl + strlen("posix-sem:"), line, sizeof(line));
	CHECK(strncmp(line, "posix-sem ", 10) == 0);
	SHMQ(&r, "ls", "--json");
	check_ok(&r);
	if (!t_have_program("python3"))
		t_skip_dep("python3", "the JSON was not checked");
	t_python(&py, r.out, json_fields_py, sl, ml, pl, (char *)NULL);
	t_python(&py, r.out, check_py, sl, ml, pl, pl + strlen("posix-sem:"),
	       (char *)NULL);
}
