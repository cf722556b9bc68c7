/*
 * spsc publish protocol (src/chan_spsc.c), for Spin.
 *
 * The ring is N 8-byte words; positions are free-running word counts,
 * masked (% N) on use, as in the code (bytes / 8). A record is a header
 * word and L payload words. The writer zeroes the word after a record (the
 * terminator) before it stores the record's header; a message that does
 * not fit before the ring's end is preceded by a PAD record filling it.
 * The reader polls the header word at its own position and publishes head
 * after each record; the writer reads head only when its cached copy says
 * the ring is full. Both wait as the code does (wait.pml: sleep_on() and
 * shmq__event_notify() on data_ev and space_ev).
 *
 * Mirrors (chan_spsc.c): spsc_reserve() with room() and wait_room(),
 * publish(), spsc_commit(); data() with header(), spsc_peek(),
 * spsc_release() and publish_head(); the copies of send_as() and
 * recv_as() (chan_api.c) as word-by-word plain stores and loads.
 *
 * Each Promela statement is one memory access (Spin runs the processes
 * interleaved, sequentially consistent); docs/design.md, "What the models
 * check", maps each to its C line and memory order.
 *
 * Safety (assert + Spin's invalid-end-state check): every message arrives
 * once, in order, with all its payload words (none read before it is
 * published, none overwritten before it is read); the word at the
 * reader's position is always 0 or a header for exactly that position; a
 * PAD fills exactly the rest of the ring; nobody sleeps forever. Message
 * lengths are chosen by Spin: every mix of 1..LMAX words.
 * Progress (-DPROGRESS, pan -a -f): under weak fairness both peers finish,
 * so no peer sleeps or loops forever while the other has published a
 * message or made room.
 *
 * -DN=words -DM=messages -DLMAX=max payload words (<= N - 2: a record and
 * its terminator fit). -DMUTANT=1: no terminator; -DMUTANT=2: the header
 * is stored before the payload; -DMUTANT=3: room() does not count the
 * terminator word; -DMUTANT=4: publish() does not notify data_ev;
 * -DMUTANT=5: publish_head() does not notify space_ev. Each must fail (4
 * and 5 the progress check), as must wait.pml's WAIT_MUTANTs.
 * -DBATCH=B: the writer batches B records (opts.batch); -DMUTANT=6 with it:
 * the writer waits for room without publishing what it holds (must fail).
 */
#ifndef N
#define N 4
#endif
#ifndef M
#define M 3
#endif
#ifndef LMAX
#define LMAX 2
#endif
#ifndef MUTANT
#define MUTANT 0
#endif
#ifndef BATCH
#define BATCH 1
#endif

#define NPROC 2 /* writer, reader */
#include "wait.pml"

/* Word contents: 0; a payload word DATA(m); a header HDR(len, pad, pos)
 * (the code's len << 32 | PAD_BIT | TAG(pos)). */
#define HBASE 1000000
#define DATA(m) ((m) + 1)
#define HDR(ln, pad, pos) (HBASE + (pad) * 100000 + (ln) * 1000 + (pos))
#define IS_HDR(w) ((w) >= HBASE)
#define H_PAD(w) (((w) - HBASE) / 100000)
#define H_LEN(w) ((((w) - HBASE) % 100000) / 1000)
#define H_TAG(w) (((w) - HBASE) % 1000)

int ring[N];
int head; /* reader writes (release), writer reads (acquire) */
int tail; /* writer writes (release); for shmq ls, not read here */
bool wdone, rdone; /* ghosts: the writer, the reader is through */

#if MUTANT == 3
#define TERM 0 /* room() forgets the terminator word: wrong */
#else
#define TERM 1
#endif

/* room() (chan_spsc.c): room for want words? head is read (acquire) only
 * when the cached copy says full. wait_room() waits on space_ev for it. */
#define ROOM(want)                                                          \
	if                                                                  \
	:: N - (pos - other) >= (want) -> rc = OK                           \
	:: else -> atomic { other = head; /* acquire */                     \
		rc = (N - (pos - other) >= (want) -> OK : AGAIN) }          \
	fi
#define WAIT_ROOM(want) CHAN_WAIT(SPACE_EV, ROOM(want))

/* publish() (chan_spsc.c): terminator (relaxed), header (release), tail
 * (release), shmq__event_notify(data_ev). */
#if MUTANT == 1
#define TERMINATE(bytes) skip
#else
#define TERMINATE(bytes) ring[(pos + (bytes)) % N] = 0
#endif
#if MUTANT == 4
#define WAKE_READER skip /* publish() without its notify: wrong */
#else
#define WAKE_READER NOTIFY(DATA_EV)
#endif
#if BATCH > 1
/* Batching (opts.batch): publish() holds the first record's header of a
 * batch (hold()), stores the others' at once; spsc_flush() stores the
 * held one (release), then tail, then wakes the reader. It runs at the
 * BATCH-th record, before the writer waits for room, and at close. */
