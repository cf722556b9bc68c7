/*
 * Channels over a Unix socket: the sender hands a new open file
 * description of its memfd channel (os_pass.c frames it); the receiver
 * validates the header through a read-only mapping, then joins as any
 * peer does, through the channel's memfd:fd=N locator.
 */
#include "chan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Whether a kind's readers write the ring: mpmc claims slots, a samples
 * reader takes its queue's entries (its data is read-only anyway). */
static int writes_ring(int kind)
{
	return kind == SHMQ_CHAN_MPMC || kind == SHMQ_CHAN_SAMPLES;
}

SHMQ_API int shmq_chan_send_fd(int sock, const shmq_chan *ch, unsigned flags)
{
	struct shmq__pass p = {.kind = SHMQ__PASS_CHAN, .flags = flags};
	if (!ch || (flags & ~SHMQ_PASS_RDONLY))
		return -EINVAL;
	if (ch->broken)
		return ch->broken;
	if (strncmp(ch->locator, "memfd:", 6))
		return SHMQ_EFAMILY;
	if ((flags & SHMQ_PASS_RDONLY) && writes_ring(ch->kind))
		return -EOPNOTSUPP;
	/* Not our fd itself: the receiver's lock byte must live on an open
	 * file description of its own (the peer table's liveness). */
	int fd = shmq__memfd_reopen(ch->fd, O_RDWR);
	if (fd < 0)
		return fd;
	int rc = shmq__pass_send(sock, fd, &p);
	close(fd);
	return rc;
}

/* A header that does not validate, or no memfd at all: the sender lied. */
static int bad_object(int rc)
{
	return rc == SHMQ_ENOTCHAN || rc == SHMQ_ESMALL
	       ? -EBADMSG : rc;
}

/* The ring read-only in our mapping (SHMQ_PASS_RDONLY): spsc and
 * broadcast readers never write it. */
static int ring_rdonly(struct shmq_chan *ch)
{
	if (writes_ring(ch->kind))
		return -EOPNOTSUPP;
	size_t len = shmq_seg_mapped_size(ch->seg) - SHMQ_CHAN_RING_OFF;
	return mprotect(ch->ring, len, PROT_READ) < 0 ? shmq__neg_errno() : 0;
}

/* Checks what was handed, reads the header through a read-only mapping
 * (shmq_chan_stat), then joins. fd stays the caller's. */
static int adopt(shmq_chan **out, int fd, const struct shmq__pass *p,
                 int role, int64_t spin_ns)
{
	struct shmq_chan_opts o = {.spin_ns = spin_ns};
	struct shmq_chan_info info;
	char loc[32];
	if (p->kind != SHMQ__PASS_CHAN)
		return SHMQ_ENOTCHAN;
	if ((p->flags & SHMQ_PASS_RDONLY) && role != SHMQ_READER)
		return -EACCES;
	int rc = shmq__memfd_check(fd);
	if (rc < 0)
		return rc;
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR)
		return -EACCES; /* every peer writes its line */
	snprintf(loc, sizeof(loc), "memfd:fd=%d", fd);
	rc = shmq_chan_stat(loc, &info);
	if (rc < 0)
		return bad_object(rc);
	if ((rc = shmq_chan_open(out, loc, role, &o)) < 0)
		return bad_object(rc);
	if ((p->flags & SHMQ_PASS_RDONLY) && (rc = ring_rdonly(*out)) < 0) {
		shmq_chan_close(*out);
		*out = NULL;
	}
	return rc;
}

SHMQ_API int shmq_chan_recv_fd(int sock, shmq_chan **out, int role,
                               const struct shmq_chan_opts *opts,
                               struct ucred *peer)
{
	static const struct shmq_chan_opts none = {.spin_ns = -1};
	const struct shmq_chan_opts *o = opts ? opts : &none;
	struct shmq__pass p;
	int fd;
	if (!out)
		return -EINVAL;
	*out = NULL;
	/* Checked before anything is taken off the socket. */
	if ((role != SHMQ_WRITER && role != SHMQ_READER) ||
	    (o->flags & ~SHMQ_ANY_OWNER) ||
	    !shmq__all_zero(o->reserved, sizeof(o->reserved)))
		return -EINVAL;
	int rc = shmq__pass_recv(sock, o->flags, peer, &fd, &p);
	if (rc < 0)
		return rc;
	rc = adopt(out, fd, &p, role, o->spin_ns);
	close(fd);
	return rc;
}
