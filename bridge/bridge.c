/*
 * shmq-bridge: the program behind `shmq bridge` (cli/bridge.c execs it).
 * It carries one channel over Cyclone DDS (docs/bridge.md): `out` reads a
 * local channel and publishes each message on a topic, `in` subscribes to
 * a topic and writes into a local channel. Built only where Cyclone is
 * installed; libshmq itself never links it.
 */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dds/dds.h>

#include "shmq_bridge.h"

#define LEASE DDS_SECS(1)       /* writer liveliness: docs/bridge.md */
#define BLOCK_SLICE DDS_MSECS(100) /* dds_write waits; a signal is seen */
#define READER_CACHE 4096 /* block: samples bridge in holds unwritten */
#define TAKE_BATCH 64
#define SPIN_MIN_CPUS 2 /* on this many CPUs or fewer, the bridge never spins */
#define MAX_PEERS 16
#define XML_MAX 4096

struct net {
	const char *topic, *iface;
	const char *peers[MAX_PEERS];
	unsigned npeers;
	unsigned readers; /* out: remote readers to wait for (--readers) */
};

struct stats {
	uint64_t msgs, refused, gaps;
};

/* --readers N: 1 to 1024 (a broadcast to N hosts). */
static int own_readers(const struct cli_cmd *cmd, const char *arg,
                       struct net *n)
{
	uint64_t v;
	const char *why = cli_parse_size(arg, &v);

	if (strcmp(cmd->name, "bridge out"))
		return cli_usage_error(cmd, "--readers is an option of bridge out");
	if (!why && (v == 0 || v > 1024))
		why = "give 1 to 1024";
	if (why)
		return cli_usage_error(cmd, "invalid --readers '%s': %s", arg, why);
	n->readers = (unsigned)v;
	return CLI_OK;
}

static int own_option(const struct cli_cmd *cmd, int o, const char *arg,
                      void *ctx)
{
	struct net *n = ctx;

	if (o == 't')
		n->topic = arg;
	else if (o == 'i')
		n->iface = arg;
	else if (o == 'r')
		return own_readers(cmd, arg, n);
	else if (n->npeers == MAX_PEERS)
		return cli_usage_error(cmd, "at most %d --peer", MAX_PEERS);
	else
		n->peers[n->npeers++] = arg;
	return CLI_OK;
}

/* Publishing shared memory onto a network must be asked for. */
static int check_net(const struct cli_cmd *cmd, const struct net *n)
{
	if (!n->topic)
		return cli_usage_error(cmd, "--topic T is required");
	if (!n->iface && !n->npeers)
		return cli_usage_error(cmd, "refusing to start without --interface "
		                       "IF or --peer ADDR: say which network the "
		                       "channel may go onto");
	if (strpbrk(n->topic, "<>&\"'") || (n->iface && strpbrk(n->iface, "<>&\"'")))
		return cli_usage_error(cmd, "--topic and --interface take no <>&\"'");
	for (unsigned i = 0; i < n->npeers; i++)
		if (strpbrk(n->peers[i], "<>&\"'"))
			return cli_usage_error(cmd, "--peer takes no <>&\"'");
	return CLI_OK;
}

/* Cyclone's configuration: the interface given (else its own choice),
 * multicast off and the peers listed when --peer is given. */
