/* shmq top: a live view of every channel, and of the other objects. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int run_top(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_top = {
	"top",
	"top [--once] [--json] [--interval SEC] [--stuck SEC] "
	"[--sort rate|depth|lag]",
	"Shows every shmq channel, refreshed every --interval like top(1):\n"
	"its kind, messages and bytes a second in (sent) and out (received),\n"
	"depth (messages queued, % of capacity), the largest reader lag,\n"
	"messages lost and slots recovered from dead peers, and the time\n"
	"since the last message; under it each writer and reader (pid,\n"
	"process name, alive or dead, its rate, a reader's lag and how long\n"
	"it has not moved). Then one line per other shared memory object,\n"
	"largest first. A channel is STUCK when a live reader has messages\n"
	"waiting and has not taken one for --stuck seconds, and DEAD-PEER\n"
	"while a dead peer's share is not given back yet; both stand out.\n"
	"What cannot be known is '?' (JSON null): a rate before the second\n"
	"sample, the time since the last message when none came while top\n"
	"watched ('>5s': none for at least that long). Keys: r sort by rate,\n"
	"d by depth, l by lag, q quit. Top only reads: it never settles,\n"
	"attaches to or changes a channel.\n\n"
	"  --once          print one sample (rates over --interval) and exit;\n"
	"                  also what top does when stdin or stdout is not a\n"
	"                  terminal, or TERM is dumb or unset\n"
	"  --json          with --once: one JSON object (see shmq(1))\n"
	"  --interval SEC  seconds between samples (default 1)\n"
	"  --stuck SEC     a reader is stuck after SEC seconds (default 5)\n"
	"  --sort KEY      rate (default), depth or lag\n",
	run_top,
};

enum { SORT_RATE, SORT_DEPTH, SORT_LAG };
#define UNKNOWN (-1.0) /* a rate or a time top cannot know */

struct top_peer {
	struct shmq_chan_peer_info p;
	char comm[17];        /* /proc/PID/comm, "?" unreadable */
	double rate, brate;   /* messages, bytes a second; UNKNOWN */
	int64_t seen_ns;      /* first sample that had it */
	int64_t moved_ns;     /* last sample its count moved in; 0 never */
	int stuck;
};

struct top_chan {
	char locator[SHMQ_LOCATOR_MAX], name[SHMQ_LOCATOR_MAX];
	int err;              /* shmq_chan_stat's error, or 0 */
	struct shmq_chan_info in;
	int64_t t_ns;         /* when it was read */
	struct top_peer peer[SHMQ_CHAN_MAX_PEERS];
	double in_rate, out_rate, in_brate, out_brate; /* UNKNOWN */
	int64_t seen_ns, moved_ns; /* as a peer's: sent or received moved */
	uint64_t lag;         /* largest reader lag */
	int lag_known;        /* spsc, broadcast, samples: a lag per reader */
	unsigned stuck, unsettled;
};

struct top_other {
	char locator[SHMQ_LOCATOR_MAX], kind[16];
	int family;
	uint64_t size;
	int64_t nattch;
};

struct top_sample {
	struct top_chan *chan;
	struct top_other *other;
	size_t nchan, nother, cap_chan, cap_other;
	int64_t t_ns;
};

struct top {
	int sort, json;
	int64_t interval_ns, stuck_ns;
	struct top_sample prev, cur; /* prev.t_ns 0: one sample so far */
	unsigned rows, cols;         /* 0: no terminal, no limit */
	struct termios was;          /* the terminal before top */
};

/* ---- Sampling ----------------------------------------------------------- */

static void comm_of(pid_t pid, int alive, char *buf, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(buf, len, "?");
	if (alive != SHMQ_PID_ALIVE) /* a dead pid may be someone else's */
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	cli_scrub(buf);
}

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? 2 * *cap : 16;
	return realloc(v, *cap * size);
}

