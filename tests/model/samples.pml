/*
 * samples: references as bits (src/chan_samples.c, docs/design.md 10.8),
 * for Spin.
 *
 * One writer, NR readers, a pool of S samples, M samples published. A
 * sample's `mask` has bit r while reader r has it queued or held; `data`
 * stands for its bytes (the seq last written into it). The writer loans a
 * sample only when its mask is 0 (is_free(), find_free()), writes it, then
 * publishes it to the ACTIVE readers: all their bits at once, then for
 * each a re-check of the line that takes the bit back if the reader is
 * gone, else the queue entry and tail (push_all(); the code re-checks the
 * line's `closes` count, which clear_line() moves before it drains: the
 * model keeps that as the line's ACTIVE flag, which the settler clears
 * before it drains, the same Dekker pair). Under BLOCK the code's reader
 * moves its head by a store, not a CAS: nobody else moves a live reader's
 * head there, which the model's atomic take stands for either way. Under -DOVERWRITE=1 a writer with no free
 * sample takes the entry at a reader's queue head (the same CAS a reader
 * takes it by) and clears that bit (drop_oldest()); a held sample is in
 * no queue and is never dropped. A reader takes the entry at its head
 * (take_next()), holds the sample if its bit is set, reads it, and gives
 * the bit back (release_held()). With -DKILL=1 one reader may die at any
 * step: a settler marks its line not ACTIVE, then takes every queue entry
 * and clears its bit everywhere (clear_line()), concurrently with the
 * writer's pushes.
 *
 * Safety: the bytes a reader holds are the ones published for its entry
 * from when it takes the entry to when it gives the bit back (the writer
 * never reuses a sample someone references); a queue never holds more
 * than S entries; nobody waits forever (invalid end states); when every
 * peer is done or settled every mask is 0 (the pool is whole: no
 * reference leaked, the dead reader's included).
 *
 * -DS=2|3 -DNR=1|2 -DM=messages -DOVERWRITE=0|1 -DKILL=0|1.
 * -DMUTANT=1: is_free() ignores the mask; -DMUTANT=2: release_held()
 * clears the bit before the reader's last read; -DMUTANT=3: push_all() does
 * not re-check the reader's state (a settled reader keeps a bit for good);
 * -DMUTANT=4: drop_oldest() clears the bit of a held sample too.
 */
#ifndef S
#define S 3
#endif
#ifndef NR
#define NR 1
#endif
#ifndef M
#define M 4
#endif
#ifndef OVERWRITE
#define OVERWRITE 0
#endif
#ifndef KILL
#define KILL 0
#endif
#ifndef MUTANT
#define MUTANT 0
#endif

#if S == 2
#define ANYFREE (mask[0] == 0 || mask[1] == 0)
#else
#define ANYFREE (mask[0] == 0 || mask[1] == 0 || mask[2] == 0)
#endif
#define BIT(r) (1 << (r))
#define Q(r, p) ((r) * S + (p) % S)

byte mask[S];
byte data[S];
byte qi[NR * S], qs[NR * S]; /* queue entries: sample, seq */
byte head[NR], tail[NR];
bool live[NR];
bool dead[NR], fin[NR]; /* died; finished (clean exit, or settled) */
bool held[NR * S];      /* MUTANT 4 only: what reader r holds */
bool done;
byte kills;

inline unref(i, r)
{
	mask[i] = mask[i] & (255 - BIT(r))
}

inline drop(e, r)
{
	unref(e, r);
#if MUTANT == 4
	i = 0;
	do
	:: i < S && held[r * S + i] -> unref(i, r); i++
	:: i < S && !held[r * S + i] -> i++
	:: i == S -> break
	od
#endif
	skip
}

