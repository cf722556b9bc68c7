#!/bin/sh
# man-links.sh MANDIR PAGE...: for every function a page lists in its NAME
# section (the names before "\-"), writes the one-line page
# MANDIR/manS/NAME.S that reads ".so manS/PAGE", so `man shmq_chan_send`
# finds shmq_chan(3). Comment lines (.\") in NAME are skipped.
set -eu
dir=$1
shift
for page in "$@"; do
	sec=${page##*.}
	base=${page##*/}
	names=$(awk '
		/^\.SH/ { if (in_name) exit; in_name = ($2 == "NAME"); next }
		in_name && !/^\.\\"/ { text = text " " $0 }
		END { sub(/\\-.*/, "", text); print text }' "$page" | tr ',' ' ')
	for n in $names; do
		[ "$n.$sec" = "$base" ] && continue
		printf '.so man%s/%s\n' "$sec" "$base" > "$dir/man$sec/$n.$sec"
	done
done
