build-clang/obj/bench/hist.o: bench/hist.c bench/bench.h \
  bench/../src/atomic.h

bench/bench.h:

bench/../src/atomic.h:
