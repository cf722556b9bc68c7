/*
 * --plot: an SVG of the round trip percentiles (a chart per size) and of
 * throughput by message size. gnuplot draws it when it is installed; else
 * our own small writer does, with the same content.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WIDTH 980
#define LEFT 190   /* transport names */
#define PLOT_W 560 /* the axis */
#define ROW 18
#define TPUT_H 320

static int shown(const struct bench_rec *r, int metric, size_t group)
{
	return r->status == BENCH_OK && r->metric == metric &&
	       (!group || r->group == group);
}

/* Sizes of the groups of metric, ascending, into g[]; their count. */
static unsigned groups(const struct bench_results *res, int metric,
                       size_t *g, unsigned max)
{
	unsigned n = 0;
	for (size_t i = 0; i < res->n; i++) {
		size_t s = res->rec[i].group;
		unsigned j = 0;
		if (!shown(&res->rec[i], metric, 0))
			continue;
		while (j < n && g[j] < s)
			j++;
		if ((j < n && g[j] == s) || n == max)
			continue;
		memmove(g + j + 1, g + j, (n - j) * sizeof(*g));
		g[j] = s;
		n++;
	}
	return n;
}

/* Whether r (res->rec[i]) is the first throughput row of its transport:
 * a line is drawn once, through all its sizes. */
static int first_of(const struct bench_results *res, size_t i)
{
	const struct bench_rec *r = &res->rec[i];
	if (!shown(r, BENCH_TPUT, 0))
		return 0;
	for (size_t j = 0; j < i; j++)
		if (shown(&res->rec[j], BENCH_TPUT, 0) &&
		    !strcmp(res->rec[j].transport, r->transport))
			return 0;
	return 1;
}

/* ---- Our own SVG ----------------------------------------------------------- */

static const char *color(const char *name)
{
	if (!strncmp(name, "floor-", 6) || !strcmp(name, "memcpy"))
		return "#7f7f7f";
	if (!strncmp(name, "shmq-", 5))
		return "#1f77b4";
	for (int i = 0; bench_peer_names[i]; i++)
		if (!strcmp(name, bench_peer_names[i]))
			return "#2ca02c";
	return "#ff7f0e"; /* the kernel */
}

static const char *const palette[] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
	"#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

/* A log axis over whole decades. */
struct axis {
	double lo, hi; /* log10 of the ends */
	double x0, len;
};

static void axis_fit(struct axis *a, double min, double max, double x0,
                     double len)
{
	a->lo = floor(log10(min));
	a->hi = ceil(log10(max));
	if (a->hi <= a->lo)
		a->hi = a->lo + 1;
	a->x0 = x0;
	a->len = len;
}

static double at(const struct axis *a, double v)
{
	return a->x0 + a->len * (log10(v) - a->lo) / (a->hi - a->lo);
}

static const char *decade(double e, int ns, char *buf, size_t len)
{
	static const char *const unit[] = {"ns", "us", "ms", "s"};
	double v = pow(10, e);
	int u = 0;
	if (!ns) {
		snprintf(buf, len, "%g", v);
		return buf;
	}
	while (u < 3 && v >= 1000) {
		v /= 1000;
		u++;
	}
	snprintf(buf, len, "%g %s", v, unit[u]);
	return buf;
}

static void text(FILE *f, double x, double y, const char *anchor,
                 const char *extra, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>%s</text>\n",
	        x, y, anchor, extra, s);
}

/* One round-trip chart: a bar to p50, a whisker to p99.9, a tick at p99. */
static double rtt_chart(FILE *f, const struct bench_results *res,
                        size_t group, double y)
{
	char buf[64], s[32];
	double min = 1e300, max = 0;
	struct axis a;
	unsigned n = 0;
	for (size_t i = 0; i < res->n; i++)
		if (shown(&res->rec[i], BENCH_RTT, group)) {
			min = fmin(min, res->rec[i].p50);
			max = fmax(max, res->rec[i].p999);
			n++;
		}
	axis_fit(&a, min, max, LEFT, PLOT_W);
	snprintf(buf, sizeof(buf), "Round trip, %s: p50 (bar), p99 (tick), "
	         "p99.9 (whisker)", bench_size_str(group, s, sizeof(s)));
	text(f, 10, y + 16, "start", " font-weight=\"bold\"", buf);
	double top = y + 28, bottom = top + n * ROW;
	for (double e = a.lo; e <= a.hi; e++) {
		double x = at(&a, pow(10, e));
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		        "y2=\"%.1f\" stroke=\"#ddd\"/>\n", x, top, x, bottom);
		text(f, x, bottom + 14, "middle", "", decade(e, 1, buf,
		                                              sizeof(buf)));
	}
	double row = top;
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_rec *r = &res->rec[i];
		if (!shown(r, BENCH_RTT, group))
			continue;
		double mid = row + ROW / 2.0, x50 = at(&a, r->p50);
		double x99 = at(&a, r->p99), x999 = at(&a, r->p999);
		text(f, LEFT - 6, mid + 4, "end", "", r->transport);
		fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" "
		        "height=\"%d\" fill=\"%s\"/>\n", LEFT, row + 3,
		        x50 - LEFT, ROW - 6, color(r->transport));
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#333\"/>\n", x50, mid, x999, mid);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#333\" stroke-width=\"2\"/>\n", x99, mid - 4,
		        x99, mid + 4);
		text(f, x999 + 6, mid + 4, "start", " fill=\"#555\"",
		     bench_ns_str(r->p50, buf, sizeof(buf)));
		row += ROW;
	}
	return bottom + 30;
}

