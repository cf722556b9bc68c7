/*
 * broadcast seqlock protocol (src/chan_bcast.c), for Spin.
 *
 * One writer, NR readers, S slots; slot p % S holds message p under a
 * seqlock: the writer makes the slot's word odd (2p + 1, then a release
 * fence) before it writes the payload and even (2p + 2, release) after,
 * then publishes tail. A reader copies the payload (two words, plain loads,
 * so a copy can be torn) between a load of the word and a second load
 * after an acquire fence; if the word moved, the copy is discarded and
 * counted lost. A reader's position is its cursor in its peer line; one
 * more than a lap behind tail, it jumps to the oldest message still there
 * and counts what it missed. With -DBLOCK=1 the writer overwrites slot p
 * only when every live reader's cursor is past p - S (room(), slowest()),
 * and looks at the cursors again when readers_ever moved. Readers join
 * while the writer runs (each at any step of it): a reader starts at the
 * tail it reads as it takes its line. Peers wait as the code does
 * (wait.pml).
 *
 * Mirrors (chan_bcast.c): bcast_reserve() with room() and slowest(),
 * bcast_commit(); bcast_join() and count_role() (chan_peer.c) for a joining
 * reader; bcast_peek() with data() and lapped(), bcast_release() with
 * publish_cursor(); shmq__chan_eof() (chan_wait.c), shmq__chan_quit()
 * (chan_peer.c).
 *
 * Safety: a reader never hands out a torn or overwritten message: each one
 * it returns is whole and is the message of its position, in order, none
 * twice; every message from where a reader started is either returned or
 * counted lost (returned + lost = sent - start, so a loss is always
 * reported); with BLOCK, no reader loses a message sent after its join
 * (count_role()'s readers_ever + 1) ended; nobody sleeps forever. With
 * -DKILL=1 any one reader may die at any step (settled at once, as a poll
 * tick would: it no longer holds the writer back).
 * Progress (-DPROGRESS, pan -a -f): under weak fairness every peer finishes
 * (the writer sends M and closes, each reader reads to the end of stream),
 * so no live peer sleeps or loops forever while a message or room is there.
 *
 * -DS=slots -DNR=readers -DM=messages -DBLOCK=0|1 -DKILL=0|1.
 * -DMUTANT=1: bcast_reserve() ignores BLOCK (never waits); -DMUTANT=2:
 * bcast_release() does not load the word again after the copy; -DMUTANT=3:
 * room() trusts its cached minimum even when readers_ever moved (the code
 * before the kill loop's finding); -DMUTANT=4: slowest() skips a cursor
 * more than a lap behind instead of holding the writer at a lap;
 * -DMUTANT=5: bcast_reserve() does not make the word odd first; -DMUTANT=6:
 * bcast_commit() does not notify data_ev; -DMUTANT=7: bcast_release() does
 * not notify space_ev; -DMUTANT=8: a dead reader is not settled (its line
 * stays ACTIVE, its cursor holds the writer back); -DMUTANT=9: data()
 * takes the position of its cached tail as a message (off by one). Each
 * must fail (6, 7 and 8 the progress check), as must wait.pml's
 * WAIT_MUTANTs.
 */
#ifndef S
#define S 2
#endif
#ifndef NR
#define NR 2
#endif
#ifndef M
#define M 3
#endif
#ifndef BLOCK
#define BLOCK 1
#endif
#ifndef KILL
#define KILL 0
#endif
#ifndef MUTANT
#define MUTANT 0
#endif

#define NPROC (NR + 2) /* init _pid 0, the writer 1, reader r _pid r + 2 */
#include "wait.pml"
#define LOST 3 /* SHMQ_ELOST */

#define FILLING(p) (2 * (p) + 1) /* shmq__bcast_filling() */
#define FILLED(p) (2 * (p) + 2)  /* shmq__bcast_filled() */

int word[S];       /* slot word: writer stores, readers load */
byte d1[S], d2[S]; /* the payload (message p is p + 1, twice): plain */
int tail;          /* writer: release; readers: acquire */
bool writers = 1;  /* the writers' count (the writer is counted first) */
int cursor[NR];    /* peer line cursor: its reader (release), writer */
bool rline[NR];   /* peer line ACTIVE with role READER (release) */
byte readers_ever; /* count_role(): release after the line went ACTIVE */
/* Ghosts. */
int jt[NR];        /* tail when reader r's join ended */
byte joinedm;      /* bit r: reader r's join ended */
byte finished;
byte killed;       /* 0: nobody; else the _pid of the reader that dies */

