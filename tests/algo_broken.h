/* A deliberately broken lock, built only into the tests (algo_broken.c). */
#ifndef SHMQ_ALGO_BROKEN_H
#define SHMQ_ALGO_BROKEN_H

/* Peterson's lock as the textbook writes it, without the seq_cst fence, on
 * state made by shmq_algo_init(mem, len, SHMQ_ALGO_PETERSON, 2). Same
 * signatures as shmq_algo_lock/unlock; me is 0 or 1, not checked. */
int t_broken_peterson_lock(void *mem, unsigned me);
int t_broken_peterson_unlock(void *mem, unsigned me);

#endif
