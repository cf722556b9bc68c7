/* Channels in the tool: the options, opening, stop signals and errors that
 * send and recv share, their --stats line, and the channel fields of ls
 * and stat. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const kinds[] = { "spsc", "mpmc", "broadcast",
	                              "samples" };
static const char *const policies[] = { "block", "overwrite" };

const char *cli_chan_kind(int kind)
{
	return kind >= SHMQ_CHAN_SPSC && kind <= SHMQ_CHAN_SAMPLES
	       ? kinds[kind - SHMQ_CHAN_SPSC] : "unknown";
}

const char *cli_chan_policy(int policy)
{
	return policy == SHMQ_POLICY_BLOCK || policy == SHMQ_POLICY_OVERWRITE
	       ? policies[policy] : "unknown";
}

static const struct {
	uint64_t flag;
	const char *name; /* as the options spell it */
} chan_flags[] = {
	{SHMQ_CHAN_PERSIST, "persist"},
	{SHMQ_CHAN_HUGE_2M, "huge-2m"},
	{SHMQ_CHAN_PLAIN_FENCES, "plain-fences"},
};

const char *cli_chan_flags(uint64_t flags, const char *quote, char *buf,
                           size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(chan_flags) / sizeof(chan_flags[0]); i++)
		if ((flags & chan_flags[i].flag) && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s%s%s",
			                      n ? (*quote ? ", " : " ") : "",
			                      quote, chan_flags[i].name, quote);
	return buf;
}

/* ---- Options --------------------------------------------------------- */

static void args_init(struct cli_chan_args *a)
{
	memset(a, 0, sizeof(*a));
	a->o.spin_ns = -1;
}

static const char *parse_kind(const char *text, int *kind)
{
	for (int k = SHMQ_CHAN_SPSC; k <= SHMQ_CHAN_SAMPLES; k++)
		if (!strcmp(text, cli_chan_kind(k))) {
			*kind = k;
			return NULL;
		}
	return "expected spsc, mpmc, broadcast or samples";
}

static const char *parse_policy(const char *text, int *policy)
{
	for (int p = SHMQ_POLICY_BLOCK; p <= SHMQ_POLICY_OVERWRITE; p++)
		if (!strcmp(text, cli_chan_policy(p))) {
			*policy = p;
			return NULL;
		}
	return "expected block or overwrite";
}

static const char *option_name(int o)
{
	switch (o) {
	case 'k': return "kind";
	case 'C': return "capacity";
	case 'M': return "msg-size";
	case 'P': return "policy";
	case 'H': return "hold";
	case 'y': return "history";
	case 'u': return "huge";
	default: return "mode";
	}
}

/* A count of samples: 0..SHMQ_SAMPLES_MAX (the largest pool), at least
 * `min`. */
#define MAX_SAMPLES 4096
static const char *parse_samples(const char *text, uint64_t min,
                                 const char *below, uint32_t *v)
{
	const char *why;
	uint64_t n;

	if ((why = cli_parse_size(text, &n)))
		return why;
	if (n < min)
		return below;
	if (n > MAX_SAMPLES)
		return "a pool has 4096 samples at most";
	*v = (uint32_t)n;
	return NULL;
}

/* Huge pages for a samples pool: 2 MiB ones only. */
static const char *parse_huge(const char *text, unsigned *flags)
{
	if (strcmp(text, "2M") && strcmp(text, "2m"))
		return "expected 2M (a samples pool takes 2 MiB huge pages)";
	*flags |= SHMQ_CHAN_HUGE_2M;
	return NULL;
}

