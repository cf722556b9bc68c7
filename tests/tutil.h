/* Helpers shared by the library tests: processes that hold a segment, and
 * creating under a given umask. Failures end the test like CHECK does. */
#ifndef SHMQ_TUTIL_H
#define SHMQ_TUTIL_H

#include "shmq.h"

#include <sys/types.h>

/* A forked process that keeps a segment attached until released. */
struct t_holder {
	pid_t pid;
	int go; /* write end: closing it lets the holder go */
};

/* Forks a child that opens locator with flags (SHMQ_SEG_*) and stays
 * attached; returns once it is attached. */
void t_hold(struct t_holder *h, const char *locator, unsigned flags);
/* Lets the holder detach and exit; checks that it exited 0. */
void t_release(struct t_holder *h);

/* shmq_seg_create under umask mask (restored afterwards). */
int t_create_umask(shmq_seg **seg, const char *locator, size_t size,
                   unsigned mode, unsigned mask);

/* Whether the caller may unshare namespaces and mount (root in a user
 * namespace that owns them); t_skip otherwise, naming what is missing. */
void t_need_root(const char *what);

/* The nattch that stat should give a POSIX object nobody maps: 0 when this
 * process can read every /proc/PID/maps, else -1 ("unknown"). */
int64_t t_posix_unused_nattch(void);

/* "sysv:key=0x5e..." for t_key(n), in buf. */
const char *t_sysv_loc(char *buf, size_t len, int n);
/* "posix:shmqt-<pid>-tag", in buf. */
const char *t_posix_loc(char *buf, size_t len, const char *tag);

/* From now on, any system call but exit_group kills this process with
 * SIGSYS (status 159): proves a code path makes none. */
void t_forbid_syscalls(void);
/* A seccomp filter for the rest of this process: system call nr gets the
 * action on_nr (SECCOMP_RET_*), every other call the action otherwise. */
void t_seccomp_one(long nr, uint32_t on_nr, uint32_t otherwise);

/* Runs body in a forked child and passes the child's skip (exit 77, the
 * runner keeps its reason) or failure on; a signal (a SIGBUS is 135)
 * fails the test. */
void t_in_child(void (*body)(void));

/* The system call pid sleeps in (/proc/PID/syscall), or -1 (running);
 * skips the test where that file is unreadable. */
long t_blocked_in(pid_t pid);

/* Creates a channel of kind with capacity cap, 64-byte messages and a spin
 * budget of spin ns, as role (fails the test otherwise). */
shmq_chan *t_chan_make(const char *loc, int kind, size_t cap, int role,
                       int64_t spin);
/* Opens an existing channel as role with default options (fails the
 * test otherwise). */
shmq_chan *t_chan_attach(const char *loc, int role);

/* Options of a new semaphore set or message queue, for one call. */
#define T_SEM(n, m, f)                                                       \
	(&(struct shmq_semset_opts){.nsems = (n), .mode = (m), .flags = (f)})
#define T_MSGQ(m, f) (&(struct shmq_msgq_opts){.mode = (m), .flags = (f)})

/* SHMQ_LONG=1 (make check-long): run the long version of a test. */
int t_long(void);

/* Whether a program is on $PATH. */
int t_have_program(const char *name);
/* Runs python3 -c SCRIPT ARGS... with stdin_data on its stdin; a non-zero
 * exit fails the test with the script's stderr. */
struct t_run;
void t_python(struct t_run *r, const char *stdin_data, const char *script,
              ...) __attribute__((sentinel));

/* The names in /dev/shm, sorted, as one string in buf ("a/b/"): compare
 * two to prove a test left nothing there. Names other runs make (another
 * test's shmqt-PID-, the TSan part's, a bench's) are left out. */
void t_shm_names(char *buf, size_t len);

/* ---- Channel fds, sockets, shrunk objects ---- */

/* CLOCK_MONOTONIC now, in ns. */
int64_t t_now_ns(void);
/* Whether fd polls readable within ms. */
int t_readable(int fd, int ms);
/* A new epoll set (close-on-exec) holding ch's fd for EPOLLIN, with ch as
 * its data.ptr; the caller closes it. */
int t_epoll_on(shmq_chan *ch);
/* "/dev/shm/NAME" for a posix: locator, in buf. */
const char *t_shm_path(char *buf, size_t len, const char *loc);
/* Shrinks the POSIX object behind loc to `to` bytes, from a forked
 * process that is no peer. at_ns (shared memory, or NULL) gets the
 * CLOCK_MONOTONIC time just after the cut, in ns. */
void t_cut(const char *loc, off_t to, int64_t *at_ns);
/* "/tmp/shmqt-<pid>-tag.sock" (t_name), a Unix socket's path, in buf. */
const char *t_sock_path(char *buf, size_t len, const char *tag);

/* 2 MiB huge pages free now, plus those the kernel may add on demand
 * (nr_overcommit_hugepages). */
int t_huge_2m_reserve(void);
/* Reserves four more 2 MiB huge pages (as root) for as long as fn runs in
 * a child, then gives them back (the reserve is machine-wide); skips when
 * they cannot be had. */
void t_with_huge_pages(void (*fn)(void));

#endif
