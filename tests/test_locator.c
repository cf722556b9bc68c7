/* Locators: every form in shmq.h parses to the object it names, malformed
 * ones are refused, and the canonical text parses back to the same thing. */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <unistd.h>

static struct shmq_locator parse_ok(const char *text)
{
	struct shmq_locator l;
	int rc = shmq_locator_parse(text, &l);
	if (rc != 0)
		t_fail(__FILE__, __LINE__, "shmq_locator_parse(text) == 0",
		       "\"%s\" gave %d (%s)", text, rc, shmq_err_name(rc));
	return l;
}

/* A regular file for ftok, under a name the runner removes. */
static const char *ftok_file(char *buf, size_t len)
{
	char name[64];
	snprintf(buf, len, "/dev/shm/%s", t_name(name, sizeof(name), "ftok"));
	int fd = open(buf, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	return buf;
}

TEST(locator_parses_sysv_key_in_every_spelling)
{
	const char *forms[] = {"sysv:key=0x7b", "sysv:0x7b", "sysv:123",
			       "sysv:key=123"};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct shmq_locator l = parse_ok(forms[i]);
		CHECK_EQ(l.family, SHMQ_FAMILY_SYSV);
		CHECK_EQ(l.by, SHMQ_BY_KEY);
		CHECK_EQ(l.key, 0x7b);
	}
	/* Keys are 32-bit: the top ones are negative key_t values. */
	struct shmq_locator l = parse_ok("sysv:key=0xffffffff");
	CHECK_EQ(l.key, (int32_t)-1);
}

TEST(locator_parses_sysv_id_and_private)
{
	struct shmq_locator l = parse_ok("sysv:id=32769");
	CHECK_EQ(l.family, SHMQ_FAMILY_SYSV);
	CHECK_EQ(l.by, SHMQ_BY_ID);
	CHECK_EQ(l.id, 32769);
	l = parse_ok("sysv:id=0");
	CHECK_EQ(l.by, SHMQ_BY_ID);
	CHECK_EQ(l.id, 0);
	l = parse_ok("sysv:private");
	CHECK_EQ(l.family, SHMQ_FAMILY_SYSV);
	CHECK_EQ(l.by, SHMQ_BY_PRIVATE);
}

TEST(locator_sysv_ftok_applies_ftok_with_number_or_char_proj)
{
	char path[128], text[200];
	int32_t k;

	ftok_file(path, sizeof(path));
	snprintf(text, sizeof(text), "sysv:ftok=%s:7", path);
	struct shmq_locator l = parse_ok(text);
	CHECK_EQ(l.family, SHMQ_FAMILY_SYSV);
	CHECK_EQ(l.by, SHMQ_BY_KEY);
	CHECK_EQ(l.key, ftok(path, 7));

	snprintf(text, sizeof(text), "sysv:ftok=%s:A", path);
	CHECK_EQ(parse_ok(text).key, ftok(path, 'A'));
	snprintf(text, sizeof(text), "sysv:ftok=%s:255", path);
	CHECK_EQ(parse_ok(text).key, ftok(path, 255));

	CHECK_EQ(shmq_ftok(path, 7, &k), 0);
	CHECK_EQ(k, ftok(path, 7));
	CHECK(shmq_ftok(path, 0, &k) < 0);
	CHECK(shmq_ftok(path, 256, &k) < 0);
	CHECK_EQ(shmq_ftok("/nonexistent/shmq", 1, &k), -ENOENT);
}

TEST(locator_parses_posix_forms_to_one_name)
{
	const char *forms[] = {"posix:cam0", "cam0", "/cam0"};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct shmq_locator l = parse_ok(forms[i]);
		CHECK_EQ(l.family, SHMQ_FAMILY_POSIX);
		CHECK_EQ(l.by, SHMQ_BY_NAME);
		CHECK_HAS(l.name, "cam0");
		CHECK_EQ(strlen(l.name), 4); /* no leading '/' kept */
	}
}

TEST(locator_parses_memfd_name_and_fd)
{
	struct shmq_locator l = parse_ok("memfd:frames");
	CHECK_EQ(l.family, SHMQ_FAMILY_MEMFD);
	CHECK_EQ(l.by, SHMQ_BY_NAME);
	CHECK(!strcmp(l.name, "frames"));
	l = parse_ok("memfd:fd=5");
	CHECK_EQ(l.family, SHMQ_FAMILY_MEMFD);
	CHECK_EQ(l.by, SHMQ_BY_FD);
	CHECK_EQ(l.fd, 5);
}

