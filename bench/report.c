/*
 * The results as a table (grouped by metric and size, each row against its
 * floor and against pipe, measured in the same run) or as JSON.
 */
#include "bench.h"

#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/utsname.h>

const char *bench_size_str(size_t size, char *buf, size_t len)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB"};
	unsigned u = 0;
	while (u < 3 && size >= 1024 && size % 1024 == 0) {
		size /= 1024;
		u++;
	}
	snprintf(buf, len, "%zu %s", size, unit[u]);
	return buf;
}

/* The CPU's name from /proc/cpuinfo ("model name" on x86, "Model" on
 * some ARM boards). */
static void cpu_model(char *buf, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");
	snprintf(buf, len, "unknown CPU");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon || (strncmp(line, "model name", 10) &&
		               strncmp(line, "Model", 5)))
			continue;
		colon += 1 + strspn(colon + 1, " \t");
		snprintf(buf, len, "%.*s", (int)strcspn(colon, "\n"), colon);
		break;
	}
	if (f)
		fclose(f);
}

void bench_machine(char *buf, size_t len)
{
	char model[128];
	cpu_set_t set;
	struct utsname u;
	int n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
	                                                    : 0;
	cpu_model(model, sizeof(model));
	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "?");
	snprintf(buf, len, "%d CPUs, %s, Linux %s", n, model, u.release);
}

/* ---- Numbers in words --------------------------------------------------- */

const char *bench_metric_name(int metric)
{
	return metric == BENCH_RTT ? "rtt"
	       : metric == BENCH_TPUT ? "throughput" : "reads";
}

const char *bench_ns_str(double ns, char *buf, size_t len)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1e5)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else if (ns < 1e6)
		snprintf(buf, len, "%.0f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}

static const char *rate_str(double r, char *buf, size_t len)
{
	if (r >= 1e6)
		snprintf(buf, len, "%.2f M", r / 1e6);
	else if (r >= 1e3)
		snprintf(buf, len, "%.1f k", r / 1e3);
	else
		snprintf(buf, len, "%.0f", r);
	return buf;
}

static const char *ratio_str(double r, char *buf, size_t len)
{
	if (r <= 0)
		snprintf(buf, len, "-");
	else if (r < 10)
		snprintf(buf, len, "%.2f", r);
	else if (r < 100)
		snprintf(buf, len, "%.1f", r);
	else
		snprintf(buf, len, "%.0f", r);
	return buf;
}

/* ---- Table -------------------------------------------------------------- */

/* The measured row of transport name in the same group, or NULL. */
static const struct bench_rec *find(const struct bench_results *res,
                                    const char *name, int metric,
                                    size_t group)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_rec *r = &res->rec[i];
		if (r->status == BENCH_OK && r->metric == metric &&
		    r->group == group && !strcmp(r->transport, name))
			return r;
	}
	return NULL;
}

static const char *rtt_floor(const struct bench_rec *r)
{
	return r->busy ? "floor-spin" : "floor-spin-futex";
}

/* Whether a row's CPUs were not in the run's placement, before or after
 * it, on its last try. */
static int moved(const struct bench_results *res, const struct bench_rec *r)
{
	return !bench_same_place(r->place_ns[0], res->place_ns) ||
	       !bench_same_place(r->place_ns[1], res->place_ns);
}

/* The row's note, and its placement when that was not the run's. */
static const char *note_str(const struct bench_results *res,
                            const struct bench_rec *r, char *buf, size_t len)
{
	char a[16], b[16];
	int n = snprintf(buf, len, "%s", r->note);
	if (r->rounds > 1 && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "%s+-%.0f%%",
		              n ? ", " : "", 50 * r->spread);
	if (moved(res, r) && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "%splaced %s/%s",
		         n ? ", " : "",
		         bench_ns_str(r->place_ns[0], a, sizeof(a)),
		         bench_ns_str(r->place_ns[1], b, sizeof(b)));
	return buf;
}

