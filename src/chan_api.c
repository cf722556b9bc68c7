/* Channels: the public calls, built on each kind's reserve/commit and
 * peek/release, their accesses to the mapping under the SIGBUS guard. */
#include "chan.h"

#include <errno.h>
#include <string.h>

static int usable(const struct shmq_chan *ch, int role)
{
	if (!ch)
		return -EINVAL;
	if (ch->role != role)
		return -EPERM; /* a reader's handle does not send */
	if (__builtin_expect(ch->busy | ch->broken, 0))
		return ch->broken ? ch->broken : -EBUSY;
	return 0;
}

/* A kind without its own copying calls: made of its ops. Apart, so that
 * send_as() stays a short path for the kinds that have them. */
__attribute__((noinline))
static int send_by_ops(struct shmq_chan *ch, const void *buf, size_t len,
                       const struct timespec *deadline, int try_)
{
	return shmq__chan_send_via(ch, buf, len, deadline, try_,
	                           ch->ops->reserve, ch->ops->commit);
}

static int send_as(shmq_chan *ch, const void *buf, size_t len,
                   const struct timespec *deadline, int try_)
{
	int rc = usable(ch, SHMQ_WRITER);
	if (rc < 0)
		return rc;
	if (len && !buf)
		return -EINVAL;
	shmq__chan_enter(ch);
	rc = (ch->ops->send ? ch->ops->send : send_by_ops)(ch, buf, len,
	                                                   deadline, try_);
	return (int)shmq__chan_leave(ch, rc);
}

SHMQ_API int shmq_chan_send(shmq_chan *ch, const void *buf, size_t len)
{
	return send_as(ch, buf, len, NULL, 0);
}

SHMQ_API int shmq_chan_try_send(shmq_chan *ch, const void *buf, size_t len)
{
	return send_as(ch, buf, len, NULL, 1);
}

SHMQ_API int shmq_chan_send_timed(shmq_chan *ch, const void *buf, size_t len,
                                  const struct timespec *deadline)
{
	return send_as(ch, buf, len, deadline, 0);
}

SHMQ_API int shmq_chan_flush(shmq_chan *ch)
{
	/* a batching reader flushes too (the wake it owes), no other */
	int rc = usable(ch, ch && ch->batch > 1 ? ch->role : SHMQ_WRITER);
	if (rc < 0 || !ch->ops->flush)
		return rc;
	shmq__chan_enter(ch);
	ch->ops->flush(ch);
	return (int)shmq__chan_leave(ch, 0);
}

/* What a copying receive gives back: the message at p. */
static int release_copied(struct shmq_chan *ch, const void *p)
{
	return ch->ops->release_at ? ch->ops->release_at(ch, p)
	                           : ch->ops->release(ch);
}

__attribute__((noinline))
static ssize_t recv_by_ops(struct shmq_chan *ch, void *buf, size_t len,
                           const struct timespec *deadline, int try_)
{
	return shmq__chan_recv_via(ch, buf, len, deadline, try_,
	                           ch->ops->peek, release_copied);
}

static ssize_t recv_as(shmq_chan *ch, void *buf, size_t len,
                       const struct timespec *deadline, int try_)
{
	int rc = usable(ch, SHMQ_READER);
	if (rc < 0)
		return rc;
	if (len && !buf)
		return -EINVAL;
	shmq__chan_enter(ch);
	ssize_t n = (ch->ops->recv ? ch->ops->recv : recv_by_ops)(
		ch, buf, len, deadline, try_);
	return shmq__chan_leave(ch, n);
}

SHMQ_API ssize_t shmq_chan_recv(shmq_chan *ch, void *buf, size_t len)
{
	return recv_as(ch, buf, len, NULL, 0);
}

SHMQ_API ssize_t shmq_chan_try_recv(shmq_chan *ch, void *buf, size_t len)
{
	return recv_as(ch, buf, len, NULL, 1);
}

SHMQ_API ssize_t shmq_chan_recv_timed(shmq_chan *ch, void *buf, size_t len,
                                      const struct timespec *deadline)
{
	return recv_as(ch, buf, len, deadline, 0);
}

