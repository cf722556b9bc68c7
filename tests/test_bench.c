/*
 * shmq bench, as a user runs it: the JSON records have exactly their
 * fields with positive numbers, bad options are usage errors, --plot writes
 * SVG, a peer program's rows join ours (or say why not), and a run leaves
 * nothing behind. What a user cannot provoke, a transport that changes,
 * loses or tears a message, goes through bench_run_one with a pipe broken
 * on purpose: the row must fail. Never a timing.
 */
#include "../bench/bench.h"
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHMQ(r, ...) t_shmq((r), NULL, __VA_ARGS__, (char *)NULL)

/* stdin: the JSON. argv: the transports that must all be there and no
 * other, the sizes, the number of records. */
static const char records_py[] =
	"import json, sys\n"
	"a = json.load(sys.stdin)\n"
	"want = set(sys.argv[1].split(','))\n"
	"sizes = {int(s) for s in sys.argv[2].split(',')}\n"
	"keys = {'transport', 'metric', 'msg_size', 'p50_ns', 'p99_ns',\n"
	"        'p999_ns', 'msgs_per_s', 'gbytes_per_s', 'cpu_ns_per_msg',\n"
	"        'ring_ratio', 'writer_cpu_ns_per_msg', 'reads_per_s',\n"
	"        'sets_per_s', 'new_per_read', 'busy_per_read',\n"
	"        'placement_ns', 'placement_after_ns', 'tries', 'rounds',\n"
	"        'spread'}\n"
	"frac = lambda v: type(v) in (int, float) and 0 <= v <= 1\n"
	"ring = {o['msg_size']: o['msgs_per_s'] for o in a\n"
	"        if o['transport'] == 'floor-ring'}\n"
	"num = lambda v: type(v) in (int, float) and v > 0\n"
	"assert type(a) is list, a\n"
	"for o in a:\n"
	"    assert set(o) == keys, o\n"
	"    assert o['transport'] in want and o['msg_size'] in sizes, o\n"
	"    assert o['metric'] in ('rtt', 'throughput', 'reads'), o\n"
	"    rtt = o['metric'] == 'rtt'\n"
	"    reads = o['metric'] == 'reads'\n"
	"    # reads: the age of a new value, if it had room for its time\n"
	"    aged = rtt or reads and o['msg_size'] >= 24\n"
	"    for k in ('p50_ns', 'p99_ns', 'p999_ns'):\n"
	"        assert num(o[k]) if aged else o[k] is None, (k, o)\n"
	"    for k in ('msgs_per_s', 'gbytes_per_s'):\n"
	"        assert o[k] is None if rtt or reads else num(o[k]), (k, o)\n"
	"    for k in ('reads_per_s', 'sets_per_s'):\n"
	"        assert num(o[k]) if reads else o[k] is None, (k, o)\n"
	"    for k in ('new_per_read', 'busy_per_read'):\n"
	"        assert frac(o[k]) if reads else o[k] is None, (k, o)\n"
	"    assert num(o['cpu_ns_per_msg']), o\n"
	"    w = o['writer_cpu_ns_per_msg']\n"
	"    solo = o['transport'] in ('memcpy', 'floor-checks')\n"
	"    assert w is None if rtt or reads or solo else num(w), o\n"
	"    r = o['ring_ratio']\n"
	"    if rtt or reads or o['msg_size'] not in ring:\n"
	"        assert r is None, o\n"
	"    else:\n"
	"        want_r = o['msgs_per_s'] / ring[o['msg_size']]\n"
	"        assert abs(r - want_r) <= 1e-3 * want_r, (r, want_r, o)\n"
	"    assert not aged or o['p50_ns'] <= o['p99_ns'] <= o['p999_ns'], o\n"
	"    # the placement probes: both or neither (not pinned, a peer)\n"
	"    pl = (o['placement_ns'], o['placement_after_ns'])\n"
	"    assert all(map(num, pl)) or pl == (None, None), o\n"
	"    assert o['tries'] in (1, 2, 3) or o['tries'] is None, o\n"
	"    n = o['rounds']\n"
	"    assert n is None or type(n) is int and 1 <= n <= 9, o\n"
	"    sp = o['spread']\n"
	"    assert sp is None if (n or 1) < 2 else sp >= 0, o\n"
	"    if len(sys.argv) > 4:\n"
	"        assert num(o['placement_ns']) and o['tries'], o\n"
	"    if len(sys.argv) > 5:\n"
	"        assert n == int(sys.argv[5]), o\n"
	"assert {o['transport'] for o in a} == want, a\n"
	"rows = {(o['transport'], o['metric'], o['msg_size']) for o in a}\n"
	"assert len(rows) == len(a) == int(sys.argv[3]), (len(rows), len(a))\n";

