build-clang/obj/bench/peer.o: bench/peer.c bench/bench.h \
  bench/../src/atomic.h

bench/bench.h:

bench/../src/atomic.h:
