/* shmq doctor: checks the machine and the container for what breaks shared
 * memory, and says for each what it found, why it matters and the fix. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static int run_doctor(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_doctor = {
	"doctor",
	"doctor [--json]",
	"Checks this machine (or container) for what breaks shared memory:\n"
	"/dev/shm (tmpfs, size, free space: Docker gives 64 MiB), the IPC\n"
	"namespace, systemd-logind's RemoveIPC, kernel.shmmax, shmall and\n"
	"shmmni and their use, vm.overcommit_memory, MemAvailable, huge pages\n"
	"and vm.hugetlb_shm_group, RLIMIT_MEMLOCK and RLIMIT_NOFILE, /proc's\n"
	"hidepid, the kernel features shmq uses (futex, OFD locks, memfd seals,\n"
	"membarrier; each tried for real) and leftover stale or orphan objects.\n"
	"Each check prints ok, warn or fail, what it found, why it matters and,\n"
	"unless ok, the exact fix. A fact that cannot be known shows as ?.\n\n"
	"  --json   print a JSON array of {check, status, found, why, fix,\n"
	"           facts}: status \"ok\", \"warn\" or \"fail\"; fix null when\n"
	"           ok; facts the numbers found, null when unknown\n\n"
	"exit status: 1 when a check fails, else 0 (warnings included).\n",
	run_doctor,
};

enum { ST_OK, ST_WARN, ST_FAIL };
static const char *const status_name[] = { "ok", "warn", "fail" };

/* One check's result: texts for people, facts (JSON members) for scripts. */
struct check {
	const char *name;
	int status;
	char found[1024], why[1024], fix[1024];
	char facts[1024];
};

#define MIB ((uint64_t)1 << 20)
/* The initial IPC namespace's inode (PROC_IPC_INIT_INO): the host's. */
#define HOST_IPC_INO 4026531839u

/* ---- Building a result --------------------------------------------------- */