static void need_python(void)
{
	if (!t_have_program("python3"))
		t_skip_dep("python3", "cannot parse the JSON");
}

/* The tool ran and printed records as records_py wants them. */
static void check_records(const struct t_run *r, const char *transports,
                          const char *sizes, const char *count)
{
	struct t_run py;

	if (r->status != 0)
		t_fail(__FILE__, __LINE__, "status == 0", "status %d: %s",
		       r->status, r->err);
	t_python(&py, r->out, records_py, transports, sizes, count,
	         (char *)NULL);
}

/* Nothing named shmq-bench-PID-... in /dev/shm for a PID that is gone. */
static void check_nothing_left(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int pid;

	CHECK(d != NULL);
	while ((e = readdir(d)))
		if (sscanf(e->d_name, "shmq-bench-%d-", &pid) == 1 &&
		    kill(pid, 0) != 0)
			t_fail(__FILE__, __LINE__, "nothing left",
			       "/dev/shm/%s outlived its run", e->d_name);
	closedir(d);
}

TEST(bench_quick_floors_give_every_field_positive)
{
	struct t_run r;

	need_python();
	SHMQ(&r, "bench", "--quick", "--only", "floor", "--json",
	     "--duration", "0.1");
	/* 4 round-trip floors, memcpy, the harness alone and the two plain
	 * rings, at 64 B and 64 KiB; /ring is checked against floor-ring */
	check_records(&r, "floor-spin,floor-spin-ref,floor-futex,"
	              "floor-spin-futex,memcpy,floor-checks,floor-ring,"
	              "floor-ring-batch", "64,65536", "16");
}

TEST(bench_spsc_rows_check_out_and_leave_nothing_behind)
{
	struct t_run r;

	need_python();
	SHMQ(&r, "bench", "--quick", "--only", "shmq-spsc", "--json",
	     "--duration", "0.1", "--cpus", "auto");
	/* the epoll rows: the reader in an epoll loop on shmq_chan_fd; the
	 * batch row: throughput only */
	check_records(&r, "shmq-spsc,shmq-spsc-batch,shmq-spsc-blocking,"
	              "shmq-spsc-epoll,shmq-spsc-epoll-spin,shmq-spsc-zerocopy",
	              "64,65536", "22");
	check_nothing_left();
}

/* Pinned, every row is measured between two placement probes (how far
 * apart the two CPUs are now), and the table says the run's placement;
 * with --rounds, each row is the median of that many. */
TEST(bench_probes_the_placement_around_each_pinned_row)
{
	struct t_run r, py;

	need_python();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		t_skip_dep("a second CPU", "nothing to pin the other side to");
	SHMQ(&r, "bench", "--only", "floor-spi[n],floor-ring", "--sizes", "64",
	     "--json", "--duration", "0.05", "--cpus", "auto");
	if (r.status != 0)
		t_fail(__FILE__, __LINE__, "status == 0", "status %d: %s",
		       r.status, r.err);
	t_python(&py, r.out, records_py, "floor-spin,floor-ring,"
	         "floor-ring-batch", "64", "3", "pinned", (char *)NULL);
	/* rounds: the rows of a size in turn, each the median of its own */
	SHMQ(&r, "bench", "--only", "floor-spi[n],floor-ring", "--sizes", "64",
	     "--json", "--duration", "0.02", "--cpus", "auto", "--rounds",
	     "3");
	t_python(&py, r.out, records_py, "floor-spin,floor-ring,"
	         "floor-ring-batch", "64", "3", "pinned", "3", (char *)NULL);
	SHMQ(&r, "bench", "--only", "floor-spin", "--sizes", "64",
	     "--duration", "0.05", "--cpus", "auto");
	CHECK_HAS(r.out, "placement: a cache line from CPU to CPU and back");
	SHMQ(&r, "bench", "--only", "floor-spin", "--sizes", "64",
	     "--duration", "0.05");
	CHECK(strstr(r.out, "a cache line from CPU to CPU") == NULL);
}

