/*
 * The channel and lock tests again, with threads of one process in place of
 * processes, for ThreadSanitizer: TSan sees the memory accesses of the
 * threads it runs, not those of another process on the same mapping. Each
 * thread opens its own channel handle (its own fd, so its own OFD peer lock:
 * the library tells attachments apart by lock byte, not by pid). Each
 * handle maps the object itself, and TSan keys what it knows by address,
 * so two mappings of one object would hide every race: mmap is wrapped
 * (-Wl,--wrap=mmap) to hand every handle of the process the same mapping
 * of an object. Then every shared word is touched at one address by two
 * threads that TSan watches; payloads are plain memory, so a missing
 * release/acquire pair shows as a data race on them. The fd cases put one
 * side in an epoll loop on shmq_chan_fd (its waiter thread is one more
 * thread TSan watches) and close handles whose fd is armed. Each case also checks
 * the data itself (sequence numbers, bytes, sums). Built by `make
 * check-tsan`; exits 0 only when every case passed (TSan makes the exit
 * code non-zero when it reports a race).
 */
#include <shmq.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- One mapping per object in this process ---- */

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __wrap_munmap(void *addr, size_t len);

#define MAPS_MAX 32
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	dev_t dev;
	ino_t ino;
	size_t len;
	int prot;
	void *addr;
	int refs;
} maps[MAPS_MAX];

/* A shared mapping of a file this process already maps (same object, size
 * and protection) is the same address; anything else is a real mmap. */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
	struct stat st;
	if (addr || fd < 0 || off || (flags & MAP_TYPE) != MAP_SHARED ||
	    fstat(fd, &st) < 0)
		return __real_mmap(addr, len, prot, flags, fd, off);
	void *p = NULL;
	pthread_mutex_lock(&maps_lock);
	int i, free_i = -1;
	for (i = 0; i < MAPS_MAX; i++) {
		if (maps[i].refs && maps[i].dev == st.st_dev &&
		    maps[i].ino == st.st_ino && maps[i].len == len &&
		    maps[i].prot == prot) {
			maps[i].refs++;
			p = maps[i].addr;
			break;
		}
		if (!maps[i].refs && free_i < 0)
			free_i = i;
	}
	if (!p) {
		p = __real_mmap(addr, len, prot, flags, fd, off);
		if (p != MAP_FAILED && free_i >= 0) {
			maps[free_i].dev = st.st_dev;
			maps[free_i].ino = st.st_ino;
			maps[free_i].len = len;
			maps[free_i].prot = prot;
			maps[free_i].addr = p;
			maps[free_i].refs = 1;
		}
	}
	pthread_mutex_unlock(&maps_lock);
	return p;
}

int __wrap_munmap(void *addr, size_t len)
{
	pthread_mutex_lock(&maps_lock);
	for (int i = 0; i < MAPS_MAX; i++)
		if (maps[i].refs && maps[i].addr == addr) {
			int left = --maps[i].refs;
			pthread_mutex_unlock(&maps_lock);
			return left ? 0 : __real_munmap(addr, len);
		}
	pthread_mutex_unlock(&maps_lock);
	return __real_munmap(addr, len);
}

/* The same for System V attachments (a samples channel's data segment):
 * one attachment per id in this process, read-write for all (the readers'
 * SHM_RDONLY is the kernel's to enforce, not TSan's to see). */
void *__real_shmat(int id, const void *addr, int flags);
int __real_shmdt(const void *addr);
void *__wrap_shmat(int id, const void *addr, int flags);
int __wrap_shmdt(const void *addr);

static struct {
	int id;
	void *addr;
	int refs;
} shms[MAPS_MAX];

void *__wrap_shmat(int id, const void *addr, int flags)
{
	void *p = NULL;
	if (addr)
		return __real_shmat(id, addr, flags);
	pthread_mutex_lock(&maps_lock);
	int free_i = -1;
	for (int i = 0; i < MAPS_MAX && !p; i++) {
		if (shms[i].refs && shms[i].id == id) {
			shms[i].refs++;
			p = shms[i].addr;
		}
		if (!shms[i].refs && free_i < 0)
			free_i = i;
	}
	if (!p) {
		p = __real_shmat(id, NULL, flags & ~SHM_RDONLY);
		if (p != (void *)-1 && free_i >= 0) {
			shms[free_i].id = id;
			shms[free_i].addr = p;
			shms[free_i].refs = 1;
		}
	}
	pthread_mutex_unlock(&maps_lock);
	return p;
}