/* Throughput: GB/s by message size, a line per transport. */
static double tput_chart(FILE *f, const struct bench_results *res,
                         const size_t *g, unsigned ng, double y)
{
	char buf[64];
	double min = 1e300, max = 0, top = y + 28, h = TPUT_H - 60;
	struct axis a;
	for (size_t i = 0; i < res->n; i++)
		if (shown(&res->rec[i], BENCH_TPUT, 0)) {
			min = fmin(min, res->rec[i].gbytes_per_s);
			max = fmax(max, res->rec[i].gbytes_per_s);
		}
	axis_fit(&a, min, max, 0, h);
	text(f, 10, y + 16, "start", " font-weight=\"bold\"",
	     "Throughput by message size (GB/s, log scale)");
	for (double e = a.lo; e <= a.hi; e++) {
		double yy = top + h - at(&a, pow(10, e));
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
		        "stroke=\"#ddd\"/>\n", LEFT, yy, LEFT + PLOT_W, yy);
		text(f, LEFT - 6, yy + 4, "end", "", decade(e, 0, buf,
		                                             sizeof(buf)));
	}
	for (unsigned k = 0; k < ng; k++)
		text(f, LEFT + PLOT_W * (k + 0.5) / ng, top + h + 16, "middle",
		     "", bench_size_str(g[k], buf, sizeof(buf)));
	unsigned line = 0;
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_rec *r = &res->rec[i];
		size_t j;
		if (!first_of(res, i))
			continue;
		const char *c = palette[line % 10];
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
		        "stroke-width=\"1.5\"%s points=\"", c,
		        line >= 10 ? " stroke-dasharray=\"5,3\"" : "");
		for (j = i; j < res->n; j++) {
			const struct bench_rec *q = &res->rec[j];
			unsigned k = 0;
			if (!shown(q, BENCH_TPUT, 0) ||
			    strcmp(q->transport, r->transport))
				continue;
			while (k < ng && g[k] != q->group)
				k++;
			fprintf(f, "%.1f,%.1f ", LEFT + PLOT_W * (k + 0.5) / ng,
			        top + h - at(&a, q->gbytes_per_s));
		}
		fputs("\"/>\n", f);
		double ly = top + 12 + 15 * line;
		fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"14\" height=\"3\" "
		        "fill=\"%s\"/>\n", LEFT + PLOT_W + 20, ly - 4, c);
		text(f, LEFT + PLOT_W + 40, ly, "start", "", r->transport);
		line++;
	}
	return top + h + 40;
}

void bench_plot_svg(FILE *f, const struct bench_results *res)
{
	size_t g[32];
	char machine[256];
	unsigned nr = groups(res, BENCH_RTT, g, 32), rows = 0;
	for (size_t i = 0; i < res->n; i++)
		rows += (unsigned)shown(&res->rec[i], BENCH_RTT, 0);
	double height = 40 + nr * 60.0 + rows * ROW + TPUT_H + 20;
	bench_machine(machine, sizeof(machine));
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	        "height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
	        "font-family=\"sans-serif\" font-size=\"11\">\n"
	        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
	        WIDTH, height, WIDTH, height);
	text(f, 10, 20, "start", " font-size=\"14\" font-weight=\"bold\"",
	     "shmq bench");
	text(f, 110, 20, "start", " fill=\"#555\"", machine);
	double y = 30;
	for (unsigned k = 0; k < nr; k++)
		y = rtt_chart(f, res, g[k], y);
	unsigned nt = groups(res, BENCH_TPUT, g, 32);
	if (nt)
		tput_chart(f, res, g, nt, y);
	fputs("</svg>\n", f);
}

