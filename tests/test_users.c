/*
 * Other users and limits. Parts run as other uids (65534, 65533: setuid in
 * a forked child, which needs root; no account is needed for a bare uid):
 * a name another user took first is refused, not attached; a narrow mode
 * keeps others out; read access maps read-only. And every limit a channel
 * or segment can hit gives its error with the numbers: peer places, message
 * size, a small /dev/shm (a private mount namespace), an address-space
 * limit (setrlimit RLIMIT_AS, what ulimit -v does).
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOBODY 65534
#define OTHER 65533
#define MiB ((size_t)1 << 20)

/* What a child running as another user found: a return code, the
 * explanation of it, a byte it read. */
struct outcome {
	int rc;
	char msg[2048];
	char byte;
	struct t_run run; /* a tool run */
};

/* Runs fn(arg, out) in a forked child, as uid (gid the same, no groups)
 * unless that is us already, and returns what it found; the child must
 * exit 0 (or die by signal `sig`). */
static struct outcome *as_user(uid_t uid, void (*fn)(void *, struct outcome *),
                               void *arg, int sig)
{
	struct outcome *out = mmap(NULL, sizeof(*out), PROT_READ | PROT_WRITE,
	                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(out != MAP_FAILED);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (uid != geteuid()) {
			CHECK_EQ(setgroups(0, NULL), 0);
			CHECK_EQ(setgid(uid), 0);
			CHECK_EQ(setuid(uid), 0);
		}
		fn(arg, out);
		_exit(0);
	}
	CHECK_EQ(t_wait(pid), sig ? 128 + sig : 0);
	return out;
}

static void done(struct outcome *out)
{
	munmap(out, sizeof(*out));
}

static void explain(struct outcome *out, int rc, const char *loc, size_t size)
{
	out->rc = rc;
	shmq_explain(rc, loc, size, out->msg, sizeof(out->msg));
}

static int seg_create_rc(const char *loc, size_t size, unsigned mode,
                         unsigned flags)
{
	struct shmq_seg_opts o = {.size = size, .mode = mode, .flags = flags};
	shmq_seg *s = (shmq_seg *)&o;
	int rc = shmq_seg_create(&s, loc, &o);
	if (rc == 0)
		CHECK_EQ(shmq_seg_close(s), 0);
	else
		CHECK(s == NULL);
	return rc;
}

static int seg_open_rc(const char *loc, unsigned flags)
{
	struct shmq_seg_opts o = {.flags = flags};
	shmq_seg *s = (shmq_seg *)&o;
	int rc = shmq_seg_open(&s, loc, &o);
	if (rc == 0)
		CHECK_EQ(shmq_seg_close(s), 0);
	else
		CHECK(s == NULL);
	return rc;
}

static void msg_of(int rc, const char *loc, char *buf, size_t len)
{
	shmq_explain(rc, loc, 0, buf, len);
}

/* ---- A name another user took first -------------------------------------- */

/* The squatter: a 0666 object holding "planted". */
static void plant_seg(void *loc, struct outcome *out)
{
	struct shmq_seg_opts o = {.size = 4096, .mode = 0666};
	shmq_seg *s;
	CHECK_EQ(shmq_seg_create(&s, loc, &o), 0);
	strcpy(shmq_seg_addr(s), "planted");
	CHECK_EQ(shmq_seg_close(s), 0);
	out->rc = 0;
}

/* We (root) meet the squatted name: create fails naming the owner, open
 * and open-or-create refuse it (the mode would let us in), and only the
 * explicit opt-in attaches it. */
