#!/bin/sh
# need.sh WHO PROGRAM PACKAGE: makes sure PROGRAM is on $PATH, installing
# the Debian PACKAGE with apt-get when root; else prints the command and
# fails. WHO prefixes the messages.
who=$1 prog=$2 pkg=$3
command -v "$prog" >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "$who: installing $pkg"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq "$pkg" >/dev/null && exit 0
	echo "$who: apt-get install $pkg failed" >&2
	exit 1
fi
echo "$who: missing $prog; run: sudo apt-get install -y $pkg" >&2
exit 1
