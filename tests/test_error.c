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

TEST(strerror_r_names_the_object_and_the_fix)
{
	char buf[512];
	CHECK(shmq_strerror_r(-EEXIST, "posix:cam0", 0, buf, sizeof(buf)) == buf);
	CHECK_HAS(buf, "posix:cam0");
	CHECK_HAS(buf, "already exists");
	shmq_strerror_r(-ENOENT, "sysv:key=0x0000007b", 0, buf, sizeof(buf));
	CHECK_HAS(buf, "sysv:key=0x0000007b");
	CHECK_HAS(buf, "shmq ls");
	shmq_strerror_r(SHMQ_ELOCATOR, "posix:a/b", 0, buf, sizeof(buf));
	CHECK_HAS(buf, "posix:a/b");
	CHECK_HAS(buf, "locator");
	shmq_strerror_r(SHMQ_ESMALL, "posix:cam0", 99999, buf, sizeof(buf));
	CHECK_HAS(buf, "99999");
	/* No object: still one sensible line. */
	shmq_strerror_r(SHMQ_ESIZEMIN, NULL, 0, buf, sizeof(buf));
	CHECK(strlen(buf) > 10);
	CHECK(!strchr(buf, '\n'));
}

TEST(strerror_r_truncates_within_the_buffer)
{
	char buf[16];
	memset(buf, 'x', sizeof(buf));
	shmq_strerror_r(-EEXIST, "posix:a-rather-long-object-name", 0, buf, 10);
	CHECK_EQ(strlen(buf), 9);
	CHECK_EQ(buf[10], 'x'); /* nothing written past len */
	CHECK(shmq_strerror_r(-EEXIST, "x", 0, buf, 0) == buf);
}

TEST(strerror_r_for_shmmax_quotes_the_live_limit)
{
	char buf[512], lim[32];
	struct shmq_limits l;
	CHECK_EQ(shmq_limits_get(&l), 0);
	snprintf(lim, sizeof(lim), "%llu", (unsigned long long)l.shmmax);
	shmq_strerror_r(SHMQ_ESIZEMAX, "sysv:private", 123456789, buf,
			sizeof(buf));
	CHECK_HAS(buf, lim);
	CHECK_HAS(buf, "123456789");
}

TEST(version_matches_header)
{
	CHECK(!strcmp(shmq_version(), SHMQ_VERSION_STRING));
	char v[32];
	snprintf(v, sizeof(v), "%d.%d.%d", SHMQ_VERSION_MAJOR,
		 SHMQ_VERSION_MINOR, SHMQ_VERSION_PATCH);
	CHECK(!strcmp(v, SHMQ_VERSION_STRING));
}