static void vappend(char *buf, size_t len, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vappend(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t at = strlen(buf);

	if (at + 1 < len)
		vsnprintf(buf + at, len - at, fmt, ap);
}

#define APPENDER(fn, field)                                                  \
	static void fn(struct check *c, const char *fmt, ...)                \
		__attribute__((format(printf, 2, 3)));                       \
	static void fn(struct check *c, const char *fmt, ...)                \
	{                                                                    \
		va_list ap;                                                  \
		va_start(ap, fmt);                                           \
		vappend(c->field, sizeof(c->field), fmt, ap);                \
		va_end(ap);                                                  \
	}
APPENDER(found, found)
APPENDER(why, why)
APPENDER(fix, fix)

/* Raises the status to s (a check may find several things). */
static void verdict(struct check *c, int s)
{
	if (s > c->status)
		c->status = s;
}

static void fact_raw(struct check *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fact_raw(struct check *c, const char *key, const char *fmt, ...)
{
	char v[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	size_t at = strlen(c->facts);
	if (at + 1 < sizeof(c->facts))
		snprintf(c->facts + at, sizeof(c->facts) - at, "%s\"%s\": %s",
		         at ? ", " : "", key, v);
}

/* A number, or null when unknown (known 0). */
static void fact_u64(struct check *c, const char *key, uint64_t v, int known)
{
	if (known)
		fact_raw(c, key, "%" PRIu64, v);
	else
		fact_raw(c, key, "null");
}

/* A string (as a JSON literal), or null. */
static void fact_str(struct check *c, const char *key, const char *v)
{
	char lit[256] = "null";
	FILE *f = v ? fmemopen(lit, sizeof(lit), "w") : NULL;

	if (f) {
		cli_json_str(f, v);
		if (fclose(f) != 0)
			snprintf(lit, sizeof(lit), "null"); /* did not fit */
	}
	fact_raw(c, key, "%s", lit);
}

/* A boolean: 1, 0, or -1 unknown. */
static void fact_bool(struct check *c, const char *key, int v)
{
	fact_raw(c, key, "%s", v < 0 ? "null" : v ? "true" : "false");
}

/* "64 MiB", "23.5 GiB", "512 KiB", "100 B". */
static const char *bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
	                                    "PiB", "EiB" };
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u == 0 || d >= 100 || d == (double)(uint64_t)d)
		snprintf(buf, len, "%.0f %s", d, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
	return buf;
}

/* ---- Reading the system -------------------------------------------------- */

/* The first line of path, without its newline; -errno if unreadable. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		rc = -EIO;
	else
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return rc;
}

static int read_u64(const char *path, uint64_t *v)
{
	char line[64], *end;

	if (read_line(path, line, sizeof(line)) < 0)
		return -1;
	errno = 0;
	*v = strtoull(line, &end, 10);
	return errno || end == line ? -1 : 0;
}

/* A /proc/meminfo field in bytes (the counts of huge pages as they are);
 * -1 if missing. */
static int meminfo(const char *key, uint64_t *v)
{
	char line[256];
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "re");
	int rc = -1;

	if (!f)
		return -1;
	while (rc < 0 && fgets(line, sizeof(line), f)) {
		unsigned long long x;
		char unit[8] = "";
		if (strncmp(line, key, n) || line[n] != ':' ||
		    sscanf(line + n + 1, "%llu %7s", &x, unit) < 1)
			continue;
		*v = strcmp(unit, "kB") == 0 ? (uint64_t)x * 1024 : x;
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* A mount from /proc/self/mountinfo. */
struct mnt {
	int found;
	char fstype[32];
	char opts[512];      /* per-mount and per-superblock, comma joined */
};

/* The mount on top at dir (the last one listed there). */
static void mount_at(const char *dir, struct mnt *m)
{
	char line[2048];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	memset(m, 0, sizeof(*m));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char point[512], mopts[256], fstype[32], sopts[256];
		char *dash = strstr(line, " - ");
		if (!dash ||
		    sscanf(line, "%*s %*s %*s %*s %511s %255s", point, mopts) != 2 ||
		    sscanf(dash + 3, "%31s %*s %255s", fstype, sopts) != 2 ||
		    strcmp(point, dir))
			continue;
		m->found = 1;
		snprintf(m->fstype, sizeof(m->fstype), "%s", fstype);
		snprintf(m->opts, sizeof(m->opts), "%s,%s", mopts, sopts);
	}
	fclose(f);
}

/* The value of option name in a comma list ("" for a bare flag); NULL if
 * absent. The last one counts, as for the kernel. */
static const char *mount_opt(const char *opts, const char *name, char *buf,
                             size_t len)
{
	size_t n = strlen(name);
	const char *p = opts, *got = NULL;

	while (*p) {
		size_t l = strcspn(p, ",");
		if (l >= n && !strncmp(p, name, n) && (l == n || p[n] == '=')) {
			size_t v = l > n ? l - n - 1 : 0;
			snprintf(buf, len, "%.*s", (int)v, p + n + (l > n));
			got = buf;
		}
		p += l + (p[l] == ',');
	}
	return got;
}

/* Whether this process has capability bit cap (CapEff); -1 unknown. */
static int has_cap(int cap)
{
	char line[256];
	unsigned long long eff;
	int rc = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			rc = (int)((eff >> cap) & 1);
	fclose(f);
	return rc;
}

/* The inode of a namespace link ("ipc:[4026531839]"); 0 if unreadable. */
static unsigned long ns_inode(const char *path)
{
	char link[64];
	unsigned long ino = 0;
	ssize_t n = readlink(path, link, sizeof(link) - 1);

	if (n <= 0)
		return 0;
	link[n] = '\0';
	if (sscanf(link, "%*[a-z_]:[%lu]", &ino) != 1)
		return 0;
	return ino;
}

/* What says this runs in a container, in buf; NULL when nothing does. */
static const char *container(char *buf, size_t len)
{
	static const char *const marks[] = { "docker", "kubepods",
	                                     "containerd", "libpod", "lxc" };
	char line[512];
	FILE *f;

	if (access("/.dockerenv", F_OK) == 0)
		return snprintf(buf, len, "Docker (/.dockerenv)"), buf;
	if (access("/run/.containerenv", F_OK) == 0)
		return snprintf(buf, len, "Podman (/run/.containerenv)"), buf;
	if (read_line("/run/systemd/container", line, sizeof(line)) == 0 &&
	    line[0])
		return snprintf(buf, len, "%s (/run/systemd/container)",
		                cli_scrub(line)), buf;
	f = fopen("/proc/1/cgroup", "re");
	if (!f)
		return NULL;
	buf[0] = '\0';
	while (!buf[0] && fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
			if (strstr(line, marks[i])) {
				snprintf(buf, len, "%s (/proc/1/cgroup)",
				         marks[i]);
				break;
			}
	fclose(f);
	return buf[0] ? buf : NULL;
}

/* ---- /dev/shm ------------------------------------------------------------ */

static void check_dev_shm(struct check *c)
{
	struct mnt m;
	struct stat sb;

	why(c, "POSIX objects and shmq channels are files in /dev/shm: it "
	    "must be a tmpfs (memory, not disk) that every user of shmq may "
	    "write");
	mount_at("/dev/shm", &m);
	fact_str(c, "fstype", m.found ? m.fstype : NULL);
	if (stat("/dev/shm", &sb) < 0) {
		verdict(c, ST_FAIL);
		found(c, "/dev/shm does not exist");
		fix(c, "mkdir -m 1777 /dev/shm && mount -t tmpfs -o "
		    "mode=1777,nosuid,nodev tmpfs /dev/shm");
		return;
	}
	if (!m.found) {
		verdict(c, ST_FAIL);
		found(c, "/dev/shm is not a mount of its own (its files are "
		    "on the file system of /dev)");
		fix(c, "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "
		    "/dev/shm (and a line for it in /etc/fstab)");
	} else if (strcmp(m.fstype, "tmpfs")) {
		verdict(c, ST_FAIL);
		found(c, "/dev/shm is %s, not tmpfs", m.fstype);
		fix(c, "umount /dev/shm; mount -t tmpfs -o mode=1777,nosuid,"
		    "nodev tmpfs /dev/shm");
	} else {
		found(c, "tmpfs");
	}
	fact_raw(c, "mode", "\"%04o\"", (unsigned)(sb.st_mode & 07777));
	found(c, ", mode %04o", (unsigned)(sb.st_mode & 07777));
	int w = access("/dev/shm", W_OK | X_OK) == 0;
	fact_bool(c, "writable", w);
	if (!w) {
		verdict(c, ST_FAIL);
		found(c, "; uid %u cannot create files in it", (unsigned)geteuid());
		fix(c, "%schmod 1777 /dev/shm", c->fix[0] ? "; " : "");
	} else if ((sb.st_mode & 01777) != 01777) {
		verdict(c, ST_WARN);
		found(c, " (not 1777: %s)", (sb.st_mode & 01000)
		      ? "not every user may create objects"
		      : "no sticky bit, so any writer may remove another "
		        "user's objects");
		fix(c, "%schmod 1777 /dev/shm", c->fix[0] ? "; " : "");
	}
}

static void check_shm_space(struct check *c, const char *box)
{
	struct statvfs v;
	char t[32], f[32];

	why(c, "every POSIX object and channel takes its size from /dev/shm; "
	    "when it is full a create fails (ENOSPC), and writing a page "
	    "that has no room raises SIGBUS");
	if (statvfs("/dev/shm", &v) < 0) {
		verdict(c, ST_FAIL);
		found(c, "? (statvfs /dev/shm: %s)", strerror(errno));
		fact_u64(c, "size", 0, 0);
		fact_u64(c, "free", 0, 0);
		fix(c, "mount a tmpfs on /dev/shm (see the check dev-shm)");
		return;
	}
	uint64_t total = (uint64_t)v.f_blocks * v.f_frsize;
	uint64_t avail = (uint64_t)v.f_bavail * v.f_frsize;
	fact_u64(c, "size", total, 1);
	fact_u64(c, "free", avail, 1);
	found(c, "%s, %s free", bytes(total, t, sizeof(t)),
	      bytes(avail, f, sizeof(f)));
	/* A default channel (1 MiB ring and its header) must fit, a few times
	 * over; 64 MiB is Docker's default, which large messages outgrow. */
	if (avail < 4 * MIB)
		verdict(c, ST_FAIL);
	else if (total <= 64 * MIB || avail < total / 10)
		verdict(c, ST_WARN);
	if (total == 64 * MIB)
		found(c, " (64 MiB is Docker's default --shm-size)");
	if (c->status == ST_OK)
		return;
	if (avail < 4 * MIB)
		found(c, ": a default channel (1 MiB) hardly fits");
	fix(c, "enlarge it: in Docker start the container with "
	    "--shm-size=1g (compose: shm_size: 1gb; Kubernetes: an emptyDir "
	    "with medium: Memory mounted at /dev/shm); on a host: mount -o "
	    "remount,size=1G /dev/shm%s; leftovers: shmq rm --stale",
	    box ? " (not possible inside the container)" : "");
}

/* ---- Namespaces and logind ----------------------------------------------- */

static void check_ipc_ns(struct check *c, const char *box)
{
	unsigned long self = ns_inode("/proc/self/ns/ipc");
	unsigned long init = ns_inode("/proc/1/ns/ipc");

	why(c, "System V segments, semaphores and queues exist per IPC "
	    "namespace: processes in another one (the host, another "
	    "container) see none of them; a POSIX object is seen by whoever "
	    "mounts the same /dev/shm");
	fact_str(c, "container", box);
	fact_u64(c, "ipc_ns", self, self != 0);
	fact_u64(c, "pid1_ipc_ns", init, init != 0);
	fact_bool(c, "host_ipc_ns", self ? self == HOST_IPC_INO : -1);
	found(c, "%s; ", box ? box : "not in a container that says so");
	if (!self) {
		verdict(c, ST_WARN);
		found(c, "IPC namespace ? (/proc/self/ns/ipc unreadable)");
		fix(c, "mount /proc to see it");
		return;
	}
	if (self == HOST_IPC_INO) {
		found(c, "the host's IPC namespace (ipc:[%lu])", self);
		return;
	}
	verdict(c, ST_WARN);
	found(c, "a private IPC namespace (ipc:[%lu]", self);
	if (!init)
		found(c, "; pid 1's: ?)");
	else if (init == self)
		found(c, ", pid 1's too)");
	else
		found(c, "; pid 1 is in ipc:[%lu])", init);
	fix(c, "run every peer in one IPC namespace: docker run --ipc=host "
	    "(or --ipc=container:NAME; compose: ipc: host; Kubernetes: "
	    "hostIPC: true, or the containers of one pod), and share "
	    "/dev/shm (docker -v /dev/shm:/dev/shm)");
}

/* The last RemoveIPC= of [Login] in path: 1 yes, 0 no, -1 not set; where
 * says file:line. */
static int remove_ipc_in(const char *path, int was, char *where, size_t len)
{
	char line[512];
	int login = 0, n = 0, v = was;
	FILE *f = fopen(path, "re");

	if (!f)
		return was;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		n++;
		p[strcspn(p, "\r\n")] = '\0';
		if (p[0] == '[') {
			login = !strncmp(p, "[Login]", 7);
			continue;
		}
		if (!login || strncmp(p, "RemoveIPC", 9))
			continue;
		p += 9 + strspn(p + 9, " \t");
		if (*p++ != '=')
			continue;
		p += strspn(p, " \t");
		p[strcspn(p, " \t")] = '\0';
		if (!strcmp(p, "yes") || !strcmp(p, "true") ||
		    !strcmp(p, "on") || !strcmp(p, "1"))
			v = 1;
		else if (!strcmp(p, "no") || !strcmp(p, "false") ||
		         !strcmp(p, "off") || !strcmp(p, "0"))
			v = 0;
		else
			continue; /* logind ignores what it cannot parse */
		snprintf(where, len, "%s:%d", path, n);
	}
	fclose(f);
	return v;
}

static const char *const logind_dirs[] = {
	"/etc/systemd/logind.conf.d", "/run/systemd/logind.conf.d",
	"/usr/local/lib/systemd/logind.conf.d",
	"/usr/lib/systemd/logind.conf.d",
};
#define NDIRS (sizeof(logind_dirs) / sizeof(logind_dirs[0]))

/* Entries are the directory's index, then the file name: by file name. */
static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a + 1, *(const char *const *)b + 1);
}

