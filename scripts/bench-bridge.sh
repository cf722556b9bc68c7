#!/bin/sh
# make bench-bridge: shmq bridge between two network namespaces beside
# Cyclone's own ddsperf between the same namespaces and beside TCP, in one
# run (docs/bridge.md). 64 B and 64 KiB: throughput (messages/s, from the
# first message to the last) and round trip p50/p99. Root (namespaces).
# Two placements: "free" (the scheduler places every process) and "host"
# (each namespace on CPUs of its own, as two hosts would be: A on the first
# half of the CPUs, B on the second). Writes bench/results/bridge-CPU.txt
# and bridge-latest.txt.
# usage: scripts/bench-bridge.sh BUILD_DIR
set -eu
B=$(cd "${1:-build}" && pwd)
S=$B/shmq
P=$B/bench-bridge-peer
[ "$(id -u)" = 0 ] || { echo "bench-bridge: needs root (network namespaces)"; exit 1; }
for t in ip ddsperf "$B/shmq-bridge"; do
	command -v "$t" >/dev/null || { echo "bench-bridge: $t missing (apt-get install iproute2 cyclonedds-tools cyclonedds-dev)"; exit 1; }
done
N=$$
NA=shmqb-$N-a NB=shmqb-$N-b IA=sqb${N}a IB=sqb${N}b
A_IP=10.251.$((N % 250)).1 B_IP=10.251.$((N % 250)).2
TMP=$(mktemp -d)
cleanup() { ip netns del "$NA" 2>/dev/null || :; ip netns del "$NB" 2>/dev/null || :; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM
ip netns add "$NA"; ip netns add "$NB"
ip -n "$NA" link add "$IA" type veth peer name "$IB" netns "$NB"
ip -n "$NA" addr add "$A_IP/24" dev "$IA"; ip -n "$NB" addr add "$B_IP/24" dev "$IB"
for ns in "$NA" "$NB"; do ip -n "$ns" link set lo up; done
ip -n "$NA" link set "$IA" up; ip -n "$NB" link set "$IB" up
NETA="--interface $IA --peer $B_IP" NETB="--interface $IB --peer $A_IP"
xml() { echo "<CycloneDDS><Domain id=\"any\"><General><Interfaces><NetworkInterface name=\"$1\"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex><Peers><Peer address=\"$2\"/></Peers></Discovery></Domain></CycloneDDS>"; }
XA=$(xml "$IA" "$B_IP") XB=$(xml "$IB" "$A_IP")
# CPUA, CPUB: taskset prefixes of the placement (empty: free).
NCPU=$(nproc) CPUA= CPUB=
place() { # free | host
	if [ "$1" = host ] && [ "$NCPU" -ge 2 ]; then
		CPUA="taskset -c 0-$((NCPU / 2 - 1))" CPUB="taskset -c $((NCPU / 2))-$((NCPU - 1))"
	else
		CPUA= CPUB=
	fi
}
# on NS SCRIPT: SCRIPT in namespace NS with a /dev/shm of its own, on the
# CPUs of that host.
on() {
	case $1 in "$NA") c=$CPUA;; *) c=$CPUB;; esac
	ip netns exec "$1" $c unshare -m sh -c "mount -t tmpfs tmpfs /dev/shm; $2"
}

