/*
 * mpmc slot protocol (src/chan_mpmc.c), for Spin.
 *
 * S slots; slot p % S goes EMPTY(p) -> WRITING(p, w) -> FULL(p) ->
 * READING(p, r) -> EMPTY(p + S), each move a CAS or a store on the slot's
 * word (seq, state, peer: one 64-bit word in the code, one atomic step
 * here). tail and head are hints moved on by a CAS from `from` to
 * `from + 1` (advance()), by the claimer or by anyone who sees the slot
 * claimed (helping). A peer may die at any step (Promela `unless`: the
 * process stops between two statements, as a SIGKILLed one does; its OFD
 * lock goes, so alive[] clears at once; a peer that closes is no longer
 * ACTIVE, so it is "not alive" to holder_dead() too); the survivors take back a slot a
 * dead peer holds (recover(): WRITING is skipped, READING freed), exactly
 * where the code calls holder_dead(). Positions are not masked (2^56 in the
 * code, far beyond these runs).
 *
 * Checked: no message is delivered twice; none is read before its writer
 * published it or read torn (two payload words, stored and loaded one at a
 * time); no slot's payload is overwritten while a reader holds it; when
 * everyone is through, every published message was delivered, unless the
 * reader that took it died holding it; nobody waits forever (invalid end
 * states), with no death and with any one peer dying at any step.
 *
 * -DS=slots -DNW=writers -DNR=readers -DM=messages per writer.
 * -DKILL=0 no death, 1 any one peer may die. -DMUTANT=1: the writer
 * publishes FULL before it writes the payload; -DMUTANT=2: the reader
 * frees the slot (EMPTY) before it copies the payload out; -DMUTANT=3:
 * a reader that found a WRITING slot's holder dead moves head past it
 * even when its recover() CAS failed (the code before this model: the
 * writer had committed and closed meanwhile, and its message was skipped
 * and the slot wedged FULL). Each must fail.
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
/* recover(): a dead holder's WRITING or READING slot to EMPTY(p + S). */
#define RECOVER(s)                                                          \
	atomic {                                                            \
		if                                                          \
		:: WORD_IS(s) -> sseq[s] = wseq + S; sst[s] = EMPTY;        \
			speer[s] = 0; held[s] = 0                           \
		:: else -> skip                                             \
		fi                                                          \
	}
/* help_on(): the word is a later round than the index says. */
#define HELP_ON(idx)                                                        \
	if                                                                  \
	:: wseq - pos <= S -> ADVANCE(idx, pos)                             \
	:: else -> assert(idx != pos) /* no peer leaves such a word */      \
	fi

proctype writer(byte me)
{
	int pos, wseq;
	byte wst, wpeer, s, k, id;
	bool ok;
	{
		do
		:: k < M ->
claim:			atomic { pos = tail; s = pos % S } /* relaxed */
			LOAD_WORD(s);          /* acquire */
			if
			:: wseq == pos && wst == EMPTY ->
				CAS_WORD(s, pos, WRITING, me); /* acquire */
				if
				:: ok -> ADVANCE(tail, pos)
				:: else -> goto claim
				fi
			:: wseq == pos && wst != EMPTY ->
				ADVANCE(tail, pos); /* claimed: help on */
				goto claim
			:: wseq > pos -> HELP_ON(tail); goto claim
			:: wseq == pos - S -> /* last round's: full */
				if
				:: wst == READING && !alive[wpeer] ->
					RECOVER(s); goto claim
				:: else -> skip
				fi;
				if /* (two relaxed loads, one step here) */
				:: readers == 0 && dead_readers > 0 ->
					goto close /* SHMQ_EPEERDEAD */
				:: else -> /* -EAGAIN: wait until it changes */
					(!WORD_IS(s) || tail != pos ||
					 (readers == 0 && dead_readers > 0) ||
					 (wst == READING && !alive[wpeer]));
					goto claim
				fi
			:: else -> goto claim /* a stale look: again */
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
			/* release: the payload before FULL */
			atomic { sseq[s] = pos; sst[s] = FULL; speer[s] = 0;
			         published[id] = 1 }
#endif
			k++
		:: else -> break
		od;
close:		/* shmq_chan_close(): FREE (not alive to holder_dead()),
		 * the count (release: a reader's eof sees all we published) */
		atomic { alive[me] = 0; writers--; finished++ }
	} unless {
		killed == me + 1 ->
		atomic { alive[me] = 0; writers--; dead_writers++; finished++ }
	}
}

proctype reader(byte me)
{
	int pos, wseq;
	byte wst, wpeer, s, v1, v2, id;
	bool ok;
	{
		do
		:: true ->
claim:			atomic { pos = head; s = pos % S } /* relaxed */
			LOAD_WORD(s);          /* acquire */
			if
			:: wseq == pos - S ->   /* last round's reader copies */
				if
				:: wst == READING && !alive[wpeer] ->
					RECOVER(s); goto claim
				:: else -> goto nothing
				fi
			:: else -> skip
			fi;
			if
			:: wseq > pos -> HELP_ON(head)
			:: else -> skip
			fi;
			if
			:: wseq != pos -> goto claim
			:: else -> skip
			fi;
			if
			:: wst == FULL ->
				atomic { /* CAS acquire; ghost: what it holds */
					CAS_WORD(s, pos, READING, me);
					if
					:: ok -> held[s] = 1; id = d1[s] - 1
					:: else -> skip
					fi
				}
				if
				:: ok -> ADVANCE(head, pos); goto take
				:: else -> goto claim
				fi
			:: wst == READING -> ADVANCE(head, pos); goto claim
			:: wst == WRITING ->
				if
				:: !alive[wpeer] -> RECOVER(s)
#if MUTANT == 3
					; ADVANCE(head, pos) /* skip it anyway */
#endif
				:: else -> /* being written: wait */
					(!WORD_IS(s) || head != pos ||
					 !alive[wpeer])
				fi;
				goto claim
			:: wst == EMPTY -> goto nothing
			fi;
nothing:			/* shmq__chan_eof(): writers (acquire) */
			if
			:: writers > 0 ->
				(!WORD_IS(s) || head != pos || writers == 0 ||
				 (wst == READING && !alive[wpeer]));
				goto claim
			:: else ->
				if
				:: WORD_IS(s) -> break /* -EPIPE/EPEERDEAD */
				:: else -> goto claim
				fi
			fi;
take:
#if MUTANT == 2
			atomic { sseq[s] = pos + S; sst[s] = EMPTY; speer[s] = 0 }
#endif
			v1 = d1[s];
			atomic {
				v2 = d2[s];
				assert(v1 == v2 && v1 > 0); /* whole */
				assert(published[v1 - 1]); /* not before published */
				assert(got[v1 - 1] == 0);  /* not twice */
			}
#if MUTANT != 2
			/* release: done with the bytes; EMPTY for p + S */
			atomic { sseq[s] = pos + S; sst[s] = EMPTY; speer[s] = 0;
			         held[s] = 0; got[v1 - 1]++ }
#else
			atomic { held[s] = 0; got[v1 - 1]++ }
#endif
		od;
		atomic { alive[me] = 0; readers--; finished++ }
	} unless {
		killed == me + 1 ->
		atomic {
			alive[me] = 0; readers--; dead_readers++; finished++;
			/* died holding a message: it goes with us */
			if
			:: held[s] && sst[s] == READING && speer[s] == me ->
				lost_with_reader[id] = 1
			:: else -> skip
			fi
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
