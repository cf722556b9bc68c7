/* Limits and refusals: sizes, full /dev/shm, huge pages, permissions. Each
 * error is checked for its code and for a message that names the fix. The
 * tests that change system settings do it in private namespaces. */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB (1024u * 1024u)

static int create_rc(const char *loc, size_t size, unsigned flags)
{
	struct shmq_seg_opts o = {.size = size, .flags = flags};
	shmq_seg *s = NULL;
	int rc = shmq_seg_create(&s, loc, &o);
	if (rc == 0)
		shmq_seg_close(s);
	else
		CHECK(s == NULL);
	return rc;
}


static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

TEST(create_of_size_zero_is_esizemin_and_creates_nothing)
{
	char loc[128], path[160];
	CHECK_EQ(create_rc(t_sysv_loc(loc, sizeof(loc), 1), 0, 0), SHMQ_ESIZEMIN);
	CHECK(shmget(t_key(1), 0, 0) < 0);
	CHECK_EQ(create_rc("sysv:private", 0, 0), SHMQ_ESIZEMIN);
	CHECK_EQ(create_rc(t_posix_loc(loc, sizeof(loc), "z"), 0, 0),
		 SHMQ_ESIZEMIN);
	snprintf(path, sizeof(path), "/dev/shm/%s", loc + 6);
	CHECK(access(path, F_OK) < 0);
	CHECK_EQ(create_rc("memfd:z", 0, 0), SHMQ_ESIZEMIN);
}

/* In a private IPC namespace, with kernel.shmmax at 1 MiB. */
static void shmmax_body(void)
{
	char msg[512];
	if (unshare(CLONE_NEWIPC) < 0)
		t_skip("unshare(CLONE_NEWIPC) not permitted: cannot lower "
		       "kernel.shmmax privately");
	write_file("/proc/sys/kernel/shmmax", "1048576");
	CHECK_EQ(create_rc("sysv:private", MiB + 1, 0), SHMQ_ESIZEMAX);
	CHECK_EQ(create_rc("sysv:private", MiB, 0), 0); /* the limit itself */
	CHECK_EQ(create_rc(t_sysv_loc(msg, sizeof(msg), 1), 2 * MiB, 0),
		 SHMQ_ESIZEMAX);
	CHECK(shmget(t_key(1), 0, 0) < 0);
	shmq_explain(SHMQ_ESIZEMAX, "sysv:private", 2 * MiB, msg,
			sizeof(msg));
	CHECK_HAS(msg, "sysv:private");
	CHECK_HAS(msg, "shmmax");
	CHECK_HAS(msg, "1048576");
	CHECK_HAS(msg, "2097152");
}

TEST(sysv_size_above_shmmax_is_esizemax_quoting_the_limit)
{
	t_need_root("lowering kernel.shmmax in a private IPC namespace");
	t_in_child(shmmax_body);
}

static void shmall_body(void)
{
	char msg[512];
	if (unshare(CLONE_NEWIPC) < 0)
		t_skip("unshare(CLONE_NEWIPC) not permitted");
	/* 16 pages for all segments together. */
	write_file("/proc/sys/kernel/shmall", "16");
	long pg = sysconf(_SC_PAGESIZE);
	CHECK_EQ(create_rc("sysv:private", (size_t)(17 * pg), 0), SHMQ_ESIZEMAX);
	shmq_explain(SHMQ_ESIZEMAX, "sysv:private", (size_t)(17 * pg), msg,
			sizeof(msg));
	CHECK_HAS(msg, "shmall");
}

TEST(sysv_size_above_shmall_is_esizemax)
{
	t_need_root("lowering kernel.shmall in a private IPC namespace");
	t_in_child(shmall_body);
}

