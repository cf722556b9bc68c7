/*
 * A plain Cyclone DDS subscriber of a bridged shmq channel: no shmq here,
 * only Cyclone's C API and the type of bridge/shmq_bridge.idl (compiled by
 * idlc), as any DDS program would (docs/bridge.md).
 *
 *   dds_listener TOPIC INTERFACE PEER...
 *
 * Joins the DDS domain on INTERFACE only, multicast off, discovering the
 * PEER addresses by unicast (lease 1 s, as the bridge: it announces
 * itself every fraction of a second, not every few seconds); subscribes to TOPIC (type shmq::Message)
 * with the bridge's QoS (RELIABLE, KEEP_ALL, VOLATILE) and writes each
 * message's bytes to stdout. At the end-of-stream sample it prints "N
 * messages, B bytes" on stderr and exits 0; it exits 1 when the stream's
 * writer goes away before its end, or a sequence number is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dds/dds.h>

#include "shmq_bridge.h"

#define MAX_PEERS 8

static int configure(int argc, char **argv)
{
	char xml[2048];
	int off;

	off = snprintf(xml, sizeof(xml),
	               "<CycloneDDS><Domain id=\"any\"><General><Interfaces>"
	               "<NetworkInterface name=\"%s\"/></Interfaces><AllowMulticast>"
	               "false</AllowMulticast></General><Discovery>"
	               "<LeaseDuration>1s</LeaseDuration>"
	               "<ParticipantIndex>auto</ParticipantIndex><Peers>", argv[2]);
	for (int i = 3; i < argc && off > 0 && (size_t)off < sizeof(xml); i++)
		off += snprintf(xml + off, sizeof(xml) - (size_t)off,
		                "<Peer address=\"%s\"/>", argv[i]);
	if (off <= 0 || (size_t)off >= sizeof(xml) - 64)
		return -1;
	snprintf(xml + off, sizeof(xml) - (size_t)off,
	         "</Peers></Discovery></Domain></CycloneDDS>");
	return dds_create_domain(0, xml) < 0 ? -1 : 0;
}

struct count {
	shmq_WriterId from; /* the stream followed */
	unsigned long long msgs, bytes, seq;
};

/* One sample: 1 more to come, 0 at the end of the stream, -1 on a fault. */
static int take(struct count *c, const shmq_Message *m,
                const dds_sample_info_t *info)
{
	if (!info->valid_data) /* the instance's writer unregistered or died */
		return info->instance_state == DDS_ALIVE_INSTANCE_STATE ? 1 : -1;
	if (!c->seq)
		c->from = m->writer;
	else if (memcmp(&c->from, &m->writer, sizeof(c->from)))
		return 1; /* another stream on the topic: not ours */
	if (m->seq != c->seq + 1 && c->seq) {
		fprintf(stderr, "dds_listener: message %llu after %llu\n",
		        (unsigned long long)m->seq, c->seq);
		return -1;
	}
	c->seq = m->seq;
	if (m->eos)
		return 0;
	if (m->size != m->data._length) {
		fprintf(stderr, "dds_listener: size field %u, %u bytes\n",
		        (unsigned)m->size, (unsigned)m->data._length);
		return -1;
	}
	fwrite(m->data._buffer, 1, m->data._length, stdout);
	c->msgs++;
	c->bytes += m->data._length;
	return 1;
}

int main(int argc, char **argv)
{
	dds_entity_t pp, tp, rd, ws;
	dds_qos_t *q;
	struct count c = { .seq = 0 };
	int more = 1;

	if (argc < 4 || argc > 3 + MAX_PEERS) {
		fprintf(stderr, "usage: dds_listener TOPIC INTERFACE PEER...\n");
		return 2;
	}
	if (configure(argc, argv) < 0 ||
	    (pp = dds_create_participant(0, NULL, NULL)) < 0 ||
	    (tp = dds_create_topic(pp, &shmq_Message_desc, argv[1], NULL,
	                           NULL)) < 0) {
		fprintf(stderr, "dds_listener: cannot join DDS on %s\n", argv[2]);
		return 1;
	}
	q = dds_create_qos();
	dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
	dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
	dds_qset_resource_limits(q, 256, DDS_LENGTH_UNLIMITED,
	                         DDS_LENGTH_UNLIMITED);
	rd = dds_create_reader(pp, tp, q, NULL);
	dds_delete_qos(q);
	ws = dds_create_waitset(pp);
	if (rd < 0 || ws < 0 ||
	    dds_waitset_attach(ws, dds_create_readcondition(rd, DDS_ANY_STATE),
	                       0) < 0) {
		fprintf(stderr, "dds_listener: cannot create the reader\n");
		return 1;
	}
	while (more > 0) {
		void *samples[1] = { NULL };
		dds_sample_info_t info;
		dds_return_t n;

		dds_waitset_wait(ws, NULL, 0, DDS_INFINITY);
		while (more > 0 && (n = dds_take(rd, samples, &info, 1, 1)) > 0) {
			more = take(&c, samples[0], &info);
			dds_return_loan(rd, samples, n);
		}
	}
	fflush(stdout);
	fprintf(stderr, "dds_listener: %llu messages, %llu bytes%s\n", c.msgs,
	        c.bytes, more ? ", the stream broke off" : "");
	dds_delete(pp);
	return more ? 1 : 0;
}