# The bridge: A's channel -> B's channel, and a ping through two bridges.
# Its channels fence plainly (--plain-fences; the peers ask for the same,
# whichever makes the channel first): their ends sleep at nearly every
# message, and a membarrier() per sleep is costly in a VM.
export BENCH_PLAIN_FENCES=1
bridge_tput() { # SIZE COUNT
	on "$NB" "$S bridge in c --create --capacity 4M --plain-fences --topic bt$1 $NETB & $P sink c; wait" > "$TMP/bt" &
	on "$NA" "$S bridge out c --create --capacity 4M --plain-fences --topic bt$1 $NETA & $P source c $1 $2; wait"
	wait; cat "$TMP/bt"
}
bridge_rtt() { # SIZE COUNT
	on "$NB" "$S bridge in p --create --capacity 4M --plain-fences --topic bp$1 $NETB & $S bridge out q --create --capacity 4M --plain-fences --topic bq$1 $NETB & $P echo p q; wait" &
	on "$NA" "$S bridge out p --create --capacity 4M --plain-fences --topic bp$1 $NETA & $S bridge in q --create --capacity 4M --plain-fences --topic bq$1 $NETA & $P ping p q $1 $2; wait" > "$TMP/br"
	wait; cat "$TMP/br"
}
# ddsperf: the median of its per-second figures, the first second left out.
dds_tput() { # SIZE
	CYCLONEDDS_URI=$XB ip netns exec "$NB" $CPUB ddsperf -D 7 sub > "$TMP/ds" 2>&1 &
	CYCLONEDDS_URI=$XA ip netns exec "$NA" $CPUA ddsperf -D 6 pub size "$1" > /dev/null 2>&1
	wait
	grep " rate " "$TMP/ds" | sed 's/.* rate \([0-9.]*\) kS\/s.*/\1/' | sed 1d | sort -n |
		awk -v s="$1" '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)] * 1000;
		printf "tput size %d msgs_per_s %.0f MB_per_s %.1f\n", s, m, m * s / 1e6 }'
}
# ddsperf's ping prints half the round trip (ddsperf.c, 0.10.2:
# `(tnow - source_timestamp) / 2`, a one-way estimate): doubled here, so
# that every row is a whole round trip.
dds_rtt() { # SIZE
	CYCLONEDDS_URI=$XB ip netns exec "$NB" $CPUB ddsperf -D 7 pong > /dev/null 2>&1 &
	CYCLONEDDS_URI=$XA ip netns exec "$NA" $CPUA ddsperf -D 6 ping size "$1" > "$TMP/dp" 2>&1
	wait
	grep " 50% " "$TMP/dp" | sed 1d | sed 's/.* 50% \([0-9.]*\)us.* 99% \([0-9.]*\)us.*/\1 \2/' | sort -n |
		awk -v s="$1" '{ a[NR] = $1; b[NR] = $2 } END { i = int((NR + 1) / 2);
		printf "rtt size %d p50_us %.1f p99_us %.1f\n", s, 2 * a[i], 2 * b[i] }'
}
tcp_run() { # MODE SIZE COUNT
	on "$NB" "$P tcp-serve 7411" &
	on "$NA" "$P $1 $B_IP 7411 $2 $3"
	wait
}

field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p"; }
{
	echo "shmq bridge vs ddsperf vs TCP between two network namespaces (veth)"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  cpu: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "cyclonedds: $(dpkg-query -W -f '${Version}' cyclonedds-tools 2>/dev/null || echo ?)"
	echo "rtt: whole round trips in every row (ddsperf's half round trip doubled)"
	printf '%-6s %-10s %-8s %14s %12s %12s\n' place size what "msgs/s" "rtt p50 us" "rtt p99 us"
	for pl in free host; do
	place $pl
	for size in 64 65536; do
		if [ $size = 64 ]; then n=1000000 r=5000; else n=4000 r=1000; fi
		bt=$(bridge_tput $size $n) br=$(bridge_rtt $size $r)
		dt=$(dds_tput $size) dr=$(dds_rtt $size)
		tt=$(tcp_run tcp-tput $size $n) tr=$(tcp_run tcp-rtt $size $r)
		for w in bridge ddsperf tcp; do
			case $w in bridge) t=$bt r2=$br;; ddsperf) t=$dt r2=$dr;; tcp) t=$tt r2=$tr;; esac
			printf '%-6s %-10s %-8s %14s %12s %12s\n' $pl $size $w "$(echo "$t" | field msgs_per_s)" \
				"$(echo "$r2" | field p50_us)" "$(echo "$r2" | field p99_us)"
		done
		echo "$bt $br $dt $dr" | awk -v s=$size -v pl=$pl '{
			for (i = 1; i <= NF; i++) if ($i == "msgs_per_s") t[++nt] = $(i + 1);
			for (i = 1; i <= NF; i++) if ($i == "p50_us") p[++np] = $(i + 1);
			for (i = 1; i <= NF; i++) if ($i == "p99_us") q[++nq] = $(i + 1);
			printf "%-6s %-10s ratio    ddsperf/bridge throughput %.2fx, bridge/ddsperf rtt p50 %.2fx p99 %.2fx (target <= 1.5x)\n",
			       pl, s, t[2] / t[1], p[1] / p[2], q[1] / q[2] }'
	done
	done
	echo "place: free = the scheduler's choice; host = A's processes on CPUs $(place host; echo "${CPUA#taskset -c }"), B's on $(place host; echo "${CPUB#taskset -c }")"
} > "$TMP/out"
cat "$TMP/out"
cd "$(dirname "$0")/.."
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1 | sed 's/([RrCc])//g; s/(TM)//g' | tr -cs 'A-Za-z0-9' '-' | sed 's/-$//')
mkdir -p bench/results
cp "$TMP/out" "bench/results/bridge-$cpu.txt"
cp "$TMP/out" bench/results/bridge-latest.txt
echo "bench-bridge: bench/results/bridge-$cpu.txt"
