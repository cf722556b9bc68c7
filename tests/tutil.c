/* Helpers shared by the library tests. */
#include "tutil.h"
#include "test.h"

#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

/* The go ends of live holders: a new holder must close them, or an older
 * holder would never see EOF while the new one lives. */
static int t_gos[64];
static size_t t_ngos;

void t_hold(struct t_holder *h, const char *locator, unsigned flags)
{
	int ready[2], go[2];
	char c;

	CHECK(pipe(ready) == 0);
	CHECK(pipe(go) == 0);
	h->pid = fork();
	CHECK(h->pid >= 0);
	if (h->pid == 0) {
		struct shmq_seg_opts o = {.flags = flags};
		shmq_seg *s;
		close(ready[0]);
		close(go[1]);
		for (size_t i = 0; i < t_ngos; i++)
			close(t_gos[i]);
		CHECK_EQ(shmq_seg_open(&s, locator, &o), 0);
		CHECK(write(ready[1], "r", 1) == 1);
		/* EOF on go: the parent released us (or died). */
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		CHECK_EQ(shmq_seg_close(s), 0);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	/* The byte arrives only once the child is attached; EOF means it
	 * failed, and its CHECK says why. */
	CHECK_EQ(read(ready[0], &c, 1), 1);
	close(ready[0]);
	h->go = go[1];
	CHECK(t_ngos < sizeof(t_gos) / sizeof(t_gos[0]));
	t_gos[t_ngos++] = h->go;
}

void t_release(struct t_holder *h)
{
	for (size_t i = 0; i < t_ngos; i++)
		if (t_gos[i] == h->go)
			t_gos[i] = t_gos[--t_ngos];
	close(h->go);
	CHECK_EQ(t_wait(h->pid), 0);
}

int t_create_umask(shmq_seg **seg, const char *locator, size_t size,
                   unsigned mode, unsigned mask)
{
	struct shmq_seg_opts o = {.size = size, .mode = mode};
	mode_t old = umask((mode_t)mask);
	int rc = shmq_seg_create(seg, locator, &o);
	umask(old);
	return rc;
}

void t_need_root(const char *what)
{
	char why[256];
	if (geteuid() == 0)
		return;
	snprintf(why, sizeof(why), "%s needs root (euid is %d)", what,
		 (int)geteuid());
	t_skip(why);
}

const char *t_sysv_loc(char *buf, size_t len, int n)
{
	snprintf(buf, len, "sysv:key=0x%08x", (unsigned)t_key(n));
	return buf;
}

const char *t_posix_loc(char *buf, size_t len, const char *tag)
{
	char name[128];
	snprintf(buf, len, "posix:%s", t_name(name, sizeof(name), tag));
	return buf;
}

int64_t t_posix_unused_nattch(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int64_t r = 0;
	CHECK(d != NULL);
	while (r == 0 && (e = readdir(d))) {
		char path[300];
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/maps", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		else if (errno != ENOENT && errno != ESRCH)
			r = -1; /* a process we cannot see into */
	}
	closedir(d);
	return r;
}

void t_seccomp_one(long nr, uint32_t on_nr, uint32_t otherwise)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		         offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, on_nr),
		BPF_STMT(BPF_RET | BPF_K, otherwise),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0);
}

void t_forbid_syscalls(void)
{
	t_seccomp_one(SYS_exit_group, SECCOMP_RET_ALLOW,
	              SECCOMP_RET_KILL_PROCESS);
}

int t_long(void)
{
	const char *s = getenv("SHMQ_LONG");
	return s && !strcmp(s, "1");
}

int t_have_program(const char *name)
{
	struct t_run r;
	char cmd[128];
	char *argv[] = { "sh", "-c", cmd, NULL };

	snprintf(cmd, sizeof(cmd), "command -v %s", name);
	return t_exec(&r, NULL, argv) == 0;
}

void t_python(struct t_run *r, const char *stdin_data, const char *script,
              ...)
{
	char *argv[16] = { "python3", "-c", (char *)script };
	size_t n = 3;
	va_list ap;

	va_start(ap, script);
	while (n < sizeof(argv) / sizeof(argv[0]) - 1 &&
	       (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (!t_have_program("python3"))
		t_skip_dep("python3", "a check in python did not run");
	if (t_exec(r, stdin_data, argv) != 0)
		t_fail(__FILE__, __LINE__, "python3 script", "status %d: %s",
		       r->status, r->err);
}

void t_in_child(void (*body)(void))
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		body();
		_exit(0);
	}
	int st = t_wait(pid);
	if (st == 77)
		t_skip("skipped in a child");
	CHECK_EQ(st, 0);
}