active proctype writer()
{
	byte seq = 0, i, r, e, to;
	do
	:: seq == M -> break
	:: else ->
		/* find_free(): wait for a sample no one references,
		 * dropping under OVERWRITE */
		do
		:: ANYFREE -> break
		:: atomic { /* drop_oldest(): the CAS of reader 0's head */
			OVERWRITE && !ANYFREE && live[0] && head[0] != tail[0] ->
			e = qi[Q(0, head[0])]; head[0]++; r = 0
		   }
			drop(e, r)
#if NR > 1
		:: atomic { /* or reader 1's */
			OVERWRITE && !ANYFREE && live[1] && head[1] != tail[1] ->
			e = qi[Q(1, head[1])]; head[1]++; r = 1
		   }
			drop(e, r)
#endif
		od;
		i = 0;
		do
#if MUTANT == 1
		:: i == 0 -> break /* sample 0, referenced or not */
#endif
		:: i < S && mask[i] != 0 -> i++
		:: i < S && mask[i] == 0 -> break
		od;
		data[i] = seq;
		/* push_all(): the writer's list is the lines ACTIVE now; one
		 * or sets all their bits, then each line is re-checked before
		 * its entry is pushed (push()) */
		to = 0;
		r = 0;
		do
		:: r == NR -> break
		:: r < NR && !live[r] -> r++
		:: r < NR && live[r] -> to = to | BIT(r); r++
		od;
		mask[i] = mask[i] | to;
		r = 0;
		do
		:: r == NR -> break
		:: r < NR && !(to & BIT(r)) -> r++
#if MUTANT != 3
		:: r < NR && (to & BIT(r)) && !live[r] -> unref(i, r); r++
#endif
		:: r < NR && (to & BIT(r)) && (MUTANT == 3 || live[r]) ->
			assert(tail[r] - head[r] < S); /* a queue holds at most S */
			d_step {
				qi[Q(r, tail[r])] = i;
				qs[Q(r, tail[r])] = seq;
				tail[r]++
			}
			r++
		od;
		seq++
	od;
	done = 1
}

proctype reader(byte r)
{
	byte i, s;
	do
	:: atomic { /* take_next(): the CAS of our head */
		head[r] != tail[r] ->
		i = qi[Q(r, head[r])];
		s = qs[Q(r, head[r])];
		head[r]++
	   }
		if
		:: KILL && kills == 0 -> kills++; goto die
		:: else -> skip
		fi;
		if
		:: mask[i] & BIT(r) ->
			held[r * S + i] = 1;
			assert(data[i] == s); /* peek: the published bytes */
			if
			:: KILL && kills == 0 -> kills++; goto die
			:: else -> skip
			fi;
#if MUTANT == 2
			unref(i, r);
			assert(data[i] == s);
#else
			assert(data[i] == s); /* still, while held */
			held[r * S + i] = 0;
			unref(i, r); /* release_held() */
#endif
			held[r * S + i] = 0
		:: else -> skip /* dropped, or pushed to a line now gone */
		fi
	:: done && head[r] == tail[r] -> break
	od;
	live[r] = 0;
	fin[r] = 1;
	goto end;
die:
	dead[r] = 1;
end:
	skip
}

/* The settler of a dead reader (a poll tick, a joiner): its line first
 * (not ACTIVE: no push after the writer's re-check), then clear_line(). */
proctype settler(byte r)
{
	byte k, e;
end_wait:
	dead[r];
	live[r] = 0;
	do
	:: atomic { head[r] != tail[r] -> e = qi[Q(r, head[r])]; head[r]++ };
		unref(e, r)
	:: head[r] == tail[r] -> break
	od;
	k = 0;
	do
	:: k < S -> unref(k, r); k++
	:: k == S -> break
	od;
	fin[r] = 1
}

/* When every peer is done or settled, the pool is whole. */
active proctype pool()
{
	byte k;
#if NR == 1
	done && fin[0];
#else
	done && fin[0] && fin[1];
#endif
	k = 0;
	do
	:: k < S -> assert(mask[k] == 0); k++
	:: k == S -> break
	od
}

init {
	byte r;
	atomic {
		r = 0;
		do
		:: r < NR -> live[r] = 1; run reader(r); run settler(r); r++
		:: r == NR -> break
		od
	}
}