static int add_chan(struct top_sample *s, const struct shmq_stat *st)
{
	struct top_chan *c, *v = grow(s->chan, &s->cap_chan, s->nchan,
	                               sizeof(*c));

	if (!v)
		return -ENOMEM;
	s->chan = v;
	c = memset(&v[s->nchan++], 0, sizeof(*c));
	snprintf(c->locator, sizeof(c->locator), "%s", st->locator);
	snprintf(c->name, sizeof(c->name), "%s", st->name[0] ? st->name
	                                                      : st->locator);
	cli_scrub(c->name);
	c->err = shmq_chan_stat(st->locator, &c->in);
	c->t_ns = cli_now_ns();
	for (unsigned i = 0; !c->err && i < c->in.npeers; i++) {
		c->peer[i].p = c->in.peers[i];
		comm_of(c->in.peers[i].pid, c->in.peers[i].alive,
		        c->peer[i].comm, sizeof(c->peer[i].comm));
	}
	return 0;
}

static int add_other(struct top_sample *s, const struct shmq_stat *st)
{
	struct top_other *o, *v = grow(s->other, &s->cap_other, s->nother,
	                                sizeof(*o));

	if (!v)
		return -ENOMEM;
	s->other = v;
	o = &v[s->nother++];
	snprintf(o->locator, sizeof(o->locator), "%s", st->locator);
	cli_scrub(o->locator);
	snprintf(o->kind, sizeof(o->kind), "%s", st->kind);
	o->family = st->family;
	o->size = st->size;
	o->nattch = st->nattch;
	return 0;
}

static int collect(const struct shmq_stat *st, void *arg)
{
	return strcmp(st->kind, "channel") ? add_other(arg, st)
	                                   : add_chan(arg, st);
}

static int take_sample(struct top_sample *s)
{
	s->nchan = s->nother = 0;
	s->t_ns = cli_now_ns();
	int n = shmq_list(0, collect, s);
	return n < 0 ? n : 0;
}

/* ---- Rates, lags, stuck ------------------------------------------------- */

static double per_s(uint64_t now, uint64_t then, int64_t ns)
{
	return ns > 0 && now >= then ? (double)(now - then) * 1e9 / (double)ns
	                             : UNKNOWN;
}

static const struct top_chan *find_chan(const struct top_sample *s,
                                        const char *locator)
{
	for (size_t i = 0; i < s->nchan; i++)
		if (!s->chan[i].err && !strcmp(s->chan[i].locator, locator))
			return &s->chan[i];
	return NULL;
}

static const struct top_peer *find_peer(const struct top_chan *c,
                                        const struct top_peer *p)
{
	for (unsigned i = 0; c && i < c->in.npeers; i++)
		if (c->peer[i].p.pid == p->p.pid &&
		    c->peer[i].p.role == p->p.role)
			return &c->peer[i];
	return NULL;
}

/* A peer's rates over the interval, and since when it has not moved. */
static void peer_rates(struct top_peer *p, const struct top_peer *was,
                       int64_t t_ns, int64_t ns)
{
	p->rate = p->brate = UNKNOWN;
	p->seen_ns = t_ns;
	if (!was)
		return;
	p->seen_ns = was->seen_ns;
	p->moved_ns = p->p.msgs != was->p.msgs ? t_ns : was->moved_ns;
	if (p->p.alive == SHMQ_PID_ALIVE && was->p.alive == SHMQ_PID_ALIVE) {
		p->rate = per_s(p->p.msgs, was->p.msgs, ns);
		p->brate = per_s(p->p.bytes, was->p.bytes, ns);
	} else if (p->p.alive != SHMQ_PID_ALIVE &&
	           was->p.alive == p->p.alive) {
		p->rate = p->brate = 0; /* dead all along: it did nothing */
	}
}

/* The bytes of a role a second: the sum over its peers, unknown when one
 * of them came or went in the interval (its bytes are not in the totals). */
static double bytes_rate(const struct top_chan *c, const struct top_chan *was,
                         int role)
{
	double sum = 0;

	for (unsigned i = 0; i < c->in.npeers; i++)
		if (c->peer[i].p.role == role && c->peer[i].brate < 0)
			return UNKNOWN;
		else if (c->peer[i].p.role == role)
			sum += c->peer[i].brate;
	for (unsigned i = 0; i < was->in.npeers; i++)
		if (was->peer[i].p.role == role && !find_peer(c, &was->peer[i]))
			return UNKNOWN;
	return sum;
}

