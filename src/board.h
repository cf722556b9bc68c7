/* Boards: what board.c (create, open, validation), board_entry.c (set,
 * get, names) and board_wait.c (waits and the fd) share. Never included
 * outside src/ (but the tests and fuzz targets, for the object's bytes). */
#ifndef SHMQ_BOARD_H
#define SHMQ_BOARD_H

#include "os_guard.h"
#include "internal.h"
#include "layout.h"

struct shmq__fdw;

struct shmq_board {
	shmq_seg *seg;
	struct shmq_board_hdr *hdr; /* shared: only the lock and counters */
	unsigned char *base;        /* the object's first byte */
	/* Our copy of the identity line, checked once at open. */
	uint32_t entries, value_size;
	uint64_t entry_size, object_size;
	int fd;                   /* the object's fd (size checks) */
	struct shmq__guard guard; /* our mapping, if a peer can shrink it */
	int broken;               /* 0, or SHMQ_ETRUNCATED for good */
	int64_t next_tick_ns;     /* a sleeper's next re-validation */
	struct shmq__fdw *fdw;    /* shmq_board_fd's, or NULL */
	uint32_t arm_i;           /* the last try_wait that found nothing: */
	uint64_t arm_seen;        /* its entry and seq (the fd's check) */
};

/* Entry i (i < b->entries: the caller checked against our copy). */
static inline struct shmq_board_entry *shmq__board_entry(shmq_board *b,
                                                         uint32_t i)
{
	return (struct shmq_board_entry *)(b->base + SHMQ_BOARD_HDR_SIZE +
	                                   (uint64_t)i * b->entry_size);
}

/* Buffer k (0, 1) of entry e. */
static inline unsigned char *shmq__board_buf(shmq_board *b,
                                             struct shmq_board_entry *e,
                                             uint64_t k)
{
	return (unsigned char *)e + SHMQ_BOARD_ENTRY_HDR +
	       (k & 1) * ((b->entry_size - SHMQ_BOARD_ENTRY_HDR) / 2);
}

/* A call's accesses to the mapping run between enter and leave (the SIGBUS
 * guard of channels): a fault, or a size check that finds the object
 * shrunk, breaks the handle (SHMQ_ETRUNCATED from then on). */
static inline int shmq__board_enter(shmq_board *b)
{
	if (b->broken)
		return b->broken;
	shmq__guard_arm(&b->guard);
	return 0;
}
int shmq__board_leave(shmq_board *b, int rc);

/* board.c */
uint32_t shmq__board_layout_hash(void);
/* The object still has its size and the shared identity matches our copy:
 * 0, SHMQ_ETRUNCATED or -EBADMSG. */
int shmq__board_revalidate(shmq_board *b);
/* Whether the identity line h (a copy) describes a board of `size` bytes:
 * 0, SHMQ_ENOTBOARD, SHMQ_EVERSION or -EBADMSG. */
int shmq__board_check(const struct shmq_board_hdr *h, uint64_t size);

/* board_entry.c */
/* Entry i's seq word, or the board's count of sets (SHMQ_BOARD_ANY), read
 * with acquire: 0 or -EINVAL. */
int shmq__board_seq_of(shmq_board *b, uint32_t i, uint64_t *seq);

/* board_wait.c */
void shmq__board_fd_close(shmq_board *b);

#endif