static void squatted_segment_is_refused(const char *loc, const char *owner)
{
	char msg[2048];
	shmq_seg *s;
	CHECK_EQ(seg_create_rc(loc, 4096, 0, 0), -EEXIST);
	msg_of(-EEXIST, loc, msg, sizeof(msg));
	CHECK_HAS(msg, "already exists");
	CHECK_HAS(msg, "uid 65534");
	CHECK_HAS(msg, "0666");

	CHECK_EQ(seg_create_rc(loc, 4096, 0, SHMQ_OPEN_OK), SHMQ_EOWNER);
	CHECK_EQ(seg_open_rc(loc, 0), SHMQ_EOWNER);
	CHECK_EQ(seg_open_rc(loc, SHMQ_SEG_RDONLY), SHMQ_EOWNER);
	msg_of(SHMQ_EOWNER, loc, msg, sizeof(msg));
	CHECK_HAS(msg, loc);
	CHECK_HAS(msg, owner);
	CHECK_HAS(msg, "mode 0666");
	CHECK_HAS(msg, "not attached");
	CHECK_HAS(msg, "SHMQ_ANY_OWNER");
	CHECK_HAS(shmq_err_name(SHMQ_EOWNER), "SHMQ_EOWNER");

	/* Looking trusts nothing: the tool dumps anyone's object. */
	struct t_run *r = malloc(sizeof(*r));
	CHECK(r != NULL);
	t_shmq(r, NULL, "dump", loc, "--length", "16", (char *)NULL);
	CHECK_EQ(r->status, 0);
	CHECK_HAS(r->out, "|planted.........|");
	/* The tool's create: refused naming the owner, or taken on request. */
	t_shmq(r, NULL, "create", loc, "--size", "4K", "--or-open", (char *)NULL);
	CHECK_EQ(r->status, 1);
	CHECK_HAS(r->err, owner);
	t_shmq(r, NULL, "create", loc, "--size", "4K", "--any-owner",
	       (char *)NULL);
	CHECK_EQ(r->status, 2); /* it means nothing without --or-open */
	t_shmq(r, NULL, "create", loc, "--size", "4K", "--or-open",
	       "--any-owner", (char *)NULL);
	CHECK_EQ(r->status, 0);
	free(r);

	struct shmq_seg_opts o = {.flags = SHMQ_ANY_OWNER};
	CHECK_EQ(shmq_seg_open(&s, loc, &o), 0);
	CHECK(!strcmp(shmq_seg_addr(s), "planted"));
	CHECK_EQ(shmq_seg_close(s), 0);
	o.flags |= SHMQ_OPEN_OK;
	o.size = 4096;
	CHECK_EQ(shmq_seg_create(&s, loc, &o), 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(users_posix_name_squatted_by_another_uid_is_refused_naming_owner)
{
	char loc[128];
	t_need_root("running the squatter as another uid");
	t_posix_loc(loc, sizeof(loc), "squat");
	done(as_user(NOBODY, plant_seg, loc, 0));
	squatted_segment_is_refused(loc, "owner uid 65534");
}

/* The squatter also hands the segment to root with IPC_SET: it stays its
 * creator, able to change or remove it, so it is still not ours. */
static void give_to_root(void *loc, struct outcome *out)
{
	plant_seg(loc, out);
	CHECK_EQ(shmq_seg_setperm(loc, 0, (gid_t)-1, -1), 0);
}

TEST(users_sysv_key_squatted_by_another_uid_is_refused_even_if_given_away)
{
	char loc[64];
	t_need_root("running the squatter as another uid");
	t_sysv_loc(loc, sizeof(loc), 1);
	done(as_user(NOBODY, plant_seg, loc, 0));
	squatted_segment_is_refused(loc, "owner uid 65534");

	done(as_user(NOBODY, give_to_root, loc, 0));
	struct shmq_stat st;
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.uid, 0);
	CHECK_EQ(st.cuid, NOBODY);
	CHECK_EQ(seg_open_rc(loc, 0), SHMQ_EOWNER);
	char msg[2048];
	msg_of(SHMQ_EOWNER, loc, msg, sizeof(msg));
	CHECK_HAS(msg, "creator uid 65534");
	CHECK_EQ(seg_open_rc(loc, SHMQ_ANY_OWNER), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

/* The squatter's semaphore set (2 semaphores) and message queue, 0666,
 * the queue handed to root with IPC_SET (it stays the creator). */
static void plant_ipc(void *locs, struct outcome *out)
{
	char (*loc)[64] = locs;
	shmq_semset *s;
	shmq_msgq *q;
	struct msqid_ds ds;
	CHECK_EQ(shmq_semset_create(&s, loc[0], T_SEM(2, 0666, 0)), 0);
	CHECK_EQ(shmq_msgq_create(&q, loc[1], T_MSGQ(0666, 0)), 0);
	CHECK_EQ(msgctl(shmq_msgq_id(q), IPC_STAT, &ds), 0);
	ds.msg_perm.uid = 0;
	CHECK_EQ(msgctl(shmq_msgq_id(q), IPC_SET, &ds), 0);
	CHECK_EQ(shmq_semset_close(s), 0);
	CHECK_EQ(shmq_msgq_close(q), 0);
	out->rc = 0;
}

/* Another user opens root's set and queue: root's objects are trusted. */
static void open_roots(void *locs, struct outcome *out)
{
	char (*loc)[64] = locs;
	shmq_semset *s;
	shmq_msgq *q;
	out->rc = shmq_semset_open(&s, loc[0], NULL);
	if (out->rc == 0)
		out->rc = shmq_semset_close(s);
	if (out->rc == 0 && (out->rc = shmq_msgq_open(&q, loc[1], NULL)) == 0)
		out->rc = shmq_msgq_close(q);
}

TEST(users_sysv_sem_and_msg_keys_squatted_by_another_uid_are_refused)
{
	char loc[2][64];
	shmq_semset *s = (shmq_semset *)loc;
	shmq_msgq *q = (shmq_msgq *)loc;
	t_need_root("running the squatter as another uid");
	snprintf(loc[0], sizeof(loc[0]), "sysv-sem:key=0x%08x",
	         (unsigned)t_key(1));
	snprintf(loc[1], sizeof(loc[1]), "sysv-msg:key=0x%08x",
	         (unsigned)t_key(2));
	done(as_user(NOBODY, plant_ipc, loc, 0));

	/* The rule of segments: exclusive create fails, open and
	 * open-or-create refuse another user's object (the mode would let
	 * us in), also when it was given to root: its creator keeps it. */
	CHECK_EQ(shmq_semset_create(&s, loc[0], T_SEM(1, 0, 0)), -EEXIST);
	CHECK_EQ(shmq_semset_create(&s, loc[0], T_SEM(1, 0, SHMQ_OPEN_OK)),
	         SHMQ_EOWNER);
	CHECK(s == NULL);
	CHECK_EQ(shmq_semset_open(&s, loc[0], NULL), SHMQ_EOWNER);
	CHECK(s == NULL);
	CHECK_EQ(shmq_msgq_create(&q, loc[1], T_MSGQ(0, SHMQ_OPEN_OK)),
	         SHMQ_EOWNER);
	CHECK(q == NULL);
	CHECK_EQ(shmq_msgq_open(&q, loc[1], NULL), SHMQ_EOWNER);
	CHECK(q == NULL);

	/* Only the explicit opt-in takes them. */
	CHECK_EQ(shmq_semset_open(&s, loc[0], T_SEM(2, 0, SHMQ_ANY_OWNER)), 0);
	CHECK_EQ(shmq_semset_count(s), 2);
	CHECK_EQ(shmq_semset_close(s), 0);
	CHECK_EQ(shmq_msgq_create(&q, loc[1],
	                          T_MSGQ(0, SHMQ_OPEN_OK | SHMQ_ANY_OWNER)), 0);
	CHECK_EQ(shmq_msgq_id(q), msgget(t_key(2), 0));
	CHECK_EQ(shmq_msgq_close(q), 0);
	CHECK_EQ(shmq_unlink(loc[0]), 0);
	CHECK_EQ(shmq_unlink(loc[1]), 0);

	/* Root's own set and queue are anyone's to open. */
	CHECK_EQ(shmq_semset_create(&s, loc[0], T_SEM(1, 0666, 0)), 0);
	CHECK_EQ(shmq_msgq_create(&q, loc[1], T_MSGQ(0666, 0)), 0);
	struct outcome *o = as_user(NOBODY, open_roots, loc, 0);
	CHECK_EQ(o->rc, 0);
	done(o);
	CHECK_EQ(shmq_semset_close(s), 0);
	CHECK_EQ(shmq_msgq_close(q), 0);
	CHECK_EQ(shmq_unlink(loc[0]), 0);
	CHECK_EQ(shmq_unlink(loc[1]), 0);
}

/* The squatter's channel: a real one, 0666, kept after it closes. */
static void plant_chan(void *loc, struct outcome *out)
{
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_MPMC, .capacity = 8,
	                           .msg_size = 64, .mode = 0666,
	                           .flags = SHMQ_CHAN_PERSIST, .spin_ns = -1};
	shmq_chan *ch;
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), 0);
	CHECK_EQ(shmq_chan_send(ch, "forged", 6), 0);
	CHECK_EQ(shmq_chan_close(ch), 0);
	out->rc = 0;
}

TEST(users_channel_name_squatted_by_another_uid_is_refused_unless_asked)
{
	char loc[128], msg[2048];
	struct shmq_chan_opts o = {.flags = SHMQ_OPEN_OK, .spin_ns = -1};
	struct shmq_chan_info in;
	struct t_run *r = malloc(sizeof(*r));
	shmq_chan *ch = (shmq_chan *)r;
	CHECK(r != NULL);
	t_need_root("running the squatter as another uid");
	t_posix_loc(loc, sizeof(loc), "chsquat");
	done(as_user(NOBODY, plant_chan, loc, 0));

	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_READER, NULL), -EEXIST);
	CHECK(ch == NULL);
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_READER, &o), SHMQ_EOWNER);
	CHECK(ch == NULL);
	CHECK_EQ(shmq_chan_open(&ch, loc, SHMQ_WRITER, NULL), SHMQ_EOWNER);
	msg_of(SHMQ_EOWNER, loc, msg, sizeof(msg));
	CHECK_HAS(msg, "owner uid 65534");
	CHECK_HAS(msg, "mode 0666");
	/* Nobody joined: the peer table still shows only the squatter. */
	CHECK_EQ(shmq_chan_stat(loc, &in), 0);
	CHECK_EQ(in.readers_ever, 0);
	CHECK_EQ(in.writers_ever, 1);

	/* The tool: refused with the owner named, then joined on request. */
	t_shmq(r, NULL, "recv", loc, "--create", "--count", "1", "--timeout",
	       "5", (char *)NULL);
	CHECK_EQ(r->status, 1);
	CHECK_HAS(r->err, "owner uid 65534");
	CHECK_HAS(r->err, "--any-owner");
	CHECK(!strcmp(r->out, ""));
	t_shmq(r, NULL, "recv", loc, "--any-owner", "--count", "1",
	       "--timeout", "5", (char *)NULL);
	CHECK_EQ(r->status, 0);
	CHECK(!strcmp(r->out, "forged\n"));
	/* Looking is not joining: stat shows anyone's channel. */
	t_shmq(r, NULL, "stat", loc, (char *)NULL);
	CHECK_EQ(r->status, 0);
	CHECK_HAS(r->out, "channel");

	o.flags = SHMQ_ANY_OWNER;
	CHECK_EQ(shmq_chan_open(&ch, loc, SHMQ_READER, &o), 0);
	CHECK_EQ(shmq_chan_close(ch), 0);
	CHECK_EQ(shmq_chan_unlink(loc), 0);
	free(r);
}

