/*
 * Channels and segments handed over a Unix socket (shmq_*_send_fd,
 * shmq_*_recv_fd): what arrives is the object the sender has, read-only
 * when handed so (a write dies with SIGSEGV), refused when the sender is
 * another user, alive after the sender is killed, and anything that is not
 * one frame with one shmq memfd is an error that leaves no fd behind and
 * nothing in /dev/shm.
 */
#include "shmq.h"
#include "test.h"
#include "tutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

/* ---- Helpers ----------------------------------------------------------- */

/* Open fds of this process. */
static int nfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	CHECK(d != NULL);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void socket_pair(int sv[2])
{
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* A memfd channel, as writer. */
static shmq_chan *new_chan(const char *name, int kind)
{
	struct shmq_chan_opts o = {.kind = kind, .capacity = 4096,
	                           .spin_ns = -1};
	char loc[64];
	shmq_chan *ch;
	snprintf(loc, sizeof(loc), "memfd:%s", name);
	CHECK_EQ(shmq_chan_create(&ch, loc, SHMQ_WRITER, &o), 0);
	return ch;
}

/* Our fd on the memfd called name (a channel's, found in /proc). */
static int memfd_of(const char *name)
{
	char link[64], target[256], want[256];
	snprintf(want, sizeof(want), "/memfd:%s (deleted)", name);
	for (int fd = 3; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, want))
			return fd;
	}
	t_fail(__FILE__, __LINE__, "memfd_of", "no fd holds memfd %s", name);
}

/* The handover frame as docs/design.md gives it, for hand-made ones. */
struct frame {
	uint64_t magic;
	uint32_t version, kind, flags, reserved;
	uint64_t size;
};
#define MAGIC UINT64_C(0x53534150514d4853) /* "SHMQPASS" */
#define KIND_SEG 1
#define KIND_CHAN 2

/* Sends len bytes of f with n fds beside them. */
static void send_raw(int sock, const void *f, size_t len, const int *fds,
                     int n)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {(void *)f, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	memset(&ctl, 0, sizeof(ctl));
	if (n) {
		m.msg_control = ctl.buf;
		m.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	}
	CHECK_EQ(sendmsg(sock, &m, MSG_NOSIGNAL), (ssize_t)len);
}

/* The fd of one message, received by hand (as a receiver that does not
 * use the library would). */
static int recv_raw(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char frame[32];
	struct iovec iov = {frame, sizeof(frame)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
	                   .msg_control = ctl.buf,
	                   .msg_controllen = sizeof(ctl.buf)};
	int fd;
	CHECK_EQ(recvmsg(sock, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC),
	         (ssize_t)sizeof(frame));
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	CHECK(c != NULL && c->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

/* What shmq_chan_recv_fd makes of one hand-made message (len bytes of f,
 * n fds; len 0: the sender just closes), with no fd left behind. */
static int chan_recv_raw(const struct frame *f, size_t len, const int *fds,
                         int n)
{
	int sv[2], before = nfds();
	shmq_chan *ch = (shmq_chan *)1;
	socket_pair(sv);
	if (len)
		send_raw(sv[0], f, len, fds, n);
	close(sv[0]);
	int rc = shmq_chan_recv_fd(sv[1], &ch, SHMQ_READER, NULL, NULL);
	close(sv[1]);
	if (rc == 0)
		CHECK_EQ(shmq_chan_close(ch), 0);
	else
		CHECK(ch == NULL);
	CHECK_EQ(nfds(), before); /* nothing received stays */
	return rc;
}

/* Forks a child that runs fn(arg) and exits 0. */
static pid_t child(void (*fn)(int), int arg)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	return pid;
}

/* ---- A channel handed to a program that knows only the socket ---------- */

/* A Unix stream socket listening at path, or connected to it. */
static int unix_at(const char *path, int listening)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (listening)
		CHECK(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		      listen(s, 4) == 0);
	else
		CHECK_EQ(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	return s;
}

/* Accepts a caller at l, unless child pid exits first (a failure). */
static int accept_from(int l, pid_t pid)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p[2] = {{l, POLLIN, 0}, {pfd, POLLIN, 0}};
	CHECK(pfd >= 0);
	CHECK_EQ(poll(p, 2, -1), p[0].revents ? 1 + (p[1].revents != 0) : 1);
	close(pfd);
	if (!p[0].revents)
		t_fail(__FILE__, __LINE__, "accept_from",
		       "pid %d exited with %d before connecting", (int)pid,
		       t_wait(pid));
	int conn = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	CHECK(conn >= 0);
	return conn;
}