int __wrap_shmdt(const void *addr)
{
	pthread_mutex_lock(&maps_lock);
	for (int i = 0; i < MAPS_MAX; i++)
		if (shms[i].refs && shms[i].addr == addr) {
			int left = --shms[i].refs;
			pthread_mutex_unlock(&maps_lock);
			return left ? 0 : __real_shmdt(addr);
		}
	pthread_mutex_unlock(&maps_lock);
	return __real_shmdt(addr);
}

/* ---- Channels ---- */

#define MSGS 20000 /* per writer */
#define MAXLEN 200
#define MAXTHR 8

static int failed;

#define CHECK(e)                                                             \
	do {                                                                 \
		if (!(e)) {                                                  \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",         \
			        __FILE__, __LINE__, #e);                     \
			__atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);      \
			return NULL;                                         \
		}                                                            \
	} while (0)

/* A message: who, which, and bytes that depend on both. */
struct msg {
	uint32_t writer, seq;
	unsigned char bytes[MAXLEN];
};

static size_t msg_len(uint32_t seq)
{
	return 8 + (seq * 37u) % (MAXLEN - 8); /* varied: PAD records in spsc */
}

static unsigned char byte_at(uint32_t w, uint32_t seq, size_t i)
{
	return (unsigned char)(w * 131u + seq * 7u + i);
}

static void fill(struct msg *m, uint32_t w, uint32_t seq)
{
	m->writer = w;
	m->seq = seq;
	for (size_t i = 0; i < msg_len(seq) - 8; i++)
		m->bytes[i] = byte_at(w, seq, i);
}

/* Whole, and from a writer we know. */
static int intact(const struct msg *m, size_t len, uint32_t writers)
{
	if (len < 8 || m->writer >= writers || len != msg_len(m->seq))
		return 0;
	for (size_t i = 0; i < len - 8; i++)
		if (m->bytes[i] != byte_at(m->writer, m->seq, i))
			return 0;
	return 1;
}

struct chan_case {
	const char *loc;
	int kind;
	size_t capacity;
	int64_t spin_ns;
	uint32_t writers, readers;
	uint32_t batch; /* spsc writers: opts.batch */
	pthread_barrier_t go; /* everyone attached before anyone sends */
	/* Per reader: messages and seq sum; per reader and writer: last seq. */
	uint64_t got[MAXTHR], sum[MAXTHR];
};

struct role_arg {
	struct chan_case *c;
	uint32_t id;
};

static struct shmq_chan_opts chan_opts(struct chan_case *c, unsigned flags)
{
	struct shmq_chan_opts o = {.kind = c->kind, .capacity = c->capacity,
	                           .msg_size = sizeof(struct msg),
	                           .flags = flags, .spin_ns = c->spin_ns};
	return o;
}

static shmq_chan *attach(struct chan_case *c, int role)
{
	struct shmq_chan_opts o = chan_opts(c, 0);
	shmq_chan *ch = NULL;
	if (role == SHMQ_WRITER)
		o.batch = c->batch;
	int rc = shmq_chan_open(&ch, c->loc, role, &o);
	if (rc < 0) {
		fprintf(stderr, "%s: open: %d\n", c->loc, rc);
		return NULL;
	}
	return ch;
}

/* Writer: even messages by copy, odd ones zero-copy. */
static void *writer(void *p)
{
	struct role_arg *a = p;
	struct chan_case *c = a->c;
	shmq_chan *ch = attach(c, SHMQ_WRITER);
	pthread_barrier_wait(&c->go);
	CHECK(ch);
	struct msg m;
	for (uint32_t seq = 0; seq < MSGS; seq++) {
		size_t len = msg_len(seq);
		if (seq % 2 == 0) {
			fill(&m, a->id, seq);
			CHECK(shmq_chan_send(ch, &m, len) == 0);
		} else {
			void *buf;
			CHECK(shmq_chan_reserve(ch, len, &buf) == 0);
			fill(buf, a->id, seq);
			CHECK(shmq_chan_commit(ch, len) == 0);
		}
	}
	CHECK(shmq_chan_close(ch) == 0);
	return NULL;
}

/* Reader: until every writer closed (-EPIPE). Each writer's messages come
 * in order, none twice, none torn. */
static void *reader(void *p)
{
	struct role_arg *a = p;
	struct chan_case *c = a->c;
	int64_t last[MAXTHR];
	shmq_chan *ch = attach(c, SHMQ_READER);
	pthread_barrier_wait(&c->go);
	CHECK(ch);
	for (int i = 0; i < MAXTHR; i++)
		last[i] = -1;
	for (uint64_t n = 0;; n++) {
		struct msg m;
		const struct msg *mp = &m;
		ssize_t len;
		if (n % 2 == 0) {
			len = shmq_chan_recv(ch, &m, sizeof(m));
		} else {
			const void *v;
			len = shmq_chan_peek(ch, &v);
			mp = v;
		}
		if (len == -EPIPE)
			break;
		CHECK(len > 0);
		CHECK(intact(mp, (size_t)len, c->writers));
		CHECK((int64_t)mp->seq > last[mp->writer]);
		if (c->kind != SHMQ_CHAN_MPMC) /* one reader sees all, in order */
			CHECK((int64_t)mp->seq == last[mp->writer] + 1);
		last[mp->writer] = mp->seq;
		c->got[a->id]++;
		c->sum[a->id] += mp->seq;
		if (n % 2 == 1)
			CHECK(shmq_chan_release(ch) == 0);
	}
	CHECK(shmq_chan_close(ch) == 0);
	return NULL;
}

/* Runs c's writers as wfn threads and its readers as rfn threads on a new
 * channel at c->loc, then checks what the readers got. */
static int run_case(const char *what, struct chan_case *c,
                    void *(*wfn)(void *), void *(*rfn)(void *))
{
	pthread_t t[MAXTHR];
	struct role_arg a[MAXTHR];
	uint32_t writers = c->writers, readers = c->readers;
	/* Made before the threads start: the creator's plain stores reach
	 * the others through linkat(2) and open(2), which TSan cannot see
	 * (pthread_create it can). PERSIST: our close leaves it there. */
	struct shmq_chan_opts o = chan_opts(c, SHMQ_CHAN_PERSIST);
	shmq_chan *made;
	if (shmq_chan_create(&made, c->loc, SHMQ_READER, &o) < 0 ||
	    shmq_chan_close(made) < 0) {
		fprintf(stderr, "%s: create failed\n", c->loc);
		return 0;
	}
	pthread_barrier_init(&c->go, NULL, writers + readers);
	for (uint32_t i = 0; i < writers + readers; i++) {
		a[i].c = c;
		a[i].id = i < writers ? i : i - writers;
		pthread_create(&t[i], NULL, i < writers ? wfn : rfn, &a[i]);
	}
	for (uint32_t i = 0; i < writers + readers; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&c->go);
	shmq_chan_unlink(c->loc); /* persists: ours to remove */

	/* Every message arrived: mpmc once in all, spsc/broadcast once per
	 * reader; the sums say none was swapped for another. */
	uint64_t per = (uint64_t)MSGS * (MSGS - 1) / 2, got = 0, sum = 0;
	for (uint32_t r = 0; r < readers; r++) {
		got += c->got[r];
		sum += c->sum[r];
	}
	uint64_t copies = c->kind == SHMQ_CHAN_MPMC ? 1 : readers; /* bcast,
	                                                          samples */
	int ok = !__atomic_load_n(&failed, __ATOMIC_SEQ_CST) &&
	         got == copies * writers * MSGS && sum == copies * writers * per;
	printf("%-22s %-5s %s: %llu messages received, seq sum %llu\n", what,
	       c->spin_ns ? "spin" : "sleep",
	       ok ? "ok" : "FAIL", (unsigned long long)got,
	       (unsigned long long)sum);
	return ok;
}

static int run_batch(const char *what, int kind, size_t capacity,
                     uint32_t writers, uint32_t readers, int64_t spin_ns,
                     uint32_t batch)
{
	char loc[64];
	struct chan_case c = {.loc = loc, .kind = kind, .capacity = capacity,
	                      .spin_ns = spin_ns, .writers = writers,
	                      .readers = readers, .batch = batch};
	snprintf(loc, sizeof(loc), "posix:shmqtsan-%d-%d-%d-%u", (int)getpid(),
	         kind, (int)spin_ns, batch);
	return run_case(what, &c, writer, reader);
}

static int run_chan(const char *what, int kind, size_t capacity,
                    uint32_t writers, uint32_t readers, int64_t spin_ns)
{
	return run_batch(what, kind, capacity, writers, readers, spin_ns, 0);
}

/* ---- Channel fds: one side in an epoll loop on shmq_chan_fd ---- */

/* Waits in epoll for ch's fd: 0, or -1 when nothing came for 10 s. */
static int fd_wait(int ep)
{
	struct epoll_event ev;
	return epoll_wait(ep, &ev, 1, 10000) == 1 ? 0 : -1;
}

static int fd_epoll(shmq_chan *ch)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), fd = shmq_chan_fd(ch);
	struct epoll_event ev = {.events = EPOLLIN};
	if (ep < 0 || fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	return ep;
}

/* Reader by fd: drains with try_recv to -EAGAIN, then epoll_wait. */
static void *fd_reader(void *p)
{
	struct role_arg *a = p;
	struct chan_case *c = a->c;
	shmq_chan *ch = attach(c, SHMQ_READER);
	pthread_barrier_wait(&c->go);
	CHECK(ch);
	int ep = fd_epoll(ch);
	CHECK(ep >= 0);
	for (uint32_t next = 0;;) {
		struct msg m;
		ssize_t len = shmq_chan_try_recv(ch, &m, sizeof(m));
		if (len == -EAGAIN) {
			CHECK(fd_wait(ep) == 0);
			continue;
		}
		if (len == -EPIPE)
			break;
		CHECK(len > 0 && intact(&m, (size_t)len, 1));
		CHECK(m.seq == next++);
		c->got[a->id]++;
		c->sum[a->id] += m.seq;
	}
	close(ep);
	CHECK(shmq_chan_close(ch) == 0);
	return NULL;
}

/* Writer by fd: sends with try_send, waits in epoll for room. */
static void *fd_writer(void *p)
{
	struct role_arg *a = p;
	struct chan_case *c = a->c;
	shmq_chan *ch = attach(c, SHMQ_WRITER);
	pthread_barrier_wait(&c->go);
	CHECK(ch);
	int ep = fd_epoll(ch);
	CHECK(ep >= 0);
	struct msg m;
	for (uint32_t seq = 0; seq < MSGS;) {
		fill(&m, a->id, seq);
		int rc = shmq_chan_try_send(ch, &m, msg_len(seq));
		if (rc == -EAGAIN) {
			CHECK(fd_wait(ep) == 0);
			continue;
		}
		CHECK(rc == 0);
		seq++;
	}
	close(ep);
	CHECK(shmq_chan_close(ch) == 0);
	return NULL;
}

/* One writer, one reader (spsc), one of them by fd, the other blocking. */
static int run_fd(const char *what, int reader_by_fd, int64_t spin_ns)
{
	char loc[64];
	struct chan_case c = {.loc = loc, .kind = SHMQ_CHAN_SPSC,
	                      .capacity = 1024, .spin_ns = spin_ns,
	                      .writers = 1, .readers = 1};
	snprintf(loc, sizeof(loc), "posix:shmqtsan-%d-fd%d-%d", (int)getpid(),
	         reader_by_fd, (int)spin_ns);
	return run_case(what, &c, reader_by_fd ? writer : fd_writer,
	                reader_by_fd ? fd_reader : reader);
}

/* Handles closed while their fd's thread is armed (it may be spinning,
 * asleep on the event, or not yet watching), as a peer sends. */
static int run_fd_close_armed(void)
{
	char loc[64];
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_MPMC, .capacity = 64,
	                           .msg_size = 64, .spin_ns = 0,
	                           .flags = SHMQ_CHAN_PERSIST};
	shmq_chan *w;
	int ok = 1;
	uint64_t v = 0;
	snprintf(loc, sizeof(loc), "posix:shmqtsan-%d-fdclose", (int)getpid());
	if (shmq_chan_create(&w, loc, SHMQ_WRITER, &o) < 0)
		return 0;
	for (int i = 0; i < 200 && ok; i++) {
		shmq_chan *r = NULL;
		uint64_t got;
		ok = shmq_chan_open(&r, loc, SHMQ_READER, &o) == 0 &&
		     shmq_chan_fd(r) >= 0 &&
		     shmq_chan_try_recv(r, &got, sizeof(got)) == -EAGAIN;
		if (ok && i % 2) /* a message may race the close */
			ok = shmq_chan_send(w, &v, sizeof(v)) == 0;
		if (ok && i % 2)
			ok = shmq_chan_recv(r, &got, sizeof(got)) == 8 &&
			     got == v++;
		if (ok && i % 4 == 1) /* armed again */
			ok = shmq_chan_try_recv(r, &got, sizeof(got)) == -EAGAIN;
		if (r)
			ok &= shmq_chan_close(r) == 0;
	}
	shmq_chan_close(w);
	shmq_chan_unlink(loc);
	printf("%-28s %s: %llu messages\n", "fd: close while armed",
	       ok ? "ok" : "FAIL", (unsigned long long)v);
	return ok;
}

