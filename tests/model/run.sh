#!/bin/sh
# Checks the Spin models of the channel protocols (tests/model/*.pml):
# each configuration below for safety (assertions, invalid end states) or
# progress (the model's ltl formula under weak fairness: every peer
# finishes), and each mutant (a change to the model standing for a change
# to the C function it names) must fail the named check. Also fails when a
# model names a C function that src/ no longer has.
# Usage: tests/model/run.sh [quick|full] [workdir]. quick: make test
# (about 15 s on 2 CPUs); full: make check-model (about 1.5 minutes). Runs
# JOBS (2) at once; prints one line per run with its state count and time,
# and ends with "model: N passed, N failed". One run by hand:
# tests/model/run.sh one 'WANT|MODEL|CHECK|DEFINES|SIZE|WHAT' workdir.
set -u
MODE=${1:-full}
DIR=$(cd "$(dirname "$0")" && pwd)
WORK=${2:-build/model}
CC=${CC:-cc}
JOBS=${JOBS:-2}

# One run: "WANT|MODEL|CHECK|DEFINES|SIZE|WHAT". WANT ok, or fail (a
# mutant: WHAT says what it breaks); CHECK safety or progress; SIZE s (pan
# built -O0, a 2^20 hash table), m (-O2, 2^22) or l (-O2, 2^26).
if [ "$MODE" = one ]; then
	WORK=$3
	IFS='|' read -r want model check defs size what <<EOF
$2
EOF
	name="$model $check $(echo "$defs" | sed 's/-D//g')"
	d=$WORK/$model-$check-$(echo "$defs" | tr -d ' =-')
	mkdir -p "$d" && cp "$DIR"/*.pml "$d/" || exit 1
	case $size in
	s) opt=-O0 w=20 ;;
	m) opt=-O2 w=22 ;;
	*) opt=-O2 w=26 ;;
	esac
	if [ "$check" = safety ]; then
		sflags="$defs" cflags="-DSAFETY" pflags=""
	else
		sflags="-DPROGRESS $defs" cflags="" pflags="-a -f"
	fi
	if ! (cd "$d" && spin -a $sflags "$model.pml" >spin.log 2>&1 &&
	      $CC $opt -w $cflags -DCOLLAPSE -o pan pan.c >>spin.log 2>&1); then
		echo "  FAIL  $name: spin/cc failed (see $d/spin.log)"
		exit 1
	fi
	t0=$(date +%s.%N)
	(cd "$d" && ./pan $pflags -m100000 -w$w >pan.log 2>&1)
	t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$d/pan.log")
	states=$(sed -n 's/^ *\([0-9e+.]*\) states, stored.*/\1/p' "$d/pan.log")
	kind=$(grep -m1 -E 'assertion violated|invalid end state|acceptance cycle' \
		"$d/pan.log" | sed 's/^pan:[0-9]*: *//; s/ (at depth [0-9]*)//')
	grep -q 'max search depth too small' "$d/pan.log" && errors=depth
	# A mutant must fail the check it is run for: an assertion or a
	# deadlock (safety), a cycle in which some peer never finishes
	# (progress).
	case $check in
	safety) killed='assertion violated|invalid end state' ;;
	*) killed='acceptance cycle' ;;
	esac
	if [ "$want" = ok ] && [ "$errors" = 0 ]; then
		echo "  ok    $name: $states states, no error, ${t} s"
	elif [ "$want" = fail ] && [ -n "$errors" ] && [ "$errors" != 0 ] &&
	     [ "$errors" != depth ] && echo "$kind" | grep -qE "$killed"; then
		echo "  ok    $name (mutant: $what): killed: $kind; ${t} s"
	elif [ "$want" = fail ]; then
		echo "  FAIL  $name (mutant: $what): survived" \
		     "(errors=$errors $kind; see $d/pan.log)"
		exit 1
	else
		echo "  FAIL  $name: errors=$errors: $kind (see $d/pan.log;" \
		     "replay: cd $d && spin -t -p $sflags $model.pml)"
		exit 1
	fi
	exit 0
fi

if [ "$MODE" = quick ] && ! command -v spin >/dev/null 2>&1; then
	echo "model: SKIP: spin not installed (apt-get install spin)"
	exit 0
fi
"$DIR/../../scripts/need.sh" model spin spin || exit 1
mkdir -p "$WORK" || exit 1
WORK=$(cd "$WORK" && pwd)
echo "model: Spin $(spin -V | sed -n 's/Spin Version \([^ ]*\).*/\1/p') ($MODE)"

