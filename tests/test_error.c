/* Errors: every code has a name and an explanation; the per-object
 * explanation names the object and the fix, and never overruns. */
#include "shmq.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

TEST(strerror_explains_every_own_code)
{
	for (int c = SHMQ_ELOCATOR; c >= SHMQ_ELAST; c--) {
		const char *text = shmq_strerror(c), *name = shmq_err_name(c);
		CHECK(text && *text);
		CHECK(strcmp(text, "unknown error"));
		CHECK(strcmp(text, shmq_strerror(-EINVAL)));
		CHECK(!strncmp(name, "SHMQ_E", 6));
		/* Each code has its own words. */
		for (int d = c - 1; d >= SHMQ_ELAST; d--) {
			CHECK(strcmp(text, shmq_strerror(d)));
			CHECK(strcmp(name, shmq_err_name(d)));
		}
	}
	CHECK(!strcmp(shmq_err_name(SHMQ_ELOCATOR), "SHMQ_ELOCATOR"));
	CHECK(!strcmp(shmq_err_name(SHMQ_ESIZEMAX), "SHMQ_ESIZEMAX"));
	CHECK(!strcmp(shmq_err_name(SHMQ_ESIZEMIN), "SHMQ_ESIZEMIN"));
	CHECK(!strcmp(shmq_err_name(SHMQ_ENOHUGE), "SHMQ_ENOHUGE"));
	CHECK(!strcmp(shmq_err_name(SHMQ_ESMALL), "SHMQ_ESMALL"));
	CHECK(!strcmp(shmq_err_name(SHMQ_EFAMILY), "SHMQ_EFAMILY"));
	CHECK_HAS(shmq_strerror(SHMQ_ESIZEMAX), "shmmax");
	CHECK_HAS(shmq_strerror(SHMQ_ENOHUGE), "vm.nr_hugepages");
	CHECK_HAS(shmq_strerror(SHMQ_ELOCATOR), "locator");
}

TEST(strerror_passes_errno_through)
{
	CHECK(!strcmp(shmq_strerror(-ENOENT), strerror(ENOENT)));
	CHECK(!strcmp(shmq_strerror(-EACCES), strerror(EACCES)));
	CHECK(!strcmp(shmq_err_name(-ENOENT), "ENOENT"));
	CHECK(!strcmp(shmq_err_name(-EEXIST), "EEXIST"));
	/* Never NULL, whatever comes in. */
	const int odd[] = {0, 1, -SHMQ_EBASE, SHMQ_ELAST - 1, -100000, 1 << 30};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		CHECK(shmq_strerror(odd[i]) != NULL);
		CHECK(shmq_err_name(odd[i]) != NULL);
	}
}

