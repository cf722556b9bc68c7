/*
 * shmq bench: the benchmark core behind `shmq bench`.
 *
 * A transport (floor.c, kernel.c, shmq.c) only moves one message at a time;
 * run.c does everything else, the same way for all of them: it forks the
 * processes, pins them, warms up, times, checks every message and the
 * checksums, and turns the result into a record. report.c prints records as
 * a table or JSON, plot.c as SVG, peer.c adds the records of the peer
 * libraries' programs (bench/peers/).
 *
 * Directions: a round trip uses direction 0 (process 0 to 1) and 1 (back);
 * throughput and reads use direction 0 only, from the writers (processes
 * 0..writers-1) to the readers (the rest).
 */
#ifndef SHMQ_BENCH_H
#define SHMQ_BENCH_H

/* bench/ measures the public API (shmq.h) and is built without src/ on the
 * include path (its own archive, build/libshmq-bench.a, which the tool
 * links). Its one way into the library's internals is src/atomic.h, here:
 * header-only (nothing of the library is linked through it), so the floors
 * and the start line use the library's own atomics, fences and futex
 * calls, and a floor costs what the same step costs inside a channel. */
#include "../src/atomic.h"

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

/* A reads row (boards): one process sets one value at full speed, the
 * other gets the newest value in a loop; reads a second, how many of them
 * were new, and how old a new value was when the reader held it. */
enum bench_metric { BENCH_RTT = 0, BENCH_TPUT = 1, BENCH_READS = 2 };

/* "rtt", "throughput", "reads" (the JSON "metric"). */
const char *bench_metric_name(int metric);

/* Flags of a transport. */
#define BT_BUSY (1u << 0)    /* never sleeps: its RTT floor is floor-spin,
                                else floor-spin-futex */
#define BT_NO_RTT (1u << 1)  /* throughput only (memcpy) */
#define BT_NO_TPUT (1u << 2) /* round trip only (the spin and futex floors,
                                eventfd) */
#define BT_EOF (1u << 3)     /* several writers: readers stop at the end of
                                the stream (writers close), not at a LAST */
#define BT_SOLO (1u << 4)    /* throughput in one process, no reader */
#define BT_LOOP (1u << 5)    /* throughput in one process that receives
                                each message it sends (floor-checks) */

/* What run.c hands a transport: the objects the parent made before the
 * fork (every process inherits them), and why a size cannot be run. */
struct bench_link {
	int metric;             /* BENCH_RTT / BENCH_TPUT */
	size_t size;            /* bytes per message */
	unsigned writers, readers;
	int fd[2][2];           /* per direction: two ends, -1 unused */
	void *shm;              /* MAP_SHARED memory (floors) */
	size_t shm_len;
	char name[2][64];       /* per direction: a unique object name */
	char why[160];          /* setup: why the size is skipped */
};

/* One process's end. run.c fills the first fields; open sets the rest. */
struct bench_end {
	struct bench_link *l;
	unsigned who;           /* process index */
	int tx, rx;             /* directions it sends on and receives from,
	                           -1 none */
	size_t size;
	unsigned char *buf;     /* receive buffer: size bytes, and headroom
	                           bytes before it */
	int out, in;            /* file descriptors, -1 none */
	void *txh, *rxh;        /* handles: channels, floor boxes */
	uint64_t txn, rxn;      /* floors: messages sent, received */
	const void *last;       /* memcpy: the last message copied */
};

#define BENCH_SKIP 1 /* setup: this size cannot run here (l->why says) */