static int reserve_as(shmq_chan *ch, size_t len, void **ptr,
                      const struct timespec *deadline, int try_)
{
	int rc = usable(ch, SHMQ_WRITER);
	if (rc < 0)
		return rc;
	if (!ptr)
		return -EINVAL;
	shmq__chan_enter(ch);
	rc = ch->ops->reserve(ch, len, ptr, deadline, try_);
	if ((rc = (int)shmq__chan_leave(ch, rc)) < 0)
		return rc;
	ch->busy = 1;
	ch->op_len = len;
	return 0;
}

SHMQ_API int shmq_chan_reserve(shmq_chan *ch, size_t len, void **ptr)
{
	return reserve_as(ch, len, ptr, NULL, 0);
}

SHMQ_API int shmq_chan_try_reserve(shmq_chan *ch, size_t len, void **ptr)
{
	return reserve_as(ch, len, ptr, NULL, 1);
}

SHMQ_API int shmq_chan_reserve_timed(shmq_chan *ch, size_t len, void **ptr,
                                     const struct timespec *deadline)
{
	return reserve_as(ch, len, ptr, deadline, 0);
}

SHMQ_API int shmq_chan_commit(shmq_chan *ch, size_t len)
{
	if (!ch || ch->role != SHMQ_WRITER || !ch->busy || len > ch->op_len)
		return -EINVAL;
	ch->busy = 0;
	if (ch->broken)
		return ch->broken;
	shmq__chan_enter(ch);
	return (int)shmq__chan_leave(ch, ch->ops->commit(ch, len));
}

SHMQ_API int shmq_chan_abandon(shmq_chan *ch)
{
	if (!ch || ch->role != SHMQ_WRITER || !ch->busy)
		return -EINVAL;
	ch->busy = 0;
	if (ch->broken)
		return ch->broken;
	if (!ch->ops->abandon)
		return 0;
	shmq__chan_enter(ch);
	ch->ops->abandon(ch);
	return (int)shmq__chan_leave(ch, 0);
}

static ssize_t peek_as(shmq_chan *ch, const void **ptr,
                       const struct timespec *deadline, int try_)
{
	int rc = usable(ch, SHMQ_READER);
	if (rc < 0)
		return rc;
	if (!ptr)
		return -EINVAL;
	shmq__chan_enter(ch);
	ssize_t n = ch->ops->peek(ch, ptr, SIZE_MAX, deadline, try_);
	if ((n = shmq__chan_leave(ch, n)) >= 0) {
		/* samples: busy once the handle holds all it may */
		ch->busy = !ch->ops->can_hold || !ch->ops->can_hold(ch);
		ch->op_ptr = *ptr;
	}
	return n;
}

SHMQ_API ssize_t shmq_chan_peek(shmq_chan *ch, const void **ptr)
{
	return peek_as(ch, ptr, NULL, 0);
}

SHMQ_API ssize_t shmq_chan_try_peek(shmq_chan *ch, const void **ptr)
{
	return peek_as(ch, ptr, NULL, 1);
}

SHMQ_API ssize_t shmq_chan_peek_timed(shmq_chan *ch, const void **ptr,
                                      const struct timespec *deadline)
{
	return peek_as(ch, ptr, deadline, 0);
}

SHMQ_API int shmq_chan_release(shmq_chan *ch)
{
	if (!ch || ch->role != SHMQ_READER)
		return -EINVAL;
	if (!ch->ops->release_at && !ch->busy)
		return -EINVAL;
	ch->busy = 0;
	if (ch->broken)
		return ch->broken;
	shmq__chan_enter(ch);
	return (int)shmq__chan_leave(ch, ch->ops->release(ch));
}

SHMQ_API int shmq_chan_release_at(shmq_chan *ch, const void *ptr)
{
	if (!ch || ch->role != SHMQ_READER || !ptr)
		return -EINVAL;
	if (!ch->ops->release_at)
		return ch->busy && ptr == ch->op_ptr ? shmq_chan_release(ch)
		                                     : -EINVAL;
	if (ch->broken)
		return ch->broken;
	shmq__chan_enter(ch);
	int rc = (int)shmq__chan_leave(ch, ch->ops->release_at(ch, ptr));
	if (rc == 0)
		ch->busy = 0;
	return rc;
}

SHMQ_API uint64_t shmq_chan_lost(const shmq_chan *ch)
{
	return ch ? ch->lost : 0;
}

SHMQ_API size_t shmq_chan_max_msg(const shmq_chan *ch)
{
	return ch ? ch->msg_size : 0;
}