static void open_it(void *loc, struct outcome *out)
{
	explain(out, seg_open_rc(loc, 0), loc, 0);
}

/* The rule for a user who is not root: its own and root's objects, nobody
 * else's, whatever the mode says. */
static void user_trusts_root_not_others(const char *loc)
{
	CHECK_EQ(seg_create_rc(loc, 4096, 0666, 0), 0);
	struct outcome *out = as_user(NOBODY, open_it, (void *)loc, 0);
	CHECK_EQ(out->rc, 0); /* root's */
	done(out);
	CHECK_EQ(shmq_seg_setperm(loc, OTHER, OTHER, -1), 0);
	out = as_user(NOBODY, open_it, (void *)loc, 0);
	CHECK_EQ(out->rc, SHMQ_EOWNER); /* another user's */
	CHECK_HAS(out->msg, "owner uid 65533");
	CHECK_HAS(out->msg, "this user (uid 65534)");
	done(out);
	out = as_user(OTHER, open_it, (void *)loc, 0);
	CHECK_EQ(out->rc, 0); /* its owner (System V: root created it) */
	done(out);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(users_a_user_opens_its_own_and_roots_objects_not_another_users)
{
	char loc[128];
	t_need_root("switching to other uids");
	user_trusts_root_not_others(t_posix_loc(loc, sizeof(loc), "rule"));
	user_trusts_root_not_others(t_sysv_loc(loc, sizeof(loc), 1));
}

/* ---- Modes keep others out; read access maps read-only ------------------- */

struct chan_try {
	const char *loc;
	int role;
};

static void chan_open_it(void *arg, struct outcome *out)
{
	struct chan_try *t = arg;
	shmq_chan *ch = (shmq_chan *)out;
	int rc = shmq_chan_open(&ch, t->loc, t->role, NULL);
	if (rc == 0)
		CHECK_EQ(shmq_chan_close(ch), 0);
	else
		CHECK(ch == NULL);
	explain(out, rc, t->loc, 0);
}

static void send_tool(void *name, struct outcome *out)
{
	t_shmq(&out->run, "x\n", "send", (char *)name, (char *)NULL);
}

/* A channel of mode `mode` made by root, which another uid tries to join
 * as a reader and a writer, and through the tool: EACCES naming mode and
 * owner, and nothing joined. */
static void chan_keeps_other_uid_out(unsigned mode, const char *tag)
{
	char loc[128], m[16];
	struct shmq_chan_opts o = {.mode = mode, .spin_ns = -1};
	struct shmq_chan_info in;
	shmq_chan *r;
	t_posix_loc(loc, sizeof(loc), tag);
	CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
	snprintf(m, sizeof(m), "mode %04o", mode);
	for (int role = SHMQ_WRITER; role <= SHMQ_READER; role++) {
		struct chan_try t = {loc, role};
		struct outcome *out = as_user(NOBODY, chan_open_it, &t, 0);
		CHECK_EQ(out->rc, -EACCES);
		CHECK_HAS(out->msg, "permission denied");
		CHECK_HAS(out->msg, m);
		CHECK_HAS(out->msg, "owner uid 0");
		done(out);
	}
	struct outcome *out = as_user(NOBODY, send_tool, loc + 6, 0);
	CHECK_EQ(out->run.status, 1);
	CHECK_HAS(out->run.err, m);
	CHECK_HAS(out->run.err, "need read and write access");
	done(out);
	CHECK_EQ(shmq_chan_info(r, &in), 0);
	CHECK_EQ(in.npeers, 1);
	CHECK_EQ(in.writers_ever, 0);
	CHECK_EQ(in.readers_ever, 1);
	CHECK_EQ(shmq_chan_close(r), 0);
}

TEST(users_mode_0600_keeps_another_uid_out_of_a_channel)
{
	t_need_root("switching to another uid");
	chan_keeps_other_uid_out(0600, "ch0600");
}

TEST(users_read_only_access_cannot_join_a_channel_even_as_reader)
{
	/* Every peer writes its line of the peer table: read access is not
	 * enough for a reader either, and it is refused, not a crash. */
	t_need_root("switching to another uid");
	chan_keeps_other_uid_out(0644, "ch0644");
}

/* The consumer: a read-write open is refused, a read-only one reads, and
 * a write through it kills the process. */
static void consume_read_only(void *loc, struct outcome *out)
{
	struct shmq_seg_opts o = {.flags = SHMQ_SEG_RDONLY};
	struct rlimit nocore = {0, 0};
	shmq_seg *s;
	signal(SIGSEGV, SIG_DFL); /* not ASan's handler: die by the signal */
	setrlimit(RLIMIT_CORE, &nocore);
	explain(out, seg_open_rc(loc, 0), loc, 0);
	CHECK_EQ(shmq_seg_open(&s, loc, &o), 0);
	volatile char *p = shmq_seg_addr(s);
	out->byte = p[0];
	p[0] = 'W';
	_exit(0); /* reached only if the write went through */
}

static void read_only_consumer(const char *loc)
{
	struct shmq_seg_opts o = {.size = 4096, .mode = 0644};
	shmq_seg *s;
	CHECK_EQ(shmq_seg_create(&s, loc, &o), 0);
	char *p = shmq_seg_addr(s);
	p[0] = 'A';
	struct outcome *out = as_user(NOBODY, consume_read_only, (void *)loc,
	                              SIGSEGV);
	CHECK_EQ(out->rc, -EACCES);
	CHECK_HAS(out->msg, "mode 0644");
	CHECK_EQ(out->byte, 'A'); /* it could read */
	CHECK_EQ(p[0], 'A');      /* it could not write */
	done(out);
	CHECK_EQ(shmq_seg_close(s), 0);
	CHECK_EQ(shmq_seg_unlink(loc), 0);
}

TEST(users_read_only_consumer_of_another_uid_maps_read_only)
{
	char loc[128];
	t_need_root("switching to another uid");
	read_only_consumer(t_posix_loc(loc, sizeof(loc), "ro"));
	read_only_consumer(t_sysv_loc(loc, sizeof(loc), 1));
}

/* ---- Limits of a channel --------------------------------------------------- */

static void join_in_child(void *loc, struct outcome *out)
{
	struct chan_try t = {loc, SHMQ_READER};
	chan_open_it(&t, out);
	shmq_chan *w = NULL;
	out->byte = (char)(shmq_chan_open(&w, loc, SHMQ_WRITER, NULL) ==
	                   SHMQ_EPEERS);
	CHECK(w == NULL);
}

TEST(limits_chan_65th_peer_is_epeers_and_a_freed_place_is_reused)
{
	char loc[128];
	shmq_chan *peers[SHMQ_CHAN_MAX_PEERS];
	struct shmq_chan_info in;
	t_posix_loc(loc, sizeof(loc), "peers");
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_MPMC, .capacity = 4,
	                           .msg_size = 8, .spin_ns = -1};
	CHECK_EQ(shmq_chan_create(&peers[0], loc, SHMQ_WRITER, &o), 0);
	for (int i = 1; i < SHMQ_CHAN_MAX_PEERS; i++)
		CHECK_EQ(shmq_chan_open(&peers[i], loc, SHMQ_READER, NULL), 0);
	/* The 65th, from another process: as reader and as writer. */
	pid_t me = getpid();
	struct outcome *out = as_user(getuid(), join_in_child, loc, 0);
	CHECK_EQ(out->rc, SHMQ_EPEERS);
	CHECK_EQ(out->byte, 1);
	CHECK_HAS(out->msg, "all 64 peer places");
	CHECK_HAS(out->msg, "shmq_chan_stat()");
	done(out);
	CHECK_EQ(getpid(), me);
	/* The refusals took nothing: counts as they were. */
	CHECK_EQ(shmq_chan_info(peers[0], &in), 0);
	CHECK_EQ(in.readers, SHMQ_CHAN_MAX_PEERS - 1);
	CHECK_EQ(in.writers, 1);
	CHECK_EQ(in.npeers, SHMQ_CHAN_MAX_PEERS);
	/* One leaves: the next one gets its place. */
	CHECK_EQ(shmq_chan_close(peers[5]), 0);
	CHECK_EQ(shmq_chan_open(&peers[5], loc, SHMQ_WRITER, NULL), 0);
	CHECK_EQ(shmq_chan_send(peers[5], "x", 1), 0);
	for (int i = SHMQ_CHAN_MAX_PEERS - 1; i >= 0; i--)
		CHECK_EQ(shmq_chan_close(peers[i]), 0);
	CHECK_EQ(shmq_stat(loc, &(struct shmq_stat){0}), -ENOENT);
}