/* The drop-ins, as systemd reads them: *.conf of every directory sorted
 * by file name, a name in an earlier directory hiding the later ones. */
static int remove_ipc_dropins(int v, char *where, size_t len)
{
	char *names[256];
	size_t n = 0;

	for (size_t d = 0; d < NDIRS; d++) {
		DIR *dir = opendir(logind_dirs[d]);
		struct dirent *e;
		while (dir && (e = readdir(dir)) && n < 256) {
			size_t l = strlen(e->d_name);
			if (l < 6 || strcmp(e->d_name + l - 5, ".conf"))
				continue;
			size_t i = 0;
			while (i < n && strcmp(names[i] + 1, e->d_name))
				i++;
			if (i < n)
				continue; /* hidden by an earlier directory */
			names[n] = malloc(l + 2);
			if (!names[n])
				break;
			names[n][0] = (char)d;
			memcpy(names[n] + 1, e->d_name, l + 1);
			n++;
		}
		if (dir)
			closedir(dir);
	}
	qsort(names, n, sizeof(names[0]), by_name);
	for (size_t i = 0; i < n; i++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/%s",
		         logind_dirs[(int)names[i][0]], names[i] + 1);
		v = remove_ipc_in(path, v, where, len);
		free(names[i]);
	}
	return v;
}

