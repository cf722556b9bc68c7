/* Helpers every command shares: options, errors, numbers, JSON. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cli_print_help(const struct cli_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: shmq %s\n%s", cmd->usage, cmd->help);
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shmq%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: shmq %s\n", cmd ? cmd->usage : CLI_MAIN_USAGE);
	return CLI_USAGE;
}

/* The text of the option getopt_long just rejected. */
static void bad_option(char **argv, char *buf, size_t len)
{
	const char *arg = argv[optind - 1];

	if (optopt && strncmp(arg, "--", 2) != 0)
		snprintf(buf, len, "-%c", optopt);
	else
		snprintf(buf, len, "%s", arg);
}

int cli_getopt(const struct cli_cmd *cmd, int argc, char **argv,
               const struct option *opts)
{
	char opt[64];
	int o;

	opterr = 0; /* we print our own messages, with the usage line */
	o = getopt_long(argc, argv, ":h", opts, NULL);
	if (o == 'h') {
		cli_print_help(cmd, stdout);
		return CLI_OPT_HELP;
	}
	if (o == '?' || o == ':') {
		bad_option(argv, opt, sizeof(opt));
		cli_usage_error(cmd, o == '?' ? "unknown option '%s'"
		                               : "option '%s' needs a value",
		                opt);
		return CLI_OPT_BAD;
	}
	return o;
}

int cli_opt_exit(int opt)
{
	return opt == CLI_OPT_HELP ? CLI_OK : CLI_USAGE;
}

int cli_operands(const struct cli_cmd *cmd, int argc, char **argv, int n,
                 const char *what)
{
	if (argc - optind < n)
		return cli_usage_error(cmd, "missing %s", what);
	if (argc - optind > n)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		                       argv[optind + n]);
	return CLI_OK;
}

/* The family object names, or 0. */
static int family_of(const char *object)
{
	struct shmq_locator loc;

	return object && shmq_locator_parse(object, &loc) == 0 ? loc.family : 0;
}

/* This tool's options and commands for the fix shmq_explain() says in the
 * API's terms, written to buf; "" when it has none. */
static void tool_fix(int err, const char *object, char *buf, size_t len)
{
	const char *o = object ? object : "NAME";
	int family = family_of(object);
	int memory = family == SHMQ_FAMILY_SYSV ||
	             family == SHMQ_FAMILY_POSIX || family == SHMQ_FAMILY_MEMFD;

	buf[0] = '\0';
	switch (err) {
	case -EACCES: snprintf(buf, len, "--mode"); break;
	case -ENOENT: snprintf(buf, len, "shmq ls"); break;
	case -EEXIST: case SHMQ_EVERSION: case SHMQ_ETRUNCATED:
		snprintf(buf, len, "shmq rm %s", o); break;
	case SHMQ_EOWNER:
		snprintf(buf, len, "shmq rm %s, or --any-owner", o); break;
	case SHMQ_EPEERS: snprintf(buf, len, "shmq stat %s", o); break;
	case SHMQ_ESIZEMIN: snprintf(buf, len, "--size"); break;
	case -ENOSPC:
		snprintf(buf, len, "%s", family == SHMQ_FAMILY_SYSV
		         ? "shmq rm --orphans" : "shmq ls, shmq rm"); break;
	case -EMSGSIZE:
		if (family != SHMQ_FAMILY_SYSV_MSG)
			snprintf(buf, len, "--capacity (spsc) or --msg-size "
			                   "(mpmc, broadcast, samples)");
		break;
	case SHMQ_EPOOL:
		snprintf(buf, len, "--capacity, --hold or --history"); break;
	case SHMQ_EFAMILY:
		if (family && !memory)
			snprintf(buf, len, "shmq ls, stat and rm work on it");
		break;
	}
}

char *cli_explain(int err, const char *object, size_t size, char *buf,
                  size_t len)
{
	char fix[SHMQ_LOCATOR_MAX + 64];
	size_t n;

	shmq_explain(err, object, size, buf, len);
	tool_fix(err, object, fix, sizeof(fix));
	n = strlen(buf);
	if (fix[0] && n + 1 < len)
		snprintf(buf + n, len - n, "; with this tool: %s", fix);
	return buf;
}