struct bench_transport {
	const char *name;       /* the JSON "transport" */
	const char *cls;        /* "floor", "shmq" or "kernel" (for --only) */
	const char *note[3];    /* per metric, shown in the table: "1x1" */
	unsigned flags;         /* BT_* */
	size_t only_size;       /* eventfd: 8 (the counter); 0: any */
	unsigned writers, readers, fanout; /* throughput: processes, and how
	                           many readers get each message (0: 1) */
	size_t headroom;        /* bytes the transport may write before the
	                           message (System V: mtype) */
	/* Parent, before the fork: 0, BENCH_SKIP, or -errno with l->why. */
	int (*setup)(struct bench_link *l);
	/* Each process: opens its end (directions in e->tx, e->rx). */
	int (*open)(struct bench_end *e);
	/* Sends the size bytes at msg (msg - headroom is ours to use too). */
	int (*send)(struct bench_end *e, const void *msg);
	/* The next message, valid until done(): its length, 0 at the end of
	 * the stream, or -errno. */
	ssize_t (*recv)(struct bench_end *e, const void **msg);
	int (*done)(struct bench_end *e);       /* may be NULL; 0 or -errno */
	/* Reads rows (NULL: none): the newest value, without waiting; its
	 * length (0: never set), -EBUSY (gave up: rewritten under every
	 * copy; counted, not a failure), or -errno. */
	ssize_t (*latest)(struct bench_end *e, const void **msg);
	int (*close)(struct bench_end *e);      /* 0 or -errno */
	/* Parent, after every process ended: removes what setup made. */
	void (*teardown)(struct bench_link *l);
};

/* The transports, in table order (floors, shmq, kernel). */
extern const struct bench_transport bench_floor_spin, bench_floor_spin_ref,
	bench_floor_futex,
	bench_floor_spin_futex, bench_memcpy, bench_floor_checks,
	bench_floor_ring, bench_floor_ring_batch;
extern const struct bench_transport bench_shmq_spsc, bench_shmq_spsc_batch,
	bench_shmq_blocking,
	bench_shmq_epoll, bench_shmq_epoll_spin, bench_shmq_zerocopy, bench_shmq_mpmc, bench_shmq_bcast,
	bench_shmq_bcast_x1, bench_shmq_bcast_x4, bench_shmq_samples,
	bench_shmq_samples_x1, bench_shmq_samples_x4,
	bench_shmq_board, bench_board_mutex;
extern const struct bench_transport bench_pipe, bench_unix_stream,
	bench_unix_dgram, bench_tcp, bench_sysv_mq, bench_posix_mq,
	bench_eventfd;

/* ---- Results ------------------------------------------------------------ */

enum bench_status { BENCH_OK = 0, BENCH_SKIPPED = 1, BENCH_FAILED = 2 };

struct bench_rec {
	char transport[40];
	int metric;
	size_t msg_size;
	int status;                 /* BENCH_OK/SKIPPED/FAILED */
	int busy;                   /* ratio against floor-spin, not
	                               floor-spin-futex */
	double p50, p99, p999, max; /* ns (rtt; reads: age of a new value
	                               when read, 0: not measured) */
	double msgs_per_s, gbytes_per_s; /* throughput */
	double cpu_ns_per_msg;      /* every process; reads: the reader's
	                               per read */
	double writer_cpu_ns_per_msg; /* throughput: the writers' own CPU time
	                                 per message they sent (0: none) */
	double reads_per_s, sets_per_s; /* reads: the reader's good reads, the
	                                   writer's sets */
	double new_per_read, busy_per_read; /* reads: fraction that gave a
	                                   newer value / gave up (-EBUSY) */
	size_t group;               /* the size it is shown with (eventfd:
	                               8 B, with the smallest size); 0: in
	                               the list of what did not run */
	char note[24];              /* "1x1", "2x2", "1->2", "8 B" */
	char why[240];              /* skipped, failed: in words */
	double place_ns[2];         /* the placement probe's round trip
	                               before and after the row (0: none) */
	unsigned tries;             /* times measured (placement moved) */
	unsigned rounds;            /* rounds it is the median of (0: 1) */
	double spread;              /* their best and worst key figure
	                               (p50, msgs/s, reads/s) apart, over
	                               the median's (0: one round) */
};

struct bench_results {
	struct bench_rec *rec;
	size_t n, cap;
	double place_ns;            /* the placement at the run's start, the
	                               one every row is measured in if it
	                               can (0: not pinned) */
};

/* Appends a zeroed record; NULL when out of memory. */
struct bench_rec *bench_add(struct bench_results *r);

/* ---- Running ------------------------------------------------------------ */

struct bench_cfg {
	double duration_s;      /* measured phase of each row */
	double warmup_s;        /* before it, the same for every row */
	int cpus[2];            /* pinned to these; -1: not pinned */
	size_t sizes[16];
	unsigned nsizes;
	const char *only;       /* comma-separated patterns, NULL: all */
	int progress;           /* a line per row on stderr */
	unsigned rounds;        /* each row measured this many times, the
	                           rows of a group in turn; the median
	                           stands (0: 1) */
};