/* RemoveIPC= as logind reads it: 1, 0, or -1 (not set: its default, yes);
 * where says the file and line that set it. */
static int remove_ipc_setting(char *where, size_t len)
{
	static const char *const mains[] = {
		"/etc/systemd/logind.conf", "/run/systemd/logind.conf",
		"/usr/local/lib/systemd/logind.conf",
		"/usr/lib/systemd/logind.conf",
	};
	int v = -1;

	snprintf(where, len, "default");
	for (size_t i = 0; i < sizeof(mains) / sizeof(mains[0]); i++)
		if (access(mains[i], F_OK) == 0) {
			v = remove_ipc_in(mains[i], v, where, len);
			break; /* only the first main file is read */
		}
	return remove_ipc_dropins(v, where, len);
}

/* The highest system uid: SYS_UID_MAX of /etc/login.defs, else 999. */
static uid_t sys_uid_max(void)
{
	char line[256];
	unsigned long v = 999;
	FILE *f = fopen("/etc/login.defs", "re");

	while (f && fgets(line, sizeof(line), f))
		sscanf(line, " SYS_UID_MAX %lu", &v);
	if (f)
		fclose(f);
	return (uid_t)v;
}

static void check_remove_ipc(struct check *c)
{
	char where[700], user[64];
	int v = remove_ipc_setting(where, sizeof(where));
	int on = v != 0; /* logind's default is yes */
	int logind = access("/run/systemd/system", F_OK) == 0 &&
	             access("/run/systemd/seats", F_OK) == 0;
	uid_t uid = geteuid(), max = sys_uid_max();
	int regular = uid > max;

	why(c, "systemd-logind with RemoveIPC=yes removes every System V "
	    "object and every file in /dev/shm that a regular user (uid above "
	    "SYS_UID_MAX) owns when that user's last session ends: channels "
	    "vanish under running processes of a user that logs out");
	fact_bool(c, "remove_ipc", on);
	fact_bool(c, "logind_running", logind);
	fact_u64(c, "uid", uid, 1);
	fact_bool(c, "applies_to_uid", logind && on && regular);
	found(c, "RemoveIPC=%s (%s); systemd-logind %s; uid %u (%s) is a %s "
	      "(SYS_UID_MAX %u)", on ? "yes" : "no", where,
	      logind ? "runs" : "does not run here (no /run/systemd/system)",
	      (unsigned)uid, cli_user(uid, user, sizeof(user)),
	      regular ? "regular user, whom RemoveIPC hits"
	              : "system user, whom RemoveIPC spares",
	      (unsigned)max);
	if (!logind || !on || !regular)
		return;
	verdict(c, ST_WARN);
	fix(c, "printf '[Login]\\nRemoveIPC=no\\n' > "
	    "/etc/systemd/logind.conf.d/shmq.conf && systemctl restart "
	    "systemd-logind; or run the processes as a system user (useradd "
	    "--system), or keep the user's manager up: loginctl enable-linger "
	    "%s", user);
}

/* ---- System V limits, memory --------------------------------------------- */

static void check_sysv(struct check *c)
{
	struct shmq_limits l;
	struct shm_info info;
	char b[32];
	int used = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);

	why(c, "a System V segment (sysv: locators, the pool of a samples "
	    "channel) needs a free id below kernel.shmmni, its size within "
	    "kernel.shmmax, and room in kernel.shmall (pages, all segments "
	    "together)");
	if (shmq_limits_get(&l) < 0) {
		verdict(c, ST_WARN);
		found(c, "kernel.shm* ? (/proc/sys/kernel unreadable)");
		fix(c, "mount /proc (sysctl kernel.shmmni shows the limits)");
		return;
	}
	uint64_t ids = used >= 0 ? (uint64_t)info.used_ids : 0;
	uint64_t pages = used >= 0 ? (uint64_t)info.shm_tot : 0;
	fact_u64(c, "shmmax", l.shmmax, 1);
	fact_u64(c, "shmall", l.shmall, 1);
	fact_u64(c, "shmmni", l.shmmni, 1);
	fact_u64(c, "segments", ids, used >= 0);
	fact_u64(c, "pages", pages, used >= 0);
	found(c, "kernel.shmmax %s, shmall %" PRIu64 " pages, shmmni %" PRIu64
	      "; in use: ", bytes(l.shmmax, b, sizeof(b)), l.shmall, l.shmmni);
	if (used < 0)
		found(c, "? (shmctl SHM_INFO: %s)", strerror(errno));
	else
		found(c, "%" PRIu64 " segments, %" PRIu64 " pages", ids, pages);
	if (used >= 0 && (ids >= l.shmmni || pages >= l.shmall)) {
		verdict(c, ST_FAIL);
		found(c, ": full, no new segment can be made");
	} else if (used >= 0 && (ids * 10 >= l.shmmni * 9 ||
	                         pages * 10 >= l.shmall * 9)) {
		verdict(c, ST_WARN);
		found(c, ": nearly full");
	} else if (l.shmmni < 128 || l.shmmax < 64 * MIB) {
		verdict(c, ST_WARN);
		found(c, ": limits far below the kernel's defaults (shmmni "
		      "4096, shmmax and shmall unlimited)");
	}
	if (c->status == ST_OK)
		return;
	fix(c, "remove leftovers: shmq rm --orphans (shmq ls lists them); "
	    "raise the limits: sysctl -w kernel.shmmni=4096 "
	    "kernel.shmmax=18446744073692774399 "
	    "kernel.shmall=18446744073692774399 (persist in "
	    "/etc/sysctl.d/; in a container: docker run --sysctl "
	    "kernel.shmmni=4096)");
}