/* ---- gnuplot ------------------------------------------------------------------ */

/* The gnuplot on $PATH, into buf: 0, or -1 when there is none. */
static int find_gnuplot(char *buf, size_t len)
{
	const char *path = getenv("PATH");
	while (path && *path) {
		size_t n = strcspn(path, ":");
		struct stat st;
		snprintf(buf, len, "%.*s/gnuplot", (int)n, path);
		if (n && stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	return -1;
}

static void gnuplot_script(FILE *s, const struct bench_results *res)
{
	size_t g[32];
	char machine[256], buf[32];
	unsigned nr = groups(res, BENCH_RTT, g, 32), seen = 0;
	unsigned nt = groups(res, BENCH_TPUT, g + nr, 32 - nr);
	bench_machine(machine, sizeof(machine));
	fprintf(s, "set terminal svg size %d,%u dynamic noenhanced "
	        "font 'sans,10' background rgb 'white'\n"
	        "set multiplot layout %u,1 title 'shmq bench: %s'\n"
	        "set style fill solid 0.85 border -1\nset grid y\n",
	        WIDTH, 340 * (nr + !!nt), nr + !!nt, machine);
	for (unsigned k = 0; k < nr; k++) {
		fprintf(s, "$rtt%u << EOD\n", k);
		for (size_t i = 0; i < res->n; i++) {
			const struct bench_rec *r = &res->rec[i];
			if (shown(r, BENCH_RTT, g[k]))
				fprintf(s, "\"%s\" %.0f %.0f %.0f\n", r->transport,
				        r->p50, r->p99, r->p999);
		}
		fprintf(s, "EOD\nset title 'Round trip, %s (ns)'\n"
		        "set style data histograms\n"
		        "set style histogram clustered gap 1\n"
		        "set logscale y\nset xtics rotate by -35 scale 0\n"
		        "set key outside right top\n"
		        "plot $rtt%u using 2:xtic(1) title 'p50', '' using 3 "
		        "title 'p99', '' using 4 title 'p99.9'\n",
		        bench_size_str(g[k], buf, sizeof(buf)), k);
	}
	if (!nt)
		return;
	fputs("set title 'Throughput by message size (GB/s)'\n"
	      "set style data linespoints\nunset logscale\n"
	      "set logscale x 2\nset logscale y 10\n"
	      "set xtics norotate auto\nset format x '%.0b%BB'\n"
	      "set key outside right\n"
	      "set xlabel 'message size (bytes)'\nplot ", s);
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_rec *r = &res->rec[i];
		if (!first_of(res, i))
			continue;
		fprintf(s, "%s'-' using 1:2 title '%s'", seen++ ? ", " : "",
		        r->transport);
	}
	fputc('\n', s);
	for (size_t i = 0; i < res->n; i++) { /* the data of each '-' */
		const struct bench_rec *r = &res->rec[i];
		if (!first_of(res, i))
			continue;
		for (size_t j = i; j < res->n; j++)
			if (shown(&res->rec[j], BENCH_TPUT, 0) &&
			    !strcmp(res->rec[j].transport, r->transport))
				fprintf(s, "%zu %g\n", res->rec[j].group,
				        res->rec[j].gbytes_per_s);
		fputs("e\n", s);
	}
}

/* Runs gnuplot on the script, its SVG into out: 0 when it succeeded. */
static int run_gnuplot(const char *gp, FILE *script, FILE *out)
{
	int status;
	fflush(out);
	rewind(script);
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(fileno(script), 0) < 0 || dup2(fileno(out), 1) < 0)
			_exit(127);
		execl(gp, "gnuplot", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -errno;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int bench_plot(FILE *f, const struct bench_results *res)
{
	char gp[4096];
	FILE *script = find_gnuplot(gp, sizeof(gp)) == 0 ? tmpfile() : NULL;
	if (script) {
		gnuplot_script(script, res);
		int rc = fflush(script) == 0 ? run_gnuplot(gp, script, f) : -1;
		fclose(script);
		if (rc == 0 && fseek(f, 0, SEEK_END) == 0 && ftell(f) > 0)
			return 0;
		/* gnuplot failed: start again with our own writer */
		if (ftruncate(fileno(f), 0) != 0)
			return -errno;
		rewind(f);
	}
	bench_plot_svg(f, res);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
