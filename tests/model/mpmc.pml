/*
 * mpmc slot protocol (src/chan_mpmc.c), for Spin.
 *
 * S slots; slot p % S goes EMPTY(p) -> WRITING(p, w) -> FULL(p) ->
 * READING(p, r) -> EMPTY(p + S), each move a CAS or a store on the slot's
 * word (seq, state, peer: one 64-bit word in the code, one atomic step
 * here). tail and head are hints moved on by a CAS from `from` to
 * `from + 1` (advance()), by the claimer or by anyone who sees the slot
 * claimed (help_on()). A peer may die at any step (Promela `unless`: the
 * process stops between two statements, as a SIGKILLed one does; its OFD
 * lock goes, so alive[] clears at once; a peer that closes is no longer
 * ACTIVE, so it is "not alive" to holder_dead() too); the survivors take
 * back a slot a dead peer holds (recover(): WRITING is skipped, READING
 * freed), exactly where the code calls holder_dead(). A death is settled
 * at once and wakes both events, as settle_rest() does when a poll tick
 * finds it. Positions are not masked (2^56 in the code, far beyond these
 * runs). Peers wait as the code does (wait.pml).
 *
 * Mirrors (chan_mpmc.c): mpmc_reserve() with claim_write(), mpmc_commit();
 * mpmc_peek() with claim_read(), take_full() and empty_at(),
 * mpmc_release(); advance(), help_on(), holder_dead(), recover();
 * shmq__chan_eof() (chan_wait.c) and shmq__chan_quit() (chan_peer.c).
 *
 * Safety: no message is delivered twice; none is read before its writer
 * published it or read torn (two payload words, stored and loaded one at a
 * time); no slot's payload is overwritten while a reader holds it; when
 * everyone is through, every published message was delivered, unless the
 * reader that took it died holding it; nobody sleeps forever (invalid end
 * states), with no death and with any one peer dying at any step.
 * Progress (-DPROGRESS, pan -a -f): under weak fairness every peer
 * finishes (closes or dies), so no live peer sleeps or loops forever while
 * a message or a free slot is there for it.
 *
 * -DS=slots -DNW=writers -DNR=readers -DM=messages per writer.
 * -DKILL=0 no death, 1 any one peer may die. -DMUTANT=1: the writer
 * publishes FULL before it writes the payload; -DMUTANT=2: the reader
 * frees the slot (EMPTY) before it copies the payload out; -DMUTANT=3:
 * a reader that found a WRITING slot's holder dead moves head past it
 * even when its recover() CAS failed (the code before this model: the
 * writer had committed and closed meanwhile, and its message was skipped
 * and the slot wedged FULL); -DMUTANT=4: mpmc_commit() does not notify
 * data_ev; -DMUTANT=5: mpmc_release() does not notify space_ev. Each must
 * fail (4 and 5 the progress check), as must wait.pml's WAIT_MUTANTs.
 */
#ifndef S
#define S 2
#endif
#ifndef NW
#define NW 2
#endif
#ifndef NR
#define NR 2
#endif
#ifndef M
#define M 2
#endif
#ifndef KILL
#define KILL 1
#endif
#ifndef MUTANT
#define MUTANT 0
#endif
#define NP (NW + NR)
#define NPROC (NP + 1) /* init is _pid 0; peer me is _pid me + 1 */
#include "wait.pml"
#define NMSG (NW * M)

#define EMPTY 0
#define WRITING 1
#define FULL 2
#define READING 3

/* The slot word, split; always read and written together (atomic). */
int sseq[S];
byte sst[S];
byte speer[S];
/* The payload: two words, plain stores and loads. */
byte d1[S];
byte d2[S];
int tail, head; /* hints: relaxed CAS only */
byte writers = NW, readers = NR, dead_writers, dead_readers;
bool alive[NP];
/* Ghosts: what happened to each message, what a slot holds. */
bool published[NMSG];
byte got[NMSG];
bool lost_with_reader[NMSG];
bool held[S]; /* a reader is copying the slot out */
byte finished;
byte killed; /* 0: nobody; else the pid + 1 of the one that dies */

#define LOAD_WORD(s)                                                        \
	atomic { wseq = sseq[s]; wst = sst[s]; wpeer = speer[s] }
#define WORD_IS(s) (sseq[s] == wseq && sst[s] == wst && speer[s] == wpeer)
/* CAS on the word: from what we loaded to (seq, st, peer). */
#define CAS_WORD(s, seq, st, peer)                                          \
	atomic {                                                            \
		if                                                          \
		:: WORD_IS(s) -> sseq[s] = seq; sst[s] = st;                \
			speer[s] = peer; ok = 1                             \
		:: else -> ok = 0                                           \
		fi                                                          \
	}
/* advance(): relaxed CAS of an index from `from` to from + 1. */
#define ADVANCE(idx, from)                                                  \
	atomic { if :: idx == from -> idx = from + 1 :: else -> skip fi }
/* recover(): a dead holder's WRITING or READING slot to EMPTY(p + S) by
 * a CAS (acq_rel); if it took it, notify space_ev. (Without that notify
 * the checks still pass: the holder's death was settled, which notified
 * both events, before anyone could find it dead.) */
