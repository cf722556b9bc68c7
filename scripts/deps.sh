#!/bin/sh
# Installs what the build and the tests need on Debian 12, or prints the
# command when not root. Quiet when everything is there.
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have cc || need="$need gcc"
have make || need="$need make"
have ipcs || need="$need util-linux"
have unshare || need="$need util-linux"
have python3 || need="$need python3"
have hexdump || need="$need bsdextrautils"
# The sanitizer runtimes ship with gcc but can be missing on slim systems.
if have cc; then
	t=$(mktemp -d)
	echo 'int main(void){return 0;}' > "$t/a.c"
	cc -fsanitize=address,undefined "$t/a.c" -o "$t/a" 2>/dev/null ||
		need="$need libasan8 libubsan1"
	rm -rf "$t"
fi
# Wanted, not needed: clang with its fuzzer and TSan runtimes (the fuzz
# targets and the thread tests) and spin (the protocol models). Installed
# when we can; without them make test prints a SKIP line for each.
want=""
if ! { have clang && t=$(mktemp -d) && echo 'int LLVMFuzzerTestOneInput(void){return 0;}' \
	> "$t/f.c" && clang -fsanitize=fuzzer,address "$t/f.c" -o "$t/f" 2>/dev/null; }; then
	want="$want clang libclang-rt-14-dev"
fi
[ -n "${t:-}" ] && rm -rf "$t"
have spin || want="$want spin"
if [ -n "$want" ] && [ "$(id -u)" = 0 ] && have apt-get; then
	echo "deps: installing$want (optional: fuzzing, TSan, models)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq $want >/dev/null; } ||
		echo "deps: could not install$want; those tests will say SKIP" >&2
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