/* In a private mount namespace, /dev/shm is a 1 MiB tmpfs. */
static void full_tmpfs_body(void)
{
	char loc[128], msg[512];
	int n = 0;
	if (unshare(CLONE_NEWNS) < 0)
		t_skip("unshare(CLONE_NEWNS) not permitted: cannot mount a "
		       "small /dev/shm privately");
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK(mount("shmqt", "/dev/shm", "tmpfs", 0, "size=1m,mode=1777") == 0);

	/* Larger than the whole tmpfs: ENOSPC here, never SIGBUS later. */
	int rc = create_rc(t_posix_loc(loc, sizeof(loc), "big"), 4 * MiB, 0);
	CHECK_EQ(rc, -ENOSPC);
	shmq_explain(rc, loc, 4 * MiB, msg, sizeof(msg));
	CHECK_HAS(msg, "/dev/shm");

	/* It fits, then the next one does not: the first is really backed. */
	shmq_seg *s;
	struct shmq_seg_opts o = {.size = 768 * 1024};
	CHECK_EQ(shmq_seg_create(&s, t_posix_loc(loc, sizeof(loc), "a"), &o), 0);
	memset(shmq_seg_addr(s), 1, o.size); /* touching every page is safe */
	CHECK_EQ(create_rc(t_posix_loc(loc, sizeof(loc), "b"), 512 * 1024, 0),
		 -ENOSPC);
	CHECK_EQ(shmq_seg_close(s), 0);

	/* Failed creates left nothing: only "a" is there. */
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	CHECK(d != NULL);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			n++;
			CHECK_HAS(e->d_name, "-a");
		}
	closedir(d);
	CHECK_EQ(n, 1);
}

TEST(posix_create_on_full_tmpfs_is_enospc_not_sigbus)
{
	t_need_root("mounting a small tmpfs in a private mount namespace");
	/* A SIGBUS would show as status 135 here, not as a skip or 0. */
	t_in_child(full_tmpfs_body);
}

TEST(huge_2m_without_reserve_is_enohuge_naming_nr_hugepages)
{
	char loc[64], msg[512];
	if (t_huge_2m_reserve() > 0)
		t_skip("2 MiB huge pages are reserved here (vm.nr_hugepages > "
		       "0): the no-reserve error cannot be provoked");
	int rc = create_rc(t_sysv_loc(loc, sizeof(loc), 1), 2 * MiB,
			   SHMQ_SEG_HUGE_2M);
	CHECK_EQ(rc, SHMQ_ENOHUGE);
	CHECK(shmget(t_key(1), 0, 0) < 0);
	shmq_explain(rc, loc, 2 * MiB, msg, sizeof(msg));
	CHECK_HAS(msg, loc);
	CHECK_HAS(msg, "vm.nr_hugepages");
	CHECK_HAS(shmq_strerror(rc), "nr_hugepages");
	CHECK_EQ(create_rc("memfd:huge", 2 * MiB, SHMQ_SEG_HUGE_2M),
		 SHMQ_ENOHUGE);
}

static void huge_2m_body(void)
{
	char loc[64];
	struct shmq_seg_opts o = {.size = 3 * MiB, .flags = SHMQ_SEG_HUGE_2M};
	struct shmq_stat st;
	shmq_seg *s;
	CHECK_EQ(shmq_seg_create(&s, t_sysv_loc(loc, sizeof(loc), 1), &o), 0);
	CHECK_EQ(shmq_seg_mapped_size(s), 4 * MiB);
	CHECK_EQ(shmq_seg_stat(s, &st), 0);
	CHECK_EQ(st.huge, 1);
	CHECK_EQ(st.mapped_size, 4 * MiB);
	/* A memfd on huge pages: whole pages, and open by fd finds them. */
	shmq_seg *m, *m2;
	char mloc[64];
	CHECK_EQ(shmq_seg_create(&m, "memfd:huge", &o), 0);
	CHECK_EQ(shmq_seg_mapped_size(m), 4 * MiB);
	snprintf(mloc, sizeof(mloc), "%s", shmq_seg_locator(m));
	CHECK_EQ(shmq_seg_open(&m2, mloc, NULL), 0);
	CHECK_EQ(shmq_seg_mapped_size(m2), 4 * MiB);
	memset(shmq_seg_addr(m2), 0xab, 4 * MiB);
	CHECK_EQ(shmq_seg_close(m2), 0);
	CHECK_EQ(shmq_seg_close(m), 0);
	/* Opened by key, the huge page size is found from the mapping. */
	shmq_seg *again;
	CHECK_EQ(shmq_seg_open(&again, loc, NULL), 0);
	CHECK_EQ(shmq_seg_mapped_size(again), 4 * MiB);
	CHECK_EQ(shmq_seg_stat(again, &st), 0); /* no flag: its smaps says */
	CHECK_EQ(st.huge, 1);
	CHECK_EQ(shmq_seg_close(again), 0);
	/* By locator: seen in the smaps of the process that maps it. */
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.huge, 1);
	CHECK_EQ(shmq_seg_close(s), 0);
	/* Nobody maps it now: the kernel does not say, so unknown. */
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.huge, -1);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(huge_2m_create_maps_whole_huge_pages)
{
	if (t_huge_2m_reserve() >= 4)
		huge_2m_body();
	else
		t_with_huge_pages(huge_2m_body);
}