#define WAKE_AFTER_RECOVER if :: ok -> NOTIFY(SPACE_EV) :: else -> skip fi
#define RECOVER(s)                                                          \
	atomic {                                                            \
		if                                                          \
		:: WORD_IS(s) -> sseq[s] = wseq + S; sst[s] = EMPTY;        \
			speer[s] = 0; held[s] = 0; ok = 1                   \
		:: else -> ok = 0                                           \
		fi                                                          \
	}                                                                   \
	WAKE_AFTER_RECOVER
/* A check's locals are dead when it returns -EAGAIN (the next one loads
 * them again) or the message is done with: zeroed, so that states that
 * differ only in them are one. */
#define FORGET pos = 0; s = 0; wseq = 0; wst = 0; wpeer = 0; ok = 0
/* help_on(): the word is a later round than the index says. */
#define HELP_ON(idx)                                                        \
	if                                                                  \
	:: wseq - pos <= S -> ADVANCE(idx, pos)                             \
	:: else -> assert(idx != pos) /* no peer leaves such a word */      \
	fi

#if MUTANT == 4
#define WAKE_READERS skip /* mpmc_commit() without its notify: wrong */
#else
#define WAKE_READERS NOTIFY(DATA_EV)
#endif
#if MUTANT == 5
#define WAKE_WRITERS skip /* mpmc_release() without its notify: wrong */
#else
#define WAKE_WRITERS NOTIFY(SPACE_EV)
#endif

/* claim_write(): rc OK (slot s claimed for pos), AGAIN (full) or END
 * (SHMQ_EPEERDEAD: no reader left, some died). */
#define CLAIM_WRITE                                                         \
	do                                                                  \
	:: atomic { pos = tail; s = pos % S } /* relaxed */                 \
		LOAD_WORD(s);          /* acquire */                        \
		if                                                          \
		:: wseq == pos && wst == EMPTY ->                           \
			CAS_WORD(s, pos, WRITING, me); /* acquire */        \
			if                                                  \
			:: ok -> ADVANCE(tail, pos); rc = OK; break         \
			:: else -> skip                                     \
			fi                                                  \
		:: wseq == pos && wst != EMPTY ->                           \
			ADVANCE(tail, pos) /* claimed: help on */           \
		:: wseq > pos -> HELP_ON(tail)                              \
		:: wseq == pos - S -> /* last round's: full */              \
			if                                                  \
			:: wst == READING && !alive[wpeer] ->               \
				RECOVER(s) /* holder_dead() */              \
			:: else -> /* two relaxed loads, one step here */   \
				atomic { rc = (readers == 0 &&              \
				      dead_readers > 0 -> END : AGAIN);     \
				      FORGET };                             \
				break                                       \
			fi                                                  \
		:: else -> skip /* a stale look: again */                   \
		fi                                                          \
	od

proctype writer(byte me)
{
	int pos, wseq;
	byte wst, wpeer, s, k, id;
	bool ok, closed;
	WAIT_LOCALS;
	{
		do
		:: k < M -> /* mpmc_reserve() */
			CHAN_WAIT(SPACE_EV, CLAIM_WRITE);
			if
			:: rc == END -> break /* SHMQ_EPEERDEAD: close */
			:: else -> skip
			fi;
			id = me * M + k;
#if MUTANT == 1
			atomic { sseq[s] = pos; sst[s] = FULL; speer[s] = 0;
			         published[id] = 1 }
#endif
			atomic { /* no reader is copying it out */
				assert(!held[s]); d1[s] = id + 1
			}
			d2[s] = id + 1;
#if MUTANT != 1
			/* mpmc_commit(): release: the payload before FULL */
			atomic { sseq[s] = pos; sst[s] = FULL; speer[s] = 0;
			         published[id] = 1 }
#endif
			atomic { FORGET; id = 0 }
			WAKE_READERS;
			k++
		:: else -> break
		od;
		/* shmq__chan_quit(): FREE (not alive to holder_dead()),
		 * the count (release: a reader's eof sees all we published),
		 * then wake both events */
		atomic { alive[me] = 0; writers--; closed = 1 }
		NOTIFY(DATA_EV);
		NOTIFY(SPACE_EV);
		finished++
	} unless {
		killed == me + 1 -> /* settled at once: settle_rest() */
		atomic {
			if
			:: !closed -> alive[me] = 0; writers--; dead_writers++
			:: else -> skip
			fi;
			NOTIFY(DATA_EV); NOTIFY(SPACE_EV); finished++
		}
	}
}

/* claim_read(): rc OK (slot s taken for pos), AGAIN (nothing yet) or END
 * (-EPIPE / SHMQ_EPEERDEAD: the writers are gone and the ring drained). */
