/* send --serve and recv --from-socket: a channel handed over a Unix socket
 * (shmq_chan_send_fd, shmq_chan_recv_fd), so that nothing has a name in
 * /dev/shm. */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int address(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return cli_failf("%s: a socket path is at most %zu bytes", path,
		                 sizeof(a->sun_path) - 1);
	strcpy(a->sun_path, path);
	return CLI_OK;
}

/* A connected socket to path, or -errno. */
static int dial(const struct sockaddr_un *a)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (s < 0)
		return -errno;
	if (connect(s, (const struct sockaddr *)a, sizeof(*a)) == 0)
		return s;
	err = -errno;
	close(s);
	return err;
}

/* The path is free for our socket: nothing there, or a socket that nobody
 * listens at any more (its server was killed), which goes. */
static int clear_path(const char *path, const struct sockaddr_un *a)
{
	struct stat sb;
	int s;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? CLI_OK
		       : cli_failf("%s: %s", path, strerror(errno));
	if (!S_ISSOCK(sb.st_mode))
		return cli_failf("%s: exists and is not a socket; not replaced "
		                 "(remove it, or serve at another path)", path);
	if ((s = dial(a)) >= 0) {
		close(s);
		return cli_failf("%s: another server listens at this socket",
		                 path);
	}
	if (s != -ECONNREFUSED || (unlink(path) < 0 && errno != ENOENT))
		return cli_failf("%s: cannot replace this socket: %s", path,
		                 strerror(s != -ECONNREFUSED ? -s : errno));
	return CLI_OK;
}

/* The socket, with the mode asked (bind makes it 0777 less the umask). */
static int listen_at(struct cli_serve *s, const struct sockaddr_un *a,
                     unsigned mode)
{
	struct stat sb;
	mode_t old;
	int rc;

	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0)
		return cli_failf("%s: %s", s->path, strerror(errno));
	old = umask(~mode & 0777);
	rc = bind(s->fd, (const struct sockaddr *)a, sizeof(*a));
	umask(old);
	if (rc == 0 && (listen(s->fd, 64) < 0 || lstat(s->path, &sb) < 0)) {
		rc = -1;
		unlink(s->path);
	}
	if (rc < 0) {
		cli_failf("%s: cannot listen here: %s", s->path, strerror(errno));
		close(s->fd);
		s->fd = -1;
		return CLI_ERR;
	}
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	return CLI_OK;
}

static int make_chan(void *a, shmq_chan **ch)
{
	struct shmq_chan_opts o = ((const struct cli_chan_args *)a)->o;

	return shmq_chan_create(ch, "memfd:shmq-serve", SHMQ_WRITER, &o);
}

int cli_serve_open(const struct cli_chan_args *a, struct cli_serve *s,
                   shmq_chan **ch)
{
	struct sockaddr_un addr;
	int err;

	s->path = a->socket;
	s->fd = -1;
	if (address(s->path, &addr) != CLI_OK ||
	    clear_path(s->path, &addr) != CLI_OK)
		return CLI_ERR;
	if ((err = cli_chan_attach(make_chan, (void *)a, ch)) < 0)
		return cli_chan_fail(err, s->path);
	if (listen_at(s, &addr, a->o.mode ? a->o.mode : 0600) != CLI_OK) {
		shmq_chan_close(*ch);
		*ch = NULL;
		return CLI_ERR;
	}
	fprintf(stderr, "shmq: serving a %s channel at %s (shmq recv "
	        "--from-socket %s)\n", cli_chan_kind(a->o.kind ? a->o.kind
	                                             : SHMQ_CHAN_SPSC),
	        s->path, s->path);
	return CLI_OK;
}

void cli_serve_pending(struct cli_serve *s, shmq_chan *ch)
{
	int c, err;

	while (s->fd >= 0 &&
	       (c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		/* A caller that went away meanwhile is no error. */
		if ((err = shmq_chan_send_fd(c, ch, 0)) < 0 && err != -EPIPE &&
		    err != -ECONNRESET)
			fprintf(stderr, "shmq: note: %s: a caller did not get "
			        "the channel: %s\n", s->path, shmq_strerror(err));
		close(c);
	}
}

void cli_serve_close(struct cli_serve *s)
{
	struct stat sb;

	if (s->fd < 0)
		return;
	close(s->fd);
	s->fd = -1;
	/* Only our socket: another server may have replaced it since. */
	if (lstat(s->path, &sb) == 0 && sb.st_dev == s->dev &&
	    sb.st_ino == s->ino)
		unlink(s->path);
}

struct from {
	int sock;
	unsigned flags;
	struct ucred peer;
};

static int take_chan(void *ctx, shmq_chan **ch)
{
	struct from *f = ctx;
	struct shmq_chan_opts o = { .flags = f->flags, .spin_ns = -1 };

	return shmq_chan_recv_fd(f->sock, ch, SHMQ_READER, &o, &f->peer);
}

static int from_fail(int err, const char *path, const struct ucred *peer)
{
	char who[64];

	switch (err) {
	case -ENOENT:
		return cli_failf("%s: no such socket; start the server first "
		                 "(shmq send --serve %s)", path, path);
	case -ECONNREFUSED:
		return cli_failf("%s: nobody serves at this socket (a server "
		                 "that was killed leaves it behind)", path);
	case -EACCES:
		return cli_failf("%s: permission denied: the socket's mode "
		                 "keeps this user out (the server sets it with "
		                 "--mode)", path);
	case -EPIPE:
		return cli_failf("%s: the server closed the connection without "
		                 "handing a channel", path);
	case -EBADMSG:
	case SHMQ_ENOTCHAN:
	case SHMQ_EVERSION:
		return cli_failf("%s: what the server handed is no shmq channel "
		                 "(of this version): %s", path,
		                 shmq_strerror(err));
	case SHMQ_EOWNER:
		return cli_failf("%s: the server (pid %d) runs as another user "
		                 "(%s); refused: add --any-owner to take its "
		                 "channel", path, (int)peer->pid,
		                 cli_user(peer->uid, who, sizeof(who)));
	}
	return cli_chan_fail(err, path);
}

int cli_from_socket(const struct cli_chan_args *a, shmq_chan **ch)
{
	struct sockaddr_un addr;
	struct from f = { -1, a->o.flags & SHMQ_ANY_OWNER, { 0, 0, 0 } };
	int err;

	if (address(a->socket, &addr) != CLI_OK)
		return CLI_ERR;
	if ((f.sock = dial(&addr)) < 0)
		return from_fail(f.sock, a->socket, &f.peer);
	err = cli_chan_attach(take_chan, &f, ch);
	close(f.sock);
	return err < 0 ? from_fail(err, a->socket, &f.peer) : CLI_OK;
}