static void check_overcommit(struct check *c)
{
	uint64_t mode, ratio = 0, limit = 0, committed = 0;
	int known = read_u64("/proc/sys/vm/overcommit_memory", &mode) == 0;
	char a[32], b[32];

	why(c, "with strict overcommit (2) every page written to shared "
	    "memory is charged to CommitLimit: past it a create fails with "
	    "ENOMEM and a write to a fresh page of a segment raises SIGBUS, "
	    "with memory still free");
	fact_u64(c, "overcommit_memory", mode, known);
	if (!known) {
		verdict(c, ST_WARN);
		found(c, "vm.overcommit_memory ? (unreadable)");
		fix(c, "mount /proc (sysctl vm.overcommit_memory shows it)");
		return;
	}
	found(c, "vm.overcommit_memory %" PRIu64 " (%s)", mode,
	      mode == 0 ? "heuristic" : mode == 1 ? "always" : "strict");
	if (mode != 2)
		return;
	verdict(c, ST_WARN);
	read_u64("/proc/sys/vm/overcommit_ratio", &ratio);
	meminfo("CommitLimit", &limit);
	meminfo("Committed_AS", &committed);
	found(c, ": CommitLimit %s, committed %s (vm.overcommit_ratio %"
	      PRIu64 "%%)", bytes(limit, a, sizeof(a)),
	      bytes(committed, b, sizeof(b)), ratio);
	fix(c, "sysctl -w vm.overcommit_memory=0, or raise "
	    "vm.overcommit_ratio (or vm.overcommit_kbytes)");
}

static void check_memory(struct check *c)
{
	uint64_t avail, total;
	int ka = meminfo("MemAvailable", &avail) == 0;
	int kt = meminfo("MemTotal", &total) == 0;
	char a[32], t[32];

	why(c, "shared memory is memory: a channel's pages are taken when "
	    "written, and when none are left the kernel swaps or its OOM "
	    "killer ends a process");
	fact_u64(c, "mem_available", avail, ka);
	fact_u64(c, "mem_total", total, kt);
	if (!ka || !kt) {
		verdict(c, ST_WARN);
		found(c, "MemAvailable ? (/proc/meminfo unreadable)");
		fix(c, "mount /proc");
		return;
	}
	found(c, "MemAvailable %s of %s", bytes(avail, a, sizeof(a)),
	      bytes(total, t, sizeof(t)));
	if (avail >= 256 * MIB && avail >= total / 20)
		return;
	verdict(c, ST_WARN);
	found(c, ": little left");
	fix(c, "free memory (stop processes, remove leftovers: shmq rm "
	    "--stale, shmq rm --orphans), or make smaller channels "
	    "(--capacity)");
}

/* How this user may make System V huge pages, in buf. */
static const char *sysv_huge_right(uint64_t group, int gknown, char *buf,
                                   size_t len)
{
	gid_t gs[256];
	int n = getgroups(256, gs), in = gknown && getegid() == (gid_t)group;

	for (int i = 0; i < n && gknown; i++)
		in |= gs[i] == (gid_t)group;
	if (has_cap(14) == 1) /* CAP_IPC_LOCK */
		snprintf(buf, len, "allowed (CAP_IPC_LOCK)");
	else if (in)
		snprintf(buf, len, "allowed (in group %" PRIu64 ", "
		         "vm.hugetlb_shm_group)", group);
	else
		snprintf(buf, len, "only within RLIMIT_MEMLOCK (no "
		         "CAP_IPC_LOCK, not in vm.hugetlb_shm_group %s)",
		         gknown ? "" : "?");
	return buf;
}

static void check_huge(struct check *c)
{
	uint64_t total = 0, nfree = 0, rsvd = 0, size = 0, over = 0, group = 0;
	int known = meminfo("HugePages_Total", &total) == 0 &&
	            meminfo("HugePages_Free", &nfree) == 0 &&
	            meminfo("HugePages_Rsvd", &rsvd) == 0 &&
	            meminfo("Hugepagesize", &size) == 0;
	int gknown = read_u64("/proc/sys/vm/hugetlb_shm_group", &group) == 0;
	char s[32], right[160];
	struct shmq_limits l;

	int oknown = read_u64("/proc/sys/vm/nr_overcommit_hugepages",
	                      &over) == 0;
	why(c, "--huge 2M (create, a samples channel's pool) takes huge "
	    "pages from the kernel's reserve: none free and the create "
	    "fails (ENOHUGE); System V huge pages also need CAP_IPC_LOCK, "
	    "the group vm.hugetlb_shm_group, or RLIMIT_MEMLOCK");
	fact_u64(c, "total", total, known);
	fact_u64(c, "free", nfree, known);
	fact_u64(c, "reserved", rsvd, known);
	fact_u64(c, "page_size", size, known);
	fact_u64(c, "overcommit", over, oknown);
	fact_u64(c, "hugetlb_shm_group", group, gknown);
	if (!known) {
		verdict(c, ST_WARN);
		found(c, "huge pages ? (no HugePages_ lines in /proc/meminfo)");
		fix(c, "a kernel with CONFIG_HUGETLBFS; until then do not use "
		    "--huge");
		return;
	}
	uint64_t usable = nfree > rsvd ? nfree - rsvd : 0;
	fact_u64(c, "usable", usable, 1);
	found(c, "%s pages: %" PRIu64 " reserved, %" PRIu64 " free, %" PRIu64
	      " of them promised to segments (HugePages_Rsvd)",
	      bytes(size, s, sizeof(s)), total, nfree, rsvd);
	if (over)
		found(c, ", up to %" PRIu64 " more on demand", over);
	if (shmq_limits_get(&l) == 0 && l.huge_1g_free)
		found(c, "; 1 GiB pages: %" PRIu64 " free", l.huge_1g_free);
	found(c, "; System V huge pages for uid %u: %s", (unsigned)geteuid(),
	      sysv_huge_right(group, gknown, right, sizeof(right)));
	if (usable || over)
		return;
	verdict(c, ST_WARN);
	fix(c, "only if you use --huge: sysctl -w vm.nr_hugepages=N (N pages "
	    "of %s; persist in /etc/sysctl.d/), and for System V huge pages "
	    "without root: sysctl -w vm.hugetlb_shm_group=GID of the users' "
	    "group", s);
}