static const char *exec_path;
static const char exec_want[] = "one\ntwo two\n\nthree\n";

/* exec()s the tool, which learns nothing but the socket's path. */
static void run_recv_tool(int unused)
{
	struct t_run r;
	(void)unused;
	t_shmq(&r, NULL, "recv", "--from-socket", exec_path, (char *)NULL);
	if (r.status != 0 || strcmp(r.out, exec_want))
		t_fail(__FILE__, __LINE__, "recv --from-socket",
		       "status %d, out \"%s\", err \"%s\"", r.status, r.out,
		       r.err);
}

TEST(pass_chan_reaches_an_exec_program_that_knows_only_the_socket_path)
{
	static const char *const msgs[] = {"one\n", "two two\n", "\n", "three"};
	char path[128], shm_before[8192], shm_after[8192];
	t_shm_names(shm_before, sizeof(shm_before));
	exec_path = t_sock_path(path, sizeof(path), "exec");
	int l = unix_at(path, 1);
	/* Forked before the channel exists: nothing of it is inherited. */
	pid_t pid = child(run_recv_tool, 0);
	shmq_chan *ch = new_chan("pass-exec", SHMQ_CHAN_SPSC);
	int conn = accept_from(l, pid);
	CHECK_EQ(shmq_chan_send_fd(conn, ch, 0), 0);
	close(conn);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		CHECK_EQ(shmq_chan_send(ch, msgs[i], strlen(msgs[i])), 0);
	CHECK_EQ(shmq_chan_close(ch), 0);
	CHECK_EQ(t_wait(pid), 0);
	close(l);
	CHECK_EQ(unlink(path), 0);
	t_shm_names(shm_after, sizeof(shm_after));
	CHECK_EQ(strcmp(shm_before, shm_after), 0); /* nothing in /dev/shm */
}

/* ---- Segments: shared both ways, or read-only ----------------------------- */

static int seg_sock;

static void write_back(int unused)
{
	struct ucred peer;
	shmq_seg *seg;
	(void)unused;
	CHECK_EQ(shmq_seg_recv_fd(seg_sock, &seg, NULL, &peer), 0);
	CHECK_EQ(peer.pid, getppid()); /* the pair's maker */
	CHECK_EQ(shmq_seg_size(seg), 10000);
	char *p = shmq_seg_addr(seg);
	CHECK_EQ(memcmp(p, "ping", 5), 0);
	memcpy(p + 5000, "pong", 5);
	CHECK_EQ(shmq_seg_close(seg), 0);
}

TEST(pass_seg_handed_read_write_is_the_same_memory)
{
	struct shmq_seg_opts o = {.size = 10000};
	shmq_seg *seg;
	int sv[2];
	socket_pair(sv);
	seg_sock = sv[1];
	pid_t pid = child(write_back, 0);
	CHECK_EQ(shmq_seg_create(&seg, "memfd:pass-rw", &o), 0);
	memcpy(shmq_seg_addr(seg), "ping", 5);
	CHECK_EQ(shmq_seg_send_fd(sv[0], seg, 0), 0);
	CHECK_EQ(t_wait(pid), 0);
	CHECK_EQ(memcmp((char *)shmq_seg_addr(seg) + 5000, "pong", 5), 0);
	CHECK_EQ(shmq_seg_close(seg), 0);
	close(sv[0]);
	close(sv[1]);
}

/* Receives a read-only segment, proves every way to write is shut, then
 * writes through the mapping: it must die of SIGSEGV. */
