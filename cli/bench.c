/* shmq bench: the benchmark (bench/) on the command line. */
#include "cli.h"

#include "../bench/bench.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run_bench(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_bench = {
	"bench",
	"bench [--quick] [--json] [--only PATTERN] [--sizes LIST] "
	"[--duration SEC] [--rounds N] [--plot FILE.svg] [--cpus A,B|auto] "
	"[--json-out FILE]",
	"Measures the round trip (ping-pong: p50, p99, p99.9, max) and the\n"
	"one-way throughput (messages and GB a second) between processes, and\n"
	"the CPU time both sides spend per message, for:\n"
	"  floor      floor-spin, floor-futex, floor-spin-futex (a cache line\n"
	"             ping-pong: spinning, sleeping in futex, spinning 50 us\n"
	"             then sleeping), floor-spin-ref (as floor-spin, the\n"
	"             bytes in a slot the count's line names: passing by\n"
	"             reference), memcpy (one process copying),\n"
	"             floor-checks (the harness's checks alone), floor-ring\n"
	"             (a plain ring: the floor of one-way throughput) and\n"
	"             floor-ring-batch (publishing every 32: costs latency)\n"
	"  shmq       shmq-spsc (busy-wait), shmq-spsc-batch (busy-wait, the\n"
	"             writer publishing every 32: costs latency, throughput\n"
	"             only), shmq-spsc-blocking (the default spin, then\n"
	"             futex), shmq-spsc-zerocopy (reserve/commit,\n"
	"             peek/release), shmq-mpmc (2 writers x 2 readers),\n"
	"             shmq-broadcast (1 writer -> 2 readers), shmq-samples\n"
	"             (1 -> 2, zero copy: reserve/commit, peek/release);\n"
	"             -x1, -x4 of both: 1 -> 1 and 1 -> 4; round trips 1x1;\n"
	"             shmq-board, board-mutex-struct (a latest-value board\n"
	"             beside a struct under a mutex): round trips, and reads\n"
	"             (a writer sets at full speed, a reader gets in a loop:\n"
	"             reads/s, the fraction new, a new value's age)\n"
	"  kernel     pipe, unix-stream, unix-dgram, tcp (loopback), sysv-mq,\n"
	"             posix-mq, eventfd (round trips of its 8-byte counter)\n"
	"  peer       boost-mq, zmq-ipc, iceoryx: the programs make bench-peers\n"
	"             builds; one not built is listed as skipped\n"
	"Every transport gets the same sizes, CPUs and warm-up; the receiver\n"
	"reads every byte, and every message and the checksums are checked (a\n"
	"mismatch fails the row). The table groups rows by metric and size\n"
	"and gives each row's ratio to its floor, to floor-ring and to pipe\n"
	"in this run. Pinned (--cpus), each row runs between two probes of\n"
	"how far apart the CPUs are (a VM's vCPUs move), and runs again, up\n"
	"to twice, when they are not where they were at the start.\n\n"
	"  --quick          64 B and 64 KiB only, 0.2 s a row: under 30 s\n"
	"  --json           the records as a JSON array: transport, metric\n"
	"                   (rtt, throughput, reads), msg_size, p50_ns,\n"
	"                   p99_ns, p999_ns, msgs_per_s, gbytes_per_s,\n"
	"                   cpu_ns_per_msg, ring_ratio (msgs/s over\n"
	"                   floor-ring's), writer_cpu_ns_per_msg (throughput:\n"
	"                   the writers' own CPU time per message sent),\n"
	"                   reads_per_s, sets_per_s, new_per_read,\n"
	"                   busy_per_read (reads), placement_ns,\n"
	"                   placement_after_ns, tries (pinned: the probes\n"
	"                   around the row's last try, and how many),\n"
	"                   rounds, spread (--rounds: best and worst round\n"
	"                   apart, over the median)\n"
	"  --only PATTERN   transports whose name contains PATTERN or matches\n"
	"                   it as a glob ('shmq-sps[c]': that one alone), or a\n"
	"                   class (floor, shmq, kernel, peer); a comma-separated\n"
	"                   list of those\n"
	"  --sizes LIST     message sizes, e.g. 64,4K,1M: 8 B to 64M (default\n"
	"                   64,4K,64K,1M)\n"
	"  --duration SEC   measured time of each row (default 1, --quick\n"
	"                   0.2), after a warm-up of a quarter of it (and of\n"
	"                   32 messages at least: every page touched)\n"
	"  --rounds N       measure each row N times (1 to 9, default 1), the\n"
	"                   rows of a size in turn, and keep each row's median:\n"
	"                   a VM's host changes under a run, and rows measured\n"
	"                   in turn see the same changes (make bench: 3)\n"
	"  --plot FILE.svg  also draw the results (gnuplot if installed)\n"
	"  --cpus A,B       pin the two sides to CPUs A and B (the 2x2 and\n"
	"                   1->2 rows put their processes on them in turn);\n"
	"                   auto: the first two this process may use\n"
	"  --json-out FILE  also write the JSON records to FILE\n"
	"Exit status 1 when a row failed; the row and stderr say why.\n",
	run_bench,
};