static int config_xml(const struct net *n, char *xml, size_t len)
{
	size_t off = 0;
	int w;

#define PUT(...)                                                             \
	do {                                                                 \
		w = snprintf(xml + off, len - off, __VA_ARGS__);             \
		if (w < 0 || (size_t)w >= len - off)                         \
			return -1;                                           \
		off += (size_t)w;                                            \
	} while (0)
	PUT("<CycloneDDS><Domain id=\"any\"><General>");
	if (n->iface)
		PUT("<Interfaces><NetworkInterface name=\"%s\"/></Interfaces>",
		    n->iface);
	if (n->npeers)
		PUT("<AllowMulticast>false</AllowMulticast>");
	PUT("</General><Discovery><LeaseDuration>1s</LeaseDuration>");
	if (n->npeers) {
		PUT("<ParticipantIndex>auto</ParticipantIndex><Peers>");
		for (unsigned i = 0; i < n->npeers; i++)
			PUT("<Peer address=\"%s\"/>", n->peers[i]);
		PUT("</Peers>");
	}
	/* The writer's unacknowledged bytes start at their bound (Cyclone's
	 * default, 500 kB) rather than at 30 kB growing over tens of
	 * seconds: no slow start, and backpressure that stops moving. */
	PUT("</Discovery><Internal><Watermarks><WhcHighInit>500kB</WhcHighInit>"
	    "</Watermarks>");
	/* Writes are packed into datagrams until dds_write_flush, which
	 * bridge out calls whenever its channel is empty (as ddsperf does
	 * after each burst): a packet per message caps the rate. */
	PUT("<WriteBatch>true</WriteBatch></Internal></Domain></CycloneDDS>");
#undef PUT
	return 0;
}

static int dds_fail(const char *what, dds_return_t rc)
{
	return cli_failf("bridge: %s: %s", what, dds_strretcode(rc));
}

/* The participant and topic; the caller deletes the participant. */
static int dds_open(const struct net *n, dds_entity_t *pp, dds_entity_t *tp)
{
	char xml[XML_MAX];
	dds_entity_t d;

	if (config_xml(n, xml, sizeof(xml)))
		return cli_failf("bridge: too many or too long --peer values");
	d = dds_create_domain(0, xml);
	if (d < 0)
		return dds_fail("cannot configure Cyclone DDS (is the interface "
		                "name right?)", d);
	*pp = dds_create_participant(0, NULL, NULL);
	if (*pp < 0)
		return dds_fail("cannot create the DDS participant", *pp);
	*tp = dds_create_topic(*pp, &shmq_Message_desc, n->topic, NULL, NULL);
	if (*tp < 0) {
		dds_delete(*pp);
		return dds_fail("cannot create the topic", *tp);
	}
	return CLI_OK;
}

/* block -> RELIABLE KEEP_ALL; overwrite -> RELIABLE KEEP_LAST(depth);
 * a channel with --history K -> TRANSIENT_LOCAL: the writer keeps its
 * last K samples for readers that join later, and such a reader asks for
 * them. */
static dds_qos_t *bridge_qos(int policy, int32_t depth, uint32_t history)
{
	dds_qos_t *q = dds_create_qos();

	dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, BLOCK_SLICE);
	if (policy == SHMQ_POLICY_OVERWRITE)
		dds_qset_history(q, DDS_HISTORY_KEEP_LAST, depth);
	else
		dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
	dds_qset_liveliness(q, DDS_LIVELINESS_AUTOMATIC, LEASE);
	if (history) {
		dds_qset_durability(q, DDS_DURABILITY_TRANSIENT_LOCAL);
		dds_qset_durability_service(q, 0, DDS_HISTORY_KEEP_LAST,
		                            (int32_t)history,
		                            DDS_LENGTH_UNLIMITED,
		                            DDS_LENGTH_UNLIMITED,
		                            DDS_LENGTH_UNLIMITED);
	} else {
		dds_qset_durability(q, DDS_DURABILITY_VOLATILE);
	}
	return q;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void writer_id(shmq_WriterId *id, const char *channel)
{
	char host[256] = "";
	struct timespec t;

	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &t);
	id->host = fnv1a(host);
	id->pid = (uint32_t)getpid();
	id->channel = fnv1a(channel);
	id->nonce = (uint32_t)t.tv_sec * 2654435761u ^ (uint32_t)t.tv_nsec ^
	            ((uint32_t)getpid() << 16);
}

/* Waits in slices until `readers` remote readers matched; CLI_STOP on a
 * signal. */
