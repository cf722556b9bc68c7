/*
 * shmq doctor: each situation it diagnoses is made for real in namespaces
 * of the test's own (a 64 MiB and a 1 MiB /dev/shm, a private IPC
 * namespace with kernel.shmmni lowered, a stale channel, /proc with
 * hidepid=2, a logind drop-in with RemoveIPC), and each test asserts that
 * the right check turns warn or fail, with the right fix, in the text and
 * the JSON, and the exit status.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The text report has the line "STATUS NAME" for check name. */
static void check_text(const char *out, const char *status, const char *name)
{
	char want[96];
	size_t n;

	n = (size_t)snprintf(want, sizeof(want), "%-5s %s\n", status, name);
	for (const char *p = out; (p = strstr(p, want)); p += n)
		if (p == out || p[-1] == '\n')
			return;
	t_fail(__FILE__, __LINE__, "check_text", "no line \"%-5s %s\" in:\n%s",
	       status, name, out);
}

/* The text report with its wrapped lines joined: a continuation line
 * (indented past its "found: " label) goes back after a space. */
static const char *unwrap(const char *out, char *buf, size_t len)
{
	size_t at = 0;

	for (const char *p = out; *p && at + 1 < len; p++) {
		size_t sp = p[0] == '\n' ? strspn(p + 1, " ") : 0;
		if (sp > 6) {
			buf[at++] = ' ';
			p += sp;
		} else {
			buf[at++] = *p;
		}
	}
	buf[at] = '\0';
	return buf;
}

static char flat[65536];
#define FLAT(r) unwrap((r).out, flat, sizeof(flat))

/* The JSON record of check name (one line of doctor --json). */
static const char *record(const char *out, const char *name, char *buf,
                          size_t len)
{
	char needle[96];

	snprintf(needle, sizeof(needle), "{\"check\": \"%s\", ", name);
	line_with(out, needle, buf, len);
	if (!buf[0])
		t_fail(__FILE__, __LINE__, "record", "no record %s in:\n%s",
		       name, out);
	return buf;
}

/* Runs doctor (into text) and doctor --json (into json), either NULL to
 * save a run; checks the exit status and that check name has status want
 * in both. */
static void doctor(struct t_run *text, struct t_run *json, int status,
                   const char *name, const char *want)
{
	char line[4096], st[64];

	if (text) {
		SHMQ(text, "doctor");
		if (text->status != status)
			t_fail(__FILE__, __LINE__, "doctor exit",
			       "%d != %d:\n%s%s", text->status, status,
			       text->out, text->err);
		CHECK_EQ(strlen(text->err), 0);
		check_text(text->out, want, name);
	}
	if (json) {
		SHMQ(json, "doctor", "--json");
		CHECK_EQ(json->status, status);
		snprintf(st, sizeof(st), "\"status\": \"%s\"", want);
		CHECK_HAS(record(json->out, name, line, sizeof(line)), st);
	}
}

/* Runs doctor --json as uid 65534; checks its exit status and that check
 * name has status want; its record goes to line. */
static void as_nobody(const char *name, int status, const char *want,
                      char *line, size_t len)
{
	static struct t_run r;
	char st[64];

	shmq_as_nobody(&r, "doctor", "--json", (char *)NULL);
	CHECK_EQ(r.status, status);
	snprintf(st, sizeof(st), "\"status\": \"%s\"", want);
	CHECK_HAS(record(r.out, name, line, len), st);
}

/* Mounts what the mount namespace of this test shows at dir. */
static void mount_or_fail(const char *src, const char *dir, const char *type,
                          const char *opts)
{
	if (mount(src, dir, type, 0, opts) != 0)
		t_fail(__FILE__, __LINE__, "mount", "%s on %s (%s): %s", type,
		       dir, opts, strerror(errno));
}

TEST(cli_doctor_64m_dev_shm_warns_with_dockers_default_named)
{
	struct t_run t, j;
	char line[4096];

	private_namespaces(CLONE_NEWNS, "size=64m,mode=1777");
	doctor(&t, &j, 0, "dev-shm-space", "warn");
	check_text(t.out, "ok", "dev-shm");
	CHECK_HAS(FLAT(t), "found: 64 MiB, 64 MiB free (64 MiB is Docker's "
	                   "default --shm-size)");
	CHECK_HAS(FLAT(t), "fix: enlarge it: in Docker start the container "
	                   "with --shm-size=1g");
	record(j.out, "dev-shm-space", line, sizeof(line));
	CHECK_HAS(line, "\"facts\": {\"size\": 67108864, \"free\": 67108864}");
	CHECK_HAS(line, "\"fix\": \"enlarge it: in Docker start the container "
	                "with --shm-size=1g");
	CHECK_HAS(line, "mount -o remount,size=1G /dev/shm");
}

TEST(cli_doctor_1m_dev_shm_fails_and_exits_1)
{
	struct t_run t, j;
	char line[4096];

	private_namespaces(CLONE_NEWNS, "size=1m,mode=1777");
	doctor(&t, &j, 1, "dev-shm-space", "fail");
	CHECK_HAS(FLAT(t), "found: 1 MiB, 1 MiB free: a default channel (1 MiB) "
	                   "hardly fits");
	CHECK_HAS(FLAT(t), "--shm-size=1g");
	CHECK_HAS(t.out, "16 checks: "); /* the summary counts the failure */
	CHECK_HAS(t.out, " warn, 1 fail\n");
	record(j.out, "dev-shm-space", line, sizeof(line));
	CHECK_HAS(line, "\"free\": 1048576");
	CHECK_HAS(line, "--shm-size=1g");
	/* A /dev/shm this user cannot write fails dev-shm too. */
	CHECK_EQ(chmod("/dev/shm", 0755), 0);
	as_nobody("dev-shm", 1, "fail", line, sizeof(line));
	CHECK_HAS(line, "uid 65534 cannot create files in it");
	CHECK_HAS(line, "\"fix\": \"chmod 1777 /dev/shm\"");
	CHECK_HAS(line, "\"writable\": false");
}

/* n System V segments (keys t_key(1..n)) whose creator has exited. */
static void orphans(int n)
{
	struct shmq_seg_opts o = { .size = 4096 };
	char loc[64];
	shmq_seg *seg;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		for (int i = 1; i <= n; i++)
			if (shmq_seg_create(&seg, t_sysv_loc(loc, sizeof(loc),
			                                     i), &o) < 0 ||
			    shmq_seg_close(seg) < 0)
				_exit(1);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), 0);
}

TEST(cli_doctor_private_ipc_namespace_and_full_shmmni)
{
	struct t_run t, j;
	char line[4096];

	private_namespaces(CLONE_NEWIPC, NULL);
	doctor(&t, NULL, 0, "ipc-namespace", "warn");
	CHECK_HAS(FLAT(t), "a private IPC namespace (ipc:[");
	CHECK_HAS(FLAT(t), "fix: run every peer in one IPC namespace: docker run "
	                   "--ipc=host");
	check_text(t.out, "ok", "sysv-shm-limits");

	/* kernel.shmmni is the namespace's own: 2 is low, then full. */
	int fd = open("/proc/sys/kernel/shmmni", O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "2\n", 2), 2);
	close(fd);
	doctor(&t, NULL, 0, "sysv-shm-limits", "warn");
	CHECK_HAS(FLAT(t), "shmmni 2; in use: 0 segments, 0 pages: limits far "
	                   "below the kernel's defaults");
	orphans(2);
	doctor(&t, &j, 1, "sysv-shm-limits", "fail");
	record(j.out, "ipc-namespace", line, sizeof(line));
	CHECK_HAS(line, "\"host_ipc_ns\": false");
	CHECK_HAS(FLAT(t), "in use: 2 segments, 2 pages: full, no new segment "
	                   "can be made");
	record(j.out, "sysv-shm-limits", line, sizeof(line));
	CHECK_HAS(line, "\"fix\": \"remove leftovers: shmq rm --orphans");
	CHECK_HAS(line, "sysctl -w kernel.shmmni=4096");
	CHECK_HAS(line, "\"shmmni\": 2, \"segments\": 2, \"pages\": 2}");
	/* Their creator (the tool) has exited: orphans, named as such. */
	check_text(t.out, "warn", "leftovers");
	record(j.out, "leftovers", line, sizeof(line));
	CHECK_HAS(line, "2 orphan System V segments");
	CHECK_HAS(line, "(orphan)");
	CHECK_HAS(line, "\"fix\": \"shmq rm --orphans (--dry-run first");
	CHECK_HAS(line, "\"stale\": 0, \"orphans\": 2}");
	/* The fix works: after it, both checks are ok again. */
	SHMQ(&t, "rm", "--orphans");
	check_ok(&t);
	doctor(NULL, &j, 0, "leftovers", "ok");
	CHECK_HAS(record(j.out, "sysv-shm-limits", line, sizeof(line)),
	          "\"status\": \"warn\"");
	record(j.out, "leftovers", line, sizeof(line));
	CHECK_HAS(line, "\"fix\": null");
}