TEST(bench_mpmc_broadcast_and_kernel_rows_run)
{
	struct t_run r;

	need_python();
	SHMQ(&r, "bench", "--only", "shmq-mpmc,shmq-broadcast,pipe,eventfd",
	     "--sizes", "100", "--json", "--duration", "0.05");
	/* eventfd: a round trip of its 8-byte counter, nothing else;
	 * broadcast 1->1 and 1->4 are throughput rows only */
	check_records(&r, "shmq-mpmc,shmq-broadcast,shmq-broadcast-x1,"
	              "shmq-broadcast-x4,pipe,eventfd", "100,8", "9");
	check_nothing_left();
}

/* 8 MiB takes a while under the sanitizers: a 64 MiB pool, 32 messages of
 * warm-up. */
TEST_TIMEOUT(bench_samples_rows_run_at_8m_and_leave_nothing_behind, 90)
{
	struct t_run r;

	need_python();
	SHMQ(&r, "bench", "--only", "shmq-samples", "--sizes", "64,1M",
	     "--json", "--duration", "0.05", "--cpus", "auto");
	/* 1->2 with its round trip, 1->1 and 1->4 throughput only: every
	 * reader checked and summed each sample where it lies */
	check_records(&r, "shmq-samples,shmq-samples-x1,shmq-samples-x4",
	              "64,1048576", "8");
	SHMQ(&r, "bench", "--only", "shmq-samples-x1", "--sizes", "8M",
	     "--json", "--duration", "0.05", "--cpus", "auto");
	check_records(&r, "shmq-samples-x1", "8388608", "1");
	check_nothing_left();
}

TEST(bench_board_rows_run_and_leave_nothing_behind)
{
	struct t_run r;

	need_python();
	char json[64];
	FILE *f;
	size_t n;

	snprintf(json, sizeof(json), "/tmp/shmqt-%d-board.json", (int)getpid());
	SHMQ(&r, "bench", "--only", "shmq-board,board-mutex-struct",
	     "--sizes", "16,100", "--duration", "0.05", "--cpus", "auto",
	     "--json-out", json);
	CHECK_HAS(r.out, "reads, 100 B");
	CHECK_HAS(r.out, "age p50");
	CHECK_HAS(r.out, "new/read");
	/* the records, as if --json had printed them */
	CHECK((f = fopen(json, "r")) != NULL);
	n = fread(r.out, 1, sizeof(r.out) - 1, f);
	fclose(f);
	unlink(json);
	CHECK(n > 0 && n < sizeof(r.out) - 1);
	r.out[n] = '\0';
	/* round trips and reads, no throughput: a board keeps the newest
	 * value, not each one; 16 B values have no room for a time stamp */
	check_records(&r, "shmq-board,board-mutex-struct", "16,100", "8");
	check_nothing_left();
}