#define MAX_SIZE (64u << 20)
#define PROCEED (-1) /* parse_args: run */

/* --sizes: ascending, without repeats. */
static const char *parse_sizes(const char *text, struct bench_cfg *c)
{
	char item[32];
	c->nsizes = 0;
	while (*text) {
		size_t n = strcspn(text, ","), v, j;
		const char *why;
		snprintf(item, sizeof(item), "%.*s", (int)n, text);
		if ((why = cli_parse_nonzero(item, "it is 0", &v)))
			return why;
		if (v < 8 || v > MAX_SIZE)
			return "each size is 8 to 64M (a message carries its "
			       "sequence number)";
		for (j = 0; j < c->nsizes && c->sizes[j] < v; j++)
			;
		if (j == c->nsizes || c->sizes[j] != v) {
			if (c->nsizes == 16)
				return "at most 16 sizes";
			memmove(c->sizes + j + 1, c->sizes + j,
			        (c->nsizes - j) * sizeof(c->sizes[0]));
			c->sizes[j] = v;
			c->nsizes++;
		}
		text += n + (text[n] == ',');
	}
	return c->nsizes ? NULL : "expected a list such as 64,4K,1M";
}

static const char *parse_duration(const char *text, double *v)
{
	char *end;
	*v = strtod(text, &end);
	if (end == text || *end || !isfinite(*v))
		return "expected seconds, e.g. 0.5";
	if (*v < 0.01 || *v > 3600)
		return "it is 0.01 to 3600 seconds";
	return NULL;
}

/* Two distinct CPUs this process may run on; "auto": the first two (none
 * with only one). */
static const char *parse_cpus(const char *text, int *cpus)
{
	cpu_set_t set;
	char *end;
	if (!strcmp(text, "auto")) {
		int n = 0;
		if (sched_getaffinity(0, sizeof(set), &set) != 0)
			return strerror(errno);
		for (size_t c = 0; c < CPU_SETSIZE && n < 2; c++)
			if (CPU_ISSET(c, &set))
				cpus[n++] = (int)c;
		if (n < 2)
			cpus[0] = cpus[1] = -1;
		return NULL;
	}
	for (int i = 0; i < 2; i++) {
		long v = strtol(text, &end, 10);
		if (end == text || *end != (i ? '\0' : ',') || v < 0 ||
		    v >= CPU_SETSIZE)
			return "expected two CPU numbers, e.g. 0,1";
		cpus[i] = (int)v;
		text = end + 1;
	}
	if (cpus[0] == cpus[1])
		return "the two sides need two different CPUs";
	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    (!CPU_ISSET((size_t)cpus[0], &set) ||
	     !CPU_ISSET((size_t)cpus[1], &set)))
		return "this process may not run there (see taskset -p $$)";
	return NULL;
}

static const char *parse_only(const char *text, char *bad, size_t len)
{
	while (*text) {
		size_t n = strcspn(text, ",");
		snprintf(bad, len, "%.*s", (int)n, text);
		if (!n || !bench_pattern_known(bad))
			return "it matches no transport (shmq bench --help "
			       "lists them)";
		text += n + (text[n] == ',');
	}
	return NULL;
}

static const char *parse_rounds(const char *text, unsigned *v)
{
	char *end;
	long n = strtol(text, &end, 10);
	if (end == text || *end || n < 1 || n > 9)
		return "expected a count from 1 to 9";
	*v = (unsigned)n;
	return NULL;
}

struct args {
	struct bench_cfg cfg;
	int json, sizes_given, duration_given;
	const char *plot, *json_out;
};