/* A cursor more than a lap behind: a reader that joined while the writer
 * ran ahead; it holds the writer at a lap. */
#if MUTANT == 4
#define LAP_BEHIND skip /* skipped as a scribble: wrong */
#else
#define LAP_BEHIND c = pos - S; MIN_C
#endif
#define MIN_C if :: c < mn -> mn = c :: else -> skip fi
/* slowest(): the slowest live reader's cursor, pos if none, into other;
 * then rc. Per line: the state (acquire) and role in one step, then the
 * cursor (acquire). */
#define SLOWEST                                                             \
	mn = pos;                                                           \
	do                                                                  \
	:: i < NR && rline[i] ->                                            \
		atomic {                                                    \
			c = cursor[i];                                      \
			if                                                  \
			:: c > pos -> skip /* ahead: scribbled */           \
			:: pos - c > S -> LAP_BEHIND                        \
			:: else -> MIN_C                                    \
			fi;                                                 \
			c = 0; i++                                          \
		}                                                           \
	:: atomic { i < NR && !rline[i] -> i++ }                            \
	:: atomic { i == NR -> other = mn; mn = 0; i = 0; break }           \
	od

/* room(): may the writer overwrite the slot of pos? The cached minimum
 * only while readers_ever (acquire) has not moved. */
#if MUTANT == 3
#define EVER_SAME 1 /* the cache trusted whoever joined: wrong */
#else
#define EVER_SAME (ever == seen_ever)
#endif
#define ROOM                                                                \
	atomic {                                                            \
		ever = readers_ever;                                        \
		room_for = joinedm; /* ghost: who must be past pos - S */   \
		if                                                          \
		:: pos - other < S && EVER_SAME -> rc = OK                  \
		:: else -> seen_ever = ever; rc = AGAIN                     \
		fi;                                                         \
		ever = 0                                                    \
	}                                                                   \
	if                                                                  \
	:: rc == AGAIN ->                                                   \
		SLOWEST;                                                    \
		rc = (pos - other < S -> OK : AGAIN)                        \
	:: else -> skip                                                     \
	fi

/* BLOCK (design.md 10.6): message pos - S is overwritten only when every
 * reader that had joined when room() said yes, and still lives, has its
 * cursor past it. */
#define OVERWRITE_OK                                                        \
	d_step {                                                            \
		for (i : 0 .. NR - 1) {                                     \
			assert(!BLOCK || pos < S ||                         \
			       (room_for & (1 << i)) == 0 || !rline[i] ||   \
			       cursor[i] > pos - S)                         \
		}                                                           \
		i = 0                                                       \
	}

#if MUTANT == 6
#define WAKE_READERS skip /* bcast_commit() without its notify: wrong */
#else
#define WAKE_READERS NOTIFY(DATA_EV)
#endif
#if MUTANT == 7
#define WAKE_WRITER skip /* bcast_release() without its notify: wrong */
#else
#define WAKE_WRITER NOTIFY(SPACE_EV)
#endif

proctype writer()
{
	int pos, other, c, mn;
	byte s, i, ever, seen_ever, room_for;
	WAIT_LOCALS;
	/* bcast_joined(): no reader yet, so other = slowest() = 0 */
	do
	:: pos < M -> /* send_as(): bcast_reserve(), the copy, bcast_commit() */
#if BLOCK && MUTANT != 1
		CHAN_WAIT(SPACE_EV, ROOM);
#endif
		skip; /* (a jump into OVERWRITE_OK's d_step is not allowed) */
		OVERWRITE_OK;
#if MUTANT != 5
		atomic { s = pos % S; word[s] = FILLING(pos) } /* relaxed,
		                               * then a release fence */
#else
		s = pos % S;
#endif
		d1[s] = pos + 1; /* the payload: plain stores (memcpy) */
		d2[s] = pos + 1;
		word[s] = FILLED(pos); /* bcast_commit(): release */
		atomic { pos++; tail = pos; s = 0; room_for = 0 } /* release */
		WAKE_READERS
	:: else -> break
	od;
	/* shmq__chan_quit(): the count (release), wake both events */
	writers = 0;
	NOTIFY(DATA_EV);
	NOTIFY(SPACE_EV);
	finished++
}

/* lapped(): to the oldest message still there; what was skipped is lost. */
#define LAPPED(to)                                                          \
	atomic {                                                            \
		t = (to) - S - pos;                                         \
		assert(!BLOCK || pos + t <= jt[me]); /* BLOCK: none lost */ \
		pos = pos + t; t = 0 /* ch->lost + t */                     \
	}                                                                   \
	cursor[me] = pos; /* publish_cursor(): release */                   \
	rc = LOST