TEST(bench_table_names_each_rows_floor_and_ratio_to_pipe)
{
	struct t_run r, py;
	char json[64];

	need_python();
	snprintf(json, sizeof(json), "/tmp/shmqt-%d-bench.json", (int)getpid());
	/* names match as substrings: "floor-spin" would take the others */
	SHMQ(&r, "bench", "--only", "floor-spin-futex,shmq-spsc-zerocopy,pipe",
	     "--sizes", "64", "--duration", "0.05", "--json-out", json);
	CHECK_EQ(r.status, 0);
	CHECK_HAS(r.out, "round trip, 64 B");
	CHECK_HAS(r.out, "throughput, 64 B");
	CHECK_HAS(r.out, "p50/floor");
	CHECK_HAS(r.out, "pipe/p50");
	/* the blocking floor against itself; the busy-wait floor not run */
	CHECK_HAS(r.out, "1.00  floor-spin-futex");
	CHECK_HAS(r.out, "-  floor-spin ");
	CHECK_HAS(r.out, "pipe ");
	t_python(&py, NULL, "import json, sys\n"
	         "a = json.load(open(sys.argv[1]))\n"
	         "assert sorted((o['transport'], o['metric']) for o in a) == [\n"
	         "    ('floor-spin-futex', 'rtt'), ('pipe', 'rtt'),\n"
	         "    ('pipe', 'throughput'), ('shmq-spsc-zerocopy', 'rtt'),\n"
	         "    ('shmq-spsc-zerocopy', 'throughput')], a\n",
	         json, (char *)NULL);
	unlink(json);
}

TEST(bench_bad_options_are_usage_errors)
{
	static const char *const bad[][2] = {
		{"--sizes", "0"}, {"--sizes", "4"}, {"--sizes", "65M"},
		{"--sizes", "64,,x"}, {"--sizes", "-64"},
		{"--duration", "0"}, {"--duration", "-1"}, {"--duration", "x"},
		{"--duration", "nan"}, {"--duration", "1e9"},
		{"--cpus", "0,0"}, {"--cpus", "0"}, {"--cpus", "0,1,2"},
		{"--cpus", "9999,0"}, {"--cpus", "a,b"},
		{"--only", "nosuch"}, {"--only", "floor,,pipe"},
		{"--rounds", "0"}, {"--rounds", "10"}, {"--rounds", "2x"},
	};
	struct t_run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		SHMQ(&r, "bench", bad[i][0], bad[i][1]);
		if (r.status != 2)
			t_fail(__FILE__, __LINE__, "status == 2", "%s %s: "
			       "status %d", bad[i][0], bad[i][1], r.status);
		CHECK_HAS(r.err, "usage: shmq bench");
		CHECK_HAS(r.err, bad[i][0]);
		CHECK_EQ(strlen(r.out), 0);
	}
	SHMQ(&r, "bench", "extra");
	CHECK_EQ(r.status, 2);
	CHECK_HAS(r.err, "unexpected argument 'extra'");
	SHMQ(&r, "bench", "--plot");
	CHECK_EQ(r.status, 2);
	CHECK_HAS(r.err, "needs a value");
}

TEST(bench_unwritable_output_fails_before_running)
{
	struct t_run r;

	SHMQ(&r, "bench", "--only", "floor-spin", "--plot",
	     "/nonexistent/dir/x.svg");
	CHECK_EQ(r.status, 1);
	CHECK_HAS(r.err, "/nonexistent/dir/x.svg");
	CHECK_EQ(strlen(r.out), 0);
}

/* Runs with --plot into path and checks that the file starts as SVG. */
static void make_plot(const char *path)
{
	struct t_run r;
	char head[8] = "";
	FILE *f;

	SHMQ(&r, "bench", "--only", "floor-spin,memcpy", "--sizes", "64,4K",
	     "--duration", "0.05", "--plot", path);
	CHECK_EQ(r.status, 0);
	CHECK((f = fopen(path, "r")) != NULL);
	CHECK(fread(head, 1, 5, f) == 5);
	fclose(f);
	CHECK(!strncmp(head, "<svg", 4) || !strncmp(head, "<?xml", 5));
}

/* The plot parses as XML and names both rows. */
static void check_plot(const char *path)
{
	struct t_run py;
	t_python(&py, NULL, "import sys, xml.etree.ElementTree as E\n"
	         "r = E.parse(sys.argv[1]).getroot()\n"
	         "assert r.tag.endswith('svg'), r.tag\n"
	         "t = ''.join(r.itertext())\n"
	         "assert 'floor-spin' in t and 'memcpy' in t, t\n",
	         path, (char *)NULL);
}