TEST(locator_accepts_name_of_255_bytes_and_refuses_256)
{
	char text[300] = "posix:";
	memset(text + 6, 'n', 255);
	text[6 + 255] = '\0';
	struct shmq_locator l = parse_ok(text);
	CHECK_EQ(strlen(l.name), 255);
	text[6 + 255] = 'n';
	text[6 + 256] = '\0';
	CHECK_EQ(shmq_locator_parse(text, &l), SHMQ_ELOCATOR);
	CHECK_EQ(shmq_locator_parse(text + 6, &l), SHMQ_ELOCATOR);
}

TEST(locator_refuses_malformed_text)
{
	const char *bad[] = {
		"", "foo:bar", "sysv:key=zz", "sysv:zz", "sysv:", "sysv:key=",
		"sysv:key=0x100000000", "sysv:key=-1", "sysv:0",
		"sysv:id=", "sysv:id=-1", "sysv:id=abc", "sysv:id=99999999999",
		"sysv:ftok=", "sysv:ftok=/tmp", "sysv:ftok=/tmp:0",
		"sysv:ftok=/tmp:256", "sysv:ftok=/tmp:", "sysv:privatex",
		"posix:a/b", "a/b", "posix:", "posix:.", "posix:..", "/",
		"memfd:", "memfd:a/b", "memfd:fd=", "memfd:fd=-1",
		"memfd:fd=x", "sysv:key=0x7b ", " sysv:key=0x7b",
	};
	struct shmq_locator l;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = shmq_locator_parse(bad[i], &l);
		if (rc != SHMQ_ELOCATOR)
			t_fail(__FILE__, __LINE__,
			       "shmq_locator_parse(bad) == SHMQ_ELOCATOR",
			       "\"%s\" gave %d (%s)", bad[i], rc,
			       shmq_err_name(rc));
	}
}

TEST(locator_ftok_of_missing_path_is_enoent)
{
	struct shmq_locator l;
	CHECK_EQ(shmq_locator_parse("sysv:ftok=/nonexistent:1", &l), -ENOENT);
	CHECK_EQ(shmq_locator_parse("sysv:ftok=/nonexistent/x:A", &l),
		 -ENOENT);
}

TEST(locator_failed_parse_leaves_output_untouched)
{
	struct shmq_locator l, before;
	l = parse_ok("posix:keepme");
	before = l;
	CHECK_EQ(shmq_locator_parse("posix:a/b", &l), SHMQ_ELOCATOR);
	CHECK(!memcmp(&l, &before, sizeof(l)));
}

/* in formats as out, and out parses back to the same object. */
static void check_canonical(const char *in, const char *out)
{
	char buf[SHMQ_LOCATOR_MAX];
	struct shmq_locator l = parse_ok(in), back;
	int n = shmq_locator_format(&l, buf, sizeof(buf));
	CHECK_EQ(n, strlen(out));
	CHECK(!strcmp(buf, out));
	back = parse_ok(buf);
	CHECK_EQ(back.family, l.family);
	CHECK_EQ(back.by, l.by);
	CHECK_EQ(back.key, l.key);
	CHECK_EQ(back.id, l.id);
	CHECK_EQ(back.fd, l.fd);
	CHECK(!strcmp(back.name, l.name));
}

TEST(locator_format_gives_canonical_text)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"sysv:0x7b", "sysv:key=0x0000007b"},
		{"sysv:123", "sysv:key=0x0000007b"},
		{"sysv:key=0xdeadbeef", "sysv:key=0xdeadbeef"},
		{"sysv:id=5", "sysv:id=5"},
		{"sysv:private", "sysv:private"},
		{"cam0", "posix:cam0"},
		{"/cam0", "posix:cam0"},
		{"posix:cam0", "posix:cam0"},
		{"memfd:fd=5", "memfd:fd=5"},
		{"memfd:frames", "memfd:frames"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_canonical(cases[i].in, cases[i].out);
}

TEST(locator_format_round_trips_ftok_as_key)
{
	char path[128], text[200], buf[SHMQ_LOCATOR_MAX];
	ftok_file(path, sizeof(path));
	snprintf(text, sizeof(text), "sysv:ftok=%s:9", path);
	struct shmq_locator l = parse_ok(text);
	CHECK(shmq_locator_format(&l, buf, sizeof(buf)) > 0);
	CHECK_EQ(parse_ok(buf).key, ftok(path, 9));
}

TEST(locator_format_refuses_short_buffer)
{
	char buf[8];
	struct shmq_locator l = parse_ok("posix:a-rather-long-name");
	CHECK_EQ(shmq_locator_format(&l, buf, sizeof(buf)), -ENAMETOOLONG);
	l = parse_ok("sysv:0x7b");
	/* "sysv:key=0x0000007b" needs 20 bytes with the NUL. */
	char exact[20];
	CHECK_EQ(shmq_locator_format(&l, exact, 19), -ENAMETOOLONG);
	CHECK_EQ(shmq_locator_format(&l, exact, 20), 19);
}