static void print_rtt(FILE *f, const struct bench_results *res,
                      const struct bench_rec *r)
{
	char a[16], b[16], c[16], d[16], e[16], g[16], h[16], n[64];
	const struct bench_rec *fl = find(res, rtt_floor(r), BENCH_RTT,
	                                  r->group);
	const struct bench_rec *pipe = find(res, "pipe", BENCH_RTT, r->group);
	fprintf(f, "  %-20s %9s %9s %9s %9s %9s %9s  %-17s %9s  %s\n",
	        r->transport, bench_ns_str(r->p50, a, sizeof(a)),
	        bench_ns_str(r->p99, b, sizeof(b)), bench_ns_str(r->p999, c, sizeof(c)),
	        r->max > 0 ? bench_ns_str(r->max, d, sizeof(d)) : "-",
	        bench_ns_str(r->cpu_ns_per_msg, e, sizeof(e)),
	        ratio_str(fl ? r->p50 / fl->p50 : 0, g, sizeof(g)),
	        rtt_floor(r), ratio_str(pipe ? pipe->p50 / r->p50 : 0, h,
	                                sizeof(h)),
	        note_str(res, r, n, sizeof(n)));
}

/* A throughput row's msgs/s over floor-ring's at its size (0: none). */
static double ring_ratio(const struct bench_results *res,
                         const struct bench_rec *r)
{
	const struct bench_rec *ring = find(res, "floor-ring", BENCH_TPUT,
	                                    r->group);
	return ring && r->metric == BENCH_TPUT ? r->msgs_per_s /
	                                         ring->msgs_per_s : 0;
}

static void print_tput(FILE *f, const struct bench_results *res,
                       const struct bench_rec *r)
{
	char a[16], b[16], c[16], d[16], g[16], n[64];
	const struct bench_rec *m = find(res, "memcpy", BENCH_TPUT, r->group);
	const struct bench_rec *pipe = find(res, "pipe", BENCH_TPUT, r->group);
	fprintf(f, "  %-20s %9s %9.3f %9s %9s %9s %9s  %s\n", r->transport,
	        rate_str(r->msgs_per_s, a, sizeof(a)), r->gbytes_per_s,
	        bench_ns_str(r->cpu_ns_per_msg, b, sizeof(b)),
	        ratio_str(ring_ratio(res, r), g, sizeof(g)),
	        ratio_str(m ? r->msgs_per_s / m->msgs_per_s : 0, c, sizeof(c)),
	        ratio_str(pipe ? r->msgs_per_s / pipe->msgs_per_s : 0, d,
	                  sizeof(d)), note_str(res, r, n, sizeof(n)));
}

/* A reads row: its ages of new values are "-" when not measured. */
static void print_reads(FILE *f, const struct bench_results *res,
                        const struct bench_rec *r)
{
	char a[16], b[16], c[16], d[16], e[16], g[16];
	const struct bench_rec *m = find(res, "board-mutex-struct",
	                                 BENCH_READS, r->group);
	fprintf(f, "  %-20s %9s %9.3f %9s %9s %9s %9s %9.4f %9s\n",
	        r->transport, rate_str(r->reads_per_s, a, sizeof(a)),
	        r->new_per_read, rate_str(r->sets_per_s, b, sizeof(b)),
	        r->p50 > 0 ? bench_ns_str(r->p50, c, sizeof(c)) : "-",
	        r->p99 > 0 ? bench_ns_str(r->p99, d, sizeof(d)) : "-",
	        bench_ns_str(r->cpu_ns_per_msg, e, sizeof(e)), r->busy_per_read,
	        ratio_str(m ? r->reads_per_s / m->reads_per_s : 0, g,
	                  sizeof(g)));
}

static void print_row(FILE *f, const struct bench_results *res,
                      const struct bench_rec *r)
{
	if (r->status != BENCH_OK)
		fprintf(f, "  %-20s %s: %s\n", r->transport,
		        r->status == BENCH_SKIPPED ? "skipped" : "FAILED", r->why);
	else if (r->metric == BENCH_RTT)
		print_rtt(f, res, r);
	else if (r->metric == BENCH_TPUT)
		print_tput(f, res, r);
	else
		print_reads(f, res, r);
}