TEST(bench_plot_writes_svg_with_or_without_gnuplot)
{
	const char *path = getenv("PATH");
	char saved[4096], gp[64], own[64];

	snprintf(gp, sizeof(gp), "/tmp/shmqt-%d-gnuplot.svg", (int)getpid());
	snprintf(own, sizeof(own), "/tmp/shmqt-%d-own.svg", (int)getpid());
	make_plot(gp); /* gnuplot if it is installed */
	snprintf(saved, sizeof(saved), "%s", path ? path : "/usr/bin:/bin");
	setenv("PATH", "/nonexistent", 1); /* our own writer */
	make_plot(own);
	setenv("PATH", saved, 1);
	if (t_have_program("python3")) {
		check_plot(gp);
		check_plot(own);
	}
	unlink(gp);
	unlink(own);
	if (!t_have_program("python3"))
		t_skip_dep("python3", "the SVG plots were not parsed as XML");
}

/* ---- Peers -------------------------------------------------------------- */

struct peers {
	char dir[64];
};

static void peer_script(const struct peers *p, const char *name,
                        const char *body)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", p->dir, name);
	CHECK((f = fopen(path, "w")) != NULL);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	CHECK(fclose(f) == 0);
	CHECK(chmod(path, 0700) == 0);
}

static void peers_remove(const struct peers *p)
{
	static const char *const files[] = {"peer-good", "peer-skip",
	                                    "peer-bad", "args"};
	char path[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", p->dir, files[i]);
		unlink(path);
	}
	rmdir(p->dir);
}

TEST(bench_merges_a_peers_rows_and_lists_the_missing_as_skipped)
{
	struct peers p;
	struct t_run r, py;
	char args[256] = "";
	FILE *f;

	need_python();
	snprintf(p.dir, sizeof(p.dir), "/tmp/shmqt-%d-peers", (int)getpid());
	CHECK(mkdir(p.dir, 0700) == 0);
	peer_script(&p, "peer-good",
	            "echo \"$@\" > \"$(dirname \"$0\")/args\"\n"
	            "echo '[{\"transport\": \"good-ipc\", \"metric\": \"rtt\", "
	            "\"msg_size\": 64, \"p50_ns\": 1000, \"p99_ns\": 2000, "
	            "\"p999_ns\": 3000, \"msgs_per_s\": null, "
	            "\"gbytes_per_s\": null, \"cpu_ns_per_msg\": 900.5}]'");
	peer_script(&p, "peer-skip", "echo 'needs libfoo-dev' >&2; exit 77");
	setenv("SHMQ_BENCH_PEERS", p.dir, 1);
	SHMQ(&r, "bench", "--only", "peer", "--sizes", "64", "--duration",
	     "0.05", "--json");
	check_records(&r, "good-ipc", "64", "1");
	/* the missing say so, on stderr as JSON has no room for them */
	CHECK_HAS(r.err, "boost-mq: skipped: not built: make bench-peers");
	CHECK_HAS(r.err, "needs libfoo-dev");
	snprintf(args, sizeof(args), "%s/args", p.dir);
	CHECK((f = fopen(args, "r")) != NULL);
	CHECK(fgets(args, sizeof(args), f) != NULL);
	fclose(f);
	CHECK_HAS(args, "--json --sizes 64 --duration 0.05");

	/* a peer that prints a record without all its fields fails */
	peer_script(&p, "peer-bad", "echo '[{\"transport\": \"bad\", "
	            "\"metric\": \"rtt\"}]'");
	SHMQ(&r, "bench", "--only", "peer", "--sizes", "64", "--duration",
	     "0.05", "--json");
	CHECK_EQ(r.status, 1);
	CHECK_HAS(r.err, "peer-bad printed bad JSON");
	t_python(&py, r.out, "import json, sys\n"
	         "assert [o['transport'] for o in json.load(sys.stdin)] == "
	         "['good-ipc']\n", (char *)NULL);
	peers_remove(&p);
}

/* ---- Broken transports: the row must fail ---------------------------------- */

enum breakage { CHANGE, LOSE, TEAR };

static enum breakage broken_how;

/* A pipe that breaks its 6th message the way broken_how says. */
static int broken_send(struct bench_end *e, const void *msg)
{
	unsigned char copy[64];

	if (e->txn++ != 5)
		return bench_pipe.send(e, msg);
	if (broken_how == LOSE)
		return 0;
	memcpy(copy, msg, sizeof(copy));
	copy[broken_how == CHANGE ? 30 : 60] ^= 1; /* middle; last word */
	return bench_pipe.send(e, copy);
}

/* A short row of t at 64 B. */
static void run_short(const struct bench_transport *t, int metric,
                      struct bench_rec *rec)
{
	struct bench_cfg cfg = {.duration_s = 0.05, .warmup_s = 0.01,
	                        .cpus = {-1, -1}};

	CHECK_EQ(bench_run_one(t, metric, 64, &cfg, rec), 0);
}

static void run_broken(int broken, struct bench_rec *rec)
{
	struct bench_transport t = bench_pipe;

	t.name = "broken-pipe";
	if (broken)
		t.send = broken_send;
	run_short(&t, BENCH_TPUT, rec);
}

TEST(bench_row_fails_when_a_message_changes_is_lost_or_torn)
{
	static const struct {
		enum breakage how;
		const char *why;
	} cases[] = {
		{CHANGE, "checksum mismatch"},
		{LOSE, "lost, repeated or out of order"},
		{TEAR, "is torn"},
	};
	struct bench_rec rec;

	run_broken(0, &rec); /* the control: an intact pipe passes */
	CHECK_EQ(rec.status, BENCH_OK);
	CHECK(rec.msgs_per_s > 0 && rec.gbytes_per_s > 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		broken_how = cases[i].how;
		run_broken(1, &rec);
		CHECK_EQ(rec.status, BENCH_FAILED);
		CHECK_HAS(rec.why, cases[i].why);
	}
}

/* ---- A board that tears, changes or goes back: the reads row must fail ---- */

static enum { B_CHANGE, B_TEAR, B_BACK } board_how;

/* shmq-board's newest value, broken the second time it has moved on from
 * the first one this reader got (the reader has seen a newer one). */
static ssize_t broken_latest(struct bench_end *e, const void **msg)
{
	static unsigned char first[128];
	static size_t have;
	static unsigned newer;
	ssize_t n = bench_shmq_board.latest(e, msg);
	unsigned char *m = (unsigned char *)*msg;

	if (n <= 0 || (size_t)n > sizeof(first))
		return n;
	if (!have) {
		memcpy(first, m, (size_t)n);
		have = (size_t)n;
	} else if (memcmp(first, m, 8) && newer++) {
		if (board_how == B_BACK)
			memcpy(m, first, have);
		else
			m[board_how == B_CHANGE ? 40 : n - 1] ^= 1;
	}
	return n;
}

static void run_board(int broken, struct bench_rec *rec)
{
	struct bench_transport t = bench_shmq_board;

	t.name = "broken-board";
	if (broken)
		t.latest = broken_latest;
	run_short(&t, BENCH_READS, rec);
}

TEST(bench_reads_row_fails_when_a_value_is_torn_changed_or_older)
{
	static const struct {
		int how;
		const char *why;
	} cases[] = {
		{B_CHANGE, "is torn: its bytes are not those its writer set"},
		{B_TEAR, "is torn: its last word does not match its first"},
		{B_BACK, "went back"},
	};
	struct bench_rec rec;

	run_board(0, &rec); /* the control: the board itself passes */
	CHECK_EQ(rec.status, BENCH_OK);
	CHECK(rec.reads_per_s > 0 && rec.sets_per_s > 0 && rec.p50 > 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		board_how = cases[i].how;
		run_board(1, &rec);
		CHECK_EQ(rec.status, BENCH_FAILED);
		CHECK_HAS(rec.why, cases[i].why);
	}
}