TEST(huge_pages_refused_for_posix_and_both_sizes_at_once)
{
	char loc[128];
	CHECK_EQ(create_rc(t_posix_loc(loc, sizeof(loc), "h"), 2 * MiB,
			   SHMQ_SEG_HUGE_2M),
		 SHMQ_EFAMILY);
	CHECK_EQ(create_rc(t_sysv_loc(loc, sizeof(loc), 1), 2 * MiB,
			   SHMQ_SEG_HUGE_2M | SHMQ_SEG_HUGE_1G),
		 -EINVAL);
	CHECK(shmget(t_key(1), 0, 0) < 0);
}

/* Opens loc as uid/gid 65534 in a child: returns what the open gave, and
 * the explanation in msg. */
static int open_as_nobody(const char *loc, unsigned flags, char *msg,
			  size_t len)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct shmq_seg_opts o = {.flags = flags};
		char out[600];
		shmq_seg *s;
		CHECK(setgroups(0, NULL) == 0);
		CHECK(setgid(65534) == 0);
		CHECK(setuid(65534) == 0);
		int rc = shmq_seg_open(&s, loc, &o);
		if (rc == 0)
			shmq_seg_close(s);
		int n = snprintf(out, sizeof(out), "%d ", rc);
		shmq_explain(rc, loc, 0, out + n, sizeof(out) - (size_t)n);
		CHECK(write(fds[1], out, strlen(out)) > 0);
		_exit(0);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], msg, len - 1);
	close(fds[0]);
	CHECK_EQ(t_wait(pid), 0);
	CHECK(n > 0);
	msg[n] = '\0';
	return atoi(msg);
}

static void permission_denied_names_mode_and_owner(const char *loc)
{
	struct shmq_seg_opts o = {.size = 4096, .mode = 0600};
	char msg[700], owner[32];
	shmq_seg *s;
	t_need_root("switching to another user");
	CHECK_EQ(shmq_seg_create(&s, loc, &o), 0);
	CHECK_EQ(open_as_nobody(loc, 0, msg, sizeof(msg)), -EACCES);
	CHECK_HAS(msg, loc);
	CHECK_HAS(msg, "permission denied");
	CHECK_HAS(msg, "0600");
	snprintf(owner, sizeof(owner), "uid %d", (int)getuid());
	CHECK_HAS(msg, owner);

	/* 0604: others may read, not write. */
	CHECK_EQ(shmq_seg_setperm(loc, (uid_t)-1, (gid_t)-1, 0604), 0);
	CHECK_EQ(open_as_nobody(loc, SHMQ_SEG_RDONLY, msg, sizeof(msg)), 0);
	CHECK_EQ(open_as_nobody(loc, 0, msg, sizeof(msg)), -EACCES);
	CHECK_HAS(msg, "0604");
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(posix_open_by_other_user_is_eacces_naming_mode_and_owner)
{
	char loc[128];
	permission_denied_names_mode_and_owner(
		t_posix_loc(loc, sizeof(loc), "perm"));
}

TEST(sysv_open_by_other_user_is_eacces_naming_mode_and_owner)
{
	char loc[64];
	permission_denied_names_mode_and_owner(t_sysv_loc(loc, sizeof(loc), 1));
}

/* Removes loc as uid/gid 65534 in a child; returns what unlink gave. */
static int unlink_as_nobody(const char *loc, char *msg, size_t len)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char out[600];
		CHECK(setgroups(0, NULL) == 0);
		CHECK(setgid(65534) == 0);
		CHECK(setuid(65534) == 0);
		int rc = shmq_seg_unlink(loc);
		int n = snprintf(out, sizeof(out), "%d ", rc);
		shmq_explain(rc, loc, 0, out + n, sizeof(out) - (size_t)n);
		CHECK(write(fds[1], out, strlen(out)) > 0);
		_exit(0);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], msg, len - 1);
	close(fds[0]);
	CHECK_EQ(t_wait(pid), 0);
	CHECK(n > 0);
	msg[n] = '\0';
	return atoi(msg);
}

