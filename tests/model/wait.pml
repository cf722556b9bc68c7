/*
 * The waiting path every channel kind uses, for Spin: included by
 * spsc.pml, mpmc.pml and bcast.pml.
 *
 * shmq__chan_wait() (chan_wait.c): the kind's check; if -EAGAIN,
 * sleep_on(): load the event's seq (acquire), then announce (waiters + 1
 * and armed = 1, release: shmq__event_announce), heavy fence, the check
 * again, shmq_futex_wait(seq, seen) while it is still -EAGAIN, waiters -
 * 1, and again. shmq__event_notify() (sync_sem.c): light fence, nothing
 * if armed is 0, else the exchange of armed for 0 and, if it was 1, seq +
 * 1 (release) and wake all. The fences make "arm, then check" against
 * "publish, then look at armed" a Dekker pair, which Spin's interleavings
 * (sequentially consistent) give for free.
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
 * the wake (a publisher that does not wake); -DWAIT_MUTANT=4: sleep_on()
 * arms before it loads seq (a notify between takes the arm and moves a seq
 * the sleeper has not loaded yet). Each loses a wakeup: the progress check
 * must fail.
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
bool ev_armed[2];   /* struct shmq_event_shm armed */
/* The event's seq (the futex word) matters only as "moved since this
 * process loaded it": ev_on[p] is the event p loaded seq of (+ 1, 0 for
 * none), ev_moved[p] whether seq moved since. Exact (no wrap-around of a
 * counter), and the state space does not grow with the number of
 * notifies. NPROC: the model's process count (_pid < NPROC). */
byte ev_on[NPROC];
bool ev_moved[NPROC];

#define WAIT_LOCALS byte rc; bool wphase

/* shmq__event_notify(): the exchange of armed and, if it was set, seq + 1
 * (release) and the futex wake of all, in one step. (Splitting it adds
 * only wakeups: a sleeper that loads seq between the exchange and the
 * increment is woken by it; one that arms after the exchange leaves the
 * arm set for the next notify. Waiters are no longer looked at: a sleeper
 * woken but not yet running costs the next notifies nothing.) */
#if WAIT_MUTANT == 3
#define NOTIFY(e) skip
#else
#define NOTIFY(e)                                                           \
	d_step {                                                            \
		if                                                          \
		:: ev_armed[e] ->                                           \
			ev_armed[e] = 0;                                    \
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

/* sleep_on()'s seen = seq (acquire), then its announce: waiters + 1 and
 * armed = 1 (release, then the heavy fence). Two steps: a notify between
 * them moves the seq we loaded (it wakes us early, never late). */
#define LOAD_SEQ(e) atomic { ev_on[_pid] = (e) + 1; ev_moved[_pid] = 0 }
#define ARM(e) atomic { ev_waiters[e]++; ev_armed[e] = 1 }
#if WAIT_MUTANT == 4
#define ANNOUNCE(e) ARM(e); LOAD_SEQ(e)
#else
#define ANNOUNCE(e) LOAD_SEQ(e); ARM(e)
#endif
/* shmq_futex_wait(seq, seen), no timeout: returns once seq moved; then
 * waiters - 1, and seen is forgotten (a local). The arm stays. */
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
#define SLEEP_BEFORE(e) ARM(e)
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