/* Applies a geometry option; NULL, or why its value is invalid. */
static const char *apply(struct cli_chan_args *a, int o, const char *arg)
{
	switch (o) {
	case 'H':
		a->given |= CLI_GIVEN_HOLD;
		return parse_samples(arg, 1, "a reader holds at least 1 sample",
		                     &a->o.hold);
	case 'y':
		a->given |= CLI_GIVEN_HISTORY;
		return parse_samples(arg, 0, NULL, &a->o.history);
	case 'u':
		a->given |= CLI_GIVEN_HUGE;
		return parse_huge(arg, &a->o.flags);
	case 'k':
		a->given |= CLI_GIVEN_KIND;
		return parse_kind(arg, &a->o.kind);
	case 'C':
		a->given |= CLI_GIVEN_CAPACITY;
		return cli_parse_nonzero(arg, "a channel needs at least 1",
		                         &a->o.capacity);
	case 'M':
		a->given |= CLI_GIVEN_MSG_SIZE;
		return cli_parse_nonzero(arg, "a channel needs at least 1",
		                         &a->o.msg_size);
	case 'P':
		a->given |= CLI_GIVEN_POLICY;
		return parse_policy(arg, &a->o.policy);
	}
	a->given |= CLI_GIVEN_MODE;
	return cli_parse_mode(arg, &a->o.mode);
}

/* Applies a shared option: CLI_OK, CLI_USAGE after a usage error, or -1
 * when o is the command's own. */
static int chan_option(const struct cli_cmd *cmd, struct cli_chan_args *a,
                       int o, const char *arg)
{
	const char *why;

	switch (o) {
	case 'c': a->create = 1; return CLI_OK;
	case 'b': a->binary = 1; return CLI_OK;
	case 's': a->stats = 1; return CLI_OK;
	case 'A': a->o.flags |= SHMQ_ANY_OWNER; return CLI_OK;
	case 'S': a->socket = arg; return CLI_OK;
	case 'p':
		a->given |= CLI_GIVEN_PERSIST;
		a->o.flags |= SHMQ_CHAN_PERSIST;
		return CLI_OK;
	case 'F':
		a->given |= CLI_GIVEN_PLAIN_FENCES;
		a->o.flags |= SHMQ_CHAN_PLAIN_FENCES;
		return CLI_OK;
	case 'k': case 'C': case 'M': case 'P': case 'm': case 'H': case 'y':
	case 'u':
		why = apply(a, o, arg);
		if (why)
			return cli_usage_error(cmd, "invalid --%s '%s': %s",
			                       option_name(o), arg, why);
		return CLI_OK;
	}
	return -1;
}

/* The first geometry option given, for messages. */
static const char *first_given(unsigned given)
{
	static const char *const names[] = { "--kind", "--capacity",
		"--msg-size", "--policy", "--mode", "--persist", "--hold",
		"--history", "--huge", "--plain-fences" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (given & (1u << i))
			return names[i];
	return "";
}

/* The options together: CLI_OK or CLI_USAGE. */
static int chan_check(const struct cli_cmd *cmd, const struct cli_chan_args *a)
{
	int kind = a->o.kind ? a->o.kind : SHMQ_CHAN_SPSC;
	int serve = a->socket && cmd == &cli_send;

	if (a->socket && ((a->create && !serve) ||
	                  (a->given & CLI_GIVEN_PERSIST) ||
	                  (a->given && !serve)))
		return cli_usage_error(cmd, "%s: the channel %s",
		                       a->given ? first_given(a->given)
		                                : "--create",
		                       serve ? "--serve makes is a memfd: it "
		                       "lives while a process holds it"
		                       : "comes from the socket as it is");
	if (a->given && !a->create && !serve)
		return cli_usage_error(cmd, "%s describes a new channel: add "
		                       "--create", first_given(a->given));
	if ((a->given & CLI_GIVEN_POLICY) && kind != SHMQ_CHAN_BROADCAST &&
	    kind != SHMQ_CHAN_SAMPLES)
		return cli_usage_error(cmd, "--policy applies to broadcast and "
		                       "samples channels, not %s: add --kind "
		                       "broadcast or samples",
		                       cli_chan_kind(kind));
	if ((a->given & CLI_GIVEN_MSG_SIZE) && kind == SHMQ_CHAN_SPSC)
		return cli_usage_error(cmd, "--msg-size applies to mpmc, "
		                       "broadcast and samples; a spsc message may "
		                       "fill the ring: set --capacity");
	if ((a->given & (CLI_GIVEN_HOLD | CLI_GIVEN_HISTORY | CLI_GIVEN_HUGE))
	    && kind != SHMQ_CHAN_SAMPLES)
		return cli_usage_error(cmd, "%s applies to samples channels, not "
		                       "%s: add --kind samples",
		                       first_given(a->given & (CLI_GIVEN_HOLD |
		                       CLI_GIVEN_HISTORY | CLI_GIVEN_HUGE)),
		                       cli_chan_kind(kind));
	return CLI_OK;
}

int cli_chan_parse(const struct cli_cmd *cmd, int argc, char **argv,
                   const struct option *opts, struct cli_chan_args *a,
                   cli_chan_own_fn own, void *ctx)
{
	int o, rc;

	args_init(a);
	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0) {
		rc = chan_option(cmd, a, o, optarg);
		if (rc < 0)
			rc = own(cmd, o, optarg, ctx);
		if (rc != CLI_OK)
			return rc;
	}
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, a->socket ? 0 : 1, "NAME"))
		return CLI_USAGE;
	return chan_check(cmd, a) == CLI_OK ? CLI_CHAN_PROCEED : CLI_USAGE;
}