fail=0
# Every function a model's comments name as `name()` must be defined (or
# declared) in src/: a line that starts with its type and has `name(`.
names=$(sed -n 's/.*\/\*\(.*\)/\1/p; s/^ \*\(.*\)/\1/p' "$DIR"/*.pml |
	grep -oE '\b[a-z_][a-z0-9_]*\(\)' | sort -u | tr -d '()')
missing=
for f in $names; do
	grep -qE "^[a-z].*[ *]$f\(" "$DIR"/../../src/*.c "$DIR"/../../src/*.h ||
		missing="$missing $f()"
done
if [ -n "$missing" ]; then
	echo "  FAIL  the models name C functions src/ does not have:$missing"
	fail=1
else
	echo "  ok    the $(echo "$names" | wc -w) C functions the models" \
	     "name are all in src/"
fi

# spsc: N ring words, M messages of 1..LMAX payload words (Spin picks).
# mpmc: S slots, NW writers, NR readers, M messages each; KILL=1: any one
# peer may die at any step. bcast: S slots, NR readers, M messages, BLOCK
# or OVERWRITE, KILL=1: any one reader may die. samples: S samples, NR
# readers, M samples, OVERWRITE, KILL=1: any one reader may die.
quick='ok|spsc|safety|-DN=8 -DM=4 -DLMAX=3|s|
ok|spsc|progress|-DN=8 -DM=4 -DLMAX=3|s|
fail|spsc|safety|-DN=8 -DM=4 -DLMAX=3 -DMUTANT=1|s|publish() without the terminator
fail|spsc|progress|-DN=8 -DM=4 -DLMAX=3 -DMUTANT=4|s|publish() does not notify data_ev
fail|spsc|progress|-DN=8 -DM=4 -DLMAX=3 -DWAIT_MUTANT=2|s|sleep_on() loads seq after its check
fail|spsc|progress|-DN=8 -DM=4 -DLMAX=3 -DWAIT_MUTANT=4|s|sleep_on() arms before it loads seq
ok|spsc|safety|-DN=8 -DM=4 -DLMAX=3 -DBATCH=3|s|
fail|spsc|safety|-DN=8 -DM=4 -DLMAX=3 -DBATCH=3 -DMUTANT=6|s|a batching writer waits for room holding records
ok|mpmc|safety|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=1|s|
ok|mpmc|progress|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=1|s|
fail|mpmc|safety|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DMUTANT=3|s|claim_read() moves head past a WRITING slot it did not take back
fail|mpmc|progress|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DMUTANT=5|s|mpmc_release() does not notify space_ev
ok|bcast|safety|-DS=2 -DNR=1 -DM=5 -DBLOCK=1|s|
ok|bcast|progress|-DS=2 -DNR=1 -DM=5 -DBLOCK=1|s|
ok|bcast|safety|-DS=2 -DNR=1 -DM=3 -DBLOCK=0|s|
ok|bcast|progress|-DS=2 -DNR=1 -DM=3 -DBLOCK=0|s|
fail|bcast|safety|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DMUTANT=1|s|bcast_reserve() ignores BLOCK
fail|bcast|safety|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DMUTANT=3|s|room() ignores readers_ever
fail|bcast|safety|-DS=2 -DNR=1 -DM=3 -DBLOCK=0 -DMUTANT=2|s|bcast_release() does not look at the word again
fail|bcast|safety|-DS=2 -DNR=1 -DM=3 -DBLOCK=0 -DMUTANT=9|s|data() takes its cached tail for a message
fail|bcast|progress|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DMUTANT=7|s|bcast_release() does not notify space_ev
ok|samples|safety|-DS=3 -DNR=1 -DM=4 -DKILL=1|s|
ok|samples|safety|-DS=3 -DNR=1 -DM=5 -DOVERWRITE=1 -DKILL=1|s|
fail|samples|safety|-DS=3 -DNR=1 -DM=4 -DKILL=1 -DMUTANT=1|s|is_free() ignores the mask
fail|samples|safety|-DS=3 -DNR=1 -DM=4 -DKILL=0 -DMUTANT=2|s|release_held() clears the bit before the last read
fail|samples|safety|-DS=3 -DNR=1 -DM=4 -DKILL=1 -DMUTANT=3|s|push_all() does not re-check the reader line
fail|samples|safety|-DS=3 -DNR=1 -DM=4 -DOVERWRITE=1 -DMUTANT=4|s|drop_oldest() takes a held sample'
big='ok|samples|safety|-DS=3 -DNR=2 -DM=3 -DKILL=1|m|
ok|samples|safety|-DS=3 -DNR=2 -DM=3 -DOVERWRITE=1 -DKILL=1|m|
ok|mpmc|safety|-DS=2 -DNW=1 -DNR=2 -DM=2 -DKILL=1|l|
ok|bcast|safety|-DS=2 -DNR=2 -DM=3 -DBLOCK=1|l|'
full='ok|spsc|safety|-DN=4 -DM=4 -DLMAX=2|s|
ok|spsc|safety|-DN=16 -DM=5 -DLMAX=3|m|
ok|spsc|progress|-DN=4 -DM=6 -DLMAX=2|s|
ok|spsc|progress|-DN=16 -DM=5 -DLMAX=3|m|
ok|spsc|safety|-DN=8 -DM=5 -DLMAX=3 -DBATCH=2|s|
ok|spsc|progress|-DN=8 -DM=5 -DLMAX=3 -DBATCH=2|s|
fail|spsc|safety|-DN=8 -DM=4 -DLMAX=3 -DMUTANT=2|s|the header stored before the payload
fail|spsc|safety|-DN=8 -DM=4 -DLMAX=3 -DMUTANT=3|s|room() does not count the terminator
fail|spsc|progress|-DN=8 -DM=4 -DLMAX=3 -DMUTANT=5|s|publish_head() does not notify space_ev
fail|spsc|progress|-DN=8 -DM=4 -DLMAX=3 -DWAIT_MUTANT=1|s|sleep_on() sleeps before it checks
fail|spsc|progress|-DN=8 -DM=4 -DLMAX=3 -DWAIT_MUTANT=3|s|shmq__event_notify() does not wake
ok|mpmc|safety|-DS=2 -DNW=2 -DNR=1 -DM=1 -DKILL=1|m|
ok|mpmc|safety|-DS=2 -DNW=2 -DNR=1 -DM=2 -DKILL=0|m|
ok|mpmc|progress|-DS=2 -DNW=2 -DNR=1 -DM=1 -DKILL=1|m|
ok|mpmc|progress|-DS=2 -DNW=1 -DNR=2 -DM=1 -DKILL=1|m|
fail|mpmc|safety|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DMUTANT=1|s|mpmc_commit() stores FULL before the payload
fail|mpmc|safety|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DMUTANT=2|s|mpmc_release() frees the slot before the copy
fail|mpmc|progress|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DMUTANT=4|s|mpmc_commit() does not notify data_ev
fail|mpmc|progress|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DWAIT_MUTANT=1|s|sleep_on() sleeps before it checks
fail|mpmc|progress|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DWAIT_MUTANT=2|s|sleep_on() loads seq after its check
fail|mpmc|progress|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DWAIT_MUTANT=3|s|shmq__event_notify() does not wake
fail|mpmc|progress|-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DWAIT_MUTANT=4|s|sleep_on() arms before it loads seq
ok|bcast|safety|-DS=2 -DNR=2 -DM=3 -DBLOCK=0|m|
ok|bcast|safety|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DKILL=1|m|
ok|bcast|progress|-DS=2 -DNR=2 -DM=3 -DBLOCK=0|m|
ok|bcast|progress|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DKILL=1|m|
fail|bcast|safety|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DMUTANT=4|s|slowest() skips a cursor a lap behind
fail|bcast|safety|-DS=2 -DNR=1 -DM=3 -DBLOCK=0 -DMUTANT=5|s|bcast_reserve() does not make the word odd
fail|bcast|progress|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DMUTANT=6|s|bcast_commit() does not notify data_ev
fail|bcast|progress|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DKILL=1 -DMUTANT=8|s|a dead reader is not settled
fail|bcast|progress|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DWAIT_MUTANT=1|s|sleep_on() sleeps before it checks
fail|bcast|progress|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DWAIT_MUTANT=2|s|sleep_on() loads seq after its check
fail|bcast|progress|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DWAIT_MUTANT=3|s|shmq__event_notify() does not wake
fail|bcast|progress|-DS=2 -DNR=1 -DM=5 -DBLOCK=1 -DWAIT_MUTANT=4|s|sleep_on() arms before it loads seq'
# full: the big runs first, so that the CPUs end together.
jobs=$quick
[ "$MODE" = full ] && jobs="$big
$quick
$full"
total=$(echo "$jobs" | wc -l)
echo "$jobs" | xargs -d '\n' -P "$JOBS" -I{} sh "$0" one "{}" "$WORK" |
	tee "$WORK/results.txt"
ok=$(grep -c '^  ok ' "$WORK/results.txt")
echo "model: $((ok + 1 - fail)) passed, $((total - ok + fail)) failed"
[ "$ok" = "$total" ] && [ "$fail" = 0 ]
