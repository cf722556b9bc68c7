/*
 * What the channel fuzz targets share. Guard pages: linked with -Wl,--wrap=mmap,--wrap=munmap,
 * every shared mapping of an fd the library makes gets a PROT_NONE page on
 * each side, so a stray read or write faults instead of landing in a
 * neighbouring mapping (ASan does not watch mmap'ed memory).
 */
#ifndef SHMQ_FUZZ_GUARD_H
#define SHMQ_FUZZ_GUARD_H

#include <sys/types.h>

#include "shmq.h"

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
int __wrap_munmap(void *addr, size_t len);

/* Open fds now (-1 if /proc/self/fd cannot be read): a call that leaks
 * one fails the input. */
int fuzz_count_fds(void);

/* Writes a peer's patches over the state a channel's peers share after
 * open (base: the object; ring_len: its ring or control part's bytes):
 * each patch is an offset (2 bytes, little endian, modulo the state's
 * size: header lines 2-4, the peer table, the ring), a length (1 byte),
 * and that many bytes. */
void fuzz_scribble(unsigned char *base, size_t ring_len,
                   const unsigned char *data, size_t size);

/* A channel target's failure: says what and the error, then aborts. */
void fuzz_die(const char *what, long rc) __attribute__((noreturn));

/* fuzz_scribble over channel w's state past its identity line, the
 * input's first byte (the target's choices) left out. */
void fuzz_scribble_chan(shmq_chan *w, const unsigned char *data,
                        size_t size);

/* After the scribble: what a channel target's peers do next (the writer
 * first when write_first), then info and stat, then both close; an fd
 * the calls leaked (fds: fuzz_count_fds before the input) aborts. */
struct fuzz_peers {
	void (*write_some)(shmq_chan *w);
	void (*reader_acts)(shmq_chan *r);
};
void fuzz_drive(const struct fuzz_peers *p, shmq_chan *w, shmq_chan *r,
                const char *loc, int write_first, int fds);

#endif
