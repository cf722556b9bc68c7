/*
 * The seed's chat (a sender typing into a System V page on key 123, a
 * receiver printing that page every second) redone on a shmq channel: the
 * sender sends each line of its stdin as one message, the receiver prints
 * every line once, in order, as soon as it arrives (it sleeps in the kernel
 * meanwhile: no polling, no sleep), and ends when the sender has quit and
 * every line is printed.
 *
 *   build/examples/chat recv room1 &
 *   printf 'hello\nworld\n' | build/examples/chat send room1
 *
 * Either side may start first. The channel (spsc, /dev/shm/room1, mode
 * 0600) persists until the receiver has seen the end of the conversation
 * and removes it, so lines sent before the receiver came are not lost.
 */
#include <shmq.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(int err, const char *name)
{
	char msg[512];
	fprintf(stderr, "chat: %s\n",
	        shmq_explain(err, name, 0, msg, sizeof(msg)));
	return 1;
}

/* One message per line, newline kept; a line longer than the channel
 * takes goes in pieces, which the receiver prints back to back. */
static int send_lines(shmq_chan *ch)
{
	size_t cap = 0, max = shmq_chan_max_msg(ch);
	char *line = NULL;
	ssize_t n;
	int rc = 0;
	while (rc == 0 && (n = getline(&line, &cap, stdin)) > 0)
		for (size_t off = 0; rc == 0 && off < (size_t)n; off += max)
			rc = shmq_chan_send(ch, line + off,
			                    (size_t)n - off < max ? (size_t)n - off
			                                          : max);
	free(line);
	return rc;
}

/* Blocks until a line comes; -EPIPE is the sender's normal goodbye. */
static int recv_lines(shmq_chan *ch)
{
	char *buf = malloc(shmq_chan_max_msg(ch));
	ssize_t n = -ENOMEM;
	while (buf && (n = shmq_chan_recv(ch, buf, shmq_chan_max_msg(ch))) >= 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
	}
	free(buf);
	return n == -EPIPE ? 0 : (int)n;
}

int main(int argc, char **argv)
{
	struct shmq_chan_opts o = {
		.kind = SHMQ_CHAN_SPSC, .capacity = 16384, .spin_ns = -1,
		.flags = SHMQ_OPEN_OK | SHMQ_CHAN_PERSIST,
	};
	shmq_chan *ch;
	if (argc != 3 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
		fprintf(stderr, "usage: chat send|recv NAME\n");
		return 2;
	}
	int sending = !strcmp(argv[1], "send");
	int rc = shmq_chan_create(&ch, argv[2],
	                          sending ? SHMQ_WRITER : SHMQ_READER, &o);
	if (rc < 0)
		return fail(rc, argv[2]);
	rc = sending ? send_lines(ch) : recv_lines(ch);
	/* The conversation is over for good when the receiver is done, or
	 * when the sender cannot go on (the receiver died): remove it. */
	if (!sending || rc < 0)
		shmq_chan_unlink(argv[2]);
	shmq_chan_close(ch);
	return rc < 0 ? fail(rc, argv[2]) : 0;
}