TEST(err_name_and_strerror_come_from_the_one_table)
{
	int rows = 0;
#define XX(name, n, text)                                                    \
	CHECK_EQ(SHMQ_##name, -(SHMQ_EBASE + n));                            \
	CHECK(!strcmp(shmq_err_name(SHMQ_##name), "SHMQ_" #name));           \
	CHECK(!strcmp(shmq_strerror(SHMQ_##name), text));                    \
	rows++;
	SHMQ_ERRNO_MAP(XX)
#undef XX
	CHECK_EQ(rows, 15);
	CHECK_EQ(SHMQ_ELAST, SHMQ_EPOOL);
	CHECK_EQ(SHMQ_ELAST, -(SHMQ_EBASE + rows));
}

TEST(strerror_r_copies_the_sentence_and_truncates)
{
	char buf[512], small[8];
	/* 0, every errno, every own code: the static sentence. */
	for (int c = 0; c >= -133; c--) {
		CHECK(shmq_strerror_r(c, buf, sizeof(buf)) == buf);
		if (strcmp(shmq_strerror(c), "unknown error"))
			CHECK(!strcmp(buf, shmq_strerror(c)));
		else /* a hole in the errno list, as 41 */
			CHECK(!strncmp(buf, "unknown error -", 15));
	}
	for (int c = SHMQ_ELOCATOR; c >= SHMQ_ELAST; c--)
		CHECK(!strcmp(shmq_strerror_r(c, buf, sizeof(buf)),
		              shmq_strerror(c)));
	memset(small, 'x', sizeof(small));
	shmq_strerror_r(SHMQ_ELOCATOR, small, 5);
	CHECK(!strcmp(small, "malf"));
	CHECK_EQ(small[5], 'x'); /* nothing written past len */
	CHECK(shmq_strerror_r(-ENOENT, small, 0) == small);
	CHECK_EQ(small[0], 'm');
	/* Unknown codes say their number. */
	CHECK(!strcmp(shmq_strerror_r(SHMQ_ELAST - 1, buf, sizeof(buf)),
	              "unknown error -4112"));
	CHECK(!strcmp(shmq_strerror_r(-SHMQ_EBASE, buf, sizeof(buf)),
	              "unknown error -4096"));
	CHECK(!strcmp(shmq_strerror_r(7, buf, sizeof(buf)), "unknown error 7"));
}

TEST(explain_names_the_object_and_the_fix)
{
	char buf[512];
	CHECK(shmq_explain(-EEXIST, "posix:cam0", 0, buf, sizeof(buf)) == buf);
	CHECK_HAS(buf, "posix:cam0");
	CHECK_HAS(buf, "already exists");
	CHECK_HAS(buf, "shmq_unlink()");
	shmq_explain(-ENOENT, "sysv:key=0x0000007b", 0, buf, sizeof(buf));
	CHECK_HAS(buf, "sysv:key=0x0000007b");
	CHECK_HAS(buf, "shmq_list()");
	shmq_explain(SHMQ_ELOCATOR, "posix:a/b", 0, buf, sizeof(buf));
	CHECK_HAS(buf, "posix:a/b");
	CHECK_HAS(buf, "locator");
	shmq_explain(SHMQ_ESMALL, "posix:cam0", 99999, buf, sizeof(buf));
	CHECK_HAS(buf, "99999");
	/* No object: still one sensible line. */
	shmq_explain(SHMQ_ESIZEMIN, NULL, 0, buf, sizeof(buf));
	CHECK(strlen(buf) > 10);
	CHECK(!strchr(buf, '\n'));
}

/* The library explains in its API's terms; the tool's options and commands
 * are the tool's to add (cli_explain). */
TEST(explain_never_speaks_in_the_tools_words)
{
	static const char *const objects[] = {
		NULL, "posix:cam0", "sysv:key=0x7b", "sysv:id=5", "memfd:fd=3",
		"sysv-sem:key=0x7b", "sysv-msg:key=0x7b", "posix-sem:s",
		"sysv:ftok=/nonexistent-shmq:1",
	};
	static const char *const tool[] = {
		"--mode", "--any-owner", "--size", "--capacity", "--msg-size",
		"--orphans", "--create", "shmq rm", "shmq ls", "shmq stat",
		"shmq create", "shmq dump",
	};
	static const int errnos[] = {
		-EACCES, -EPERM, -ENOENT, -EEXIST, -ENOSPC, -ENOMEM, -EIDRM,
		-EMSGSIZE, -E2BIG, -ERANGE, -EINVAL,
	};
	char buf[1024];
	for (size_t o = 0; o < sizeof(objects) / sizeof(objects[0]); o++) {
		for (int c = SHMQ_ELOCATOR; c >= SHMQ_ELAST; c--) {
			shmq_explain(c, objects[o], 4096, buf, sizeof(buf));
			for (size_t t = 0; t < sizeof(tool) / sizeof(tool[0]); t++)
				CHECK(!strstr(buf, tool[t]));
		}
		for (size_t e = 0; e < sizeof(errnos) / sizeof(errnos[0]); e++) {
			shmq_explain(errnos[e], objects[o], 4096, buf,
			             sizeof(buf));
			for (size_t t = 0; t < sizeof(tool) / sizeof(tool[0]); t++)
				CHECK(!strstr(buf, tool[t]));
		}
	}
}

TEST(explain_truncates_within_the_buffer)
{
	char buf[16];
	memset(buf, 'x', sizeof(buf));
	shmq_explain(-EEXIST, "posix:a-rather-long-object-name", 0, buf, 10);
	CHECK_EQ(strlen(buf), 9);
	CHECK_EQ(buf[10], 'x'); /* nothing written past len */
	CHECK(shmq_explain(-EEXIST, "x", 0, buf, 0) == buf);
}

TEST(explain_for_shmmax_quotes_the_live_limit)
{
	char buf[512], lim[32];
	struct shmq_limits l;
	CHECK_EQ(shmq_limits_get(&l), 0);
	snprintf(lim, sizeof(lim), "%llu", (unsigned long long)l.shmmax);
	shmq_explain(SHMQ_ESIZEMAX, "sysv:private", 123456789, buf,
	             sizeof(buf));
	CHECK_HAS(buf, lim);
	CHECK_HAS(buf, "123456789");
}
