/* The API's shape: the library exports exactly the functions shmq.h
 * declares, through the version script; the version and its run-time
 * check; reserved fields that must be zero going in and are zero coming
 * out; shmq_strerror_r does no I/O. */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_NAMES 256

struct names {
	char *v[MAX_NAMES];
	size_t n;
};

static void names_add(struct names *s, const char *name, size_t len)
{
	CHECK(s->n < MAX_NAMES);
	s->v[s->n] = strndup(name, len);
	CHECK(s->v[s->n] != NULL);
	s->n++;
}

static int names_has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return 1;
	return 0;
}

static void names_free(struct names *s)
{
	while (s->n)
		free(s->v[--s->n]);
}

/* Every name of a is in b, else the test fails naming it and where. */
static void names_within(const struct names *a, const char *what_a,
                         const struct names *b, const char *what_b)
{
	for (size_t i = 0; i < a->n; i++)
		if (!names_has(b, a->v[i]))
			t_fail(__FILE__, __LINE__, "names_within",
			       "%s is in %s but not in %s", a->v[i], what_a,
			       what_b);
}

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	static char buf[1 << 18];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	CHECK(n < sizeof(buf) - 1);
	buf[n] = '\0';
	fclose(f);
	return strdup(buf);
}

/* The global names of src/libshmq.map, which must be sorted, one a line. */
static void map_names(struct names *s)
{
	char *text = slurp_file("src/libshmq.map");
	char *g = strstr(text, "global:"), *l = strstr(text, "local:");
	CHECK(strstr(text, "SHMQ_0.2 {") != NULL);
	CHECK(g && l && g < l);
	CHECK(strstr(l, "*;") != NULL);
	for (char *line = strchr(g, '\n') + 1; line < l;
	     line = strchr(line, '\n') + 1) {
		char *p = line;
		while (*p == '\t' || *p == ' ')
			p++;
		if (p == l)
			break;
		size_t n = strcspn(p, ";\n");
		if (!n)
			continue;
		CHECK_EQ(p[n], ';');
		names_add(s, p, n);
		if (s->n > 1) /* sorted, so that parallel changes merge */
			CHECK(strcmp(s->v[s->n - 2], s->v[s->n - 1]) < 0);
	}
	free(text);
}

/* The functions include/shmq.h declares: every shmq_NAME( outside
 * comments and preprocessor lines. */
static void header_names(struct names *s)
{
	char *text = slurp_file("include/shmq.h"), *p = text;
	int bol = 1;
	while (*p) {
		if (!strncmp(p, "/*", 2)) { /* a comment: blank it */
			char *end = strstr(p + 2, "*/");
			CHECK(end != NULL);
			memset(p, ' ', (size_t)(end + 2 - p));
			continue;
		}
		if (bol && *p == '#') { /* a directive, with its continuations */
			char prev = 0;
			while (*p && !(*p == '\n' && prev != '\\')) {
				prev = *p;
				*p++ = ' ';
			}
			continue;
		}
		bol = *p == '\n' ? 1 : (bol && isspace((unsigned char)*p));
		p++;
	}
	for (p = text; (p = strstr(p, "shmq_")); ) {
		size_t n = 5;
		while (isalnum((unsigned char)p[n]) || p[n] == '_')
			n++;
		char *q = p + n;
		while (*q == ' ')
			q++;
		int call = *q == '(' && (p == text ||
		           !(isalnum((unsigned char)p[-1]) || p[-1] == '_'));
		char c = p[n];
		p[n] = '\0'; /* the name alone, for the duplicate check */
		if (call && !names_has(s, p))
			names_add(s, p, n);
		p[n] = c;
		p += n;
	}
	free(text);
}

/* The functions build/libshmq.so exports, each in version SHMQ_0.2. */
static void so_names(struct names *s)
{
	char cmd[512], line[512];
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only %s/libshmq.so",
	         t_build_dir());
	FILE *f = popen(cmd, "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		char type, name[256];
		if (sscanf(line, "%*s %c %255s", &type, name) != 2)
			continue;
		if (type == 'A') /* the version node itself */
			continue;
		char *at = strstr(name, "@@SHMQ_0.2");
		if (!at)
			t_fail(__FILE__, __LINE__, "versioned export",
			       "%s is exported without version SHMQ_0.2",
			       name);
		names_add(s, name, (size_t)(at - name));
	}
	CHECK_EQ(pclose(f), 0);
}

TEST(api_so_exports_exactly_the_map_and_the_map_is_the_header)
{
	struct names map = {0}, hdr = {0}, so = {0};
	map_names(&map);
	header_names(&hdr);
	so_names(&so);
	CHECK(map.n > 80);
	names_within(&hdr, "include/shmq.h", &map, "src/libshmq.map");
	names_within(&map, "src/libshmq.map", &hdr, "include/shmq.h");
	names_within(&so, "libshmq.so", &map, "src/libshmq.map");
	names_within(&map, "src/libshmq.map", &so, "libshmq.so");
	CHECK(!names_has(&so, "shmq__neg_errno")); /* internals stay local */
	CHECK(names_has(&so, "shmq_explain"));
	CHECK(names_has(&so, "shmq_version_check"));
	names_free(&map);
	names_free(&hdr);
	names_free(&so);
}