static int reader_stuck(const struct top *t, const struct top_chan *c,
                        const struct top_peer *p)
{
	int64_t still = c->t_ns - (p->moved_ns ? p->moved_ns : p->seen_ns);
	uint64_t waiting = c->lag_known ? p->p.queued : c->in.depth_msgs;

	return p->p.role == SHMQ_READER && p->p.alive == SHMQ_PID_ALIVE &&
	       waiting > 0 && t->prev.t_ns && still >= t->stuck_ns;
}

static void chan_rates(const struct top *t, struct top_chan *c)
{
	const struct top_chan *was = find_chan(&t->prev, c->locator);
	int64_t ns = was ? c->t_ns - was->t_ns : 0;

	c->in_rate = c->out_rate = c->in_brate = c->out_brate = UNKNOWN;
	c->seen_ns = was ? was->seen_ns : c->t_ns;
	c->moved_ns = 0;
	c->lag_known = c->in.kind != SHMQ_CHAN_MPMC;
	for (unsigned i = 0; i < c->in.npeers; i++)
		peer_rates(&c->peer[i], find_peer(was, &c->peer[i]), c->t_ns, ns);
	if (was) {
		c->moved_ns = c->in.sent != was->in.sent ||
		              c->in.received != was->in.received ? c->t_ns
		              : was->moved_ns;
		c->in_rate = per_s(c->in.sent, was->in.sent, ns);
		c->out_rate = per_s(c->in.received, was->in.received, ns);
		c->in_brate = bytes_rate(c, was, SHMQ_WRITER);
		c->out_brate = bytes_rate(c, was, SHMQ_READER);
	}
	for (unsigned i = 0; i < c->in.npeers; i++) {
		struct top_peer *p = &c->peer[i];
		p->stuck = reader_stuck(t, c, p);
		c->stuck += (unsigned)p->stuck;
		c->unsettled += (unsigned)p->p.unsettled;
		if (p->p.role == SHMQ_READER && p->p.queued > c->lag)
			c->lag = p->p.queued;
	}
}

/* ---- Sorting ------------------------------------------------------------ */

static int sort_key; /* qsort has no context */

static double depth_pct(const struct top_chan *c)
{
	uint64_t d = c->in.kind == SHMQ_CHAN_SPSC ? c->in.depth_bytes
	                                          : c->in.depth_msgs;
	return c->in.capacity ? 100.0 * (double)d / (double)c->in.capacity : 0;
}

static double key_of(const struct top_chan *c)
{
	if (c->err)
		return -2;
	switch (sort_key) {
	case SORT_DEPTH: return depth_pct(c);
	case SORT_LAG: return (double)(c->lag_known ? c->lag : c->in.depth_msgs);
	default: return c->in_rate < 0 ? -1 : c->in_rate + c->out_rate;
	}
}

