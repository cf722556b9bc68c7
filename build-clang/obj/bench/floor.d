build-clang/obj/bench/floor.o: bench/floor.c bench/bench.h \
  bench/../src/atomic.h

bench/bench.h:

bench/../src/atomic.h:
