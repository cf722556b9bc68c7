/*
 * shmq send --serve PATH and shmq recv --from-socket PATH: a channel handed
 * over a Unix socket, run as a user runs them. What goes in comes out
 * byte for byte, nothing appears in /dev/shm, the socket has the mode
 * asked and goes away at the end (also when a signal stops the server),
 * nothing else at PATH is clobbered, and errors are one clear line.
 */
#include "shmq.h"
#include "test.h"
#include "cli_util.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A server: the tool run with a pipe on stdin and one on stderr. */
struct server {
	pid_t pid;
	int in, err;
	char said[4096]; /* stderr up to its "serving" line, and on */
};

/* Starts `shmq send --serve ...` as uid (0: ourselves) with data on its
 * stdin (kept open if keep), and returns once it serves: its stderr
 * says so, after it listens. */
static void serve(struct server *s, uid_t uid, const char *data, int keep,
                  char *const argv[])
{
	int in[2], err[2];
	size_t n = 0;
	memset(s, 0, sizeof(*s));
	CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	fflush(NULL);
	s->pid = fork();
	CHECK(s->pid >= 0);
	if (s->pid == 0) {
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(126);
		if (dup2(in[0], 0) < 0 || dup2(err[1], 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(err[1]);
	s->in = in[1];
	s->err = err[0];
	CHECK_EQ(write(s->in, data, strlen(data)), (ssize_t)strlen(data));
	if (!keep) {
		close(s->in);
		s->in = -1;
	}
	while (!strstr(s->said, "\n")) {
		ssize_t got = read(s->err, s->said + n, sizeof(s->said) - 1 - n);
		if (got <= 0)
			t_fail(__FILE__, __LINE__, "serve", "exit %d before "
			       "serving: %s", t_wait(s->pid), s->said);
		n += (size_t)got;
		s->said[n] = '\0';
	}
	CHECK_HAS(s->said, "shmq: serving a ");
}

/* Waits for the server's end: its exit status; the rest of its stderr is
 * added to said. */
static int server_end(struct server *s)
{
	size_t n = strlen(s->said);
	ssize_t got;
	if (s->in >= 0)
		close(s->in);
	while ((got = read(s->err, s->said + n, sizeof(s->said) - 1 - n)) > 0)
		n += (size_t)got;
	s->said[n] = '\0';
	close(s->err);
	return t_wait(s->pid);
}

#define TOOL(...) ((char *[]){ (char *)t_shmq_bin(), __VA_ARGS__, NULL })

TEST(cli_pass_serve_hands_stdin_to_recv_from_socket_byte_for_byte)
{
	static const char text[] = "alpha\n\nbeta gamma\nno newline";
	char path[128], before[8192], after[8192];
	struct server s;
	struct t_run r;
	struct stat sb;
	t_shm_names(before, sizeof(before));
	t_sock_path(path, sizeof(path), "serve");
	serve(&s, 0, text, 0, TOOL("send", "--serve", path));
	CHECK_EQ(lstat(path, &sb), 0);
	CHECK(S_ISSOCK(sb.st_mode));
	CHECK_EQ(sb.st_mode & 07777, 0600); /* the default */
	SHMQ(&r, "recv", "--from-socket", path);
	check_ok(&r);
	CHECK_STREQ(r.out, "alpha\n\nbeta gamma\nno newline\n");
	CHECK_EQ(server_end(&s), 0);
	CHECK_EQ(lstat(path, &sb), -1); /* removed at the end */
	t_shm_names(after, sizeof(after));
	CHECK_STREQ(before, after); /* nothing was ever in /dev/shm */
	/* --binary, a broadcast channel: the bytes exactly. */
	serve(&s, 0, text, 0, TOOL("send", "--serve", path, "--binary",
	                           "--kind", "broadcast", "--mode", "0640"));
	CHECK_EQ(lstat(path, &sb), 0);
	CHECK_EQ(sb.st_mode & 07777, 0640);
	SHMQ(&r, "recv", "--from-socket", path, "--binary");
	check_ok(&r);
	CHECK_STREQ(r.out, text);
	CHECK_EQ(server_end(&s), 0);
	CHECK_EQ(lstat(path, &sb), -1);
}

TEST(cli_pass_serve_never_clobbers_a_file_and_removes_its_socket_when_stopped)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	char path[100];
	struct server s;
	struct t_run r;
	struct stat sb;
	t_sock_path(path, sizeof(path), "clobber");
	/* A plain file at PATH: refused, left as it was. */
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("precious", f);
	fclose(f);
	t_shmq(&r, "x\n", "send", "--serve", path, (char *)NULL);
	check_runtime_error(&r, "exists and is not a socket");
	CHECK_EQ(lstat(path, &sb), 0);
	CHECK_EQ(sb.st_size, 8);
	CHECK_EQ(unlink(path), 0);
	/* A socket nobody listens at (a killed server's) is replaced. */
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int dead = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(bind(dead, (struct sockaddr *)&a, sizeof(a)), 0);
	close(dead);
	for (size_t i = 0; i < NELEM(sigs); i++) {
		serve(&s, 0, "kept open\n", 1, TOOL("send", "--serve", path));
		/* A second server at the same socket is refused. */
		t_shmq(&r, "", "send", "--serve", path, (char *)NULL);
		check_runtime_error(&r, "another server listens");
		CHECK_EQ(kill(s.pid, sigs[i]), 0);
		CHECK_EQ(server_end(&s), 128 + sigs[i]);
		CHECK_EQ(lstat(path, &sb), -1);
	}
}

TEST(cli_pass_from_socket_errors_are_one_clear_line)
{
	char path[128];
	struct t_run r;
	t_sock_path(path, sizeof(path), "none");
	SHMQ(&r, "recv", "--from-socket", path);
	check_runtime_error(&r, "no such socket");
	SHMQ(&r, "recv", "--from-socket", path, "--kind", "mpmc");
	check_usage_error(&r, "recv");
	CHECK_HAS(r.err, "comes from the socket");
	SHMQ(&r, "recv", "--from-socket", path, "NAME");
	check_usage_error(&r, "recv");
	SHMQ(&r, "send", "--serve", path, "--persist");
	check_usage_error(&r, "send");
	CHECK_HAS(r.err, "memfd");
}

TEST(cli_pass_from_socket_refuses_a_server_of_another_user)
{
	char path[128];
	struct server s;
	struct t_run r;
	if (geteuid() != 0)
		t_skip("needs root to run a server as uid 65534");
	t_sock_path(path, sizeof(path), "nobody");
	serve(&s, NOBODY, "from nobody\n", 0,
	      TOOL("send", "--serve", path, "--mode", "0666"));
	SHMQ(&r, "recv", "--from-socket", path);
	check_runtime_error(&r, "another user");
	CHECK_HAS(r.err, "--any-owner");
	SHMQ(&r, "recv", "--from-socket", path, "--any-owner");
	check_ok(&r);
	CHECK_STREQ(r.out, "from nobody\n");
	CHECK_EQ(server_end(&s), 0);
}
