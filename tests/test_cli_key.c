/*
 * shmq key: the ftok key of a path and a project id, and the same key
 * through a sysv:ftok= locator. The ftok keys are not t_keys: a test
 * removes what it made right after the command that made it.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

/* ---- key --------------------------------------------------------------- */

/* A regular file for ftok, under a name the runner removes. */
static const char *ftok_file(char *buf, size_t len)
{
	char name[64];
	int fd;

	snprintf(buf, len, "/dev/shm/%s", t_name(name, sizeof(name), "ftok"));
	fd = open(buf, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	return buf;
}

TEST(cli_key_prints_the_ftok_key_and_warns)
{
	struct t_run r;
	char path[128], want[32];

	ftok_file(path, sizeof(path));
	snprintf(want, sizeof(want), "0x%08x\n", (unsigned)ftok(path, 'A'));
	SHMQ(&r, "key", path, "A");
	check_ok(&r);
	CHECK_STREQ(r.out, want);
	CHECK_HAS(r.err, "collide");
	SHMQ(&r, "key", path, "65");
	check_ok(&r);
	CHECK_STREQ(r.out, want);
	/* The number forms of every key: 0x hex, 0 octal. */
	SHMQ(&r, "key", path, "0x41");
	check_ok(&r);
	CHECK_STREQ(r.out, want);
	SHMQ(&r, "key", path, "0101");
	check_ok(&r);
	CHECK_STREQ(r.out, want);
	snprintf(want, sizeof(want), "0x%08x\n", (unsigned)ftok(path, 255));
	SHMQ(&r, "key", path, "255");
	check_ok(&r);
	CHECK_STREQ(r.out, want);
}

TEST(cli_key_rejects_bad_proj_and_missing_path)
{
	static const char *const bad[] = { "0", "256", "ab", "", "1x",
		                           "0x100", "08", "0x", "-1", "a:b" };
	struct t_run r;
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		SHMQ(&r, "key", "/tmp", bad[i]);
		check_usage_error(&r, "key");
		CHECK_HAS(r.err, "PROJ");
	}
	SHMQ(&r, "key", "/nonexistent/shmq", "1");
	check_runtime_error(&r, "/nonexistent/shmq");
}

TEST(cli_create_by_ftok_uses_the_key_that_key_prints)
{
	struct t_run r, k, rm;
	char path[128], loc[192], want[64];
	int32_t key;

	ftok_file(path, sizeof(path));
	key = (int32_t)ftok(path, 0x34);
	snprintf(loc, sizeof(loc), "sysv:ftok=%s:0x34", path);
	if (sysv_exists(key))
		t_skip("the ftok key of a fresh file collides with a segment");
	SHMQ(&r, "create", loc, "--size", "10");
	SHMQ(&k, "key", path, "0x34");
	/* Not a t_key: remove it before any check can end the test. */
	SHMQ(&rm, "rm", loc);
	if (sysv_exists(key))
		shmctl(shmget(key, 0, 0), IPC_RMID, NULL);
	check_ok(&r);
	snprintf(want, sizeof(want), "sysv:key=0x%08x id=", (unsigned)key);
	CHECK(strncmp(r.out, want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "0x%08x\n", (unsigned)key);
	CHECK_STREQ(k.out, want);
	CHECK_HAS(k.err, "in use");
	check_ok(&rm);
}