TEST(limits_chan_message_larger_than_the_channel_is_emsgsize_naming_both)
{
	char loc[128], msg[1024], name[64];
	static char big[200];
	t_posix_loc(loc, sizeof(loc), "msgsz");
	for (int kind = SHMQ_CHAN_MPMC; kind <= SHMQ_CHAN_BROADCAST; kind++) {
		struct shmq_chan_opts o = {.kind = kind, .capacity = 4,
		                           .msg_size = 100, .spin_ns = -1};
		shmq_chan *w, *r;
		CHECK_EQ(shmq_chan_create(&r, loc, SHMQ_READER, &o), 0);
		CHECK_EQ(shmq_chan_open(&w, loc, SHMQ_WRITER, NULL), 0);
		CHECK_EQ(shmq_chan_send(w, big, 101), -EMSGSIZE);
		CHECK_EQ(shmq_chan_send(w, big, 100), 0);
		shmq_explain(-EMSGSIZE, loc, 101, msg, sizeof(msg));
		CHECK_HAS(msg, "101 bytes");
		CHECK_HAS(msg, "(100 bytes)");
		CHECK_HAS(msg, "msg_size");
		CHECK_EQ(shmq_chan_close(w), 0);
		CHECK_EQ(shmq_chan_close(r), 0);
	}
	/* The tool names the line's length and the channel's limit, for a
	 * whole line and for one cut short by the buffer. */
	struct t_run *r = malloc(sizeof(*r));
	CHECK(r != NULL);
	t_name(name, sizeof(name), "msgsz");
	memset(big, 'y', sizeof(big) - 1);
	big[39] = '\n';
	big[40] = '\0';
	t_shmq(r, big, "send", name, "--create", "--kind", "mpmc",
	       "--msg-size", "16", (char *)NULL);
	CHECK_EQ(r->status, 1);
	CHECK_HAS(r->err, "(16 bytes)");
	CHECK_HAS(r->err, "the line has 40 bytes");
	memset(big, 'y', 100);
	big[100] = '\0'; /* no newline at all */
	t_shmq(r, big, "send", name, "--create", "--kind", "mpmc",
	       "--msg-size", "16", (char *)NULL);
	CHECK_EQ(r->status, 1);
	CHECK_HAS(r->err, "the line has 100 bytes");
	free(r);
}

