#!/bin/sh
# Checks the Spin models of the channel protocols (tests/model/*.pml)
# exhaustively for each configuration below, and each mutant must fail
# (which shows the model can fail). Usage: tests/model/run.sh [quick|full]
# [workdir]. quick: a subset (~5 s of CPU, plus compiling pan.c); full:
# all (make check-model, a few minutes). Prints one line per run with Spin's
# state count and time; ends with "model: N passed, N failed".
set -u
MODE=${1:-full}
DIR=$(cd "$(dirname "$0")" && pwd)
WORK=${2:-build/model}
CC=${CC:-cc}

if [ "$MODE" = quick ] && ! command -v spin >/dev/null 2>&1; then
	echo "model: SKIP: spin not installed (apt-get install spin)"
	exit 0
fi
"$DIR/../../scripts/need.sh" model spin spin || exit 1
mkdir -p "$WORK" || exit 1
WORK=$(cd "$WORK" && pwd)
pass=0
fail=0

# run WANT MODEL "DEFINES": WANT ok (no error) or fail (a counterexample).
run() {
	want=$1 model=$2 defs=$3
	name="$model $(echo "$defs" | sed 's/-D//g')"
	d=$WORK/$model-$(echo "$defs" | tr -d ' =-')
	mkdir -p "$d"
	cp "$DIR/$model.pml" "$d/" || return
	if ! (cd "$d" && spin -a $defs "$model.pml" >spin.log 2>&1 &&
	      $CC -O2 -w -DSAFETY -DCOLLAPSE -o pan pan.c >>spin.log 2>&1); then
		fail=$((fail + 1))
		echo "  FAIL  $name: spin/cc failed (see $d/spin.log)"
		return
	fi
	t0=$(date +%s.%N)
	(cd "$d" && ./pan -m200000 >pan.log 2>&1)
	t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$d/pan.log")
	states=$(sed -n 's/^ *\([0-9e+.]*\) states, stored.*/\1/p' "$d/pan.log")
	what=$(grep -m1 -E 'assertion violated|invalid end state|acceptance' \
		"$d/pan.log" | sed 's/^pan:[0-9]*: *//')
	if grep -q 'max search depth too small' "$d/pan.log"; then
		errors=depth
	fi
	if [ "$want" = ok ] && [ "$errors" = 0 ]; then
		pass=$((pass + 1))
		echo "  ok    $name: $states states, no error, ${t} s"
	elif [ "$want" = fail ] && [ -n "$errors" ] && [ "$errors" != 0 ] &&
	     [ "$errors" != depth ]; then
		pass=$((pass + 1))
		echo "  ok    $name (mutant): counterexample: $what; ${t} s"
	else
		fail=$((fail + 1))
		echo "  FAIL  $name: wanted $want, errors=$errors $what (see $d/pan.log)"
	fi
}

echo "model: Spin $(spin -V | sed -n 's/Spin Version \([^ ]*\).*/\1/p') ($MODE)"
# spsc: N ring words, M messages of 1..LMAX payload words (Spin picks).
run ok spsc "-DN=8 -DM=4 -DLMAX=3"
run fail spsc "-DN=8 -DM=4 -DLMAX=3 -DMUTANT=1"
# mpmc: S slots, NW writers, NR readers, M messages each; KILL=1: any one
# peer may die at any step.
run ok mpmc "-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=1"
run fail mpmc "-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DMUTANT=3"
if [ "$MODE" = full ]; then
	run ok spsc "-DN=4 -DM=4 -DLMAX=2"
	run ok spsc "-DN=16 -DM=5 -DLMAX=3"
	run fail spsc "-DN=8 -DM=4 -DLMAX=3 -DMUTANT=2"
	run fail spsc "-DN=8 -DM=4 -DLMAX=3 -DMUTANT=3"
	run ok mpmc "-DS=2 -DNW=2 -DNR=2 -DM=1 -DKILL=0"
	run ok mpmc "-DS=2 -DNW=2 -DNR=1 -DM=2 -DKILL=1"
	run ok mpmc "-DS=2 -DNW=1 -DNR=2 -DM=3 -DKILL=1"
	run ok mpmc "-DS=4 -DNW=2 -DNR=1 -DM=2 -DKILL=1"
	run ok mpmc "-DS=2 -DNW=2 -DNR=2 -DM=1 -DKILL=1"
	run fail mpmc "-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DMUTANT=1"
	run fail mpmc "-DS=2 -DNW=1 -DNR=1 -DM=3 -DKILL=0 -DMUTANT=2"
fi
echo "model: $pass passed, $fail failed"
[ "$fail" = 0 ]
