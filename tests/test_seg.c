/* Segments: create/open/close/unlink for System V, POSIX and memfd, as
 * their users see them from one process and from several. */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define SZ 10000 /* not a page multiple: rounding must show */

static shmq_seg *create_ok(const char *loc, size_t size, unsigned mode,
			   unsigned flags)
{
	struct shmq_seg_opts o = {.size = size, .mode = mode, .flags = flags};
	shmq_seg *s = NULL;
	int rc = shmq_seg_create(&s, loc, &o);
	if (rc != 0)
		t_fail(__FILE__, __LINE__, "shmq_seg_create(loc) == 0",
		       "%s gave %d (%s)", loc, rc, shmq_err_name(rc));
	CHECK(s != NULL);
	CHECK(shmq_seg_addr(s) != NULL);
	return s;
}

static int posix_exists(const char *loc)
{
	char path[300];
	snprintf(path, sizeof(path), "/dev/shm/%s", strchr(loc, ':') + 1);
	return access(path, F_OK) == 0;
}

/* ---- Create, open, close, unlink: each family --------------------------- */

TEST(sysv_create_by_key_then_open_close_unlink)
{
	char loc[64], want[64];
	shmq_seg *s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ, 0, 0);
	snprintf(want, sizeof(want), "sysv:key=0x%08x", (unsigned)t_key(1));
	CHECK(!strcmp(shmq_seg_locator(s), want));
	CHECK_EQ(shmq_seg_fd(s), -1);
	int id = shmq_seg_id(s);
	CHECK(id >= 0);
	CHECK_EQ(shmget(t_key(1), 0, 0), id); /* the kernel agrees */
	CHECK_EQ(shmq_seg_size(s), SZ);
	memset(shmq_seg_addr(s), 0xa5, SZ);

	shmq_seg *o;
	CHECK_EQ(shmq_seg_open(&o, loc, NULL), 0);
	CHECK_EQ(shmq_seg_id(o), id);
	CHECK_EQ(shmq_seg_size(o), SZ);
	CHECK_EQ(((unsigned char *)shmq_seg_addr(o))[SZ - 1], 0xa5);
	CHECK_EQ(shmq_seg_close(o), 0);
	CHECK_EQ(shmq_seg_close(s), 0);

	CHECK_EQ(shmq_seg_unlink(loc), 0);
	CHECK(shmget(t_key(1), 0, 0) < 0);
	CHECK_EQ(errno, ENOENT);
	CHECK_EQ(shmq_seg_unlink(loc), -ENOENT);
	CHECK_EQ(shmq_seg_open(&o, loc, NULL), -ENOENT);
	CHECK(o == NULL);
}

TEST(sysv_private_create_is_named_by_id)
{
	shmq_seg *s = create_ok("sysv:private", SZ, 0, 0), *o;
	char want[64];
	int id = shmq_seg_id(s);
	snprintf(want, sizeof(want), "sysv:id=%d", id);
	CHECK(!strcmp(shmq_seg_locator(s), want));
	strcpy(shmq_seg_addr(s), "private");
	CHECK_EQ(shmq_seg_open(&o, want, NULL), 0);
	CHECK(!strcmp(shmq_seg_addr(o), "private"));
	CHECK_EQ(shmq_seg_close(o), 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(want), 0);
	CHECK_EQ(shmq_seg_open(&o, want, NULL), -ENOENT);
}

TEST(sysv_ftok_locator_creates_the_ftok_key)
{
	char path[128], name[64], loc[200];
	int32_t key;
	snprintf(path, sizeof(path), "/dev/shm/%s",
		 t_name(name, sizeof(name), "ftok"));
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(loc, sizeof(loc), "sysv:ftok=%s:42", path);
	shmq_seg *s = create_ok(loc, SZ, 0, 0);
	key = ftok(path, 42);
	int found = shmget(key, 0, 0);
	/* Remove first: an ftok key is outside the runner's t_key range. */
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	CHECK_EQ(found, shmq_seg_id(s));
	CHECK_EQ(shmq_seg_close(s), 0);
}

