/*
 * Channels: a waitset, many channel ends and fds waited on at once. An
 * epoll instance over the ends' fds (chan_fd.c) and the caller's fds; a
 * member list to find a member again by channel or fd.
 */
#include "chan.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct member {
	struct shmq_ready r;
	struct member *next;
};

struct shmq_waitset {
	int ep;
	struct member *members;
};

SHMQ_API int shmq_waitset_create(shmq_waitset **ws)
{
	if (!ws)
		return -EINVAL;
	struct shmq_waitset *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		int rc = -errno;
		free(w);
		return rc;
	}
	*ws = w;
	return 0;
}

SHMQ_API int shmq_waitset_close(shmq_waitset *ws)
{
	if (!ws)
		return 0;
	while (ws->members) {
		struct member *m = ws->members;
		ws->members = m->next;
		free(m);
	}
	int rc = close(ws->ep) < 0 ? -errno : 0;
	free(ws);
	return rc;
}

static struct member **find(shmq_waitset *ws, shmq_chan *ch, int fd)
{
	struct member **p = &ws->members;
	while (*p && (ch ? (*p)->r.ch != ch : (*p)->r.ch || (*p)->r.fd != fd))
		p = &(*p)->next;
	return p;
}

static int add(shmq_waitset *ws, shmq_chan *ch, int fd, uint32_t events,
               void *data)
{
	if (*find(ws, ch, fd))
		return -EEXIST;
	struct member *m = malloc(sizeof *m);
	if (!m)
		return -ENOMEM;
	m->r = (struct shmq_ready){.ch = ch, .fd = fd, .events = events,
	                           .data = data};
	struct epoll_event ev = {.events = events, .data.ptr = m};
	if (epoll_ctl(ws->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = -errno;
		free(m);
		return rc;
	}
	m->next = ws->members;
	ws->members = m;
	return 0;
}

SHMQ_API int shmq_waitset_add_chan(shmq_waitset *ws, shmq_chan *ch,
                                   void *data)
{
	if (!ws || !ch)
		return -EINVAL;
	int fd = shmq_chan_fd(ch);
	return fd < 0 ? fd : add(ws, ch, fd, EPOLLIN, data);
}

SHMQ_API int shmq_waitset_add_fd(shmq_waitset *ws, int fd, uint32_t events,
                                 void *data)
{
	if (!ws || fd < 0 || !events)
		return -EINVAL;
	return add(ws, NULL, fd, events, data);
}

static int drop(shmq_waitset *ws, shmq_chan *ch, int fd)
{
	struct member **p = find(ws, ch, fd), *m = *p;
	if (!m)
		return -ENOENT;
	/* the fd may be closed already: the member goes whatever epoll says */
	epoll_ctl(ws->ep, EPOLL_CTL_DEL, m->r.fd, NULL);
	*p = m->next;
	free(m);
	return 0;
}

SHMQ_API int shmq_waitset_remove_chan(shmq_waitset *ws, shmq_chan *ch)
{
	return !ws || !ch ? -EINVAL : drop(ws, ch, -1);
}

SHMQ_API int shmq_waitset_remove_fd(shmq_waitset *ws, int fd)
{
	return !ws || fd < 0 ? -EINVAL : drop(ws, NULL, fd);
}

/* Milliseconds to the deadline, rounded up (-1: none). */
static int ms_left(const struct timespec *deadline)
{
	if (!deadline)
		return -1;
	int64_t left = (int64_t)deadline->tv_sec * 1000000000 +
	               deadline->tv_nsec - shmq__now_ns();
	if (left <= 0)
		return 0;
	left = (left + 999999) / 1000000;
	return left > 1000000000 ? 1000000000 : (int)left;
}

SHMQ_API int shmq_waitset_wait(shmq_waitset *ws, struct shmq_ready *ready,
                               int max, const struct timespec *deadline)
{
	enum { BATCH = 64 };
	struct epoll_event got[BATCH];
	if (!ws || !ready || max <= 0)
		return -EINVAL;
	for (;;) {
		int ms = ms_left(deadline);
		int n = epoll_wait(ws->ep, got, max < BATCH ? max : BATCH, ms);
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct member *m = got[i].data.ptr;
			ready[i] = m->r;
			ready[i].events = got[i].events;
		}
		if (n > 0)
			return n;
		if (ms == 0)
			return -ETIMEDOUT;
	}
}
