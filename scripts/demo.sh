#!/bin/sh
# make demo: two processes share a System V and a POSIX segment.
set -e
B=${1:-build}
echo "== $("$B/shmq" --version)"
"$B/examples/segments" "$B/shmq"
echo "== after removal:"
"$B/shmq" ls