static void scribble(int sealed)
{
	struct shmq_seg_opts ro = {.flags = SHMQ_SEG_RDONLY};
	shmq_seg *seg;
	/* What is handed is read-only itself, whoever receives it. */
	int raw = recv_raw(seg_sock);
	CHECK_EQ(fcntl(raw, F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, raw, 0) ==
	      MAP_FAILED);
	close(raw);
	/* Asked read-write: refused, nothing mapped. */
	CHECK_EQ(shmq_seg_recv_fd(seg_sock, &seg, NULL, NULL), -EACCES);
	CHECK(seg == NULL);
	CHECK_EQ(shmq_seg_recv_fd(seg_sock, &seg, &ro, NULL), 0);
	char *p = shmq_seg_addr(seg);
	CHECK_EQ(memcmp(p, "read me", 8), 0);
	CHECK_EQ(mprotect(p, 4096, PROT_READ | PROT_WRITE), -1);
	CHECK_EQ(errno, EACCES);
	CHECK_EQ(fcntl(shmq_seg_fd(seg), F_GETFL) & O_ACCMODE, O_RDONLY);
	if (sealed) { /* even a read-write reopen cannot map it writable */
		char link[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d",
		         shmq_seg_fd(seg));
		int fd = open(link, O_RDWR);
		CHECK(fd >= 0);
		CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		           0) == MAP_FAILED);
		CHECK_EQ(errno, EPERM);
		CHECK_EQ(write(fd, "x", 1), -1);
		CHECK_EQ(errno, EPERM);
		close(fd);
	}
	signal(SIGSEGV, SIG_DFL); /* not ASan's handler: die by the signal */
	*(volatile char *)p = 'X'; /* dies here */
	_exit(3);
}

TEST(pass_seg_read_only_reader_dies_of_sigsegv_when_it_writes)
{
	for (int sealed = 0; sealed <= 1; sealed++) {
		struct shmq_seg_opts o = {.size = 4096};
		unsigned flags = sealed ? SHMQ_PASS_SEAL : SHMQ_PASS_RDONLY;
		shmq_seg *seg;
		int sv[2];
		socket_pair(sv);
		seg_sock = sv[1];
		pid_t pid = child(scribble, sealed);
		CHECK_EQ(shmq_seg_create(&seg, "memfd:pass-ro", &o), 0);
		char *p = shmq_seg_addr(seg);
		memcpy(p, "read me", 8);
		for (int i = 0; i < 3; i++)
			CHECK_EQ(shmq_seg_send_fd(sv[0], seg, flags), 0);
		CHECK_EQ(t_wait(pid), 128 + SIGSEGV);
		/* Untouched, and still ours to write (a mapping made before
		 * the seal keeps writing). */
		CHECK_EQ(memcmp(p, "read me", 8), 0);
		p[0] = 'R';
		CHECK_EQ(shmq_seg_close(seg), 0);
		close(sv[0]);
		close(sv[1]);
	}
}

/* ---- Channels handed to readers only ------------------------------------ */

static void poke_ring(int unused)
{
	const void *msg;
	shmq_chan *ch;
	(void)unused;
	CHECK_EQ(shmq_chan_recv_fd(seg_sock, &ch, SHMQ_WRITER, NULL, NULL),
	         -EACCES);
	CHECK_EQ(shmq_chan_recv_fd(seg_sock, &ch, SHMQ_READER, NULL, NULL), 0);
	CHECK_EQ(shmq_chan_peek(ch, &msg), 5);
	CHECK_EQ(memcmp(msg, "hello", 5), 0);
	signal(SIGSEGV, SIG_DFL);
	*(volatile char *)msg = 'X'; /* dies here */
	_exit(3);
}

TEST(pass_chan_handed_to_readers_only_maps_its_ring_read_only)
{
	int sv[2];
	socket_pair(sv);
	seg_sock = sv[1];
	pid_t pid = child(poke_ring, 0);
	shmq_chan *ch = new_chan("pass-ro", SHMQ_CHAN_SPSC);
	CHECK_EQ(shmq_chan_send(ch, "hello", 5), 0);
	CHECK_EQ(shmq_chan_send_fd(sv[0], ch, SHMQ_PASS_RDONLY), 0);
	CHECK_EQ(shmq_chan_send_fd(sv[0], ch, SHMQ_PASS_RDONLY), 0);
	CHECK_EQ(t_wait(pid), 128 + SIGSEGV);
	CHECK_EQ(shmq_chan_close(ch), 0);
	/* mpmc readers write the slots they take; a seal is for segments. */
	ch = new_chan("pass-ro-mpmc", SHMQ_CHAN_MPMC);
	CHECK_EQ(shmq_chan_send_fd(sv[0], ch, SHMQ_PASS_RDONLY), -EOPNOTSUPP);
	CHECK_EQ(shmq_chan_send_fd(sv[0], ch, SHMQ_PASS_SEAL), -EINVAL);
	CHECK_EQ(shmq_chan_close(ch), 0);
	close(sv[0]);
	close(sv[1]);
}