/* ---- A small /dev/shm, Docker's 64 MiB ------------------------------------- */


static void private_dev_shm(const char *opts)
{
	if (unshare(CLONE_NEWNS) < 0)
		t_skip("unshare(CLONE_NEWNS) not permitted: cannot mount a "
		       "small /dev/shm privately");
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK(mount("shmqt", "/dev/shm", "tmpfs", 0, opts) == 0);
}

static int dev_shm_entries(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int n = 0;
	CHECK(d != NULL);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void small_tmpfs_body(void)
{
	char loc[128], msg[1024];
	shmq_chan *ch = NULL;
	private_dev_shm("size=1m,mode=1777");
	struct shmq_chan_opts o = {.capacity = 2 * MiB, .spin_ns = -1};
	t_posix_loc(loc, sizeof(loc), "full");
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), -ENOSPC);
	CHECK(ch == NULL);
	o.kind = SHMQ_CHAN_MPMC; /* 1024 slots of 4 KiB */
	o.capacity = 0;
	o.flags = SHMQ_OPEN_OK;
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_READER, &o), -ENOSPC);
	shmq_explain(-ENOSPC, loc, 2 * MiB, msg, sizeof(msg));
	CHECK_HAS(msg, "no space left in /dev/shm");
	CHECK_HAS(msg, "of 1048576");
	CHECK_HAS(msg, "2097152 asked");
	CHECK_EQ(dev_shm_entries(), 0); /* nothing left behind */
	/* What fits is whole: every page of a channel that was made. */
	o.kind = SHMQ_CHAN_SPSC;
	o.capacity = 256 * 1024;
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), 0);
	static char fill[4096];
	while (shmq_chan_try_send(ch, fill, sizeof(fill)) == 0)
		;
	CHECK_EQ(shmq_chan_close(ch), 0);
	CHECK_EQ(dev_shm_entries(), 0); /* the last close removed it */
}