static void print_group(FILE *f, const struct bench_results *res, int metric,
                        size_t group)
{
	char s[32];
	bench_size_str(group, s, sizeof(s));
	if (metric == BENCH_RTT)
		fprintf(f, "\nround trip, %-10s %9s %9s %9s %9s %9s %9s  %-17s "
		        "%9s  note\n", s, "p50", "p99", "p99.9", "max",
		        "cpu/msg", "p50/floor", "floor", "pipe/p50");
	else if (metric == BENCH_TPUT)
		fprintf(f, "\nthroughput, %-10s %9s %9s %9s %9s %9s %9s  note\n",
		        s, "msgs/s", "GB/s", "cpu/msg", "/ring", "/memcpy",
		        "/pipe");
	else
		fprintf(f, "\nreads, %-15s %9s %9s %9s %9s %9s %9s %9s %9s\n",
		        s, "reads/s", "new/read", "sets/s", "age p50",
		        "age p99", "cpu/read", "gave up", "/mutex");
	for (size_t i = 0; i < res->n; i++)
		if (res->rec[i].metric == metric && res->rec[i].group == group)
			print_row(f, res, &res->rec[i]);
}

/* The next group size above prev that some record of metric has. */
static size_t next_group(const struct bench_results *res, int metric,
                         size_t prev)
{
	size_t best = 0;
	for (size_t i = 0; i < res->n; i++) {
		size_t g = res->rec[i].group;
		if (res->rec[i].metric == metric && g > prev &&
		    (!best || g < best))
			best = g;
	}
	return best;
}

/* How far apart the two CPUs are in this run (ratios depend on it): the
 * smallest size's floor-spin round trip, a cache line there and back. */
static void print_placement(FILE *f, const struct bench_results *res)
{
	char a[16];
	const struct bench_rec *fl = find(res, "floor-spin", BENCH_RTT,
	                                  next_group(res, BENCH_RTT, 0));
	unsigned again = 0, off = 0;
	for (size_t i = 0; i < res->n; i++) {
		again += res->rec[i].tries > 1;
		off += res->rec[i].status == BENCH_OK && moved(res, &res->rec[i]);
	}
	if (res->place_ns > 0)
		fprintf(f, "placement: a cache line from CPU to CPU and back in "
		        "%s at the start;\n%u rows measured again because the "
		        "CPUs had moved, %u still elsewhere (\"placed\" in\nthe "
		        "note: the probe before/after the row; compare their "
		        "ratios with care)\n",
		        bench_ns_str(res->place_ns, a, sizeof(a)), again, off);
	else if (fl)
		fprintf(f, "placement: floor-spin round trip %s at %zu B (two "
		        "cache-line crossings)\n",
		        bench_ns_str(fl->p50, a, sizeof(a)), fl->msg_size);
}

