#!/bin/sh
# Installs what the build and the tests need on Debian 12, or prints the
# command when not root. Quiet when everything is there.
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have cc || need="$need gcc"
have make || need="$need make"
have ipcs || need="$need util-linux"
have unshare || need="$need util-linux"
have hexdump || need="$need bsdextrautils"
# The sanitizer runtimes ship with gcc but can be missing on slim systems.
if have cc; then
	t=$(mktemp -d)
	echo 'int main(void){return 0;}' > "$t/a.c"
	cc -fsanitize=address,undefined "$t/a.c" -o "$t/a" 2>/dev/null ||
		need="$need libasan8 libubsan1"
	rm -rf "$t"
fi
# Wanted by make test, not by the build: clang with its fuzzer and TSan
# runtimes (the fuzz runs, the thread tests), spin (the protocol models),
# python3 (the JSON checks of the tool's tests), tmux (shmq top), libuv (examples/libuv_loop.c,
# built only where it links; its test skips without it), the Python
# module's build and tests. Installed as root; else
# the command is printed, and make test fails naming what it could not
# run unless SHMQ_ALLOW_SKIP=1.
want=""
if ! { have clang && t=$(mktemp -d) && echo 'int LLVMFuzzerTestOneInput(void){return 0;}' \
	> "$t/f.c" && clang -fsanitize=fuzzer,address "$t/f.c" -o "$t/f" 2>/dev/null; }; then
	want="$want clang libclang-rt-14-dev"
fi
[ -n "${t:-}" ] && rm -rf "$t"
have spin || want="$want spin"
have python3 || want="$want python3"
have tmux || want="$want tmux" # shmq top's tests drive it in a terminal
if have cc && ! printf '#include <uv.h>\nint main(void){return !uv_version();}\n' |
	cc -x c - -luv -o /dev/null 2>/dev/null; then
	want="$want libuv1-dev"
fi
# The bridge (bridge/, `shmq bridge`): Cyclone DDS and its idlc, ddsperf;
# its tests make network namespaces with ip (iproute2).
[ -f /usr/include/dds/dds.h ] && have idlc || want="$want cyclonedds-dev cyclonedds-tools"
have ip || want="$want iproute2"
# The Python module (python/) and its tests: python3-dev builds it for
# Debian's python3, python3-numpy and python3-pytest run the tests.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
[ -f "$($py -c 'import sysconfig; print(sysconfig.get_path("include"))' \
	2>/dev/null)/Python.h" ] || want="$want python3-dev"
$py -c 'import numpy' 2>/dev/null || want="$want python3-numpy"
$py -c 'import pytest' 2>/dev/null || want="$want python3-pytest"
if [ -n "$want" ] && [ "$(id -u)" = 0 ] && have apt-get; then
	echo "deps: installing$want (make test's fuzz runs, TSan, models, JSON checks, libuv example, Python module, bridge)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq $want >/dev/null; } ||
		echo "deps: could not install$want; make test will name what it skipped" >&2
elif [ -n "$want" ] && [ "${SHMQ_ALLOW_SKIP:-}" != 1 ]; then
	echo "deps: make test wants$want; run: sudo apt-get install -y$want" >&2
fi
[ -z "$need" ] && exit 0
need=$(echo $need | tr ' ' '\n' | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && have apt-get; then
	echo "deps: installing $need"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
else
	echo "deps: missing packages; run: sudo apt-get install -y $need" >&2
	exit 1
fi