static int by_key(const void *a, const void *b)
{
	const struct top_chan *x = a, *y = b;
	double kx = key_of(x), ky = key_of(y);

	if (kx != ky)
		return kx > ky ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int by_size(const void *a, const void *b)
{
	const struct top_other *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return strcmp(x->locator, y->locator);
}

static void order(struct top *t)
{
	sort_key = t->sort;
	if (t->cur.nchan)
		qsort(t->cur.chan, t->cur.nchan, sizeof(*t->cur.chan), by_key);
	if (t->cur.nother)
		qsort(t->cur.other, t->cur.nother, sizeof(*t->cur.other),
		      by_size);
}

/* ---- Text --------------------------------------------------------------- */

/* 12, 1.2k, 3.4M (bytes: 1.2K, 3.4M in 1024s), or "?" */
static const char *num(double v, int bytes, char *buf, size_t len)
{
	const char *units = bytes ? "KMGT" : "kMGT";
	double base = bytes ? 1024 : 1000;
	int u = -1;

	if (v < 0)
		return "?";
	while (v >= base * 0.9995 && u < 3) {
		v /= base;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

/* Time since the last message: "3s", ">5s" (none seen while watching). */
static const char *idle(const struct top *t, const struct top_chan *c,
                        char *buf, size_t len)
{
	if (!t->prev.t_ns)
		return "?";
	if (c->moved_ns)
		snprintf(buf, len, "%llds",
		         (long long)((c->t_ns - c->moved_ns) / 1000000000));
	else
		snprintf(buf, len, ">%llds",
		         (long long)((c->t_ns - c->seen_ns) / 1000000000));
	return buf;
}

static void flags(const struct top_chan *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", c->stuck ? "STUCK " : "",
	         c->unsettled ? "DEAD-PEER" : "");
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* The channel table's columns. */
enum { C_NAME, C_KIND, C_IN, C_OUT, C_INB, C_OUTB, C_DEPTH, C_LAG, C_LOST,
       C_RECOV, C_IDLE, C_FLAGS, NCOL };
static const char *const heads[NCOL] = {
	"CHANNEL", "KIND", "IN/s", "OUT/s", "IN B/s", "OUT B/s", "DEPTH",
	"LAG", "LOST", "RECOV", "IDLE", "FLAGS",
};
static const int widths[NCOL] = { 0, 9, 7, 7, 8, 8, 10, 7, 7, 7, 6, 15 };
/* The order in which they get room: a narrow terminal drops the last. */
static const int by_need[NCOL] = {
	C_NAME, C_KIND, C_IN, C_OUT, C_DEPTH, C_LAG, C_FLAGS, C_IDLE, C_INB,
	C_OUTB, C_LOST, C_RECOV,
};

static void cell(const struct top *t, const struct top_chan *c, int col,
                 char *buf, size_t len)
{
	char n[32];

	switch (col) {
	case C_NAME: snprintf(buf, len, "%s", c->name); break;
	case C_KIND: snprintf(buf, len, "%s", cli_chan_kind(c->in.kind)); break;
	case C_IN: snprintf(buf, len, "%s", num(c->in_rate, 0, n, sizeof(n))); break;
	case C_OUT: snprintf(buf, len, "%s", num(c->out_rate, 0, n, sizeof(n))); break;
	case C_INB: snprintf(buf, len, "%s", num(c->in_brate, 1, n, sizeof(n))); break;
	case C_OUTB: snprintf(buf, len, "%s", num(c->out_brate, 1, n, sizeof(n))); break;
	case C_DEPTH:
		snprintf(buf, len, "%" PRIu64 " %.0f%%", c->in.depth_msgs,
		         depth_pct(c));
		break;
	case C_LAG:
		if (c->lag_known)
			snprintf(buf, len, "%" PRIu64, c->lag);
		else
			snprintf(buf, len, "-");
		break;
	case C_LOST: snprintf(buf, len, "%" PRIu64, c->in.lost); break;
	case C_RECOV: snprintf(buf, len, "%" PRIu64, c->in.recovered); break;
	case C_IDLE: snprintf(buf, len, "%s", idle(t, c, n, sizeof(n))); break;
	default: flags(c, buf, len); break;
	}
}

/* Which columns fit in cols (0: all), and the name column's width. */
static int columns(const struct top *t, int show[NCOL])
{
	int name = 7, used;

	for (size_t i = 0; i < t->cur.nchan; i++)
		if ((int)strlen(t->cur.chan[i].name) > name)
			name = (int)strlen(t->cur.chan[i].name);
	name = name > 24 ? 24 : name;
	used = name;
	for (int i = 0; i < NCOL; i++) {
		int c = by_need[i];
		show[c] = c == C_NAME || !t->cols ||
		          (used += widths[c] + 1) <= (int)t->cols;
	}
	return name;
}

/* Lines go to out through line(): cut at the terminal's width. */
struct screen {
	FILE *f;
	unsigned cols, rows, n;
	int tty;
};

static void line(struct screen *s, int hilite, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void line(struct screen *s, int hilite, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (s->rows && s->n >= s->rows)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (s->cols && strlen(buf) > s->cols)
		buf[s->cols] = '\0';
	for (size_t n = strlen(buf); n && buf[n - 1] == ' '; n--)
		buf[n - 1] = '\0'; /* padding of the last column */
	/* the line is cleared first: a full-width line must not lose its
	 * last column to a clear at the wrap position */
	fprintf(s->f, "%s%s%s%s\n", s->tty ? "\033[2K" : "",
	        s->tty && hilite ? "\033[7m" : "", buf,
	        s->tty && hilite ? "\033[0m" : "");
	s->n++;
}

static void chan_row(struct screen *s, const struct top *t,
                     const struct top_chan *c, const int show[NCOL], int name)
{
	char row[1024], text[SHMQ_LOCATOR_MAX];
	size_t at = 0;

	if (c->err) {
		line(s, 0, "%-*s  ? (%s)", name, c->name,
		     cli_explain(c->err, NULL, 0, text, sizeof(text)));
		return;
	}
	for (int col = 0; col < NCOL && at < sizeof(row); col++) {
		if (!show[col])
			continue;
		cell(t, c, col, text, sizeof(text));
		at += (size_t)snprintf(row + at, sizeof(row) - at, "%s%-*.*s",
		                       col ? " " : "", col ? widths[col] : name,
		                       col ? widths[col] : name, text);
	}
	line(s, c->stuck || c->unsettled, "%s", row);
}

static void peer_row(struct screen *s, const struct top *t,
                     const struct top_chan *c, const struct top_peer *p)
{
	char r[32], b[32], extra[96] = "";
	int64_t still = c->t_ns - (p->moved_ns ? p->moved_ns : p->seen_ns);

	if (p->p.role == SHMQ_READER && c->lag_known)
		snprintf(extra, sizeof(extra), " lag %" PRIu64, p->p.queued);
	if (p->p.role == SHMQ_READER && t->prev.t_ns &&
	    p->p.alive == SHMQ_PID_ALIVE)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		         " still %llds%s", (long long)(still / 1000000000),
		         p->stuck ? " STUCK" : "");
	line(s, p->stuck || p->p.unsettled,
	     "  %s %7d %-15s %-16s %s/s %sB/s%s",
	     p->p.role == SHMQ_WRITER ? "writer" : "reader", (int)p->p.pid,
	     p->comm, p->p.alive == SHMQ_PID_ALIVE ? "alive"
	     : p->p.alive == SHMQ_PID_DEAD
	     ? (p->p.unsettled ? "dead, unsettled" : "dead") : "?",
	     num(p->rate, 0, r, sizeof(r)), num(p->brate, 1, b, sizeof(b)),
	     extra);
}

static void other_rows(struct screen *s, const struct top_sample *cur)
{
	char n[32];

	if (!cur->nother)
		return;
	line(s, 0, "%s", "");
	line(s, 0, "%-10s %-12s %9s %8s  %s", "FAMILY", "KIND", "SIZE",
	     "ATTACHED", "OBJECT (other shared memory, largest first)");
	for (size_t i = 0; i < cur->nother; i++) {
		const struct top_other *o = &cur->other[i];
		line(s, 0, "%-10s %-12s %9s %8s  %s", cli_family(o->family),
		     o->kind, num((double)o->size, 1, n, sizeof(n)),
		     o->nattch < 0 ? "?" : o->nattch == 0 ? "0" : "yes",
		     o->locator);
	}
}

static void render(struct screen *s, const struct top *t)
{
	static const char *const sorts[] = { "rate", "depth", "lag" };
	char now[16], hd[1024];
	time_t tt = time(NULL);
	struct tm tm;
	int show[NCOL], name = columns(t, show);
	size_t at = 0;

	strftime(now, sizeof(now), "%H:%M:%S", localtime_r(&tt, &tm));
	line(s, 0, "shmq top %s: %zu channel%s, %zu other object%s, every "
	     "%.3gs, sort %s%s", now, t->cur.nchan, t->cur.nchan == 1 ? "" : "s",
	     t->cur.nother, t->cur.nother == 1 ? "" : "s",
	     (double)t->interval_ns / 1e9, sorts[t->sort],
	     s->tty ? " (keys: r d l sort, q quit)" : "");
	for (int c = 0; c < NCOL; c++)
		if (show[c])
			at += (size_t)snprintf(hd + at, sizeof(hd) - at, "%s%-*s",
			                       c ? " " : "", c ? widths[c] : name,
			                       heads[c]);
	line(s, 0, "%s", hd);
	for (size_t i = 0; i < t->cur.nchan; i++) {
		const struct top_chan *c = &t->cur.chan[i];
		chan_row(s, t, c, show, name);
		for (int role = SHMQ_WRITER; role <= SHMQ_READER; role++)
			for (unsigned k = 0; !c->err && k < c->in.npeers; k++)
				if (c->peer[k].p.role == role)
					peer_row(s, t, c, &c->peer[k]);
	}
	other_rows(s, &t->cur);
}

/* ---- JSON --------------------------------------------------------------- */

static void json_num(FILE *f, const char *key, double v)
{
	if (v < 0)
		fprintf(f, ", \"%s\": null", key);
	else
		fprintf(f, ", \"%s\": %.3f", key, v);
}

static void json_peer(FILE *f, const struct top_chan *c,
                      const struct top_peer *p, int first)
{
	fprintf(f, "%s{\"pid\": %d, \"comm\": ", first ? "" : ", ",
	        (int)p->p.pid);
	if (strcmp(p->comm, "?"))
		cli_json_str(f, p->comm);
	else
		fputs("null", f);
	fprintf(f, ", \"alive\": %s, \"unsettled\": %s, \"msgs\": %" PRIu64
	        ", \"bytes\": %" PRIu64,
	        p->p.alive == SHMQ_PID_UNKNOWN ? "null"
	        : p->p.alive == SHMQ_PID_ALIVE ? "true" : "false",
	        p->p.unsettled ? "true" : "false", p->p.msgs, p->p.bytes);
	json_num(f, "msgs_per_s", p->rate);
	json_num(f, "bytes_per_s", p->brate);
	if (p->p.role == SHMQ_READER) {
		if (c->lag_known)
			fprintf(f, ", \"lag\": %" PRIu64, p->p.queued);
		else
			fputs(", \"lag\": null", f);
		fprintf(f, ", \"lost\": %" PRIu64, p->p.lost);
		json_num(f, "still_s", (double)(c->t_ns - (p->moved_ns
		         ? p->moved_ns : p->seen_ns)) / 1e9);
		fprintf(f, ", \"stuck\": %s", p->stuck ? "true" : "false");
	}
	fputc('}', f);
}

static void json_peers(FILE *f, const struct top_chan *c, int role)
{
	int n = 0;

	fprintf(f, ", \"%s\": [", role == SHMQ_WRITER ? "writers" : "readers");
	for (unsigned i = 0; i < c->in.npeers; i++)
		if (c->peer[i].p.role == role)
			json_peer(f, c, &c->peer[i], !n++);
	fputc(']', f);
}

static void json_chan(FILE *f, const struct top_chan *c)
{
	char why[512];

	fputs("{\"locator\": ", f);
	cli_json_str(f, c->locator);
	if (c->err) {
		fputs(", \"error\": ", f);
		cli_json_str(f, cli_explain(c->err, NULL, 0, why, sizeof(why)));
		fputc('}', f);
		return;
	}
	fprintf(f, ", \"error\": null, \"kind\": \"%s\", \"policy\": \"%s\", "
	        "\"capacity\": %" PRIu64 ", \"msg_size\": %" PRIu64
	        ", \"depth_msgs\": %" PRIu64 ", \"depth_bytes\": %" PRIu64
	        ", \"depth_pct\": %.1f", cli_chan_kind(c->in.kind),
	        cli_chan_policy(c->in.policy), c->in.capacity, c->in.msg_size,
	        c->in.depth_msgs, c->in.depth_bytes, depth_pct(c));
	json_num(f, "in_msgs_per_s", c->in_rate);
	json_num(f, "out_msgs_per_s", c->out_rate);
	json_num(f, "in_bytes_per_s", c->in_brate);
	json_num(f, "out_bytes_per_s", c->out_brate);
	fprintf(f, ", \"sent\": %" PRIu64 ", \"received\": %" PRIu64
	        ", \"lost\": %" PRIu64 ", \"recovered\": %" PRIu64,
	        c->in.sent, c->in.received, c->in.lost, c->in.recovered);
	if (c->lag_known)
		fprintf(f, ", \"max_lag\": %" PRIu64, c->lag);
	else
		fputs(", \"max_lag\": null", f);
	json_num(f, "idle_s", c->moved_ns ? (double)(c->t_ns - c->moved_ns) / 1e9
	                                  : UNKNOWN);
	json_num(f, "watched_s", (double)(c->t_ns - c->seen_ns) / 1e9);
	fprintf(f, ", \"stuck\": %s, \"unsettled\": %u",
	        c->stuck ? "true" : "false", c->unsettled);
	json_peers(f, c, SHMQ_WRITER);
	json_peers(f, c, SHMQ_READER);
	fputc('}', f);
}

static void json_other(FILE *f, const struct top_other *o)
{
	fputs("{\"locator\": ", f);
	cli_json_str(f, o->locator);
	fprintf(f, ", \"family\": \"%s\", \"kind\": ", cli_family(o->family));
	cli_json_str(f, o->kind);
	fprintf(f, ", \"size\": %" PRIu64 ", \"nattch\": ", o->size);
	if (o->nattch < 0)
		fputs("null}", f);
	else
		fprintf(f, "%" PRId64 "}", o->nattch);
}

static void print_json(FILE *f, const struct top *t)
{
	fprintf(f, "{\"interval_s\": %.3f, \"stuck_after_s\": %.3f, "
	        "\"channels\": [", (double)t->interval_ns / 1e9,
	        (double)t->stuck_ns / 1e9);
	for (size_t i = 0; i < t->cur.nchan; i++) {
		fputs(i ? ",\n  " : "\n  ", f);
		json_chan(f, &t->cur.chan[i]);
	}
	fputs("],\n \"other\": [", f);
	for (size_t i = 0; i < t->cur.nother; i++) {
		fputs(i ? ",\n  " : "\n  ", f);
		json_other(f, &t->cur.other[i]);
	}
	fputs("]}\n", f);
}

/* ---- The loop ----------------------------------------------------------- */

/* One more sample: the current one becomes the previous. */
static int step(struct top *t)
{
	struct top_sample was = t->prev;
	int err;

	t->prev = t->cur;
	t->cur = was;
	if ((err = take_sample(&t->cur)) < 0)
		return err;
	for (size_t i = 0; i < t->cur.nchan; i++)
		if (!t->cur.chan[i].err)
			chan_rates(t, &t->cur.chan[i]);
	order(t);
	return 0;
}

static int once(struct top *t)
{
	struct timespec ts;
	int64_t until;
	int err;

	if ((err = step(t)) < 0)
		return cli_fail(err, NULL, 0);
	until = cli_now_ns() + t->interval_ns;
	ts.tv_sec = (time_t)(until / 1000000000);
	ts.tv_nsec = (long)(until % 1000000000);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
	if ((err = step(t)) < 0)
		return cli_fail(err, NULL, 0);
	if (t->json) {
		print_json(stdout, t);
	} else {
		struct screen s = { stdout, 0, 0, 0, 0 };
		render(&s, t);
	}
	return CLI_OK;
}

static volatile sig_atomic_t resized, suspended, stopped;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else if (sig == SIGTSTP)
		suspended = 1;
	else
		stopped = sig;
}

static void term_size(struct top *t)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col &&
	    ws.ws_row) {
		t->cols = ws.ws_col;
		t->rows = ws.ws_row;
	} else {
		t->cols = 80;
		t->rows = 24;
	}
}