TEST(sysv_open_by_id_attaches_the_same_segment)
{
	char loc[64], byid[64];
	shmq_seg *s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ, 0, 0), *o;
	snprintf(byid, sizeof(byid), "sysv:id=%d", shmq_seg_id(s));
	strcpy(shmq_seg_addr(s), "by id");
	CHECK_EQ(shmq_seg_open(&o, byid, NULL), 0);
	CHECK_EQ(shmq_seg_id(o), shmq_seg_id(s));
	CHECK(!strcmp(shmq_seg_addr(o), "by id"));
	CHECK_EQ(shmq_seg_close(o), 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(byid), 0);
	CHECK(shmget(t_key(1), 0, 0) < 0);
}

TEST(posix_create_then_open_close_unlink)
{
	char loc[128], name[64];
	shmq_seg *s = create_ok(t_posix_loc(loc, sizeof(loc), "a"), SZ, 0, 0);
	CHECK(!strcmp(shmq_seg_locator(s), loc));
	CHECK(shmq_seg_fd(s) >= 0);
	CHECK_EQ(shmq_seg_id(s), -1);
	CHECK_EQ(shmq_seg_size(s), SZ);
	CHECK(posix_exists(loc));
	memset(shmq_seg_addr(s), 0x5a, SZ);

	/* The bare name and /name are the same object. */
	t_name(name, sizeof(name), "a");
	char slash[80];
	snprintf(slash, sizeof(slash), "/%s", name);
	const char *forms[] = {loc, name, slash};
	for (size_t i = 0; i < 3; i++) {
		shmq_seg *o;
		CHECK_EQ(shmq_seg_open(&o, forms[i], NULL), 0);
		CHECK_EQ(shmq_seg_size(o), SZ);
		CHECK(!strcmp(shmq_seg_locator(o), loc));
		CHECK_EQ(((unsigned char *)shmq_seg_addr(o))[SZ - 1], 0x5a);
		CHECK_EQ(shmq_seg_close(o), 0);
	}
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK(posix_exists(loc)); /* close never removes */
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	CHECK(!posix_exists(loc));
	CHECK_EQ(shmq_seg_unlink(loc), -ENOENT);
	shmq_seg *o;
	CHECK_EQ(shmq_seg_open(&o, loc, NULL), -ENOENT);
}

TEST(memfd_create_gives_fd_locator_and_has_no_name_to_unlink)
{
	shmq_seg *s = create_ok("memfd:frames", SZ, 0, 0), *o;
	char want[32];
	int fd = shmq_seg_fd(s);
	CHECK(fd >= 0);
	CHECK_EQ(shmq_seg_id(s), -1);
	snprintf(want, sizeof(want), "memfd:fd=%d", fd);
	CHECK(!strcmp(shmq_seg_locator(s), want));
	CHECK_EQ(shmq_seg_unlink("memfd:frames"), SHMQ_EFAMILY);
	CHECK_EQ(shmq_seg_unlink(want), SHMQ_EFAMILY);
	CHECK_EQ(shmq_seg_open(&o, "memfd:frames", NULL), SHMQ_EFAMILY);
	strcpy(shmq_seg_addr(s), "memfd");
	CHECK_EQ(shmq_seg_open(&o, want, NULL), 0);
	CHECK(!strcmp(shmq_seg_addr(o), "memfd"));
	CHECK_EQ(shmq_seg_size(o), SZ);
	CHECK_EQ(shmq_seg_close(o), 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK(fcntl(fd, F_GETFD) < 0); /* close let go of the fd too */
}

TEST(create_refuses_locators_that_name_existing_objects_only)
{
	struct shmq_seg_opts o = {.size = SZ};
	shmq_seg *s = (shmq_seg *)&o; /* must come back NULL */
	CHECK_EQ(shmq_seg_create(&s, "sysv:id=1", &o), SHMQ_EFAMILY);
	CHECK(s == NULL);
	CHECK_EQ(shmq_seg_create(&s, "memfd:fd=0", &o), SHMQ_EFAMILY);
	CHECK_EQ(shmq_seg_open(&s, "sysv:private", NULL), SHMQ_EFAMILY);
	CHECK_EQ(shmq_seg_create(&s, "posix:a/b", &o), SHMQ_ELOCATOR);
	CHECK_EQ(shmq_seg_close(NULL), 0);
}

TEST(open_of_missing_object_is_enoent)
{
	char loc[128];
	shmq_seg *s;
	CHECK_EQ(shmq_seg_open(&s, t_sysv_loc(loc, sizeof(loc), 9), NULL),
		 -ENOENT);
	CHECK_EQ(shmq_seg_open(&s, t_posix_loc(loc, sizeof(loc), "none"), NULL),
		 -ENOENT);
	CHECK_EQ(shmq_seg_open(&s, "sysv:id=2147483646", NULL), -ENOENT);
	CHECK_EQ(shmq_stat("sysv:id=2147483646", &(struct shmq_stat){0}),
		 -ENOENT);
}

TEST(memfd_open_refuses_closed_fd_and_non_memfd)
{
	char loc[32], path[128], name[64];
	shmq_seg *s;
	int fd = dup(0);
	CHECK(fd >= 0);
	close(fd);
	snprintf(loc, sizeof(loc), "memfd:fd=%d", fd);
	CHECK_EQ(shmq_seg_open(&s, loc, NULL), -EBADF);
	/* A regular file under that fd number must not be mapped as one. */
	snprintf(path, sizeof(path), "/dev/shm/%s",
		 t_name(name, sizeof(name), "notmemfd"));
	fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 4096) == 0);
	snprintf(loc, sizeof(loc), "memfd:fd=%d", fd);
	CHECK_EQ(shmq_seg_open(&s, loc, NULL), -EBADF);
	close(fd);
	unlink(path);
}