static void unlink_refused_for_other_user(const char *loc)
{
	struct shmq_seg_opts o = {.size = 4096, .mode = 0666};
	char msg[700], owner[32];
	shmq_seg *s;
	t_need_root("switching to another user");
	CHECK_EQ(shmq_seg_create(&s, loc, &o), 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	/* Even with mode 0666, only the owner (or root) removes it. */
	int rc = unlink_as_nobody(loc, msg, sizeof(msg));
	CHECK(rc == -EPERM || rc == -EACCES);
	CHECK_HAS(msg, loc);
	snprintf(owner, sizeof(owner), "uid %d", (int)getuid());
	CHECK_HAS(msg, owner);
	CHECK_EQ(shmq_stat(loc, &(struct shmq_stat){0}), 0); /* still there */
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(posix_unlink_by_other_user_is_refused_naming_owner)
{
	char loc[128];
	unlink_refused_for_other_user(t_posix_loc(loc, sizeof(loc), "rm"));
}

TEST(sysv_unlink_by_other_user_is_refused_naming_owner)
{
	char loc[64];
	unlink_refused_for_other_user(t_sysv_loc(loc, sizeof(loc), 1));
}

TEST(limits_match_the_kernel)
{
	struct shmq_limits l;
	char buf[64];
	unsigned long long v;
	CHECK_EQ(shmq_limits_get(&l), 0);
	const struct {
		const char *path;
		uint64_t got;
	} k[] = {{"/proc/sys/kernel/shmmax", l.shmmax},
		 {"/proc/sys/kernel/shmall", l.shmall},
		 {"/proc/sys/kernel/shmmni", l.shmmni}};
	for (int i = 0; i < 3; i++) {
		int fd = open(k[i].path, O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0);
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		CHECK(n > 0);
		buf[n] = '\0';
		CHECK_EQ(sscanf(buf, "%llu", &v), 1);
		CHECK_EQ(k[i].got, v);
	}
	CHECK_EQ(l.shmmin, 1);
	CHECK_EQ(l.page_size, sysconf(_SC_PAGESIZE));
	CHECK(l.shm_free > 0);
	CHECK(l.shmmni > 0);
}

TEST(limits_shm_free_drops_when_dev_shm_fills)
{
	char loc[128];
	struct shmq_limits before, after;
	struct shmq_seg_opts o = {.size = 8 * MiB};
	shmq_seg *s;
	CHECK_EQ(shmq_limits_get(&before), 0);
	CHECK_EQ(shmq_seg_create(&s, t_posix_loc(loc, sizeof(loc), "fill"), &o),
		 0);
	CHECK_EQ(shmq_limits_get(&after), 0);
	/* Backed at create: the space is taken now, not at first touch.
	 * Other users may move it too, so allow slack. */
	CHECK(before.shm_free > after.shm_free + 4 * MiB);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}