/* ---- mpmc: a writer that commits and closes while a reader looks ---- */

/* clock_gettime is wrapped too: the mpmc reader reads the clock in
 * holder_dead(), between its load of a WRITING slot word and its look at
 * the holder's liveness. An armed hook runs there, once: the window that
 * Spin found (docs/design.md, 11.2), made deterministic. */
int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
static shmq_chan *hook_writer;

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
	shmq_chan *w = __atomic_exchange_n(&hook_writer, NULL,
	                                   __ATOMIC_SEQ_CST);
	if (w) { /* commit what it reserved, then close: FULL, not ACTIVE */
		shmq_chan_commit(w, 8);
		shmq_chan_close(w);
	}
	return __real_clock_gettime(clk, ts);
}

/* The reader saw WRITING(0, writer); by its liveness look the writer has
 * committed and closed. The message must still be delivered (it was
 * skipped, and the slot left FULL for good, before the fix). */
static int run_commit_close_race(void)
{
	char loc[64];
	struct shmq_chan_opts o = {.kind = SHMQ_CHAN_MPMC, .capacity = 4,
	                           .msg_size = 64, .flags = SHMQ_CHAN_PERSIST};
	shmq_chan *w, *r;
	void *buf;
	char got[64] = "";
	snprintf(loc, sizeof(loc), "posix:shmqtsan-%d-race", (int)getpid());
	int ok = shmq_chan_create(&w, loc, SHMQ_WRITER, &o) == 0 &&
	         shmq_chan_open(&r, loc, SHMQ_READER, NULL) == 0 &&
	         shmq_chan_reserve(w, 8, &buf) == 0;
	ssize_t n = -1;
	if (ok) {
		memcpy(buf, "message", 8);
		__atomic_store_n(&hook_writer, w, __ATOMIC_SEQ_CST);
		n = shmq_chan_try_recv(r, got, sizeof(got));
		ok = n == 8 && strcmp(got, "message") == 0 &&
		     !__atomic_load_n(&hook_writer, __ATOMIC_SEQ_CST);
		shmq_chan_close(r);
	}
	shmq_chan_unlink(loc);
	printf("%-28s %s: try_recv %zd \"%s\"\n", "mpmc commit+close in look",
	       ok ? "ok" : "FAIL", n, got);
	return ok;
}