/* ---- Exclusive create and SHMQ_OPEN_OK ------------------------------ */

static void exclusive_then_open_ok(const char *loc)
{
	shmq_seg *a = create_ok(loc, SZ, 0, 0), *b = (shmq_seg *)1;
	struct shmq_seg_opts o = {.size = SZ};
	CHECK_EQ(shmq_seg_create(&b, loc, &o), -EEXIST);
	CHECK(b == NULL);
	strcpy(shmq_seg_addr(a), "first");
	o.flags = SHMQ_OPEN_OK;
	CHECK_EQ(shmq_seg_create(&b, loc, &o), 0);
	/* Opened, not recreated: the first one's bytes are there. */
	CHECK(!strcmp(shmq_seg_addr(b), "first"));
	CHECK_EQ(shmq_seg_id(b), shmq_seg_id(a));
	CHECK_EQ(shmq_seg_close(b), 0);
	/* Larger than what exists: refused, not silently short. */
	o.size = 4 * SZ;
	CHECK_EQ(shmq_seg_create(&b, loc, &o), SHMQ_ESMALL);
	CHECK_EQ(shmq_seg_close(a), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	/* With nothing there, OPEN_OK creates. */
	o.size = SZ;
	CHECK_EQ(shmq_seg_create(&b, loc, &o), 0);
	CHECK_EQ(shmq_seg_size(b), SZ);
	CHECK_EQ(shmq_seg_close(b), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(sysv_create_is_exclusive_unless_open_ok)
{
	char loc[64];
	exclusive_then_open_ok(t_sysv_loc(loc, sizeof(loc), 1));
}

TEST(posix_create_is_exclusive_unless_open_ok)
{
	char loc[128];
	exclusive_then_open_ok(t_posix_loc(loc, sizeof(loc), "x"));
}

TEST(open_refuses_size_larger_than_object)
{
	char loc[128];
	struct shmq_seg_opts o = {.size = SZ + 1};
	shmq_seg *s = create_ok(t_posix_loc(loc, sizeof(loc), "small"), SZ, 0, 0),
		 *x;
	CHECK_EQ(shmq_seg_open(&x, loc, &o), SHMQ_ESMALL);
	o.size = 100; /* less is fine: a prefix */
	CHECK_EQ(shmq_seg_open(&x, loc, &o), 0);
	CHECK_EQ(shmq_seg_size(x), 100);
	CHECK_EQ(shmq_seg_close(x), 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ, 0, 0);
	o.size = SZ + 1;
	CHECK_EQ(shmq_seg_open(&x, loc, &o), SHMQ_ESMALL);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

/* ---- Modes --------------------------------------------------------------- */

static unsigned sysv_mode(int id)
{
	struct shmid_ds ds;
	CHECK(shmctl(id, IPC_STAT, &ds) == 0);
	return ds.shm_perm.mode & 0777;
}

static unsigned fd_mode(int fd)
{
	struct stat sb;
	CHECK(fstat(fd, &sb) == 0);
	return sb.st_mode & 0777;
}

/* Creates loc with mode under umask mask and checks the mode everywhere it
 * can be seen. */
static void mode_exact(const char *loc, unsigned mode, unsigned mask)
{
	shmq_seg *s;
	struct shmq_stat st;
	unsigned want = mode ? mode : 0600;
	int rc = t_create_umask(&s, loc, SZ, mode, mask);
	CHECK_EQ(rc, 0);
	CHECK_EQ(shmq_seg_stat(s, &st), 0);
	if (st.mode != want)
		t_fail(__FILE__, __LINE__, "st.mode == want",
		       "%s mode %04o umask %04o: got %04o", loc, mode, mask,
		       st.mode);
	if (shmq_seg_id(s) >= 0) {
		CHECK_EQ(sysv_mode(shmq_seg_id(s)), want);
	} else {
		CHECK_EQ(fd_mode(shmq_seg_fd(s)), want);
	}
	if (!strncmp(loc, "posix:", 6)) {
		struct stat sb;
		char path[300];
		snprintf(path, sizeof(path), "/dev/shm/%s", loc + 6);
		CHECK(stat(path, &sb) == 0);
		CHECK_EQ(sb.st_mode & 0777, want);
	}
	CHECK_EQ(shmq_seg_close(s), 0);
	if (strncmp(loc, "memfd:", 6))
		CHECK_EQ(shmq_seg_unlink(loc), 0);
}

static void mode_exact_all_families(unsigned mask)
{
	static const unsigned modes[] = {0, 0600, 0640, 0664, 0666, 0400};
	char loc[128];
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		mode_exact(t_sysv_loc(loc, sizeof(loc), 1), modes[i], mask);
		mode_exact(t_posix_loc(loc, sizeof(loc), "m"), modes[i], mask);
		mode_exact("memfd:m", modes[i], mask);
	}
}

TEST(create_applies_mode_exactly_under_umask_077)
{
	mode_exact_all_families(077);
}

TEST(create_applies_mode_exactly_under_umask_000)
{
	mode_exact_all_families(0);
}

TEST(create_refuses_mode_beyond_permission_bits)
{
	char loc[128];
	struct shmq_seg_opts o = {.size = SZ, .mode = 04755};
	shmq_seg *s;
	CHECK_EQ(shmq_seg_create(&s, t_posix_loc(loc, sizeof(loc), "suid"), &o),
		 -EINVAL);
	CHECK(!posix_exists(loc));
}

TEST(seg_set_changes_mode_of_every_family)
{
	char loc[128];
	struct shmq_stat st;
	shmq_seg *s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ, 0, 0);
	CHECK_EQ(shmq_seg_setperm(loc, (uid_t)-1, (gid_t)-1, 0640), 0);
	CHECK_EQ(sysv_mode(shmq_seg_id(s)), 0640);
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.mode, 0640);
	/* -1 leaves the mode alone. */
	CHECK_EQ(shmq_seg_setperm(loc, (uid_t)-1, (gid_t)-1, -1), 0);
	CHECK_EQ(sysv_mode(shmq_seg_id(s)), 0640);
	CHECK_EQ(shmq_seg_setperm(loc, (uid_t)-1, (gid_t)-1, 01777), -EINVAL);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);

	s = create_ok(t_posix_loc(loc, sizeof(loc), "set"), SZ, 0, 0);
	CHECK_EQ(shmq_seg_setperm(loc, (uid_t)-1, (gid_t)-1, 0604), 0);
	CHECK_EQ(fd_mode(shmq_seg_fd(s)), 0604);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);

	s = create_ok("memfd:set", SZ, 0, 0);
	CHECK_EQ(shmq_seg_setperm(shmq_seg_locator(s), (uid_t)-1, (gid_t)-1, 0660),
		 0);
	CHECK_EQ(fd_mode(shmq_seg_fd(s)), 0660);
	CHECK_EQ(shmq_seg_close(s), 0);
}