static int wait_matched(dds_entity_t wr, unsigned readers)
{
	dds_publication_matched_status_t st;

	for (;;) {
		if (dds_get_publication_matched_status(wr, &st) == 0 &&
		    st.current_count >= readers)
			return CLI_OK;
		if (cli_chan_stopped())
			return CLI_STOP;
		dds_sleepfor(DDS_MSECS(10));
	}
}

/* dds_write until it takes the sample: under KEEP_ALL it blocks while the
 * remote reader is behind (the backpressure to the local writer). */
static int write_sample(dds_entity_t wr, const shmq_Message *m)
{
	dds_return_t rc;

	while ((rc = dds_write(wr, m)) == DDS_RETCODE_TIMEOUT)
		if (cli_chan_stopped())
			return CLI_STOP;
	return rc == 0 ? CLI_OK : dds_fail("dds_write", rc);
}

struct out {
	shmq_chan *ch;
	const char *name;
	dds_entity_t wr;
	int block;      /* block policy: never publish to nobody */
	int in_place;   /* publish from the ring (peek), not from buf */
	shmq_Message m;
	uint8_t *buf;
	size_t max;
};

static int publish(struct out *o, const void *p, size_t len, int eos)
{
	int rc;

	/* A remote reader that left (a bridge in restarted): wait for one
	 * again rather than publish into the void. The status, not a count a
	 * listener keeps: that one may still say 1 when dds_write has just
	 * been let go by the reader's unmatching. */
	if (o->block && (rc = wait_matched(o->wr, 1)) != CLI_OK)
		return rc;
	o->m.seq++;
	o->m.size = (uint32_t)len;
	o->m.eos = eos;
	o->m.data._length = (uint32_t)len;
	o->m.data._maximum = (uint32_t)len;
	o->m.data._buffer = (uint8_t *)(uintptr_t)p; /* dds_write only reads */
	o->m.data._release = false;
	return write_sample(o->wr, &o->m);
}

/* The next message: in place (peek; released after its write) or copied
 * into buf. Where no writer can overwrite a message we hold (policy
 * block), dds_write serializes it straight from the ring: one copy less.
 * An overwrite channel could change it under dds_write, so it is copied
 * out first (a torn copy is then told by recv, never published). */
static ssize_t next_msg(struct out *o, const void **p,
                        const struct timespec *dl)
{
	*p = o->buf;
	if (o->in_place)
		return dl ? shmq_chan_peek_timed(o->ch, p, dl)
		          : shmq_chan_try_peek(o->ch, p);
	return dl ? shmq_chan_recv_timed(o->ch, o->buf, o->max, dl)
	          : shmq_chan_try_recv(o->ch, o->buf, o->max);
}

/* The local writer closed: say so, and wait until it is acknowledged. */
static int publish_end(struct out *o)
{
	int rc = publish(o, o->buf, 0, 1);

	dds_write_flush(o->wr);
	if (rc == CLI_OK && dds_wait_for_acks(o->wr, DDS_SECS(10)))
		return cli_failf("bridge: %s: the end of the stream was not "
		                 "acknowledged within 10 s (a remote reader gone "
		                 "or cut off)", o->name);
	return rc;
}

static int pump_out(struct out *o)
{
	struct timespec ts;
	const void *p;
	ssize_t n;
	int rc;

	for (;;) {
		n = next_msg(o, &p, NULL);
		if (n == -EAGAIN) { /* nothing more now: send the batch */
			dds_write_flush(o->wr);
			n = next_msg(o, &p, cli_chan_until(NULL, &ts));
		}
		if (cli_chan_stopped())
			return CLI_STOP;
		if (n == -ETIMEDOUT || n == -EINTR)
			continue;
		if (n == -EPIPE)
			return publish_end(o);
		if (n == SHMQ_ELOST)
			continue; /* broadcast overwrite: counted by the channel */
		if (n == SHMQ_EPEERDEAD) /* no eos: the remote sees us go */
			return cli_chan_peer_died(o->ch, o->name, SHMQ_WRITER,
			                          "bridged", o->m.seq);
		if (n < 0)
			return cli_chan_fail_after((int)n, o->name, "bridged",
			                           o->m.seq);
		rc = publish(o, p, (size_t)n, 0);
		if (rc == CLI_OK && o->in_place && (n = shmq_chan_release(o->ch)) < 0)
			rc = cli_chan_fail_after((int)n, o->name, "bridged", o->m.seq);
		if (rc != CLI_OK)
			return rc;
	}
}