/* ---- Time -------------------------------------------------------------- */

#define SECOND 1000000000

int64_t cli_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * SECOND + t.tv_nsec;
}

struct timespec cli_ts_of(int64_t ns)
{
	return (struct timespec){ (time_t)(ns / SECOND), (long)(ns % SECOND) };
}

const struct timespec *cli_earliest(const struct timespec *a,
                                    const struct timespec *b)
{
	if (!a || !b)
		return a ? a : b;
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec) ? a : b;
}

/* ---- Signals ------------------------------------------------------------ */

static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
	stop_sig = sig;
}

static void catch_stop(const sigset_t *set)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: a blocked read returns */
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(set, sig) == 1)
			sigaction(sig, &sa, NULL);
}

void cli_catch_stop_signals(void)
{
	sigset_t stop;

	sigemptyset(&stop);
	cli_stop_signals(&stop);
	catch_stop(&stop);
}

int cli_chan_stopped(void)
{
	return stop_sig;
}

const struct timespec *cli_chan_until(const struct timespec *dl,
                                      struct timespec *ts)
{
	*ts = cli_ts_of(cli_now_ns() + CLI_STOP_POLL_MS * 1000000LL);
	return cli_earliest(dl, ts);
}

int cli_chan_stop(const char *name, const char *verb, uint64_t msgs)
{
	int sig = stop_sig;

	cli_failf("%s: interrupted by SIG%s; %llu messages %s", name,
	          sigabbrev_np(sig), (unsigned long long)msgs, verb);
	return cli_die_of(sig);
}

/* ---- Opening and errors --------------------------------------------------- */

int cli_chan_fail_after(int err, const char *name, const char *verb,
                        uint64_t msgs)
{
	char done[64] = "", line[1024];

	if (verb)
		snprintf(done, sizeof(done), "; %llu messages %s",
		         (unsigned long long)msgs, verb);
	switch (err) {
	case -EBADMSG:
		return cli_failf("%s: channel corrupted (its header or ring no "
		                 "longer validates)%s; remove it: shmq rm %s",
		                 name, done, name);
	case SHMQ_ENOTCHAN:
		return cli_failf("%s: not a shmq channel (shmq stat %s shows "
		                 "what it is); pick another name", name, name);
	case SHMQ_EFAMILY:
		return cli_failf("%s: a channel lives in a POSIX object or a "
		                 "memfd (its peers hold locks on the object's "
		                 "fd); use a plain name, e.g. posix:NAME", name);
	}
	return cli_failf("%s%s", cli_explain(err, name, 0, line, sizeof(line)),
	                 done);
}

int cli_chan_fail(int err, const char *name)
{
	return cli_chan_fail_after(err, name, NULL, 0);
}

/* The first peer of role in, with liveness `alive` (ANY: whatever it is);
 * 0 if none. */
#define ANY (-2)
static pid_t find_peer(const struct shmq_chan_info *in, int role, int alive)
{
	for (unsigned i = 0; i < in->npeers; i++)
		if (in->peers[i].role == role &&
		    (alive == ANY || in->peers[i].alive == alive))
			return in->peers[i].pid;
	return 0;
}