long t_blocked_in(pid_t pid)
{
	char path[64];
	long nr = -1;
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		t_skip("/proc/PID/syscall is not readable here");
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr;
}

shmq_chan *t_chan_make(const char *loc, int kind, size_t cap, int role,
                       int64_t spin)
{
	struct shmq_chan_opts o = {.kind = kind, .capacity = cap,
	                           .msg_size = 64, .spin_ns = spin};
	shmq_chan *ch = NULL;
	CHECK_EQ(shmq_chan_create(&ch, loc, role, &o), 0);
	return ch;
}

shmq_chan *t_chan_attach(const char *loc, int role)
{
	shmq_chan *ch = NULL;
	CHECK_EQ(shmq_chan_open(&ch, loc, role, NULL), 0);
	return ch;
}

/* A name another test, another run, a bench or make test's TSan part
 * (beside the tests) made: not this test's doing. */
static int t_foreign_shm_name(const char *name, const char *ours)
{
	int pid;
	const char *bare = strncmp(name, "sem.", 4) ? name : name + 4;
	if (!strncmp(bare, "shmqtsan-", 9) || !strncmp(bare, "shmq-bench-", 11))
		return 1;
	return sscanf(bare, "shmqt-%d-", &pid) == 1 &&
	       strncmp(bare, ours, strlen(ours));
}

void t_shm_names(char *buf, size_t len)
{
	struct dirent **v;
	int n = scandir("/dev/shm", &v, NULL, alphasort);
	char ours[32];
	size_t at = 0;
	CHECK(n >= 0);
	t_name(ours, sizeof(ours), "");
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (!t_foreign_shm_name(v[i]->d_name, ours))
			at += (size_t)snprintf(buf + at, at < len ? len - at : 0,
			                       "%s/", v[i]->d_name);
		free(v[i]);
	}
	free(v);
	CHECK(at < len);
}

int64_t t_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int t_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n = poll(&p, 1, ms);
	CHECK(n >= 0);
	return n == 1 && (p.revents & POLLIN);
}

int t_epoll_on(shmq_chan *ch)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), fd = shmq_chan_fd(ch);
	CHECK(ep >= 0 && fd >= 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ch};
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	return ep;
}

const char *t_shm_path(char *buf, size_t len, const char *loc)
{
	snprintf(buf, len, "/dev/shm/%s", strchr(loc, ':') + 1);
	return buf;
}

void t_cut(const char *loc, off_t to, int64_t *at_ns)
{
	char path[256];
	t_shm_path(path, sizeof(path), loc);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		CHECK(fd >= 0);
		CHECK_EQ(ftruncate(fd, to), 0);
		if (at_ns)
			*at_ns = t_now_ns();
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
}

const char *t_sock_path(char *buf, size_t len, const char *tag)
{
	char name[64];
	snprintf(buf, len, "/tmp/%s.sock", t_name(name, sizeof(name), tag));
	return buf;
}

/* ---- Huge pages ---- */

int t_huge_2m_reserve(void)
{
	const char *d = "/sys/kernel/mm/hugepages/hugepages-2048kB/";
	char path[128], buf[32];
	int total = 0;
	const char *files[] = {"free_hugepages", "nr_overcommit_hugepages"};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", d, files[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			total += atoi(buf);
		}
	}
	return total;
}

#define NR_HUGE "/proc/sys/vm/nr_hugepages"

/* Reserves four more 2 MiB pages for as long as fn runs in a child (as root),
 * then gives them back: the reserve is machine-wide. */
void t_with_huge_pages(void (*fn)(void))
{
	char buf[32];
	FILE *f = fopen(NR_HUGE, "r");
	int before = -1;
	if (!f || fscanf(f, "%d", &before) != 1 || geteuid() != 0)
		t_skip("no four free 2 MiB huge pages and no root to reserve "
		       "them (sysctl vm.nr_hugepages)");
	fclose(f);
	snprintf(buf, sizeof(buf), "%d\n", before + 4);
	f = fopen(NR_HUGE, "w");
	CHECK(f && fputs(buf, f) >= 0 && fclose(f) == 0);
	int free_now = t_huge_2m_reserve();
	pid_t pid = free_now >= 4 ? fork() : -2;
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int status = pid > 0 ? t_wait(pid) : -1;
	snprintf(buf, sizeof(buf), "%d\n", before);
	f = fopen(NR_HUGE, "w");
	CHECK(f && fputs(buf, f) >= 0 && fclose(f) == 0);
	if (pid == -2)
		t_skip("the kernel could not reserve four 2 MiB huge pages "
		       "(memory too fragmented)");
	CHECK_EQ(status, 0);
}
