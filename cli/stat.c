/* shmq stat: everything the library knows about one object. */
#include "cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

static int run_stat(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_stat = {
	"stat",
	"stat LOCATOR [--json]",
	"Shows family, key/id or name, requested and mapped size, mode, owner,\n"
	"creator, attach count, creator and last pids with their liveness,\n"
	"times, and the removed/orphan/stale flags of one object. For a\n"
	"semaphore set, the number of semaphores; for a message queue, the\n"
	"messages and bytes queued, its capacity, and the last sender and\n"
	"receiver with their liveness. For a board: entries, value size and\n"
	"counters. For a channel (kind channel), its\n"
	"type, policy, capacity, largest message, depth, the writers and\n"
	"readers attached (pid, liveness, messages each) and the messages\n"
	"sent, received, lost and recovered from dead peers; for a samples\n"
	"channel also the pool's free samples and each reader's samples held,\n"
	"queued and lost.\n\n"
	"  --json   print one JSON object with the field names of 'shmq ls'\n",
	run_stat,
};

/* One "field: value" line. */
static void field(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void field(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s:%*s", name, (int)(12 - strlen(name)), "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void text_field(const char *name, const char *text)
{
	char safe[SHMQ_LOCATOR_MAX];

	snprintf(safe, sizeof(safe), "%s", text);
	field(name, "%s", cli_scrub(safe));
}

static void pid_field(const char *name, pid_t pid, int alive)
{
	if (pid == 0)
		field(name, "unknown");
	else
		field(name, "%d (%s)", (int)pid,
		      alive == SHMQ_PID_ALIVE ? "alive"
		      : alive == SHMQ_PID_DEAD ? "dead"
		                               : "liveness unknown");
}

static void time_field(const char *name, int64_t t)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || !localtime_r(&tt, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm))
		field(name, "-");
	else
		field(name, "%s", buf);
}

static void id_fields(const char *name, uid_t uid, const char *gname,
                      gid_t gid)
{
	char user[64];

	field(name, "%u (%s)", (unsigned)uid, cli_user(uid, user, sizeof(user)));
	field(gname, "%u", (unsigned)gid);
}

/* What only memory has: sizes, attachers, creator, removal. */
static void print_memory(const struct shmq_stat *st)
{
	field("size", "%" PRIu64 " (requested)", st->size);
	field("mapped_size", "%" PRIu64 " (rounded up to the %s)",
	      st->mapped_size, st->huge > 0 ? "huge page" : st->huge == 0
	      ? "page" : "page; if on huge pages, more: see huge");
}

static void print_users(const struct shmq_stat *st)
{
	if (st->nattch < 0)
		field("nattch", "unknown (some /proc entries are not readable)");
	else
		field("nattch", "%" PRId64, st->nattch);
	pid_field("cpid", st->cpid, st->cpid_alive);
	pid_field("lpid", st->lpid, st->lpid_alive);
	time_field("atime", st->atime);
	time_field("dtime", st->dtime);
	time_field("ctime", st->ctime);
	field("removed", "%s", st->removed ? "yes (marked for removal; goes "
	      "when the last process detaches)" : "no");
}

/* "1234 (alive, 10 messages), 1240 (dead, 3 messages)", or "none"; a
 * samples reader's also "held 2, queued 3, lost 0". */
static void peers_field(const char *name, const struct shmq_chan_info *in,
                        int role)
{
	char line[1024] = "none";
	size_t at = 0;

	for (unsigned i = 0; i < in->npeers && at < sizeof(line); i++) {
		const struct shmq_chan_peer_info *p = &in->peers[i];
		if (p->role != role)
			continue;
		at += (size_t)snprintf(line + at, sizeof(line) - at,
		                       "%s%d (%s, %" PRIu64 " messages",
		                       at ? ", " : "", (int)p->pid,
		                       p->alive == SHMQ_PID_ALIVE ? "alive"
		                       : p->alive == SHMQ_PID_DEAD ? "dead"
		                       : "liveness unknown", p->msgs);
		if (at < sizeof(line) && in->kind == SHMQ_CHAN_SAMPLES &&
		    role == SHMQ_READER)
			at += (size_t)snprintf(line + at, sizeof(line) - at,
			                       ", held %u, queued %" PRIu64
			                       ", lost %" PRIu64, p->held,
			                       p->queued, p->lost);
		if (at < sizeof(line))
			at += (size_t)snprintf(line + at, sizeof(line) - at,
			                       ")");
	}
	field(name, "%s", line);
}

static void print_channel(const struct shmq_stat *st)
{
	struct shmq_chan_info in;
	char why[512];
	int err = shmq_chan_stat(st->locator, &in);

	if (err < 0) {
		field("channel", "unreadable: %s",
		      cli_explain(err, NULL, 0, why, sizeof(why)));
		return;
	}
	int samples = in.kind == SHMQ_CHAN_SAMPLES;

	field("type", "%s", cli_chan_kind(in.kind));
	field("policy", "%s", cli_chan_policy(in.policy));
	field("capacity", "%" PRIu64 " (%s)", in.capacity,
	      in.kind == SHMQ_CHAN_SPSC ? "ring bytes"
	      : samples ? "samples in the pool" : "message slots");
	if (samples)
		field("pool_free", "%" PRIu64 " (samples free: nobody holds, "
		      "queues or loans them)", in.pool_free);
	field("msg_size", "%" PRIu64 " (largest message)", in.msg_size);
	char names[64];
	cli_chan_flags(in.flags, "", names, sizeof(names));
	field("flags", "%s", *names ? names : "(none)");
	field("depth_msgs", "%" PRIu64 " (messages queued)", in.depth_msgs);
	field("depth_bytes", "%" PRIu64, in.depth_bytes);
	peers_field("writers", &in, SHMQ_WRITER);
	peers_field("readers", &in, SHMQ_READER);
	field("sent", "%" PRIu64, in.sent);
	field("received", "%" PRIu64, in.received);
	field("lost", "%" PRIu64 " (%s)", in.lost, samples
	      ? "samples overwritten before a reader got them"
	      : "broadcast readers lapped by the writer");
	field("recovered", "%" PRIu64 " (%s taken back from dead peers)",
	      in.recovered, samples ? "sample references" : "slots");
}

static void print_board(const struct shmq_stat *st)
{
	struct shmq_board_info in;
	char why[512];
	int err = shmq_board_stat(st->locator, &in);

	if (err < 0) {
		field("board", "unreadable: %s",
		      cli_explain(err, NULL, 0, why, sizeof(why)));
		return;
	}
	field("entries", "%" PRIu32, in.entries);
	field("value_size", "%" PRIu32 " (largest value)", in.value_size);
	field("named", "%" PRIu32 " (entries with a name)", in.named);
	field("updates", "%" PRIu64 " (values set, all entries)", in.updates);
	field("recovered", "%" PRIu32 " (sets a dead writer left unfinished)",
	      in.recovered);
}

static void print_queue(const struct shmq_stat *st)
{
	field("qnum", "%" PRIu64 " (messages queued)", st->qnum);
	field("size", "%" PRIu64 " (bytes queued)", st->size);
	if (st->qbytes)
		field("qbytes", "%" PRIu64 " (capacity)", st->qbytes);
	else
		field("qbytes", "unknown (needs read access)");
}

static void print_text(const struct shmq_stat *st)
{
	int sem = st->family == SHMQ_FAMILY_SYSV_SEM;
	int msg = st->family == SHMQ_FAMILY_SYSV_MSG;

	field("family", "%s", cli_family(st->family));
	text_field("locator", st->locator);
	if (cli_is_sysv(st->family)) {
		field("key", "0x%08" PRIx32, (uint32_t)st->key);
		field("id", "%d", st->id);
	} else {
		text_field("name", st->name[0] ? st->name : "-");
	}
	text_field("kind", st->kind);
	if (sem)
		field("nsems", "%" PRIu64, st->nsems);
	else if (msg)
		print_queue(st);
	else
		print_memory(st);
	if (!strcmp(st->kind, "channel"))
		print_channel(st);
	else if (!strcmp(st->kind, "board"))
		print_board(st);
	field("mode", "%04o", st->mode);
	id_fields("uid", st->uid, "gid", st->gid);
	id_fields("cuid", st->cuid, "cgid", st->cgid);
	if (msg && st->lspid)
		pid_field("lspid", st->lspid, st->lspid_alive);
	else if (msg)
		field("lspid", "none (nothing sent yet)");
	if (msg && st->lrpid)
		pid_field("lrpid", st->lrpid, st->lrpid_alive);
	else if (msg)
		field("lrpid", "none (nothing received yet)");
	if (sem || msg) {
		time_field(sem ? "otime" : "atime", st->atime);
		time_field("ctime", st->ctime);
	} else {
		print_users(st);
	}
	field("orphan", "%s", st->orphan ? "yes (no live attacher, creator "
	      "dead)" : "no");
	field("stale", "%s", st->stale ? "yes (every participant is dead)"
	                               : "no");
	if (!sem && !msg)
		field("huge", "%s", st->huge > 0 ? "yes" : st->huge == 0 ? "no"
		      : "? (only a process that maps it sees its page size, "
		        "and none that this one can read does)");
}

static int run_stat(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct shmq_stat st;
	int json = 0, o, err;

	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0)
		json = 1;
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 1, "LOCATOR"))
		return CLI_USAGE;
	err = shmq_stat(argv[optind], &st);
	if (err < 0)
		return cli_fail(err, argv[optind], 0);
	if (json) {
		cli_json_stat(stdout, &st);
		putchar('\n');
	} else {
		print_text(&st);
	}
	return CLI_OK;
}
