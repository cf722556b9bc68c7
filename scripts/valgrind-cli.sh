#!/bin/bash
# Runs the plain (not sanitized) shmq tool under valgrind memcheck for a set
# of CLI smoke commands: segments of the three families (create, ls, stat,
# dump, rm), a channel (send | recv), the robust mutex, and the bench floor.
# Fails on any memcheck error or leak, and on a command whose exit status is
# not the expected one. Usage: scripts/valgrind-cli.sh [path/to/shmq]
# (installs valgrind with apt-get when root and it is missing).
set -u
BIN=${1:-build/shmq}
VG_RC=99 # memcheck's exit status on an error: unlike 1, no shmq status
LOG=$(mktemp -d /tmp/shmq-valgrind.XXXXXX)
TAG=shmqvg-$$
KEY=$(printf '0x%x' $(( 0x5e000000 + $$ % 0xffff )))
pass=0
fail=0

"$(dirname "$0")/need.sh" valgrind-cli valgrind valgrind || exit 1
[ -x "$BIN" ] || { echo "valgrind-cli: $BIN not built (run make)" >&2; exit 1; }

cleanup() {
	"$BIN" rm "sysv:key=$KEY" "posix:$TAG" "posix:$TAG-chan" >/dev/null 2>&1
	[ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null
}
trap cleanup EXIT

# vg WANT NAME ARGS...: runs shmq ARGS under memcheck; WANT is the exit
# status the command should have without valgrind (memcheck's own is 99).
vg() {
	local want=$1 name=$2
	shift 2
	valgrind -q --error-exitcode=$VG_RC --leak-check=full \
		--errors-for-leak-kinds=definite,indirect,possible \
		--log-file="$LOG/$name.%p.vg" "$BIN" "$@" \
		>"$LOG/$name.out" 2>"$LOG/$name.err" <"${VG_STDIN:-/dev/null}"
	check "$want" "$name" $?
}

check() {
	local want=$1 name=$2 got=$3
	if [ "$got" = "$want" ] && ! grep -qs . "$LOG/$name".*.vg; then
		pass=$((pass + 1))
		echo "  ok    $name"
	else
		fail=$((fail + 1))
		echo "  FAIL  $name: exit $got, wanted $want (99: memcheck error)"
		cat "$LOG/$name".*.vg "$LOG/$name.err" 2>/dev/null | head -n 40
	fi
}

echo "valgrind-cli: $BIN under memcheck (logs: $LOG)"

# System V and POSIX: the whole life of a segment.
for loc in "sysv:key=$KEY" "posix:$TAG"; do
	fam=${loc%%:*}
	vg 0 "$fam-create" create "$loc" --size 64K --mode 600 --excl
	vg 0 "$fam-ls" ls
	vg 0 "$fam-ls-json" ls --json
	vg 0 "$fam-stat" stat "$loc"
	vg 0 "$fam-stat-json" stat "$loc" --json
	vg 0 "$fam-dump" dump "$loc" --length 256
	vg 0 "$fam-rm" rm "$loc"
	vg 1 "$fam-stat-gone" stat "$loc" # the error path: object named, no leak
done

# memfd: one held by another process (python3 here), reached by pid and fd;
# create refuses one that would vanish with the tool.
vg 1 memfd-create create "memfd:$TAG" --size 4K
coproc HOLD { python3 -c '
import os, sys
fd = os.memfd_create("'"$TAG"'", 0)
os.ftruncate(fd, 4096)
print(os.getpid(), fd, flush=True)
sys.stdin.read()'; }
HOLD_PID=$HOLD_PID
read -r mpid mfd <&"${HOLD[0]}"
vg 0 memfd-ls-all ls --all
vg 0 memfd-stat stat "memfd:pid=$mpid,fd=$mfd"
vg 0 memfd-dump dump "memfd:pid=$mpid,fd=$mfd" --length 64
vg 0 memfd-rm-dry rm --dry-run "memfd:pid=$mpid,fd=$mfd"
exec {HOLD[1]}>&- # end of its stdin: the holder exits
wait "$HOLD_PID" 2>/dev/null
HOLD_PID=

# A channel: recv waits for the writer; send waits for one reader.
printf 'one\ntwo\nthree\n' >"$LOG/lines"
valgrind -q --error-exitcode=$VG_RC --leak-check=full \
	--errors-for-leak-kinds=definite,indirect,possible \
	--log-file="$LOG/chan-recv.%p.vg" "$BIN" recv "posix:$TAG-chan" \
	--create --count 3 --timeout 60 >"$LOG/chan-recv.out" \
	2>"$LOG/chan-recv.err" </dev/null &
rpid=$!
VG_STDIN=$LOG/lines vg 0 chan-send send "posix:$TAG-chan" --create --readers 1
wait "$rpid"
check 0 chan-recv $?
if [ "$(cat "$LOG/chan-recv.out")" != "$(cat "$LOG/lines")" ]; then
	fail=$((fail + 1))
	echo "  FAIL  chan-recv: received other lines than were sent"
fi

vg 0 mutex-robust mutex --algo mutex --procs 2 --iters 200
vg 0 mutex-sem mutex --algo sem --procs 2 --iters 200
vg 0 bench-floor bench --quick --only floor

echo "valgrind-cli: $pass passed, $fail failed"
[ "$fail" = 0 ] && rm -rf "$LOG"
[ "$fail" = 0 ]
