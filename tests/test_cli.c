/*
 * The shmq tool, run as a user would run it: every command, every option
 * and every bad input of the issue. Objects carry t_name/t_key names so the
 * runner removes them even when a test fails; the few that cannot (private
 * segments, ftok keys) are removed right after the command that made them.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOBODY 65534

/* SHMQ(&r, "ls", "--json"): runs the tool under test. */
#define SHMQ(r, ...) t_shmq((r), NULL, __VA_ARGS__, (char *)NULL)

#define CHECK_STREQ(a, b)                                                    \
	do {                                                                 \
		const char *s_a_ = (a), *s_b_ = (b);                         \
		if (strcmp(s_a_, s_b_) != 0)                                 \
			t_fail(__FILE__, __LINE__, #a " == " #b,             \
			       "\"%s\" != \"%s\"", s_a_, s_b_);               \
	} while (0)

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const commands[] = { "ls", "stat", "dump", "create", "rm",
	                                "key", "mutex", "send", "recv", "bench" };

/* ---- Helpers ----------------------------------------------------------- */

/* Exit 2, the message and the command's usage line on stderr. */
static void check_usage_error(const struct t_run *r, const char *cmd)
{
	char want[64];

	snprintf(want, sizeof(want), "usage: shmq %s", cmd);
	CHECK_EQ(r->status, 2);
	CHECK_HAS(r->err, want);
	CHECK_EQ(strlen(r->out), 0);
}

/* Exit 1 and one line on stderr, "shmq: ...", that mentions what. */
static void check_error_line(const struct t_run *r, const char *what)
{
	size_t n = strlen(r->err);

	CHECK_EQ(r->status, 1);
	CHECK(strncmp(r->err, "shmq: ", 6) == 0);
	CHECK(n > 0 && strchr(r->err, '\n') == r->err + n - 1);
	CHECK_HAS(r->err, what);
}

/* The same, and nothing on stdout. */
static void check_runtime_error(const struct t_run *r, const char *what)
{
	check_error_line(r, what);
	CHECK_EQ(strlen(r->out), 0);
}

static void check_ok(const struct t_run *r)
{
	if (r->status != 0)
		t_fail(__FILE__, __LINE__, "status == 0", "status %d, stderr: %s",
		       r->status, r->err);
}

/* Existence, asked of the kernel directly rather than of the library. */
static int sysv_exists(int32_t key)
{
	return shmget(key, 0, 0) >= 0 || errno != ENOENT;
}

static int posix_exists(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	return access(path, F_OK) == 0;
}

static struct shmid_ds sysv_ds(int32_t key)
{
	struct shmid_ds ds;
	int id = shmget(key, 0, 0);

	CHECK(id >= 0);
	CHECK_EQ(shmctl(id, IPC_STAT, &ds), 0);
	return ds;
}

static struct stat posix_st(const char *name)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	CHECK_EQ(stat(path, &sb), 0);
	return sb;
}

/* Writes len bytes at off of a POSIX object, through the file. */
static void posix_write(const char *name, off_t off, const void *p, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, p, len, off), (long long)len);
	close(fd);
}

/* Writes len bytes at off of a System V segment, through shmat. */
static void sysv_write(int32_t key, size_t off, const void *p, size_t len)
{
	int id = shmget(key, 0, 0);
	char *a;

	CHECK(id >= 0);
	a = shmat(id, NULL, 0);
	CHECK(a != (void *)-1);
	memcpy(a + off, p, len);
	CHECK_EQ(shmdt(a), 0);
}