/* ---- Who sent it ------------------------------------------------------------ */

static int ready[2];

/* As nobody: listens at path, hands its channel to each of two callers. */
static void serve_as_nobody(int unused)
{
	const char *path = exec_path;
	(void)unused;
	CHECK_EQ(setgroups(0, NULL), 0);
	CHECK_EQ(setgid(NOBODY), 0);
	CHECK_EQ(setuid(NOBODY), 0);
	shmq_chan *ch = new_chan("pass-nobody", SHMQ_CHAN_SPSC);
	CHECK_EQ(shmq_chan_send(ch, "from nobody", 11), 0);
	int l = unix_at(path, 1);
	CHECK_EQ(write(ready[1], "r", 1), 1);
	for (int i = 0; i < 2; i++) {
		int conn = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		CHECK(conn >= 0);
		int rc = shmq_chan_send_fd(conn, ch, 0);
		CHECK(rc == 0 || rc == -EPIPE); /* refused: may be gone */
		close(conn);
	}
	close(l);
	unlink(path);
	CHECK_EQ(shmq_chan_close(ch), 0);
}

TEST(pass_receiver_refuses_a_sender_of_another_uid)
{
	char path[128], buf[32];
	struct ucred peer;
	shmq_chan *ch;
	if (geteuid() != 0)
		t_skip("needs root to run a sender as uid 65534");
	exec_path = t_sock_path(path, sizeof(path), "uid");
	CHECK_EQ(pipe2(ready, O_CLOEXEC), 0);
	pid_t pid = child(serve_as_nobody, 0);
	CHECK_EQ(read(ready[0], buf, 1), 1);
	int before = nfds();
	int s = unix_at(path, 0);
	memset(&peer, 0, sizeof(peer));
	CHECK_EQ(shmq_chan_recv_fd(s, &ch, SHMQ_READER, NULL, &peer),
	         SHMQ_EOWNER);
	CHECK(ch == NULL);
	CHECK_EQ(peer.uid, NOBODY);
	CHECK_EQ(peer.gid, NOBODY);
	CHECK_EQ(peer.pid, pid);
	close(s);
	CHECK_EQ(nfds(), before);
	/* The same sender, taken on purpose: it was the uid. */
	struct shmq_chan_opts any = {.flags = SHMQ_ANY_OWNER, .spin_ns = -1};
	s = unix_at(path, 0);
	CHECK_EQ(shmq_chan_recv_fd(s, &ch, SHMQ_READER, &any, &peer), 0);
	close(s);
	CHECK_EQ(shmq_chan_recv(ch, buf, sizeof(buf)), 11);
	CHECK_EQ(memcmp(buf, "from nobody", 11), 0);
	CHECK_EQ(shmq_chan_close(ch), 0);
	CHECK_EQ(t_wait(pid), 0);
	close(ready[0]);
	close(ready[1]);
}

/* ---- The sender killed after the handover ---------------------------------- */

static void send_then_hang(int sock)
{
	shmq_chan *ch = new_chan("pass-kill", SHMQ_CHAN_SPSC);
	char msg[16];
	for (int i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "msg %d", i);
		CHECK_EQ(shmq_chan_send(ch, msg, strlen(msg)), 0);
	}
	CHECK_EQ(shmq_chan_send_fd(sock, ch, 0), 0);
	CHECK_EQ(write(ready[1], "s", 1), 1);
	pause(); /* killed here, attached */
}

