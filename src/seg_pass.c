/*
 * Segments over a Unix socket: a memfd segment handed with its frame
 * (os_pass.c), adopted through its memfd:fd=N locator, read-only and sealed
 * when the sender says so.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010 /* Linux 5.1 */
#endif

#define RECV_FLAGS (SHMQ_SEG_RDONLY | SHMQ_SEG_RND | SHMQ_ANY_OWNER)

int shmq__memfd_reopen(int fd, int acc)
{
	struct shmq_locator loc = {.family = SHMQ_FAMILY_MEMFD,
	                           .by = SHMQ_BY_FD, .fd = fd};
	int nfd = shmq__memfd_get(&loc, acc);
	/* A memfd we cannot reopen is duplicated: never hand on more access
	 * than asked. */
	if (nfd >= 0 && (fcntl(nfd, F_GETFL) & O_ACCMODE) != acc) {
		close(nfd);
		return -EACCES;
	}
	return nfd;
}

int shmq__memfd_check(int fd)
{
	struct shmq_locator loc = {.family = SHMQ_FAMILY_MEMFD,
	                           .by = SHMQ_BY_FD, .fd = fd};
	int path = shmq__memfd_get(&loc, O_PATH);
	if (path < 0)
		return -EBADMSG;
	close(path);
	return 0;
}

/* Whether the fd we were handed allows writing: opened for it, not
 * sealed against it. */
static int writable(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	return (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR &&
	       (seals < 0 || !(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)));
}

int shmq__seg_adopt_fd(shmq_seg **seg, int fd, const struct shmq__pass *p,
                       const struct shmq_seg_opts *opts)
{
	struct shmq_seg_opts o = *opts;
	char loc[32];
	o.flags &= ~SHMQ_ANY_OWNER; /* the sender's uid is checked: done */
	if (!o.size)
		o.size = p->size;
	int rc = shmq__memfd_check(fd);
	if (rc == 0 && !(o.flags & SHMQ_SEG_RDONLY) &&
	    ((p->flags & SHMQ_PASS_RDONLY) || !writable(fd)))
		rc = -EACCES;
	if (rc == 0) {
		snprintf(loc, sizeof(loc), "memfd:fd=%d", fd);
		rc = shmq_seg_open(seg, loc, &o);
	}
	close(fd);
	return rc;
}

SHMQ_API int shmq_seg_send_fd(int sock, const shmq_seg *seg, unsigned flags)
{
	struct shmq__pass p = {.kind = SHMQ__PASS_SEG};
	if (!seg || (flags & ~(SHMQ_PASS_RDONLY | SHMQ_PASS_SEAL)))
		return -EINVAL;
	if (seg->loc.family != SHMQ_FAMILY_MEMFD)
		return SHMQ_EFAMILY;
	if (flags & SHMQ_PASS_SEAL) {
		/* Our mapping, made before, keeps writing; no new one can. */
		if (fcntl(seg->fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0)
			return errno == EINVAL ? -EOPNOTSUPP : shmq__neg_errno();
		flags |= SHMQ_PASS_RDONLY;
	}
	p.flags = flags;
	p.size = seg->size;
	int fd = shmq__memfd_reopen(seg->fd, flags & SHMQ_PASS_RDONLY
	                                     ? O_RDONLY : O_RDWR);
	if (fd < 0)
		return fd == -EBADF ? SHMQ_EFAMILY : fd;
	int rc = shmq__pass_send(sock, fd, &p);
	close(fd);
	return rc;
}

SHMQ_API int shmq_seg_recv_fd(int sock, shmq_seg **seg,
                              const struct shmq_seg_opts *opts,
                              struct ucred *peer)
{
	static const struct shmq_seg_opts none;
	const struct shmq_seg_opts *o = opts ? opts : &none;
	struct shmq__pass p;
	int fd;
	if (!seg)
		return -EINVAL;
	*seg = NULL;
	/* Checked before anything is taken off the socket. */
	if ((o->flags & ~RECV_FLAGS) || o->mode ||
	    !shmq__all_zero(o->reserved, sizeof(o->reserved)))
		return -EINVAL;
	int rc = shmq__pass_recv(sock, o->flags, peer, &fd, &p);
	return rc < 0 ? rc : shmq__seg_adopt_fd(seg, fd, &p, o);
}
