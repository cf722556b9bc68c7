/* peer-iceoryx: iceoryx 2 publish/subscribe through its C binding.
 *
 * iceoryx needs its daemon, iox-roudi. setup() writes a RouDi config whose
 * mempools fit the requested sizes, starts iox-roudi, and waits (bounded)
 * until a probe process completes an app registration; teardown() stops
 * RouDi by its pid (from the exit paths and the signal handler too; RouDi
 * also gets SIGTERM if this process dies, via PR_SET_PDEATHSIG).
 *
 * Direction d is the service ("shmq-bench", <name>, "d<d>"). Send loans a
 * chunk, writes the message into it and publishes it (zero copy: the
 * subscriber reads the same memory); receive busy-polls take_chunk, reads
 * the payload in place, releases the chunk. The subscriber queue holds the
 * shared queue depth; a full queue blocks the publisher (WAIT_FOR_CONSUMER /
 * BLOCK_PRODUCER), so nothing is dropped. RouDi's own CPU time is not
 * counted (it only brokers connections). */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iceoryx_binding_c/chunk.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>

#define ROUDI_BIN       "iox-roudi"
#define ROUDI_SOCKET    "/tmp/roudi"   /* RouDi's fixed IPC channel */
#define READY_TIMEOUT_S 10.0
#define STOP_TIMEOUT_S  5.0
#define SERVICE         "shmq-bench"

static pid_t roudi_pid;
static char cfg_path[64], log_path[64];
static char payload_shm[80];   /* RouDi's payload segment: "/<group>" */

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- RouDi (parent) */

/* Mempools for exactly the payload sizes measured (rounded to 8 bytes,
 * iceoryx adds its chunk header): a full subscriber queue, the chunk the
 * subscriber holds, the publisher's loaned and last chunk, and spares. */
