/*
 * The waiting path every channel kind uses, for Spin: included by
 * spsc.pml, mpmc.pml and bcast.pml.
 *
 * shmq__chan_wait() (chan_wait.c): the kind's check; if -EAGAIN,
 * sleep_on(): load the event's seq (acquire), waiters + 1, heavy fence,
 * the check again, shmq_futex_wait(seq, seen) while it is still -EAGAIN,
 * waiters - 1, and again. shmq__event_notify() (sync_sem.c): light fence,
 * nothing if waiters is 0, else seq + 1 (release) and wake all. The
 * fences make "waiters + 1, then check" against "publish, then load
 * waiters" a Dekker pair, which Spin's interleavings (sequentially
 * consistent) give for free.
 *
 * Left out: the spin phase of shmq__chan_wait() (more runs of the same
 * check before the process counts itself a waiter: they can only return
 * sooner or help others on, as the first check does; they cannot make a
 * sleeper miss a wakeup) and the 50 ms futex timeout of sleep_on() (the
 * poll tick). So a wakeup the code loses is a sleep forever here, which the
 * progress check reports; in the code it is a 50 ms stall. A death is what
 * the tick is for: each model settles a dead peer at once and notifies both
 * events, as settle_rest() does when a tick finds it.
 *
 * A process that waits declares WAIT_LOCALS; its check sets rc. CHECK
 * appears once in CHAN_WAIT, so a check may hold labels.
 *
 * -DWAIT_MUTANT=1: sleep_on() does not look again after it counts itself
 * a waiter (it sleeps, then checks); -DWAIT_MUTANT=2: sleep_on() loads seq
 * after its check, not before; -DWAIT_MUTANT=3: shmq__event_notify() skips
 * the wake (a publisher that does not wake). Each loses a wakeup: the
 * progress check must fail.
 */
#ifndef WAIT_MUTANT
#define WAIT_MUTANT 0
#endif

#define OK 0
#define AGAIN 1 /* -EAGAIN */
#define END 2   /* -EPIPE or SHMQ_EPEERDEAD: the end, no message */

#define DATA_EV 0  /* hdr->data_ev: writers notify, readers wait */
#define SPACE_EV 1 /* hdr->space_ev: readers notify, writers wait */
byte ev_waiters[2]; /* struct shmq_event_shm waiters */
/* The event's seq (the futex word) matters only as "moved since this
 * process loaded it": ev_on[p] is the event p loaded seq of (+ 1, 0 for
 * none), ev_moved[p] whether seq moved since. Exact (no wrap-around of a
 * counter), and the state space does not grow with the number of
 * notifies. NPROC: the model's process count (_pid < NPROC). */
byte ev_on[NPROC];
bool ev_moved[NPROC];

#define WAIT_LOCALS byte rc; bool wphase

/* shmq__event_notify(): the load of waiters and, if any, seq + 1
 * (release) and the futex wake of all, in one step. (Splitting it adds
 * only wakeups: a process that loads seq in between had already counted
 * itself, so its own check sees what was published before the notify.) */
#if WAIT_MUTANT == 3
#define NOTIFY(e) skip
#else
#define NOTIFY(e)                                                           \
	d_step {                                                            \
		if                                                          \
		:: ev_waiters[e] > 0 ->                                     \
			for (ev_i : 0 .. NPROC - 1) {                       \
				if                                          \
				:: ev_on[ev_i] == (e) + 1 ->                \
					ev_moved[ev_i] = 1                  \
				:: else -> skip                             \
				fi                                          \
			}                                                   \
			ev_i = 0                                            \
		:: else -> skip                                             \
		fi                                                          \
	}
#endif
byte ev_i; /* NOTIFY's loop index, 0 between steps */

/* sleep_on()'s seen = seq (acquire) and waiters + 1 (relaxed, then the
 * heavy fence): one step (what a notify between the two could do is wake
 * us early, never late). */
#define ANNOUNCE(e)                                                         \
	atomic { ev_on[_pid] = (e) + 1; ev_moved[_pid] = 0; ev_waiters[e]++ }
/* shmq_futex_wait(seq, seen), no timeout: returns once seq moved; then
 * waiters - 1, and seen is forgotten (a local). */
#define FUTEX_WAIT(e)                                                       \
	atomic {                                                            \
		ev_moved[_pid];                                             \
		ev_waiters[e]--; ev_on[_pid] = 0; ev_moved[_pid] = 0        \
	}
#define UNWAIT(e)                                                           \
	atomic { ev_waiters[e]--; ev_on[_pid] = 0; ev_moved[_pid] = 0 }

/* sleep_on(): what it does before its check, and after it. */
#if WAIT_MUTANT == 1
#define SLEEP_BEFORE(e)                                                     \
	ANNOUNCE(e); FUTEX_WAIT(e) /* sleeps, then checks */
#define SLEEP_AFTER(e) skip
#elif WAIT_MUTANT == 2
#define SLEEP_BEFORE(e) atomic { ev_waiters[e]++ }
#define SLEEP_AFTER(e)                                                      \
	atomic { ev_on[_pid] = (e) + 1; ev_moved[_pid] = 0 } /* late */     \
	if :: rc == AGAIN -> FUTEX_WAIT(e) :: else -> UNWAIT(e) fi
#else
#define SLEEP_BEFORE(e) ANNOUNCE(e)
#define SLEEP_AFTER(e)                                                      \
	if :: rc == AGAIN -> FUTEX_WAIT(e) :: else -> UNWAIT(e) fi
#endif

/* shmq__chan_wait(ev, check): the first check, then sleep_on()'s rounds.
 * CHECK is written once (it may hold labels): wphase says which round. */
#define CHAN_WAIT(e, CHECK)                                                 \
	wphase = 0;                                                         \
	do                                                                  \
	:: if :: wphase -> SLEEP_BEFORE(e) :: else -> skip fi;              \
	   CHECK;                                                           \
	   if :: wphase -> SLEEP_AFTER(e) :: else -> wphase = 1 fi;         \
	   if :: rc != AGAIN -> break :: else -> skip fi                    \
	od;                                                                 \
	wphase = 0
