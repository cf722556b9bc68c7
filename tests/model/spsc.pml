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
 * the ring is full.
 *
 * Each Promela statement is one memory access (Spin runs the processes
 * interleaved, sequentially consistent); docs/design.md, "What the model
 * checks", maps each to its C line and memory order.
 *
 * Checked (assert + Spin's invalid-end-state check): every message arrives
 * once, in order, with all its payload words (none read before it is
 * published, none overwritten before it is read); the word at the
 * reader's position is always 0 or a header for exactly that position; a
 * PAD fills exactly the rest of the ring; nobody waits forever. Message
 * lengths are chosen by Spin: every mix of 1..LMAX words.
 *
 * -DN=words -DM=messages -DLMAX=max payload words (<= N - 2: a record and
 * its terminator fit). -DMUTANT=1: no terminator; -DMUTANT=2: the header
 * is stored before the payload; -DMUTANT=3: room() does not count the
 * terminator word. Each must fail.
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
bool wdone; /* ghost: the writer is through */

#if MUTANT == 3
#define TERM 0 /* room() forgets the terminator word: wrong */
#else
#define TERM 1
#endif

/* room(): wait until want words are free, reading head only when the
 * cached copy says full; blocking stands for the wait (futex/spin). */
#define WAIT_ROOM(want)                                                     \
	do                                                                  \
	:: N - (pos - other) >= (want) -> break                             \
	:: else -> other = head; /* acquire */                              \
		if                                                          \
		:: N - (pos - other) >= (want) -> break                     \
		:: else -> (head != other) /* sleep until head moves */     \
		fi                                                          \
	od

/* publish(): terminator (relaxed), header (release), tail (release). */
#if MUTANT == 1
#define TERMINATE(bytes) skip
#else
#define TERMINATE(bytes) ring[(pos + (bytes)) % N] = 0
#endif
#define PUBLISH(bytes, w)                                                   \
	TERMINATE(bytes);                                                   \
	ring[pos % N] = (w);                                                \
	pos = pos + (bytes);                                                \
	tail = pos

active proctype writer()
{
	int pos = 0, other = 0, need, to_end, ln, i;
	byte m = 0;
	do
	:: m < M ->
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
#else
		PUBLISH(need, HDR(ln, 0, pos));
#endif
		m++
	:: else -> break
	od;
	wdone = 1
}

active proctype reader()
{
	int pos = 0, w, ln, i;
	byte m = 0;
	do
	:: m < M ->
		w = ring[pos % N]; /* acquire: the header at our position */
		if
		:: w == 0 -> (ring[pos % N] != 0) /* sleep until published */
		:: else ->
			assert(IS_HDR(w));       /* never a stale payload word */
			assert(H_TAG(w) == pos); /* a header for this position */
			ln = H_LEN(w);
			if
			:: H_PAD(w) ->
				assert(ln == N - pos % N - 1);
				pos = pos + 1 + ln;
				head = pos /* release */
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
				pos = pos + 1 + ln;
				head = pos; /* release: done with the bytes */
				m++
			fi
		fi
	:: else -> break
	od;
	wdone -> assert(head == tail) /* all read: nothing left behind */
}
