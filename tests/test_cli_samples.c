/*
 * shmq send and recv on sample channels (--kind samples), and what stat and
 * ls show of them: a file arrives byte for byte at two readers, the
 * pool too small for its readers names the options to change, stat
 * shows a reader's held, queued and lost samples and the pool's free ones,
 * and a writer that dies is reported as dead, not as an end of stream.
 * Processes wait for each other through pipes or the peer table, never by
 * sleeping a guessed time.
 */
#include "layout.h"
#include "shmq.h"
#include "test.h"
#include "cli_util.h"
#include "tutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Two readers and a writer of an 8 MiB x 16 pool, in one shell: it prints
 * the input's hash, then each reader's. send waits for both readers. */
static const char three[] =
	"set -e -o pipefail\n"
	"in=$(mktemp); trap 'rm -f \"$in\" \"$in.a\" \"$in.b\"' EXIT\n"
	"head -c 25165829 /dev/urandom > \"$in\"\n"
	"g='--create --kind samples --msg-size 8M --capacity 16 --binary'\n"
	"\"$1\" recv \"$2\" $g | sha256sum > \"$in.a\" & a=$!\n"
	"\"$1\" recv \"$2\" $g --stats | sha256sum > \"$in.b\" & b=$!\n"
	"\"$1\" send \"$2\" $g --readers 2 < \"$in\"\n"
	"wait $a; wait $b\n"
	"sha256sum < \"$in\"; cat \"$in.a\" \"$in.b\"\n";

TEST(cli_samples_a_file_reaches_two_readers_byte_for_byte)
{
	char name[64], hash[66];
	struct t_run r;

	t_name(name, sizeof(name), "smp");
	t_exec(&r, NULL, (char *[]){ "bash", "-c", (char *)three, "sh",
	       (char *)t_shmq_bin(), name, NULL });
	check_ok(&r);
	CHECK_EQ(strlen(r.out), 3 * 64 + 3 * 4); /* "HASH  -\n" x 3 */
	snprintf(hash, sizeof(hash), "%.64s", r.out);
	CHECK(strncmp(r.out + 68, hash, 64) == 0);
	CHECK(strncmp(r.out + 136, hash, 64) == 0);
	CHECK_HAS(r.err, " 25165829 bytes");
	CHECK_HAS(r.err, " 0 lost");
	CHECK(!posix_exists(name));
}

/* The usage errors of --hold, --history and --huge are in
 * cli_chan_bad_options_are_usage_errors (test_cli_chan.c). */
TEST(cli_samples_a_pool_too_small_names_the_options_to_change)
{
	char name[64];
	struct t_run r;

	t_name(name, sizeof(name), "sopt");
	/* A pool too small for its one reader: the library's rule and the
	 * tool's options to fix it. */
	SHMQ(&r, "send", name, "--create", "--kind", "samples", "--capacity",
	     "4", "--hold", "2", "--history", "1");
	check_error_line(&r, "capacity >= readers * hold + history + 2");
	CHECK_HAS(r.err, "with this tool: --capacity, --hold or --history");
	SHMQ(&r, "send", name, "--create", "--kind", "samples", "--capacity",
	     "8", "--hold", "9");
	check_error_line(&r, "no samples channel of this geometry (capacity "
	                 "8, hold 9, history 0");
	CHECK(!posix_exists(name));
}

/* ---- stat while a reader holds samples ------------------------------------ */

static void put(int fd)
{
	CHECK_EQ(write(fd, "x", 1), 1);
}

static void get(int fd)
{
	char c;

	CHECK_EQ(read(fd, &c, 1), 1);
}

/* The reader: joins, says so, holds `n` samples when told, says so, and
 * waits for the end (its pipe closed) before it closes. */
static void holder(const char *name, unsigned n, int go, int done)
{
	const void *p;
	char c;
	shmq_chan *ch = t_chan_attach(name, SHMQ_READER);

	put(done);
	get(go);
	for (unsigned i = 0; i < n; i++)
		if (shmq_chan_try_peek(ch, &p) < 0)
			_exit(3);
	put(done);
	(void)!read(go, &c, 1); /* EOF: the test is over */
	shmq_chan_close(ch);
	_exit(0);
}

static void send_n(shmq_chan *ch, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(shmq_chan_try_send(ch, "sample", 6), 0);
}

