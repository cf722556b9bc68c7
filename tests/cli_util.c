/* Helpers shared by the tests of the shmq tool (tests/test_cli_*.c). */
#include "cli_util.h"
#include "test.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>


/* Exit 2, the message and the command's usage line on stderr. */
void check_usage_error(const struct t_run *r, const char *cmd)
{
	char want[64];

	snprintf(want, sizeof(want), "usage: shmq %s", cmd);
	CHECK_EQ(r->status, 2);
	CHECK_HAS(r->err, want);
	CHECK_EQ(strlen(r->out), 0);
}

/* Exit 1 and one line on stderr, "shmq: ...", that mentions what. */
void check_error_line(const struct t_run *r, const char *what)
{
	size_t n = strlen(r->err);

	CHECK_EQ(r->status, 1);
	CHECK(strncmp(r->err, "shmq: ", 6) == 0);
	CHECK(n > 0 && strchr(r->err, '\n') == r->err + n - 1);
	CHECK_HAS(r->err, what);
}

/* The same, and nothing on stdout. */
void check_runtime_error(const struct t_run *r, const char *what)
{
	check_error_line(r, what);
	CHECK_EQ(strlen(r->out), 0);
}

void check_ok(const struct t_run *r)
{
	if (r->status != 0)
		t_fail(__FILE__, __LINE__, "status == 0", "status %d, stderr: %s",
		       r->status, r->err);
}

/* Existence, asked of the kernel directly rather than of the library. */
int sysv_exists(int32_t key)
{
	return shmget(key, 0, 0) >= 0 || errno != ENOENT;
}

int posix_exists(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	return access(path, F_OK) == 0;
}

struct shmid_ds sysv_ds(int32_t key)
{
	struct shmid_ds ds;
	int id = shmget(key, 0, 0);

	CHECK(id >= 0);
	CHECK_EQ(shmctl(id, IPC_STAT, &ds), 0);
	return ds;
}

struct stat posix_st(const char *name)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	CHECK_EQ(stat(path, &sb), 0);
	return sb;
}

/* Writes len bytes at off of a POSIX object, through the file. */
void posix_write(const char *name, off_t off, const void *p, size_t len)
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
void sysv_write(int32_t key, size_t off, const void *p, size_t len)
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
const char *line_with(const char *text, const char *needle, char *buf,
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
const char *field(const char *text, const char *name, char *buf,
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
void shmq_as_nobody(struct t_run *r, ...)
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
void private_namespaces(int flags, const char *tmpfs_opts)
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


/* "posix:NAME" -> "NAME" */
const char *bare(const char *posix_loc)
{
	return posix_loc + strlen("posix:");
}

/* Creates through the tool and checks that it worked. */
void create(const char *loc, const char *size, const char *mode)
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
void create_both(char *s, size_t slen, char *p, size_t plen,
                        const char *tag, const char *size, const char *mode)
{
	create(t_sysv_loc(s, slen, 1), size, mode);
	create(t_posix_loc(p, plen, tag), size, mode);
}

/* Whether both objects of create_both() exist, as expected. */
void check_both(const char *p, int exist)
{
	CHECK_EQ(sysv_exists(t_key(1)), exist);
	CHECK_EQ(posix_exists(bare(p)), exist);
}

const char json_fields_py[] =
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
	"         'lrpid': int, 'lspid_alive': bool, 'lrpid_alive': bool,\n"
	"         'huge': bool}\n"
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

/* A semaphore set of 3 (t_key(1), mode 0640), a queue (t_key(2)) holding
 * one 5-byte message, and a POSIX semaphore made by sem_open; their
 * locators go to sl, ml and pl. The handles are closed: the objects stay. */
void make_ipc(char *sl, char *ml, char *pl, size_t len)
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