TEST(seg_set_changes_owner)
{
	char loc[128];
	struct shmq_stat st;
	t_need_root("changing the owner");
	shmq_seg *s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ, 0, 0);
	CHECK_EQ(shmq_seg_setperm(loc, 65534, 65534, -1), 0);
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.uid, 65534);
	CHECK_EQ(st.gid, 65534);
	CHECK_EQ(st.cuid, getuid()); /* the creator stays */
	CHECK_EQ(st.mode, 0600);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);

	s = create_ok(t_posix_loc(loc, sizeof(loc), "own"), SZ, 0, 0);
	CHECK_EQ(shmq_seg_setperm(loc, 65534, (gid_t)-1, -1), 0);
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.uid, 65534);
	CHECK_EQ(st.gid, getgid());
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

/* ---- Several processes --------------------------------------------------- */

/* The creator writes, a forked child opens by the canonical locator, checks
 * and answers; the creator sees the answer. */
static void exchange_with_child(const char *loc)
{
	shmq_seg *s = create_ok(loc, SZ, 0, 0);
	char *p = shmq_seg_addr(s);
	strcpy(p, "ping");
	p[SZ - 1] = 'z';
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_seg *c;
		CHECK_EQ(shmq_seg_open(&c, shmq_seg_locator(s), NULL), 0);
		char *q = shmq_seg_addr(c);
		CHECK(!strcmp(q, "ping"));
		CHECK_EQ(q[SZ - 1], 'z');
		strcpy(q + 100, "pong");
		CHECK_EQ(shmq_seg_close(c), 0);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK(!strcmp(p + 100, "pong"));
	CHECK_EQ(shmq_seg_close(s), 0);
	if (strncmp(loc, "memfd:", 6))
		CHECK_EQ(shmq_seg_unlink(strcmp(loc, "sysv:private")
						 ? loc
						 : shmq_seg_locator(s)),
			 0);
}