/* The line of text that contains needle, copied to buf ("" if none). */
static const char *line_with(const char *text, const char *needle, char *buf,
                             size_t len)
{
	const char *hit = strstr(text, needle), *start, *end;

	buf[0] = '\0';
	if (!hit)
		return buf;
	for (start = hit; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(hit, '\n');
	if (!end)
		end = hit + strlen(hit);
	snprintf(buf, len, "%.*s", (int)(end - start), start);
	return buf;
}

/* The value of the line "name: value" of stat's text ("" if missing). */
static const char *field(const char *text, const char *name, char *buf,
                         size_t len)
{
	char key[64];
	const char *p = text;
	size_t kl;

	kl = (size_t)snprintf(key, sizeof(key), "%s:", name);
	buf[0] = '\0';
	while (p && strncmp(p, key, kl) != 0) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return buf;
	p += kl;
	p += strspn(p, " ");
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

/* Runs the tool as uid and gid 65534 with no groups: fork, drop the
 * privileges, then exec. Needs root. */
static void shmq_as_nobody(struct t_run *r, ...) __attribute__((sentinel));
static void shmq_as_nobody(struct t_run *r, ...)
{
	char *argv[16] = { (char *)t_shmq_bin() };
	struct t_run *shared;
	size_t n = 1;
	va_list ap;
	pid_t pid;

	t_need_root("running the tool as another user");
	va_start(ap, r);
	while (n < NELEM(argv) - 1 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shared != MAP_FAILED);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK_EQ(setgroups(0, NULL), 0);
		CHECK_EQ(setgid(NOBODY), 0);
		CHECK_EQ(setuid(NOBODY), 0);
		t_exec(shared, NULL, argv);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	memcpy(r, shared, sizeof(*r));
	munmap(shared, sizeof(*shared));
	CHECK(r->status != 127); /* the tool must be reachable by others */
}

/*
 * Moves this test process (and what it starts) into its own namespaces:
 * CLONE_NEWIPC gives an empty System V table, CLONE_NEWNS with tmpfs_opts
 * an empty /dev/shm of its own. Both vanish with the test.
 */
static void private_namespaces(int flags, const char *tmpfs_opts)
{
	char why[256];

	t_need_root("a private IPC or mount namespace");
	if (unshare(flags) != 0) {
		snprintf(why, sizeof(why), "unshare: %s", strerror(errno));
		t_skip(why);
	}
	if (!tmpfs_opts)
		return;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", "/dev/shm", "tmpfs", 0, tmpfs_opts) != 0) {
		snprintf(why, sizeof(why), "mount tmpfs on /dev/shm: %s",
		         strerror(errno));
		t_skip(why);
	}
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
}

/* "posix:NAME" -> "NAME" */
static const char *bare(const char *posix_loc)
{
	return posix_loc + strlen("posix:");
}

/* Creates through the tool and checks that it worked. */
static void create(const char *loc, const char *size, const char *mode)
{
	struct t_run r;

	if (mode)
		SHMQ(&r, "create", loc, "--size", size, "--mode", mode);
	else
		SHMQ(&r, "create", loc, "--size", size);
	check_ok(&r);
}

/* A System V segment (key t_key(1)) and a POSIX object named after tag,
 * both made by the tool; their locators go to s and p. */
static void create_both(char *s, size_t slen, char *p, size_t plen,
                        const char *tag, const char *size, const char *mode)
{
	create(t_sysv_loc(s, slen, 1), size, mode);
	create(t_posix_loc(p, plen, tag), size, mode);
}

/* Whether both objects of create_both() exist, as expected. */
static void check_both(const char *p, int exist)
{
	CHECK_EQ(sysv_exists(t_key(1)), exist);
	CHECK_EQ(posix_exists(bare(p)), exist);
}

/* ---- The command line itself ------------------------------------------ */

TEST(cli_without_command_prints_usage_and_exits_2)
{
	struct t_run r;

	t_shmq(&r, NULL, (char *)NULL);
	CHECK_EQ(r.status, 2);
	CHECK_HAS(r.err, "usage: shmq [--help|--version] COMMAND");
	CHECK_EQ(strlen(r.out), 0);
}

TEST(cli_help_and_version_go_to_stdout)
{
	struct t_run r;
	size_t i;

	SHMQ(&r, "--version");
	check_ok(&r);
	CHECK_STREQ(r.out, "shmq " SHMQ_VERSION_STRING "\n");
	SHMQ(&r, "--help");
	check_ok(&r);
	CHECK_HAS(r.out, "usage: shmq [--help|--version] COMMAND");
	for (i = 0; i < NELEM(commands); i++)
		CHECK_HAS(r.out, commands[i]);
	SHMQ(&r, "help");
	check_ok(&r);
	CHECK_HAS(r.out, "usage: shmq");
}

TEST(cli_unknown_command_or_option_is_a_usage_error)
{
	struct t_run r;

	SHMQ(&r, "frobnicate");
	check_usage_error(&r, "[--help|--version]");
	CHECK_HAS(r.err, "frobnicate");
	SHMQ(&r, "--frobnicate");
	check_usage_error(&r, "[--help|--version]");
	CHECK_HAS(r.err, "--frobnicate");
	SHMQ(&r, "help", "frobnicate");
	check_usage_error(&r, "[--help|--version]");
}

TEST(cli_every_command_has_help_on_stdout)
{
	struct t_run a, b;
	char want[64];
	size_t i;

	for (i = 0; i < NELEM(commands); i++) {
		snprintf(want, sizeof(want), "usage: shmq %s", commands[i]);
		SHMQ(&a, commands[i], "--help");
		check_ok(&a);
		CHECK_HAS(a.out, want);
		CHECK_EQ(strlen(a.err), 0);
		SHMQ(&b, "help", commands[i]);
		check_ok(&b);
		CHECK_STREQ(a.out, b.out);
	}
}

TEST(cli_unknown_option_of_every_command_is_a_usage_error)
{
	struct t_run r;
	size_t i;

	for (i = 0; i < NELEM(commands); i++) {
		SHMQ(&r, commands[i], "--bogus", "x", "y");
		check_usage_error(&r, commands[i]);
		CHECK_HAS(r.err, "--bogus");
	}
}

TEST(cli_missing_or_extra_arguments_are_usage_errors)
{
	struct t_run r;

	SHMQ(&r, "stat");
	check_usage_error(&r, "stat");
	SHMQ(&r, "stat", "a", "b");
	check_usage_error(&r, "stat");
	SHMQ(&r, "dump");
	check_usage_error(&r, "dump");
	SHMQ(&r, "dump", "x", "--offset");
	check_usage_error(&r, "dump");
	SHMQ(&r, "create", "--size", "1");
	check_usage_error(&r, "create");
	SHMQ(&r, "create", "a", "b", "--size", "1");
	check_usage_error(&r, "create");
	SHMQ(&r, "create", "a", "--size");
	check_usage_error(&r, "create");
	SHMQ(&r, "rm");
	check_usage_error(&r, "rm");
	SHMQ(&r, "rm", "--orphans", "posix:x");
	check_usage_error(&r, "rm");
	SHMQ(&r, "key", "/tmp");
	check_usage_error(&r, "key");
	SHMQ(&r, "key", "/tmp", "1", "2");
	check_usage_error(&r, "key");
	SHMQ(&r, "ls", "extra");
	check_usage_error(&r, "ls");
	SHMQ(&r, "help", "ls", "stat");
	CHECK_EQ(r.status, 2);
}

/* ---- create ------------------------------------------------------------ */

TEST(cli_create_sysv_prints_locator_and_id)
{
	struct t_run r;
	struct shmid_ds ds;
	char loc[64], want[128];

	t_sysv_loc(loc, sizeof(loc), 1);
	SHMQ(&r, "create", loc, "--size", "100");
	check_ok(&r);
	snprintf(want, sizeof(want), "%s id=%d\n", loc, shmget(t_key(1), 0, 0));
	CHECK_STREQ(r.out, want);
	ds = sysv_ds(t_key(1));
	CHECK_EQ(ds.shm_segsz, 100);
	CHECK_EQ(ds.shm_perm.mode & 0777, 0600); /* the secure default */
	CHECK_EQ(ds.shm_nattch, 0);              /* create detached on exit */
}

TEST(cli_create_sysv_accepts_every_key_spelling)
{
	struct t_run r;
	char in[64], want[128];

	snprintf(in, sizeof(in), "sysv:0x%x", (unsigned)t_key(2));
	SHMQ(&r, "create", in, "--size", "10");
	check_ok(&r);
	snprintf(want, sizeof(want), "sysv:key=0x%08x id=%d\n",
	         (unsigned)t_key(2), shmget(t_key(2), 0, 0));
	CHECK_STREQ(r.out, want);

	snprintf(in, sizeof(in), "sysv:%u", (unsigned)t_key(3));
	SHMQ(&r, "create", in, "--size", "10");
	check_ok(&r);
	snprintf(want, sizeof(want), "sysv:key=0x%08x id=%d\n",
	         (unsigned)t_key(3), shmget(t_key(3), 0, 0));
	CHECK_STREQ(r.out, want);
}

TEST(cli_create_private_prints_its_id)
{
	struct t_run r, rm;
	struct shmid_ds ds;
	char loc[64], want[64];
	int id = -1;

	SHMQ(&r, "create", "sysv:private", "--size", "64");
	/* No key names it: remove it before any check can end the test. */
	if (sscanf(r.out, "sysv:id=%d", &id) == 1) {
		int st = shmctl(id, IPC_STAT, &ds);
		snprintf(loc, sizeof(loc), "sysv:id=%d", id);
		SHMQ(&rm, "rm", loc);
		if (rm.status != 0)
			shmctl(id, IPC_RMID, NULL);
		check_ok(&rm);
		CHECK_EQ(st, 0);
		CHECK_EQ(ds.shm_perm.__key, IPC_PRIVATE);
		CHECK_EQ(ds.shm_segsz, 64);
	}
	check_ok(&r);
	snprintf(want, sizeof(want), "sysv:id=%d\n", id);
	CHECK_STREQ(r.out, want);
	CHECK(shmctl(id, IPC_STAT, &ds) < 0);
}

TEST(cli_create_posix_in_every_spelling_applies_size_and_mode)
{
	struct t_run r;
	char name[64], in[80], want[96];
	const char *const prefix[] = { "posix:", "", "/" };
	struct stat sb;
	size_t i;

	for (i = 0; i < NELEM(prefix); i++) {
		t_name(name, sizeof(name), i == 0 ? "p0" : i == 1 ? "p1" : "p2");
		snprintf(in, sizeof(in), "%s%s", prefix[i], name);
		SHMQ(&r, "create", in, "--size", "1000", "--mode", "0640");
		check_ok(&r);
		snprintf(want, sizeof(want), "posix:%s\n", name);
		CHECK_STREQ(r.out, want);
		sb = posix_st(name);
		CHECK_EQ(sb.st_size, 1000);
		CHECK_EQ(sb.st_mode & 07777, 0640);
	}
	t_name(name, sizeof(name), "dflt");
	create(name, "1", NULL);
	CHECK_EQ(posix_st(name).st_mode & 07777, 0600);
}

TEST(cli_create_applies_the_mode_whatever_the_umask)
{
	char s1[64], s2[64], p1[96], p2[96];
	mode_t old = umask(077);

	create(t_sysv_loc(s1, sizeof(s1), 1), "10", "0666");
	create(t_posix_loc(p1, sizeof(p1), "u077"), "10", "0666");
	umask(0);
	create(t_sysv_loc(s2, sizeof(s2), 2), "10", "0600");
	create(t_posix_loc(p2, sizeof(p2), "u000"), "10", "0600");
	umask(old);
	CHECK_EQ(sysv_ds(t_key(1)).shm_perm.mode & 0777, 0666);
	CHECK_EQ(posix_st(bare(p1)).st_mode & 07777, 0666);
	CHECK_EQ(sysv_ds(t_key(2)).shm_perm.mode & 0777, 0600);
	CHECK_EQ(posix_st(bare(p2)).st_mode & 07777, 0600);
}

TEST(cli_create_size_takes_k_m_g_suffixes)
{
	char p1[96], p2[96], s1[64];

	create(t_posix_loc(p1, sizeof(p1), "k"), "3k", NULL);
	CHECK_EQ(posix_st(bare(p1)).st_size, 3 * 1024);
	create(t_posix_loc(p2, sizeof(p2), "m"), "2M", NULL);
	CHECK_EQ(posix_st(bare(p2)).st_size, 2 * 1024 * 1024);
	/* System V pages are allocated on first touch: 1 GiB costs nothing. */
	create(t_sysv_loc(s1, sizeof(s1), 1), "1G", NULL);
	CHECK_EQ(sysv_ds(t_key(1)).shm_segsz, 1024LL * 1024 * 1024);
}

TEST(cli_create_rejects_bad_sizes_and_creates_nothing)
{
	static const char *const bad[] = {
		"0", "-1", "99999999999999999999", "18446744073709551615K",
		"17179869184G", "12X", "", "1KK", "0x10", " 1", "1.5M", "K",
	};
	struct t_run r;
	char s[64], p[96];
	size_t i;

	t_sysv_loc(s, sizeof(s), 1);
	t_posix_loc(p, sizeof(p), "bad");
	for (i = 0; i < NELEM(bad); i++) {
		SHMQ(&r, "create", s, "--size", bad[i]);
		check_usage_error(&r, "create");
		CHECK_HAS(r.err, "--size");
		SHMQ(&r, "create", p, "--size", bad[i]);
		check_usage_error(&r, "create");
	}
	SHMQ(&r, "create", s);
	check_usage_error(&r, "create");
	CHECK_HAS(r.err, "--size");
	check_both(p, 0);
}

TEST(cli_create_rejects_bad_mode_huge_and_flag_mix)
{
	static const char *const modes[] = { "999", "abc", "01000", "0", "",
		                             "-1", "0o600" };
	static const char *const huge[] = { "4M", "2", "", "1T" };
	struct t_run r;
	char s[64];
	size_t i;

	t_sysv_loc(s, sizeof(s), 1);
	for (i = 0; i < NELEM(modes); i++) {
		SHMQ(&r, "create", s, "--size", "10", "--mode", modes[i]);
		check_usage_error(&r, "create");
		CHECK_HAS(r.err, "--mode");
	}
	for (i = 0; i < NELEM(huge); i++) {
		SHMQ(&r, "create", s, "--size", "2M", "--huge", huge[i]);
		check_usage_error(&r, "create");
		CHECK_HAS(r.err, "--huge");
	}
	SHMQ(&r, "create", s, "--size", "10", "--excl", "--or-open");
	check_usage_error(&r, "create");
	CHECK(!sysv_exists(t_key(1)));
}

TEST(cli_create_of_an_existing_object_says_already_exists_and_keeps_it)
{
	struct t_run r;
	char s[64], p[96];
	int id;

	create_both(s, sizeof(s), p, sizeof(p), "ex", "100", "0640");
	id = shmget(t_key(1), 0, 0);
	sysv_write(t_key(1), 0, "keep", 4);
	posix_write(bare(p), 0, "keep", 4);

	SHMQ(&r, "create", s, "--size", "200", "--mode", "0666");
	check_runtime_error(&r, "already exists");
	CHECK_HAS(r.err, s);
	SHMQ(&r, "create", s, "--size", "100", "--excl");
	check_runtime_error(&r, "already exists");
	SHMQ(&r, "create", p, "--size", "200", "--mode", "0666");
	check_runtime_error(&r, "already exists");
	CHECK_HAS(r.err, p);
	SHMQ(&r, "create", p, "--size", "100", "--excl");
	check_runtime_error(&r, "already exists");

	CHECK_EQ(shmget(t_key(1), 0, 0), id);
	CHECK_EQ(sysv_ds(t_key(1)).shm_segsz, 100);
	CHECK_EQ(sysv_ds(t_key(1)).shm_perm.mode & 0777, 0640);
	CHECK_EQ(posix_st(bare(p)).st_size, 100);
	CHECK_EQ(posix_st(bare(p)).st_mode & 07777, 0640);
	SHMQ(&r, "dump", s, "--length", "4");
	CHECK_HAS(r.out, "|keep|");
	SHMQ(&r, "dump", p, "--length", "4");
	CHECK_HAS(r.out, "|keep|");
}

TEST(cli_create_or_open_opens_an_existing_object)
{
	struct t_run r;
	char s[64], p[96], want[128];
	int id;

	create(t_sysv_loc(s, sizeof(s), 1), "100", NULL);
	id = shmget(t_key(1), 0, 0);
	sysv_write(t_key(1), 0, "keep", 4);
	SHMQ(&r, "create", s, "--size", "100", "--or-open");
	check_ok(&r);
	snprintf(want, sizeof(want), "%s id=%d\n", s, id);
	CHECK_STREQ(r.out, want);
	/* Asking more than it has fails, and loses nothing. */
	SHMQ(&r, "create", s, "--size", "1M", "--or-open");
	check_runtime_error(&r, s);
	CHECK_EQ(shmget(t_key(1), 0, 0), id);
	CHECK_EQ(sysv_ds(t_key(1)).shm_segsz, 100);
	SHMQ(&r, "dump", s, "--length", "4");
	CHECK_HAS(r.out, "|keep|");

	t_posix_loc(p, sizeof(p), "oo");
	SHMQ(&r, "create", p, "--size", "100", "--or-open");
	check_ok(&r); /* absent: created */
	posix_write(bare(p), 0, "keep", 4);
	SHMQ(&r, "create", p, "--size", "100", "--or-open");
	check_ok(&r);
	snprintf(want, sizeof(want), "%s\n", p);
	CHECK_STREQ(r.out, want);
	CHECK_EQ(posix_st(bare(p)).st_size, 100);
	SHMQ(&r, "dump", p, "--length", "4");
	CHECK_HAS(r.out, "|keep|");
}

TEST(cli_create_refuses_a_memfd_that_would_vanish)
{
	struct t_run r;
	char loc[96], name[64];

	snprintf(loc, sizeof(loc), "memfd:%s", t_name(name, sizeof(name), "m"));
	SHMQ(&r, "create", loc, "--size", "10");
	check_runtime_error(&r, loc);
	CHECK_HAS(r.err, "memfd");
}

TEST(cli_malformed_locators_are_refused_by_every_command)
{
	static const char *const cmds[] = { "stat", "dump", "rm", "create" };
	char longname[300];
	const char *bad[] = { "sysv:key=zz", "posix:a/b", longname,
		              "sysv:ftok=/nonexistent:1", "sysv:key=",
		              "posix:", "sysv:ftok=/tmp:256" };
	struct t_run r;
	size_t i, c;

	snprintf(longname, sizeof(longname), "posix:%0256d", 7);
	for (c = 0; c < NELEM(cmds); c++)
		for (i = 0; i < NELEM(bad); i++) {
			if (c == 3)
				SHMQ(&r, cmds[c], bad[i], "--size", "10");
			else
				SHMQ(&r, cmds[c], bad[i]);
			check_runtime_error(&r, bad[i]);
		}
	SHMQ(&r, "rm", "memfd:fd=0");
	CHECK_EQ(r.status, 1);
	CHECK(!posix_exists("a"));
	CHECK(!posix_exists("a/b"));
}

TEST(cli_missing_object_is_named_in_the_error)
{
	static const char *const cmds[] = { "stat", "dump", "rm" };
	struct t_run r;
	char s[64], p[96];
	size_t c;

	t_sysv_loc(s, sizeof(s), 9);
	t_posix_loc(p, sizeof(p), "absent");
	for (c = 0; c < NELEM(cmds); c++) {
		SHMQ(&r, cmds[c], s);
		check_runtime_error(&r, s);
		SHMQ(&r, cmds[c], p);
		check_runtime_error(&r, p);
	}
	SHMQ(&r, "rm", "--dry-run", p);
	check_runtime_error(&r, p);
}

TEST(cli_ipcs_shows_the_segment_create_made)
{
	struct t_run r;
	char s[64], key[32], line[512], owner[64], perms[16];
	char *ipcs[] = { "ipcs", "-m", NULL };
	unsigned long long bytes;
	int id, got_id;

	if (!t_have_program("ipcs"))
		t_skip("ipcs is not installed (util-linux)");
	create(t_sysv_loc(s, sizeof(s), 1), "12345", "0640");
	id = shmget(t_key(1), 0, 0);
	CHECK_EQ(t_exec(&r, NULL, ipcs), 0);
	snprintf(key, sizeof(key), "0x%08x ", (unsigned)t_key(1));
	line_with(r.out, key, line, sizeof(line));
	CHECK_EQ(sscanf(line, "%*s %d %63s %15s %llu", &got_id, owner, perms,
	                &bytes), 4);
	CHECK_EQ(got_id, id);
	CHECK_STREQ(perms, "640");
	CHECK_EQ(bytes, 12345);
}

/* ---- Limits ------------------------------------------------------------ */

static long long read_number(const char *path)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] ? atoll(buf) : -1;
}