/* ---- Locks: a plain counter that only the lock protects. ---- */

#define LOCK_THREADS 4
#define LOCK_ROUNDS 20000

static struct {
	shmq_mutex mutex;
	shmq_sem sem;
	shmq_event ev;
	uint64_t counter; /* plain: a race on it is the lock's fault */
	uint64_t mailbox; /* plain: written before a signal, read after */
} L;

static void *mutex_thread(void *p)
{
	(void)p;
	for (int i = 0; i < LOCK_ROUNDS; i++) {
		int rc = i % 3 ? shmq_mutex_lock(&L.mutex)
		               : shmq_mutex_try_lock(&L.mutex);
		if (rc == -EBUSY) {
			i--;
			continue;
		}
		CHECK(rc == 0);
		L.counter++;
		CHECK(shmq_mutex_unlock(&L.mutex) == 0);
	}
	return NULL;
}

static void *sem_thread(void *p)
{
	(void)p;
	for (int i = 0; i < LOCK_ROUNDS; i++) {
		CHECK(shmq_sem_wait(&L.sem) == 0);
		L.counter++;
		CHECK(shmq_sem_post(&L.sem) == 0);
	}
	return NULL;
}

static int run_lock(const char *what, void *(*fn)(void *))
{
	pthread_t t[LOCK_THREADS];
	L.counter = 0;
	for (int i = 0; i < LOCK_THREADS; i++)
		pthread_create(&t[i], NULL, fn, NULL);
	for (int i = 0; i < LOCK_THREADS; i++)
		pthread_join(t[i], NULL);
	int ok = !__atomic_load_n(&failed, __ATOMIC_SEQ_CST) &&
	         L.counter == (uint64_t)LOCK_THREADS * LOCK_ROUNDS;
	printf("%-28s %s: counter %llu of %llu\n", what, ok ? "ok" : "FAIL",
	       (unsigned long long)L.counter,
	       (unsigned long long)LOCK_THREADS * LOCK_ROUNDS);
	return ok;
}

