/*
 * shmq board: create, set, get by number and by name, watch (a line per
 * change, a clean stop on SIGINT, an error when the board is removed), and
 * what ls, stat and rm say of a board.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"
#include "cli_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void make_board(const char *name)
{
	struct t_run r;
	SHMQ(&r, "board", "create", name, "--entries", "3", "--size", "16");
	check_ok(&r);
}

TEST(cli_board_set_get_by_number_and_name)
{
	struct t_run r;
	char name[64], buf[128];
	t_name(name, sizeof(name), "b");
	make_board(name);
	CHECK_EQ(posix_st(name).st_mode & 0777, 0600);
	SHMQ(&r, "board", "set", name, "2", "hello");
	check_ok(&r);
	SHMQ(&r, "board", "get", name, "2");
	check_ok(&r);
	CHECK_STREQ(r.out, "hello\n");
	SHMQ(&r, "board", "set", name, "price", "42");
	check_ok(&r);
	SHMQ(&r, "board", "set", name, "price", "43");
	check_ok(&r);
	SHMQ(&r, "board", "get", name, "price");
	CHECK_STREQ(r.out, "43\n");
	SHMQ(&r, "board", "get", name, "0"); /* price took entry 0 */
	CHECK_STREQ(r.out, "43\n");
	SHMQ(&r, "ls");
	CHECK_HAS(line_with(r.out, name, buf, sizeof(buf)), "board");
	SHMQ(&r, "stat", name);
	check_ok(&r);
	CHECK_STREQ(field(r.out, "kind", buf, sizeof(buf)), "board");
	CHECK_HAS(field(r.out, "entries", buf, sizeof(buf)), "3");
	CHECK_HAS(field(r.out, "updates", buf, sizeof(buf)), "3");
	SHMQ(&r, "rm", name);
	check_ok(&r);
	CHECK(!posix_exists(name));
}

TEST(cli_board_bad_input_is_explained)
{
	struct t_run r;
	char name[64];
	t_name(name, sizeof(name), "b");
	SHMQ(&r, "board", "create", name, "--entries", "0", "--size", "8");
	check_usage_error(&r, "board");
	SHMQ(&r, "board", "create", name, "--entries", "2");
	check_usage_error(&r, "board");
	SHMQ(&r, "board", "get", name, "0");
	check_runtime_error(&r, name); /* no such board */
	SHMQ(&r, "board", "frob", name);
	check_usage_error(&r, "board");
	make_board(name);
	SHMQ(&r, "board", "create", name, "--entries", "3", "--size", "16");
	check_runtime_error(&r, "exists");
	SHMQ(&r, "board", "get", name, "7");
	check_runtime_error(&r, "entries 0..2");
	SHMQ(&r, "board", "get", name, "nosuch");
	check_runtime_error(&r, "no entry is named 'nosuch'");
	SHMQ(&r, "board", "set", name, "1", "a value longer than 16");
	check_runtime_error(&r, "16 at most");
	SHMQ(&r, "board", "set", name, "a", "1");
	SHMQ(&r, "board", "set", name, "b", "1");
	SHMQ(&r, "board", "set", name, "c", "1");
	SHMQ(&r, "board", "set", name, "d", "1");
	check_runtime_error(&r, "every entry has a name or a value");
	SHMQ(&r, "rm", name);
	/* a plain segment is no board */
	SHMQ(&r, "create", name, "--size", "4096");
	check_ok(&r);
	SHMQ(&r, "board", "get", name, "0");
	check_runtime_error(&r, "not a shmq board");
	SHMQ(&r, "rm", name);
}

/* The watch process: its pid and the read end of its stdout. */
struct watcher {
	pid_t pid;
	FILE *out;
};

static void watch(struct watcher *w, const char *name, const char *key)
{
	int fds[2];
	CHECK_EQ(pipe(fds), 0);
	w->pid = fork();
	CHECK(w->pid >= 0);
	if (w->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(t_shmq_bin(), "shmq", "board", "watch", name, key,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	w->out = fdopen(fds[0], "r");
	CHECK(w->out != NULL);
}

static void next_line(struct watcher *w, const char *want)
{
	char line[256];
	CHECK(fgets(line, sizeof(line), w->out) != NULL);
	CHECK_STREQ(line, want);
}

TEST(cli_board_watch_prints_each_change_and_stops_on_sigint)
{
	struct t_run r;
	char name[64];
	t_name(name, sizeof(name), "b");
	make_board(name);
	SHMQ(&r, "board", "set", name, "price", "1");
	struct watcher w;
	watch(&w, name, NULL);
	next_line(&w, "price 1 1\n"); /* what is there: it is watching */
	SHMQ(&r, "board", "set", name, "price", "2");
	next_line(&w, "price 2 2\n");
	SHMQ(&r, "board", "set", name, "2", "x");
	next_line(&w, "2 1 x\n");
	kill(w.pid, SIGINT);
	CHECK_EQ(t_wait(w.pid), 128 + SIGINT);
	fclose(w.out);
	/* one key: only its changes */
	watch(&w, name, "2");
	next_line(&w, "2 1 x\n");
	SHMQ(&r, "board", "set", name, "price", "3");
	SHMQ(&r, "board", "set", name, "2", "y");
	next_line(&w, "2 2 y\n");
	/* removed under the watch: an error, exit 1 */
	SHMQ(&r, "rm", name);
	check_ok(&r);
	CHECK_EQ(t_wait(w.pid), 1);
	fclose(w.out);
}
