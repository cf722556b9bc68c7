/* Liveness from /proc: a pid is alive only if the process that has it now
 * started before the event it is blamed for (pid reuse is not life), and the
 * users of a file are the processes that map it or hold it open. */
#include "internal.h"

#include <ctype.h>
#include <pthread.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Start time (clock ticks since boot) of a process or thread. A zombie
 * (state Z or X) has exited: -ESRCH, as if gone. Works for any tid, since
 * /proc/TID exists for threads too (unlisted). */
int shmq__pid_start(pid_t pid, uint64_t *ticks)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return shmq__neg_errno();
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* comm may hold spaces and ')': fields restart after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EIO;
	if (p[2] == 'Z' || p[2] == 'X')
		return -ESRCH;
	/* After ')' come fields 3..; starttime is field 22. */
	unsigned long long v = 0;
	int field = 2;
	char *save = NULL;
	for (char *tok = strtok_r(p + 1, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		if (++field == 22) {
			v = strtoull(tok, NULL, 10);
			break;
		}
	if (field != 22)
		return -EIO;
	*ticks = v;
	return 0;
}

static int64_t boot_time(void)
{
	char line[256];
	long long bt = 0;
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

/* Slack for the tick-to-second rounding of start times and btime drift. */
#define START_SLACK_S 2

int shmq__pid_alive_since(pid_t pid, int64_t t)
{
	uint64_t ticks;
	if (pid <= 0)
		return SHMQ_PID_UNKNOWN;
	int rc = shmq__pid_start(pid, &ticks);
	if (rc == -ESRCH)
		return SHMQ_PID_DEAD; /* exited: a zombie, or gone mid-read */
	if (rc == -ENOENT) {
		/* hidepid hides other users' pids: kill(0) still sees them. */
		if (kill(pid, 0) == 0 || errno == EPERM)
			return SHMQ_PID_UNKNOWN;
		return SHMQ_PID_DEAD;
	}
	if (rc < 0)
		return SHMQ_PID_UNKNOWN;
	int64_t bt = boot_time();
	if (t <= 0 || bt <= 0)
		return SHMQ_PID_ALIVE;
	int64_t started = bt + (int64_t)(ticks / (uint64_t)sysconf(_SC_CLK_TCK));
	return started > t + START_SLACK_S ? SHMQ_PID_DEAD : SHMQ_PID_ALIVE;
}

static int is_pid_dir(const char *name)
{
	for (const char *p = name; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return *name != '\0';
}

/* fd: the memfd's fd number in pid, or -1 (a mapping, a /dev/shm file). */
static int users_add(struct shmq__users *u, dev_t dev, ino_t ino, pid_t pid,
                     int fd)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->v[i].pid == pid && u->v[i].ino == ino &&
		    u->v[i].dev == dev) {
			if (u->v[i].fd < 0)
				u->v[i].fd = fd;
			return 0; /* a pid counts once per file */
		}
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		struct shmq__user *v = realloc(u->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		u->v = v;
		u->cap = cap;
	}
	struct shmq__user *e = &u->v[u->n++];
	memset(e, 0, sizeof(*e));
	e->dev = dev;
	e->ino = ino;
	e->pid = pid;
	e->fd = fd;
	return 0;
}

/* Mappings of /dev/shm files and memfds in one process's maps. */
static int scan_maps(struct shmq__users *u, pid_t pid, dev_t shm_dev)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long ino;
		int at = 0;
		if (sscanf(line, "%*s %*s %*s %x:%x %llu %n", &maj, &min, &ino,
		           &at) != 3 || ino == 0)
			continue;
		if (makedev(maj, min) == shm_dev ||
		    !strncmp(line + at, "/memfd:", 7))
			users_add(u, makedev(maj, min), (ino_t)ino, pid, -1);
	}
	fclose(f);
	return 0;
}

/* Open fds on /dev/shm files or memfds in one process. */
static int scan_fds(struct shmq__users *u, pid_t pid, dev_t shm_dev)
{
	char path[64], link[320], target[320];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat sb;
		if (!is_pid_dir(de->d_name))
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		int memfd = !strncmp(target, "/memfd:", 7);
		if (!memfd && strncmp(target, "/dev/shm/", 9))
			continue;
		if (stat(link, &sb) == 0 && (memfd || sb.st_dev == shm_dev))
			users_add(u, sb.st_dev, sb.st_ino, pid,
			          memfd ? atoi(de->d_name) : -1);
	}
	closedir(d);
	return 0;
}

