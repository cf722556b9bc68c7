#!/bin/sh
# For `make bench-peers`: installs the peer libraries' Debian packages when
# one is missing (as root; otherwise prints the command), then prints the
# peers that can be built, one a line, and says on stderr why any other is
# skipped.
pkgs="libboost-dev libzmq3-dev iceoryx libiceoryx-binding-c-dev g++"
have() { command -v "$1" >/dev/null 2>&1; }
lib() {
	for f in /usr/lib/*/"$1" /usr/lib/"$1" /usr/local/lib/"$1"; do
		[ -e "$f" ] && return 0
	done
	return 1
}
boost() { [ -f /usr/include/boost/interprocess/ipc/message_queue.hpp ] && have g++; }
zmq() { [ -f /usr/include/zmq.h ] && lib libzmq.so; }
iceoryx() {
	for f in /usr/include/iceoryx/v*/iceoryx_binding_c/runtime.h; do
		[ -e "$f" ] && lib libiceoryx_binding_c.so && have iox-roudi &&
			return 0
	done
	return 1
}
if ! { boost && zmq && iceoryx; }; then
	if [ "$(id -u)" = 0 ] && have apt-get; then
		echo "bench-peers: installing $pkgs" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq $pkgs; } >&2 ||
			echo "bench-peers: apt-get failed; building what is there" >&2
	else
		echo "bench-peers: missing packages; run as root:" \
			"apt-get update && apt-get install -y $pkgs" >&2
	fi
fi
boost && echo boost ||
	echo "bench-peers: skip peer-boost: needs libboost-dev and g++" >&2
zmq && echo zmq ||
	echo "bench-peers: skip peer-zmq: needs libzmq3-dev" >&2
iceoryx && echo iceoryx ||
	echo "bench-peers: skip peer-iceoryx: needs iceoryx and libiceoryx-binding-c-dev" >&2
exit 0