/* Event ping-pong: each side writes the plain mailbox, signals, and waits
 * for the other's signal; the event's seq is the only synchronisation. */
#define EV_ROUNDS 5000
static void *event_side(void *p)
{
	uint64_t parity = (uintptr_t)p;
	for (uint64_t i = parity; i < 2 * EV_ROUNDS; i += 2) {
		uint32_t seen = shmq_event_seq(&L.ev);
		while (seen % 2 != parity) { /* not our turn yet */
			CHECK(shmq_event_wait(&L.ev, seen) == 0);
			seen = shmq_event_seq(&L.ev);
		}
		CHECK(L.mailbox == i); /* the other side's write, seen whole */
		L.mailbox = i + 1;
		CHECK(shmq_event_signal(&L.ev) == 0);
	}
	return NULL;
}

static int run_event(void)
{
	pthread_t t[2];
	L.mailbox = 0;
	for (uintptr_t i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, event_side, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	int ok = !__atomic_load_n(&failed, __ATOMIC_SEQ_CST) &&
	         L.mailbox == 2 * EV_ROUNDS;
	printf("%-28s %s: mailbox %llu of %d\n", "event ping-pong 2 threads",
	       ok ? "ok" : "FAIL", (unsigned long long)L.mailbox,
	       2 * EV_ROUNDS);
	return ok;
}

int main(void)
{
	int pass = 0, total = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Spinning (20 us budget) and sleeping at once (futex and fences on
	 * every wait). Small rings: the writers wait for room all the time. */
	for (int64_t spin = 20000; spin >= 0; spin -= 20000) {
		total++, pass += run_chan("spsc 1->1", SHMQ_CHAN_SPSC, 1024,
		                          1, 1, spin);
		/* batches of 5: held headers, flushes before waiting */
		total++, pass += run_batch("spsc 1->1 batch 5",
		                           SHMQ_CHAN_SPSC, 1024, 1, 1, spin, 5);
		total++, pass += run_chan("mpmc 2->2", SHMQ_CHAN_MPMC, 8, 2,
		                          2, spin);
		total++, pass += run_chan("broadcast 1->2",
		                          SHMQ_CHAN_BROADCAST, 8, 1, 2, spin);
		/* samples: the bytes in place, references as bits */
		total++, pass += run_chan("samples 1->2", SHMQ_CHAN_SAMPLES,
		                          8, 1, 2, spin);
	}

	total++, pass += run_commit_close_race();

	/* Channel fds: the reader by fd, then the writer by fd. */
	for (int64_t spin = 20000; spin >= 0; spin -= 20000) {
		total++, pass += run_fd("fd: spsc reader epoll", 1, spin);
		total++, pass += run_fd("fd: spsc writer epoll", 0, spin);
	}
	total++, pass += run_fd_close_armed();

	if (shmq_mutex_init(&L.mutex) < 0 || shmq_sem_init(&L.sem, 1) < 0 ||
	    shmq_event_init(&L.ev) < 0) {
		fprintf(stderr, "lock init failed\n");
		return 1;
	}
	total++, pass += run_lock("robust mutex 4 threads", mutex_thread);
	total++, pass += run_lock("semaphore(1) 4 threads", sem_thread);
	total++, pass += run_event();

	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("tsan: %d passed, %d failed (%.1f s)\n", pass, total - pass,
	       (double)(t1.tv_sec - t0.tv_sec) +
	               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return pass == total ? 0 : 1;
}