/* The live pid holding role in the channel, or 0. */
static pid_t holder(const char *name, int role)
{
	struct shmq_chan_info in;

	return shmq_chan_stat(name, &in) < 0 ? 0
	       : find_peer(&in, role, SHMQ_PID_ALIVE);
}

static int open_fail(int err, const struct cli_chan_args *a,
                     const char *name, int role)
{
	const char *what = role == SHMQ_WRITER ? "writer" : "reader";
	char who[32] = "", line[1024];
	pid_t pid;

	switch (err) {
	case -EACCES:
		return cli_failf("%s; a channel's readers and writers both need "
		                 "read and write access (each writes its place "
		                 "in the peer table)", cli_explain(err, name,
		                 0, line, sizeof(line)));
	case -ENOENT:
		if (a->create)
			break;
		return cli_failf("%s: no such channel; add --create to make "
		                 "it, or start the side that makes it first",
		                 name);
	case -EBUSY:
		if ((pid = holder(name, role)))
			snprintf(who, sizeof(who), " (pid %d)", (int)pid);
		return cli_failf("%s: the channel's one %s is attached already%s; "
		                 "spsc takes one writer and one reader, broadcast "
		                 "and samples one writer: use --kind mpmc for "
		                 "more", name, what, who);
	case -EINVAL:
		if (!a->create)
			break;
		if (a->o.kind == SHMQ_CHAN_SAMPLES)
			return cli_failf("%s: no samples channel of this geometry "
			                 "(capacity %zu, hold %u, history %u, "
			                 "msg-size %zu): a pool has 2 to 4096 "
			                 "samples, at least hold and history, and a "
			                 "message is at most 1G", name,
			                 a->o.capacity, a->o.hold, a->o.history,
			                 a->o.msg_size);
		return cli_failf("%s: no channel of this geometry (capacity "
		                 "%zu, msg-size %zu): the ring is at most 2^40 "
		                 "bytes, a message at most 1G", name,
		                 a->o.capacity, a->o.msg_size);
	}
	return cli_chan_fail(err, name);
}

/* An existing channel is what --create asked for, or an error line. */
static int check_fits(const struct cli_chan_args *a, const char *name,
                      const struct shmq_chan_info *in)
{
	const char *k = cli_chan_kind(in->kind);

	if ((a->given & CLI_GIVEN_KIND) && in->kind != a->o.kind)
		return cli_failf("%s: exists as a %s channel, not %s; use --kind "
		                 "%s or another name", name, k,
		                 cli_chan_kind(a->o.kind), k);
	if ((a->given & CLI_GIVEN_POLICY) && in->policy != a->o.policy)
		return cli_failf("%s: exists with policy %s, not %s", name,
		                 cli_chan_policy(in->policy),
		                 cli_chan_policy(a->o.policy));
	if ((a->given & CLI_GIVEN_CAPACITY) && in->capacity < a->o.capacity)
		return cli_failf("%s: exists with capacity %" PRIu64 ", less "
		                 "than the %zu asked", name, in->capacity,
		                 a->o.capacity);
	if ((a->given & CLI_GIVEN_MSG_SIZE) && in->msg_size < a->o.msg_size)
		return cli_failf("%s: exists with msg-size %" PRIu64 ", less "
		                 "than the %zu asked", name, in->msg_size,
		                 a->o.msg_size);
	return CLI_OK;
}

/* A size given on the command line that the channel does not have
 * exactly (rounded up, or an existing channel's larger one): a note on
 * stderr, so that nobody is surprised (stat shows it too). */
static void note_size(const char *name, const char *opt, size_t asked,
                      uint64_t has, const char *unit)
{
	if (has != asked)
		fprintf(stderr, "shmq: note: %s: --%s %zu asked, the channel has "
		        "%" PRIu64 " (%s)\n", name, opt, asked, has, unit);
}

static void note_sizes(const struct cli_chan_args *a, const char *name,
                       const struct shmq_chan_info *in)
{
	if (a->given & CLI_GIVEN_CAPACITY)
		note_size(name, "capacity", a->o.capacity, in->capacity,
		          in->kind == SHMQ_CHAN_SPSC
		          ? "ring bytes: a power of two, at least 64"
		          : in->kind == SHMQ_CHAN_SAMPLES
		          ? "samples in the pool: a power of two"
		          : "message slots: a power of two");
	if (a->given & CLI_GIVEN_MSG_SIZE)
		note_size(name, "msg-size", a->o.msg_size, in->msg_size,
		          "largest message");
}