TEST(sysv_two_processes_see_each_others_writes)
{
	char loc[64];
	exchange_with_child(t_sysv_loc(loc, sizeof(loc), 1));
}

TEST(sysv_private_two_processes_see_each_others_writes)
{
	shmq_seg *s = create_ok("sysv:private", SZ, 0, 0);
	char loc[64];
	snprintf(loc, sizeof(loc), "%s", shmq_seg_locator(s));
	strcpy(shmq_seg_addr(s), "ping");
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		shmq_seg *c;
		CHECK_EQ(shmq_seg_open(&c, loc, NULL), 0);
		CHECK(!strcmp(shmq_seg_addr(c), "ping"));
		strcpy((char *)shmq_seg_addr(c) + 100, "pong");
		CHECK_EQ(shmq_seg_close(c), 0);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
	CHECK(!strcmp((char *)shmq_seg_addr(s) + 100, "pong"));
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(posix_two_processes_see_each_others_writes)
{
	char loc[128];
	exchange_with_child(t_posix_loc(loc, sizeof(loc), "x"));
}

TEST(memfd_forked_child_sees_writes_through_fd_locator)
{
	exchange_with_child("memfd:x");
}

/* The exec'd side of memfd_fd_reaches_exec_child: the test binary run again
 * with SHMQ_T_MEMFD=memfd:fd=N. It reads, answers in the segment, and tries
 * to resize the sealed memfd. Runs before main, so the runner never starts. */
__attribute__((constructor)) static void memfd_exec_helper(void)
{
	const char *loc = getenv("SHMQ_T_MEMFD");
	shmq_seg *s;
	if (!loc)
		return;
	int rc = shmq_seg_open(&s, loc, NULL);
	if (rc) {
		dprintf(1, "open %s: %s\n", loc, shmq_err_name(rc));
		_exit(1);
	}
	char *p = shmq_seg_addr(s);
	strcpy(p + 100, "exec child was here");
	int grow = ftruncate(shmq_seg_fd(s), 2 * SZ) < 0 ? errno : 0;
	int shrink = ftruncate(shmq_seg_fd(s), 1) < 0 ? errno : 0;
	dprintf(1, "read=%s size=%zu grow=%s shrink=%s\n", p,
		shmq_seg_size(s), grow ? strerrorname_np(grow) : "ok",
		shrink ? strerrorname_np(shrink) : "ok");
	shmq_seg_close(s);
	_exit(0);
}

TEST(memfd_fd_reaches_exec_child_and_size_is_sealed)
{
	shmq_seg *s = create_ok("memfd:exec", SZ, 0, 0);
	struct t_run *r = malloc(sizeof(*r));
	char *argv[] = {"/proc/self/exe", NULL};
	CHECK(r != NULL);
	strcpy(shmq_seg_addr(s), "from parent");
	CHECK_EQ(setenv("SHMQ_T_MEMFD", shmq_seg_locator(s), 1), 0);
	int st = t_exec(r, NULL, argv);
	unsetenv("SHMQ_T_MEMFD");
	if (st != 0)
		t_fail(__FILE__, __LINE__, "exec child exits 0",
		       "status %d: %s%s", st, r->out, r->err);
	CHECK_HAS(r->out, "read=from parent");
	CHECK_HAS(r->out, "size=10000");
	CHECK_HAS(r->out, "grow=EPERM");
	CHECK_HAS(r->out, "shrink=EPERM");
	CHECK(!strcmp((char *)shmq_seg_addr(s) + 100, "exec child was here"));
	int seals = fcntl(shmq_seg_fd(s), F_GET_SEALS);
	CHECK((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) ==
	      (F_SEAL_SHRINK | F_SEAL_GROW));
	free(r);
	CHECK_EQ(shmq_seg_close(s), 0);
}

TEST(memfd_noseal_leaves_size_changeable)
{
	shmq_seg *s = create_ok("memfd:free", SZ, 0, SHMQ_SEG_NOSEAL);
	CHECK_EQ(ftruncate(shmq_seg_fd(s), 2 * SZ), 0);
	CHECK_EQ(fcntl(shmq_seg_fd(s), F_GET_SEALS) &
		 (F_SEAL_SHRINK | F_SEAL_GROW), 0);
	CHECK_EQ(shmq_seg_close(s), 0);
}

/* A forked child attaches read-only, reads, then writes: it must die by
 * SIGSEGV, and the bytes must be unchanged. */
static void rdonly_write_kills_child(const char *loc)
{
	shmq_seg *s = create_ok(loc, SZ, 0, 0);
	char *p = shmq_seg_addr(s);
	int fds[2];
	char c = 0;
	strcpy(p, "A");
	CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct shmq_seg_opts o = {.flags = SHMQ_SEG_RDONLY};
		struct rlimit nocore = {0, 0};
		shmq_seg *c2;
		/* ASan's SEGV handler would turn the signal into exit(1). */
		signal(SIGSEGV, SIG_DFL);
		setrlimit(RLIMIT_CORE, &nocore);
		CHECK_EQ(shmq_seg_open(&c2, shmq_seg_locator(s), &o), 0);
		volatile char *q = shmq_seg_addr(c2);
		char v = q[0];
		CHECK(write(fds[1], &v, 1) == 1);
		q[0] = 'W';
		_exit(0); /* reached only if the write went through */
	}
	close(fds[1]);
	CHECK_EQ(read(fds[0], &c, 1), 1);
	CHECK_EQ(c, 'A'); /* it could read */
	close(fds[0]);
	CHECK_EQ(t_wait(pid), 128 + SIGSEGV);
	CHECK_EQ(p[0], 'A');
	CHECK_EQ(shmq_seg_close(s), 0);
	if (strncmp(loc, "memfd:", 6))
		CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(sysv_rdonly_attach_cannot_write)
{
	char loc[64];
	rdonly_write_kills_child(t_sysv_loc(loc, sizeof(loc), 1));
}

TEST(posix_rdonly_attach_cannot_write)
{
	char loc[128];
	rdonly_write_kills_child(t_posix_loc(loc, sizeof(loc), "ro"));
}

TEST(memfd_rdonly_attach_cannot_write)
{
	rdonly_write_kills_child("memfd:ro");
}

/* ---- Addresses ------------------------------------------------------------ */

/* An address range nobody maps now. */
static char *free_range(size_t len)
{
	char *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	munmap(p, len);
	return p;
}

TEST(sysv_attach_at_requested_address_rounds_with_rnd)
{
	char loc[64];
	size_t lba = (size_t)SHMLBA;
	char *base = free_range(16 * lba) + 4 * lba;
	shmq_seg *s;

	/* Exactly there when aligned. */
	s = create_ok(t_sysv_loc(loc, sizeof(loc), 1), SZ, 0, 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	struct shmq_seg_opts o = {.addr = base};
	CHECK_EQ(shmq_seg_open(&s, loc, &o), 0);
	CHECK(shmq_seg_addr(s) == base);
	CHECK_EQ(shmq_seg_close(s), 0);

	/* Rounded down to SHMLBA with SHMQ_SEG_RND. */
	o.addr = base + 123;
	o.flags = SHMQ_SEG_RND;
	CHECK_EQ(shmq_seg_open(&s, loc, &o), 0);
	CHECK(shmq_seg_addr(s) == base);
	CHECK_EQ(shmq_seg_close(s), 0);

	/* Unaligned without it: refused, never placed elsewhere. */
	o.flags = 0;
	CHECK_EQ(shmq_seg_open(&s, loc, &o), -EINVAL);
	CHECK_EQ(shmq_seg_unlink(loc), 0);

	/* A create that cannot attach leaves no segment behind. */
	struct shmq_seg_opts c = {.size = SZ, .addr = base + 123};
	CHECK_EQ(shmq_seg_create(&s, t_sysv_loc(loc, sizeof(loc), 2), &c),
		 -EINVAL);
	CHECK(shmget(t_key(2), 0, 0) < 0);
}

TEST(posix_attach_at_requested_address_never_moves_it)
{
	char loc[128];
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *base = free_range(16 * pg) + 4 * pg;
	struct shmq_seg_opts o = {.size = SZ, .addr = base};
	shmq_seg *s, *t;
	CHECK_EQ(shmq_seg_create(&s, t_posix_loc(loc, sizeof(loc), "at"), &o), 0);
	CHECK(shmq_seg_addr(s) == base);
	/* Occupied now: a second attach there fails instead of landing
	 * somewhere else or clobbering the first. */
	o.size = 0;
	CHECK(shmq_seg_open(&t, loc, &o) < 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

/* ---- Races and hostile names -------------------------------------------- */

/* Forks n children that wait at a gate, then all call shmq_seg_create on
 * loc at once. Returns how many created it (exit 10) and how many found it
 * there (exit 11, -EEXIST); other outcomes fail in the child. */
static void create_race(const char *loc, unsigned flags, int n, int *made,
			int *found, uid_t uid)
{
	int gate[2];
	pid_t pids[16];
	char c;
	CHECK(n <= 16);
	CHECK(pipe(gate) == 0);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (pids[i] == 0) {
			struct shmq_seg_opts o = {.size = SZ, .flags = flags};
			shmq_seg *s;
			close(gate[1]);
			if (uid != (uid_t)-1) {
				CHECK(setgid(uid) == 0);
				CHECK(setuid(uid) == 0);
			}
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
			int rc = shmq_seg_create(&s, loc, &o);
			if (rc == -EEXIST)
				_exit(11);
			if (rc != 0)
				t_fail(__FILE__, __LINE__, "racing create",
				       "%s: %d (%s)", loc, rc, shmq_err_name(rc));
			CHECK_EQ(shmq_seg_size(s), SZ);
			((volatile char *)shmq_seg_addr(s))[SZ - 1] = 1;
			CHECK_EQ(shmq_seg_close(s), 0);
			_exit(10);
		}
	}
	close(gate[0]);
	close(gate[1]); /* EOF: all of them go */
	*made = *found = 0;
	for (int i = 0; i < n; i++) {
		int st = t_wait(pids[i]);
		if (st == 10)
			++*made;
		else if (st == 11)
			++*found;
		else
			t_fail(__FILE__, __LINE__, "racer exits 10 or 11",
			       "status %d", st);
	}
}

/* uid -1: the racers keep ours; else they switch to it first. 20 rounds
 * of 8 racers, 200 with SHMQ_LONG=1. */
static void race_rounds(int sysv, unsigned flags, uid_t uid)
{
	char loc[128], tag[16];
	int rounds = t_long() ? 200 : 20;
	for (int round = 0; round < rounds; round++) {
		int made, found;
		snprintf(tag, sizeof(tag), "race%d", round);
		if (sysv)
			t_sysv_loc(loc, sizeof(loc), 10 + round);
		else
			t_posix_loc(loc, sizeof(loc), tag);
		create_race(loc, flags, 8, &made, &found, uid);
		if (flags & SHMQ_OPEN_OK) {
			CHECK_EQ(made, 8);
		} else {
			CHECK_EQ(made, 1);
			CHECK_EQ(found, 7);
		}
		CHECK_EQ(shmq_seg_unlink(loc), 0);
	}
}

TEST(posix_racing_exclusive_creates_make_exactly_one)
{
	race_rounds(0, 0, (uid_t)-1);
}

TEST(posix_racing_open_ok_creates_all_get_the_whole_object)
{
	race_rounds(0, SHMQ_OPEN_OK, (uid_t)-1);
}

TEST(sysv_racing_exclusive_creates_make_exactly_one)
{
	race_rounds(1, 0, (uid_t)-1);
}

TEST(sysv_racing_open_ok_creates_all_get_the_whole_object)
{
	race_rounds(1, SHMQ_OPEN_OK, (uid_t)-1);
}

/* Without root, a half-made object (mode 0 until sized) must not make a
 * racing OPEN_OK creator fail: it waits for it or retries. */
TEST(posix_racing_open_ok_creates_succeed_without_root)
{
	t_need_root("switching the racers to another user");
	race_rounds(0, SHMQ_OPEN_OK, 65534);
}

TEST(sysv_racing_open_ok_creates_succeed_without_root)
{
	t_need_root("switching the racers to another user");
	race_rounds(1, SHMQ_OPEN_OK, 65534);
}

TEST(posix_calls_refuse_a_symlink_planted_in_dev_shm)
{
	char target[128], link[128], name[64], loc[128];
	struct stat sb;
	shmq_seg *s;
	snprintf(target, sizeof(target), "/dev/shm/%s",
		 t_name(name, sizeof(name), "target"));
	int fd = open(target, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(fchmod(fd, 0600) == 0);
	CHECK(ftruncate(fd, 4096) == 0);
	close(fd);
	snprintf(link, sizeof(link), "/dev/shm/%s",
		 t_name(name, sizeof(name), "link"));
	CHECK(symlink(target, link) == 0);
	snprintf(loc, sizeof(loc), "posix:%s", name);

	CHECK(shmq_seg_open(&s, loc, NULL) < 0);
	struct shmq_seg_opts o = {.size = 4096, .flags = SHMQ_OPEN_OK};
	CHECK(shmq_seg_create(&s, loc, &o) < 0);
	CHECK(shmq_seg_setperm(loc, (uid_t)-1, (gid_t)-1, 0666) < 0);
	CHECK(stat(target, &sb) == 0);
	CHECK_EQ(sb.st_mode & 0777, 0600); /* the target was not widened */
	CHECK(shmq_stat(loc, &(struct shmq_stat){0}) < 0);
	unlink(link);
	unlink(target);
}