static int parse_args(const struct cli_cmd *cmd, int argc, char **argv,
                      struct args *a)
{
	static const struct option opts[] = {
		{"quick", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},
		{"only", required_argument, NULL, 'o'},
		{"sizes", required_argument, NULL, 's'},
		{"duration", required_argument, NULL, 'd'},
		{"rounds", required_argument, NULL, 'r'},
		{"plot", required_argument, NULL, 'p'},
		{"cpus", required_argument, NULL, 'c'},
		{"json-out", required_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench_cfg *c = &a->cfg;
	char bad[64];
	int o, quick = 0;
	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0) {
		const char *why = NULL, *arg = optarg;
		switch (o) {
		case 'q': quick = 1; break;
		case 'j': a->json = 1; break;
		case 'o':
			why = parse_only(optarg, bad, sizeof(bad));
			c->only = optarg;
			arg = bad;
			break;
		case 's': why = parse_sizes(optarg, c); a->sizes_given = 1; break;
		case 'd':
			why = parse_duration(optarg, &c->duration_s);
			a->duration_given = 1;
			break;
		case 'r': why = parse_rounds(optarg, &c->rounds); break;
		case 'p': a->plot = optarg; break;
		case 'c': why = parse_cpus(optarg, c->cpus); break;
		case 'J': a->json_out = optarg; break;
		}
		if (why)
			return cli_usage_error(cmd, "invalid --%s '%s': %s",
			                       o == 'o' ? "only" : o == 's' ? "sizes"
			                       : o == 'd' ? "duration"
			                       : o == 'r' ? "rounds" : "cpus",
			                       arg, why);
	}
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 0, "nothing"))
		return CLI_USAGE;
	if (!a->sizes_given)
		parse_sizes(quick ? "64,64K" : "64,4K,64K,1M", c);
	if (!a->duration_given)
		c->duration_s = quick ? 0.2 : 1.0;
	c->warmup_s = c->duration_s / 4;
	return PROCEED;
}

/* Opens an output file before the run, so that a typo costs no run. */
static int open_out(const char *path, FILE **f)
{
	*f = path ? fopen(path, "w") : NULL;
	if (path && !*f)
		return cli_failf("bench: cannot write %s: %s", path,
		                 strerror(errno));
	return CLI_OK;
}

static int close_out(const char *path, FILE *f)
{
	if (f && (fflush(f) != 0 || ferror(f) | fclose(f)))
		return cli_failf("bench: cannot write %s: %s", path,
		                 strerror(errno));
	return CLI_OK;
}

/* The failed rows on stderr, and with --json the skipped ones too (the
 * table shows them); CLI_ERR if a row failed. */
static int report_rows(const struct bench_results *res, int json)
{
	char s[32], what[96];
	int rc = CLI_OK;
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_rec *r = &res->rec[i];
		if (r->status == BENCH_OK ||
		    (r->status == BENCH_SKIPPED && !json))
			continue;
		if (r->group) /* else a peer that did not run */
			snprintf(what, sizeof(what), "%s %s %s", r->transport,
			         bench_metric_name(r->metric),
			         bench_size_str(r->msg_size, s, sizeof(s)));
		else
			snprintf(what, sizeof(what), "%s", r->transport);
		if (r->status == BENCH_FAILED)
			rc = cli_failf("bench: %s: FAILED: %s", what, r->why);
		else
			cli_failf("bench: %s: skipped: %s", what, r->why);
	}
	return rc;
}

static int run_bench(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct args a = {.cfg = {.cpus = {-1, -1}}};
	struct bench_results res = {0};
	FILE *plot = NULL, *json = NULL;
	int rc = parse_args(cmd, argc, argv, &a);
	if (rc != PROCEED)
		return rc;
	if (open_out(a.plot, &plot) || open_out(a.json_out, &json)) {
		close_out(a.plot, plot);
		return CLI_ERR;
	}
	a.cfg.progress = isatty(STDERR_FILENO);
	rc = bench_run_all(&a.cfg, &res);
	if (rc < 0 && rc != -ENOMEM) {
		cli_failf("bench: interrupted by SIG%s; stopped every process "
		          "and removed what the run made", sigabbrev_np(-rc));
		return cli_die_of(-rc);
	}
	if (rc < 0)
		return cli_fail(rc, NULL, 0);
	if (a.json)
		bench_print_json(stdout, &res);
	else
		bench_print_table(stdout, &a.cfg, &res);
	if (json)
		bench_print_json(json, &res);
	if (plot && bench_plot(plot, &res) < 0)
		rc = cli_failf("bench: cannot write %s: %s", a.plot,
		               strerror(errno));
	rc |= close_out(a.plot, plot) | close_out(a.json_out, json);
	rc |= report_rows(&res, a.json);
	free(res.rec);
	return rc ? CLI_ERR : CLI_OK;
}