int cli_fail(int err, const char *object, size_t size)
{
	char line[1024];

	fprintf(stderr, "shmq: %s\n", cli_explain(err, object, size, line,
	                                          sizeof(line)));
	return CLI_ERR;
}

int cli_failf(const char *fmt, ...)
{
	va_list ap;

	fputs("shmq: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_ERR;
}

void cli_stop_signals(sigset_t *set)
{
	static const int stop[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
		if (sigaction(stop[i], NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_IGN)
			sigaddset(set, stop[i]);
}

int cli_die_of(int sig)
{
	sigset_t one;

	sigemptyset(&one);
	sigaddset(&one, sig);
	signal(sig, SIG_DFL);
	raise(sig); /* pending until unblocked */
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	return 128 + sig;
}

static unsigned size_shift(char c)
{
	switch (c) {
	case 'K': case 'k': return 10;
	case 'M': case 'm': return 20;
	case 'G': case 'g': return 30;
	}
	return 0;
}

const char *cli_parse_size(const char *text, uint64_t *v)
{
	unsigned long long n;
	unsigned shift;
	char *end;

	/* strtoull would accept " -1" as a huge number: digits only. */
	if (!isdigit((unsigned char)text[0]))
		return text[0] == '-' ? "it is negative"
		                      : "expected a number: N, NK, NM or NG";
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return "it is too large";
	shift = size_shift(*end);
	if (shift)
		end++;
	if (*end)
		return "expected a number: N, NK, NM or NG";
	if (n > (UINT64_MAX >> shift))
		return "it is too large";
	*v = (uint64_t)n << shift;
	return NULL;
}

const char *cli_parse_nonzero(const char *text, const char *zero, size_t *v)
{
	const char *why;
	uint64_t n;

	why = cli_parse_size(text, &n);
	if (why)
		return why;
	if (n == 0)
		return zero;
	if ((size_t)n != n)
		return "it is too large for this machine";
	*v = (size_t)n;
	return NULL;
}

const char *cli_parse_seconds(const char *text, int64_t *ns)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(text, &end);
	if (end == text || *end || !isfinite(s))
		return "expected seconds, e.g. 2 or 0.5";
	if (s <= 0)
		return "it must be more than 0";
	if (s > 1e9) /* 31 years */
		return "it is too large";
	*ns = (int64_t)(s * 1e9);
	return *ns ? NULL : "it is below a nanosecond";
}

const char *cli_parse_mode(const char *text, unsigned *mode)
{
	unsigned long m;
	char *end;

	if (!text[0] || strspn(text, "01234567") != strlen(text))
		return "expected octal permission bits, e.g. 0640";
	m = strtoul(text, &end, 8);
	if (m > 0777)
		return "only permission bits (0001..0777) apply";
	/* The library reads mode 0 as "default 0600": refuse, do not widen. */
	if (m == 0)
		return "mode 0 would lock everyone out; use at least 0400";
	*mode = (unsigned)m;
	return NULL;
}

const char *cli_family(int family)
{
	const char *name = shmq_family_name(family);

	return name ? name : "unknown";
}

int cli_is_sysv(int family)
{
	return family == SHMQ_FAMILY_SYSV || family == SHMQ_FAMILY_SYSV_SEM ||
	       family == SHMQ_FAMILY_SYSV_MSG;
}

const char *cli_user(uid_t uid, char *buf, size_t len)
{
	const struct passwd *pw = getpwuid(uid);

	if (pw && pw->pw_name)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
	return buf;
}

char *cli_scrub(char *text)
{
	char *p;

	for (p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return text;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0; /* also stops at the NUL */
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

/*
 * Names in /dev/shm are arbitrary bytes. JSON must be UTF-8, so a byte that
 * is not part of valid UTF-8 is written as \u00XX (its Latin-1 reading).
 */
void cli_json_str(FILE *f, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n;

	fputc('"', f);
	while (*s) {
		n = utf8_seq(s);
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (n == 0 || *s < 0x20 || *s == 0x7f)
			fprintf(f, "\\u%04x", *s);
		else
			fwrite(s, 1, n, f);
		s += n ? n : 1;
	}
	fputc('"', f);
}

static void json_num(FILE *f, const char *key, int64_t v, int null)
{
	if (null)
		fprintf(f, ", \"%s\": null", key);
	else
		fprintf(f, ", \"%s\": %" PRId64, key, v);
}

/* A fact that may be unknown: true, false, or null when v is negative
 * (SHMQ_PID_UNKNOWN, a huge of -1). */
static void json_tri(FILE *f, const char *key, int v)
{
	fprintf(f, ", \"%s\": %s", key, v < 0 ? "null" : v ? "true" : "false");
}

static void json_bool(FILE *f, const char *key, int v)
{
	fprintf(f, ", \"%s\": %s", key, v ? "true" : "false");
}

static void json_ids(FILE *f, const struct shmq_stat *st)
{
	char user[64];

	fprintf(f, ", \"uid\": %u, \"gid\": %u, \"cuid\": %u, \"cgid\": %u",
	        (unsigned)st->uid, (unsigned)st->gid, (unsigned)st->cuid,
	        (unsigned)st->cgid);
	fputs(", \"owner\": ", f);
	cli_json_str(f, cli_user(st->uid, user, sizeof(user)));
}

/* The fields of a semaphore set or a message queue; null for the others. */
static void json_ipc(FILE *f, const struct shmq_stat *st)
{
	int sem = st->family == SHMQ_FAMILY_SYSV_SEM;
	int msg = st->family == SHMQ_FAMILY_SYSV_MSG;

	json_num(f, "nsems", (int64_t)st->nsems, !sem);
	json_num(f, "qnum", (int64_t)st->qnum, !msg);
	json_num(f, "qbytes", (int64_t)st->qbytes, !msg || st->qbytes == 0);
	json_num(f, "lspid", st->lspid, !msg || st->lspid == 0);
	json_num(f, "lrpid", st->lrpid, !msg || st->lrpid == 0);
	json_tri(f, "lspid_alive", !msg || st->lspid == 0 ? SHMQ_PID_UNKNOWN
	                                                     : st->lspid_alive);
	json_tri(f, "lrpid_alive", !msg || st->lrpid == 0 ? SHMQ_PID_UNKNOWN
	                                                     : st->lrpid_alive);
}

void cli_json_stat(FILE *f, const struct shmq_stat *st)
{
	int sysv = cli_is_sysv(st->family);

	fprintf(f, "{\"family\": \"%s\", \"locator\": ", cli_family(st->family));
	cli_json_str(f, st->locator);
	fputs(", \"name\": ", f);
	if (st->name[0])
		cli_json_str(f, st->name);
	else
		fputs("null", f);
	if (sysv)
		fprintf(f, ", \"key\": \"0x%08" PRIx32 "\"", (uint32_t)st->key);
	else
		fputs(", \"key\": null", f);
	json_num(f, "id", st->id, !sysv);
	fprintf(f, ", \"size\": %" PRIu64 ", \"mapped_size\": %" PRIu64
	        ", \"mode\": \"%04o\"", st->size, st->mapped_size, st->mode);
	json_ids(f, st);
	json_num(f, "nattch", st->nattch, st->nattch < 0);
	json_num(f, "cpid", st->cpid, st->cpid == 0);
	json_num(f, "lpid", st->lpid, st->lpid == 0);
	json_tri(f, "cpid_alive", st->cpid == 0 ? SHMQ_PID_UNKNOWN
	                                           : st->cpid_alive);
	json_tri(f, "lpid_alive", st->lpid == 0 ? SHMQ_PID_UNKNOWN
	                                           : st->lpid_alive);
	json_num(f, "atime", st->atime, st->atime == 0);
	json_num(f, "dtime", st->dtime, st->dtime == 0);
	json_num(f, "ctime", st->ctime, st->ctime == 0);
	json_bool(f, "removed", st->removed);
	json_bool(f, "orphan", st->orphan);
	json_bool(f, "stale", st->stale);
	json_tri(f, "huge", st->huge);
	fputs(", \"kind\": ", f);
	cli_json_str(f, st->kind);
	json_ipc(f, st);
	cli_json_chan(f, st);
	fputc('}', f);
}
