#!/bin/sh
# The mutation check: each mutant in the list (tests/mutants.txt) is a
# small plausible bug in src/ that a named test must catch. In a scratch
# copy of the tree, for each mutant: replace the one line, run its killing
# command (which builds what changed and runs the tests), put the line
# back. A mutant that survives (the command passes), a stale entry (its
# line is not in its file exactly once) or a killing command that fails on
# the clean tree fails the run.
#
#   scripts/mutate.sh [-l LIST] [NAME...]    only the mutants named
#
# Output: a table, mutant -> the command that killed it.
set -u
list=tests/mutants.txt
[ "${1:-}" = -l ] && { list=$2; shift 2; }
root=$(pwd)
[ -f "$list" ] || { echo "mutate: $list: no such file" >&2; exit 2; }
scratch=$(mktemp -d /tmp/shmq-mutate.XXXXXX)
trap 'rm -rf "$scratch"' EXIT INT TERM
log=$scratch/log
mkdir "$scratch/tree"
# The tree as it is now (committed or not), with its build/ for
# incremental builds.
tar -C "$root" -cf - --exclude=./.git . | tar -C "$scratch/tree" -xf -
cd "$scratch/tree" || exit 2

wanted() { # the mutant is on the command line, or none is
	[ $# -eq 1 ] && return 0
	n=$1; shift
	for w; do [ "$w" = "$n" ] && return 0; done
	return 1
}

# Records: NAME<TAB>FILE<TAB>FROM<TAB>TO<TAB>TEST (FROM/TO trimmed).
awk '
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function flush() {
	if (name != "") {
		if (file == "" || from == "" || test == "") {
			printf "mutate: %s: needs file, from and test\n", name > "/dev/stderr"
			bad = 1
		}
		printf "%s\t%s\t%s\t%s\t%s\n", name, file, from, to, test
	}
	name = file = from = to = test = ""
}
/^#/ || /^[ \t]*$/ { next }
$1 == "mutant" { flush(); name = trim(substr($0, 7)); next }
$1 == "file"   { file = trim(substr($0, 5)); next }
$1 == "from"   { from = trim(substr($0, 5)); next }
$1 == "to"     { to = trim(substr($0, 3)); next }
$1 == "test"   { test = trim(substr($0, 5)); next }
{ printf "mutate: %s: line not understood: %s\n", FILENAME, $0 > "/dev/stderr"; bad = 1 }
END { flush(); exit bad }
' "$root/$list" > "$scratch/records" || exit 2

# Replaces the one line whose trimmed text is FROM by TO (its indentation
# kept); exit 3 when FROM is not there exactly once.
apply() {
	FROM=$2 TO=$3 awk '
	{ t = $0; sub(/^[ \t]+/, "", t); sub(/[ \t]+$/, "", t) }
	t == ENVIRON["FROM"] { match($0, /^[ \t]*/)
		print substr($0, 1, RLENGTH) ENVIRON["TO"]; n++; next }
	{ print }
	END { exit n == 1 ? 0 : 3 }' "$1" > "$1.mut" && mv "$1.mut" "$1"
}

run() { # the killing command, its output in $log; its exit status
	sh -c "$1" > "$log" 2>&1
}

# A killed run may die before its cleanup (TSan aborts on the race the
# mutant made): the objects of its dead processes go (shmqtsan-PID-...).
sweep() {
	for f in /dev/shm/shmqtsan-*; do
		[ -e "$f" ] || continue
		pid=${f#/dev/shm/shmqtsan-}
		kill -0 "${pid%%-*}" 2>/dev/null || rm -f "$f"
	done
}

fail=0
tab=$(printf '\t')
# Only the mutants asked for.
while IFS="$tab" read -r name rest; do
	wanted "$name" "$@" && printf '%s\t%s\n' "$name" "$rest"
done < "$scratch/records" > "$scratch/chosen"
# The killing commands must pass on the clean tree, or a "kill" means
# nothing.
cut -f5 "$scratch/chosen" | sort -u > "$scratch/tests"
while IFS= read -r t; do
	if ! run "$t"; then
		echo "mutate: FAILED on the clean tree: $t" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
done < "$scratch/tests"

printf '%-28s %-8s %s\n' mutant result "killing command (seconds)"
while IFS="$tab" read -r name file from to test; do
	cp "$file" "$scratch/orig" 2>/dev/null || {
		printf '%-28s %-8s %s\n' "$name" STALE "no file $file"; fail=1; continue; }
	if ! apply "$file" "$from" "$to"; then
		printf '%-28s %-8s %s\n' "$name" STALE "$file: the line is not there once: $from"
		fail=1
		cp "$scratch/orig" "$file"
		continue
	fi
	t0=$(date +%s)
	run "$test"; rc=$?
	sweep
	if [ $rc = 0 ]; then
		res=SURVIVED fail=1
	elif grep -q "error:" "$log" && ! grep -q "^FAIL\|FAILED\|ERROR: \|runtime error" "$log"; then
		res=NOBUILD fail=1 # a mutant that does not compile proves nothing
	else
		res=killed
		# the test that failed, or the make step (check-tsan: FAIL)
		by=$(sed -n 's/^FAIL \([^:]*\):.*/\1/p; s/^\([a-z-]*\): FAIL.*/\1/p' "$log" | head -n 1)
		[ -n "$by" ] && test="$test -> $by"
	fi
	printf '%-28s %-8s %s (%ss)\n' "$name" "$res" "$test" $(( $(date +%s) - t0 ))
	[ "$res" = killed ] || tail -n 15 "$log" | sed 's/^/    /'
	cp "$scratch/orig" "$file"
	touch "$file" # newer than the mutant's objects: rebuilt next time
done < "$scratch/chosen"
[ -s "$scratch/chosen" ] || { echo "mutate: no mutant named $*" >&2; fail=1; }
[ $fail = 0 ] && echo "mutate: every mutant killed" || echo "mutate: FAILED"
exit $fail