TEST(pass_sender_killed_after_handover_leaves_a_working_reader)
{
	/* joined: the reader attaches before the kill, or after it. */
	for (int joined = 0; joined <= 1; joined++) {
		struct timespec dl;
		shmq_chan *ch = NULL;
		char buf[32];
		int sv[2];
		socket_pair(sv);
		CHECK_EQ(pipe2(ready, O_CLOEXEC), 0);
		pid_t pid = child(send_then_hang, sv[0]);
		CHECK_EQ(read(ready[0], buf, 1), 1);
		if (joined)
			CHECK_EQ(shmq_chan_recv_fd(sv[1], &ch, SHMQ_READER, NULL,
			                           NULL), 0);
		CHECK_EQ(kill(pid, SIGKILL), 0);
		CHECK_EQ(t_wait(pid), 128 + SIGKILL);
		if (!joined)
			CHECK_EQ(shmq_chan_recv_fd(sv[1], &ch, SHMQ_READER, NULL,
			                           NULL), 0);
		for (int i = 0; i < 3; i++) {
			char want[16];
			int n = snprintf(want, sizeof(want), "msg %d", i);
			CHECK_EQ(shmq_chan_recv(ch, buf, sizeof(buf)), n);
			CHECK_EQ(memcmp(buf, want, (size_t)n), 0);
		}
		/* Not a hang, not a timeout: the writer's death. */
		dl = shmq_deadline(10000);
		CHECK_EQ(shmq_chan_recv_timed(ch, buf, sizeof(buf), &dl),
		         SHMQ_EPEERDEAD);
		struct shmq_chan_info in;
		CHECK_EQ(shmq_chan_info(ch, &in), 0);
		CHECK_EQ(in.dead_writers, 1);
		CHECK_EQ(in.last_dead_pid, pid);
		CHECK_EQ(shmq_chan_close(ch), 0);
		close(sv[0]);
		close(sv[1]);
		close(ready[0]);
		close(ready[1]);
	}
}

/* ---- What is not a handover ------------------------------------------------- */

TEST(pass_bad_frames_and_fds_are_errors_that_leak_no_fd)
{
	struct frame ok = {.magic = MAGIC, .version = 1, .kind = KIND_CHAN};
	struct frame f;
	shmq_chan *ch = new_chan("pass-bad", SHMQ_CHAN_SPSC);
	int chan_fd = memfd_of("pass-bad");
	int pipe_fd[2];
	CHECK_EQ(pipe2(pipe_fd, O_CLOEXEC), 0);

	/* The real thing, hand-made: the frame is what design.md says. */
	CHECK_EQ(chan_recv_raw(&ok, sizeof(ok), &chan_fd, 1), 0);
	/* A pipe, a frame without an fd, with two, cut short, closed. */
	CHECK_EQ(chan_recv_raw(&ok, sizeof(ok), pipe_fd, 1), -EBADMSG);
	CHECK_EQ(chan_recv_raw(&ok, sizeof(ok), NULL, 0), -EBADMSG);
	int two[2] = {chan_fd, chan_fd};
	CHECK_EQ(chan_recv_raw(&ok, sizeof(ok), two, 2), -EBADMSG);
	CHECK_EQ(chan_recv_raw(&ok, 10, &chan_fd, 1), -EBADMSG);
	CHECK_EQ(chan_recv_raw(&ok, 0, NULL, 0), -EPIPE);
	/* Another magic, another version, a segment, unknown bits. */
	f = ok;
	f.magic ^= 1;
	CHECK_EQ(chan_recv_raw(&f, sizeof(f), &chan_fd, 1), -EBADMSG);
	f = ok;
	f.version = 2;
	CHECK_EQ(chan_recv_raw(&f, sizeof(f), &chan_fd, 1), SHMQ_EVERSION);
	f = ok;
	f.kind = KIND_SEG;
	CHECK_EQ(chan_recv_raw(&f, sizeof(f), &chan_fd, 1), SHMQ_ENOTCHAN);
	f = ok;
	f.flags = 1u << 7;
	CHECK_EQ(chan_recv_raw(&f, sizeof(f), &chan_fd, 1), -EBADMSG);
	CHECK_EQ(shmq_chan_close(ch), 0);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
}

#define CHAN_BYTES 12288 /* a spsc channel of 4096 ring bytes */