int cli_chan_attach(int (*attach)(void *ctx, shmq_chan **ch), void *ctx,
                    shmq_chan **ch)
{
	sigset_t stop, old;
	int err;

	/* A stop signal before the handlers are in place would kill us
	 * holding what we made: it waits (blocked) until they are. */
	sigemptyset(&stop);
	cli_stop_signals(&stop);
	sigprocmask(SIG_BLOCK, &stop, &old);
	err = attach(ctx, ch);
	if (err == 0)
		catch_stop(&stop);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return err;
}

struct by_name {
	const struct cli_chan_args *a;
	const char *name;
	int role;
};

static int attach_by_name(void *ctx, shmq_chan **ch)
{
	const struct by_name *b = ctx;
	struct shmq_chan_opts o = b->a->o;

	if (!b->a->create)
		return shmq_chan_open(ch, b->name, b->role, &o);
	o.flags |= SHMQ_OPEN_OK;
	return shmq_chan_create(ch, b->name, b->role, &o);
}

int cli_chan_open(const struct cli_chan_args *a, const char *name, int role,
                  shmq_chan **ch)
{
	struct by_name b = { a, name, role };
	struct shmq_chan_info in;
	struct shmq_locator loc;
	int err;

	err = shmq_locator_parse(name, &loc);
	if (err < 0)
		return cli_fail(err, name, 0);
	if (loc.family != SHMQ_FAMILY_POSIX && loc.family != SHMQ_FAMILY_MEMFD)
		return cli_chan_fail(SHMQ_EFAMILY, name);
	err = cli_chan_attach(attach_by_name, &b, ch);
	if (err < 0)
		return open_fail(err, a, name, role);
	err = shmq_chan_info(*ch, &in);
	if (err < 0 || check_fits(a, name, &in) != CLI_OK) {
		shmq_chan_close(*ch);
		*ch = NULL;
		return err < 0 ? cli_chan_fail(err, name) : CLI_ERR;
	}
	note_sizes(a, name, &in);
	return CLI_OK;
}

/* ---- Peers -------------------------------------------------------------- */

/* The dead peer of role: its line stays (alive = dead) until reused; the
 * channel also keeps the pid of the last peer found dead. */
static pid_t dead_peer(shmq_chan *ch, int role)
{
	struct shmq_chan_info in;
	pid_t pid;

	if (shmq_chan_info(ch, &in) < 0)
		return 0;
	if ((pid = find_peer(&in, role, SHMQ_PID_DEAD)))
		return pid;
	return in.last_dead_pid;
}

int cli_chan_peer_died(shmq_chan *ch, const char *name, int role,
                       const char *verb, uint64_t msgs)
{
	const char *what = role == SHMQ_WRITER ? "writer" : "reader";
	/* A writer that fails or is stopped leaves without closing too (see
	 * send's help): to its readers it is a writer that died. */
	const char *how = role == SHMQ_WRITER ? "died or was interrupted "
	                  "before ending the stream" : "died";
	unsigned long long n = msgs;
	pid_t pid = dead_peer(ch, role);

	if (pid)
		return cli_failf("%s: %s pid %d %s; %llu messages %s", name,
		                 what, (int)pid, how, n, verb);
	return cli_failf("%s: a %s %s (without closing); %llu messages %s",
	                 name, what, how, n, verb);
}

/* ---- Rates ------------------------------------------------------------- */

#define TICK_EVERY 64 /* messages between looks at the clock */

void cli_rate_init(struct cli_rate *r, int stats)
{
	memset(r, 0, sizeof(*r));
	if (stats && isatty(STDERR_FILENO))
		r->next = cli_now_ns() + SECOND;
}

