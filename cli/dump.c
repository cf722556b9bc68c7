/* shmq dump: the bytes of a segment in hexdump -C format, read-only. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

static int run_dump(const struct cli_cmd *cmd, int argc, char **argv);

const struct cli_cmd cli_dump = {
	"dump",
	"dump LOCATOR [--offset N] [--length N]",
	"Prints the bytes of a segment like hexdump -C (a repeated line shows\n"
	"as '*'). The segment is attached read-only.\n\n"
	"  --offset N   start N bytes in (N, NK, NM or NG; default 0)\n"
	"  --length N   print N bytes (default: up to the end)\n",
	run_dump,
};

struct hexdump {
	unsigned char prev[16];
	int have_prev; /* prev holds the last full line printed */
	int starred;   /* a '*' stands for the lines since */
};

static void hex_line(struct hexdump *h, uint64_t at, const unsigned char *p,
                     size_t n)
{
	size_t i;

	if (n == 16 && h->have_prev && memcmp(p, h->prev, 16) == 0) {
		if (!h->starred)
			puts("*");
		h->starred = 1;
		return;
	}
	h->starred = 0;
	printf("%08" PRIx64 " ", at);
	for (i = 0; i < 16; i++) {
		if (i == 8)
			putchar(' ');
		if (i < n)
			printf(" %02x", p[i]);
		else
			fputs("   ", stdout);
	}
	fputs("  |", stdout);
	for (i = 0; i < n; i++)
		putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
	fputs("|\n", stdout);
	if (n == 16) {
		memcpy(h->prev, p, 16);
		h->have_prev = 1;
	}
}

/*
 * Copies n bytes at off. An fd-backed object is read with pread, so a peer
 * that shrinks the file gives a short read here instead of SIGBUS.
 */
static int seg_read(const shmq_seg *seg, uint64_t off, unsigned char *buf,
                    size_t n)
{
	int fd = shmq_seg_fd(seg);
	ssize_t r;

	if (fd < 0) {
		memcpy(buf, (const unsigned char *)shmq_seg_addr(seg) + off, n);
		return 0;
	}
	r = pread(fd, buf, n, (off_t)off);
	if (r < 0)
		return -errno;
	return (size_t)r == n ? 0 : -ERANGE;
}

static int dump_range(const shmq_seg *seg, const char *loc, uint64_t off,
                      uint64_t len)
{
	unsigned char buf[4096 * 16]; /* whole lines: blocks split no line */
	struct hexdump h = { { 0 }, 0, 0 };
	uint64_t done;
	size_t n, i;
	int err;

	for (done = 0; done < len; done += n) {
		n = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
		err = seg_read(seg, off + done, buf, n);
		if (err == -ERANGE)
			return cli_failf("%s: the object shrank below %" PRIu64
			                 " bytes while being dumped; run dump "
			                 "again", loc, off + done + n);
		if (err < 0)
			return cli_fail(err, loc, 0);
		for (i = 0; i < n; i += 16)
			hex_line(&h, off + done + i, buf + i,
			         n - i < 16 ? n - i : 16);
	}
	if (len)
		printf("%08" PRIx64 "\n", off + len);
	return CLI_OK;
}

/* Bounds --offset and --length by the segment size; 0 or an error line. */
static int check_range(const char *loc, uint64_t size, uint64_t off,
                       uint64_t *len, int have_len)
{
	if (off > size)
		return cli_failf("%s: --offset %" PRIu64 " is beyond the end of "
		                 "the segment (%" PRIu64 " bytes); use an offset "
		                 "up to %" PRIu64, loc, off, size, size);
	if (!have_len)
		*len = size - off;
	else if (*len > size - off)
		return cli_failf("%s: --offset %" PRIu64 " --length %" PRIu64
		                 " goes beyond the end of the segment (%" PRIu64
		                 " bytes); use a length up to %" PRIu64, loc, off,
		                 *len, size, size - off);
	return CLI_OK;
}

static int dump(const char *loc, uint64_t off, uint64_t len, int have_len)
{
	/* Showing bytes trusts none of them: anyone's object may be dumped. */
	struct shmq_seg_opts so = { .flags = SHMQ_SEG_RDONLY |
	                                     SHMQ_ANY_OWNER };
	shmq_seg *seg;
	int rc;

	rc = shmq_seg_open(&seg, loc, &so);
	if (rc < 0)
		return cli_fail(rc, loc, 0);
	rc = check_range(loc, shmq_seg_size(seg), off, &len, have_len);
	if (rc == CLI_OK)
		rc = dump_range(seg, loc, off, len);
	shmq_seg_close(seg);
	return rc;
}

static int run_dump(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "offset", required_argument, NULL, 'o' },
		{ "length", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t off = 0, len = 0;
	int have_len = 0, o;
	const char *why;

	while ((o = cli_getopt(cmd, argc, argv, opts)) >= 0) {
		why = cli_parse_size(optarg, o == 'o' ? &off : &len);
		if (why)
			return cli_usage_error(cmd, "invalid --%s '%s': %s",
			                       o == 'o' ? "offset" : "length",
			                       optarg, why);
		have_len |= o == 'l';
	}
	if (o != CLI_OPT_END)
		return cli_opt_exit(o);
	if (cli_operands(cmd, argc, argv, 1, "LOCATOR"))
		return CLI_USAGE;
	return dump(argv[optind], off, len, have_len);
}