TEST(api_version_macros_number_and_check)
{
	char v[32];
	snprintf(v, sizeof(v), "%d.%d.%d", SHMQ_VERSION_MAJOR,
	         SHMQ_VERSION_MINOR, SHMQ_VERSION_PATCH);
	CHECK(!strcmp(v, SHMQ_VERSION_STRING));
	CHECK(!strcmp(shmq_version(), "0.2.0"));
	CHECK_EQ(SHMQ_VERSION_NUMBER, 0x000200);
	CHECK_EQ(shmq_version_number(), SHMQ_VERSION_NUMBER);
	CHECK_EQ(SHMQ_VERSION_CHECK(), 0);
	CHECK_EQ(shmq_version_check(0, 2), 0);
	/* Before 1.0 each minor is its own API: older and newer refused. */
	CHECK_EQ(shmq_version_check(0, 1), SHMQ_EVERSION);
	CHECK_EQ(shmq_version_check(0, 3), SHMQ_EVERSION);
	CHECK_EQ(shmq_version_check(1, 0), SHMQ_EVERSION);
	CHECK_EQ(shmq_version_check(1, 2), SHMQ_EVERSION);
}

TEST(api_opts_with_reserved_bytes_set_are_einval_and_make_nothing)
{
	char loc[128], ch[128];
	shmq_seg *seg = NULL;
	shmq_chan *c = NULL;
	struct shmq_stat st;
	t_posix_loc(loc, sizeof(loc), "rsv");
	t_posix_loc(ch, sizeof(ch), "rsvch");
	for (int i = 0; i < 4; i++) {
		struct shmq_seg_opts so = {.size = 4096};
		so.reserved[i] = 1;
		CHECK_EQ(shmq_seg_create(&seg, loc, &so), -EINVAL);
		CHECK_EQ(shmq_stat(loc, &st), -ENOENT);
		struct shmq_chan_opts co = {.spin_ns = -1};
		if (i == 3)
			break; /* the channel's has reserved0 and 2 more */
		if (i == 2)
			co.reserved0 = 1u << 31;
		else
			co.reserved[i] = (uint64_t)1 << 63;
		CHECK_EQ(shmq_chan_create(&c, ch, SHMQ_READER, &co), -EINVAL);
		co.flags = SHMQ_OPEN_OK;
		CHECK_EQ(shmq_chan_create(&c, ch, SHMQ_READER, &co), -EINVAL);
		CHECK_EQ(shmq_stat(ch, &st), -ENOENT);
	}
	/* Open checks them too, on an object that exists. */
	struct shmq_seg_opts so = {.size = 4096};
	CHECK_EQ(shmq_seg_create(&seg, loc, &so), 0);
	CHECK_EQ(shmq_seg_close(seg), 0);
	so.reserved[3] = 7;
	CHECK_EQ(shmq_seg_open(&seg, loc, &so), -EINVAL);
	so.reserved[3] = 0;
	CHECK_EQ(shmq_seg_open(&seg, loc, &so), 0);
	CHECK_EQ(shmq_seg_close(seg), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

static int zeroed(const uint64_t *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (r[i])
			return 0;
	return 1;
}
#define ZEROED(s) zeroed((s).reserved, sizeof((s).reserved) / sizeof(uint64_t))

static int list_one(const struct shmq_stat *st, void *arg)
{
	int *bad = arg;
	*bad |= !ZEROED(*st);
	return 0;
}

TEST(api_output_structs_come_back_with_reserved_zeroed)
{
	char posix[128], sysv[64], ch[128];
	struct shmq_seg_opts so = {.size = 4096};
	struct shmq_stat st;
	struct shmq_limits lim;
	struct shmq_chan_info in;
	shmq_seg *a, *b;
	shmq_chan *r;
	int bad = 0;
	t_posix_loc(posix, sizeof(posix), "out");
	t_posix_loc(ch, sizeof(ch), "outch");
	t_sysv_loc(sysv, sizeof(sysv), 1);
	CHECK_EQ(shmq_seg_create(&a, posix, &so), 0);
	CHECK_EQ(shmq_seg_create(&b, sysv, &so), 0);
	CHECK_EQ(shmq_chan_create(&r, ch, SHMQ_READER, NULL), 0);
	memset(&st, 0xa5, sizeof(st));
	CHECK_EQ(shmq_stat(posix, &st), 0);
	CHECK(ZEROED(st));
	memset(&st, 0xa5, sizeof(st));
	CHECK_EQ(shmq_stat(sysv, &st), 0);
	CHECK(ZEROED(st));
	memset(&st, 0xa5, sizeof(st));
	CHECK_EQ(shmq_seg_stat(a, &st), 0);
	CHECK(ZEROED(st));
	memset(&lim, 0xa5, sizeof(lim));
	CHECK_EQ(shmq_limits_get(&lim), 0);
	CHECK(ZEROED(lim));
	memset(&in, 0xa5, sizeof(in));
	CHECK_EQ(shmq_chan_info(r, &in), 0);
	CHECK(ZEROED(in));
	memset(&in, 0xa5, sizeof(in));
	CHECK_EQ(shmq_chan_stat(ch, &in), 0);
	CHECK(ZEROED(in));
	CHECK(shmq_list(0, list_one, &bad) >= 3);
	CHECK_EQ(bad, 0);
	CHECK_EQ(shmq_chan_close(r), 0);
	CHECK_EQ(shmq_seg_unlink(sysv), 0);
	CHECK_EQ(shmq_seg_close(b), 0);
	CHECK_EQ(shmq_seg_close(a), 0);
	CHECK_EQ(shmq_seg_unlink(posix), 0);
}

TEST(api_strerror_r_makes_no_system_call)
{
	char buf[256];
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		t_forbid_syscalls();
		for (int c = 1; c >= SHMQ_ELAST - 2; c--) {
			shmq_strerror_r(c, buf, sizeof(buf));
			bad |= buf[0] == '\0';
		}
		syscall(SYS_exit_group, bad);
	}
	CHECK_EQ(t_wait(pid), 0); /* SIGSYS (159) if a call was made */
}