TEST(limits_chan_create_on_a_small_dev_shm_is_enospc_and_leaves_nothing)
{
	t_need_root("mounting a small tmpfs in a private mount namespace");
	t_in_child(small_tmpfs_body);
}

static void docker_body(void)
{
	char loc[128], msg[1024];
	private_dev_shm("size=64m,mode=1777");
	t_posix_loc(loc, sizeof(loc), "docker");
	CHECK_EQ(seg_create_rc(loc, 65 * MiB, 0, 0), -ENOSPC);
	shmq_explain(-ENOSPC, loc, 65 * MiB, msg, sizeof(msg));
	CHECK_HAS(msg, "of 67108864");
	CHECK_HAS(msg, "Docker");
	CHECK_HAS(msg, "--shm-size");
	CHECK_EQ(dev_shm_entries(), 0);
}

TEST(limits_dev_shm_of_dockers_64_mib_is_enospc_naming_shm_size)
{
	t_need_root("mounting a 64 MiB tmpfs in a private mount namespace");
	t_in_child(docker_body);
}

/* ---- An address-space limit (ulimit -v) ------------------------------------ */

#define BIG (128 * MiB)

/* This process's mapped size now (VmSize): the sanitizers' shadow makes it
 * huge, so the limit is set relative to it. */
static uint64_t vm_size(void)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/self/status", "re");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	CHECK(kb > 0);
	return (uint64_t)kb * 1024;
}