TEST(cli_huge_pages_unavailable_says_how_to_reserve_them)
{
	struct t_run r;
	char s[64];

	if (read_number("/sys/kernel/mm/hugepages/hugepages-2048kB/"
	                "free_hugepages") > 0)
		t_skip("2 MiB huge pages are reserved here (vm.nr_hugepages)");
	t_sysv_loc(s, sizeof(s), 1);
	SHMQ(&r, "create", s, "--size", "2M", "--huge", "2M");
	check_runtime_error(&r, "vm.nr_hugepages");
	CHECK_HAS(r.err, s);
	CHECK(!sysv_exists(t_key(1)));
	if (read_number("/sys/kernel/mm/hugepages/hugepages-1048576kB/"
	                "free_hugepages") <= 0) {
		SHMQ(&r, "create", s, "--size", "1G", "--huge", "1G");
		check_runtime_error(&r, "huge");
		CHECK(!sysv_exists(t_key(1)));
	}
}

TEST(cli_size_above_shmmax_quotes_the_limit)
{
	struct t_run r;
	char s[64];

	private_namespaces(CLONE_NEWIPC, NULL);
	write_file("/proc/sys/kernel/shmmax", "65536");
	t_sysv_loc(s, sizeof(s), 1);
	SHMQ(&r, "create", s, "--size", "1M");
	check_runtime_error(&r, "65536");
	CHECK_HAS(r.err, s);
	CHECK(!sysv_exists(t_key(1)));
	SHMQ(&r, "create", s, "--size", "64K"); /* at the limit: fine */
	check_ok(&r);
}