void bench_print_table(FILE *f, const struct bench_cfg *cfg,
                       const struct bench_results *res)
{
	char machine[256];
	bench_machine(machine, sizeof(machine));
	fprintf(f, "shmq bench: %s\n", machine);
	if (cfg->cpus[0] >= 0)
		fprintf(f, "pinned to CPUs %d and %d; ", cfg->cpus[0],
		        cfg->cpus[1]);
	else
		fprintf(f, "not pinned; ");
	fprintf(f, "every row: %.3g s of warm-up, then %.3g s measured",
	        cfg->warmup_s, cfg->duration_s);
	if (cfg->rounds > 1)
		fprintf(f, ", %u rounds of a size's rows in turn:\neach row is "
		        "its median round, +-N%% in the note half the spread "
		        "of its rounds", cfg->rounds);
	fputc('\n', f);
	print_placement(f, res);
	for (int m = BENCH_RTT; m <= BENCH_READS; m++)
		for (size_t g = next_group(res, m, 0); g;
		     g = next_group(res, m, g))
			print_group(f, res, m, g);
	int header = 0;
	for (size_t i = 0; i < res->n; i++)
		if (!res->rec[i].group) {
			if (!header++)
				fputs("\nnot measured\n", f);
			print_row(f, res, &res->rec[i]);
		}
	fputs("\np50/floor: the row's p50 over its floor's in this run "
	      "(floor-spin for busy-wait rows,\n"
	      "floor-spin-futex for those that may sleep); pipe/p50: pipe's "
	      "p50 over the row's.\n"
	      "/ring, /memcpy, /pipe: the row's msgs/s over floor-ring's, "
	      "memcpy's and pipe's\nat the same size (floor-ring-batch "
	      "publishes every 32 messages: it trades\nlatency for "
	      "throughput). floor-checks is the harness's own work per "
	      "message\n(stamps, checks, sums) without a transport: no row "
	      "can beat it.\n"
	      "cpu/msg: CPU time of every process (getrusage) per message; a "
	      "round trip is 2.\n"
	      "GB/s: 10^9 bytes a second. The receiver reads every byte; "
	      "checksums matched.\n", f);
	if (next_group(res, BENCH_READS, 0))
		fputs("reads: a writer sets one value at full speed, a reader "
		      "gets the newest in a\nloop and checks every byte of "
		      "each; new/read: the fraction of reads that\ngave a newer "
		      "value; age: from just before the set of a new value to "
		      "the\nreader holding it (one way, one clock); cpu/read: "
		      "the reader's; gave up:\nthe fraction of gets that "
		      "returned -EBUSY; /mutex: reads/s over\n"
		      "board-mutex-struct's.\n", f);
}

/* ---- JSON --------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static void
json_num(FILE *f, const char *key, int null, const char *fmt, ...)
{
	va_list ap;
	fprintf(f, ", \"%s\": ", key);
	if (null) {
		fputs("null", f);
		return;
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
}

void bench_print_json(FILE *f, const struct bench_results *res)
{
	const char *sep = "\n";
	fputc('[', f);
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_rec *r = &res->rec[i];
		int tput = r->metric == BENCH_TPUT;
		int reads = r->metric == BENCH_READS;
		if (r->status != BENCH_OK)
			continue;
		/* Names are ours, or a peer's checked by peer.c. */
		fprintf(f, "%s{\"transport\": \"%s\", \"metric\": \"%s\", "
		        "\"msg_size\": %zu", sep, r->transport,
		        bench_metric_name(r->metric), r->msg_size);
		/* reads: ages, when the values had room for a time stamp */
		json_num(f, "p50_ns", tput || r->p50 <= 0, "%.0f", r->p50);
		json_num(f, "p99_ns", tput || r->p99 <= 0, "%.0f", r->p99);
		json_num(f, "p999_ns", tput || r->p999 <= 0, "%.0f", r->p999);
		json_num(f, "msgs_per_s", !tput, "%.0f", r->msgs_per_s);
		json_num(f, "gbytes_per_s", !tput, "%.6g", r->gbytes_per_s);
		json_num(f, "cpu_ns_per_msg", 0, "%.1f", r->cpu_ns_per_msg);
		json_num(f, "writer_cpu_ns_per_msg",
		         r->writer_cpu_ns_per_msg <= 0, "%.1f",
		         r->writer_cpu_ns_per_msg);
		double ring = ring_ratio(res, r);
		json_num(f, "ring_ratio", ring <= 0, "%.4g", ring);
		json_num(f, "reads_per_s", !reads, "%.0f", r->reads_per_s);
		json_num(f, "sets_per_s", !reads, "%.0f", r->sets_per_s);
		json_num(f, "new_per_read", !reads, "%.4g", r->new_per_read);
		json_num(f, "busy_per_read", !reads, "%.4g", r->busy_per_read);
		json_num(f, "placement_ns", r->place_ns[0] <= 0, "%.0f",
		         r->place_ns[0]);
		json_num(f, "placement_after_ns", r->place_ns[1] <= 0, "%.0f",
		         r->place_ns[1]);
		json_num(f, "tries", !r->tries, "%u", r->tries);
		json_num(f, "rounds", !r->rounds, "%u", r->rounds);
		json_num(f, "spread", r->rounds < 2, "%.3g", r->spread);
		fputc('}', f);
		sep = ",\n";
	}
	fputs("\n]\n", f);
}