/* data(): a message at pos? A tail loaded before (ct) still ahead of pos,
 * by at most a lap: yes, no load. Else tail (acquire), kept in ct; more
 * than a lap ahead: lapped; none: shmq__chan_eof() (writers, acquire),
 * then tail again. */
#if MUTANT == 9
#define CACHED (ct >= pos && ct - pos <= S) /* off by one: tail itself */
#else
#define CACHED (ct > pos && ct - pos <= S)
#endif
#define DATA                                                                \
	if                                                                  \
	:: CACHED -> rc = OK                                                \
	:: else ->                                                          \
		atomic {                                                    \
			t = tail;                                           \
			rc = (t - pos > S -> LOST : (t != pos -> OK : AGAIN)); \
			if :: rc == OK -> ct = t :: else -> skip fi;        \
			if :: rc != LOST -> t = 0 :: else -> skip fi        \
		}                                                           \
	fi;                                                                 \
	if                                                                  \
	:: rc == LOST -> LAPPED(t)                                          \
	:: rc == AGAIN ->                                                   \
		if                                                          \
		:: writers -> skip                                          \
		:: else -> rc = (tail != pos -> OK : END)                   \
		fi                                                          \
	:: else -> skip                                                     \
	fi

proctype reader(byte me)
{
	int pos, t, w, w2, ct; /* ct: tail as last loaded (ch->other) */
	byte s, v1, v2;
	WAIT_LOCALS;
	{
		/* take_slot() with bcast_join(): pos = tail (acquire), the
		 * cursor (relaxed), then the line ACTIVE (release) */
		pos = tail;
		atomic { cursor[me] = pos; rline[me] = 1 } /* (only
		 * a line seen ACTIVE has its cursor read: one step) */
		/* count_role(): readers_ever + 1 (release); the join ends */
		atomic {
			readers_ever++;
			jt[me] = (BLOCK -> tail : 0); joinedm = joinedm | (1 << me)
		}
		do
		:: true -> /* recv_as(): bcast_peek(), copy, bcast_release() */
			CHAN_WAIT(DATA_EV, DATA);
			if
			:: rc == END -> break /* -EPIPE */
			:: rc == LOST -> goto next
			:: else -> skip
			fi;
			atomic { s = pos % S; w = word[s] } /* acquire */
			if
			:: w != FILLED(pos) -> /* overwritten since tail said */
				assert(w > FILLED(pos)); /* never older */
				t = tail; /* acquire */
				LAPPED(t - pos > S -> t : pos + S + 1);
				goto next
			:: else -> skip
			fi;
			v1 = d1[s]; /* the copy (memcpy): plain loads */
			v2 = d2[s];
			/* bcast_release(): acquire fence, the word again */
#if MUTANT == 2
			w2 = w; /* no second look: wrong */
#else
			w2 = word[s];
#endif
			/* publish_cursor(): release; the word compared (a local
			 * test, in the same step) */
			atomic {
				pos++;
				cursor[me] = pos;
				if
				:: w2 != w -> /* the writer lapped the copy: ELOST */
					assert(!BLOCK || pos - 1 < jt[me])
				:: else -> /* whole, and message pos - 1 */
					assert(v1 == v2 && v1 == pos)
				fi;
				w = 0; w2 = 0; v1 = 0; v2 = 0; s = 0
			}
#if BLOCK
			WAKE_WRITER;
#endif
next:			skip
		od;
		/* every position from the start on was passed once:
		 * returned, or counted lost (ELOST) */
		assert(pos == M);
		/* shmq__chan_quit(): the line FREE, wake both events */
		rline[me] = 0;
		NOTIFY(DATA_EV);
		NOTIFY(SPACE_EV);
		finished++
	} unless {
		killed == _pid -> /* settled at once (settle_rest()) */
		atomic {
#if MUTANT != 8
			rline[me] = 0; /* DEAD: slowest() skips it */
#endif
			NOTIFY(DATA_EV); NOTIFY(SPACE_EV);
			finished++
		}
	}
}

init
{
	byte i;
	atomic {
		run writer();
		for (i : 0 .. NR - 1) { run reader(i) }
	}
#if KILL
	if /* at most one reader dies, at a step Spin picks */
	:: skip
	:: select(i : 2 .. NR + 1); killed = i
	fi;
#endif
	finished == NR + 1
}

#ifdef PROGRESS
ltl progress { <> (finished == NR + 1) }
#endif
