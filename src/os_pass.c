/*
 * Handing an fd over a Unix socket: one 32-byte frame with the fd beside it
 * (SCM_RIGHTS), and who sent it (SO_PEERCRED). Whatever comes in is
 * counted and closed unless it is exactly one frame and one fd: a sender
 * cannot leave fds in our table by sending many, or none.
 */
#include "internal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PASS_MAGIC UINT64_C(0x53534150514d4853) /* "SHMQPASS" */
#define PASS_VERSION 1u
#define PASS_FLAGS (SHMQ_PASS_RDONLY | SHMQ_PASS_SEAL)
#define MAX_FDS 8 /* room for a few: more are discarded by the kernel */

/* The frame, in the byte order of the machine both ends run on. */
struct pass_frame {
	uint64_t magic;    /* PASS_MAGIC */
	uint32_t version;  /* PASS_VERSION */
	uint32_t kind;     /* SHMQ__PASS_SEG, SHMQ__PASS_CHAN */
	uint32_t flags;    /* SHMQ_PASS_* */
	uint32_t reserved; /* zero */
	uint64_t size;     /* segment: bytes the sender uses; channel: 0 */
};

_Static_assert(sizeof(struct pass_frame) == 32 &&
               offsetof(struct pass_frame, version) == 8 &&
               offsetof(struct pass_frame, kind) == 12 &&
               offsetof(struct pass_frame, flags) == 16 &&
               offsetof(struct pass_frame, size) == 24,
               "handover frame (docs/design.md)");

union pass_ctl {
	char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	struct cmsghdr align;
};

int shmq__pass_send(int sock, int fd, const struct shmq__pass *p)
{
	struct pass_frame f = {.magic = PASS_MAGIC, .version = PASS_VERSION,
	                       .kind = p->kind, .flags = p->flags,
	                       .size = p->size};
	union pass_ctl ctl;
	struct iovec iov = {&f, sizeof(f)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
	                   .msg_control = ctl.buf,
	                   .msg_controllen = CMSG_SPACE(sizeof(int))};
	memset(&ctl, 0, sizeof(ctl));
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	size_t sent = 0;
	while (sent < sizeof(f)) {
		/* The fd goes with the first byte; a stream socket may take
		 * the rest later. */
		ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return shmq__neg_errno();
		sent += (size_t)n;
		iov.iov_base = (char *)&f + sent;
		iov.iov_len = sizeof(f) - sent;
		m.msg_control = NULL;
		m.msg_controllen = 0;
	}
	return 0;
}

/* Keeps the first fd of m's SCM_RIGHTS in *fd (if none is kept yet),
 * closes every other, and counts them all in *n. */
static void take_fds(struct msghdr *m, int *fd, unsigned *n)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = got;
			else
				close(got);
			(*n)++;
		}
	}
}

/* One frame and the fds that came with it: a stream socket is read until
 * the frame is whole (an fd ends a read: the kernel never merges two
 * senders' fds), a datagram or seqpacket socket must give exactly one. */
static int recv_frame(int sock, struct pass_frame *f, int *fd, unsigned *nfd)
{
	int type, rc = 0;
	socklen_t tl = sizeof(type);
	size_t got = 0;
	union pass_ctl ctl;
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return shmq__neg_errno();
	while (got < sizeof(*f)) {
		struct iovec iov = {(char *)f + got, sizeof(*f) - got};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
		                   .msg_control = ctl.buf,
		                   .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC |
		                    (type == SOCK_STREAM ? MSG_WAITALL : 0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = shmq__neg_errno();
			if (got && (rc == -EAGAIN || rc == -EWOULDBLOCK))
				rc = -EBADMSG; /* a frame cut short */
			break;
		}
		take_fds(&m, fd, nfd);
		if (m.msg_flags & MSG_CTRUNC)
			(*nfd)++; /* more than we take: the kernel closed them */
		if (n == 0) {
			rc = got ? -EBADMSG : -EPIPE;
			break;
		}
		got += (size_t)n;
		if (type != SOCK_STREAM) {
			if (got != sizeof(*f) || (m.msg_flags & MSG_TRUNC))
				rc = -EBADMSG;
			break;
		}
	}
	return rc;
}

static int peer_check(int sock, unsigned flags, struct ucred *peer)
{
	struct ucred c;
	socklen_t len = sizeof(c);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &c, &len) < 0)
		return shmq__neg_errno();
	if (peer)
		*peer = c;
	return shmq__owner_check(flags, c.uid);
}

int shmq__pass_recv(int sock, unsigned flags, struct ucred *peer, int *fd,
                    struct shmq__pass *p)
{
	struct pass_frame f;
	unsigned nfd = 0;
	*fd = -1;
	int rc = peer_check(sock, flags, peer);
	if (rc == 0)
		rc = recv_frame(sock, &f, fd, &nfd);
	if (rc == 0 && (f.magic != PASS_MAGIC || nfd != 1))
		rc = -EBADMSG;
	else if (rc == 0 && f.version != PASS_VERSION)
		rc = SHMQ_EVERSION;
	else if (rc == 0 && (f.reserved || (f.flags & ~PASS_FLAGS) ||
	                     (f.kind != SHMQ__PASS_SEG &&
	                      f.kind != SHMQ__PASS_CHAN)))
		rc = -EBADMSG;
	if (rc < 0) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return rc;
	}
	p->kind = f.kind;
	p->flags = f.flags;
	p->size = f.size;
	return 0;
}