#define FLUSH                                                               \
	if                                                                  \
	:: held > 0 -> ring[hpos % N] = hword; held = 0; tail = pos;        \
		WAKE_READER                                                 \
	:: else -> skip                                                     \
	fi
#define PUBLISH(bytes, w)                                                   \
	TERMINATE(bytes);                                                   \
	if                                                                  \
	:: held == 0 -> hpos = pos; hword = (w)                             \
	:: else -> ring[pos % N] = (w)                                      \
	fi;                                                                 \
	held++;                                                             \
	pos = pos + (bytes);                                                \
	if                                                                  \
	:: held >= BATCH -> FLUSH                                           \
	:: else -> skip                                                     \
	fi
#if MUTANT == 6
#define FLUSH_BEFORE_WAIT(want) skip /* waits holding records: wrong */
#else
#define FLUSH_BEFORE_WAIT(want)                                             \
	if                                                                  \
	:: held > 0 -> ROOM(want);                                          \
		if                                                          \
		:: rc == AGAIN -> FLUSH                                     \
		:: else -> skip                                             \
		fi                                                          \
	:: else -> skip                                                     \
	fi
#endif
#undef WAIT_ROOM
#define WAIT_ROOM(want) FLUSH_BEFORE_WAIT(want); CHAN_WAIT(SPACE_EV, ROOM(want))
#else
#define FLUSH skip
#define PUBLISH(bytes, w)                                                   \
	TERMINATE(bytes);                                                   \
	ring[pos % N] = (w);                                                \
	pos = pos + (bytes);                                                \
	tail = pos;                                                         \
	WAKE_READER
#endif

#if MUTANT == 5
#define WAKE_WRITER skip /* publish_head() without its notify: wrong */
#else
#define WAKE_WRITER NOTIFY(SPACE_EV)
#endif
/* publish_head(): head (release), shmq__event_notify(space_ev). */
#define PUBLISH_HEAD head = pos; WAKE_WRITER

/* data() with header(): the word at our position (acquire); 0 is nothing
 * yet (the end of stream is not modelled: the reader knows M). */
#define DATA_AT atomic { w = ring[pos % N]; rc = (w == 0 -> AGAIN : OK) }

active proctype writer()
{
	int pos = 0, other = 0, need, to_end, ln, i;
	int held = 0, hpos = 0, hword = 0; /* batching: the held records */
	byte m = 0;
	WAIT_LOCALS;
	do
	:: m < M -> /* send_as(): spsc_reserve(), the copy, spsc_commit() */
		if /* Spin picks each message's length */
		:: ln = 1
#if LMAX >= 2
		:: ln = 2
#endif
#if LMAX >= 3
		:: ln = 3
#endif
		fi;
		need = 1 + ln;
		to_end = N - pos % N;
		if
		:: to_end < need -> /* fill the end with a PAD, go round */
			WAIT_ROOM(to_end + TERM);
			PUBLISH(to_end, HDR(to_end - 1, 1, pos))
		:: else -> skip
		fi;
		WAIT_ROOM(need + TERM);
#if MUTANT == 2
		ring[pos % N] = HDR(ln, 0, pos); /* header first: wrong */
#endif
		i = 0;
		do /* the payload: plain stores (memcpy) */
		:: i < ln -> ring[(pos + 1 + i) % N] = DATA(m); i++
		:: else -> break
		od;
#if MUTANT == 2
		pos = pos + need;
		tail = pos;
		WAKE_READER;
#else
		PUBLISH(need, HDR(ln, 0, pos)); /* spsc_commit() */
#endif
		m++
	:: else -> break
	od;
	FLUSH; /* close: the quit hook publishes what is held */
	wdone = 1
}

active proctype reader()
{
	int pos = 0, w, ln, i;
	byte m = 0;
	WAIT_LOCALS;
	do
	:: m < M -> /* recv_as(): spsc_peek(), the copy, spsc_release() */
		CHAN_WAIT(DATA_EV, DATA_AT);
		assert(IS_HDR(w));       /* never a stale payload word */
		assert(H_TAG(w) == pos); /* a header for this position */
		ln = H_LEN(w);
		if
		:: H_PAD(w) -> /* spsc_peek() goes round */
			assert(ln == N - pos % N - 1);
			pos = pos + 1 + ln;
			PUBLISH_HEAD
		:: else ->
			assert(ln >= 1 && ln <= LMAX &&
			       pos % N + 1 + ln <= N);
			i = 0;
			do /* the payload (memcpy out), word by word */
			:: i < ln ->
				assert(ring[(pos + 1 + i) % N] == DATA(m));
				i++
			:: else -> break
			od;
			pos = pos + 1 + ln; /* spsc_release() */
			PUBLISH_HEAD;
			m++
		fi;
		w = 0
	:: else -> break
	od;
	wdone -> assert(head == tail); /* all read: nothing left behind */
	rdone = 1
}

#ifdef PROGRESS
ltl progress { <> (wdone && rdone) }
#endif
