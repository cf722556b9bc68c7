#!/bin/sh
# make demo: two processes share a System V and a POSIX segment; then a
# producer and a consumer process move 1 GiB through a channel.
set -e
B=${1:-build}
echo "== $("$B/shmq" --version)"
"$B/examples/segments" "$B/shmq"
echo "== after removal:"
"$B/shmq" ls

# ---- A channel ---------------------------------------------------------------
# The producer is `shmq send --binary` fed 1 GiB (a 64 MiB random block 16
# times over), the consumer `shmq recv --binary` piped into cksum. The
# baseline moves the same bytes between two processes joined by a plain
# pipe instead (`cat | cat` in the place of send and recv).
echo "== a channel: producer 'shmq send', consumer 'shmq recv', 1 GiB"
dir=$(mktemp -d)
ch=shmq-demo-$$
trap '"$B/shmq" rm "$ch" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
head -c 67108864 /dev/urandom > "$dir/block"
gen() { for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat "$dir/block"; done; }
now() { date +%s.%N; }
rate() { awk -v b=1073741824 -v t0="$1" -v t1="$2" 'BEGIN { printf "%.0f", b / (t1 - t0) / 1e6 }'; }

want=$(gen | cksum)
t0=$(now)
gen | cat | cat | cksum > "$dir/pipe"
t1=$(now)
"$B/shmq" recv "$ch" --create --binary --stats 2> "$dir/rx" | cksum > "$dir/got" &
rx=$!
gen | "$B/shmq" send "$ch" --create --binary --readers 1 --stats 2> "$dir/tx"
wait $rx
t2=$(now)
cat "$dir/tx" "$dir/rx"
got=$(cat "$dir/got")
pipe=$(rate "$t0" "$t1")
chan=$(rate "$t1" "$t2")
echo "rate: $chan MB/s through the channel, $pipe MB/s through a pipe" \
     "(same run, same bytes): ratio $(awk -v a="$chan" -v b="$pipe" \
     'BEGIN { printf "%.2f", a / b }')"
if [ "$got" = "$want" ] && [ "$(cat "$dir/pipe")" = "$want" ]; then
	echo "checksum match: cksum $want"
else
	echo "checksum MISMATCH: sent $want, received $got" >&2
	exit 1
fi
echo "== after the channel closed (the last close removed it):"
"$B/shmq" ls

if "$B/shmq" help bench >/dev/null 2>&1; then
	echo "== shmq bench --quick"
	"$B/shmq" bench --quick
else
	echo "== shmq bench --quick: skipped, the benchmark is not written yet"
fi