static void draw(const struct top *t)
{
	struct screen s = { stdout, t->cols, t->rows, 0, 1 };

	fputs("\033[H", stdout);
	render(&s, t);
	fputs("\033[J", stdout);
	fflush(stdout);
}

/* Handlers without SA_RESTART: a signal ends poll() at once. The stop
 * signals only where they are not ignored (nohup). */
static void catch_signals(void)
{
	static const int sigs[] = { SIGWINCH, SIGTSTP, SIGINT, SIGTERM,
	                            SIGHUP };
	struct sigaction sa;
	sigset_t set;

	sigemptyset(&set);
	cli_stop_signals(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGTSTP);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigismember(&set, sigs[i]))
			sigaction(sigs[i], &sa, NULL);
}

/* Raw keys, top's own screen, no cursor; and back. */
static void term_enter(struct top *t)
{
	struct termios raw = t->was;

	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	term_size(t);
	fputs("\033[?1049h\033[?25l", stdout);
}

static void term_leave(const struct top *t)
{
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->was);
}

/* ^Z: the terminal as it was, stopped; then back where it was. */
static void suspend(struct top *t)
{
	suspended = 0;
	term_leave(t);
	signal(SIGTSTP, SIG_DFL);
	raise(SIGTSTP); /* stops here until SIGCONT */
	catch_signals();
	term_enter(t);
	draw(t);
}