TEST(cli_full_dev_shm_fails_at_create_and_leaves_nothing)
{
	struct t_run r;
	char p[96], q[96];
	struct stat sb;
	struct dirent *e;
	DIR *d;
	int n = 0;

	private_namespaces(CLONE_NEWNS, "size=1m,mode=1777");
	t_posix_loc(p, sizeof(p), "big");
	SHMQ(&r, "create", p, "--size", "4M");
	check_runtime_error(&r, p);
	CHECK_HAS(r.err, "/dev/shm");
	d = opendir("/dev/shm");
	CHECK(d != NULL);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	CHECK_EQ(n, 0);
	/* What fits is backed at create: its blocks are already there. */
	create(t_posix_loc(q, sizeof(q), "fits"), "512K", NULL);
	sb = posix_st(bare(q));
	CHECK(sb.st_blocks * 512LL >= 512 * 1024);
}

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
		t_skip("hexdump is not installed (bsdextrautils)");
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

static const char json_fields_py[] =
	"import json, sys\n"
	"a = json.load(sys.stdin)\n"
	"if isinstance(a, dict): a = [a]\n"
	"need = {'family': str, 'locator': str, 'size': int, 'mapped_size': int,\n"
	"        'mode': str, 'uid': int, 'gid': int, 'cuid': int,\n"
	"        'removed': bool, 'orphan': bool, 'stale': bool, 'kind': str}\n"
	"maybe = {'name': str, 'key': str, 'id': int, 'nattch': int,\n"
	"         'cpid': int, 'lpid': int, 'cpid_alive': bool,\n"
	"         'lpid_alive': bool, 'atime': int, 'dtime': int, 'ctime': int,\n"
	"         'nsems': int, 'qnum': int, 'qbytes': int, 'lspid': int,\n"
	"         'lrpid': int, 'lspid_alive': bool, 'lrpid_alive': bool}\n"
	"for o in a:\n"
	"    for k, t in need.items():\n"
	"        assert type(o[k]) is t, (k, o)\n"
	"    for k, t in maybe.items():\n"
	"        assert o[k] is None or type(o[k]) is t, (k, o)\n"
	"    assert o['family'] in ('sysv', 'sysv-sem', 'sysv-msg', 'posix',\n"
	"                           'posix-sem', 'memfd'), o\n"
	"    assert len(o['mode']) == 4 and int(o['mode'], 8) >= 0, o\n"
	"    assert (o['nsems'] is None) == (o['family'] != 'sysv-sem'), o\n"
	"    assert (o['qnum'] is None) == (o['family'] != 'sysv-msg'), o\n"
	"    if o['family'].startswith('sysv'):\n"
	"        assert o['key'].startswith('0x') and len(o['key']) == 10, o\n"
	"        assert type(o['id']) is int and o['name'] is None, o\n"
	"    else:\n"
	"        assert o['key'] is None and o['id'] is None, o\n"
	"byloc = {o['locator']: o for o in a}\n"
	"for loc in sys.argv[1:]:\n"
	"    o = byloc[loc]\n"
	"    print(o['family'], o['size'], o['mode'], o['nattch'], o['kind'],\n"
	"          o['key'], o['name'])\n";

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
	if (t_have_program("python3")) {
		t_python(&py, r.out, json_fields_py, s, (char *)NULL);
		snprintf(want, sizeof(want), "sysv 100 0640 0 raw 0x%08x None\n",
		         (unsigned)t_key(1));
		CHECK_STREQ(py.out, want);
	}
	SHMQ(&r, "stat", "--json", p);
	check_ok(&r);
	CHECK_HAS(r.out, "\"family\": \"posix\"");
	CHECK_HAS(r.out, "\"key\": null");
	if (t_have_program("python3")) {
		t_python(&py, r.out, json_fields_py, p, (char *)NULL);
		CHECK_HAS(py.out, "posix 300 0604 ");
	}
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
		t_skip("python3 is not installed: JSON checked by substring");
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
	if (t_have_program("python3"))
		t_python(&py, r.out, check_py, prefix, (char *)NULL);
	SHMQ(&r, "ls");
	check_ok(&r);
	/* Control characters never reach the terminal. */
	line_with(r.out, prefix, line, sizeof(line));
	CHECK_HAS(line, "q\"b\\s?c?");
	CHECK(!strchr(line, '\t') && !strchr(line, '\x01'));
	shm_unlink(path);
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
	if (t_have_program("python3")) {
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
		t_skip("python3 is not installed");
	t_name(name, sizeof(name), "py");
	t_python(&r, NULL, script, t_shmq_bin(), name, (char *)NULL);
	CHECK_STREQ(r.out, "posix 1000 0600 1 raw\n"
	                   "00000000  66 72 6f 6d 20 70 79 74  68 6f 6e 00 00 "
	                   "00 00 00  |from python.....|\n"
	                   "00000010\n");
	CHECK(!posix_exists(name));
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
	snprintf(want, sizeof(want), "0x%08x\n", (unsigned)ftok(path, 255));
	SHMQ(&r, "key", path, "255");
	check_ok(&r);
	CHECK_STREQ(r.out, want);
}