TEST(cli_samples_stat_shows_held_queued_lost_and_pool_free)
{
	struct shmq_chan_opts o = { .kind = SHMQ_CHAN_SAMPLES, .capacity = 8,
		                    .msg_size = 4096, .hold = 3,
		                    .policy = SHMQ_POLICY_OVERWRITE,
		                    .spin_ns = -1 };
	char name[64], want[256], v[4096];
	int go[2], done[2];
	struct t_run r;
	shmq_chan *ch;
	pid_t pid;

	t_name(name, sizeof(name), "sstat");
	CHECK_EQ(shmq_chan_create(&ch, name, SHMQ_WRITER, &o), 0);
	CHECK(pipe(go) == 0 && pipe(done) == 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(done[0]);
		holder(name, 3, go[0], done[1]);
	}
	close(go[0]);
	close(done[1]);
	get(done[0]);            /* it joined */
	send_n(ch, 5);
	put(go[1]);
	get(done[0]);            /* it holds 3; 2 are queued for it */
	SHMQ(&r, "stat", name);
	check_ok(&r);
	CHECK_STREQ(field(r.out, "type", v, sizeof(v)), "samples");
	CHECK_HAS(field(r.out, "pool_free", v, sizeof(v)), "3 (samples free");
	CHECK_HAS(field(r.out, "capacity", v, sizeof(v)),
	          "8 (samples in the pool)");
	snprintf(want, sizeof(want), "%d (alive, ", (int)pid);
	CHECK_HAS(field(r.out, "readers", v, sizeof(v)), want);
	CHECK_HAS(v, "held 3, queued 2, lost 0)");
	/* Overwrite: 3 more take the free ones, 2 more drop the oldest two
	 * queued samples (never a held one). */
	send_n(ch, 5);
	SHMQ(&r, "stat", name, "--json");
	check_ok(&r);
	CHECK_HAS(r.out, "\"channel\": {\"type\": \"samples\", \"capacity\": "
	          "8, \"msg_size\": 4096, \"policy\": \"overwrite\"");
	CHECK_HAS(r.out, "\"pool_free\": 0,");
	snprintf(want, sizeof(want), "\"readers\": [{\"pid\": %d, \"alive\": "
	         "true, \"msgs\": ", (int)pid);
	CHECK_HAS(r.out, want);
	CHECK_HAS(r.out, "\"held\": 3, \"queued\": 5, \"lost\": 2}]");
	SHMQ(&r, "stat", name);
	CHECK_HAS(field(r.out, "readers", v, sizeof(v)),
	          "held 3, queued 5, lost 2)");
	CHECK_HAS(field(r.out, "lost", v, sizeof(v)), "(samples overwritten");
	SHMQ(&r, "ls", "--json");
	snprintf(want, sizeof(want), "\"name\": \"%s\"", name);
	CHECK(strstr(r.out, want) != NULL);
	line_with(r.out, want, v, sizeof(v));
	CHECK_HAS(v, "\"channel\": {\"type\": \"samples\"");
	close(go[1]);
	CHECK_EQ(t_wait(pid), 0);
	close(done[0]);
	CHECK_EQ(shmq_chan_close(ch), 0);
	CHECK(!posix_exists(name));
}

/* ---- A writer that dies -------------------------------------------------- */

/* Makes the channel, waits for recv to join, sends 3 lines and dies. */
static void doomed_writer(const char *name)
{
	struct shmq_chan_opts o = { .kind = SHMQ_CHAN_SAMPLES, .capacity = 16,
		                    .msg_size = 1 << 20, .spin_ns = -1 };
	const struct timespec pause = { 0, 1000000 };
	struct shmq_chan_info in;
	shmq_chan *ch;

	if (shmq_chan_create(&ch, name, SHMQ_WRITER, &o) < 0)
		_exit(3);
	while (shmq_chan_info(ch, &in) == 0 && in.readers < 1)
		nanosleep(&pause, NULL); /* polls the peer table */
	for (int i = 1; i <= 3; i++) {
		char line[16];
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		if (shmq_chan_send(ch, line, (size_t)n) < 0)
			_exit(4);
	}
	raise(SIGKILL);
}

TEST(cli_samples_recv_reports_a_dead_writer_after_what_it_sent)
{
	const struct timespec pause = { 0, 1000000 };
	char name[64], want[128];
	struct t_run r;
	pid_t pid;

	t_name(name, sizeof(name), "sdead");
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		doomed_writer(name);
	while (!posix_exists(name))
		nanosleep(&pause, NULL); /* the object appears whole */
	SHMQ(&r, "recv", name, "--timeout", "20");
	CHECK_EQ(t_wait(pid), 128 + SIGKILL);
	CHECK_STREQ(r.out, "line 1\nline 2\nline 3\n");
	snprintf(want, sizeof(want), "writer pid %d died", (int)pid);
	check_error_line(&r, want);
	CHECK_HAS(r.err, "3 messages received");
	CHECK(!posix_exists(name));
}

/* ---- a persistent channel's data segment --------------------------------- */

/* The System V id of the data segment the header of channel name names. */
static uint32_t data_id_of(const char *name)
{
	char path[128];
	struct shmq_chan_hdr h;
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	return h.data_id;
}

/* Nobody attaches a persistent channel's data segment between users and
 * its creator is gone: it is still no orphan while its channel exists,
 * `shmq rm` of the channel takes it too, and without its channel it is an
 * orphan that `rm --orphans` sweeps. */
TEST(cli_samples_persistent_data_is_no_orphan_and_goes_with_its_channel)
{
	char name[64], id[48];
	struct shmq_stat st;
	struct t_run r;

	t_name(name, sizeof(name), "spd");
	for (int round = 0; round < 2; round++) {
		t_shmq(&r, "a\nb\n", "send", name, "--create", "--kind",
		       "samples", "--capacity", "4", "--msg-size", "4K",
		       "--readers", "0", "--persist", (char *)NULL);
		check_ok(&r);
		snprintf(id, sizeof(id), "sysv:id=%u", data_id_of(name));
		CHECK_EQ(shmq_stat(id, &st), 0);
		CHECK_STREQ(st.kind, "samples-data");
		CHECK_EQ(st.orphan, 0);
		SHMQ(&r, "rm", "--orphans", "--dry-run");
		CHECK(!strstr(r.out, id));
		if (round == 0) {
			SHMQ(&r, "rm", name);
			check_ok(&r);
			CHECK_EQ(shmq_stat(id, &st), -ENOENT);
			continue;
		}
		/* Its channel's file removed behind shmq's back. */
		CHECK_EQ(shmq_unlink(name), 0);
		CHECK_EQ(shmq_stat(id, &st), 0);
		CHECK_STREQ(st.kind, "raw");
		CHECK_EQ(st.orphan, 1);
		SHMQ(&r, "rm", id);
		check_ok(&r);
	}
	CHECK(!posix_exists(name));
}
