build-clang/obj/bench/plot.o: bench/plot.c bench/bench.h \
  bench/../src/atomic.h

bench/bench.h:

bench/../src/atomic.h:
