#!/bin/sh
# One optional part of `make test` (the fuzz runs, TSan, the Spin models).
#   part.sh run NAME CMD...            runs CMD
#   part.sh skip-dep NAME PKGS REASON  says the part cannot run without PKGS
# Under `make test` (SHMQ_PARTS set: the Makefile's target parts) the result
# goes to $SHMQ_PARTS/NAME for the runner's closing line and make goes on;
# run alone (make fuzz), a failure or a skip for a missing package fails
# the command, unless SHMQ_ALLOW_SKIP=1 accepts the skip.
set -u
what=$1 name=$2
shift 2
record() {
	[ -n "${SHMQ_PARTS:-}" ] && printf '%s\n' "$1" > "$SHMQ_PARTS/$name"
	return 0
}
case $what in
run)
	if "$@"; then record pass; exit 0; fi
	record "fail $name failed (its output is above)"
	[ -n "${SHMQ_PARTS:-}" ] && exit 0
	exit 1 ;;
skip-dep)
	echo "$name: SKIP: $2 (apt-get install $1)"
	record "skip-dep $1: $2"
	[ -n "${SHMQ_PARTS:-}" ] || [ "${SHMQ_ALLOW_SKIP:-}" = 1 ] && exit 0
	echo "$name: FAILED: not run; install: sudo apt-get install -y $1 (or SHMQ_ALLOW_SKIP=1)" >&2
	exit 1 ;;
*)
	echo "usage: part.sh run NAME CMD... | skip-dep NAME PKGS REASON" >&2
	exit 2 ;;
esac