/* A key: 0 go on, 1 quit. */
static int key(struct top *t, char k)
{
	switch (k) {
	case 'q': case 'Q': return 1;
	case 'r': t->sort = SORT_RATE; break;
	case 'd': t->sort = SORT_DEPTH; break;
	case 'l': t->sort = SORT_LAG; break;
	default: return 0;
	}
	order(t);
	draw(t);
	return 0;
}

static int live_loop(struct top *t)
{
	int64_t next = cli_now_ns();
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	char k;
	int err;

	for (;;) {
		int64_t left = next - cli_now_ns();
		if (left <= 0) {
			if ((err = step(t)) < 0)
				return err;
			draw(t);
			next += t->interval_ns;
			continue;
		}
		int n = poll(&pfd, 1, (int)((left + 999999) / 1000000));
		if (stopped)
			return 0;
		if (suspended)
			suspend(t);
		if (resized) {
			resized = 0;
			term_size(t);
			draw(t);
		}
		if (n > 0 && read(STDIN_FILENO, &k, 1) == 1 && key(t, k))
			return 0;
		if (n > 0 && pfd.revents & (POLLHUP | POLLERR))
			return 0;
	}
}

static int live(struct top *t)
{
	int err;

	if (tcgetattr(STDIN_FILENO, &t->was) < 0)
		return cli_failf("top: the terminal: %s", strerror(errno));
	catch_signals();
	term_enter(t);
	err = live_loop(t);
	term_leave(t);
	if (err < 0)
		return cli_fail(err, NULL, 0);
	return stopped ? cli_die_of(stopped) : CLI_OK;
}