/* Whether channel name is (or, made by --create, will be) spsc: then
 * both ends batch (docs/bridge.md): bridge in publishes the samples of one
 * take at once, so that its reader is woken once a take rather than once
 * a sample; bridge out wakes a local writer waiting for room once per
 * TAKE_BATCH messages rather than once a message. A channel
 * of another kind made by someone else between this look and the open
 * makes the open fail (-EINVAL): run the bridge again. */
static int is_spsc(const struct cli_chan_args *a, const char *name)
{
	struct shmq_chan_info st;

	if (shmq_chan_stat(name, &st) == 0)
		return st.kind == SHMQ_CHAN_SPSC;
	return a->create && (!a->o.kind || a->o.kind == SHMQ_CHAN_SPSC);
}

/* The command line of out and in, and the channel NAME opened as role.
 * CLI_OK, or the exit code. */
static int parse_open(const struct cli_cmd *cmd, int argc, char **argv,
                      struct cli_chan_args *a, struct net *n, int role,
                      shmq_chan **ch)
{
	static const struct option opts[] = {
		CLI_CHAN_OPTIONS,
		{ "topic", required_argument, NULL, 't' },
		{ "interface", required_argument, NULL, 'i' },
		{ "peer", required_argument, NULL, 'e' },
		{ "readers", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int rc;

	memset(n, 0, sizeof(*n));
	n->readers = 1;
	rc = cli_chan_parse(cmd, argc, argv, opts, a, own_option, n);
	if (rc != CLI_CHAN_PROCEED)
		return rc;
	if (check_net(cmd, n))
		return CLI_USAGE;
	/* The bridge waits on a network or on a peer that needs a CPU: on
	 * few CPUs, spinning for it delays it (docs/bridge.md, Numbers). */
	if (sysconf(_SC_NPROCESSORS_ONLN) <= SPIN_MIN_CPUS)
		a->o.spin_ns = 0;
	if (is_spsc(a, argv[optind]))
		a->o.batch = TAKE_BATCH;
	return cli_chan_open(a, argv[optind], role, ch) == CLI_OK ? CLI_OK
	                                                          : CLI_ERR;
}

static int run_out(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_chan_args a;
	struct net n;
	struct out o;
	struct shmq_chan_info in;
	dds_entity_t pp, tp;
	dds_qos_t *q;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = parse_open(cmd, argc, argv, &a, &n, SHMQ_READER, &o.ch);
	if (rc != CLI_OK)
		return rc;
	o.name = argv[optind];
	o.max = shmq_chan_max_msg(o.ch);
	o.buf = malloc(o.max ? o.max : 1);
	if (!o.buf || shmq_chan_info(o.ch, &in) < 0) {
		shmq_chan_close(o.ch);
		free(o.buf);
		return cli_failf("bridge: out of memory");
	}
	rc = dds_open(&n, &pp, &tp);
	if (rc == CLI_OK) {
		q = bridge_qos(in.policy, in.capacity > 1 << 20 ? 1 << 20 :
		               (int32_t)in.capacity, a.o.history);
		o.wr = dds_create_writer(pp, tp, q, NULL);
		dds_delete_qos(q);
		writer_id(&o.m.writer, o.name);
		/* With a history, publishing before anyone listens is what it is
		 * for: the last K wait for readers that join later. */
		o.block = in.policy != SHMQ_POLICY_OVERWRITE && !a.o.history;
		o.in_place = in.policy != SHMQ_POLICY_OVERWRITE;
		rc = o.wr < 0 ? dds_fail("cannot create the DDS writer", o.wr)
		     : a.o.history ? CLI_OK : wait_matched(o.wr, n.readers);
		if (rc == CLI_OK)
			rc = pump_out(&o);
		dds_delete(pp);
	}
	shmq_chan_close(o.ch);
	free(o.buf);
	if (rc == CLI_STOP)
		return cli_chan_stop(o.name, "bridged", o.m.seq);
	return rc;
}

/* ---- in ---- */

/* Samples are taken in Cyclone's receive thread (a listener), as they
 * come: no thread handoff per datagram. A sample that comes within
 * DENSE_NS of the one before is held (spsc batch) rather than published,
 * so that a stream's local reader is woken once per TAKE_BATCH, not once
 * per message; the main thread publishes what is held once FLUSH_NS pass
 * with nothing new. A lone sample (a round trip) is published at once. */
#define DENSE_NS 20000
#define FLUSH_NS 200000

struct in {
	shmq_chan *ch;
	const char *name;
	dds_entity_t rd;
	shmq_WriterId from; /* the stream followed; seq 0: none yet */
	uint64_t seq;
	struct stats st;
	int warned;         /* the incompatible writer was reported */
	/* Under lock. The channel is the listener's unless stalled: then the
	 * main thread writes what the listener could not (taken[next..n))
	 * and what came since, waiting for room, and the listener keeps out. */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* the main thread's: a stall, an end, a hold */
	int state;           /* IN_MORE, IN_EOS, IN_DEAD */
	int rc;              /* CLI_OK, or the exit code of a failure */
	int stalled;         /* the ring was full: taken[next] is not in */
	int timing;          /* the main thread waits for FLUSH_NS */
	unsigned held;       /* sent, not published yet */
	int64_t last_ns;     /* when the last one was sent */
	/* Samples are taken into these, not loaned: Cyclone reuses their
	 * byte buffers (no malloc and free a sample), and they stay ours
	 * until the next take. */
	shmq_Message taken[TAKE_BATCH];
	void *ptrs[TAKE_BATCH];
	dds_sample_info_t info[TAKE_BATCH];
	dds_return_t n, next;
};

/* A writer whose QoS this reader cannot take (--history on one side only)
 * is never matched: say so once rather than wait in silence. */
static void check_incompatible(struct in *b)
{
	dds_requested_incompatible_qos_status_t st;

	if (b->warned ||
	    dds_get_requested_incompatible_qos_status(b->rd, &st) < 0 ||
	    !st.total_count)
		return;
	b->warned = 1;
	fprintf(stderr, "shmq bridge: %s: a writer on this topic offers a QoS "
	        "this reader cannot take (DDS policy %d%s): give --history to "
	        "both bridges or to neither\n", b->name, (int)st.last_policy_id,
	        st.last_policy_id == DDS_DURABILITY_QOS_POLICY_ID ?
	        ", durability" : "");
}

/* A sample we take: its size field says its length, its sequence number
 * goes up by exactly one within its writer's stream. */
static int sample_ok(struct in *b, const shmq_Message *m)
{
	if (m->size != m->data._length || m->data._length > shmq_chan_max_msg(b->ch))
		return 0;
	if (b->seq && !memcmp(&m->writer, &b->from, sizeof(b->from)))
		return m->seq > b->seq;
	return m->seq > 0;
}

static void follow(struct in *b, const shmq_Message *m)
{
	if (!b->seq || memcmp(&m->writer, &b->from, sizeof(b->from))) {
		if (m->seq != 1)
			fprintf(stderr, "shmq bridge: %s: stream joined at message %llu:"
			        " the %llu before it were not received\n", b->name,
			        (unsigned long long)m->seq,
			        (unsigned long long)(m->seq - 1));
		b->from = m->writer;
	} else if (m->seq != b->seq + 1) {
		b->st.gaps += m->seq - b->seq - 1;
	}
	b->seq = m->seq;
}

enum { IN_MORE, IN_EOS, IN_DEAD };

/* What is held reaches the local readers. */
static void flush_in(struct in *b)
{
	int rc = shmq_chan_flush(b->ch);

	b->held = 0;
	if (rc < 0)
		b->rc = cli_chan_fail_after(rc, b->name, "bridged", b->st.msgs);
}

/* len bytes into the channel: waiting for room (the main thread), or not
 * (the listener: a full ring stalls; 1, the sample stays to be sent). */
static int put_bytes(struct in *b, const void *p, size_t len, int wait)
{
	int64_t now;
	int rc;

	while ((rc = wait ? shmq_chan_send(b->ch, p, len)
	                  : shmq_chan_try_send(b->ch, p, len)) == -EINTR)
		;
	if (rc == -EAGAIN && !wait)
		return b->stalled = 1;
	if (rc < 0) {
		b->rc = cli_chan_fail_after(rc, b->name, "bridged", b->st.msgs);
		return 0;
	}
	b->st.msgs++;
	now = cli_now_ns();
	/* At TAKE_BATCH the channel has published them already, or sooner
	 * (a PAD record counts too): the flush then finds nothing, and held
	 * 0 always means nothing held. */
	if (++b->held == TAKE_BATCH || now - b->last_ns > DENSE_NS)
		flush_in(b); /* a lone one is published at once */
	b->last_ns = now;
	return 0;
}

/* One sample taken: refused, followed into the channel, or the end; 1:
 * not in yet (a full ring, not waiting). */
static int put_one(struct in *b, const shmq_Message *m,
                   const dds_sample_info_t *info, int wait)
{
	if (!info->valid_data) {
		if (info->instance_state != DDS_ALIVE_INSTANCE_STATE &&
		    b->seq && !memcmp(&m->writer, &b->from, sizeof(b->from)))
			b->state = IN_DEAD;
	} else if (!sample_ok(b, m)) {
		b->st.refused++;
		fprintf(stderr, "shmq bridge: %s: refused a malformed sample "
		        "(seq %llu, size %u, %u bytes); %llu refused\n", b->name,
		        (unsigned long long)m->seq, m->size, m->data._length,
		        (unsigned long long)b->st.refused);
	} else if (m->eos) {
		follow(b, m);
		b->state = IN_EOS;
	} else {
		if (put_bytes(b, m->data._buffer, m->data._length, wait))
			return 1; /* followed once it is in */
		follow(b, m);
	}
	return 0;
}

/* The samples of the last take not in the channel yet. */
static void put_taken(struct in *b, int wait)
{
	for (; b->next < b->n && b->state == IN_MORE && b->rc == CLI_OK;
	     b->next++)
		if (put_one(b, &b->taken[b->next], &b->info[b->next], wait))
			return;
}

/* Takes what is there, TAKE_BATCH samples a call, into the channel, until
 * nothing is left, the ring is full (not waiting) or the stream ends.
 * When none is there and no writer is matched any more although one was
 * (look_dead), the stream is dead: a writer that went (or was cut off)
 * before we had a sample of it leaves no instance whose state could say
 * so. */
static void take_all(struct in *b, int wait, int look_dead)
{
	dds_subscription_matched_status_t st;
	int more = 1;

	/* never over a stalled take: taken[next] is still to be sent */
	while (more && b->state == IN_MORE && b->rc == CLI_OK &&
	       (wait || !b->stalled)) {
		b->next = 0;
		b->n = dds_take(b->rd, b->ptrs, b->info, TAKE_BATCH, TAKE_BATCH);
		if (b->n == 0 && look_dead &&
		    dds_get_subscription_matched_status(b->rd, &st) == 0 &&
		    st.total_count > 0 && st.current_count == 0)
			b->state = IN_DEAD;
		if (b->n < 0) {
			b->rc = dds_fail("dds_take", b->n);
			b->n = 0;
		}
		put_taken(b, wait);
		more = b->n == TAKE_BATCH;
	}
}

/* Cyclone's receive thread: a sample came. */
static void on_data(dds_entity_t rd, void *arg)
{
	struct in *b = arg;
	unsigned held;

	pthread_mutex_lock(&b->lock);
	b->rd = rd; /* a sample may come before dds_create_reader returns */
	if (!b->stalled) { /* else the main thread drains, this one too */
		held = b->held;
		take_all(b, 0, 0);
		/* a stall, an end, or a first sample held while the main
		 * thread is not timing a flush */
		if (b->stalled || b->state != IN_MORE || b->rc != CLI_OK ||
		    (b->held && !held && !b->timing))
			pthread_cond_signal(&b->cond);
	}
	pthread_mutex_unlock(&b->lock);
}

/* The ring was full: the sample the listener could not send and all that
 * came since, waiting for room, with the lock let go (while stalled the
 * listener keeps out and the fields are ours alone). */
static void drain(struct in *b)
{
	pthread_mutex_unlock(&b->lock);
	put_taken(b, 1);
	take_all(b, 1, 0);
	if (b->held && b->rc == CLI_OK)
		flush_in(b);
	pthread_mutex_lock(&b->lock);
	b->stalled = 0;
	take_all(b, 0, 0); /* what came since, as the listener would */
}

/* Until an end: drains a stall, publishes what is held once FLUSH_NS
 * passed with nothing new, and every CLI_STOP_POLL_MS looks at signals,
 * at an incompatible writer and for a dead one. */
static int pump_in(struct in *b)
{
	struct timespec ts;
	int64_t now, poll = 0;

	pthread_mutex_lock(&b->lock);
	while (b->state == IN_MORE && b->rc == CLI_OK) {
		if (b->stalled) {
			drain(b);
			continue;
		}
		now = cli_now_ns();
		b->timing = b->held != 0;
		ts = b->timing ? cli_ts_of(b->last_ns + FLUSH_NS)
		               : cli_ts_of(now + CLI_STOP_POLL_MS * 1000000LL);
		pthread_cond_timedwait(&b->cond, &b->lock, &ts);
		now = cli_now_ns();
		if (b->held && now - b->last_ns >= FLUSH_NS)
			flush_in(b);
		if (cli_chan_stopped()) {
			b->rc = CLI_STOP;
		} else if (now >= poll) {
			poll = now + CLI_STOP_POLL_MS * 1000000LL;
			check_incompatible(b);
			take_all(b, 0, 1);
		}
	}
	if (b->held && b->rc == CLI_OK)
		flush_in(b); /* what came before the end reaches the readers */
	pthread_mutex_unlock(&b->lock);
	if (b->rc != CLI_OK)
		return b->rc;
	if (b->state == IN_DEAD) {
		/* The remote writer or its bridge died: our local readers must
		 * see a dead writer too, so we leave without closing. */
		fprintf(stderr, "shmq bridge: %s: the remote writer died or was cut "
		        "off before ending the stream; %llu messages bridged, "
		        "%llu refused\n", b->name,
		        (unsigned long long)b->st.msgs,
		        (unsigned long long)b->st.refused);
		fflush(stderr);
		_exit(CLI_ERR);
	}
	return CLI_OK;
}

/* The reader, with on_data() as its listener. */
static int make_reader(struct in *b, dds_entity_t pp, dds_entity_t tp,
                       int policy, uint32_t history)
{
	dds_qos_t *q = bridge_qos(policy, 1024, history);
	dds_listener_t *l = dds_create_listener(b);
	dds_entity_t rd;

	/* KEEP_ALL alone lets the reader's cache grow without bound while
	 * the local readers are slow: a bounded cache makes Cyclone hold
	 * back acknowledgments instead, so the remote writer blocks (the
	 * backpressure of docs/bridge.md). */
	if (policy != SHMQ_POLICY_OVERWRITE)
		dds_qset_resource_limits(q, READER_CACHE, DDS_LENGTH_UNLIMITED,
		                         DDS_LENGTH_UNLIMITED);
	dds_lset_data_available(l, on_data);
	rd = dds_create_reader(pp, tp, q, l);
	dds_delete_listener(l);
	dds_delete_qos(q);
	if (rd < 0)
		return dds_fail("cannot create the DDS reader", rd);
	pthread_mutex_lock(&b->lock); /* on_data() may have set it */
	b->rd = rd;
	pthread_mutex_unlock(&b->lock);
	return CLI_OK;
}

static int run_in(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_chan_args a;
	struct shmq_chan_info inf;
	pthread_condattr_t ca;
	struct net n;
	struct in b;
	dds_entity_t pp, tp;
	int rc;

	memset(&b, 0, sizeof(b));
	rc = parse_open(cmd, argc, argv, &a, &n, SHMQ_WRITER, &b.ch);
	if (rc != CLI_OK)
		return rc;
	b.name = argv[optind];
	if (shmq_chan_info(b.ch, &inf) < 0)
		inf.policy = SHMQ_POLICY_BLOCK;
	for (int i = 0; i < TAKE_BATCH; i++)
		b.ptrs[i] = &b.taken[i];
	pthread_mutex_init(&b.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b.cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = dds_open(&n, &pp, &tp);
	if (rc == CLI_OK) {
		rc = make_reader(&b, pp, tp, inf.policy, a.o.history);
		if (rc == CLI_OK)
			rc = pump_in(&b);
		dds_delete(pp); /* waits for a listener call under way */
	}
	if (a.stats || b.st.refused || b.st.gaps)
		fprintf(stderr, "shmq bridge: %s: %llu messages bridged, %llu "
		        "refused, %llu lost\n", b.name,
		        (unsigned long long)b.st.msgs,
		        (unsigned long long)b.st.refused,
		        (unsigned long long)b.st.gaps);
	shmq_chan_close(b.ch);
	pthread_cond_destroy(&b.cond);
	pthread_mutex_destroy(&b.lock);
	for (int i = 0; i < TAKE_BATCH; i++)
		dds_sample_free(&b.taken[i], &shmq_Message_desc, DDS_FREE_CONTENTS);
	if (rc == CLI_STOP)
		return cli_chan_stop(b.name, "bridged", b.st.msgs);
	return rc;
}

static const struct cli_cmd bridge_out = {
	"bridge out",
	"bridge out NAME --topic T {--interface IF | --peer ADDR...} [--readers N] [--any-owner]",
	"Reads channel NAME and publishes each message on DDS topic T\n"
	"(docs/bridge.md). --interface IF: Cyclone uses only that interface;\n"
	"--peer ADDR (repeatable): multicast off, discovery by unicast to\n"
	"those addresses. One of them is required. --readers N: take the\n"
	"first message only once N remote readers matched (default 1), so\n"
	"that a broadcast to N hosts starts at the first message on each.\n",
	run_out,
};

static const struct cli_cmd bridge_in = {
	"bridge in",
	"bridge in NAME --topic T {--interface IF | --peer ADDR...} [--create ...]",
	"Subscribes to DDS topic T and writes each message into channel NAME\n"
	"(made with --create and the geometry options of shmq recv). At the\n"
	"remote end of stream it closes the channel; when the remote writer\n"
	"or its bridge dies it exits without closing, so local readers see a\n"
	"dead writer (SHMQ_EPEERDEAD). Malformed samples are refused and\n"
	"counted.\n"
	CLI_CHAN_HELP,
	run_in,
};

int main(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	/* argv: shmq-bridge out|in ARGS (cli/bridge.c passes "bridge"
	 * first, then the direction). */
	if (argc > 1 && !strcmp(argv[1], "bridge")) {
		argc--;
		argv++;
	}
	if (argc < 2 || (strcmp(argv[1], "out") && strcmp(argv[1], "in"))) {
		fprintf(stderr, "usage: shmq %s\n       shmq %s\n",
		        bridge_out.usage, bridge_in.usage);
		return CLI_USAGE;
	}
	cmd = !strcmp(argv[1], "out") ? &bridge_out : &bridge_in;
	return cmd->run(cmd, argc - 1, argv + 1);
}
