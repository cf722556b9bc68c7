#!/bin/sh
# layers.sh LAYERS OBJ...: fails when an object of the library calls (nm -u)
# a symbol defined in an object of a higher layer, or is in no layer.
# LAYERS is src/layers.txt: one layer a line, bottom first, its name first.
# An object build/.../NAME.o is of the source src/NAME.c.
layers=$1
shift
for o in "$@"; do
	f=$(basename "$o" .o)
	nm --defined-only "$o" | awk -v f="$f" '$2 ~ /^[A-Z]$/ {print "D", f, $3}'
	nm -u "$o" | awk -v f="$f" '{print "U", f, $2}'
done | awk -v layers="$layers" '
BEGIN {
	while ((getline line < layers) > 0) {
		if (line ~ /^#/ || line !~ /[^ \t]/)
			continue
		split(line, w, /[ \t]+/)
		rank[w[1]] = ++n
	}
	if (!n) {
		print "check-layers: FAILED: no layer in " layers
		bad = 1
		exit
	}
}
# The layer of file f: its whole name, else the longest prefix before a _.
function layer(f,   p) {
	for (p = f; p != ""; sub(/_?[^_]*$/, "", p))
		if (p in rank)
			return p
	return ""
}
{ file[$2] = 1 }
$1 == "D" { def[$3] = $2; next }
{ use[++nu] = $2 " " $3 }
END {
	if (bad)
		exit 1
	for (f in file)
		if (layer(f) == "") {
			printf "check-layers: src/%s.c is in no layer of %s\n", f, layers
			bad = 1
		}
	for (i = 1; i <= nu; i++) {
		split(use[i], u, " ")
		f = u[1]; s = u[2]
		lf = layer(f)
		if (lf == "")
			continue
		if (!(s in def))
			continue # libc
		ld = layer(def[s])
		if (ld != "" && rank[ld] > rank[lf]) {
			printf "check-layers: src/%s.c (layer %s) calls %s of src/%s.c (higher layer %s)\n", f, lf, s, def[s], ld
			bad = 1
		}
	}
	exit bad
}' && echo "check-layers: ok: no call from a lower layer into a higher one" ||
{ echo "check-layers: FAILED: see $layers for the layers, bottom first"; exit 1; }