TEST(cli_key_rejects_bad_proj_and_missing_path)
{
	static const char *const bad[] = { "0", "256", "ab", "", "1x" };
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
	key = (int32_t)ftok(path, 7);
	snprintf(loc, sizeof(loc), "sysv:ftok=%s:7", path);
	if (sysv_exists(key))
		t_skip("the ftok key of a fresh file collides with a segment");
	SHMQ(&r, "create", loc, "--size", "10");
	SHMQ(&k, "key", path, "7");
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

/* ---- Semaphore sets, message queues, POSIX named semaphores ------------ */

/* A semaphore set of 3 (t_key(1), mode 0640), a queue (t_key(2)) holding
 * one 5-byte message, and a POSIX semaphore made by sem_open; their
 * locators go to sl, ml and pl. The handles are closed: the objects stay. */
static void make_ipc(char *sl, char *ml, char *pl, size_t len)
{
	char name[64], slash[80];
	shmq_semset *s;
	shmq_msgq *q;
	sem_t *ps;

	snprintf(sl, len, "sysv-sem:key=0x%08x", (unsigned)t_key(1));
	snprintf(ml, len, "sysv-msg:key=0x%08x", (unsigned)t_key(2));
	CHECK_EQ(shmq_semset_create(&s, sl, T_SEM(3, 0640, 0)), 0);
	CHECK_EQ(shmq_semset_close(s), 0);
	CHECK_EQ(shmq_msgq_create(&q, ml, NULL), 0);
	CHECK_EQ(shmq_msgq_send(q, 1, "hello", 5), 0);
	CHECK_EQ(shmq_msgq_close(q), 0);
	t_name(name, sizeof(name), "psem");
	snprintf(slash, sizeof(slash), "/%s", name);
	ps = sem_open(slash, O_CREAT | O_EXCL, 0600, 0);
	CHECK(ps != SEM_FAILED);
	CHECK_EQ(sem_close(ps), 0);
	snprintf(pl, len, "posix-sem:%s", name);
}

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
		t_skip("python3 is not installed: JSON not checked");
	t_python(&py, r.out, json_fields_py, sl, ml, pl, (char *)NULL);
	t_python(&py, r.out, check_py, sl, ml, pl, pl + strlen("posix-sem:"),
	       (char *)NULL);
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
	if (t_have_program("python3")) {
		t_python(&py, r.out, json_fields_py, pl, (char *)NULL);
		CHECK_HAS(py.out, "posix-sem ");
	}
}

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