/* "unlimited" or the number, with a unit for bytes. */
static const char *rlim_text(rlim_t v, int is_bytes, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else if (is_bytes)
		bytes((uint64_t)v, buf, len);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/* A limit getrlimit() read into *r (rc its result): its facts and "NAME
 * soft S, hard H" (in bytes or a count); -1 and a warning ("NAME ?", fix:
 * the shell's ulimit flag) when it could not be read. */
static int rlimit_found(struct check *c, const char *name, int is_bytes,
                        int rc, const struct rlimit *r)
{
	char s[32], h[32];

	if (rc < 0) {
		verdict(c, ST_WARN);
		found(c, "%s ?", name);
		fix(c, "ulimit -%c shows it", is_bytes ? 'l' : 'n');
		return -1;
	}
	/* null: unlimited, as JSON has no infinity */
	fact_u64(c, "soft", r->rlim_cur, r->rlim_cur != RLIM_INFINITY);
	fact_u64(c, "hard", r->rlim_max, r->rlim_max != RLIM_INFINITY);
	found(c, "%s soft %s, hard %s", name,
	      rlim_text(r->rlim_cur, is_bytes, s, sizeof(s)),
	      rlim_text(r->rlim_max, is_bytes, h, sizeof(h)));
	return 0;
}

static void check_memlock(struct check *c)
{
	struct rlimit r;

	why(c, "shmq locks no memory itself; a System V huge page segment "
	    "made without CAP_IPC_LOCK or the group vm.hugetlb_shm_group is "
	    "charged to RLIMIT_MEMLOCK, and fails (EPERM) past it");
	if (rlimit_found(c, "RLIMIT_MEMLOCK", 1,
	                 getrlimit(RLIMIT_MEMLOCK, &r), &r) < 0 ||
	    r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= 2 * MIB ||
	    has_cap(14) == 1)
		return;
	verdict(c, ST_WARN);
	found(c, ": below one 2 MiB huge page");
	fix(c, "only for System V --huge without CAP_IPC_LOCK: ulimit -l "
	    "unlimited (systemd: LimitMEMLOCK=infinity; docker run --ulimit "
	    "memlock=-1), or sysctl -w vm.hugetlb_shm_group=GID");
}

static void check_nofile(struct check *c)
{
	struct rlimit r;

	why(c, "every open channel, segment, board and received memfd holds "
	    "a file descriptor (a samples channel two): a process with many "
	    "of them gets EMFILE past RLIMIT_NOFILE");
	if (rlimit_found(c, "RLIMIT_NOFILE", 0,
	                 getrlimit(RLIMIT_NOFILE, &r), &r) < 0 ||
	    r.rlim_cur >= 1024)
		return;
	verdict(c, ST_WARN);
	fix(c, "ulimit -n 65536 (systemd: LimitNOFILE=65536; docker run "
	    "--ulimit nofile=65536:65536)");
}

static void check_hidepid(struct check *c)
{
	struct mnt m;
	char v[32], g[32];
	const char *hide, *gid;

	why(c, "shmq sees its peers through /proc/PID: who maps a POSIX "
	    "object (its attach count, orphan) and what a peer's process is; "
	    "for a user from whom /proc hides processes, counts are unknown "
	    "(?), no object is an orphan (shmq rm --orphans removes none) and "
	    "a hidden peer's process cannot be named");
	mount_at("/proc", &m);
	if (!m.found) {
		verdict(c, ST_FAIL);
		found(c, "/proc is not mounted");
		fact_str(c, "hidepid", NULL);
		fix(c, "mount -t proc proc /proc");
		return;
	}
	hide = mount_opt(m.opts, "hidepid", v, sizeof(v));
	gid = mount_opt(m.opts, "gid", g, sizeof(g));
	fact_str(c, "hidepid", hide ? hide : "0");
	fact_str(c, "gid", gid);
	if (!hide || !strcmp(hide, "0") || !strcmp(hide, "off")) {
		found(c, "/proc shows every process (no hidepid)");
		return;
	}
	/* Linux 5.8 and later name the levels: 1, 2 and 4. */
	const char *num = !strcmp(hide, "noaccess") ? " (1)"
	                  : !strcmp(hide, "invisible") ? " (2)"
	                  : !strcmp(hide, "ptraceable") ? " (4)" : "";
	verdict(c, ST_WARN);
	found(c, "/proc is mounted with hidepid=%s%s%s%s: other users' "
	      "processes are %s", hide, num, gid ? ", gid=" : "",
	      gid ? gid : "", !strcmp(hide, "1") || !strcmp(hide, "noaccess")
	      ? "listed but unreadable" : "hidden");
	found(c, has_cap(19) == 1 ? " (not from uid %u, which has "
	      "CAP_SYS_PTRACE)" : " from uid %u", (unsigned)geteuid());
	fix(c, "mount -o remount,hidepid=0 /proc, or put the users that run "
	    "shmq in a group and mount -o remount,hidepid=%s,gid=GROUP /proc "
	    "(systemd units: ProtectProc=default)", hide);
}

/* ---- Kernel features, each tried ----------------------------------------- */

static void check_futex(struct check *c)
{
	uint32_t word = 0;
	long rc = syscall(SYS_futex, &word, FUTEX_WAIT_BITSET, 1u, NULL, NULL,
	                  FUTEX_BITSET_MATCH_ANY);
	int ok = rc < 0 && errno == EAGAIN; /* 0 != 1: returns at once */

	why(c, "every blocking wait of a channel, board, mutex or semaphore "
	    "sleeps on a shared futex (FUTEX_WAIT_BITSET, Linux 2.6.25)");
	fact_bool(c, "works", ok);
	if (ok) {
		found(c, "shared FUTEX_WAIT_BITSET works");
		return;
	}
	verdict(c, ST_FAIL);
	found(c, "FUTEX_WAIT_BITSET fails: %s", rc < 0 ? strerror(errno)
	                                               : "it slept");
	fix(c, "a seccomp profile that allows futex (docker run "
	    "--security-opt seccomp=...), or a newer kernel");
}

/* A memfd for the probes (sealable), or -1 with the reason in *err. */
static int probe_memfd(int *err)
{
	int fd = memfd_create("shmq-doctor", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	*err = fd < 0 ? errno : 0;
	if (fd >= 0 && ftruncate(fd, 4096) < 0) {
		*err = errno;
		close(fd);
		fd = -1;
	}
	return fd;
}

static void check_memfd(struct check *c)
{
	int err, fd = probe_memfd(&err);
	int seals = 0, future = 0;

	why(c, "memfd: locators, send --serve and passing a channel over a "
	    "socket make memfds; their size is sealed so that a peer cannot "
	    "shrink them under a reader (F_SEAL_SHRINK, F_SEAL_GROW), and a "
	    "read-only hand-over seals writes (F_SEAL_FUTURE_WRITE, Linux 5.1)");
	if (fd >= 0) {
		seals = fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0;
		future = fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0;
		close(fd);
	}
	fact_bool(c, "memfd", fd >= 0);
	fact_bool(c, "seals", seals);
	fact_bool(c, "future_write", future);
	if (fd < 0) {
		verdict(c, ST_FAIL);
		found(c, "memfd_create fails: %s", strerror(err));
		fix(c, "a seccomp profile that allows memfd_create, or Linux "
		    ">= 3.17; until then use posix: or sysv: locators");
		return;
	}
	found(c, "memfd_create works; size seals %s; F_SEAL_FUTURE_WRITE %s",
	      seals ? "work" : "fail", future ? "works" : "fails");
	if (!seals) {
		verdict(c, ST_FAIL);
		fix(c, "Linux >= 3.17; until then use posix: or sysv: locators");
	} else if (!future) {
		verdict(c, ST_WARN);
		fix(c, "Linux >= 5.1 to hand a memfd over read-only");
	}
}

static void check_ofd(struct check *c)
{
	int err, fd = probe_memfd(&err), other = -1, ok = 0, conflict = 0;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
	                    .l_start = 0, .l_len = 1 };
	char path[64];

	why(c, "a channel tells a dead peer from a live one by an OFD lock "
	    "each peer holds on a byte of the channel (F_OFD_SETLK, Linux "
	    "3.15): the kernel drops it when the process dies");
	if (fd >= 0) {
		ok = fcntl(fd, F_OFD_SETLK, &fl) == 0;
		err = ok ? 0 : errno;
		/* A second open file description must see the lock. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		other = ok ? open(path, O_RDWR | O_CLOEXEC) : -1;
		if (other >= 0) {
			struct flock q = fl;
			conflict = fcntl(other, F_OFD_GETLK, &q) == 0 &&
			           q.l_type != F_UNLCK;
			close(other);
		}
		close(fd);
	}
	fact_bool(c, "works", ok);
	fact_bool(c, "seen_by_another_open", other >= 0 ? conflict : -1);
	if (ok && (conflict || other < 0)) {
		found(c, "F_OFD_SETLK works%s", other < 0 ? " (whether another "
		      "open file sees it: ?)" : ", and another open file sees "
		      "the lock");
		return;
	}
	verdict(c, ST_FAIL);
	if (!ok)
		found(c, "F_OFD_SETLK fails: %s", strerror(err));
	else
		found(c, "an OFD lock is not seen by another open file");
	fix(c, "Linux >= 3.15 (channels cannot open without OFD locks)");
}

static void check_membarrier(struct check *c)
{
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	int has = q >= 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	          (q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
	int reg = has && syscall(SYS_membarrier,
	                         MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
	                         0, 0) == 0;

	why(c, "with membarrier (MEMBARRIER_CMD_GLOBAL_EXPEDITED, Linux "
	    "4.16) a writer checks for sleeping readers without a full fence "
	    "per message; without it shmq uses the fence: correct, slower");
	fact_bool(c, "query", q >= 0);
	fact_bool(c, "global_expedited", reg);
	if (reg) {
		found(c, "membarrier GLOBAL_EXPEDITED registers");
		return;
	}
	verdict(c, ST_WARN);
	found(c, "membarrier %s", q < 0 ? strerror(errno)
	      : !has ? "has no GLOBAL_EXPEDITED" : "registration refused");
	fix(c, "Linux >= 4.16, and a seccomp profile that allows membarrier");
}

/* ---- Leftovers ----------------------------------------------------------- */

struct leftovers {
	uint64_t stale, orphans;
	char names[512];
};

/* What shmq rm --stale and --orphans would pick (the same flags). */
static int count_leftover(const struct shmq_stat *st, void *arg)
{
	struct leftovers *l = arg;
	int sysv_orphan = st->family == SHMQ_FAMILY_SYSV && st->orphan;
	char name[SHMQ_LOCATOR_MAX];

	if (!st->stale && !sysv_orphan)
		return 0;
	if (st->stale)
		l->stale++;
	else
		l->orphans++;
	if (l->stale + l->orphans <= 4) {
		snprintf(name, sizeof(name), "%s", st->locator);
		size_t at = strlen(l->names);
		snprintf(l->names + at, sizeof(l->names) - at, "%s%s (%s)",
		         at ? ", " : "", cli_scrub(name),
		         st->stale ? "stale" : "orphan");
	}
	return 0;
}

static void check_leftovers(struct check *c)
{
	struct leftovers l = { 0, 0, "" };
	int n = shmq_list(0, count_leftover, &l);
	char why_not[512];

	why(c, "a channel whose every process died (stale) and a System V "
	    "segment nobody attaches whose creator died (orphan) hold memory "
	    "and names until removed: /dev/shm and kernel.shmmni fill up");
	fact_u64(c, "stale", l.stale, n >= 0);
	fact_u64(c, "orphans", l.orphans, n >= 0);
	if (n < 0) {
		verdict(c, ST_WARN);
		found(c, "? (%s)", cli_explain(n, NULL, 0, why_not,
		                               sizeof(why_not)));
		fix(c, "run as a user who may read /proc and /dev/shm "
		    "(shmq ls)");
		return;
	}
	found(c, "%d object%s; %" PRIu64 " stale, %" PRIu64 " orphan System V "
	      "segments", n, n == 1 ? "" : "s", l.stale, l.orphans);
	if (!l.stale && !l.orphans)
		return;
	verdict(c, ST_WARN);
	found(c, ": %s%s", l.names, l.stale + l.orphans > 4 ? ", ..." : "");
	fix(c, "%s%s%s (--dry-run first shows what goes)",
	    l.stale ? "shmq rm --stale" : "", l.stale && l.orphans ? "; " : "",
	    l.orphans ? "shmq rm --orphans" : "");
}

/* ---- Output -------------------------------------------------------------- */

/* Prints text after label, wrapped at 79 columns, continued under it. */
static void wrapped(const char *label, const char *text)
{
	const int indent = 6, width = 79;
	int col = printf("%*s%s", indent, "", label);
	const char *p = text;

	while (*p) {
		size_t w = strcspn(p, " ");
		if (col + 1 + (int)w > width && col > indent + (int)strlen(label))
			col = printf("\n%*s", indent + (int)strlen(label), "") - 1;
		else if (p != text)
			col += printf(" ");
		col += printf("%.*s", (int)w, p);
		p += w;
		p += strspn(p, " ");
	}
	putchar('\n');
}

static void print_text(const struct check *v, size_t n)
{
	size_t count[3] = { 0, 0, 0 };

	for (size_t i = 0; i < n; i++) {
		count[v[i].status]++;
		printf("%-5s %s\n", status_name[v[i].status], v[i].name);
		wrapped("found: ", v[i].found);
		wrapped("why: ", v[i].why);
		if (v[i].status != ST_OK)
			wrapped("fix: ", v[i].fix);
	}
	printf("\n%zu checks: %zu ok, %zu warn, %zu fail\n", n, count[ST_OK],
	       count[ST_WARN], count[ST_FAIL]);
}

static void print_json(const struct check *v, size_t n)
{
	fputc('[', stdout);
	for (size_t i = 0; i < n; i++) {
		printf("%s{\"check\": \"%s\", \"status\": \"%s\", \"found\": ",
		       i ? ",\n " : "\n ", v[i].name, status_name[v[i].status]);
		cli_json_str(stdout, v[i].found);
		fputs(", \"why\": ", stdout);
		cli_json_str(stdout, v[i].why);
		fputs(", \"fix\": ", stdout);
		if (v[i].status == ST_OK)
			fputs("null", stdout);
		else
			cli_json_str(stdout, v[i].fix);
		printf(", \"facts\": {%s}}", v[i].facts);
	}
	fputs("\n]\n", stdout);
}

static int run_doctor(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct check v[16];
	char boxbuf[128];
	const char *box = container(boxbuf, sizeof(boxbuf));
	size_t n = 0;
	int json = 0, o, failed = 0;

	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0)
		json = 1;
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 0, ""))
		return CLI_USAGE;
	memset(v, 0, sizeof(v));
#define RUN(nm, call) (v[n].name = nm, call, n++)
	RUN("dev-shm", check_dev_shm(&v[n]));
	RUN("dev-shm-space", check_shm_space(&v[n], box));
	RUN("ipc-namespace", check_ipc_ns(&v[n], box));
	RUN("remove-ipc", check_remove_ipc(&v[n]));
	RUN("sysv-shm-limits", check_sysv(&v[n]));
	RUN("overcommit", check_overcommit(&v[n]));
	RUN("memory", check_memory(&v[n]));
	RUN("huge-pages", check_huge(&v[n]));
	RUN("rlimit-memlock", check_memlock(&v[n]));
	RUN("rlimit-nofile", check_nofile(&v[n]));
	RUN("proc-hidepid", check_hidepid(&v[n]));
	RUN("kernel-futex", check_futex(&v[n]));
	RUN("kernel-ofd-locks", check_ofd(&v[n]));
	RUN("kernel-memfd", check_memfd(&v[n]));
	RUN("kernel-membarrier", check_membarrier(&v[n]));
	RUN("leftovers", check_leftovers(&v[n]));
#undef RUN
	for (size_t i = 0; i < n; i++)
		failed |= v[i].status == ST_FAIL;
	if (json)
		print_json(v, n);
	else
		print_text(v, n);
	return failed ? CLI_ERR : CLI_OK;
}