static int write_config(const size_t *sizes, int n)
{
	FILE *f;
	size_t s[16], t;
	int i, j, fd;

	for (i = 0; i < n; i++)
		s[i] = (sizes[i] + 7) & ~(size_t)7;
	for (i = 1; i < n; i++)     /* RouDi wants increasing sizes */
		for (j = i; j > 0 && s[j - 1] > s[j]; j--)
			t = s[j], s[j] = s[j - 1], s[j - 1] = t;
	snprintf(cfg_path, sizeof(cfg_path), "/tmp/shmq-peer-%d-roudi.toml",
	         (int)getpid());
	fd = open(cfg_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		peer_err("%s: %s", cfg_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		cfg_path[0] = 0;
		return -1;
	}
	fprintf(f, "# written by peer-iceoryx for one run\n"
	        "[general]\nversion = 1\n\n[[segment]]\n");
	for (i = 0; i < n; i++)
		if (i == 0 || s[i] != s[i - 1])
			fprintf(f, "\n[[segment.mempool]]\nsize = %zu\n"
			        "count = %u\n", s[i], peer_depth(s[i]) + 8);
	if (fclose(f) != 0) {
		peer_err("%s: %s", cfg_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Is something answering on RouDi's socket already? */
static bool roudi_running(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0), ok;

	if (fd < 0)
		return false;
	strcpy(a.sun_path, ROUDI_SOCKET);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int redirect_to_log(void)
{
	int fd = open(log_path, O_WRONLY | O_APPEND);

	if (fd < 0)
		return -1;
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	return 0;
}

static pid_t start_roudi(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	/* Own process group: a terminal ^C reaches us, and we stop RouDi
	 * after the apps; PDEATHSIG covers our being killed outright. */
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
	if (redirect_to_log() < 0)
		_exit(126);
	execlp(ROUDI_BIN, ROUDI_BIN, "-c", cfg_path, "-l", "info", (char *)NULL);
	fprintf(stderr, "exec %s: %s\n", ROUDI_BIN, strerror(errno));
	_exit(127);
}

/* An app killed before it deregistered leaves its socket and lock file. */
static void remove_app_files(const char *app)
{
	char path[128];

	snprintf(path, sizeof(path), "/tmp/%s", app);
	unlink(path);
	snprintf(path, sizeof(path), "/tmp/%s.lock", app);
	unlink(path);
}

static void probe_name(char *buf, size_t len, pid_t parent)
{
	snprintf(buf, len, "shmq-peer-%d-probe", (int)parent);
}

/* A child that registers with RouDi and deregisters again. */
static pid_t start_probe(void)
{
	char name[64];
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	redirect_to_log();
	probe_name(name, sizeof(name), getppid());
	iox_set_loglevel(Iceoryx_LogLevel_Info);
	iox_runtime_init(name);
	exit(0);
}

/* Last lines of RouDi's log, for the reason a start failed. */
static void log_tail(char *why, size_t len)
{
	char buf[4096], *p;
	ssize_t n = 0;
	int fd = open(log_path, O_RDONLY);

	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);

		lseek(fd, end > 300 ? end - 300 : 0, SEEK_SET);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	for (p = buf; *p; p++)
		if (*p == '\n' || *p == '\x1b')
			*p = ' ';
	snprintf(why + strlen(why), len - strlen(why), " (%s: ...%s)",
	         log_path, buf);
}

/* What a RouDi that did not shut down cleanly leaves: its IPC channel,
 * locks and both shared memory segments (the payload segment is named
 * after the writer group). They are ours: none answered at start. */
static void remove_roudi_files(void)
{
	unlink(ROUDI_SOCKET);
	unlink(ROUDI_SOCKET ".lock");
	unlink("/tmp/iox-unique-roudi.lock");
	shm_unlink("iceoryx_mgmt");
	if (payload_shm[0])
		shm_unlink(payload_shm);
}

/* SIGTERM, then SIGKILL after STOP_TIMEOUT_S. iceoryx 2.0's RouDi aborts
 * in its shutdown when an app it still lists is gone (it was killed);
 * then we remove its files. */
static void stop_roudi(void)
{
	int i, st = 0;

	if (roudi_pid <= 0)
		return;
	kill(roudi_pid, SIGTERM);
	for (i = 0; i < STOP_TIMEOUT_S * 100; i++) {
		if (waitpid(roudi_pid, &st, WNOHANG) == roudi_pid)
			break;
		nap_ms(10);
	}
	if (i == STOP_TIMEOUT_S * 100) {
		kill(roudi_pid, SIGKILL);
		waitpid(roudi_pid, &st, 0);
	}
	roudi_pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		remove_roudi_files();
}

static void ice_teardown(void)
{
	stop_roudi();
	if (cfg_path[0])
		unlink(cfg_path);
	if (log_path[0])
		unlink(log_path);
	cfg_path[0] = log_path[0] = 0;
}

/* Polls until the probe's registration succeeded, RouDi died, or the
 * timeout; returns 0, or 1 with the reason. */
static int wait_ready(char *why, size_t len)
{
	uint64_t deadline = peer_now_ns() + (uint64_t)(READY_TIMEOUT_S * 1e9);
	pid_t probe = start_probe();
	int st;

	if (probe < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return 1;
	}
	for (;;) {
		if (waitpid(roudi_pid, &st, WNOHANG) == roudi_pid) {
			roudi_pid = 0;
			snprintf(why, len, "%s exited at start (status %d)",
			         ROUDI_BIN, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			break;
		}
		if (waitpid(probe, &st, WNOHANG) == probe) {
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				return 0;
			snprintf(why, len, "registering with %s failed "
			         "(probe status %d)", ROUDI_BIN,
			         WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			probe = 0;
			break;
		}
		if (peer_now_ns() > deadline) {
			snprintf(why, len, "no app registration with %s within "
			         "%.0f s", ROUDI_BIN, READY_TIMEOUT_S);
			break;
		}
		nap_ms(5);
	}
	if (probe > 0) {
		char name[64];

		kill(probe, SIGKILL);
		waitpid(probe, NULL, 0);
		probe_name(name, sizeof(name), getpid());
		remove_app_files(name);
	}
	log_tail(why, len);
	return 1;
}

static int ice_setup(const size_t *sizes, int n, char *why, size_t len)
{
	struct group *g = getgrgid(getegid());
	int fd;

	if (roudi_running()) {
		snprintf(why, len, "an iox-roudi is already running (%s "
		         "answers); stop it, this run starts its own with "
		         "mempools for its sizes", ROUDI_SOCKET);
		return 1;
	}
	if (g)   /* now: the signal handler may need it */
		snprintf(payload_shm, sizeof(payload_shm), "/%s", g->gr_name);
	if (write_config(sizes, n) < 0)
		return -1;
	snprintf(log_path, sizeof(log_path), "/tmp/shmq-peer-%d-roudi.log",
	         (int)getpid());
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		peer_err("%s: %s", log_path, strerror(errno));
		log_path[0] = 0;
		return -1;
	}
	close(fd);
	roudi_pid = start_roudi();
	if (roudi_pid < 0) {
		roudi_pid = 0;
		snprintf(why, len, "fork: %s", strerror(errno));
		return 1;
	}
	if (wait_ready(why, len) == 0)
		return 0;
	if (strstr(why, "status 127"))
		snprintf(why, len, "%s not found; install it: apt-get install "
		         "iceoryx", ROUDI_BIN);
	ice_teardown();
	return 1;
}

/* ---- one side (child) */

static void app_name(char *buf, size_t len, const struct peer_end *e, int role)
{
	snprintf(buf, len, "%s-%d", e->name, role);
}

/* Parent, after each measurement: what a killed side left behind. */
static void ice_unprepare(const struct peer_end *e)
{
	char name[80];
	int role;

	for (role = 0; role < 2; role++) {
		app_name(name, sizeof(name), e, role);
		remove_app_files(name);
	}
}

struct ice {
	iox_pub_storage_t pub_st;
	iox_sub_storage_t sub_st;
	iox_pub_t pub;
	iox_sub_t sub;
};

static int wait_connected(struct ice *x, const struct peer_end *e)
{
	uint64_t deadline = peer_now_ns() + (uint64_t)(e->timeout_s * 1e9);

	for (;;) {
		bool ok = (!x->pub || iox_pub_has_subscribers(x->pub)) &&
		          (!x->sub || iox_sub_get_subscription_state(x->sub) ==
		                      SubscribeState_SUBSCRIBED);
		if (ok)
			return 0;
		if (peer_now_ns() > deadline) {
			peer_err("service %s/%s: no %s after %.0f s",
			         SERVICE, e->name, x->pub && !iox_pub_has_subscribers(x->pub)
			         ? "subscriber" : "publisher", e->timeout_s);
			return -1;
		}
		nap_ms(1);
	}
}

static int ice_open(struct peer_end *e)
{
	struct ice *x = calloc(1, sizeof(*x));
	char name[80], ev[4] = "d0";
	iox_pub_options_t po;
	iox_sub_options_t so;
	int tx = e->role, rx = 1 - e->role;
	bool two = e->metric == PEER_RTT;

	if (!x) {
		peer_err("out of memory");
		return -1;
	}
	e->impl = x;
	app_name(name, sizeof(name), e, e->role);
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(name);
	if (two || tx == 0) {
		iox_pub_options_init(&po);
		po.historyCapacity = 0;
		po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
		ev[1] = (char)('0' + tx);
		x->pub = iox_pub_init(&x->pub_st, SERVICE, e->name, ev, &po);
	}
	if (two || rx == 0) {
		iox_sub_options_init(&so);
		so.queueCapacity = e->depth;
		so.historyRequest = 0;
		so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
		ev[1] = (char)('0' + rx);
		x->sub = iox_sub_init(&x->sub_st, SERVICE, e->name, ev, &so);
	}
	return wait_connected(x, e);
}

static const char *alloc_error(enum iox_AllocationResult r)
{
	switch (r) {
	case AllocationResult_NO_MEMPOOLS_AVAILABLE:
		return "no mempool for this size in the RouDi config";
	case AllocationResult_RUNNING_OUT_OF_CHUNKS:
		return "running out of chunks";
	case AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL:
		return "too many chunks loaned at once";
	default:
		return "allocation error";
	}
}

static int ice_send(struct peer_end *e, const void *src)
{
	struct ice *x = e->impl;
	enum iox_AllocationResult r;
	void *p;

	/* Out of chunks only while the subscriber still holds them all. */
	while ((r = iox_pub_loan_chunk(x->pub, &p, (uint32_t)e->size)) ==
	       AllocationResult_RUNNING_OUT_OF_CHUNKS)
		;
	if (r != AllocationResult_SUCCESS) {
		peer_err("iox_pub_loan_chunk(%zu bytes): %s", e->size,
		         alloc_error(r));
		return -1;
	}
	memcpy(p, src, e->size);
	iox_pub_publish_chunk(x->pub, p);
	return 0;
}

static int ice_recv(struct peer_end *e)
{
	struct ice *x = e->impl;
	enum iox_ChunkReceiveResult r;
	const void *p;
	int rc;

	while ((r = iox_sub_take_chunk(x->sub, &p)) ==
	       ChunkReceiveResult_NO_CHUNK_AVAILABLE)
		;
	if (r != ChunkReceiveResult_SUCCESS) {
		peer_err("iox_sub_take_chunk: %s",
		         r == ChunkReceiveResult_TOO_MANY_CHUNKS_HELD_IN_PARALLEL
		         ? "too many chunks held" : "error");
		return -1;
	}
	/* The C binding does not expose the payload size: the publisher
	 * loaned exactly e->size bytes. */
	rc = peer_consume(e, p, e->size);
	iox_sub_release_chunk(x->sub, p);
	return rc;
}

static void ice_close(struct peer_end *e)
{
	struct ice *x = e->impl;

	if (x->sub)
		iox_sub_deinit(x->sub);
	if (x->pub)
		iox_pub_deinit(x->pub);
	free(x);
	e->impl = NULL;
}

static const struct peer_transport ice_transport = {
	.name = "iceoryx",
	.prog = "peer-iceoryx",
	.setup = ice_setup,
	.teardown = ice_teardown,
	.unprepare = ice_unprepare,
	.open = ice_open,
	.send = ice_send,
	.recv = ice_recv,
	.close = ice_close,
};

int main(int argc, char **argv)
{
	return peer_main(&ice_transport, argc, argv);
}