/* Remembers the uid of a process whose maps or fds we cannot read. */
static void add_blind(struct shmq__users *u, pid_t pid)
{
	char path[64];
	struct stat sb;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &sb) < 0)
		return; /* gone meanwhile */
	for (size_t i = 0; i < u->nblind; i++)
		if (u->blind[i] == sb.st_uid)
			return;
	if (u->nblind == sizeof(u->blind) / sizeof(u->blind[0]))
		u->blind_overflow = 1;
	else
		u->blind[u->nblind++] = sb.st_uid;
}

/* Whether this process holds CAP_SYS_PTRACE (bit 19 of CapEff). */
static int can_ptrace_all(void)
{
	char line[128];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> 19) & 1;
}

/* Whether /proc leaves processes out of its listing for us: hidepid=2 or
 * 4 ("invisible", "ptraceable" since Linux 5.8) hides those we may not
 * ptrace, unless we hold CAP_SYS_PTRACE. A hidden process cannot be
 * counted or even named, so a count of 0 would be a guess. (A member of
 * the mount's gid= group sees all; it is told "unknown" too: rarer, and
 * not wrong.) */
static int proc_hides_pids(void)
{
	char line[1024], point[16];
	int hides = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		const char *sb = strstr(line, " - proc ");
		if (!sb || sscanf(line, "%*s %*s %*s %*s %15s", point) != 1 ||
		    strcmp(point, "/proc"))
			continue;
		hides = strstr(sb, "hidepid=2") || strstr(sb, "hidepid=4") ||
		        strstr(sb, "hidepid=invisible") ||
		        strstr(sb, "hidepid=ptraceable"); /* the top one counts */
	}
	fclose(f);
	return hides && !can_ptrace_all();
}

int shmq__users_scan(struct shmq__users *u)
{
	struct stat shm;
	memset(u, 0, sizeof(*u));
	if (stat("/dev/shm", &shm) < 0)
		return shmq__neg_errno();
	DIR *d = opendir("/proc");
	if (!d)
		return shmq__neg_errno();
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_pid_dir(de->d_name))
			continue;
		pid_t pid = (pid_t)atoi(de->d_name);
		if (scan_maps(u, pid, shm.st_dev) < 0 ||
		    scan_fds(u, pid, shm.st_dev) < 0)
			add_blind(u, pid);
	}
	closedir(d);
	/* Hidden processes have unknown owners: every count is partial. */
	if (proc_hides_pids())
		u->blind_overflow = 1;
	return 0;
}

int64_t shmq__users_count(const struct shmq__users *u, const struct stat *sb,
                          int *partial)
{
	int64_t n = 0;
	for (size_t i = 0; i < u->n; i++)
		if (u->v[i].dev == sb->st_dev && u->v[i].ino == sb->st_ino)
			n++;
	/* An unreadable process matters only if its uid could open the file:
	 * root, the owner, or anyone when group/other bits are set. */
	*partial = u->blind_overflow;
	for (size_t i = 0; i < u->nblind; i++)
		if (u->blind[i] == 0 || u->blind[i] == sb->st_uid ||
		    (sb->st_mode & 0066))
			*partial = 1;
	return n;
}

void shmq__users_free(struct shmq__users *u)
{
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* The tid is cached per thread: gettid is a system call, and the
 * uncontended mutex path must make none. A fork child is a new thread with
 * a new tid, so the child handler forgets the parent's. */
static _Thread_local pid_t tid_cache;
static pthread_once_t tid_once = PTHREAD_ONCE_INIT;

static void tid_forget(void)
{
	tid_cache = 0;
}

static void tid_atfork(void)
{
	pthread_atfork(NULL, NULL, tid_forget);
}

pid_t shmq__tid(void)
{
	if (__builtin_expect(tid_cache == 0, 0)) {
		pthread_once(&tid_once, tid_atfork);
		tid_cache = (pid_t)syscall(SYS_gettid);
	}
	return tid_cache;
}