/* A terminal that top can draw on: both ends, and a TERM that moves. */
static int can_draw(void)
{
	const char *term = getenv("TERM");

	return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && term &&
	       term[0] && strcmp(term, "dumb");
}

static int option(const struct cli_cmd *cmd, struct top *t, int o,
                  int *once_)
{
	const char *why = NULL;

	switch (o) {
	case 'o': *once_ = 1; return 0;
	case 'j': t->json = 1; return 0;
	case 'i': why = cli_parse_seconds(optarg, &t->interval_ns); break;
	case 's': why = cli_parse_seconds(optarg, &t->stuck_ns); break;
	default:
		if (!strcmp(optarg, "rate"))
			t->sort = SORT_RATE;
		else if (!strcmp(optarg, "depth"))
			t->sort = SORT_DEPTH;
		else if (!strcmp(optarg, "lag"))
			t->sort = SORT_LAG;
		else
			why = "expected rate, depth or lag";
	}
	if (!why)
		return 0;
	cli_usage_error(cmd, "invalid %s '%s': %s", o == 'i' ? "--interval"
	                : o == 's' ? "--stuck" : "--sort", optarg, why);
	return -1;
}

static int run_top(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "stuck", required_argument, NULL, 's' },
		{ "sort", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct top t;
	int o, once_ = 0, rc;

	memset(&t, 0, sizeof(t));
	t.interval_ns = 1000000000;
	t.stuck_ns = 5 * (int64_t)1000000000;
	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0)
		if (option(cmd, &t, o, &once_) < 0)
			return CLI_USAGE;
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 0, ""))
		return CLI_USAGE;
	if (t.json && !once_)
		return cli_usage_error(cmd, "--json needs --once");
	rc = once_ || !can_draw() ? once(&t) : live(&t);
	free(t.prev.chan);
	free(t.prev.other);
	free(t.cur.chan);
	free(t.cur.other);
	return rc;
}
