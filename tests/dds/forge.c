/* A plain Cyclone DDS publisher for tests/test_bridge.c (no shmq): publishes
 * on topic argv[1] "a\n" (seq 1), then two forged samples (a size field
 * that does not match the data, seq 1 again), then "b\n" (seq 2) and the end
 * of stream (seq 3). Configured like the bridge: --interface argv[2], peer
 * argv[3], no multicast. */
#include <stdio.h>
#include <string.h>

#include <dds/dds.h>

#include "shmq_bridge.h"

static int put(dds_entity_t wr, shmq_Message *m, uint64_t seq,
               const char *text, uint32_t size, int eos)
{
	m->seq = seq;
	m->size = size;
	m->eos = eos;
	m->data._buffer = (uint8_t *)text;
	m->data._length = (uint32_t)strlen(text);
	m->data._maximum = m->data._length;
	m->data._release = false;
	return dds_write(wr, m) < 0;
}

int main(int argc, char **argv)
{
	char xml[1024];
	dds_entity_t pp, tp, wr;
	dds_publication_matched_status_t st;
	dds_qos_t *q;
	shmq_Message m;
	int bad = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: forge TOPIC INTERFACE PEER\n");
		return 2;
	}
	snprintf(xml, sizeof(xml),
	         "<CycloneDDS><Domain id=\"any\"><General><Interfaces>"
	         "<NetworkInterface name=\"%s\"/></Interfaces><AllowMulticast>"
	         "false</AllowMulticast></General><Discovery><ParticipantIndex>"
	         "auto</ParticipantIndex><Peers><Peer address=\"%s\"/></Peers>"
	         "</Discovery></Domain></CycloneDDS>", argv[2], argv[3]);
	if (dds_create_domain(0, xml) < 0 ||
	    (pp = dds_create_participant(0, NULL, NULL)) < 0 ||
	    (tp = dds_create_topic(pp, &shmq_Message_desc, argv[1], NULL,
	                           NULL)) < 0)
		return 1;
	q = dds_create_qos();
	dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_SECS(1));
	dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
	dds_qset_liveliness(q, DDS_LIVELINESS_AUTOMATIC, DDS_SECS(1));
	wr = dds_create_writer(pp, tp, q, NULL);
	dds_delete_qos(q);
	if (wr < 0)
		return 1;
	/* Bounded: 20 s for the bridge in to match. */
	for (int i = 0; i < 2000; i++) {
		if (dds_get_publication_matched_status(wr, &st) == 0 &&
		    st.current_count > 0)
			break;
		dds_sleepfor(DDS_MSECS(10));
	}
	memset(&m, 0, sizeof(m));
	m.writer.host = 1;
	m.writer.pid = 2;
	m.writer.channel = 3;
	m.writer.nonce = 4;
	bad |= put(wr, &m, 1, "a\n", 2, 0);
	bad |= put(wr, &m, 2, "forged\n", 100, 0); /* size field lies */
	bad |= put(wr, &m, 1, "dup\n", 4, 0);      /* seq goes back */
	bad |= put(wr, &m, 2, "b\n", 2, 0);
	bad |= put(wr, &m, 3, "", 0, 1);
	dds_wait_for_acks(wr, DDS_SECS(10));
	dds_delete(pp);
	return bad;
}