/* A memfd the size of a channel: garbage, or a channel whose header is broken at off.
 * Sealed against writable mappings, so that a receiver that maps it
 * writable before it checks the header fails otherwise (-EPERM). */
static int bad_memfd(int chan, size_t off)
{
	static const unsigned char junk[] = "\x9d\x12garbage\xff\x01";
	int fd = memfd_create("pass-junk", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, CHAN_BYTES), 0);
	if (chan) {
		shmq_chan *ch = new_chan("pass-src", SHMQ_CHAN_SPSC);
		int src = memfd_of("pass-src");
		char page[CHAN_BYTES];
		CHECK_EQ(pread(src, page, sizeof(page), 0), (ssize_t)sizeof(page));
		page[off] ^= 0x40;
		CHECK_EQ(pwrite(fd, page, sizeof(page), 0), (ssize_t)sizeof(page));
		CHECK_EQ(shmq_chan_close(ch), 0);
	} else {
		for (size_t at = 0; at < CHAN_BYTES; at += sizeof(junk))
			CHECK_EQ(pwrite(fd, junk, sizeof(junk), (off_t)at),
			         (ssize_t)sizeof(junk));
	}
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, 0x0010 /* F_SEAL_FUTURE_WRITE */), 0);
	return fd;
}

TEST(pass_memfd_that_is_no_valid_channel_is_ebadmsg_and_never_mapped_writable)
{
	struct frame ok = {.magic = MAGIC, .version = 1, .kind = KIND_CHAN};
	/* magic (0), capacity (32: no power of two), ring_off (48),
	 * object_size (24) */
	static const size_t offs[] = {0, 32, 48, 24};
	char shm_before[8192], shm_after[8192];
	t_shm_names(shm_before, sizeof(shm_before));
	int fd = bad_memfd(0, 0);
	CHECK_EQ(chan_recv_raw(&ok, sizeof(ok), &fd, 1), -EBADMSG);
	close(fd);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		fd = bad_memfd(1, offs[i]);
		CHECK_EQ(chan_recv_raw(&ok, sizeof(ok), &fd, 1), -EBADMSG);
		close(fd);
	}
	t_shm_names(shm_after, sizeof(shm_after));
	CHECK_EQ(strcmp(shm_before, shm_after), 0);
}

TEST(pass_bad_arguments_take_nothing_off_the_socket)
{
	struct shmq_seg_opts huge = {.flags = SHMQ_SEG_HUGE_2M};
	struct shmq_chan_opts persist = {.flags = SHMQ_CHAN_PERSIST,
	                                 .spin_ns = -1};
	shmq_chan *ch = new_chan("pass-args", SHMQ_CHAN_SPSC);
	shmq_chan *got;
	shmq_seg *seg;
	int sv[2];
	socket_pair(sv);
	CHECK_EQ(shmq_chan_send_fd(sv[0], ch, 0), 0);
	CHECK_EQ(shmq_chan_recv_fd(sv[1], &got, 0, NULL, NULL), -EINVAL);
	CHECK_EQ(shmq_chan_recv_fd(sv[1], &got, SHMQ_READER, &persist, NULL),
	         -EINVAL);
	CHECK_EQ(shmq_seg_recv_fd(sv[1], &seg, &huge, NULL), -EINVAL);
	CHECK_EQ(shmq_chan_send_fd(sv[0], ch, 1u << 5), -EINVAL);
	/* Still there, whole. */
	CHECK_EQ(shmq_chan_recv_fd(sv[1], &got, SHMQ_READER, NULL, NULL), 0);
	CHECK_EQ(shmq_chan_close(got), 0);
	/* A named channel has its name: refused, not handed. */
	char name[64], loc[80];
	snprintf(loc, sizeof(loc), "posix:%s", t_name(name, sizeof(name), "p"));
	shmq_chan *named;
	CHECK_EQ(shmq_chan_create(&named, loc, SHMQ_WRITER, NULL), 0);
	CHECK_EQ(shmq_chan_send_fd(sv[0], named, 0), SHMQ_EFAMILY);
	CHECK_EQ(shmq_chan_close(named), 0);
	CHECK_EQ(shmq_chan_close(ch), 0);
	close(sv[0]);
	close(sv[1]);
}