#define CLAIM_READ                                                          \
	do                                                                  \
	:: atomic { pos = head; s = pos % S } /* relaxed */                 \
		LOAD_WORD(s);          /* acquire */                        \
		if                                                          \
		:: wseq == pos - S ->   /* last round's reader copies */    \
			if                                                  \
			:: wst == READING && !alive[wpeer] ->               \
				RECOVER(s); goto again /* holder_dead() */  \
			:: else -> goto nothing                             \
			fi                                                  \
		:: else -> skip                                             \
		fi;                                                         \
		if                                                          \
		:: wseq > pos -> HELP_ON(head)                              \
		:: else -> skip                                             \
		fi;                                                         \
		if                                                          \
		:: wseq != pos -> goto again                                \
		:: else -> skip                                             \
		fi;                                                         \
		if                                                          \
		:: wst == FULL -> /* take_full() */                         \
			atomic { /* CAS acquire; ghost: what it holds */    \
				CAS_WORD(s, pos, READING, me);              \
				if                                          \
				:: ok -> held[s] = 1; id = d1[s] - 1        \
				:: else -> skip                             \
				fi                                          \
			}                                                   \
			if                                                  \
			:: ok -> ADVANCE(head, pos); rc = OK; break         \
			:: else -> goto again                               \
			fi                                                  \
		:: wst == READING -> ADVANCE(head, pos); goto again         \
		:: wst == WRITING ->                                        \
			if                                                  \
			:: !alive[wpeer] -> RECOVER(s) /* holder_dead() */  \
				MUTANT3_SKIP                                \
			:: else -> atomic { rc = AGAIN; FORGET }; break     \
			fi;                                                 \
			goto again                                          \
		:: wst == EMPTY -> goto nothing                             \
		fi;                                                         \
nothing:	/* empty_at(): shmq__chan_eof(), writers (acquire) */       \
		atomic {                                                    \
			if                                                  \
			:: writers > 0 -> rc = AGAIN                        \
			:: else -> rc = (WORD_IS(s) -> END : AGAIN)         \
			fi;                                                 \
			FORGET                                              \
		}                                                           \
		break;                                                      \
again:		skip                                                        \
	od
#if MUTANT == 3
#define MUTANT3_SKIP ; ADVANCE(head, pos) /* skip it anyway: wrong */
#else
#define MUTANT3_SKIP
#endif

proctype reader(byte me)
{
	int pos, wseq;
	byte wst, wpeer, s, v1, v2, id;
	bool ok, closed;
	WAIT_LOCALS;
	{
		do
		:: true -> /* mpmc_peek() */
			CHAN_WAIT(DATA_EV, CLAIM_READ);
			if
			:: rc == END -> break /* -EPIPE or SHMQ_EPEERDEAD */
			:: else -> skip
			fi;
#if MUTANT == 2
			atomic { sseq[s] = pos + S; sst[s] = EMPTY; speer[s] = 0 }
#endif
			v1 = d1[s]; /* the copy out (recv_as() memcpy) */
			atomic {
				v2 = d2[s];
				assert(v1 == v2 && v1 > 0); /* whole */
				assert(published[v1 - 1]); /* not before published */
				assert(got[v1 - 1] == 0);  /* not twice */
			}
#if MUTANT != 2
			/* mpmc_release(): release: done with the bytes; EMPTY
			 * for p + S */
			atomic { sseq[s] = pos + S; sst[s] = EMPTY; speer[s] = 0;
			         held[s] = 0; got[v1 - 1]++ }
#else
			atomic { held[s] = 0; got[v1 - 1]++ }
#endif
			atomic { FORGET; id = 0; v1 = 0; v2 = 0 }
			WAKE_WRITERS
		od;
		/* shmq__chan_quit() */
		atomic { alive[me] = 0; readers--; closed = 1 }
		NOTIFY(DATA_EV);
		NOTIFY(SPACE_EV);
		finished++
	} unless {
		killed == me + 1 ->
		atomic {
			if
			:: !closed ->
				alive[me] = 0; readers--; dead_readers++;
				/* died holding a message: it goes with us */
				if
				:: held[s] && sst[s] == READING && speer[s] == me ->
					lost_with_reader[id] = 1
				:: else -> skip
				fi
			:: else -> skip
			fi;
			NOTIFY(DATA_EV); NOTIFY(SPACE_EV); finished++
		}
	}
}

init
{
	byte i;
	atomic {
		for (i : 0 .. S - 1) { sseq[i] = i }
		for (i : 0 .. NP - 1) { alive[i] = 1 }
		for (i : 0 .. NW - 1) { run writer(i) }
		for (i : NW .. NP - 1) { run reader(i) }
	}
#if KILL
	if /* at most one peer dies, at a step Spin picks */
	:: skip
	:: select(i : 1 .. NP); killed = i
	fi;
#endif
	/* Everyone through: every published message delivered once, or lost
	 * with the reader that died holding it (if a reader is left). */
	finished == NP;
	for (i : 0 .. NMSG - 1) {
		assert(got[i] <= 1);
		assert(!published[i] || got[i] == 1 || lost_with_reader[i] ||
		       dead_readers == NR)
	}
#if !KILL
	for (i : 0 .. NMSG - 1) { assert(got[i] == 1) }
#endif
}

#ifdef PROGRESS
ltl progress { <> (finished == NP) }
#endif