/* Whether a transport named name of class cls is selected by cfg->only. */
int bench_selected(const struct bench_cfg *cfg, const char *name,
                   const char *cls);
/* The transports in table order, NULL-terminated. */
extern const struct bench_transport *const bench_transports[];

/* Whether item (of --only) selects any transport, ours or a peer's. */
int bench_pattern_known(const char *item);

/* Every selected row, then the peers: 0, or -signal when a termination
 * signal stopped the run (every process is gone, everything made removed).
 * A row that failed has status BENCH_FAILED. */
int bench_run_all(const struct bench_cfg *cfg, struct bench_results *res);

/* The parent's signals: SIGCHLD and the termination signals, blocked while
 * it runs so that none slips between a check and a wait. */
struct bench_sig {
	sigset_t watch, old;
};
/* One row of transport t (which need not be one of ours: the tests break
 * one on purpose): 0, or -signal. */
int bench_run_one(const struct bench_transport *t, int metric, size_t size,
                  const struct bench_cfg *cfg, struct bench_rec *rec);

void bench_sig_block(struct bench_sig *s);
/* A process the bench forked: the parent's signal mask back, killed with
 * its parent, pinned to cpu (-1: not). -ESRCH if the parent is already
 * gone, or the pinning's -errno. */
int bench_child_start(const struct bench_sig *sig, pid_t parent, int cpu);
/* Waits for the n processes in pid[] to end (status[] as waitpid gives
 * it). The first that ends badly stops the others (SIGKILL): its index is
 * in *first. Returns 0 (all ended well), 1 (one did not), -ETIMEDOUT (the
 * CLOCK_MONOTONIC deadline in ns passed: all killed), or -signal. */
int bench_wait(const struct bench_sig *s, const pid_t *pid, int *status,
               unsigned n, int64_t deadline, unsigned *first);
int64_t bench_now_ns(void);

/* place.c: the round trip of a cache line between the two pinned CPUs now
 * (*ns; 0 when not pinned or the probe failed): 0, or -signal when a
 * termination signal came. Whether two probes saw the same placement
 * (within 1.5x; an unknown one, 0, counts as the same). */
int bench_placement(const struct bench_cfg *cfg, const struct bench_sig *sig,
                    double *ns);
int bench_same_place(double a, double b);
/* How many times a row is measured again when the placement moved. */
#define BENCH_PLACE_RETRIES 2

/* peer.c: the peers' transport names (NULL-terminated), and a run of the
 * peer programs that are built, adding their records; a peer that is not
 * built is added as skipped. 0 or -signal. */
extern const char *const bench_peer_names[];
int bench_peers(const struct bench_cfg *cfg, const struct bench_sig *sig,
                struct bench_results *res);

/* ---- Output ------------------------------------------------------------- */

/* One line about the machine: CPUs, model, kernel. */
void bench_machine(char *buf, size_t len);
void bench_print_table(FILE *f, const struct bench_cfg *cfg,
                       const struct bench_results *res);
/* The records of status OK as a JSON array. */
void bench_print_json(FILE *f, const struct bench_results *res);
/* SVG of RTT percentiles and throughput by size into f (gnuplot if it is
 * installed): 0 or -errno. */
int bench_plot(FILE *f, const struct bench_results *res);
/* Our own SVG writer (what bench_plot uses without gnuplot). */
void bench_plot_svg(FILE *f, const struct bench_results *res);

/* ---- Histogram (hist.c): log buckets, 64 per power of two (1.6%) ---- */

#define BENCH_HIST_N 3776
struct bench_hist {
	uint64_t count, max;
	uint64_t b[BENCH_HIST_N];
};
void bench_hist_add(struct bench_hist *h, uint64_t v);
/* The value at quantile q (0..1): the middle of its bucket. */
double bench_hist_at(const struct bench_hist *h, double q);

/* "350 ns", "12.50 us", "1.20 ms" */
const char *bench_ns_str(double ns, char *buf, size_t len);
/* "64 B", "4 KiB", "1 MiB" */
const char *bench_size_str(size_t size, char *buf, size_t len);

#endif