void cli_rate_add(struct cli_rate *r, const char *name, const char *verb,
                  size_t n)
{
	if (!r->t0)
		r->t0 = cli_now_ns();
	r->msgs++;
	r->bytes += n;
	if (r->next && r->msgs % TICK_EVERY == 0)
		cli_rate_tick(r, name, verb);
}

const struct timespec *cli_rate_deadline(const struct cli_rate *r,
                                         struct timespec *ts)
{
	if (!r->next)
		return NULL;
	*ts = cli_ts_of(r->next);
	return ts;
}

static void print_rate(const struct cli_rate *r, const char *name,
                       const char *verb, const char *end)
{
	double s = r->t0 ? (double)(cli_now_ns() - r->t0) / 1e9 : 0;
	double mb = s > 0 ? (double)r->bytes / 1e6 / s : 0;
	double per = s > 0 ? (double)r->msgs / s : 0;

	fprintf(stderr, "shmq: %s: %s %" PRIu64 " messages, %" PRIu64
	        " bytes in %.3f s: %.1f MB/s, %.0f msgs/s, %" PRIu64 " lost%s",
	        name, verb, r->msgs, r->bytes, s, mb, per, r->lost, end);
}

void cli_rate_tick(struct cli_rate *r, const char *name, const char *verb)
{
	int64_t now;

	if (!r->next || (now = cli_now_ns()) < r->next)
		return;
	/* One line, rewritten in place: \r, then clear to its end. */
	fputc('\r', stderr);
	print_rate(r, name, verb, "\033[K");
	r->progress = 1;
	r->next = now + SECOND;
}

void cli_rate_print(struct cli_rate *r, const char *name, const char *verb)
{
	if (r->progress)
		fputc('\r', stderr);
	print_rate(r, name, verb, r->progress ? "\033[K\n" : "\n");
	r->progress = 0;
}

/* ---- ls and stat ----------------------------------------------------------- */

static void json_peers(FILE *f, const char *key,
                       const struct shmq_chan_info *in, int role)
{
	int n = 0;

	fprintf(f, ", \"%s\": [", key);
	for (unsigned i = 0; i < in->npeers; i++) {
		const struct shmq_chan_peer_info *p = &in->peers[i];
		if (p->role != role)
			continue;
		fprintf(f, "%s{\"pid\": %d, \"alive\": %s, \"msgs\": %" PRIu64,
		        n++ ? ", " : "", (int)p->pid,
		        p->alive == SHMQ_PID_UNKNOWN ? "null"
		        : p->alive == SHMQ_PID_ALIVE ? "true" : "false",
		        p->msgs);
		if (in->kind == SHMQ_CHAN_SAMPLES && role == SHMQ_READER)
			fprintf(f, ", \"held\": %u, \"queued\": %" PRIu64
			        ", \"lost\": %" PRIu64, p->held, p->queued,
			        p->lost);
		fputc('}', f);
	}
	fputc(']', f);
}

void cli_json_chan(FILE *f, const struct shmq_stat *st)
{
	struct shmq_chan_info in;
	char names[64];

	fputs(", \"channel\": ", f);
	if (strcmp(st->kind, "channel") || shmq_chan_stat(st->locator, &in)) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"type\": \"%s\", \"capacity\": %" PRIu64
	        ", \"msg_size\": %" PRIu64 ", \"policy\": \"%s\""
	        ", \"depth_bytes\": %" PRIu64 ", \"depth_msgs\": %" PRIu64,
	        cli_chan_kind(in.kind), in.capacity, in.msg_size,
	        cli_chan_policy(in.policy), in.depth_bytes, in.depth_msgs);
	if (in.kind == SHMQ_CHAN_SAMPLES)
		fprintf(f, ", \"pool_free\": %" PRIu64, in.pool_free);
	fprintf(f, ", \"flags\": [%s]",
	        cli_chan_flags(in.flags, "\"", names, sizeof(names)));
	json_peers(f, "writers", &in, SHMQ_WRITER);
	json_peers(f, "readers", &in, SHMQ_READER);
	fprintf(f, ", \"sent\": %" PRIu64 ", \"received\": %" PRIu64
	        ", \"lost\": %" PRIu64 ", \"recovered\": %" PRIu64 "}",
	        in.sent, in.received, in.lost, in.recovered);
}
