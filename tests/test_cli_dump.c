/*
 * shmq dump: hexdump -C's format, ranges kept inside the segment, and a
 * read-only attach that another user's mode allows.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <stdio.h>
#include <string.h>

/* ---- Permissions ------------------------------------------------------- */

TEST(cli_permission_denied_names_mode_and_owner)
{
	struct t_run r;
	char s[64], p[96];

	t_need_root("running the tool as another user");
	create_both(s, sizeof(s), p, sizeof(p), "priv", "100", "0600");
	shmq_as_nobody(&r, "dump", s, (char *)NULL);
	check_runtime_error(&r, s);
	CHECK_HAS(r.err, "0600");
	CHECK_HAS(r.err, "owner");
	shmq_as_nobody(&r, "dump", p, (char *)NULL);
	check_runtime_error(&r, p);
	CHECK_HAS(r.err, "0600");
	CHECK_HAS(r.err, "owner");
}

TEST(cli_dump_attaches_read_only)
{
	struct t_run r;
	char s[64], p[96];

	/* Mode 0444: a read-write attach by another user would be denied. */
	t_need_root("running the tool as another user");
	create_both(s, sizeof(s), p, sizeof(p), "ro", "16", "0444");
	sysv_write(t_key(1), 0, "sysv-ro", 7);
	posix_write(bare(p), 0, "posix-ro", 8);
	shmq_as_nobody(&r, "dump", s, (char *)NULL);
	check_ok(&r);
	CHECK_HAS(r.out, "|sysv-ro.........|");
	shmq_as_nobody(&r, "dump", p, (char *)NULL);
	check_ok(&r);
	CHECK_HAS(r.out, "|posix-ro........|");
}

/* ---- dump -------------------------------------------------------------- */

TEST(cli_dump_shows_sysv_bytes_in_hexdump_format)
{
	struct t_run r;
	char s[64];

	create(t_sysv_loc(s, sizeof(s), 1), "40", NULL);
	sysv_write(t_key(1), 0, "hello", 5);
	sysv_write(t_key(1), 32, "tail", 4);
	SHMQ(&r, "dump", s);
	check_ok(&r);
	CHECK_STREQ(r.out,
	            "00000000  68 65 6c 6c 6f 00 00 00  00 00 00 00 00 00 00 00"
	            "  |hello...........|\n"
	            "00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00"
	            "  |................|\n"
	            "00000020  74 61 69 6c 00 00 00 00                         "
	            "  |tail....|\n"
	            "00000028\n");
	SHMQ(&r, "dump", s, "--offset", "32", "--length", "4");
	check_ok(&r);
	CHECK_STREQ(r.out,
	            "00000020  74 61 69 6c                                     "
	            "  |tail|\n"
	            "00000024\n");
}

/* 200 bytes: text and every kind of byte, zero lines to fold, a tail. */
static void fill_pattern(const char *name)
{
	unsigned char b[200];
	int i;

	memset(b, 0, sizeof(b));
	memcpy(b, "Hello, shmq!\n", 13);
	for (i = 13; i < 32; i++)
		b[i] = (unsigned char)(i * 37 + 0x7d);
	for (i = 160; i < 200; i++)
		b[i] = (unsigned char)('A' + i % 26);
	posix_write(name, 0, b, sizeof(b));
}

/* Runs hexdump -C and shmq dump over the same range; they must agree. */
static void compare_with_hexdump(const char *loc, const char *off,
                                 const char *len)
{
	struct t_run want, got;
	char path[160], *hd[8], *tool[8];
	size_t h = 0, t = 0;

	snprintf(path, sizeof(path), "/dev/shm/%s", bare(loc));
	hd[h++] = "hexdump";
	hd[h++] = "-C";
	tool[t++] = (char *)t_shmq_bin();
	tool[t++] = "dump";
	tool[t++] = (char *)loc;
	if (off) {
		hd[h++] = "-s";
		hd[h++] = (char *)off;
		tool[t++] = "--offset";
		tool[t++] = (char *)off;
	}
	if (len) {
		hd[h++] = "-n";
		hd[h++] = (char *)len;
		tool[t++] = "--length";
		tool[t++] = (char *)len;
	}
	hd[h++] = path;
	hd[h] = tool[t] = NULL;
	CHECK_EQ(t_exec(&want, NULL, hd), 0);
	t_exec(&got, NULL, tool);
	check_ok(&got);
	CHECK_STREQ(got.out, want.out);
}

TEST(cli_dump_matches_hexdump_c)
{
	static const char *const ranges[][2] = {
		{ NULL, NULL }, { "5", "50" }, { "160", NULL }, { "32", "128" },
		{ "0", "0" }, { "17", "183" }, { "199", "1" }, { NULL, "48" },
	};
	struct t_run r;
	char p[96];
	size_t i;

	if (!t_have_program("hexdump"))
		t_skip_dep("bsdextrautils", "hexdump is not installed");
	create(t_posix_loc(p, sizeof(p), "hex"), "200", NULL);
	fill_pattern(bare(p));
	for (i = 0; i < NELEM(ranges); i++)
		compare_with_hexdump(p, ranges[i][0], ranges[i][1]);
	SHMQ(&r, "dump", p);
	CHECK_HAS(r.out, "\n*\n"); /* the zero lines are folded */
}

TEST(cli_dump_keeps_offset_and_length_inside_the_segment)
{
	struct t_run r;
	char p[96];

	create(t_posix_loc(p, sizeof(p), "rng"), "100", NULL);
	SHMQ(&r, "dump", p, "--offset", "101");
	check_runtime_error(&r, p);
	CHECK_HAS(r.err, "100");
	SHMQ(&r, "dump", p, "--offset", "50", "--length", "51");
	check_runtime_error(&r, "100");
	SHMQ(&r, "dump", p, "--length", "101");
	check_runtime_error(&r, "100");
	SHMQ(&r, "dump", p, "--offset", "1G");
	check_runtime_error(&r, "100");
	SHMQ(&r, "dump", p, "--offset", "100");
	check_ok(&r);
	CHECK_STREQ(r.out, "");
	SHMQ(&r, "dump", p, "--offset", "99", "--length", "1");
	check_ok(&r);
	CHECK_HAS(r.out, "00000063  00");
	SHMQ(&r, "dump", p, "--offset", "abc");
	check_usage_error(&r, "dump");
	SHMQ(&r, "dump", p, "--length", "-1");
	check_usage_error(&r, "dump");
	SHMQ(&r, "dump", p, "--offset", "99999999999999999999");
	check_usage_error(&r, "dump");
}