static void nomem_body(void)
{
	char loc[128], msg[1024], existing[128];
	struct rlimit rl;
	shmq_chan *ch = NULL;
	t_posix_loc(existing, sizeof(existing), "exists");
	rl.rlim_cur = rl.rlim_max = vm_size() + 32 * MiB;
	CHECK_EQ(setrlimit(RLIMIT_AS, &rl), 0);

	t_posix_loc(loc, sizeof(loc), "nomem");
	CHECK_EQ(seg_create_rc(loc, BIG, 0, 0), -ENOMEM);
	CHECK_EQ(seg_create_rc(t_sysv_loc(msg, sizeof(msg), 1), BIG, 0, 0),
	         -ENOMEM);
	CHECK(shmget(t_key(1), 0, 0) < 0); /* the segment it made is gone */
	CHECK_EQ(seg_open_rc(existing, 0), -ENOMEM);
	struct shmq_chan_opts o = {.capacity = BIG, .spin_ns = -1};
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), -ENOMEM);
	o.flags = SHMQ_OPEN_OK;
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_READER, &o), -ENOMEM);
	CHECK(ch == NULL);
	shmq_explain(-ENOMEM, loc, BIG, msg, sizeof(msg));
	CHECK_HAS(msg, "134217728 bytes");
	CHECK_HAS(msg, "RLIMIT_AS, ulimit -v");
	struct stat sb;
	CHECK(stat("/dev/shm", &sb) == 0);
	CHECK_EQ(shmq_stat(loc, &(struct shmq_stat){0}), -ENOENT);
}

TEST(limits_address_space_limit_gives_enomem_and_leaves_nothing)
{
	char loc[128];
	shmq_seg *s;
	struct shmq_seg_opts o = {.size = BIG};
	CHECK_EQ(shmq_seg_create(&s, t_posix_loc(loc, sizeof(loc), "exists"),
	                         &o), 0);
	CHECK_EQ(shmq_seg_close(s), 0);
	t_in_child(nomem_body);
	struct shmq_stat st;
	CHECK_EQ(shmq_stat(loc, &st), 0);
	CHECK_EQ(st.nattch, t_posix_unused_nattch()); /* nobody attached */
	CHECK_EQ(shmq_seg_unlink(loc), 0);
	CHECK_EQ(shmq_stat(t_posix_loc(loc, sizeof(loc), "nomem"),
	                   &(struct shmq_stat){0}), -ENOENT);
	CHECK(shmget(t_key(1), 0, 0) < 0);
}

/* ---- The number of System V segments ---------------------------------------- */

static void shmmni_body(void)
{
	char loc[64], msg[1024];
	if (unshare(CLONE_NEWIPC) < 0)
		t_skip("unshare(CLONE_NEWIPC) not permitted: cannot lower "
		       "kernel.shmmni privately");
	FILE *f = fopen("/proc/sys/kernel/shmmni", "w");
	CHECK(f && fputs("2\n", f) >= 0 && fclose(f) == 0);
	/* Private segments of a private namespace: gone with it. */
	CHECK_EQ(seg_create_rc("sysv:private", 4096, 0, 0), 0);
	CHECK_EQ(seg_create_rc("sysv:private", 4096, 0, 0), 0);
	CHECK_EQ(seg_create_rc(t_sysv_loc(loc, sizeof(loc), 1), 4096, 0, 0),
	         -ENOSPC);
	CHECK(shmget(t_key(1), 0, 0) < 0);
	shmq_explain(-ENOSPC, loc, 4096, msg, sizeof(msg));
	CHECK_HAS(msg, "kernel.shmmni = 2 segments");
}

TEST(limits_sysv_segment_count_above_shmmni_is_enospc_naming_it)
{
	t_need_root("lowering kernel.shmmni in a private IPC namespace");
	t_in_child(shmmni_body);
}