/* The writer of a channel, killed while it holds it. */
static void stale_channel(const char *loc)
{
	int go[2];
	char c;
	pid_t pid;

	CHECK_EQ(pipe(go), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(go[0]);
		t_chan_make(loc, SHMQ_CHAN_SPSC, 4096, SHMQ_WRITER, 0);
		if (write(go[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(go[1]);
	CHECK_EQ(read(go[0], &c, 1), 1);
	close(go[0]);
	CHECK_EQ(kill(pid, SIGKILL), 0);
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
}

TEST(cli_doctor_stale_channel_is_a_leftover_until_rm_stale)
{
	struct t_run t, j;
	char loc[96], line[4096], want[160];

	private_namespaces(CLONE_NEWIPC | CLONE_NEWNS, "size=128m,mode=1777");
	doctor(NULL, &j, 0, "leftovers", "ok");
	CHECK_HAS(record(j.out, "dev-shm-space", line, sizeof(line)),
	          "\"status\": \"ok\"");
	stale_channel(t_posix_loc(loc, sizeof(loc), "stale"));
	doctor(&t, &j, 0, "leftovers", "warn");
	snprintf(want, sizeof(want), "1 stale, 0 orphan System V segments: "
	         "%s (stale)", loc);
	CHECK_HAS(FLAT(t), want);
	CHECK_HAS(FLAT(t), "fix: shmq rm --stale (--dry-run first shows what "
	                   "goes)");
	record(j.out, "leftovers", line, sizeof(line));
	CHECK_HAS(line, want);
	CHECK_HAS(line, "\"facts\": {\"stale\": 1, \"orphans\": 0}");
	SHMQ(&t, "rm", "--stale");
	check_ok(&t);
	CHECK_HAS(FLAT(t), loc);
	doctor(NULL, &j, 0, "leftovers", "ok");
	CHECK_HAS(record(j.out, "leftovers", line, sizeof(line)),
	          "\"stale\": 0");
}

TEST(cli_doctor_proc_hidepid_2_warns)
{
	struct t_run t, j;
	struct utsname u;
	char line[4096];
	int major = 0, minor = 0;

	CHECK_EQ(uname(&u), 0);
	sscanf(u.release, "%d.%d", &major, &minor);
	if (major < 5 || (major == 5 && minor < 8))
		t_skip("a /proc with options of its own needs Linux 5.8");
	private_namespaces(CLONE_NEWNS, NULL);
	CHECK_EQ(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	doctor(NULL, &j, 0, "proc-hidepid", "ok");
	mount_or_fail("proc", "/proc", "proc", "hidepid=2");
	doctor(&t, NULL, 0, "proc-hidepid", "warn");
	CHECK_HAS(FLAT(t), "found: /proc is mounted with hidepid=invisible (2): "
	                   "other users' processes are hidden (not from uid 0, "
	                 "which has CAP_SYS_PTRACE)");
	CHECK_HAS(FLAT(t), "fix: mount -o remount,hidepid=0 /proc");
	/* Another user is the one it hides from. */
	as_nobody("proc-hidepid", 0, "warn", line, sizeof(line));
	CHECK_HAS(line, "processes are hidden from uid 65534");
	CHECK_HAS(line, "\"facts\": {\"hidepid\": \"invisible\", \"gid\": "
	                "null}");
	CHECK_HAS(line, "\"fix\": \"mount -o remount,hidepid=0 /proc");
	/* What it warns of, told truthfully: a root process maps the object,
	 * hidden from nobody, whose count is then unknown, not 0 (orphan). */
	struct t_holder h;
	struct t_run r;
	char p[96];
	create(t_posix_loc(p, sizeof(p), "hid"), "4096", "0644");
	t_hold(&h, p, 0);
	shmq_as_nobody(&r, "stat", p, "--json", (char *)NULL);
	CHECK_EQ(r.status, 0);
	CHECK_HAS(r.out, "\"nattch\": null");
	CHECK_HAS(r.out, "\"orphan\": false");
	t_release(&h);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	CHECK(fputs(text, f) >= 0);
	CHECK_EQ(fclose(f), 0);
}

TEST(cli_doctor_logind_remove_ipc_hits_regular_users_only)
{
	struct t_run t;
	char line[4096];

	/* A /run of our own where logind "runs", with its drop-ins. */
	private_namespaces(CLONE_NEWNS, NULL);
	CHECK_EQ(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	mount_or_fail("tmpfs", "/run", "tmpfs", "mode=755");
	CHECK_EQ(mkdir("/run/systemd", 0755), 0);
	CHECK_EQ(mkdir("/run/systemd/system", 0755), 0);
	CHECK_EQ(mkdir("/run/systemd/seats", 0755), 0);
	CHECK_EQ(mkdir("/run/systemd/logind.conf.d", 0755), 0);
	write_text("/run/systemd/logind.conf.d/50-test.conf",
	           "# made by the test\n[Login]\nRemoveIPC = yes\n");
	as_nobody("remove-ipc", 0, "warn", line, sizeof(line));
	CHECK_HAS(line, "RemoveIPC=yes (/run/systemd/logind.conf.d/"
	                "50-test.conf:3); systemd-logind runs; uid 65534");
	CHECK_HAS(line, "regular user, whom RemoveIPC hits");
	CHECK_HAS(line, "\"fix\": \"printf '[Login]\\\\nRemoveIPC=no\\\\n' > "
	                "/etc/systemd/logind.conf.d/shmq.conf");
	CHECK_HAS(line, "\"applies_to_uid\": true");
	/* root is a system user: spared. */
	doctor(&t, NULL, 0, "remove-ipc", "ok");
	CHECK_HAS(FLAT(t), "uid 0 (root) is a system user, whom RemoveIPC spares");
	/* A later drop-in turns it off, for everyone. */
	write_text("/run/systemd/logind.conf.d/60-off.conf",
	           "[Login]\nRemoveIPC=no\n");
	as_nobody("remove-ipc", 0, "ok", line, sizeof(line));
	CHECK_HAS(line, "RemoveIPC=no (/run/systemd/logind.conf.d/"
	                "60-off.conf:2)");
	CHECK_HAS(line, "\"applies_to_uid\": false");
}

TEST(cli_doctor_json_records_have_the_documented_fields)
{
	struct t_run r, py;

	SHMQ(&r, "doctor", "extra");
	check_usage_error(&r, "doctor");
	SHMQ(&r, "doctor", "--json");
	CHECK(r.status == 0 || r.status == 1);
	CHECK_HAS(r.out, "{\"check\": \"kernel-futex\", \"status\": \"ok\"");
	CHECK_HAS(r.out, "{\"check\": \"kernel-ofd-locks\", \"status\": "
	                 "\"ok\"");
	/* Exit 1 exactly when a record fails. */
	CHECK_EQ(r.status, strstr(r.out, "\"status\": \"fail\"") != NULL);
	t_python(&py, r.out,
	         "import json, sys\n"
	         "v = json.load(sys.stdin)\n"
	         "assert len(v) == 16, len(v)\n"
	         "names = [c['check'] for c in v]\n"
	         "assert len(set(names)) == len(names), names\n"
	         "for c in v:\n"
	         "    assert list(c) == ['check', 'status', 'found', 'why',\n"
	         "                       'fix', 'facts'], list(c)\n"
	         "    assert c['status'] in ('ok', 'warn', 'fail'), c\n"
	         "    assert (c['fix'] is None) == (c['status'] == 'ok'), c\n"
	         "    assert c['found'] and c['why'], c\n"
	         "    assert isinstance(c['facts'], dict), c\n"
	         "print('ok')\n", (char *)NULL);
	CHECK_STREQ(py.out, "ok\n");
}