TEST(locator_sysv_sem_and_msg_take_every_sysv_form)
{
	static const struct {
		const char *prefix;
		int family;
	} fam[] = {{"sysv-sem", SHMQ_FAMILY_SYSV_SEM},
	           {"sysv-msg", SHMQ_FAMILY_SYSV_MSG}};
	char text[300], path[128];
	ftok_file(path, sizeof(path));
	for (size_t f = 0; f < 2; f++) {
		const char *key_forms[] = {"key=0x7b", "0x7b", "123", "key=0173"};
		for (size_t i = 0; i < 4; i++) {
			snprintf(text, sizeof(text), "%s:%s", fam[f].prefix,
			         key_forms[i]);
			struct shmq_locator l = parse_ok(text);
			CHECK_EQ(l.family, fam[f].family);
			CHECK_EQ(l.by, SHMQ_BY_KEY);
			CHECK_EQ(l.key, 0x7b);
		}
		snprintf(text, sizeof(text), "%s:id=42", fam[f].prefix);
		struct shmq_locator l = parse_ok(text);
		CHECK_EQ(l.family, fam[f].family);
		CHECK_EQ(l.by, SHMQ_BY_ID);
		CHECK_EQ(l.id, 42);
		snprintf(text, sizeof(text), "%s:private", fam[f].prefix);
		CHECK_EQ(parse_ok(text).by, SHMQ_BY_PRIVATE);
		snprintf(text, sizeof(text), "%s:ftok=%s:B", fam[f].prefix, path);
		l = parse_ok(text);
		CHECK_EQ(l.family, fam[f].family);
		CHECK_EQ(l.key, ftok(path, 'B'));
	}
}

TEST(locator_posix_sem_names_a_named_semaphore)
{
	struct shmq_locator l = parse_ok("posix-sem:lock0");
	CHECK_EQ(l.family, SHMQ_FAMILY_POSIX_SEM);
	CHECK_EQ(l.by, SHMQ_BY_NAME);
	CHECK(!strcmp(l.name, "lock0"));
	/* The name as sem_open(3) takes it, with its slash. */
	CHECK(!strcmp(parse_ok("posix-sem:/lock0").name, "lock0"));
	/* "sem." + NAME must fit NAME_MAX: 251 bytes at most. */
	char text[300] = "posix-sem:";
	memset(text + 10, 's', 251);
	text[10 + 251] = '\0';
	CHECK_EQ(strlen(parse_ok(text).name), 251);
	text[10 + 251] = 's';
	text[10 + 252] = '\0';
	CHECK_EQ(shmq_locator_parse(text, &l), SHMQ_ELOCATOR);
}

TEST(locator_refuses_malformed_ipc_locators_and_says_why)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"sysv-sem:key=zz", "key must be a number"},
		{"sysv-msg:0", "key 0 is IPC_PRIVATE"},
		{"sysv-sem:", "key must be a number"},
		{"sysv-msg:id=-1", "id must be a number"},
		{"sysv-sem:ftok=/tmp", "ftok wants PATH:PROJ"},
		{"sysv-msg:ftok=/tmp:0", "PROJ must be"},
		{"posix-sem:a/b", "cannot contain '/'"},
		{"posix-sem:", "empty"},
		{"posix-sem:..", "cannot contain '/' or be . or .."},
		{"sysv-shm:key=1", "unknown family"},
		{"sysvsem:key=1", "unknown family"},
	};
	char line[512];
	struct shmq_locator l;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = shmq_locator_parse(bad[i].text, &l);
		if (rc != SHMQ_ELOCATOR)
			t_fail(__FILE__, __LINE__, "SHMQ_ELOCATOR",
			       "\"%s\" gave %d (%s)", bad[i].text, rc,
			       shmq_err_name(rc));
		shmq_explain(rc, bad[i].text, 0, line, sizeof(line));
		CHECK_HAS(line, bad[i].text);
		CHECK_HAS(line, bad[i].why);
	}
	shmq_explain(SHMQ_ELOCATOR, "x:y", 0, line, sizeof(line));
	CHECK_HAS(line, "sysv-sem:");
	CHECK_HAS(line, "posix-sem:NAME");
}

TEST(locator_ipc_forms_format_canonically_and_round_trip)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"sysv-sem:0x7b", "sysv-sem:key=0x0000007b"},
		{"sysv-sem:id=5", "sysv-sem:id=5"},
		{"sysv-sem:private", "sysv-sem:private"},
		{"sysv-msg:123", "sysv-msg:key=0x0000007b"},
		{"sysv-msg:id=0", "sysv-msg:id=0"},
		{"posix-sem:/lock", "posix-sem:lock"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_canonical(cases[i].in, cases[i].out);
}
